//! Paged lists: the `page`/`per_page` a client asks for, and the answer
//! every list endpoint gives.

use actix_web::body::BoxBody;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, Responder};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::{AppError, FieldCode, FieldError};

pub const MAX_PER_PAGE: i64 = 100;

/// A validated page request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub page: i64,
    pub per_page: i64,
}

impl Page {
    pub fn parse(page: Option<i64>, per_page: Option<i64>) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        let page = page.unwrap_or(1);
        let per_page = per_page.unwrap_or(20);
        if !(1..=1_000_000).contains(&page) {
            errors.push(FieldError::new("page", FieldCode::OutOfRange, "page counts from 1."));
        }
        if !(1..=MAX_PER_PAGE).contains(&per_page) {
            errors.push(FieldError::new(
                "per_page",
                FieldCode::OutOfRange,
                "per_page is between 1 and 100.",
            ));
        }
        if errors.is_empty() {
            Ok(Self { page, per_page })
        } else {
            Err(errors)
        }
    }

    /// The first page of the usual size: what a summary shows of a list.
    pub fn first() -> Self {
        Self { page: 1, per_page: 20 }
    }

    /// Every item at once: for an export, which holds everything.
    pub fn all() -> Self {
        Self {
            page: 1,
            per_page: i64::MAX,
        }
    }

    pub fn offset(&self) -> i64 {
        (self.page - 1) * self.per_page
    }

    pub fn has_next(&self, total: i64) -> bool {
        self.page * self.per_page < total
    }
}

/// The query of a list that has no other parameters.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// The page, from 1.
    #[param(minimum = 1, maximum = 1_000_000)]
    pub page: Option<i64>,
    /// Items per page, 20 unless given.
    #[param(minimum = 1, maximum = 100)]
    pub per_page: Option<i64>,
}

impl PageParams {
    pub fn page(&self) -> Result<Page, AppError> {
        Page::parse(self.page, self.per_page).map_err(AppError::Validation)
    }
}

/// One page of a list, as every paginated endpoint answers.
#[derive(Serialize, ToSchema)]
pub struct Paged<T> {
    pub items: Vec<T>,
    pub page: i64,
    pub per_page: i64,
    /// Items in the whole list.
    pub total: i64,
}

impl<T> Paged<T> {
    pub fn new(items: Vec<T>, page: Page, total: i64) -> Self {
        Self {
            items,
            page: page.page,
            per_page: page.per_page,
            total,
        }
    }

    /// The page of a list read whole, already in order.
    pub fn slice(all: Vec<T>, page: Page) -> Self {
        let total = i64::try_from(all.len()).unwrap_or(i64::MAX);
        let skip = usize::try_from(page.offset()).unwrap_or(usize::MAX);
        let take = usize::try_from(page.per_page).unwrap_or(usize::MAX);
        Self::new(all.into_iter().skip(skip).take(take).collect(), page, total)
    }

    /// The same page with its items turned into others at once (with one
    /// query for all of them, say).
    pub fn try_map_items<U, E>(self, f: impl FnOnce(Vec<T>) -> Result<Vec<U>, E>) -> Result<Paged<U>, E> {
        Ok(Paged {
            items: f(self.items)?,
            page: self.page,
            per_page: self.per_page,
            total: self.total,
        })
    }

    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Paged<U> {
        Paged {
            items: self.items.into_iter().map(f).collect(),
            page: self.page,
            per_page: self.per_page,
            total: self.total,
        }
    }
}

/// The page as JSON, with a `Link` header to the next and previous pages.
impl<T: Serialize> Responder for Paged<T> {
    type Body = BoxBody;

    fn respond_to(self, request: &HttpRequest) -> HttpResponse {
        respond(request, &self, &self)
    }
}

/// Answers `body`, a page of `of` with whatever stands beside its items
/// (`karma`, `network`, `member`), with a `Link` header to the next and
/// previous pages: the request's own query, with `page` changed.
pub fn respond<T, B: Serialize>(request: &HttpRequest, of: &Paged<T>, body: &B) -> HttpResponse {
    let page = Page {
        page: of.page,
        per_page: of.per_page,
    };
    let link = |number: i64, rel: &str| {
        let query: String = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(url::form_urlencoded::parse(request.query_string().as_bytes()).filter(|(k, _)| k != "page"))
            .append_pair("page", &number.to_string())
            .finish();
        format!("<{}?{query}>; rel=\"{rel}\"", request.path())
    };
    let mut links = Vec::new();
    if page.has_next(of.total) {
        links.push(link(page.page + 1, "next"));
    }
    if page.page > 1 {
        links.push(link(page.page - 1, "prev"));
    }
    let mut response = HttpResponse::Ok();
    if !links.is_empty() {
        response.insert_header((header::LINK, links.join(", ")));
    }
    response.json(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages() {
        assert_eq!(Page::parse(None, None), Ok(Page { page: 1, per_page: 20 }));
        assert!(Page::parse(Some(0), Some(101)).unwrap_err().len() == 2);
        let page = Page::parse(Some(3), Some(10)).unwrap();
        assert_eq!(page.offset(), 20);
        assert!(page.has_next(31) && !page.has_next(30));
    }

    #[test]
    fn a_list_read_whole_is_sliced_to_the_page() {
        let page = |n| Page::parse(Some(n), Some(2)).unwrap();
        let sliced = Paged::slice(vec![1, 2, 3, 4, 5], page(3));
        assert_eq!((sliced.items, sliced.total), (vec![5], 5));
        assert!(Paged::slice(vec![1, 2, 3], page(4)).items.is_empty());
    }
}

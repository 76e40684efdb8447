//! Paged lists: the `page`/`per_page` a client asks for, and the answer
//! every list endpoint gives.

use actix_web::body::BoxBody;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, Responder};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{FieldCode, FieldError};

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

    pub fn offset(&self) -> i64 {
        (self.page - 1) * self.per_page
    }

    pub fn has_next(&self, total: i64) -> bool {
        self.page * self.per_page < total
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
}

/// The page as JSON, with a `Link` header to the next and previous pages
/// (the request's own query, with `page` changed).
impl<T: Serialize> Responder for Paged<T> {
    type Body = BoxBody;

    fn respond_to(self, request: &HttpRequest) -> HttpResponse {
        let page = Page {
            page: self.page,
            per_page: self.per_page,
        };
        let link = |number: i64, rel: &str| {
            let query: String = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(
                    url::form_urlencoded::parse(request.query_string().as_bytes()).filter(|(k, _)| k != "page"),
                )
                .append_pair("page", &number.to_string())
                .finish();
            format!("<{}?{query}>; rel=\"{rel}\"", request.path())
        };
        let mut links = Vec::new();
        if page.has_next(self.total) {
            links.push(link(page.page + 1, "next"));
        }
        if page.page > 1 {
            links.push(link(page.page - 1, "prev"));
        }
        let mut response = HttpResponse::Ok();
        if !links.is_empty() {
            response.insert_header((header::LINK, links.join(", ")));
        }
        response.json(self)
    }
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
}

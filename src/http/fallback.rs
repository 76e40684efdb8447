//! The document as served, and the answers for requests no route took.

use actix_web::{HttpRequest, HttpResponse, web};

use crate::error::{AppError, ErrorCode, Kind};

pub const OPENAPI_PATH: &str = "/v1/openapi.json";

/// The document, serialised once at start-up.
pub struct OpenApiJson(pub String);

pub async fn serve_openapi(document: web::Data<OpenApiJson>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(document.0.clone())
}

/// Path templates and their methods, to tell "no such resource" (404) from
/// "not with this method" (405) for requests no route took.
pub struct RouteIndex {
    routes: Vec<(Vec<String>, Vec<&'static str>)>,
}

impl RouteIndex {
    pub fn new(document: &utoipa::openapi::OpenApi) -> Self {
        let routes = document
            .paths
            .paths
            .iter()
            .map(|(path, item)| {
                let methods = [
                    ("GET", item.get.is_some()),
                    ("POST", item.post.is_some()),
                    ("PUT", item.put.is_some()),
                    ("PATCH", item.patch.is_some()),
                    ("DELETE", item.delete.is_some()),
                ]
                .into_iter()
                .filter_map(|(method, present)| present.then_some(method))
                .collect();
                (path.split('/').map(String::from).collect(), methods)
            })
            .collect();
        Self { routes }
    }

    pub fn allowed_methods(&self, path: &str) -> Option<String> {
        let segments: Vec<&str> = path.split('/').collect();
        let mut allowed: Vec<&str> = self
            .routes
            .iter()
            .filter(|(template, _)| {
                template.len() == segments.len()
                    && template
                        .iter()
                        .zip(&segments)
                        .all(|(t, s)| (t.starts_with('{') && !s.is_empty()) || t == s)
            })
            .flat_map(|(_, methods)| methods.iter().copied())
            .collect();
        allowed.sort_unstable();
        allowed.dedup();
        (!allowed.is_empty()).then(|| allowed.join(", "))
    }
}

pub async fn fallback(request: HttpRequest, routes: web::Data<RouteIndex>) -> Result<HttpResponse, AppError> {
    Err(match routes.allowed_methods(request.path()) {
        Some(allow) => AppError::MethodNotAllowed { allow },
        None => AppError::Refused {
            kind: Kind::NotFound,
            code: ErrorCode::NotFound,
            detail: format!("There is no resource at {}.", request.path()),
        },
    })
}

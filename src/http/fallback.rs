//! The document as served, and the answers for requests no route took.

use std::collections::BTreeMap;

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde::de::IgnoredAny;

use crate::error::{AppError, ErrorCode, Kind};

pub const OPENAPI_PATH: &str = "/v1/openapi.json";

/// The document as committed, which a test keeps equal to the one the code
/// generates (`memberd openapi`). Serving it from the binary instead of
/// building it at start-up saves the memory the build takes: 2.9 MiB
/// resident (bench/RESULTS.md), against a 64 MiB target.
pub const OPENAPI_JSON: &str = include_str!("../../openapi/openapi.json");

pub async fn serve_openapi() -> HttpResponse {
    HttpResponse::Ok().content_type("application/json").body(OPENAPI_JSON)
}

/// Path templates and their methods, to tell "no such resource" (404) from
/// "not with this method" (405) for requests no route took.
pub struct RouteIndex {
    routes: Vec<(Vec<String>, Vec<String>)>,
}

const METHODS: [&str; 8] = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

/// The part of the document the index reads.
#[derive(Deserialize)]
struct Paths {
    paths: BTreeMap<String, BTreeMap<String, IgnoredAny>>,
}

impl RouteIndex {
    pub fn new(document: &str) -> serde_json::Result<Self> {
        let Paths { paths } = serde_json::from_str(document)?;
        let routes = paths
            .into_iter()
            .map(|(path, item)| {
                // A path item may also hold `parameters`, `summary`, …
                let methods = item
                    .into_keys()
                    .filter(|key| METHODS.contains(&key.as_str()))
                    .map(|method| method.to_ascii_uppercase())
                    .collect();
                (path.split('/').map(String::from).collect(), methods)
            })
            .collect();
        Ok(Self { routes })
    }

    /// The methods of the path the document names most precisely: where
    /// templates overlap (`/members/me/factors` and `/members/{member}/factors`,
    /// `/factors/totp` and `/factors/{id}`), the one with the most literal
    /// segments is the resource a client reads about.
    pub fn allowed_methods(&self, path: &str) -> Option<String> {
        let segments: Vec<&str> = path.split('/').collect();
        let matching: Vec<&(Vec<String>, Vec<String>)> = self
            .routes
            .iter()
            .filter(|(template, _)| {
                template.len() == segments.len()
                    && template
                        .iter()
                        .zip(&segments)
                        .all(|(t, s)| (t.starts_with('{') && !s.is_empty()) || t == s)
            })
            .collect();
        let literal = |template: &[String]| template.iter().filter(|t| !t.starts_with('{')).count();
        let most = matching.iter().map(|(template, _)| literal(template)).max()?;
        let mut allowed: Vec<&str> = matching
            .into_iter()
            .filter(|(template, _)| literal(template) == most)
            .flat_map(|(_, methods)| methods.iter().map(String::as_str))
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

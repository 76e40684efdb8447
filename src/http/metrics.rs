//! The metrics of HTTP: every request counted and timed by the pattern that
//! served it, and the `/metrics` endpoint.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{Method, header};
use actix_web::middleware::Next;
use actix_web::{HttpRequest, HttpResponse, get, web};
use subtle::ConstantTimeEq;

use crate::auth::model::AuthError;
use crate::error::AppError;
use crate::http::mount::Routes;
use crate::openapi::problems;
use crate::state::AppState;

/// Counts and times every request under the route pattern that served it
/// (`/v1/members/{member}`), never the raw path, to keep label sets small.
pub async fn record(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let metrics = request.app_data::<web::Data<AppState>>().map(|s| s.metrics.clone());
    let method = method_label(request.method());
    let response = next.call(request).await?;
    if let Some(metrics) = metrics {
        let route = response.request().match_pattern().unwrap_or_else(|| "unmatched".into());
        metrics.observe_request(
            &route,
            method,
            response.status().as_str(),
            started.elapsed().as_secs_f64(),
        );
    }
    Ok(response)
}

/// HTTP lets a client send any token as a method; each would become a new
/// series kept for the life of the process, so the unusual ones count as one.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

pub fn configure(config: &mut impl Routes) {
    config.service(scrape);
}

problems!(
    ScrapeProblems: ;
    401: MissingCredentials = "`MEMBERD_METRICS_TOKEN` is set and was not sent.",
        InvalidToken = "`MEMBERD_METRICS_TOKEN` is set and another was sent."
);

/// Metrics in the Prometheus text format; a bearer token when `MEMBERD_METRICS_TOKEN` is set.
#[utoipa::path(
    tag = "operations",
    responses(
        (status = 200, description = "Prometheus text exposition format.", body = String, content_type = "text/plain; version=0.0.4"),
        ScrapeProblems,
    )
)]
#[get("/metrics")]
async fn scrape(state: web::Data<AppState>, request: HttpRequest) -> Result<HttpResponse, AppError> {
    if let Some(expected) = &state.config.metrics_token {
        let sent = crate::auth::extract::bearer_token(&request)?;
        if !bool::from(sent.as_bytes().ct_eq(expected.expose().as_bytes())) {
            return Err(AuthError::InvalidToken.into());
        }
    }
    let body = state.metrics.render(state.db.pool().state())?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/plain; version=0.0.4"))
        .body(body))
}

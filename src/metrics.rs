//! Prometheus metrics: requests by route and status, latency, the database
//! pool, the password-hashing queue, the member cache and webhooks.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{Method, header};
use actix_web::middleware::Next;
use actix_web::{HttpRequest, HttpResponse, get, web};
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder,
};
use subtle::ConstantTimeEq;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::app::AppState;
use crate::error::{AppError, Problem};

pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    pool: IntGaugeVec,
    /// Logins and password changes waiting for a hashing slot.
    pub hash_queue: IntGauge,
    pub webhook_failures: prometheus::IntCounter,
    /// Age of the oldest pending webhook delivery.
    pub webhook_lag: IntGauge,
    /// Member cache lookups by cache (member, session, client) and result (hit, miss).
    pub cache_lookups: IntCounterVec,
}

impl Metrics {
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "memberd_http_requests_total",
                "HTTP requests by route, method and status",
            ),
            &["route", "method", "status"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "memberd_http_request_duration_seconds",
                "HTTP request latency by route and method",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 60.0,
            ]),
            &["route", "method"],
        )?;
        let pool = IntGaugeVec::new(
            Opts::new("memberd_db_pool_connections", "Database pool connections by state"),
            &["state"],
        )?;
        let hash_queue = IntGauge::new(
            "memberd_password_hash_queue_depth",
            "Password hashes waiting for a slot",
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        registry.register(Box::new(pool.clone()))?;
        let webhook_failures =
            prometheus::IntCounter::new("memberd_webhook_failed_attempts_total", "Webhook attempts that failed")?;
        let webhook_lag = IntGauge::new(
            "memberd_webhook_delivery_lag_seconds",
            "Age of the oldest pending webhook delivery",
        )?;
        registry.register(Box::new(hash_queue.clone()))?;
        registry.register(Box::new(webhook_failures.clone()))?;
        registry.register(Box::new(webhook_lag.clone()))?;
        let cache_lookups = IntCounterVec::new(
            Opts::new(
                "memberd_cache_lookups_total",
                "Member cache lookups by cache and result (hit or miss)",
            ),
            &["cache", "result"],
        )?;
        registry.register(Box::new(cache_lookups.clone()))?;
        Ok(Self {
            cache_lookups,
            registry,
            requests,
            latency,
            pool,
            hash_queue,
            webhook_failures,
            webhook_lag,
        })
    }

    fn render(&self, state: &AppState) -> Result<String, AppError> {
        let pool = state.db.pool().state();
        self.pool
            .with_label_values(&["idle"])
            .set(i64::from(pool.idle_connections));
        self.pool
            .with_label_values(&["in_use"])
            .set(i64::from(pool.connections - pool.idle_connections));
        let mut buffer = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut buffer)
            .map_err(AppError::internal)?;
        String::from_utf8(buffer).map_err(AppError::internal)
    }
}

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
        let status = response.status();
        metrics
            .requests
            .with_label_values(&[route.as_str(), method, status.as_str()])
            .inc();
        metrics
            .latency
            .with_label_values(&[route.as_str(), method])
            .observe(started.elapsed().as_secs_f64());
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

pub fn configure(config: &mut ServiceConfig) {
    config.service(scrape);
}

/// Metrics in the Prometheus text format; a bearer token when `MEMBERD_METRICS_TOKEN` is set.
#[utoipa::path(
    tag = "operations",
    responses(
        (status = 200, description = "Prometheus text exposition format.", body = String, content_type = "text/plain; version=0.0.4"),
        (status = 401, description = "`missing_credentials` or `invalid_token`: MEMBERD_METRICS_TOKEN is set and was not sent.", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/metrics")]
async fn scrape(state: web::Data<AppState>, request: HttpRequest) -> Result<HttpResponse, AppError> {
    if let Some(expected) = &state.config.metrics_token {
        let sent = crate::auth::extract::bearer_token(&request)?;
        if !bool::from(sent.as_bytes().ct_eq(expected.expose().as_bytes())) {
            return Err(AppError::unauthenticated("invalid_token", "Wrong metrics token."));
        }
    }
    let body = state.metrics.render(&state)?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/plain; version=0.0.4"))
        .body(body))
}

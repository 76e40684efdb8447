//! The Prometheus registry: requests by route and status, latency, the database
//! pool, the password-hashing queue, the member cache and webhooks.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder,
};

use crate::error::AppError;

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

    /// Counts and times one request under the route pattern that served it.
    pub fn observe_request(&self, route: &str, method: &str, status: &str, seconds: f64) {
        self.requests.with_label_values(&[route, method, status]).inc();
        self.latency.with_label_values(&[route, method]).observe(seconds);
    }

    /// The text exposition, with the pool's gauges as `pool` reports them now.
    pub fn render(&self, pool: diesel::r2d2::State) -> Result<String, AppError> {
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

//! Logs: human-readable text by default, JSON lines for collectors. Levels
//! come from `RUST_LOG`.

use actix_web::HttpMessage;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use tracing::Span;
use tracing_actix_web::{DefaultRootSpanBuilder, RequestId, RootSpanBuilder};
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // try_init: a second initialisation (tests) is not an error worth stopping for.
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(true).try_init(),
    };
}

/// The request span, built only when something records INFO: building it
/// reads the route, the connection and the headers, which is a good part of
/// the cost of a request answered from memory.
///
/// It is tracing-actix-web's span with two fields of our own: the path has its
/// tokens redacted (an e-mailed token in a log is a working link for whoever
/// reads the log), and the client IP is the one this service computes, so a
/// forged `X-Forwarded-For` from an untrusted peer is never logged as the client.
pub struct RequestSpan;

impl RootSpanBuilder for RequestSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        if !tracing::level_enabled!(tracing::Level::INFO) {
            return Span::none();
        }
        let route = request.match_pattern();
        let client_ip = crate::client_ip::client_ip(request.request())
            .map(|ip| ip.to_string())
            .unwrap_or_default();
        let user_agent = request
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let request_id = request
            .extensions()
            .get::<RequestId>()
            .map(|id| id.to_string())
            .unwrap_or_default();
        let method = request.method().as_str();
        let route = route.as_deref().unwrap_or("default");
        tracing::info_span!(
            "HTTP request",
            http.method = %method,
            http.route = %route,
            http.client_ip = %client_ip,
            http.user_agent = %user_agent,
            http.target = %redacted_target(request.path(), request.query_string()),
            http.status_code = tracing::field::Empty,
            otel.name = %format!("{method} {route}"),
            otel.kind = "server",
            otel.status_code = tracing::field::Empty,
            request_id = %request_id,
            exception.message = tracing::field::Empty,
            exception.details = tracing::field::Empty,
        )
    }

    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, actix_web::Error>) {
        DefaultRootSpanBuilder::on_request_end(span, outcome);
    }
}

const TOKENS_PREFIX: &str = "/v1/tokens/";

/// The request target as logged: whatever follows the kind in a token path
/// (`/v1/tokens/{kind}/…`) is replaced, matched route or not.
pub fn redacted_target(path: &str, query: &str) -> String {
    let path = match path.strip_prefix(TOKENS_PREFIX) {
        Some(rest) => match rest.split_once('/') {
            Some((kind, _)) => format!("{TOKENS_PREFIX}{kind}/[redacted]"),
            None => path.to_string(),
        },
        None => path.to_string(),
    };
    if query.is_empty() {
        path
    } else {
        format!("{path}?{query}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_never_reach_a_log() {
        let token = "k3cZ4mZ1v0rWq8b6Jx0sVYk9wQ2e7r5t1y3u6i8o0pA";
        for path in [
            format!("/v1/tokens/password-reset/{token}"),
            format!("/v1/tokens/registration/{token}"),
            format!("/v1/tokens/email-change/{token}/extra"),
            format!("/v1/tokens/anything/{token}"),
        ] {
            let logged = redacted_target(&path, "");
            assert!(!logged.contains(token), "{logged}");
            assert!(logged.ends_with("/[redacted]"), "{logged}");
        }
        assert_eq!(
            redacted_target("/v1/tokens/registration", ""),
            "/v1/tokens/registration"
        );
        assert_eq!(redacted_target("/v1/members", "q=al"), "/v1/members?q=al");
    }
}

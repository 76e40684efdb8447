//! CORS and the request id header.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{Method, header};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpResponse, web};
use tracing_actix_web::RequestId;

use crate::config::Config;

/// Origins whose browsers may call the API: the configured front ends and
/// this service's own (Swagger UI's "try it out").
pub struct CorsPolicy {
    origins: Vec<String>,
}

impl CorsPolicy {
    pub fn new(config: &Config) -> Self {
        let origin = |text: &str| url::Url::parse(text).map(|u| u.origin().ascii_serialization()).ok();
        let mut origins: Vec<String> = config.cors_origins.iter().filter_map(|o| origin(o)).collect();
        origins.push(config.public_url.origin().ascii_serialization());
        Self { origins }
    }

    fn allows(&self, origin: &str) -> bool {
        self.origins.iter().any(|o| o == origin)
    }
}

/// CORS headers and the request id, in one layer: each layer costs a boxed
/// future per request, and this is on the path other services call most.
///
/// CORS without refusals: a disallowed origin simply gets no CORS headers and
/// the browser enforces the rest, so no request is answered with a
/// non-problem error. The request id is the one every log line of the
/// request carries, so a client's report can be matched to the logs.
pub async fn response_headers(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let id = request.extensions().get::<RequestId>().copied();
    // Most callers are services, which send no Origin: no policy lookup for them.
    let origin = request
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .filter(|origin| {
            request
                .app_data::<web::Data<CorsPolicy>>()
                .is_some_and(|p| p.allows(origin))
        })
        .map(String::from);
    let preflight =
        request.method() == Method::OPTIONS && request.headers().contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    let mut response = if preflight {
        let mut answer = HttpResponse::NoContent();
        if origin.is_some() {
            answer
                .insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, "GET, POST, PUT, PATCH, DELETE"))
                .insert_header((
                    header::ACCESS_CONTROL_ALLOW_HEADERS,
                    "authorization, content-type, accept-language",
                ))
                .insert_header((header::ACCESS_CONTROL_MAX_AGE, "3600"));
        }
        request.into_response(answer.finish()).map_into_right_body()
    } else {
        next.call(request).await?.map_into_left_body()
    };
    let headers = response.headers_mut();
    if let Some(origin) = origin {
        if let Ok(value) = header::HeaderValue::from_str(&origin) {
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
        }
        headers.insert(header::VARY, header::HeaderValue::from_static("Origin"));
        headers.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            header::HeaderValue::from_static("link, retry-after, x-request-id, www-authenticate"),
        );
    }
    if let Some(id) = id
        && let Ok(value) = header::HeaderValue::from_str(&id.to_string())
    {
        headers.insert(header::HeaderName::from_static("x-request-id"), value);
    }
    Ok(response)
}

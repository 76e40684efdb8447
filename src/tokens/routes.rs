//! HTTP handlers for e-mailed tokens.

use actix_web::{HttpRequest, HttpResponse, post, web};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::app::AppState;
use crate::auth::routes::{SessionResponse, origin};
use crate::client_ip::ClientIp;
use crate::error::{AppError, Problem};
use crate::members::routes::Accepted;
use crate::openapi::BodyProblems;
use crate::tokens::service;

pub fn configure(config: &mut ServiceConfig) {
    config.service(resend_registration).service(activate);
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResendRequest {
    #[schema(example = "alice@example.com")]
    pub email: String,
}

/// Send the validation e-mail again.
///
/// Always 202, whether the address is unknown, active or waiting, so that
/// addresses cannot be probed. The new link replaces the older ones.
#[utoipa::path(
    tag = "tokens",
    request_body = ResendRequest,
    responses(
        (status = 202, description = "Accepted.", body = Accepted),
        BodyProblems,
        (status = 429, description = "`rate_limited`: too many requests from this IP; see `Retry-After`.", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/tokens/registration")]
async fn resend_registration(
    state: web::Data<AppState>,
    ClientIp(ip): ClientIp,
    body: web::Json<ResendRequest>,
) -> Result<HttpResponse, AppError> {
    service::resend_registration(&state, &body.email, ip.to_string()).await?;
    Ok(HttpResponse::Accepted().json(Accepted {
        status: "accepted".into(),
    }))
}

/// Activate an account with the token from its validation e-mail.
///
/// Answers with a first session, as a login does.
#[utoipa::path(
    tag = "tokens",
    params(("token" = String, Path, description = "The token from the e-mailed link.")),
    responses(
        (status = 200, description = "Activated and logged in.", body = SessionResponse),
        (status = 403, description = "`member_banned`: the account is activated only once the ban allows a session.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`token_not_found`.", body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "`token_used` or `token_expired`.", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`service_unavailable`.", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/tokens/registration/{token}")]
async fn activate(
    state: web::Data<AppState>,
    request: HttpRequest,
    ClientIp(ip): ClientIp,
    token: web::Path<String>,
) -> Result<web::Json<SessionResponse>, AppError> {
    let grant = service::activate(&state, &token, origin(&request, ip)).await?;
    Ok(web::Json(grant.into()))
}

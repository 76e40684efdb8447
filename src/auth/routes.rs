//! HTTP handlers for logging in and out, refreshing, and the JWKS.

use actix_web::{HttpRequest, HttpResponse, get, http::header, post, web};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::auth::extract::Caller;
use crate::auth::keys::Jwks;
use crate::auth::service::{self, LoginInput};
use crate::client_ip::ClientIp;
use crate::error::{AppError, Problem};
use crate::http::wire::{SessionResponse, origin};
use crate::input::{Json, OptionalJson};
use crate::openapi::{AuthProblems, BodyProblems, HashingProblems};
use crate::state::AppState;

/// Routes under `/v1`.
pub fn configure(config: &mut ServiceConfig) {
    config.service(login).service(refresh).service(logout);
}

/// Routes at the root, where other services expect them.
pub fn configure_root(config: &mut ServiceConfig) {
    config.service(jwks);
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// Username or e-mail address, in any case.
    #[schema(example = "alice")]
    pub login: String,
    pub password: String,
    /// Keep the session for 30 days instead of 1.
    #[serde(default)]
    pub remember_me: bool,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

#[derive(Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LogoutRequest {
    /// End every session of the caller, not only this one.
    #[serde(default)]
    pub all: bool,
}

/// Log in with a username or e-mail address.
///
/// Failed attempts are counted per login and IP, per login, and per IP;
/// past a threshold each further attempt must wait (1 s, doubling, at most
/// 15 minutes).
#[utoipa::path(
    tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Logged in.", body = SessionResponse, headers(("Cache-Control" = String, description = "`no-store`: the answer carries tokens."))),
        BodyProblems,
        HashingProblems,
        (status = 401, description = "`invalid_credentials`: unknown login or wrong password (the same answer for both).", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Correct password, but `account_inactive` (e-mail not validated), `account_disabled` (deactivated by a superuser) or `member_banned` (with `sanction`).", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`too_many_attempts`: wait `Retry-After` seconds.", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/auth/login")]
async fn login(
    state: web::Data<AppState>,
    request: HttpRequest,
    ClientIp(ip): ClientIp,
    Json(body): Json<LoginRequest>,
) -> Result<SessionResponse, AppError> {
    let input = LoginInput {
        login: body.login,
        password: body.password,
        remember_me: body.remember_me,
    };
    let grant = service::login(&state, input, origin(&request, ip)).await?;
    Ok(SessionResponse::new(grant, &state.config))
}

/// Exchange a refresh token for a new session pair.
///
/// The presented token stops working. Presenting it again ends the whole
/// session (someone else may hold a copy).
#[utoipa::path(
    tag = "auth",
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "Renewed.", body = SessionResponse, headers(("Cache-Control" = String, description = "`no-store`: the answer carries tokens."))),
        BodyProblems,
        (status = 401, description = "`invalid_refresh_token` (unknown, expired or ended), `refresh_token_reused` (the session is now ended) or `session_expired` (the session reached `MEMBERD_SESSION_MAX_AGE` since its login: log in again).", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`account_inactive`, `account_disabled` or `member_banned`.", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/auth/refresh")]
async fn refresh(state: web::Data<AppState>, Json(body): Json<RefreshRequest>) -> Result<SessionResponse, AppError> {
    let grant = service::refresh(&state, &body.refresh_token).await?;
    Ok(SessionResponse::new(grant, &state.config))
}

/// End the current session, or with `{"all": true}` every session of the caller.
///
/// The body may be left out.
#[utoipa::path(
    tag = "auth",
    request_body(content = Option<LogoutRequest>, description = "Optional."),
    security(("bearer" = [])),
    responses((status = 204, description = "Logged out."), BodyProblems, AuthProblems)
)]
#[post("/auth/logout")]
async fn logout(
    state: web::Data<AppState>,
    caller: Caller,
    body: OptionalJson<LogoutRequest>,
) -> Result<HttpResponse, AppError> {
    service::logout(&state, caller.member_id, caller.session_id, body.0.all).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Public keys that verify access tokens (RFC 7517), for verifying them offline.
#[utoipa::path(tag = "auth", responses((status = 200, description = "The key set.", body = Jwks)))]
#[get("/.well-known/jwks.json")]
async fn jwks(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .json(state.issuer.keys.jwks())
}

//! HTTP handlers for e-mailed tokens.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::auth::password::PasswordHasher;
use crate::client_ip::ClientIp;
use crate::db::Db;
use crate::error::AppError;
use crate::http::mount::Routes;
use crate::http::wire::{Accepted, SessionResponse, origin};
use crate::input::Json;
use crate::openapi::problems;

use crate::state::AppState;
use crate::tokens::service;

pub fn configure(config: &mut impl Routes) {
    config
        .service(resend_registration)
        .service(activate)
        .service(request_password_reset)
        .service(check_password_reset)
        .service(reset_password)
        .service(confirm_email_change);
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResendRequest {
    /// An address in the grammar of the document's pattern: an unquoted
    /// ASCII local part, `@`, a host name of two labels or more; at most 254
    /// characters, nothing around it.
    #[schema(example = "alice@example.com", max_length = 254, pattern = "{email}")]
    pub email: String,
}

problems!(
    ResendRegistrationProblems: Json<ResendRequest>, Db;
    429: RateLimited = "Too many requests from this IP; see `Retry-After`."
);

/// Send the validation e-mail again.
///
/// Always 202, whether the address is unknown, active or waiting, so that
/// addresses cannot be probed. The new link replaces the older ones.
#[utoipa::path(
    tag = "tokens",
    request_body = ResendRequest,
    responses(
        (status = 202, description = "Accepted.", body = Accepted),
        ResendRegistrationProblems,
    )
)]
#[post("/tokens/registration")]
async fn resend_registration(
    state: web::Data<AppState>,
    ClientIp(ip): ClientIp,
    Json(body): Json<ResendRequest>,
) -> Result<HttpResponse, AppError> {
    service::resend_registration(&state, &body.email, ip).await?;
    Ok(HttpResponse::Accepted().json(Accepted {
        status: "accepted".into(),
    }))
}

problems!(
    ActivateProblems: Db;
    403: MemberBanned, AccountDisabled;
    404: TokenNotFound;
    410: TokenUsed, TokenExpired
);

/// Activate an account with the token from its validation e-mail.
///
/// Answers with a first session, as a login does.
#[utoipa::path(
    tag = "tokens",
    params(("token" = String, Path, description = "The token from the e-mailed link.")),
    responses(
        (status = 200, description = "Activated and logged in.", body = SessionResponse, headers(("Cache-Control" = String, description = "`no-store`: the answer carries tokens."))),
        ActivateProblems,
    )
)]
#[post("/tokens/registration/{token}")]
async fn activate(
    state: web::Data<AppState>,
    request: HttpRequest,
    ClientIp(ip): ClientIp,
    token: web::Path<String>,
) -> Result<SessionResponse, AppError> {
    let grant = service::activate(&state, &token, origin(&request, ip)).await?;
    Ok(SessionResponse::new(grant, &state.config))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordResetRequest {
    /// Username or e-mail address; at most 320 characters, not all white space.
    #[schema(example = "alice", min_length = 1, max_length = 320, pattern = "{filled}")]
    pub login: String,
}

problems!(
    RequestPasswordResetProblems: Json<PasswordResetRequest>, Db;
    429: RateLimited = "Too many requests from this IP; see `Retry-After`."
);

/// E-mail a password-reset link.
///
/// Always 202, whether or not a member has this login, so that accounts
/// cannot be probed. The link opens the front end; only the POST below uses it.
#[utoipa::path(
    tag = "tokens",
    request_body = PasswordResetRequest,
    responses(
        (status = 202, description = "Accepted.", body = Accepted),
        RequestPasswordResetProblems,
    )
)]
#[post("/tokens/password-reset")]
async fn request_password_reset(
    state: web::Data<AppState>,
    ClientIp(ip): ClientIp,
    Json(body): Json<PasswordResetRequest>,
) -> Result<HttpResponse, AppError> {
    service::request_password_reset(&state, &body.login, ip).await?;
    Ok(HttpResponse::Accepted().json(Accepted {
        status: "accepted".into(),
    }))
}

problems!(
    CheckPasswordResetProblems: Db;
    404: TokenNotFound;
    410: TokenUsed, TokenExpired
);

/// Check that a reset link is still usable, without using it.
#[utoipa::path(
    tag = "tokens",
    params(("token" = String, Path, description = "The token from the e-mailed link.")),
    responses(
        (status = 204, description = "Usable."),
        CheckPasswordResetProblems,
    )
)]
#[get("/tokens/password-reset/{token}")]
async fn check_password_reset(state: web::Data<AppState>, token: web::Path<String>) -> Result<HttpResponse, AppError> {
    service::check_password_reset(&state, token.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPasswordRequest {
    #[schema(min_length = 8, max_length = 256)]
    pub password: String,
    pub password_confirmation: String,
}

problems!(
    ResetPasswordProblems: Json<NewPasswordRequest>, PasswordHasher, Db;
    404: TokenNotFound;
    410: TokenUsed, TokenExpired;
    422: ValidationFailed = "The password rules of registration."
);

/// Set a new password with a reset link; every session of the member ends.
#[utoipa::path(
    tag = "tokens",
    params(("token" = String, Path, description = "The token from the e-mailed link.")),
    request_body = NewPasswordRequest,
    responses(
        (status = 204, description = "The password is set; log in with it."),
        ResetPasswordProblems,
    )
)]
#[post("/tokens/password-reset/{token}")]
async fn reset_password(
    state: web::Data<AppState>,
    token: web::Path<String>,
    Json(body): Json<NewPasswordRequest>,
) -> Result<HttpResponse, AppError> {
    service::reset_password(&state, token.into_inner(), body.password, body.password_confirmation).await?;
    Ok(HttpResponse::NoContent().finish())
}

problems!(
    ConfirmEmailChangeProblems: Db;
    404: TokenNotFound;
    409: EmailTaken = "Another account took the address in the meantime.";
    410: TokenUsed, TokenExpired
);

/// Confirm a new e-mail address with the link sent to it; it replaces the old one.
#[utoipa::path(
    tag = "tokens",
    params(("token" = String, Path, description = "The token from the e-mailed link.")),
    responses(
        (status = 204, description = "The address is the account's now."),
        ConfirmEmailChangeProblems,
    )
)]
#[post("/tokens/email-change/{token}")]
async fn confirm_email_change(state: web::Data<AppState>, token: web::Path<String>) -> Result<HttpResponse, AppError> {
    service::confirm_email_change(&state, token.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}

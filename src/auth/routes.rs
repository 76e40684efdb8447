//! HTTP handlers for logging in and out, refreshing, and the JWKS.

use actix_web::{HttpRequest, HttpResponse, delete, get, http::header, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::extract::Caller;
use crate::auth::keys::Jwks;
use crate::auth::model::device_of;
use crate::auth::password::PasswordHasher;
use crate::auth::service::{self, LoginInput};
use crate::client_ip::ClientIp;
use crate::db::Db;
use crate::error::AppError;
use crate::http::mount::Routes;
use crate::http::wire::{SessionResponse, origin};
use crate::input::{Json, OptionalJson, Query};
use crate::openapi::problems;
use crate::pagination::{PageParams, Paged};
use crate::state::AppState;

/// Routes under `/v1`.
pub fn configure(config: &mut impl Routes) {
    config
        .service(login)
        .service(refresh)
        .service(logout)
        .service(own_sessions)
        .service(end_own_session);
}

/// Routes at the root, where other services expect them.
pub fn configure_root(config: &mut impl Routes) {
    config.service(jwks);
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// Username or e-mail address, in any case; at most 320 characters, not all white space.
    #[schema(example = "alice", min_length = 1, max_length = 320, pattern = "{filled}")]
    pub login: String,
    #[schema(min_length = 1, max_length = 256)]
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

problems!(
    LoginProblems: Json<LoginRequest>, PasswordHasher, Db;
    401: InvalidCredentials = "The same answer for an unknown login as for a wrong password.",
        MfaRequired = "The password was right and the member holds a second factor: the problem carries `mfa_token` and `factors`; finish at `POST /v1/auth/mfa`. Not a failed attempt.";
    403: AccountInactive = "The password was right.",
        AccountDisabled = "The password was right.",
        MemberBanned = "The password was right.";
    429: TooManyAttempts
);

/// Log in with a username or e-mail address.
///
/// Failed attempts are counted per login and IP, per login, and per IP;
/// past a threshold each further attempt must wait (1 s, doubling, at most
/// 15 minutes). A member with a second factor gets `mfa_required` for a
/// right password, and finishes at `POST /v1/auth/mfa`.
#[utoipa::path(
    tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Logged in.", body = SessionResponse, headers(("Cache-Control" = String, description = "`no-store`: the answer carries tokens."))),
        LoginProblems,
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

problems!(
    RefreshProblems: Json<RefreshRequest>, Db;
    401: InvalidRefreshToken = "Unknown, expired or ended.",
        RefreshTokenReused,
        SessionExpired = "Since its login, after `MEMBERD_SESSION_MAX_AGE`: log in again.";
    403: AccountInactive, AccountDisabled, MemberBanned
);

/// Exchange a refresh token for a new session pair.
///
/// The presented token stops working. Presenting it again ends the whole
/// session (someone else may hold a copy).
#[utoipa::path(
    tag = "auth",
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "Renewed.", body = SessionResponse, headers(("Cache-Control" = String, description = "`no-store`: the answer carries tokens."))),
        RefreshProblems,
    )
)]
#[post("/auth/refresh")]
async fn refresh(state: web::Data<AppState>, Json(body): Json<RefreshRequest>) -> Result<SessionResponse, AppError> {
    let grant = service::refresh(&state, &body.refresh_token).await?;
    Ok(SessionResponse::new(grant, &state.config))
}

problems!(
    LogoutProblems: Caller, OptionalJson<LogoutRequest>, Db
);

/// End the current session, or with `{"all": true}` every session of the caller.
///
/// The body may be left out.
#[utoipa::path(
    tag = "auth",
    request_body(content = Option<LogoutRequest>, description = "Optional."),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Logged out."),
        LogoutProblems,
    )
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

/// A live session of the caller's.
#[derive(Serialize, ToSchema)]
pub struct OwnSession {
    #[schema(format = "uuid")]
    pub id: String,
    /// The session this list was asked with.
    pub current: bool,
    pub created_at: DateTime<Utc>,
    /// When it was opened or last refreshed (access tokens are not counted).
    pub last_used_at: DateTime<Utc>,
    /// The address it was opened or last refreshed from; forgotten after
    /// `MEMBERD_IP_RETENTION_DAYS`.
    pub ip: Option<String>,
    /// Where that address is, when GeoIP is configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    /// As the client sent it.
    pub user_agent: Option<String>,
    /// A readable name of the browser and system the user agent names, such
    /// as `Firefox on Linux`, when it can be told.
    pub device: Option<String>,
    /// How the member proved who they are (RFC 8176): `pwd` for a password,
    /// `otp` for a one-time code (an app's or a recovery code), `hwk` for a passkey.
    pub amr: Vec<String>,
}

impl From<service::OwnSession> for OwnSession {
    fn from(own: service::OwnSession) -> Self {
        let session = own.session;
        OwnSession {
            id: session.id.to_string(),
            current: own.current,
            created_at: session.created_at,
            last_used_at: session.refreshed_at,
            ip: session.ip,
            city: own.city,
            device: session.user_agent.as_deref().and_then(device_of),
            user_agent: session.user_agent,
            amr: session.amr,
        }
    }
}

problems!(
    OwnSessionsProblems: Caller, Query<PageParams>, Db;
    422: ValidationFailed = "Paging."
);

/// The caller's live sessions, the latest opened first.
#[utoipa::path(
    tag = "auth",
    security(("bearer" = [])),
    params(PageParams),
    responses(
        (status = 200, description = "A page of the caller's live sessions; `current` marks the one asking.", body = Paged<OwnSession>, headers(("Link" = String, description = "The `next` and `prev` pages (RFC 8288), when there are."))),
        OwnSessionsProblems,
    )
)]
#[get("/members/me/sessions")]
async fn own_sessions(
    state: web::Data<AppState>,
    caller: Caller,
    Query(params): Query<PageParams>,
) -> Result<Paged<OwnSession>, AppError> {
    Ok(service::own_sessions(&state, &caller, params.page()?)
        .await?
        .map(OwnSession::from))
}

problems!(
    EndOwnSessionProblems: Caller, Db;
    404: SessionNotFound = "Unknown, already ended, or another member's."
);

/// End one of the caller's sessions: its refresh token stops working and its
/// access tokens are refused at once, as after a logout (the current session
/// too, if named).
#[utoipa::path(
    tag = "auth",
    security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "A session id from the list.")),
    responses(
        (status = 204, description = "Ended."),
        EndOwnSessionProblems,
    )
)]
#[delete("/members/me/sessions/{id}")]
async fn end_own_session(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    service::end_own_session(&state, caller.member_id, &id).await?;
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

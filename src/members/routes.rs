//! HTTP handlers for members.

use actix_web::{HttpRequest, HttpResponse, get, http::header, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::app::AppState;
use crate::auth::extract::Caller;
use crate::client_ip::ClientIp;
use crate::error::AppError;
use crate::members::model::{Locale, Member};
use crate::members::service::{self, RegistrationInput};
use crate::members::store;
use crate::openapi::{AuthProblems, BodyProblems};

pub fn configure(config: &mut ServiceConfig) {
    config.service(register).service(me);
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegistrationRequest {
    /// 1–30 characters; no comma, slash, @, control character or emoji; not
    /// confusable with another member's name.
    #[schema(example = "alice")]
    pub username: String,
    #[schema(example = "alice@example.com")]
    pub email: String,
    /// 8–256 characters, not a common password, not the username or e-mail.
    pub password: String,
    pub password_confirmation: String,
}

/// The request was taken; what follows happens by e-mail.
#[derive(Serialize, ToSchema)]
pub struct Accepted {
    #[schema(example = "validation_email_sent")]
    pub status: String,
}

/// The caller's own account.
#[derive(Serialize, ToSchema)]
pub struct OwnAccount {
    pub id: i64,
    pub username: String,
    pub email: String,
    pub locale: Locale,
    pub is_active: bool,
    /// `member`, plus `staff` and `superuser` where they apply.
    pub roles: Vec<String>,
    pub date_joined: DateTime<Utc>,
    pub last_login_at: Option<DateTime<Utc>>,
    pub last_visit_at: Option<DateTime<Utc>>,
}

impl From<&Member> for OwnAccount {
    fn from(member: &Member) -> Self {
        OwnAccount {
            id: member.id,
            username: member.username.clone(),
            email: member.email.clone(),
            locale: member.locale,
            is_active: member.is_active,
            roles: member.roles(),
            date_joined: member.date_joined,
            last_login_at: member.last_login_at,
            last_visit_at: member.last_visit_at,
        }
    }
}

/// Register a member.
///
/// The account stays inactive until the link e-mailed to the address is used.
/// An address that already has an account gets the same 202, and its owner a
/// notice instead, so addresses cannot be probed. The e-mail is written in the
/// language of `Accept-Language` (English or French).
#[utoipa::path(
    tag = "members",
    request_body = RegistrationRequest,
    responses(
        (status = 202, description = "Validation e-mail sent (or a notice, if the address is taken).", body = Accepted),
        BodyProblems,
        (status = 422, description = "`validation_failed`, with every field error at once. Username codes: `required`, \
            `too_long`, `surrounding_space`, `contains_comma`, `contains_slash`, `contains_at_sign`, \
            `contains_control_character`, `contains_emoji`, `taken`, `confusable`. E-mail: `required`, `too_long`, \
            `invalid`, `forbidden_domain`. Password: `too_short`, `too_long`, `same_as_username`, `same_as_email`, \
            `too_common`; `password_confirmation`: `mismatch`.", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`: too many registrations from this IP; see `Retry-After`.", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/members")]
async fn register(
    state: web::Data<AppState>,
    request: HttpRequest,
    ClientIp(ip): ClientIp,
    body: web::Json<RegistrationRequest>,
) -> Result<HttpResponse, AppError> {
    let body = body.into_inner();
    let language = request
        .headers()
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok());
    service::register(
        &state,
        RegistrationInput {
            username: body.username,
            email: body.email,
            password: body.password,
            password_confirmation: body.password_confirmation,
            locale: Locale::from_accept_language(language),
            ip: ip.to_string(),
        },
    )
    .await?;
    Ok(HttpResponse::Accepted().json(Accepted {
        status: "validation_email_sent".into(),
    }))
}

/// The caller's own account.
#[utoipa::path(
    tag = "members",
    security(("bearer" = [])),
    responses((status = 200, description = "The caller's account.", body = OwnAccount), AuthProblems)
)]
#[get("/members/me")]
async fn me(state: web::Data<AppState>, caller: Caller) -> Result<web::Json<OwnAccount>, AppError> {
    let member = state
        .db
        .run(move |conn| store::find(conn, caller.member_id))
        .await?
        .ok_or_else(|| AppError::unauthenticated("session_revoked", "This account no longer exists."))?;
    Ok(web::Json(OwnAccount::from(&member)))
}

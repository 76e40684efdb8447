//! Wire types more than one domain's routes answer with.

pub mod case_file;

use actix_web::body::BoxBody;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, Responder};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::service::{Grant, Origin};
use crate::config::Config;
use crate::error::AppError;
use crate::members::model::{Locale, Member};

/// A numeric id from a path: anything else names nothing, answered as
/// `missing` (each resource's own not-found problem).
pub fn path_id(text: &str, missing: impl Into<AppError>) -> Result<i64, AppError> {
    text.parse().map_err(|_| missing.into())
}

/// A member or moderator named in a sanction.
#[derive(Serialize, ToSchema)]
pub struct MemberRef {
    pub id: i64,
    pub username: String,
}

/// The request was taken; what follows happens by e-mail.
#[derive(Serialize, ToSchema)]
pub struct Accepted {
    #[schema(example = "validation_email_sent")]
    pub status: String,
}

#[derive(Serialize, ToSchema)]
pub struct PreferencesBody {
    pub show_email: bool,
    pub show_signature: bool,
    pub hover_menus: bool,
    pub email_on_private_message: bool,
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
    pub biography: String,
    pub website: String,
    /// The avatar shown: the custom one, or the Gravatar of the e-mail address.
    pub avatar_url: String,
    /// The custom avatar; empty when the Gravatar is used.
    pub custom_avatar_url: String,
    pub signature: String,
    pub preferences: PreferencesBody,
    /// The member's page on the front end.
    pub profile_url: String,
}

impl OwnAccount {
    pub fn new(member: &Member, config: &Config) -> Self {
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
            biography: member.profile.biography.clone(),
            website: member.profile.website.clone(),
            avatar_url: member.avatar_url(),
            custom_avatar_url: member.profile.avatar_url.clone(),
            signature: member.profile.signature.clone(),
            preferences: PreferencesBody {
                show_email: member.preferences.show_email,
                show_signature: member.preferences.show_signature,
                hover_menus: member.preferences.hover_menus,
                email_on_private_message: member.preferences.email_on_private_message,
            },
            profile_url: config.profile_url(member.id, &member.username),
        }
    }
}

/// A session: a short-lived access token and the refresh token that renews it.
#[derive(Serialize, ToSchema)]
pub struct SessionResponse {
    /// EdDSA-signed JWT; verify it with `/.well-known/jwks.json`.
    pub access_token: String,
    #[schema(example = "Bearer")]
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// Opaque; single use: each refresh returns a new one.
    pub refresh_token: String,
    /// Seconds until the refresh token expires (1 day, or 30 with `remember_me`).
    pub refresh_expires_in: u64,
    pub member: OwnAccount,
}

impl SessionResponse {
    pub fn new(grant: Grant, config: &Config) -> Self {
        SessionResponse {
            access_token: grant.access_token,
            token_type: "Bearer".into(),
            expires_in: grant.expires_in,
            refresh_token: grant.refresh_token,
            refresh_expires_in: grant.refresh_expires_in,
            member: OwnAccount::new(&grant.member, config),
        }
    }
}

/// A session is sent once, to its holder: no cache on the way may keep it.
impl Responder for SessionResponse {
    type Body = BoxBody;

    fn respond_to(self, _: &HttpRequest) -> HttpResponse {
        HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(self)
    }
}

pub fn origin(request: &HttpRequest, ip: std::net::IpAddr) -> Origin {
    let user_agent = request
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(String::from);
    Origin { ip, user_agent }
}

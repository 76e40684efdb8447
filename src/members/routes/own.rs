//! HTTP handlers for the caller's own account: reading and changing it,
//! its password and address, unregistering (the export is in `export`).

use actix_web::{HttpResponse, delete, get, patch, put, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::extract::{Caller, Writer};
use crate::auth::model::AuthError;
use crate::auth::password::PasswordHasher;
use crate::db::Db;
use crate::error::AppError;
use crate::http::mount::Routes;
use crate::http::wire::OwnAccount;
use crate::input::Json;
use crate::members::account::{self, AccountChange, PasswordChange};
use crate::members::model::{Locale, MemberKey, ProfileChanges};
use crate::openapi::problems;
use crate::state::AppState;

/// Registered before `/members/{member}`, which would take `me` as a username.
pub fn configure(config: &mut impl Routes) {
    config
        .service(me)
        .service(update_me)
        .service(unregister)
        .service(change_password)
        .service(change_account)
        .service(unregistration_summary);
    super::export::configure(config);
}

problems!(
    MeProblems: Caller, Db
);

/// The caller's own account.
#[utoipa::path(
    tag = "members",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's account.", body = OwnAccount),
        MeProblems,
    )
)]
#[get("/members/me")]
async fn me(state: web::Data<AppState>, caller: Caller) -> Result<web::Json<OwnAccount>, AppError> {
    let facts = state
        .cache
        .member(&state.db, state.clock.now(), MemberKey::Id(caller.member_id))
        .await?
        .ok_or(AuthError::AccountGone)?;
    Ok(web::Json(OwnAccount::new(&facts.member, &state.config)))
}

/// Profile fields to change; absent fields stay as they are.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfilePatch {
    /// At most 2,000 characters.
    #[schema(max_length = 2000)]
    pub biography: Option<String>,
    /// An http(s) URL of at most 2,000 characters, or empty.
    #[schema(max_length = 2000, pattern = "{web_url_or_empty}")]
    pub website: Option<String>,
    /// An http(s) URL of at most 2,000 characters; empty means the Gravatar.
    #[schema(max_length = 2000, pattern = "{web_url_or_empty}")]
    pub avatar_url: Option<String>,
    /// At most 500 characters.
    #[schema(max_length = 500)]
    pub signature: Option<String>,
    pub locale: Option<Locale>,
    pub show_email: Option<bool>,
    pub show_signature: Option<bool>,
    pub hover_menus: Option<bool>,
    pub email_on_private_message: Option<bool>,
}

problems!(
    UpdateMeProblems: Writer, Json<ProfilePatch>, Db;
    422: ValidationFailed = "`too_long`, `invalid_url`, `unknown_field`, `invalid_type`."
);

/// Change the caller's profile and preferences.
#[utoipa::path(
    tag = "members",
    security(("bearer" = [])),
    request_body = ProfilePatch,
    responses(
        (status = 200, description = "The updated account.", body = OwnAccount),
        UpdateMeProblems,
    )
)]
#[patch("/members/me")]
async fn update_me(
    state: web::Data<AppState>,
    Writer(caller): Writer,
    Json(body): Json<ProfilePatch>,
) -> Result<web::Json<OwnAccount>, AppError> {
    let changes = ProfileChanges {
        biography: body.biography,
        website: body.website,
        avatar_url: body.avatar_url,
        signature: body.signature,
        locale: body.locale,
        show_email: body.show_email,
        show_signature: body.show_signature,
        hover_menus: body.hover_menus,
        email_on_private_message: body.email_on_private_message,
    };
    let member = account::update_profile(&state, caller.member_id, changes).await?;
    Ok(web::Json(OwnAccount::new(&member, &state.config)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChangeRequest {
    pub current_password: String,
    #[schema(min_length = 8, max_length = 256)]
    pub password: String,
    pub password_confirmation: String,
}

problems!(
    ChangePasswordProblems: Caller, Json<PasswordChangeRequest>, PasswordHasher, Db;
    422: ValidationFailed = "`current_password` `incorrect`, or the password rules of registration.";
    429: RateLimited = "Too many wrong current passwords."
);

/// Change the caller's password; every other session of the caller ends.
#[utoipa::path(
    tag = "members",
    security(("bearer" = [])),
    request_body = PasswordChangeRequest,
    responses(
        (status = 204, description = "Changed; this session stays, the others end."),
        ChangePasswordProblems,
    )
)]
#[put("/members/me/password")]
async fn change_password(
    state: web::Data<AppState>,
    caller: Caller,
    Json(body): Json<PasswordChangeRequest>,
) -> Result<HttpResponse, AppError> {
    let change = PasswordChange {
        current_password: body.current_password,
        password: body.password,
        password_confirmation: body.password_confirmation,
    };
    account::change_password(&state, caller.member_id, caller.session_id, change).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountChangeRequest {
    pub current_password: String,
    /// A new username, under the registration rules.
    #[schema(min_length = 1, max_length = 30, pattern = "{username}")]
    pub username: Option<String>,
    /// A new address, under the registration rules; it replaces the current
    /// one once the link sent to it is used.
    #[schema(max_length = 254, pattern = "{email}")]
    pub email: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct AccountChangeResponse {
    pub member: OwnAccount,
    /// Whether a confirmation link was sent to the new address (also answered for a taken one).
    pub email_confirmation_sent: bool,
}

problems!(
    ChangeAccountProblems: Caller, Json<AccountChangeRequest>, PasswordHasher, Db;
    403: MemberReadOnly;
    422: ValidationFailed = "`current_password` `incorrect`, or the username and e-mail rules of registration (`taken`, `confusable`, `forbidden_domain`, ...).";
    429: RateLimited = "Too many wrong current passwords."
);

/// Change the caller's username and/or e-mail address.
///
/// A rename applies at once. A new address applies only when the link sent
/// to it is used, and a notice goes to the current one; a taken address is
/// answered exactly like a free one.
#[utoipa::path(
    tag = "members",
    security(("bearer" = [])),
    request_body = AccountChangeRequest,
    responses(
        (status = 200, description = "Renamed; no e-mail change was asked.", body = AccountChangeResponse),
        (status = 202, description = "An e-mail change waits for confirmation.", body = AccountChangeResponse),
        ChangeAccountProblems,
    )
)]
#[patch("/members/me/account")]
async fn change_account(
    state: web::Data<AppState>,
    caller: Caller,
    Json(body): Json<AccountChangeRequest>,
) -> Result<HttpResponse, AppError> {
    // A rename changes what others see; a new address does not.
    if body.username.is_some() {
        crate::auth::policy::ensure_can_write(&state, caller.member_id).await?;
    }
    let change = AccountChange {
        current_password: body.current_password,
        username: body.username,
        email: body.email,
    };
    let changed = account::change_account(&state, caller.member_id, change).await?;
    let body = AccountChangeResponse {
        member: OwnAccount::new(&changed.member, &state.config),
        email_confirmation_sent: changed.email_pending,
    };
    Ok(if changed.email_pending {
        HttpResponse::Accepted().json(body)
    } else {
        HttpResponse::Ok().json(body)
    })
}

#[derive(Serialize, ToSchema)]
pub struct RecordCount {
    #[schema(example = "sessions")]
    pub what: String,
    pub count: i64,
}

/// What unregistering does with each kind of record.
#[derive(Serialize, ToSchema)]
pub struct UnregistrationSummary {
    /// Erased: the account and profile, sessions, second factors and recovery
    /// codes, tokens, IP records, username history, and the sanctions and
    /// karma notes about the member.
    pub deleted: Vec<RecordCount>,
    /// Kept with the personal data removed: events name the member by id only;
    /// audit entries by them lose their name and address, those about them
    /// the target's name and the details.
    pub anonymised: Vec<RecordCount>,
    /// Kept as they are under the anonymous placeholder member: the sanctions
    /// the member gave or ended and the karma notes they wrote, as staff.
    pub kept: Vec<RecordCount>,
}

problems!(
    UnregistrationSummaryProblems: Caller, Db
);

/// What unregistering would delete, keep and anonymise.
#[utoipa::path(
    tag = "members",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The summary.", body = UnregistrationSummary),
        UnregistrationSummaryProblems,
    )
)]
#[get("/members/me/unregistration")]
async fn unregistration_summary(
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<web::Json<UnregistrationSummary>, AppError> {
    let records = account::unregistration_summary(&state, caller.member_id).await?;
    let count = |what: &str, count: i64| RecordCount {
        what: what.into(),
        count,
    };
    Ok(web::Json(UnregistrationSummary {
        deleted: vec![
            count("account", 1),
            count("sessions", records.sessions),
            count("second_factors", records.second_factors),
            count("recovery_codes", records.recovery_codes),
            count("tokens", records.tokens),
            count("ip_records", records.ip_records),
            count("username_history", records.username_changes),
            count("sanctions", records.sanctions_about),
            count("karma_notes", records.karma_notes_about),
        ],
        anonymised: vec![
            count("events", records.events),
            count("audit_entries", records.audit_entries),
        ],
        kept: vec![
            count("sanctions_given", records.sanctions_given),
            count("karma_notes_written", records.karma_notes_written),
        ],
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UnregisterRequest {
    pub password: String,
}

problems!(
    UnregisterProblems: Caller, Json<UnregisterRequest>, PasswordHasher, Db;
    409: LastSuperuser = "The community would be left without an active superuser.";
    422: ValidationFailed = "`password` `incorrect`.";
    429: RateLimited = "Too many wrong passwords."
);

/// Unregister: erase the caller's account and personal data.
///
/// The username and e-mail address become free again; other services hear
/// of it through the `member.unregistered` event.
#[utoipa::path(
    tag = "members",
    security(("bearer" = [])),
    request_body = UnregisterRequest,
    responses(
        (status = 204, description = "Unregistered."),
        UnregisterProblems,
    )
)]
#[delete("/members/me")]
async fn unregister(
    state: web::Data<AppState>,
    caller: Caller,
    Json(body): Json<UnregisterRequest>,
) -> Result<HttpResponse, AppError> {
    account::unregister(&state, caller.member_id, body.password).await?;
    Ok(HttpResponse::NoContent().finish())
}

//! HTTP handlers for second factors: the member's own and a superuser's
//! reset; the second step of a login and a login by passkey are in `login`.

mod login;

use actix_web::{HttpResponse, delete, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::extract::{Caller, SuperuserWriter};
use crate::auth::password::PasswordHasher;
use crate::auth::policy::Actor;
use crate::client_ip::ClientIp;
use crate::db::Db;
use crate::error::AppError;
use crate::factors::store::FactorRow;
use crate::factors::{passkeys, service};
use crate::http::mount::Routes;
use crate::input::{Json, Query};
use crate::members::model::MemberKey;
use crate::openapi::problems;
use crate::pagination::{PageParams, Paged};
use crate::state::AppState;

pub fn configure(config: &mut impl Routes) {
    config
        .service(own_factors)
        .service(enrol_totp)
        .service(enrol_passkey)
        .service(confirm_factor)
        .service(remove_factor)
        .service(renew_recovery_codes)
        .service(reset_factors);
    login::configure(config);
}

/// A confirmed second factor of the caller's; never its secret.
#[derive(Serialize, ToSchema)]
pub struct Factor {
    #[schema(format = "uuid")]
    pub id: String,
    #[schema(value_type = FactorKindName)]
    pub kind: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
    /// When it last proved a login or a change (its confirmation counts).
    pub last_used_at: Option<DateTime<Utc>>,
}

/// A kind of second factor.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FactorKindName {
    Totp,
    Passkey,
}

impl From<FactorRow> for Factor {
    fn from(row: FactorRow) -> Self {
        Factor {
            id: row.id.to_string(),
            kind: row.kind,
            name: row.name,
            created_at: row.created_at,
            last_used_at: row.last_used_at,
        }
    }
}

problems!(
    OwnFactorsProblems: Caller, Query<PageParams>, Db;
    422: ValidationFailed = "Paging."
);

/// The caller's confirmed second factors, oldest first.
#[utoipa::path(
    tag = "factors",
    security(("bearer" = [])),
    params(PageParams),
    responses(
        (status = 200, description = "A page of the caller's factors.", body = Paged<Factor>, headers(("Link" = String, description = "The `next` and `prev` pages (RFC 8288), when there are."))),
        OwnFactorsProblems,
    )
)]
#[get("/members/me/factors")]
async fn own_factors(
    state: web::Data<AppState>,
    caller: Caller,
    Query(params): Query<PageParams>,
) -> Result<Paged<Factor>, AppError> {
    Ok(service::factors_of(&state, caller.member_id, params.page()?)
        .await?
        .map(Factor::from))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrolmentRequest {
    #[schema(min_length = 1, max_length = 256)]
    pub current_password: String,
    /// What the member calls it (`Authenticator app` when left out); 1–100
    /// characters, trimmed, no control character.
    #[schema(min_length = 1, max_length = 100, pattern = "{filled}")]
    pub name: Option<String>,
}

/// A TOTP factor waiting for its first code.
#[derive(Serialize, ToSchema)]
pub struct TotpEnrolment {
    /// The factor to confirm at `POST /v1/members/me/factors/{id}/confirmation`.
    #[schema(format = "uuid")]
    pub id: String,
    /// The shared secret in base32, for typing into an app; shown this once.
    pub secret: String,
    /// The same secret as an `otpauth://totp/` URI (RFC 6238: SHA-1, 6 digits,
    /// 30 s), for a QR code.
    pub otpauth_uri: String,
}

problems!(
    EnrolProblems: Caller, Json<EnrolmentRequest>, PasswordHasher, Db;
    403: SecondFactorRequired = "The caller holds a factor already, and this session did not prove one.";
    409: TooManyFactors;
    422: ValidationFailed = "`current_password`: `incorrect`. `name`: `required` (blank), `too_long`, `contains_control_character`.";
    429: RateLimited = "Too many wrong passwords: 10 per 15 minutes."
);

/// Start adding an authenticator app (TOTP).
///
/// The secret is shown this once; the factor counts once a code of it is
/// confirmed. An unconfirmed one is replaced by the next enrolment, and
/// forgotten after a day.
#[utoipa::path(
    tag = "factors",
    security(("bearer" = [])),
    request_body = EnrolmentRequest,
    responses(
        (status = 201, description = "Pending until confirmed.", body = TotpEnrolment, headers(("Cache-Control" = String, description = "`no-store`: the answer carries a secret."))),
        EnrolProblems,
    )
)]
#[post("/members/me/factors/totp")]
async fn enrol_totp(
    state: web::Data<AppState>,
    caller: Caller,
    Json(body): Json<EnrolmentRequest>,
) -> Result<HttpResponse, AppError> {
    let enrolled = service::enrol_totp(&state, &caller, body.current_password, body.name).await?;
    Ok(HttpResponse::Created()
        .insert_header(("Cache-Control", "no-store"))
        .json(TotpEnrolment {
            id: enrolled.id.to_string(),
            secret: enrolled.secret,
            otpauth_uri: enrolled.otpauth_uri,
        }))
}

/// A passkey waiting for its authenticator's answer.
#[derive(Serialize, ToSchema)]
pub struct PasskeyEnrolment {
    /// The factor to confirm at `POST /v1/members/me/factors/{id}/confirmation`.
    #[schema(format = "uuid")]
    pub id: String,
    /// WebAuthn `PublicKeyCredentialCreationOptions` in their JSON form
    /// (`{"publicKey": {...}}`, binary fields base64url): give `publicKey`
    /// to `PublicKeyCredential.parseCreationOptionsFromJSON` and then to
    /// `navigator.credentials.create`.
    #[schema(value_type = Object)]
    pub options: serde_json::Value,
}

/// Start adding a passkey.
///
/// Answers creation options for the browser; the authenticator's answer
/// confirms the factor within 5 minutes. The caller's other passkeys are
/// excluded, so one authenticator is not enrolled twice. The relying party
/// is `MEMBERD_WEBAUTHN_RP_ID` and the origin `MEMBERD_WEBAUTHN_ORIGIN`.
#[utoipa::path(
    tag = "factors",
    security(("bearer" = [])),
    request_body = EnrolmentRequest,
    responses(
        (status = 201, description = "Pending until confirmed.", body = PasskeyEnrolment, headers(("Cache-Control" = String, description = "`no-store`."))),
        EnrolProblems,
    )
)]
#[post("/members/me/factors/passkey")]
async fn enrol_passkey(
    state: web::Data<AppState>,
    caller: Caller,
    Json(body): Json<EnrolmentRequest>,
) -> Result<HttpResponse, AppError> {
    let enrolled = passkeys::enrol(&state, &caller, body.current_password, body.name).await?;
    Ok(HttpResponse::Created()
        .insert_header(("Cache-Control", "no-store"))
        .json(PasskeyEnrolment {
            id: enrolled.id.to_string(),
            options: enrolled.options,
        }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmationRequest {
    /// For an authenticator app: the code it shows now.
    #[schema(pattern = "^[0-9]{6}$")]
    pub code: Option<String>,
    /// For a passkey: the authenticator's answer, as `PublicKeyCredential.toJSON()` gives it.
    #[schema(value_type = Option<Object>)]
    pub credential: Option<serde_json::Value>,
}

/// A confirmed factor.
#[derive(Serialize, ToSchema)]
pub struct Confirmed {
    /// With the member's first factor only: ten single-use recovery codes,
    /// shown this once, each good for one login without the factor.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovery_codes: Option<Vec<String>>,
}

problems!(
    ConfirmProblems: Caller, Json<ConfirmationRequest>, Db;
    404: FactorNotFound = "Unknown, or another member's.";
    409: FactorAlreadyConfirmed, TooManyFactors;
    410: CeremonyExpired = "A passkey's enrolment started more than 5 minutes ago: it is gone; start again.";
    422: ValidationFailed = "`code`: `required` (an app's factor), `invalid` (not six digits), `incorrect` (not a current code of this factor). `credential`: `required` (a passkey), `invalid_type` (not an object), `invalid` (not a credential's JSON), `incorrect` (its answer does not verify: a wrong origin or relying party, another ceremony's challenge; the enrolment is gone, start again)."
);

/// Confirm a factor with a code of it.
///
/// The session that confirms it has proved it (its `aal` becomes 2 at once,
/// and in its next access token); the caller's other sessions that proved
/// no second factor end. The first factor comes with recovery codes.
#[utoipa::path(
    tag = "factors",
    security(("bearer" = [])),
    request_body = ConfirmationRequest,
    params(("id" = String, Path, format = Uuid, description = "The factor's id, from its enrolment.")),
    responses(
        (status = 200, description = "Confirmed.", body = Confirmed, headers(("Cache-Control" = String, description = "`no-store`: the answer may carry recovery codes."))),
        ConfirmProblems,
    )
)]
#[post("/members/me/factors/{id}/confirmation")]
async fn confirm_factor(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    Json(body): Json<ConfirmationRequest>,
) -> Result<HttpResponse, AppError> {
    let proof = match (body.code, body.credential) {
        (_, Some(credential)) => service::Proof::Credential(credential),
        (code, None) => service::Proof::Code(code),
    };
    let recovery_codes = service::confirm(&state, &caller, &id, proof).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(Confirmed { recovery_codes }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RemoveFactorRequest {
    #[schema(min_length = 1, max_length = 256)]
    pub current_password: String,
    /// A current code of one of the caller's authenticator apps: needed when
    /// this session did not prove a second factor.
    #[schema(pattern = "^[0-9]{6}$")]
    pub code: Option<String>,
}

/// `/members/me/factors/totp` and `/passkey` are where enrolments start, not
/// factors with those ids: a DELETE there is a method the path does not
/// have (405), as the document says.
fn not_an_enrolment(context: &actix_web::guard::GuardContext) -> bool {
    let path = context.head().uri.path();
    !path.ends_with("/factors/totp") && !path.ends_with("/factors/passkey")
}

problems!(
    RemoveFactorProblems: Caller, Json<RemoveFactorRequest>, PasswordHasher, Db;
    403: SecondFactorRequired = "A confirmed factor, from a session that proved none, without `code`.";
    404: FactorNotFound = "Unknown, or another member's.";
    422: ValidationFailed = "`current_password`: `incorrect`. `code`: `invalid` (not six digits), `incorrect`.";
    429: RateLimited = "Too many wrong passwords: 10 per 15 minutes.",
        TooManyAttempts = "Too many wrong codes: each further one waits (1 s, doubling, at most 15 minutes)."
);

/// Remove one of the caller's factors.
///
/// Needs the password, and for a confirmed factor a session that proved a
/// second factor or a current `code`. Removing the last factor voids the
/// recovery codes. The member is e-mailed.
#[utoipa::path(
    tag = "factors",
    security(("bearer" = [])),
    request_body = RemoveFactorRequest,
    params(("id" = String, Path, format = Uuid, description = "The factor's id.")),
    responses(
        (status = 204, description = "Removed."),
        RemoveFactorProblems,
    )
)]
#[delete("/members/me/factors/{id}", guard = "not_an_enrolment")]
async fn remove_factor(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    Json(body): Json<RemoveFactorRequest>,
) -> Result<HttpResponse, AppError> {
    service::remove(&state, &caller, &id, body.current_password, body.code).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordConfirmation {
    #[schema(min_length = 1, max_length = 256)]
    pub current_password: String,
}

/// Recovery codes, shown this once.
#[derive(Serialize, ToSchema)]
pub struct RecoveryCodes {
    /// Ten single-use codes (`xxxx-xxxx-xxxx-xxxx`, Crockford base32), each
    /// good for one login in place of a second factor.
    pub recovery_codes: Vec<String>,
}

problems!(
    RenewRecoveryCodesProblems: Caller, Json<PasswordConfirmation>, PasswordHasher, Db;
    403: SecondFactorRequired = "This session did not prove a second factor.";
    409: NoSecondFactor;
    422: ValidationFailed = "`current_password`: `incorrect`.";
    429: RateLimited = "Too many wrong passwords: 10 per 15 minutes."
);

/// Make ten new recovery codes; the old ones stop working.
#[utoipa::path(
    tag = "factors",
    security(("bearer" = [])),
    request_body = PasswordConfirmation,
    responses(
        (status = 200, description = "The new codes.", body = RecoveryCodes, headers(("Cache-Control" = String, description = "`no-store`: the answer carries the codes."))),
        RenewRecoveryCodesProblems,
    )
)]
#[post("/members/me/recovery-codes")]
async fn renew_recovery_codes(
    state: web::Data<AppState>,
    caller: Caller,
    Json(body): Json<PasswordConfirmation>,
) -> Result<HttpResponse, AppError> {
    let recovery_codes = service::renew_recovery_codes(&state, &caller, body.current_password).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(RecoveryCodes { recovery_codes }))
}

/// What a reset removed.
#[derive(Serialize, ToSchema)]
pub struct FactorsReset {
    /// How many confirmed factors were removed.
    pub removed: usize,
}

problems!(
    ResetProblems: SuperuserWriter, Db;
    403: CannotResetOwnFactors = "A superuser's own: removed one by one at `DELETE /v1/members/me/factors/{id}`.";
    404: MemberNotFound
);

/// Reset a member's second factors (a lost device).
///
/// Removes every factor and recovery code of the member and ends their
/// sessions; recorded in the audit log, and the member is e-mailed.
#[utoipa::path(
    tag = "factors",
    security(("bearer" = [])),
    params(("member" = String, Path, description = "Numeric id, username, or `me` for the caller.")),
    responses(
        (status = 200, description = "Reset.", body = FactorsReset),
        ResetProblems,
    )
)]
#[delete("/members/{member}/factors")]
async fn reset_factors(
    state: web::Data<AppState>,
    SuperuserWriter(caller): SuperuserWriter,
    ClientIp(ip): ClientIp,
    member: web::Path<String>,
) -> Result<web::Json<FactorsReset>, AppError> {
    let removed = service::reset(
        &state,
        Actor::new(&caller, ip),
        MemberKey::parse(&member, Some(caller.member_id)),
    )
    .await?;
    Ok(web::Json(FactorsReset { removed }))
}

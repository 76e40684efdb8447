//! HTTP handlers that finish a login with a second factor, and log in with
//! a passkey alone.

use actix_web::{HttpRequest, post, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::client_ip::ClientIp;
use crate::db::Db;
use crate::error::AppError;
use crate::factors::{passkeys, second_step};
use crate::http::mount::Routes;
use crate::http::wire::{SessionResponse, origin};
use crate::input::Json;
use crate::openapi::problems;
use crate::state::AppState;

pub fn configure(config: &mut impl Routes) {
    config
        .service(finish_mfa_login)
        .service(passkey_options_for_mfa)
        .service(passkey_login_options)
        .service(passkey_login);
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MfaRequest {
    /// From the `mfa_required` answer of `POST /v1/auth/login`.
    #[schema(min_length = 1)]
    pub mfa_token: String,
    /// A current code of one of the member's authenticator apps.
    #[schema(pattern = "^[0-9]{6}$")]
    pub code: Option<String>,
    /// One of the member's unused recovery codes, in any case, dashes optional.
    #[schema(min_length = 1, max_length = 64)]
    pub recovery_code: Option<String>,
    /// A passkey's answer to the options of `POST /v1/auth/mfa/passkey-options`,
    /// as `PublicKeyCredential.toJSON()` gives it.
    #[schema(value_type = Option<Object>)]
    pub credential: Option<serde_json::Value>,
}

problems!(
    MfaProblems: Json<MfaRequest>, Db;
    401: InvalidMfaToken = "Unknown, used already, or past its 5 minutes: log in again.",
        InvalidSecondFactor = "A wrong code, a code used already, a recovery code unknown or used, or a passkey's answer that does not verify (another member's passkey, a wrong origin or relying party, no options asked, or options answered already); counted per member.";
    403: AccountDisabled, MemberBanned = "Since the password step: nothing is used up.";
    422: ValidationFailed = "None, or more than one, of `code`, `recovery_code` and `credential`; `code` not six digits; `recovery_code` not sixteen letters and digits; `credential` `invalid_type` (not an object) or `invalid` (not a credential's JSON).";
    429: TooManyAttempts = "Per member: from the 5th wrong answer within 15 minutes, each further one waits (1 s, doubling, at most 15 minutes); not counted."
);

/// Finish a login with a second factor.
///
/// Give the `mfa_token` of the `mfa_required` answer and one of `code`,
/// `recovery_code` or `credential` (a passkey's answer to the options of
/// `POST /v1/auth/mfa/passkey-options`). Using a recovery code e-mails the
/// member. The session's access tokens carry `aal: 2` and `amr: ["pwd",
/// "otp"]` (a code) or `["pwd", "hwk"]` (a passkey).
#[utoipa::path(
    tag = "auth",
    request_body = MfaRequest,
    responses(
        (status = 200, description = "Logged in.", body = SessionResponse, headers(("Cache-Control" = String, description = "`no-store`: the answer carries tokens."))),
        MfaProblems,
    )
)]
#[post("/auth/mfa")]
async fn finish_mfa_login(
    state: web::Data<AppState>,
    request: HttpRequest,
    ClientIp(ip): ClientIp,
    Json(body): Json<MfaRequest>,
) -> Result<SessionResponse, AppError> {
    let answer = second_step::one_answer(body.code, body.recovery_code, body.credential)?;
    let grant = second_step::finish_login(&state, &body.mfa_token, answer, origin(&request, ip)).await?;
    Ok(SessionResponse::new(grant, &state.config))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MfaTokenRequest {
    /// From the `mfa_required` answer of `POST /v1/auth/login`.
    #[schema(min_length = 1)]
    pub mfa_token: String,
}

/// WebAuthn request options.
#[derive(Serialize, ToSchema)]
pub struct PasskeyOptions {
    /// `PublicKeyCredentialRequestOptions` in their JSON form
    /// (`{"publicKey": {...}}`, binary fields base64url): give `publicKey`
    /// to `PublicKeyCredential.parseRequestOptionsFromJSON` and then to
    /// `navigator.credentials.get`.
    #[schema(value_type = Object)]
    pub options: serde_json::Value,
}

problems!(
    PasskeyOptionsForMfaProblems: Json<MfaTokenRequest>, Db;
    401: InvalidMfaToken = "Unknown, used already, or past its 5 minutes: log in again.";
    409: NoPasskey = "The member's second factors hold no passkey."
);

/// Options for finishing a login with a passkey.
///
/// For the member the `mfa_token` is for: their passkeys are allowed. The
/// answer goes to `POST /v1/auth/mfa` as `credential`; asking again replaces
/// the options, and an answer uses them up.
#[utoipa::path(
    tag = "auth",
    request_body = MfaTokenRequest,
    responses(
        (status = 200, description = "The options.", body = PasskeyOptions),
        PasskeyOptionsForMfaProblems,
    )
)]
#[post("/auth/mfa/passkey-options")]
async fn passkey_options_for_mfa(
    state: web::Data<AppState>,
    Json(body): Json<MfaTokenRequest>,
) -> Result<web::Json<PasskeyOptions>, AppError> {
    let options = passkeys::options_for_second_step(&state, &body.mfa_token).await?;
    Ok(web::Json(PasskeyOptions { options }))
}

/// The start of a passwordless login.
#[derive(Serialize, ToSchema)]
pub struct PasskeyLoginOptions {
    /// This login's ceremony, to give back at `POST /v1/auth/passkey` within
    /// 5 minutes: opaque text, sealed by memberd (nothing waits on the
    /// server; it is answered once).
    pub challenge_id: String,
    /// `PublicKeyCredentialRequestOptions` in their JSON form, for any
    /// discoverable passkey of this relying party (`mediation: conditional`
    /// lets the browser offer them in its autofill).
    #[schema(value_type = Object)]
    pub options: serde_json::Value,
}

/// Start a login with a passkey alone.
#[utoipa::path(
    tag = "auth",
    responses(
        (status = 200, description = "The ceremony.", body = PasskeyLoginOptions),
    )
)]
#[post("/auth/passkey/options")]
async fn passkey_login_options(state: web::Data<AppState>) -> Result<web::Json<PasskeyLoginOptions>, AppError> {
    let (challenge_id, options) = passkeys::start_login(&state)?;
    Ok(web::Json(PasskeyLoginOptions { challenge_id, options }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasskeyLoginRequest {
    /// From `POST /v1/auth/passkey/options`, as it was given.
    pub challenge_id: String,
    /// The passkey's answer, as `PublicKeyCredential.toJSON()` gives it
    /// (with its `userHandle`).
    #[schema(value_type = Object)]
    pub credential: serde_json::Value,
    /// Keep the session for 30 days instead of 1.
    #[serde(default)]
    pub remember_me: bool,
}

problems!(
    PasskeyLoginProblems: Json<PasskeyLoginRequest>, Db;
    401: InvalidPasskey = "An unknown, answered or lapsed ceremony, an unknown passkey, or an answer that does not verify (a wrong origin or relying party, another ceremony's challenge): ask for new options.";
    403: AccountInactive, AccountDisabled, MemberBanned;
    422: ValidationFailed = "`credential`: `invalid_type` (not an object), `invalid` (not a credential's JSON).";
    429: RateLimited = "600 answers a minute per client."
);

/// Log in with a passkey alone.
///
/// The same admission as a login by password (bans, deactivation). The
/// session's access tokens carry `amr: ["hwk"]` and `aal: 2`: a passkey
/// verifies its user.
#[utoipa::path(
    tag = "auth",
    request_body = PasskeyLoginRequest,
    responses(
        (status = 200, description = "Logged in.", body = SessionResponse, headers(("Cache-Control" = String, description = "`no-store`: the answer carries tokens."))),
        PasskeyLoginProblems,
    )
)]
#[post("/auth/passkey")]
async fn passkey_login(
    state: web::Data<AppState>,
    request: HttpRequest,
    ClientIp(ip): ClientIp,
    Json(body): Json<PasskeyLoginRequest>,
) -> Result<SessionResponse, AppError> {
    let credential = passkeys::parse_credential(body.credential)?;
    let grant = passkeys::login(
        &state,
        &body.challenge_id,
        credential,
        body.remember_me,
        origin(&request, ip),
    )
    .await?;
    Ok(SessionResponse::new(grant, &state.config))
}

//! Passkeys, by WebAuthn (webauthn-rs): enrolment, the second step of a
//! login, and a login without a password by a discoverable credential. Each
//! ceremony is answered once and lapses after 5 minutes: an enrolment's and
//! a second step's wait in the database, a passwordless login's travels
//! sealed with the client (`ceremony`); the relying party (its id and
//! origin) is the configuration's.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use diesel::PgConnection;
use serde::Serialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;
use webauthn_rs::prelude::{
    AuthenticationResult, CredentialID, DiscoverableAuthentication, Passkey, PasskeyAuthentication,
    PasskeyRegistration, PublicKeyCredential, RegisterPublicKeyCredential, Webauthn, WebauthnBuilder,
};

use crate::auth::model::{AuthError, AuthMethod, Caller};
use crate::auth::service::{Grant, Opening, Origin, open_session};
use crate::auth::store as sessions;
use crate::config::Config;
use crate::error::{AppError, FieldCode};
use crate::factors::ceremony::Ceremony;
use crate::factors::model::{CEREMONY_MINUTES, FactorError, FactorKind, factor_name};
use crate::factors::service::may_add_factor;
use crate::factors::store::{self, ChallengeRow, FactorRow, NewFactor};
use crate::members::account::confirm_password;
use crate::members::store as members;
use crate::rate_limit;
use crate::state::AppState;
use crate::tokens::model::hash_presented;

/// The relying party passkeys are made for and checked against.
pub fn relying_party(config: &Config) -> anyhow::Result<Webauthn> {
    WebauthnBuilder::new(&config.webauthn_rp_id, &config.webauthn_origin)
        .and_then(|builder| {
            builder
                .rp_name(&config.webauthn_rp_id)
                .timeout(std::time::Duration::from_secs(CEREMONY_MINUTES as u64 * 60))
                .build()
        })
        .map_err(|e| anyhow::anyhow!("MEMBERD_WEBAUTHN_RP_ID / MEMBERD_WEBAUTHN_ORIGIN: {e}"))
}

fn to_json(value: &impl Serialize) -> Result<serde_json::Value, AppError> {
    serde_json::to_value(value).map_err(|e| AppError::internal(format!("a WebAuthn value as JSON: {e}")))
}

/// A ceremony or a passkey as kept; what this version wrote, it reads.
fn from_json<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, AppError> {
    serde_json::from_value(value).map_err(|e| AppError::internal(format!("a stored WebAuthn value: {e}")))
}

fn ceremony_failed(error: webauthn_rs::prelude::WebauthnError) -> AppError {
    AppError::internal(format!("starting a WebAuthn ceremony: {error}"))
}

/// A credential as the browser's `toJSON()` gives it, or the field's error.
pub fn parse_credential<T: DeserializeOwned>(credential: serde_json::Value) -> Result<T, AppError> {
    if !credential.is_object() {
        return Err(AppError::validation(
            "credential",
            FieldCode::InvalidType,
            "A credential is a JSON object.",
        ));
    }
    serde_json::from_value(credential).map_err(|e| {
        AppError::validation(
            "credential",
            FieldCode::Invalid,
            format!("Not a WebAuthn credential in its JSON form: {e}"),
        )
    })
}

/// A passkey waiting for its authenticator's answer.
pub struct Enrolled {
    pub id: Uuid,
    /// `PublicKeyCredentialCreationOptions`, JSON form.
    pub options: serde_json::Value,
}

/// Starts a passkey enrolment: creation options for the browser, whose
/// answer goes to the factor's confirmation within 5 minutes. The member's
/// other passkeys are excluded, so one authenticator is not enrolled twice.
pub async fn enrol(
    state: &AppState,
    caller: &Caller,
    current_password: String,
    name: Option<String>,
) -> Result<Enrolled, AppError> {
    let name = factor_name(FactorKind::Passkey, name.as_deref()).map_err(|e| AppError::Validation(vec![e]))?;
    let member = confirm_password(state, caller.member_id, "current_password", current_password).await?;
    let (id, member_id, aal, now) = (Uuid::new_v4(), caller.member_id, caller.aal, state.clock.now());
    let webauthn = Arc::clone(&state.webauthn);
    let options = state
        .db
        .transaction(move |conn| {
            members::find_for_update(conn, member_id)?.ok_or(AuthError::AccountGone)?;
            may_add_factor(conn, member_id, aal)?;
            let user = store::passkey_user_of(conn, member_id)?.unwrap_or_else(Uuid::new_v4);
            let exclude: Vec<CredentialID> = store::confirmed_for_update(conn, member_id, FactorKind::Passkey)?
                .into_iter()
                .filter_map(|factor| factor.credential_id)
                .collect();
            let (options, ceremony) = webauthn
                .start_passkey_registration(user, &member.username, &member.username, Some(exclude))
                .map_err(ceremony_failed)?;
            store::insert_pending(
                conn,
                &NewFactor {
                    id,
                    member_id,
                    kind: FactorKind::Passkey.as_str(),
                    name: &name,
                    totp_secret: None,
                    passkey: Some((to_json(&ceremony)?, user)),
                    now,
                },
            )?;
            to_json(&options)
        })
        .await?;
    Ok(Enrolled { id, options })
}

/// Why a passkey's enrolment did not finish: either way its ceremony is spent.
pub enum NotEnrolled {
    Expired,
    Refused(String),
}

/// Checks the authenticator's answer to a pending passkey's ceremony: the
/// credential's id and the passkey to keep (its public key, counter and
/// backup flags).
pub fn finish_enrolment(
    webauthn: &Webauthn,
    factor: &FactorRow,
    credential: &RegisterPublicKeyCredential,
    now: DateTime<Utc>,
) -> Result<Result<(Vec<u8>, serde_json::Value), NotEnrolled>, AppError> {
    if now >= factor.created_at + chrono::Duration::minutes(CEREMONY_MINUTES) {
        return Ok(Err(NotEnrolled::Expired));
    }
    let ceremony = factor
        .passkey
        .clone()
        .ok_or_else(|| AppError::internal("a pending passkey without its ceremony"))?;
    let ceremony: PasskeyRegistration = from_json(ceremony)?;
    match webauthn.finish_passkey_registration(credential, &ceremony) {
        Ok(passkey) => Ok(Ok((passkey.cred_id().to_vec(), to_json(&passkey)?))),
        Err(error) => Ok(Err(NotEnrolled::Refused(error.to_string()))),
    }
}

/// Request options for the passkeys of the member a waiting login is for;
/// the ceremony waits with the login, for one answer.
pub async fn options_for_second_step(state: &AppState, mfa_token: &str) -> Result<serde_json::Value, AppError> {
    let hash = hash_presented(mfa_token).ok_or(FactorError::InvalidMfaToken)?;
    let now = state.clock.now();
    let webauthn = Arc::clone(&state.webauthn);
    state
        .db
        .transaction(move |conn| {
            let challenge = store::challenge_for_update(conn, &hash)?
                .filter(|challenge| challenge.is_usable(now))
                .ok_or(FactorError::InvalidMfaToken)?;
            let keys = passkeys_of(store::confirmed_for_update(
                conn,
                challenge.member_id,
                FactorKind::Passkey,
            )?)?;
            if keys.is_empty() {
                return Err(FactorError::NoPasskey.into());
            }
            let keys: Vec<Passkey> = keys.into_iter().map(|(_, key)| key).collect();
            let (options, ceremony) = webauthn.start_passkey_authentication(&keys).map_err(ceremony_failed)?;
            store::set_challenge_passkey_state(conn, &hash, &to_json(&ceremony)?)?;
            to_json(&options)
        })
        .await
}

fn passkeys_of(rows: Vec<FactorRow>) -> Result<Vec<(FactorRow, Passkey)>, AppError> {
    rows.into_iter()
        .map(|row| {
            let key = row
                .passkey
                .clone()
                .ok_or_else(|| AppError::internal("a confirmed passkey without its key"))?;
            Ok((row, from_json(key)?))
        })
        .collect()
}

/// Whether a passkey's assertion answers the ceremony of a waiting login
/// (which it uses up, whatever the answer): if so, the passkey as the
/// assertion leaves it, for `store::record_passkey_login`.
pub fn accept_for_second_step(
    conn: &mut PgConnection,
    webauthn: &Webauthn,
    challenge: &ChallengeRow,
    credential: &PublicKeyCredential,
) -> Result<Option<(Uuid, serde_json::Value)>, AppError> {
    let Some(ceremony) = challenge.passkey_state.clone() else {
        return Ok(None);
    };
    store::clear_challenge_passkey_state(conn, &challenge.token_hash)?;
    let ceremony: PasskeyAuthentication = from_json(ceremony)?;
    let Ok(result) = webauthn.finish_passkey_authentication(credential, &ceremony) else {
        return Ok(None);
    };
    let keys = passkeys_of(store::confirmed_for_update(
        conn,
        challenge.member_id,
        FactorKind::Passkey,
    )?)?;
    as_used(keys, &result)
}

/// The passkey among `keys` that made an assertion, as the assertion leaves
/// it (its counter, its backup state), to be stored: none when it is none of
/// these.
fn as_used(
    keys: Vec<(FactorRow, Passkey)>,
    result: &AuthenticationResult,
) -> Result<Option<(Uuid, serde_json::Value)>, AppError> {
    for (row, mut key) in keys {
        if key.update_credential(result).is_some() {
            return Ok(Some((row.id, to_json(&key)?)));
        }
    }
    Ok(None)
}

/// A passwordless login's ceremony, sealed, and request options for any
/// discoverable passkey of this relying party. Nothing is written.
pub fn start_login(state: &AppState) -> Result<(String, serde_json::Value), AppError> {
    let (options, ceremony) = state
        .webauthn
        .start_discoverable_authentication()
        .map_err(ceremony_failed)?;
    let state_json =
        serde_json::to_vec(&ceremony).map_err(|e| AppError::internal(format!("a WebAuthn ceremony as JSON: {e}")))?;
    let sealed = state.ceremonies.seal(&Ceremony {
        id: Uuid::new_v4(),
        expires_at: state.clock.now() + chrono::Duration::minutes(CEREMONY_MINUTES),
        state: state_json,
    });
    Ok((sealed, to_json(&options)?))
}

/// Logs in with a discoverable passkey alone, under the admission of every
/// login. The ceremony is spent by its first answer, whatever it proves;
/// each client address answers at most `PASSKEY_LOGIN_PER_IP`.
pub async fn login(
    state: &AppState,
    challenge_id: &str,
    credential: PublicKeyCredential,
    remember_me: bool,
    origin: Origin,
) -> Result<Grant, AppError> {
    let now = state.clock.now();
    let ceremony = state
        .ceremonies
        .open(challenge_id, now)
        .ok_or(FactorError::InvalidPasskey)?;
    let discoverable: DiscoverableAuthentication =
        serde_json::from_slice(&ceremony.state).map_err(|_| FactorError::InvalidPasskey)?;
    // Neither is signed: both are checked against the passkey the id finds.
    let named = state.webauthn.identify_discoverable_authentication(&credential).ok();
    let (user, credential_id) = named.map_or((None, Vec::new()), |(user, id)| (Some(user), id.to_vec()));
    let (webauthn, issuer) = (Arc::clone(&state.webauthn), Arc::clone(&state.issuer));
    let (ip, ip_key) = (origin.ip.to_string(), state.ip_keys.key(origin.ip));
    let grant = state
        .db
        .transaction_reporting_changes(move |conn| {
            let refused = || Ok((Err(AppError::from(FactorError::InvalidPasskey)), String::new()));
            let Some(row) = store::spend_ceremony_finding_passkey(
                conn,
                (rate_limit::PASSKEY_LOGIN_PER_IP, &ip_key),
                (ceremony.id, ceremony.expires_at),
                &credential_id,
                now,
            )?
            .filter(|row| user.is_some() && row.passkey_user_id == user) else {
                return refused();
            };
            let member_id = row.member_id;
            let keys = passkeys_of(vec![row])?;
            let Some((_, key)) = keys.first() else {
                return refused();
            };
            let Ok(result) = webauthn.finish_discoverable_authentication_v2(&credential, discoverable, key) else {
                return refused();
            };
            let Some(used) = as_used(keys, &result)? else {
                return refused();
            };
            let member = store::record_passkey_login(conn, used, member_id, now, Some(&ip))?
                .ok_or(FactorError::InvalidPasskey)?;
            let amr = [AuthMethod::HardwareKey.as_str().to_string()];
            let opening = Opening {
                remember_me,
                origin: &origin,
                login: None,
                // As a login by password: one lost in a crash costs a new login.
                commit: sessions::Commit::Lazy,
                amr: &amr,
            };
            let (grant, changed) = open_session(conn, &issuer, member, &opening, now)?;
            Ok((Ok(grant), changed))
        })
        .await??;
    state.cache.forget_member(grant.member.id);
    Ok(grant)
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    use super::*;

    /// A passkey as memberd kept it on webauthn-rs 0.5.5 (from a database of
    /// that version): members enrolled then still log in.
    const KEPT_BY_0_5: &str = r#"{"cred": {"cred": {"key": {"EC_EC2": {"x": "eWUxFS60e9V9mh7IHeFcEN0MhPEIiIA3mAJumdQjWCI", "y": "l0p12y4IKva0-7Z-R1pxpRw7ZmiZU7sr_VrnpYdqXGE", "curve": "SECP256R1"}}, "type_": "ES256"}, "counter": 329, "cred_id": "eUp2uF6YXsXdy6Mc6xKuUUPkdfhD5a9IyyXAciTIiBc", "extensions": {"appid": "NotRequested", "cred_props": "Ignored", "cred_protect": "Ignored", "hmac_create_secret": "NotRequested"}, "transports": null, "attestation": {"data": "Self_", "metadata": "None"}, "backup_state": false, "user_verified": true, "backup_eligible": false, "attestation_format": "packed", "registration_policy": "required"}}"#;

    #[test]
    fn passkeys_kept_by_the_previous_webauthn_rs_read_back() {
        let kept: Passkey = from_json(serde_json::from_str(KEPT_BY_0_5).unwrap()).unwrap();
        assert_eq!(
            kept.cred_id().to_vec(),
            URL_SAFE_NO_PAD
                .decode("eUp2uF6YXsXdy6Mc6xKuUUPkdfhD5a9IyyXAciTIiBc")
                .unwrap()
        );
        // And it is written back as it was read.
        let again: serde_json::Value = to_json(&kept).unwrap();
        assert_eq!(again, serde_json::from_str::<serde_json::Value>(KEPT_BY_0_5).unwrap());
    }
}

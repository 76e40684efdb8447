//! The second step of a login: a one-time code, a recovery code or a
//! passkey's answer, counted per member before it is judged.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use diesel::PgConnection;
use uuid::Uuid;
use webauthn_rs::prelude::PublicKeyCredential;

use crate::auth::model::{AuthError, AuthMethod, FailureCount};
use crate::auth::service::{Grant, Opening, Origin, open_session};
use crate::auth::store as sessions;
use crate::config::Link;
use crate::error::{AppError, FieldCode, FieldError};
use crate::factors::model::{FAILURE_THRESHOLD, FactorError, TotpSecret, recovery_code_digest};
use crate::factors::passkeys;
use crate::factors::store::{self, Answering, TotpRow};
use crate::mail::templates::{self, FactorChange};
use crate::members::store as members;
use crate::state::AppState;
use crate::tokens::model::hash_presented;

/// A one-time code as typed: six digits, or the field is invalid.
pub fn six_digits(field: &str, code: &str) -> Result<(), AppError> {
    if code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(AppError::validation(field, FieldCode::Invalid, "A code is six digits."))
    }
}

pub fn unix_seconds(now: DateTime<Utc>) -> u64 {
    u64::try_from(now.timestamp()).unwrap_or(0)
}

pub fn step_number(step: u64) -> Result<i64, AppError> {
    i64::try_from(step).map_err(|_| AppError::internal("a TOTP step beyond i64"))
}

/// Whether `code` is a current code of one of the member's confirmed TOTP
/// factors, not accepted before: if so, the factor that matched, its step
/// recorded so that the code is never accepted again.
pub fn accept_totp(conn: &mut PgConnection, member_id: i64, code: &str, now: DateTime<Utc>) -> Result<bool, AppError> {
    let factors = store::totp_for_update(conn, member_id)?;
    let Some((factor, step)) = matching_totp(&factors, code, now)? else {
        return Ok(false);
    };
    store::record_totp_use(conn, factor, step, now)?;
    Ok(true)
}

/// The factor among `factors` that `code` is a current code of, not
/// accepted before, and the code's step; the caller records it.
fn matching_totp(factors: &[TotpRow], code: &str, now: DateTime<Utc>) -> Result<Option<(Uuid, i64)>, AppError> {
    for factor in factors {
        let secret = TotpSecret::from_bytes(factor.secret.clone());
        let last = factor.last_step.and_then(|step| u64::try_from(step).ok());
        if let Ok(step) = secret.verify(code, unix_seconds(now), last) {
            return Ok(Some((factor.id, step_number(step)?)));
        }
    }
    Ok(None)
}

/// Counts an answer to a second factor against its member, or refuses it
/// uncounted (the caller's transaction rolls back) while earlier wrong
/// answers impose a wait.
pub fn count_answer(conn: &mut PgConnection, member_id: i64, now: DateTime<Utc>) -> Result<(), AppError> {
    must_not_wait(store::count_answer(conn, member_id, now)?, now)
}

/// Refuses an answer while the wrong answers counted `before` it impose a wait.
fn must_not_wait(before: Option<FailureCount>, now: DateTime<Utc>) -> Result<(), AppError> {
    match before.and_then(|count| count.wait_from(FAILURE_THRESHOLD, now)) {
        Some(retry_after_secs) => Err(AuthError::TooManyAttempts { retry_after_secs }.into()),
        None => Ok(()),
    }
}

/// How a login's second step proves the factor.
pub enum Answer {
    /// A current TOTP code.
    Code(String),
    /// One of the member's unused recovery codes.
    RecoveryCode(String),
    /// A passkey's assertion, answering the options asked for this login.
    Passkey(Box<PublicKeyCredential>),
}

/// Finishes a login whose password was right with a second factor: the
/// `mfa_token` is used up and a session opened, under the same admission
/// as every login. Wrong answers are counted per member, before they are
/// judged; past the threshold each further one must wait.
pub async fn finish_login(
    state: &AppState,
    mfa_token: &str,
    answer: Answer,
    origin: Origin,
) -> Result<Grant, AppError> {
    match &answer {
        Answer::Code(code) => six_digits("code", code)?,
        Answer::RecoveryCode(code) if recovery_code_digest(code).is_none() => {
            return Err(AppError::validation(
                "recovery_code",
                FieldCode::Invalid,
                "A recovery code is sixteen letters and digits, as xxxx-xxxx-xxxx-xxxx.",
            ));
        }
        Answer::RecoveryCode(_) | Answer::Passkey(_) => {}
    }
    let hash = hash_presented(mfa_token).ok_or(FactorError::InvalidMfaToken)?;
    let now = state.clock.now();
    let (issuer, webauthn) = (Arc::clone(&state.issuer), Arc::clone(&state.webauthn));
    let reset_page = state.config.link_page(Link::PasswordReset);
    let ip = origin.ip.to_string();
    let (grant, notice) = state
        .db
        .transaction_reporting_changes(move |conn| {
            let Answering {
                challenge,
                before,
                totp,
            } = store::challenge_counting_answer(conn, &hash, now)?.ok_or(FactorError::InvalidMfaToken)?;
            let member_id = challenge.member_id;
            must_not_wait(before, now)?;
            // A code's use is recorded with the login's, in one statement.
            let code_used = match &answer {
                Answer::Code(code) => matching_totp(&totp, code, now)?,
                Answer::RecoveryCode(_) | Answer::Passkey(_) => None,
            };
            // And a passkey's with the login's too.
            let (proved, passkey_used) = match &answer {
                Answer::Code(_) => (code_used.is_some(), None),
                Answer::RecoveryCode(code) => match recovery_code_digest(code) {
                    Some(digest) => (store::use_recovery_code(conn, member_id, &digest, now)?, None),
                    None => (false, None),
                },
                Answer::Passkey(credential) => {
                    let used = passkeys::accept_for_second_step(conn, &webauthn, &challenge, credential)?;
                    (used.is_some(), used)
                }
            };
            if !proved {
                // Committed: the wrong answer stays counted.
                return Ok((Err(AppError::from(FactorError::InvalidSecondFactor)), String::new()));
            }
            store::use_challenge_forgetting_failures(conn, &hash, member_id, code_used, now)?;
            let member = match passkey_used {
                Some(used) => store::record_passkey_login(conn, used, member_id, now, Some(&ip))?,
                None => members::record_login(conn, member_id, now, Some(&ip))?,
            }
            .ok_or(FactorError::InvalidMfaToken)?;
            let notice = match answer {
                Answer::RecoveryCode(_) => Some(templates::factor_change(
                    &member,
                    &FactorChange::RecoveryCodeUsed(store::unused_recovery_codes(conn, member_id)?),
                    &reset_page,
                )),
                Answer::Code(_) | Answer::Passkey(_) => None,
            };
            let second = match answer {
                Answer::Passkey(_) => AuthMethod::HardwareKey,
                Answer::Code(_) | Answer::RecoveryCode(_) => AuthMethod::OneTimeCode,
            };
            let amr = [AuthMethod::Password, second].map(|method| method.as_str().to_string());
            // As a login by password: one lost in a crash of PostgreSQL costs
            // a new login. Not so a recovery code's use, which must hold.
            let commit = match notice {
                Some(_) => sessions::Commit::Durable,
                None => sessions::Commit::Lazy,
            };
            let opening = Opening {
                remember_me: challenge.remember_me,
                origin: &origin,
                login: None,
                commit,
                amr: &amr,
            };
            // A ban or a deactivation since the password step refuses here,
            // and rolls everything back: the token and the code stay unused.
            let (grant, changed) = open_session(conn, &issuer, member, &opening, now)?;
            Ok((Ok((grant, notice)), changed))
        })
        .await??;
    state.cache.forget_member(grant.member.id);
    if let Some(notice) = notice {
        state.mailer.send_later(notice);
    }
    Ok(grant)
}

/// The field errors of an answer to a second factor that names no way, or
/// more than one.
pub fn one_answer(
    code: Option<String>,
    recovery_code: Option<String>,
    credential: Option<serde_json::Value>,
) -> Result<Answer, AppError> {
    match (code, recovery_code, credential) {
        (Some(code), None, None) => Ok(Answer::Code(code)),
        (None, Some(code), None) => Ok(Answer::RecoveryCode(code)),
        (None, None, Some(credential)) => Ok(Answer::Passkey(Box::new(passkeys::parse_credential(credential)?))),
        (None, None, None) => Err(AppError::Validation(vec![FieldError::new(
            "code",
            FieldCode::Required,
            "Give a `code` of your authenticator app, a `recovery_code`, or a passkey's `credential`.",
        )])),
        // The field named is the one a second answer was given in.
        (_, _, credential) => Err(AppError::Validation(vec![FieldError::new(
            if credential.is_some() {
                "credential"
            } else {
                "recovery_code"
            },
            FieldCode::NotAllowed,
            "Give one of `code`, `recovery_code` and `credential`, not two.",
        )])),
    }
}

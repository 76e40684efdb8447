//! Second factors as a member manages them (enrol, confirm, remove,
//! recovery codes), as a login finishes with one, and as a superuser resets
//! them for a member who lost a device.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use diesel::PgConnection;
use uuid::Uuid;
use webauthn_rs::prelude::RegisterPublicKeyCredential;

use crate::audit::{self, AuditAction, AuditEntry};
use crate::auth::model::{AuthError, AuthMethod, Caller, Revocation};
use crate::auth::policy::Actor;
use crate::auth::store as sessions;
use crate::config::Link;
use crate::error::{AppError, FieldCode};
use crate::events::{self, EventType};
use crate::factors::model::{
    FactorError, FactorKind, MAX_FACTORS, TotpSecret, factor_name, recovery_codes_with_digests,
};
use crate::factors::passkeys::{self, NotEnrolled};
use crate::factors::second_step::{accept_totp, count_answer, six_digits, step_number, unix_seconds};
use crate::factors::store::{self, FactorRow, NewFactor};
use crate::mail::templates::{self, FactorChange};
use crate::members::account::confirm_password;
use crate::members::model::{Member, MemberError, MemberKey};
use crate::members::store as members;
use crate::pagination::{Page, Paged};
use crate::state::AppState;

/// A TOTP factor waiting for its first code.
pub struct Enrolled {
    pub id: Uuid,
    /// Base32, for typing into an app.
    pub secret: String,
    pub otpauth_uri: String,
}

/// Starts a TOTP enrolment: a fresh secret, shown this once. The factor
/// counts only once a code of it is confirmed. A member who holds a factor
/// already adds another only from a session that proved one.
pub async fn enrol_totp(
    state: &AppState,
    caller: &Caller,
    current_password: String,
    name: Option<String>,
) -> Result<Enrolled, AppError> {
    let name = factor_name(FactorKind::Totp, name.as_deref()).map_err(|e| AppError::Validation(vec![e]))?;
    let member = confirm_password(state, caller.member_id, "current_password", current_password).await?;
    let secret = TotpSecret::generate();
    let (id, member_id, aal, now) = (Uuid::new_v4(), caller.member_id, caller.aal, state.clock.now());
    let bytes = secret.as_bytes().to_vec();
    state
        .db
        .transaction(move |conn| {
            // Enrolments of one member, one after the other: the count holds.
            members::find_for_update(conn, member_id)?.ok_or(AuthError::AccountGone)?;
            may_add_factor(conn, member_id, aal)?;
            store::insert_pending(
                conn,
                &NewFactor {
                    id,
                    member_id,
                    kind: FactorKind::Totp.as_str(),
                    name: &name,
                    totp_secret: Some(&bytes),
                    passkey: None,
                    now,
                },
            )
        })
        .await?;
    Ok(Enrolled {
        id,
        secret: secret.base32(),
        otpauth_uri: secret.otpauth_uri(&state.config.webauthn_rp_id, &member.username),
    })
}

/// Whether the member (locked by the caller) may start adding a factor from
/// a session of assurance level `aal`: one who holds a factor already adds
/// another only from a session that proved one, and holds at most ten.
pub fn may_add_factor(conn: &mut PgConnection, member_id: i64, aal: u8) -> Result<(), AppError> {
    let confirmed = store::count_confirmed(conn, member_id)?;
    if confirmed > 0 && aal < 2 {
        return Err(FactorError::SecondFactorRequired.into());
    }
    if confirmed >= MAX_FACTORS {
        return Err(FactorError::TooManyFactors.into());
    }
    Ok(())
}

/// What confirms a pending factor.
pub enum Proof {
    /// A current code of a TOTP factor (None: none was given).
    Code(Option<String>),
    /// The authenticator's answer to a passkey's creation options.
    Credential(serde_json::Value),
}

/// Confirms a pending factor: a TOTP factor with a code of it, a passkey
/// with its authenticator's answer (a passkey's ceremony is spent by any
/// answer). The first confirmed factor comes with recovery codes, answered
/// this once. The session that confirmed it has now proved it; the member's
/// other sessions that proved no second factor end.
pub async fn confirm(
    state: &AppState,
    caller: &Caller,
    id: &str,
    proof: Proof,
) -> Result<Option<Vec<String>>, AppError> {
    // The body is read before the path, as for every request.
    let proof = match proof {
        Proof::Code(Some(code)) => {
            six_digits("code", &code)?;
            Confirming::Code(code)
        }
        Proof::Code(None) => Confirming::Nothing,
        Proof::Credential(credential) => Confirming::Credential(Box::new(passkeys::parse_credential(credential)?)),
    };
    let id = Uuid::parse_str(id).map_err(|_| FactorError::NotFound)?;
    let (member_id, session_id, now) = (caller.member_id, caller.session_id, state.clock.now());
    let (fresh_codes, digests) = recovery_codes_with_digests();
    let reset_page = state.config.link_page(Link::PasswordReset);
    let webauthn = Arc::clone(&state.webauthn);
    // The inner Result carries a refusal that must still commit (a spent ceremony).
    let (codes, notice) = state
        .db
        .transaction(move |conn| {
            let member = members::find_for_update(conn, member_id)?.ok_or(AuthError::AccountGone)?;
            let factor = store::find_for_update(conn, member_id, id)?.ok_or(FactorError::NotFound)?;
            if factor.confirmed_at.is_some() {
                return Err(FactorError::AlreadyConfirmed.into());
            }
            let method = match (FactorKind::parse(&factor.kind), &proof) {
                (Some(FactorKind::Totp), Confirming::Code(code)) => {
                    let secret = factor
                        .totp_secret
                        .clone()
                        .map(TotpSecret::from_bytes)
                        .ok_or_else(|| AppError::internal("a TOTP factor without its secret"))?;
                    let step = secret.verify(code, unix_seconds(now), None).map_err(|_| {
                        AppError::validation(
                            "code",
                            FieldCode::Incorrect,
                            "This is not the current code of this factor.",
                        )
                    })?;
                    store::confirm(conn, id, step_number(step)?, now)?;
                    AuthMethod::OneTimeCode
                }
                (Some(FactorKind::Passkey), Confirming::Credential(credential)) => {
                    match passkeys::finish_enrolment(&webauthn, &factor, credential, now)? {
                        Ok((credential_id, passkey)) => {
                            store::confirm_passkey(conn, id, &credential_id, &passkey, now)?;
                            AuthMethod::HardwareKey
                        }
                        Err(not_enrolled) => {
                            store::delete(conn, id)?;
                            return Ok(Err(match not_enrolled {
                                NotEnrolled::Expired => FactorError::CeremonyExpired.into(),
                                NotEnrolled::Refused(why) => AppError::validation(
                                    "credential",
                                    FieldCode::Incorrect,
                                    format!(
                                        "The authenticator's answer does not verify ({why}); start the enrolment again."
                                    ),
                                ),
                            }));
                        }
                    }
                }
                (Some(FactorKind::Passkey), Confirming::Code(_) | Confirming::Nothing) => {
                    return Err(AppError::validation(
                        "credential",
                        FieldCode::Required,
                        "A passkey is confirmed with its authenticator's `credential`.",
                    ));
                }
                _ => {
                    return Err(AppError::validation(
                        "code",
                        FieldCode::Required,
                        "An authenticator app is confirmed with a `code` of it.",
                    ));
                }
            };
            let confirmed = store::count_confirmed(conn, member_id)?;
            if confirmed > MAX_FACTORS {
                return Err(FactorError::TooManyFactors.into());
            }
            let codes = if confirmed == 1 {
                store::replace_recovery_codes(conn, member_id, &digests, now)?;
                Some(fresh_codes)
            } else {
                None
            };
            sessions::add_method(conn, session_id, method.as_str())?;
            sessions::revoke_sessions_without_second_factor(conn, member_id, session_id, now)?;
            record_factor_event(conn, EventType::MemberFactorAdded, &member, &factor, now)?;
            let notice = templates::factor_change(&member, &FactorChange::Added(factor.name.clone()), &reset_page);
            Ok(Ok((codes, notice)))
        })
        .await??;
    state.mailer.send_later(notice);
    Ok(codes)
}

/// A proof, read.
enum Confirming {
    Nothing,
    Code(String),
    Credential(Box<RegisterPublicKeyCredential>),
}

fn record_factor_event(
    conn: &mut PgConnection,
    event: EventType,
    member: &Member,
    factor: &FactorRow,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let data = serde_json::json!({
        "member": { "id": member.id, "username": member.username },
        "factor": { "id": factor.id, "kind": factor.kind },
    });
    events::record(conn, event, member.id, data, now)
}

/// Removes one of the caller's factors. An unfinished enrolment goes with
/// the password alone; a confirmed factor also needs a session that proved
/// a second factor, or a current code of one (`code`), counted like a login's.
/// Removing the last factor voids the recovery codes.
pub async fn remove(
    state: &AppState,
    caller: &Caller,
    id: &str,
    current_password: String,
    code: Option<String>,
) -> Result<(), AppError> {
    let id = Uuid::parse_str(id).map_err(|_| FactorError::NotFound)?;
    if let Some(code) = &code {
        six_digits("code", code)?;
    }
    confirm_password(state, caller.member_id, "current_password", current_password).await?;
    let (member_id, aal, now) = (caller.member_id, caller.aal, state.clock.now());
    let reset_page = state.config.link_page(Link::PasswordReset);
    // The inner Result carries a refusal whose count must still commit.
    let notice = state
        .db
        .transaction(move |conn| {
            let member = members::find_for_update(conn, member_id)?.ok_or(AuthError::AccountGone)?;
            let factor = store::find_for_update(conn, member_id, id)?.ok_or(FactorError::NotFound)?;
            if factor.confirmed_at.is_none() {
                store::delete(conn, id)?;
                return Ok(Ok(None));
            }
            if aal < 2 {
                let code = code.ok_or(FactorError::SecondFactorRequired)?;
                count_answer(conn, member_id, now)?;
                if !accept_totp(conn, member_id, &code, now)? {
                    return Ok(Err(AppError::validation(
                        "code",
                        FieldCode::Incorrect,
                        "This is not a current code of your authenticator app.",
                    )));
                }
                store::forget_failures(conn, member_id)?;
            }
            store::delete(conn, id)?;
            if store::count_confirmed(conn, member_id)? == 0 {
                store::delete_recovery_codes(conn, member_id)?;
            }
            record_factor_event(conn, EventType::MemberFactorRemoved, &member, &factor, now)?;
            Ok(Ok(Some(templates::factor_change(
                &member,
                &FactorChange::Removed(factor.name.clone()),
                &reset_page,
            ))))
        })
        .await??;
    if let Some(notice) = notice {
        state.mailer.send_later(notice);
    }
    Ok(())
}

/// Ten new recovery codes, the old ones void: for a member with a
/// confirmed factor, from a session that proved one.
pub async fn renew_recovery_codes(
    state: &AppState,
    caller: &Caller,
    current_password: String,
) -> Result<Vec<String>, AppError> {
    confirm_password(state, caller.member_id, "current_password", current_password).await?;
    let (member_id, aal, now) = (caller.member_id, caller.aal, state.clock.now());
    let (codes, digests) = recovery_codes_with_digests();
    state
        .db
        .transaction(move |conn| {
            members::find_for_update(conn, member_id)?.ok_or(AuthError::AccountGone)?;
            if store::count_confirmed(conn, member_id)? == 0 {
                return Err(FactorError::NoSecondFactor.into());
            }
            if aal < 2 {
                return Err(FactorError::SecondFactorRequired.into());
            }
            store::replace_recovery_codes(conn, member_id, &digests, now)
        })
        .await?;
    Ok(codes)
}

/// A page of the caller's confirmed factors, oldest first.
pub async fn factors_of(state: &AppState, member_id: i64, page: Page) -> Result<Paged<FactorRow>, AppError> {
    state
        .db
        .read(move |conn| store::confirmed_of(conn, member_id, page))
        .await
}

/// Removes every second factor of a member who lost their device, with
/// their recovery codes, and ends their sessions: audited, evented and
/// e-mailed. Superusers only (the extractor's rule).
pub async fn reset(state: &AppState, actor: Actor, target: MemberKey) -> Result<usize, AppError> {
    let now = state.clock.now();
    let reset_page = state.config.link_page(Link::PasswordReset);
    let (removed, notice) = state
        .db
        .transaction(move |conn| {
            let target = members::find_by_key(conn, &target)?.ok_or(MemberError::NotFound)?;
            if target.id == actor.member_id {
                return Err(FactorError::OwnFactors.into());
            }
            let target = members::find_for_update(conn, target.id)?.ok_or(MemberError::NotFound)?;
            let removed = store::delete_all(conn, target.id)?;
            sessions::revoke_member_sessions(conn, target.id, Revocation::FactorsReset, now)?;
            for factor in &removed {
                record_factor_event(conn, EventType::MemberFactorRemoved, &target, factor, now)?;
            }
            audit::record(
                conn,
                AuditEntry {
                    target_member_id: Some(target.id),
                    ..actor.audit(
                        AuditAction::MemberFactorsReset,
                        serde_json::json!({ "factors": removed.len() }),
                    )
                },
                now,
            )?;
            let notice = templates::factor_change(&target, &FactorChange::Reset, &reset_page);
            Ok((removed.len(), notice))
        })
        .await?;
    state.mailer.send_later(notice);
    Ok(removed)
}

//! Using e-mailed tokens: resending a validation e-mail and activating.

use std::net::IpAddr;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use diesel::PgConnection;

use crate::auth::model::AuthError;
use crate::auth::model::{AuthMethod, Revocation, fold_identifier};
use crate::auth::password::member_source;
use crate::auth::service::{Grant, Opening, Origin, open_session};
use crate::auth::store as sessions;
use crate::config::{Config, Link};
use crate::error::{AppError, FieldCode};
use crate::events::{self, EventType};
use crate::mail::OutgoingMail;
use crate::mail::templates::{self, PasswordChanged};
use crate::members::model::{Email, Member, MemberError, check_password};
use crate::members::store as members;
use crate::rate_limit;
use crate::state::AppState;
use crate::tokens::model::{OpaqueToken, TokenKind, TokenProblem, check_usable, hash_presented};
use crate::tokens::store;

/// Finds a usable token of this kind, locked until the transaction ends.
pub fn usable_token(
    conn: &mut PgConnection,
    text: &str,
    kind: TokenKind,
    now: DateTime<Utc>,
) -> Result<store::StoredToken, AppError> {
    let hash = hash_presented(text).ok_or(TokenProblem::Unknown)?;
    let stored = store::find_for_update(conn, &hash, kind)?.ok_or(TokenProblem::Unknown)?;
    check_usable(stored.expires_at, stored.used_at, now)?;
    Ok(stored)
}

/// E-mails a password-reset link to the member with this username or
/// address. The answer is the same whether or not there is one.
pub async fn request_password_reset(state: &AppState, login: &str, ip: IpAddr) -> Result<(), AppError> {
    let identifier = fold_identifier(login);
    if identifier.is_empty() || login.chars().count() > 320 {
        return Err(AppError::validation(
            "login",
            FieldCode::Invalid,
            "Give a username or an e-mail address.",
        ));
    }
    let now = state.clock.now();
    let config = state.config.clone();
    let ip = state.ip_keys.key(ip);
    let mail = state
        .db
        .transaction(move |conn| {
            rate_limit::enforce(conn, rate_limit::PASSWORD_RESET_PER_IP, &ip, now)?;
            // A deactivated account gets nothing: a reset must not open it again.
            let Some(member) = members::find_by_login(conn, &identifier)?.filter(|m| m.deactivated_at.is_none()) else {
                return Ok(None);
            };
            if rate_limit::hit(
                conn,
                rate_limit::PASSWORD_RESET_PER_ACCOUNT,
                &member.id.to_string(),
                now,
            )?
            .is_err()
            {
                return Ok(None);
            }
            let token = OpaqueToken::generate();
            let expires_at = now + config.token_ttl.to_chrono();
            store::issue(
                conn,
                member.id,
                TokenKind::PasswordReset,
                &token.hash(),
                None,
                now,
                expires_at,
            )?;
            Ok(Some(templates::password_reset(
                member.locale,
                &member.email,
                &member.username,
                &config.link(Link::PasswordReset, token.text()),
                &config.token_ttl.to_string(),
            )))
        })
        .await?;
    if let Some(mail) = mail {
        state.mailer.send_later(mail);
    }
    Ok(())
}

/// Whether a reset link can still be used; never uses it up, so that mail
/// scanners and repeated clicks do no harm.
pub async fn check_password_reset(state: &AppState, token: String) -> Result<(), AppError> {
    let now = state.clock.now();
    state
        .db
        .transaction(move |conn| usable_token(conn, &token, TokenKind::PasswordReset, now).map(|_| ()))
        .await
}

/// Sets a new password with a reset token, ends every session of the member
/// and uses the token up.
pub async fn reset_password(
    state: &AppState,
    token: String,
    password: String,
    confirmation: String,
) -> Result<(), AppError> {
    let now = state.clock.now();
    let member = {
        let token = token.clone();
        state
            .db
            .transaction(move |conn| {
                let stored = usable_token(conn, &token, TokenKind::PasswordReset, now)?;
                members::find(conn, stored.member_id)?.ok_or_else(|| TokenProblem::Unknown.into())
            })
            .await?
    };
    let errors = check_password(&password, &confirmation, &member.username, &member.email);
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    // The link's holder acts for the member: their hashing takes the member's turn.
    let hash = state.hasher.hash(&member_source(member.id), password).await?;
    let reset_page = state.config.link_page(Link::PasswordReset);
    let notice = state
        .db
        .transaction(move |conn| {
            // Checked again under the lock: the token may have been used meanwhile.
            let stored = usable_token(conn, &token, TokenKind::PasswordReset, now)?;
            store::mark_used(conn, stored.id, now)?;
            let member = members::find_for_update(conn, stored.member_id)?.ok_or(TokenProblem::Unknown)?;
            members::set_password(conn, member.id, &hash)?;
            sessions::revoke_member_sessions(conn, member.id, Revocation::PasswordReset, now)?;
            // A login that got past the old password waits for nothing now.
            crate::factors::store::forget_challenges(conn, member.id)?;
            // Whatever was asked with the old password (an address change,
            // other reset links) must not outlive it.
            store::void_outstanding(conn, member.id, &TokenKind::ACCOUNT)?;
            sessions::forget_failures(conn, &fold_identifier(&member.username), "", sessions::Commit::Durable)?;
            sessions::forget_failures(conn, &member.email.to_lowercase(), "", sessions::Commit::Durable)?;
            Ok(templates::password_changed(
                &member,
                PasswordChanged::Reset,
                &reset_page,
            ))
        })
        .await?;
    state.mailer.send_later(notice);
    Ok(())
}

/// Makes the address the e-mail-change token was sent to the member's own.
pub async fn confirm_email_change(state: &AppState, token: String) -> Result<(), AppError> {
    let now = state.clock.now();
    state
        .db
        .transaction(move |conn| {
            let stored = usable_token(conn, &token, TokenKind::EmailChange, now)?;
            store::mark_used(conn, stored.id, now)?;
            let address = stored
                .payload
                .as_deref()
                .map(Email::parse)
                .and_then(Result::ok)
                .ok_or(TokenProblem::Unknown)?;
            if members::find_by_email(conn, &address)?.is_some_and(|other| other.id != stored.member_id) {
                return Err(MemberError::EmailTaken.into());
            }
            let member = members::find_for_update(conn, stored.member_id)?.ok_or(TokenProblem::Unknown)?;
            members::set_email(conn, member.id, &address)?;
            // Reset links went to the old address, which is no longer the member's.
            store::void_outstanding(conn, member.id, &[TokenKind::PasswordReset])?;
            events::record(
                conn,
                EventType::MemberEmailChanged,
                member.id,
                events::member_data(member.id, &member.username),
                now,
            )?;
            Ok(())
        })
        .await
}

/// Sends a new validation e-mail to an inactive member with this address. The
/// answer is the same whether the address is unknown, active or inactive.
pub async fn resend_registration(state: &AppState, email: &str, ip: IpAddr) -> Result<(), AppError> {
    let email = Email::parse(email).map_err(|e| AppError::Validation(vec![e]))?;
    let now = state.clock.now();
    let config = state.config.clone();
    let ip = state.ip_keys.key(ip);
    let mail = state
        .db
        .transaction(move |conn| {
            rate_limit::enforce(conn, rate_limit::REGISTRATION_RESEND_PER_IP, &ip, now)?;
            let Some(member) =
                members::find_by_email(conn, &email)?.filter(|m| !m.is_active && m.deactivated_at.is_none())
            else {
                return Ok(None);
            };
            if rate_limit::hit(conn, rate_limit::REGISTRATION_RESEND_PER_ADDRESS, &email.key(), now)?.is_err() {
                return Ok(None);
            }
            issue_registration_token(conn, &config, &member, now).map(Some)
        })
        .await?;
    if let Some(mail) = mail {
        state.mailer.send_later(mail);
    }
    Ok(())
}

/// Issues a new registration token for the member (older ones stop working)
/// and returns the validation e-mail that carries it.
pub fn issue_registration_token(
    conn: &mut PgConnection,
    config: &Config,
    member: &Member,
    now: DateTime<Utc>,
) -> Result<OutgoingMail, AppError> {
    let token = OpaqueToken::generate();
    let expires_at = now + config.token_ttl.to_chrono();
    store::issue(
        conn,
        member.id,
        TokenKind::Registration,
        &token.hash(),
        None,
        now,
        expires_at,
    )?;
    Ok(templates::registration(
        member.locale,
        &member.email,
        &member.username,
        &config.link(Link::Activation, token.text()),
        &config.token_ttl.to_string(),
    ))
}

/// Activates the account the token was sent for and opens its first session.
pub async fn activate(state: &AppState, token: &str, origin: Origin) -> Result<Grant, AppError> {
    let now = state.clock.now();
    let issuer = Arc::clone(&state.issuer);
    let token = token.to_string();
    let ip = origin.ip.to_string();
    let grant = state
        .db
        .transaction_reporting_changes(move |conn| {
            let stored = usable_token(conn, &token, TokenKind::Registration, now)?;
            store::mark_used(conn, stored.id, now)?;
            let mut member =
                members::record_login(conn, stored.member_id, now, Some(&ip))?.ok_or(TokenProblem::Unknown)?;
            // Deactivating voids the links sent before; this refuses any that
            // slipped past, with the answer a login would get.
            if member.deactivated_at.is_some() {
                return Err(AuthError::AccountDisabled.into());
            }
            if !member.is_active {
                members::activate(conn, member.id)?;
                member.is_active = true;
                let data = events::member_data(member.id, &member.username);
                events::record(conn, EventType::MemberActivated, member.id, data, now)?;
            }
            let opening = Opening {
                remember_me: false,
                origin: &origin,
                login: None,
                commit: sessions::Commit::Durable,
                // The password chosen at registration, by whoever holds the address.
                amr: &[AuthMethod::Password.as_str().to_string()],
            };
            open_session(conn, &issuer, member, &opening, now)
        })
        .await?;
    state.cache.forget_member(grant.member.id);
    Ok(grant)
}

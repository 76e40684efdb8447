//! Using e-mailed tokens: resending a validation e-mail and activating.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use diesel::PgConnection;

use crate::app::AppState;
use crate::auth::admission::admit;
use crate::auth::service::{Grant, Origin, open_session};
use crate::config::Config;
use crate::error::AppError;
use crate::integration::events::{self, EventType};
use crate::mail::{OutgoingMail, templates};
use crate::members::model::{Email, Member};
use crate::members::store as members;
use crate::rate_limit;
use crate::tokens::model::{OpaqueToken, TokenKind, TokenProblem, check_usable, hash_presented};
use crate::tokens::store;

fn token_not_found() -> AppError {
    AppError::not_found("token_not_found", "This link is not valid.")
}

/// Sends a new validation e-mail to an inactive member with this address. The
/// answer is the same whether the address is unknown, active or inactive.
pub async fn resend_registration(state: &AppState, email: &str, ip: String) -> Result<(), AppError> {
    let email = Email::parse(email).map_err(|e| AppError::Validation(vec![e]))?;
    let now = state.clock.now();
    let config = state.config.clone();
    let mail = state
        .db
        .transaction(move |conn| {
            rate_limit::enforce(conn, rate_limit::REGISTRATION_RESEND_PER_IP, &ip, now)?;
            let Some(member) = members::find_by_email(conn, &email)?.filter(|m| !m.is_active) else {
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
        &config.frontend_link(&format!("activate/{}", token.text())),
        &config.token_ttl.to_string(),
    ))
}

/// Activates the account the token was sent for and opens its first session.
pub async fn activate(state: &AppState, token: &str, origin: Origin) -> Result<Grant, AppError> {
    let hash = hash_presented(token).ok_or_else(token_not_found)?;
    let now = state.clock.now();
    let issuer = Arc::clone(&state.issuer);
    state
        .db
        .transaction(move |conn| {
            let stored = store::find_for_update(conn, &hash, TokenKind::Registration)?.ok_or_else(token_not_found)?;
            check_usable(stored.expires_at, stored.used_at, now).map_err(|problem| match problem {
                TokenProblem::Used => AppError::Gone {
                    code: "token_used",
                    detail: "This link was already used.".into(),
                },
                TokenProblem::Expired => AppError::Gone {
                    code: "token_expired",
                    detail: "This link has expired; ask for a new one.".into(),
                },
            })?;
            store::mark_used(conn, stored.id, now)?;
            let mut member = members::find_for_update(conn, stored.member_id)?.ok_or_else(token_not_found)?;
            if !member.is_active {
                members::activate(conn, member.id)?;
                member.is_active = true;
                let data = events::member_data(member.id, &member.username);
                events::record(conn, EventType::MemberActivated, member.id, data, now)?;
            }
            let admitted = admit(conn, member, now)?;
            open_session(conn, &issuer, admitted, false, &origin, now)
        })
        .await
}

//! What a member does with their own account: profile, password, username
//! and e-mail, unregistration and export.

use chrono::{DateTime, Utc};

use crate::auth::model::{AuthError, Revocation};
use crate::auth::password::member_source;
use crate::auth::{model::fold_identifier, store as sessions};
use crate::config::Link;
use crate::error::{AppError, FieldCode, FieldError};
use crate::events::{self, EventType};
use crate::mail::OutgoingMail;
use crate::mail::templates::{self, PasswordChanged};
use crate::members::model::{Email, Member, MemberError, ProfileChanges, Username, check_password};
use crate::members::records::{self, PersonalRecords};
use crate::members::store::{self, IpRecord, Rename};
use crate::pagination::Page;
use crate::rate_limit;
use crate::state::AppState;
use crate::tokens::model::{OpaqueToken, TokenKind};
use crate::tokens::store as tokens;

/// Checks a password the caller typed to confirm a change; wrong answers are
/// rate-limited per member.
pub async fn confirm_password(
    state: &AppState,
    member_id: i64,
    field: &'static str,
    password: String,
) -> Result<Member, AppError> {
    let now = state.clock.now();
    let member = state
        .db
        .transaction(move |conn| {
            rate_limit::enforce(
                conn,
                rate_limit::PASSWORD_CONFIRMATION_PER_MEMBER,
                &member_id.to_string(),
                now,
            )?;
            store::find(conn, member_id)?.ok_or_else(|| AuthError::AccountGone.into())
        })
        .await?;
    if state
        .hasher
        .verify(&member_source(member_id), password, Some(member.password_hash.clone()))
        .await?
    {
        Ok(member)
    } else {
        Err(AppError::validation(
            field,
            FieldCode::Incorrect,
            "The password is not correct.",
        ))
    }
}

pub async fn update_profile(state: &AppState, member_id: i64, changes: ProfileChanges) -> Result<Member, AppError> {
    let changes = changes.checked().map_err(AppError::Validation)?;
    let now = state.clock.now();
    state
        .db
        .transaction(move |conn| {
            let member = store::find_for_update(conn, member_id)?.ok_or(AuthError::AccountGone)?;
            if !changes.is_empty() {
                store::update_profile(conn, member_id, &changes)?;
                events::record(
                    conn,
                    EventType::MemberUpdated,
                    member_id,
                    events::member_data(member_id, &member.username),
                    now,
                )?;
            }
            store::find(conn, member_id)?.ok_or_else(|| AuthError::AccountGone.into())
        })
        .await
}

pub struct PasswordChange {
    pub current_password: String,
    pub password: String,
    pub password_confirmation: String,
}

/// Sets a new password and ends every other session of the member; the one
/// that made the change stays.
pub async fn change_password(
    state: &AppState,
    member_id: i64,
    session_id: uuid::Uuid,
    change: PasswordChange,
) -> Result<(), AppError> {
    let member = confirm_password(state, member_id, "current_password", change.current_password).await?;
    let errors = check_password(
        &change.password,
        &change.password_confirmation,
        &member.username,
        &member.email,
    );
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    let hash = state.hasher.hash(&member_source(member_id), change.password).await?;
    let now = state.clock.now();
    let reset_page = state.config.link_page(Link::PasswordReset);
    let notice = state
        .db
        .transaction(move |conn| {
            // A link e-mailed before (a pending address change, a reset) was
            // asked for by whoever knew the old password. Tokens are locked
            // before their member, as a reset locks them.
            tokens::void_outstanding(conn, member_id, &TokenKind::ACCOUNT)?;
            let member = store::find_for_update(conn, member_id)?.ok_or(AuthError::AccountGone)?;
            store::set_password(conn, member_id, &hash)?;
            sessions::revoke_member_sessions_except(conn, member_id, session_id, Revocation::PasswordChanged, now)?;
            // A login that got past the old password waits for nothing now.
            crate::factors::store::forget_challenges(conn, member_id)?;
            Ok(templates::password_changed(
                &member,
                PasswordChanged::Changed,
                &reset_page,
            ))
        })
        .await?;
    state.mailer.send_later(notice);
    Ok(())
}

pub struct AccountChange {
    pub current_password: String,
    pub username: Option<String>,
    pub email: Option<String>,
}

pub struct AccountChanged {
    pub member: Member,
    /// Whether a confirmation was (or, for a taken address, seemed to be) sent.
    pub email_pending: bool,
}

/// Renames at once; a new e-mail address replaces the old one only when the
/// link sent to it is used. A taken address looks the same as a free one.
pub async fn change_account(
    state: &AppState,
    member_id: i64,
    change: AccountChange,
) -> Result<AccountChanged, AppError> {
    if change.username.is_none() && change.email.is_none() {
        return Err(AppError::validation(
            "username",
            FieldCode::Required,
            "Give a new username, a new e-mail address, or both.",
        ));
    }
    let mut errors = Vec::new();
    let username = change
        .username
        .as_deref()
        .map(Username::parse)
        .transpose()
        .map_err(|e| errors.extend(e))
        .ok()
        .flatten();
    let email = change
        .email
        .as_deref()
        .map(Email::parse)
        .transpose()
        .map_err(|e| errors.push(e))
        .ok()
        .flatten();
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    confirm_password(state, member_id, "current_password", change.current_password).await?;

    let now = state.clock.now();
    let config = state.config.clone();
    let (member, mails, email_pending) = state
        .db
        .transaction(move |conn| {
            let member = store::find_for_update(conn, member_id)?.ok_or(AuthError::AccountGone)?;
            let mut errors: Vec<FieldError> = Vec::new();
            let rename = username.filter(|u| u.as_str() != member.username);
            if let Some(new_name) = &rename
                && let Some(clash) = store::name_clash(conn, new_name, Some(member.id))?
            {
                errors.push(clash.into());
            }
            let new_email = email.filter(|e| e.key() != member.email.to_lowercase());
            if let Some(address) = &new_email
                && store::email_domain_forbidden(conn, address)?
            {
                errors.push(FieldError::new(
                    "email",
                    FieldCode::ForbiddenDomain,
                    "Addresses of this domain are not accepted.",
                ));
            }
            if !errors.is_empty() {
                return Err(AppError::Validation(errors));
            }
            if let Some(new_name) = &rename {
                store::rename(conn, &member, new_name, now)?;
                // So that staff can follow a member across names.
                let note = crate::karma::model::KarmaNote::rename(&member.username, new_name.as_str());
                crate::karma::store::insert(conn, member.id, None, &note, now)?;
                let data = serde_json::json!({
                    "member": { "id": member.id, "username": new_name.as_str() },
                    "old_username": member.username,
                });
                events::record(conn, EventType::MemberUsernameChanged, member.id, data, now)?;
            }
            let member = store::find(conn, member_id)?.ok_or(AuthError::AccountGone)?;
            let mut mails: Vec<OutgoingMail> = Vec::new();
            let email_pending = new_email.is_some();
            if let Some(address) = new_email
                && store::find_by_email(conn, &address)?.is_none()
            {
                let token = OpaqueToken::generate();
                let expires_at = now + config.token_ttl.to_chrono();
                tokens::issue(
                    conn,
                    member.id,
                    TokenKind::EmailChange,
                    &token.hash(),
                    Some(address.as_str()),
                    now,
                    expires_at,
                )?;
                mails.push(templates::email_change_confirmation(
                    member.locale,
                    address.as_str(),
                    &member.username,
                    &config.link(Link::EmailChange, token.text()),
                    &config.token_ttl.to_string(),
                ));
                mails.push(templates::email_change_notice(
                    member.locale,
                    &member.email,
                    &member.username,
                ));
            }
            Ok((member, mails, email_pending))
        })
        .await?;
    for mail in mails {
        state.mailer.send_later(mail);
    }
    Ok(AccountChanged { member, email_pending })
}

pub async fn unregistration_summary(state: &AppState, member_id: i64) -> Result<PersonalRecords, AppError> {
    state
        .db
        .run(move |conn| records::personal_records(conn, member_id))
        .await
}

/// Unregisters: in one transaction, the member's row and everything hanging
/// from it go, counters keyed by their name or address are forgotten,
/// earlier events are reduced to the id, and `member.unregistered` is written.
pub async fn unregister(state: &AppState, member_id: i64, password: String) -> Result<(), AppError> {
    confirm_password(state, member_id, "password", password).await?;
    let now = state.clock.now();
    state
        .db
        .transaction(move |conn| {
            if crate::staff::store::lock_superusers(conn)? == [member_id] {
                return Err(MemberError::LastSuperuser.into());
            }
            let member = store::find_for_update(conn, member_id)?.ok_or(AuthError::AccountGone)?;
            let email_key = member.email.to_lowercase();
            // Failed logins are counted under whatever was typed: the current
            // name and address, and the names the member had before.
            let mut identifiers = vec![fold_identifier(&member.username), email_key.clone()];
            identifiers.extend(
                store::renames_of(conn, member_id)?
                    .iter()
                    .map(|r| fold_identifier(&r.old_username)),
            );
            // Counters keyed by IP are not the member's: they protect everyone
            // else, and expire on their own (`prune_ip_records`).
            sessions::forget_member(conn, &identifiers)?;
            rate_limit::forget_keys(conn, &[email_key, member_id.to_string()])?;
            events::redact_member(conn, member_id)?;
            // What the member wrote as staff stays, under the placeholder;
            // sanctions, karma notes, reports and appeals about them go with
            // their row; what they said as a reporter goes too.
            let placeholder = store::placeholder_id(conn)?;
            crate::sanctions::store::reattribute(conn, member_id, placeholder)?;
            crate::karma::store::reattribute(conn, member_id, placeholder)?;
            crate::integration::store::reattribute(conn, member_id, placeholder)?;
            crate::integration::webhooks::store::reattribute(conn, member_id, placeholder)?;
            crate::cases::store::reports::forget_reporter(conn, member_id, placeholder)?;
            crate::cases::store::appeals::reattribute(conn, member_id, placeholder)?;
            crate::audit::anonymise_member(conn, member_id, placeholder)?;
            store::delete(conn, member_id)?;
            events::record(
                conn,
                EventType::MemberUnregistered,
                member_id,
                serde_json::json!({ "member": { "id": member_id } }),
                now,
            )?;
            Ok(())
        })
        .await
}

pub struct Export {
    pub member: Member,
    pub sanctions: Vec<crate::sanctions::service::SanctionView>,
    pub sessions: Vec<sessions::SessionRecord>,
    pub factors: Vec<crate::factors::store::FactorRow>,
    pub unused_recovery_codes: i64,
    pub ips: Vec<IpRecord>,
    pub renames: Vec<Rename>,
    pub reports: Vec<crate::cases::service::reports::FiledView>,
    pub appeals: Vec<crate::cases::service::appeals::AppealView>,
}

pub async fn export(state: &AppState, member_id: i64) -> Result<Export, AppError> {
    let now = state.clock.now();
    state
        .db
        .run(move |conn| {
            Ok(Export {
                member: store::find(conn, member_id)?.ok_or(AuthError::AccountGone)?,
                sanctions: crate::sanctions::service::views_of_member(conn, member_id, now)?,
                sessions: sessions::sessions_of(conn, member_id)?,
                factors: crate::factors::store::all_of(conn, member_id)?,
                unused_recovery_codes: crate::factors::store::unused_recovery_codes(conn, member_id)?,
                ips: store::ips_of(conn, member_id)?,
                renames: store::renames_of(conn, member_id)?,
                reports: crate::cases::service::reports::filed_page(conn, member_id, Page::all())?.items,
                appeals: crate::cases::service::appeals::all_of_member(conn, member_id, now)?,
            })
        })
        .await
}

/// Forgets every IP address and user agent older than the retention period,
/// wherever one is kept: IP records and last logins, sessions, the audit log,
/// and the counters kept per IP (which hold keys, not addresses, but are the
/// client's trace all the same). Run periodically; returns how many rows changed.
pub async fn prune_ip_records(state: &AppState, now: DateTime<Utc>) -> Result<usize, AppError> {
    let cutoff = now - chrono::Duration::days(i64::from(state.config.ip_retention_days));
    state
        .db
        .transaction(move |conn| {
            Ok(store::prune_ips(conn, cutoff)?
                + sessions::forget_old_origins(conn, cutoff, now)?
                + crate::audit::forget_old_ips(conn, cutoff)?
                + rate_limit::prune(conn, cutoff)?
                + sessions::forget_lapsed_counters(conn, now)?
                + crate::factors::store::forget_lapsed(conn, now)?)
        })
        .await
}

//! The events outbox: every change that other services may care about writes
//! its event here, in the transaction of the change, so none is lost and none
//! describes a change that rolled back.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::error::AppError;
use crate::schema::events;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    MemberRegistered,
    MemberActivated,
    MemberUpdated,
    MemberUsernameChanged,
    MemberEmailChanged,
    MemberUnregistered,
    MemberRolesChanged,
    MemberSessionsRevoked,
    SanctionApplied,
    SanctionForgiven,
    SanctionReverted,
    SanctionExpired,
    KarmaNoted,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MemberRegistered => "member.registered",
            Self::MemberActivated => "member.activated",
            Self::MemberUpdated => "member.updated",
            Self::MemberUsernameChanged => "member.username_changed",
            Self::MemberEmailChanged => "member.email_changed",
            Self::MemberUnregistered => "member.unregistered",
            Self::MemberRolesChanged => "member.roles_changed",
            Self::MemberSessionsRevoked => "member.sessions_revoked",
            Self::SanctionApplied => "sanction.applied",
            Self::SanctionForgiven => "sanction.forgiven",
            Self::SanctionReverted => "sanction.reverted",
            Self::SanctionExpired => "sanction.expired",
            Self::KarmaNoted => "karma.noted",
        }
    }
}

/// How events name a member: id and username at the time of the event.
pub fn member_data(id: i64, username: &str) -> serde_json::Value {
    serde_json::json!({ "member": { "id": id, "username": username } })
}

pub fn record(
    conn: &mut PgConnection,
    event_type: EventType,
    member_id: i64,
    data: serde_json::Value,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    diesel::insert_into(events::table)
        .values((
            events::event_type.eq(event_type.as_str()),
            events::occurred_at.eq(now),
            events::member_id.eq(Some(member_id)),
            events::data.eq(data),
        ))
        .execute(conn)?;
    Ok(())
}

/// Replaces what earlier events said about an unregistered member with its
/// id alone: other services learn of the unregistration from its own event,
/// and no row keeps the member's name.
pub fn redact_member(conn: &mut PgConnection, member_id: i64) -> Result<usize, AppError> {
    Ok(diesel::update(events::table.filter(events::member_id.eq(member_id)))
        .set(events::data.eq(serde_json::json!({ "member": { "id": member_id }, "redacted": true })))
        .execute(conn)?)
}

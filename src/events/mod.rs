//! The events outbox: every change that other services may care about writes
//! its event here, in the transaction of the change, so none is lost and none
//! describes a change that rolled back.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::error::AppError;
use crate::schema::events;

pub mod model;

pub use model::EventType;

/// How events name a member: id and username at the time of the event.
pub fn member_data(id: i64, username: &str) -> serde_json::Value {
    serde_json::json!({ "member": { "id": id, "username": username } })
}

/// Serialises event writers, so that events commit in id order and a reader
/// following the id cursor never passes an event that commits later.
const EVENTS_LOCK: i64 = 0x0065_7665_6e74_7321; // "events!"

pub fn record(
    conn: &mut PgConnection,
    event_type: EventType,
    member_id: i64,
    data: serde_json::Value,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    diesel::sql_query(format!("SELECT pg_advisory_xact_lock({EVENTS_LOCK})")).execute(conn)?;
    // Delivered at commit, and not at all on rollback.
    diesel::sql_query(format!("NOTIFY {}", crate::db::notify::EVENTS_CHANNEL)).execute(conn)?;
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

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = events)]
pub struct EventRow {
    pub id: i64,
    pub event_type: String,
    pub occurred_at: DateTime<Utc>,
    pub data: serde_json::Value,
}

/// Events after the cursor, oldest first, optionally of some types only.
pub fn after(conn: &mut PgConnection, cursor: i64, types: &[EventType], limit: i64) -> Result<Vec<EventRow>, AppError> {
    let mut query = events::table.filter(events::id.gt(cursor)).into_boxed();
    if !types.is_empty() {
        query = query.filter(events::event_type.eq_any(types.iter().map(|t| t.as_str()).collect::<Vec<_>>()));
    }
    Ok(query
        .order(events::id.asc())
        .limit(limit)
        .select(EventRow::as_select())
        .load(conn)?)
}

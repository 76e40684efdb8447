//! The events outbox: every change that other services may care about writes
//! its event here, in the transaction of the change, so none is lost and none
//! describes a change that rolled back.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Text};

use crate::db::prepared;

use crate::error::AppError;
use crate::schema::events;

pub mod model;

pub use model::{Cursor, EventType};

/// How events name a member: id and username at the time of the event.
pub fn member_data(id: i64, username: &str) -> serde_json::Value {
    serde_json::json!({ "member": { "id": id, "username": username } })
}

/// An event about a member, written in the transaction of its change.
pub struct NewEvent {
    pub event_type: EventType,
    pub member_id: i64,
    pub data: serde_json::Value,
}

macro_rules! new_event {
    ($event_type:expr, $member_id:expr, $data:expr, $now:expr) => {
        diesel::insert_into(events::table).values((
            events::event_type.eq($event_type.as_str()),
            events::occurred_at.eq($now),
            events::member_id.eq(Some($member_id)),
            events::data.eq($data),
        ))
    };
}

/// Writes an event in the caller's transaction. Writers take no lock: the
/// event carries its transaction's id (the column's default), and readers
/// stop below the oldest transaction still running ([`after`]). Nothing is
/// announced: each replica's listener polls the feed's head ([`head`]), since
/// a NOTIFY in every writer would serialise their commits.
pub fn record(
    conn: &mut PgConnection,
    event_type: EventType,
    member_id: i64,
    data: serde_json::Value,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    new_event!(event_type, member_id, data, now).execute(conn)?;
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

#[derive(Debug, Queryable, QueryableByName, Selectable)]
#[diesel(table_name = events)]
pub struct EventRow {
    pub id: i64,
    pub event_type: String,
    pub occurred_at: DateTime<Utc>,
    pub data: serde_json::Value,
}

/// An event and its place in the feed.
#[derive(Debug, QueryableByName)]
pub struct FedEvent {
    #[diesel(embed)]
    pub event: EventRow,
    #[diesel(sql_type = BigInt)]
    pub txid: i64,
}

impl FedEvent {
    pub fn cursor(&self) -> Cursor {
        Cursor {
            txid: self.txid,
            id: self.event.id,
        }
    }
}

/// The bound below which events are settled: transactions older than every
/// other one still running are all committed (or gone), so nothing can commit
/// behind a cursor below it. The reader's own transaction does not count (a
/// worker that locks rows before reading, the webhooks' fan-out, would hold
/// itself back), nor do transactions of other databases of the cluster,
/// which cannot write here (an xid is matched on its low 32 bits: two running
/// at once never share them).
macro_rules! settled_bound {
    () => {
        "(SELECT coalesce(min(running), pg_snapshot_xmax(pg_current_snapshot())) \
          FROM pg_snapshot_xip(pg_current_snapshot()) AS running \
          WHERE running::text::bigint % 4294967296 NOT IN ( \
            SELECT backend_xid::text::bigint FROM pg_stat_activity \
            WHERE datname IS DISTINCT FROM current_database() AND backend_xid IS NOT NULL))"
    };
}
pub(crate) use settled_bound;

/// Events after the cursor, in feed order, optionally of some types only.
pub fn after(
    conn: &mut PgConnection,
    cursor: Cursor,
    types: &[EventType],
    limit: i64,
) -> Result<Vec<FedEvent>, AppError> {
    let types: Vec<&str> = types.iter().map(|t| t.as_str()).collect();
    Ok(prepared(concat!(
        "SELECT id, event_type, occurred_at, data, txid::text::bigint AS txid FROM events ",
        "WHERE (txid, id) > ($1::text::xid8, $2) AND txid < ",
        settled_bound!(),
        // Qualified, or ORDER BY would name the select list's `txid` (a
        // bigint no index holds) and sort every event after the cursor.
        " AND (cardinality($3::text[]) = 0 OR event_type = ANY($3)) ORDER BY events.txid, events.id LIMIT $4"
    ))
    .bind::<BigInt, _>(cursor.txid)
    .bind::<BigInt, _>(cursor.id)
    .bind::<Array<Text>, _>(types)
    .bind::<BigInt, _>(limit)
    .load(conn)?)
}

/// Whether events after the cursor have committed that readers may not take
/// yet: an older transaction still runs. It usually ends within milliseconds.
pub fn held(conn: &mut PgConnection, cursor: Cursor, types: &[EventType]) -> Result<bool, AppError> {
    #[derive(QueryableByName)]
    struct Held {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        held: bool,
    }
    let types: Vec<&str> = types.iter().map(|t| t.as_str()).collect();
    let held: Held = prepared(concat!(
        "SELECT EXISTS (SELECT 1 FROM events WHERE (txid, id) > ($1::text::xid8, $2) AND txid >= ",
        settled_bound!(),
        " AND (cardinality($3::text[]) = 0 OR event_type = ANY($3))) AS held"
    ))
    .bind::<BigInt, _>(cursor.txid)
    .bind::<BigInt, _>(cursor.id)
    .bind::<Array<Text>, _>(types)
    .get_result(conn)?;
    Ok(held.held)
}

/// The last event readers may take now, as (txid, id): when it moves, there
/// is news (the notification listener watches it).
pub fn head(conn: &mut PgConnection) -> Result<Option<(i64, i64)>, AppError> {
    #[derive(QueryableByName)]
    struct Head {
        #[diesel(sql_type = BigInt)]
        txid: i64,
        #[diesel(sql_type = BigInt)]
        id: i64,
    }
    let head: Option<Head> = prepared(concat!(
        "SELECT txid::text::bigint AS txid, id FROM events WHERE txid < ",
        settled_bound!(),
        // Qualified, as in `after`: the head is the index's last entry.
        " ORDER BY events.txid DESC, events.id DESC LIMIT 1"
    ))
    .get_result(conn)
    .optional()?;
    Ok(head.map(|h| (h.txid, h.id)))
}

//! Queries on webhooks, their deliveries and attempts.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Timestamptz};

use crate::db::prepared;
use crate::error::AppError;
use crate::events::{self as feed, Cursor, EventType, FedEvent};
use crate::integration::webhooks::model::retry_delay;
use crate::pagination::{Page, Paged};
use crate::schema::{events, webhook_attempts, webhook_deliveries, webhooks};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = webhooks)]
pub struct WebhookRow {
    pub id: i64,
    pub url: String,
    pub event_types: Vec<String>,
    pub secret: String,
    pub created_at: DateTime<Utc>,
    pub last_event_id: i64,
    pub disabled_at: Option<DateTime<Utc>>,
    pub disabled_reason: Option<String>,
}

/// A new hook hears of events from now on, not of the past.
pub fn insert(
    conn: &mut PgConnection,
    url: &str,
    types: &[EventType],
    secret: &str,
    by: i64,
    now: DateTime<Utc>,
) -> Result<WebhookRow, AppError> {
    let hook = diesel::insert_into(webhooks::table)
        .values((
            webhooks::url.eq(url),
            webhooks::event_types.eq(types.iter().map(|t| t.as_str()).collect::<Vec<_>>()),
            webhooks::secret.eq(secret),
            webhooks::created_by.eq(by),
            webhooks::created_at.eq(now),
            webhooks::last_event_id.eq(0),
        ))
        .returning(WebhookRow::as_returning())
        .get_result(conn)?;
    // Every transaction older than the oldest other one still running has
    // ended: what they wrote is the past.
    prepared(concat!(
        "UPDATE webhooks SET last_event_txid = ",
        crate::events::settled_bound!(),
        " WHERE id = $1"
    ))
    .bind::<BigInt, _>(hook.id)
    .execute(conn)?;
    Ok(hook)
}

/// Where a hook is in the feed.
fn position(conn: &mut PgConnection, hook: i64) -> Result<Cursor, AppError> {
    #[derive(QueryableByName)]
    struct Position {
        #[diesel(sql_type = BigInt)]
        txid: i64,
        #[diesel(sql_type = BigInt)]
        id: i64,
    }
    let at: Position =
        prepared("SELECT last_event_txid::text::bigint AS txid, last_event_id AS id FROM webhooks WHERE id = $1")
            .bind::<BigInt, _>(hook)
            .get_result(conn)?;
    Ok(Cursor {
        txid: at.txid,
        id: at.id,
    })
}

/// A page of the webhooks, oldest first, and how many there are.
pub fn list(conn: &mut PgConnection, page: Page) -> Result<Paged<WebhookRow>, AppError> {
    let total = webhooks::table.count().get_result(conn)?;
    let rows = webhooks::table
        .order(webhooks::id.asc())
        .offset(page.offset())
        .limit(page.per_page)
        .select(WebhookRow::as_select())
        .load(conn)?;
    Ok(Paged::new(rows, page, total))
}

pub fn find(conn: &mut PgConnection, id: i64) -> Result<Option<WebhookRow>, AppError> {
    Ok(webhooks::table
        .find(id)
        .select(WebhookRow::as_select())
        .first(conn)
        .optional()?)
}

pub fn delete(conn: &mut PgConnection, id: i64) -> Result<bool, AppError> {
    Ok(diesel::delete(webhooks::table.find(id)).execute(conn)? == 1)
}

/// Turns new events into deliveries for every enabled hook that wants
/// them. Each hook is locked while its cursor moves (SKIP LOCKED), so two
/// replicas never fan out the same events.
pub fn fan_out(conn: &mut PgConnection, now: DateTime<Utc>) -> Result<usize, AppError> {
    conn.transaction(|conn| {
        let hooks: Vec<WebhookRow> = webhooks::table
            .filter(webhooks::disabled_at.is_null())
            .select(WebhookRow::as_select())
            .for_update()
            .skip_locked()
            .load(conn)?;
        let mut created = 0;
        for hook in hooks {
            let from = position(conn, hook.id)?;
            let new = feed::after(conn, from, &[], 1_000)?;
            let Some(last) = new.last().map(FedEvent::cursor) else {
                continue;
            };
            let rows: Vec<_> = new
                .iter()
                .map(|fed| (fed.event.id, &fed.event.event_type))
                .filter(|(_, kind)| hook.event_types.iter().any(|t| t == *kind))
                .map(|(event_id, _)| {
                    (
                        webhook_deliveries::webhook_id.eq(hook.id),
                        webhook_deliveries::event_id.eq(event_id),
                        webhook_deliveries::state.eq("pending"),
                        webhook_deliveries::next_attempt_at.eq(now),
                        webhook_deliveries::created_at.eq(now),
                    )
                })
                .collect();
            created += diesel::insert_into(webhook_deliveries::table)
                .values(rows)
                .on_conflict_do_nothing()
                .execute(conn)?;
            prepared("UPDATE webhooks SET last_event_txid = $1::text::xid8, last_event_id = $2 WHERE id = $3")
                .bind::<BigInt, _>(last.txid)
                .bind::<BigInt, _>(last.id)
                .bind::<BigInt, _>(hook.id)
                .execute(conn)?;
        }
        Ok(created)
    })
}

#[derive(QueryableByName)]
struct Claimed {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

/// Claims due deliveries by leasing them until `lease_until`.
pub fn claim_due(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    limit: i32,
) -> Result<Vec<i64>, AppError> {
    let claimed: Vec<Claimed> = diesel::sql_query(
        "UPDATE webhook_deliveries SET next_attempt_at = $2 WHERE id IN ( \
           SELECT id FROM webhook_deliveries WHERE state = 'pending' AND next_attempt_at <= $1 \
           ORDER BY next_attempt_at, id LIMIT $3 FOR UPDATE SKIP LOCKED) \
         RETURNING id",
    )
    .bind::<Timestamptz, _>(now)
    .bind::<Timestamptz, _>(lease_until)
    .bind::<Integer, _>(limit)
    .load(conn)?;
    Ok(claimed.into_iter().map(|c| c.id).collect())
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = webhook_deliveries)]
pub struct DeliveryRow {
    pub id: i64,
    pub webhook_id: i64,
    pub event_id: i64,
    pub state: String,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
}

/// A claimed delivery with what it needs to be sent.
pub struct Outgoing {
    pub delivery: DeliveryRow,
    pub hook: WebhookRow,
    pub event: crate::events::EventRow,
}

pub fn outgoing(conn: &mut PgConnection, ids: &[i64]) -> Result<Vec<Outgoing>, AppError> {
    let deliveries: Vec<DeliveryRow> = webhook_deliveries::table
        .filter(webhook_deliveries::id.eq_any(ids))
        .select(DeliveryRow::as_select())
        .load(conn)?;
    let mut out = Vec::new();
    for delivery in deliveries {
        let hook = find(conn, delivery.webhook_id)?;
        let event = events::table
            .find(delivery.event_id)
            .select(crate::events::EventRow::as_select())
            .first(conn)
            .optional()?;
        if let (Some(hook), Some(event)) = (hook, event) {
            out.push(Outgoing { delivery, hook, event });
        }
    }
    Ok(out)
}

/// What one attempt came to.
pub struct Outcome {
    pub status: Option<u16>,
    pub error: Option<String>,
    pub duration_ms: i32,
}

impl Outcome {
    pub fn succeeded(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

/// Records an attempt and schedules what follows: done, a retry, or giving
/// up, which disables the hook (its endpoint failed for a day).
pub fn record(
    conn: &mut PgConnection,
    delivery: &DeliveryRow,
    outcome: &Outcome,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    conn.transaction(|conn| {
        diesel::insert_into(webhook_attempts::table)
            .values((
                webhook_attempts::delivery_id.eq(delivery.id),
                webhook_attempts::attempted_at.eq(now),
                webhook_attempts::response_status.eq(outcome.status.map(i32::from)),
                webhook_attempts::error.eq(&outcome.error),
                webhook_attempts::duration_ms.eq(outcome.duration_ms),
            ))
            .execute(conn)?;
        let attempts = delivery.attempts + 1;
        let (state, next) = if outcome.succeeded() {
            ("delivered", now)
        } else {
            match retry_delay(attempts) {
                Some(delay) => ("pending", now + delay),
                None => ("failed", now),
            }
        };
        diesel::update(webhook_deliveries::table.find(delivery.id))
            .set((
                webhook_deliveries::state.eq(state),
                webhook_deliveries::attempts.eq(attempts),
                webhook_deliveries::next_attempt_at.eq(next),
            ))
            .execute(conn)?;
        if state == "failed" {
            diesel::update(
                webhooks::table
                    .find(delivery.webhook_id)
                    .filter(webhooks::disabled_at.is_null()),
            )
            .set((
                webhooks::disabled_at.eq(now),
                webhooks::disabled_reason.eq("deliveries failed for over 24 hours"),
            ))
            .execute(conn)?;
        }
        Ok(())
    })
}

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = webhook_attempts)]
pub struct AttemptRow {
    pub id: i64,
    pub delivery_id: i64,
    pub attempted_at: DateTime<Utc>,
    pub response_status: Option<i32>,
    pub error: Option<String>,
    pub duration_ms: i32,
}

/// An attempt, its delivery, and the delivery's event type.
pub type AttemptLog = (AttemptRow, DeliveryRow, String);

/// A page of a webhook's attempts, newest first, and how many there are.
pub fn attempts(conn: &mut PgConnection, webhook_id: i64, page: Page) -> Result<Paged<AttemptLog>, AppError> {
    let of_webhook = || {
        webhook_attempts::table
            .inner_join(webhook_deliveries::table)
            .filter(webhook_deliveries::webhook_id.eq(webhook_id))
    };
    let total = of_webhook().count().get_result(conn)?;
    let rows = of_webhook()
        .inner_join(events::table.on(events::id.eq(webhook_deliveries::event_id)))
        .order(webhook_attempts::id.desc())
        .offset(page.offset())
        .limit(page.per_page)
        .select((AttemptRow::as_select(), DeliveryRow::as_select(), events::event_type))
        .load(conn)?;
    Ok(Paged::new(rows, page, total))
}

/// Sends a delivery again from the start of its schedule, with the same webhook-id.
pub fn redeliver(
    conn: &mut PgConnection,
    webhook_id: i64,
    delivery_id: i64,
    now: DateTime<Utc>,
) -> Result<bool, AppError> {
    Ok(diesel::update(
        webhook_deliveries::table
            .find(delivery_id)
            .filter(webhook_deliveries::webhook_id.eq(webhook_id)),
    )
    .set((
        webhook_deliveries::state.eq("pending"),
        webhook_deliveries::attempts.eq(0),
        webhook_deliveries::next_attempt_at.eq(now),
    ))
    .execute(conn)?
        == 1)
}

pub fn delivery_lag_seconds(conn: &mut PgConnection, now: DateTime<Utc>) -> Result<i64, AppError> {
    let oldest: Option<DateTime<Utc>> = webhook_deliveries::table
        .filter(webhook_deliveries::state.eq("pending"))
        .select(diesel::dsl::min(webhook_deliveries::created_at))
        .first(conn)?;
    Ok(oldest.map_or(0, |at| (now - at).num_seconds().max(0)))
}

/// Hooks belong to the community, as keys do (`clients::reattribute`).
pub fn reattribute(conn: &mut PgConnection, from: i64, to: i64) -> Result<(), AppError> {
    diesel::update(webhooks::table.filter(webhooks::created_by.eq(from)))
        .set(webhooks::created_by.eq(to))
        .execute(conn)?;
    Ok(())
}

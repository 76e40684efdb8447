//! Service clients and the event feed: creating and revoking keys (each in
//! the audit log), and reading events as they commit.

use std::sync::Arc;

use crate::audit::{self, AuditAction, AuditEntry};
use crate::auth::policy::Actor;
use crate::error::AppError;
use crate::events::{self, Cursor, EventRow};
use crate::integration::model::{ApiKey, EventQuery, IntegrationError, Scope};
use crate::integration::store::{self, ClientRow};
use crate::pagination::{Page, Paged};
use crate::state::AppState;

/// Creates a client and its key; the key's text is returned this once.
pub async fn create_client(
    state: &AppState,
    actor: Actor,
    name: String,
    scopes: Vec<Scope>,
) -> Result<(ClientRow, String), AppError> {
    let key = ApiKey::generate();
    let text = key.text.clone();
    let now = state.clock.now();
    let row = state
        .db
        .transaction(move |conn| {
            let row = store::insert(conn, &name, &scopes, &key, actor.member_id, now)?;
            let details = serde_json::json!({ "service_client_id": row.id, "scopes": row.scopes });
            let entry = AuditEntry {
                target: Some(&row.name),
                ..actor.audit(AuditAction::ServiceClientCreated, details)
            };
            audit::record(conn, entry, now)?;
            Ok(row)
        })
        .await?;
    Ok((row, text))
}

pub async fn list_clients(state: &AppState, page: Page) -> Result<Paged<ClientRow>, AppError> {
    state.db.run(move |conn| store::list(conn, page)).await
}

/// Revokes a client's key: it stops working at once, on every replica.
pub async fn revoke_client(state: &AppState, actor: Actor, id: &str) -> Result<(), AppError> {
    let not_found = IntegrationError::ClientNotFound;
    let id: i64 = id.parse().map_err(|_| not_found)?;
    let now = state.clock.now();
    state
        .db
        .transaction(move |conn| {
            if !store::revoke(conn, id, now)? {
                return Err(not_found.into());
            }
            let details = serde_json::json!({ "service_client_id": id });
            audit::record(conn, actor.audit(AuditAction::ServiceClientRevoked, details), now)
        })
        .await
}

/// How long a read waits for events that committed behind a transaction
/// still running, before answering without them.
const SETTLING: std::time::Duration = std::time::Duration::from_secs(1);

/// Events after the query's cursor, and the cursor to continue from. With a
/// wait, an empty answer is held until an event commits or the wait runs out.
/// Events that committed while an older transaction still runs are waited
/// for a moment: a client that just made a change finds its event.
pub async fn events_after(state: &AppState, query: EventQuery) -> Result<(Vec<EventRow>, Cursor), AppError> {
    let deadline = query.wait.map(|w| tokio::time::Instant::now() + w);
    let settling = tokio::time::Instant::now() + SETTLING;
    let types = Arc::new(query.types);
    loop {
        // Subscribed before reading, so an event committed in between still wakes us.
        let mut changes = state.notifications.events();
        let types = types.clone();
        let (cursor, limit) = (query.cursor, query.limit);
        let (rows, held) = state
            .db
            .read(move |conn| {
                let rows = events::after(conn, cursor, &types, limit)?;
                let last = rows.last().map_or(cursor, |r| r.cursor());
                let held =
                    rows.len() < usize::try_from(limit).unwrap_or(usize::MAX) && events::held(conn, last, &types)?;
                Ok((rows, held))
            })
            .await?;
        let now = tokio::time::Instant::now();
        if held && now < settling {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            continue;
        }
        let expired = deadline.is_none_or(|d| now >= d);
        if !rows.is_empty() || expired {
            let next_cursor = rows.last().map_or(query.cursor, |r| r.cursor());
            return Ok((rows.into_iter().map(|r| r.event).collect(), next_cursor));
        }
        if let Some(deadline) = deadline {
            let _ = tokio::time::timeout_at(deadline, changes.next()).await;
        }
    }
}

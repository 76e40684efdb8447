//! Sanction use cases: applying, forgiving, reverting, reading the history
//! and the status, and the guard every write endpoint goes through.

use chrono::{DateTime, Utc};
use diesel::PgConnection;

use crate::auth::policy::{Actor, writer};
use crate::cache::MemberFacts;
use crate::error::AppError;
use crate::events::{self, EventType};
use crate::members::model::MemberError;
use crate::members::model::MemberKey;
use crate::members::store as members;
use crate::pagination::{Page, Paged};
use crate::sanctions::model::{Action, SanctionError, State};
use crate::sanctions::request::SanctionRequest;
use crate::sanctions::standing::{Standing, StatusView, due_expiries, stored_state};
use crate::sanctions::store::{self, SanctionFilter, SanctionRow, StoredLink};
use crate::sanctions::writer::Imposition;
use crate::state::AppState;

use crate::tokens::model::OpaqueToken;

mod changes;
mod impose;
pub use changes::{end_early, end_sanction, reduce_sanction};
pub use impose::impose;

/// A sanction with everything a reader needs: its derived state and the
/// names of the people involved.
pub struct SanctionView {
    pub row: SanctionRow,
    pub state: State,
    pub member_name: String,
    pub moderator_name: String,
    pub ended_by_name: Option<String>,
}

/// Stores the queue's derived schedule and records expiries that came due.
fn settle(conn: &mut PgConnection, member_id: i64, now: DateTime<Utc>) -> Result<Standing, AppError> {
    let mut standing = Standing::load(conn, member_id)?;
    store::store_schedule(conn, &standing.rows, &standing.slots)?;
    standing.adopt_schedule();
    record_expiries(conn, &standing.rows, now)?;
    Ok(standing)
}

/// Writes `sanction.expired` once for each sanction whose end has passed,
/// dated at that end.
fn record_expiries(conn: &mut PgConnection, rows: &[SanctionRow], now: DateTime<Utc>) -> Result<(), AppError> {
    let due = due_expiries(rows, now);
    if due.is_empty() {
        return Ok(());
    }
    for id in store::claim_expiries(conn, &due)? {
        if let Some(row) = rows.iter().find(|r| r.id == id) {
            let ended = row.ends_at.unwrap_or(now);
            events::record(
                conn,
                EventType::SanctionExpired,
                row.member_id,
                event_data(row, None),
                ended,
            )?;
        }
    }
    Ok(())
}

/// Records the expiries of sanctions whose end came with nobody looking.
pub async fn sweep_expiries(state: &AppState) -> Result<usize, AppError> {
    let now = state.clock.now();
    state
        .db
        .transaction(move |conn| {
            let due = store::due_expiries(conn, now, 500)?;
            record_expiries(conn, &due, now)?;
            Ok(due.len())
        })
        .await
}

fn event_data(row: &SanctionRow, member_name: Option<&str>) -> serde_json::Value {
    serde_json::json!({
        "sanction": {
            "id": row.id,
            "kind": row.kind.as_str(),
            "resource": row.resource,
            "reason": row.reason,
            "starts_at": row.starts_at,
            "ends_at": row.ends_at,
        },
        "member": { "id": row.member_id, "username": member_name },
    })
}

fn views(conn: &mut PgConnection, rows: Vec<SanctionRow>, now: DateTime<Utc>) -> Result<Vec<SanctionView>, AppError> {
    let stated = rows
        .into_iter()
        .map(|row| {
            let state = stored_state(&row, now)?;
            Ok((row, state))
        })
        .collect::<Result<Vec<_>, AppError>>()?;
    named(conn, stated)
}

/// Sanctions whose state is known, with the names of their member, their
/// moderator and whoever ended them.
fn named(conn: &mut PgConnection, stated: Vec<(SanctionRow, State)>) -> Result<Vec<SanctionView>, AppError> {
    let mut ids: Vec<i64> = stated
        .iter()
        .flat_map(|(r, _)| [Some(r.member_id), Some(r.moderator_id), r.ended_by])
        .flatten()
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let names = store::usernames(conn, &ids)?;
    let name = |id: i64| names.get(&id).cloned().unwrap_or_default();
    Ok(stated
        .into_iter()
        .map(|(row, state)| SanctionView {
            state,
            member_name: name(row.member_id),
            moderator_name: name(row.moderator_id),
            ended_by_name: row.ended_by.map(name),
            row,
        })
        .collect())
}

/// Applies a sanction (or a lift) through the sanction writer, which stores
/// it with whatever others arrive at the same moment (`impose`); the
/// moderator comes from memory, with the write guard. Its e-mail leaves
/// once it is stored.
pub async fn apply(
    state: &AppState,
    actor: Actor,
    target: MemberKey,
    request: SanctionRequest,
) -> Result<SanctionView, AppError> {
    let moderator = writer(state, actor.member_id).await?;
    let imposed = state
        .sanctions
        .submit(Imposition {
            moderator,
            ip: actor.ip,
            target,
            request,
            now: state.clock.now(),
        })
        .await?;
    state.mailer.send_later(imposed.mail);
    Ok(SanctionView {
        row: imposed.row,
        state: imposed.state,
        member_name: imposed.member_name,
        moderator_name: imposed.moderator_name,
        ended_by_name: None,
    })
}

/// The link that lets the sanctioned member appeal a sanction without a
/// session, good for as long as it may be appealed.
struct AppealLink {
    token: OpaqueToken,
    hash: Vec<u8>,
    until: DateTime<Utc>,
}

impl AppealLink {
    fn issue(until: DateTime<Utc>) -> Self {
        let token = OpaqueToken::generate();
        let hash = token.hash();
        Self { token, hash, until }
    }

    fn stored(&self) -> StoredLink<'_> {
        StoredLink {
            token_hash: &self.hash,
            expires_at: self.until,
        }
    }
}

/// A sanction as events carry it.
pub fn sanction_data(row: &SanctionRow, member_name: &str) -> serde_json::Value {
    event_data(row, Some(member_name))
}

/// Every sanction about a member, newest first, as views.
pub fn views_of_member(
    conn: &mut PgConnection,
    member_id: i64,
    now: DateTime<Utc>,
) -> Result<Vec<SanctionView>, AppError> {
    let mut rows = store::of_member(conn, member_id)?;
    rows.reverse();
    views(conn, rows, now)
}

/// A page of a member's history: running first, then queued, then the rest,
/// newest first. The running and queued ones are few and read whole (from
/// the open index); the rest is paged in the index's order, so that a page
/// costs the same whatever the member's past.
pub async fn member_history(state: &AppState, target: MemberKey, page: Page) -> Result<Paged<SanctionView>, AppError> {
    let now = state.clock.now();
    state
        .db
        .read(move |conn| {
            let member = members::find_by_key(conn, &target)?.ok_or(MemberError::NotFound)?;
            let mut pending = Vec::new();
            for row in store::open_of_members(conn, &[member.id], now)? {
                let state = stored_state(&row, now)?;
                if matches!(state, State::Active | State::Queued) {
                    pending.push((row, state));
                }
            }
            pending.sort_by(|(a, a_state), (b, b_state)| {
                (*a_state != State::Active)
                    .cmp(&(*b_state != State::Active))
                    .then(b.created_at.cmp(&a.created_at))
                    .then(b.id.cmp(&a.id))
            });
            let total = store::count_of_member(conn, member.id)?;
            let skip = usize::try_from(page.offset()).unwrap_or(usize::MAX);
            let take = usize::try_from(page.per_page).unwrap_or(usize::MAX);
            let pending_ids: Vec<i64> = pending.iter().map(|(row, _)| row.id).collect();
            let from_pending = pending.len().saturating_sub(skip).min(take);
            let rest_offset = i64::try_from(skip.saturating_sub(pending.len())).unwrap_or(i64::MAX);
            let rest_limit = i64::try_from(take - from_pending).unwrap_or(i64::MAX);
            let mut items: Vec<(SanctionRow, State)> = pending.into_iter().skip(skip).take(take).collect();
            if rest_limit > 0 {
                for row in store::past_of_member(conn, member.id, &pending_ids, rest_offset, rest_limit)? {
                    let state = stored_state(&row, now)?;
                    items.push((row, state));
                }
            }
            Ok(Paged::new(named(conn, items)?, page, total))
        })
        .await
}

pub async fn get(state: &AppState, id: i64) -> Result<SanctionView, AppError> {
    let now = state.clock.now();
    state
        .db
        .run(move |conn| {
            let row = store::find(conn, id)?.ok_or(SanctionError::NotFound)?;
            views(conn, vec![row], now)?
                .pop()
                .ok_or_else(|| SanctionError::NotFound.into())
        })
        .await
}

pub struct ListQuery {
    pub active: bool,
    pub kind: Option<Action>,
    pub resource: Option<String>,
    pub moderator: Option<MemberKey>,
    pub offset: i64,
    pub limit: i64,
}

pub async fn list(state: &AppState, query: ListQuery) -> Result<(Vec<SanctionView>, i64), AppError> {
    let now = state.clock.now();
    state
        .db
        .run(move |conn| {
            let moderator_id = match &query.moderator {
                Some(key) => match members::find_by_key(conn, key)? {
                    Some(member) => Some(member.id),
                    None => return Ok((Vec::new(), 0)),
                },
                None => None,
            };
            let filter = SanctionFilter {
                active_at: query.active.then_some(now),
                kind: query.kind,
                resource: query.resource.clone(),
                moderator_id,
            };
            let (rows, total) = store::list(conn, &filter, query.offset, query.limit)?;
            Ok((views(conn, rows, now)?, total))
        })
        .await
}

/// A member's status, from the member cache. The first reader after a
/// sanction ends writes its `sanction.expired` event (the sweep catches the
/// rest); every later one answers from memory.
pub async fn status(state: &AppState, facts: &MemberFacts, resource: Option<&str>) -> Result<StatusView, AppError> {
    let now = state.clock.now();
    let due = facts.standing.due_expiries(now);
    if !due.is_empty() {
        state
            .db
            .transaction(move |conn| record_expiries(conn, &due, now))
            .await?;
    }
    Ok(facts.standing.status(resource, now))
}

/// Status of many members at once: members and standings come from memory,
/// and whatever is missing is read in one round of queries. Each key comes
/// back with its status, or None when it names nobody.
pub async fn statuses(
    state: &AppState,
    keys: Vec<MemberKey>,
    resource: Option<String>,
) -> Result<Vec<Option<StatusView>>, AppError> {
    let now = state.clock.now();
    Ok(state
        .cache
        .members_by_keys(&state.db, now, keys)
        .await?
        .into_iter()
        .map(|facts| facts.map(|f| f.standing.status(resource.as_deref(), now)))
        .collect())
}

//! Changing a given sanction: forgiving, reverting, reducing. The sanction
//! routes and appeal decisions go through these, so both move the queue alike.

use chrono::{DateTime, Utc};
use diesel::PgConnection;

use super::{SanctionView, event_data, settle, views};
use crate::audit::{self, AuditAction, AuditEntry};
use crate::auth::policy::{Actor, check_may_moderate, ensure_can_write};
use crate::duration::Duration;
use crate::error::AppError;
use crate::events::{self, EventType};
use crate::members::model::{Member, MemberError};
use crate::members::store as members;
use crate::sanctions::model::{Action, EndingKind, SanctionError, State, check_reduction};
use crate::sanctions::standing::Standing;
use crate::sanctions::store::{self, SanctionRow};
use crate::state::AppState;

/// Forgives (ends now) or reverts (erases) one sanction.
pub async fn end_early(
    state: &AppState,
    actor: Actor,
    id: i64,
    kind: EndingKind,
    reason: String,
) -> Result<SanctionView, AppError> {
    ensure_can_write(state, actor.member_id).await?;
    let now = state.clock.now();
    let bot_group = state.config.bot_group.clone();
    state
        .db
        .transaction(move |conn| {
            let row = store::find(conn, id)?.ok_or(SanctionError::NotFound)?;
            let target = members::find_for_update(conn, row.member_id)?.ok_or(SanctionError::NotFound)?;
            let moderator = members::find(conn, actor.member_id)?.ok_or(MemberError::NotFound)?;
            check_may_moderate(conn, &moderator, &target, &bot_group)?;
            let row = end_sanction(conn, &actor, &target, row, kind, &reason, now)?;
            views(conn, vec![row], now)?
                .pop()
                .ok_or_else(|| AppError::internal("no view"))
        })
        .await
}

/// Whether a sanction may be changed now, by an ending of `kind` or (None)
/// a reduction: only a running or waiting one is forgiven or shortened,
/// anything but a reverted one is reverted.
fn check_changeable(
    standing: &Standing,
    row: &SanctionRow,
    kind: Option<EndingKind>,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let current = standing.state(row.id, now).ok_or(SanctionError::NotFound)?;
    if matches!(row.kind, Action::Lift(_)) {
        return Err(SanctionError::IsALift.into());
    }
    let allowed = match kind {
        Some(EndingKind::Reverted) => current != State::Reverted,
        _ => matches!(current, State::Active | State::Queued),
    };
    if allowed {
        Ok(())
    } else {
        Err(SanctionError::NotEndable(current).into())
    }
}

/// Ends a sanction of `target` (locked, and whom the actor may moderate) in
/// the caller's transaction: the queue moves, and the event and the audit
/// entry are written. What the sanction routes and appeal decisions share.
pub fn end_sanction(
    conn: &mut PgConnection,
    actor: &Actor,
    target: &Member,
    row: SanctionRow,
    kind: EndingKind,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<SanctionRow, AppError> {
    let standing = Standing::load(conn, target.id)?;
    check_changeable(&standing, &row, Some(kind), now)?;
    store::end(conn, &[row.id], kind, actor.member_id, reason, now)?;
    settle(conn, target.id, now)?;
    let row = store::find(conn, row.id)?.ok_or(SanctionError::NotFound)?;
    let (event, action) = match kind {
        EndingKind::Forgiven => (EventType::SanctionForgiven, AuditAction::SanctionForgiven),
        _ => (EventType::SanctionReverted, AuditAction::SanctionReverted),
    };
    events::record(conn, event, target.id, event_data(&row, Some(&target.username)), now)?;
    audit::record(
        conn,
        AuditEntry {
            actor_id: actor.member_id,
            action,
            target_member_id: Some(target.id),
            target: None,
            reason: Some(reason),
            ip: &actor.ip,
            details: serde_json::json!({ "sanction_id": row.id }),
        },
        now,
    )?;
    Ok(row)
}

/// Gives a running or waiting sanction of `target` (locked) a shorter
/// duration, in the caller's transaction: what queues behind it moves up.
/// Audited with `reason`; the caller writes the event that explains it.
pub fn reduce_sanction(
    conn: &mut PgConnection,
    actor: &Actor,
    target: &Member,
    row: SanctionRow,
    duration: Duration,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<SanctionRow, AppError> {
    let standing = Standing::load(conn, target.id)?;
    check_changeable(&standing, &row, None, now)?;
    let current = row.entry()?.duration;
    check_reduction(current, duration).map_err(|e| AppError::Validation(vec![e]))?;
    store::set_duration(conn, row.id, duration)?;
    settle(conn, target.id, now)?;
    let row = store::find(conn, row.id)?.ok_or(SanctionError::NotFound)?;
    audit::record(
        conn,
        AuditEntry {
            actor_id: actor.member_id,
            action: AuditAction::SanctionReduced,
            target_member_id: Some(target.id),
            target: None,
            reason: Some(reason),
            ip: &actor.ip,
            details: serde_json::json!({
                "sanction_id": row.id,
                "previous_duration_seconds": current.map(Duration::as_secs),
                "duration_seconds": duration.as_secs(),
            }),
        },
        now,
    )?;
    Ok(row)
}

//! Appeals: a sanctioned member appeals once, in the app or by the e-mailed
//! link; staff other than the sanction's moderator decide, through the same
//! queue model as the sanction routes.

use chrono::{DateTime, Utc};
use diesel::PgConnection;

use crate::audit::{self, AuditAction, AuditEntry};
use crate::auth::policy::{Actor, check_may_moderate, writer};
use crate::cases::model::{AppealOutcome, Appealable, CaseError, Decision, may_decide};
use crate::cases::store::appeals::{self as store, AppealRow, Decided};
use crate::duration::Duration;
use crate::error::AppError;
use crate::events::{self, EventType};
use crate::mail::moderation::{self, Recipient};
use crate::members::model::MemberError;
use crate::members::store as members;
use crate::pagination::{Page, Paged};
use crate::sanctions::model::{Action, EndingKind, SanctionError, State};
use crate::sanctions::service::{end_sanction, reduce_sanction, sanction_data};
use crate::sanctions::standing::{Standing, stored_state};
use crate::sanctions::store::{self as sanctions, SanctionRow, usernames};
use crate::state::AppState;
use crate::tokens::model::{TokenKind, TokenProblem};
use crate::tokens::service::usable_token;
use crate::tokens::store as tokens;

/// An appeal with its sanction and the names of the people in it.
pub struct AppealView {
    pub row: AppealRow,
    pub sanction: SanctionRow,
    pub sanction_state: State,
    pub member_name: String,
    pub moderator_name: Option<String>,
    pub decided_by_name: Option<String>,
}

pub(super) fn views(
    conn: &mut PgConnection,
    rows: Vec<AppealRow>,
    now: DateTime<Utc>,
) -> Result<Vec<AppealView>, AppError> {
    let ids: Vec<i64> = rows.iter().map(|r| r.sanction_id).collect();
    let sanctions = sanctions::find_many(conn, &ids)?;
    let mut people: Vec<i64> = rows
        .iter()
        .flat_map(|r| [Some(r.member_id), r.decided_by])
        .flatten()
        .chain(sanctions.iter().map(|s| s.moderator_id))
        .collect();
    people.sort_unstable();
    people.dedup();
    let names = usernames(conn, &people)?;
    let name = |id: i64| names.get(&id).cloned().unwrap_or_default();
    rows.into_iter()
        .map(|row| {
            let sanction = sanctions
                .iter()
                .find(|s| s.id == row.sanction_id)
                .cloned()
                .ok_or_else(|| AppError::internal("appeal without its sanction"))?;
            Ok(AppealView {
                sanction_state: stored_state(&sanction, now)?,
                moderator_name: names.get(&sanction.moderator_id).cloned(),
                sanction,
                member_name: name(row.member_id),
                decided_by_name: row.decided_by.map(name),
                row,
            })
        })
        .collect()
}

fn view(conn: &mut PgConnection, row: AppealRow, now: DateTime<Utc>) -> Result<AppealView, AppError> {
    views(conn, vec![row], now)?
        .pop()
        .ok_or_else(|| AppError::internal("no view"))
}

/// Until when a sanction may be appealed, if it may be now.
pub fn appealable_until(
    row: &SanctionRow,
    state: State,
    appealed: bool,
    window: Duration,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let appealable = Appealable {
        created_at: row.created_at,
        is_lift: matches!(row.kind, Action::Lift(_)),
        state,
        appealed,
    };
    appealable
        .check(now, window)
        .ok()
        .map(|()| row.created_at + window.to_chrono())
}

/// Files the appeal of a sanction `row` by its member, in the caller's transaction.
fn file_in(
    conn: &mut PgConnection,
    row: &SanctionRow,
    text: &str,
    window: Duration,
    now: DateTime<Utc>,
) -> Result<AppealView, AppError> {
    // Locked as sanction changes lock it, so the state read is the latest.
    let member = members::find_for_update(conn, row.member_id)?.ok_or(MemberError::NotFound)?;
    let standing = Standing::load(conn, member.id)?;
    let state = standing.state(row.id, now).ok_or(SanctionError::NotFound)?;
    Appealable {
        created_at: row.created_at,
        is_lift: matches!(row.kind, Action::Lift(_)),
        state,
        appealed: store::of_sanction(conn, row.id)?.is_some(),
    }
    .check(now, window)?;
    let appeal = store::insert(conn, row.id, member.id, text, now)?.ok_or(CaseError::AlreadyAppealed)?;
    // The e-mailed link has done its work, whichever way the appeal came.
    tokens::spend(conn, member.id, TokenKind::Appeal, &row.id.to_string(), now)?;
    let data = serde_json::json!({
        "appeal": { "id": appeal.id, "sanction_id": row.id },
        "member": { "id": member.id, "username": member.username },
    });
    events::record(conn, EventType::AppealCreated, member.id, data, now)?;
    view(conn, appeal, now)
}

/// The caller appeals one of their sanctions; anyone else's is not found.
pub async fn file(state: &AppState, member_id: i64, sanction_id: i64, text: String) -> Result<AppealView, AppError> {
    let now = state.clock.now();
    let window = state.config.appeal_window;
    state
        .db
        .transaction(move |conn| {
            let row = sanctions::find(conn, sanction_id)?
                .filter(|row| row.member_id == member_id)
                .ok_or(SanctionError::NotFound)?;
            file_in(conn, &row, &text, window, now)
        })
        .await
}

/// Appeals the sanction an e-mailed link was sent for, without a session.
pub async fn file_by_link(state: &AppState, token: String, text: String) -> Result<AppealView, AppError> {
    let now = state.clock.now();
    let window = state.config.appeal_window;
    state
        .db
        .transaction(move |conn| {
            let stored = usable_token(conn, &token, TokenKind::Appeal, now)?;
            let row = stored
                .payload
                .as_deref()
                .and_then(|id| id.parse().ok())
                .map(|id| sanctions::find(conn, id))
                .transpose()?
                .flatten()
                .filter(|row| row.member_id == stored.member_id)
                .ok_or(TokenProblem::Unknown)?;
            let appeal = file_in(conn, &row, &text, window, now)?;
            tokens::mark_used(conn, stored.id, now)?;
            Ok(appeal)
        })
        .await
}

/// Decides an appeal: upheld (nothing changes), forgiven or reverted (as
/// the sanction routes do), or reduced to a shorter duration (the queue
/// behind it moves). The member is e-mailed the outcome and the reason.
pub async fn decide(state: &AppState, actor: Actor, id: i64, decision: Decision) -> Result<AppealView, AppError> {
    let decider = writer(state, actor.member_id).await?;
    let now = state.clock.now();
    let bot_group = state.config.bot_group.clone();
    let frontend = state.config.frontend_url.to_string();
    let (view, mail) = state
        .db
        .transaction(move |conn| {
            let appeal = store::find_for_update(conn, id)?.ok_or(CaseError::AppealNotFound)?;
            let row = sanctions::find(conn, appeal.sanction_id)?.ok_or(CaseError::AppealNotFound)?;
            may_decide(actor.member_id, row.moderator_id, appeal.outcome.is_some())?;
            let target = members::find_for_update(conn, row.member_id)?.ok_or(CaseError::AppealNotFound)?;
            check_may_moderate(conn, &decider, &target, &bot_group)?;
            let before = row.duration_seconds;
            let reason = decision.reason.as_str();
            let (row, reduction, news) = match (decision.outcome, decision.duration) {
                (AppealOutcome::Upheld, _) => (row, None, moderation::Decided::Upheld),
                (AppealOutcome::Forgiven, _) => {
                    let row = end_sanction(conn, &actor, &target, row, EndingKind::Forgiven, reason, now)?;
                    (row, None, moderation::Decided::Forgiven)
                }
                (AppealOutcome::Reverted, _) => {
                    let row = end_sanction(conn, &actor, &target, row, EndingKind::Reverted, reason, now)?;
                    (row, None, moderation::Decided::Reverted)
                }
                (AppealOutcome::Reduced, Some(duration)) => {
                    let row = reduce_sanction(conn, &actor, &target, row, duration, reason, now)?;
                    let after = row.duration_seconds.unwrap_or_default();
                    let news = moderation::Decided::Reduced(row.ends_at);
                    (row, Some((before, after)), news)
                }
                (AppealOutcome::Reduced, None) => return Err(AppError::internal("a reduction without its duration")),
            };
            let decided = Decided {
                outcome: decision.outcome,
                reason,
                by: actor.member_id,
                reduction,
            };
            let appeal = store::decide(conn, id, decided, now)?;
            let data = serde_json::json!({
                "appeal": { "id": id, "sanction_id": row.id, "outcome": decision.outcome.as_str() },
                "sanction": sanction_data(&row, &target.username)["sanction"],
                "member": { "id": target.id, "username": target.username },
            });
            events::record(conn, EventType::AppealDecided, target.id, data, now)?;
            audit::record(
                conn,
                AuditEntry {
                    actor_id: actor.member_id,
                    action: AuditAction::AppealDecided,
                    target_member_id: Some(target.id),
                    target: None,
                    reason: Some(reason),
                    ip: &actor.ip,
                    details: serde_json::json!({
                        "appeal_id": id,
                        "sanction_id": row.id,
                        "outcome": decision.outcome.as_str(),
                    }),
                },
                now,
            )?;
            let mail = moderation::appeal_decision(
                &Recipient {
                    locale: target.locale,
                    to: &target.email,
                    username: &target.username,
                },
                &news,
                reason,
                &frontend,
            );
            Ok((view(conn, appeal, now)?, mail))
        })
        .await?;
    state.mailer.send_later(mail);
    Ok(view)
}

/// A page of appeals for staff: `decided` None lists open ones first.
pub async fn list(state: &AppState, decided: Option<bool>, page: Page) -> Result<Paged<AppealView>, AppError> {
    let now = state.clock.now();
    state
        .db
        .run(move |conn| store::list(conn, decided, page)?.try_map_items(|rows| views(conn, rows, now)))
        .await
}

/// A page of the caller's appeals, newest first.
pub async fn of_member(state: &AppState, member_id: i64, page: Page) -> Result<Paged<AppealView>, AppError> {
    let now = state.clock.now();
    state
        .db
        .run(move |conn| store::of_member(conn, member_id, page)?.try_map_items(|rows| views(conn, rows, now)))
        .await
}

/// Every appeal of a member, newest first: for their export.
pub fn all_of_member(conn: &mut PgConnection, member_id: i64, now: DateTime<Utc>) -> Result<Vec<AppealView>, AppError> {
    let rows = store::of_member(conn, member_id, Page::all())?.items;
    views(conn, rows, now)
}

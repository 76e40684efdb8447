//! Reports: filing and joining them, the staff queue, claims and resolutions.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::PgConnection;

use crate::audit::{self, AuditAction, AuditEntry};
use crate::auth::policy::{Actor, ensure_can_write};
use crate::cases::model::{CaseError, Filing, Hold, Outcome, Resolution};
use crate::cases::store::reports::{self as store, EntryRow, EntryView, ReportFilter, ReportRow, ReportView};
use crate::cases::writer::Reporting;
use crate::error::{AppError, FieldCode, FieldError};
use crate::events::{self, EventType};
use crate::mail::OutgoingMail;
use crate::mail::moderation::{self, Recipient};
use crate::members::model::{MemberError, MemberKey};
use crate::members::store as members;
use crate::pagination::{Page, Paged};
use crate::sanctions::model::{Action, Refusal};
use crate::sanctions::store::{self as sanctions, usernames};
use crate::state::AppState;

/// Reports with their entries, names and reporters' tallies, in a few queries.
fn views(conn: &mut PgConnection, rows: Vec<ReportRow>) -> Result<Vec<ReportView>, AppError> {
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let entries = store::entries_of(conn, &ids)?;
    let reporters: Vec<i64> = entries.iter().map(|e| e.reporter_id).collect();
    let tallies = store::tallies(conn, &reporters)?;
    let mut people: Vec<i64> = rows
        .iter()
        .flat_map(|r| [Some(r.member_id), r.assignee_id, r.resolved_by])
        .flatten()
        .chain(reporters)
        .collect();
    people.sort_unstable();
    people.dedup();
    let names = usernames(conn, &people)?;
    let name = |id: i64| names.get(&id).cloned().unwrap_or_default();
    let sanction_ids: Vec<i64> = rows.iter().filter_map(|r| r.sanction_id).collect();
    let kinds: HashMap<i64, Action> = sanctions::find_many(conn, &sanction_ids)?
        .into_iter()
        .map(|s| (s.id, s.kind))
        .collect();
    let mut by_report: HashMap<i64, Vec<EntryView>> = HashMap::new();
    for row in entries {
        by_report.entry(row.report_id).or_default().push(EntryView {
            reporter_name: name(row.reporter_id),
            tally: tallies.get(&row.reporter_id).copied().unwrap_or_default(),
            row,
        });
    }
    Ok(rows
        .into_iter()
        .map(|row| ReportView {
            member_name: name(row.member_id),
            assignee_name: row.assignee_id.map(name),
            resolved_by_name: row.resolved_by.map(name),
            entries: by_report.remove(&row.id).unwrap_or_default(),
            sanction_kind: row.sanction_id.and_then(|id| kinds.get(&id).copied()),
            row,
        })
        .collect())
}

fn view(conn: &mut PgConnection, row: ReportRow) -> Result<ReportView, AppError> {
    views(conn, vec![row])?
        .pop()
        .ok_or_else(|| AppError::internal("no view"))
}

/// Files a report about `target`, or joins the open one about the same
/// member and resource, through the report writer, which stores it with
/// whatever others arrive at the same moment (`filing::file`). Limited per
/// reporter, and more for those whose reports staff keep dismissing.
pub async fn file(
    state: &AppState,
    reporter_id: i64,
    target: MemberKey,
    filing: Filing,
) -> Result<ReportView, AppError> {
    let now = state.clock.now();
    let reporter = state
        .cache
        .member(&state.db, now, MemberKey::Id(reporter_id))
        .await?
        .ok_or(MemberError::NotFound)?
        .member
        .clone();
    state
        .reports
        .submit(Reporting {
            reporter,
            target,
            filing,
            now,
        })
        .await
}

/// One report, for staff or for one of its reporters; anyone else learns
/// nothing, not even that it exists.
pub async fn get(state: &AppState, id: i64, reader: i64, staff: bool) -> Result<ReportView, AppError> {
    state
        .db
        .run(move |conn| {
            let row = store::find(conn, id)?.ok_or(CaseError::ReportNotFound)?;
            let view = view(conn, row)?;
            if staff || view.entries.iter().any(|e| e.row.reporter_id == reader) {
                Ok(view)
            } else {
                Err(CaseError::ReportNotFound.into())
            }
        })
        .await
}

/// The staff list's filters, as the request names members.
pub struct ListQuery {
    pub filter: ReportFilter,
    pub member: Option<MemberKey>,
    pub reporter: Option<MemberKey>,
    pub assignee: Option<MemberKey>,
}

pub async fn list(state: &AppState, query: ListQuery, page: Page) -> Result<Paged<ReportView>, AppError> {
    state
        .db
        .run(move |conn| {
            let mut filter = query.filter;
            for (key, slot) in [
                (query.member, &mut filter.member_id),
                (query.reporter, &mut filter.reporter_id),
                (query.assignee, &mut filter.assignee_id),
            ] {
                if let Some(key) = key {
                    match members::find_by_key(conn, &key)? {
                        Some(member) => *slot = Some(member.id),
                        None => return Ok(Paged::new(Vec::new(), page, 0)),
                    }
                }
            }
            store::list(conn, &filter, page)?.try_map_items(|rows| views(conn, rows))
        })
        .await
}

/// A report as the member who filed it sees it: the report, what they said,
/// and the reported member's name.
pub struct FiledView {
    pub report: ReportRow,
    pub entry: EntryRow,
    pub member_name: String,
}

/// A page of the reports a member filed, newest first.
pub fn filed_page(conn: &mut PgConnection, reporter_id: i64, page: Page) -> Result<Paged<FiledView>, AppError> {
    let filed = store::filed_by(conn, reporter_id, page)?;
    let reported: Vec<i64> = filed.items.iter().map(|(report, _)| report.member_id).collect();
    let names = usernames(conn, &reported)?;
    Ok(filed.map(|(report, entry)| FiledView {
        member_name: names.get(&report.member_id).cloned().unwrap_or_default(),
        report,
        entry,
    }))
}

pub async fn filed_by(state: &AppState, reporter_id: i64, page: Page) -> Result<Paged<FiledView>, AppError> {
    state.db.run(move |conn| filed_page(conn, reporter_id, page)).await
}

/// The report, locked, if `actor` may handle it: nobody handles a report
/// about themselves.
fn lock_for(conn: &mut PgConnection, id: i64, actor: &Actor) -> Result<ReportRow, AppError> {
    let row = store::find_for_update(conn, id)?.ok_or(CaseError::ReportNotFound)?;
    if row.member_id == actor.member_id {
        return Err(Refusal::Yourself.into());
    }
    Ok(row)
}

/// Records a staff step on a report in the audit log, as about its member.
fn audited(
    conn: &mut PgConnection,
    actor: &Actor,
    action: AuditAction,
    row: &ReportRow,
    reason: Option<&str>,
    details: serde_json::Value,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    audit::record(
        conn,
        AuditEntry {
            actor_id: actor.member_id,
            action,
            target_member_id: Some(row.member_id),
            target: None,
            reason,
            ip: &actor.ip,
            details,
        },
        now,
    )
}

/// Takes a report (`take`): an open one, one the caller holds, or (a
/// superuser) one another holds; or puts a claimed one back in the queue:
/// its holder, or a superuser. Taking what one holds, or releasing what
/// nobody holds, changes nothing.
pub async fn hold(
    state: &AppState,
    actor: Actor,
    superuser: bool,
    id: i64,
    take: bool,
) -> Result<ReportView, AppError> {
    ensure_can_write(state, actor.member_id).await?;
    let now = state.clock.now();
    state
        .db
        .transaction(move |conn| {
            let row = lock_for(conn, id, &actor)?;
            let hold = Hold {
                state: row.state,
                assignee: row.assignee_id,
            };
            if take {
                hold.may_take(actor.member_id, superuser)?;
            } else {
                hold.may_release(actor.member_id, superuser)?;
            }
            let assignee = take.then_some(actor.member_id);
            if row.assignee_id == assignee {
                return view(conn, row);
            }
            let row = store::set_assignee(conn, id, assignee, now)?;
            let (action, details) = if take {
                let details = serde_json::json!({ "report_id": id, "taken_from": hold.assignee });
                (AuditAction::ReportClaimed, details)
            } else {
                let details = serde_json::json!({ "report_id": id, "released_from": hold.assignee });
                (AuditAction::ReportReleased, details)
            };
            audited(conn, &actor, action, &row, None, details, now)?;
            view(conn, row)
        })
        .await
}

/// Closes a report as actioned (naming the sanction about its member it led
/// to) or dismissed; its reporters are e-mailed the outcome and the message.
pub async fn resolve(
    state: &AppState,
    actor: Actor,
    superuser: bool,
    id: i64,
    resolution: Resolution,
) -> Result<ReportView, AppError> {
    ensure_can_write(state, actor.member_id).await?;
    let now = state.clock.now();
    let frontend = state.config.frontend_url.to_string();
    let (view, mails) = state
        .db
        .transaction(move |conn| {
            let row = lock_for(conn, id, &actor)?;
            Hold {
                state: row.state,
                assignee: row.assignee_id,
            }
            .may_take(actor.member_id, superuser)?;
            if let Some(sanction_id) = resolution.sanction_id {
                let sanction = sanctions::find(conn, sanction_id)?.ok_or_else(|| {
                    AppError::validation("sanction_id", FieldCode::NotFound, "No sanction has this id.")
                })?;
                if sanction.member_id != row.member_id {
                    return Err(AppError::Validation(vec![FieldError::new(
                        "sanction_id",
                        FieldCode::OtherMember,
                        "This sanction is about another member than the report.",
                    )]));
                }
            }
            let row = store::resolve(conn, id, &resolution, actor.member_id, now)?;
            let view = view(conn, row)?;
            let data = serde_json::json!({
                "report": {
                    "id": id,
                    "resource": view.row.resource,
                    "outcome": resolution.outcome.as_str(),
                    "sanction_id": resolution.sanction_id,
                },
                "member": { "id": view.row.member_id, "username": view.member_name },
            });
            events::record(conn, EventType::ReportResolved, view.row.member_id, data, now)?;
            let details = serde_json::json!({
                "report_id": id,
                "outcome": resolution.outcome.as_str(),
                "sanction_id": resolution.sanction_id,
            });
            audited(
                conn,
                &actor,
                AuditAction::ReportResolved,
                &view.row,
                Some(&resolution.note),
                details,
                now,
            )?;
            let reporters: Vec<i64> = view.entries.iter().map(|e| e.row.reporter_id).collect();
            let mails: Vec<OutgoingMail> = members::find_many_by_key(conn, &reporters, &[])?
                .iter()
                .map(|reporter| {
                    moderation::report_outcome(
                        &Recipient {
                            locale: reporter.locale,
                            to: &reporter.email,
                            username: &reporter.username,
                        },
                        resolution.outcome == Outcome::Actioned,
                        &view.member_name,
                        &resolution.message,
                        &frontend,
                    )
                })
                .collect();
            Ok((view, mails))
        })
        .await?;
    for mail in mails {
        state.mailer.send_later(mail);
    }
    Ok(view)
}

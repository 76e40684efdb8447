//! HTTP handlers of the case file: reports, appeals, the member's standing.
//! Each body is written for its reader: staff see everything; a reporter
//! sees their own words and the outcome; a sanctioned member sees their
//! sanctions' public side. Nobody but staff sees who reported whom.

pub mod appeals;
pub mod reports;

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::cases::service::appeals::AppealView;
use crate::cases::service::reports::{EntryView, FiledView, ReportView};
use crate::error::AppError;
use crate::http::mount::Routes;
use crate::http::wire::MemberRef;
use crate::sanctions::model::State;
use crate::sanctions::store::SanctionRow;

pub fn configure(config: &mut impl Routes) {
    reports::configure(config);
    appeals::configure(config);
}

/// Ids in paths: anything else names nothing.
fn parse_id(text: &str, missing: impl Into<AppError>) -> Result<i64, AppError> {
    text.parse().map_err(|_| missing.into())
}

/// How a reporter's reports ended so far, for staff to weigh the next one.
#[derive(Serialize, ToSchema)]
pub struct Tally {
    pub actioned: i32,
    pub dismissed: i32,
}

/// What one reporter said.
#[derive(Serialize, ToSchema)]
pub struct ReportEntry {
    pub member: MemberRef,
    /// `spam`, `harassment`, `impersonation`, `inappropriate_profile` or `other`.
    pub reason: String,
    pub text: String,
    pub evidence_url: Option<String>,
    pub created_at: DateTime<Utc>,
    /// Staff only.
    pub tally: Option<Tally>,
}

/// How a report was closed.
#[derive(Serialize, ToSchema)]
pub struct ReportResolution {
    /// `actioned` or `dismissed`.
    pub outcome: String,
    /// Staff's message to the reporters (may be empty).
    pub message: String,
    /// Staff only.
    pub note: Option<String>,
    /// Staff only.
    pub resolved_by: Option<MemberRef>,
    pub resolved_at: DateTime<Utc>,
}

/// The sanction a report led to.
#[derive(Serialize, ToSchema)]
pub struct SanctionRef {
    pub id: i64,
    /// `read_only`, `ban`, `lift_read_only` or `lift_ban`.
    pub kind: String,
}

/// A report. Its reporters read it too, with only their own entry and none
/// of the staff fields (null).
#[derive(Serialize, ToSchema)]
pub struct Report {
    pub id: i64,
    /// The reported member.
    pub member: MemberRef,
    /// What of another service it is about; null: the member themselves (their profile).
    pub resource: Option<String>,
    /// `open`, `claimed`, `resolved` (actioned) or `dismissed`.
    pub state: String,
    /// Staff only: who holds it.
    pub assignee: Option<MemberRef>,
    pub reporters: Vec<ReportEntry>,
    pub resolution: Option<ReportResolution>,
    /// Staff only.
    pub sanction: Option<SanctionRef>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

fn member_ref(id: i64, name: Option<String>) -> Option<MemberRef> {
    name.map(|username| MemberRef { id, username })
}

impl Report {
    /// The report as staff read it, or (`reader` not staff) as that reporter does.
    pub fn seen_by(view: ReportView, reader: i64, staff: bool) -> Self {
        let row = view.row;
        let entry = |entry: EntryView| ReportEntry {
            member: MemberRef {
                id: entry.row.reporter_id,
                username: entry.reporter_name,
            },
            reason: entry.row.reason.as_str().into(),
            text: entry.row.text,
            evidence_url: entry.row.evidence_url,
            created_at: entry.row.created_at,
            tally: staff.then_some(Tally {
                actioned: entry.tally.0,
                dismissed: entry.tally.1,
            }),
        };
        let reporters = view
            .entries
            .into_iter()
            .filter(|e| staff || e.row.reporter_id == reader)
            .map(entry)
            .collect();
        let resolution = row.resolved_at.map(|resolved_at| ReportResolution {
            outcome: if row.state == crate::cases::model::ReportState::Resolved {
                "actioned".into()
            } else {
                "dismissed".into()
            },
            message: row.resolution_message.clone().unwrap_or_default(),
            note: row.resolution_note.clone().filter(|_| staff),
            resolved_by: row
                .resolved_by
                .and_then(|id| member_ref(id, view.resolved_by_name.clone()))
                .filter(|_| staff),
            resolved_at,
        });
        Report {
            id: row.id,
            member: MemberRef {
                id: row.member_id,
                username: view.member_name,
            },
            resource: row.resource,
            state: row.state.as_str().into(),
            assignee: row
                .assignee_id
                .and_then(|id| member_ref(id, view.assignee_name))
                .filter(|_| staff),
            reporters,
            resolution,
            sanction: row
                .sanction_id
                .zip(view.sanction_kind)
                .filter(|_| staff)
                .map(|(id, kind)| SanctionRef {
                    id,
                    kind: kind.as_str().into(),
                }),
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

/// A report as the member who filed it lists it.
#[derive(Serialize, ToSchema)]
pub struct FiledReport {
    pub id: i64,
    /// The reported member.
    pub member: MemberRef,
    pub resource: Option<String>,
    /// `spam`, `harassment`, `impersonation`, `inappropriate_profile` or `other`.
    pub reason: String,
    pub text: String,
    pub evidence_url: Option<String>,
    pub filed_at: DateTime<Utc>,
    /// `open`, `claimed`, `resolved` (actioned) or `dismissed`.
    pub state: String,
    /// Staff's message to the reporters, once closed.
    pub message: Option<String>,
    pub resolved_at: Option<DateTime<Utc>>,
}

impl FiledReport {
    pub fn new(view: FiledView) -> Self {
        let FiledView {
            report,
            entry,
            member_name,
        } = view;
        FiledReport {
            id: report.id,
            member: MemberRef {
                id: report.member_id,
                username: member_name,
            },
            resource: report.resource,
            reason: entry.reason.as_str().into(),
            text: entry.text,
            evidence_url: entry.evidence_url,
            filed_at: entry.created_at,
            state: report.state.as_str().into(),
            message: report.resolution_message,
            resolved_at: report.resolved_at,
        }
    }
}

/// A sanction's public side, as its member and an appeal show it.
#[derive(Serialize, ToSchema)]
pub struct SanctionSummary {
    pub id: i64,
    /// `read_only` or `ban`.
    pub kind: String,
    pub resource: Option<String>,
    /// The public reason.
    pub reason: String,
    /// `queued`, `active`, `expired`, `forgiven`, `reverted`, `lifted` or `replaced`.
    pub state: String,
    pub created_at: DateTime<Utc>,
    pub starts_at: Option<DateTime<Utc>>,
    /// Null when permanent.
    pub ends_at: Option<DateTime<Utc>>,
}

impl SanctionSummary {
    pub fn new(row: SanctionRow, state: State) -> Self {
        SanctionSummary {
            id: row.id,
            kind: row.kind.as_str().into(),
            resource: row.resource,
            reason: row.reason,
            state: state.as_str().into(),
            created_at: row.created_at,
            starts_at: row.starts_at,
            ends_at: row.ends_at,
        }
    }
}

/// How an appeal was decided.
#[derive(Serialize, ToSchema)]
pub struct AppealDecision {
    /// `upheld`, `forgiven`, `reverted` or `reduced`.
    pub outcome: String,
    /// Public: the member was e-mailed it.
    pub reason: String,
    /// For a reduction: the sanction's new duration, in seconds.
    pub duration_seconds: Option<i64>,
    /// Staff only.
    pub decided_by: Option<MemberRef>,
    pub decided_at: DateTime<Utc>,
}

/// An appeal of a sanction by its member.
#[derive(Serialize, ToSchema)]
pub struct Appeal {
    pub id: i64,
    pub member: MemberRef,
    pub sanction: SanctionSummary,
    /// Staff only: who gave the sanction.
    pub moderator: Option<MemberRef>,
    pub text: String,
    pub created_at: DateTime<Utc>,
    /// `open` or `decided`.
    pub state: String,
    pub decision: Option<AppealDecision>,
}

impl Appeal {
    pub fn seen_by(view: AppealView, staff: bool) -> Self {
        let row = view.row;
        let decision = row
            .outcome
            .zip(row.decided_at)
            .map(|(outcome, decided_at)| AppealDecision {
                outcome: outcome.as_str().into(),
                reason: row.reason.clone().unwrap_or_default(),
                duration_seconds: row.reduced_duration_seconds,
                decided_by: row
                    .decided_by
                    .and_then(|id| member_ref(id, view.decided_by_name.clone()))
                    .filter(|_| staff),
                decided_at,
            });
        Appeal {
            id: row.id,
            member: MemberRef {
                id: row.member_id,
                username: view.member_name,
            },
            moderator: member_ref(view.sanction.moderator_id, view.moderator_name).filter(|_| staff),
            sanction: SanctionSummary::new(view.sanction, view.sanction_state),
            text: row.text,
            created_at: row.created_at,
            state: if decision.is_some() { "decided" } else { "open" }.into(),
            decision,
        }
    }
}

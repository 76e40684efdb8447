//! HTTP handlers of the case file: reports, appeals, the member's standing.
//! Each body is written for its reader: staff see everything; a reporter
//! sees their own words and the outcome; a sanctioned member sees their
//! sanctions' public side. Nobody but staff sees who reported whom.

pub mod appeals;
pub mod reports;

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::cases::model::ReportState;
use crate::cases::store::reports::{EntryView, ReportView};
use crate::http::mount::Routes;
use crate::http::wire::MemberRef;
use crate::http::wire::case_file::member_ref;

pub fn configure(config: &mut impl Routes) {
    reports::configure(config);
    appeals::configure(config);
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
            outcome: if row.state == ReportState::Resolved {
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

//! What the case file shows beyond its own routes: a member's filed reports
//! and appeals, in their standing and in their export.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::cases::service::appeals::AppealView;
use crate::cases::service::reports::FiledView;
use crate::http::wire::MemberRef;
use crate::sanctions::model::State;
use crate::sanctions::store::SanctionRow;

pub fn member_ref(id: i64, name: Option<String>) -> Option<MemberRef> {
    name.map(|username| MemberRef { id, username })
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

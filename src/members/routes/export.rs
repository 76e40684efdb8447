//! The export of everything memberd holds about the caller.

use actix_web::{HttpResponse, get, http::header, web};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::extract::Caller;
use crate::db::Db;
use crate::error::AppError;
use crate::http::mount::Routes;
use crate::http::wire::OwnAccount;
use crate::http::wire::case_file::{Appeal, FiledReport};
use crate::members::account;
use crate::openapi::problems;
use crate::state::AppState;

pub fn configure(config: &mut impl Routes) {
    config.service(export);
}

#[derive(Serialize, ToSchema)]
pub struct SessionExport {
    pub id: String,
    pub created_at: DateTime<Utc>,
    pub refreshed_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// How the member proved who they are (RFC 8176).
    pub amr: Vec<String>,
}

/// A second factor of the caller's: what it is and when it served, never its secret.
#[derive(Serialize, ToSchema)]
pub struct FactorExport {
    pub kind: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
    /// Null while an enrolment waits for its first code.
    pub confirmed_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
}

#[derive(Serialize, ToSchema)]
pub struct IpExport {
    pub ip: String,
    pub first_seen_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
pub struct RenameExport {
    pub old_username: String,
    pub new_username: String,
    pub changed_at: DateTime<Utc>,
}

/// A sanction about the caller, with its public reason.
#[derive(Serialize, ToSchema)]
pub struct SanctionExport {
    pub kind: String,
    pub resource: Option<String>,
    pub reason: String,
    pub created_at: DateTime<Utc>,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    pub state: String,
}

/// Everything memberd holds about the caller.
#[derive(Serialize, ToSchema)]
pub struct DataExport {
    pub account: OwnAccount,
    /// Sanctions about the caller, public reasons only.
    pub sanctions: Vec<SanctionExport>,
    pub sessions: Vec<SessionExport>,
    /// Second factors (never their secrets), and how many recovery codes are left.
    pub factors: Vec<FactorExport>,
    pub unused_recovery_codes: i64,
    pub ips: Vec<IpExport>,
    pub username_history: Vec<RenameExport>,
    /// The reports the caller filed, with their outcomes (never who else reported).
    pub reports: Vec<FiledReport>,
    /// The caller's appeals and their decisions.
    pub appeals: Vec<Appeal>,
}

problems!(
    ExportProblems: Caller, Db
);

/// Export the caller's data as JSON.
#[utoipa::path(
    tag = "members",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's data.", body = DataExport),
        ExportProblems,
    )
)]
#[get("/members/me/export")]
async fn export(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, AppError> {
    let data = account::export(&state, caller.member_id).await?;
    let body = DataExport {
        account: OwnAccount::new(&data.member, &state.config),
        sanctions: data
            .sanctions
            .into_iter()
            .map(|view| SanctionExport {
                state: view.state.as_str().into(),
                kind: view.row.kind.as_str().into(),
                resource: view.row.resource,
                reason: view.row.reason,
                created_at: view.row.created_at,
                starts_at: view.row.starts_at,
                ends_at: view.row.ends_at,
            })
            .collect(),
        sessions: data
            .sessions
            .into_iter()
            .map(|s| SessionExport {
                id: s.id.to_string(),
                created_at: s.created_at,
                refreshed_at: s.refreshed_at,
                expires_at: s.expires_at,
                ip: s.ip,
                user_agent: s.user_agent,
                revoked_at: s.revoked_at,
                amr: s.amr,
            })
            .collect(),
        factors: data
            .factors
            .into_iter()
            .map(|f| FactorExport {
                kind: f.kind,
                name: f.name,
                created_at: f.created_at,
                confirmed_at: f.confirmed_at,
                last_used_at: f.last_used_at,
            })
            .collect(),
        unused_recovery_codes: data.unused_recovery_codes,
        ips: data
            .ips
            .into_iter()
            .map(|r| IpExport {
                ip: r.ip,
                first_seen_at: r.first_seen_at,
                last_seen_at: r.last_seen_at,
            })
            .collect(),
        username_history: data
            .renames
            .into_iter()
            .map(|r| RenameExport {
                old_username: r.old_username,
                new_username: r.new_username,
                changed_at: r.changed_at,
            })
            .collect(),
        reports: data.reports.into_iter().map(FiledReport::new).collect(),
        appeals: data
            .appeals
            .into_iter()
            .map(|view| Appeal::seen_by(view, false))
            .collect(),
    };
    Ok(HttpResponse::Ok()
        .insert_header((
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"memberd-export.json\"",
        ))
        .json(body))
}

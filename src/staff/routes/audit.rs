//! HTTP handler for the audit log.

use actix_web::{get, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::extract::Superuser;
use crate::db::Db;
use crate::error::{AppError, FieldCode, FieldError};
use crate::http::mount::Routes;
use crate::http::wire::MemberRef;
use crate::input::Query;
use crate::members::model::MemberKey;
use crate::openapi::problems;
use crate::pagination::{Page, Paged};
use crate::staff::service::{self, AuditQuery};
use crate::state::AppState;

pub fn configure(config: &mut impl Routes) {
    config.service(audit_log);
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditParams {
    /// Who acted, by id or username.
    pub actor: Option<String>,
    /// Whom it was about, by id or username.
    pub target: Option<String>,
    /// Such as `sanction.applied`, `member.ips_viewed`, `member.roles_changed`.
    pub action: Option<String>,
    #[param(minimum = 1, maximum = 1_000_000)]
    pub page: Option<i64>,
    #[param(minimum = 1, maximum = 100)]
    pub per_page: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct AuditRecord {
    pub id: i64,
    pub actor: MemberRef,
    pub action: String,
    pub target_member: Option<MemberRef>,
    /// What it was about when not a member: an IP network, a group, a domain.
    pub target: Option<String>,
    pub reason: Option<String>,
    /// The actor's IP.
    pub ip: Option<String>,
    pub details: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

problems!(
    AuditLogProblems: Superuser, Query<AuditParams>, Db;
    422: ValidationFailed = "Paging or `action` over 100 characters."
);

/// The staff-action log, newest first.
#[utoipa::path(
    tag = "staff",
    security(("bearer" = [])),
    params(AuditParams),
    responses(
        (status = 200, description = "A page of the log.", body = Paged<AuditRecord>, headers(("Link" = String, description = "The `next` and `prev` pages (RFC 8288), when there are."))),
        AuditLogProblems,
    )
)]
#[get("/audit")]
async fn audit_log(
    state: web::Data<AppState>,
    Superuser(caller): Superuser,
    Query(params): Query<AuditParams>,
) -> Result<Paged<AuditRecord>, AppError> {
    let mut errors: Vec<FieldError> = Vec::new();
    let page = Page::parse(params.page, params.per_page)
        .map_err(|e| errors.extend(e))
        .ok();
    if params.action.as_ref().is_some_and(|a| a.chars().count() > 100) {
        errors.push(FieldError::new("action", FieldCode::TooLong, "At most 100 characters."));
    }
    let Some(page) = page.filter(|_| errors.is_empty()) else {
        return Err(AppError::Validation(errors));
    };
    let query = AuditQuery {
        actor: params
            .actor
            .as_deref()
            .map(|m| MemberKey::parse(m, Some(caller.member_id))),
        target: params
            .target
            .as_deref()
            .map(|m| MemberKey::parse(m, Some(caller.member_id))),
        action: params.action,
        offset: page.offset(),
        limit: page.per_page,
    };
    let (rows, total, names) = service::audit_log(&state, query).await?;
    let name = |id: i64| MemberRef {
        id,
        username: names.get(&id).cloned().unwrap_or_default(),
    };
    Ok(Paged::new(
        rows.into_iter()
            .map(|r| AuditRecord {
                id: r.id,
                actor: name(r.actor_id),
                action: r.action,
                target_member: r.target_member_id.map(name),
                target: r.target,
                reason: r.reason,
                ip: r.ip,
                details: r.details,
                created_at: r.created_at,
            })
            .collect(),
        page,
        total,
    ))
}

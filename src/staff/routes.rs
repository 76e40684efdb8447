//! HTTP handlers for staff tools.

use actix_web::{HttpResponse, delete, get, post, put, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::auth::extract::{Staff, StaffWriter, Superuser, SuperuserWriter};
use crate::auth::policy::Actor;
use crate::client_ip::ClientIp;
use crate::error::{AppError, ErrorCode, FieldError, Problem};
use crate::http::wire::MemberRef;
use crate::input::{Json, Query};
use crate::members::model::MemberKey;
use crate::openapi::{AuthProblems, BodyProblems};
use crate::pagination::{Page, Paged};
use crate::staff::model::{lookup_network, parse_domain, parse_group_name};
use crate::staff::service::{self, AuditQuery, Roles};
use crate::state::AppState;

pub fn configure(config: &mut ServiceConfig) {
    config
        .service(revoke_sessions)
        .service(member_ips)
        .service(members_at_ip)
        .service(set_roles)
        .service(list_groups)
        .service(create_group)
        .service(list_domains)
        .service(add_domain)
        .service(remove_domain)
        .service(audit_log);
}

fn actor(caller: &crate::auth::extract::Caller, ip: std::net::IpAddr) -> Actor {
    Actor {
        member_id: caller.member_id,
        ip: ip.to_string(),
    }
}

#[derive(Serialize, ToSchema)]
pub struct SessionsRevoked {
    /// How many live sessions were ended.
    pub revoked: usize,
}

/// Log a member out everywhere.
#[utoipa::path(
    tag = "staff",
    security(("bearer" = [])),
    params(("member" = String, Path, description = "Numeric id, username, or `me` for the caller.")),
    responses(
        (status = 200, description = "Logged out.", body = SessionsRevoked),
        (status = 403, description = "`staff_only`, `member_read_only`/`member_banned`, `insufficient_rank`.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`member_not_found`.", body = Problem, content_type = "application/problem+json"),
        AuthProblems,
    )
)]
#[post("/members/{member}/sessions/revocation")]
async fn revoke_sessions(
    state: web::Data<AppState>,
    StaffWriter(caller): StaffWriter,
    ClientIp(ip): ClientIp,
    member: web::Path<String>,
) -> Result<web::Json<SessionsRevoked>, AppError> {
    let revoked = service::revoke_sessions(
        &state,
        actor(&caller, ip),
        MemberKey::parse(&member, Some(caller.member_id)),
    )
    .await?;
    Ok(web::Json(SessionsRevoked { revoked }))
}

#[derive(Serialize, ToSchema)]
pub struct IpSeen {
    pub ip: String,
    pub first_seen_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
pub struct MemberIps {
    pub member: MemberRef,
    pub items: Vec<IpSeen>,
}

/// A member's known IP addresses. The lookup is written to the audit log.
#[utoipa::path(
    tag = "staff",
    security(("bearer" = [])),
    params(("member" = String, Path, description = "Numeric id, username, or `me` for the caller.")),
    responses(
        (status = 200, description = "Addresses, most recent first.", body = MemberIps),
        (status = 403, description = "`staff_only`.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`member_not_found`.", body = Problem, content_type = "application/problem+json"),
        AuthProblems,
    )
)]
#[get("/members/{member}/ips")]
async fn member_ips(
    state: web::Data<AppState>,
    Staff(caller): Staff,
    ClientIp(ip): ClientIp,
    member: web::Path<String>,
) -> Result<web::Json<MemberIps>, AppError> {
    let (member, ips) = service::member_ips(
        &state,
        actor(&caller, ip),
        MemberKey::parse(&member, Some(caller.member_id)),
    )
    .await?;
    Ok(web::Json(MemberIps {
        member: MemberRef {
            id: member.id,
            username: member.username,
        },
        items: ips
            .into_iter()
            .map(|r| IpSeen {
                ip: r.ip,
                first_seen_at: r.first_seen_at,
                last_seen_at: r.last_seen_at,
            })
            .collect(),
    }))
}

#[derive(Serialize, ToSchema)]
pub struct MemberSeen {
    pub member: MemberRef,
    pub ip: String,
    pub first_seen_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
pub struct MembersAtIp {
    /// The network searched: the address, or its /64 for IPv6.
    pub network: String,
    pub items: Vec<MemberSeen>,
}

/// Members seen at an IP address (an IPv6 address matches its /64). Written to the audit log.
#[utoipa::path(
    tag = "staff",
    security(("bearer" = [])),
    params(("ip" = String, Path, description = "An IPv4 or IPv6 address.")),
    responses(
        (status = 200, description = "Members seen there, most recent first (at most 500).", body = MembersAtIp),
        (status = 403, description = "`staff_only`.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: `ip` `invalid`.", body = Problem, content_type = "application/problem+json"),
        AuthProblems,
    )
)]
#[get("/ips/{ip}/members")]
async fn members_at_ip(
    state: web::Data<AppState>,
    Staff(caller): Staff,
    ClientIp(client): ClientIp,
    ip: web::Path<String>,
) -> Result<web::Json<MembersAtIp>, AppError> {
    let network = lookup_network(&ip).map_err(|e| AppError::Validation(vec![e]))?;
    let seen = service::members_at(&state, actor(&caller, client), network).await?;
    Ok(web::Json(MembersAtIp {
        network: network.to_string(),
        items: seen
            .into_iter()
            .map(|s| MemberSeen {
                member: MemberRef {
                    id: s.member_id,
                    username: s.username,
                },
                ip: s.ip,
                first_seen_at: s.first_seen_at,
                last_seen_at: s.last_seen_at,
            })
            .collect(),
    }))
}

#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RolesBody {
    /// Group names; each must exist.
    pub groups: Vec<String>,
    pub staff: bool,
    /// A superuser is staff too.
    pub superuser: bool,
    /// An inactive member cannot log in; deactivating ends their sessions.
    pub active: bool,
}

/// Set a member's groups and roles.
#[utoipa::path(
    tag = "staff",
    security(("bearer" = [])),
    params(("member" = String, Path, description = "Numeric id, username, or `me` for the caller.")),
    request_body = RolesBody,
    responses(
        (status = 200, description = "The member's roles now.", body = RolesBody),
        BodyProblems,
        (status = 403, description = "`superuser_only`, `member_read_only`/`member_banned`, `cannot_change_own_roles`.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`member_not_found`.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`last_superuser`: the last active superuser cannot be demoted or deactivated.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: `groups` `unknown_group`.", body = Problem, content_type = "application/problem+json"),
        AuthProblems,
    )
)]
#[put("/members/{member}/roles")]
async fn set_roles(
    state: web::Data<AppState>,
    SuperuserWriter(caller): SuperuserWriter,
    ClientIp(ip): ClientIp,
    member: web::Path<String>,
    Json(body): Json<RolesBody>,
) -> Result<web::Json<RolesBody>, AppError> {
    let roles = Roles {
        groups: body.groups,
        staff: body.staff,
        superuser: body.superuser,
        active: body.active,
    };
    let roles = service::set_roles(
        &state,
        actor(&caller, ip),
        MemberKey::parse(&member, Some(caller.member_id)),
        roles,
    )
    .await?;
    Ok(web::Json(RolesBody {
        groups: roles.groups,
        staff: roles.staff,
        superuser: roles.superuser,
        active: roles.active,
    }))
}

#[derive(Serialize, ToSchema)]
pub struct Group {
    pub id: i64,
    pub name: String,
    pub members: i64,
}

/// The groups.
#[utoipa::path(
    tag = "staff",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Groups by name.", body = Vec<Group>),
        (status = 403, description = "`staff_only`.", body = Problem, content_type = "application/problem+json"),
        AuthProblems,
    )
)]
#[get("/groups")]
async fn list_groups(state: web::Data<AppState>, _: Staff) -> Result<web::Json<Vec<Group>>, AppError> {
    let groups = service::groups(&state).await?;
    Ok(web::Json(
        groups
            .into_iter()
            .map(|(id, name, members)| Group { id, name, members })
            .collect(),
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupRequest {
    /// 1–50 characters of a–z, 0–9, `_` and `-`.
    #[schema(example = "bots")]
    pub name: String,
}

/// Create a group.
#[utoipa::path(
    tag = "staff",
    security(("bearer" = [])),
    request_body = GroupRequest,
    responses(
        (status = 201, description = "Created.", body = Group),
        BodyProblems,
        (status = 403, description = "`superuser_only`, `member_read_only`/`member_banned`.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`group_exists`.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: `name` `invalid`.", body = Problem, content_type = "application/problem+json"),
        AuthProblems,
    )
)]
#[post("/groups")]
async fn create_group(
    state: web::Data<AppState>,
    SuperuserWriter(caller): SuperuserWriter,
    ClientIp(ip): ClientIp,
    Json(body): Json<GroupRequest>,
) -> Result<HttpResponse, AppError> {
    let name = parse_group_name(&body.name).map_err(|e| AppError::Validation(vec![e]))?;
    let id = service::create_group(&state, actor(&caller, ip), name.clone()).await?;
    Ok(HttpResponse::Created().json(Group { id, name, members: 0 }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DomainParams {
    /// Prefix of the domain.
    pub q: Option<String>,
    pub page: Option<i64>,
    pub per_page: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct ForbiddenDomain {
    pub domain: String,
    pub created_at: DateTime<Utc>,
}

/// Forbidden e-mail domains: a domain and all its subdomains are refused at registration.
#[utoipa::path(
    tag = "staff",
    security(("bearer" = [])),
    params(DomainParams),
    responses(
        (status = 200, description = "A page of domains.", body = Paged<ForbiddenDomain>, headers(("Link" = String, description = "The `next` and `prev` pages (RFC 8288), when there are."))),
        (status = 400, description = "`invalid_query`: a parameter is not of its type, or holds U+0000.", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`staff_only`.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: paging.", body = Problem, content_type = "application/problem+json"),
        AuthProblems,
    )
)]
#[get("/forbidden-email-domains")]
async fn list_domains(
    state: web::Data<AppState>,
    _: Staff,
    Query(params): Query<DomainParams>,
) -> Result<Paged<ForbiddenDomain>, AppError> {
    let page = Page::parse(params.page, params.per_page).map_err(AppError::Validation)?;
    let prefix = params.q.map(|q| q.trim().to_lowercase()).filter(|q| !q.is_empty());
    let (rows, total) = service::domains(&state, prefix, page.offset(), page.per_page).await?;
    Ok(Paged::new(
        rows.into_iter()
            .map(|(domain, created_at)| ForbiddenDomain { domain, created_at })
            .collect(),
        page,
        total,
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DomainRequest {
    #[schema(example = "spam.example")]
    pub domain: String,
}

/// Forbid an e-mail domain (and its subdomains).
#[utoipa::path(
    tag = "staff",
    security(("bearer" = [])),
    request_body = DomainRequest,
    responses(
        (status = 201, description = "Forbidden from now on.", body = ForbiddenDomain),
        BodyProblems,
        (status = 403, description = "`staff_only`, `member_read_only`/`member_banned`.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`domain_exists`.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: `domain` `invalid`.", body = Problem, content_type = "application/problem+json"),
        AuthProblems,
    )
)]
#[post("/forbidden-email-domains")]
async fn add_domain(
    state: web::Data<AppState>,
    StaffWriter(caller): StaffWriter,
    ClientIp(ip): ClientIp,
    Json(body): Json<DomainRequest>,
) -> Result<HttpResponse, AppError> {
    let domain = parse_domain(&body.domain).map_err(|e| AppError::Validation(vec![e]))?;
    service::change_domain(&state, actor(&caller, ip), domain.clone(), true).await?;
    Ok(HttpResponse::Created().json(ForbiddenDomain {
        domain,
        created_at: state.clock.now(),
    }))
}

/// Allow an e-mail domain again.
#[utoipa::path(
    tag = "staff",
    security(("bearer" = [])),
    params(("domain" = String, Path, description = "The domain.")),
    responses(
        (status = 204, description = "Removed from the list."),
        (status = 403, description = "`staff_only`, `member_read_only`/`member_banned`.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`domain_not_found`.", body = Problem, content_type = "application/problem+json"),
        AuthProblems,
    )
)]
#[delete("/forbidden-email-domains/{domain}")]
async fn remove_domain(
    state: web::Data<AppState>,
    StaffWriter(caller): StaffWriter,
    ClientIp(ip): ClientIp,
    domain: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let domain = parse_domain(&domain)
        .map_err(|_| AppError::not_found(ErrorCode::DomainNotFound, "Not a domain on the list."))?;
    service::change_domain(&state, actor(&caller, ip), domain, false).await?;
    Ok(HttpResponse::NoContent().finish())
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
    pub page: Option<i64>,
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

/// The staff-action log, newest first.
#[utoipa::path(
    tag = "staff",
    security(("bearer" = [])),
    params(AuditParams),
    responses(
        (status = 200, description = "A page of the log.", body = Paged<AuditRecord>, headers(("Link" = String, description = "The `next` and `prev` pages (RFC 8288), when there are."))),
        (status = 400, description = "`invalid_query`: a parameter is not of its type, or holds U+0000.", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`superuser_only`.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: paging or `action` over 100 characters.", body = Problem, content_type = "application/problem+json"),
        AuthProblems,
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
        errors.push(FieldError::new("action", "too_long", "At most 100 characters."));
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

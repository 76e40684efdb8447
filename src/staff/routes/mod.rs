//! HTTP handlers for staff tools: a member's sessions and IPs, members at an
//! IP, roles and groups; forbidden domains and the audit log have their own
//! files.

pub mod audit;
pub mod domains;

use actix_web::body::BoxBody;
use actix_web::{HttpRequest, HttpResponse, Responder, get, post, put, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::extract::{Staff, StaffWriter, SuperuserWriter};
use crate::auth::policy::Actor;
use crate::client_ip::ClientIp;
use crate::db::Db;
use crate::error::AppError;
use crate::http::mount::Routes;
use crate::http::wire::MemberRef;
use crate::input::{Json, Query};
use crate::members::model::MemberKey;
use crate::openapi::problems;
use crate::pagination::{self, PageParams, Paged};
use crate::staff::model::{lookup_network, parse_group_name};
use crate::staff::service::{self, Roles};
use crate::state::AppState;

pub fn configure(config: &mut impl Routes) {
    config
        .service(revoke_sessions)
        .service(member_ips)
        .service(members_at_ip)
        .service(set_roles)
        .service(list_groups)
        .service(create_group);
    domains::configure(config);
    audit::configure(config);
}

#[derive(Serialize, ToSchema)]
pub struct SessionsRevoked {
    /// How many live sessions were ended.
    pub revoked: usize,
}

problems!(
    RevokeSessionsProblems: StaffWriter, Db;
    403: InsufficientRank;
    404: MemberNotFound
);

/// Log a member out everywhere.
#[utoipa::path(
    tag = "staff",
    security(("bearer" = [])),
    params(("member" = String, Path, description = "Numeric id, username, or `me` for the caller.")),
    responses(
        (status = 200, description = "Logged out.", body = SessionsRevoked),
        RevokeSessionsProblems,
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
        Actor::new(&caller, ip),
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
    #[serde(flatten)]
    pub ips: Paged<IpSeen>,
}

impl Responder for MemberIps {
    type Body = BoxBody;

    fn respond_to(self, request: &HttpRequest) -> HttpResponse {
        pagination::respond(request, &self.ips, &self)
    }
}

problems!(
    MemberIpsProblems: Staff, Query<PageParams>, Db;
    404: MemberNotFound;
    422: ValidationFailed = "Paging."
);

/// A member's known IP addresses. The lookup is written to the audit log.
#[utoipa::path(
    tag = "staff",
    security(("bearer" = [])),
    params(("member" = String, Path, description = "Numeric id, username, or `me` for the caller."), PageParams),
    responses(
        (status = 200, description = "A page of the addresses, most recent first.", body = MemberIps, headers(("Link" = String, description = "The `next` and `prev` pages (RFC 8288), when there are."))),
        MemberIpsProblems,
    )
)]
#[get("/members/{member}/ips")]
async fn member_ips(
    state: web::Data<AppState>,
    Staff(caller): Staff,
    ClientIp(ip): ClientIp,
    member: web::Path<String>,
    Query(params): Query<PageParams>,
) -> Result<MemberIps, AppError> {
    let member = MemberKey::parse(&member, Some(caller.member_id));
    let (member, ips) = service::member_ips(&state, Actor::new(&caller, ip), member, params.page()?).await?;
    Ok(MemberIps {
        member: MemberRef {
            id: member.id,
            username: member.username,
        },
        ips: ips.map(|r| IpSeen {
            ip: r.ip,
            first_seen_at: r.first_seen_at,
            last_seen_at: r.last_seen_at,
        }),
    })
}

/// An IPv4 or IPv6 address, as a path names it (no network, no zone).
pub struct IpAddress;

impl utoipa::PartialSchema for IpAddress {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, OneOfBuilder, SchemaFormat, Type};
        let address = |format| {
            ObjectBuilder::new()
                .schema_type(Type::String)
                .format(Some(SchemaFormat::KnownFormat(format)))
        };
        OneOfBuilder::new()
            .item(address(KnownFormat::Ipv4))
            .item(address(KnownFormat::Ipv6))
            .into()
    }
}

impl ToSchema for IpAddress {}

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
    #[serde(flatten)]
    pub members: Paged<MemberSeen>,
}

impl Responder for MembersAtIp {
    type Body = BoxBody;

    fn respond_to(self, request: &HttpRequest) -> HttpResponse {
        pagination::respond(request, &self.members, &self)
    }
}

problems!(
    MembersAtIpProblems: Staff, Query<PageParams>, Db;
    422: ValidationFailed = "`ip` `invalid`; paging."
);

/// Members seen at an IP address (an IPv6 address matches its /64). Written to the audit log.
#[utoipa::path(
    tag = "staff",
    security(("bearer" = [])),
    params(("ip" = inline(IpAddress), Path, description = "An IPv4 or IPv6 address."), PageParams),
    responses(
        (status = 200, description = "A page of the members seen there, most recent first.", body = MembersAtIp, headers(("Link" = String, description = "The `next` and `prev` pages (RFC 8288), when there are."))),
        MembersAtIpProblems,
    )
)]
#[get("/ips/{ip}/members")]
async fn members_at_ip(
    state: web::Data<AppState>,
    Staff(caller): Staff,
    ClientIp(client): ClientIp,
    ip: web::Path<String>,
    Query(params): Query<PageParams>,
) -> Result<MembersAtIp, AppError> {
    let network = lookup_network(&ip).map_err(|e| AppError::Validation(vec![e]))?;
    let seen = service::members_at(&state, Actor::new(&caller, client), network, params.page()?).await?;
    Ok(MembersAtIp {
        network: network.to_string(),
        members: seen.map(|s| MemberSeen {
            member: MemberRef {
                id: s.member_id,
                username: s.username,
            },
            ip: s.ip,
            first_seen_at: s.first_seen_at,
            last_seen_at: s.last_seen_at,
        }),
    })
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

problems!(
    SetRolesProblems: SuperuserWriter, Json<RolesBody>, Db;
    403: CannotChangeOwnRoles;
    404: MemberNotFound;
    409: LastSuperuser = "The last active superuser cannot be demoted or deactivated.";
    422: ValidationFailed = "`groups` `unknown_group`."
);

/// Set a member's groups and roles.
#[utoipa::path(
    tag = "staff",
    security(("bearer" = [])),
    params(("member" = String, Path, description = "Numeric id, username, or `me` for the caller.")),
    request_body = RolesBody,
    responses(
        (status = 200, description = "The member's roles now.", body = RolesBody),
        SetRolesProblems,
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
        Actor::new(&caller, ip),
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

problems!(
    ListGroupsProblems: Staff, Query<PageParams>, Db;
    422: ValidationFailed = "Paging."
);

/// The groups.
#[utoipa::path(
    tag = "staff",
    security(("bearer" = [])),
    params(PageParams),
    responses(
        (status = 200, description = "A page of the groups, by name.", body = Paged<Group>, headers(("Link" = String, description = "The `next` and `prev` pages (RFC 8288), when there are."))),
        ListGroupsProblems,
    )
)]
#[get("/groups")]
async fn list_groups(
    state: web::Data<AppState>,
    _: Staff,
    Query(params): Query<PageParams>,
) -> Result<Paged<Group>, AppError> {
    let groups = service::groups(&state, params.page()?).await?;
    Ok(groups.map(|(id, name, members)| Group { id, name, members }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupRequest {
    /// 1–50 characters of a–z, 0–9, `_` and `-`.
    #[schema(example = "bots", pattern = r"^[a-z0-9_-]{1,50}$")]
    pub name: String,
}

problems!(
    CreateGroupProblems: SuperuserWriter, Json<GroupRequest>, Db;
    409: GroupExists;
    422: ValidationFailed = "`name` `invalid`."
);

/// Create a group.
#[utoipa::path(
    tag = "staff",
    security(("bearer" = [])),
    request_body = GroupRequest,
    responses(
        (status = 201, description = "Created.", body = Group),
        CreateGroupProblems,
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
    let id = service::create_group(&state, Actor::new(&caller, ip), name.clone()).await?;
    Ok(HttpResponse::Created().json(Group { id, name, members: 0 }))
}

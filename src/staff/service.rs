//! Staff use cases: logging a member out, IP lookups, roles and groups,
//! forbidden domains, and reading the audit log. Every change and every
//! lookup of personal data is written to the audit log.

use crate::audit::{self, AuditAction, AuditEntry, AuditFilter, AuditRow};
use crate::auth::model::Revocation;
use crate::auth::policy::{Actor, rank_of};
use crate::auth::store as sessions;
use crate::error::{AppError, FieldCode, FieldError};
use crate::events::{self, EventType};
use crate::members::model::MemberError;
use crate::members::model::{Member, MemberKey};
use crate::members::store::{self as members, IpRecord};
use crate::pagination::{Page, Paged};
use crate::sanctions::model::Refusal;
use crate::staff::model::StaffError;
use crate::staff::store::{self, GroupRow, SeenAt};
use crate::state::AppState;
use crate::tokens::model::TokenKind;
use crate::tokens::store as tokens;

fn entry<'a>(actor: &'a Actor, action: AuditAction, target: &Member) -> AuditEntry<'a> {
    AuditEntry {
        target_member_id: Some(target.id),
        ..actor.audit(action, serde_json::json!({}))
    }
}

/// Logs a member out everywhere. Staff may do it to members below their rank.
pub async fn revoke_sessions(state: &AppState, actor: Actor, target: MemberKey) -> Result<usize, AppError> {
    let now = state.clock.now();
    state
        .db
        .transaction(move |conn| {
            let target = members::find_by_key(conn, &target)?.ok_or(MemberError::NotFound)?;
            let moderator = members::find(conn, actor.member_id)?.ok_or(MemberError::NotFound)?;
            if target.id == moderator.id || rank_of(&moderator) <= rank_of(&target) {
                return Err(Refusal::Outranked.into());
            }
            let revoked = sessions::revoke_member_sessions(conn, target.id, Revocation::Staff, now)?;
            let data =
                serde_json::json!({ "member": { "id": target.id, "username": target.username }, "sessions": revoked });
            events::record(conn, EventType::MemberSessionsRevoked, target.id, data, now)?;
            audit::record(
                conn,
                AuditEntry {
                    details: serde_json::json!({ "sessions": revoked }),
                    ..entry(&actor, AuditAction::MemberSessionsRevoked, &target)
                },
                now,
            )?;
            Ok(revoked)
        })
        .await
}

pub async fn member_ips(
    state: &AppState,
    actor: Actor,
    target: MemberKey,
    page: Page,
) -> Result<(Member, Paged<IpRecord>), AppError> {
    let now = state.clock.now();
    state
        .db
        .transaction(move |conn| {
            let target = members::find_by_key(conn, &target)?.ok_or(MemberError::NotFound)?;
            let ips = members::ips_page(conn, target.id, page)?;
            audit::record(conn, entry(&actor, AuditAction::MemberIpsViewed, &target), now)?;
            Ok((target, ips))
        })
        .await
}

pub async fn members_at(
    state: &AppState,
    actor: Actor,
    network: ipnet::IpNet,
    page: Page,
) -> Result<Paged<SeenAt>, AppError> {
    let now = state.clock.now();
    state
        .db
        .transaction(move |conn| {
            let network = network.to_string();
            let seen = store::members_in_network(conn, &network, page)?;
            audit::record(
                conn,
                AuditEntry {
                    actor_id: actor.member_id,
                    action: AuditAction::IpMembersViewed,
                    target_member_id: None,
                    target: Some(&network),
                    reason: None,
                    ip: &actor.ip,
                    details: serde_json::json!({ "members": seen.total, "page": page.page }),
                },
                now,
            )?;
            Ok(seen)
        })
        .await
}

pub struct Roles {
    pub groups: Vec<String>,
    pub staff: bool,
    pub superuser: bool,
    pub active: bool,
}

/// Sets a member's groups and flags. Nobody changes their own roles, and the
/// last active superuser stays one.
pub async fn set_roles(state: &AppState, actor: Actor, target: MemberKey, roles: Roles) -> Result<Roles, AppError> {
    let now = state.clock.now();
    state
        .db
        .transaction(move |conn| {
            let found = members::find_by_key(conn, &target)?.ok_or(MemberError::NotFound)?;
            if found.id == actor.member_id {
                return Err(StaffError::CannotChangeOwnRoles.into());
            }
            let superusers = store::lock_superusers(conn)?;
            let target = members::find_for_update(conn, found.id)?.ok_or(MemberError::NotFound)?;
            let mut names = roles.groups.clone();
            names.sort();
            names.dedup();
            let known = store::groups_named(conn, &names)?;
            let unknown: Vec<FieldError> = names
                .iter()
                .filter(|n| !known.iter().any(|(_, k)| k == *n))
                .map(|n| FieldError::new("groups", FieldCode::UnknownGroup, format!("There is no group {n}.")))
                .collect();
            if !unknown.is_empty() {
                return Err(AppError::Validation(unknown));
            }
            let stays_superuser = roles.superuser && roles.active;
            if superusers.contains(&target.id) && !stays_superuser && superusers.len() == 1 {
                return Err(MemberError::LastSuperuser.into());
            }
            let before = serde_json::json!({
                "groups": store::groups_of(conn, target.id)?,
                "staff": target.is_staff, "superuser": target.is_superuser, "active": target.is_active,
            });
            store::set_groups(conn, target.id, &known.iter().map(|(id, _)| *id).collect::<Vec<_>>())?;
            // `active: false` deactivates, a never-validated account too (its
            // links stop working); only `active: true` undoes it.
            let deactivates = !roles.active && target.deactivated_at.is_none();
            let deactivated_at = if roles.active { None } else { target.deactivated_at.or(Some(now)) };
            // A superuser is staff too.
            store::set_flags(conn, target.id, roles.staff || roles.superuser, roles.superuser, roles.active, deactivated_at)?;
            if deactivates {
                sessions::revoke_member_sessions(conn, target.id, Revocation::Deactivated, now)?;
                // Links sent before no longer open anything.
                tokens::void_outstanding(conn, target.id, &TokenKind::ACCOUNT)?;
            }
            let after = Roles { groups: names, staff: roles.staff || roles.superuser, superuser: roles.superuser, active: roles.active };
            let details = serde_json::json!({
                "before": before,
                "after": { "groups": after.groups, "staff": after.staff, "superuser": after.superuser, "active": after.active },
            });
            let data = serde_json::json!({ "member": { "id": target.id, "username": target.username }, "roles": details["after"] });
            events::record(conn, EventType::MemberRolesChanged, target.id, data, now)?;
            audit::record(conn, AuditEntry { details, ..entry(&actor, AuditAction::MemberRolesChanged, &target) }, now)?;
            Ok(after)
        })
        .await
}

pub async fn groups(state: &AppState, page: Page) -> Result<Paged<GroupRow>, AppError> {
    state.db.run(move |conn| store::groups_with_counts(conn, page)).await
}

pub async fn create_group(state: &AppState, actor: Actor, name: String) -> Result<i64, AppError> {
    let now = state.clock.now();
    state
        .db
        .transaction(move |conn| {
            let id = store::create_group(conn, &name, now)?;
            audit::record(
                conn,
                AuditEntry {
                    actor_id: actor.member_id,
                    action: AuditAction::GroupCreated,
                    target_member_id: None,
                    target: Some(&name),
                    reason: None,
                    ip: &actor.ip,
                    details: serde_json::json!({ "group_id": id }),
                },
                now,
            )?;
            Ok(id)
        })
        .await
}

pub async fn domains(
    state: &AppState,
    prefix: Option<String>,
    offset: i64,
    limit: i64,
) -> Result<(Vec<store::DomainRow>, i64), AppError> {
    state
        .db
        .run(move |conn| store::domains(conn, prefix.as_deref(), offset, limit))
        .await
}

/// Adds (`add` true) or removes a forbidden domain.
pub async fn change_domain(state: &AppState, actor: Actor, domain: String, add: bool) -> Result<(), AppError> {
    let now = state.clock.now();
    state
        .db
        .transaction(move |conn| {
            if add {
                store::add_domain(conn, &domain, now)?;
            } else {
                store::remove_domain(conn, &domain)?;
            }
            audit::record(
                conn,
                AuditEntry {
                    actor_id: actor.member_id,
                    action: if add {
                        AuditAction::ForbiddenDomainAdded
                    } else {
                        AuditAction::ForbiddenDomainRemoved
                    },
                    target_member_id: None,
                    target: Some(&domain),
                    reason: None,
                    ip: &actor.ip,
                    details: serde_json::json!({}),
                },
                now,
            )
        })
        .await
}

pub struct AuditQuery {
    pub actor: Option<MemberKey>,
    pub target: Option<MemberKey>,
    pub action: Option<String>,
    pub offset: i64,
    pub limit: i64,
}

pub async fn audit_log(
    state: &AppState,
    query: AuditQuery,
) -> Result<(Vec<AuditRow>, i64, std::collections::HashMap<i64, String>), AppError> {
    state
        .db
        .run(move |conn| {
            let mut resolve = |key: &Option<MemberKey>| -> Result<Option<Option<i64>>, AppError> {
                match key {
                    None => Ok(Some(None)),
                    Some(key) => Ok(members::find_by_key(conn, key)?.map(|m| Some(m.id))),
                }
            };
            let (Some(actor_id), Some(target_member_id)) = (resolve(&query.actor)?, resolve(&query.target)?) else {
                return Ok((Vec::new(), 0, Default::default()));
            };
            let filter = AuditFilter {
                actor_id,
                target_member_id,
                action: query.action.clone(),
            };
            let (rows, total) = audit::list(conn, &filter, query.offset, query.limit)?;
            let ids: Vec<i64> = rows
                .iter()
                .flat_map(|r| [Some(r.actor_id), r.target_member_id])
                .flatten()
                .collect();
            let names = crate::sanctions::store::usernames(conn, &ids)?;
            Ok((rows, total, names))
        })
        .await
}

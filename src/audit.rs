//! The staff-action log: who did what, to whom, why, when and from where.
//! Written in the transaction of the action it records.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Jsonb, Nullable, Text, Timestamptz};

use crate::db::{column, prepared};
use crate::error::AppError;
use crate::events::NewEvent;
use crate::schema::audit_log;

/// What a staff member did, as the log names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditAction {
    SanctionApplied,
    SanctionForgiven,
    SanctionReverted,
    /// Shortened, as an appeal's outcome.
    SanctionReduced,
    KarmaNoted,
    ReportClaimed,
    ReportReleased,
    ReportResolved,
    AppealDecided,
    MemberSessionsRevoked,
    /// A superuser removed every second factor of a member (a lost device).
    MemberFactorsReset,
    MemberIpsViewed,
    /// A lookup of the members seen at an IP; its target is the network.
    IpMembersViewed,
    MemberRolesChanged,
    GroupCreated,
    ForbiddenDomainAdded,
    ForbiddenDomainRemoved,
    ServiceClientCreated,
    ServiceClientRevoked,
    WebhookCreated,
    WebhookDeleted,
    WebhookRedelivered,
    /// `memberd import`, by the operator (recorded under the placeholder).
    CommunityImported,
}

impl AuditAction {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SanctionApplied => "sanction.applied",
            Self::SanctionForgiven => "sanction.forgiven",
            Self::SanctionReverted => "sanction.reverted",
            Self::SanctionReduced => "sanction.reduced",
            Self::ReportClaimed => "report.claimed",
            Self::ReportReleased => "report.released",
            Self::ReportResolved => "report.resolved",
            Self::AppealDecided => "appeal.decided",
            Self::KarmaNoted => "karma.noted",
            Self::MemberSessionsRevoked => "member.sessions_revoked",
            Self::MemberFactorsReset => "member.factors_reset",
            Self::MemberIpsViewed => "member.ips_viewed",
            Self::IpMembersViewed => "ip.members_viewed",
            Self::MemberRolesChanged => "member.roles_changed",
            Self::GroupCreated => "group.created",
            Self::ForbiddenDomainAdded => "forbidden_domain.added",
            Self::ForbiddenDomainRemoved => "forbidden_domain.removed",
            Self::ServiceClientCreated => "service_client.created",
            Self::ServiceClientRevoked => "service_client.revoked",
            Self::WebhookCreated => "webhook.created",
            Self::WebhookDeleted => "webhook.deleted",
            Self::WebhookRedelivered => "webhook.redelivered",
            Self::CommunityImported => "community.imported",
        }
    }
}

/// One staff action about to be recorded.
pub struct AuditEntry<'a> {
    pub actor_id: i64,
    pub action: AuditAction,
    pub target_member_id: Option<i64>,
    /// What the action was about when it is not a member: an IP, a group, a domain.
    pub target: Option<&'a str>,
    pub reason: Option<&'a str>,
    pub ip: &'a str,
    pub details: serde_json::Value,
}

macro_rules! new_entry {
    ($entry:expr, $now:expr) => {
        diesel::insert_into(audit_log::table).values((
            audit_log::actor_id.eq($entry.actor_id),
            audit_log::action.eq($entry.action.as_str()),
            audit_log::target_member_id.eq($entry.target_member_id),
            audit_log::target.eq($entry.target),
            audit_log::reason.eq($entry.reason),
            audit_log::ip.eq($entry.ip),
            audit_log::details.eq($entry.details),
            audit_log::created_at.eq($now),
        ))
    };
}

pub fn record(conn: &mut PgConnection, entry: AuditEntry, now: DateTime<Utc>) -> Result<(), AppError> {
    new_entry!(entry, now).execute(conn)?;
    Ok(())
}

/// A change as the audit log and the event feed tell it.
pub struct Logged<'a> {
    pub entry: AuditEntry<'a>,
    pub event: NewEvent,
    pub at: DateTime<Utc>,
}

/// [`record`] with the event of each change, in one statement, as the last
/// of a transaction run by `Db::transaction_reporting_changes`: it returns
/// what the transaction changed, saving the round trip that would ask after
/// the commit. On the paths moderators write at speed, a round trip costs
/// more than either insert; a batch of changes (`db::batch`) costs one.
pub fn record_last_with_events(conn: &mut PgConnection, changes: &[Logged]) -> Result<String, AppError> {
    if changes.is_empty() {
        // Nothing was written: nothing changed.
        return Ok(String::new());
    }
    #[derive(QueryableByName)]
    struct Changed {
        #[diesel(sql_type = Text)]
        changed: String,
    }
    let changed: Vec<Changed> = prepared(
        "WITH input AS ( \
           SELECT * FROM unnest($1::text[], $2::bigint[], $3::jsonb[], $4::bigint[], $5::text[], $6::bigint[], \
                                $7::text[], $8::text[], $9::text[], $10::jsonb[], $11::timestamptz[]) WITH ORDINALITY \
             AS i(event_type, member_id, data, actor_id, action, target_member_id, target, reason, ip, details, at, \
                  n)), \
         event AS ( \
           INSERT INTO events (event_type, occurred_at, member_id, data) \
           SELECT event_type, at, member_id, data FROM input ORDER BY n) \
         INSERT INTO audit_log (actor_id, action, target_member_id, target, reason, ip, details, created_at) \
         SELECT actor_id, action, target_member_id, target, reason, ip, details, at FROM input ORDER BY n \
         RETURNING memberd_take_changes() AS changed",
    )
    .bind::<Array<Text>, _>(column(changes, |l| l.event.event_type.as_str()))
    .bind::<Array<BigInt>, _>(column(changes, |l| l.event.member_id))
    .bind::<Array<Jsonb>, _>(column(changes, |l| &l.event.data))
    .bind::<Array<BigInt>, _>(column(changes, |l| l.entry.actor_id))
    .bind::<Array<Text>, _>(column(changes, |l| l.entry.action.as_str()))
    .bind::<Array<Nullable<BigInt>>, _>(column(changes, |l| l.entry.target_member_id))
    .bind::<Array<Nullable<Text>>, _>(column(changes, |l| l.entry.target))
    .bind::<Array<Nullable<Text>>, _>(column(changes, |l| l.entry.reason))
    .bind::<Array<Text>, _>(column(changes, |l| l.entry.ip))
    .bind::<Array<Jsonb>, _>(column(changes, |l| &l.entry.details))
    .bind::<Array<Timestamptz>, _>(column(changes, |l| l.at))
    .load(conn)?;
    // The first row takes every change; the others find none left.
    Ok(changed.into_iter().map(|c| c.changed).collect::<Vec<_>>().join(" "))
}

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = audit_log)]
pub struct AuditRow {
    pub id: i64,
    pub actor_id: i64,
    pub action: String,
    pub target_member_id: Option<i64>,
    pub target: Option<String>,
    pub reason: Option<String>,
    pub ip: Option<String>,
    pub details: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Default)]
pub struct AuditFilter {
    pub actor_id: Option<i64>,
    pub target_member_id: Option<i64>,
    pub action: Option<String>,
}

fn filtered(filter: &AuditFilter) -> audit_log::BoxedQuery<'_, diesel::pg::Pg> {
    let mut query = audit_log::table.into_boxed();
    if let Some(actor) = filter.actor_id {
        query = query.filter(audit_log::actor_id.eq(actor));
    }
    if let Some(target) = filter.target_member_id {
        query = query.filter(audit_log::target_member_id.eq(target));
    }
    if let Some(action) = &filter.action {
        query = query.filter(audit_log::action.eq(action));
    }
    query
}

pub fn list(
    conn: &mut PgConnection,
    filter: &AuditFilter,
    offset: i64,
    limit: i64,
) -> Result<(Vec<AuditRow>, i64), AppError> {
    let total = filtered(filter).count().get_result(conn)?;
    let rows = filtered(filter)
        .order(audit_log::id.desc())
        .offset(offset)
        .limit(limit)
        .select(AuditRow::as_select())
        .load(conn)?;
    Ok((rows, total))
}

/// On unregistration: what the member did as staff stays, attributed to the
/// placeholder and without their address; what was done about them keeps
/// its shape but loses what named them.
pub fn anonymise_member(conn: &mut PgConnection, member_id: i64, placeholder_id: i64) -> Result<(), AppError> {
    diesel::update(audit_log::table.filter(audit_log::actor_id.eq(member_id)))
        .set((audit_log::actor_id.eq(placeholder_id), audit_log::ip.eq(None::<String>)))
        .execute(conn)?;
    diesel::update(audit_log::table.filter(audit_log::target_member_id.eq(member_id)))
        .set((
            audit_log::target.eq(None::<String>),
            audit_log::details.eq(serde_json::json!({})),
        ))
        .execute(conn)?;
    Ok(())
}

/// Blanks the addresses of entries older than `cutoff`: the actor's IP, and
/// the network an IP lookup was about. Who did what, when and why stays.
pub fn forget_old_ips(conn: &mut PgConnection, cutoff: DateTime<Utc>) -> Result<usize, AppError> {
    let old = audit_log::created_at.lt(cutoff);
    let ips = diesel::update(audit_log::table.filter(old).filter(audit_log::ip.is_not_null()))
        .set(audit_log::ip.eq(None::<String>))
        .execute(conn)?;
    let lookups = diesel::update(
        audit_log::table
            .filter(old)
            .filter(audit_log::action.eq(AuditAction::IpMembersViewed.as_str()))
            .filter(audit_log::target.is_not_null()),
    )
    .set(audit_log::target.eq(None::<String>))
    .execute(conn)?;
    Ok(ips + lookups)
}

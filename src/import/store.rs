//! The import's writes: batches of rows upserted by their legacy id, each
//! batch one statement over `unnest`ed arrays, answering which rows it
//! inserted and which it changed (a row equal to the file is left alone, so
//! that importing the same file twice changes nothing).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool, Integer, Nullable, Text, Timestamptz};

use crate::error::AppError;
use crate::import::accounts::{Identity, SharedAddress, Taken};

/// Rows per statement: large enough that round trips do not count, small
/// enough that a statement's arrays stay a few megabytes.
pub const BATCH: usize = 2_000;

#[derive(QueryableByName)]
struct Written {
    #[diesel(sql_type = Text)]
    legacy_id: String,
    #[diesel(sql_type = Bool)]
    inserted: bool,
}

/// Legacy id → true when inserted, false when updated; rows absent were unchanged.
pub type Outcomes = HashMap<String, bool>;

fn outcomes(rows: Vec<Written>) -> Outcomes {
    rows.into_iter().map(|w| (w.legacy_id, w.inserted)).collect()
}

/// `SET a = EXCLUDED.a, …` and the `WHERE` that skips rows already equal,
/// for `columns` given as (column, value expression).
fn upsert_clauses(table: &str, columns: &[(&str, &str)]) -> (String, String) {
    let set = columns
        .iter()
        .map(|(column, value)| format!("{column} = {value}"))
        .collect::<Vec<_>>()
        .join(", ");
    let old = columns
        .iter()
        .map(|(column, _)| format!("{table}.{column}"))
        .collect::<Vec<_>>()
        .join(", ");
    let new = columns.iter().map(|(_, value)| *value).collect::<Vec<_>>().join(", ");
    (set, format!("({old}) IS DISTINCT FROM ({new})"))
}

/// A member as the file gives them.
pub struct MemberRow {
    pub legacy_id: String,
    pub username: String,
    pub skeleton: String,
    pub email: String,
    pub email_key: Option<String>,
    pub password_hash: String,
    pub is_active: bool,
    pub is_staff: bool,
    pub is_superuser: bool,
    pub date_joined: DateTime<Utc>,
    pub last_login_at: Option<DateTime<Utc>>,
    pub last_visit_at: Option<DateTime<Utc>>,
    pub last_ip: Option<String>,
    pub biography: String,
    pub website: String,
    pub avatar_url: String,
    pub signature: String,
    pub show_email: bool,
    pub show_signature: bool,
    pub hover_menus: bool,
    pub email_on_private_message: bool,
}

/// Inserts or updates members by legacy id. What memberd itself changed
/// since is kept: a password already rehashed by memberd (the member logged
/// in here), a deactivation by a superuser, later logins and visits.
pub fn upsert_members(conn: &mut PgConnection, rows: &[MemberRow], locale: &str) -> Result<Outcomes, AppError> {
    let (set, changed) = upsert_clauses(
        "members",
        &[
            ("username", "EXCLUDED.username"),
            ("username_skeleton", "EXCLUDED.username_skeleton"),
            ("email", "EXCLUDED.email"),
            ("email_key", "EXCLUDED.email_key"),
            (
                "password_hash",
                "CASE WHEN members.password_hash LIKE '$argon2id$%' THEN members.password_hash ELSE EXCLUDED.password_hash END",
            ),
            ("is_active", "EXCLUDED.is_active AND members.deactivated_at IS NULL"),
            ("is_staff", "EXCLUDED.is_staff"),
            ("is_superuser", "EXCLUDED.is_superuser"),
            ("date_joined", "EXCLUDED.date_joined"),
            (
                "last_login_at",
                "GREATEST(members.last_login_at, EXCLUDED.last_login_at)",
            ),
            (
                "last_visit_at",
                "GREATEST(members.last_visit_at, EXCLUDED.last_visit_at)",
            ),
            ("last_ip", "coalesce(EXCLUDED.last_ip, members.last_ip)"),
            ("biography", "EXCLUDED.biography"),
            ("website", "EXCLUDED.website"),
            ("avatar_url", "EXCLUDED.avatar_url"),
            ("signature", "EXCLUDED.signature"),
            ("show_email", "EXCLUDED.show_email"),
            ("show_signature", "EXCLUDED.show_signature"),
            ("hover_menus", "EXCLUDED.hover_menus"),
            ("email_on_private_message", "EXCLUDED.email_on_private_message"),
        ],
    );
    let sql = format!(
        "INSERT INTO members (legacy_id, username, username_skeleton, email, email_key, password_hash, \
             is_active, is_staff, is_superuser, date_joined, last_login_at, last_visit_at, last_ip, biography, \
             website, avatar_url, signature, show_email, show_signature, hover_menus, email_on_private_message, locale) \
         SELECT *, $22 FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], \
             $7::bool[], $8::bool[], $9::bool[], $10::timestamptz[], $11::timestamptz[], $12::timestamptz[], \
             $13::text[], $14::text[], $15::text[], $16::text[], $17::text[], $18::bool[], $19::bool[], \
             $20::bool[], $21::bool[]) \
         ON CONFLICT (legacy_id) DO UPDATE SET {set} WHERE {changed} \
         RETURNING legacy_id, (xmax = 0) AS inserted"
    );
    let column = |f: fn(&MemberRow) -> String| rows.iter().map(f).collect::<Vec<_>>();
    let flags = |f: fn(&MemberRow) -> bool| rows.iter().map(f).collect::<Vec<_>>();
    let written = diesel::sql_query(sql)
        .bind::<Array<Text>, _>(column(|r| r.legacy_id.clone()))
        .bind::<Array<Text>, _>(column(|r| r.username.clone()))
        .bind::<Array<Text>, _>(column(|r| r.skeleton.clone()))
        .bind::<Array<Text>, _>(column(|r| r.email.clone()))
        .bind::<Array<Nullable<Text>>, _>(rows.iter().map(|r| r.email_key.clone()).collect::<Vec<_>>())
        .bind::<Array<Text>, _>(column(|r| r.password_hash.clone()))
        .bind::<Array<Bool>, _>(flags(|r| r.is_active))
        .bind::<Array<Bool>, _>(flags(|r| r.is_staff))
        .bind::<Array<Bool>, _>(flags(|r| r.is_superuser))
        .bind::<Array<Timestamptz>, _>(rows.iter().map(|r| r.date_joined).collect::<Vec<_>>())
        .bind::<Array<Nullable<Timestamptz>>, _>(rows.iter().map(|r| r.last_login_at).collect::<Vec<_>>())
        .bind::<Array<Nullable<Timestamptz>>, _>(rows.iter().map(|r| r.last_visit_at).collect::<Vec<_>>())
        .bind::<Array<Nullable<Text>>, _>(rows.iter().map(|r| r.last_ip.clone()).collect::<Vec<_>>())
        .bind::<Array<Text>, _>(column(|r| r.biography.clone()))
        .bind::<Array<Text>, _>(column(|r| r.website.clone()))
        .bind::<Array<Text>, _>(column(|r| r.avatar_url.clone()))
        .bind::<Array<Text>, _>(column(|r| r.signature.clone()))
        .bind::<Array<Bool>, _>(flags(|r| r.show_email))
        .bind::<Array<Bool>, _>(flags(|r| r.show_signature))
        .bind::<Array<Bool>, _>(flags(|r| r.hover_menus))
        .bind::<Array<Bool>, _>(flags(|r| r.email_on_private_message))
        .bind::<Text, _>(locale)
        .load::<Written>(conn)?;
    Ok(outcomes(written))
}

/// The names among `keys` (confusable keys) taken already, and by whom.
pub fn taken_names(conn: &mut PgConnection, keys: &[String]) -> Result<Taken, AppError> {
    #[derive(QueryableByName)]
    struct Name {
        #[diesel(sql_type = Text)]
        skeleton: String,
        #[diesel(sql_type = Text)]
        username: String,
    }
    Ok(
        diesel::sql_query("SELECT skeleton, username FROM zds_taken_names WHERE skeleton = ANY($1)")
            .bind::<Array<Text>, _>(keys)
            .load::<Name>(conn)?
            .into_iter()
            .map(|n| (n.skeleton, n.username))
            .collect(),
    )
}

/// Records the names a batch of the file's members took, for the next batches.
pub fn take_names(conn: &mut PgConnection, identities: &[Identity]) -> Result<(), AppError> {
    diesel::sql_query(
        "INSERT INTO zds_taken_names SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT DO NOTHING",
    )
    .bind::<Array<Text>, _>(identities.iter().map(|i| i.skeleton.as_str()).collect::<Vec<_>>())
    .bind::<Array<Text>, _>(identities.iter().map(|i| i.username.as_str()).collect::<Vec<_>>())
    .execute(conn)?;
    Ok(())
}

/// Addresses the file's accounts share but for case, and who keeps each.
pub fn shared_addresses(conn: &mut PgConnection) -> Result<Vec<SharedAddress>, AppError> {
    #[derive(QueryableByName)]
    struct Shared {
        #[diesel(sql_type = Text)]
        email_key: String,
        #[diesel(sql_type = BigInt)]
        pk: i64,
        #[diesel(sql_type = Array<BigInt>)]
        others: Vec<i64>,
    }
    Ok(diesel::sql_query(
        "SELECT k.email_key, k.pk, array_agg(u.pk ORDER BY u.pk) AS others FROM zds_keepers k \
         JOIN zds_users u ON u.email_key = k.email_key AND u.pk <> k.pk \
         WHERE NOT EXISTS (SELECT 1 FROM zds_taken_addresses t WHERE t.email_key = k.email_key) \
         GROUP BY k.email_key, k.pk ORDER BY k.email_key",
    )
    .load::<Shared>(conn)?
    .into_iter()
    .map(|s| SharedAddress {
        email: s.email_key,
        kept_by: s.pk,
        others: s.others,
    })
    .collect())
}

/// The file's members, by their legacy id: a join on `members_legacy_id_key`.
const FILE_MEMBERS: &str = "SELECT m.id FROM members m JOIN zds_users u ON m.legacy_id = 'zds:user:' || u.pk";

/// Creates the groups missing by name; answers every group's id by name
/// and the names it created.
pub fn ensure_groups(
    conn: &mut PgConnection,
    names: &[String],
    now: DateTime<Utc>,
) -> Result<(HashMap<String, i64>, Vec<String>), AppError> {
    #[derive(QueryableByName)]
    struct Group {
        #[diesel(sql_type = BigInt)]
        id: i64,
        #[diesel(sql_type = Text)]
        name: String,
    }
    let created: Vec<Group> = diesel::sql_query(
        "INSERT INTO groups (name, created_at) SELECT unnest($1::text[]), $2 ON CONFLICT (name) DO NOTHING RETURNING id, name",
    )
    .bind::<Array<Text>, _>(names)
    .bind::<Timestamptz, _>(now)
    .load(conn)?;
    let all: Vec<Group> = diesel::sql_query("SELECT id, name FROM groups WHERE name = ANY($1)")
        .bind::<Array<Text>, _>(names)
        .load(conn)?;
    Ok((
        all.into_iter().map(|g| (g.name, g.id)).collect(),
        created.into_iter().map(|g| g.name).collect(),
    ))
}

/// Makes the file's members' memberships in the file's groups (Django pk →
/// memberd id) what the file says; memberships in other groups are theirs
/// in memberd.
pub fn set_memberships(conn: &mut PgConnection, groups: &HashMap<i64, i64>) -> Result<(), AppError> {
    let (pks, ids): (Vec<i64>, Vec<i64>) = groups.iter().map(|(pk, id)| (*pk, *id)).unzip();
    diesel::sql_query("CREATE TEMP TABLE zds_memberships (member_id bigint, group_id bigint) ON COMMIT DROP")
        .execute(conn)?;
    diesel::sql_query(
        "INSERT INTO zds_memberships SELECT DISTINCT m.id, g.id FROM zds_users u \
         JOIN members m ON m.legacy_id = 'zds:user:' || u.pk \
         CROSS JOIN LATERAL unnest(u.groups) AS held(pk) \
         JOIN unnest($1::bigint[], $2::bigint[]) AS g(pk, id) ON g.pk = held.pk",
    )
    .bind::<Array<BigInt>, _>(&pks)
    .bind::<Array<BigInt>, _>(&ids)
    .execute(conn)?;
    diesel::sql_query(format!(
        "DELETE FROM member_groups mg WHERE mg.group_id = ANY($1) AND mg.member_id IN ({FILE_MEMBERS}) \
         AND NOT EXISTS (SELECT 1 FROM zds_memberships d WHERE d.member_id = mg.member_id AND d.group_id = mg.group_id)"
    ))
    .bind::<Array<BigInt>, _>(&ids)
    .execute(conn)?;
    diesel::sql_query("INSERT INTO member_groups SELECT * FROM zds_memberships ON CONFLICT DO NOTHING")
        .execute(conn)?;
    Ok(())
}

/// Where the file's members were last seen: the profile's address, at the
/// last visit (or login, or joining), when that is not before `cutoff`.
pub fn record_ips(conn: &mut PgConnection, cutoff: DateTime<Utc>) -> Result<(), AppError> {
    diesel::sql_query(
        "INSERT INTO member_ips (member_id, ip, first_seen_at, last_seen_at) \
         SELECT m.id, p.last_ip, s.at, s.at FROM zds_users u JOIN members m ON m.legacy_id = 'zds:user:' || u.pk \
         JOIN zds_profiles p ON p.user_pk = u.pk \
         CROSS JOIN LATERAL (SELECT coalesce(p.last_visit, u.last_login, u.date_joined) AS at) s \
         WHERE p.last_ip IS NOT NULL AND s.at >= $1 ON CONFLICT (member_id, ip) DO NOTHING",
    )
    .bind::<Timestamptz, _>(cutoff)
    .execute(conn)?;
    Ok(())
}

/// How many of the file's last-seen addresses are older than `cutoff`.
pub fn ips_past(conn: &mut PgConnection, cutoff: DateTime<Utc>) -> Result<u64, AppError> {
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let count: Count = diesel::sql_query(
        "SELECT count(*) AS n FROM zds_users u JOIN zds_profiles p ON p.user_pk = u.pk \
         WHERE p.last_ip IS NOT NULL AND coalesce(p.last_visit, u.last_login, u.date_joined) < $1",
    )
    .bind::<Timestamptz, _>(cutoff)
    .get_result(conn)?;
    Ok(count.n.unsigned_abs())
}

/// A sanction as the import rebuilt it.
pub struct SanctionRow {
    pub legacy_id: String,
    pub member_id: i64,
    pub kind: &'static str,
    pub reason: String,
    pub duration_seconds: Option<i64>,
    pub moderator_id: i64,
    pub created_at: DateTime<Utc>,
    pub ended_kind: Option<&'static str>,
    pub ended_at: Option<DateTime<Utc>>,
    pub ended_by: Option<i64>,
    pub end_reason: Option<String>,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    /// Whether it is history already: no `sanction.expired` is due for it.
    pub expiry_recorded: bool,
}

pub fn upsert_sanctions(conn: &mut PgConnection, rows: &[SanctionRow]) -> Result<Outcomes, AppError> {
    let (set, changed) = upsert_clauses(
        "sanctions",
        &[
            ("member_id", "EXCLUDED.member_id"),
            ("kind", "EXCLUDED.kind"),
            ("reason", "EXCLUDED.reason"),
            ("duration_seconds", "EXCLUDED.duration_seconds"),
            ("moderator_id", "EXCLUDED.moderator_id"),
            ("created_at", "EXCLUDED.created_at"),
            ("ended_kind", "EXCLUDED.ended_kind"),
            ("ended_at", "EXCLUDED.ended_at"),
            ("ended_by", "EXCLUDED.ended_by"),
            ("end_reason", "EXCLUDED.end_reason"),
            ("starts_at", "EXCLUDED.starts_at"),
            ("ends_at", "EXCLUDED.ends_at"),
        ],
    );
    let sql = format!(
        "INSERT INTO sanctions (legacy_id, member_id, kind, reason, duration_seconds, moderator_id, created_at, \
             ended_kind, ended_at, ended_by, end_reason, starts_at, ends_at, expiry_recorded) \
         SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::bigint[], $6::bigint[], \
             $7::timestamptz[], $8::text[], $9::timestamptz[], $10::bigint[], $11::text[], $12::timestamptz[], \
             $13::timestamptz[], $14::bool[]) \
         ON CONFLICT (legacy_id) DO UPDATE SET {set} WHERE {changed} \
         RETURNING legacy_id, (xmax = 0) AS inserted"
    );
    let written = diesel::sql_query(sql)
        .bind::<Array<Text>, _>(rows.iter().map(|r| r.legacy_id.clone()).collect::<Vec<_>>())
        .bind::<Array<BigInt>, _>(rows.iter().map(|r| r.member_id).collect::<Vec<_>>())
        .bind::<Array<Text>, _>(rows.iter().map(|r| r.kind).collect::<Vec<_>>())
        .bind::<Array<Text>, _>(rows.iter().map(|r| r.reason.clone()).collect::<Vec<_>>())
        .bind::<Array<Nullable<BigInt>>, _>(rows.iter().map(|r| r.duration_seconds).collect::<Vec<_>>())
        .bind::<Array<BigInt>, _>(rows.iter().map(|r| r.moderator_id).collect::<Vec<_>>())
        .bind::<Array<Timestamptz>, _>(rows.iter().map(|r| r.created_at).collect::<Vec<_>>())
        .bind::<Array<Nullable<Text>>, _>(rows.iter().map(|r| r.ended_kind).collect::<Vec<_>>())
        .bind::<Array<Nullable<Timestamptz>>, _>(rows.iter().map(|r| r.ended_at).collect::<Vec<_>>())
        .bind::<Array<Nullable<BigInt>>, _>(rows.iter().map(|r| r.ended_by).collect::<Vec<_>>())
        .bind::<Array<Nullable<Text>>, _>(rows.iter().map(|r| r.end_reason.clone()).collect::<Vec<_>>())
        .bind::<Array<Nullable<Timestamptz>>, _>(rows.iter().map(|r| r.starts_at).collect::<Vec<_>>())
        .bind::<Array<Nullable<Timestamptz>>, _>(rows.iter().map(|r| r.ends_at).collect::<Vec<_>>())
        .bind::<Array<Bool>, _>(rows.iter().map(|r| r.expiry_recorded).collect::<Vec<_>>())
        .load::<Written>(conn)?;
    Ok(outcomes(written))
}

/// A karma note as the file gives it (author None: memberd's own balance).
pub struct NoteRow {
    pub legacy_id: String,
    pub member_id: i64,
    pub author_id: Option<i64>,
    pub note: String,
    pub karma: i32,
    pub created_at: DateTime<Utc>,
}

pub fn upsert_notes(conn: &mut PgConnection, rows: &[NoteRow]) -> Result<Outcomes, AppError> {
    let (set, changed) = upsert_clauses(
        "karma_notes",
        &[
            ("member_id", "EXCLUDED.member_id"),
            ("author_id", "EXCLUDED.author_id"),
            ("note", "EXCLUDED.note"),
            ("karma", "EXCLUDED.karma"),
            ("created_at", "EXCLUDED.created_at"),
        ],
    );
    let sql = format!(
        "INSERT INTO karma_notes (legacy_id, member_id, author_id, note, karma, created_at) \
         SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::text[], $5::int[], $6::timestamptz[]) \
         ON CONFLICT (legacy_id) DO UPDATE SET {set} WHERE {changed} \
         RETURNING legacy_id, (xmax = 0) AS inserted"
    );
    let written = diesel::sql_query(sql)
        .bind::<Array<Text>, _>(rows.iter().map(|r| r.legacy_id.clone()).collect::<Vec<_>>())
        .bind::<Array<BigInt>, _>(rows.iter().map(|r| r.member_id).collect::<Vec<_>>())
        .bind::<Array<Nullable<BigInt>>, _>(rows.iter().map(|r| r.author_id).collect::<Vec<_>>())
        .bind::<Array<Text>, _>(rows.iter().map(|r| r.note.clone()).collect::<Vec<_>>())
        .bind::<Array<Integer>, _>(rows.iter().map(|r| r.karma).collect::<Vec<_>>())
        .bind::<Array<Timestamptz>, _>(rows.iter().map(|r| r.created_at).collect::<Vec<_>>())
        .load::<Written>(conn)?;
    Ok(outcomes(written))
}

/// Deletes, among `table`'s rows about the file's members whose legacy id
/// starts with `prefix`, those the file no longer gives (`keep`): a standing
/// carried over or a karma balance that the newer file explains otherwise.
pub fn forget_stale(conn: &mut PgConnection, table: &str, prefix: &str, keep: &[String]) -> Result<usize, AppError> {
    Ok(diesel::sql_query(format!(
        "DELETE FROM {table} WHERE legacy_id LIKE $1 || '%' AND member_id IN ({FILE_MEMBERS}) \
         AND legacy_id <> ALL($2)"
    ))
    .bind::<Text, _>(prefix)
    .bind::<Array<Text>, _>(keep)
    .execute(conn)?)
}

/// Adds forbidden domains; answers which were new.
pub fn add_domains(conn: &mut PgConnection, domains: &[(String, DateTime<Utc>)]) -> Result<Vec<String>, AppError> {
    #[derive(QueryableByName)]
    struct Added {
        #[diesel(sql_type = Text)]
        domain: String,
    }
    let added: Vec<Added> = diesel::sql_query(
        "INSERT INTO forbidden_email_domains (domain, created_at) \
         SELECT * FROM unnest($1::text[], $2::timestamptz[]) ON CONFLICT (domain) DO NOTHING RETURNING domain",
    )
    .bind::<Array<Text>, _>(domains.iter().map(|d| d.0.clone()).collect::<Vec<_>>())
    .bind::<Array<Timestamptz>, _>(domains.iter().map(|d| d.1).collect::<Vec<_>>())
    .load(conn)?;
    Ok(added.into_iter().map(|a| a.domain).collect())
}

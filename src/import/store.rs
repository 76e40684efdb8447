//! The import's writes: batches of rows upserted by their legacy id, each
//! batch one statement over `unnest`ed arrays, answering which rows it
//! inserted and which it changed (a row equal to the file is left alone, so
//! that importing the same file twice changes nothing).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool, Integer, Nullable, Text, Timestamptz};

use crate::error::AppError;

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

/// A member's name and address, as the import must not take them.
#[derive(QueryableByName)]
pub struct Held {
    #[diesel(sql_type = Nullable<Text>)]
    pub legacy_id: Option<String>,
    #[diesel(sql_type = Text)]
    pub username: String,
    #[diesel(sql_type = Text)]
    pub username_skeleton: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub email_key: Option<String>,
}

pub fn held_names(conn: &mut PgConnection) -> Result<Vec<Held>, AppError> {
    Ok(diesel::sql_query("SELECT legacy_id, username, username_skeleton, email_key FROM members").load(conn)?)
}

#[derive(QueryableByName)]
struct Known {
    #[diesel(sql_type = Text)]
    legacy_id: String,
    #[diesel(sql_type = BigInt)]
    id: i64,
}

/// Member ids by legacy id, for the records with one of `prefix`.
pub fn ids_by_legacy_id(conn: &mut PgConnection, table: &str, prefix: &str) -> Result<HashMap<String, i64>, AppError> {
    Ok(diesel::sql_query(format!(
        "SELECT legacy_id, id FROM {table} WHERE legacy_id LIKE $1 || '%'"
    ))
    .bind::<Text, _>(prefix)
    .load::<Known>(conn)?
    .into_iter()
    .map(|k| (k.legacy_id, k.id))
    .collect())
}

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

/// Makes the memberships of `members` in `groups` exactly `pairs`
/// (member, group); memberships in other groups are theirs in memberd.
pub fn set_memberships(
    conn: &mut PgConnection,
    members: &[i64],
    groups: &[i64],
    pairs: &[(i64, i64)],
) -> Result<(), AppError> {
    let (pair_members, pair_groups): (Vec<i64>, Vec<i64>) = pairs.iter().copied().unzip();
    diesel::sql_query(
        "DELETE FROM member_groups m WHERE m.member_id = ANY($1) AND m.group_id = ANY($2) \
         AND (m.member_id, m.group_id) NOT IN (SELECT * FROM unnest($3::bigint[], $4::bigint[]))",
    )
    .bind::<Array<BigInt>, _>(members)
    .bind::<Array<BigInt>, _>(groups)
    .bind::<Array<BigInt>, _>(&pair_members)
    .bind::<Array<BigInt>, _>(&pair_groups)
    .execute(conn)?;
    diesel::sql_query(
        "INSERT INTO member_groups (member_id, group_id) SELECT * FROM unnest($1::bigint[], $2::bigint[]) \
         ON CONFLICT DO NOTHING",
    )
    .bind::<Array<BigInt>, _>(&pair_members)
    .bind::<Array<BigInt>, _>(&pair_groups)
    .execute(conn)?;
    Ok(())
}

/// Records where members were last seen, as the file knows it.
pub fn record_ips(conn: &mut PgConnection, seen: &[(i64, String, DateTime<Utc>)]) -> Result<(), AppError> {
    for chunk in seen.chunks(BATCH) {
        diesel::sql_query(
            "INSERT INTO member_ips (member_id, ip, first_seen_at, last_seen_at) \
             SELECT m, ip, at, at FROM unnest($1::bigint[], $2::text[], $3::timestamptz[]) AS s(m, ip, at) \
             ON CONFLICT (member_id, ip) DO NOTHING",
        )
        .bind::<Array<BigInt>, _>(chunk.iter().map(|s| s.0).collect::<Vec<_>>())
        .bind::<Array<Text>, _>(chunk.iter().map(|s| s.1.clone()).collect::<Vec<_>>())
        .bind::<Array<Timestamptz>, _>(chunk.iter().map(|s| s.2).collect::<Vec<_>>())
        .execute(conn)?;
    }
    Ok(())
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

/// Deletes, among `table`'s rows about `members` whose legacy id starts with
/// `prefix`, those the file no longer gives (`keep`): a standing carried
/// over or a karma balance that the newer file explains otherwise.
pub fn forget_stale(
    conn: &mut PgConnection,
    table: &str,
    prefix: &str,
    members: &[i64],
    keep: &[String],
) -> Result<usize, AppError> {
    Ok(diesel::sql_query(format!(
        "DELETE FROM {table} WHERE legacy_id LIKE $1 || '%' AND member_id = ANY($2) AND legacy_id <> ALL($3)"
    ))
    .bind::<Text, _>(prefix)
    .bind::<Array<BigInt>, _>(members)
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

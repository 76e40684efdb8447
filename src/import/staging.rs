//! Where an import keeps the file's records while it works: temporary
//! tables of the import's transaction, filled a batch at a time as the file
//! streams by, checked and joined there, and read back through cursors. The
//! import's memory stays that of a batch, whatever the file's size.

use chrono::{DateTime, Utc};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool, Nullable, Text, Timestamptz};

use crate::error::AppError;
use crate::import::model::{Ban, KarmaNote, Profile, User};

/// Created in the transaction, gone with it (committed or rolled back).
pub fn create(conn: &mut PgConnection) -> Result<(), AppError> {
    for statement in [
        "CREATE TEMP TABLE zds_users (pk bigint, username text, email text, email_key text, password text, \
             is_active bool, is_staff bool, is_superuser bool, date_joined timestamptz, last_login timestamptz, \
             groups bigint[]) ON COMMIT DROP",
        "CREATE TEMP TABLE zds_profiles (pk bigint, user_pk bigint, last_ip text, site text, show_email bool, \
             avatar_url text, biography text, sign text, show_sign bool, hover_menus bool, email_for_new_mp bool, \
             karma bigint, can_read bool, end_ban_read timestamptz, can_write bool, end_ban_write timestamptz, \
             last_visit timestamptz) ON COMMIT DROP",
        "CREATE TEMP TABLE zds_bans (pk bigint, user_pk bigint, moderator bigint, label text, note text, \
             at timestamptz) ON COMMIT DROP",
        "CREATE TEMP TABLE zds_notes (pk bigint, user_pk bigint, moderator bigint, note text, karma bigint, \
             at timestamptz) ON COMMIT DROP",
    ] {
        diesel::sql_query(statement).execute(conn)?;
    }
    Ok(())
}

/// A user as staged: its password as it will be stored, and its address's
/// key when memberd's syntax check takes it.
pub struct StagedUser {
    pub user: User,
    pub email_key: Option<String>,
}

pub fn stage_users(conn: &mut PgConnection, users: &[StagedUser]) -> Result<(), AppError> {
    diesel::sql_query(
        "INSERT INTO zds_users SELECT pk, username, email, email_key, password, is_active, is_staff, is_superuser, \
             date_joined, last_login, groups::bigint[] \
         FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bool[], $7::bool[], \
             $8::bool[], $9::timestamptz[], $10::timestamptz[], $11::text[]) \
             AS u(pk, username, email, email_key, password, is_active, is_staff, is_superuser, date_joined, \
             last_login, groups)",
    )
    .bind::<Array<BigInt>, _>(users.iter().map(|u| u.user.pk).collect::<Vec<_>>())
    .bind::<Array<Text>, _>(users.iter().map(|u| u.user.username.as_str()).collect::<Vec<_>>())
    .bind::<Array<Text>, _>(users.iter().map(|u| u.user.email.as_str()).collect::<Vec<_>>())
    .bind::<Array<Nullable<Text>>, _>(users.iter().map(|u| u.email_key.as_deref()).collect::<Vec<_>>())
    .bind::<Array<Text>, _>(users.iter().map(|u| u.user.password.as_str()).collect::<Vec<_>>())
    .bind::<Array<Bool>, _>(users.iter().map(|u| u.user.is_active).collect::<Vec<_>>())
    .bind::<Array<Bool>, _>(users.iter().map(|u| u.user.is_staff).collect::<Vec<_>>())
    .bind::<Array<Bool>, _>(users.iter().map(|u| u.user.is_superuser).collect::<Vec<_>>())
    .bind::<Array<Timestamptz>, _>(users.iter().map(|u| u.user.date_joined).collect::<Vec<_>>())
    .bind::<Array<Nullable<Timestamptz>>, _>(users.iter().map(|u| u.user.last_login).collect::<Vec<_>>())
    // Each user's group pks as an array literal (`{1,3}`): a ragged array does not bind.
    .bind::<Array<Text>, _>(
        users
            .iter()
            .map(|u| {
                format!(
                    "{{{}}}",
                    u.user.groups.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
                )
            })
            .collect::<Vec<_>>(),
    )
    .execute(conn)?;
    Ok(())
}

pub fn stage_profiles(conn: &mut PgConnection, profiles: &[Profile]) -> Result<(), AppError> {
    let flags = |f: fn(&Profile) -> bool| profiles.iter().map(f).collect::<Vec<_>>();
    let texts = |f: fn(&Profile) -> &str| profiles.iter().map(f).collect::<Vec<_>>();
    let instants = |f: fn(&Profile) -> Option<DateTime<Utc>>| profiles.iter().map(f).collect::<Vec<_>>();
    diesel::sql_query(
        "INSERT INTO zds_profiles SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], \
             $5::bool[], $6::text[], $7::text[], $8::text[], $9::bool[], $10::bool[], $11::bool[], $12::bigint[], \
             $13::bool[], $14::timestamptz[], $15::bool[], $16::timestamptz[], $17::timestamptz[])",
    )
    .bind::<Array<BigInt>, _>(profiles.iter().map(|p| p.pk).collect::<Vec<_>>())
    .bind::<Array<BigInt>, _>(profiles.iter().map(|p| p.user).collect::<Vec<_>>())
    .bind::<Array<Nullable<Text>>, _>(
        profiles
            .iter()
            .map(|p| p.last_ip.map(|ip| ip.to_string()))
            .collect::<Vec<_>>(),
    )
    .bind::<Array<Text>, _>(texts(|p| &p.site))
    .bind::<Array<Bool>, _>(flags(|p| p.show_email))
    .bind::<Array<Text>, _>(texts(|p| &p.avatar_url))
    .bind::<Array<Text>, _>(texts(|p| &p.biography))
    .bind::<Array<Text>, _>(texts(|p| &p.sign))
    .bind::<Array<Bool>, _>(flags(|p| p.show_sign))
    .bind::<Array<Bool>, _>(flags(|p| p.hover_menus))
    .bind::<Array<Bool>, _>(flags(|p| p.email_for_new_mp))
    .bind::<Array<BigInt>, _>(profiles.iter().map(|p| p.karma).collect::<Vec<_>>())
    .bind::<Array<Bool>, _>(flags(|p| p.read.allowed))
    .bind::<Array<Nullable<Timestamptz>>, _>(instants(|p| p.read.end))
    .bind::<Array<Bool>, _>(flags(|p| p.write.allowed))
    .bind::<Array<Nullable<Timestamptz>>, _>(instants(|p| p.write.end))
    .bind::<Array<Nullable<Timestamptz>>, _>(instants(|p| p.last_visit))
    .execute(conn)?;
    Ok(())
}

pub fn stage_bans(conn: &mut PgConnection, bans: &[Ban]) -> Result<(), AppError> {
    diesel::sql_query(
        "INSERT INTO zds_bans SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::text[], \
             $5::text[], $6::timestamptz[])",
    )
    .bind::<Array<BigInt>, _>(bans.iter().map(|b| b.pk).collect::<Vec<_>>())
    .bind::<Array<BigInt>, _>(bans.iter().map(|b| b.user).collect::<Vec<_>>())
    .bind::<Array<Nullable<BigInt>>, _>(bans.iter().map(|b| b.moderator).collect::<Vec<_>>())
    .bind::<Array<Text>, _>(bans.iter().map(|b| b.label.as_str()).collect::<Vec<_>>())
    .bind::<Array<Text>, _>(bans.iter().map(|b| b.note.as_str()).collect::<Vec<_>>())
    .bind::<Array<Nullable<Timestamptz>>, _>(bans.iter().map(|b| b.at).collect::<Vec<_>>())
    .execute(conn)?;
    Ok(())
}

pub fn stage_notes(conn: &mut PgConnection, notes: &[KarmaNote]) -> Result<(), AppError> {
    diesel::sql_query(
        "INSERT INTO zds_notes SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::text[], \
             $5::bigint[], $6::timestamptz[])",
    )
    .bind::<Array<BigInt>, _>(notes.iter().map(|n| n.pk).collect::<Vec<_>>())
    .bind::<Array<BigInt>, _>(notes.iter().map(|n| n.user).collect::<Vec<_>>())
    .bind::<Array<Nullable<BigInt>>, _>(notes.iter().map(|n| n.moderator).collect::<Vec<_>>())
    .bind::<Array<Text>, _>(notes.iter().map(|n| n.note.as_str()).collect::<Vec<_>>())
    .bind::<Array<BigInt>, _>(notes.iter().map(|n| n.karma).collect::<Vec<_>>())
    .bind::<Array<Timestamptz>, _>(notes.iter().map(|n| n.at).collect::<Vec<_>>())
    .execute(conn)?;
    Ok(())
}

/// Once everything is staged: indexes for the joins, and statistics (no
/// autovacuum ever looks at a temporary table), and the lookup tables of
/// what the file's members may not take and who keeps a shared address.
pub fn prepare(conn: &mut PgConnection) -> Result<(), AppError> {
    for statement in [
        "CREATE INDEX ON zds_users (pk)",
        "CREATE INDEX ON zds_users (email_key)",
        "CREATE INDEX ON zds_profiles (user_pk)",
        "CREATE INDEX ON zds_bans (user_pk)",
        "CREATE INDEX ON zds_notes (user_pk)",
        "ANALYZE zds_users",
        "ANALYZE zds_profiles",
        "ANALYZE zds_bans",
        "ANALYZE zds_notes",
        // Names and addresses of members this file does not bring: they win.
        "CREATE TEMP TABLE zds_taken_names ON COMMIT DROP AS \
             SELECT username_skeleton AS skeleton, username FROM members m \
             WHERE NOT EXISTS (SELECT 1 FROM zds_users u WHERE m.legacy_id = 'zds:user:' || u.pk)",
        "CREATE UNIQUE INDEX ON zds_taken_names (skeleton)",
        "CREATE TEMP TABLE zds_taken_addresses ON COMMIT DROP AS \
             SELECT email_key FROM members m WHERE email_key IS NOT NULL \
             AND NOT EXISTS (SELECT 1 FROM zds_users u WHERE m.legacy_id = 'zds:user:' || u.pk)",
        "CREATE INDEX ON zds_taken_addresses (email_key)",
        // An address shared but for case is the login of the most recently active.
        "CREATE TEMP TABLE zds_keepers ON COMMIT DROP AS \
             SELECT DISTINCT ON (u.email_key) u.email_key, u.pk FROM zds_users u \
             LEFT JOIN zds_profiles p ON p.user_pk = u.pk WHERE u.email_key IS NOT NULL \
             ORDER BY u.email_key, greatest(u.date_joined, u.last_login, p.last_visit) DESC, u.pk",
        "CREATE INDEX ON zds_keepers (email_key)",
        "ANALYZE zds_taken_names",
        "ANALYZE zds_taken_addresses",
        "ANALYZE zds_keepers",
    ] {
        diesel::sql_query(statement).execute(conn)?;
    }
    Ok(())
}

#[derive(QueryableByName)]
struct Offender {
    #[diesel(sql_type = BigInt)]
    pk: i64,
    #[diesel(sql_type = BigInt)]
    key: i64,
}

fn first(conn: &mut PgConnection, sql: &str) -> Result<Option<(i64, i64)>, AppError> {
    Ok(diesel::sql_query(sql)
        .load::<Offender>(conn)?
        .first()
        .map(|o| (o.pk, o.key)))
}

/// The first record the file holds twice, as (model, pk).
pub fn first_duplicate(conn: &mut PgConnection) -> Result<Option<(&'static str, i64)>, AppError> {
    for (model, table) in [
        (crate::import::model::USER, "zds_users"),
        (crate::import::model::PROFILE, "zds_profiles"),
        (crate::import::model::BAN, "zds_bans"),
        (crate::import::model::KARMA_NOTE, "zds_notes"),
    ] {
        let sql = format!("SELECT pk, pk AS key FROM {table} GROUP BY pk HAVING count(*) > 1 ORDER BY pk LIMIT 1");
        if let Some((pk, _)) = first(conn, &sql)? {
            return Ok(Some((model, pk)));
        }
    }
    Ok(None)
}

/// The first profile whose user has another one, as (pk, user).
pub fn second_profile(conn: &mut PgConnection) -> Result<Option<(i64, i64)>, AppError> {
    first(
        conn,
        "SELECT max(pk) AS pk, user_pk AS key FROM zds_profiles GROUP BY user_pk HAVING count(*) > 1 \
         ORDER BY user_pk LIMIT 1",
    )
}

/// The first record naming a user the file does not hold, as (model, pk, user).
pub fn first_unknown_user(conn: &mut PgConnection) -> Result<Option<(&'static str, i64, i64)>, AppError> {
    for (model, table) in [
        (crate::import::model::PROFILE, "zds_profiles"),
        (crate::import::model::BAN, "zds_bans"),
        (crate::import::model::KARMA_NOTE, "zds_notes"),
    ] {
        let sql = format!(
            "SELECT r.pk, r.user_pk AS key FROM {table} r \
             WHERE NOT EXISTS (SELECT 1 FROM zds_users u WHERE u.pk = r.user_pk) ORDER BY r.pk LIMIT 1"
        );
        if let Some((pk, user)) = first(conn, &sql)? {
            return Ok(Some((model, pk, user)));
        }
    }
    Ok(None)
}

/// The first user in a group the file does not hold, as (pk, group).
pub fn first_unknown_group(conn: &mut PgConnection, groups: &[i64]) -> Result<Option<(i64, i64)>, AppError> {
    Ok(diesel::sql_query(
        "SELECT u.pk, g AS key FROM zds_users u, unnest(u.groups) AS g WHERE g <> ALL($1) ORDER BY u.pk LIMIT 1",
    )
    .bind::<Array<BigInt>, _>(groups)
    .load::<Offender>(conn)?
    .first()
    .map(|o| (o.pk, o.key)))
}

/// Reads `query` a batch at a time through a cursor, handing each batch to
/// `each` with the connection, free for other statements between fetches.
pub fn each_batch<T, F>(
    conn: &mut PgConnection,
    name: &str,
    query: &str,
    batch: usize,
    mut each: F,
) -> Result<(), AppError>
where
    T: QueryableByName<Pg> + 'static,
    F: FnMut(&mut PgConnection, Vec<T>) -> Result<(), AppError>,
{
    diesel::sql_query(format!("DECLARE {name} NO SCROLL CURSOR FOR {query}")).execute(conn)?;
    loop {
        let rows: Vec<T> = diesel::sql_query(format!("FETCH {batch} FROM {name}")).load(conn)?;
        if rows.is_empty() {
            break;
        }
        each(conn, rows)?;
    }
    diesel::sql_query(format!("CLOSE {name}")).execute(conn)?;
    Ok(())
}

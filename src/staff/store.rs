//! Queries behind staff-managed lists.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::schema::{app_meta, forbidden_email_domains};

const SEEDED_MARKER: &str = "forbidden_email_domains_seeded";

/// Fills the forbidden-domain list from the shipped file on first start only:
/// after that the list belongs to staff, and a domain they removed stays removed.
pub fn seed_forbidden_domains(conn: &mut PgConnection, domains: &[String], now: DateTime<Utc>) -> QueryResult<usize> {
    conn.transaction(|conn| {
        let first = diesel::insert_into(app_meta::table)
            .values((app_meta::key.eq(SEEDED_MARKER), app_meta::value.eq(now.to_rfc3339())))
            .on_conflict_do_nothing()
            .execute(conn)?;
        if first == 0 {
            return Ok(0);
        }
        let mut inserted = 0;
        for chunk in domains.chunks(5_000) {
            let rows: Vec<_> = chunk
                .iter()
                .map(|d| {
                    (
                        forbidden_email_domains::domain.eq(d),
                        forbidden_email_domains::created_at.eq(now),
                    )
                })
                .collect();
            inserted += diesel::insert_into(forbidden_email_domains::table)
                .values(rows)
                .on_conflict_do_nothing()
                .execute(conn)?;
        }
        Ok(inserted)
    })
}

/// Normalises the lines of a domain list: lower case, no blanks or comments.
pub fn parse_domain_list(text: &str) -> Vec<String> {
    text.lines()
        .map(|line| {
            line.trim()
                .trim_start_matches("*.")
                .trim_end_matches('.')
                .to_lowercase()
        })
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .collect()
}

use crate::error::AppError;
use crate::pagination::{Page, Paged};
use crate::schema::{groups, member_groups, members};
use crate::staff::model::StaffError;
use diesel::sql_types::{BigInt, Text, Timestamptz};

/// A group: its id, its name and how many members it has.
pub type GroupRow = (i64, String, i64);

/// A page of the groups by name, and how many groups there are.
pub fn groups_with_counts(conn: &mut PgConnection, page: Page) -> Result<Paged<GroupRow>, AppError> {
    let total = groups::table.count().get_result(conn)?;
    let rows: Vec<(i64, String)> = groups::table
        .order(groups::name.asc())
        .offset(page.offset())
        .limit(page.per_page)
        .select((groups::id, groups::name))
        .load(conn)?;
    let ids: Vec<i64> = rows.iter().map(|(id, _)| *id).collect();
    let counts: Vec<(i64, i64)> = member_groups::table
        .filter(member_groups::group_id.eq_any(&ids))
        .group_by(member_groups::group_id)
        .select((member_groups::group_id, diesel::dsl::count_star()))
        .load(conn)?;
    let rows = rows
        .into_iter()
        .map(|(id, name)| (id, name, counts.iter().find(|(g, _)| *g == id).map_or(0, |(_, n)| *n)))
        .collect();
    Ok(Paged::new(rows, page, total))
}

pub fn create_group(conn: &mut PgConnection, name: &str, now: DateTime<Utc>) -> Result<i64, AppError> {
    diesel::insert_into(groups::table)
        .values((groups::name.eq(name), groups::created_at.eq(now)))
        .returning(groups::id)
        .get_result(conn)
        .map_err(|error| match error {
            diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _) => {
                StaffError::GroupExists(name.to_string()).into()
            }
            other => other.into(),
        })
}

/// The groups with these names, by id.
pub fn groups_named(conn: &mut PgConnection, names: &[String]) -> Result<Vec<(i64, String)>, AppError> {
    Ok(groups::table
        .filter(groups::name.eq_any(names))
        .select((groups::id, groups::name))
        .load(conn)?)
}

pub fn groups_of(conn: &mut PgConnection, member_id: i64) -> Result<Vec<String>, AppError> {
    Ok(member_groups::table
        .inner_join(groups::table)
        .filter(member_groups::member_id.eq(member_id))
        .order(groups::name.asc())
        .select(groups::name)
        .load(conn)?)
}

pub fn set_groups(conn: &mut PgConnection, member_id: i64, group_ids: &[i64]) -> Result<(), AppError> {
    diesel::delete(member_groups::table.filter(member_groups::member_id.eq(member_id))).execute(conn)?;
    let rows: Vec<_> = group_ids
        .iter()
        .map(|g| (member_groups::member_id.eq(member_id), member_groups::group_id.eq(*g)))
        .collect();
    diesel::insert_into(member_groups::table).values(rows).execute(conn)?;
    Ok(())
}

/// Sets a member's role flags, and whether they may open sessions:
/// `deactivated_at` says when a superuser deactivated them, if they are.
pub fn set_flags(
    conn: &mut PgConnection,
    member_id: i64,
    staff: bool,
    superuser: bool,
    is_active: bool,
    deactivated_at: Option<DateTime<Utc>>,
) -> Result<(), AppError> {
    diesel::update(members::table.find(member_id))
        .set((
            members::is_staff.eq(staff),
            members::is_superuser.eq(superuser),
            members::is_active.eq(is_active),
            members::deactivated_at.eq(deactivated_at),
        ))
        .execute(conn)?;
    Ok(())
}

/// Active superusers, locked, so that two demotions cannot both pass the
/// "not the last one" check.
pub fn lock_superusers(conn: &mut PgConnection) -> Result<Vec<i64>, AppError> {
    Ok(members::table
        .filter(members::is_superuser.eq(true))
        .filter(members::is_active.eq(true))
        .select(members::id)
        .for_update()
        .load(conn)?)
}

#[derive(QueryableByName)]
pub struct SeenAt {
    #[diesel(sql_type = BigInt)]
    pub member_id: i64,
    #[diesel(sql_type = Text)]
    pub username: String,
    #[diesel(sql_type = Text)]
    pub ip: String,
    #[diesel(sql_type = Timestamptz)]
    pub first_seen_at: DateTime<Utc>,
    #[diesel(sql_type = Timestamptz)]
    pub last_seen_at: DateTime<Utc>,
}

/// Members seen at any address of `network`, most recent first.
/// A page of the members seen in a network, most recent first, and how many
/// there are.
pub fn members_in_network(conn: &mut PgConnection, network: &str, page: Page) -> Result<Paged<SeenAt>, AppError> {
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        count: i64,
    }
    let total = diesel::sql_query("SELECT count(*) AS count FROM member_ips WHERE ip::inet <<= $1::inet")
        .bind::<Text, _>(network)
        .get_result::<Count>(conn)?
        .count;
    let rows = diesel::sql_query(
        "SELECT i.member_id, m.username, i.ip, i.first_seen_at, i.last_seen_at \
         FROM member_ips i JOIN members m ON m.id = i.member_id \
         WHERE i.ip::inet <<= $1::inet ORDER BY i.last_seen_at DESC, i.member_id, i.ip OFFSET $2 LIMIT $3",
    )
    .bind::<Text, _>(network)
    .bind::<BigInt, _>(page.offset())
    .bind::<BigInt, _>(page.per_page)
    .load(conn)?;
    Ok(Paged::new(rows, page, total))
}

/// A forbidden domain and when it was added.
pub type DomainRow = (String, DateTime<Utc>);

pub fn domains(
    conn: &mut PgConnection,
    prefix: Option<&str>,
    offset: i64,
    limit: i64,
) -> Result<(Vec<DomainRow>, i64), AppError> {
    let query = || {
        let mut query = forbidden_email_domains::table.into_boxed();
        if let Some(prefix) = prefix {
            query = query.filter(
                forbidden_email_domains::domain.like(format!("{}%", prefix.replace('%', "").replace('_', "\\_"))),
            );
        }
        query
    };
    let total = query().count().get_result(conn)?;
    let rows = query()
        .order(forbidden_email_domains::domain.asc())
        .offset(offset)
        .limit(limit)
        .select((forbidden_email_domains::domain, forbidden_email_domains::created_at))
        .load(conn)?;
    Ok((rows, total))
}

pub fn add_domain(conn: &mut PgConnection, domain: &str, now: DateTime<Utc>) -> Result<(), AppError> {
    let added = diesel::insert_into(forbidden_email_domains::table)
        .values((
            forbidden_email_domains::domain.eq(domain),
            forbidden_email_domains::created_at.eq(now),
        ))
        .on_conflict_do_nothing()
        .execute(conn)?;
    if added == 0 {
        return Err(StaffError::DomainExists(domain.to_string()).into());
    }
    Ok(())
}

pub fn remove_domain(conn: &mut PgConnection, domain: &str) -> Result<(), AppError> {
    let removed = diesel::delete(forbidden_email_domains::table.find(domain)).execute(conn)?;
    if removed == 0 {
        return Err(StaffError::DomainNotFound(domain.to_string()).into());
    }
    Ok(())
}

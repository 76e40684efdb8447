//! Queries on the addresses members were seen at.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::error::AppError;
use crate::pagination::{Page, Paged};
use crate::schema::{member_ips, members};

/// Deletes IP records last seen before `cutoff`, and blanks the address of a
/// last login made before it; returns how many rows changed.
pub fn prune_ips(conn: &mut PgConnection, cutoff: DateTime<Utc>) -> Result<usize, AppError> {
    let records = diesel::delete(member_ips::table.filter(member_ips::last_seen_at.lt(cutoff))).execute(conn)?;
    let last = diesel::update(
        members::table
            .filter(members::last_ip.is_not_null())
            .filter(members::last_login_at.is_null().or(members::last_login_at.lt(cutoff))),
    )
    .set(members::last_ip.eq(None::<String>))
    .execute(conn)?;
    Ok(records + last)
}

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = member_ips)]
pub struct IpRecord {
    pub ip: String,
    pub first_seen_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
}

pub fn ips_of(conn: &mut PgConnection, id: i64) -> Result<Vec<IpRecord>, AppError> {
    Ok(member_ips::table
        .filter(member_ips::member_id.eq(id))
        .order(member_ips::last_seen_at.desc())
        .select(IpRecord::as_select())
        .load(conn)?)
}

/// A page of a member's addresses, most recent first, and how many there are.
pub fn ips_page(conn: &mut PgConnection, id: i64, page: Page) -> Result<Paged<IpRecord>, AppError> {
    let of_member = || member_ips::table.filter(member_ips::member_id.eq(id));
    let total = of_member().count().get_result(conn)?;
    let rows = of_member()
        .order((member_ips::last_seen_at.desc(), member_ips::ip.asc()))
        .offset(page.offset())
        .limit(page.per_page)
        .select(IpRecord::as_select())
        .load(conn)?;
    Ok(Paged::new(rows, page, total))
}

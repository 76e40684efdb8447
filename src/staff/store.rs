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

//! What a member leaves behind: their records, counted for unregistration.

use diesel::prelude::*;

use crate::error::AppError;
use crate::schema::{member_ips, sessions, username_history};

/// How much of each kind of record unregistering would delete.
pub struct PersonalRecords {
    pub sessions: i64,
    /// Second factors, pending ones too, and recovery codes.
    pub second_factors: i64,
    pub recovery_codes: i64,
    pub ip_records: i64,
    pub username_changes: i64,
    pub tokens: i64,
    pub events: i64,
    /// Sanctions and karma notes about the member.
    pub sanctions_about: i64,
    pub karma_notes_about: i64,
    /// Audit entries by or about the member.
    pub audit_entries: i64,
    /// What the member did as staff.
    pub sanctions_given: i64,
    pub karma_notes_written: i64,
}

pub fn personal_records(conn: &mut PgConnection, id: i64) -> Result<PersonalRecords, AppError> {
    use crate::schema::{audit_log, karma_notes, member_tokens, sanctions};
    use crate::schema::{member_factors, recovery_codes};
    Ok(PersonalRecords {
        sessions: sessions::table
            .filter(sessions::member_id.eq(id))
            .count()
            .get_result(conn)?,
        second_factors: member_factors::table
            .filter(member_factors::member_id.eq(id))
            .count()
            .get_result(conn)?,
        recovery_codes: recovery_codes::table
            .filter(recovery_codes::member_id.eq(id))
            .count()
            .get_result(conn)?,
        ip_records: member_ips::table
            .filter(member_ips::member_id.eq(id))
            .count()
            .get_result(conn)?,
        username_changes: username_history::table
            .filter(username_history::member_id.eq(id))
            .count()
            .get_result(conn)?,
        tokens: member_tokens::table
            .filter(member_tokens::member_id.eq(id))
            .count()
            .get_result(conn)?,
        events: crate::schema::events::table
            .filter(crate::schema::events::member_id.eq(id))
            .count()
            .get_result(conn)?,
        sanctions_about: sanctions::table
            .filter(sanctions::member_id.eq(id))
            .count()
            .get_result(conn)?,
        karma_notes_about: karma_notes::table
            .filter(karma_notes::member_id.eq(id))
            .count()
            .get_result(conn)?,
        audit_entries: audit_log::table
            .filter(audit_log::actor_id.eq(id).or(audit_log::target_member_id.eq(id)))
            .count()
            .get_result(conn)?,
        sanctions_given: sanctions::table
            .filter(sanctions::moderator_id.eq(id).or(sanctions::ended_by.eq(id)))
            .count()
            .get_result(conn)?,
        karma_notes_written: karma_notes::table
            .filter(karma_notes::author_id.eq(id))
            .count()
            .get_result(conn)?,
    })
}

//! Queries on karma notes.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::error::AppError;
use crate::karma::model::KarmaNote;
use crate::pagination::{Page, Paged};
use crate::schema::karma_notes;

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = karma_notes)]
pub struct NoteRow {
    pub id: i64,
    pub member_id: i64,
    pub author_id: Option<i64>,
    pub note: String,
    pub karma: i32,
    pub created_at: DateTime<Utc>,
}

/// Adds a note; `author_id` None means memberd itself wrote it.
pub fn insert(
    conn: &mut PgConnection,
    member_id: i64,
    author_id: Option<i64>,
    note: &KarmaNote,
    now: DateTime<Utc>,
) -> Result<NoteRow, AppError> {
    Ok(diesel::insert_into(karma_notes::table)
        .values((
            karma_notes::member_id.eq(member_id),
            karma_notes::author_id.eq(author_id),
            karma_notes::note.eq(&note.note),
            karma_notes::karma.eq(note.karma),
            karma_notes::created_at.eq(now),
        ))
        .returning(NoteRow::as_returning())
        .get_result(conn)?)
}

/// A page of a member's notes, newest first, and how many there are.
pub fn of_member(conn: &mut PgConnection, member_id: i64, page: Page) -> Result<Paged<NoteRow>, AppError> {
    let of_member = || karma_notes::table.filter(karma_notes::member_id.eq(member_id));
    let count = of_member().count().get_result(conn)?;
    let rows = of_member()
        .order((karma_notes::created_at.desc(), karma_notes::id.desc()))
        .offset(page.offset())
        .limit(page.per_page)
        .select(NoteRow::as_select())
        .load(conn)?;
    Ok(Paged::new(rows, page, count))
}

pub fn total(conn: &mut PgConnection, member_id: i64) -> Result<i64, AppError> {
    let sum: Option<i64> = karma_notes::table
        .filter(karma_notes::member_id.eq(member_id))
        .select(diesel::dsl::sum(karma_notes::karma))
        .first(conn)?;
    Ok(sum.unwrap_or(0))
}

/// On unregistration: notes the member wrote stay, under the placeholder.
pub fn reattribute(conn: &mut PgConnection, from: i64, to: i64) -> Result<(), AppError> {
    diesel::update(karma_notes::table.filter(karma_notes::author_id.eq(from)))
        .set(karma_notes::author_id.eq(to))
        .execute(conn)?;
    Ok(())
}

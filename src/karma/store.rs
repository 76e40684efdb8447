//! Queries on karma notes.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Integer, Text, Timestamptz};

use crate::db::{column, prepared};
use crate::error::AppError;
use crate::karma::model::KarmaNote;
use crate::pagination::{Page, Paged};
use crate::schema::karma_notes;

#[derive(Debug, Queryable, QueryableByName, Selectable)]
#[diesel(table_name = karma_notes)]
pub struct NoteRow {
    pub id: i64,
    pub member_id: i64,
    pub author_id: Option<i64>,
    pub note: String,
    pub karma: i32,
    pub created_at: DateTime<Utc>,
}

/// A note with its author's name, as readers see it.
pub struct NoteView {
    pub row: NoteRow,
    pub author_name: Option<String>,
}

/// A note to store among others (`insert_many`).
pub struct NewNote<'a> {
    pub member_id: i64,
    pub author_id: i64,
    pub note: &'a KarmaNote,
    pub now: DateTime<Utc>,
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

/// Adds notes in one statement; the stored rows come back in the order
/// given.
pub fn insert_many(conn: &mut PgConnection, notes: &[NewNote]) -> Result<Vec<NoteRow>, AppError> {
    let mut rows: Vec<NoteRow> = prepared(
        "INSERT INTO karma_notes (member_id, author_id, note, karma, created_at) \
         SELECT member_id, author_id, note, karma, created_at \
         FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::int[], $5::timestamptz[]) WITH ORDINALITY \
           AS i(member_id, author_id, note, karma, created_at, n) \
         ORDER BY n \
         RETURNING id, member_id, author_id, note, karma, created_at",
    )
    .bind::<Array<BigInt>, _>(column(notes, |n| n.member_id))
    .bind::<Array<BigInt>, _>(column(notes, |n| n.author_id))
    .bind::<Array<Text>, _>(column(notes, |n| n.note.note.as_str()))
    .bind::<Array<Integer>, _>(column(notes, |n| n.note.karma))
    .bind::<Array<Timestamptz>, _>(column(notes, |n| n.now))
    .load(conn)?;
    // Rows are inserted, and take their ids, in the order given; RETURNING
    // promises no order, the ids do.
    rows.sort_by_key(|row| row.id);
    Ok(rows)
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

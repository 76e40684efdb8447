//! Queries on appeals.

use chrono::{DateTime, Utc};
use diesel::deserialize;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::sql_types::{Nullable, Text};

use crate::cases::model::AppealOutcome;
use crate::error::AppError;
use crate::pagination::{Page, Paged};
use crate::schema::appeals;

/// A stored outcome, or none yet, read as the domain's: an outcome no
/// version wrote fails the read.
pub struct MaybeOutcome(Option<AppealOutcome>);

impl Queryable<Nullable<Text>, Pg> for MaybeOutcome {
    type Row = Option<String>;

    fn build(row: Option<String>) -> deserialize::Result<Self> {
        row.map(|text| AppealOutcome::parse(&text).ok_or_else(|| format!("unknown appeal outcome {text}").into()))
            .transpose()
            .map(MaybeOutcome)
    }
}

impl From<MaybeOutcome> for Option<AppealOutcome> {
    fn from(stored: MaybeOutcome) -> Self {
        stored.0
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = appeals)]
pub struct AppealRow {
    pub id: i64,
    pub sanction_id: i64,
    pub member_id: i64,
    pub text: String,
    pub created_at: DateTime<Utc>,
    #[diesel(deserialize_as = MaybeOutcome)]
    pub outcome: Option<AppealOutcome>,
    pub reason: Option<String>,
    pub decided_by: Option<i64>,
    pub decided_at: Option<DateTime<Utc>>,
    pub previous_duration_seconds: Option<i64>,
    pub reduced_duration_seconds: Option<i64>,
}

/// Files the appeal; None when the sanction has one already (one statement,
/// so that two appeals at once cannot both be filed).
pub fn insert(
    conn: &mut PgConnection,
    sanction_id: i64,
    member_id: i64,
    text: &str,
    now: DateTime<Utc>,
) -> Result<Option<AppealRow>, AppError> {
    Ok(diesel::insert_into(appeals::table)
        .values((
            appeals::sanction_id.eq(sanction_id),
            appeals::member_id.eq(member_id),
            appeals::text.eq(text),
            appeals::created_at.eq(now),
        ))
        .on_conflict_do_nothing()
        .returning(AppealRow::as_returning())
        .get_result(conn)
        .optional()?)
}

pub fn of_sanction(conn: &mut PgConnection, sanction_id: i64) -> Result<Option<AppealRow>, AppError> {
    Ok(appeals::table
        .filter(appeals::sanction_id.eq(sanction_id))
        .select(AppealRow::as_select())
        .first(conn)
        .optional()?)
}

pub fn of_sanctions(conn: &mut PgConnection, sanction_ids: &[i64]) -> Result<Vec<AppealRow>, AppError> {
    Ok(appeals::table
        .filter(appeals::sanction_id.eq_any(sanction_ids))
        .select(AppealRow::as_select())
        .load(conn)?)
}

pub fn find_for_update(conn: &mut PgConnection, id: i64) -> Result<Option<AppealRow>, AppError> {
    Ok(appeals::table
        .find(id)
        .select(AppealRow::as_select())
        .for_update()
        .first(conn)
        .optional()?)
}

/// What a decision writes on its appeal.
pub struct Decided<'a> {
    pub outcome: AppealOutcome,
    pub reason: &'a str,
    pub by: i64,
    /// For a reduction: the sanction's duration before and after, in seconds.
    pub reduction: Option<(Option<i64>, i64)>,
}

pub fn decide(conn: &mut PgConnection, id: i64, decided: Decided, now: DateTime<Utc>) -> Result<AppealRow, AppError> {
    Ok(diesel::update(appeals::table.find(id))
        .set((
            appeals::outcome.eq(decided.outcome.as_str()),
            appeals::reason.eq(decided.reason),
            appeals::decided_by.eq(decided.by),
            appeals::decided_at.eq(now),
            appeals::previous_duration_seconds.eq(decided.reduction.and_then(|(before, _)| before)),
            appeals::reduced_duration_seconds.eq(decided.reduction.map(|(_, after)| after)),
        ))
        .returning(AppealRow::as_returning())
        .get_result(conn)?)
}

/// A page of appeals for staff: open ones oldest first, decided ones latest
/// decided first; None lists open ones, then decided ones.
pub fn list(conn: &mut PgConnection, decided: Option<bool>, page: Page) -> Result<Paged<AppealRow>, AppError> {
    let filtered = || {
        let query = appeals::table.into_boxed();
        match decided {
            Some(true) => query.filter(appeals::outcome.is_not_null()),
            Some(false) => query.filter(appeals::outcome.is_null()),
            None => query,
        }
    };
    let total = filtered().count().get_result(conn)?;
    let rows = filtered()
        .order((
            appeals::decided_at.is_not_null(),
            appeals::decided_at.desc(),
            appeals::created_at.asc(),
            appeals::id.asc(),
        ))
        .offset(page.offset())
        .limit(page.per_page)
        .select(AppealRow::as_select())
        .load(conn)?;
    Ok(Paged::new(rows, page, total))
}

/// A page of a member's appeals, newest first.
pub fn of_member(conn: &mut PgConnection, member_id: i64, page: Page) -> Result<Paged<AppealRow>, AppError> {
    let of_member = || appeals::table.filter(appeals::member_id.eq(member_id));
    let total = of_member().count().get_result(conn)?;
    let rows = of_member()
        .order((appeals::created_at.desc(), appeals::id.desc()))
        .offset(page.offset())
        .limit(page.per_page)
        .select(AppealRow::as_select())
        .load(conn)?;
    Ok(Paged::new(rows, page, total))
}

/// On unregistration: decisions the member took as staff stay, under the placeholder.
pub fn reattribute(conn: &mut PgConnection, from: i64, to: i64) -> Result<(), AppError> {
    diesel::update(appeals::table.filter(appeals::decided_by.eq(from)))
        .set(appeals::decided_by.eq(to))
        .execute(conn)?;
    Ok(())
}

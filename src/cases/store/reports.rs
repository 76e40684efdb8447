//! Queries on reports, what each reporter said, and reporters' tallies.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::BigInt;

use crate::cases::model::{Outcome, ReportReason, ReportState, Resolution};
use crate::cases::store::stored;
use crate::error::AppError;
use crate::pagination::{Page, Paged};
use crate::sanctions::model::Action;
use crate::schema::{report_entries, reporter_tallies, reports};

stored!(StoredState, ReportState);
stored!(StoredReason, ReportReason);

#[derive(Debug, Clone, Queryable, QueryableByName, Selectable)]
#[diesel(table_name = reports)]
pub struct ReportRow {
    pub id: i64,
    pub member_id: i64,
    pub resource: Option<String>,
    #[diesel(deserialize_as = StoredState)]
    pub state: ReportState,
    pub assignee_id: Option<i64>,
    pub claimed_at: Option<DateTime<Utc>>,
    pub resolution_note: Option<String>,
    pub resolution_message: Option<String>,
    pub resolved_by: Option<i64>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub sanction_id: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = report_entries)]
pub struct EntryRow {
    pub report_id: i64,
    pub reporter_id: i64,
    #[diesel(deserialize_as = StoredReason)]
    pub reason: ReportReason,
    pub text: String,
    pub evidence_url: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// What one reporter said, with how their earlier reports ended.
pub struct EntryView {
    pub row: EntryRow,
    pub reporter_name: String,
    /// Their reports actioned and dismissed so far.
    pub tally: (i32, i32),
}

/// A report with the names of the people in it. Who may read which part is
/// the HTTP layer's view of it.
pub struct ReportView {
    pub row: ReportRow,
    pub member_name: String,
    pub assignee_name: Option<String>,
    pub resolved_by_name: Option<String>,
    pub entries: Vec<EntryView>,
    /// The kind of the sanction it led to.
    pub sanction_kind: Option<Action>,
}

pub fn find(conn: &mut PgConnection, id: i64) -> Result<Option<ReportRow>, AppError> {
    Ok(reports::table
        .find(id)
        .select(ReportRow::as_select())
        .first(conn)
        .optional()?)
}

pub fn find_for_update(conn: &mut PgConnection, id: i64) -> Result<Option<ReportRow>, AppError> {
    Ok(reports::table
        .find(id)
        .select(ReportRow::as_select())
        .for_update()
        .first(conn)
        .optional()?)
}

/// What the reporters of these reports said, oldest first.
pub fn entries_of(conn: &mut PgConnection, report_ids: &[i64]) -> Result<Vec<EntryRow>, AppError> {
    Ok(report_entries::table
        .filter(report_entries::report_id.eq_any(report_ids))
        .order((report_entries::created_at.asc(), report_entries::reporter_id.asc()))
        .select(EntryRow::as_select())
        .load(conn)?)
}

/// Gives the report to `assignee` (None: back to the queue).
pub fn set_assignee(
    conn: &mut PgConnection,
    id: i64,
    assignee: Option<i64>,
    now: DateTime<Utc>,
) -> Result<ReportRow, AppError> {
    let state = if assignee.is_some() {
        ReportState::Claimed
    } else {
        ReportState::Open
    };
    Ok(diesel::update(reports::table.find(id))
        .set((
            reports::state.eq(state.as_str()),
            reports::assignee_id.eq(assignee),
            reports::claimed_at.eq(assignee.map(|_| now)),
            reports::updated_at.eq(now),
        ))
        .returning(ReportRow::as_returning())
        .get_result(conn)?)
}

pub fn resolve(
    conn: &mut PgConnection,
    id: i64,
    resolution: &Resolution,
    by: i64,
    now: DateTime<Utc>,
) -> Result<ReportRow, AppError> {
    let report = diesel::update(reports::table.find(id))
        .set((
            reports::state.eq(resolution.outcome.state().as_str()),
            reports::assignee_id.eq(Some(by)),
            reports::resolution_note.eq(&resolution.note),
            reports::resolution_message.eq(&resolution.message),
            reports::resolved_by.eq(by),
            reports::resolved_at.eq(now),
            reports::sanction_id.eq(resolution.sanction_id),
            reports::updated_at.eq(now),
        ))
        .returning(ReportRow::as_returning())
        .get_result(conn)?;
    let (actioned, dismissed) = match resolution.outcome {
        Outcome::Actioned => (1, 0),
        Outcome::Dismissed => (0, 1),
    };
    diesel::sql_query(
        "INSERT INTO reporter_tallies (member_id, actioned, dismissed) \
         SELECT reporter_id, $2, $3 FROM report_entries WHERE report_id = $1 \
         ON CONFLICT (member_id) DO UPDATE SET \
           actioned = reporter_tallies.actioned + EXCLUDED.actioned, \
           dismissed = reporter_tallies.dismissed + EXCLUDED.dismissed",
    )
    .bind::<BigInt, _>(id)
    .bind::<diesel::sql_types::Integer, _>(actioned)
    .bind::<diesel::sql_types::Integer, _>(dismissed)
    .execute(conn)?;
    Ok(report)
}

/// How many of each reporter's reports were actioned and dismissed.
pub fn tallies(conn: &mut PgConnection, reporter_ids: &[i64]) -> Result<HashMap<i64, (i32, i32)>, AppError> {
    Ok(reporter_tallies::table
        .filter(reporter_tallies::member_id.eq_any(reporter_ids))
        .select((
            reporter_tallies::member_id,
            reporter_tallies::actioned,
            reporter_tallies::dismissed,
        ))
        .load::<(i64, i32, i32)>(conn)?
        .into_iter()
        .map(|(id, actioned, dismissed)| (id, (actioned, dismissed)))
        .collect())
}

/// Which reports the staff list shows.
#[derive(Debug, Default, Clone)]
pub struct ReportFilter {
    /// None: the queue (open and claimed).
    pub state: Option<ReportState>,
    pub member_id: Option<i64>,
    pub reporter_id: Option<i64>,
    pub resource: Option<String>,
    pub assignee_id: Option<i64>,
}

fn filtered(filter: &ReportFilter) -> reports::BoxedQuery<'_, diesel::pg::Pg> {
    let mut query = reports::table.into_boxed();
    query = match filter.state {
        None => query.filter(reports::state.eq_any([ReportState::Open.as_str(), ReportState::Claimed.as_str()])),
        Some(state) => query.filter(reports::state.eq(state.as_str())),
    };
    if let Some(member) = filter.member_id {
        query = query.filter(reports::member_id.eq(member));
    }
    if let Some(reporter) = filter.reporter_id {
        query = query.filter(
            reports::id.eq_any(
                report_entries::table
                    .filter(report_entries::reporter_id.eq(reporter))
                    .select(report_entries::report_id),
            ),
        );
    }
    if let Some(resource) = &filter.resource {
        query = query.filter(reports::resource.eq(resource));
    }
    if let Some(assignee) = filter.assignee_id {
        query = query.filter(reports::assignee_id.eq(assignee));
    }
    query
}

/// A page of reports: the queue oldest first, closed ones latest closed first.
pub fn list(conn: &mut PgConnection, filter: &ReportFilter, page: Page) -> Result<Paged<ReportRow>, AppError> {
    let total = filtered(filter).count().get_result(conn)?;
    let query = filtered(filter);
    let query = match filter.state {
        Some(state) if state.is_closed() => query.order((reports::resolved_at.desc(), reports::id.desc())),
        _ => query.order((reports::created_at.asc(), reports::id.asc())),
    };
    let rows = query
        .offset(page.offset())
        .limit(page.per_page)
        .select(ReportRow::as_select())
        .load(conn)?;
    Ok(Paged::new(rows, page, total))
}

/// A page of the reports a member filed, newest first, with what they said.
pub fn filed_by(
    conn: &mut PgConnection,
    reporter_id: i64,
    page: Page,
) -> Result<Paged<(ReportRow, EntryRow)>, AppError> {
    let of_reporter = || report_entries::table.filter(report_entries::reporter_id.eq(reporter_id));
    let total = of_reporter().count().get_result(conn)?;
    let rows = of_reporter()
        .inner_join(reports::table)
        .order((report_entries::created_at.desc(), report_entries::report_id.desc()))
        .offset(page.offset())
        .limit(page.per_page)
        .select((ReportRow::as_select(), EntryRow::as_select()))
        .load(conn)?;
    Ok(Paged::new(rows, page, total))
}

/// On unregistration: what the member said as a reporter goes, and so does
/// every open report only they had filed; a closed one stays, its staff
/// decision with it. What they did as staff stays under the placeholder.
pub fn forget_reporter(conn: &mut PgConnection, member_id: i64, placeholder_id: i64) -> Result<(), AppError> {
    let theirs: Vec<i64> = diesel::delete(report_entries::table.filter(report_entries::reporter_id.eq(member_id)))
        .returning(report_entries::report_id)
        .get_results(conn)?;
    diesel::delete(
        reports::table
            .filter(reports::id.eq_any(&theirs))
            .filter(reports::state.eq_any([ReportState::Open.as_str(), ReportState::Claimed.as_str()]))
            .filter(diesel::dsl::not(diesel::dsl::exists(
                report_entries::table.filter(report_entries::report_id.eq(reports::id)),
            ))),
    )
    .execute(conn)?;
    // A claim they held goes back to the queue; a decision they took stays theirs, anonymised.
    diesel::update(
        reports::table
            .filter(reports::assignee_id.eq(member_id))
            .filter(reports::state.eq(ReportState::Claimed.as_str())),
    )
    .set((
        reports::state.eq(ReportState::Open.as_str()),
        reports::assignee_id.eq(None::<i64>),
        reports::claimed_at.eq(None::<DateTime<Utc>>),
    ))
    .execute(conn)?;
    diesel::update(reports::table.filter(reports::assignee_id.eq(member_id)))
        .set(reports::assignee_id.eq(placeholder_id))
        .execute(conn)?;
    diesel::update(reports::table.filter(reports::resolved_by.eq(member_id)))
        .set(reports::resolved_by.eq(placeholder_id))
        .execute(conn)?;
    Ok(())
}

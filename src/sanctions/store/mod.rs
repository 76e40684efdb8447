//! Queries on sanctions.

use chrono::{DateTime, Utc};
use diesel::deserialize::{self, FromSql, FromSqlRow};
use diesel::pg::{Pg, PgValue};
use diesel::prelude::*;
use diesel::sql_types::{Bool, Text, Timestamptz};

use crate::duration::Duration;
use crate::error::AppError;
use crate::sanctions::model::{Action, Ending, EndingKind, Entry, History, Slot, Until};
use crate::schema::{members, sanction_counts, sanctions};

mod many;
pub use many::{insert_many, of_members};

/// A stored kind, read as the domain's [`Action`]: a kind no version wrote
/// fails the read rather than reaching the queue model.
#[derive(FromSqlRow)]
pub struct StoredAction(Action);

impl FromSql<Text, Pg> for StoredAction {
    fn from_sql(bytes: PgValue<'_>) -> deserialize::Result<Self> {
        let text = <String as FromSql<Text, Pg>>::from_sql(bytes)?;
        Action::parse(&text)
            .map(StoredAction)
            .ok_or_else(|| format!("unknown sanction kind {text}").into())
    }
}

impl From<StoredAction> for Action {
    fn from(stored: StoredAction) -> Self {
        stored.0
    }
}

#[derive(Debug, Clone, Queryable, QueryableByName, Selectable)]
#[diesel(table_name = sanctions)]
pub struct SanctionRow {
    pub id: i64,
    pub member_id: i64,
    #[diesel(deserialize_as = StoredAction)]
    pub kind: Action,
    pub resource: Option<String>,
    pub reason: String,
    pub private_note: String,
    pub duration_seconds: Option<i64>,
    pub moderator_id: i64,
    pub created_at: DateTime<Utc>,
    pub ended_kind: Option<String>,
    pub ended_at: Option<DateTime<Utc>>,
    pub ended_by: Option<i64>,
    pub end_reason: Option<String>,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    pub expiry_recorded: bool,
}

impl SanctionRow {
    pub fn entry(&self) -> Result<Entry, AppError> {
        let ending = match (self.ended_kind.as_deref(), self.ended_at) {
            (Some(kind), Some(at)) => Some(Ending {
                kind: match kind {
                    "forgiven" => EndingKind::Forgiven,
                    "reverted" => EndingKind::Reverted,
                    "replaced" => EndingKind::Replaced,
                    _ => EndingKind::Lifted,
                },
                at,
            }),
            _ => None,
        };
        let duration = self
            .duration_seconds
            .map(|s| Duration::from_secs(s.unsigned_abs()))
            .transpose()
            .map_err(AppError::internal)?;
        Ok(Entry {
            id: self.id,
            action: self.kind,
            resource: self.resource.clone(),
            created_at: self.created_at,
            duration,
            ending,
        })
    }
}

pub fn history_of(rows: &[SanctionRow]) -> Result<History, AppError> {
    Ok(History::new(
        rows.iter().map(SanctionRow::entry).collect::<Result<_, _>>()?,
    ))
}

/// Every sanction about a member, oldest first.
pub fn of_member(conn: &mut PgConnection, member_id: i64) -> Result<Vec<SanctionRow>, AppError> {
    Ok(sanctions::table
        .filter(sanctions::member_id.eq(member_id))
        .order((sanctions::created_at.asc(), sanctions::id.asc()))
        .select(SanctionRow::as_select())
        .load(conn)?)
}

/// How many sanctions and lifts a member's history holds, as the trigger
/// `sanctions_counted` keeps it.
pub fn count_of_member(conn: &mut PgConnection, member_id: i64) -> Result<i64, AppError> {
    Ok(sanction_counts::table
        .find(member_id)
        .select(sanction_counts::sanctions)
        .first(conn)
        .optional()?
        .unwrap_or(0))
}

/// A stretch of a member's history, newest first, leaving out `except` (the
/// running and queued ones, shown before it). The ids come from
/// `sanctions_member_idx` alone, so a deep stretch skips index entries, not
/// rows.
pub fn past_of_member(
    conn: &mut PgConnection,
    member_id: i64,
    except: &[i64],
    offset: i64,
    limit: i64,
) -> Result<Vec<SanctionRow>, AppError> {
    let ids: Vec<i64> = sanctions::table
        .filter(sanctions::member_id.eq(member_id))
        .filter(sanctions::id.ne_all(except))
        .order((sanctions::created_at.desc(), sanctions::id.desc()))
        .offset(offset)
        .limit(limit)
        .select(sanctions::id)
        .load(conn)?;
    let mut rows: Vec<SanctionRow> = sanctions::table
        .filter(sanctions::id.eq_any(&ids))
        .select(SanctionRow::as_select())
        .load(conn)?;
    rows.sort_by_key(|row| ids.iter().position(|id| *id == row.id));
    Ok(rows)
}

pub fn find(conn: &mut PgConnection, id: i64) -> Result<Option<SanctionRow>, AppError> {
    Ok(sanctions::table
        .find(id)
        .select(SanctionRow::as_select())
        .first(conn)
        .optional()?)
}

pub fn find_many(conn: &mut PgConnection, ids: &[i64]) -> Result<Vec<SanctionRow>, AppError> {
    Ok(sanctions::table
        .filter(sanctions::id.eq_any(ids))
        .select(SanctionRow::as_select())
        .load(conn)?)
}

pub struct NewSanction<'a> {
    pub member_id: i64,
    pub action: Action,
    pub resource: Option<&'a str>,
    pub reason: &'a str,
    pub private_note: &'a str,
    pub duration: Option<Duration>,
    pub moderator_id: i64,
    pub now: DateTime<Utc>,
    /// The link that lets the member appeal it, stored with it.
    pub appeal: Option<StoredLink<'a>>,
}

/// A member token as it is stored: its hash, and when it stops working.
pub struct StoredLink<'a> {
    pub token_hash: &'a [u8],
    pub expires_at: DateTime<Utc>,
}

impl NewSanction<'_> {
    /// The entry it will be in the history, under an id above every stored
    /// one (the id it gets will be too), to schedule it before it is stored.
    pub fn entry(&self) -> Entry {
        Entry {
            id: i64::MAX,
            action: self.action,
            resource: self.resource.map(String::from),
            created_at: self.now,
            duration: self.duration,
            ending: None,
        }
    }
}

pub fn end(
    conn: &mut PgConnection,
    ids: &[i64],
    kind: EndingKind,
    by: i64,
    reason: &str,
    at: DateTime<Utc>,
) -> Result<(), AppError> {
    let kind = kind.as_str();
    diesel::update(sanctions::table.filter(sanctions::id.eq_any(ids)))
        .set((
            sanctions::ended_kind.eq(kind),
            sanctions::ended_at.eq(at),
            sanctions::ended_by.eq(by),
            sanctions::end_reason.eq(reason),
        ))
        .execute(conn)?;
    Ok(())
}

/// Stores the derived start and end of each sanction whose slot changed.
pub fn store_schedule(conn: &mut PgConnection, rows: &[SanctionRow], slots: &[Slot]) -> Result<(), AppError> {
    for slot in slots {
        let ends_at = match slot.ends_at {
            Until::At(at) => Some(at),
            Until::Never => None,
        };
        let unchanged = rows
            .iter()
            .any(|r| r.id == slot.id && r.starts_at == slot.starts_at && r.ends_at == ends_at);
        if !unchanged {
            diesel::update(sanctions::table.find(slot.id))
                .set((sanctions::starts_at.eq(slot.starts_at), sanctions::ends_at.eq(ends_at)))
                .execute(conn)?;
        }
    }
    Ok(())
}

/// Marks expiries as recorded; returns the ids this call marked, so that
/// concurrent observers record each expiry once.
pub fn claim_expiries(conn: &mut PgConnection, ids: &[i64]) -> Result<Vec<i64>, AppError> {
    Ok(diesel::update(
        sanctions::table
            .filter(sanctions::id.eq_any(ids))
            .filter(sanctions::expiry_recorded.eq(false)),
    )
    .set(sanctions::expiry_recorded.eq(true))
    .returning(sanctions::id)
    .get_results(conn)?)
}

/// Sanctions whose end has come and whose expiry is not recorded yet.
pub fn due_expiries(conn: &mut PgConnection, now: DateTime<Utc>, limit: i64) -> Result<Vec<SanctionRow>, AppError> {
    Ok(sanctions::table
        .filter(sanctions::expiry_recorded.eq(false))
        .filter(sanctions::ends_at.le(now))
        .filter(sanctions::ended_kind.is_null())
        .filter(sanctions::kind.eq_any(["read_only", "ban"]))
        .filter(sanctions::starts_at.is_not_null())
        .order(sanctions::ends_at.asc())
        .limit(limit)
        .select(SanctionRow::as_select())
        .load(conn)?)
}

/// Usernames of these members (moderators, targets), by id.
pub fn usernames(conn: &mut PgConnection, ids: &[i64]) -> Result<std::collections::HashMap<i64, String>, AppError> {
    Ok(members::table
        .filter(members::id.eq_any(ids))
        .select((members::id, members::username))
        .load::<(i64, String)>(conn)?
        .into_iter()
        .collect())
}

#[derive(Debug, Default)]
pub struct SanctionFilter {
    pub active_at: Option<DateTime<Utc>>,
    pub kind: Option<Action>,
    pub resource: Option<String>,
    pub moderator_id: Option<i64>,
}

fn filtered(filter: &SanctionFilter) -> sanctions::BoxedQuery<'_, diesel::pg::Pg> {
    let mut query = sanctions::table.into_boxed();
    if let Some(now) = filter.active_at {
        query = query
            .filter(sanctions::starts_at.le(now))
            .filter(sanctions::ends_at.is_null().or(sanctions::ends_at.gt(now)))
            .filter(sanctions::kind.eq_any(["read_only", "ban"]));
    }
    if let Some(kind) = &filter.kind {
        query = query.filter(sanctions::kind.eq(kind.as_str()));
    }
    if let Some(resource) = &filter.resource {
        query = query.filter(sanctions::resource.eq(resource));
    }
    if let Some(moderator) = filter.moderator_id {
        query = query.filter(sanctions::moderator_id.eq(moderator));
    }
    query
}

pub fn list(
    conn: &mut PgConnection,
    filter: &SanctionFilter,
    offset: i64,
    limit: i64,
) -> Result<(Vec<SanctionRow>, i64), AppError> {
    let total = filtered(filter).count().get_result(conn)?;
    let rows = filtered(filter)
        .order((sanctions::created_at.desc(), sanctions::id.desc()))
        .offset(offset)
        .limit(limit)
        .select(SanctionRow::as_select())
        .load(conn)?;
    Ok((rows, total))
}

/// On unregistration: sanctions the member gave or ended as staff stay,
/// under the placeholder.
pub fn reattribute(conn: &mut PgConnection, from: i64, to: i64) -> Result<(), AppError> {
    diesel::update(sanctions::table.filter(sanctions::moderator_id.eq(from)))
        .set(sanctions::moderator_id.eq(to))
        .execute(conn)?;
    diesel::update(sanctions::table.filter(sanctions::ended_by.eq(from)))
        .set(sanctions::ended_by.eq(to))
        .execute(conn)?;
    Ok(())
}

/// [`open_of_members`] for one member, as SQL for a statement written by hand
/// (with the member's id and `since` as the given parameters), unordered.
macro_rules! open_sanctions_sql {
    ($member:literal, $since:literal) => {
        concat!(
            "SELECT * FROM sanctions WHERE member_id = ",
            $member,
            " AND kind IN ('ban', 'read_only') AND coalesce(ends_at, 'infinity'::timestamptz) > ",
            $since
        )
    };
}
pub(crate) use open_sanctions_sql;

/// The sanctions of these members that have not ended by `since` (running,
/// queued, permanent), with their stored slots: what decides their status
/// from then on. From a partial index, so a long past costs nothing.
pub fn open_of_members(
    conn: &mut PgConnection,
    member_ids: &[i64],
    since: DateTime<Utc>,
) -> Result<Vec<SanctionRow>, AppError> {
    Ok(restrictions_of(member_ids)
        .filter(EndsAfter(since))
        .order((sanctions::created_at.asc(), sanctions::id.asc()))
        .select(SanctionRow::as_select())
        .load(conn)?)
}

/// Sanctions of these members that ran and ended by `since` without their
/// `sanction.expired` event yet, so that whoever reads them first records it.
/// From a partial index too.
pub fn unrecorded_expiries_of_members(
    conn: &mut PgConnection,
    member_ids: &[i64],
    since: DateTime<Utc>,
) -> Result<Vec<SanctionRow>, AppError> {
    Ok(restrictions_of(member_ids)
        .filter(sanctions::expiry_recorded.eq(false))
        .filter(sanctions::ended_kind.is_null())
        .filter(sanctions::starts_at.is_not_null())
        .filter(sanctions::ends_at.le(since))
        .select(SanctionRow::as_select())
        .load(conn)?)
}

/// `coalesce(ends_at, 'infinity') > since`: not ended by then, in the form
/// `sanctions_open_idx` indexes. An expression of its own rather than a `sql`
/// literal, which diesel never keeps as a prepared statement.
#[derive(Debug, Clone, Copy, diesel::query_builder::QueryId)]
pub(crate) struct EndsAfter(pub DateTime<Utc>);

impl diesel::Expression for EndsAfter {
    type SqlType = Bool;
}

impl diesel::query_builder::QueryFragment<diesel::pg::Pg> for EndsAfter {
    fn walk_ast<'b>(&'b self, mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>) -> QueryResult<()> {
        out.push_sql("coalesce(sanctions.ends_at, 'infinity'::timestamptz) > ");
        out.push_bind_param::<Timestamptz, _>(&self.0)
    }
}

impl<QS> diesel::SelectableExpression<QS> for EndsAfter {}
impl<QS> diesel::AppearsOnTable<QS> for EndsAfter {}
impl diesel::expression::ValidGrouping<()> for EndsAfter {
    type IsAggregate = diesel::expression::is_aggregate::Never;
}

/// Bans and read-only sanctions (no lifts) of these members.
fn restrictions_of(member_ids: &[i64]) -> sanctions::BoxedQuery<'_, diesel::pg::Pg> {
    sanctions::table
        .filter(sanctions::member_id.eq_any(member_ids))
        .filter(IsRestriction)
        .into_boxed()
}

/// `kind IN ('ban', 'read_only')`, written out rather than bound: the
/// partial indexes `sanctions_open_idx` and `sanctions_unrecorded_idx` have
/// that predicate, and a prepared statement's generic plan can prove it only
/// from literals. With parameters, PostgreSQL went back after five runs to
/// reading a member's whole past (10,000 sanctions: 8 ms) instead of the
/// handful that are open.
#[derive(Debug, Clone, Copy, diesel::query_builder::QueryId)]
struct IsRestriction;

impl diesel::Expression for IsRestriction {
    type SqlType = Bool;
}

impl diesel::query_builder::QueryFragment<diesel::pg::Pg> for IsRestriction {
    fn walk_ast<'b>(&'b self, mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>) -> QueryResult<()> {
        out.push_sql("sanctions.kind IN ('ban', 'read_only')");
        Ok(())
    }
}

impl<QS> diesel::SelectableExpression<QS> for IsRestriction {}
impl<QS> diesel::AppearsOnTable<QS> for IsRestriction {}
impl diesel::expression::ValidGrouping<()> for IsRestriction {
    type IsAggregate = diesel::expression::is_aggregate::Never;
}

/// A stored slot: the schedule written by the last change to the queue.
pub fn stored_slot(row: &SanctionRow) -> Slot {
    Slot {
        id: row.id,
        starts_at: row.starts_at,
        ends_at: row.ends_at.map_or(Until::Never, Until::At),
    }
}

/// Gives a sanction a new duration; the caller stores the schedule it makes.
pub fn set_duration(conn: &mut PgConnection, id: i64, duration: Duration) -> Result<(), AppError> {
    let seconds = i64::try_from(duration.as_secs()).map_err(|_| AppError::internal("duration out of range"))?;
    diesel::update(sanctions::table.find(id))
        .set(sanctions::duration_seconds.eq(seconds))
        .execute(conn)?;
    Ok(())
}

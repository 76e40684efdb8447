//! The member directory: who is listed, a page of them, and the walk over
//! every member that services page through by cursor.
//!
//! What a page costs is bounded, whatever the community's size: a page's ids
//! come from an index alone (`members_directory_*_idx`, listed members only,
//! bots and banned members set aside by one hashed look-up each), the rows
//! only for those ids; the total is counted no further than [`DEPTH`], and no
//! page starts beyond it.

use chrono::{DateTime, Utc};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{BigInt, Text};

use crate::error::{AppError, DomainError, ErrorCode, Kind};
use crate::members::model::{DirectorySort, Member};
use crate::members::store::MemberRow;
use crate::pagination::Page;
use crate::sanctions::store::EndsAfter;
use crate::schema::{groups, member_groups, members, sanctions};

/// How many matches the directory counts and pages through; beyond them a
/// client narrows `q`.
pub const DEPTH: i64 = 10_000;

pub struct DirectoryQuery {
    pub prefix: Option<String>,
    pub sort: DirectorySort,
    pub page: Page,
}

/// A page of the directory.
pub struct DirectoryPage {
    pub members: Vec<Member>,
    /// Matches, counted up to [`DEPTH`].
    pub total: i64,
    /// More than [`DEPTH`] members match.
    pub capped: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DirectoryError {
    #[error("Only the first 10,000 matches can be paged through: narrow `q`.")]
    PageTooDeep,
}

impl DomainError for DirectoryError {
    fn kind(&self) -> Kind {
        Kind::Unprocessable
    }

    fn code(&self) -> ErrorCode {
        ErrorCode::PageTooDeep
    }
}

/// `lower(username) COLLATE "C"`: the directory's order and the key its
/// prefix search runs on, as `members_directory_username_idx` indexes it.
/// A query that holds it is planned for its values each time, never kept
/// as a prepared statement: a generic plan cannot turn `LIKE $1` into an
/// index range, and would scan every listed member.
#[derive(Debug, Clone, Copy, QueryId)]
struct UsernameKey;

impl Expression for UsernameKey {
    type SqlType = Text;
}

impl QueryFragment<Pg> for UsernameKey {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.unsafe_to_cache_prepared();
        out.push_sql("lower(members.username) COLLATE \"C\"");
        Ok(())
    }
}

impl<QS> SelectableExpression<QS> for UsernameKey {}
impl<QS> AppearsOnTable<QS> for UsernameKey {}
impl diesel::expression::ValidGrouping<()> for UsernameKey {
    type IsAggregate = diesel::expression::is_aggregate::Never;
}

/// `kind = 'ban' AND resource IS NULL`, written out rather than bound, so
/// that even a prepared statement's generic plan proves the predicate of
/// `sanctions_global_bans_idx` (with a parameter it read every sanction).
#[derive(Debug, Clone, Copy, QueryId)]
struct IsGlobalBan;

impl Expression for IsGlobalBan {
    type SqlType = diesel::sql_types::Bool;
}

impl QueryFragment<Pg> for IsGlobalBan {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("sanctions.kind = 'ban' AND sanctions.resource IS NULL");
        Ok(())
    }
}

impl<QS> SelectableExpression<QS> for IsGlobalBan {}
impl<QS> AppearsOnTable<QS> for IsGlobalBan {}
impl diesel::expression::ValidGrouping<()> for IsGlobalBan {
    type IsAggregate = diesel::expression::is_aggregate::Never;
}

/// `SELECT count(*) FROM (query) AS matches`: the rows of a query that is
/// itself limited, so that counting stops at its limit.
struct CountOf<Q>(Q);

impl<Q> Query for CountOf<Q> {
    type SqlType = BigInt;
}

impl<Q> QueryId for CountOf<Q> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q: QueryFragment<Pg>> QueryFragment<Pg> for CountOf<Q> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("SELECT count(*) FROM (");
        self.0.walk_ast(out.reborrow())?;
        out.push_sql(") AS matches");
        Ok(())
    }
}

impl<Q> RunQueryDsl<PgConnection> for CountOf<Q> {}

/// `WITH matches AS MATERIALIZED (query) SELECT array_agg(id …) FROM (SELECT
/// … FROM matches ORDER BY date_joined, id OFFSET o LIMIT l)`: a prefix
/// search's matches read from the username index, then sorted by date.
/// Left to itself, the planner may walk the date index instead and filter on
/// the prefix, which, for a prefix common among the oldest or the newest
/// names, walks most members. The ids come back as one array: ten thousand
/// rows cost libpq several times their size.
struct DateOrdered<Q> {
    matches: Q,
    newest_first: bool,
    offset: i64,
    limit: i64,
}

impl<Q> Query for DateOrdered<Q> {
    type SqlType = diesel::sql_types::Array<BigInt>;
}

impl<Q> QueryId for DateOrdered<Q> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q: QueryFragment<Pg>> QueryFragment<Pg> for DateOrdered<Q> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        let order = if self.newest_first {
            "date_joined DESC, id DESC"
        } else {
            "date_joined ASC, id ASC"
        };
        out.push_sql("WITH matches AS MATERIALIZED (");
        self.matches.walk_ast(out.reborrow())?;
        out.push_sql(") SELECT coalesce(array_agg(id ORDER BY ");
        out.push_sql(order);
        out.push_sql("), '{}') FROM (SELECT id, date_joined FROM matches ORDER BY ");
        out.push_sql(order);
        out.push_sql(" OFFSET ");
        out.push_bind_param::<BigInt, _>(&self.offset)?;
        out.push_sql(" LIMIT ");
        out.push_bind_param::<BigInt, _>(&self.limit)?;
        out.push_sql(") AS page");
        Ok(())
    }
}

impl<Q> RunQueryDsl<PgConnection> for DateOrdered<Q> {}

/// Listed members: active, not bots, not built-in, not under a running
/// global ban. `is_active` and `is_system` are written as columns, not
/// compared with parameters, so that the planner matches the partial indexes.
fn listed<'a>(bot_group: &'a str, prefix: Option<&'a str>, now: DateTime<Utc>) -> members::BoxedQuery<'a, Pg> {
    let bots = member_groups::table
        .inner_join(groups::table)
        .filter(groups::name.eq(bot_group))
        .select(member_groups::member_id);
    let banned = sanctions::table
        .filter(IsGlobalBan)
        .filter(EndsAfter(now))
        .filter(sanctions::starts_at.le(now))
        .select(sanctions::member_id);
    let mut query = members::table
        .filter(members::is_active)
        .filter(diesel::dsl::not(members::is_system))
        .filter(diesel::dsl::not(members::id.eq_any(bots)))
        .filter(diesel::dsl::not(members::id.eq_any(banned)))
        .into_boxed();
    if let Some(prefix) = prefix {
        // By code point, the names that start with a prefix are those from it
        // up to its successor: a range of the index, with nothing to check on
        // each entry (a LIKE is checked again on every one).
        query = match successor(prefix) {
            Some(next) => query
                .filter(UsernameKey.ge(prefix.to_string()))
                .filter(UsernameKey.lt(next)),
            None => {
                let escaped = prefix.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
                query.filter(UsernameKey.like(format!("{escaped}%")).escape('\\'))
            }
        };
    }
    query
}

/// The first text after every text that starts with `prefix`, by code point:
/// `prefix` with its last character moved one on. None when no character
/// follows it.
fn successor(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    let last = chars.pop()?;
    let next = (u32::from(last) + 1..=u32::from(char::MAX)).find_map(char::from_u32)?;
    chars.push(next);
    Some(chars.into_iter().collect())
}

fn sorted(query: members::BoxedQuery<'_, Pg>, sort: DirectorySort) -> members::BoxedQuery<'_, Pg> {
    match sort {
        DirectorySort::Username => query.order((UsernameKey.asc(), members::id.asc())),
        DirectorySort::UsernameDesc => query.order((UsernameKey.desc(), members::id.desc())),
        DirectorySort::DateJoined => query.order((members::date_joined.asc(), members::id.asc())),
        DirectorySort::DateJoinedDesc => query.order((members::date_joined.desc(), members::id.desc())),
    }
}

/// A page of the directory, for a search not known to be broad (see
/// [`first_ids`] for those).
pub fn directory(
    conn: &mut PgConnection,
    query: &DirectoryQuery,
    bot_group: &str,
    now: DateTime<Utc>,
) -> Result<DirectoryPage, AppError> {
    let prefix = query.prefix.as_deref();
    let offset = query.page.offset();
    // Counted in username order whatever the page's sort: the username index
    // alone holds both every listed member in order and a prefix's range.
    let count = |conn: &mut PgConnection| -> Result<i64, AppError> {
        let first = sorted(listed(bot_group, prefix, now), DirectorySort::Username)
            .select(members::id)
            .limit(DEPTH + 1);
        Ok(CountOf(first).get_result(conn)?)
    };
    if offset >= DEPTH {
        let matches = count(conn)?;
        if matches > DEPTH {
            return Err(DirectoryError::PageTooDeep.into());
        }
        return Ok(DirectoryPage {
            members: Vec::new(),
            total: matches,
            capped: false,
        });
    }
    let limit = query.page.per_page.min(DEPTH - offset);
    let ids: Vec<i64> = match (prefix, newest_first(query.sort)) {
        (Some(prefix), Some(newest_first)) => date_ordered(conn, prefix, newest_first, bot_group, now, offset, limit)?,
        _ => sorted(listed(bot_group, prefix, now), query.sort)
            .select(members::id)
            .offset(offset)
            .limit(limit)
            .load(conn)?,
    };
    // A page that is neither empty nor full is the last: it tells the total.
    let matches = match i64::try_from(ids.len()).unwrap_or(i64::MAX) {
        found if found > 0 && found < query.page.per_page => offset + found,
        _ => count(conn)?,
    };
    Ok(DirectoryPage {
        members: in_order(conn, members::table.into_boxed(), &ids)?,
        total: matches.min(DEPTH),
        capped: matches > DEPTH,
    })
}

/// Whether a sort is by date, and which way.
pub fn newest_first(sort: DirectorySort) -> Option<bool> {
    match sort {
        DirectorySort::DateJoined => Some(false),
        DirectorySort::DateJoinedDesc => Some(true),
        DirectorySort::Username | DirectorySort::UsernameDesc => None,
    }
}

/// The ids of a prefix search's matches in date order, from `offset`.
fn date_ordered(
    conn: &mut PgConnection,
    prefix: &str,
    newest_first: bool,
    bot_group: &str,
    now: DateTime<Utc>,
    offset: i64,
    limit: i64,
) -> Result<Vec<i64>, AppError> {
    Ok(DateOrdered {
        matches: listed(bot_group, Some(prefix), now).select((members::id, members::date_joined)),
        newest_first,
        offset,
        limit,
    }
    .get_result(conn)?)
}

/// The first [`DEPTH`] ids of a search in its order, and one more if there
/// are more, for [`BroadSearches`](crate::members::broad_searches::BroadSearches)
/// to keep.
pub fn first_ids(
    conn: &mut PgConnection,
    prefix: Option<&str>,
    sort: DirectorySort,
    bot_group: &str,
    now: DateTime<Utc>,
) -> Result<Vec<i64>, AppError> {
    match (prefix, newest_first(sort)) {
        (Some(prefix), Some(newest_first)) => date_ordered(conn, prefix, newest_first, bot_group, now, 0, DEPTH + 1),
        _ => Ok(sorted(listed(bot_group, prefix, now), sort)
            .select(members::id)
            .limit(DEPTH + 1)
            .load(conn)?),
    }
}

/// The page of a kept order at `page`: its members that are still listed, in
/// that order.
pub fn page_of_order(
    conn: &mut PgConnection,
    order: &[i64],
    page: Page,
    bot_group: &str,
    now: DateTime<Utc>,
) -> Result<DirectoryPage, AppError> {
    let depth = usize::try_from(DEPTH).unwrap_or(usize::MAX);
    let matches = order.len().min(depth);
    let capped = order.len() > depth;
    let offset = usize::try_from(page.offset()).unwrap_or(usize::MAX);
    if offset >= depth && capped {
        return Err(DirectoryError::PageTooDeep.into());
    }
    let take = usize::try_from(page.per_page).unwrap_or(usize::MAX);
    let ids: Vec<i64> = order[..matches].iter().skip(offset).take(take).copied().collect();
    Ok(DirectoryPage {
        members: in_order(conn, listed(bot_group, None, now), &ids)?,
        total: i64::try_from(matches).unwrap_or(DEPTH),
        capped,
    })
}

/// Every member but the built-in ones, in the order they registered (by
/// id), after `after`: a walk whose every step costs the same.
pub fn walk(conn: &mut PgConnection, after: i64, limit: i64) -> Result<Vec<Member>, AppError> {
    Ok(members::table
        .filter(diesel::dsl::not(members::is_system))
        .filter(members::id.gt(after))
        .order(members::id.asc())
        .limit(limit)
        .select(MemberRow::as_select())
        .load(conn)?
        .into_iter()
        .map(Into::into)
        .collect())
}

/// The members of `query` among these ids, in the ids' order.
fn in_order(conn: &mut PgConnection, query: members::BoxedQuery<'_, Pg>, ids: &[i64]) -> Result<Vec<Member>, AppError> {
    let mut found: Vec<Member> = query
        .filter(members::id.eq_any(ids))
        .select(MemberRow::as_select())
        .load(conn)?
        .into_iter()
        .map(Member::from)
        .collect();
    found.sort_by_key(|member| ids.iter().position(|id| *id == member.id));
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::successor;

    #[test]
    fn a_prefix_ends_where_its_last_character_moves_on() {
        assert_eq!(successor("user1").as_deref(), Some("user2"));
        assert_eq!(successor("a\u{d7ff}").as_deref(), Some("a\u{e000}"));
        assert_eq!(successor("\u{10ffff}"), None);
        assert_eq!(successor(""), None);
    }

    proptest::proptest! {
        /// Whatever the names, those in [prefix, successor) are those that start with it.
        #[test]
        fn the_range_holds_the_names_that_start_with_the_prefix(prefix in "\\PC{1,3}", name in "\\PC{0,5}") {
            if let Some(next) = successor(&prefix) {
                let in_range = name.as_str() >= prefix.as_str() && name.as_str() < next.as_str();
                proptest::prop_assert_eq!(in_range, name.starts_with(&prefix));
            }
        }
    }
}

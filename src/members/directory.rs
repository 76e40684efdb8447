//! The member directory: who is listed, and a page of them.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::error::AppError;
use crate::members::model::{DirectorySort, Member};
use crate::members::store::{MemberRow, lower};
use crate::pagination::Page;
use crate::schema::{groups, member_groups, members};

pub struct DirectoryQuery {
    pub prefix: Option<String>,
    pub sort: DirectorySort,
    pub page: Page,
}

/// Listed members: active, not bots, not built-in, not under a running global ban.
fn listed<'a>(
    bot_group: &'a str,
    prefix: Option<&'a str>,
    now: DateTime<Utc>,
) -> members::BoxedQuery<'a, diesel::pg::Pg> {
    use crate::schema::sanctions;
    let bots = member_groups::table
        .inner_join(groups::table)
        .filter(groups::name.eq(bot_group))
        .select(member_groups::member_id);
    let mut query = members::table
        .filter(members::is_active.eq(true))
        .filter(members::is_system.eq(false))
        .filter(diesel::dsl::not(members::id.eq_any(bots)))
        .filter(diesel::dsl::not(diesel::dsl::exists(
            sanctions::table
                .filter(sanctions::member_id.eq(members::id))
                .filter(sanctions::kind.eq("ban"))
                .filter(sanctions::resource.is_null())
                .filter(sanctions::starts_at.le(now))
                .filter(sanctions::ends_at.is_null().or(sanctions::ends_at.gt(now))),
        )))
        .into_boxed();
    if let Some(prefix) = prefix {
        let escaped = prefix.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
        query = query.filter(lower(members::username).like(format!("{escaped}%")).escape('\\'));
    }
    query
}

/// `count(*) OVER ()`: on every row, how many rows the query matches.
/// Written as an expression of its own rather than a `sql` literal, which
/// diesel never keeps as a prepared statement.
#[derive(Debug, Clone, Copy, diesel::query_builder::QueryId)]
struct MatchCount;

impl diesel::Expression for MatchCount {
    type SqlType = diesel::sql_types::BigInt;
}

impl diesel::query_builder::QueryFragment<diesel::pg::Pg> for MatchCount {
    fn walk_ast<'b>(&'b self, mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>) -> QueryResult<()> {
        out.push_sql("count(*) OVER ()");
        Ok(())
    }
}

impl<QS> diesel::SelectableExpression<QS> for MatchCount {}
impl<QS> diesel::AppearsOnTable<QS> for MatchCount {}
impl diesel::expression::ValidGrouping<()> for MatchCount {
    type IsAggregate = diesel::expression::is_aggregate::Never;
}

pub fn directory(
    conn: &mut PgConnection,
    query: &DirectoryQuery,
    bot_group: &str,
    now: DateTime<Utc>,
) -> Result<(Vec<Member>, i64), AppError> {
    let prefix = query.prefix.as_deref();
    // The total rides along with the page (one pass over the matches); only
    // a page past the end needs a count of its own.
    let rows = listed(bot_group, prefix, now).select((MemberRow::as_select(), MatchCount));
    let rows = match query.sort {
        DirectorySort::Username => rows.order((lower(members::username).asc(), members::id.asc())),
        DirectorySort::UsernameDesc => rows.order((lower(members::username).desc(), members::id.desc())),
        DirectorySort::DateJoined => rows.order((members::date_joined.asc(), members::id.asc())),
        DirectorySort::DateJoinedDesc => rows.order((members::date_joined.desc(), members::id.desc())),
    };
    let found: Vec<(MemberRow, i64)> = rows.offset(query.page.offset()).limit(query.page.per_page).load(conn)?;
    let total = match found.first() {
        Some((_, total)) => *total,
        None if query.page.offset() == 0 => 0,
        None => listed(bot_group, prefix, now).count().get_result(conn)?,
    };
    Ok((found.into_iter().map(|(row, _)| row.into()).collect(), total))
}

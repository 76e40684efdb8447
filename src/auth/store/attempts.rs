//! The login throttle's counters: an attempt counted against its login and
//! IP, its login, and its IP; forgotten on success, taken back when never
//! judged, and deleted once they lapse.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool, Integer, Nullable, Text, Timestamptz};

use crate::auth::model::{FailureCount, THROTTLE_WINDOW, ThrottleScope};
use crate::db;
use crate::error::AppError;
use crate::schema::login_throttles;

#[derive(QueryableByName)]
struct CountedRow {
    #[diesel(sql_type = Text)]
    scope: String,
    #[diesel(sql_type = Integer)]
    failures: i32,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    previous_failure_at: Option<DateTime<Utc>>,
}

impl CountedRow {
    /// The count as it was before this attempt, if it was a current one.
    fn before(&self) -> Option<FailureCount> {
        // One failure now: the row is new, or its count had lapsed (or had
        // been taken back to nothing).
        Some(FailureCount {
            failures: self.failures - 1,
            last_failure_at: self.previous_failure_at?,
        })
        .filter(|count| count.failures > 0)
    }
}

/// What a login identifier names, as far as checking a password goes.
#[derive(QueryableByName)]
pub struct Credentials {
    #[diesel(sql_type = BigInt)]
    pub member_id: i64,
    #[diesel(sql_type = Text)]
    pub password_hash: String,
}

/// An attempt to log in, counted.
pub struct Counted {
    /// The longest wait the counts before this attempt impose, in seconds,
    /// if any: then the attempt must not be counted, and the caller must roll
    /// back (returning the refusal as its error does).
    pub wait_secs: Option<u64>,
    /// The member the identifier names, if any.
    pub credentials: Option<Credentials>,
}

#[derive(QueryableByName)]
struct CountedAndFound {
    #[diesel(embed)]
    counted: CountedRow,
    #[diesel(embed)]
    credentials: Option<Credentials>,
}

/// The count of an attempt, with the member a login identifier names (by
/// e-mail address or by username, in any case; built-in members never: the
/// rule of `members::store::find_by_login`) in the same round trip.
macro_rules! count_and_find {
    ($names:literal) => {
        concat!(
            "WITH counted AS ( \
                 INSERT INTO login_throttles (scope, identifier, ip, failures, last_failure_at) \
                 SELECT k.scope, k.identifier, k.ip, 1, $4 \
                 FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS k (scope, identifier, ip, ord) \
                 CROSS JOIN (SELECT set_config('synchronous_commit', 'off', true)) AS no_disk_wait \
                 ORDER BY k.ord \
                 ON CONFLICT (scope, identifier, ip) DO UPDATE SET \
                   failures = CASE WHEN login_throttles.last_failure_at < $5 THEN 1 \
                                   ELSE login_throttles.failures + 1 END, \
                   previous_failure_at = login_throttles.last_failure_at, \
                   last_failure_at = $4 \
                 RETURNING scope, failures, previous_failure_at), \
             member AS MATERIALIZED ( \
                 SELECT id AS member_id, password_hash FROM members WHERE NOT is_system AND ",
            $names,
            ") \
             SELECT counted.*, member.*, \
                    CASE WHEN counted.failures > t.threshold THEN memberd_throttle_reached() END AS reached \
             FROM counted JOIN unnest($1::text[], $7::int[]) AS t (scope, threshold) ON t.scope = counted.scope \
             LEFT JOIN member ON TRUE"
        )
    };
}

/// Counts one attempt against every scope, and finds whom the identifier
/// names. Runs inside the caller's transaction with the counters locked until
/// it ends, so concurrent attempts cannot slip past the count. The
/// transaction also commits without waiting for the disk, since a count lost
/// in a crash costs nothing: it should write nothing else that must survive one.
pub fn count_attempt(
    conn: &mut PgConnection,
    identifier: &str,
    ip: &str,
    now: DateTime<Utc>,
) -> Result<Counted, AppError> {
    Ok(counted(count(conn, identifier, ip, now, false)?, now))
}

/// [`count_attempt`] in one statement that commits on its own, outside any
/// transaction, as long as no counter has reached its scope's threshold: then
/// no wait can apply. Otherwise the statement fails whole, nothing is counted,
/// and the answer is None: count in a transaction instead, where the rule of
/// waits decides.
pub fn count_attempt_below_thresholds(
    conn: &mut PgConnection,
    identifier: &str,
    ip: &str,
    now: DateTime<Utc>,
) -> Result<Option<Counted>, AppError> {
    match count(conn, identifier, ip, now, true) {
        Err(diesel::result::Error::DatabaseError(_, info)) if info.message() == "memberd_throttle_reached" => Ok(None),
        rows => Ok(Some(counted(rows?, now))),
    }
}

fn count(
    conn: &mut PgConnection,
    identifier: &str,
    ip: &str,
    now: DateTime<Utc>,
    below_thresholds: bool,
) -> QueryResult<Vec<CountedAndFound>> {
    let (scopes, identifiers, ips) = counter_keys(identifier, ip);
    // A count past it raises; none raises without one.
    let thresholds: Vec<Option<i32>> = ThrottleScope::ALL
        .iter()
        .map(|scope| below_thresholds.then(|| scope.threshold()))
        .collect();
    // One upsert, which inserts or locks each row in that order. The
    // increment happens in SQL so that concurrent first failures still count
    // twice; the row keeps the failure before, for the count before.
    let sql = if identifier.contains('@') {
        count_and_find!("email_key = $6")
    } else {
        count_and_find!("lower(username) = $6")
    };
    db::prepared(sql)
        .bind::<Array<Text>, _>(scopes)
        .bind::<Array<Text>, _>(identifiers)
        .bind::<Array<Text>, _>(ips)
        .bind::<Timestamptz, _>(now)
        .bind::<Timestamptz, _>(now - THROTTLE_WINDOW)
        .bind::<Text, _>(identifier.to_string())
        .bind::<Array<Nullable<Integer>>, _>(thresholds)
        .load(conn)
}

/// The keys of an attempt's three counters as parallel arrays, in the scopes'
/// order: the order rows are locked in (`forget_failures` follows it too), so
/// that attempts never deadlock.
fn counter_keys(identifier: &str, ip: &str) -> (Vec<&'static str>, Vec<String>, Vec<String>) {
    let (mut scopes, mut identifiers, mut ips) = (Vec::new(), Vec::new(), Vec::new());
    for scope in ThrottleScope::ALL {
        let (ident, address) = scope.key(identifier, ip);
        scopes.push(scope.as_str());
        identifiers.push(ident);
        ips.push(address);
    }
    (scopes, identifiers, ips)
}

/// The longest wait the counts before an attempt impose, and its member.
fn counted(rows: Vec<CountedAndFound>, now: DateTime<Utc>) -> Counted {
    let wait_secs = rows
        .iter()
        .filter_map(|row| {
            let scope = ThrottleScope::ALL
                .into_iter()
                .find(|s| s.as_str() == row.counted.scope)?;
            row.counted.before()?.wait_secs(scope, now)
        })
        .max();
    Counted {
        wait_secs,
        credentials: rows.into_iter().next().and_then(|row| row.credentials),
    }
}

/// How the transaction that runs a statement commits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Commit {
    /// Waiting for the disk, as the server is configured to.
    Durable,
    /// Without waiting for the disk: a crash of PostgreSQL in the next fraction
    /// of a second loses the transaction, whole. Only for transactions whose
    /// loss costs nothing but a retry, and which write no events (a webhook
    /// could carry one before the crash takes it back).
    Lazy,
}

/// `sql` with parameters $1–$7 bound for [`forget_failures_ctes`] and [`commit_as`].
pub(super) fn forgetting(
    sql: &'static str,
    identifier: Option<&str>,
    ip: &str,
    commit: Commit,
) -> db::Prepared<'static> {
    let (no_identifier, ip) = ThrottleScope::Ip.key("", ip);
    db::prepared(sql)
        .bind::<Text, _>(ThrottleScope::LoginAndIp.as_str())
        .bind::<Text, _>(ThrottleScope::Login.as_str())
        .bind::<Nullable<Text>, _>(identifier.map(str::to_string))
        .bind::<Text, _>(ThrottleScope::Ip.as_str())
        .bind::<Text, _>(no_identifier)
        .bind::<Text, _>(ip)
        .bind::<Bool, _>(commit == Commit::Lazy)
}

/// A success forgets its identifier's failures (from every IP), and takes
/// back the attempt it counted against its IP: only failures count there,
/// and only failures keep that count from lapsing, or the successes of a busy
/// address would keep its users' typos counted for ever. The caller's
/// transaction then commits as `commit` says.
pub fn forget_failures(conn: &mut PgConnection, identifier: &str, ip: &str, commit: Commit) -> Result<(), AppError> {
    forgetting(
        concat!("WITH ", forget_failures_ctes!(), " ", commit_as!()),
        Some(identifier),
        ip,
        commit,
    )
    .execute(conn)?;
    Ok(())
}

/// Takes back an attempt that was counted but never judged (the password
/// could not be checked: the service was busy), in every scope, as a
/// success takes back its IP's. Rows are locked in the order
/// [`count_attempt`] locks them.
pub fn take_back_attempt(conn: &mut PgConnection, identifier: &str, ip: &str) -> Result<(), AppError> {
    let (scopes, identifiers, ips) = counter_keys(identifier, ip);
    db::prepared(
        "WITH keys AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY \
                       AS k (scope, identifier, ip, ord)), \
              locked AS MATERIALIZED ( \
                 SELECT t.scope, t.identifier, t.ip FROM login_throttles t JOIN keys k \
                 ON t.scope = k.scope AND t.identifier = k.identifier AND t.ip = k.ip \
                 ORDER BY k.ord FOR UPDATE OF t) \
         UPDATE login_throttles t SET failures = t.failures - 1, \
             last_failure_at = coalesce(t.previous_failure_at, t.last_failure_at) FROM locked l \
         WHERE t.scope = l.scope AND t.identifier = l.identifier AND t.ip = l.ip AND t.failures > 0",
    )
    .bind::<Array<Text>, _>(scopes)
    .bind::<Array<Text>, _>(identifiers)
    .bind::<Array<Text>, _>(ips)
    .execute(conn)?;
    Ok(())
}

/// Deletes the counters whose last failure is older than the throttle window:
/// the next attempt would start them again from one anyway. Returns how many.
pub fn forget_lapsed_counters(conn: &mut PgConnection, now: DateTime<Utc>) -> Result<usize, AppError> {
    Ok(
        diesel::delete(login_throttles::table.filter(login_throttles::last_failure_at.lt(now - THROTTLE_WINDOW)))
            .execute(conn)?,
    )
}

/// Forgets failed-login counters that name an unregistered member: those of
/// their login identifiers. Counters kept per IP stay: they protect everyone
/// else, and a throwaway account must not be a way to reset them.
pub fn forget_member(conn: &mut PgConnection, identifiers: &[String]) -> Result<usize, AppError> {
    Ok(diesel::delete(
        login_throttles::table
            .filter(login_throttles::scope.ne(ThrottleScope::Ip.as_str()))
            .filter(login_throttles::identifier.eq_any(identifiers)),
    )
    .execute(conn)?)
}

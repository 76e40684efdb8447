//! Queries on sessions, refresh tokens and login throttles.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool, Bytea, Integer, Nullable, Text, Timestamptz};
use uuid::Uuid;

use crate::auth::model::{FailureCount, Revocation, THROTTLE_WINDOW, ThrottleScope};
use crate::db;
use crate::error::AppError;
use crate::sanctions::store::{SanctionRow, open_sanctions_sql};
use crate::schema::{login_throttles, refresh_tokens, sessions};

/// The counters a success forgets, as common table expressions on parameters
/// $1–$6 (bound by [`forgetting`]): its identifier's failures are set to
/// nothing, and the attempt it counted against its IP taken back. Nothing when
/// $3, the identifier, is NULL.
///
/// Forgotten counters are kept, not deleted: the member's next attempt updates
/// them in place (a heap-only update, which PostgreSQL prunes without a
/// vacuum) instead of inserting new index entries each login. Lapsed
/// counters are deleted hourly ([`forget_lapsed_counters`]).
///
/// Rows are locked in the order [`count_attempt`] locks them (identifier and
/// IP, then identifier, then IP), or a success and a concurrent attempt with
/// the same identifier could each hold what the other waits for.
macro_rules! forget_failures_ctes {
    () => {
        "locked AS MATERIALIZED ( \
             SELECT scope, identifier, ip FROM login_throttles \
             WHERE $3::text IS NOT NULL \
             AND ((scope IN ($1, $2) AND identifier = $3) OR (scope = $4 AND identifier = $5 AND ip = $6)) \
             ORDER BY CASE scope WHEN $1 THEN 0 WHEN $2 THEN 1 ELSE 2 END, ip FOR UPDATE), \
         forgotten AS ( \
             UPDATE login_throttles t SET failures = 0 FROM locked l WHERE l.scope <> $4 \
             AND t.scope = l.scope AND t.identifier = l.identifier AND t.ip = l.ip AND t.failures > 0), \
         taken_back AS ( \
             UPDATE login_throttles t SET failures = t.failures - 1, \
                 last_failure_at = coalesce(t.previous_failure_at, t.last_failure_at) FROM locked l \
             WHERE l.scope = $4 AND t.scope = l.scope AND t.identifier = l.identifier AND t.ip = l.ip \
             AND t.failures > 0)"
    };
}

/// The main query of a statement made of data-modifying CTEs: it runs exactly
/// once, whatever they find, and sets how the transaction commits ($7), so
/// that the setting costs no round trip of its own.
macro_rules! commit_as {
    () => {
        "SELECT set_config('synchronous_commit', \
                           CASE WHEN $7 THEN 'off' ELSE current_setting('synchronous_commit') END, true)"
    };
}

pub struct NewSession<'a> {
    pub id: Uuid,
    pub member_id: i64,
    pub remember_me: bool,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
}

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = sessions)]
pub struct SessionState {
    pub id: Uuid,
    pub member_id: i64,
    pub remember_me: bool,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl SessionState {
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && now < self.expires_at
    }
}

#[derive(QueryableByName)]
struct OpenedRow {
    #[diesel(sql_type = Text)]
    changed: String,
    #[diesel(embed)]
    sanction: Option<SanctionRow>,
}

/// What the statement that opens a session answers.
pub struct Opened {
    /// What the transaction changed in rows the member cache holds.
    pub changed: String,
    /// The member's sanctions not ended at the session's creation, as
    /// `sanctions::store::open_of_members` reads them, in its order.
    pub open_sanctions: Vec<SanctionRow>,
}

/// Opens a session with its first refresh token, and adds its address to the
/// member's IP history, in one statement. A login also forgets the failures
/// of the identifier it was made with, from the client's IP key (see
/// [`forget_failures`]); the caller's transaction then commits as `commit`
/// says.
///
/// The statement also reads the member's open sanctions, for the admission
/// the caller decides before it commits, and takes what the transaction
/// changed in rows the member cache holds (`memberd_take_changes()`): the
/// caller hands it to the cache after the commit instead of asking in a round
/// trip of its own (see `Db::transaction_reporting_changes`). It writes no
/// such row itself, so it must come last among the transaction's writes to them.
pub fn open_session(
    conn: &mut PgConnection,
    session: &NewSession,
    refresh_token_hash: &[u8],
    forget_failures_of: Option<(&str, &str)>,
    commit: Commit,
) -> Result<Opened, AppError> {
    let (identifier, ip_key) = forget_failures_of.unzip();
    let rows: Vec<OpenedRow> = forgetting(
        concat!(
            "WITH ",
            forget_failures_ctes!(),
            ", session AS ( \
                 INSERT INTO sessions (id, member_id, remember_me, created_at, refreshed_at, expires_at, ip, user_agent) \
                 VALUES ($8, $9, $10, $11, $11, $12, $13, $14) RETURNING id), \
             token AS ( \
                 INSERT INTO refresh_tokens (token_hash, session_id, created_at) SELECT $15, id, $11 FROM session), \
             ips AS ( \
                 INSERT INTO member_ips (member_id, ip, first_seen_at, last_seen_at) \
                 SELECT $9, $13, $11, $11 WHERE $13 IS NOT NULL \
                 ON CONFLICT (member_id, ip) DO UPDATE SET last_seen_at = EXCLUDED.last_seen_at), \
             open AS (",
            open_sanctions_sql!("$9", "$11"),
            "), \
             changes AS MATERIALIZED (SELECT memberd_take_changes() AS changed FROM (",
            commit_as!(),
            ") AS commit_mode) \
             SELECT changes.changed, open.* FROM changes LEFT JOIN open ON TRUE \
             ORDER BY open.created_at, open.id"
        ),
        identifier,
        ip_key.unwrap_or_default(),
        commit,
    )
    .bind::<diesel::sql_types::Uuid, _>(session.id)
    .bind::<BigInt, _>(session.member_id)
    .bind::<Bool, _>(session.remember_me)
    .bind::<Timestamptz, _>(session.created_at)
    .bind::<Timestamptz, _>(session.expires_at)
    .bind::<Nullable<Text>, _>(session.ip.map(str::to_string))
    .bind::<Nullable<Text>, _>(session.user_agent.map(str::to_string))
    .bind::<Bytea, _>(refresh_token_hash.to_vec())
    .load(conn)?;
    let changed = rows.first().map(|row| row.changed.clone()).unwrap_or_default();
    Ok(Opened {
        changed,
        open_sanctions: rows.into_iter().filter_map(|row| row.sanction).collect(),
    })
}

pub fn find_session(conn: &mut PgConnection, id: Uuid) -> Result<Option<SessionState>, AppError> {
    Ok(sessions::table
        .find(id)
        .select(SessionState::as_select())
        .first(conn)
        .optional()?)
}

pub fn extend_session(
    conn: &mut PgConnection,
    id: Uuid,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<(), AppError> {
    diesel::update(sessions::table.find(id))
        .set((sessions::refreshed_at.eq(now), sessions::expires_at.eq(expires_at)))
        .execute(conn)?;
    Ok(())
}

pub fn revoke_session(
    conn: &mut PgConnection,
    id: Uuid,
    reason: Revocation,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    diesel::update(sessions::table.find(id).filter(sessions::revoked_at.is_null()))
        .set((
            sessions::revoked_at.eq(now),
            sessions::revoked_reason.eq(reason.as_str()),
        ))
        .execute(conn)?;
    Ok(())
}

/// Ends every live session of a member; returns how many were ended.
pub fn revoke_member_sessions(
    conn: &mut PgConnection,
    member_id: i64,
    reason: Revocation,
    now: DateTime<Utc>,
) -> Result<usize, AppError> {
    Ok(diesel::update(
        sessions::table
            .filter(sessions::member_id.eq(member_id))
            .filter(sessions::revoked_at.is_null()),
    )
    .set((
        sessions::revoked_at.eq(now),
        sessions::revoked_reason.eq(reason.as_str()),
    ))
    .execute(conn)?)
}

pub fn insert_refresh_token(
    conn: &mut PgConnection,
    token_hash: &[u8],
    session_id: Uuid,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    diesel::insert_into(refresh_tokens::table)
        .values((
            refresh_tokens::token_hash.eq(token_hash),
            refresh_tokens::session_id.eq(session_id),
            refresh_tokens::created_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// When a refresh token was rotated (None: it is the current one), and its session.
pub type PresentedRefresh = (Option<DateTime<Utc>>, SessionState);

/// The refresh token with this hash and its session, both locked, so that
/// two concurrent refreshes with one token cannot both rotate it.
pub fn find_refresh_for_update(
    conn: &mut PgConnection,
    token_hash: &[u8],
) -> Result<Option<PresentedRefresh>, AppError> {
    Ok(refresh_tokens::table
        .inner_join(sessions::table)
        .filter(refresh_tokens::token_hash.eq(token_hash))
        .select((refresh_tokens::rotated_at, SessionState::as_select()))
        .for_update()
        .first(conn)
        .optional()?)
}

pub fn mark_rotated(conn: &mut PgConnection, token_hash: &[u8], now: DateTime<Utc>) -> Result<(), AppError> {
    diesel::update(refresh_tokens::table.find(token_hash))
        .set(refresh_tokens::rotated_at.eq(now))
        .execute(conn)?;
    Ok(())
}

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
fn forgetting(sql: &'static str, identifier: Option<&str>, ip: &str, commit: Commit) -> db::Prepared<'static> {
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

/// Advisory lock key for creating the signing key, so replicas starting
/// together agree on one.
const SIGNING_KEY_LOCK: i64 = 0x006a_7774_5f6b_6579; // "jwt_key"

/// The signing key kept in the database, created on first use.
pub fn stored_signing_key(
    conn: &mut PgConnection,
    generate: impl FnOnce() -> anyhow::Result<String>,
    now: DateTime<Utc>,
) -> anyhow::Result<String> {
    use crate::schema::jwt_keys;
    conn.transaction(|conn| {
        diesel::sql_query(format!("SELECT pg_advisory_xact_lock({SIGNING_KEY_LOCK})")).execute(conn)?;
        let existing: Option<String> = jwt_keys::table
            .order(jwt_keys::created_at.desc())
            .select(jwt_keys::private_key_pem)
            .first(conn)
            .optional()?;
        if let Some(pem) = existing {
            return Ok(pem);
        }
        let pem = generate()?;
        diesel::insert_into(jwt_keys::table)
            .values((
                jwt_keys::kid.eq(uuid::Uuid::new_v4().to_string()),
                jwt_keys::private_key_pem.eq(&pem),
                jwt_keys::created_at.eq(now),
            ))
            .execute(conn)?;
        Ok(pem)
    })
}

/// Ends every live session of a member but one (the one making a change).
pub fn revoke_member_sessions_except(
    conn: &mut PgConnection,
    member_id: i64,
    keep: Uuid,
    reason: Revocation,
    now: DateTime<Utc>,
) -> Result<usize, AppError> {
    Ok(diesel::update(
        sessions::table
            .filter(sessions::member_id.eq(member_id))
            .filter(sessions::id.ne(keep))
            .filter(sessions::revoked_at.is_null()),
    )
    .set((
        sessions::revoked_at.eq(now),
        sessions::revoked_reason.eq(reason.as_str()),
    ))
    .execute(conn)?)
}

/// A session as its member may see it in an export.
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = sessions)]
pub struct SessionRecord {
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
    pub refreshed_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub revoked_at: Option<DateTime<Utc>>,
}

pub fn sessions_of(conn: &mut PgConnection, member_id: i64) -> Result<Vec<SessionRecord>, AppError> {
    Ok(sessions::table
        .filter(sessions::member_id.eq(member_id))
        .order(sessions::created_at.desc())
        .select(SessionRecord::as_select())
        .load(conn)?)
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

/// Blanks the address and user agent of sessions opened before `cutoff`, and
/// deletes the refresh tokens of ended sessions that were rotated out (they
/// serve nothing once their session has ended). Returns how many rows changed.
pub fn forget_old_origins(
    conn: &mut PgConnection,
    cutoff: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<usize, AppError> {
    let blanked = diesel::update(
        sessions::table
            .filter(sessions::created_at.lt(cutoff))
            .filter(sessions::ip.is_not_null().or(sessions::user_agent.is_not_null())),
    )
    .set((sessions::ip.eq(None::<String>), sessions::user_agent.eq(None::<String>)))
    .execute(conn)?;
    let ended = sessions::table
        .filter(sessions::revoked_at.is_not_null().or(sessions::expires_at.le(now)))
        .select(sessions::id);
    let rotated = diesel::delete(
        refresh_tokens::table
            .filter(refresh_tokens::rotated_at.is_not_null())
            .filter(refresh_tokens::session_id.eq_any(ended)),
    )
    .execute(conn)?;
    Ok(blanked + rotated)
}

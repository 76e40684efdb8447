//! Queries on sessions, refresh tokens and the signing key; the login
//! throttle's counters are in `attempts`.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Bytea, Nullable, Text, Timestamptz};
use uuid::Uuid;

use crate::auth::model::{Revocation, SECOND_FACTORS};
use crate::error::AppError;
use crate::pagination::{Page, Paged};
use crate::sanctions::store::{SanctionRow, open_sanctions_sql};
use crate::schema::{refresh_tokens, sessions};

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

mod attempts;

use attempts::forgetting;
pub use attempts::{
    Commit, Counted, Credentials, count_attempt, count_attempt_below_thresholds, forget_failures,
    forget_lapsed_counters, forget_member, take_back_attempt,
};

pub struct NewSession<'a> {
    pub id: Uuid,
    pub member_id: i64,
    pub remember_me: bool,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    pub amr: &'a [String],
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
    /// How its member proved who they are (RFC 8176).
    pub amr: Vec<String>,
}

impl SessionState {
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && now < self.expires_at
    }
}

/// The statement of [`open_session`] after the counters it forgets (`$forget`,
/// common table expressions ending with a comma, or nothing).
macro_rules! open_session_sql {
    ($forget:expr) => {
        concat!(
            "WITH ",
            $forget,
            "session AS ( \
                 INSERT INTO sessions (id, member_id, remember_me, created_at, refreshed_at, expires_at, ip, user_agent, amr) \
                 VALUES ($8, $9, $10, $11, $11, $12, $13, $14, $16) RETURNING id), \
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
        )
    };
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
    // An opening that forgets no identifier's failures leaves the counters
    // alone: the scans of their table would cost each passkey login as much
    // as the table has grown.
    let sql = if identifier.is_some() {
        open_session_sql!(concat!(forget_failures_ctes!(), ", "))
    } else {
        open_session_sql!("")
    };
    let rows: Vec<OpenedRow> = forgetting(sql, identifier, ip_key.unwrap_or_default(), commit)
        .bind::<diesel::sql_types::Uuid, _>(session.id)
        .bind::<BigInt, _>(session.member_id)
        .bind::<Bool, _>(session.remember_me)
        .bind::<Timestamptz, _>(session.created_at)
        .bind::<Timestamptz, _>(session.expires_at)
        .bind::<Nullable<Text>, _>(session.ip.map(str::to_string))
        .bind::<Nullable<Text>, _>(session.user_agent.map(str::to_string))
        .bind::<Bytea, _>(refresh_token_hash.to_vec())
        .bind::<diesel::sql_types::Array<Text>, _>(session.amr.to_vec())
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

/// Ends every live session of a member but one (the one that added a second
/// factor) that did not prove a second factor; returns how many.
pub fn revoke_sessions_without_second_factor(
    conn: &mut PgConnection,
    member_id: i64,
    keep: Uuid,
    now: DateTime<Utc>,
) -> Result<usize, AppError> {
    Ok(diesel::update(
        sessions::table
            .filter(sessions::member_id.eq(member_id))
            .filter(sessions::id.ne(keep))
            .filter(sessions::revoked_at.is_null())
            .filter(diesel::dsl::not(sessions::amr.overlaps_with(
                SECOND_FACTORS.map(|method| method.as_str().to_string()).to_vec(),
            ))),
    )
    .set((
        sessions::revoked_at.eq(now),
        sessions::revoked_reason.eq(Revocation::SecondFactorAdded.as_str()),
    ))
    .execute(conn)?)
}

/// Adds to a session's `amr` a method its member just proved in it.
pub fn add_method(conn: &mut PgConnection, id: Uuid, method: &str) -> Result<(), AppError> {
    diesel::update(
        sessions::table
            .find(id)
            .filter(diesel::dsl::not(sessions::amr.contains(vec![method.to_string()]))),
    )
    .set(
        sessions::amr.eq(diesel::dsl::sql::<diesel::sql_types::Array<Text>>("array_append(amr, ")
            .bind::<Text, _>(method.to_string())
            .sql(")")),
    )
    .execute(conn)?;
    Ok(())
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
    pub amr: Vec<String>,
}

pub fn sessions_of(conn: &mut PgConnection, member_id: i64) -> Result<Vec<SessionRecord>, AppError> {
    Ok(sessions::table
        .filter(sessions::member_id.eq(member_id))
        .order(sessions::created_at.desc())
        .select(SessionRecord::as_select())
        .load(conn)?)
}

/// A live session as its member sees it in the list of their sessions.
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = sessions)]
pub struct LiveSession {
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
    pub refreshed_at: DateTime<Utc>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub amr: Vec<String>,
}

/// A page of a member's live sessions, the latest opened first, and how
/// many there are.
pub fn live_sessions_of(
    conn: &mut PgConnection,
    member_id: i64,
    now: DateTime<Utc>,
    page: Page,
) -> Result<Paged<LiveSession>, AppError> {
    let live = || {
        sessions::table
            .filter(sessions::member_id.eq(member_id))
            .filter(sessions::revoked_at.is_null())
            .filter(sessions::expires_at.gt(now))
    };
    let total = live().count().get_result(conn)?;
    let rows = live()
        .order((sessions::created_at.desc(), sessions::id.desc()))
        .offset(page.offset())
        .limit(page.per_page)
        .select(LiveSession::as_select())
        .load(conn)?;
    Ok(Paged::new(rows, page, total))
}

/// Ends one of the member's live sessions; false when the member has no
/// live session by that id.
pub fn end_live_session(
    conn: &mut PgConnection,
    member_id: i64,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<bool, AppError> {
    let changed = diesel::update(
        sessions::table
            .find(id)
            .filter(sessions::member_id.eq(member_id))
            .filter(sessions::revoked_at.is_null())
            .filter(sessions::expires_at.gt(now)),
    )
    .set((
        sessions::revoked_at.eq(now),
        sessions::revoked_reason.eq(Revocation::EndedByMember.as_str()),
    ))
    .execute(conn)?;
    Ok(changed == 1)
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

//! Logins waiting for their second factor, passkey ceremonies answered,
//! and the count of wrong answers per member.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::auth::model::{FailureCount, THROTTLE_WINDOW};
use crate::error::AppError;
use crate::factors::store::FactorRow;
use crate::rate_limit::{self, Limit, count_hit_cte};
use crate::schema::{factor_throttles, mfa_challenges};

/// A login waiting for its second factor.
#[derive(Debug, Queryable, QueryableByName, Selectable)]
#[diesel(table_name = mfa_challenges)]
pub struct ChallengeRow {
    pub token_hash: Vec<u8>,
    pub member_id: i64,
    pub remember_me: bool,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
    pub passkey_state: Option<serde_json::Value>,
}

impl ChallengeRow {
    pub fn is_usable(&self, now: DateTime<Utc>) -> bool {
        self.used_at.is_none() && now < self.expires_at
    }
}

pub fn open_challenge(
    conn: &mut PgConnection,
    token_hash: &[u8],
    member_id: i64,
    remember_me: bool,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<(), AppError> {
    diesel::insert_into(mfa_challenges::table)
        .values((
            mfa_challenges::token_hash.eq(token_hash),
            mfa_challenges::member_id.eq(member_id),
            mfa_challenges::remember_me.eq(remember_me),
            mfa_challenges::created_at.eq(now),
            mfa_challenges::expires_at.eq(expires_at),
        ))
        .execute(conn)?;
    Ok(())
}

/// The waiting login with this token hash, locked, so that two answers to
/// it cannot both finish it.
pub fn challenge_for_update(conn: &mut PgConnection, token_hash: &[u8]) -> Result<Option<ChallengeRow>, AppError> {
    Ok(mfa_challenges::table
        .find(token_hash)
        .select(ChallengeRow::as_select())
        .for_update()
        .first(conn)
        .optional()?)
}

/// A TOTP factor as a code is checked against it.
#[derive(Debug, QueryableByName)]
pub struct TotpRow {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    pub id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Bytea)]
    pub secret: Vec<u8>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::BigInt>)]
    pub last_step: Option<i64>,
}

/// An answer to a waiting login, as its second step finds it.
pub struct Answering {
    pub challenge: ChallengeRow,
    /// The member's count of wrong answers before this one.
    pub before: Option<FailureCount>,
    /// The member's confirmed TOTP factors, locked, oldest first.
    pub totp: Vec<TotpRow>,
}

/// How an answer is counted against its member in `factor_throttles`, when
/// a count is kept already: the row's count, started again once the last
/// failure is past the window. On the parameters $2 (now) and $3 (the
/// window's start).
macro_rules! count_failure_on_conflict {
    () => {
        "ON CONFLICT (member_id) DO UPDATE SET \
           failures = CASE WHEN factor_throttles.last_failure_at < $3 THEN 1 \
                           ELSE factor_throttles.failures + 1 END, \
           last_failure_at = $2"
    };
}

/// The usable waiting login with this token hash, locked so that two
/// answers to it cannot both finish it; its member's count of wrong answers
/// as it was before this one, which it adds to (as [`count_answer`]); and
/// the member's TOTP factors, locked, for a code to be checked against. One
/// statement where the second step began with three. None, and nothing
/// counted, when no such login waits.
pub fn challenge_counting_answer(
    conn: &mut PgConnection,
    token_hash: &[u8],
    now: DateTime<Utc>,
) -> Result<Option<Answering>, AppError> {
    // A row per TOTP factor (one with none when there is none), the
    // challenge and the count repeated on each.
    let rows: Vec<AnsweringRow> = crate::db::prepared(concat!(
        "WITH challenge AS MATERIALIZED ( \
             SELECT token_hash, member_id, remember_me, expires_at, used_at, passkey_state FROM mfa_challenges \
             WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2 FOR UPDATE), \
         before AS MATERIALIZED ( \
             SELECT t.failures, t.last_failure_at FROM factor_throttles t \
             JOIN challenge c ON t.member_id = c.member_id FOR UPDATE OF t), \
         counted AS ( \
             INSERT INTO factor_throttles (member_id, failures, last_failure_at) \
             SELECT member_id, 1, $2 FROM challenge ",
        count_failure_on_conflict!(),
        ") SELECT c.*, b.failures, b.last_failure_at, \
                f.id AS totp_id, f.totp_secret, f.totp_last_step \
         FROM challenge c LEFT JOIN before b ON TRUE \
         LEFT JOIN LATERAL ( \
             SELECT id, totp_secret, totp_last_step, created_at FROM member_factors \
             WHERE member_id = c.member_id AND kind = 'totp' AND confirmed_at IS NOT NULL \
             ORDER BY created_at FOR UPDATE) f ON TRUE \
         ORDER BY f.created_at",
    ))
    .bind::<diesel::sql_types::Bytea, _>(token_hash.to_vec())
    .bind::<diesel::sql_types::Timestamptz, _>(now)
    .bind::<diesel::sql_types::Timestamptz, _>(now - THROTTLE_WINDOW)
    .load(conn)?;
    let mut totp = Vec::new();
    let mut first = None;
    for row in rows {
        if let (Some(id), Some(secret)) = (row.totp_id, row.totp_secret) {
            totp.push(TotpRow {
                id,
                secret,
                last_step: row.totp_last_step,
            });
        }
        first.get_or_insert((row.challenge, row.failures.zip(row.last_failure_at)));
    }
    Ok(first.map(|(challenge, before)| Answering {
        challenge,
        before: before.map(|(failures, last_failure_at)| FailureCount {
            failures,
            last_failure_at,
        }),
        totp,
    }))
}

#[derive(QueryableByName)]
struct AnsweringRow {
    #[diesel(embed)]
    challenge: ChallengeRow,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Integer>)]
    failures: Option<i32>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>)]
    last_failure_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Uuid>)]
    totp_id: Option<Uuid>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Bytea>)]
    totp_secret: Option<Vec<u8>>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::BigInt>)]
    totp_last_step: Option<i64>,
}

/// Uses up a waiting login that its member finished, forgets their wrong
/// answers, and records the TOTP code that finished it (the factor, the
/// code's step) if one did, in one statement.
pub fn use_challenge_forgetting_failures(
    conn: &mut PgConnection,
    token_hash: &[u8],
    member_id: i64,
    code_used: Option<(Uuid, i64)>,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let (factor, step) = code_used.unzip();
    crate::db::prepared(
        "WITH forgotten AS (DELETE FROM factor_throttles WHERE member_id = $2), \
              code AS (UPDATE member_factors SET last_used_at = $3, totp_last_step = $5 WHERE id = $4) \
         UPDATE mfa_challenges SET used_at = $3 WHERE token_hash = $1",
    )
    .bind::<diesel::sql_types::Bytea, _>(token_hash.to_vec())
    .bind::<diesel::sql_types::BigInt, _>(member_id)
    .bind::<diesel::sql_types::Timestamptz, _>(now)
    .bind::<diesel::sql_types::Nullable<diesel::sql_types::Uuid>, _>(factor)
    .bind::<diesel::sql_types::Nullable<diesel::sql_types::BigInt>, _>(step)
    .execute(conn)?;
    Ok(())
}

/// Keeps the passkey ceremony started for a waiting login (replacing any before).
pub fn set_challenge_passkey_state(
    conn: &mut PgConnection,
    token_hash: &[u8],
    ceremony: &serde_json::Value,
) -> Result<(), AppError> {
    diesel::update(mfa_challenges::table.find(token_hash))
        .set(mfa_challenges::passkey_state.eq(ceremony))
        .execute(conn)?;
    Ok(())
}

/// Forgets the passkey ceremony of a waiting login: each is answered once.
pub fn clear_challenge_passkey_state(conn: &mut PgConnection, token_hash: &[u8]) -> Result<(), AppError> {
    diesel::update(mfa_challenges::table.find(token_hash))
        .set(mfa_challenges::passkey_state.eq(None::<serde_json::Value>))
        .execute(conn)?;
    Ok(())
}

/// What the first statement of a passwordless login's answer found.
#[derive(QueryableByName)]
struct SpentRow {
    #[diesel(embed)]
    window: rate_limit::Window,
    #[diesel(embed)]
    passkey: Option<FactorRow>,
}

/// Counts an answer to a passwordless login against the client's `limit`,
/// records its ceremony as answered, and finds the confirmed passkey with
/// `credential_id`, locked, in one statement: none when the ceremony was
/// answered before or no passkey has that id. The ceremony is spent either
/// way (if the transaction commits); past the limit, the answer is refused
/// (Err, and the caller's transaction rolls back) before it spends anything.
pub fn spend_ceremony_finding_passkey(
    conn: &mut PgConnection,
    (limit, client_key): (Limit, &str),
    (ceremony_id, expires_at): (Uuid, DateTime<Utc>),
    credential_id: &[u8],
    now: DateTime<Utc>,
) -> Result<Option<FactorRow>, AppError> {
    let row: SpentRow = rate_limit::counting(
        concat!(
            "WITH ",
            count_hit_cte!(),
            ", spent AS ( \
                 INSERT INTO spent_passkey_ceremonies (id, expires_at) SELECT $5, $6 FROM counted WHERE hits <= $8 \
                 ON CONFLICT (id) DO NOTHING RETURNING id), \
             found AS MATERIALIZED ( \
                 SELECT member_factors.* FROM member_factors \
                 WHERE credential_id = $7 AND confirmed_at IS NOT NULL AND EXISTS (SELECT 1 FROM spent) \
                 FOR UPDATE OF member_factors) \
             SELECT counted.*, found.* FROM counted LEFT JOIN found ON TRUE"
        ),
        limit,
        client_key,
        now,
    )
    .bind::<diesel::sql_types::Uuid, _>(ceremony_id)
    .bind::<diesel::sql_types::Timestamptz, _>(expires_at)
    .bind::<diesel::sql_types::Bytea, _>(credential_id.to_vec())
    .bind::<diesel::sql_types::Integer, _>(limit.max_hits)
    .get_result(conn)?;
    row.window.admits(limit, now)?;
    Ok(row.passkey)
}

/// Counts a second-factor answer against its member before it is judged,
/// and answers the count as it was before: the caller refuses (and rolls
/// back, so that a refused answer is not counted) when that count imposes a
/// wait. The row stays locked until the transaction ends, so concurrent
/// answers are counted one after the other.
pub fn count_answer(
    conn: &mut PgConnection,
    member_id: i64,
    now: DateTime<Utc>,
) -> Result<Option<FailureCount>, AppError> {
    // One statement: the count before, locked, and the attempt added.
    let before: Vec<CountBefore> = crate::db::prepared(concat!(
        "WITH before AS (SELECT failures, last_failure_at FROM factor_throttles WHERE member_id = $1 FOR UPDATE), \
              counted AS ( \
                 INSERT INTO factor_throttles (member_id, failures, last_failure_at) VALUES ($1, 1, $2) ",
        count_failure_on_conflict!(),
        ") SELECT failures, last_failure_at FROM before",
    ))
    .bind::<diesel::sql_types::BigInt, _>(member_id)
    .bind::<diesel::sql_types::Timestamptz, _>(now)
    .bind::<diesel::sql_types::Timestamptz, _>(now - THROTTLE_WINDOW)
    .load(conn)?;
    Ok(before.into_iter().next().map(|row| FailureCount {
        failures: row.failures,
        last_failure_at: row.last_failure_at,
    }))
}

#[derive(QueryableByName)]
struct CountBefore {
    #[diesel(sql_type = diesel::sql_types::Integer)]
    failures: i32,
    #[diesel(sql_type = diesel::sql_types::Timestamptz)]
    last_failure_at: DateTime<Utc>,
}

/// A right answer forgets the member's wrong ones.
pub fn forget_failures(conn: &mut PgConnection, member_id: i64) -> Result<(), AppError> {
    diesel::delete(factor_throttles::table.find(member_id)).execute(conn)?;
    Ok(())
}

//! Queries on second factors, recovery codes, logins waiting for their
//! second factor, and the count of wrong answers per member.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::auth::model::{FailureCount, THROTTLE_WINDOW};
use crate::error::AppError;
use crate::factors::model::FactorKind;
use crate::pagination::{Page, Paged};
use crate::schema::{factor_throttles, member_factors, mfa_challenges, passkey_logins, recovery_codes};

/// A factor as stored, secrets included: never handed out as it is.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = member_factors)]
pub struct FactorRow {
    pub id: Uuid,
    pub member_id: i64,
    pub kind: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub confirmed_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub totp_secret: Option<Vec<u8>>,
    pub totp_last_step: Option<i64>,
    pub credential_id: Option<Vec<u8>>,
    /// webauthn-rs's passkey, or while pending its registration ceremony.
    pub passkey: Option<serde_json::Value>,
    pub passkey_user_id: Option<Uuid>,
}

pub struct NewFactor<'a> {
    pub id: Uuid,
    pub member_id: i64,
    pub kind: &'a str,
    pub name: &'a str,
    pub totp_secret: Option<&'a [u8]>,
    /// A passkey's registration ceremony, and the member's user handle.
    pub passkey: Option<(serde_json::Value, Uuid)>,
    pub now: DateTime<Utc>,
}

#[derive(QueryableByName)]
struct Way {
    #[diesel(sql_type = diesel::sql_types::Text)]
    way: String,
}

/// The ways the member can prove a second factor: the kinds of their
/// confirmed factors, each once, and `recovery_code` while one is unused;
/// none for a member without factors. One statement: every login asks.
pub fn second_factor_ways(conn: &mut PgConnection, member_id: i64) -> Result<Vec<String>, AppError> {
    let ways: Vec<Way> = crate::db::prepared(
        "SELECT DISTINCT kind AS way FROM member_factors WHERE member_id = $1 AND confirmed_at IS NOT NULL \
         UNION ALL SELECT 'recovery_code' WHERE EXISTS ( \
             SELECT 1 FROM recovery_codes WHERE member_id = $1 AND used_at IS NULL)",
    )
    .bind::<diesel::sql_types::BigInt, _>(member_id)
    .load(conn)?;
    Ok(ways.into_iter().map(|w| w.way).collect())
}

/// Forgets the logins waiting for a second factor of the member: a new
/// password voids what the old one began.
pub fn forget_challenges(conn: &mut PgConnection, member_id: i64) -> Result<(), AppError> {
    diesel::delete(mfa_challenges::table.filter(mfa_challenges::member_id.eq(member_id))).execute(conn)?;
    Ok(())
}

pub fn count_confirmed(conn: &mut PgConnection, member_id: i64) -> Result<i64, AppError> {
    Ok(member_factors::table
        .filter(member_factors::member_id.eq(member_id))
        .filter(member_factors::confirmed_at.is_not_null())
        .count()
        .get_result(conn)?)
}

/// Adds a pending factor; a pending one of the same kind goes (a new
/// enrolment replaces an unfinished one).
pub fn insert_pending(conn: &mut PgConnection, factor: &NewFactor) -> Result<(), AppError> {
    diesel::delete(
        member_factors::table
            .filter(member_factors::member_id.eq(factor.member_id))
            .filter(member_factors::kind.eq(factor.kind))
            .filter(member_factors::confirmed_at.is_null()),
    )
    .execute(conn)?;
    diesel::insert_into(member_factors::table)
        .values((
            member_factors::id.eq(factor.id),
            member_factors::member_id.eq(factor.member_id),
            member_factors::kind.eq(factor.kind),
            member_factors::name.eq(factor.name),
            member_factors::created_at.eq(factor.now),
            member_factors::totp_secret.eq(factor.totp_secret),
            member_factors::passkey.eq(factor.passkey.as_ref().map(|(ceremony, _)| ceremony)),
            member_factors::passkey_user_id.eq(factor.passkey.as_ref().map(|(_, user)| *user)),
        ))
        .execute(conn)?;
    Ok(())
}

/// One of the member's factors, locked.
pub fn find_for_update(conn: &mut PgConnection, member_id: i64, id: Uuid) -> Result<Option<FactorRow>, AppError> {
    Ok(member_factors::table
        .find(id)
        .filter(member_factors::member_id.eq(member_id))
        .select(FactorRow::as_select())
        .for_update()
        .first(conn)
        .optional()?)
}

/// The member's confirmed factors of a kind, oldest first, locked: a use
/// records what it proved (a TOTP factor's last step, a passkey's counter).
pub fn confirmed_for_update(
    conn: &mut PgConnection,
    member_id: i64,
    kind: FactorKind,
) -> Result<Vec<FactorRow>, AppError> {
    Ok(member_factors::table
        .filter(member_factors::member_id.eq(member_id))
        .filter(member_factors::kind.eq(kind.as_str()))
        .filter(member_factors::confirmed_at.is_not_null())
        .order(member_factors::created_at)
        .select(FactorRow::as_select())
        .for_update()
        .load(conn)?)
}

pub fn confirm(conn: &mut PgConnection, id: Uuid, step: i64, now: DateTime<Utc>) -> Result<(), AppError> {
    diesel::update(member_factors::table.find(id))
        .set((
            member_factors::confirmed_at.eq(now),
            member_factors::last_used_at.eq(now),
            member_factors::totp_last_step.eq(step),
        ))
        .execute(conn)?;
    Ok(())
}

/// The user handle the member's passkeys carry, if they have one.
pub fn passkey_user_of(conn: &mut PgConnection, member_id: i64) -> Result<Option<Uuid>, AppError> {
    Ok(member_factors::table
        .filter(member_factors::member_id.eq(member_id))
        .filter(member_factors::passkey_user_id.is_not_null())
        .select(member_factors::passkey_user_id)
        .first::<Option<Uuid>>(conn)
        .optional()?
        .flatten())
}

/// The confirmed passkey with this credential id, whosever it is, locked.
pub fn passkey_by_credential(conn: &mut PgConnection, credential_id: &[u8]) -> Result<Option<FactorRow>, AppError> {
    Ok(member_factors::table
        .filter(member_factors::credential_id.eq(credential_id))
        .filter(member_factors::confirmed_at.is_not_null())
        .select(FactorRow::as_select())
        .for_update()
        .first(conn)
        .optional()?)
}

pub fn confirm_passkey(
    conn: &mut PgConnection,
    id: Uuid,
    credential_id: &[u8],
    passkey: &serde_json::Value,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    diesel::update(member_factors::table.find(id))
        .set((
            member_factors::confirmed_at.eq(now),
            member_factors::last_used_at.eq(now),
            member_factors::credential_id.eq(credential_id),
            member_factors::passkey.eq(passkey),
        ))
        .execute(conn)?;
    Ok(())
}

/// Records a use of a passkey: its counter and backup flags as it answered.
pub fn record_passkey_use(
    conn: &mut PgConnection,
    id: Uuid,
    passkey: &serde_json::Value,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    diesel::update(member_factors::table.find(id))
        .set((
            member_factors::last_used_at.eq(now),
            member_factors::passkey.eq(passkey),
        ))
        .execute(conn)?;
    Ok(())
}

/// Records a code accepted for the TOTP factor `id` at time step `step`.
pub fn record_totp_use(conn: &mut PgConnection, id: Uuid, step: i64, now: DateTime<Utc>) -> Result<(), AppError> {
    diesel::update(member_factors::table.find(id))
        .set((
            member_factors::last_used_at.eq(now),
            member_factors::totp_last_step.eq(step),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn delete(conn: &mut PgConnection, id: Uuid) -> Result<(), AppError> {
    diesel::delete(member_factors::table.find(id)).execute(conn)?;
    Ok(())
}

/// Deletes every factor of the member, pending or confirmed, with their
/// recovery codes; returns the confirmed factors that went.
pub fn delete_all(conn: &mut PgConnection, member_id: i64) -> Result<Vec<FactorRow>, AppError> {
    delete_recovery_codes(conn, member_id)?;
    let deleted: Vec<FactorRow> = diesel::delete(member_factors::table.filter(member_factors::member_id.eq(member_id)))
        .returning(FactorRow::as_returning())
        .get_results(conn)?;
    Ok(deleted.into_iter().filter(|f| f.confirmed_at.is_some()).collect())
}

/// A page of the member's confirmed factors, oldest first.
pub fn confirmed_of(conn: &mut PgConnection, member_id: i64, page: Page) -> Result<Paged<FactorRow>, AppError> {
    let confirmed = || {
        member_factors::table
            .filter(member_factors::member_id.eq(member_id))
            .filter(member_factors::confirmed_at.is_not_null())
    };
    let total = confirmed().count().get_result(conn)?;
    let rows = confirmed()
        .order((member_factors::created_at, member_factors::id))
        .offset(page.offset())
        .limit(page.per_page)
        .select(FactorRow::as_select())
        .load(conn)?;
    Ok(Paged::new(rows, page, total))
}

/// Every factor of the member, pending ones too, for their export.
pub fn all_of(conn: &mut PgConnection, member_id: i64) -> Result<Vec<FactorRow>, AppError> {
    Ok(member_factors::table
        .filter(member_factors::member_id.eq(member_id))
        .order((member_factors::created_at, member_factors::id))
        .select(FactorRow::as_select())
        .load(conn)?)
}

/// Replaces the member's recovery codes with these digests.
pub fn replace_recovery_codes(
    conn: &mut PgConnection,
    member_id: i64,
    digests: &[Vec<u8>],
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    delete_recovery_codes(conn, member_id)?;
    let rows: Vec<_> = digests
        .iter()
        .map(|digest| {
            (
                recovery_codes::member_id.eq(member_id),
                recovery_codes::code_hash.eq(digest),
                recovery_codes::created_at.eq(now),
            )
        })
        .collect();
    diesel::insert_into(recovery_codes::table).values(rows).execute(conn)?;
    Ok(())
}

pub fn delete_recovery_codes(conn: &mut PgConnection, member_id: i64) -> Result<(), AppError> {
    diesel::delete(recovery_codes::table.filter(recovery_codes::member_id.eq(member_id))).execute(conn)?;
    Ok(())
}

/// Uses up the member's unused recovery code with this digest; false when
/// there is none (unknown, or used already).
pub fn use_recovery_code(
    conn: &mut PgConnection,
    member_id: i64,
    digest: &[u8],
    now: DateTime<Utc>,
) -> Result<bool, AppError> {
    let used = diesel::update(
        recovery_codes::table
            .find((member_id, digest))
            .filter(recovery_codes::used_at.is_null()),
    )
    .set(recovery_codes::used_at.eq(now))
    .execute(conn)?;
    Ok(used == 1)
}

pub fn unused_recovery_codes(conn: &mut PgConnection, member_id: i64) -> Result<i64, AppError> {
    Ok(recovery_codes::table
        .filter(recovery_codes::member_id.eq(member_id))
        .filter(recovery_codes::used_at.is_null())
        .count()
        .get_result(conn)?)
}

/// A login waiting for its second factor.
#[derive(Debug, Queryable, Selectable)]
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

/// Uses up a waiting login that its member finished, and forgets their
/// wrong answers, in one statement.
pub fn use_challenge_forgetting_failures(
    conn: &mut PgConnection,
    token_hash: &[u8],
    member_id: i64,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    crate::db::prepared(
        "WITH forgotten AS (DELETE FROM factor_throttles WHERE member_id = $2) \
         UPDATE mfa_challenges SET used_at = $3 WHERE token_hash = $1",
    )
    .bind::<diesel::sql_types::Bytea, _>(token_hash.to_vec())
    .bind::<diesel::sql_types::BigInt, _>(member_id)
    .bind::<diesel::sql_types::Timestamptz, _>(now)
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

pub fn open_passkey_login(
    conn: &mut PgConnection,
    id: Uuid,
    ceremony: &serde_json::Value,
    expires_at: DateTime<Utc>,
) -> Result<(), AppError> {
    diesel::insert_into(passkey_logins::table)
        .values((
            passkey_logins::id.eq(id),
            passkey_logins::state.eq(ceremony),
            passkey_logins::expires_at.eq(expires_at),
        ))
        .execute(conn)?;
    Ok(())
}

/// Takes a passwordless login's ceremony, if it has not lapsed: it is gone
/// whatever its answer proves.
pub fn take_passkey_login(
    conn: &mut PgConnection,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<Option<serde_json::Value>, AppError> {
    let taken: Option<(serde_json::Value, DateTime<Utc>)> = diesel::delete(passkey_logins::table.find(id))
        .returning((passkey_logins::state, passkey_logins::expires_at))
        .get_result(conn)
        .optional()?;
    Ok(taken
        .filter(|(_, expires_at)| now < *expires_at)
        .map(|(ceremony, _)| ceremony))
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
    let before: Vec<CountBefore> = crate::db::prepared(
        "WITH before AS (SELECT failures, last_failure_at FROM factor_throttles WHERE member_id = $1 FOR UPDATE), \
              counted AS ( \
                 INSERT INTO factor_throttles (member_id, failures, last_failure_at) VALUES ($1, 1, $2) \
                 ON CONFLICT (member_id) DO UPDATE SET \
                   failures = CASE WHEN factor_throttles.last_failure_at < $3 THEN 1 \
                                   ELSE factor_throttles.failures + 1 END, \
                   last_failure_at = $2) \
         SELECT failures, last_failure_at FROM before",
    )
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

/// Deletes what has lapsed: logins that waited for their second factor past
/// their end, enrolments left unconfirmed for a day, and counts of wrong
/// answers older than the throttle window. Returns how many rows went.
pub fn forget_lapsed(conn: &mut PgConnection, now: DateTime<Utc>) -> Result<usize, AppError> {
    let challenges = diesel::delete(mfa_challenges::table.filter(mfa_challenges::expires_at.lt(now))).execute(conn)?
        + diesel::delete(passkey_logins::table.filter(passkey_logins::expires_at.lt(now))).execute(conn)?;
    let pending = diesel::delete(
        member_factors::table
            .filter(member_factors::confirmed_at.is_null())
            .filter(member_factors::created_at.lt(now - Duration::days(1))),
    )
    .execute(conn)?;
    let counts =
        diesel::delete(factor_throttles::table.filter(factor_throttles::last_failure_at.lt(now - THROTTLE_WINDOW)))
            .execute(conn)?;
    Ok(challenges + pending + counts)
}

//! Queries on second factors and recovery codes; logins waiting for their
//! second factor in `logins`.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::auth::model::THROTTLE_WINDOW;
use crate::error::AppError;
use crate::factors::model::{CEREMONY_MINUTES, FactorKind};
use crate::members::model::Member;
use crate::members::store::{self as members, record_login_sql};
use crate::pagination::{Page, Paged};
use crate::schema::{factor_throttles, member_factors, mfa_challenges, recovery_codes, spent_passkey_ceremonies};

mod logins;

pub use logins::{
    Answering, ChallengeRow, TotpRow, challenge_counting_answer, challenge_for_update, clear_challenge_passkey_state,
    count_answer, forget_failures, open_challenge, set_challenge_passkey_state, spend_ceremony_finding_passkey,
    use_challenge_forgetting_failures,
};

/// A factor as stored, secrets included: never handed out as it is.
#[derive(Debug, Clone, Queryable, QueryableByName, Selectable)]
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

/// The member's confirmed TOTP factors, oldest first, locked, as a code is
/// checked against them.
pub fn totp_for_update(conn: &mut PgConnection, member_id: i64) -> Result<Vec<TotpRow>, AppError> {
    Ok(confirmed_for_update(conn, member_id, FactorKind::Totp)?
        .into_iter()
        .filter_map(|factor| {
            Some(TotpRow {
                id: factor.id,
                secret: factor.totp_secret?,
                last_step: factor.totp_last_step,
            })
        })
        .collect())
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

/// Records a login by passkey: the passkey's use (its counter and backup
/// flags as it answered) and the member's login, as
/// `members::store::record_login` records it, in one statement.
pub fn record_passkey_login(
    conn: &mut PgConnection,
    (factor_id, passkey): (Uuid, serde_json::Value),
    member_id: i64,
    now: DateTime<Utc>,
    ip: Option<&str>,
) -> Result<Option<Member>, AppError> {
    members::recorded_login(
        conn,
        members::recording_login(
            concat!(
                "WITH used AS (UPDATE member_factors SET last_used_at = $2, passkey = $5 WHERE id = $4) ",
                record_login_sql!()
            ),
            member_id,
            now,
            ip,
        )
        .bind::<diesel::sql_types::Uuid, _>(factor_id)
        .bind::<diesel::sql_types::Jsonb, _>(passkey),
    )
}

/// Records a code accepted for the TOTP factor `id` at time step `step`.
pub fn record_totp_use(conn: &mut PgConnection, id: Uuid, step: i64, now: DateTime<Utc>) -> Result<(), AppError> {
    // Prepared: diesel plans every UPDATE anew, and this one is in every
    // login with a code.
    crate::db::prepared("UPDATE member_factors SET last_used_at = $2, totp_last_step = $3 WHERE id = $1")
        .bind::<diesel::sql_types::Uuid, _>(id)
        .bind::<diesel::sql_types::Timestamptz, _>(now)
        .bind::<diesel::sql_types::BigInt, _>(step)
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

/// Deletes what has lapsed: logins that waited for their second factor past
/// their end, answered passkey ceremonies a while after theirs (another
/// replica's clock may run behind this one's), enrolments left unconfirmed
/// for a day, and counts of wrong answers older than the throttle window.
/// Returns how many rows went.
pub fn forget_lapsed(conn: &mut PgConnection, now: DateTime<Utc>) -> Result<usize, AppError> {
    let margin = Duration::minutes(CEREMONY_MINUTES);
    let challenges = diesel::delete(mfa_challenges::table.filter(mfa_challenges::expires_at.lt(now))).execute(conn)?
        + diesel::delete(spent_passkey_ceremonies::table.filter(spent_passkey_ceremonies::expires_at.lt(now - margin)))
            .execute(conn)?;
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

//! Queries on e-mailed tokens.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::error::AppError;
use crate::schema::member_tokens;
use crate::tokens::model::TokenKind;

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = member_tokens)]
pub struct StoredToken {
    pub id: i64,
    pub member_id: i64,
    pub payload: Option<String>,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
}

/// Stores a new token of `kind` for the member; older unused ones of the same
/// kind stop working, so only the latest e-mail's link is good.
pub fn issue(
    conn: &mut PgConnection,
    member_id: i64,
    kind: TokenKind,
    token_hash: &[u8],
    payload: Option<&str>,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<(), AppError> {
    diesel::delete(
        member_tokens::table
            .filter(member_tokens::member_id.eq(member_id))
            .filter(member_tokens::kind.eq(kind.as_str()))
            .filter(member_tokens::used_at.is_null()),
    )
    .execute(conn)?;
    add(conn, member_id, kind, token_hash, payload, now, expires_at)
}

/// Stores a new token of `kind` beside the member's others of that kind.
fn add(
    conn: &mut PgConnection,
    member_id: i64,
    kind: TokenKind,
    token_hash: &[u8],
    payload: Option<&str>,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<(), AppError> {
    diesel::insert_into(member_tokens::table)
        .values((
            member_tokens::member_id.eq(member_id),
            member_tokens::kind.eq(kind.as_str()),
            member_tokens::token_hash.eq(token_hash),
            member_tokens::payload.eq(payload),
            member_tokens::created_at.eq(now),
            member_tokens::expires_at.eq(expires_at),
        ))
        .execute(conn)?;
    Ok(())
}

/// The token with this hash and kind, locked until the transaction ends so
/// that two concurrent uses cannot both succeed.
pub fn find_for_update(
    conn: &mut PgConnection,
    token_hash: &[u8],
    kind: TokenKind,
) -> Result<Option<StoredToken>, AppError> {
    Ok(member_tokens::table
        .filter(member_tokens::token_hash.eq(token_hash))
        .filter(member_tokens::kind.eq(kind.as_str()))
        .select(StoredToken::as_select())
        .for_update()
        .first(conn)
        .optional()?)
}

pub fn mark_used(conn: &mut PgConnection, id: i64, now: DateTime<Utc>) -> Result<(), AppError> {
    diesel::update(member_tokens::table.find(id))
        .set(member_tokens::used_at.eq(now))
        .execute(conn)?;
    Ok(())
}

/// Voids the member's unused tokens of these kinds: their links stop working
/// (as unknown ones), because what they were sent for no longer holds. Returns
/// how many.
pub fn void_outstanding(conn: &mut PgConnection, member_id: i64, kinds: &[TokenKind]) -> Result<usize, AppError> {
    let kinds: Vec<&str> = kinds.iter().map(|kind| kind.as_str()).collect();
    Ok(diesel::delete(
        member_tokens::table
            .filter(member_tokens::member_id.eq(member_id))
            .filter(member_tokens::kind.eq_any(kinds))
            .filter(member_tokens::used_at.is_null()),
    )
    .execute(conn)?)
}

/// Marks the member's unused tokens of `kind` carrying `payload` used: what
/// they were sent for is done another way.
pub fn spend(
    conn: &mut PgConnection,
    member_id: i64,
    kind: TokenKind,
    payload: &str,
    now: DateTime<Utc>,
) -> Result<usize, AppError> {
    Ok(diesel::update(
        member_tokens::table
            .filter(member_tokens::member_id.eq(member_id))
            .filter(member_tokens::kind.eq(kind.as_str()))
            .filter(member_tokens::payload.eq(payload))
            .filter(member_tokens::used_at.is_null()),
    )
    .set(member_tokens::used_at.eq(now))
    .execute(conn)?)
}

//! The statements that take a batch of sanctions, one per member, at once
//! (see `db::batch`).

use std::collections::HashMap;

use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bytea, Nullable, Text, Timestamptz};

use super::{NewSanction, SanctionRow};
use crate::db::{column, prepared};
use crate::error::AppError;
use crate::sanctions::model::{Slot, Until};
use crate::schema::sanctions;
use crate::tokens::model::TokenKind;

/// Every sanction about these members, oldest first, by member.
pub fn of_members(conn: &mut PgConnection, member_ids: &[i64]) -> Result<HashMap<i64, Vec<SanctionRow>>, AppError> {
    let rows: Vec<SanctionRow> = sanctions::table
        .filter(sanctions::member_id.eq_any(member_ids))
        .order((sanctions::member_id, sanctions::created_at.asc(), sanctions::id.asc()))
        .select(SanctionRow::as_select())
        .load(conn)?;
    let mut by_member: HashMap<i64, Vec<SanctionRow>> = member_ids.iter().map(|id| (*id, Vec::new())).collect();
    for row in rows {
        by_member.entry(row.member_id).or_default().push(row);
    }
    Ok(by_member)
}

/// Stores sanctions, each with the slot the queue gives it and its appeal
/// link, in one statement; each member at most once. The stored rows come
/// back in the order given.
pub fn insert_many<'a>(
    conn: &mut PgConnection,
    new: &'a [(NewSanction<'a>, Slot)],
) -> Result<Vec<SanctionRow>, AppError> {
    let rows: Vec<SanctionRow> = prepared(
        "WITH input AS ( \
           SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], \
                                $7::bigint[], $8::timestamptz[], $9::timestamptz[], $10::timestamptz[], \
                                $11::bytea[], $12::timestamptz[]) WITH ORDINALITY \
             AS i(member_id, kind, resource, reason, private_note, duration_seconds, moderator_id, created_at, \
                  starts_at, ends_at, token_hash, token_expires_at, n)), \
         sanction AS ( \
           INSERT INTO sanctions (member_id, kind, resource, reason, private_note, duration_seconds, \
                                  moderator_id, created_at, starts_at, ends_at) \
           SELECT member_id, kind, resource, reason, private_note, duration_seconds, moderator_id, created_at, \
                  starts_at, ends_at FROM input ORDER BY n \
           RETURNING *), \
         link AS ( \
           INSERT INTO member_tokens (member_id, kind, token_hash, payload, created_at, expires_at) \
           SELECT s.member_id, $13, i.token_hash, s.id::text, s.created_at, i.token_expires_at \
           FROM sanction s JOIN input i ON i.member_id = s.member_id WHERE i.token_hash IS NOT NULL) \
         SELECT * FROM sanction",
    )
    .bind::<Array<BigInt>, _>(column(new, |(n, _)| n.member_id))
    .bind::<Array<Text>, _>(column(new, |(n, _)| n.action.as_str()))
    .bind::<Array<Nullable<Text>>, _>(column(new, |(n, _)| n.resource))
    .bind::<Array<Text>, _>(column(new, |(n, _)| n.reason))
    .bind::<Array<Text>, _>(column(new, |(n, _)| n.private_note))
    .bind::<Array<Nullable<BigInt>>, _>(column(new, |(n, _)| n.duration.map(|d| d.as_secs() as i64)))
    .bind::<Array<BigInt>, _>(column(new, |(n, _)| n.moderator_id))
    .bind::<Array<Timestamptz>, _>(column(new, |(n, _)| n.now))
    .bind::<Array<Nullable<Timestamptz>>, _>(column(new, |(_, s)| s.starts_at))
    .bind::<Array<Nullable<Timestamptz>>, _>(column(new, |(_, s)| match s.ends_at {
        Until::At(at) => Some(at),
        Until::Never => None,
    }))
    .bind::<Array<Nullable<Bytea>>, _>(column(new, |(n, _)| n.appeal.as_ref().map(|link| link.token_hash)))
    .bind::<Array<Nullable<Timestamptz>>, _>(column(new, |(n, _)| n.appeal.as_ref().map(|link| link.expires_at)))
    .bind::<Text, _>(TokenKind::Appeal.as_str())
    .load(conn)?;
    // RETURNING promises no order: each row is found by its member.
    let mut by_member: HashMap<i64, SanctionRow> = rows.into_iter().map(|row| (row.member_id, row)).collect();
    new.iter()
        .map(|(n, _)| {
            by_member
                .remove(&n.member_id)
                .ok_or_else(|| AppError::internal("a batch named a member twice"))
        })
        .collect()
}

//! Finding members by the keys paths and requests name them by.

use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::sql_types::Bool;

use super::{MemberRow, lower};
use crate::error::AppError;
use crate::members::model::{Member, MemberKey};
use crate::schema::{groups, member_groups, members};

/// PostgreSQL text cannot hold U+0000, so no username does, and a query
/// that names one would fail whole.
fn can_be_text(name: &str) -> bool {
    !name.contains('\0')
}

/// Which member a key names, by id or username (in any case), as a filter;
/// None when it can name nobody.
fn key_filter(key: &MemberKey) -> Option<Box<dyn BoxableExpression<members::table, Pg, SqlType = Bool>>> {
    match key {
        MemberKey::Id(id) => Some(Box::new(members::id.eq(*id))),
        MemberKey::Username(name) if !can_be_text(name) => None,
        MemberKey::Username(name) => Some(Box::new(lower(members::username).eq(name.to_lowercase()))),
    }
}

/// Whether the member of the row is in `group`, as a selectable column.
#[diesel::dsl::auto_type]
fn in_group(group: String) -> _ {
    diesel::dsl::exists(
        member_groups::table
            .inner_join(groups::table)
            .filter(groups::name.eq(group))
            .filter(member_groups::member_id.eq(members::id)),
    )
}

/// The member a path names. Built-in members are nobody's business.
pub fn find_by_key(conn: &mut PgConnection, key: &MemberKey) -> Result<Option<Member>, AppError> {
    let Some(filter) = key_filter(key) else {
        return Ok(None);
    };
    Ok(members::table
        .filter(members::is_system.eq(false))
        .filter(filter)
        .select(MemberRow::as_select())
        .first(conn)
        .optional()?
        .map(Into::into))
}

/// The members these keys name, each with their case-folded username (to
/// tell which key named whom) and whether they are bots: what moderating
/// many members in one transaction needs. With `lock`, their rows are locked
/// until the transaction ends, in the order of their ids, so that two such
/// locks never deadlock.
pub fn many_by_keys_with_bot(
    conn: &mut PgConnection,
    keys: &[MemberKey],
    bot_group: &str,
    lock: bool,
) -> Result<Vec<KeyedMember>, AppError> {
    let mut ids = Vec::new();
    let mut folded_names = Vec::new();
    for key in keys {
        match key {
            MemberKey::Id(id) => ids.push(*id),
            MemberKey::Username(name) if can_be_text(name) => folded_names.push(name.to_lowercase()),
            MemberKey::Username(_) => {}
        }
    }
    let is_bot = in_group(bot_group.to_string());
    let query = members::table
        .filter(members::is_system.eq(false))
        .filter(
            members::id
                .eq_any(ids)
                .or(lower(members::username).eq_any(folded_names)),
        )
        .order(members::id)
        .select((MemberRow::as_select(), lower(members::username), is_bot));
    let rows: Vec<(MemberRow, String, bool)> = if lock {
        query.for_update().load(conn)?
    } else {
        query.load(conn)?
    };
    Ok(rows
        .into_iter()
        .map(|(row, folded_name, is_bot)| KeyedMember {
            member: row.into(),
            folded_name,
            is_bot,
        })
        .collect())
}

/// A member found by [`many_by_keys_with_bot`].
pub struct KeyedMember {
    pub member: Member,
    folded_name: String,
    pub is_bot: bool,
}

impl KeyedMember {
    /// Whether `key` names this member, as the lock's query compared them.
    pub fn is_named_by(&self, key: &MemberKey) -> bool {
        match key {
            MemberKey::Id(id) => self.member.id == *id,
            MemberKey::Username(name) => can_be_text(name) && self.folded_name == name.to_lowercase(),
        }
    }
}

/// The members these ids and (case-folded) usernames name; built-in members
/// are nobody's business.
pub fn find_many_by_key(
    conn: &mut PgConnection,
    ids: &[i64],
    folded_names: &[String],
) -> Result<Vec<Member>, AppError> {
    let folded_names: Vec<&String> = folded_names.iter().filter(|name| can_be_text(name)).collect();
    Ok(members::table
        .filter(members::is_system.eq(false))
        .filter(
            members::id
                .eq_any(ids)
                .or(lower(members::username).eq_any(folded_names)),
        )
        .select(MemberRow::as_select())
        .load(conn)?
        .into_iter()
        .map(Into::into)
        .collect())
}

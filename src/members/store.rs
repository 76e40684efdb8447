//! Queries on members.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::db;
use crate::error::AppError;
use crate::members::model::{
    Email, Locale, Member, MemberError, NameClash, Preferences, Profile, ProfileChanges, Username,
    forbidden_entries_matching,
};
use crate::schema::{forbidden_email_domains, groups, member_groups, members, username_history};

mod ips;
mod keys;
pub use ips::{IpRecord, ips_of, ips_page, prune_ips};
pub use keys::{KeyedMember, find_by_key, find_many_by_key, many_by_keys_with_bot};

#[derive(Queryable, QueryableByName, Selectable)]
#[diesel(table_name = members)]
pub(super) struct MemberRow {
    id: i64,
    username: String,
    email: String,
    password_hash: String,
    is_active: bool,
    is_staff: bool,
    is_superuser: bool,
    locale: String,
    date_joined: DateTime<Utc>,
    last_login_at: Option<DateTime<Utc>>,
    last_visit_at: Option<DateTime<Utc>>,
    last_ip: Option<String>,
    biography: String,
    website: String,
    avatar_url: String,
    signature: String,
    show_email: bool,
    show_signature: bool,
    hover_menus: bool,
    email_on_private_message: bool,
    deactivated_at: Option<DateTime<Utc>>,
}

impl From<MemberRow> for Member {
    fn from(row: MemberRow) -> Self {
        Member {
            id: row.id,
            username: row.username,
            email: row.email,
            password_hash: row.password_hash,
            is_active: row.is_active,
            deactivated_at: row.deactivated_at,
            is_staff: row.is_staff,
            is_superuser: row.is_superuser,
            locale: Locale::from_db(&row.locale),
            date_joined: row.date_joined,
            last_login_at: row.last_login_at,
            last_visit_at: row.last_visit_at,
            last_ip: row.last_ip,
            profile: Profile {
                biography: row.biography,
                website: row.website,
                avatar_url: row.avatar_url,
                signature: row.signature,
            },
            preferences: Preferences {
                show_email: row.show_email,
                show_signature: row.show_signature,
                hover_menus: row.hover_menus,
                email_on_private_message: row.email_on_private_message,
            },
        }
    }
}

#[derive(Insertable)]
#[diesel(table_name = members)]
struct MemberInsert<'a> {
    username: &'a str,
    username_skeleton: String,
    email: &'a str,
    email_key: String,
    password_hash: &'a str,
    is_active: bool,
    is_staff: bool,
    is_superuser: bool,
    locale: &'a str,
    date_joined: DateTime<Utc>,
}

/// A member to create, from values that already passed the rules.
pub struct NewMember<'a> {
    pub username: &'a Username,
    pub email: &'a Email,
    pub password_hash: &'a str,
    pub locale: Locale,
    /// An operator-made superuser is active, staff and superuser at once;
    /// everyone else starts as an inactive plain member.
    pub superuser: bool,
    pub now: DateTime<Utc>,
}

/// What a unique index of `members` refused, told by the index's name: a
/// write that lost a race with another taking the same name or address.
fn taken(error: diesel::result::Error) -> AppError {
    use diesel::result::{DatabaseErrorKind, Error};
    match &error {
        Error::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => match info.constraint_name() {
            Some("members_username_key" | "members_username_skeleton_key") => {
                AppError::Validation(vec![NameClash::Taken.into()])
            }
            Some("members_email_key_key") => MemberError::EmailTaken.into(),
            _ => error.into(),
        },
        _ => error.into(),
    }
}

pub fn insert(conn: &mut PgConnection, new: &NewMember) -> Result<Member, AppError> {
    let row = MemberInsert {
        username: new.username.as_str(),
        username_skeleton: new.username.confusable_key(),
        email: new.email.as_str(),
        email_key: new.email.key(),
        password_hash: new.password_hash,
        is_active: new.superuser,
        is_staff: new.superuser,
        is_superuser: new.superuser,
        locale: new.locale.as_str(),
        date_joined: new.now,
    };
    Ok(diesel::insert_into(members::table)
        .values(&row)
        .returning(MemberRow::as_returning())
        .get_result(conn)
        .map_err(taken)?
        .into())
}

pub fn find(conn: &mut PgConnection, id: i64) -> Result<Option<Member>, AppError> {
    Ok(members::table
        .find(id)
        .select(MemberRow::as_select())
        .first(conn)
        .optional()?
        .map(Into::into))
}

/// Locks the member's row for the rest of the transaction.
pub fn find_for_update(conn: &mut PgConnection, id: i64) -> Result<Option<Member>, AppError> {
    Ok(members::table
        .find(id)
        .select(MemberRow::as_select())
        .for_update()
        .first(conn)
        .optional()?
        .map(Into::into))
}

pub fn find_by_email(conn: &mut PgConnection, email: &Email) -> Result<Option<Member>, AppError> {
    Ok(members::table
        .filter(members::email_key.eq(email.key()))
        .select(MemberRow::as_select())
        .first(conn)
        .optional()?
        .map(Into::into))
}

diesel::define_sql_function!(fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text);

/// The member a login identifier names: a case-folded username or e-mail.
pub fn find_by_login(conn: &mut PgConnection, folded: &str) -> Result<Option<Member>, AppError> {
    let query = members::table
        .filter(members::is_system.eq(false))
        .select(MemberRow::as_select());
    let row = if folded.contains('@') {
        query.filter(members::email_key.eq(folded)).first(conn).optional()?
    } else {
        query
            .filter(lower(members::username).eq(folded))
            .first(conn)
            .optional()?
    };
    Ok(row.map(Into::into))
}

/// Whether another member already has this name, or one that looks like it.
pub fn name_clash(
    conn: &mut PgConnection,
    name: &Username,
    except: Option<i64>,
) -> Result<Option<NameClash>, AppError> {
    let mut query = members::table
        .filter(members::username_skeleton.eq(name.confusable_key()))
        .select(members::username)
        .into_boxed();
    if let Some(id) = except {
        query = query.filter(members::id.ne(id));
    }
    let existing: Option<String> = query.first(conn).optional()?;
    Ok(existing.map(|other| {
        if other.to_lowercase() == name.as_str().to_lowercase() {
            NameClash::Taken
        } else {
            NameClash::Confusable
        }
    }))
}

pub fn email_domain_forbidden(conn: &mut PgConnection, email: &Email) -> Result<bool, AppError> {
    let candidates = forbidden_entries_matching(&email.domain());
    Ok(diesel::select(diesel::dsl::exists(
        forbidden_email_domains::table.filter(forbidden_email_domains::domain.eq_any(candidates)),
    ))
    .get_result(conn)?)
}

pub fn activate(conn: &mut PgConnection, id: i64) -> Result<(), AppError> {
    diesel::update(members::table.find(id))
        .set(members::is_active.eq(true))
        .execute(conn)?;
    Ok(())
}

/// Records a login on the member (its time, which is a visit too, and its
/// address) and answers the member as they now are, locked until the
/// transaction ends as `find_for_update` would lock them. Announces nothing
/// (see `cache`): the caller drops its own copy.
pub fn record_login(
    conn: &mut PgConnection,
    id: i64,
    now: DateTime<Utc>,
    ip: Option<&str>,
) -> Result<Option<Member>, AppError> {
    recorded_login(conn, recording_login(record_login_sql!(), id, now, ip))
}

/// [`record_login`]'s update, for a statement that records a login beside
/// other work (in common table expressions before it), on the parameters
/// $1–$3 that [`recording_login`] binds.
macro_rules! record_login_sql {
    () => {
        "UPDATE members SET last_login_at = $2, last_visit_at = $2, last_ip = $3 WHERE id = $1 RETURNING *"
    };
}
pub(crate) use record_login_sql;

/// `sql`, a statement ending with [`record_login_sql`], with that update's
/// parameters bound; the caller binds its own from $4. Prepared: diesel plans
/// every UPDATE anew, and this one is in every login.
pub fn recording_login(sql: &'static str, id: i64, now: DateTime<Utc>, ip: Option<&str>) -> db::Prepared<'static> {
    db::prepared(sql)
        .bind::<diesel::sql_types::BigInt, _>(id)
        .bind::<diesel::sql_types::Timestamptz, _>(now)
        .bind::<diesel::sql_types::Nullable<diesel::sql_types::Text>, _>(ip.map(str::to_string))
}

/// Runs a statement made with [`recording_login`]: the member as the login
/// left them, if they exist.
pub fn recorded_login(conn: &mut PgConnection, statement: db::Prepared<'_>) -> Result<Option<Member>, AppError> {
    let updated: Vec<MemberRow> = statement.load(conn)?;
    Ok(updated.into_iter().next().map(Into::into))
}

/// Marks a visit, at most once per `every` so that reading is not a write.
/// Announces nothing, as [`record_login`].
pub fn record_visit(
    conn: &mut PgConnection,
    id: i64,
    now: DateTime<Utc>,
    every: chrono::Duration,
) -> Result<(), AppError> {
    diesel::update(
        members::table.find(id).filter(
            members::last_visit_at
                .is_null()
                .or(members::last_visit_at.lt(now - every)),
        ),
    )
    .set(members::last_visit_at.eq(now))
    .execute(conn)?;
    Ok(())
}

#[derive(AsChangeset)]
#[diesel(table_name = members)]
struct ProfileChangeset<'a> {
    biography: Option<&'a str>,
    website: Option<&'a str>,
    avatar_url: Option<&'a str>,
    signature: Option<&'a str>,
    locale: Option<&'a str>,
    show_email: Option<bool>,
    show_signature: Option<bool>,
    hover_menus: Option<bool>,
    email_on_private_message: Option<bool>,
}

pub fn update_profile(conn: &mut PgConnection, id: i64, changes: &ProfileChanges) -> Result<(), AppError> {
    if changes.is_empty() {
        return Ok(());
    }
    diesel::update(members::table.find(id))
        .set(&ProfileChangeset {
            biography: changes.biography.as_deref(),
            website: changes.website.as_deref(),
            avatar_url: changes.avatar_url.as_deref(),
            signature: changes.signature.as_deref(),
            locale: changes.locale.map(Locale::as_str),
            show_email: changes.show_email,
            show_signature: changes.show_signature,
            hover_menus: changes.hover_menus,
            email_on_private_message: changes.email_on_private_message,
        })
        .execute(conn)?;
    Ok(())
}

pub fn set_password(conn: &mut PgConnection, id: i64, password_hash: &str) -> Result<(), AppError> {
    diesel::update(members::table.find(id))
        .set(members::password_hash.eq(password_hash))
        .execute(conn)?;
    Ok(())
}

/// Replaces a hash in another format by memberd's own, unless the password
/// changed since `verified` was read; answers whether it did.
pub fn rehash_password(
    conn: &mut PgConnection,
    id: i64,
    verified: &str,
    password_hash: &str,
) -> Result<bool, AppError> {
    let replaced = diesel::update(members::table.find(id).filter(members::password_hash.eq(verified)))
        .set(members::password_hash.eq(password_hash))
        .execute(conn)?;
    Ok(replaced == 1)
}

pub fn set_email(conn: &mut PgConnection, id: i64, email: &Email) -> Result<(), AppError> {
    diesel::update(members::table.find(id))
        .set((members::email.eq(email.as_str()), members::email_key.eq(email.key())))
        .execute(conn)
        .map_err(taken)?;
    Ok(())
}

/// Renames a member and keeps the old name in the history.
pub fn rename(conn: &mut PgConnection, member: &Member, to: &Username, now: DateTime<Utc>) -> Result<(), AppError> {
    diesel::update(members::table.find(member.id))
        .set((
            members::username.eq(to.as_str()),
            members::username_skeleton.eq(to.confusable_key()),
        ))
        .execute(conn)
        .map_err(taken)?;
    diesel::insert_into(username_history::table)
        .values((
            username_history::member_id.eq(member.id),
            username_history::old_username.eq(&member.username),
            username_history::new_username.eq(to.as_str()),
            username_history::changed_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = username_history)]
pub struct Rename {
    pub old_username: String,
    pub new_username: String,
    pub changed_at: DateTime<Utc>,
}

pub fn renames_of(conn: &mut PgConnection, id: i64) -> Result<Vec<Rename>, AppError> {
    Ok(username_history::table
        .filter(username_history::member_id.eq(id))
        .order(username_history::changed_at.desc())
        .select(Rename::as_select())
        .load(conn)?)
}

/// Which of these members are in the bot group.
pub fn bots_among(conn: &mut PgConnection, ids: &[i64], bot_group: &str) -> Result<Vec<i64>, AppError> {
    Ok(member_groups::table
        .inner_join(groups::table)
        .filter(groups::name.eq(bot_group))
        .filter(member_groups::member_id.eq_any(ids))
        .select(member_groups::member_id)
        .load(conn)?)
}

/// Deletes the member's row; tokens, sessions, IP records, group memberships
/// and username history go with it (ON DELETE CASCADE).
pub fn delete(conn: &mut PgConnection, id: i64) -> Result<(), AppError> {
    diesel::delete(members::table.find(id)).execute(conn)?;
    Ok(())
}

/// The built-in member that stands in for unregistered staff.
pub fn placeholder_id(conn: &mut PgConnection) -> Result<i64, AppError> {
    Ok(members::table
        .filter(members::is_system.eq(true))
        .order(members::id.asc())
        .select(members::id)
        .first(conn)?)
}

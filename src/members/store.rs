//! Queries on members.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::error::AppError;
use crate::members::model::{Email, Locale, Member, Username, domain_and_parents};
use crate::schema::{forbidden_email_domains, members};

#[derive(Queryable, Selectable)]
#[diesel(table_name = members)]
struct MemberRow {
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
}

impl From<MemberRow> for Member {
    fn from(row: MemberRow) -> Self {
        Member {
            id: row.id,
            username: row.username,
            email: row.email,
            password_hash: row.password_hash,
            is_active: row.is_active,
            is_staff: row.is_staff,
            is_superuser: row.is_superuser,
            locale: Locale::from_db(&row.locale),
            date_joined: row.date_joined,
            last_login_at: row.last_login_at,
            last_visit_at: row.last_visit_at,
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
        .get_result(conn)?
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
    let query = members::table.select(MemberRow::as_select());
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

#[derive(Debug, PartialEq, Eq)]
pub enum NameClash {
    Taken,
    Confusable,
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
    let candidates = domain_and_parents(&email.domain());
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

pub fn record_login(conn: &mut PgConnection, id: i64, ip: &str, now: DateTime<Utc>) -> Result<(), AppError> {
    diesel::update(members::table.find(id))
        .set((
            members::last_login_at.eq(now),
            members::last_visit_at.eq(now),
            members::last_ip.eq(ip),
        ))
        .execute(conn)?;
    Ok(())
}

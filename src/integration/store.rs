//! Queries on service clients.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::error::AppError;
use crate::integration::model::{ApiKey, Scope, hash_key};
use crate::pagination::{Page, Paged};
use crate::schema::service_clients;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = service_clients)]
pub struct ClientRow {
    pub id: i64,
    pub name: String,
    pub scopes: Vec<String>,
    pub key_prefix: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl ClientRow {
    pub fn has(&self, scope: Scope) -> bool {
        self.scopes.iter().any(|s| s == scope.as_str())
    }
}

pub fn insert(
    conn: &mut PgConnection,
    name: &str,
    scopes: &[Scope],
    key: &ApiKey,
    by: i64,
    now: DateTime<Utc>,
) -> Result<ClientRow, AppError> {
    Ok(diesel::insert_into(service_clients::table)
        .values((
            service_clients::name.eq(name),
            service_clients::scopes.eq(scopes.iter().map(|s| s.as_str().to_string()).collect::<Vec<_>>()),
            service_clients::key_hash.eq(hash_key(&key.text)),
            service_clients::key_prefix.eq(key.prefix()),
            service_clients::created_by.eq(by),
            service_clients::created_at.eq(now),
        ))
        .returning(ClientRow::as_returning())
        .get_result(conn)?)
}

/// A page of the clients, oldest first, and how many there are.
pub fn list(conn: &mut PgConnection, page: Page) -> Result<Paged<ClientRow>, AppError> {
    let total = service_clients::table.count().get_result(conn)?;
    let rows = service_clients::table
        .order(service_clients::id.asc())
        .offset(page.offset())
        .limit(page.per_page)
        .select(ClientRow::as_select())
        .load(conn)?;
    Ok(Paged::new(rows, page, total))
}

pub fn revoke(conn: &mut PgConnection, id: i64, now: DateTime<Utc>) -> Result<bool, AppError> {
    let changed = diesel::update(
        service_clients::table
            .find(id)
            .filter(service_clients::revoked_at.is_null()),
    )
    .set(service_clients::revoked_at.eq(now))
    .execute(conn)?;
    Ok(changed == 1)
}

/// The live (unrevoked) client holding this key.
pub fn find_live(conn: &mut PgConnection, key: &str) -> Result<Option<ClientRow>, AppError> {
    Ok(service_clients::table
        .filter(service_clients::key_hash.eq(hash_key(key)))
        .filter(service_clients::revoked_at.is_null())
        .select(ClientRow::as_select())
        .first(conn)
        .optional()?)
}

pub fn record_use(conn: &mut PgConnection, id: i64, now: DateTime<Utc>) -> Result<(), AppError> {
    diesel::update(service_clients::table.find(id))
        .set(service_clients::last_used_at.eq(now))
        .execute(conn)?;
    Ok(())
}

/// Keys belong to the community, not to the superuser who made them: when
/// that superuser unregisters, they are attributed to the placeholder member.
pub fn reattribute(conn: &mut PgConnection, from: i64, to: i64) -> Result<(), AppError> {
    diesel::update(service_clients::table.filter(service_clients::created_by.eq(from)))
        .set(service_clients::created_by.eq(to))
        .execute(conn)?;
    Ok(())
}

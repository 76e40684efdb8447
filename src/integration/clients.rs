//! Service clients: other services of the community, calling with an API key.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::error::{AppError, FieldError};
use crate::schema::service_clients;

/// What a key lets its service do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Member status, one or in batch.
    StatusRead,
    /// The directory and public profiles, with is_active and roles.
    MembersRead,
    /// The event feed.
    EventsRead,
}

impl Scope {
    pub const ALL: [Scope; 3] = [Self::StatusRead, Self::MembersRead, Self::EventsRead];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::StatusRead => "status:read",
            Self::MembersRead => "members:read",
            Self::EventsRead => "events:read",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// Keys carry this prefix, so that they are recognisable in a config file or
/// a leak scanner, and told apart from access tokens.
pub const KEY_PREFIX: &str = "mbd_";

/// A new key: the text is shown once; the hash is stored.
pub struct ApiKey {
    pub text: String,
}

impl ApiKey {
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self {
            text: format!("{KEY_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes)),
        }
    }

    /// The first characters, enough to recognise the key in a list.
    pub fn prefix(&self) -> String {
        self.text.chars().take(KEY_PREFIX.len() + 6).collect()
    }
}

pub fn hash_key(text: &str) -> Vec<u8> {
    Sha256::digest(text.as_bytes()).to_vec()
}

pub fn is_api_key(token: &str) -> bool {
    token.starts_with(KEY_PREFIX)
}

/// A client creation request, checked.
pub fn parse_client(name: &str, scopes: &[String]) -> Result<(String, Vec<Scope>), Vec<FieldError>> {
    let mut errors = Vec::new();
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        errors.push(FieldError::new(
            "name",
            "invalid_length",
            "A name has 1 to 100 characters.",
        ));
    }
    let mut parsed = Vec::new();
    for scope in scopes {
        match Scope::parse(scope) {
            Some(s) if !parsed.contains(&s) => parsed.push(s),
            Some(_) => {}
            None => errors.push(FieldError::new(
                "scopes",
                "unknown_scope",
                format!("{scope} is not status:read, members:read or events:read."),
            )),
        }
    }
    if scopes.is_empty() {
        errors.push(FieldError::new("scopes", "required", "Give at least one scope."));
    }
    if errors.is_empty() {
        Ok((name.to_string(), parsed))
    } else {
        Err(errors)
    }
}

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

pub fn list(conn: &mut PgConnection) -> Result<Vec<ClientRow>, AppError> {
    Ok(service_clients::table
        .order(service_clients::id.asc())
        .select(ClientRow::as_select())
        .load(conn)?)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_long_random_and_recognisable() {
        let a = ApiKey::generate();
        let b = ApiKey::generate();
        assert_ne!(a.text, b.text);
        assert!(is_api_key(&a.text) && !is_api_key("eyJhbGciOi"));
        assert_eq!(a.text.len(), KEY_PREFIX.len() + 43);
        assert!(a.text.starts_with(&a.prefix()));
        assert_ne!(hash_key(&a.text), hash_key(&b.text));
    }

    #[test]
    fn client_requests_are_checked() {
        let (name, scopes) = parse_client(" forum ", &["status:read".into(), "status:read".into()]).unwrap();
        assert_eq!((name.as_str(), scopes), ("forum", vec![Scope::StatusRead]));
        let codes: Vec<String> = parse_client("", &["admin".into()])
            .unwrap_err()
            .into_iter()
            .map(|e| e.code)
            .collect();
        assert_eq!(codes, ["invalid_length", "unknown_scope"]);
        assert_eq!(parse_client("x", &[]).unwrap_err()[0].code, "required");
    }
}

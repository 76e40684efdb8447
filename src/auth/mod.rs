//! Passwords, signing keys, sessions, and who the caller is.

pub mod admission;
pub mod extract;
pub mod keys;
pub mod model;
pub mod password;
pub mod routes;
pub mod service;
pub mod store;

use crate::duration::Duration;

/// Everything needed to mint access tokens.
pub struct TokenIssuer {
    pub keys: keys::SigningKeys,
    pub issuer: String,
    pub access_ttl: Duration,
}

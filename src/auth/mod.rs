//! Passwords, signing keys, sessions, and who the caller is.

pub mod admission;
pub mod eddsa;
pub mod extract;
pub mod keys;
pub mod model;
pub mod password;
pub mod policy;
pub mod routes;
pub mod service;
pub mod store;

use crate::duration::Duration;

/// Everything needed to mint access tokens.
pub struct TokenIssuer {
    pub keys: keys::SigningKeys,
    pub issuer: String,
    pub access_ttl: Duration,
    /// How long a session lives at most from its login, whatever its refreshes.
    pub session_max_age: Duration,
}

impl TokenIssuer {
    pub fn session_lifetime(&self, remember_me: bool) -> model::SessionLifetime {
        model::SessionLifetime {
            remember_me,
            max_age: self.session_max_age.to_chrono(),
        }
    }
}

//! Opaque secrets handed to people (e-mailed tokens, refresh tokens): 256
//! random bits, sent as base64url, stored only as their SHA-256. A fast hash
//! is right here: the input has full entropy, so there is nothing to brute-force.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::error::{DomainError, ErrorCode, Kind};

/// Length of the base64url text of 32 bytes.
const TOKEN_TEXT_LEN: usize = 43;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Registration,
    PasswordReset,
    EmailChange,
    /// Lets a sanctioned member appeal one sanction (its id is the payload),
    /// banned or not.
    Appeal,
}

impl TokenKind {
    /// The links that open or change the account, voided together when what
    /// they were sent for no longer holds. An appeal link is about a sanction
    /// and outlives these.
    pub const ACCOUNT: [TokenKind; 3] = [Self::Registration, Self::PasswordReset, Self::EmailChange];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Registration => "registration",
            Self::PasswordReset => "password_reset",
            Self::EmailChange => "email_change",
            Self::Appeal => "appeal",
        }
    }
}

/// A freshly generated secret: the text goes to its holder, the hash to the database.
pub struct OpaqueToken {
    text: String,
}

impl OpaqueToken {
    pub fn generate() -> Self {
        Self {
            text: URL_SAFE_NO_PAD.encode(crate::random::os_bytes::<32>()),
        }
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn hash(&self) -> Vec<u8> {
        Sha256::digest(self.text.as_bytes()).to_vec()
    }
}

/// The hash under which a presented token would be stored, or None when the
/// text cannot be a token of ours (so it is certainly unknown).
pub fn hash_presented(text: &str) -> Option<Vec<u8>> {
    let plausible = text.len() == TOKEN_TEXT_LEN
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    plausible.then(|| Sha256::digest(text.as_bytes()).to_vec())
}

/// Why an e-mailed link cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenProblem {
    #[error("This link is not valid.")]
    Unknown,
    #[error("This link was already used.")]
    Used,
    #[error("This link has expired; ask for a new one.")]
    Expired,
}

impl DomainError for TokenProblem {
    fn kind(&self) -> Kind {
        match self {
            Self::Unknown => Kind::NotFound,
            Self::Used | Self::Expired => Kind::Gone,
        }
    }

    fn code(&self) -> ErrorCode {
        match self {
            Self::Unknown => ErrorCode::TokenNotFound,
            Self::Used => ErrorCode::TokenUsed,
            Self::Expired => ErrorCode::TokenExpired,
        }
    }
}

/// Whether a stored token may still be used at `now`. Used wins over expired:
/// it is the more useful thing to tell someone who clicks twice.
pub fn check_usable(
    expires_at: DateTime<Utc>,
    used_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<(), TokenProblem> {
    if used_at.is_some() {
        Err(TokenProblem::Used)
    } else if now >= expires_at {
        Err(TokenProblem::Expired)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_are_distinct_and_recognised() {
        let a = OpaqueToken::generate();
        let b = OpaqueToken::generate();
        assert_ne!(a.text(), b.text());
        assert_eq!(a.text().len(), TOKEN_TEXT_LEN);
        assert_eq!(hash_presented(a.text()), Some(a.hash()));
        assert_ne!(a.hash(), b.hash());
    }

    #[test]
    fn implausible_text_is_never_looked_up() {
        assert_eq!(hash_presented(""), None);
        assert_eq!(hash_presented("short"), None);
        assert_eq!(hash_presented(&"a".repeat(44)), None);
        assert_eq!(hash_presented(&format!("{}=", "a".repeat(42))), None);
        assert_eq!(hash_presented(&format!("{}é", "a".repeat(41))), None);
    }

    #[test]
    fn usability() {
        let now = Utc::now();
        let later = now + chrono::Duration::hours(1);
        assert_eq!(check_usable(later, None, now), Ok(()));
        assert_eq!(check_usable(now, None, now), Err(TokenProblem::Expired));
        assert_eq!(check_usable(later, Some(now), now), Err(TokenProblem::Used));
        assert_eq!(check_usable(now, Some(now), later), Err(TokenProblem::Used));
    }
}

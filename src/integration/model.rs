//! Service clients — other services of the community, calling with an API
//! key — and what they ask of the event feed, in plain Rust.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::error::{DomainError, ErrorCode, FieldCode, FieldError, Kind};
use crate::events::model::{Cursor, EventType};
use crate::input::{SPACES, is_blank};
use crate::random::os_bytes;

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
        Self {
            text: format!("{KEY_PREFIX}{}", URL_SAFE_NO_PAD.encode(os_bytes::<32>())),
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
pub fn parse_client(name: &str, scopes: &[Scope]) -> Result<(String, Vec<Scope>), Vec<FieldError>> {
    let mut errors = Vec::new();
    if is_blank(name) || name.chars().count() > 100 {
        errors.push(FieldError::new(
            "name",
            FieldCode::InvalidLength,
            "A name has 1 to 100 characters.",
        ));
    }
    let mut parsed = Vec::new();
    for scope in scopes {
        if !parsed.contains(scope) {
            parsed.push(*scope);
        }
    }
    if scopes.is_empty() {
        errors.push(FieldError::new(
            "scopes",
            FieldCode::Required,
            "Give at least one scope.",
        ));
    }
    if errors.is_empty() {
        Ok((name.trim().to_string(), parsed))
    } else {
        Err(errors)
    }
}

const MAX_WAIT_SECS: u64 = 60;

/// A read of the event feed, checked.
pub struct EventQuery {
    /// Events after this place in the feed.
    pub cursor: Cursor,
    /// Only these types; every type when empty.
    pub types: Vec<EventType>,
    /// How long to hold an empty answer for an event to arrive.
    pub wait: Option<std::time::Duration>,
    pub limit: i64,
}

/// `wait` in seconds, `1s` to `60s`: the one form the document's pattern
/// states exactly (the whole duration grammar, bounded at a minute, is not a
/// regular expression anyone would check).
fn wait_seconds(text: &str) -> Option<u64> {
    let digits = text.strip_suffix('s')?;
    if digits.starts_with('0') || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits
        .parse()
        .ok()
        .filter(|seconds| (1..=MAX_WAIT_SECS).contains(seconds))
}

impl EventQuery {
    /// What `parse` accepts as `types`, as a regular expression for the
    /// OpenAPI document: names separated by commas, each trimmed (white space
    /// as `str::trim` knows it), empty ones skipped.
    pub fn types_pattern() -> String {
        let names: Vec<String> = EventType::ALL.iter().map(|t| t.as_str().replace('.', r"\.")).collect();
        let item = format!("{SPACES}(?:{})?{SPACES}", names.join("|"));
        format!("^{item}(?:,{item})*$")
    }

    pub fn parse(
        after: Option<&str>,
        type_names: Option<&str>,
        wait: Option<&str>,
        limit: Option<i64>,
    ) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        let cursor = Cursor::parse(after.unwrap_or_default()).unwrap_or_else(|| {
            errors.push(FieldError::new(
                "after",
                FieldCode::Invalid,
                "Use a next_cursor from an earlier answer.",
            ));
            Cursor::default()
        });
        let mut types = Vec::new();
        for name in type_names
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
        {
            match EventType::parse(name) {
                Some(t) => types.push(t),
                None => errors.push(FieldError::new(
                    "types",
                    FieldCode::UnknownType,
                    format!("{name} is not an event type."),
                )),
            }
        }
        let wait = match wait {
            None => None,
            Some(text) => match wait_seconds(text) {
                Some(seconds) => Some(std::time::Duration::from_secs(seconds)),
                None => {
                    errors.push(FieldError::new(
                        "wait",
                        FieldCode::Invalid,
                        "Wait 1s to 60s, in whole seconds (like 30s).",
                    ));
                    None
                }
            },
        };
        let limit = limit.unwrap_or(100);
        if !(1..=1_000).contains(&limit) {
            errors.push(FieldError::new(
                "limit",
                FieldCode::OutOfRange,
                "limit is between 1 and 1000.",
            ));
        }
        if errors.is_empty() {
            Ok(Self {
                cursor,
                types,
                wait,
                limit,
            })
        } else {
            Err(errors)
        }
    }
}

/// What the integration routes may not find.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IntegrationError {
    #[error("No such live service client.")]
    ClientNotFound,
    #[error("No such webhook.")]
    WebhookNotFound,
    #[error("No such delivery of this webhook.")]
    DeliveryNotFound,
}

impl DomainError for IntegrationError {
    fn kind(&self) -> Kind {
        Kind::NotFound
    }

    fn code(&self) -> ErrorCode {
        match self {
            Self::ClientNotFound => ErrorCode::ServiceClientNotFound,
            Self::WebhookNotFound => ErrorCode::WebhookNotFound,
            Self::DeliveryNotFound => ErrorCode::DeliveryNotFound,
        }
    }
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
    fn waits_are_whole_seconds_up_to_a_minute() {
        for (text, seconds) in [("1s", Some(1)), ("30s", Some(30)), ("60s", Some(60))] {
            assert_eq!(wait_seconds(text), seconds, "{text}");
        }
        for bad in ["0s", "61s", "030s", "1m", "s", "30", " 30s", "30S", "+3s", "-1s"] {
            assert_eq!(wait_seconds(bad), None, "{bad}");
        }
    }

    #[test]
    fn client_requests_are_checked() {
        let (name, scopes) = parse_client(" forum ", &[Scope::StatusRead, Scope::StatusRead]).unwrap();
        assert_eq!((name.as_str(), scopes), ("forum", vec![Scope::StatusRead]));
        assert_eq!(
            parse_client(" ", &[Scope::EventsRead]).unwrap_err()[0].code,
            "invalid_length"
        );
        assert_eq!(parse_client("x", &[]).unwrap_err()[0].code, "required");
    }
}

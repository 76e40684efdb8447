//! Member rules in plain Rust: the member, their profile and preferences,
//! how they are named in a path, and what a change may be refused for.
//! Types here are parsed once and trusted afterwards.

use unicode_normalization::UnicodeNormalization;

use crate::error::{DomainError, ErrorCode, FieldCode, FieldError, Kind};
use crate::input::is_web_url;

mod credentials;

pub use credentials::*;

/// A member as the rules see it.
#[derive(Debug, Clone)]
pub struct Member {
    pub id: i64,
    pub username: String,
    pub email: String,
    pub password_hash: String,
    /// Whether a session may be opened: validated, and not deactivated.
    pub is_active: bool,
    /// When a superuser deactivated the account; only a superuser undoes it.
    pub deactivated_at: Option<chrono::DateTime<chrono::Utc>>,
    pub is_staff: bool,
    pub is_superuser: bool,
    pub locale: Locale,
    pub date_joined: chrono::DateTime<chrono::Utc>,
    pub last_login_at: Option<chrono::DateTime<chrono::Utc>>,
    pub last_visit_at: Option<chrono::DateTime<chrono::Utc>>,
    pub last_ip: Option<String>,
    pub profile: Profile,
    pub preferences: Preferences,
}

/// What a member writes about themselves. Empty means unset.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Profile {
    pub biography: String,
    pub website: String,
    /// A custom avatar; empty means Gravatar.
    pub avatar_url: String,
    pub signature: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Preferences {
    pub show_email: bool,
    pub show_signature: bool,
    pub hover_menus: bool,
    pub email_on_private_message: bool,
}

/// Gravatar's URL for an address: SHA-256 of the trimmed, lower-cased e-mail.
pub fn gravatar_url(email: &str, size: u32) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(email.trim().to_lowercase().as_bytes());
    format!(
        "https://www.gravatar.com/avatar/{}?d=identicon&s={size}",
        hex::encode(digest)
    )
}

impl Member {
    /// The avatar to show: the member's own, or their Gravatar.
    pub fn avatar_url(&self) -> String {
        if self.profile.avatar_url.is_empty() {
            gravatar_url(&self.email, 80)
        } else {
            self.profile.avatar_url.clone()
        }
    }

    /// The roles carried in access tokens: every member is `member`; staff and
    /// superusers add theirs.
    pub fn roles(&self) -> Vec<String> {
        let mut roles = vec!["member".to_string()];
        if self.is_staff {
            roles.push("staff".into());
        }
        if self.is_superuser {
            roles.push("superuser".into());
        }
        roles
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Locale {
    #[default]
    En,
    Fr,
}

impl Locale {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::En => "en",
            Self::Fr => "fr",
        }
    }

    pub fn from_db(text: &str) -> Self {
        if text == "fr" { Self::Fr } else { Self::En }
    }

    /// The first supported language of an `Accept-Language` header, by weight.
    pub fn from_accept_language(header: Option<&str>) -> Self {
        let Some(header) = header else {
            return Self::En;
        };
        let mut choices: Vec<(f32, Self)> = header
            .split(',')
            .filter_map(|part| {
                let mut pieces = part.trim().split(';');
                let tag = pieces.next()?.trim().to_ascii_lowercase();
                let weight = pieces
                    .find_map(|p| p.trim().strip_prefix("q=").and_then(|q| q.parse::<f32>().ok()))
                    .unwrap_or(1.0);
                let locale = match tag.split('-').next()? {
                    "fr" => Self::Fr,
                    "en" => Self::En,
                    _ => return None,
                };
                (weight > 0.0).then_some((weight, locale))
            })
            .collect();
        choices.sort_by(|a, b| b.0.total_cmp(&a.0));
        choices.first().map(|(_, l)| *l).unwrap_or_default()
    }
}

pub const BIOGRAPHY_MAX_CHARS: usize = 2_000;
pub const URL_MAX_CHARS: usize = 2_000;
pub const SIGNATURE_MAX_CHARS: usize = 500;

/// A partial profile update: absent fields stay as they are.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfileChanges {
    pub biography: Option<String>,
    pub website: Option<String>,
    pub avatar_url: Option<String>,
    pub signature: Option<String>,
    pub locale: Option<Locale>,
    pub show_email: Option<bool>,
    pub show_signature: Option<bool>,
    pub hover_menus: Option<bool>,
    pub email_on_private_message: Option<bool>,
}

impl ProfileChanges {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// Checks every field, reporting all problems together.
    pub fn checked(self) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut limit = |field: &str, value: &Option<String>, max: usize| {
            if value.as_ref().is_some_and(|v| v.chars().count() > max) {
                errors.push(FieldError::new(
                    field,
                    FieldCode::TooLong,
                    format!("At most {max} characters."),
                ));
            }
        };
        limit("biography", &self.biography, BIOGRAPHY_MAX_CHARS);
        limit("signature", &self.signature, SIGNATURE_MAX_CHARS);
        limit("website", &self.website, URL_MAX_CHARS);
        limit("avatar_url", &self.avatar_url, URL_MAX_CHARS);
        for (field, value) in [("website", &self.website), ("avatar_url", &self.avatar_url)] {
            if let Some(url) = value
                && !url.is_empty()
                && url.chars().count() <= URL_MAX_CHARS
                && !is_web_url(url)
            {
                errors.push(FieldError::new(
                    field,
                    FieldCode::InvalidUrl,
                    "Give an http:// or https:// address, or an empty string.",
                ));
            }
        }
        if errors.is_empty() { Ok(self) } else { Err(errors) }
    }
}

/// How a path names a member: by numeric id or by username.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberKey {
    Id(i64),
    Username(String),
}

impl MemberKey {
    /// A path segment: an id, `me` for the `caller` if there is one, or a username.
    pub fn parse(text: &str, caller: Option<i64>) -> Self {
        match (id_in(text), caller) {
            (Some(id), _) => Self::Id(id),
            (None, Some(caller)) if text == ME => Self::Id(caller),
            (None, _) => Self::Username(text.nfc().collect()),
        }
    }
}

/// What names the caller in a path, and so no member.
const ME: &str = "me";

/// The id a path segment names, if it names one rather than a username.
fn id_in(text: &str) -> Option<i64> {
    text.parse::<i64>().ok().filter(|_| !text.starts_with('+'))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum DirectorySort {
    #[default]
    Username,
    UsernameDesc,
    DateJoined,
    DateJoinedDesc,
}

impl DirectorySort {
    pub fn parse(text: Option<&str>) -> Result<Self, FieldError> {
        match text.unwrap_or("username") {
            "username" => Ok(Self::Username),
            "-username" => Ok(Self::UsernameDesc),
            "date_joined" => Ok(Self::DateJoined),
            "-date_joined" => Ok(Self::DateJoinedDesc),
            _ => Err(FieldError::new(
                "sort",
                FieldCode::Invalid,
                "sort is username, -username, date_joined or -date_joined.",
            )),
        }
    }
}

/// A directory search: a case-insensitive username prefix, NFC-normalised.
pub fn directory_prefix(q: Option<&str>) -> Result<Option<String>, FieldError> {
    match q.map(str::trim).filter(|q| !q.is_empty()) {
        None => Ok(None),
        Some(q) if q.chars().count() > USERNAME_MAX_CHARS => Err(FieldError::new(
            "q",
            FieldCode::TooLong,
            "A search has at most 30 characters.",
        )),
        Some(q) => Ok(Some(q.nfc().collect::<String>().to_lowercase())),
    }
}

/// Where a walk over every member resumes: after the member of this id.
/// Clients pass back what an answer gave them; it reads as 16 hex digits,
/// and the empty cursor starts the walk. Any value the pattern admits is a
/// place to resume from (past the last member, the walk is over).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalkCursor(pub i64);

impl WalkCursor {
    pub const PATTERN: &str = "^([0-9a-f]{16})?$";

    pub fn parse(text: &str) -> Result<Self, FieldError> {
        if text.is_empty() {
            return Ok(Self(0));
        }
        let digits = text.len() == 16 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        match u64::from_str_radix(text, 16) {
            Ok(after) if digits => Ok(Self(i64::try_from(after).unwrap_or(i64::MAX))),
            _ => Err(FieldError::new(
                "after",
                FieldCode::Invalid,
                "after is empty or a cursor an earlier answer gave.",
            )),
        }
    }

    pub fn to_text(self) -> String {
        format!("{:016x}", self.0)
    }
}

/// Why a change to members is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MemberError {
    #[error("No such member.")]
    NotFound,
    #[error("Another account has this e-mail address.")]
    EmailTaken,
    #[error("The community would be left without an active superuser.")]
    LastSuperuser,
}

impl DomainError for MemberError {
    fn kind(&self) -> Kind {
        match self {
            Self::NotFound => Kind::NotFound,
            Self::EmailTaken | Self::LastSuperuser => Kind::Conflict,
        }
    }

    fn code(&self) -> ErrorCode {
        match self {
            Self::NotFound => ErrorCode::MemberNotFound,
            Self::EmailTaken => ErrorCode::EmailTaken,
            Self::LastSuperuser => ErrorCode::LastSuperuser,
        }
    }
}

#[cfg(test)]
mod tests;

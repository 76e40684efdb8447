//! Member rules in plain Rust: what a username, an e-mail address and a
//! password must be. Types here are parsed once and trusted afterwards.

use std::collections::HashSet;
use std::sync::LazyLock;

use unicode_normalization::UnicodeNormalization;
use unicode_properties::{GeneralCategoryGroup, UnicodeEmoji, UnicodeGeneralCategory};

use crate::error::{DomainError, ErrorCode, FieldError, Kind};

pub const USERNAME_MAX_CHARS: usize = 30;
pub const EMAIL_MAX_CHARS: usize = 254;
pub const PASSWORD_MIN_CHARS: usize = 8;
pub const PASSWORD_MAX_CHARS: usize = 256;

static COMMON_PASSWORDS: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    include_str!("../../data/common-passwords.txt")
        .lines()
        .map(str::trim)
        .collect()
});

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

/// A username that satisfies every registration rule, NFC-normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub fn parse(raw: &str) -> Result<Self, Vec<FieldError>> {
        let name: String = raw.nfc().collect();
        let field = |code: &str, message: &str| FieldError::new("username", code, message);
        let count = name.chars().count();
        if count == 0 {
            return Err(vec![field("required", "A username is required.")]);
        }
        let mut errors = Vec::new();
        if count > USERNAME_MAX_CHARS {
            errors.push(field("too_long", "A username has at most 30 characters."));
        }
        if name.trim() != name {
            errors.push(field(
                "surrounding_space",
                "A username may not start or end with a space.",
            ));
        }
        if name.contains(',') {
            errors.push(field("contains_comma", "A username may not contain a comma."));
        }
        // Paths name members by id, by `me` or by username: a username that
        // read as one of the others could not be reached.
        if id_in(&name).is_some() {
            errors.push(field("numeric", "A username may not be a number."));
        }
        if name.eq_ignore_ascii_case(ME) {
            errors.push(field("reserved", "This username is reserved."));
        }
        if name.contains('/') {
            errors.push(field("contains_slash", "A username may not contain a slash."));
        }
        // '@' keeps "login by username or e-mail" unambiguous.
        if name.contains('@') {
            errors.push(field("contains_at_sign", "A username may not contain @."));
        }
        // Controls, invisible format characters (zero-width joiners, bidi
        // overrides), surrogates, private-use and unassigned code points.
        if name
            .chars()
            .any(|c| c.general_category_group() == GeneralCategoryGroup::Other)
        {
            errors.push(field(
                "contains_control_character",
                "A username may not contain control or invisible characters.",
            ));
        }
        if name
            .chars()
            .any(|c| !c.is_ascii() && c.is_emoji_char_or_emoji_component())
        {
            errors.push(field("contains_emoji", "A username may not contain emoji."));
        }
        if errors.is_empty() { Ok(Self(name)) } else { Err(errors) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// What this name looks like, per UTS #39 skeletons, case-insensitively:
    /// two names with the same key can be mistaken for each other.
    pub fn confusable_key(&self) -> String {
        confusable_key(&self.0)
    }
}

pub fn confusable_key(name: &str) -> String {
    // Lower-case before the skeleton so that case never matters, and after it
    // so that prototypes in capitals (0 -> O) meet their lower-case peers.
    // Then fold i into l: a capital I looks like l, and I is i in lower case.
    let skeleton: String = unicode_security::skeleton(&name.to_lowercase()).collect();
    skeleton.to_lowercase().replace('i', "l")
}

/// A syntactically valid e-mail address, trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let text = raw.trim();
        let field = |code: &str, message: &str| FieldError::new("email", code, message);
        if text.is_empty() {
            return Err(field("required", "An e-mail address is required."));
        }
        if text.chars().count() > EMAIL_MAX_CHARS {
            return Err(field("too_long", "An e-mail address has at most 254 characters."));
        }
        let valid = email_address::EmailAddress::parse_with_options(
            text,
            email_address::Options::default().without_display_text(),
        )
        .ok()
        .filter(|address| {
            let domain = address.domain();
            // A community's members have addresses on the public internet.
            domain.contains('.') && !domain.starts_with('[') && !domain.ends_with('.')
        });
        match valid {
            Some(_) => Ok(Self(text.to_string())),
            None => Err(field("invalid", "This is not a valid e-mail address.")),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The case-insensitive identity of the address.
    pub fn key(&self) -> String {
        self.0.to_lowercase()
    }

    /// The lower-cased domain, after the last `@`.
    pub fn domain(&self) -> String {
        self.0.rsplit('@').next().unwrap_or_default().to_lowercase()
    }
}

/// The domain and each of its parents: `a.b.example.com`, `b.example.com`,
/// `example.com`, `com`. A forbidden entry matches any of them.
pub fn domain_and_parents(domain: &str) -> Vec<String> {
    let labels: Vec<&str> = domain.split('.').collect();
    (0..labels.len()).map(|i| labels[i..].join(".")).collect()
}

/// Every rule a new password must satisfy, reported together.
pub fn check_password(password: &str, confirmation: &str, username: &str, email: &str) -> Vec<FieldError> {
    let field = |code: &str, message: &str| FieldError::new("password", code, message);
    let mut errors = Vec::new();
    let count = password.chars().count();
    if count < PASSWORD_MIN_CHARS {
        errors.push(field("too_short", "A password has at least 8 characters."));
    } else if count > PASSWORD_MAX_CHARS {
        errors.push(field("too_long", "A password has at most 256 characters."));
    }
    let lower = password.to_lowercase();
    if !username.is_empty() && lower == username.to_lowercase() {
        errors.push(field("same_as_username", "The password may not be the username."));
    }
    if !email.is_empty() && lower == email.trim().to_lowercase() {
        errors.push(field("same_as_email", "The password may not be the e-mail address."));
    }
    if COMMON_PASSWORDS.contains(lower.as_str()) {
        errors.push(field("too_common", "This password is too common; choose another."));
    }
    if password != confirmation {
        errors.push(FieldError::new(
            "password_confirmation",
            "mismatch",
            "The confirmation does not match the password.",
        ));
    }
    errors
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

    /// Checks every field, reporting all problems together; URLs are trimmed.
    pub fn checked(mut self) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut limit = |field: &str, value: &Option<String>, max: usize| {
            if value.as_ref().is_some_and(|v| v.chars().count() > max) {
                errors.push(FieldError::new(field, "too_long", format!("At most {max} characters.")));
            }
        };
        limit("biography", &self.biography, BIOGRAPHY_MAX_CHARS);
        limit("signature", &self.signature, SIGNATURE_MAX_CHARS);
        limit("website", &self.website, URL_MAX_CHARS);
        limit("avatar_url", &self.avatar_url, URL_MAX_CHARS);
        for (field, value) in [("website", &mut self.website), ("avatar_url", &mut self.avatar_url)] {
            if let Some(url) = value {
                *url = url.trim().to_string();
                if !url.is_empty() && url.chars().count() <= URL_MAX_CHARS && !is_web_url(url) {
                    errors.push(FieldError::new(
                        field,
                        "invalid_url",
                        "Give an http:// or https:// address, or an empty string.",
                    ));
                }
            }
        }
        if errors.is_empty() { Ok(self) } else { Err(errors) }
    }
}

fn is_web_url(text: &str) -> bool {
    url::Url::parse(text).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
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
                "invalid",
                "sort is username, -username, date_joined or -date_joined.",
            )),
        }
    }
}

/// A directory search: a case-insensitive username prefix, NFC-normalised.
pub fn directory_prefix(q: Option<&str>) -> Result<Option<String>, FieldError> {
    match q.map(str::trim).filter(|q| !q.is_empty()) {
        None => Ok(None),
        Some(q) if q.chars().count() > USERNAME_MAX_CHARS => {
            Err(FieldError::new("q", "too_long", "A search has at most 30 characters."))
        }
        Some(q) => Ok(Some(q.nfc().collect::<String>().to_lowercase())),
    }
}

/// A registration whose fields each passed the rules that need no database.
pub struct RegistrationCheck {
    pub username: Option<Username>,
    pub email: Option<Email>,
    pub errors: Vec<FieldError>,
}

pub fn check_registration(username: &str, email: &str, password: &str, confirmation: &str) -> RegistrationCheck {
    let mut errors = Vec::new();
    let username = Username::parse(username).map_err(|e| errors.extend(e)).ok();
    let email = Email::parse(email).map_err(|e| errors.push(e)).ok();
    errors.extend(check_password(
        password,
        confirmation,
        username.as_ref().map_or("", |u| u.as_str()),
        email.as_ref().map_or("", |e| e.as_str()),
    ));
    RegistrationCheck {
        username,
        email,
        errors,
    }
}

/// Why a username cannot be had.
#[derive(Debug, PartialEq, Eq)]
pub enum NameClash {
    Taken,
    Confusable,
}

impl From<NameClash> for FieldError {
    fn from(clash: NameClash) -> Self {
        match clash {
            NameClash::Taken => FieldError::new("username", "taken", "This username is taken."),
            NameClash::Confusable => FieldError::new(
                "username",
                "confusable",
                "This username looks too much like another member's.",
            ),
        }
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

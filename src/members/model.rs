//! Member rules in plain Rust: what a username, an e-mail address and a
//! password must be. Types here are parsed once and trusted afterwards.

use std::collections::HashSet;
use std::sync::LazyLock;

use unicode_normalization::UnicodeNormalization;
use unicode_properties::{GeneralCategoryGroup, UnicodeEmoji, UnicodeGeneralCategory};

use crate::error::FieldError;

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
    pub is_active: bool,
    pub is_staff: bool,
    pub is_superuser: bool,
    pub locale: Locale,
    pub date_joined: chrono::DateTime<chrono::Utc>,
    pub last_login_at: Option<chrono::DateTime<chrono::Utc>>,
    pub last_visit_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl Member {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(result: Result<Username, Vec<FieldError>>) -> Vec<String> {
        result.err().unwrap_or_default().into_iter().map(|e| e.code).collect()
    }

    #[test]
    fn accepts_ordinary_names_in_any_script() {
        for name in ["alice", "Bob_42", "Zoé", "Jean-Luc Picard", "Дмитрий", "山田", "a"] {
            assert!(Username::parse(name).is_ok(), "{name} should be accepted");
        }
    }

    #[test]
    fn refuses_each_forbidden_shape_with_its_code() {
        assert_eq!(codes(Username::parse("")), ["required"]);
        assert_eq!(codes(Username::parse(&"x".repeat(31))), ["too_long"]);
        assert!(Username::parse(&"é".repeat(30)).is_ok());
        assert_eq!(codes(Username::parse(" alice")), ["surrounding_space"]);
        assert_eq!(codes(Username::parse("alice ")), ["surrounding_space"]);
        assert_eq!(codes(Username::parse("a,b")), ["contains_comma"]);
        assert_eq!(codes(Username::parse("a/b")), ["contains_slash"]);
        assert_eq!(codes(Username::parse("a@b")), ["contains_at_sign"]);
        assert_eq!(codes(Username::parse("a\u{7}b")), ["contains_control_character"]);
        assert_eq!(codes(Username::parse("a\u{200b}b")), ["contains_control_character"]);
        assert_eq!(codes(Username::parse("a\u{202e}b")), ["contains_control_character"]);
        assert_eq!(codes(Username::parse("party🎉")), ["contains_emoji"]);
        assert_eq!(codes(Username::parse("a,b/c")), ["contains_comma", "contains_slash"]);
    }

    #[test]
    fn normalises_to_nfc() {
        let decomposed = Username::parse("Zoe\u{301}").map(|u| u.as_str().to_string());
        assert_eq!(decomposed, Ok("Zoé".to_string()));
    }

    #[test]
    fn confusable_names_share_a_key() {
        assert_eq!(confusable_key("alice"), confusable_key("ALICE"));
        assert_eq!(confusable_key("paypal"), confusable_key("pаypаl")); // Cyrillic а
        assert_eq!(confusable_key("rnodern"), confusable_key("modern"));
        assert_eq!(confusable_key("l1"), confusable_key("Il"));
        assert_eq!(confusable_key("g00gle"), confusable_key("Google"));
        assert_ne!(confusable_key("alice"), confusable_key("alicia"));
    }

    #[test]
    fn e_mail_syntax() {
        for good in [
            "a@example.com",
            " Bob.Smith+tag@Mail.Example.org ",
            "x_y@sub.example.co.uk",
        ] {
            assert!(Email::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "plain",
            "a@",
            "@example.com",
            "a@localhost",
            "a b@example.com",
            "a@[127.0.0.1]",
            "a@@example.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert_eq!(Email::parse(&long).map_err(|e| e.code), Err("too_long".to_string()));
        let email = Email::parse("Bob@Mail.Example.ORG").unwrap();
        assert_eq!(email.key(), "bob@mail.example.org");
        assert_eq!(email.domain(), "mail.example.org");
    }

    #[test]
    fn parent_domains() {
        assert_eq!(
            domain_and_parents("a.example.com"),
            ["a.example.com", "example.com", "com"]
        );
    }

    #[test]
    fn password_rules() {
        let codes = |p: &str, c: &str| -> Vec<String> {
            check_password(p, c, "alice", "alice@example.com")
                .into_iter()
                .map(|e| e.code)
                .collect()
        };
        assert!(codes("correct horse battery", "correct horse battery").is_empty());
        assert_eq!(codes("short", "short"), ["too_short"]);
        assert_eq!(codes(&"x".repeat(257), &"x".repeat(257)), ["too_long"]);
        assert_eq!(codes("password123", "password123"), ["too_common"]);
        assert_eq!(codes("ALICE@example.com", "ALICE@example.com"), ["same_as_email"]);
        assert_eq!(codes("correct horse battery", "correct horse batter"), ["mismatch"]);
        let same_as_name: Vec<String> =
            check_password("Aliceinwonder", "Aliceinwonder", "aliceinwonder", "a@example.com")
                .into_iter()
                .map(|e| e.code)
                .collect();
        assert_eq!(same_as_name, ["same_as_username"]);
    }

    #[test]
    fn registration_reports_every_field_together() {
        let check = check_registration("a,b", "nope", "short", "other");
        let fields: Vec<&str> = check.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["username", "email", "password", "password_confirmation"]);
        assert!(check.username.is_none() && check.email.is_none());
    }

    #[test]
    fn locale_from_accept_language() {
        assert_eq!(Locale::from_accept_language(None), Locale::En);
        assert_eq!(
            Locale::from_accept_language(Some("fr-CA,fr;q=0.9,en;q=0.8")),
            Locale::Fr
        );
        assert_eq!(Locale::from_accept_language(Some("de, en;q=0.5, fr;q=0.7")), Locale::Fr);
        assert_eq!(Locale::from_accept_language(Some("de")), Locale::En);
        assert_eq!(Locale::from_accept_language(Some("fr;q=0")), Locale::En);
    }
}

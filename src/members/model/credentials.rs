//! What registration checks: a username, an e-mail address and a password.

use std::collections::HashSet;
use std::sync::LazyLock;

use unicode_normalization::UnicodeNormalization;
use unicode_properties::{GeneralCategoryGroup, UnicodeEmoji, UnicodeGeneralCategory};

use super::ME;
use crate::error::{FieldCode, FieldError};
use crate::input::WHITE_SPACE;

pub const USERNAME_MAX_CHARS: usize = 30;
pub const EMAIL_MAX_CHARS: usize = 254;
pub const PASSWORD_MIN_CHARS: usize = 8;
pub const PASSWORD_MAX_CHARS: usize = 256;

static COMMON_PASSWORDS: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    include_str!("../../../data/common-passwords.txt")
        .lines()
        .map(str::trim)
        .collect()
});

/// The rules of a username the document can state, as a pattern JavaScript
/// and Python read alike (Basic Multilingual Plane escapes only): not `me`,
/// not a number, no comma, slash, `@` or control character, no white space
/// around it. The rest — emoji, invisible characters, unassigned code points
/// (Unicode's tables), counting after NFC normalisation — the field's
/// description says.
pub fn username_pattern() -> String {
    let refused = r",/@\u0000-\u001f\u007f-\u009f";
    format!("^(?![Mm][Ee]$)(?!-?[0-9]+$)[^{WHITE_SPACE}{refused}]([^{refused}]*[^{WHITE_SPACE}{refused}])?$")
}

/// A number as paths would read it, however long: `-`, then digits.
fn is_number(name: &str) -> bool {
    let digits = name.strip_prefix('-').unwrap_or(name);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

/// A username that satisfies every registration rule, NFC-normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub fn parse(raw: &str) -> Result<Self, Vec<FieldError>> {
        let name: String = raw.nfc().collect();
        let field = |code: FieldCode, message: &str| FieldError::new("username", code, message);
        let count = name.chars().count();
        if count == 0 {
            return Err(vec![field(FieldCode::Required, "A username is required.")]);
        }
        let mut errors = Vec::new();
        // Counted as sent too: the document's maxLength can only count that.
        if count.max(raw.chars().count()) > USERNAME_MAX_CHARS {
            errors.push(field(FieldCode::TooLong, "A username has at most 30 characters."));
        }
        if name.trim() != name {
            errors.push(field(
                FieldCode::SurroundingSpace,
                "A username may not start or end with a space.",
            ));
        }
        if name.contains(',') {
            errors.push(field(FieldCode::ContainsComma, "A username may not contain a comma."));
        }
        // Paths name members by id, by `me` or by username: a username that
        // read as one of the others could not be reached.
        if is_number(&name) {
            errors.push(field(FieldCode::Numeric, "A username may not be a number."));
        }
        if name.eq_ignore_ascii_case(ME) {
            errors.push(field(FieldCode::Reserved, "This username is reserved."));
        }
        if name.contains('/') {
            errors.push(field(FieldCode::ContainsSlash, "A username may not contain a slash."));
        }
        // '@' keeps "login by username or e-mail" unambiguous.
        if name.contains('@') {
            errors.push(field(FieldCode::ContainsAtSign, "A username may not contain @."));
        }
        // Controls, invisible format characters (zero-width joiners, bidi
        // overrides), surrogates, private-use and unassigned code points.
        if name
            .chars()
            .any(|c| c.general_category_group() == GeneralCategoryGroup::Other)
        {
            errors.push(field(
                FieldCode::ContainsControlCharacter,
                "A username may not contain control or invisible characters.",
            ));
        }
        if name
            .chars()
            .any(|c| !c.is_ascii() && c.is_emoji_char_or_emoji_component())
        {
            errors.push(field(FieldCode::ContainsEmoji, "A username may not contain emoji."));
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

/// An e-mail address as members give it: a dot-atom local part (RFC 5322's
/// unquoted form, ASCII) and a host name of two labels or more (an
/// internationalised domain in its `xn--` form). Narrower than RFC 5322 on
/// purpose: no quoted local parts, comments, IP literals or dotless hosts —
/// a community's members have ordinary addresses on the public internet —
/// and one regular expression, the same in the document and in `parse`, so
/// that a client validates as the server does. Nothing is trimmed.
pub const EMAIL_PATTERN: &str = concat!(
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*",
    r"@[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
);

/// A syntactically valid e-mail address: `EMAIL_PATTERN`, at most 254
/// characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(text: &str) -> Result<Self, FieldError> {
        // Valid, as `e_mail_syntax` shows: were it not, every address would be refused.
        static EMAIL: LazyLock<Option<regex::Regex>> = LazyLock::new(|| regex::Regex::new(EMAIL_PATTERN).ok());
        let field = |code: FieldCode, message: &str| FieldError::new("email", code, message);
        if text.is_empty() {
            return Err(field(FieldCode::Required, "An e-mail address is required."));
        }
        if text.chars().count() > EMAIL_MAX_CHARS {
            return Err(field(
                FieldCode::TooLong,
                "An e-mail address has at most 254 characters.",
            ));
        }
        if EMAIL.as_ref().is_some_and(|email| email.is_match(text)) {
            Ok(Self(text.to_string()))
        } else {
            Err(field(FieldCode::Invalid, "This is not a valid e-mail address."))
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

/// The forbidden-list entries that refuse an address at `domain`: the
/// domain and each of its parents (`a.b.example.com`, `b.example.com`,
/// `example.com`, `com`), and each parent of two labels or more with any
/// top-level domain (`a.b.example.*`, `b.example.*`, `example.*`).
pub fn forbidden_entries_matching(domain: &str) -> Vec<String> {
    let labels: Vec<&str> = domain.split('.').collect();
    let parents = (0..labels.len()).map(|i| labels[i..].join("."));
    let wildcards = (0..labels.len().saturating_sub(1)).map(|i| format!("{}.*", labels[i..labels.len() - 1].join(".")));
    parents.chain(wildcards).collect()
}

/// Every rule a new password must satisfy, reported together.
pub fn check_password(password: &str, confirmation: &str, username: &str, email: &str) -> Vec<FieldError> {
    let field = |code: FieldCode, message: &str| FieldError::new("password", code, message);
    let mut errors = Vec::new();
    let count = password.chars().count();
    if count < PASSWORD_MIN_CHARS {
        errors.push(field(FieldCode::TooShort, "A password has at least 8 characters."));
    } else if count > PASSWORD_MAX_CHARS {
        errors.push(field(FieldCode::TooLong, "A password has at most 256 characters."));
    }
    let lower = password.to_lowercase();
    if !username.is_empty() && lower == username.to_lowercase() {
        errors.push(field(
            FieldCode::SameAsUsername,
            "The password may not be the username.",
        ));
    }
    if !email.is_empty() && lower == email.trim().to_lowercase() {
        errors.push(field(
            FieldCode::SameAsEmail,
            "The password may not be the e-mail address.",
        ));
    }
    if COMMON_PASSWORDS.contains(lower.as_str()) {
        errors.push(field(
            FieldCode::TooCommon,
            "This password is too common; choose another.",
        ));
    }
    if password != confirmation {
        errors.push(FieldError::new(
            "password_confirmation",
            FieldCode::Mismatch,
            "The confirmation does not match the password.",
        ));
    }
    errors
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
            NameClash::Taken => FieldError::new("username", FieldCode::Taken, "This username is taken."),
            NameClash::Confusable => FieldError::new(
                "username",
                FieldCode::Confusable,
                "This username looks too much like another member's.",
            ),
        }
    }
}

//! Second factors as rules: time-based one-time codes (RFC 6238), recovery
//! codes, and what a factor may be called. Where they are kept and who may
//! use them is the store's and the services' business; here is only what
//! makes a code right, in plain Rust.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use totp_rs::{Algorithm, TOTP};

use crate::error::{DomainError, ErrorCode, FieldCode, FieldError, Kind};

/// A kind of second factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FactorKind {
    Totp,
    Passkey,
}

impl FactorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Totp => "totp",
            Self::Passkey => "passkey",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Totp, Self::Passkey]
            .into_iter()
            .find(|kind| kind.as_str() == text)
    }

    /// What a factor of this kind is called when its member names none.
    pub fn default_name(self) -> &'static str {
        match self {
            Self::Totp => "Authenticator app",
            Self::Passkey => "Passkey",
        }
    }
}

/// A member holds at most this many confirmed factors.
pub const MAX_FACTORS: i64 = 10;
/// A factor's name, in characters.
pub const NAME_MAX_CHARS: usize = 100;
/// How long a login may wait for its second factor.
pub const MFA_TOKEN_MINUTES: i64 = 5;
/// How long a passkey ceremony (enrolment, login) waits for the authenticator.
pub const CEREMONY_MINUTES: i64 = 5;
/// Wrong second-factor answers from which each further one must wait (1 s,
/// doubling, at most 15 minutes), as for passwords.
pub const FAILURE_THRESHOLD: i32 = 5;

/// The name a member gives a factor, or the kind's own when none.
pub fn factor_name(kind: FactorKind, name: Option<&str>) -> Result<String, FieldError> {
    let Some(name) = name else {
        return Ok(kind.default_name().to_string());
    };
    let name = name.trim();
    if name.is_empty() {
        return Err(FieldError::new("name", FieldCode::Required, "A name cannot be blank."));
    }
    if name.chars().count() > NAME_MAX_CHARS {
        return Err(FieldError::new(
            "name",
            FieldCode::TooLong,
            format!("A name has at most {NAME_MAX_CHARS} characters."),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(FieldError::new(
            "name",
            FieldCode::ContainsControlCharacter,
            "A name holds no control character.",
        ));
    }
    Ok(name.to_string())
}

/// Why a second factor cannot be used or managed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FactorError {
    #[error("The login token is unknown, used already, or expired; log in again.")]
    InvalidMfaToken,
    #[error("This does not prove your second factor.")]
    InvalidSecondFactor,
    #[error("This passkey's answer does not log anyone in; ask for new options and try again.")]
    InvalidPasskey,
    #[error("You have no passkey.")]
    NoPasskey,
    #[error("This passkey enrolment was started more than 5 minutes ago; start it again.")]
    CeremonyExpired,
    #[error("You have no second factor by this id.")]
    NotFound,
    #[error("This factor is confirmed already.")]
    AlreadyConfirmed,
    #[error("You have no confirmed second factor.")]
    NoSecondFactor,
    #[error("You hold the most second factors one may ({MAX_FACTORS}); remove one first.")]
    TooManyFactors,
    #[error("This change needs a session that proved a second factor, or a code of one in the request.")]
    SecondFactorRequired,
    #[error("Remove your own factors one by one, from your account; a reset is for another member's.")]
    OwnFactors,
}

impl DomainError for FactorError {
    fn kind(&self) -> Kind {
        match self {
            Self::InvalidMfaToken | Self::InvalidSecondFactor | Self::InvalidPasskey => Kind::Unauthenticated,
            Self::NoPasskey => Kind::Conflict,
            Self::CeremonyExpired => Kind::Gone,
            Self::NotFound => Kind::NotFound,
            Self::AlreadyConfirmed | Self::NoSecondFactor | Self::TooManyFactors => Kind::Conflict,
            Self::SecondFactorRequired | Self::OwnFactors => Kind::Forbidden,
        }
    }

    fn code(&self) -> ErrorCode {
        match self {
            Self::InvalidMfaToken => ErrorCode::InvalidMfaToken,
            Self::InvalidSecondFactor => ErrorCode::InvalidSecondFactor,
            Self::InvalidPasskey => ErrorCode::InvalidPasskey,
            Self::NoPasskey => ErrorCode::NoPasskey,
            Self::CeremonyExpired => ErrorCode::CeremonyExpired,
            Self::NotFound => ErrorCode::FactorNotFound,
            Self::AlreadyConfirmed => ErrorCode::FactorAlreadyConfirmed,
            Self::NoSecondFactor => ErrorCode::NoSecondFactor,
            Self::TooManyFactors => ErrorCode::TooManyFactors,
            Self::SecondFactorRequired => ErrorCode::SecondFactorRequired,
            Self::OwnFactors => ErrorCode::CannotResetOwnFactors,
        }
    }
}

/// What every authenticator app reads from a bare `otpauth://` URI: SHA-1,
/// six digits, thirty seconds.
pub const TOTP_DIGITS: usize = 6;
pub const TOTP_STEP_SECONDS: u64 = 30;
/// One step of drift either way: a phone's clock a little off, or a code
/// typed as it changed.
const DRIFT_STEPS: u64 = 1;
/// 160 bits, the length of SHA-1's output, as RFC 4226 recommends.
const SECRET_BYTES: usize = 20;

/// A TOTP secret: generated here, shown once, then only verified against.
pub struct TotpSecret(Vec<u8>);

/// Why a one-time code was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeRefused {
    /// Not six digits: no code of any secret looks like this.
    Malformed,
    /// Not the code of any step in the window.
    Wrong,
    /// The code of a step at or before the last one accepted: used already.
    Replayed,
}

impl TotpSecret {
    pub fn generate() -> Self {
        Self(crate::random::os_bytes::<SECRET_BYTES>().to_vec())
    }

    /// A secret as stored.
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    fn totp(&self, issuer: &str, account: &str) -> TOTP {
        // Unchecked: the URI percent-encodes issuer and account, so a `:` in
        // a username cannot split the label; the secret's length is ours.
        TOTP::new_unchecked(
            Algorithm::SHA1,
            TOTP_DIGITS,
            0,
            TOTP_STEP_SECONDS,
            self.0.clone(),
            Some(issuer.to_string()),
            account.to_string(),
        )
    }

    /// The secret as people type it into an app: base32, no padding.
    pub fn base32(&self) -> String {
        self.totp("", "").get_secret_base32()
    }

    /// The URI an app reads from a QR code.
    pub fn otpauth_uri(&self, issuer: &str, account: &str) -> String {
        self.totp(issuer, account).get_url()
    }

    /// The code of a time step.
    pub fn code_at_step(&self, step: u64) -> String {
        self.totp("", "").generate(step * TOTP_STEP_SECONDS)
    }

    /// The step whose code `code` is, within one step of `unix_seconds`'s,
    /// and after `last_step` (the step of the last code accepted): a code is
    /// accepted once, and none older than it afterwards. Every step of the
    /// window is compared, in constant time, whatever matches.
    pub fn verify(&self, code: &str, unix_seconds: u64, last_step: Option<u64>) -> Result<u64, CodeRefused> {
        if code.len() != TOTP_DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CodeRefused::Malformed);
        }
        let now = unix_seconds / TOTP_STEP_SECONDS;
        let totp = self.totp("", "");
        let mut matched = None;
        for step in now.saturating_sub(DRIFT_STEPS)..=now + DRIFT_STEPS {
            let expected = totp.generate(step * TOTP_STEP_SECONDS);
            if bool::from(expected.as_bytes().ct_eq(code.as_bytes())) {
                matched = Some(step);
            }
        }
        match matched {
            None => Err(CodeRefused::Wrong),
            Some(step) if last_step.is_some_and(|last| step <= last) => Err(CodeRefused::Replayed),
            Some(step) => Ok(step),
        }
    }
}

/// Recovery codes given at once.
pub const RECOVERY_CODES: usize = 10;
/// Crockford's base32: no i, l, o or u, so that nothing read off paper is
/// ambiguous; read back, i and l are 1 and o is 0.
const CROCKFORD: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
/// Sixteen characters, 80 bits: stored as a plain SHA-256, a code must be
/// out of reach of guessing even with the database in hand.
const RECOVERY_CODE_CHARS: usize = 16;

/// Fresh recovery codes, as shown to the member: `xxxx-xxxx-xxxx-xxxx`.
pub fn recovery_codes() -> Vec<String> {
    (0..RECOVERY_CODES).map(|_| recovery_code()).collect()
}

/// Fresh recovery codes, and the digests they are stored under.
pub fn recovery_codes_with_digests() -> (Vec<String>, Vec<Vec<u8>>) {
    let codes = recovery_codes();
    let digests = codes.iter().filter_map(|code| recovery_code_digest(code)).collect();
    (codes, digests)
}

fn recovery_code() -> String {
    // 10 random bytes are 80 bits: sixteen groups of five.
    let bytes = crate::random::os_bytes::<10>();
    let bits = bytes.iter().fold(0u128, |acc, b| (acc << 8) | u128::from(*b));
    let chars: Vec<char> = (0..RECOVERY_CODE_CHARS)
        .map(|i| {
            let index = (bits >> (5 * (RECOVERY_CODE_CHARS - 1 - i))) & 31;
            char::from(CROCKFORD[index as usize])
        })
        .collect();
    chars
        .chunks(4)
        .map(|group| group.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}

/// The digest a recovery code is stored under, from the code as typed (any
/// case, dashes and spaces anywhere, i/l for 1, o for 0); None when the text
/// cannot be a recovery code.
pub fn recovery_code_digest(typed: &str) -> Option<Vec<u8>> {
    let mut canonical = String::with_capacity(RECOVERY_CODE_CHARS);
    for c in typed.chars().filter(|c| *c != '-' && !c.is_whitespace()) {
        let c = match c.to_ascii_lowercase() {
            'i' | 'l' => '1',
            'o' => '0',
            c => c,
        };
        if !c.is_ascii() || !CROCKFORD.contains(&(c as u8)) {
            return None;
        }
        canonical.push(c);
    }
    (canonical.len() == RECOVERY_CODE_CHARS).then(|| Sha256::digest(canonical.as_bytes()).to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238's SHA-1 key, "12345678901234567890".
    fn rfc_secret() -> TotpSecret {
        TotpSecret::from_bytes(b"12345678901234567890".to_vec())
    }

    #[test]
    fn codes_are_rfc_6238_truncated_to_six_digits() {
        // Appendix B (eight digits there; six are the last six).
        for (time, code) in [
            (59, "287082"),
            (1_111_111_109, "081804"),
            (1_234_567_890, "005924"),
            (2_000_000_000, "279037"),
        ] {
            assert_eq!(rfc_secret().code_at_step(time / TOTP_STEP_SECONDS), code, "{time}");
            assert_eq!(rfc_secret().verify(code, time, None), Ok(time / TOTP_STEP_SECONDS));
        }
    }

    #[test]
    fn one_step_of_drift_either_way_and_no_more() {
        let secret = TotpSecret::generate();
        let now = 1_800_000_000;
        let step = now / TOTP_STEP_SECONDS;
        for drift in [-1i64, 0, 1] {
            let code = secret.code_at_step(step.saturating_add_signed(drift));
            assert_eq!(secret.verify(&code, now, None), Ok(step.saturating_add_signed(drift)));
        }
        for drift in [-2i64, 2] {
            let code = secret.code_at_step(step.saturating_add_signed(drift));
            assert_eq!(secret.verify(&code, now, None), Err(CodeRefused::Wrong));
        }
    }

    #[test]
    fn a_code_is_accepted_once_and_none_older_after_it() {
        let secret = TotpSecret::generate();
        let now = 1_800_000_000;
        let step = now / TOTP_STEP_SECONDS;
        let code = secret.code_at_step(step);
        let accepted = secret.verify(&code, now, None).unwrap();
        assert_eq!(secret.verify(&code, now, Some(accepted)), Err(CodeRefused::Replayed));
        let before = secret.code_at_step(step - 1);
        assert_eq!(secret.verify(&before, now, Some(accepted)), Err(CodeRefused::Replayed));
        let next = secret.code_at_step(step + 1);
        assert_eq!(secret.verify(&next, now, Some(accepted)), Ok(step + 1));
    }

    #[test]
    fn what_is_not_six_digits_is_malformed() {
        let secret = rfc_secret();
        for code in ["", "28708", "2870822", "28708a", " 287082", "２８７０８２"] {
            assert_eq!(secret.verify(code, 59, None), Err(CodeRefused::Malformed), "{code:?}");
        }
    }

    #[test]
    fn another_secret_does_not_verify() {
        let (mine, theirs) = (TotpSecret::generate(), TotpSecret::generate());
        let now = 1_800_000_000;
        let code = theirs.code_at_step(now / TOTP_STEP_SECONDS);
        // One chance in 10^6 per step that two secrets share a code.
        let collides = (0..3).any(|i| mine.code_at_step(now / TOTP_STEP_SECONDS - 1 + i) == code);
        assert_eq!(mine.verify(&code, now, None).is_ok(), collides);
    }

    #[test]
    fn the_uri_is_what_apps_read() {
        let uri = rfc_secret().otpauth_uri("memberd", "zoé:1");
        assert_eq!(
            uri,
            "otpauth://totp/memberd:zo%C3%A9%3A1?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=memberd"
        );
        assert_eq!(rfc_secret().base32(), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
    }

    #[test]
    fn recovery_codes_are_distinct_and_read_back_as_typed() {
        let codes = recovery_codes();
        assert_eq!(codes.len(), RECOVERY_CODES);
        let digests: std::collections::HashSet<_> =
            codes.iter().map(|code| recovery_code_digest(code).unwrap()).collect();
        assert_eq!(digests.len(), RECOVERY_CODES);
        let code = &codes[0];
        assert_eq!(code.len(), 19);
        let typed = code
            .to_uppercase()
            .replace('-', " ")
            .replace('1', "l")
            .replace('0', "O");
        assert_eq!(recovery_code_digest(&typed), recovery_code_digest(code));
    }

    #[test]
    fn what_cannot_be_a_recovery_code_has_no_digest() {
        for typed in [
            "",
            "0000-0000-0000-000",
            "0000-0000-0000-00000",
            "0000-0000-0000-000u",
            "0000-0000-0000-000é",
        ] {
            assert_eq!(recovery_code_digest(typed), None, "{typed:?}");
        }
        assert!(recovery_code_digest("0000-0000-0000-0000").is_some());
    }

    #[test]
    fn every_generated_code_has_the_shape() {
        for _ in 0..200 {
            let code = recovery_code();
            let groups: Vec<&str> = code.split('-').collect();
            assert_eq!(groups.len(), 4, "{code}");
            assert!(
                groups
                    .iter()
                    .all(|g| g.len() == 4 && g.bytes().all(|b| CROCKFORD.contains(&b))),
                "{code}"
            );
        }
    }
}

//! Rules of sessions and login throttling, in plain Rust.

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use crate::error::{DomainError, ErrorCode, Kind};

/// How long a refresh token lives: `remember_me` chooses the long one.
pub fn refresh_lifetime(remember_me: bool) -> Duration {
    if remember_me {
        Duration::days(30)
    } else {
        Duration::days(1)
    }
}

/// The lifetimes of a session: each refresh extends it by its refresh
/// lifetime, but never past `max_age` from its login, however often it is
/// refreshed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionLifetime {
    pub remember_me: bool,
    pub max_age: Duration,
}

impl SessionLifetime {
    /// When a session opened at `created_at` and renewed at `now` ends.
    pub fn ends_at(&self, created_at: DateTime<Utc>, now: DateTime<Utc>) -> DateTime<Utc> {
        (now + refresh_lifetime(self.remember_me)).min(created_at + self.max_age)
    }

    /// Whether a session opened at `created_at` has reached its maximum age.
    pub fn outlived(&self, created_at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
        now >= created_at + self.max_age
    }
}

/// Failures older than this, counted from the last one, are forgotten.
pub const THROTTLE_WINDOW: Duration = Duration::minutes(15);
/// The longest wait a run of failures can impose.
pub const MAX_WAIT_SECS: u64 = 15 * 60;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThrottleScope {
    /// One identifier from one IP.
    LoginAndIp,
    /// One identifier from any IP.
    Login,
    /// One IP across identifiers.
    Ip,
}

impl ThrottleScope {
    pub const ALL: [ThrottleScope; 3] = [Self::LoginAndIp, Self::Login, Self::Ip];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::LoginAndIp => "login_ip",
            Self::Login => "login",
            Self::Ip => "ip",
        }
    }

    /// The failure count from which each further attempt must wait.
    pub fn threshold(self) -> i32 {
        match self {
            Self::LoginAndIp => 5,
            Self::Login => 20,
            Self::Ip => 50,
        }
    }

    /// The (identifier, ip) key this scope counts under.
    pub fn key(self, identifier: &str, ip: &str) -> (String, String) {
        match self {
            Self::LoginAndIp => (identifier.into(), ip.into()),
            Self::Login => (identifier.into(), String::new()),
            Self::Ip => (String::new(), ip.into()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailureCount {
    pub failures: i32,
    pub last_failure_at: DateTime<Utc>,
}

impl FailureCount {
    fn is_current(&self, now: DateTime<Utc>) -> bool {
        now - self.last_failure_at <= THROTTLE_WINDOW
    }

    /// Seconds to wait before another attempt is allowed, if any: 1 s at the
    /// threshold, doubling with each further failure, capped.
    pub fn wait_secs(&self, scope: ThrottleScope, now: DateTime<Utc>) -> Option<u64> {
        self.wait_from(scope.threshold(), now)
    }

    /// [`Self::wait_secs`] for a count whose waits start at `threshold`.
    pub fn wait_from(&self, threshold: i32, now: DateTime<Utc>) -> Option<u64> {
        if !self.is_current(now) || self.failures < threshold {
            return None;
        }
        let exponent = (self.failures - threshold).clamp(0, 20) as u32;
        let wait = (1u64 << exponent).min(MAX_WAIT_SECS);
        let ready_at = self.last_failure_at + Duration::seconds(wait as i64);
        let remaining = (ready_at - now).num_milliseconds();
        // Round up so that a client waiting `Retry-After` seconds is let in.
        (remaining > 0).then(|| ((remaining as u64).div_ceil(1000)).max(1))
    }
}

/// The canonical form of a login identifier, as counted and looked up.
pub fn fold_identifier(login: &str) -> String {
    login.trim().to_lowercase()
}

/// Why a session ended, as kept with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revocation {
    Logout,
    /// A rotated refresh token came back: someone holds a copy.
    RefreshTokenReused,
    Banned,
    /// Staff logged the member out.
    Staff,
    Deactivated,
    PasswordChanged,
    PasswordReset,
    /// The member ended it from another of their sessions.
    EndedByMember,
    /// The member added a second factor, which this session had not proved.
    SecondFactorAdded,
    /// A superuser reset the member's second factors.
    FactorsReset,
}

impl Revocation {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Logout => "logout",
            Self::RefreshTokenReused => "refresh_token_reused",
            Self::Banned => "banned",
            Self::Staff => "staff",
            Self::Deactivated => "deactivated",
            Self::PasswordChanged => "password_changed",
            Self::PasswordReset => "password_reset",
            Self::EndedByMember => "ended_by_member",
            Self::SecondFactorAdded => "second_factor_added",
            Self::FactorsReset => "factors_reset",
        }
    }
}

/// A readable name of the device a user agent describes, such as
/// `Firefox on Linux`, when it can be told.
pub fn device_of(user_agent: &str) -> Option<String> {
    let parsed = woothee::parser::Parser::new().parse(user_agent)?;
    let known = |text: &str| Some(text.to_string()).filter(|t| !t.is_empty() && t != "UNKNOWN");
    match (known(parsed.name), known(parsed.os)) {
        (Some(browser), Some(system)) => Some(format!("{browser} on {system}")),
        (browser, system) => browser.or(system),
    }
}

/// Why a member's own session cannot be ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    /// Unknown, ended, or another member's: all look alike.
    #[error("You have no live session by this id.")]
    NotFound,
}

impl DomainError for SessionError {
    fn kind(&self) -> Kind {
        Kind::NotFound
    }

    fn code(&self) -> ErrorCode {
        ErrorCode::SessionNotFound
    }
}

/// Why a caller is not let in, or not given a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("Send an access token as `Authorization: Bearer <token>`.")]
    MissingCredentials,
    #[error("The access token is invalid.")]
    InvalidToken,
    #[error("The access token has expired; refresh it.")]
    TokenExpired,
    /// The session a token names has ended (logout, password change, staff).
    #[error("This session has ended; log in again.")]
    SessionEnded,
    /// The member a live token names no longer exists (unregistered meanwhile).
    #[error("This account no longer exists.")]
    AccountGone,
    #[error("The API key is unknown or revoked.")]
    InvalidApiKey,
    #[error("The login or the password is wrong.")]
    InvalidCredentials,
    #[error("Too many failed logins; try again in {retry_after_secs} seconds.")]
    TooManyAttempts { retry_after_secs: u64 },
    #[error("The refresh token is unknown or has ended.")]
    InvalidRefreshToken,
    #[error("This refresh token was already used; the session has been ended. Log in again.")]
    RefreshTokenReused,
    #[error("This session has reached its maximum age; log in again.")]
    SessionExpired,
    #[error("This account is not active yet: use the link in the validation e-mail, or ask for a new one.")]
    AccountInactive,
    #[error("This account has been deactivated by the community's administrators.")]
    AccountDisabled,
}

impl DomainError for AuthError {
    fn kind(&self) -> Kind {
        match self {
            Self::AccountInactive | Self::AccountDisabled => Kind::Forbidden,
            Self::TooManyAttempts { retry_after_secs } => Kind::TooManyRequests {
                retry_after_secs: *retry_after_secs,
            },
            _ => Kind::Unauthenticated,
        }
    }

    fn code(&self) -> ErrorCode {
        match self {
            Self::MissingCredentials => ErrorCode::MissingCredentials,
            Self::InvalidToken => ErrorCode::InvalidToken,
            Self::TokenExpired => ErrorCode::TokenExpired,
            Self::SessionEnded | Self::AccountGone => ErrorCode::SessionRevoked,
            Self::InvalidApiKey => ErrorCode::InvalidApiKey,
            Self::InvalidCredentials => ErrorCode::InvalidCredentials,
            Self::TooManyAttempts { .. } => ErrorCode::TooManyAttempts,
            Self::InvalidRefreshToken => ErrorCode::InvalidRefreshToken,
            Self::RefreshTokenReused => ErrorCode::RefreshTokenReused,
            Self::SessionExpired => ErrorCode::SessionExpired,
            Self::AccountInactive => ErrorCode::AccountInactive,
            Self::AccountDisabled => ErrorCode::AccountDisabled,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(failures: i32, secs_ago: i64, now: DateTime<Utc>) -> FailureCount {
        FailureCount {
            failures,
            last_failure_at: now - Duration::seconds(secs_ago),
        }
    }

    #[test]
    fn no_wait_below_the_threshold() {
        let now = Utc::now();
        assert_eq!(count(4, 0, now).wait_secs(ThrottleScope::LoginAndIp, now), None);
        assert_eq!(count(19, 0, now).wait_secs(ThrottleScope::Login, now), None);
        assert_eq!(count(49, 0, now).wait_secs(ThrottleScope::Ip, now), None);
    }

    #[test]
    fn waits_double_from_the_threshold() {
        let now = Utc::now();
        let scope = ThrottleScope::LoginAndIp;
        assert_eq!(count(5, 0, now).wait_secs(scope, now), Some(1));
        assert_eq!(count(6, 0, now).wait_secs(scope, now), Some(2));
        assert_eq!(count(7, 0, now).wait_secs(scope, now), Some(4));
        assert_eq!(count(7, 3, now).wait_secs(scope, now), Some(1));
        assert_eq!(count(7, 4, now).wait_secs(scope, now), None);
        assert_eq!(count(40, 0, now).wait_secs(scope, now), Some(MAX_WAIT_SECS));
        assert_eq!(count(i32::MAX, 0, now).wait_secs(scope, now), Some(MAX_WAIT_SECS));
    }

    #[test]
    fn never_a_permanent_lock() {
        let now = Utc::now();
        let stale = count(10_000, 15 * 60 + 1, now);
        assert_eq!(stale.wait_secs(ThrottleScope::LoginAndIp, now), None);
    }

    #[test]
    fn refreshes_never_take_a_session_past_its_maximum_age() {
        let login = Utc::now();
        let lifetime = SessionLifetime {
            remember_me: true,
            max_age: Duration::days(90),
        };
        assert_eq!(lifetime.ends_at(login, login), login + Duration::days(30));
        let late = login + Duration::days(80);
        assert_eq!(lifetime.ends_at(login, late), login + Duration::days(90));
        assert!(!lifetime.outlived(login, late));
        assert!(lifetime.outlived(login, login + Duration::days(90)));
        let short = SessionLifetime {
            remember_me: false,
            max_age: Duration::hours(2),
        };
        assert_eq!(short.ends_at(login, login), login + Duration::hours(2));
    }

    #[test]
    fn devices_are_named_from_their_user_agents_when_they_can_be() {
        let firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";
        assert_eq!(device_of(firefox).as_deref(), Some("Firefox on Linux"));
        let iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 \
                      (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";
        assert_eq!(device_of(iphone).as_deref(), Some("Safari on iPhone"));
        assert_eq!(device_of("curl/8.5.0").as_deref(), Some("HTTP Library"));
        assert_eq!(device_of("made-up/1.0"), None);
        assert_eq!(device_of(""), None);
    }

    #[test]
    fn identifiers_fold_case_and_space() {
        assert_eq!(fold_identifier("  Alice@Example.COM "), "alice@example.com");
    }
}

/// An authenticated member, from a valid access token of a session that has
/// not ended. Roles are read from the database, not the token, so a change
/// of roles applies at once.
#[derive(Debug, Clone)]
pub struct Caller {
    pub member_id: i64,
    pub session_id: Uuid,
    pub is_staff: bool,
    pub is_superuser: bool,
    /// The session's authenticator assurance level: 2 when it proved a second factor.
    pub aal: u8,
    /// Whether this staff member's powers wait for a second factor
    /// (`MEMBERD_STAFF_MFA=required` and a session of `aal` 1).
    pub staff_mfa_missing: bool,
}

impl Caller {
    /// Whether the caller acts with staff powers now: staff, and with the
    /// second factor those powers require.
    pub fn acts_as_staff(&self) -> bool {
        self.is_staff && !self.staff_mfa_missing
    }
}

/// How a member proved who they are, as RFC 8176 names it in `amr`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    /// A password.
    Password,
    /// A one-time code: TOTP, or a recovery code.
    OneTimeCode,
    /// A passkey (a key held by an authenticator, proving presence).
    HardwareKey,
}

impl AuthMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Password => "pwd",
            Self::OneTimeCode => "otp",
            Self::HardwareKey => "hwk",
        }
    }
}

/// The methods that prove a second factor.
pub const SECOND_FACTORS: [AuthMethod; 2] = [AuthMethod::OneTimeCode, AuthMethod::HardwareKey];

/// The authenticator assurance level (NIST SP 800-63B) of a session whose
/// member proved who they are with `amr`: 2 with a second factor, or with a
/// passkey alone (which verifies its user), 1 otherwise.
pub fn assurance_level(amr: &[String]) -> u8 {
    if amr
        .iter()
        .any(|method| SECOND_FACTORS.iter().any(|second| second.as_str() == method))
    {
        2
    } else {
        1
    }
}

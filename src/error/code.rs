//! Every problem code, the one place one is written, and the problems each
//! part of a request may answer, for the OpenAPI document.

use serde::Serialize;
use utoipa::ToSchema;

/// Every problem code this API answers with: the one place a code is
/// written. Clients switch on these; each operation's document lists the
/// ones it may answer.
macro_rules! error_codes {
    ($(#[doc = $doc:literal] $variant:ident = $text:literal,)*) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum ErrorCode {
            $(#[doc = $doc] $variant,)*
        }

        impl ErrorCode {
            pub const ALL: &[ErrorCode] = &[$(Self::$variant,)*];

            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)*
                }
            }

            /// What the code means, for the OpenAPI document.
            pub fn meaning(self) -> &'static str {
                match self {
                    $(Self::$variant => $doc.trim(),)*
                }
            }
        }
    };
}

error_codes! {
    /// Input that parsed but breaks a rule; `errors` names each field.
    ValidationFailed = "validation_failed",
    /// A directory page beyond the 10,000th match: narrow `q` instead.
    PageTooDeep = "page_too_deep",
    /// The body is not JSON (or not UTF-8).
    MalformedJson = "malformed_json",
    /// A query parameter is not of its type, or holds U+0000.
    InvalidQuery = "invalid_query",
    /// A request that cannot be read at all.
    BadRequest = "bad_request",
    /// No bearer token was sent.
    MissingCredentials = "missing_credentials",
    /// The access token is not one of ours, or is malformed.
    InvalidToken = "invalid_token",
    /// The access token, or an e-mailed link, has expired.
    TokenExpired = "token_expired",
    /// The session (or the account) has ended.
    SessionRevoked = "session_revoked",
    /// The session reached its maximum age.
    SessionExpired = "session_expired",
    /// The API key is unknown or revoked.
    InvalidApiKey = "invalid_api_key",
    /// Wrong login or password.
    InvalidCredentials = "invalid_credentials",
    /// The refresh token is unknown or ended.
    InvalidRefreshToken = "invalid_refresh_token",
    /// A rotated refresh token was used again: the session is ended.
    RefreshTokenReused = "refresh_token_reused",
    /// The password was right and a second factor is due: finish at `POST /v1/auth/mfa` with `mfa_token` (single use, 5 minutes) and one of `factors`.
    MfaRequired = "mfa_required",
    /// The `mfa_token` is unknown, used already, or expired: log in again.
    InvalidMfaToken = "invalid_mfa_token",
    /// The code, recovery code or passkey does not prove the second factor (wrong, used already, or another member's).
    InvalidSecondFactor = "invalid_second_factor",
    /// The passkey's answer does not verify, its ceremony is unknown, used or past its 5 minutes, or the passkey is unknown.
    InvalidPasskey = "invalid_passkey",
    /// The e-mail address was never validated.
    AccountInactive = "account_inactive",
    /// A superuser deactivated the account.
    AccountDisabled = "account_disabled",
    /// The member is banned; `sanction` says why and until when.
    MemberBanned = "member_banned",
    /// The member is read-only; `sanction` says why and until when.
    MemberReadOnly = "member_read_only",
    /// The caller may not see this.
    Forbidden = "forbidden",
    /// Only staff may do this.
    StaffOnly = "staff_only",
    /// Only superusers may do this.
    SuperuserOnly = "superuser_only",
    /// Staff powers need a session that proved a second factor (`MEMBERD_STAFF_MFA=required`): enrol one, then log in with it.
    MfaRequiredForStaff = "mfa_required_for_staff",
    /// This change needs a session that proved a second factor, or a code of one in the request.
    SecondFactorRequired = "second_factor_required",
    /// The API key lacks the scope this needs.
    InsufficientScope = "insufficient_scope",
    /// Moderating this member needs a higher rank.
    InsufficientRank = "insufficient_rank",
    /// Nobody moderates themselves.
    CannotModerateSelf = "cannot_moderate_self",
    /// Bots are not moderated.
    CannotModerateBot = "cannot_moderate_bot",
    /// Superusers are not moderated.
    CannotModerateSuperuser = "cannot_moderate_superuser",
    /// Nobody changes their own roles.
    CannotChangeOwnRoles = "cannot_change_own_roles",
    /// A superuser removes their own factors as members do, not by a reset.
    CannotResetOwnFactors = "cannot_reset_own_factors",
    /// The moderator who gave a sanction does not decide its appeal.
    CannotDecideOwnSanction = "cannot_decide_own_sanction",
    /// No resource at this path.
    NotFound = "not_found",
    /// No such member.
    MemberNotFound = "member_not_found",
    /// No such sanction.
    SanctionNotFound = "sanction_not_found",
    /// No such report (or not one the caller filed).
    ReportNotFound = "report_not_found",
    /// No such appeal.
    AppealNotFound = "appeal_not_found",
    /// The caller has no live session by this id.
    SessionNotFound = "session_not_found",
    /// The caller has no second factor by this id.
    FactorNotFound = "factor_not_found",
    /// The e-mailed link is unknown, used up, or voided.
    TokenNotFound = "token_not_found",
    /// No such forbidden domain.
    DomainNotFound = "domain_not_found",
    /// No such service client.
    ServiceClientNotFound = "service_client_not_found",
    /// No such webhook.
    WebhookNotFound = "webhook_not_found",
    /// No such webhook delivery.
    DeliveryNotFound = "delivery_not_found",
    /// The resource exists, not with this method; see `Allow`.
    MethodNotAllowed = "method_not_allowed",
    /// The e-mailed link was already used.
    TokenUsed = "token_used",
    /// The passkey enrolment was started more than 5 minutes ago: start again.
    CeremonyExpired = "ceremony_expired",
    /// The change conflicts with an existing record.
    Conflict = "conflict",
    /// Another account has this e-mail address.
    EmailTaken = "email_taken",
    /// A group has this name.
    GroupExists = "group_exists",
    /// This domain is already forbidden.
    DomainExists = "domain_exists",
    /// The last active superuser cannot be removed.
    LastSuperuser = "last_superuser",
    /// The sanction has already ended this way.
    SanctionNotEndable = "sanction_not_endable",
    /// A lift is not itself forgiven or reverted.
    SanctionIsALift = "sanction_is_a_lift",
    /// Nobody reports themselves.
    CannotReportSelf = "cannot_report_self",
    /// Bots are not reported.
    CannotReportBot = "cannot_report_bot",
    /// The caller has joined this open report already.
    AlreadyReported = "already_reported",
    /// Another member of staff holds the report.
    ReportClaimed = "report_claimed",
    /// The report is resolved or dismissed.
    ReportClosed = "report_closed",
    /// The sanction has been appealed once already.
    AlreadyAppealed = "already_appealed",
    /// The sanction is older than `MEMBERD_APPEAL_WINDOW`.
    AppealWindowClosed = "appeal_window_closed",
    /// The appeal has been decided already.
    AppealDecided = "appeal_decided",
    /// The factor is confirmed already.
    FactorAlreadyConfirmed = "factor_already_confirmed",
    /// The member has no confirmed second factor.
    NoSecondFactor = "no_second_factor",
    /// The member has no confirmed passkey.
    NoPasskey = "no_passkey",
    /// A member holds at most 10 second factors.
    TooManyFactors = "too_many_factors",
    /// The body is over 64 KiB.
    PayloadTooLarge = "payload_too_large",
    /// The body is not `application/json`.
    UnsupportedMediaType = "unsupported_media_type",
    /// Too many requests of this kind; see `Retry-After`.
    RateLimited = "rate_limited",
    /// Too many failed logins; see `Retry-After`.
    TooManyAttempts = "too_many_attempts",
    /// The database is unreachable or busy; try again.
    ServiceUnavailable = "service_unavailable",
    /// Too many password hashes wait already; try again in a moment.
    Busy = "busy",
    /// A bug: the log has the cause.
    InternalError = "internal_error",
}

/// Lets a code be compared with the text a client sees.
impl PartialEq<&str> for ErrorCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Every code a field error carries: the one place one is written.
macro_rules! field_codes {
    ($(#[doc = $doc:literal] $variant:ident = $text:literal,)*) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum FieldCode {
            $(#[doc = $doc] $variant,)*
        }

        impl FieldCode {
            pub const ALL: &[FieldCode] = &[$(Self::$variant,)*];

            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)*
                }
            }
        }
    };
}

field_codes! {
    /// The field is missing or empty.
    Required = "required",
    /// Shorter than the field's minimum.
    TooShort = "too_short",
    /// Longer than the field's maximum.
    TooLong = "too_long",
    /// Outside the field's length bounds.
    InvalidLength = "invalid_length",
    /// A number outside the field's range.
    OutOfRange = "out_of_range",
    /// More items than the field takes.
    TooMany = "too_many",
    /// Not of the field's form.
    Invalid = "invalid",
    /// A JSON value of the wrong type.
    InvalidType = "invalid_type",
    /// Not one of the field's values.
    InvalidChoice = "invalid_choice",
    /// Not an absolute http(s) URL.
    InvalidUrl = "invalid_url",
    /// A field the endpoint does not take.
    UnknownField = "unknown_field",
    /// Text holding U+0000.
    NullCharacter = "null_character",
    /// A field this request may not carry.
    NotAllowed = "not_allowed",
    /// Does not match the field it repeats.
    Mismatch = "mismatch",
    /// The current password is wrong.
    Incorrect = "incorrect",
    /// Another member has it.
    Taken = "taken",
    /// Looks too much like another member's username.
    Confusable = "confusable",
    /// Kept for the service's own use.
    Reserved = "reserved",
    /// Digits only: it would read as an id.
    Numeric = "numeric",
    /// Starts or ends with a space.
    SurroundingSpace = "surrounding_space",
    /// Holds a comma.
    ContainsComma = "contains_comma",
    /// Holds a slash.
    ContainsSlash = "contains_slash",
    /// Holds an at sign.
    ContainsAtSign = "contains_at_sign",
    /// Holds a control or invisible formatting character.
    ContainsControlCharacter = "contains_control_character",
    /// Holds an emoji.
    ContainsEmoji = "contains_emoji",
    /// An e-mail domain the community refuses.
    ForbiddenDomain = "forbidden_domain",
    /// A password on the list of common ones.
    TooCommon = "too_common",
    /// The password is the username.
    SameAsUsername = "same_as_username",
    /// The password is the e-mail address.
    SameAsEmail = "same_as_email",
    /// No group has this name.
    UnknownGroup = "unknown_group",
    /// No event type has this name.
    UnknownType = "unknown_type",
    /// A webhook URL that reaches a private or local address.
    UrlNotAllowed = "url_not_allowed",
    /// Names nothing that exists.
    NotFound = "not_found",
    /// Names something about another member.
    OtherMember = "other_member",
    /// Not shorter than what it should shorten.
    NotShorter = "not_shorter",
}

/// Lets a code be compared with the text a client sees.
impl PartialEq<&str> for FieldCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl std::fmt::Display for FieldCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One problem an operation may answer, for its OpenAPI document: the
/// status, the code, and what it means there when the code's own meaning
/// is not enough.
#[derive(Debug, Clone, Copy)]
pub struct Answer {
    pub status: u16,
    pub code: ErrorCode,
    pub note: Option<&'static str>,
}

impl Answer {
    pub const fn new(status: u16, code: ErrorCode) -> Self {
        Self {
            status,
            code,
            note: None,
        }
    }

    pub const fn noted(status: u16, code: ErrorCode, note: &'static str) -> Self {
        Self {
            status,
            code,
            note: Some(note),
        }
    }
}

/// The problems a part of a request (an extractor, a kind of body) may
/// answer, written once beside it and listed by every operation that uses it.
pub trait Answers {
    fn answers() -> Vec<Answer>;
}

#[cfg(test)]
mod tests {
    use super::{ErrorCode, FieldCode};

    #[test]
    fn each_code_is_written_as_its_text() {
        for code in ErrorCode::ALL {
            assert_eq!(serde_json::to_value(code).unwrap(), code.as_str(), "{code:?}");
        }
        for code in FieldCode::ALL {
            assert_eq!(serde_json::to_value(code).unwrap(), code.as_str(), "{code:?}");
        }
    }
}

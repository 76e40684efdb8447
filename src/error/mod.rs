//! The one error type at the edge of the service and its rendering as an
//! RFC 9457 `application/problem+json` body with a stable `code`.

use actix_web::body::BoxBody;
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, ResponseError, error as actix_error};
use serde::Serialize;
use utoipa::ToSchema;

mod code;

pub use code::{Answer, Answers, ErrorCode, FieldCode};

/// One problem with one field of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    /// The request field, as named in the request body.
    pub field: String,
    /// Stable snake_case code, such as `too_long` or `contains_comma`.
    pub code: FieldCode,
    /// A sentence for a person.
    pub message: String,
}

impl FieldError {
    pub fn new(field: &str, code: FieldCode, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            code,
            message: message.into(),
        }
    }
}

/// Why a member may not have a session, or may not act.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct SanctionNotice {
    /// The public reason the moderator gave.
    pub reason: String,
    /// When the sanction ends; null when permanent.
    pub ends_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// RFC 9457 problem details, as every error of this API is answered.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem; `about:blank` plus `code` is enough to switch on.
    #[serde(rename = "type")]
    pub type_: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Stable snake_case error code that clients switch on.
    pub code: ErrorCode,
    /// Field errors, for invalid input.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldError>>,
    /// The sanction behind a `member_banned` or `member_read_only` refusal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sanction: Option<SanctionNotice>,
    /// With `mfa_required`: the token that finishes the login at
    /// `POST /v1/auth/mfa` (single use, 5 minutes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mfa_token: Option<String>,
    /// With `mfa_required`: the second factors the member holds.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<SecondFactorName>>)]
    pub factors: Option<Vec<&'static str>>,
}

/// A kind of second factor that finishes a login.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SecondFactorName {
    Totp,
    Passkey,
    RecoveryCode,
}

/// A login whose password was right and whose second factor is due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecondFactorDue {
    pub mfa_token: String,
    /// As `SecondFactorName` writes them.
    pub factors: Vec<&'static str>,
}

/// How a domain refuses, in its own terms; the status each kind is
/// answered with is chosen in one place ([`AppError`]'s `status_code`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The caller is not known (bad or missing credentials).
    Unauthenticated,
    /// The caller is known and may not do this.
    Forbidden,
    NotFound,
    /// It existed and is used up or expired.
    Gone,
    /// It clashes with what is there.
    Conflict,
    /// Well-formed, but more than the service will do (a page too deep).
    Unprocessable,
    TooManyRequests {
        retry_after_secs: u64,
    },
}

/// A refusal a domain can explain: each domain's error enum says, in the one
/// impl beside it, which code and kind each of its cases is; its `Display`
/// is the sentence for a person. Services raise these with `?`.
pub trait DomainError: std::fmt::Display {
    fn kind(&self) -> Kind;
    fn code(&self) -> ErrorCode;
}

impl<E: DomainError> From<E> for AppError {
    fn from(error: E) -> Self {
        Self::Refused {
            kind: error.kind(),
            code: error.code(),
            detail: error.to_string(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Input that parsed but breaks a rule: 422 with every field error at once.
    #[error("invalid input")]
    Validation(Vec<FieldError>),
    /// Input that could not be read at all: 400.
    #[error("{detail}")]
    BadRequest { code: ErrorCode, detail: String },
    /// A domain's refusal ([`DomainError`]): its kind chooses the status.
    #[error("{detail}")]
    Refused {
        kind: Kind,
        code: ErrorCode,
        detail: String,
    },
    #[error("banned")]
    Banned(SanctionNotice),
    #[error("read-only")]
    ReadOnly(SanctionNotice),
    #[error("A second factor is due: finish the login at POST /v1/auth/mfa with the mfa_token.")]
    SecondFactorDue(SecondFactorDue),
    #[error("method not allowed")]
    MethodNotAllowed { allow: String },
    #[error("payload too large")]
    PayloadTooLarge,
    #[error("unsupported media type")]
    UnsupportedMediaType,
    #[error("service unavailable: {0}")]
    Unavailable(String),
    /// Too much work waits already (password hashing): 503 at once, rather
    /// than a queue that grows for ever.
    #[error("busy")]
    Busy,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl AppError {
    pub fn validation(field: &str, code: FieldCode, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::new(field, code, message)])
    }

    pub fn internal(message: impl std::fmt::Display) -> Self {
        Self::Internal(anyhow::anyhow!("{message}"))
    }

    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Validation(_) => ErrorCode::ValidationFailed,
            Self::BadRequest { code, .. } | Self::Refused { code, .. } => *code,
            Self::Banned(_) => ErrorCode::MemberBanned,
            Self::ReadOnly(_) => ErrorCode::MemberReadOnly,
            Self::SecondFactorDue(_) => ErrorCode::MfaRequired,
            Self::MethodNotAllowed { .. } => ErrorCode::MethodNotAllowed,
            Self::PayloadTooLarge => ErrorCode::PayloadTooLarge,
            Self::UnsupportedMediaType => ErrorCode::UnsupportedMediaType,
            Self::Unavailable(_) => ErrorCode::ServiceUnavailable,
            Self::Busy => ErrorCode::Busy,
            Self::Internal(_) => ErrorCode::InternalError,
        }
    }

    fn detail(&self) -> String {
        match self {
            Self::Validation(errors) => match errors.as_slice() {
                [one] => one.message.clone(),
                _ => format!("{} fields are invalid.", errors.len()),
            },
            Self::Banned(notice) => match notice.ends_at {
                Some(end) => format!("This account is banned until {}: {}", end.to_rfc3339(), notice.reason),
                None => format!("This account is banned: {}", notice.reason),
            },
            Self::ReadOnly(notice) => match notice.ends_at {
                Some(end) => format!(
                    "This account is read-only until {}: {}",
                    end.to_rfc3339(),
                    notice.reason
                ),
                None => format!("This account is read-only: {}", notice.reason),
            },
            Self::MethodNotAllowed { allow } => format!("This resource accepts only {allow}."),
            Self::PayloadTooLarge => "The request body is too large.".into(),
            Self::UnsupportedMediaType => "Send the body as application/json.".into(),
            Self::Unavailable(_) => "The service is temporarily unavailable; try again shortly.".into(),
            Self::Busy => "Too many requests are being processed; try again in a moment.".into(),
            // Clients never see the cause of an internal error; the log does.
            Self::Internal(_) => "An unexpected error occurred.".into(),
            other => other.to_string(),
        }
    }

    pub fn problem(&self) -> Problem {
        let status = self.status_code();
        Problem {
            type_: "about:blank".into(),
            title: status.canonical_reason().unwrap_or("Error").into(),
            status: status.as_u16(),
            detail: self.detail(),
            code: self.code(),
            errors: match self {
                Self::Validation(errors) => Some(errors.clone()),
                _ => None,
            },
            sanction: match self {
                Self::Banned(notice) | Self::ReadOnly(notice) => Some(notice.clone()),
                _ => None,
            },
            mfa_token: match self {
                Self::SecondFactorDue(due) => Some(due.mfa_token.clone()),
                _ => None,
            },
            factors: match self {
                Self::SecondFactorDue(due) => Some(due.factors.clone()),
                _ => None,
            },
        }
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Refused { kind, .. } => match kind {
                Kind::Unauthenticated => StatusCode::UNAUTHORIZED,
                Kind::Forbidden => StatusCode::FORBIDDEN,
                Kind::NotFound => StatusCode::NOT_FOUND,
                Kind::Gone => StatusCode::GONE,
                Kind::Conflict => StatusCode::CONFLICT,
                Kind::Unprocessable => StatusCode::UNPROCESSABLE_ENTITY,
                Kind::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            },
            Self::Banned(_) | Self::ReadOnly(_) => StatusCode::FORBIDDEN,
            Self::SecondFactorDue(_) => StatusCode::UNAUTHORIZED,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Unavailable(_) | Self::Busy => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse<BoxBody> {
        match self {
            Self::Internal(cause) => tracing::error!(error = ?cause, "internal error"),
            Self::Unavailable(cause) => tracing::warn!(%cause, "service unavailable"),
            _ => {}
        }
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header((header::CONTENT_TYPE, "application/problem+json"));
        match self {
            Self::Refused {
                kind: Kind::Unauthenticated,
                code,
                ..
            } => {
                response.insert_header((
                    header::WWW_AUTHENTICATE,
                    format!("Bearer realm=\"memberd\", error=\"invalid_token\", error_description=\"{code}\""),
                ));
            }
            Self::Refused {
                kind: Kind::TooManyRequests { retry_after_secs },
                ..
            } => {
                response.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
            }
            Self::MethodNotAllowed { allow } => {
                response.insert_header((header::ALLOW, allow.as_str()));
            }
            Self::Unavailable(_) => {
                response.insert_header((header::RETRY_AFTER, "1"));
            }
            Self::Busy => {
                response.insert_header((header::RETRY_AFTER, "1"));
                // A client refused for load that asks again at once pays a new
                // connection each time: a flood of refusals halves (bench/RESULTS.md).
                response.force_close();
            }
            _ => {}
        }
        match serde_json::to_string(&self.problem()) {
            Ok(body) => response.body(body),
            Err(_) => response.finish(),
        }
    }
}

impl From<diesel::result::Error> for AppError {
    fn from(error: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match error {
            Error::NotFound => Self::Refused {
                kind: Kind::NotFound,
                code: ErrorCode::NotFound,
                detail: "No such resource.".into(),
            },
            Error::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => Self::Refused {
                kind: Kind::Conflict,
                code: ErrorCode::Conflict,
                detail: format!(
                    "This conflicts with an existing record ({}).",
                    info.constraint_name().unwrap_or("unique")
                ),
            },
            Error::DatabaseError(DatabaseErrorKind::SerializationFailure, _) => {
                Self::Unavailable("serialization failure".into())
            }
            // Two transactions that lock the same rows in different orders
            // (rare, and PostgreSQL ends one of them): worth a retry.
            Error::DatabaseError(DatabaseErrorKind::Unknown, info) if info.message() == "deadlock detected" => {
                Self::Unavailable("deadlock detected".into())
            }
            Error::DatabaseError(DatabaseErrorKind::ClosedConnection, _) => {
                Self::Unavailable("the database connection was lost".into())
            }
            other => Self::Internal(anyhow::Error::new(other).context("database error")),
        }
    }
}

impl From<diesel::r2d2::PoolError> for AppError {
    fn from(error: diesel::r2d2::PoolError) -> Self {
        Self::Unavailable(format!("no database connection available: {error}"))
    }
}

pub fn path_error_handler(error: actix_error::PathError, _: &HttpRequest) -> actix_web::Error {
    AppError::Refused {
        kind: Kind::NotFound,
        code: ErrorCode::NotFound,
        detail: format!("No such resource: {error}"),
    }
    .into()
}

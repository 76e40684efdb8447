//! A sanction as a moderator asks for it, checked field by field.

use crate::duration::Duration;
use crate::error::{FieldCode, FieldError};
use crate::input::is_blank;
use crate::sanctions::model::Action;

pub const REASON_MAX_CHARS: usize = 1_000;
pub const PRIVATE_NOTE_MAX_CHARS: usize = 2_000;
pub const RESOURCE_MAX_CHARS: usize = 200;

/// A sanction as a moderator asked for it, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SanctionRequest {
    pub action: Action,
    pub reason: String,
    pub private_note: String,
    pub duration: Option<Duration>,
    pub resource: Option<String>,
}

/// A resource as services name it: opaque, 1–200 characters, no control characters.
pub fn parse_resource(field: &str, text: &str) -> Result<String, FieldError> {
    let count = text.chars().count();
    if count == 0 || count > RESOURCE_MAX_CHARS {
        Err(FieldError::new(
            field,
            FieldCode::InvalidLength,
            "A resource has 1 to 200 characters.",
        ))
    } else if text.chars().any(char::is_control) {
        Err(FieldError::new(
            field,
            FieldCode::ContainsControlCharacter,
            "A resource may not contain control characters.",
        ))
    } else {
        Ok(text.to_string())
    }
}

/// A required reason-like text of at most `max` characters as sent, not
/// all white space (the document's `FILLED`); kept trimmed.
pub fn parse_reason(field: &str, text: &str, max: usize) -> Result<String, FieldError> {
    if text.chars().count() > max {
        Err(FieldError::new(
            field,
            FieldCode::TooLong,
            format!("At most {max} characters."),
        ))
    } else if is_blank(text) {
        Err(FieldError::new(field, FieldCode::Required, "Give a reason."))
    } else {
        Ok(text.trim().to_string())
    }
}

impl SanctionRequest {
    pub fn parse(
        kind: &str,
        reason: &str,
        private_note: Option<&str>,
        duration: Option<&str>,
        resource: Option<&str>,
    ) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        let action = Action::parse(kind);
        if action.is_none() {
            errors.push(FieldError::new(
                "kind",
                FieldCode::Invalid,
                "kind is read_only, ban, lift_read_only or lift_ban.",
            ));
        }
        let reason = parse_reason("reason", reason, REASON_MAX_CHARS)
            .map_err(|e| errors.push(e))
            .ok();
        let private_note = private_note.unwrap_or_default();
        let too_long = private_note.chars().count() > PRIVATE_NOTE_MAX_CHARS;
        let private_note = private_note.trim().to_string();
        if too_long {
            errors.push(FieldError::new(
                "private_note",
                FieldCode::TooLong,
                "At most 2000 characters.",
            ));
        }
        let duration = match (action, duration) {
            (Some(Action::Lift(_)), Some(_)) => {
                errors.push(FieldError::new(
                    "duration",
                    FieldCode::NotAllowed,
                    "A lift has no duration.",
                ));
                None
            }
            (_, Some(text)) => Duration::parse(text)
                .map_err(|e| errors.push(FieldError::new("duration", FieldCode::Invalid, e.to_string())))
                .ok(),
            (_, None) => None,
        };
        let resource = resource
            .map(|r| parse_resource("resource", r))
            .transpose()
            .map_err(|e| errors.push(e))
            .ok()
            .flatten();
        match (action, reason) {
            (Some(action), Some(reason)) if errors.is_empty() => Ok(Self {
                action,
                reason,
                private_note,
                duration,
                resource,
            }),
            _ => Err(errors),
        }
    }
}

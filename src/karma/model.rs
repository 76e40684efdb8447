//! Rules of karma notes.

use crate::error::{FieldCode, FieldError};
use crate::input::is_blank;

pub const NOTE_MAX_CHARS: usize = 500;

/// A note as staff wrote it, checked: 1–500 characters, karma in -100..=100.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KarmaNote {
    pub note: String,
    pub karma: i32,
}

impl KarmaNote {
    pub fn parse(note: &str, karma: i64) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        if is_blank(note) {
            errors.push(FieldError::new("note", FieldCode::Required, "Write a note."));
        } else if note.chars().count() > NOTE_MAX_CHARS {
            errors.push(FieldError::new(
                "note",
                FieldCode::TooLong,
                "A note has at most 500 characters.",
            ));
        }
        if !(-100..=100).contains(&karma) {
            errors.push(FieldError::new(
                "karma",
                FieldCode::OutOfRange,
                "karma is between -100 and 100.",
            ));
        }
        if errors.is_empty() {
            Ok(Self {
                note: note.trim().to_string(),
                karma: karma as i32,
            })
        } else {
            Err(errors)
        }
    }

    /// What memberd notes when a member renames, so staff can follow them.
    pub fn rename(old: &str, new: &str) -> Self {
        Self {
            note: format!("Username changed from {old} to {new}."),
            karma: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_are_checked() {
        assert_eq!(
            KarmaNote::parse(" Helpful ", 5),
            Ok(KarmaNote {
                note: "Helpful".into(),
                karma: 5
            })
        );
        assert!(KarmaNote::parse("x", 100).is_ok() && KarmaNote::parse("x", -100).is_ok());
        let codes = |note: &str, karma: i64| -> Vec<String> {
            KarmaNote::parse(note, karma)
                .unwrap_err()
                .into_iter()
                .map(|e| e.code.to_string())
                .collect()
        };
        assert_eq!(codes("", 101), ["required", "out_of_range"]);
        assert_eq!(codes(&"n".repeat(501), -101), ["too_long", "out_of_range"]);
    }
}

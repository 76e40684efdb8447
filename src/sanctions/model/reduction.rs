//! Reducing a sanction (an appeal's outcome): it keeps its place in its
//! queue with a shorter duration, so what queues behind it moves up.

use crate::duration::Duration;
use crate::error::{FieldCode, FieldError};

/// A reduction must shorten the sanction: any duration shortens a permanent one.
pub fn check_reduction(current: Option<Duration>, reduced: Duration) -> Result<(), FieldError> {
    match current {
        Some(current) if reduced.as_secs() >= current.as_secs() => Err(FieldError::new(
            "duration",
            FieldCode::NotShorter,
            format!("The sanction lasts {current}: give a shorter duration."),
        )),
        _ => Ok(()),
    }
}

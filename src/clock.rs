//! The one source of "now". Production reads the system clock; tests move a
//! shared offset to reach expiry instants without sleeping.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Utc};

#[derive(Debug, Clone, Default)]
pub struct Clock {
    /// Milliseconds, so that a test can move to an instant it was given.
    offset_millis: Arc<AtomicI64>,
}

impl Clock {
    pub fn system() -> Self {
        Self::default()
    }

    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + chrono::Duration::milliseconds(self.offset_millis.load(Ordering::Relaxed))
    }

    /// Moves this clock (and every clone of it) forward. For tests.
    pub fn advance(&self, by: chrono::Duration) {
        self.offset_millis.fetch_add(by.num_milliseconds(), Ordering::Relaxed);
    }
}

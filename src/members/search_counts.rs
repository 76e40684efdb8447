//! Directory searches known to match more members than the directory pages
//! through, so that they are not counted again for [`CAPPED_FOR`].
//!
//! Counting is most of what a directory page costs, and the long lists cost
//! the most: every one counts to the bound. A list that long stays long —
//! it takes thousands of members leaving to bring it under — so its count is
//! taken once in a while rather than on every page. Counts under the bound
//! are exact and taken every time: they are never remembered.

use std::time::{Duration, Instant};

use quick_cache::sync::Cache;

/// How long a search stays known to be over the bound.
pub const CAPPED_FOR: Duration = Duration::from_secs(10);
/// Searches remembered at most (the empty one, and prefixes).
const SEARCHES: usize = 1_000;

pub struct SearchCounts {
    capped: Cache<Option<String>, Instant>,
}

impl Default for SearchCounts {
    fn default() -> Self {
        Self {
            capped: Cache::new(SEARCHES),
        }
    }
}

impl SearchCounts {
    /// Whether this search (a prefix, or none) matched more than the bound
    /// less than [`CAPPED_FOR`] ago.
    pub fn known_capped(&self, prefix: &Option<String>) -> bool {
        self.capped
            .get(prefix)
            .is_some_and(|counted| counted.elapsed() < CAPPED_FOR)
    }

    /// Remembers that this search matched more than the bound just now.
    pub fn capped(&self, prefix: Option<String>) {
        self.capped.insert(prefix, Instant::now());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_search_over_the_bound_is_remembered_and_no_other() {
        let counts = SearchCounts::default();
        assert!(!counts.known_capped(&None));
        counts.capped(None);
        assert!(counts.known_capped(&None));
        assert!(!counts.known_capped(&Some("al".into())));
    }
}

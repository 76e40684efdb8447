//! Directory searches that match more members than the directory pages
//! through: known as such for [`CAPPED_FOR`], and, sorted by date, their
//! first pages in order.
//!
//! Counting is most of what a directory page costs, and the long lists cost
//! the most: every one counts to the bound. A list that long stays long —
//! it takes thousands of members leaving to bring it under — so its count is
//! taken once in a while rather than on every page. Counts under the bound
//! are exact and taken every time: they are never remembered.
//!
//! A search sorted by date is worse: no index orders a username prefix's
//! matches by date, so each page sorts every match (111,111 for `user1` in
//! the benchmark's million). For a broad search the first [`DEPTH`] ids in
//! date order are sorted once and kept; pages are cut from them, and each
//! page's members are checked to be listed still when it is read. An order
//! older than [`CAPPED_FOR`] is sorted again in the background by the first
//! request to find it so, while requests go on with the old one (for at most
//! as long again): someone who joins or returns shows in such a search within
//! twice [`CAPPED_FOR`].
//!
//! [`DEPTH`]: crate::members::directory::DEPTH

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use quick_cache::sync::Cache;

/// How long a search stays known to be over the bound, and its date order kept.
pub const CAPPED_FOR: Duration = Duration::from_secs(10);
/// Searches remembered at most (the empty one, and prefixes).
const SEARCHES: usize = 1_000;
/// Date orders kept at most: 80 KB each.
const DATE_ORDERS: usize = 16;

pub struct BroadSearches {
    capped: Cache<Option<String>, Instant>,
    /// (prefix, newest first) → the first ids in that order. A plain map:
    /// so few that an evicting cache would drop the one in use.
    date_orders: Mutex<HashMap<(String, bool), DateOrder>>,
}

#[derive(Clone)]
struct DateOrder {
    sorted: Instant,
    ids: Arc<Vec<i64>>,
    /// Set by the request that sorts it again.
    claimed: Arc<AtomicBool>,
}

/// A kept date order, as a request finds it.
pub struct KeptOrder {
    pub ids: Arc<Vec<i64>>,
    /// Sorted less than [`CAPPED_FOR`] ago.
    pub fresh: bool,
    claimed: Arc<AtomicBool>,
}

impl KeptOrder {
    /// Whether this request is the one to have a stale order sorted again
    /// (the first to ask is).
    pub fn claim(&self) -> bool {
        !self.claimed.swap(true, Ordering::AcqRel)
    }
}

impl Default for BroadSearches {
    fn default() -> Self {
        Self {
            capped: Cache::new(SEARCHES),
            date_orders: Mutex::default(),
        }
    }
}

impl BroadSearches {
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

    /// The first ids of a broad search in date order, sorted less than twice
    /// [`CAPPED_FOR`] ago.
    pub fn date_order(&self, prefix: &str, newest_first: bool) -> Option<KeptOrder> {
        let orders = self.date_orders.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let order = orders.get(&(prefix.to_string(), newest_first))?;
        let age = order.sorted.elapsed();
        (age < 2 * CAPPED_FOR).then(|| KeptOrder {
            ids: order.ids.clone(),
            fresh: age < CAPPED_FOR,
            claimed: order.claimed.clone(),
        })
    }

    /// Keeps a date order, in place of those that are out of date (or, when
    /// all are in use, of the oldest).
    pub fn keep_date_order(&self, prefix: String, newest_first: bool, ids: Arc<Vec<i64>>) {
        let mut orders = self.date_orders.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        orders.retain(|_, order| order.sorted.elapsed() < 2 * CAPPED_FOR);
        if orders.len() >= DATE_ORDERS
            && let Some(oldest) = orders
                .iter()
                .min_by_key(|(_, order)| order.sorted)
                .map(|(key, _)| key.clone())
        {
            orders.remove(&oldest);
        }
        let order = DateOrder {
            sorted: Instant::now(),
            ids,
            claimed: Arc::default(),
        };
        orders.insert((prefix, newest_first), order);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_search_over_the_bound_is_remembered_and_no_other() {
        let searches = BroadSearches::default();
        assert!(!searches.known_capped(&None));
        searches.capped(None);
        assert!(searches.known_capped(&None));
        assert!(!searches.known_capped(&Some("al".into())));
    }

    #[test]
    fn a_date_order_is_kept_by_search_and_direction() {
        let searches = BroadSearches::default();
        searches.keep_date_order("al".into(), true, Arc::new(vec![3, 2, 1]));
        let kept = searches.date_order("al", true).unwrap();
        assert_eq!((kept.ids.as_slice(), kept.fresh), (&[3, 2, 1][..], true));
        assert!(searches.date_order("al", false).is_none());
        assert!(searches.date_order("a", true).is_none());
        // One request, the first, sorts it again.
        assert!(kept.claim());
        assert!(!searches.date_order("al", true).unwrap().claim());
    }
}

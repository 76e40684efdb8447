//! Directory searches that match more members than the directory pages
//! through: known as such for [`CAPPED_FOR`], and their first [`DEPTH`]
//! members in each order asked for.
//!
//! Counting is most of what a directory page costs, and the long lists cost
//! the most: every one counts to the bound. A list that long stays long —
//! it takes thousands of members leaving to bring it under — so its count is
//! taken once in a while rather than on every page. Counts under the bound
//! are exact and taken every time: they are never remembered.
//!
//! Paging such a search costs as deep as the page: the 100th page skips
//! 9,900 entries, each checked against the bots and the banned. And sorted
//! by date, a prefix search is worse: no index orders a prefix's matches by
//! date, so each page would sort every match (111,111 for `user1` in the
//! benchmark's million). So for a broad search the first [`DEPTH`] ids in
//! each order asked for are read once and kept; pages are cut from them, and
//! each page's members are checked to be listed still when it is read (a ban
//! or a deactivation shows at once). An order older than [`CAPPED_FOR`] is
//! read again in the background by the first request to find it so, while
//! requests go on with the old one (for at most as long again): someone who
//! joins, returns or changes name shows in its place in such a search within
//! twice [`CAPPED_FOR`].
//!
//! [`DEPTH`]: crate::members::directory::DEPTH

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use quick_cache::sync::Cache;

use crate::members::model::DirectorySort;

/// How long a search stays known to be over the bound, and its orders kept.
pub const CAPPED_FOR: Duration = Duration::from_secs(10);
/// Searches remembered at most (the empty one, and prefixes).
const SEARCHES: usize = 1_000;
/// Orders kept at most: 80 KB each (kept in exactly that: a loaded list
/// has room to grow to 128 KB).
const ORDERS: usize = 16;

pub struct BroadSearches {
    capped: Cache<Option<String>, Instant>,
    /// (prefix, sort) → the first ids in that order. A plain map: so few
    /// that an evicting cache would drop the one in use.
    orders: Mutex<HashMap<(Option<String>, DirectorySort), Order>>,
}

#[derive(Clone)]
struct Order {
    sorted: Instant,
    ids: Arc<[i64]>,
    /// Set by the request that sorts it again.
    claimed: Arc<AtomicBool>,
}

/// A kept order, as a request finds it.
pub struct KeptOrder {
    pub ids: Arc<[i64]>,
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
            orders: Mutex::default(),
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

    /// The first ids of a broad search in this order, read less than twice
    /// [`CAPPED_FOR`] ago.
    pub fn order(&self, prefix: &Option<String>, sort: DirectorySort) -> Option<KeptOrder> {
        let orders = self.orders.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let order = orders.get(&(prefix.clone(), sort))?;
        let age = order.sorted.elapsed();
        (age < 2 * CAPPED_FOR).then(|| KeptOrder {
            ids: order.ids.clone(),
            fresh: age < CAPPED_FOR,
            claimed: order.claimed.clone(),
        })
    }

    /// Keeps an order, in place of those that are out of date (or, when all
    /// are in use, of the oldest).
    pub fn keep_order(&self, prefix: Option<String>, sort: DirectorySort, ids: Arc<[i64]>) {
        let mut orders = self.orders.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        orders.retain(|_, order| order.sorted.elapsed() < 2 * CAPPED_FOR);
        if orders.len() >= ORDERS
            && let Some(oldest) = orders
                .iter()
                .min_by_key(|(_, order)| order.sorted)
                .map(|(key, _)| key.clone())
        {
            orders.remove(&oldest);
        }
        let order = Order {
            sorted: Instant::now(),
            ids,
            claimed: Arc::default(),
        };
        orders.insert((prefix, sort), order);
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
    fn an_order_is_kept_by_search_and_sort() {
        let searches = BroadSearches::default();
        let al = Some("al".to_string());
        searches.keep_order(al.clone(), DirectorySort::DateJoinedDesc, Arc::from(vec![3, 2, 1]));
        let kept = searches.order(&al, DirectorySort::DateJoinedDesc).unwrap();
        assert_eq!((&kept.ids[..], kept.fresh), (&[3, 2, 1][..], true));
        assert!(searches.order(&al, DirectorySort::DateJoined).is_none());
        assert!(searches.order(&None, DirectorySort::DateJoinedDesc).is_none());
        // One request, the first, has it read again.
        assert!(kept.claim());
        assert!(!searches.order(&al, DirectorySort::DateJoinedDesc).unwrap().claim());
    }
}

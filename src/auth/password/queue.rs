//! The queue hashes wait in: bounded, so that a flood is refused at once
//! (503 `busy`) rather than queued for ever, and served source by source (a
//! client's IP key, or a member), so that one source's flood of logins, valid
//! ones included, cannot keep everyone else's waiting.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How much may wait, for `threads` hashing threads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueLimits {
    /// Hashes waiting, all sources together.
    pub total: usize,
    /// Hashes waiting from one source.
    pub per_source: usize,
    /// Threads one source may hold while another source waits.
    pub fair_share: usize,
}

impl QueueLimits {
    pub fn for_threads(threads: usize) -> Self {
        let threads = threads.max(1);
        Self {
            // A hash takes tens of milliseconds: a second or so of work.
            total: 32 * threads,
            // Room for a busy address (a NAT, an office) to keep every thread
            // busy while nobody else asks, and for the requests of its clients
            // that gave up a moment ago and are not yet known to have gone.
            per_source: 8 * threads,
            fair_share: threads.div_ceil(2),
        }
    }
}

/// How long after another source last asked a source is kept to its fair
/// share. Longer than the gap between one login's answer and the next from
/// the same person or service (a round trip and a query), so that a thread
/// freed between them is not taken by the flood; short enough that a lone
/// client gets every thread back at once.
pub const ACTIVE_WINDOW: Duration = Duration::from_millis(50);

/// Jobs waiting per source, served in turn. A source may hold more than its
/// fair share of threads only while no other source has asked for
/// [`ACTIVE_WINDOW`]: a thread may idle a moment rather than be taken by a
/// flood just before someone else's next request.
pub struct FairQueue<T> {
    limits: QueueLimits,
    waiting: HashMap<Arc<str>, VecDeque<(Ticket, T)>>,
    next_ticket: Ticket,
    /// Sources with waiting jobs, in the order they are served.
    turn: VecDeque<Arc<str>>,
    running: HashMap<Arc<str>, usize>,
    waiting_total: usize,
    /// The last source to ask and when, and when a source other than that one
    /// last asked: enough to tell, for any source, when another last did.
    last_ask: Option<(Arc<str>, Instant)>,
    last_other_ask: Option<Instant>,
}

/// A queued job, for taking it back.
pub type Ticket = u64;

/// The queue is full, for everyone or for this source.
#[derive(Debug, PartialEq, Eq)]
pub struct Full;

impl<T> FairQueue<T> {
    pub fn new(limits: QueueLimits) -> Self {
        Self {
            limits,
            waiting: HashMap::new(),
            next_ticket: 0,
            turn: VecDeque::new(),
            running: HashMap::new(),
            waiting_total: 0,
            last_ask: None,
            last_other_ask: None,
        }
    }

    pub fn waiting(&self) -> usize {
        self.waiting_total
    }

    /// Whether a job of `source` would be taken now.
    pub fn has_room(&self, source: &str) -> bool {
        self.waiting_total < self.limits.total
            && self
                .waiting
                .get(source)
                .is_none_or(|queued| queued.len() < self.limits.per_source)
    }

    /// Whether a source other than `source` asked within [`ACTIVE_WINDOW`] of `now`.
    fn others_active(&self, source: &str, now: Instant) -> bool {
        let other = match &self.last_ask {
            Some((last, at)) if &**last != source => Some(*at),
            _ => self.last_other_ask,
        };
        other.is_some_and(|at| now.saturating_duration_since(at) < ACTIVE_WINDOW)
    }

    /// Queues a job asked for at `now`, or refuses it when the queue or the
    /// source's part of it is full.
    pub fn push(&mut self, source: &str, job: T, now: Instant) -> Result<Ticket, Full> {
        match &mut self.last_ask {
            Some((last, at)) if &**last == source => *at = now,
            last => {
                self.last_other_ask = last.as_ref().map(|(_, at)| *at);
                *last = Some((Arc::from(source), now));
            }
        }
        if self.waiting_total >= self.limits.total {
            return Err(Full);
        }
        let queued = self.waiting.entry(Arc::from(source)).or_default();
        if queued.len() >= self.limits.per_source {
            return Err(Full);
        }
        let ticket = self.next_ticket;
        self.next_ticket += 1;
        queued.push_back((ticket, job));
        if queued.len() == 1 {
            self.turn.push_back(Arc::from(source));
        }
        self.waiting_total += 1;
        Ok(ticket)
    }

    /// Takes back a job that has not started (whoever asked has gone), so
    /// that it holds no place; false if it had started.
    pub fn cancel(&mut self, source: &str, ticket: Ticket) -> bool {
        let Some(queued) = self.waiting.get_mut(source) else {
            return false;
        };
        let Some(position) = queued.iter().position(|(queued, _)| *queued == ticket) else {
            return false;
        };
        queued.remove(position);
        if queued.is_empty() {
            self.waiting.remove(source);
            self.turn.retain(|turn| &**turn != source);
        }
        self.waiting_total -= 1;
        true
    }

    /// The next job to run at `now`, and its source: the first source in
    /// turn that holds less than its fair share, or else the first in turn
    /// that nobody else has been asking beside. The source goes to the back
    /// of the turn. None while every waiting source is held to its share.
    pub fn pop(&mut self, now: Instant) -> Option<(Arc<str>, T)> {
        let running = |source: &Arc<str>| self.running.get(source).copied().unwrap_or(0);
        let position = self
            .turn
            .iter()
            .position(|source| running(source) < self.limits.fair_share)
            .or_else(|| self.turn.iter().position(|source| !self.others_active(source, now)))?;
        let source = self.turn.remove(position)?;
        let queued = self.waiting.get_mut(&source)?;
        let (_, job) = queued.pop_front()?;
        if queued.is_empty() {
            self.waiting.remove(&source);
        } else {
            self.turn.push_back(source.clone());
        }
        self.waiting_total -= 1;
        *self.running.entry(source.clone()).or_default() += 1;
        Some((source, job))
    }

    /// How many threads `source` holds.
    #[cfg(test)]
    pub(super) fn held_by(&self, source: &str) -> usize {
        self.running.get(source).copied().unwrap_or(0)
    }

    /// A job of `source` has ended.
    pub fn done(&mut self, source: &str) {
        if let Some(count) = self.running.get_mut(source) {
            *count -= 1;
            if *count == 0 {
                self.running.remove(source);
            }
        }
    }
}

#[cfg(test)]
mod tests;

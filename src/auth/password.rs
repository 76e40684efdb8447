//! Argon2id password hashing with OWASP's parameters, on a few threads of its
//! own, so that a burst of logins waits its turn instead of starving
//! everything else of CPU, and a thread that finishes a hash starts the next
//! one at once.
//!
//! Each hash needs 19 MiB of working memory. Allocating it per hash costs
//! thousands of page faults each time, and the allocator keeps every thread's
//! freed 19 MiB around (hundreds of MiB after a burst), so each hashing thread
//! allocates its block once and reuses it.
//!
//! Hashes wait in a [`FairQueue`]: bounded, so that a flood is refused at once
//! (503 `busy`) rather than queued for ever, and served source by source (a
//! client's IP key, or a member), so that one source's flood of logins, valid
//! ones included, cannot keep everyone else's waiting.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use subtle::ConstantTimeEq;
use tokio::sync::oneshot;

use crate::error::{Answer, Answers, AppError, ErrorCode};

pub mod django;

/// OWASP Password Storage Cheat Sheet: m = 19 MiB, t = 2, p = 1.
fn params() -> Result<Params, AppError> {
    Params::new(19_456, 2, 1, None).map_err(AppError::internal)
}

type Memory = Vec<Block>;

/// A hash to compute, with the working memory of the thread that takes it.
type Job = Box<dyn FnOnce(&mut Memory) + Send>;

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

/// The source a member's own hashing counts under, whatever their address:
/// password changes and confirmations, and resets made with their link.
pub fn member_source(member_id: i64) -> String {
    format!("member:{member_id}")
}

/// What the hashing threads share with the hasher.
struct Pool {
    queue: Mutex<(FairQueue<Job>, bool)>,
    work: Condvar,
    gauge: Option<prometheus::IntGauge>,
}

impl Pool {
    fn report(&self, waiting: usize) {
        if let Some(gauge) = &self.gauge {
            gauge.set(waiting as i64);
        }
    }

    /// Runs jobs until the pool is closed.
    fn serve(&self, memory: &mut Memory) {
        loop {
            let (source, job) = {
                let Ok(mut guard) = self.queue.lock() else { return };
                loop {
                    let (queue, closed) = &mut *guard;
                    if *closed {
                        return;
                    }
                    if let Some(next) = queue.pop(Instant::now()) {
                        self.report(queue.waiting());
                        break next;
                    }
                    // Work held back for others who asked lately is looked at
                    // again once they may have stopped asking.
                    let waited = if queue.waiting() > 0 {
                        self.work
                            .wait_timeout(guard, ACTIVE_WINDOW)
                            .map(|(guard, _)| guard)
                            .map_err(drop)
                    } else {
                        self.work.wait(guard).map_err(drop)
                    };
                    guard = match waited {
                        Ok(guard) => guard,
                        Err(_) => return,
                    };
                }
            };
            job(memory);
            if let Ok(mut guard) = self.queue.lock() {
                guard.0.done(&source);
            }
            // A source that was at its share may be served again.
            self.work.notify_one();
        }
    }

    fn close(&self) {
        if let Ok(mut guard) = self.queue.lock() {
            guard.1 = true;
        }
        self.work.notify_all();
    }
}

/// A job in the queue, taken back if whoever asked stops waiting first.
struct Queued<'a> {
    pool: &'a Pool,
    source: &'a str,
    ticket: Ticket,
}

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        if let Ok(mut guard) = self.pool.queue.lock()
            && guard.0.cancel(self.source, self.ticket)
        {
            self.pool.report(guard.0.waiting());
        }
    }
}

/// Closes the pool when the last hasher goes, which ends its threads.
struct Owner {
    pool: Arc<Pool>,
    /// Verified against when no member matches, so that an unknown login
    /// costs the same time as a wrong password.
    dummy_hash: Arc<str>,
}

impl Drop for Owner {
    fn drop(&mut self) {
        self.pool.close();
    }
}

#[derive(Clone)]
pub struct PasswordHasher {
    owner: Arc<Owner>,
}

/// Every operation that checks or hashes a password may find the queue full.
impl Answers for PasswordHasher {
    fn answers() -> Vec<Answer> {
        vec![Answer::noted(
            503,
            ErrorCode::Busy,
            "More password checks wait than the service takes on, from everyone, or from this client \
             (an IPv6 /64 counts as one) or member: refused at once rather than queued.",
        )]
    }
}

impl PasswordHasher {
    /// Starts `threads` hashing threads; they end when the last clone of the
    /// hasher is dropped. `gauge` reports how many hashes wait.
    pub fn new(threads: usize, gauge: Option<prometheus::IntGauge>) -> Result<Self, AppError> {
        let threads = threads.max(1);
        let mut memory = Memory::new();
        let dummy_hash = hash_with(
            &mut memory,
            &crate::tokens::model::OpaqueToken::generate()
                .hash()
                .escape_ascii()
                .to_string(),
        )?;
        let pool = Arc::new(Pool {
            queue: Mutex::new((FairQueue::new(QueueLimits::for_threads(threads)), false)),
            work: Condvar::new(),
            gauge,
        });
        let mut first_memory = Some(memory);
        for n in 0..threads {
            let pool = Arc::clone(&pool);
            let mut memory = first_memory.take().unwrap_or_default();
            std::thread::Builder::new()
                .name(format!("memberd-hash-{n}"))
                .spawn(move || pool.serve(&mut memory))
                .map_err(AppError::internal)?;
        }
        Ok(Self {
            owner: Arc::new(Owner {
                pool,
                dummy_hash: dummy_hash.into(),
            }),
        })
    }

    /// Refuses at once, as `hash` and `verify` would, when `source` has no
    /// room in the queue now: a request that would be refused later is
    /// spared the work before (a flood's refusals must cost next to nothing).
    /// Room is not reserved: a call that passes may still be refused.
    pub fn check_room(&self, source: &str) -> Result<(), AppError> {
        let guard = self
            .owner
            .pool
            .queue
            .lock()
            .map_err(|_| AppError::internal("the password hashing queue is poisoned"))?;
        if guard.0.has_room(source) {
            Ok(())
        } else {
            Err(AppError::Busy)
        }
    }

    /// Hashes a new password for `source` (who asked: see [`FairQueue`]).
    pub async fn hash(&self, source: &str, password: String) -> Result<String, AppError> {
        self.run(source, move |memory| hash_with(memory, &password)).await?
    }

    /// Whether `password` matches `stored`; with no stored hash, spends the
    /// same effort and answers false.
    pub async fn verify(&self, source: &str, password: String, stored: Option<String>) -> Result<bool, AppError> {
        let (hash, known) = match stored {
            Some(hash) => (hash, true),
            None => (self.owner.dummy_hash.to_string(), false),
        };
        let matches = self
            .run(source, move |memory| verify_with(memory, &password, &hash))
            .await??;
        Ok(known && matches)
    }

    async fn run<T: Send + 'static>(
        &self,
        source: &str,
        work: impl FnOnce(&mut Memory) -> T + Send + 'static,
    ) -> Result<T, AppError> {
        let (done, result) = oneshot::channel();
        let job: Job = Box::new(move |memory| {
            // Whoever asked has gone (the client hung up): spare the CPU.
            if !done.is_closed() {
                let _ = done.send(work(memory));
            }
        });
        let pool = &self.owner.pool;
        let ticket = {
            let mut guard = pool
                .queue
                .lock()
                .map_err(|_| AppError::internal("the password hashing queue is poisoned"))?;
            let ticket = guard
                .0
                .push(source, job, Instant::now())
                .map_err(|Full| AppError::Busy)?;
            pool.report(guard.0.waiting());
            ticket
        };
        pool.work.notify_one();
        // Dropped with this future when the client hangs up: its place in the
        // queue is given back at once, rather than when a thread reaches it.
        let _queued = Queued { pool, source, ticket };
        result
            .await
            .map_err(|_| AppError::internal("a password hashing thread stopped"))
    }
}

/// Grows `memory` to what `params` need; it never shrinks.
fn fit<'a>(memory: &'a mut Memory, params: &Params) -> &'a mut [Block] {
    if memory.len() < params.block_count() {
        memory.resize(params.block_count(), Block::default());
    }
    &mut memory[..params.block_count()]
}

fn hash_with(memory: &mut Memory, password: &str) -> Result<String, AppError> {
    let failed = |e: &dyn std::fmt::Display| AppError::internal(format!("password hashing failed: {e}"));
    let params = params()?;
    let salt = Salt::new(&crate::random::os_bytes::<{ Salt::RECOMMENDED_LENGTH }>()).map_err(|e| failed(&e))?;
    let mut output = [0u8; Params::DEFAULT_OUTPUT_LEN];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
        .hash_password_into_with_memory(password.as_bytes(), &salt, &mut output, fit(memory, &params))
        .map_err(|e| failed(&e))?;
    let hash = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(|e| failed(&e))?,
        salt: Some(salt),
        hash: Some(Output::new(&output).map_err(|e| failed(&e))?),
    };
    Ok(hash.to_string())
}

/// Whether `stored` is not memberd's own Argon2id string (a member imported
/// from Django, say): after a login that verified it, memberd's hash of the
/// password should replace it.
pub fn is_foreign(stored: &str) -> bool {
    !stored.starts_with("$argon2id$")
}

/// Whether some password may match `stored`: memberd's own hash, or a
/// Django one in a format memberd checks. An import counts the others, whose
/// members can only reset their password.
pub fn verifiable(stored: &str) -> bool {
    if !stored.starts_with("$argon2") {
        return django::verifiable(stored);
    }
    PasswordHash::new(stored).is_ok_and(|parsed| {
        parsed.salt.is_some()
            && parsed.hash.is_some()
            && Algorithm::try_from(parsed.algorithm.as_str()).is_ok()
            && Version::try_from(parsed.version.unwrap_or(Version::V0x13.into())).is_ok()
            && Params::try_from(&parsed).is_ok()
    })
}

/// Whether `password` gives `stored`, with the parameters written in it.
fn verify_with(memory: &mut Memory, password: &str, stored: &str) -> Result<bool, AppError> {
    // memberd only ever wrote Argon2 PHC strings: anything else was imported,
    // or is the marker built-in members carry instead of a hash (`!`, as
    // Django's unusable passwords), which nothing matches.
    if !stored.starts_with("$argon2") {
        return Ok(django::verify(password, stored));
    }
    let Ok(parsed) = PasswordHash::new(stored) else {
        return Ok(false);
    };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return Ok(false);
    };
    let failed = |e: &dyn std::fmt::Display| AppError::internal(format!("stored password hash unusable: {e}"));
    let algorithm = Algorithm::try_from(parsed.algorithm.as_str()).map_err(|e| failed(&e))?;
    let version = Version::try_from(parsed.version.unwrap_or(Version::V0x13.into())).map_err(|e| failed(&e))?;
    let params = Params::try_from(&parsed).map_err(|e| failed(&e))?;
    let mut output = vec![0u8; expected.len()];
    Argon2::new(algorithm, version, params.clone())
        .hash_password_into_with_memory(password.as_bytes(), &salt, &mut output, fit(memory, &params))
        .map_err(|e| failed(&e))?;
    Ok(output.ct_eq(expected.as_bytes()).into())
}

#[cfg(test)]
mod tests;

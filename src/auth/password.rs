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
//! Hashes wait in a [`FairQueue`] (`queue.rs`). Passwords imported from
//! Django keep their own hashes until a login replaces them (`django.rs`).

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use subtle::ConstantTimeEq;
use tokio::sync::oneshot;

use crate::error::{Answer, Answers, AppError, ErrorCode};

/// OWASP Password Storage Cheat Sheet: m = 19 MiB, t = 2, p = 1.
fn params() -> Result<Params, AppError> {
    Params::new(19_456, 2, 1, None).map_err(AppError::internal)
}

type Memory = Vec<Block>;

/// A hash to compute, with the working memory of the thread that takes it.
type Job = Box<dyn FnOnce(&mut Memory) + Send>;

pub mod django;
mod queue;

pub use queue::{ACTIVE_WINDOW, FairQueue, Full, QueueLimits, Ticket};

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
    /// How long making it took: what a check of a cheaper hash is padded to.
    argon2_cost: Duration,
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
        let started = Instant::now();
        let dummy_hash = hash_with(
            &mut memory,
            &crate::tokens::model::OpaqueToken::generate()
                .hash()
                .escape_ascii()
                .to_string(),
        )?;
        let argon2_cost = started.elapsed();
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
                argon2_cost,
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
        let cost = self.owner.argon2_cost;
        let matches = self
            .run(source, move |memory| verify_with(memory, &password, &hash, cost))
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

/// Not memberd's own Argon2id string: a login that verifies it rehashes it.
pub fn is_foreign(stored: &str) -> bool {
    !stored.starts_with("$argon2id$")
}

/// Whether `password` gives `stored`, with the parameters written in it.
fn verify_with(memory: &mut Memory, password: &str, stored: &str, argon2_cost: Duration) -> Result<bool, AppError> {
    // Not an Argon2 PHC string: imported from Django, or the built-in
    // members' marker `!`. A check cheaper than memberd's own hash (md5, a
    // few pbkdf2 rounds, a marker) is followed by one, so that it fails as
    // slowly as an unknown login does on the dummy hash: how fast a login
    // fails must not tell whom an import brought.
    if !stored.starts_with("$argon2") {
        let started = Instant::now();
        let matches = django::verify(password, stored);
        if started.elapsed() < argon2_cost {
            hash_with(memory, password)?;
        }
        return Ok(matches);
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

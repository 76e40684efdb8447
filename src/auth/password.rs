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

use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use subtle::ConstantTimeEq;
use tokio::sync::oneshot;

use crate::error::AppError;

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
            // busy while nobody else asks.
            per_source: 4 * threads,
            fair_share: threads.div_ceil(2),
        }
    }
}

/// Jobs waiting per source, served in turn. A source may hold more than its
/// fair share of threads only while no other source waits.
pub struct FairQueue<T> {
    limits: QueueLimits,
    waiting: HashMap<Arc<str>, VecDeque<T>>,
    /// Sources with waiting jobs, in the order they are served.
    turn: VecDeque<Arc<str>>,
    running: HashMap<Arc<str>, usize>,
    waiting_total: usize,
}

/// The queue is full, for everyone or for this source.
#[derive(Debug, PartialEq, Eq)]
pub struct Full;

impl<T> FairQueue<T> {
    pub fn new(limits: QueueLimits) -> Self {
        Self {
            limits,
            waiting: HashMap::new(),
            turn: VecDeque::new(),
            running: HashMap::new(),
            waiting_total: 0,
        }
    }

    pub fn waiting(&self) -> usize {
        self.waiting_total
    }

    /// Queues a job, or refuses it when the queue or the source's part of it is full.
    pub fn push(&mut self, source: &str, job: T) -> Result<(), Full> {
        if self.waiting_total >= self.limits.total {
            return Err(Full);
        }
        let queued = self.waiting.entry(Arc::from(source)).or_default();
        if queued.len() >= self.limits.per_source {
            return Err(Full);
        }
        queued.push_back(job);
        if queued.len() == 1 {
            self.turn.push_back(Arc::from(source));
        }
        self.waiting_total += 1;
        Ok(())
    }

    /// The next job to run, and its source: the first source in turn that
    /// holds less than its fair share, or, when every waiting source holds
    /// that much, the first in turn (a thread never idles while work waits).
    /// The source goes to the back of the turn.
    pub fn pop(&mut self) -> Option<(Arc<str>, T)> {
        let running = |source: &Arc<str>| self.running.get(source).copied().unwrap_or(0);
        let position = self
            .turn
            .iter()
            .position(|source| running(source) < self.limits.fair_share)
            .or((!self.turn.is_empty()).then_some(0))?;
        let source = self.turn.remove(position)?;
        let queued = self.waiting.get_mut(&source)?;
        let job = queued.pop_front()?;
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
                    if let Some(next) = queue.pop() {
                        self.report(queue.waiting());
                        break next;
                    }
                    guard = match self.work.wait(guard) {
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
        {
            let mut guard = pool
                .queue
                .lock()
                .map_err(|_| AppError::internal("the password hashing queue is poisoned"))?;
            guard.0.push(source, job).map_err(|Full| AppError::Busy)?;
            pool.report(guard.0.waiting());
        }
        pool.work.notify_one();
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
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    let mut salt_bytes = [0u8; 64];
    let salt_bytes = salt.as_salt().decode_b64(&mut salt_bytes).map_err(|e| failed(&e))?;
    let mut output = [0u8; Params::DEFAULT_OUTPUT_LEN];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
        .hash_password_into_with_memory(password.as_bytes(), salt_bytes, &mut output, fit(memory, &params))
        .map_err(|e| failed(&e))?;
    let hash = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(|e| failed(&e))?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&output).map_err(|e| failed(&e))?),
    };
    Ok(hash.to_string())
}

/// Whether `password` gives `stored`, with the parameters written in it.
fn verify_with(memory: &mut Memory, password: &str, stored: &str) -> Result<bool, AppError> {
    // Built-in members carry a marker instead of a hash: nothing matches it.
    let Ok(parsed) = PasswordHash::new(stored) else {
        return Ok(false);
    };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return Ok(false);
    };
    let failed = |e: &dyn std::fmt::Display| AppError::internal(format!("stored password hash unusable: {e}"));
    let algorithm = Algorithm::try_from(parsed.algorithm).map_err(|e| failed(&e))?;
    let version = Version::try_from(parsed.version.unwrap_or(Version::V0x13.into())).map_err(|e| failed(&e))?;
    let params = Params::try_from(&parsed).map_err(|e| failed(&e))?;
    let mut salt_bytes = [0u8; 64];
    let salt_bytes = salt.decode_b64(&mut salt_bytes).map_err(|e| failed(&e))?;
    let mut output = vec![0u8; expected.len()];
    Argon2::new(algorithm, version, params.clone())
        .hash_password_into_with_memory(password.as_bytes(), salt_bytes, &mut output, fit(memory, &params))
        .map_err(|e| failed(&e))?;
    Ok(output.ct_eq(expected.as_bytes()).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queue() -> FairQueue<u32> {
        FairQueue::new(QueueLimits {
            total: 6,
            per_source: 4,
            fair_share: 1,
        })
    }

    fn next(queue: &mut FairQueue<u32>) -> Option<(String, u32)> {
        queue.pop().map(|(source, job)| (source.to_string(), job))
    }

    #[test]
    fn the_queue_is_bounded_overall_and_per_source() {
        let mut queue = queue();
        for job in 0..4 {
            assert_eq!(queue.push("flood", job), Ok(()));
        }
        assert_eq!(queue.push("flood", 4), Err(Full));
        assert_eq!(queue.push("a", 5), Ok(()));
        assert_eq!(queue.push("b", 6), Ok(()));
        assert_eq!(queue.push("c", 7), Err(Full));
        // Taking a job makes room.
        assert!(queue.pop().is_some());
        assert_eq!(queue.push("c", 7), Ok(()));
    }

    #[test]
    fn a_source_at_its_share_gives_way_to_the_others() {
        let mut queue = queue();
        for job in 0..4 {
            queue.push("flood", job).unwrap();
        }
        // The flood holds a thread; whatever else waits goes first.
        assert_eq!(next(&mut queue), Some(("flood".into(), 0)));
        queue.push("alice", 10).unwrap();
        queue.push("bob", 20).unwrap();
        assert_eq!(next(&mut queue), Some(("alice".into(), 10)));
        // Both threads busy; alice's ends: bob is next, not the flood.
        queue.done("alice");
        assert_eq!(next(&mut queue), Some(("bob".into(), 20)));
        // Nobody else waits: the flood may use every thread.
        assert_eq!(next(&mut queue), Some(("flood".into(), 1)));
        assert_eq!(next(&mut queue), Some(("flood".into(), 2)));
        queue.push("carol", 30).unwrap();
        assert_eq!(next(&mut queue), Some(("carol".into(), 30)));
        assert_eq!(next(&mut queue), Some(("flood".into(), 3)));
        assert_eq!(next(&mut queue), None);
        assert_eq!(queue.waiting(), 0);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_flood_from_one_source_is_refused_at_once_and_leaves_a_thread_to_others() {
        let hasher = PasswordHasher::new(2, None).unwrap();
        let limits = QueueLimits::for_threads(2);
        // The flood's jobs hold their thread until released.
        let (release, gate) = std::sync::mpsc::channel::<()>();
        let gate = Arc::new(Mutex::new(gate));
        let mut flood = Vec::new();
        let flood_job = |hasher: &PasswordHasher| {
            let (gate, hasher) = (gate.clone(), hasher.clone());
            tokio::spawn(async move {
                hasher
                    .run("flood", move |_| {
                        let _ = gate.lock().map(|gate| gate.recv());
                    })
                    .await
            })
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let until = |what: &str, done: &dyn Fn(&FairQueue<Job>) -> bool| {
            while !done(&hasher.owner.pool.queue.lock().unwrap().0) {
                assert!(std::time::Instant::now() < deadline, "{what}");
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
        };
        // Both threads hold a flood job, then the flood's share of the queue fills.
        for _ in 0..2 {
            flood.push(flood_job(&hasher));
        }
        until("both threads busy", &|queue| queue.running.get("flood") == Some(&2));
        for _ in 0..limits.per_source {
            flood.push(flood_job(&hasher));
        }
        until("the flood queued", &|queue| queue.waiting() == limits.per_source);
        // More from the flood is refused at once.
        let refused = hasher.run("flood", |_| ()).await;
        assert!(matches!(refused, Err(AppError::Busy)), "{refused:?}");
        // Another source is served once a thread frees, before the flood's queue.
        let alice = tokio::spawn({
            let hasher = hasher.clone();
            async move { hasher.hash("alice", "p".into()).await }
        });
        until("alice queued", &|queue| queue.waiting() == limits.per_source + 1);
        release.send(()).unwrap();
        let hash = tokio::time::timeout(std::time::Duration::from_secs(10), alice)
            .await
            .expect("served beside the flood")
            .unwrap()
            .unwrap();
        assert!(hash.starts_with("$argon2id$"));
        // Alice went before the flood's queue, which has moved by one at most
        // (the thread that served her may have taken the next).
        assert!(hasher.owner.pool.queue.lock().unwrap().0.waiting() >= limits.per_source - 1);
        for _ in 0..flood.len() {
            let _ = release.send(());
        }
        for task in flood {
            task.await.unwrap().unwrap();
        }
    }

    #[tokio::test]
    async fn hashes_verify_and_use_argon2id_with_owasp_parameters() {
        let hasher = PasswordHasher::new(2, None).unwrap();
        let hash = hasher.hash("t", "correct horse".into()).await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
        assert!(
            hasher
                .verify("t", "correct horse".into(), Some(hash.clone()))
                .await
                .unwrap()
        );
        assert!(!hasher.verify("t", "wrong horse".into(), Some(hash)).await.unwrap());
        assert!(!hasher.verify("t", "anything".into(), None).await.unwrap());
    }

    #[tokio::test]
    async fn hashes_made_elsewhere_or_with_other_parameters_still_verify() {
        use argon2::password_hash::PasswordHasher as _;
        let hasher = PasswordHasher::new(1, None).unwrap();
        let params = Params::new(4_096, 3, 1, Some(24)).unwrap();
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        let other = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password(b"correct horse", &salt)
            .unwrap()
            .to_string();
        assert!(
            hasher
                .verify("t", "correct horse".into(), Some(other.clone()))
                .await
                .unwrap()
        );
        assert!(!hasher.verify("t", "wrong horse".into(), Some(other)).await.unwrap());
        // And ours verify with the stock verifier.
        let ours = hasher.hash("t", "correct horse".into()).await.unwrap();
        use argon2::password_hash::PasswordVerifier as _;
        assert!(
            Argon2::default()
                .verify_password(b"correct horse", &PasswordHash::new(&ours).unwrap())
                .is_ok()
        );
        assert!(!hasher.verify("t", "x".into(), Some("!".into())).await.unwrap());
    }
}

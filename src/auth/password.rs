//! Argon2id password hashing with OWASP's parameters, on a few threads of its
//! own fed by a queue, so that a burst of logins waits its turn instead of
//! starving everything else of CPU, and a thread that finishes a hash starts
//! the next one at once.
//!
//! Each hash needs 19 MiB of working memory. Allocating it per hash costs
//! thousands of page faults each time, and the allocator keeps every thread's
//! freed 19 MiB around (hundreds of MiB after a burst), so each hashing thread
//! allocates its block once and reuses it.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};

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

#[derive(Clone)]
pub struct PasswordHasher {
    jobs: mpsc::Sender<Job>,
    /// Verified against when no member matches, so that an unknown login
    /// costs the same time as a wrong password.
    dummy_hash: Arc<str>,
    queue: Option<prometheus::IntGauge>,
}

impl PasswordHasher {
    /// Starts `threads` hashing threads; they end when the last clone of the
    /// hasher is dropped.
    pub fn new(threads: usize) -> Result<Self, AppError> {
        let mut memory = Memory::new();
        let dummy_hash = hash_with(
            &mut memory,
            &crate::tokens::model::OpaqueToken::generate()
                .hash()
                .escape_ascii()
                .to_string(),
        )?;
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        let mut first_memory = Some(memory);
        for n in 0..threads.max(1) {
            let queue = Arc::clone(&queue);
            let mut memory = first_memory.take().unwrap_or_default();
            std::thread::Builder::new()
                .name(format!("memberd-hash-{n}"))
                .spawn(move || {
                    loop {
                        // Bound to a statement of its own so that the lock is
                        // released before the hash runs.
                        let job = queue.lock().map_err(drop).and_then(|jobs| jobs.recv().map_err(drop));
                        match job {
                            Ok(job) => job(&mut memory),
                            Err(()) => break,
                        }
                    }
                })
                .map_err(AppError::internal)?;
        }
        Ok(Self {
            jobs,
            dummy_hash: dummy_hash.into(),
            queue: None,
        })
    }

    /// Reports how many hashes wait for a thread.
    pub fn with_queue_gauge(self, gauge: prometheus::IntGauge) -> Self {
        Self {
            queue: Some(gauge),
            ..self
        }
    }

    pub async fn hash(&self, password: String) -> Result<String, AppError> {
        self.run(move |memory| hash_with(memory, &password)).await?
    }

    /// Whether `password` matches `stored`; with no stored hash, spends the
    /// same effort and answers false.
    pub async fn verify(&self, password: String, stored: Option<String>) -> Result<bool, AppError> {
        let (hash, known) = match stored {
            Some(hash) => (hash, true),
            None => (self.dummy_hash.to_string(), false),
        };
        let matches = self.run(move |memory| verify_with(memory, &password, &hash)).await??;
        Ok(known && matches)
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Memory) -> T + Send + 'static,
    ) -> Result<T, AppError> {
        let (done, result) = oneshot::channel();
        let queue = self.queue.clone();
        if let Some(queue) = &queue {
            queue.inc();
        }
        let job: Job = Box::new(move |memory| {
            if let Some(queue) = &queue {
                queue.dec();
            }
            // Whoever asked has gone (the client hung up): spare the CPU.
            if !done.is_closed() {
                let _ = done.send(work(memory));
            }
        });
        self.jobs
            .send(job)
            .map_err(|_| AppError::internal("the password hashing threads have stopped"))?;
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

    #[tokio::test]
    async fn hashes_verify_and_use_argon2id_with_owasp_parameters() {
        let hasher = PasswordHasher::new(2).unwrap();
        let hash = hasher.hash("correct horse".into()).await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
        assert!(hasher.verify("correct horse".into(), Some(hash.clone())).await.unwrap());
        assert!(!hasher.verify("wrong horse".into(), Some(hash)).await.unwrap());
        assert!(!hasher.verify("anything".into(), None).await.unwrap());
    }

    #[tokio::test]
    async fn hashes_made_elsewhere_or_with_other_parameters_still_verify() {
        use argon2::password_hash::PasswordHasher as _;
        let hasher = PasswordHasher::new(1).unwrap();
        let params = Params::new(4_096, 3, 1, Some(24)).unwrap();
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        let other = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password(b"correct horse", &salt)
            .unwrap()
            .to_string();
        assert!(
            hasher
                .verify("correct horse".into(), Some(other.clone()))
                .await
                .unwrap()
        );
        assert!(!hasher.verify("wrong horse".into(), Some(other)).await.unwrap());
        // And ours verify with the stock verifier.
        let ours = hasher.hash("correct horse".into()).await.unwrap();
        use argon2::password_hash::PasswordVerifier as _;
        assert!(
            Argon2::default()
                .verify_password(b"correct horse", &PasswordHash::new(&ours).unwrap())
                .is_ok()
        );
        assert!(!hasher.verify("x".into(), Some("!".into())).await.unwrap());
    }
}

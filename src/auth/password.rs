//! Argon2id password hashing with OWASP's parameters, run on the blocking
//! pool behind a semaphore so that a burst of logins queues instead of
//! starving everything else of CPU.

use std::sync::Arc;

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;

use crate::error::AppError;

/// OWASP Password Storage Cheat Sheet: m = 19 MiB, t = 2, p = 1.
fn argon2() -> Result<Argon2<'static>, AppError> {
    let params = Params::new(19_456, 2, 1, None).map_err(AppError::internal)?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

#[derive(Clone)]
pub struct PasswordHasher {
    permits: Arc<Semaphore>,
    /// Verified against when no member matches, so that an unknown login
    /// costs the same time as a wrong password.
    dummy_hash: Arc<str>,
    queue: Option<prometheus::IntGauge>,
}

impl PasswordHasher {
    pub fn new(concurrency: usize) -> Result<Self, AppError> {
        let dummy_hash = hash_now(
            &crate::tokens::model::OpaqueToken::generate()
                .hash()
                .escape_ascii()
                .to_string(),
        )?;
        Ok(Self {
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            dummy_hash: dummy_hash.into(),
            queue: None,
        })
    }

    /// Reports how many hashes wait for a slot.
    pub fn with_queue_gauge(self, gauge: prometheus::IntGauge) -> Self {
        Self {
            queue: Some(gauge),
            ..self
        }
    }

    pub async fn hash(&self, password: String) -> Result<String, AppError> {
        self.blocking(move || hash_now(&password)).await?
    }

    /// Whether `password` matches `stored`; with no stored hash, spends the
    /// same effort and answers false.
    pub async fn verify(&self, password: String, stored: Option<String>) -> Result<bool, AppError> {
        let (hash, known) = match stored {
            Some(hash) => (hash, true),
            None => (self.dummy_hash.to_string(), false),
        };
        let matches = self.blocking(move || verify_now(&password, &hash)).await??;
        Ok(known && matches)
    }

    async fn blocking<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<T, AppError> {
        if let Some(queue) = &self.queue {
            queue.inc();
        }
        let permit = self.permits.acquire().await;
        if let Some(queue) = &self.queue {
            queue.dec();
        }
        let _permit = permit.map_err(AppError::internal)?;
        tokio::task::spawn_blocking(work).await.map_err(AppError::internal)
    }
}

fn hash_now(password: &str) -> Result<String, AppError> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    argon2()?
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| AppError::internal(format!("password hashing failed: {e}")))
}

fn verify_now(password: &str, stored: &str) -> Result<bool, AppError> {
    // Built-in members carry a marker instead of a hash: nothing matches it.
    let Ok(parsed) = PasswordHash::new(stored) else {
        return Ok(false);
    };
    // The parameters come from the stored hash itself; the verifier compares in constant time.
    Ok(argon2()?.verify_password(password.as_bytes(), &parsed).is_ok())
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
}

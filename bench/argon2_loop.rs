//! The ceiling for logins: argon2id verifications per second with OWASP
//! parameters on N threads, with nothing else around them.

// A measuring harness, not the service: it may stop at the first failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};

fn main() {
    let threads: usize = std::env::args().nth(1).and_then(|t| t.parse().ok()).unwrap_or(2);
    let seconds: u64 = std::env::args().nth(2).and_then(|t| t.parse().ok()).unwrap_or(10);
    let argon2 = Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        Params::new(19_456, 2, 1, None).unwrap(),
    );
    let hash = argon2.hash_password(b"correct horse battery").unwrap().to_string();
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let counts: Vec<u64> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                let (argon2, hash) = (argon2.clone(), hash.clone());
                scope.spawn(move || {
                    let parsed = PasswordHash::new(&hash).unwrap();
                    let mut n = 0u64;
                    while Instant::now() < deadline {
                        argon2.verify_password(b"correct horse battery", &parsed).unwrap();
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    let total: u64 = counts.iter().sum();
    println!("{:.1}", total as f64 / started.elapsed().as_secs_f64());
}

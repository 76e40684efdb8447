//! What a login against an imported Django hash costs, beside memberd's own
//! argon2id: one thread, each format verified for a few seconds in turn,
//! through the same function the hashing threads call.

// A measuring harness, not the service: it may stop at the first failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};
use memberd::auth::password::django;

/// Made by Django 4.2's `set_password` (tests/fixtures/zds/community.json).
const FORMATS: [(&str, &str, &str); 4] = [
    (
        "pbkdf2_sha256, 600,000 iterations (Django 4.2's default)",
        "pw-moderatrice-sésame",
        "pbkdf2_sha256$600000$Vi908RwDYPc8DOVjqauk9k$7ZhAa33xtZOjyFSNX+5yOJONCPodk4DC8BAXj0fBB/Y=",
    ),
    (
        "argon2id, m=100 MiB, t=2, p=8 (Django's default)",
        "pw-admin-sésame",
        "argon2$argon2id$v=19$m=102400,t=2,p=8$QkRNUlRGSnJhNXRIV2dlaWhSaWxvaA$ZK3DFJ8QWACBe/MNeUnlmoG2jGEeS/k7FuBksI3wfeI",
    ),
    (
        "scrypt, n=2^14, r=8, p=1 (Django's default)",
        "pw-scrypt-sésame",
        "scrypt$16384$1u98WfliRnu6PszRiIgEWJ$8$1$MgMQO746NUxZRK//wgUrfdl9lU9DIPEvoO2eAcz3ABg/ibSIN3jyxuqZc8G94sBhQxu6TaOipMsut7x45lDIow==",
    ),
    (
        "bcrypt_sha256, cost 5",
        "pw-bcryptsha256-sésame",
        "bcrypt_sha256$$2b$05$lC.9YixsytGv6jHhHP0sEuHl4LwPWnN0kqlCrq9hK8PrqhDj4yuTS",
    ),
];

/// Milliseconds per call of `verify`, over `seconds`.
fn per_call(seconds: f64, mut verify: impl FnMut() -> bool) -> f64 {
    let started = Instant::now();
    let mut n = 0u32;
    while started.elapsed() < Duration::from_secs_f64(seconds) {
        assert!(verify());
        n += 1;
    }
    started.elapsed().as_secs_f64() * 1000.0 / f64::from(n)
}

fn main() {
    let seconds: f64 = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(3.0);
    let argon2 = Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        Params::new(19_456, 2, 1, None).unwrap(),
    );
    let own = argon2.hash_password(b"correct horse battery").unwrap().to_string();
    let parsed = PasswordHash::new(&own).unwrap();
    let memberd = per_call(seconds, || {
        argon2.verify_password(b"correct horse battery", &parsed).is_ok()
    });
    println!("memberd argon2id (m=19 MiB, t=2, p=1)\t{memberd:.1}\t1.00");
    for (name, password, stored) in FORMATS {
        let ms = per_call(seconds, || django::verify(password, stored));
        println!("{name}\t{ms:.1}\t{:.2}", ms / memberd);
    }
}

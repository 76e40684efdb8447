//! Passwords imported from a Django site, checked as Django 4.2's
//! `django.contrib.auth.hashers` checks them, so that imported members keep
//! their passwords until their first login stores memberd's own hash.
//!
//! Django checks most formats by encoding the password again with the stored
//! parameters and comparing whole strings; so do we: a stored value Django
//! would not accept (a number spelt `0600000`, base64 with stray bits, a salt
//! holding `$`) is not accepted here either.
//!
//! The parameters come from the stored value, which an import wrote: beyond
//! what any Django setting would use, it is refused rather than computed, so
//! that one crafted record cannot hold a hashing thread for minutes or take
//! gigabytes.

use argon2::password_hash::phc::{Output, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Django 4.2 writes 600,000; ten million already takes seconds.
const MAX_PBKDF2_ITERATIONS: u64 = 10_000_000;
/// A GiB, in KiB (Django's default is 100 MiB).
const MAX_ARGON2_MEMORY_KIB: u32 = 1 << 20;
/// Django's default is 2.
const MAX_ARGON2_PASSES: u32 = 100;
/// Memory times passes, in KiB: a GiB twice, or Django's 100 MiB twenty times.
const MAX_ARGON2_WORK_KIB: u64 = 2 << 20;
/// Django's default is 12; each step doubles the time (16 takes seconds).
const MAX_BCRYPT_COST: u32 = 16;
/// Django's default is 2¹⁴.
const MAX_SCRYPT_LOG_N: u32 = 20;
/// scrypt's memory is 128·r·(n + p) bytes (Django's default: 16 MiB).
const MAX_SCRYPT_MEMORY: u64 = 1 << 30;
/// scrypt's work is p passes over 128·r·n bytes.
const MAX_SCRYPT_WORK: u64 = 2 << 30;

/// Whether `password` matches `stored`, a value Django wrote. Anything Django
/// would refuse or fail on (an unusable `!…` password, an unknown hasher, a
/// truncated value) matches nothing.
pub fn verify(password: &str, stored: &str) -> bool {
    read(stored).is_some_and(|check| check.matches(password.as_bytes(), stored))
}

/// Whether some password may match `stored`: a format Django 4.2 checks,
/// well formed, with parameters memberd agrees to compute.
pub fn verifiable(stored: &str) -> bool {
    read(stored).is_some()
}

/// What a password must give to match a stored value.
enum Check<'a> {
    UnsaltedMd5 {
        digest: &'a str,
    },
    UnsaltedSha1,
    Pbkdf2 {
        sha256: bool,
        rounds: u32,
        salt: &'a str,
    },
    Argon2(Box<Argon2Check>),
    /// `sha256`: bcrypt of the hex of the password's SHA-256, so that
    /// bcrypt's 72 bytes hold all of it.
    Bcrypt {
        sha256: bool,
        prefix: &'a str,
        cost: u32,
        salt: [u8; 16],
    },
    Scrypt {
        params: scrypt::Params,
        salt: &'a str,
    },
    Salted {
        sha1: bool,
        salt: &'a str,
    },
}

struct Argon2Check {
    algorithm: Algorithm,
    version: Version,
    params: Params,
    salt: Salt,
    expected: Output,
}

/// Reads `stored` as Django's `identify_hasher` and the hasher's `decode`
/// do, and refuses what Django could not have written back.
fn read(stored: &str) -> Option<Check<'_>> {
    if stored.starts_with('!') {
        return None;
    }
    // Ancient versions wrote bare MD5 and SHA-1 digests, recognised by their
    // length before anything else.
    if stored.len() == 32 && !stored.contains('$') {
        return lower_hex(stored, 32).then_some(Check::UnsaltedMd5 { digest: stored });
    }
    if stored.len() == 37
        && let Some(digest) = stored.strip_prefix("md5$$")
    {
        return lower_hex(digest, 32).then_some(Check::UnsaltedMd5 { digest });
    }
    if stored.len() == 46
        && let Some(digest) = stored.strip_prefix("sha1$$")
    {
        return lower_hex(digest, 40).then_some(Check::UnsaltedSha1);
    }
    let (algorithm, rest) = stored.split_once('$')?;
    match algorithm {
        "pbkdf2_sha256" => read_pbkdf2(true, rest),
        "pbkdf2_sha1" => read_pbkdf2(false, rest),
        // What follows `argon2` is argon2-cffi's own string, `$` included.
        "argon2" => read_argon2(stored.strip_prefix(algorithm)?),
        "bcrypt_sha256" => read_bcrypt(true, rest),
        "bcrypt" => read_bcrypt(false, rest),
        "scrypt" => read_scrypt(rest),
        "sha1" => read_salted(true, rest),
        "md5" => read_salted(false, rest),
        _ => None,
    }
}

impl Check<'_> {
    /// Encodes `password` again as Django would and compares the result
    /// with `stored` (argon2-cffi compares the hashes only).
    fn matches(&self, password: &[u8], stored: &str) -> bool {
        match self {
            Check::UnsaltedMd5 { digest } => same(&hex::encode(Md5::digest(password)), digest),
            Check::UnsaltedSha1 => same(&format!("sha1$${}", hex::encode(Sha1::digest(password))), stored),
            Check::Pbkdf2 { sha256, rounds, salt } => {
                let salt_bytes = salt.as_bytes();
                let key = match pbkdf2::Params::new(*rounds) {
                    // Not generic, so compiled at pbkdf2's own optimisation
                    // level: the generic function, compiled in memberd, takes
                    // 20 times as long in debug builds (1.2 s for Django's
                    // 600,000 rounds). Its parameters start at 1,000 rounds.
                    Ok(params) if *sha256 => {
                        let mut key = [0u8; 32];
                        let algorithm = pbkdf2::Algorithm::Pbkdf2Sha256;
                        pbkdf2::pbkdf2_hmac_with_params(password, salt_bytes, algorithm, params, &mut key);
                        key.to_vec()
                    }
                    _ if *sha256 => pbkdf2::pbkdf2_hmac_array::<Sha256, 32>(password, salt_bytes, *rounds).to_vec(),
                    _ => pbkdf2::pbkdf2_hmac_array::<Sha1, 20>(password, salt_bytes, *rounds).to_vec(),
                };
                let algorithm = if *sha256 { "pbkdf2_sha256" } else { "pbkdf2_sha1" };
                same(&format!("{algorithm}${rounds}${salt}${}", STANDARD.encode(key)), stored)
            }
            Check::Argon2(check) => {
                let mut output = vec![0u8; check.expected.len()];
                // Not the hashing thread's reusable block: Django's 100 MiB
                // would then stay allocated for good. Allocated here, it goes
                // back when done.
                Argon2::new(check.algorithm, check.version, check.params.clone())
                    .hash_password_into(password, &check.salt, &mut output)
                    .is_ok_and(|()| output.ct_eq(check.expected.as_bytes()).into())
            }
            Check::Bcrypt {
                sha256,
                prefix,
                cost,
                salt,
            } => {
                let Some(version) = bcrypt_version(prefix) else {
                    return false;
                };
                let computed = if *sha256 {
                    bcrypt::hash_with_salt(hex::encode(Sha256::digest(password)), *cost, *salt)
                } else {
                    bcrypt::hash_with_salt(password, *cost, *salt)
                };
                let algorithm = if *sha256 { "bcrypt_sha256" } else { "bcrypt" };
                computed.is_ok_and(|computed| {
                    same(&format!("{algorithm}${}", computed.format_for_version(version)), stored)
                })
            }
            Check::Scrypt { params, salt } => {
                let mut key = [0u8; 64];
                if scrypt::scrypt(password, salt.as_bytes(), params, &mut key).is_err() {
                    return false;
                }
                let (n, r, p) = (params.n(), params.r(), params.p());
                same(&format!("scrypt${n}${salt}${r}${p}${}", STANDARD.encode(key)), stored)
            }
            Check::Salted { sha1, salt } => {
                let (algorithm, digest) = if *sha1 {
                    ("sha1", salted_hex::<Sha1>(salt, password))
                } else {
                    ("md5", salted_hex::<Md5>(salt, password))
                };
                same(&format!("{algorithm}${salt}${digest}"), stored)
            }
        }
    }
}

/// Python's `hexdigest()` of the salt followed by the password.
fn salted_hex<D: Digest>(salt: &str, password: &[u8]) -> String {
    hex::encode(D::new().chain_update(salt).chain_update(password).finalize())
}

fn same(computed: &str, stored: &str) -> bool {
    computed.as_bytes().ct_eq(stored.as_bytes()).into()
}

/// What Python's `hexdigest()` writes: lower case.
fn lower_hex(text: &str, len: usize) -> bool {
    text.len() == len && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Django's base64 (`b64encode`, padded) of `len` bytes, and nothing else.
fn base64_of(text: &str, len: usize) -> bool {
    STANDARD.decode(text).is_ok_and(|bytes| bytes.len() == len)
}

/// A number as Django writes it (`%d`): since Django compares whole strings,
/// any other spelling (`+1`, `01`) can never match.
fn decimal(text: &str) -> Option<u64> {
    let canonical = !text.is_empty()
        && text.len() <= 19
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    if canonical { text.parse().ok() } else { None }
}

/// Django refuses an empty salt, and one holding `$` could not be read back.
fn usable_salt(salt: &str) -> bool {
    !salt.is_empty() && !salt.contains('$')
}

/// `<algorithm>$<iterations>$<salt>$<base64 of the derived key>`, the key as
/// long as the digest.
fn read_pbkdf2(sha256: bool, rest: &str) -> Option<Check<'_>> {
    let mut parts = rest.splitn(3, '$');
    let (iterations, salt, key) = (parts.next()?, parts.next()?, parts.next()?);
    let rounds = decimal(iterations).filter(|n| (1..=MAX_PBKDF2_ITERATIONS).contains(n))?;
    let key_len = if sha256 { 32 } else { 20 };
    (usable_salt(salt) && base64_of(key, key_len)).then_some(Check::Pbkdf2 {
        sha256,
        rounds: u32::try_from(rounds).ok()?,
        salt,
    })
}

/// argon2-cffi's PHC string, read as argon2-cffi reads it: without `v=`
/// (Django's first Argon2 hashes) it is Argon2 version 1.0.
fn read_argon2(phc: &str) -> Option<Check<'static>> {
    let parsed = PasswordHash::new(phc).ok()?;
    let algorithm = Algorithm::try_from(parsed.algorithm.as_str()).ok()?;
    let version = match parsed.version {
        None => Version::V0x10,
        Some(version) => Version::try_from(version).ok()?,
    };
    let params = Params::try_from(&parsed).ok()?;
    let within_bounds = params.m_cost() <= MAX_ARGON2_MEMORY_KIB
        && params.t_cost() <= MAX_ARGON2_PASSES
        && u64::from(params.m_cost()) * u64::from(params.t_cost()) <= MAX_ARGON2_WORK_KIB;
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return None;
    };
    within_bounds.then(|| {
        Check::Argon2(Box::new(Argon2Check {
            algorithm,
            version,
            params,
            salt,
            expected,
        }))
    })
}

/// The 60 characters of a bcrypt string, which Python's `bcrypt.hashpw`
/// computes as `$2b$` whatever its prefix, and writes back with its prefix.
/// Of a longer password, only the first 72 bytes count: Django with `bcrypt`
/// 4.x truncated silently (5.x refuses, so no such hash can be newer).
fn read_bcrypt(sha256: bool, data: &str) -> Option<Check<'_>> {
    let prefix = data.get(..4)?;
    let parts = data.parse::<bcrypt::HashParts>().ok()?;
    let cost = parts.get_cost();
    // Written back, it must be what was read (no stray bits in its base64).
    let canonical = parts.format_for_version(bcrypt_version(prefix)?) == data;
    (canonical && (4..=MAX_BCRYPT_COST).contains(&cost)).then(|| Check::Bcrypt {
        sha256,
        prefix,
        cost,
        salt: parts.get_salt_raw(),
    })
}

fn bcrypt_version(prefix: &str) -> Option<bcrypt::Version> {
    match prefix {
        "$2a$" => Some(bcrypt::Version::TwoA),
        "$2b$" => Some(bcrypt::Version::TwoB),
        "$2x$" => Some(bcrypt::Version::TwoX),
        "$2y$" => Some(bcrypt::Version::TwoY),
        _ => None,
    }
}

/// `scrypt$<n>$<salt>$<r>$<p>$<base64 of 64 bytes>`.
fn read_scrypt(rest: &str) -> Option<Check<'_>> {
    let parts: Vec<&str> = rest.split('$').collect();
    let [n, salt, r, p, key] = parts[..] else {
        return None;
    };
    let (n, r, p) = (decimal(n)?, decimal(r)?, decimal(p)?);
    if !n.is_power_of_two() || n < 2 || n.trailing_zeros() > MAX_SCRYPT_LOG_N || r == 0 || p == 0 {
        return None;
    }
    let block = r.checked_mul(128)?;
    let memory = block.checked_mul(n.checked_add(p)?)?;
    let work = block.checked_mul(n)?.checked_mul(p)?;
    if memory > MAX_SCRYPT_MEMORY || work > MAX_SCRYPT_WORK {
        return None;
    }
    if !usable_salt(salt) || !base64_of(key, 64) {
        return None;
    }
    let log_n = u8::try_from(n.trailing_zeros()).ok()?;
    let params = scrypt::Params::new(log_n, u32::try_from(r).ok()?, u32::try_from(p).ok()?).ok()?;
    Some(Check::Scrypt { params, salt })
}

/// `<algorithm>$<salt>$<hex digest of salt + password>`, from Django's
/// first versions.
fn read_salted(sha1: bool, rest: &str) -> Option<Check<'_>> {
    let (salt, digest) = rest.split_once('$')?;
    (usable_salt(salt) && lower_hex(digest, if sha1 { 40 } else { 32 })).then_some(Check::Salted { sha1, salt })
}

#[cfg(test)]
mod tests;

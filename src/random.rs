//! Secrets: keys, tokens, salts and secrets come from the operating system's
//! generator, never from a generator seeded in-process; keys a process needs
//! beside the ones it is given are derived from them.

use rand::Rng;
use rand::rand_core::UnwrapErr;
use rand::rngs::SysRng;
use sha2::Digest;
use sha2::digest::Output;

/// `N` bytes from the operating system's generator. A system that cannot give
/// them cannot make secrets at all; the process stops, as rand's own
/// generators do.
pub fn os_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    UnwrapErr(SysRng).fill_bytes(&mut bytes);
    bytes
}

/// A key for one purpose, derived from a secret every replica shares and
/// nobody else holds: the hash of the purpose's label and the secret. The
/// secret is a key of its own, never a password, so one hash is enough; the
/// label keeps the keys of two purposes apart.
pub fn derived_key<D: Digest>(label: &str, shared_secret: &[u8]) -> Output<D> {
    let mut hasher = D::new();
    hasher.update(label.as_bytes());
    hasher.update(b"\0");
    hasher.update(shared_secret);
    hasher.finalize()
}

#[cfg(test)]
mod tests {
    #[test]
    fn draws_differ() {
        assert_ne!(super::os_bytes::<16>(), super::os_bytes::<16>());
    }
}

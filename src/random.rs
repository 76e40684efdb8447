//! Randomness for secrets: keys, tokens, salts and secrets come from the
//! operating system's generator, never from a generator seeded in-process.

use rand::Rng;
use rand::rand_core::UnwrapErr;
use rand::rngs::SysRng;

/// `N` bytes from the operating system's generator. A system that cannot give
/// them cannot make secrets at all; the process stops, as rand's own
/// generators do.
pub fn os_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    UnwrapErr(SysRng).fill_bytes(&mut bytes);
    bytes
}

#[cfg(test)]
mod tests {
    #[test]
    fn draws_differ() {
        assert_ne!(super::os_bytes::<16>(), super::os_bytes::<16>());
    }
}

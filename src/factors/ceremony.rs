//! A passwordless login's ceremony, carried by the client between its two
//! requests rather than kept in the database: webauthn-rs's state, sealed
//! with a key every replica derives from the signing key. Starting a login
//! then costs no write at all (it was a transaction per start, more than
//! the rest of the login); single use is kept where the answer is judged,
//! by recording the ceremony as spent until it lapses.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Sha256, Sha512};
use uuid::Uuid;

use crate::random::derived_key;

/// Seals ceremonies, and opens those it sealed.
#[derive(Clone)]
pub struct CeremonySeal {
    /// As long as SHA-256's block, the length HMAC takes a key in whole.
    key: [u8; 64],
}

/// A ceremony: its id (what its single use is recorded under), its end, and
/// webauthn-rs's state as JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ceremony {
    pub id: Uuid,
    pub expires_at: DateTime<Utc>,
    pub state: Vec<u8>,
}

/// Id (16 bytes) and end (microseconds since the epoch, 8 bytes), then the state.
const HEADER: usize = 24;

impl CeremonySeal {
    /// A seal derived from a secret every replica shares and nobody else
    /// holds (the token signing key), under a label of its own.
    pub fn derive(shared_secret: &[u8]) -> Self {
        Self {
            key: derived_key::<Sha512>("memberd passkey ceremonies", shared_secret).into(),
        }
    }

    fn mac(&self) -> Hmac<Sha256> {
        Hmac::new(&self.key.into())
    }

    /// The ceremony as opaque text: `payload.tag`, both base64url.
    pub fn seal(&self, ceremony: &Ceremony) -> String {
        let mut payload = Vec::with_capacity(HEADER + ceremony.state.len());
        payload.extend_from_slice(ceremony.id.as_bytes());
        payload.extend_from_slice(&ceremony.expires_at.timestamp_micros().to_be_bytes());
        payload.extend_from_slice(&ceremony.state);
        let mut mac = self.mac();
        mac.update(&payload);
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(&payload),
            URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
        )
    }

    /// The ceremony `text` seals, if this seal made it (the tag compared in
    /// constant time) and it has not lapsed at `now`.
    pub fn open(&self, text: &str, now: DateTime<Utc>) -> Option<Ceremony> {
        let (payload, tag) = text.split_once('.')?;
        let payload = URL_SAFE_NO_PAD.decode(payload).ok()?;
        let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
        let mut mac = self.mac();
        mac.update(&payload);
        mac.verify_slice(&tag).ok()?;
        let (header, state) = payload.split_at_checked(HEADER)?;
        let (id, end) = header.split_at(16);
        let expires_at = DateTime::from_timestamp_micros(i64::from_be_bytes(end.try_into().ok()?))?;
        if now >= expires_at {
            return None;
        }
        Some(Ceremony {
            id: Uuid::from_slice(id).ok()?,
            expires_at,
            state: state.to_vec(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Now, to the microsecond a ceremony's end is kept to.
    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp_micros(Utc::now().timestamp_micros()).unwrap()
    }

    fn ceremony(now: DateTime<Utc>) -> Ceremony {
        Ceremony {
            id: Uuid::new_v4(),
            expires_at: now + chrono::Duration::minutes(5),
            state: br#"{"ast":{"challenge":"abc"}}"#.to_vec(),
        }
    }

    #[test]
    fn a_sealed_ceremony_opens_until_it_lapses() {
        let (seal, now) = (CeremonySeal::derive(b"key"), now());
        let made = ceremony(now);
        let text = seal.seal(&made);
        assert_eq!(seal.open(&text, now), Some(made.clone()));
        assert_eq!(
            seal.open(&text, made.expires_at - chrono::Duration::microseconds(1)),
            Some(made.clone())
        );
        assert_eq!(seal.open(&text, made.expires_at), None);
    }

    #[test]
    fn only_what_this_seal_made_opens() {
        let (seal, now) = (CeremonySeal::derive(b"key"), now());
        let made = ceremony(now);
        let text = seal.seal(&made);
        assert_eq!(CeremonySeal::derive(b"another key").open(&text, now), None);
        // A later end, or another state, under the same tag.
        let (payload, tag) = text.split_once('.').unwrap();
        let mut bytes = URL_SAFE_NO_PAD.decode(payload).unwrap();
        for at in [20, HEADER + 3] {
            bytes[at] ^= 1;
            let forged = format!("{}.{tag}", URL_SAFE_NO_PAD.encode(&bytes));
            assert_eq!(seal.open(&forged, now), None, "byte {at} changed");
            bytes[at] ^= 1;
        }
        for garbage in [
            "",
            ".",
            "abc",
            "abc.def",
            &format!("{payload}."),
            &format!(".{tag}"),
            &text[1..],
        ] {
            assert_eq!(seal.open(garbage, now), None, "{garbage:?}");
        }
    }
}

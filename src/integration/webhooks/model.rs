//! Webhook rules in plain Rust: Standard Webhooks signatures, the retry
//! schedule, and which URLs may be called.

use std::net::IpAddr;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::Duration;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::error::{FieldCode, FieldError};
use crate::events::model::EventType;
use crate::random::os_bytes;

pub const SECRET_PREFIX: &str = "whsec_";

/// A new secret in the Standard Webhooks form: `whsec_` and base64 of 24 random bytes.
pub fn generate_secret() -> String {
    format!("{SECRET_PREFIX}{}", STANDARD.encode(os_bytes::<24>()))
}

/// The HMAC key a secret stands for: the decoded bytes after `whsec_`.
pub fn secret_key(secret: &str) -> Option<Vec<u8>> {
    let key = STANDARD.decode(secret.strip_prefix(SECRET_PREFIX)?).ok()?;
    (key.len() >= 16 && key.len() <= 64).then_some(key)
}

/// `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, as Standard Webhooks libraries verify it.
pub fn signature(key: &[u8], message_id: &str, timestamp: i64, body: &[u8]) -> String {
    // HMAC accepts keys of any length; new_from_slice cannot fail for it.
    let mut mac = match Hmac::<Sha256>::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    mac.update(format!("{message_id}.{timestamp}.").as_bytes());
    mac.update(body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// Waits before each retry: the first within 10 s, then backing off, until
/// a little over 24 hours have passed since the first attempt.
const RETRY_DELAYS_SECS: [i64; 12] = [
    5, 30, 120, 600, 1_800, 3_600, 7_200, 14_400, 21_600, 21_600, 21_600, 14_400,
];

/// When to try again after `attempts` failed attempts; None: give up.
pub fn retry_delay(attempts: i32) -> Option<Duration> {
    let index = usize::try_from(attempts).ok()?.checked_sub(1)?;
    RETRY_DELAYS_SECS.get(index).map(|secs| Duration::seconds(*secs))
}

/// Whether an address is one a webhook must not reach unless allowed:
/// loopback, private, link-local, shared (CGNAT), reserved and special-purpose
/// ranges, and the IPv6 forms that embed an IPv4 address (mapped, compatible,
/// NAT64, 6to4), judged by the address they embed.
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_multicast()
                || a == 0 // "this network"
                || (a == 100 && (b & 0xc0) == 64) // shared address space (CGNAT)
                || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
                || (a == 198 && (b & 0xfe) == 18) // benchmarking
                || a >= 240 // reserved, and broadcast
        }
        IpAddr::V6(v6) => {
            let segments = v6.segments();
            let embedded = |high: u16, low: u16| {
                std::net::Ipv4Addr::new((high >> 8) as u8, high as u8, (low >> 8) as u8, low as u8)
            };
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (segments[0] & 0xfe00) == 0xfc00 // unique local
                || (segments[0] & 0xffc0) == 0xfe80 // link-local
                || (segments[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
                || v6.to_ipv4_mapped().is_some_and(|v4| is_private(IpAddr::V4(v4)))
                // IPv4-compatible (::a.b.c.d, deprecated): never a real destination.
                || segments[..6] == [0; 6]
                // NAT64 (RFC 6052): the gateway connects to the address it embeds.
                || (segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0]
                    && is_private(IpAddr::V4(embedded(segments[6], segments[7]))))
                // Local-use NAT64 (RFC 8215): whatever it leads to is local.
                || (segments[0] == 0x64 && segments[1] == 0xff9b && segments[2] == 1)
                // 6to4: the relay reaches the IPv4 address it embeds.
                || (segments[0] == 0x2002 && is_private(IpAddr::V4(embedded(segments[1], segments[2]))))
        }
    }
}

/// An http(s) URL with a host, at most 2,000 characters.
pub fn parse_url(text: &str) -> Result<url::Url, FieldError> {
    let invalid = || FieldError::new("url", FieldCode::InvalidUrl, "Give an http:// or https:// URL.");
    if text.chars().count() > 2_000 {
        return Err(invalid());
    }
    let url = url::Url::parse(text.trim()).map_err(|_| invalid())?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() || !url.username().is_empty() {
        return Err(invalid());
    }
    Ok(url)
}

/// A webhook to create, checked: its URL, the event types it hears (sorted,
/// each once), and its secret (the one given, or a new one).
pub struct NewWebhook {
    pub url: url::Url,
    pub events: Vec<EventType>,
    pub secret: String,
}

impl NewWebhook {
    pub fn parse(url: &str, events: &[String], secret: Option<String>) -> Result<Self, Vec<FieldError>> {
        let mut errors: Vec<FieldError> = Vec::new();
        let url = parse_url(url).map_err(|e| errors.push(e)).ok();
        if events.is_empty() {
            errors.push(FieldError::new(
                "events",
                FieldCode::Required,
                "Name at least one event type.",
            ));
        }
        let mut types = Vec::new();
        for name in events {
            match EventType::parse(name) {
                Some(t) => types.push(t),
                None => errors.push(FieldError::new(
                    "events",
                    FieldCode::UnknownType,
                    format!("{name} is not an event type."),
                )),
            }
        }
        let secret = match secret {
            Some(secret) if secret_key(&secret).is_none() => {
                errors.push(FieldError::new(
                    "secret",
                    FieldCode::Invalid,
                    "A secret is whsec_ and base64 of 16 to 64 bytes.",
                ));
                None
            }
            Some(secret) => Some(secret),
            None => Some(generate_secret()),
        };
        match (url, secret, errors.is_empty()) {
            (Some(url), Some(secret), true) => {
                types.sort_by_key(|t| t.as_str());
                types.dedup();
                Ok(Self {
                    url,
                    events: types,
                    secret,
                })
            }
            _ => Err(errors),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_like_the_standard_webhooks_example() {
        // The example of the Standard Webhooks specification.
        let key = secret_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            signature(&key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn secrets_are_generated_and_read_back() {
        let secret = generate_secret();
        assert!(secret.starts_with("whsec_"));
        assert_eq!(secret_key(&secret).map(|k| k.len()), Some(24));
        assert!(secret_key("whsec_short").is_none() && secret_key("nope").is_none());
    }

    #[test]
    fn retries_start_fast_and_last_a_day() {
        assert_eq!(retry_delay(1), Some(Duration::seconds(5)));
        let total: i64 = (1..=12).filter_map(retry_delay).map(|d| d.num_seconds()).sum();
        assert!(total >= 24 * 3_600, "{total}");
        assert_eq!(retry_delay(13), None);
        assert_eq!(retry_delay(0), None);
    }

    #[test]
    fn private_addresses() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "192.168.0.1",
            "172.16.0.1",
            "169.254.1.1",
            "100.64.0.1",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "0.0.0.0",
            "0.1.2.3",
            "192.0.0.8",
            "198.18.0.1",
            "198.19.255.254",
            "240.0.0.1",
            "255.255.255.255",
            "224.0.0.1",
            "::127.0.0.1",
            "::93.184.216.34",
            "64:ff9b::7f00:1",
            "64:ff9b::a00:1",
            "64:ff9b::c0a8:1",
            "64:ff9b:1::5db8:d822",
            "2002:7f00:1::1",
            "2002:a00:1::1",
            "fec0::1",
            "ff02::1",
        ] {
            assert!(is_private(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "93.184.216.34",
            "2606:4700::1111",
            "198.20.0.1",
            "192.0.2.1",
            "64:ff9b::5db8:d822",
            "2002:5db8:d822::1",
        ] {
            assert!(!is_private(ip.parse().unwrap()), "{ip}");
        }
        assert!(parse_url("ftp://x.example").is_err() && parse_url("https://user:pw@x.example").is_err());
        assert!(parse_url("https://hooks.example.org/memberd").is_ok());
    }
}

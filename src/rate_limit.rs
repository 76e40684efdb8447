//! Fixed-window request limits kept in PostgreSQL, so that every replica
//! counts against the same budget and a restart forgets nothing.

use std::net::IpAddr;

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, Integer, Text, Timestamptz};
use ipnet::Ipv6Net;
use sha2::{Digest, Sha256};

use crate::db;
use crate::error::{AppError, DomainError, ErrorCode, Kind};
use crate::random::derived_key;

/// The network a client is counted as wherever a limit is kept per IP: its
/// IPv4 address, or the /64 of its IPv6 address. A /64 is what one subscriber
/// is given, and any address inside it is theirs to use: counting per address
/// would let one client rotate past every limit.
pub fn counted_network(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => match Ipv6Net::new(v6, 64) {
                Ok(net) => net.trunc().to_string(),
                Err(_) => v6.to_string(),
            },
        },
    }
}

/// Turns a client's IP into the key its counters are kept under: a keyed
/// hash of [`counted_network`], so that counters, which must outlive any one
/// account (an unregistration must not reset them), hold no address.
#[derive(Clone)]
pub struct IpKeys {
    secret: [u8; 32],
}

impl IpKeys {
    /// Keys derived from a secret every replica shares.
    pub fn derive(shared_secret: &[u8]) -> Self {
        Self {
            secret: derived_key::<Sha256>("memberd ip counter keys", shared_secret).into(),
        }
    }

    pub fn key(&self, ip: IpAddr) -> String {
        // The secret is of fixed length and the result never verifies anything:
        // a prefixed hash is as good as an HMAC here.
        let mut hasher = Sha256::new();
        hasher.update(self.secret);
        hasher.update(counted_network(ip).as_bytes());
        format!("ip:{}", hex::encode(&hasher.finalize()[..16]))
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Limit {
    pub bucket: &'static str,
    pub max_hits: i32,
    pub window: Duration,
}

pub const REGISTRATION_PER_IP: Limit = Limit {
    bucket: "registration_ip",
    max_hits: 10,
    window: Duration::hours(1),
};
pub const REGISTRATION_RESEND_PER_IP: Limit = Limit {
    bucket: "registration_resend_ip",
    max_hits: 10,
    window: Duration::hours(1),
};
/// Silent: past it no further validation e-mail goes to that address, but the
/// answer stays 202, so the limit reveals nothing about the address.
pub const REGISTRATION_RESEND_PER_ADDRESS: Limit = Limit {
    bucket: "registration_resend_address",
    max_hits: 3,
    window: Duration::hours(1),
};

/// Silent, like the resend cap: past it no more "already registered" notices
/// go to that address.
pub const REGISTRATION_NOTICE_PER_ADDRESS: Limit = Limit {
    bucket: "registration_notice_address",
    max_hits: 3,
    window: Duration::hours(1),
};

pub const PASSWORD_RESET_PER_IP: Limit = Limit {
    bucket: "password_reset_ip",
    max_hits: 10,
    window: Duration::hours(1),
};
/// Silent, like the resend cap: past it no more reset e-mails go to that account.
pub const PASSWORD_RESET_PER_ACCOUNT: Limit = Limit {
    bucket: "password_reset_account",
    max_hits: 3,
    window: Duration::hours(1),
};
/// Answers to passwordless logins per client: each writes (the ceremony
/// spent, a session when it proves the passkey).
pub const PASSKEY_LOGIN_PER_IP: Limit = Limit {
    bucket: "passkey_login_ip",
    max_hits: 600,
    window: Duration::minutes(1),
};
/// Wrong passwords typed to confirm an account change, per member, so a
/// stolen access token cannot be used to guess the password.
pub const PASSWORD_CONFIRMATION_PER_MEMBER: Limit = Limit {
    bucket: "password_confirmation",
    max_hits: 10,
    window: Duration::minutes(15),
};

/// How a counted hit updates a window that exists: a window past its end
/// (opened at or before $4) starts again at $3 with this hit.
macro_rules! on_hit {
    () => {
        "ON CONFLICT (bucket, key) DO UPDATE SET \
           hits = CASE WHEN rate_limits.window_start <= $4 THEN 1 ELSE rate_limits.hits + 1 END, \
           window_start = CASE WHEN rate_limits.window_start <= $4 THEN $3 ELSE rate_limits.window_start END "
    };
}

/// [`hit`]'s count, for a statement written by hand that counts a hit beside
/// its own work: a common table expression named `counted` (`window_start`,
/// `hits`) over the parameters $1–$4 that [`counting`] binds.
macro_rules! count_hit_cte {
    () => {
        concat!(
            "counted AS (INSERT INTO rate_limits (bucket, key, window_start, hits) VALUES ($1, $2, $3, 1) ",
            $crate::rate_limit::on_hit!(),
            "RETURNING window_start, hits)"
        )
    };
}

/// [`count_hit_cte`] for many keys at once, each counted one hit: `counted`
/// (`key`, `window_start`, `hits`) over the parameters $1–$4 that
/// [`counting_many`] binds. The keys' rows are locked in the keys' order,
/// so that two such counts never deadlock.
macro_rules! count_hits_cte {
    () => {
        concat!(
            "counted AS (INSERT INTO rate_limits (bucket, key, window_start, hits) \
               SELECT $1, key, $3, 1 FROM unnest($2::text[]) AS k(key) ORDER BY key ",
            $crate::rate_limit::on_hit!(),
            "RETURNING key, window_start, hits)"
        )
    };
}
pub(crate) use {count_hit_cte, count_hits_cte, on_hit};

/// `sql`, a statement that counts a hit with [`count_hit_cte`], with that
/// count's parameters bound; the caller binds its own from $5.
pub fn counting(sql: &'static str, limit: Limit, key: &str, now: DateTime<Utc>) -> db::Prepared<'static> {
    db::prepared(sql)
        .bind::<Text, _>(limit.bucket)
        .bind::<Text, _>(key.to_string())
        .bind::<Timestamptz, _>(now)
        .bind::<Timestamptz, _>(now - limit.window)
}

/// `sql`, a statement that counts a hit for each of `keys` (distinct) with
/// [`count_hits_cte`], with that count's parameters bound; the caller binds
/// its own from $5.
pub fn counting_many(sql: &'static str, limit: Limit, keys: Vec<String>, now: DateTime<Utc>) -> db::Prepared<'static> {
    db::prepared(sql)
        .bind::<Text, _>(limit.bucket)
        .bind::<Array<Text>, _>(keys)
        .bind::<Timestamptz, _>(now)
        .bind::<Timestamptz, _>(now - limit.window)
}

/// Takes back a hit counted for each of `keys` earlier in this transaction,
/// for requests refused after all. The count's row lock is held until the
/// commit, so nobody counted in between; and a refused hit never started a
/// window again (a window's first hit is admitted by any limit of one hit or
/// more), so this leaves the window as it was.
pub fn take_back(conn: &mut PgConnection, bucket: &str, keys: &[String]) -> Result<(), AppError> {
    use crate::schema::rate_limits;
    diesel::update(
        rate_limits::table
            .filter(rate_limits::bucket.eq(bucket))
            .filter(rate_limits::key.eq_any(keys)),
    )
    .set(rate_limits::hits.eq(rate_limits::hits - 1))
    .execute(conn)?;
    Ok(())
}

/// A window as a hit left it.
#[derive(Debug, QueryableByName)]
pub struct Window {
    #[diesel(sql_type = Timestamptz)]
    window_start: DateTime<Utc>,
    #[diesel(sql_type = Integer)]
    hits: i32,
}

impl Window {
    /// Whether the hit that left it was within `limit`; Err with the seconds
    /// until it reopens otherwise.
    pub fn admits(&self, limit: Limit, now: DateTime<Utc>) -> Result<(), Limited> {
        if self.hits <= limit.max_hits {
            return Ok(());
        }
        let reopens = self.window_start + limit.window;
        Err(Limited {
            retry_after_secs: (reopens - now).num_seconds().max(1) as u64,
        })
    }
}

/// Counts one hit; Err, with the seconds until the window reopens, when the
/// limit is exceeded.
pub fn hit(
    conn: &mut PgConnection,
    limit: Limit,
    key: &str,
    now: DateTime<Utc>,
) -> Result<Result<(), Limited>, AppError> {
    // Prepared: diesel's sql_query is parsed and planned on every call.
    let window: Window = counting(
        concat!("WITH ", count_hit_cte!(), " SELECT * FROM counted"),
        limit,
        key,
        now,
    )
    .get_result(conn)?;
    Ok(window.admits(limit, now))
}

/// A limit was reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("Too many requests; try again in {retry_after_secs} seconds.")]
pub struct Limited {
    pub retry_after_secs: u64,
}

impl DomainError for Limited {
    fn kind(&self) -> Kind {
        Kind::TooManyRequests {
            retry_after_secs: self.retry_after_secs,
        }
    }

    fn code(&self) -> ErrorCode {
        ErrorCode::RateLimited
    }
}

/// Like [`hit`], as the 429 problem clients get.
pub fn enforce(conn: &mut PgConnection, limit: Limit, key: &str, now: DateTime<Utc>) -> Result<(), AppError> {
    Ok(hit(conn, limit, key, now)??)
}

/// Forgets every counter kept under one of these keys (an unregistered
/// member's address and id).
pub fn forget_keys(conn: &mut PgConnection, keys: &[String]) -> Result<usize, AppError> {
    use crate::schema::rate_limits;
    Ok(diesel::delete(rate_limits::table.filter(rate_limits::key.eq_any(keys))).execute(conn)?)
}

/// Deletes counters whose window opened before `cutoff`: every window is far
/// shorter than the retention this is called with, so they count nothing.
pub fn prune(conn: &mut PgConnection, cutoff: DateTime<Utc>) -> Result<usize, AppError> {
    use crate::schema::rate_limits;
    Ok(diesel::delete(rate_limits::table.filter(rate_limits::window_start.lt(cutoff))).execute(conn)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_clients_are_counted_by_their_64() {
        let key = |text: &str| counted_network(text.parse().unwrap());
        assert_eq!(key("203.0.113.7"), "203.0.113.7");
        assert_eq!(key("::ffff:203.0.113.7"), "203.0.113.7");
        assert_eq!(key("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(key("2001:db8:1:2:ffff:ffff:ffff:ffff"), "2001:db8:1:2::/64");
        assert_ne!(key("2001:db8:1:3::1"), key("2001:db8:1:2::1"));
    }

    #[test]
    fn counters_are_keyed_without_the_address() {
        let keys = IpKeys::derive(b"secret");
        let key = |text: &str| keys.key(text.parse().unwrap());
        assert_eq!(key("2001:db8:1:2::1"), key("2001:db8:1:2::ffff"));
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
        assert!(!key("203.0.113.7").contains("203.0.113.7"));
        assert_ne!(
            key("203.0.113.7"),
            IpKeys::derive(b"other").key("203.0.113.7".parse().unwrap())
        );
    }
}

//! What every request and background task can reach: the pool, the cache,
//! the configuration, the clock, the mailer. Built once by `app`.

use std::sync::Arc;

use crate::auth::TokenIssuer;
use crate::auth::password::PasswordHasher;
use crate::cache::MemberCache;
use crate::cases::writer::ReportWriter;
use crate::clock::Clock;
use crate::config::Config;
use crate::db::Db;
use crate::db::notify::Notifications;
use crate::factors::ceremony::CeremonySeal;
use crate::geoip::CityLookup;
use crate::karma::writer::KarmaWriter;
use crate::mail::Mailer;
use crate::members::broad_searches::BroadSearches;
use crate::metrics::Metrics;
use crate::rate_limit::IpKeys;
use crate::sanctions::writer::SanctionWriter;

/// What every handler can reach.
pub struct AppState {
    pub config: Arc<Config>,
    pub db: Db,
    /// Stores sanctions applied at the same moment together.
    pub sanctions: SanctionWriter,
    /// Stores karma notes written at the same moment together.
    pub karma: KarmaWriter,
    /// Stores reports filed at the same moment together.
    pub reports: ReportWriter,
    pub clock: Clock,
    pub issuer: Arc<TokenIssuer>,
    pub mailer: Mailer,
    pub hasher: PasswordHasher,
    pub geoip: Option<Arc<CityLookup>>,
    pub notifications: Notifications,
    pub metrics: Arc<Metrics>,
    pub cache: Arc<MemberCache>,
    pub broad_searches: Arc<BroadSearches>,
    /// What per-IP counters are keyed by.
    pub ip_keys: IpKeys,
    /// Seals passwordless logins' ceremonies for their clients to carry.
    pub ceremonies: CeremonySeal,
    /// The WebAuthn relying party passkeys are made for.
    pub webauthn: Arc<webauthn_rs::prelude::Webauthn>,
}

impl AppState {
    /// The city of an address, when GeoIP is configured and knows it.
    pub fn city_of(&self, ip: Option<&str>) -> Option<String> {
        self.geoip.as_ref().zip(ip).and_then(|(geoip, ip)| geoip.city(ip))
    }
}

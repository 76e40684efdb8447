//! What nearly every request asks about a member — the member row, their
//! sessions, their unended sanctions — and the service keys, kept in memory.
//!
//! PostgreSQL stays the truth. Triggers record every change to those rows
//! (migrations `change_notifications`, `polled_changes`): the listener of
//! each replica reads them every few milliseconds and drops its copy, and the
//! process that made the change drops it before its write returns (`Db::run`
//! reads the names the triggers collected). Memory is trusted only while the
//! listener proves it reads: each look that answers (see `db::notify`)
//! extends the trust by [`TRUST_PER_HEARTBEAT`], so a connection that
//! silently stopped answering (half-open TCP) is distrusted within seconds,
//! even if the listening thread is stuck. While memory is not trusted nothing
//! is served from or kept in it, and trust starts again from empty, since
//! changes made meanwhile may have been missed.
//!
//! A member's login and visit times are the exception: every login writes
//! them, and announcing that woke every replica (migration
//! `visit_times_unannounced`). The replica that writes them drops its own
//! copy ([`MemberCache::forget_member`]), and a member's copy is kept at most
//! [`MAX_AGE`], so another replica shows them a minute late at most. Keys are
//! kept no longer, whatever is heard.
//!
//! A fill that raced with an invalidation must not store what it read: every
//! invalidation moves an epoch, and a fill stores its result only if the
//! epoch did not move between the start of its read and the store (checked
//! again after storing, so that an invalidation landing in between is not
//! undone).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use prometheus::{IntCounter, IntCounterVec};
use quick_cache::sync::Cache;
use uuid::Uuid;

use crate::auth::store::SessionState;
use crate::db::{ChangeSink, Db};
use crate::error::AppError;
use crate::integration::model::hash_key;
use crate::integration::store::{self as clients, ClientRow};
use crate::members::model::{Member, MemberKey};
use crate::members::store as members;
use crate::sanctions::standing::OpenStanding;
use crate::sanctions::store::{self as sanctions, SanctionRow};

/// Members kept at most; a member costs about a kilobyte.
const MEMBERS: usize = 50_000;
const SESSIONS: usize = 50_000;
const CLIENTS: usize = 1_000;
/// How long a copy of a member or a key is kept: the bound on how late another
/// replica's login and visit times show, and on how long a change whose
/// announcement was lost can go unseen.
pub const MAX_AGE: chrono::TimeDelta = chrono::TimeDelta::minutes(1);
/// How long memory stays trusted after a heartbeat is heard: as long as the
/// listener waits for the next one.
pub const TRUST_PER_HEARTBEAT: Duration = crate::db::notify::HEARTBEAT_DEADLINE;

/// A member and their standing, as loaded at one instant.
pub struct MemberFacts {
    /// Which load this is: sessions cached with it are valid while it is.
    generation: u64,
    /// When the load started.
    loaded_at: DateTime<Utc>,
    pub member: Member,
    pub standing: OpenStanding,
}

#[derive(Clone)]
struct CachedSession {
    generation: u64,
    session: Arc<SessionState>,
}

/// A live service client, and when its use was last written down.
pub struct CachedClient {
    pub row: ClientRow,
    /// When the load started.
    loaded_at: DateTime<Utc>,
    last_used_written: AtomicI64,
}

impl CachedClient {
    /// Whether this use should be written down (at most once a minute); claims it if so.
    pub fn claim_use_record(&self, now: DateTime<Utc>) -> bool {
        let last = self.last_used_written.load(Ordering::Relaxed);
        now.timestamp() - last >= 60
            && self
                .last_used_written
                .compare_exchange(last, now.timestamp(), Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }
}

pub struct MemberCache {
    /// Memory is trusted until this many milliseconds after `started`; 0: not.
    trusted_until: AtomicU64,
    /// Heartbeats heard: once two more are, every change committed before
    /// has reached memory (a test's way to wait for its own writes).
    heartbeats: AtomicU64,
    started: Instant,
    epoch: AtomicU64,
    generations: AtomicU64,
    members: Cache<i64, Arc<MemberFacts>>,
    /// Lower-cased username → id; checked against the member on use, so a
    /// stale name is a miss, never a wrong answer.
    names: Cache<String, i64>,
    sessions: Cache<Uuid, CachedSession>,
    clients: Cache<Vec<u8>, Arc<CachedClient>>,
    /// Hits and misses per cache, resolved once: labels cost a lookup each.
    lookups: [[IntCounter; 2]; 3],
}

#[derive(Clone, Copy)]
enum Kind {
    Member = 0,
    Session = 1,
    Client = 2,
}

impl MemberCache {
    pub fn new(lookups: IntCounterVec) -> Self {
        Self {
            trusted_until: AtomicU64::new(0),
            heartbeats: AtomicU64::new(0),
            started: Instant::now(),
            epoch: AtomicU64::new(0),
            generations: AtomicU64::new(0),
            members: Cache::new(MEMBERS),
            names: Cache::new(MEMBERS),
            sessions: Cache::new(SESSIONS),
            clients: Cache::new(CLIENTS),
            lookups: ["member", "session", "client"]
                .map(|cache| ["hit", "miss"].map(|result| lookups.with_label_values(&[cache, result]))),
        }
    }

    /// Drops a member's copy; called directly for writes that announce nothing.
    pub fn forget_member(&self, id: i64) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        // Its sessions go with it: they are valid only with the load they were cached under.
        self.members.remove(&id);
    }

    fn millis(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Whether memory may be read and filled now: not before the listener
    /// has heard its first heartbeat.
    pub fn trusted(&self) -> bool {
        self.millis() < self.trusted_until.load(Ordering::SeqCst)
    }

    pub fn heartbeats_heard(&self) -> u64 {
        self.heartbeats.load(Ordering::SeqCst)
    }

    pub fn clear(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        self.members.clear();
        self.names.clear();
        self.sessions.clear();
        self.clients.clear();
    }

    /// The epoch a fill starts from, or None when memory is not trusted now.
    fn ticket(&self) -> Option<u64> {
        self.trusted().then(|| self.epoch.load(Ordering::SeqCst))
    }

    fn still(&self, ticket: u64) -> bool {
        self.epoch.load(Ordering::SeqCst) == ticket
    }

    /// Stores a fill's result unless an invalidation came since `ticket`.
    fn store<K: Eq + std::hash::Hash + Clone, V: Clone>(&self, cache: &Cache<K, V>, ticket: u64, key: K, value: V) {
        if !self.still(ticket) {
            return;
        }
        cache.insert(key.clone(), value);
        if !self.still(ticket) {
            cache.remove(&key);
        }
    }

    fn count(&self, kind: Kind, hit: bool) {
        self.lookups[kind as usize][usize::from(!hit)].inc();
    }

    fn cached_member(&self, key: &MemberKey, now: DateTime<Utc>) -> Option<Arc<MemberFacts>> {
        if !self.trusted() {
            return None;
        }
        let facts = match key {
            MemberKey::Id(id) => self.members.get(id),
            MemberKey::Username(name) => {
                let folded = name.to_lowercase();
                let id = self.names.get(&folded)?;
                self.members
                    .get(&id)
                    .filter(|facts| facts.member.username.to_lowercase() == folded)
            }
        };
        facts.filter(|facts| now - facts.loaded_at < MAX_AGE)
    }

    fn next_generation(&self) -> u64 {
        self.generations.fetch_add(1, Ordering::Relaxed) + 1
    }
}

/// The listener and this process's own writes report here.
impl ChangeSink for MemberCache {
    /// Applies one change announcement: `m<id>`, `c<id>`, or `*` (everything).
    fn changed(&self, what: &str) {
        match (what.get(..1), what.get(1..).and_then(|id| id.parse::<i64>().ok())) {
            (Some("m"), Some(id)) => self.forget_member(id),
            // Keys are cached by hash, so a change to one client drops them all; that is rare.
            (Some("c"), Some(_)) => {
                self.epoch.fetch_add(1, Ordering::SeqCst);
                self.clients.clear();
            }
            _ => self.clear(),
        }
    }

    fn forget_everything(&self) {
        self.clear();
    }

    /// The listener looked: every change committed before has been read.
    /// Trust is extended, or, if it had lapsed, starts again from empty.
    fn heard_heartbeat(&self) {
        if !self.trusted() {
            self.clear();
        }
        self.heartbeats.fetch_add(1, Ordering::SeqCst);
        let until = self.millis().saturating_add(TRUST_PER_HEARTBEAT.as_millis() as u64);
        self.trusted_until.store(until, Ordering::SeqCst);
    }

    /// The listener lost its connection: memory is not trusted until it
    /// looks again.
    fn distrust(&self) {
        self.trusted_until.store(0, Ordering::SeqCst);
        self.clear();
    }
}

/// Reads through memory: fills take the database and the instant they read at.
impl MemberCache {
    /// The member a key names (built-in members excluded) and their standing.
    pub async fn member(
        &self,
        db: &Db,
        now: DateTime<Utc>,
        key: MemberKey,
    ) -> Result<Option<Arc<MemberFacts>>, AppError> {
        Ok(self.members_by_keys(db, now, vec![key]).await?.pop().flatten())
    }

    /// Many members at once, in the order asked; whatever memory lacks is read
    /// in one round of queries.
    pub async fn members_by_keys(
        &self,
        db: &Db,
        now: DateTime<Utc>,
        keys: Vec<MemberKey>,
    ) -> Result<Vec<Option<Arc<MemberFacts>>>, AppError> {
        let mut found: Vec<Option<Arc<MemberFacts>>> = keys.iter().map(|key| self.cached_member(key, now)).collect();
        let missing: Vec<MemberKey> = keys
            .iter()
            .zip(&found)
            .filter(|(_, facts)| facts.is_none())
            .map(|(key, _)| key.clone())
            .collect();
        self.count(Kind::Member, missing.is_empty());
        if missing.is_empty() {
            return Ok(found);
        }
        let ticket = self.ticket();
        let rows = db
            .read(move |conn| {
                let ids: Vec<i64> = missing
                    .iter()
                    .filter_map(|k| if let MemberKey::Id(id) = k { Some(*id) } else { None })
                    .collect();
                let names: Vec<String> = missing
                    .iter()
                    .filter_map(|k| match k {
                        MemberKey::Username(name) => Some(name.to_lowercase()),
                        MemberKey::Id(_) => None,
                    })
                    .collect();
                let members = members::find_many_by_key(conn, &ids, &names)?;
                let member_ids: Vec<i64> = members.iter().map(|m| m.id).collect();
                let mut sanctions = sanctions::open_of_members(conn, &member_ids, now)?;
                sanctions.extend(sanctions::unrecorded_expiries_of_members(conn, &member_ids, now)?);
                Ok((members, sanctions))
            })
            .await?;
        let (loaded_members, open_rows) = rows;
        let mut rows_by_member: HashMap<i64, Vec<SanctionRow>> = HashMap::new();
        for row in open_rows {
            rows_by_member.entry(row.member_id).or_default().push(row);
        }
        let mut loaded: Vec<Arc<MemberFacts>> = Vec::with_capacity(loaded_members.len());
        for member in loaded_members {
            let rows = rows_by_member.remove(&member.id).unwrap_or_default();
            let facts = Arc::new(MemberFacts {
                generation: self.next_generation(),
                loaded_at: now,
                standing: OpenStanding::new(rows)?,
                member,
            });
            if let Some(ticket) = ticket {
                self.store(&self.members, ticket, facts.member.id, facts.clone());
                self.store(
                    &self.names,
                    ticket,
                    facts.member.username.to_lowercase(),
                    facts.member.id,
                );
            }
            loaded.push(facts);
        }
        for (key, slot) in keys.iter().zip(found.iter_mut()) {
            if slot.is_none() {
                *slot = loaded
                    .iter()
                    .find(|facts| match key {
                        MemberKey::Id(id) => facts.member.id == *id,
                        MemberKey::Username(name) => facts.member.username.to_lowercase() == name.to_lowercase(),
                    })
                    .cloned();
            }
        }
        Ok(found)
    }

    /// A session of the member `facts` describe, if it exists.
    pub async fn session(
        &self,
        db: &Db,
        facts: &MemberFacts,
        session_id: Uuid,
    ) -> Result<Option<Arc<SessionState>>, AppError> {
        if self.trusted()
            && let Some(cached) = self.sessions.get(&session_id)
            && cached.generation == facts.generation
        {
            self.count(Kind::Session, true);
            return Ok(Some(cached.session));
        }
        self.count(Kind::Session, false);
        let ticket = self.ticket();
        let session = db
            .read(move |conn| crate::auth::store::find_session(conn, session_id))
            .await?
            .map(Arc::new);
        if let (Some(ticket), Some(session)) = (ticket, &session) {
            let entry = CachedSession {
                generation: facts.generation,
                session: session.clone(),
            };
            self.store(&self.sessions, ticket, session_id, entry);
        }
        Ok(session)
    }

    /// The live service client holding this key.
    pub async fn client(
        &self,
        db: &Db,
        now: DateTime<Utc>,
        key: String,
    ) -> Result<Option<Arc<CachedClient>>, AppError> {
        let hash = hash_key(&key);
        if self.trusted()
            && let Some(client) = self.clients.get(&hash)
            && now - client.loaded_at < MAX_AGE
        {
            self.count(Kind::Client, true);
            return Ok(Some(client));
        }
        self.count(Kind::Client, false);
        let ticket = self.ticket();
        let row = db.read(move |conn| clients::find_live(conn, &key)).await?;
        let Some(row) = row else { return Ok(None) };
        let client = Arc::new(CachedClient {
            loaded_at: now,
            last_used_written: AtomicI64::new(row.last_used_at.map_or(0, |at| at.timestamp())),
            row,
        });
        if let Some(ticket) = ticket {
            self.store(&self.clients, ticket, hash, client.clone());
        }
        Ok(Some(client))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache() -> MemberCache {
        let lookups = IntCounterVec::new(prometheus::Opts::new("t", "t"), &["cache", "result"]).unwrap();
        MemberCache::new(lookups)
    }

    #[test]
    fn nothing_is_kept_while_the_listener_is_away() {
        let cache = cache();
        assert_eq!(cache.ticket(), None);
        cache.heard_heartbeat();
        assert!(cache.ticket().is_some());
        cache.distrust();
        assert_eq!(cache.ticket(), None);
    }

    #[test]
    fn trust_lapses_without_heartbeats_and_starts_again_from_empty() {
        let cache = cache();
        cache.heard_heartbeat();
        let ticket = cache.ticket().unwrap();
        cache.store(&cache.names, ticket, "alice".to_string(), 7);
        // No heartbeat for as long as one is trusted for: nothing is trusted,
        // though nobody said the connection was lost.
        cache.trusted_until.store(cache.millis(), Ordering::SeqCst);
        assert_eq!(cache.ticket(), None);
        assert!(cache.cached_member(&MemberKey::Id(7), Utc::now()).is_none());
        cache.heard_heartbeat();
        assert_eq!(
            cache.names.get("alice"),
            None,
            "announcements may have been lost meanwhile"
        );
        assert!(cache.ticket().is_some());
    }

    #[test]
    fn a_fill_that_raced_with_a_change_is_not_kept() {
        let cache = cache();
        cache.heard_heartbeat();
        let ticket = cache.ticket().unwrap();
        cache.changed("m7");
        cache.store(&cache.names, ticket, "alice".to_string(), 7);
        assert_eq!(cache.names.get("alice"), None);

        let ticket = cache.ticket().unwrap();
        cache.store(&cache.names, ticket, "alice".to_string(), 7);
        assert_eq!(cache.names.get("alice"), Some(7));
    }

    #[test]
    fn announcements_drop_what_they_name() {
        let cache = cache();
        cache.heard_heartbeat();
        let ticket = cache.ticket().unwrap();
        cache.store(&cache.names, ticket, "alice".to_string(), 7);
        // A client change drops keys only; anything unreadable drops everything.
        cache.changed("c3");
        assert_eq!(cache.names.get("alice"), Some(7));
        cache.changed("*");
        assert_eq!(cache.names.get("alice"), None);
        let ticket = cache.ticket().unwrap();
        cache.store(&cache.names, ticket, "alice".to_string(), 7);
        cache.changed("garbage");
        assert_eq!(cache.names.get("alice"), None);
    }

    #[test]
    fn a_key_use_is_written_once_a_minute() {
        let now = Utc::now();
        let client = CachedClient {
            row: ClientRow {
                id: 1,
                name: "forum".into(),
                scopes: vec![],
                key_prefix: "mbd_".into(),
                created_at: now,
                last_used_at: None,
                revoked_at: None,
            },
            loaded_at: now,
            last_used_written: AtomicI64::new(0),
        };
        assert!(client.claim_use_record(now));
        assert!(!client.claim_use_record(now + chrono::Duration::seconds(59)));
        assert!(client.claim_use_record(now + chrono::Duration::seconds(60)));
    }
}

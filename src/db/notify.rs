//! The listener: a dedicated thread with a connection of its own looks every
//! few milliseconds at what changed in the rows replicas keep in memory
//! (members, sessions, sanctions, keys: the `cache_changes` rows the
//! triggers write, see the `polled_changes` migration) and reports it to the
//! [`ChangeSink`] (the member cache). It watches the event feed's head too,
//! and wakes whoever waits on events when it moves. Nothing is announced by
//! NOTIFY: a transaction that notifies takes one cluster-wide lock at commit,
//! which would make every such writer commit one at a time.
//!
//! Each look that answers proves that every change committed before it was
//! read, and is what keeps the cache trusted
//! ([`ChangeSink::heard_heartbeat`]); a connection that stops answering (a
//! half-open TCP connection) lets that trust lapse by itself. While the
//! connection is down the cache is not trusted; a dropped connection is
//! reopened, the cache starts again from empty, and waiters are woken so that
//! they re-read rather than trust what they last saw.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Text};
use tokio::sync::watch;

use super::ChangeSink;

/// The listener's `application_name`.
pub const LISTENER_NAME: &str = "memberd listener";

const POLL_EVERY: Duration = Duration::from_millis(20);
const RECONNECT_AFTER: Duration = Duration::from_secs(1);
/// Memory stays trusted this long after a look that answered.
pub const HEARTBEAT_DEADLINE: Duration = Duration::from_secs(5);
/// Changes are kept this long after their transaction ended: far longer than
/// a trusted listener goes without looking.
const KEEP_CHANGES: Duration = Duration::from_secs(60);
const PRUNE_EVERY: Duration = Duration::from_secs(10);

/// Something changed: the value counts wake-ups, its content does not matter.
#[derive(Clone)]
pub struct Notifications {
    events: watch::Receiver<u64>,
    stop: Arc<AtomicBool>,
    thread: Arc<Mutex<Option<JoinHandle<()>>>>,
}

impl Notifications {
    /// Waits for wake-ups from now on.
    pub fn events(&self) -> EventWaiter {
        let mut receiver = self.events.clone();
        receiver.mark_unchanged();
        EventWaiter(receiver)
    }

    /// Stops listening and waits for the thread, so that no libpq call is
    /// in flight when the process exits.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
        let handle = self.thread.lock().ok().and_then(|mut guard| guard.take());
        if let Some(handle) = handle {
            let _ = handle.join();
        }
    }
}

pub struct EventWaiter(watch::Receiver<u64>);

impl EventWaiter {
    /// Completes at the next wake-up. Once the listener has stopped (the
    /// process is shutting down) there are none: it then completes after a
    /// second, so that the loops built on it poll instead of spinning.
    pub async fn next(&mut self) {
        if self.0.changed().await.is_err() {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}

/// Reads where the event feed ends (any value that changes when it moves):
/// the listener asks it every few milliseconds.
pub type FeedHead = fn(&mut PgConnection) -> Result<Option<(i64, i64)>, crate::error::AppError>;

pub fn start(database_url: String, changes: Arc<dyn ChangeSink>, feed_head: FeedHead) -> Notifications {
    let (sender, receiver) = watch::channel(0u64);
    let stop = Arc::new(AtomicBool::new(false));
    let stopping = stop.clone();
    let spawned = std::thread::Builder::new()
        .name("memberd-listen".into())
        .spawn(move || {
            listen(&database_url, &sender, &*changes, feed_head, &stopping);
            changes.distrust();
        });
    let thread = match spawned {
        Ok(handle) => Some(handle),
        Err(error) => {
            tracing::error!(%error, "could not start the notification listener; event waits will time out");
            None
        }
    };
    Notifications {
        events: receiver,
        stop,
        thread: Arc::new(Mutex::new(thread)),
    }
}

/// Sleeps in short steps, so that a stop request is seen quickly.
fn pause(duration: Duration, stop: &AtomicBool) {
    let mut left = duration;
    while !left.is_zero() && !stop.load(Ordering::Relaxed) {
        let step = left.min(POLL_EVERY);
        std::thread::sleep(step);
        left -= step;
    }
}

/// Where the listener last looked: changes of transactions at or above
/// `xmax`, or among the `running` ones, had not committed then.
struct Seen {
    xmax: i64,
    running: Vec<i64>,
}

/// One look at `cache_changes`: the names written by transactions that
/// committed since the last look, and where this look stands.
#[derive(QueryableByName)]
struct Look {
    #[diesel(sql_type = BigInt)]
    xmin: i64,
    #[diesel(sql_type = BigInt)]
    xmax: i64,
    #[diesel(sql_type = Array<BigInt>)]
    running: Vec<i64>,
    #[diesel(sql_type = Array<Text>)]
    changed: Vec<String>,
}

/// The statement sees exactly the transactions committed before its
/// snapshot, which it reports; the next look takes those that were still
/// running then or began after, so none is read twice or missed, and a long
/// transaction holds nothing back.
fn look(conn: &mut PgConnection, seen: &Seen) -> QueryResult<Look> {
    super::prepared(
        "SELECT pg_snapshot_xmin(s)::text::bigint AS xmin, pg_snapshot_xmax(s)::text::bigint AS xmax, \
           ARRAY(SELECT x::text::bigint FROM pg_snapshot_xip(s) AS x) AS running, \
           ARRAY(SELECT what FROM cache_changes \
                 WHERE txid >= $1::text::xid8 OR txid = ANY($2::text[]::xid8[])) AS changed \
         FROM pg_current_snapshot() AS s",
    )
    .bind::<BigInt, _>(seen.xmax)
    .bind::<Array<BigInt>, _>(seen.running.clone())
    .get_result(conn)
}

/// Forgets the changes of transactions that ended before `xmin`, the oldest
/// transaction running a while ago: every listener still trusted has read
/// them since.
fn prune(conn: &mut PgConnection, xmin: i64) -> QueryResult<usize> {
    super::prepared("DELETE FROM cache_changes WHERE txid < $1::text::xid8")
        .bind::<BigInt, _>(xmin)
        .execute(conn)
}

fn listen(
    database_url: &str,
    sender: &watch::Sender<u64>,
    changes: &dyn ChangeSink,
    feed_head: FeedHead,
    stop: &AtomicBool,
) {
    while !sender.is_closed() && !stop.load(Ordering::Relaxed) {
        let mut conn = match PgConnection::establish(database_url) {
            Ok(conn) => conn,
            Err(ConnectionError::BadConnection(message)) if message.contains("does not exist") => {
                tracing::warn!("the database is gone; the listener stops");
                return;
            }
            Err(error) => {
                tracing::warn!(%error, "the listener cannot connect; retrying");
                pause(RECONNECT_AFTER, stop);
                continue;
            }
        };
        // Named, so that operators (and tests) can tell it in pg_stat_activity.
        // Every query here reads the last entries of an index, every 20 ms,
        // and must whatever the statistics say: a table that grew since it
        // was last analyzed looks empty to the planner, which then read the
        // whole of `cache_changes` and sorted all events on every look (a
        // core's third, and growing, under sanctions at c=16). Each look is
        // planned with its own bounds, and never by a scan of the table.
        let named = format!(
            "SET application_name = '{LISTENER_NAME}'; SET plan_cache_mode = force_custom_plan; \
             SET enable_seqscan = off; SET enable_sort = off"
        );
        if let Err(error) = conn.batch_execute(&named) {
            tracing::warn!(%error, "the listener's connection failed; retrying");
            pause(RECONNECT_AFTER, stop);
            continue;
        }
        // Anything may have happened while we were not looking: memory is
        // trusted again (from empty) after the first look, which reads
        // nothing, only where it stands.
        sender.send_modify(|n| *n += 1);
        let mut seen = Seen {
            xmax: i64::MAX,
            running: Vec::new(),
        };
        let mut horizons: VecDeque<(Instant, i64)> = VecDeque::new();
        let mut head = None;
        loop {
            if sender.is_closed() || stop.load(Ordering::Relaxed) {
                return;
            }
            let looked = look(&mut conn, &seen)
                .map_err(crate::error::AppError::from)
                .and_then(|look| {
                    for what in &look.changed {
                        changes.changed(what);
                    }
                    changes.heard_heartbeat();
                    if horizons.back().is_none_or(|(at, _)| at.elapsed() >= PRUNE_EVERY) {
                        horizons.push_back((Instant::now(), look.xmin));
                    }
                    seen = Seen {
                        xmax: look.xmax,
                        running: look.running,
                    };
                    feed_head(&mut conn)
                });
            match looked {
                Ok(now) if now != head => {
                    head = now;
                    sender.send_modify(|n| *n += 1);
                }
                Ok(_) => {}
                Err(error) => {
                    tracing::warn!(%error, "the listener's connection was lost; reconnecting");
                    break;
                }
            }
            if horizons.len() > 1
                && horizons.front().is_some_and(|(at, _)| at.elapsed() >= KEEP_CHANGES)
                && let Some((_, xmin)) = horizons.pop_front()
                && let Err(error) = prune(&mut conn, xmin)
            {
                tracing::warn!(%error, "could not prune cache_changes");
            }
            std::thread::sleep(POLL_EVERY);
        }
        changes.distrust();
        sender.send_modify(|n| *n += 1);
        pause(RECONNECT_AFTER, stop);
    }
}

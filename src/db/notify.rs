//! LISTEN/NOTIFY: a dedicated thread holds one connection listening for
//! memberd's notifications: changes to members, sessions, sanctions and keys
//! are reported to the [`ChangeSink`] (the member cache). The same thread
//! watches the event feed's head and wakes whoever waits on events when it
//! moves: writers of events announce nothing, since a NOTIFY in every one
//! would serialise their commits (PostgreSQL takes one lock for it). diesel's notification iterator does not block, so the thread
//! drains it every few milliseconds. While the connection is down the cache
//! is not trusted; a dropped connection is reopened, the cache starts again
//! from empty, and waiters are woken so that they re-read rather than trust
//! what they last saw.
//!
//! A connection can also stop delivering without failing: a half-open TCP
//! connection, or a pooler in transaction mode, which runs LISTEN on whatever
//! server connection it has at hand. So the listener sends itself a heartbeat
//! through its own connection every second, on a channel only it listens to;
//! hearing it back proves that every announcement sent before it was heard,
//! and is what keeps the cache trusted ([`ChangeSink::heard_heartbeat`]). A
//! heartbeat that does not come back in time is handled as a lost connection.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use diesel::prelude::*;
use tokio::sync::watch;

use super::ChangeSink;

/// Rows the member cache copies changed (see the `change_notifications` migration).
pub const CHANGES_CHANNEL: &str = "memberd_changes";

/// The listener's `application_name`.
pub const LISTENER_NAME: &str = "memberd listener";

const POLL_EVERY: Duration = Duration::from_millis(20);
const RECONNECT_AFTER: Duration = Duration::from_secs(1);
const HEARTBEAT_EVERY: Duration = Duration::from_secs(1);
/// A heartbeat not heard back for this long means the connection no longer
/// delivers; the cache stops trusting memory by itself at the same point.
pub const HEARTBEAT_DEADLINE: Duration = Duration::from_secs(5);

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

/// A channel name no other process listens to.
fn heartbeat_channel() -> String {
    format!("memberd_heartbeat_{}", hex::encode(crate::random::os_bytes::<8>()))
}

fn listen(
    database_url: &str,
    sender: &watch::Sender<u64>,
    changes: &dyn ChangeSink,
    feed_head: FeedHead,
    stop: &AtomicBool,
) {
    let heartbeats = heartbeat_channel();
    while !sender.is_closed() && !stop.load(Ordering::Relaxed) {
        let mut conn = match PgConnection::establish(database_url) {
            Ok(conn) => conn,
            Err(ConnectionError::BadConnection(message)) if message.contains("does not exist") => {
                tracing::warn!("the database is gone; the notification listener stops");
                return;
            }
            Err(error) => {
                tracing::warn!(%error, "notification listener cannot connect; retrying");
                pause(RECONNECT_AFTER, stop);
                continue;
            }
        };
        // Named, so that operators (and tests) can tell it in pg_stat_activity.
        let named = format!("SET application_name = '{LISTENER_NAME}'");
        let listened = [
            named,
            format!("LISTEN {CHANGES_CHANNEL}"),
            format!("LISTEN {heartbeats}"),
        ]
        .into_iter()
        .try_for_each(|statement| diesel::sql_query(statement).execute(&mut conn).map(drop));
        if let Err(error) = listened {
            tracing::warn!(%error, "LISTEN failed; retrying");
            pause(RECONNECT_AFTER, stop);
            continue;
        }
        // Anything may have happened while we were not listening: memory is
        // trusted again (from empty) once the first heartbeat is heard.
        sender.send_modify(|n| *n += 1);
        let mut last_heard = Instant::now();
        let mut last_sent: Option<Instant> = None;
        let mut head = None;
        'connected: loop {
            if sender.is_closed() || stop.load(Ordering::Relaxed) {
                return;
            }
            if last_heard.elapsed() > HEARTBEAT_DEADLINE {
                tracing::warn!("the notification connection stopped delivering; reconnecting");
                break 'connected;
            }
            if last_sent.is_none_or(|sent| sent.elapsed() >= HEARTBEAT_EVERY) {
                last_sent = Some(Instant::now());
                if let Err(error) = diesel::sql_query(format!("NOTIFY {heartbeats}")).execute(&mut conn) {
                    tracing::warn!(%error, "notification connection lost; reconnecting");
                    break 'connected;
                }
            }
            for notification in conn.notifications_iter() {
                match notification {
                    Ok(n) if n.channel == CHANGES_CHANNEL => changes.changed(&n.payload),
                    Ok(n) if n.channel == heartbeats => {
                        last_heard = Instant::now();
                        changes.heard_heartbeat();
                    }
                    Ok(_) => {}
                    Err(error) => {
                        tracing::warn!(%error, "notification connection lost; reconnecting");
                        break 'connected;
                    }
                }
            }
            match feed_head(&mut conn) {
                Ok(now) if now != head => {
                    head = now;
                    sender.send_modify(|n| *n += 1);
                }
                Ok(_) => {}
                Err(error) => {
                    tracing::warn!(%error, "notification connection lost; reconnecting");
                    break 'connected;
                }
            }
            std::thread::sleep(POLL_EVERY);
        }
        changes.distrust();
        sender.send_modify(|n| *n += 1);
        pause(RECONNECT_AFTER, stop);
    }
}

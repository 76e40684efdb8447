//! LISTEN/NOTIFY: a dedicated thread holds one connection listening for
//! memberd's notifications and wakes whoever waits on them. diesel's
//! notification iterator does not block, so the thread drains it every few
//! milliseconds; a dropped connection is reopened, and waiters are woken so
//! that they re-read rather than trust what they last saw.

use std::time::Duration;

use diesel::prelude::*;
use tokio::sync::watch;

/// New events were committed.
pub const EVENTS_CHANNEL: &str = "memberd_events";

const POLL_EVERY: Duration = Duration::from_millis(20);
const RECONNECT_AFTER: Duration = Duration::from_secs(1);

/// Something changed: the value counts wake-ups, its content does not matter.
#[derive(Clone)]
pub struct Notifications {
    events: watch::Receiver<u64>,
}

impl Notifications {
    /// A receiver whose `changed()` completes at the next wake-up.
    pub fn events(&self) -> watch::Receiver<u64> {
        let mut receiver = self.events.clone();
        receiver.mark_unchanged();
        receiver
    }
}

pub fn start(database_url: String) -> Notifications {
    let (sender, receiver) = watch::channel(0u64);
    let spawned = std::thread::Builder::new()
        .name("memberd-listen".into())
        .spawn(move || listen(&database_url, &sender));
    if let Err(error) = spawned {
        tracing::error!(%error, "could not start the notification listener; event waits will time out");
    }
    Notifications { events: receiver }
}

fn listen(database_url: &str, sender: &watch::Sender<u64>) {
    while !sender.is_closed() {
        let mut conn = match PgConnection::establish(database_url) {
            Ok(conn) => conn,
            Err(error) => {
                tracing::warn!(%error, "notification listener cannot connect; retrying");
                std::thread::sleep(RECONNECT_AFTER);
                continue;
            }
        };
        if let Err(error) = diesel::sql_query(format!("LISTEN {EVENTS_CHANNEL}")).execute(&mut conn) {
            tracing::warn!(%error, "LISTEN failed; retrying");
            std::thread::sleep(RECONNECT_AFTER);
            continue;
        }
        // Anything may have happened while we were not listening.
        sender.send_modify(|n| *n += 1);
        'connected: loop {
            if sender.is_closed() {
                return;
            }
            let mut woke = false;
            for notification in conn.notifications_iter() {
                match notification {
                    Ok(_) => woke = true,
                    Err(error) => {
                        tracing::warn!(%error, "notification connection lost; reconnecting");
                        sender.send_modify(|n| *n += 1);
                        break 'connected;
                    }
                }
            }
            if woke {
                sender.send_modify(|n| *n += 1);
            }
            std::thread::sleep(POLL_EVERY);
        }
        std::thread::sleep(RECONNECT_AFTER);
    }
}

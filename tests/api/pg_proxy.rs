//! A TCP relay in front of PostgreSQL that can make memberd's listener
//! connection go silent without closing it, as a half-open TCP connection
//! does.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub struct PgProxy {
    pub port: u16,
    silent: Arc<AtomicBool>,
    connections: Arc<AtomicUsize>,
    listeners: Arc<AtomicUsize>,
}

impl PgProxy {
    pub async fn start(upstream: String) -> PgProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let proxy = PgProxy {
            port: listener.local_addr().unwrap().port(),
            silent: Arc::default(),
            connections: Arc::default(),
            listeners: Arc::default(),
        };
        let (silent, connections, listeners) =
            (proxy.silent.clone(), proxy.connections.clone(), proxy.listeners.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                connections.fetch_add(1, Ordering::SeqCst);
                let server = TcpStream::connect(&upstream).await.unwrap();
                let is_listener = Arc::new(AtomicBool::new(false));
                let (client_read, client_write) = client.into_split();
                let (server_read, server_write) = server.into_split();
                let relay = Relay {
                    silent: silent.clone(),
                    is_listener,
                    listeners: listeners.clone(),
                };
                tokio::spawn(relay.clone().copy(client_read, server_write, true));
                tokio::spawn(relay.copy(server_read, client_write, false));
            }
        });
        proxy
    }

    /// Stops relaying the listening connection, both ways, until the guard
    /// is dropped: a test that fails meanwhile must not leave the listener
    /// stuck, or stopping it would wait for ever.
    pub fn silence(&self) -> Silence {
        self.silent.store(true, Ordering::SeqCst);
        Silence(self.silent.clone())
    }

    /// (connections relayed, of which the listener's)
    pub fn seen(&self) -> (usize, usize) {
        (
            self.connections.load(Ordering::SeqCst),
            self.listeners.load(Ordering::SeqCst),
        )
    }
}

pub struct Silence(Arc<AtomicBool>);

impl Drop for Silence {
    fn drop(&mut self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

/// What the listener's connection names itself (`SET application_name`).
const LISTENER: &[u8] = b"memberd listener";

#[derive(Clone)]
struct Relay {
    silent: Arc<AtomicBool>,
    is_listener: Arc<AtomicBool>,
    listeners: Arc<AtomicUsize>,
}

impl Relay {
    async fn copy(
        self,
        mut from: tokio::net::tcp::OwnedReadHalf,
        mut to: tokio::net::tcp::OwnedWriteHalf,
        from_client: bool,
    ) {
        let mut buffer = vec![0u8; 65_536];
        loop {
            let Ok(read) = from.read(&mut buffer).await else { return };
            if read == 0 {
                return;
            }
            let chunk = &buffer[..read];
            if from_client
                && chunk.windows(LISTENER.len()).any(|w| w == LISTENER)
                && !self.is_listener.swap(true, Ordering::SeqCst)
            {
                self.listeners.fetch_add(1, Ordering::SeqCst);
            }
            // Held, not dropped, not refused: the connection just goes quiet.
            while self.is_listener.load(Ordering::SeqCst) && self.silent.load(Ordering::SeqCst) {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            if to.write_all(chunk).await.is_err() {
                return;
            }
        }
    }
}

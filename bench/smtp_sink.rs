//! The mail relay the moderation benchmark sends to: a real SMTP listener
//! that accepts every message and keeps only their number, printed on a line
//! of its own whenever it changes. memberd in production hands its mail to
//! such a relay; `.eml` files under `MEMBERD_MAIL_DIR` (the development
//! default) would measure the file system's inode allocator instead.

// A measuring harness, not the service: it may stop at the first failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let bind = std::env::var("SMTP_SINK_BIND").unwrap_or_else(|_| "127.0.0.1:2525".into());
    let listener = TcpListener::bind(bind).await?;
    let received = Arc::new(AtomicU64::new(0));
    let counter = received.clone();
    tokio::spawn(async move {
        let mut printed = u64::MAX;
        loop {
            let now = counter.load(Ordering::Relaxed);
            if now != printed {
                println!("{now}");
                std::io::stdout().flush().unwrap();
                printed = now;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    loop {
        let (stream, _) = listener.accept().await?;
        tokio::spawn(session(stream, received.clone()));
    }
}

/// One client's conversation; None when it hangs up.
async fn session(stream: TcpStream, received: Arc<AtomicU64>) -> Option<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    let mut line = String::new();
    write.write_all(b"220 sink ESMTP ready\r\n").await.ok()?;
    loop {
        line.clear();
        if lines.read_line(&mut line).await.ok()? == 0 {
            return None;
        }
        let command = line.trim_end().to_ascii_uppercase();
        let reply: &[u8] = if command.starts_with("EHLO") {
            b"250-sink\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n"
        } else if command == "DATA" {
            write.write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n").await.ok()?;
            loop {
                line.clear();
                if lines.read_line(&mut line).await.ok()? == 0 {
                    return None;
                }
                if line == ".\r\n" {
                    break;
                }
            }
            received.fetch_add(1, Ordering::Relaxed);
            b"250 OK queued\r\n"
        } else if command == "QUIT" {
            write.write_all(b"221 bye\r\n").await.ok()?;
            return None;
        } else {
            // HELO, MAIL FROM, RCPT TO, RSET, NOOP.
            b"250 OK\r\n"
        };
        write.write_all(reply).await.ok()?;
    }
}

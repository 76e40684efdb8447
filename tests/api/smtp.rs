//! A real SMTP listener for the tests: speaks enough SMTP for lettre and keeps
//! every message it receives.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::Notify;

#[derive(Debug, Clone)]
pub struct Mail {
    pub to: Vec<String>,
    pub subject: String,
    pub text: String,
    pub html: String,
}

#[derive(Clone, Default)]
pub struct Inbox {
    mails: Arc<Mutex<Vec<Mail>>>,
    arrived: Arc<Notify>,
}

impl Inbox {
    pub fn all(&self) -> Vec<Mail> {
        self.mails.lock().unwrap().clone()
    }

    pub fn to(&self, address: &str) -> Vec<Mail> {
        self.all()
            .into_iter()
            .filter(|m| m.to.iter().any(|t| t.eq_ignore_ascii_case(address)))
            .collect()
    }

    /// Waits until `address` has received `count` mails, and returns them.
    pub async fn wait_for(&self, address: &str, count: usize) -> Vec<Mail> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let notified = self.arrived.notified();
            let mails = self.to(address);
            if mails.len() >= count {
                return mails;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!("{address} received {} mails, expected {count}", mails.len());
            }
        }
    }

    /// Waits a moment and asserts nothing (more) arrived for `address`.
    pub async fn assert_quiet(&self, address: &str, expected: usize) {
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(self.to(address).len(), expected, "unexpected mail for {address}");
    }
}

fn parse(raw: &[u8], to: Vec<String>) -> Mail {
    let message = mail_parser::MessageParser::default()
        .parse(raw)
        .expect("a parsable message");
    Mail {
        to,
        subject: message.subject().unwrap_or_default().to_string(),
        text: message.body_text(0).map(|t| t.to_string()).unwrap_or_default(),
        html: message.body_html(0).map(|t| t.to_string()).unwrap_or_default(),
    }
}

/// Starts the listener; returns its port and inbox.
pub async fn start() -> (u16, Inbox) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let inbox = Inbox::default();
    let shared = inbox.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let inbox = shared.clone();
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut lines = BufReader::new(read);
                let _ = write.write_all(b"220 test ESMTP ready\r\n").await;
                let mut recipients = Vec::new();
                let mut line = String::new();
                loop {
                    line.clear();
                    if lines.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    let command = line.trim_end().to_ascii_uppercase();
                    let reply: &[u8] = if command.starts_with("EHLO") {
                        b"250-test\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n"
                    } else if command.starts_with("RCPT TO:") {
                        let address = line.trim_end()[8..].trim().trim_start_matches('<');
                        recipients.push(address.split('>').next().unwrap_or_default().to_string());
                        b"250 OK\r\n"
                    } else if command == "DATA" {
                        let _ = write.write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n").await;
                        let mut raw = Vec::new();
                        loop {
                            let mut data = String::new();
                            if lines.read_line(&mut data).await.unwrap_or(0) == 0 {
                                return;
                            }
                            if data == ".\r\n" || data == ".\n" {
                                break;
                            }
                            let data = data.strip_prefix('.').unwrap_or(&data);
                            raw.extend_from_slice(data.as_bytes());
                        }
                        inbox
                            .mails
                            .lock()
                            .unwrap()
                            .push(parse(&raw, std::mem::take(&mut recipients)));
                        inbox.arrived.notify_waiters();
                        b"250 OK queued\r\n"
                    } else if command == "QUIT" {
                        let _ = write.write_all(b"221 bye\r\n").await;
                        return;
                    } else {
                        // HELO, MAIL FROM, RSET, NOOP.
                        b"250 OK\r\n"
                    };
                    if write.write_all(reply).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (port, inbox)
}

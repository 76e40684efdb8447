//! Outgoing e-mail: SMTP when `MEMBERD_SMTP_URL` is set, otherwise `.eml`
//! files under `MEMBERD_MAIL_DIR`, so that a developer's first run needs no
//! mail server.

pub mod moderation;
pub mod templates;

use std::sync::Arc;

use anyhow::Context;
use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Body, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::PoolConfig;
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use tracing::Instrument;

use crate::config::Config;

/// A message ready to be sent: one recipient, a plain-text and an HTML part.
#[derive(Debug, Clone)]
pub struct OutgoingMail {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// 8-bit keeps every line, links included, whole and readable in the raw
/// message, where quoted-printable would split long links. RFC 2045 allows
/// 8-bit lines up to 998 octets; our templates stay far below, but anything
/// longer falls back to lettre's own choice.
fn eight_bit(content_type: ContentType, text: &str) -> SinglePart {
    let fits = !text.contains(['\0', '\r']) && text.lines().all(|line| line.len() <= 998);
    let body = if fits {
        Body::dangerous_pre_encoded(
            text.replace('\n', "\r\n").into_bytes(),
            ContentTransferEncoding::EightBit,
        )
    } else {
        Body::new(text.to_string())
    };
    SinglePart::builder().header(content_type).body(body)
}

/// SMTP connections kept open to the relay.
const SMTP_CONNECTIONS: u32 = 32;

enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Files(AsyncFileTransport<Tokio1Executor>),
}

#[derive(Clone)]
pub struct Mailer {
    transport: Arc<Transport>,
    from: Mailbox,
    outbox: Arc<Outbox>,
}

/// The thread mail leaves from. Each mail is an SMTP conversation of half a
/// dozen round trips with the relay; left to the HTTP workers, whose
/// requests caused them, those conversations came between the requests: a
/// thread of their own took sanctions at c=16 from 3,020–3,160 to
/// 3,310–3,420 per second, and 490–515 µs of the machine's time each to
/// 450–465.
struct Outbox(Option<tokio::runtime::Runtime>);

impl Outbox {
    fn start() -> anyhow::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("memberd-mail")
            .enable_all()
            .build()
            .context("cannot start the mail thread")?;
        Ok(Self(Some(runtime)))
    }
}

impl Drop for Outbox {
    /// Mail not sent yet is dropped, as it was with the workers that sent it;
    /// waiting for it here would block whatever task drops the last mailer.
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

impl Mailer {
    pub fn from_config(config: &Config) -> anyhow::Result<Self> {
        let transport = match &config.smtp_url {
            Some(url) => Transport::Smtp(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose())
                    .context("MEMBERD_SMTP_URL: not a usable SMTP URL")?
                    .timeout(Some(std::time::Duration::from_secs(10)))
                    // As many connections as mails may leave at once: past the
                    // pool's size, each mail opened and closed a connection of
                    // its own (lettre's default is 10; sanctions at c=16 left
                    // 11,000 connections in TIME-WAIT in three seconds).
                    .pool_config(PoolConfig::new().max_size(SMTP_CONNECTIONS))
                    .build(),
            ),
            None => {
                std::fs::create_dir_all(&config.mail_dir)
                    .with_context(|| format!("MEMBERD_MAIL_DIR: cannot create {}", config.mail_dir.display()))?;
                Transport::Files(AsyncFileTransport::new(&config.mail_dir))
            }
        };
        Ok(Self {
            transport: Arc::new(transport),
            from: config.mail_from.clone(),
            outbox: Arc::new(Outbox::start()?),
        })
    }

    /// Sends in the background: the response to the request that caused the
    /// mail must not wait for (or reveal) whether a mail was sent.
    pub fn send_later(&self, mail: OutgoingMail) {
        // A member imported without a usable address has none until they set one.
        if mail.to.is_empty() {
            tracing::info!(subject = %mail.subject, "not sent: the member has no e-mail address");
            return;
        }
        let mailer = self.clone();
        // In the request's span, so that the request id ties the two in the logs.
        let sending = async move {
            if let Err(error) = mailer.send(&mail).await {
                tracing::error!(error = ?error, subject = %mail.subject, "could not send e-mail");
            }
        };
        if let Some(outbox) = &self.outbox.0 {
            outbox.spawn(sending.in_current_span());
        }
    }

    async fn send(&self, mail: &OutgoingMail) -> anyhow::Result<()> {
        let message = Message::builder()
            .from(self.from.clone())
            .to(mail.to.parse().context("recipient address")?)
            .subject(&mail.subject)
            .multipart(
                MultiPart::alternative()
                    .singlepart(eight_bit(ContentType::TEXT_PLAIN, &mail.text))
                    .singlepart(eight_bit(ContentType::TEXT_HTML, &mail.html)),
            )
            .context("building the message")?;
        match self.transport.as_ref() {
            Transport::Smtp(smtp) => {
                smtp.send(message).await.context("SMTP delivery")?;
            }
            Transport::Files(files) => {
                let id = files.send(message).await.context("writing the .eml file")?;
                tracing::info!(file = %format!("{id}.eml"), subject = %mail.subject, "e-mail written to the mail directory");
            }
        }
        Ok(())
    }
}

//! The delivery worker: fans new events out to hooks, claims due deliveries,
//! sends them signed, and records what happened. It wakes on new events
//! and every second for retries; several replicas may run it at once.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::web;

use crate::audit::{self, AuditAction};
use crate::auth::policy::Actor;
use crate::error::{AppError, FieldCode};
use crate::integration::model::IntegrationError;
use crate::integration::webhooks::model::{NewWebhook, is_private, secret_key, signature};
use crate::integration::webhooks::store::{self, AttemptLog, Outcome, Outgoing, WebhookRow};
use crate::pagination::{Page, Paged};
use crate::state::AppState;

const LEASE: chrono::Duration = chrono::Duration::seconds(60);
const BATCH: i32 = 20;
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// The client deliveries go through. Unless private addresses are allowed,
/// it resolves names itself and refuses any that leads to one, so a name
/// cannot resolve to a public address when checked and to a private one
/// when connected to. Redirects are not followed, for the same reason, and
/// no proxy is used, whatever the environment says: a proxy would resolve the
/// name again, itself.
pub fn http_client(allow_private: bool) -> reqwest::Client {
    install_tls_provider();
    let builder = reqwest::Client::builder()
        .no_proxy()
        .timeout(TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent("memberd-webhooks");
    let builder = if allow_private {
        builder
    } else {
        builder.dns_resolver(Arc::new(PublicOnly))
    };
    builder.build().unwrap_or_default()
}

/// Makes ring the process's TLS provider, once; later calls change nothing.
pub fn install_tls_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Losing a race with another caller installing the same provider is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

struct PublicOnly;

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        Box::pin(async move {
            let addresses: Vec<SocketAddr> = tokio::net::lookup_host((name.as_str(), 0)).await?.collect();
            if addresses.iter().any(|a| is_private(a.ip())) {
                return Err(format!("{} resolves to a private address", name.as_str()).into());
            }
            Ok(Box::new(addresses.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

pub async fn run(state: web::Data<AppState>) {
    let client = http_client(state.config.webhook_allow_private);
    let mut changes = state.notifications.events();
    loop {
        if let Err(error) = tick(&state, &client).await {
            tracing::warn!(error = %error, "webhook delivery round failed");
        }
        tokio::select! {
            _ = changes.next() => {}
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

/// One round: fan out, claim, send, record. Returns how many were sent.
pub async fn tick(state: &AppState, client: &reqwest::Client) -> Result<usize, AppError> {
    let now = state.clock.now();
    state.db.run(move |conn| store::fan_out(conn, now)).await?;
    let claimed = state
        .db
        .run(move |conn| store::claim_due(conn, now, now + LEASE, BATCH))
        .await?;
    let lag = state.db.run(move |conn| store::delivery_lag_seconds(conn, now)).await?;
    state.metrics.webhook_lag.set(lag);
    if claimed.is_empty() {
        return Ok(0);
    }
    let outgoing = state.db.run(move |conn| store::outgoing(conn, &claimed)).await?;
    let allow_private = state.config.webhook_allow_private;
    let sent = futures_util::future::join_all(outgoing.into_iter().map(|o| async move {
        let outcome = deliver(client, &o, state.clock.now().timestamp(), allow_private).await;
        (o, outcome)
    }))
    .await;
    let count = sent.len();
    for (o, outcome) in sent {
        if !outcome.succeeded() {
            state.metrics.webhook_failures.inc();
        }
        let at = state.clock.now();
        let delivery = o.delivery;
        state
            .db
            .run(move |conn| store::record(conn, &delivery, &outcome, at))
            .await?;
    }
    Ok(count)
}

async fn refused_address(url: &url::Url) -> Option<String> {
    let host = url
        .host_str()?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let port = url.port_or_known_default().unwrap_or(443);
    match tokio::net::lookup_host((host.as_str(), port)).await {
        Ok(mut addresses) => addresses
            .any(|a| is_private(a.ip()))
            .then(|| "the URL resolves to a private address".into()),
        Err(error) => Some(format!("cannot resolve {host}: {error}")),
    }
}

/// Sends one delivery as Standard Webhooks: the same `webhook-id` on every
/// attempt, a fresh timestamp, and the signature over both and the body.
async fn deliver(client: &reqwest::Client, outgoing: &Outgoing, timestamp: i64, allow_private: bool) -> Outcome {
    let started = Instant::now();
    let elapsed = |started: Instant| i32::try_from(started.elapsed().as_millis()).unwrap_or(i32::MAX);
    let failed = |error: String| Outcome {
        status: None,
        error: Some(error),
        duration_ms: elapsed(started),
    };
    let Ok(url) = url::Url::parse(&outgoing.hook.url) else {
        return failed("the URL is not valid".into());
    };
    // Checked again at each delivery: a name may resolve elsewhere than it did.
    if !allow_private && let Some(reason) = refused_address(&url).await {
        return failed(reason);
    }
    let Some(key) = secret_key(&outgoing.hook.secret) else {
        return failed("the secret is not a whsec_ secret".into());
    };
    let event = &outgoing.event;
    let body = serde_json::json!({
        "id": event.id,
        "type": event.event_type,
        "timestamp": event.occurred_at,
        "data": event.data,
    })
    .to_string()
    .into_bytes();
    let message_id = format!("evt_{}", event.id);
    let response = client
        .post(url)
        .header("content-type", "application/json")
        .header("webhook-id", &message_id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature(&key, &message_id, timestamp, &body))
        .body(body)
        .send()
        .await;
    match response {
        Ok(response) => {
            let status = response.status().as_u16();
            let error = (!response.status().is_success()).then(|| format!("answered {status}"));
            Outcome {
                status: Some(status),
                error,
                duration_ms: elapsed(started),
            }
        }
        Err(error) => failed(error.without_url().to_string()),
    }
}

/// Refuses URLs on loopback or private networks unless allowed.
pub async fn check_url(url: &url::Url, allow_private: bool) -> Result<(), AppError> {
    if allow_private {
        return Ok(());
    }
    match refused_address(url).await {
        None => Ok(()),
        Some(reason) => Err(AppError::validation("url", FieldCode::UrlNotAllowed, reason)),
    }
}

/// Ids come from the path: one that is not a number names no webhook.
fn webhook_id(text: &str) -> Result<i64, AppError> {
    text.parse().map_err(|_| IntegrationError::WebhookNotFound.into())
}

/// Creates a webhook; it hears of events from now on.
pub async fn create(state: &AppState, actor: Actor, hook: NewWebhook) -> Result<WebhookRow, AppError> {
    check_url(&hook.url, state.config.webhook_allow_private).await?;
    let now = state.clock.now();
    state
        .db
        .transaction(move |conn| {
            let row = store::insert(
                conn,
                hook.url.as_str(),
                &hook.events,
                &hook.secret,
                actor.member_id,
                now,
            )?;
            let details = serde_json::json!({ "webhook_id": row.id, "url": row.url, "events": row.event_types });
            audit::record(conn, actor.audit(AuditAction::WebhookCreated, details), now)?;
            Ok(row)
        })
        .await
}

pub async fn list(state: &AppState, page: Page) -> Result<Paged<WebhookRow>, AppError> {
    state.db.run(move |conn| store::list(conn, page)).await
}

/// Deletes a webhook and its delivery log.
pub async fn remove(state: &AppState, actor: Actor, id: &str) -> Result<(), AppError> {
    let id = webhook_id(id)?;
    let now = state.clock.now();
    state
        .db
        .transaction(move |conn| {
            if !store::delete(conn, id)? {
                return Err(IntegrationError::WebhookNotFound.into());
            }
            let details = serde_json::json!({ "webhook_id": id });
            audit::record(conn, actor.audit(AuditAction::WebhookDeleted, details), now)
        })
        .await
}

/// A page of a webhook's deliveries, newest first, and how many there are.
/// A page of a webhook's delivery attempts, newest first.
pub async fn attempts(state: &AppState, id: &str, page: Page) -> Result<Paged<AttemptLog>, AppError> {
    let id = webhook_id(id)?;
    state
        .db
        .run(move |conn| {
            store::find(conn, id)?.ok_or(IntegrationError::WebhookNotFound)?;
            store::attempts(conn, id, page)
        })
        .await
}

/// Sends a delivery again, from the start of the retry schedule.
pub async fn redeliver(state: &AppState, actor: Actor, id: &str, delivery: &str) -> Result<(), AppError> {
    let not_found = IntegrationError::DeliveryNotFound;
    let id: i64 = id.parse().map_err(|_| not_found)?;
    let delivery: i64 = delivery.parse().map_err(|_| not_found)?;
    let now = state.clock.now();
    state
        .db
        .transaction(move |conn| {
            if !store::redeliver(conn, id, delivery, now)? {
                return Err(not_found.into());
            }
            let details = serde_json::json!({ "webhook_id": id, "delivery_id": delivery });
            audit::record(conn, actor.audit(AuditAction::WebhookRedelivered, details), now)
        })
        .await
}

//! HTTP handlers for webhooks.

use actix_web::{HttpResponse, delete, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::extract::{Superuser, SuperuserWriter};
use crate::auth::policy::Actor;
use crate::client_ip::ClientIp;
use crate::db::Db;
use crate::error::AppError;
use crate::http::mount::Routes;
use crate::input::{Json, Query};
use crate::integration::webhooks::model::NewWebhook;
use crate::integration::webhooks::service;
use crate::integration::webhooks::store::WebhookRow;
use crate::openapi::problems;
use crate::pagination::{PageParams, Paged};
use crate::state::AppState;

pub fn configure(config: &mut impl Routes) {
    config
        .service(create)
        .service(list)
        .service(remove)
        .service(deliveries)
        .service(redeliver);
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookRequest {
    /// http(s) URL; loopback and private networks only with MEMBERD_WEBHOOK_ALLOW_PRIVATE.
    #[schema(example = "https://forum.example.org/hooks/memberd")]
    pub url: String,
    /// Event types to receive, such as `sanction.applied`.
    #[schema(example = json!(["sanction.applied", "member.unregistered"]))]
    pub events: Vec<String>,
    /// `whsec_` and base64 of 16–64 bytes; generated when absent.
    pub secret: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedWebhook {
    pub id: i64,
    pub url: String,
    pub events: Vec<String>,
    /// Shown once: verify `webhook-signature` with it.
    pub secret: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
pub struct Webhook {
    pub id: i64,
    pub url: String,
    pub events: Vec<String>,
    pub created_at: DateTime<Utc>,
    /// Set when deliveries kept failing for a day.
    pub disabled_at: Option<DateTime<Utc>>,
    pub disabled_reason: Option<String>,
}

impl TryFrom<WebhookRequest> for NewWebhook {
    type Error = AppError;

    fn try_from(body: WebhookRequest) -> Result<Self, AppError> {
        NewWebhook::parse(&body.url, &body.events, body.secret).map_err(AppError::Validation)
    }
}

impl From<WebhookRow> for Webhook {
    fn from(row: WebhookRow) -> Self {
        Webhook {
            id: row.id,
            url: row.url,
            events: row.event_types,
            created_at: row.created_at,
            disabled_at: row.disabled_at,
            disabled_reason: row.disabled_reason,
        }
    }
}

problems!(
    CreateProblems: SuperuserWriter, Json<WebhookRequest>, Db;
    422: ValidationFailed = "`url` `invalid_url`/`url_not_allowed`; `events` `required`/`unknown_type`; `secret` `invalid`."
);

/// Subscribe a URL to events.
///
/// Deliveries follow Standard Webhooks (`webhook-id`, `webhook-timestamp`,
/// `webhook-signature`), are retried with backoff for a day (the first retry
/// within 10 s), and survive restarts. A hook whose deliveries fail for a day
/// is disabled.
#[utoipa::path(
    tag = "integration",
    security(("bearer" = [])),
    request_body = WebhookRequest,
    responses(
        (status = 201, description = "Subscribed; the secret is in the body, once.", body = CreatedWebhook),
        CreateProblems,
    )
)]
#[post("/webhooks")]
async fn create(
    state: web::Data<AppState>,
    SuperuserWriter(caller): SuperuserWriter,
    ClientIp(ip): ClientIp,
    Json(body): Json<WebhookRequest>,
) -> Result<HttpResponse, AppError> {
    let hook = NewWebhook::try_from(body)?;
    let secret = hook.secret.clone();
    let row = service::create(&state, Actor::new(&caller, ip), hook).await?;
    Ok(HttpResponse::Created().json(CreatedWebhook {
        id: row.id,
        url: row.url,
        events: row.event_types,
        secret,
        created_at: row.created_at,
    }))
}

problems!(
    ListProblems: Superuser, Query<PageParams>, Db;
    422: ValidationFailed = "Paging."
);

/// The webhooks (secrets are never shown again).
#[utoipa::path(
    operation_id = "list_webhooks",
    tag = "integration",
    security(("bearer" = [])),
    params(PageParams),
    responses(
        (status = 200, description = "A page of the webhooks, oldest first.", body = Paged<Webhook>, headers(("Link" = String, description = "The `next` and `prev` pages (RFC 8288), when there are."))),
        ListProblems,
    )
)]
#[get("/webhooks")]
async fn list(
    state: web::Data<AppState>,
    _: Superuser,
    Query(params): Query<PageParams>,
) -> Result<Paged<Webhook>, AppError> {
    Ok(service::list(&state, params.page()?).await?.map(Webhook::from))
}

problems!(
    RemoveProblems: SuperuserWriter, Db;
    404: WebhookNotFound
);

/// Delete a webhook and its delivery log.
#[utoipa::path(
    tag = "integration",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Webhook id.")),
    responses(
        (status = 204, description = "Deleted."),
        RemoveProblems,
    )
)]
#[delete("/webhooks/{id}")]
async fn remove(
    state: web::Data<AppState>,
    SuperuserWriter(caller): SuperuserWriter,
    ClientIp(ip): ClientIp,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    service::remove(&state, Actor::new(&caller, ip), &id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// One attempt to deliver an event, and where its delivery stands.
#[derive(Serialize, ToSchema)]
pub struct Delivery {
    /// The attempt.
    pub id: i64,
    /// The delivery this is an attempt of: what a redelivery names.
    pub delivery_id: i64,
    pub event_id: i64,
    pub event_type: String,
    pub attempted_at: DateTime<Utc>,
    /// The receiver's HTTP status; null when none came (timeout, refused, ...).
    pub response_status: Option<i32>,
    pub error: Option<String>,
    pub duration_ms: i32,
    /// The delivery's state now: `pending`, `delivered` or `failed` (gave up).
    pub delivery_state: String,
    /// When a pending delivery is tried next.
    pub next_attempt_at: Option<DateTime<Utc>>,
}

problems!(
    DeliveriesProblems: Superuser, Query<PageParams>, Db;
    404: WebhookNotFound;
    422: ValidationFailed = "Paging."
);

/// A webhook's delivery attempts, newest first: one item per attempt.
#[utoipa::path(
    tag = "integration",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Webhook id."), PageParams),
    responses(
        (status = 200, description = "A page of attempts.", body = Paged<Delivery>, headers(("Link" = String, description = "The `next` and `prev` pages (RFC 8288), when there are."))),
        DeliveriesProblems,
    )
)]
#[get("/webhooks/{id}/deliveries")]
async fn deliveries(
    state: web::Data<AppState>,
    _: Superuser,
    id: web::Path<String>,
    Query(params): Query<PageParams>,
) -> Result<Paged<Delivery>, AppError> {
    let attempts = service::attempts(&state, &id, params.page()?).await?;
    Ok(attempts.map(|(attempt, delivery, event_type)| Delivery {
        id: attempt.id,
        delivery_id: delivery.id,
        event_id: delivery.event_id,
        event_type,
        attempted_at: attempt.attempted_at,
        response_status: attempt.response_status,
        error: attempt.error,
        duration_ms: attempt.duration_ms,
        next_attempt_at: (delivery.state == "pending").then_some(delivery.next_attempt_at),
        delivery_state: delivery.state,
    }))
}

problems!(
    RedeliverProblems: SuperuserWriter, Db;
    404: DeliveryNotFound
);

/// Send a delivery again (with the same `webhook-id`), from the start of the retry schedule.
#[utoipa::path(
    tag = "integration",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Webhook id."), ("delivery" = i64, Path, description = "Delivery id.")),
    responses(
        (status = 202, description = "Queued for delivery."),
        RedeliverProblems,
    )
)]
#[post("/webhooks/{id}/deliveries/{delivery}/redelivery")]
async fn redeliver(
    state: web::Data<AppState>,
    SuperuserWriter(caller): SuperuserWriter,
    ClientIp(ip): ClientIp,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let (id, delivery) = path.into_inner();
    service::redeliver(&state, Actor::new(&caller, ip), &id, &delivery).await?;
    Ok(HttpResponse::Accepted().finish())
}

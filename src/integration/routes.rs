//! HTTP handlers for service clients and the event feed.

use actix_web::{HttpResponse, delete, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::IntoParams;
use utoipa::ToSchema;

use crate::auth::extract::{EventsRead, StaffOrKey, Superuser, SuperuserWriter};
use crate::auth::policy::Actor;
use crate::client_ip::ClientIp;
use crate::db::Db;
use crate::error::AppError;
use crate::http::mount::Routes;
use crate::input::{Json, Query};
use crate::integration::model::{EventQuery, Scope, parse_client};
use crate::integration::service;
use crate::integration::store::ClientRow;
use crate::openapi::problems;
use crate::pagination::{PageParams, Paged};

use crate::state::AppState;

pub fn configure(config: &mut impl Routes) {
    config
        .service(create_client)
        .service(list_clients)
        .service(revoke_client)
        .service(event_feed);
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientRequest {
    /// 1–100 characters, not all white space.
    #[schema(example = "forum", min_length = 1, max_length = 100, pattern = "{filled}")]
    pub name: String,
    /// At least one.
    #[schema(example = json!(["status:read"]), min_items = 1)]
    pub scopes: Vec<ScopeName>,
}

/// What a key lets its service do: `status:read` (status, one or in batch),
/// `members:read` (the directory and public profiles, with `is_active` and
/// roles), `events:read` (the event feed).
#[derive(Clone, Copy, Deserialize, ToSchema)]
pub enum ScopeName {
    #[serde(rename = "status:read")]
    StatusRead,
    #[serde(rename = "members:read")]
    MembersRead,
    #[serde(rename = "events:read")]
    EventsRead,
}

impl From<ScopeName> for Scope {
    fn from(name: ScopeName) -> Self {
        match name {
            ScopeName::StatusRead => Scope::StatusRead,
            ScopeName::MembersRead => Scope::MembersRead,
            ScopeName::EventsRead => Scope::EventsRead,
        }
    }
}

/// A service client, with its key: shown this once, never again.
#[derive(Serialize, ToSchema)]
pub struct CreatedClient {
    pub id: i64,
    pub name: String,
    pub scopes: Vec<String>,
    /// Send it as `Authorization: Bearer <key>`.
    pub key: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
pub struct ServiceClient {
    pub id: i64,
    pub name: String,
    pub scopes: Vec<String>,
    /// The start of the key, to recognise it.
    pub key_prefix: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<ClientRow> for ServiceClient {
    fn from(row: ClientRow) -> Self {
        ServiceClient {
            id: row.id,
            name: row.name,
            scopes: row.scopes,
            key_prefix: row.key_prefix,
            created_at: row.created_at,
            last_used_at: row.last_used_at,
            revoked_at: row.revoked_at,
        }
    }
}

problems!(
    CreateClientProblems: SuperuserWriter, Json<ClientRequest>, Db;
    422: ValidationFailed = "`name` `invalid_length`; `scopes` `required`."
);

/// Create a service client and its API key.
#[utoipa::path(
    tag = "integration",
    security(("bearer" = [])),
    request_body = ClientRequest,
    responses(
        (status = 201, description = "Created; the key is in the body, once.", body = CreatedClient),
        CreateClientProblems,
    )
)]
#[post("/service-clients")]
async fn create_client(
    state: web::Data<AppState>,
    SuperuserWriter(caller): SuperuserWriter,
    ClientIp(ip): ClientIp,
    Json(body): Json<ClientRequest>,
) -> Result<HttpResponse, AppError> {
    let scopes: Vec<Scope> = body.scopes.iter().copied().map(Scope::from).collect();
    let (name, scopes) = parse_client(&body.name, &scopes).map_err(AppError::Validation)?;
    let (row, key) = service::create_client(&state, Actor::new(&caller, ip), name, scopes).await?;
    Ok(HttpResponse::Created().json(CreatedClient {
        id: row.id,
        name: row.name,
        scopes: row.scopes,
        key,
        created_at: row.created_at,
    }))
}

problems!(
    ListClientsProblems: Superuser, Query<PageParams>, Db;
    422: ValidationFailed = "Paging."
);

/// The service clients (keys are never shown again).
#[utoipa::path(
    tag = "integration",
    security(("bearer" = [])),
    params(PageParams),
    responses(
        (status = 200, description = "A page of the clients, oldest first, revoked ones included.", body = Paged<ServiceClient>, headers(("Link" = String, description = "The `next` and `prev` pages (RFC 8288), when there are."))),
        ListClientsProblems,
    )
)]
#[get("/service-clients")]
async fn list_clients(
    state: web::Data<AppState>,
    _: Superuser,
    Query(params): Query<PageParams>,
) -> Result<Paged<ServiceClient>, AppError> {
    Ok(service::list_clients(&state, params.page()?)
        .await?
        .map(ServiceClient::from))
}

problems!(
    RevokeClientProblems: SuperuserWriter, Db;
    404: ServiceClientNotFound
);

/// Revoke a service client's key: it stops working at once.
#[utoipa::path(
    tag = "integration",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Service client id.")),
    responses(
        (status = 204, description = "Revoked."),
        RevokeClientProblems,
    )
)]
#[delete("/service-clients/{id}")]
async fn revoke_client(
    state: web::Data<AppState>,
    SuperuserWriter(caller): SuperuserWriter,
    ClientIp(ip): ClientIp,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    service::revoke_client(&state, Actor::new(&caller, ip), &id).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventParams {
    /// A `next_cursor` from an earlier answer; absent: from the oldest kept event.
    #[param(pattern = r"^([0-9]{1,19}-)?[0-9]{0,19}$")]
    pub after: Option<String>,
    /// Comma-separated event types, such as `sanction.applied,member.unregistered`.
    #[param(pattern = "{event_types}")]
    pub types: Option<String>,
    /// Hold the request up to this long, `1s` to `60s`, until an event arrives.
    #[param(pattern = r"^([1-9]|[1-5][0-9]|60)s$")]
    pub wait: Option<String>,
    /// At most this many events (1–1,000; 100 by default).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct Event {
    pub id: i64,
    #[serde(rename = "type")]
    #[schema(example = "sanction.applied")]
    pub type_: String,
    pub occurred_at: DateTime<Utc>,
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

#[derive(Serialize, ToSchema)]
pub struct EventPage {
    /// In commit order, oldest first.
    pub items: Vec<Event>,
    /// Pass as `after` to continue; unchanged when there was nothing new.
    pub next_cursor: String,
}

problems!(
    EventFeedProblems: StaffOrKey<EventsRead>, Query<EventParams>, Db;
    422: ValidationFailed = "`after` `invalid`, `types` `unknown_type`, `wait` `invalid`/`too_long`, `limit` `out_of_range`."
);

/// The event feed: what changed, in order, from a cursor.
///
/// With `wait`, an empty answer is held until an event arrives (each
/// replica watches the feed's head every 20 ms) or the wait runs out. Events
/// are written in the transaction of their change and read in the order of
/// their transactions, only once every older transaction has ended, so
/// following `next_cursor` never skips one, and writers never wait on each
/// other. A transaction that runs long holds the feed back until it ends.
#[utoipa::path(
    tag = "integration",
    security(("bearer" = [])),
    params(EventParams),
    responses(
        (status = 200, description = "Events after the cursor.", body = EventPage),
        EventFeedProblems,
    )
)]
#[get("/events")]
async fn event_feed(
    state: web::Data<AppState>,
    _: StaffOrKey<EventsRead>,
    Query(params): Query<EventParams>,
) -> Result<web::Json<EventPage>, AppError> {
    let (rows, next_cursor) = service::events_after(&state, params.try_into()?).await?;
    let items = rows
        .into_iter()
        .map(|r| Event {
            id: r.id,
            type_: r.event_type,
            occurred_at: r.occurred_at,
            data: r.data,
        })
        .collect();
    Ok(web::Json(EventPage {
        items,
        next_cursor: next_cursor.to_string(),
    }))
}

impl TryFrom<EventParams> for EventQuery {
    type Error = AppError;

    fn try_from(params: EventParams) -> Result<Self, AppError> {
        EventQuery::parse(
            params.after.as_deref(),
            params.types.as_deref(),
            params.wait.as_deref(),
            params.limit,
        )
        .map_err(AppError::Validation)
    }
}

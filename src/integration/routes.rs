//! HTTP handlers for service clients.

use actix_web::{HttpResponse, delete, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::app::AppState;
use crate::auth::extract::{Caller, Writer};
use crate::client_ip::ClientIp;
use crate::error::{AppError, Problem};
use crate::integration::clients::{self, ApiKey, ClientRow};
use crate::openapi::{AuthProblems, BodyProblems};
use crate::staff::audit::{self, AuditEntry};
use crate::staff::service::superuser_only;

pub fn configure(config: &mut ServiceConfig) {
    config
        .service(create_client)
        .service(list_clients)
        .service(revoke_client);
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientRequest {
    /// 1–100 characters.
    #[schema(example = "forum")]
    pub name: String,
    /// `status:read`, `members:read`, `events:read`.
    #[schema(example = json!(["status:read"]))]
    pub scopes: Vec<String>,
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

/// Create a service client and its API key.
#[utoipa::path(
    tag = "integration",
    security(("bearer" = [])),
    request_body = ClientRequest,
    responses(
        (status = 201, description = "Created; the key is in the body, once.", body = CreatedClient),
        BodyProblems,
        (status = 403, description = "`superuser_only`, `member_read_only`/`member_banned`.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: `name` `invalid_length`; `scopes` `required`/`unknown_scope`.", body = Problem, content_type = "application/problem+json"),
        AuthProblems,
    )
)]
#[post("/service-clients")]
async fn create_client(
    state: web::Data<AppState>,
    Writer(caller): Writer,
    ClientIp(ip): ClientIp,
    body: web::Json<ClientRequest>,
) -> Result<HttpResponse, AppError> {
    superuser_only(caller.is_superuser)?;
    let (name, scopes) = clients::parse_client(&body.name, &body.scopes).map_err(AppError::Validation)?;
    let key = ApiKey::generate();
    let now = state.clock.now();
    let text = key.text.clone();
    let row = state
        .db
        .transaction(move |conn| {
            let row = clients::insert(conn, &name, &scopes, &key, caller.member_id, now)?;
            let ip = ip.to_string();
            audit::record(
                conn,
                AuditEntry {
                    actor_id: caller.member_id,
                    action: "service_client.created",
                    target_member_id: None,
                    target: Some(&row.name),
                    reason: None,
                    ip: &ip,
                    details: serde_json::json!({ "service_client_id": row.id, "scopes": row.scopes }),
                },
                now,
            )?;
            Ok(row)
        })
        .await?;
    Ok(HttpResponse::Created().json(CreatedClient {
        id: row.id,
        name: row.name,
        scopes: row.scopes,
        key: text,
        created_at: row.created_at,
    }))
}

/// The service clients (keys are never shown again).
#[utoipa::path(
    tag = "integration",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "All clients, revoked ones included.", body = Vec<ServiceClient>),
        (status = 403, description = "`superuser_only`.", body = Problem, content_type = "application/problem+json"),
        AuthProblems,
    )
)]
#[get("/service-clients")]
async fn list_clients(state: web::Data<AppState>, caller: Caller) -> Result<web::Json<Vec<ServiceClient>>, AppError> {
    superuser_only(caller.is_superuser)?;
    let rows = state.db.run(clients::list).await?;
    Ok(web::Json(rows.into_iter().map(ServiceClient::from).collect()))
}

/// Revoke a service client's key: it stops working at once.
#[utoipa::path(
    tag = "integration",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Service client id.")),
    responses(
        (status = 204, description = "Revoked."),
        (status = 403, description = "`superuser_only`, `member_read_only`/`member_banned`.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`service_client_not_found` (or already revoked).", body = Problem, content_type = "application/problem+json"),
        AuthProblems,
    )
)]
#[delete("/service-clients/{id}")]
async fn revoke_client(
    state: web::Data<AppState>,
    Writer(caller): Writer,
    ClientIp(ip): ClientIp,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    superuser_only(caller.is_superuser)?;
    let not_found = || AppError::not_found("service_client_not_found", "No such live service client.");
    let id: i64 = id.parse().map_err(|_| not_found())?;
    let now = state.clock.now();
    state
        .db
        .transaction(move |conn| {
            if !clients::revoke(conn, id, now)? {
                return Err(not_found());
            }
            let ip = ip.to_string();
            audit::record(
                conn,
                AuditEntry {
                    actor_id: caller.member_id,
                    action: "service_client.revoked",
                    target_member_id: None,
                    target: None,
                    reason: None,
                    ip: &ip,
                    details: serde_json::json!({ "service_client_id": id }),
                },
                now,
            )
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

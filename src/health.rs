//! Liveness and readiness for orchestrators and load balancers.

use actix_web::{HttpResponse, get, web};
use diesel::RunQueryDsl;
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::Db;
use crate::error::AppError;
use crate::http::mount::Routes;
use crate::openapi::problems;
use crate::state::AppState;

pub fn configure(config: &mut impl Routes) {
    config.service(live).service(ready);
}

#[derive(Serialize, ToSchema)]
pub struct Health {
    #[schema(example = "ok")]
    pub status: String,
}

/// The process is up and answering.
#[utoipa::path(tag = "operations", responses((status = 200, description = "Alive.", body = Health)))]
#[get("/health/live")]
async fn live() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: "ok".into() })
}

problems!(
    ReadyProblems: Db
);

/// The service can serve requests: its database answers.
#[utoipa::path(
    tag = "operations",
    responses(
        (status = 200, description = "Ready.", body = Health),
        ReadyProblems,
    )
)]
#[get("/health/ready")]
async fn ready(state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    state
        .db
        .run(|conn| {
            diesel::sql_query("SELECT 1")
                .execute(conn)
                .map_err(|e| AppError::Unavailable(format!("database check failed: {e}")))
        })
        .await?;
    Ok(HttpResponse::Ok().json(Health { status: "ok".into() }))
}

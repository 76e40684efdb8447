//! HTTP handlers for the forbidden e-mail domains.

use actix_web::{HttpResponse, delete, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::extract::{Staff, StaffWriter};
use crate::auth::policy::Actor;
use crate::client_ip::ClientIp;
use crate::db::Db;
use crate::error::AppError;
use crate::http::mount::Routes;
use crate::input::{Json, Query};
use crate::openapi::problems;
use crate::pagination::{Page, Paged};
use crate::staff::model::{StaffError, parse_domain};
use crate::staff::service::{self};
use crate::state::AppState;

pub fn configure(config: &mut impl Routes) {
    config.service(list_domains).service(add_domain).service(remove_domain);
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DomainParams {
    /// Prefix of the domain.
    pub q: Option<String>,
    #[param(minimum = 1, maximum = 1_000_000)]
    pub page: Option<i64>,
    #[param(minimum = 1, maximum = 100)]
    pub per_page: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct ForbiddenDomain {
    pub domain: String,
    pub created_at: DateTime<Utc>,
}

problems!(
    ListDomainsProblems: Staff, Query<DomainParams>, Db;
    422: ValidationFailed = "Paging."
);

/// Forbidden e-mail domains: a domain and all its subdomains are refused at registration.
#[utoipa::path(
    tag = "staff",
    security(("bearer" = [])),
    params(DomainParams),
    responses(
        (status = 200, description = "A page of domains.", body = Paged<ForbiddenDomain>, headers(("Link" = String, description = "The `next` and `prev` pages (RFC 8288), when there are."))),
        ListDomainsProblems,
    )
)]
#[get("/forbidden-email-domains")]
async fn list_domains(
    state: web::Data<AppState>,
    _: Staff,
    Query(params): Query<DomainParams>,
) -> Result<Paged<ForbiddenDomain>, AppError> {
    let page = Page::parse(params.page, params.per_page).map_err(AppError::Validation)?;
    let prefix = params.q.map(|q| q.trim().to_lowercase()).filter(|q| !q.is_empty());
    let (rows, total) = service::domains(&state, prefix, page.offset(), page.per_page).await?;
    Ok(Paged::new(
        rows.into_iter()
            .map(|(domain, created_at)| ForbiddenDomain { domain, created_at })
            .collect(),
        page,
        total,
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DomainRequest {
    /// A domain, in any case, with at most one trailing dot: its subdomains are refused too.
    /// `name.*` refuses that name under any top-level domain (`yopmail.*`: `yopmail.com`,
    /// `yopmail.fr`) and their subdomains; there is no other wildcard.
    #[schema(
        example = "spam.example",
        pattern = r"^(?=.{1,253}\.?$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*(\.|\.\*)?$"
    )]
    pub domain: String,
}

problems!(
    AddDomainProblems: StaffWriter, Json<DomainRequest>, Db;
    409: DomainExists;
    422: ValidationFailed = "`domain` `invalid`."
);

/// Forbid an e-mail domain (and its subdomains), or a name under any top-level domain (`name.*`).
#[utoipa::path(
    tag = "staff",
    security(("bearer" = [])),
    request_body = DomainRequest,
    responses(
        (status = 201, description = "Forbidden from now on.", body = ForbiddenDomain),
        AddDomainProblems,
    )
)]
#[post("/forbidden-email-domains")]
async fn add_domain(
    state: web::Data<AppState>,
    StaffWriter(caller): StaffWriter,
    ClientIp(ip): ClientIp,
    Json(body): Json<DomainRequest>,
) -> Result<HttpResponse, AppError> {
    let domain = parse_domain(&body.domain).map_err(|e| AppError::Validation(vec![e]))?;
    service::change_domain(&state, Actor::new(&caller, ip), domain.clone(), true).await?;
    Ok(HttpResponse::Created().json(ForbiddenDomain {
        domain,
        created_at: state.clock.now(),
    }))
}

problems!(
    RemoveDomainProblems: StaffWriter, Db;
    404: DomainNotFound
);

/// Allow an e-mail domain again.
#[utoipa::path(
    tag = "staff",
    security(("bearer" = [])),
    params(("domain" = String, Path, description = "The domain.")),
    responses(
        (status = 204, description = "Removed from the list."),
        RemoveDomainProblems,
    )
)]
#[delete("/forbidden-email-domains/{domain}")]
async fn remove_domain(
    state: web::Data<AppState>,
    StaffWriter(caller): StaffWriter,
    ClientIp(ip): ClientIp,
    domain: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let domain = parse_domain(&domain).map_err(|_| StaffError::DomainNotFound(domain.to_string()))?;
    service::change_domain(&state, Actor::new(&caller, ip), domain, false).await?;
    Ok(HttpResponse::NoContent().finish())
}

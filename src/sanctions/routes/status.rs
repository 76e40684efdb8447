//! Member status, one or in batch: what other services ask many times a second.

use actix_web::{HttpRequest, HttpResponse, get, http::header, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::Digest;
use utoipa::{IntoParams, ToSchema};

use crate::auth::extract::{Scoped, StaffOrKey, StatusRead};
use crate::auth::policy;
use crate::db::Db;
use crate::error::{AppError, ErrorCode, FieldCode, FieldError};
use crate::http::mount::Routes;
use crate::input::{Json, Query};
use crate::members::model::MemberError;
use crate::members::model::MemberKey;
use crate::openapi::problems;
use crate::sanctions::request::parse_resource;
use crate::sanctions::service;
use crate::sanctions::standing::{StatusView, until_to_option};
use crate::state::AppState;

/// The routes other services call many times a second (see `app::routes_config`).
pub fn configure(config: &mut impl Routes) {
    config.service(status).service(batch_status);
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatusParams {
    /// The resource asked about, such as `forum:42`: global sanctions and this resource's count.
    /// 1–200 characters, no control characters.
    #[param(pattern = r"^[^\u0000-\u001f\u007f-\u009f]{1,200}$")]
    pub resource: Option<String>,
}

/// A running sanction, as the member and services see it.
#[derive(Serialize, ToSchema)]
pub struct PublicSanction {
    pub id: i64,
    pub kind: String,
    pub resource: Option<String>,
    pub reason: String,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
}

/// What a member may do.
#[derive(Serialize, ToSchema)]
pub struct MemberStatus {
    pub can_read: bool,
    pub can_write: bool,
    /// End of the whole ban queue; null when permanent or when no ban applies.
    pub banned_until: Option<DateTime<Utc>>,
    /// End of the whole read-only queue; null when permanent or when none applies.
    pub read_only_until: Option<DateTime<Utc>>,
    pub active_sanctions: Vec<PublicSanction>,
}

impl From<StatusView> for MemberStatus {
    fn from(view: StatusView) -> Self {
        MemberStatus {
            can_read: view.status.can_read(),
            can_write: view.status.can_write(),
            banned_until: view.status.banned_until.and_then(until_to_option),
            read_only_until: view.status.read_only_until.and_then(until_to_option),
            active_sanctions: view
                .active
                .into_iter()
                .map(|row| PublicSanction {
                    id: row.id,
                    kind: row.kind.as_str().into(),
                    resource: row.resource,
                    reason: row.reason,
                    starts_at: row.starts_at,
                    ends_at: row.ends_at,
                })
                .collect(),
        }
    }
}

/// A cacheable status answer: `ETag` from the body, `Cache-Control` from
/// MEMBERD_STATUS_MAX_AGE, and 304 when the caller already has it.
fn cacheable<T: Serialize>(request: &HttpRequest, max_age: u64, body: &T) -> Result<HttpResponse, AppError> {
    let json = serde_json::to_vec(body).map_err(AppError::internal)?;
    let digest = sha2::Sha256::digest(&json);
    let etag = format!("\"{}\"", hex::encode(&digest[..16]));
    let cache = format!("private, max-age={max_age}");
    let matches = request
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|tag| tag.trim() == etag || tag.trim() == "*"));
    let mut response = if matches {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    response
        .insert_header((header::ETAG, etag))
        .insert_header((header::CACHE_CONTROL, cache));
    Ok(if matches {
        response.finish()
    } else {
        response.content_type("application/json").body(json)
    })
}

problems!(
    StatusProblems: Scoped<StatusRead>, Query<StatusParams>, Db;
    403: Forbidden = "A member asking about another.",
        MfaRequiredForStaff = "Staff asking about another member from a session without a second factor, when `MEMBERD_STAFF_MFA=required`.";
    404: MemberNotFound;
    422: ValidationFailed = "`resource` `invalid_length`."
);

/// Whether a member may read and write, globally or where `resource` is asked about.
///
/// For the member, staff, and service clients with `status:read`. Expired
/// sanctions stop applying at their end instant, whether or not any
/// background job has run. Answers carry an `ETag` and a short `Cache-Control`.
#[utoipa::path(
    tag = "sanctions",
    security(("bearer" = [])),
    params(("member" = String, Path, description = "Numeric id, username, or `me` for the caller."), StatusParams),
    responses(
        (status = 200, description = "The status.", body = MemberStatus),
        (status = 304, description = "Unchanged since the `If-None-Match` ETag."),
        StatusProblems,
    )
)]
#[get("/members/{member}/status")]
async fn status(
    state: web::Data<AppState>,
    request: HttpRequest,
    Scoped(principal, _): Scoped<StatusRead>,
    member: web::Path<String>,
    Query(params): Query<StatusParams>,
) -> Result<HttpResponse, AppError> {
    let resource = params
        .resource
        .as_deref()
        .map(|r| parse_resource("resource", r))
        .transpose()
        .map_err(|e| AppError::Validation(vec![e]))?;
    let target = state
        .cache
        .member(
            &state.db,
            state.clock.now(),
            MemberKey::parse(&member, principal.member_id()),
        )
        .await?
        .ok_or(MemberError::NotFound)?;
    policy::may_read_status_of(&principal, target.member.id)?;
    let view = service::status(&state, &target, resource.as_deref()).await?;
    cacheable(
        &request,
        state.config.status_max_age.as_secs(),
        &MemberStatus::from(view),
    )
}

/// A member as a batch names them: a numeric id, or text (a username, or an
/// id written as text); answered as it was asked.
#[derive(Clone, Deserialize, Serialize, ToSchema)]
#[serde(untagged)]
pub enum AskedMember {
    Id(#[serde(deserialize_with = "crate::input::integer")] i64),
    Text(String),
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    /// Up to 1,000 members: numeric ids (as numbers or strings) or usernames.
    #[schema(max_items = 1000, example = json!([42, "alice"]))]
    pub members: Vec<AskedMember>,
    /// The resource asked about; global sanctions always count. 1–200 characters, no control characters.
    #[schema(pattern = r"^[^\u0000-\u001f\u007f-\u009f]{1,200}$")]
    pub resource: Option<String>,
}

impl BatchRequest {
    /// The members asked about (`me` is the calling member) and the resource.
    fn keys_for(&self, caller: Option<i64>) -> Result<(Vec<MemberKey>, Option<String>), AppError> {
        let mut errors: Vec<FieldError> = Vec::new();
        if self.members.len() > BATCH_MAX {
            errors.push(FieldError::new(
                "members",
                FieldCode::TooMany,
                "At most 1000 members per request.",
            ));
        }
        let keys: Vec<MemberKey> = self
            .members
            .iter()
            .map(|asked| match asked {
                AskedMember::Id(id) => MemberKey::Id(*id),
                AskedMember::Text(text) => MemberKey::parse(text, caller),
            })
            .collect();
        let resource = self
            .resource
            .as_deref()
            .map(|r| parse_resource("resource", r))
            .transpose()
            .map_err(|e| errors.push(e))
            .ok()
            .flatten();
        if errors.is_empty() {
            Ok((keys, resource))
        } else {
            Err(AppError::Validation(errors))
        }
    }
}

/// One member of a batch answer: `status`, or `error` (`not_found`).
#[derive(Serialize, ToSchema)]
pub struct BatchItem {
    /// The member as asked.
    pub member: AskedMember,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<MemberStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct BatchResponse {
    /// In the order asked.
    pub items: Vec<BatchItem>,
}

pub const BATCH_MAX: usize = 1_000;

problems!(
    BatchStatusProblems: StaffOrKey<StatusRead>, Json<BatchRequest>, Db;
    422: ValidationFailed = "`members` `too_many` (over 1,000) or `invalid_type`; `resource` `invalid_length`."
);

/// The status of many members at once.
#[utoipa::path(
    tag = "sanctions",
    security(("bearer" = [])),
    request_body = BatchRequest,
    responses(
        (status = 200, description = "Statuses in request order.", body = BatchResponse),
        (status = 304, description = "Unchanged since the `If-None-Match` ETag."),
        BatchStatusProblems,
    )
)]
#[post("/status/batch")]
async fn batch_status(
    state: web::Data<AppState>,
    request: HttpRequest,
    StaffOrKey(principal, _): StaffOrKey<StatusRead>,
    Json(body): Json<BatchRequest>,
) -> Result<HttpResponse, AppError> {
    let (keys, resource) = body.keys_for(principal.member_id())?;
    let statuses = service::statuses(&state, keys, resource).await?;
    let items = body
        .members
        .into_iter()
        .zip(statuses)
        .map(|(member, found)| match found {
            Some(view) => BatchItem {
                member,
                status: Some(view.into()),
                error: None,
            },
            None => BatchItem {
                member,
                status: None,
                error: Some(ErrorCode::NotFound.as_str().into()),
            },
        })
        .collect();
    cacheable(
        &request,
        state.config.status_max_age.as_secs(),
        &BatchResponse { items },
    )
}

//! HTTP handlers for sanctions; member status, which other services ask,
//! is in `status`.

pub mod status;

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::extract::{Caller, Staff};
use crate::auth::policy::Actor;
use crate::client_ip::ClientIp;
use crate::db::Db;
use crate::error::{AppError, FieldCode, FieldError};
use crate::http::mount::Routes;
use crate::http::wire::{MemberRef, path_id};
use crate::input::{Json, Query};
use crate::members::model::MemberKey;
use crate::openapi::problems;
use crate::pagination::{Page, PageParams, Paged};
use crate::sanctions::model::{Action, EndingKind, Refusal, SanctionError};
use crate::sanctions::request::{REASON_MAX_CHARS, SanctionRequest, parse_reason, parse_resource};
use crate::sanctions::service::{self, ListQuery, SanctionView};
use crate::state::AppState;

pub fn configure(config: &mut impl Routes) {
    config
        .service(apply)
        .service(member_sanctions)
        .service(list)
        .service(get_one)
        .service(forgive)
        .service(revert);
}

/// A sanction, or a lift.
#[derive(Serialize, ToSchema)]
pub struct Sanction {
    pub id: i64,
    pub member: MemberRef,
    /// `read_only`, `ban`, `lift_read_only` or `lift_ban`.
    pub kind: String,
    /// The resource it applies to; null: everywhere.
    pub resource: Option<String>,
    /// Shown to the member and to services.
    pub reason: String,
    /// The moderator's note, for staff; null on a sanction about the caller
    /// (staff are sanctioned too, and never read what was noted about them).
    pub private_note: Option<String>,
    pub moderator: MemberRef,
    pub created_at: DateTime<Utc>,
    /// When it starts (or started); null while waiting behind a permanent one, or if it never ran.
    pub starts_at: Option<DateTime<Utc>>,
    /// When it ends (or ended); null when permanent.
    pub ends_at: Option<DateTime<Utc>>,
    /// `queued`, `active`, `expired`, `forgiven`, `reverted`, `lifted`, or `replaced` (imported
    /// history: ended by the next sanction of its kind, as the software it came from did).
    pub state: String,
    pub ended_at: Option<DateTime<Utc>>,
    pub ended_by: Option<MemberRef>,
    pub end_reason: Option<String>,
}

impl Sanction {
    /// The sanction as `viewer` (a member of staff) may read it.
    pub fn seen_by(view: SanctionView, viewer: i64) -> Self {
        let row = view.row;
        let never_ran = row.starts_at.is_none() && row.ended_kind.is_some();
        Sanction {
            id: row.id,
            member: MemberRef {
                id: row.member_id,
                username: view.member_name,
            },
            kind: row.kind.as_str().into(),
            resource: row.resource,
            reason: row.reason,
            private_note: (row.member_id != viewer).then_some(row.private_note),
            moderator: MemberRef {
                id: row.moderator_id,
                username: view.moderator_name,
            },
            created_at: row.created_at,
            starts_at: row.starts_at,
            ends_at: if never_ran { row.ended_at } else { row.ends_at },
            state: view.state.as_str().into(),
            ended_at: row.ended_at,
            ended_by: row
                .ended_by
                .zip(view.ended_by_name)
                .map(|(id, username)| MemberRef { id, username }),
            end_reason: row.end_reason,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SanctionRequestBody {
    /// `read_only`, `ban`, `lift_read_only` or `lift_ban`.
    #[schema(example = "ban", pattern = r"^(read_only|ban|lift_read_only|lift_ban)$")]
    pub kind: String,
    /// Shown to the member and to services; 1–1,000 characters, not all white space.
    #[schema(min_length = 1, max_length = 1000, pattern = "{filled}")]
    pub reason: String,
    /// Shown to staff only; at most 2,000 characters.
    #[schema(max_length = 2000)]
    pub private_note: Option<String>,
    /// `30m`, `1d12h`, `1w2d3h4m5s` or ISO 8601 (`P1D`); absent: permanent. Not for lifts.
    /// Not zero; numbers of at most 3 digits for weeks, 4 for days, 5 for hours, 7 for minutes, 8 for seconds.
    #[schema(example = "1d", pattern = "{duration}")]
    pub duration: Option<String>,
    /// Scope, such as `forum:42`; absent: everywhere. 1–200 characters, no control characters.
    #[schema(pattern = r"^[^\u0000-\u001f\u007f-\u009f]{1,200}$")]
    pub resource: Option<String>,
}

/// The body of a sanction request as the document states it: a sanction
/// (read-only or ban, for a while or for good) or a lift, which has no
/// duration. The server reads both as one [`SanctionRequestBody`] and refuses
/// a lift's duration on its own field.
pub struct SanctionOrLift;

impl utoipa::PartialSchema for SanctionOrLift {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::RefOr;
        use utoipa::openapi::schema::{AdditionalProperties, OneOfBuilder, Schema};
        let fields = match SanctionRequestBody::schema() {
            RefOr::T(Schema::Object(fields)) => fields,
            other => return other,
        };
        let shape = |kinds: &str, description: &str, duration: bool| {
            let mut object = fields.clone();
            object.description = Some(description.to_string());
            object.additional_properties = Some(Box::new(AdditionalProperties::FreeForm(false)));
            if let Some(RefOr::T(Schema::Object(kind))) = object.properties.get_mut("kind") {
                kind.pattern = Some(kinds.to_string());
                kind.description = None;
            }
            if !duration {
                object.properties.shift_remove("duration");
            }
            object
        };
        OneOfBuilder::new()
            .item(shape(
                "^(read_only|ban)$",
                "A sanction: `read_only` or `ban`, temporary with a `duration`, permanent without.",
                true,
            ))
            .item(shape(
                "^(lift_read_only|lift_ban)$",
                "A lift: ends every running and queued sanction of its kind (on its `resource`). No duration.",
                false,
            ))
            .into()
    }
}

impl ToSchema for SanctionOrLift {}

problems!(
    ApplyProblems: Staff, Json<SanctionRequestBody>, Refusal, Db;
    403: MemberReadOnly = "The moderator's own standing.";
    404: MemberNotFound;
    422: ValidationFailed = "`kind` `invalid`; `reason` `required`/`too_long`; `duration` `invalid` (zero, negative, malformed) or `not_allowed` (lifts); `resource` `invalid_length`."
);

/// Sanction a member, or lift their sanctions of a kind.
///
/// Sanctions of one kind and resource queue: a temporary one starts when the
/// one before it ends; a permanent one blocks the queue. A ban ends the
/// member's sessions at once. The member is e-mailed the public reason and end.
#[utoipa::path(
    tag = "sanctions",
    security(("bearer" = [])),
    params(("member" = String, Path, description = "Numeric id, username, or `me` for the caller.")),
    request_body = SanctionOrLift,
    responses(
        (status = 201, description = "Applied.", body = Sanction),
        ApplyProblems,
    )
)]
#[post("/members/{member}/sanctions")]
async fn apply(
    state: web::Data<AppState>,
    Staff(caller): Staff,
    ClientIp(ip): ClientIp,
    member: web::Path<String>,
    Json(body): Json<SanctionRequestBody>,
) -> Result<HttpResponse, AppError> {
    let request = SanctionRequest::parse(
        &body.kind,
        &body.reason,
        body.private_note.as_deref(),
        body.duration.as_deref(),
        body.resource.as_deref(),
    )
    .map_err(AppError::Validation)?;
    let actor = Actor {
        member_id: caller.member_id,
        ip: ip.to_string(),
    };
    let view = service::apply(
        &state,
        actor,
        MemberKey::parse(&member, Some(caller.member_id)),
        request,
    )
    .await?;
    Ok(HttpResponse::Created().json(Sanction::seen_by(view, caller.member_id)))
}

problems!(
    MemberSanctionsProblems: Staff, Query<PageParams>, Db;
    404: MemberNotFound;
    422: ValidationFailed = "Paging."
);

/// A member's sanction history: running first, then queued, then the rest, newest first.
#[utoipa::path(
    tag = "sanctions",
    security(("bearer" = [])),
    params(("member" = String, Path, description = "Numeric id, username, or `me` for the caller."), PageParams),
    responses(
        (status = 200, description = "A page of the history, lifts included.", body = Paged<Sanction>, headers(("Link" = String, description = "The `next` and `prev` pages (RFC 8288), when there are."))),
        MemberSanctionsProblems,
    )
)]
#[get("/members/{member}/sanctions")]
async fn member_sanctions(
    state: web::Data<AppState>,
    Staff(caller): Staff,
    member: web::Path<String>,
    Query(params): Query<PageParams>,
) -> Result<Paged<Sanction>, AppError> {
    let member = MemberKey::parse(&member, Some(caller.member_id));
    let views = service::member_history(&state, member, params.page()?).await?;
    Ok(views.map(|view| Sanction::seen_by(view, caller.member_id)))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SanctionListParams {
    /// Only sanctions running now.
    pub active: Option<bool>,
    /// `read_only`, `ban`, `lift_read_only` or `lift_ban`.
    #[param(pattern = r"^(read_only|ban|lift_read_only|lift_ban)$")]
    pub kind: Option<String>,
    /// 1–200 characters, no control characters.
    #[param(pattern = r"^[^\u0000-\u001f\u007f-\u009f]{1,200}$")]
    pub resource: Option<String>,
    /// The moderator, by id or username.
    pub moderator: Option<String>,
    #[param(minimum = 1, maximum = 1_000_000)]
    pub page: Option<i64>,
    #[param(minimum = 1, maximum = 100)]
    pub per_page: Option<i64>,
}

impl SanctionListParams {
    /// The query these parameters ask, read for `caller` (`me` is them), and its page.
    fn into_query(self, caller: i64) -> Result<(ListQuery, Page), AppError> {
        let mut errors: Vec<FieldError> = Vec::new();
        let page = Page::parse(self.page, self.per_page).map_err(|e| errors.extend(e)).ok();
        let kind = match self.kind.as_deref().map(Action::parse) {
            Some(None) => {
                errors.push(FieldError::new(
                    "kind",
                    FieldCode::Invalid,
                    "kind is read_only, ban, lift_read_only or lift_ban.",
                ));
                None
            }
            Some(kind) => kind,
            None => None,
        };
        let resource = self
            .resource
            .as_deref()
            .map(|r| parse_resource("resource", r))
            .transpose()
            .map_err(|e| errors.push(e))
            .ok()
            .flatten();
        let Some(page) = page.filter(|_| errors.is_empty()) else {
            return Err(AppError::Validation(errors));
        };
        let query = ListQuery {
            active: self.active.unwrap_or(false),
            kind,
            resource,
            moderator: self.moderator.as_deref().map(|m| MemberKey::parse(m, Some(caller))),
            offset: page.offset(),
            limit: page.per_page,
        };
        Ok((query, page))
    }
}

problems!(
    ListProblems: Staff, Query<SanctionListParams>, Db;
    422: ValidationFailed = "Paging, `kind` or `resource`."
);

/// All sanctions, newest first, with filters.
#[utoipa::path(
    operation_id = "list_sanctions",
    tag = "sanctions",
    security(("bearer" = [])),
    params(SanctionListParams),
    responses(
        (status = 200, description = "A page of sanctions.", body = Paged<Sanction>, headers(("Link" = String, description = "The `next` and `prev` pages (RFC 8288), when there are."))),
        ListProblems,
    )
)]
#[get("/sanctions")]
async fn list(
    state: web::Data<AppState>,
    Staff(caller): Staff,
    Query(params): Query<SanctionListParams>,
) -> Result<Paged<Sanction>, AppError> {
    let (query, page) = params.into_query(caller.member_id)?;
    let (views, total) = service::list(&state, query).await?;
    let items = views
        .into_iter()
        .map(|view| Sanction::seen_by(view, caller.member_id))
        .collect();
    Ok(Paged::new(items, page, total))
}

problems!(
    GetOneProblems: Staff, Db;
    404: SanctionNotFound
);

/// One sanction.
#[utoipa::path(
    tag = "sanctions",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Sanction id.")),
    responses(
        (status = 200, description = "The sanction.", body = Sanction),
        GetOneProblems,
    )
)]
#[get("/sanctions/{id}")]
async fn get_one(
    state: web::Data<AppState>,
    Staff(caller): Staff,
    id: web::Path<String>,
) -> Result<web::Json<Sanction>, AppError> {
    let id = path_id(&id, SanctionError::NotFound)?;
    Ok(web::Json(Sanction::seen_by(
        service::get(&state, id).await?,
        caller.member_id,
    )))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndRequest {
    /// Why; 1–1,000 characters, not all white space.
    #[schema(min_length = 1, max_length = 1000, pattern = "{filled}")]
    pub reason: String,
}

async fn end_early(
    state: web::Data<AppState>,
    caller: Caller,
    ip: std::net::IpAddr,
    id: &str,
    kind: EndingKind,
    body: EndRequest,
) -> Result<web::Json<Sanction>, AppError> {
    let id = path_id(id, SanctionError::NotFound)?;
    let reason = parse_reason("reason", &body.reason, REASON_MAX_CHARS).map_err(|e| AppError::Validation(vec![e]))?;
    let actor = Actor {
        member_id: caller.member_id,
        ip: ip.to_string(),
    };
    let view = service::end_early(&state, actor, id, kind, reason).await?;
    Ok(web::Json(Sanction::seen_by(view, caller.member_id)))
}

// Forgiving and reverting answer alike: both are `end_early`.
problems!(
    EndEarlyProblems: Staff, Json<EndRequest>, Refusal, Db;
    403: MemberReadOnly = "The moderator's own standing.";
    404: SanctionNotFound;
    409: SanctionNotEndable, SanctionIsALift
);

/// Forgive a sanction: it ends now and still counts as served; the next in its queue starts now.
#[utoipa::path(
    tag = "sanctions",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Sanction id.")),
    request_body = EndRequest,
    responses(
        (status = 200, description = "Forgiven.", body = Sanction),
        EndEarlyProblems,
    )
)]
#[post("/sanctions/{id}/forgiveness")]
async fn forgive(
    state: web::Data<AppState>,
    Staff(caller): Staff,
    ClientIp(ip): ClientIp,
    id: web::Path<String>,
    Json(body): Json<EndRequest>,
) -> Result<web::Json<Sanction>, AppError> {
    end_early(state, caller, ip, &id, EndingKind::Forgiven, body).await
}

/// Revert a sanction: as if it had never been given; later ones in its queue move earlier.
#[utoipa::path(
    tag = "sanctions",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Sanction id.")),
    request_body = EndRequest,
    responses(
        (status = 200, description = "Reverted.", body = Sanction),
        EndEarlyProblems,
    )
)]
#[post("/sanctions/{id}/reversion")]
async fn revert(
    state: web::Data<AppState>,
    Staff(caller): Staff,
    ClientIp(ip): ClientIp,
    id: web::Path<String>,
    Json(body): Json<EndRequest>,
) -> Result<web::Json<Sanction>, AppError> {
    end_early(state, caller, ip, &id, EndingKind::Reverted, body).await
}

//! Appeals, and the member's own standing.

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::extract::{Caller, Staff};
use crate::auth::policy::Actor;
use crate::cases::model::{AppealAnswers, CaseError, Decision, parse_text};
use crate::cases::service::appeals as service;
use crate::cases::service::standing::{self, PendingSanction};
use crate::client_ip::ClientIp;
use crate::db::Db;
use crate::error::{AppError, FieldCode, FieldError};
use crate::http::mount::Routes;
use crate::http::wire::case_file::{Appeal, AppealDecision, FiledReport, SanctionSummary};
use crate::http::wire::path_id;
use crate::input::{Json, Query};
use crate::openapi::problems;
use crate::pagination::{Page, PageParams, Paged};
use crate::sanctions::model::{Refusal, SanctionError};
use crate::sanctions::standing::until_to_option;
use crate::state::AppState;

pub fn configure(config: &mut impl Routes) {
    config
        .service(appeal)
        .service(appeal_by_link)
        .service(list)
        .service(decide)
        .service(own_appeals)
        .service(own_standing);
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppealRequest {
    /// Why the sanction should go; 1–2,000 characters, not all white space.
    #[schema(min_length = 1, max_length = 2000, pattern = "{filled}")]
    pub text: String,
}

fn appeal_text(body: &AppealRequest) -> Result<String, AppError> {
    parse_text("text", &body.text).map_err(|e| AppError::Validation(vec![e]))
}

problems!(
    AppealProblems: Caller, Json<AppealRequest>, AppealAnswers, Db;
    404: SanctionNotFound = "Also a sanction about someone else.";
    422: ValidationFailed = "`text` `required`/`too_long`."
);

/// Appeal one of your sanctions, once, within `MEMBERD_APPEAL_WINDOW` of
/// its creation. A banned member, who has no session, appeals by the link
/// the sanction's e-mail carries (`POST /v1/tokens/appeal/{token}`).
#[utoipa::path(
    tag = "cases",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Sanction id.")),
    request_body = AppealRequest,
    responses(
        (status = 201, description = "Appealed; staff other than the sanction's moderator will decide.", body = Appeal),
        AppealProblems,
    )
)]
#[post("/sanctions/{id}/appeals")]
async fn appeal(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    Json(body): Json<AppealRequest>,
) -> Result<HttpResponse, AppError> {
    let id = path_id(&id, SanctionError::NotFound)?;
    let text = appeal_text(&body)?;
    let view = service::file(&state, caller.member_id, id, text).await?;
    Ok(HttpResponse::Created().json(Appeal::seen_by(view, false)))
}

problems!(
    AppealByLinkProblems: Json<AppealRequest>, AppealAnswers, Db;
    404: TokenNotFound = "Unknown, or not an appeal link.";
    410: TokenUsed, TokenExpired = "The sanction can no longer be appealed.";
    422: ValidationFailed = "`text` `required`/`too_long`."
);

/// Appeal the sanction an e-mailed appeal link was sent for, without a
/// session (a banned member has none). The link works once, for that
/// sanction only, until the appeal window closes.
#[utoipa::path(
    tag = "tokens",
    params(("token" = String, Path, description = "The token from the e-mailed link.")),
    request_body = AppealRequest,
    responses(
        (status = 201, description = "Appealed.", body = Appeal),
        AppealByLinkProblems,
    )
)]
#[post("/tokens/appeal/{token}")]
async fn appeal_by_link(
    state: web::Data<AppState>,
    token: web::Path<String>,
    Json(body): Json<AppealRequest>,
) -> Result<HttpResponse, AppError> {
    let text = appeal_text(&body)?;
    let view = service::file_by_link(&state, token.into_inner(), text).await?;
    Ok(HttpResponse::Created().json(Appeal::seen_by(view, false)))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AppealListParams {
    /// `open` (oldest first) or `decided` (latest decided first); absent: open ones, then decided ones.
    #[param(pattern = r"^(open|decided)$")]
    pub state: Option<String>,
    #[param(minimum = 1, maximum = 1_000_000)]
    pub page: Option<i64>,
    #[param(minimum = 1, maximum = 100)]
    pub per_page: Option<i64>,
}

problems!(
    ListProblems: Staff, Query<AppealListParams>, Db;
    422: ValidationFailed = "Paging or `state`."
);

/// Appeals, open ones first and oldest first.
#[utoipa::path(
    operation_id = "list_appeals",
    tag = "cases",
    security(("bearer" = [])),
    params(AppealListParams),
    responses(
        (status = 200, description = "A page of appeals.", body = Paged<Appeal>, headers(("Link" = String, description = "The `next` and `prev` pages (RFC 8288), when there are."))),
        ListProblems,
    )
)]
#[get("/appeals")]
async fn list(
    state: web::Data<AppState>,
    _staff: Staff,
    Query(params): Query<AppealListParams>,
) -> Result<Paged<Appeal>, AppError> {
    let mut errors = Vec::new();
    let page = Page::parse(params.page, params.per_page)
        .map_err(|e| errors.extend(e))
        .ok();
    let decided = match params.state.as_deref() {
        None => None,
        Some("open") => Some(false),
        Some("decided") => Some(true),
        Some(_) => {
            errors.push(FieldError::new(
                "state",
                FieldCode::InvalidChoice,
                "state is open or decided.",
            ));
            None
        }
    };
    let Some(page) = page.filter(|_| errors.is_empty()) else {
        return Err(AppError::Validation(errors));
    };
    let views = service::list(&state, decided, page).await?;
    Ok(views.map(|view| Appeal::seen_by(view, true)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionRequest {
    #[schema(pattern = r"^(upheld|forgiven|reverted|reduced)$")]
    pub outcome: String,
    /// Public: e-mailed to the member. 1–2,000 characters, not all white space.
    #[schema(min_length = 1, max_length = 2000, pattern = "{filled}")]
    pub reason: String,
    /// For `reduced` only: the sanction's new duration, shorter than its
    /// present one (any, for a permanent one). `30m`, `1d12h`, ISO 8601 (`P1D`).
    #[schema(example = "1d", pattern = "{duration}")]
    pub duration: Option<String>,
}

problems!(
    DecideProblems: Staff, Json<DecisionRequest>, Refusal, Db;
    403: MemberReadOnly = "The caller's own standing.", CannotDecideOwnSanction;
    404: AppealNotFound;
    409: AppealDecided, SanctionNotEndable = "`forgiven` or `reduced` of a sanction no longer running or waiting; `reverted` of a reverted one.";
    422: ValidationFailed = "`outcome` `invalid_choice`; `reason` `required`/`too_long`; `duration` `required`/`invalid` (reduced), `not_allowed` (otherwise), `not_shorter`."
);

/// Decide an appeal: `upheld` (the sanction stands), `forgiven` (it ends
/// now), `reverted` (as if never given) or `reduced` (a shorter duration;
/// what queues behind it moves up). Staff other than the sanction's
/// moderator decide; the member is e-mailed the outcome and the reason.
#[utoipa::path(
    tag = "cases",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Appeal id.")),
    request_body = DecisionRequest,
    responses(
        (status = 200, description = "Decided.", body = Appeal),
        DecideProblems,
    )
)]
#[post("/appeals/{id}/decision")]
async fn decide(
    state: web::Data<AppState>,
    Staff(caller): Staff,
    ClientIp(ip): ClientIp,
    id: web::Path<String>,
    Json(body): Json<DecisionRequest>,
) -> Result<web::Json<Appeal>, AppError> {
    let id = path_id(&id, CaseError::AppealNotFound)?;
    let decision =
        Decision::parse(&body.outcome, &body.reason, body.duration.as_deref()).map_err(AppError::Validation)?;
    let view = service::decide(&state, Actor::new(&caller, ip), id, decision).await?;
    Ok(web::Json(Appeal::seen_by(view, true)))
}

problems!(
    OwnAppealsProblems: Caller, Query<PageParams>, Db;
    422: ValidationFailed = "Paging."
);

/// The caller's appeals, newest first, with their decisions.
#[utoipa::path(
    tag = "cases",
    security(("bearer" = [])),
    params(PageParams),
    responses(
        (status = 200, description = "A page of the caller's appeals.", body = Paged<Appeal>, headers(("Link" = String, description = "The `next` and `prev` pages (RFC 8288), when there are."))),
        OwnAppealsProblems,
    )
)]
#[get("/members/me/appeals")]
async fn own_appeals(
    state: web::Data<AppState>,
    caller: Caller,
    Query(params): Query<PageParams>,
) -> Result<Paged<Appeal>, AppError> {
    let views = service::of_member(&state, caller.member_id, params.page()?).await?;
    Ok(views.map(|view| Appeal::seen_by(view, false)))
}

/// A running or waiting sanction as its member reads it.
#[derive(Serialize, ToSchema)]
pub struct OwnSanction {
    #[serde(flatten)]
    pub sanction: SanctionSummary,
    /// Until when it may be appealed; null when it may not (appealed, or too old).
    pub appealable_until: Option<DateTime<Utc>>,
    pub appeal: Option<AppealDecisionOrOpen>,
}

/// The member's appeal of a sanction: open, or its decision.
#[derive(Serialize, ToSchema)]
pub struct AppealDecisionOrOpen {
    pub id: i64,
    /// `open` or `decided`.
    pub state: String,
    pub decision: Option<AppealDecision>,
}

/// The caller's case file.
#[derive(Serialize, ToSchema)]
pub struct Standing {
    pub can_read: bool,
    pub can_write: bool,
    /// The end of the whole ban queue; null when none applies or it is permanent.
    pub banned_until: Option<DateTime<Utc>>,
    /// The end of the whole read-only queue; null when none applies or it is permanent.
    pub read_only_until: Option<DateTime<Utc>>,
    /// Running sanctions first, then waiting ones, with their public reasons.
    pub sanctions: Vec<OwnSanction>,
    /// The first page of `GET /v1/members/me/appeals`.
    pub appeals: Paged<Appeal>,
    /// The first page of `GET /v1/members/me/reports`: the reports the caller filed.
    pub reports: Paged<FiledReport>,
}

fn own_sanction(pending: PendingSanction) -> OwnSanction {
    let filed = pending.appeal.map(|row| {
        let decision = row
            .outcome
            .zip(row.decided_at)
            .map(|(outcome, decided_at)| AppealDecision {
                outcome: outcome.as_str().into(),
                reason: row.reason.clone().unwrap_or_default(),
                duration_seconds: row.reduced_duration_seconds,
                decided_by: None,
                decided_at,
            });
        AppealDecisionOrOpen {
            id: row.id,
            state: if decision.is_some() { "decided" } else { "open" }.into(),
            decision,
        }
    });
    OwnSanction {
        sanction: SanctionSummary::new(pending.row, pending.state),
        appealable_until: pending.appealable_until,
        appeal: filed,
    }
}

problems!(OwnStandingProblems: Caller, Db);

/// The caller's case file: running and waiting sanctions with their public
/// reasons, ends and appeals; their latest appeals and the reports they
/// filed. Read-only members read it too. Never a private note, nor who
/// reported the caller.
#[utoipa::path(
    tag = "cases",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's standing.", body = Standing),
        OwnStandingProblems,
    )
)]
#[get("/members/me/standing")]
async fn own_standing(state: web::Data<AppState>, caller: Caller) -> Result<web::Json<Standing>, AppError> {
    let view = standing::of_member(&state, caller.member_id).await?;
    let status = &view.status.status;
    Ok(web::Json(Standing {
        can_read: status.can_read(),
        can_write: status.can_write(),
        banned_until: status.banned_until.and_then(until_to_option),
        read_only_until: status.read_only_until.and_then(until_to_option),
        sanctions: view.sanctions.into_iter().map(own_sanction).collect(),
        appeals: view.appeals.map(|view| Appeal::seen_by(view, false)),
        reports: view.reports.map(FiledReport::new),
    }))
}

//! Reports: members file them, staff work the queue.

use actix_web::{HttpResponse, delete, get, post, web};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::auth::extract::{Caller, Staff};
use crate::auth::policy::Actor;
use crate::cases::model::{CaseError, Filing, ReportState, Resolution};
use crate::cases::routes::Report;
use crate::cases::service::reports::{self as service, ListQuery};
use crate::cases::store::reports::ReportFilter;
use crate::client_ip::ClientIp;
use crate::db::Db;
use crate::error::{AppError, FieldCode, FieldError};
use crate::http::mount::Routes;
use crate::http::wire::case_file::FiledReport;
use crate::http::wire::path_id;
use crate::input::{Json, Query};
use crate::members::model::MemberKey;
use crate::openapi::problems;
use crate::pagination::{Page, PageParams, Paged};
use crate::sanctions::request::parse_resource;
use crate::state::AppState;

pub fn configure(config: &mut impl Routes) {
    config
        .service(file)
        .service(filed)
        .service(list)
        .service(get_one)
        .service(claim)
        .service(release)
        .service(resolve);
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportRequest {
    #[schema(pattern = r"^(spam|harassment|impersonation|inappropriate_profile|other)$")]
    pub reason: String,
    /// What is wrong; 1–2,000 characters, not all white space.
    #[schema(min_length = 1, max_length = 2000, pattern = "{filled}")]
    pub text: String,
    /// What of another service it is about, such as `forum:42`; absent: the
    /// member themselves. 1–200 characters, no control characters.
    #[schema(pattern = r"^[^\u0000-\u001f\u007f-\u009f]{1,200}$")]
    pub resource: Option<String>,
    /// Where staff can see it: an http(s) address with a host name.
    #[schema(max_length = 2000, pattern = "{web_url}")]
    pub evidence_url: Option<String>,
}

problems!(
    FileProblems: Caller, Json<ReportRequest>, Db;
    404: MemberNotFound;
    409: AlreadyReported;
    422: ValidationFailed = "`reason` `invalid_choice`; `text` `required`/`too_long`; `resource` `invalid_length`/`contains_control_character`; `evidence_url` `too_long`/`invalid_url`.",
        CannotReportSelf, CannotReportBot;
    429: RateLimited = "Ten reports an hour, halved for every three more of the reporter's reports dismissed than actioned (down to one)."
);

/// Report a member (or what they did in another service's resource).
///
/// Read-only members may report. While a report about the same member and
/// resource is open, reporting again adds to it: staff see one report with
/// every reporter. The reported member never learns who reported them.
#[utoipa::path(
    tag = "cases",
    security(("bearer" = [])),
    params(("member" = String, Path, description = "Numeric id or username of the reported member.")),
    request_body = ReportRequest,
    responses(
        (status = 201, description = "Filed, or added to the open report about the same member and resource. As the reporter reads it.", body = Report),
        FileProblems,
    )
)]
#[post("/members/{member}/reports")]
async fn file(
    state: web::Data<AppState>,
    caller: Caller,
    member: web::Path<String>,
    Json(body): Json<ReportRequest>,
) -> Result<HttpResponse, AppError> {
    let filing = Filing::parse(
        &body.reason,
        &body.text,
        body.resource.as_deref(),
        body.evidence_url.as_deref(),
    )
    .map_err(AppError::Validation)?;
    let target = MemberKey::parse(&member, Some(caller.member_id));
    let view = service::file(&state, caller.member_id, target, filing).await?;
    Ok(HttpResponse::Created().json(Report::seen_by(view, caller.member_id, false)))
}

problems!(
    FiledProblems: Caller, Query<PageParams>, Db;
    422: ValidationFailed = "Paging."
);

/// The reports the caller filed, newest first, with their outcomes.
#[utoipa::path(
    tag = "cases",
    security(("bearer" = [])),
    params(PageParams),
    responses(
        (status = 200, description = "A page of the caller's reports.", body = Paged<FiledReport>, headers(("Link" = String, description = "The `next` and `prev` pages (RFC 8288), when there are."))),
        FiledProblems,
    )
)]
#[get("/members/me/reports")]
async fn filed(
    state: web::Data<AppState>,
    caller: Caller,
    Query(params): Query<PageParams>,
) -> Result<Paged<FiledReport>, AppError> {
    let page = service::filed_by(&state, caller.member_id, params.page()?).await?;
    Ok(page.map(FiledReport::new))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportListParams {
    /// Absent: the queue, open and claimed reports, oldest first. Closed
    /// ones (`resolved`, `dismissed`) come latest closed first.
    #[param(pattern = r"^(open|claimed|resolved|dismissed)$")]
    pub state: Option<String>,
    /// The reported member, by id or username.
    pub member: Option<String>,
    /// A reporter, by id or username.
    pub reporter: Option<String>,
    /// 1–200 characters, no control characters.
    #[param(pattern = r"^[^\u0000-\u001f\u007f-\u009f]{1,200}$")]
    pub resource: Option<String>,
    /// Who holds it, by id or username (`me`: the caller).
    pub assignee: Option<String>,
    #[param(minimum = 1, maximum = 1_000_000)]
    pub page: Option<i64>,
    #[param(minimum = 1, maximum = 100)]
    pub per_page: Option<i64>,
}

impl ReportListParams {
    fn into_query(self, caller: i64) -> Result<(ListQuery, Page), AppError> {
        let mut errors: Vec<FieldError> = Vec::new();
        let page = Page::parse(self.page, self.per_page).map_err(|e| errors.extend(e)).ok();
        let state = match self.state.as_deref().map(ReportState::parse) {
            Some(None) => {
                errors.push(FieldError::new(
                    "state",
                    FieldCode::InvalidChoice,
                    "state is open, claimed, resolved or dismissed.",
                ));
                None
            }
            Some(state) => state,
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
        let key = |text: Option<String>| text.map(|t| MemberKey::parse(&t, Some(caller)));
        let query = ListQuery {
            filter: ReportFilter {
                state,
                resource,
                ..ReportFilter::default()
            },
            member: key(self.member),
            reporter: key(self.reporter),
            assignee: key(self.assignee),
        };
        Ok((query, page))
    }
}

problems!(
    ListProblems: Staff, Query<ReportListParams>, Db;
    422: ValidationFailed = "Paging, `state` or `resource`."
);

/// The staff queue: open and claimed reports, oldest first; filters pick
/// closed ones, a member, a reporter, a resource or a holder. Each
/// reporter comes with how many of their reports were actioned and dismissed.
#[utoipa::path(
    operation_id = "list_reports",
    tag = "cases",
    security(("bearer" = [])),
    params(ReportListParams),
    responses(
        (status = 200, description = "A page of reports.", body = Paged<Report>, headers(("Link" = String, description = "The `next` and `prev` pages (RFC 8288), when there are."))),
        ListProblems,
    )
)]
#[get("/reports")]
async fn list(
    state: web::Data<AppState>,
    Staff(caller): Staff,
    Query(params): Query<ReportListParams>,
) -> Result<Paged<Report>, AppError> {
    let (query, page) = params.into_query(caller.member_id)?;
    let views = service::list(&state, query, page).await?;
    Ok(views.map(|view| Report::seen_by(view, caller.member_id, true)))
}

problems!(
    GetOneProblems: Caller, Db;
    404: ReportNotFound = "Also a report the caller, not staff, did not file."
);

/// One report: staff read all of it; one of its reporters reads their own
/// entry and the outcome, without the staff fields.
#[utoipa::path(
    operation_id = "get_report",
    tag = "cases",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Report id.")),
    responses(
        (status = 200, description = "The report.", body = Report),
        GetOneProblems,
    )
)]
#[get("/reports/{id}")]
async fn get_one(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<web::Json<Report>, AppError> {
    let id = path_id(&id, CaseError::ReportNotFound)?;
    let staff = caller.acts_as_staff();
    let view = service::get(&state, id, caller.member_id, staff).await?;
    Ok(web::Json(Report::seen_by(view, caller.member_id, staff)))
}

/// Claiming and releasing answer alike: both change who holds the report.
async fn hold(
    state: &AppState,
    caller: &Caller,
    ip: std::net::IpAddr,
    id: &str,
    take: bool,
) -> Result<web::Json<Report>, AppError> {
    let id = path_id(id, CaseError::ReportNotFound)?;
    let view = service::hold(state, Actor::new(caller, ip), caller.is_superuser, id, take).await?;
    Ok(web::Json(Report::seen_by(view, caller.member_id, true)))
}

problems!(
    ClaimProblems: Staff, Db;
    403: MemberReadOnly = "The caller's own standing.", CannotModerateSelf = "A report about the caller.";
    404: ReportNotFound;
    409: ReportClaimed = "Another holds it; a superuser takes it over.", ReportClosed
);

/// Take a report: one holder at a time. Taking one you hold changes
/// nothing; a superuser takes over one another holds.
#[utoipa::path(
    tag = "cases",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Report id.")),
    responses(
        (status = 200, description = "The caller holds it.", body = Report),
        ClaimProblems,
    )
)]
#[post("/reports/{id}/claim")]
async fn claim(
    state: web::Data<AppState>,
    Staff(caller): Staff,
    ClientIp(ip): ClientIp,
    id: web::Path<String>,
) -> Result<web::Json<Report>, AppError> {
    hold(&state, &caller, ip, &id, true).await
}

problems!(
    ReleaseProblems: Staff, Db;
    403: MemberReadOnly = "The caller's own standing.", CannotModerateSelf = "A report about the caller.";
    404: ReportNotFound;
    409: ReportClaimed = "Another holds it: only they or a superuser release it.", ReportClosed
);

/// Release a claimed report back to the queue: its holder, or a superuser.
#[utoipa::path(
    tag = "cases",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Report id.")),
    responses(
        (status = 200, description = "Nobody holds it.", body = Report),
        ReleaseProblems,
    )
)]
#[delete("/reports/{id}/claim")]
async fn release(
    state: web::Data<AppState>,
    Staff(caller): Staff,
    ClientIp(ip): ClientIp,
    id: web::Path<String>,
) -> Result<web::Json<Report>, AppError> {
    hold(&state, &caller, ip, &id, false).await
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolutionRequest {
    #[schema(pattern = r"^(actioned|dismissed)$")]
    pub outcome: String,
    /// For staff only; 1–2,000 characters, not all white space.
    #[schema(min_length = 1, max_length = 2000, pattern = "{filled}")]
    pub note: String,
    /// To the reporters, e-mailed with the outcome; at most 2,000 characters.
    #[schema(max_length = 2000)]
    pub message: Option<String>,
    /// The sanction an `actioned` report led to, about the reported member;
    /// none for `dismissed`.
    #[schema(minimum = 1)]
    #[serde(default, deserialize_with = "crate::input::optional_integer")]
    pub sanction_id: Option<i64>,
}

problems!(
    ResolveProblems: Staff, Json<ResolutionRequest>, Db;
    403: MemberReadOnly = "The caller's own standing.", CannotModerateSelf = "A report about the caller.";
    404: ReportNotFound;
    409: ReportClaimed = "Another holds it.", ReportClosed;
    422: ValidationFailed = "`outcome` `invalid_choice`; `note` `required`/`too_long`; `message` `too_long`; `sanction_id` `required` (actioned), `not_allowed` (dismissed), `not_found`, `other_member`."
);

/// Close a report: `actioned`, naming the sanction it led to, or
/// `dismissed`. The reporters are e-mailed the outcome and the message,
/// never the note; each reporter's tally counts it.
#[utoipa::path(
    tag = "cases",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Report id.")),
    request_body = ResolutionRequest,
    responses(
        (status = 200, description = "Closed.", body = Report),
        ResolveProblems,
    )
)]
#[post("/reports/{id}/resolution")]
async fn resolve(
    state: web::Data<AppState>,
    Staff(caller): Staff,
    ClientIp(ip): ClientIp,
    id: web::Path<String>,
    Json(body): Json<ResolutionRequest>,
) -> Result<web::Json<Report>, AppError> {
    let id = path_id(&id, CaseError::ReportNotFound)?;
    let resolution = Resolution::parse(&body.outcome, &body.note, body.message.as_deref(), body.sanction_id)
        .map_err(AppError::Validation)?;
    let view = service::resolve(&state, Actor::new(&caller, ip), caller.is_superuser, id, resolution).await?;
    Ok(web::Json(Report::seen_by(view, caller.member_id, true)))
}

//! HTTP handlers for members: registration, the directory, profiles; the
//! caller's own account is in `own`.

pub mod export;
pub mod own;

use actix_web::body::BoxBody;
use actix_web::{HttpRequest, HttpResponse, Responder, get, http::header, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::extract::{MaybePrincipal, MembersRead, Principal};
use crate::auth::password::PasswordHasher;
use crate::client_ip::ClientIp;
use crate::config::Config;
use crate::db::Db;
use crate::error::{AppError, FieldCode, FieldError};
use crate::http::mount::Routes;
use crate::http::wire::Accepted;
use crate::input::{Json, Query};
use crate::members::directory::DirectoryQuery;
use crate::members::model::{DirectorySort, Locale, MemberKey, WalkCursor, directory_prefix};
use crate::members::profiles::{self, ProfileView, Viewer};
use crate::members::service::{self, RegistrationInput};
use crate::openapi::problems;
use crate::pagination::{self, Page, Paged};
use crate::state::AppState;

pub fn configure(config: &mut impl Routes) {
    // The `me` routes first: `{member}` would take "me" as a username.
    config.service(register).service(directory);
    own::configure(config);
    config.service(profile);
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegistrationRequest {
    /// 1–30 characters, as sent and after NFC normalisation; no white space
    /// around it; no comma, slash, @, control or invisible character
    /// (Unicode's general category C), emoji or unassigned code point; not a
    /// number, not `me`; not confusable with another member's name.
    #[schema(example = "alice", min_length = 1, max_length = 30, pattern = "{username}")]
    pub username: String,
    /// An address in the grammar of the document's pattern: an unquoted
    /// ASCII local part, `@`, a host name of two labels or more; at most 254
    /// characters, nothing around it.
    #[schema(example = "alice@example.com", max_length = 254, pattern = "{email}")]
    pub email: String,
    /// 8–256 characters, not a common password, not the username or e-mail.
    #[schema(min_length = 8, max_length = 256)]
    pub password: String,
    pub password_confirmation: String,
}

/// A member as others see them.
#[derive(Serialize, ToSchema)]
pub struct MemberProfile {
    pub id: i64,
    pub username: String,
    pub date_joined: DateTime<Utc>,
    pub last_visit_at: Option<DateTime<Utc>>,
    /// The custom avatar, or the Gravatar of the member's address.
    pub avatar_url: String,
    pub biography: String,
    pub website: String,
    /// Absent when the member hides it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
    pub profile_url: String,
    pub is_bot: bool,
    /// Only to authenticated callers, and only when the member shows it (staff always see it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Staff only, from the last IP, when a GeoIP database is configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    /// Staff only, on a single profile: the sum of the member's karma notes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub karma: Option<i64>,
    /// Services with `members:read` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_active: Option<bool>,
    /// Services with `members:read` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<String>>,
}

impl MemberProfile {
    fn new(view: ProfileView, config: &Config) -> Self {
        let member = &view.member;
        MemberProfile {
            id: member.id,
            username: member.username.clone(),
            date_joined: member.date_joined,
            last_visit_at: member.last_visit_at,
            avatar_url: member.avatar_url(),
            biography: member.profile.biography.clone(),
            website: member.profile.website.clone(),
            signature: view.show_signature.then(|| member.profile.signature.clone()),
            profile_url: config.profile_url(member.id, &member.username),
            is_bot: view.is_bot,
            email: view.show_email.then(|| member.email.clone()),
            city: view.city,
            karma: view.karma,
            is_active: view.for_service.then_some(member.is_active),
            roles: view.for_service.then(|| member.roles()),
        }
    }
}

/// Who is looking, for what a profile shows them.
fn viewer(caller: &MaybePrincipal<MembersRead>) -> Viewer {
    match &caller.0 {
        Some(Principal::Member(caller)) => Viewer {
            member_id: Some(caller.member_id),
            // Staff without the second factor their powers need see what members see.
            is_staff: caller.acts_as_staff(),
            is_service: false,
        },
        Some(Principal::Service(_)) => Viewer {
            is_service: true,
            ..Viewer::default()
        },
        None => Viewer::default(),
    }
}

problems!(
    RegisterProblems: Json<RegistrationRequest>, PasswordHasher, Db;
    422: ValidationFailed = "With every field error at once. Username codes: `required`, `too_long`, `surrounding_space`, `contains_comma`, `contains_slash`, `contains_at_sign`, `numeric`, `reserved`, `contains_control_character`, `contains_emoji`, `taken`, `confusable`. E-mail: `required`, `too_long`, `invalid`, `forbidden_domain`. Password: `too_short`, `too_long`, `same_as_username`, `same_as_email`, `too_common`; `password_confirmation`: `mismatch`.";
    429: RateLimited = "Too many registrations from this IP; see `Retry-After`."
);

/// Register a member.
///
/// The account stays inactive until the link e-mailed to the address is used.
/// An address that already has an account gets the same 202, and its owner a
/// notice instead, so addresses cannot be probed. The e-mail is written in the
/// language of `Accept-Language` (English or French).
#[utoipa::path(
    tag = "members",
    request_body = RegistrationRequest,
    responses(
        (status = 202, description = "Validation e-mail sent (or a notice, if the address is taken).", body = Accepted),
        RegisterProblems,
    )
)]
#[post("/members")]
async fn register(
    state: web::Data<AppState>,
    request: HttpRequest,
    ClientIp(ip): ClientIp,
    Json(body): Json<RegistrationRequest>,
) -> Result<HttpResponse, AppError> {
    let language = request
        .headers()
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok());
    service::register(
        &state,
        RegistrationInput {
            username: body.username,
            email: body.email,
            password: body.password,
            password_confirmation: body.password_confirmation,
            locale: Locale::from_accept_language(language),
            ip,
        },
    )
    .await?;
    Ok(HttpResponse::Accepted().json(Accepted {
        status: "validation_email_sent".into(),
    }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DirectoryParams {
    /// Case-insensitive prefix of the username.
    pub q: Option<String>,
    /// `username` (default), `-username`, `date_joined` or `-date_joined`.
    #[param(pattern = r"^-?(username|date_joined)$")]
    pub sort: Option<String>,
    /// From 1. A page that starts beyond the 10,000th match is refused
    /// (`page_too_deep`): narrow `q` instead.
    #[param(minimum = 1, maximum = 1_000_000)]
    pub page: Option<i64>,
    /// 1 to 100; 20 by default.
    #[param(minimum = 1, maximum = 100)]
    pub per_page: Option<i64>,
    /// Services with `members:read` only: walk every member (inactive, banned
    /// and bots too) in the order they registered, `per_page` at a time,
    /// from the start (empty) or from the `next_cursor` of the previous
    /// answer. Not with `q`, `sort` or `page`.
    #[param(pattern = "^([0-9a-f]{16})?$")]
    pub after: Option<String>,
}

/// What a directory request asks for: a page of listed members, or a step
/// of the walk over every member.
enum DirectoryRequest {
    Page(DirectoryQuery),
    Walk { after: WalkCursor, per_page: i64 },
}

impl DirectoryRequest {
    /// Who may walk is decided before the walk's parameters are read.
    fn parse(params: DirectoryParams, viewer: Viewer) -> Result<Self, AppError> {
        let mut errors: Vec<FieldError> = Vec::new();
        if let Some(after) = params.after.as_deref() {
            profiles::may_walk(viewer)?;
            let cursor = WalkCursor::parse(after).map_err(|e| errors.push(e)).ok();
            for (field, given) in [
                ("q", params.q.is_some()),
                ("sort", params.sort.is_some()),
                ("page", params.page.is_some()),
            ] {
                if given {
                    errors.push(FieldError::new(
                        field,
                        FieldCode::NotAllowed,
                        format!("A walk (after) has no {field}."),
                    ));
                }
            }
            let page = Page::parse(None, params.per_page).map_err(|e| errors.extend(e)).ok();
            return match (cursor, page) {
                (Some(after), Some(page)) if errors.is_empty() => Ok(DirectoryRequest::Walk {
                    after,
                    per_page: page.per_page,
                }),
                _ => Err(AppError::Validation(errors)),
            };
        }
        let page = Page::parse(params.page, params.per_page)
            .map_err(|e| errors.extend(e))
            .ok();
        let sort = DirectorySort::parse(params.sort.as_deref())
            .map_err(|e| errors.push(e))
            .ok();
        let prefix = directory_prefix(params.q.as_deref()).map_err(|e| errors.push(e)).ok();
        match (page, sort, prefix) {
            (Some(page), Some(sort), Some(prefix)) => Ok(DirectoryRequest::Page(DirectoryQuery { prefix, sort, page })),
            _ => Err(AppError::Validation(errors)),
        }
    }
}

/// A page of the directory.
#[derive(Serialize, ToSchema)]
pub struct DirectoryPage {
    #[serde(flatten)]
    pub members: Paged<MemberProfile>,
    /// More than 10,000 members match: `total` is then 10,000, the pages
    /// reach the 10,000th match and no further, and a client narrows `q` to
    /// find others.
    pub total_capped: bool,
}

/// A step of the walk over every member (`after`).
#[derive(Serialize, ToSchema)]
pub struct MemberWalk {
    pub items: Vec<MemberProfile>,
    pub per_page: i64,
    /// The `after` of the next step; null once the walk has reached the last
    /// member (members who register later come after it). Always present,
    /// which tells a step from a page.
    #[schema(required = true)]
    pub next_cursor: Option<String>,
}

/// The directory's answer: a page, or a step of a walk.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum DirectoryAnswer {
    Page(DirectoryPage),
    Walk(MemberWalk),
}

impl Responder for DirectoryAnswer {
    type Body = BoxBody;

    fn respond_to(self, request: &HttpRequest) -> HttpResponse {
        match self {
            Self::Page(page) => pagination::respond(request, &page.members, &page),
            Self::Walk(walk) => {
                let mut response = HttpResponse::Ok();
                if let Some(next) = &walk.next_cursor {
                    let query: String = url::form_urlencoded::Serializer::new(String::new())
                        .append_pair("after", next)
                        .append_pair("per_page", &walk.per_page.to_string())
                        .finish();
                    response.insert_header((header::LINK, format!("<{}?{query}>; rel=\"next\"", request.path())));
                }
                response.json(walk)
            }
        }
    }
}

problems!(
    DirectoryProblems: MaybePrincipal<MembersRead>, Query<DirectoryParams>, Db;
    401: MissingCredentials = "`after` without a key.";
    403: Forbidden = "`after` from a member: walks are for services.";
    422: ValidationFailed = "`page` or `per_page` out of range, unknown `sort`, `q` over 30 characters; `q`, `sort` or `page` with `after`.",
        PageTooDeep = "Only when more than 10,000 members match: a shorter list just ends."
);

/// The member directory.
///
/// Lists active members, without bots or banned members, by username (by
/// code point, case-insensitively) unless sorted otherwise. A page past the
/// end is empty. `total` counts matches up to 10,000 (`total_capped` when
/// more match), and pages go no deeper than that. With `after`, a service
/// with `members:read` walks every member instead, at the same cost from the
/// first to the last.
#[utoipa::path(
    tag = "members",
    params(DirectoryParams),
    responses(
        (status = 200, description = "A page of members, or a step of a walk.", body = DirectoryAnswer, headers(("Link" = String, description = "The `next` and `prev` pages (RFC 8288), when there are; a walk's `next` step."))),
        DirectoryProblems,
    )
)]
#[get("/members")]
async fn directory(
    state: web::Data<AppState>,
    caller: MaybePrincipal<MembersRead>,
    Query(params): Query<DirectoryParams>,
) -> Result<DirectoryAnswer, AppError> {
    let viewer = viewer(&caller);
    let as_profile = |view: ProfileView| MemberProfile::new(view, &state.config);
    match DirectoryRequest::parse(params, viewer)? {
        DirectoryRequest::Page(query) => {
            let page = query.page;
            let found = profiles::directory(&state, query, viewer).await?;
            Ok(DirectoryAnswer::Page(DirectoryPage {
                members: Paged::new(found.views.into_iter().map(as_profile).collect(), page, found.total),
                total_capped: found.capped,
            }))
        }
        DirectoryRequest::Walk { after, per_page } => {
            let step = profiles::walk(&state, after, per_page, viewer).await?;
            Ok(DirectoryAnswer::Walk(MemberWalk {
                next_cursor: step.next.map(WalkCursor::to_text),
                items: step.views.into_iter().map(as_profile).collect(),
                per_page,
            }))
        }
    }
}

problems!(
    ProfileProblems: MaybePrincipal<MembersRead>, Db;
    404: MemberNotFound
);

/// A member's public profile, by id or username.
#[utoipa::path(
    tag = "members",
    params(("member" = String, Path, description = "Numeric id, username, or `me` for the caller.")),
    responses(
        (status = 200, description = "The profile; `email` and `city` only as described.", body = MemberProfile),
        ProfileProblems,
    )
)]
#[get("/members/{member}")]
async fn profile(
    state: web::Data<AppState>,
    caller: MaybePrincipal<MembersRead>,
    member: web::Path<String>,
) -> Result<web::Json<MemberProfile>, AppError> {
    let view = profiles::profile(
        &state,
        MemberKey::parse(&member, caller.0.as_ref().and_then(Principal::member_id)),
        viewer(&caller),
    )
    .await?;
    Ok(web::Json(MemberProfile::new(view, &state.config)))
}

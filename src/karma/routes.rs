//! HTTP handlers for karma notes.

use actix_web::body::BoxBody;
use actix_web::{HttpRequest, HttpResponse, Responder, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::extract::{Staff, StaffWriter};
use crate::auth::policy::Actor;
use crate::client_ip::ClientIp;
use crate::db::Db;
use crate::error::AppError;
use crate::http::mount::Routes;
use crate::http::wire::MemberRef;
use crate::input::{Json, Query};
use crate::karma::model::KarmaNote;
use crate::karma::service;
use crate::karma::store::NoteView;
use crate::members::model::MemberKey;
use crate::openapi::problems;
use crate::pagination::{self, PageParams, Paged};
use crate::sanctions::model::Refusal;

use crate::state::AppState;

pub fn configure(config: &mut impl Routes) {
    config.service(add).service(history);
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KarmaNoteRequest {
    /// 1–500 characters, not all white space.
    #[schema(min_length = 1, max_length = 500, pattern = "{filled}")]
    pub note: String,
    #[schema(minimum = -100, maximum = 100)]
    #[serde(deserialize_with = "crate::input::integer")]
    pub karma: i64,
}

#[derive(Serialize, ToSchema)]
pub struct KarmaNoteBody {
    pub id: i64,
    /// Null on the caller's own notes: what staff note about a member of
    /// staff is not for them to read.
    pub note: Option<String>,
    pub karma: i32,
    /// Null when memberd wrote it (a rename).
    pub author: Option<MemberRef>,
    pub created_at: DateTime<Utc>,
}

impl KarmaNoteBody {
    /// The note as `viewer` (a member of staff) may read it.
    fn seen_by(view: NoteView, viewer: i64) -> Self {
        KarmaNoteBody {
            id: view.row.id,
            note: (view.row.member_id != viewer).then_some(view.row.note),
            karma: view.row.karma,
            author: view
                .row
                .author_id
                .zip(view.author_name)
                .map(|(id, username)| MemberRef { id, username }),
            created_at: view.row.created_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct KarmaHistory {
    /// The member's karma: the sum of all their notes, not only this page's.
    pub karma: i64,
    #[serde(flatten)]
    pub notes: Paged<KarmaNoteBody>,
}

impl Responder for KarmaHistory {
    type Body = BoxBody;

    fn respond_to(self, request: &HttpRequest) -> HttpResponse {
        pagination::respond(request, &self.notes, &self)
    }
}

problems!(
    AddProblems: StaffWriter, Json<KarmaNoteRequest>, Refusal, Db;
    404: MemberNotFound;
    422: ValidationFailed = "`note` `required`/`too_long`, `karma` `out_of_range`."
);

/// Note something about a member, with a karma score.
#[utoipa::path(
    tag = "karma",
    security(("bearer" = [])),
    params(("member" = String, Path, description = "Numeric id, username, or `me` for the caller.")),
    request_body = KarmaNoteRequest,
    responses(
        (status = 201, description = "Noted.", body = KarmaNoteBody),
        AddProblems,
    )
)]
#[post("/members/{member}/karma-notes")]
async fn add(
    state: web::Data<AppState>,
    StaffWriter(caller): StaffWriter,
    ClientIp(ip): ClientIp,
    member: web::Path<String>,
    Json(body): Json<KarmaNoteRequest>,
) -> Result<HttpResponse, AppError> {
    let note = KarmaNote::parse(&body.note, body.karma).map_err(AppError::Validation)?;
    let actor = Actor {
        member_id: caller.member_id,
        ip: ip.to_string(),
    };
    let view = service::add(&state, actor, MemberKey::parse(&member, Some(caller.member_id)), note).await?;
    Ok(HttpResponse::Created().json(KarmaNoteBody::seen_by(view, caller.member_id)))
}

problems!(
    HistoryProblems: Staff, Query<PageParams>, Db;
    404: MemberNotFound;
    422: ValidationFailed = "Paging."
);

/// A member's karma notes, newest first, and their karma.
#[utoipa::path(
    tag = "karma",
    security(("bearer" = [])),
    params(("member" = String, Path, description = "Numeric id, username, or `me` for the caller."), PageParams),
    responses(
        (status = 200, description = "A page of the notes, and the karma.", body = KarmaHistory, headers(("Link" = String, description = "The `next` and `prev` pages (RFC 8288), when there are."))),
        HistoryProblems,
    )
)]
#[get("/members/{member}/karma-notes")]
async fn history(
    state: web::Data<AppState>,
    Staff(caller): Staff,
    member: web::Path<String>,
    Query(params): Query<PageParams>,
) -> Result<KarmaHistory, AppError> {
    let member = MemberKey::parse(&member, Some(caller.member_id));
    let (notes, karma) = service::history(&state, member, params.page()?).await?;
    Ok(KarmaHistory {
        karma,
        notes: notes.map(|view| KarmaNoteBody::seen_by(view, caller.member_id)),
    })
}

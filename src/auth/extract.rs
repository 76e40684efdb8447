//! Who is calling: the extractor that turns `Authorization: Bearer <JWT>`
//! into a member whose session is still live.

use std::sync::Arc;

use actix_web::{FromRequest, HttpRequest, dev::Payload, http::header, web};
use futures_util::future::LocalBoxFuture;
use uuid::Uuid;

use crate::cache::CachedClient;
use crate::error::AppError;
use crate::integration::clients;
use crate::members::model::MemberKey;
use crate::members::store as members;
use crate::sanctions::service::ensure_can_write;
use crate::state::AppState;

/// An authenticated member, from a valid access token of a session that has
/// not ended. Roles are read from the database, not the token, so a change
/// of roles applies at once.
#[derive(Debug, Clone)]
pub struct Caller {
    pub member_id: i64,
    pub session_id: Uuid,
    pub is_staff: bool,
    pub is_superuser: bool,
}

/// How often a member's "last visit" is written, at most.
const VISIT_RESOLUTION_MINUTES: i64 = 5;

pub fn bearer_token(request: &HttpRequest) -> Result<String, AppError> {
    let missing = || {
        AppError::unauthenticated(
            "missing_credentials",
            "Send an access token as `Authorization: Bearer <token>`.",
        )
    };
    let value = request.headers().get(header::AUTHORIZATION).ok_or_else(missing)?;
    let text = value.to_str().map_err(|_| missing())?;
    let (scheme, token) = text.split_once(' ').ok_or_else(missing)?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(missing());
    }
    Ok(token.trim().to_string())
}

fn session_ended() -> AppError {
    AppError::unauthenticated("session_revoked", "This session has ended; log in again.")
}

async fn authenticate(state: Option<web::Data<AppState>>, token: Result<String, AppError>) -> Result<Caller, AppError> {
    let state = state.ok_or_else(|| AppError::internal("application state missing"))?;
    let now = state.clock.now();
    let claims = state.issuer.keys.verify(&token?, &state.issuer.issuer, now)?;
    let invalid = || AppError::unauthenticated("invalid_token", "The access token is invalid.");
    let session_id = Uuid::parse_str(&claims.sid).map_err(|_| invalid())?;
    let member_id: i64 = claims.sub.parse().map_err(|_| invalid())?;
    // The session is checked on every request (from memory that every
    // replica drops on any change), so an ended session's tokens are refused
    // at once rather than when they expire.
    let facts = state
        .cache
        .member(&state.db, now, MemberKey::Id(member_id))
        .await?
        .ok_or_else(session_ended)?;
    let session = state
        .cache
        .session(&state.db, &facts, session_id)
        .await?
        .ok_or_else(session_ended)?;
    if session.member_id != member_id {
        return Err(invalid());
    }
    if !session.is_live(now) {
        // When a ban ended it, say so.
        facts.standing.refuse_if_banned(now)?;
        return Err(session_ended());
    }
    let member = &facts.member;
    let visit_due = member
        .last_visit_at
        .is_none_or(|at| now - at >= chrono::Duration::minutes(VISIT_RESOLUTION_MINUTES));
    if visit_due {
        state
            .db
            .run(move |conn| {
                members::record_visit(
                    conn,
                    member_id,
                    now,
                    chrono::Duration::minutes(VISIT_RESOLUTION_MINUTES),
                )
            })
            .await?;
        state.cache.forget_member(member_id);
    }
    Ok(Caller {
        member_id,
        session_id,
        is_staff: member.is_staff || member.is_superuser,
        is_superuser: member.is_superuser,
    })
}

/// A caller allowed to change what others see or do: not read-only, not
/// banned. Every write endpoint takes this instead of [`Caller`].
pub struct Writer(pub Caller);

impl FromRequest for Writer {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = request.app_data::<web::Data<AppState>>().cloned();
        let future = authenticate(state.clone(), bearer_token(request));
        Box::pin(async move {
            let caller = future.await?;
            let state = state.ok_or_else(|| AppError::internal("application state missing"))?;
            ensure_can_write(&state, caller.member_id).await?;
            Ok(Writer(caller))
        })
    }
}

impl FromRequest for Caller {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        Box::pin(authenticate(
            request.app_data::<web::Data<AppState>>().cloned(),
            bearer_token(request),
        ))
    }
}

/// Whoever calls an endpoint open to members, staff and services alike.
pub enum Principal {
    Member(Caller),
    Service(Arc<CachedClient>),
}

impl Principal {
    /// The member calling, if a member is.
    pub fn member_id(&self) -> Option<i64> {
        match self {
            Self::Member(caller) => Some(caller.member_id),
            Self::Service(_) => None,
        }
    }

    /// Refuses a service without `scope`; members pass (the endpoint decides for them).
    pub fn require_scope(&self, scope: clients::Scope) -> Result<(), AppError> {
        match self {
            Self::Service(client) if !client.row.has(scope) => Err(AppError::forbidden(
                "insufficient_scope",
                format!("This key lacks the {} scope.", scope.as_str()),
            )),
            _ => Ok(()),
        }
    }
}

impl FromRequest for Principal {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = request.app_data::<web::Data<AppState>>().cloned();
        let token = bearer_token(request);
        Box::pin(async move {
            let token = token?;
            if !clients::is_api_key(&token) {
                return authenticate(state, Ok(token)).await.map(Principal::Member);
            }
            let state = state.ok_or_else(|| AppError::internal("application state missing"))?;
            let now = state.clock.now();
            // From memory that every replica drops when a key is revoked.
            let client =
                state.cache.client(&state.db, now, token).await?.ok_or_else(|| {
                    AppError::unauthenticated("invalid_api_key", "The API key is unknown or revoked.")
                })?;
            if client.claim_use_record(now) {
                let id = client.row.id;
                state.db.run(move |conn| clients::record_use(conn, id, now)).await?;
            }
            Ok(Principal::Service(client))
        })
    }
}

/// The caller of a public endpoint: anonymous, a member, or a service.
pub struct MaybePrincipal(pub Option<Principal>);

impl FromRequest for MaybePrincipal {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        if !request.headers().contains_key(header::AUTHORIZATION) {
            return Box::pin(async { Ok(MaybePrincipal(None)) });
        }
        let future = Principal::from_request(request, payload);
        Box::pin(async move { future.await.map(|p| MaybePrincipal(Some(p))) })
    }
}

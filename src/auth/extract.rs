//! Who is calling: the extractor that turns `Authorization: Bearer <JWT>`
//! into a member whose session is still live.

use actix_web::{FromRequest, HttpRequest, dev::Payload, http::header, web};
use futures_util::future::LocalBoxFuture;
use uuid::Uuid;

use crate::app::AppState;
use crate::auth::store;
use crate::error::AppError;

/// An authenticated member, from a valid access token of a session that has
/// not ended.
#[derive(Debug, Clone)]
pub struct Caller {
    pub member_id: i64,
    pub session_id: Uuid,
}

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

impl FromRequest for Caller {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = request.app_data::<web::Data<AppState>>().cloned();
        let token = bearer_token(request);
        Box::pin(async move {
            let state = state.ok_or_else(|| AppError::internal("application state missing"))?;
            let now = state.clock.now();
            let claims = state.issuer.keys.verify(&token?, &state.issuer.issuer, now)?;
            let invalid = || AppError::unauthenticated("invalid_token", "The access token is invalid.");
            let session_id = Uuid::parse_str(&claims.sid).map_err(|_| invalid())?;
            let member_id: i64 = claims.sub.parse().map_err(|_| invalid())?;
            // One primary-key read per request: an ended session's tokens are
            // refused at once rather than when they expire.
            let session = state.db.run(move |conn| store::session_state(conn, session_id)).await?;
            match session {
                Some(session) if session.member_id != member_id => Err(invalid()),
                Some(session) if session.is_live(now) => Ok(Caller { member_id, session_id }),
                _ => Err(AppError::unauthenticated(
                    "session_revoked",
                    "This session has ended; log in again.",
                )),
            }
        })
    }
}

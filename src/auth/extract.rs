//! Who is calling: the extractors that turn `Authorization: Bearer <JWT>`
//! into a member whose session is still live, or an API key into a service,
//! and refuse whoever the endpoint's rule (`auth::policy`) does not admit.

use std::marker::PhantomData;

use actix_web::{FromRequest, HttpRequest, dev::Payload, http::header, web};
use futures_util::future::LocalBoxFuture;
use uuid::Uuid;

pub use crate::auth::model::Caller;
use crate::auth::model::{AuthError, assurance_level};
use crate::auth::policy;
pub use crate::auth::policy::Principal;
use crate::config::StaffMfa;
use crate::error::{Answer, Answers, AppError, ErrorCode};
use crate::integration::model::{Scope, is_api_key};
use crate::integration::store as clients;
use crate::members::model::MemberKey;
use crate::members::store as members;
use crate::state::AppState;

/// How often a member's "last visit" is written, at most.
const VISIT_RESOLUTION_MINUTES: i64 = 5;

pub fn bearer_token(request: &HttpRequest) -> Result<String, AppError> {
    let missing = AuthError::MissingCredentials;
    let value = request.headers().get(header::AUTHORIZATION).ok_or(missing)?;
    let text = value.to_str().map_err(|_| missing)?;
    let (scheme, token) = text.split_once(' ').ok_or(missing)?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(missing.into());
    }
    Ok(token.trim().to_string())
}

async fn authenticate(state: Option<web::Data<AppState>>, token: Result<String, AppError>) -> Result<Caller, AppError> {
    let state = state.ok_or_else(|| AppError::internal("application state missing"))?;
    let now = state.clock.now();
    let claims = state.issuer.keys.verify(&token?, &state.issuer.issuer, now)?;
    let invalid = AuthError::InvalidToken;
    let session_id = Uuid::parse_str(&claims.sid).map_err(|_| invalid)?;
    let member_id: i64 = claims.sub.parse().map_err(|_| invalid)?;
    // The session is checked on every request (from memory that every
    // replica drops on any change), so an ended session's tokens are refused
    // at once rather than when they expire.
    let facts = state
        .cache
        .member(&state.db, now, MemberKey::Id(member_id))
        .await?
        .ok_or(AuthError::SessionEnded)?;
    let session = state
        .cache
        .session(&state.db, &facts, session_id)
        .await?
        .ok_or(AuthError::SessionEnded)?;
    if session.member_id != member_id {
        return Err(invalid.into());
    }
    if !session.is_live(now) {
        // When a ban ended it, say so.
        facts.standing.refuse_if_banned(now)?;
        return Err(AuthError::SessionEnded.into());
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
    let is_staff = member.is_staff || member.is_superuser;
    let aal = assurance_level(&session.amr);
    Ok(Caller {
        member_id,
        session_id,
        is_staff,
        is_superuser: member.is_superuser,
        aal,
        staff_mfa_missing: is_staff && aal < 2 && state.config.staff_mfa == StaffMfa::Required,
    })
}

/// What authenticating a member's access token may answer.
fn authentication_answers() -> Vec<Answer> {
    vec![
        Answer::new(401, ErrorCode::MissingCredentials),
        Answer::new(401, ErrorCode::InvalidToken),
        Answer::new(401, ErrorCode::TokenExpired),
        Answer::noted(
            401,
            ErrorCode::SessionRevoked,
            "(Logout, a password change, a staff action.)",
        ),
        Answer::noted(
            403,
            ErrorCode::MemberBanned,
            "When a ban ended the session, with `sanction`.",
        ),
        Answer::new(503, ErrorCode::ServiceUnavailable),
    ]
}

/// What the write guard adds.
const WRITE_ANSWERS: &[Answer] = &[
    Answer::noted(403, ErrorCode::MemberReadOnly, "With `sanction`."),
    Answer::noted(403, ErrorCode::MemberBanned, "With `sanction`."),
];

impl Answers for Caller {
    fn answers() -> Vec<Answer> {
        authentication_answers()
    }
}

/// Authenticates the caller, applies the write guard when `writes`, then
/// `rule`: the order in which their refusals come.
fn member_passing(
    request: &HttpRequest,
    writes: bool,
    rule: fn(&Caller) -> Result<(), policy::Denied>,
) -> impl Future<Output = Result<Caller, AppError>> + 'static {
    let state = request.app_data::<web::Data<AppState>>().cloned();
    let future = authenticate(state.clone(), bearer_token(request));
    async move {
        let caller = future.await?;
        if writes {
            let state = state.ok_or_else(|| AppError::internal("application state missing"))?;
            policy::ensure_can_write(&state, caller.member_id).await?;
        }
        rule(&caller)?;
        Ok(caller)
    }
}

/// An extractor for members who pass a rule of [`policy`].
macro_rules! member_extractor {
    ($(#[$doc:meta])* $name:ident, writes: $writes:expr, $rule:expr, answers: [$($answer:expr),*]) => {
        $(#[$doc])*
        pub struct $name(pub Caller);

        impl Answers for $name {
            fn answers() -> Vec<Answer> {
                let mut answers = authentication_answers();
                if $writes {
                    answers.extend_from_slice(WRITE_ANSWERS);
                }
                let extra: &[Answer] = &[$($answer),*];
                answers.extend_from_slice(extra);
                answers
            }
        }

        impl FromRequest for $name {
            type Error = AppError;
            type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

            fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
                let caller = member_passing(request, $writes, $rule);
                Box::pin(async move { caller.await.map($name) })
            }
        }
    };
}

const STAFF_ONLY: Answer = Answer::new(403, ErrorCode::StaffOnly);
const SUPERUSER_ONLY: Answer = Answer::new(403, ErrorCode::SuperuserOnly);
const STAFF_MFA: Answer = Answer::noted(
    403,
    ErrorCode::MfaRequiredForStaff,
    "Staff from a session without a second factor, when `MEMBERD_STAFF_MFA=required`.",
);

member_extractor!(
    /// A caller allowed to change what others see or do: not read-only, not
    /// banned. Every write endpoint takes this instead of [`Caller`].
    Writer, writes: true, |_| Ok(()), answers: []
);
member_extractor!(
    /// A staff member (superusers are staff).
    Staff, writes: false, policy::require_staff, answers: [STAFF_ONLY, STAFF_MFA]
);
member_extractor!(
    /// A superuser.
    Superuser, writes: false, policy::require_superuser, answers: [SUPERUSER_ONLY, STAFF_MFA]
);
member_extractor!(
    /// A staff member who may write (see [`Writer`]).
    StaffWriter, writes: true, policy::require_staff, answers: [STAFF_ONLY, STAFF_MFA]
);
member_extractor!(
    /// A superuser who may write (see [`Writer`]).
    SuperuserWriter, writes: true, policy::require_superuser, answers: [SUPERUSER_ONLY, STAFF_MFA]
);

/// A key scope named as a type, so that an extractor can require it.
pub trait ScopeName {
    const SCOPE: Scope;
    /// How a key without the scope is refused, for the document.
    const REFUSAL: Answer;
}

pub struct StatusRead;
impl ScopeName for StatusRead {
    const SCOPE: Scope = Scope::StatusRead;
    const REFUSAL: Answer = Answer::noted(403, ErrorCode::InsufficientScope, "A key without `status:read`.");
}

pub struct EventsRead;
impl ScopeName for EventsRead {
    const SCOPE: Scope = Scope::EventsRead;
    const REFUSAL: Answer = Answer::noted(403, ErrorCode::InsufficientScope, "A key without `events:read`.");
}

pub struct MembersRead;
impl ScopeName for MembersRead {
    const SCOPE: Scope = Scope::MembersRead;
    const REFUSAL: Answer = Answer::noted(403, ErrorCode::InsufficientScope, "A key without `members:read`.");
}

/// Any member, or a service whose key holds `S`.
pub struct Scoped<S: ScopeName>(pub Principal, pub PhantomData<S>);

impl<S: ScopeName> FromRequest for Scoped<S> {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let principal = principal(request);
        Box::pin(async move {
            let principal = principal.await?;
            principal.require_scope(S::SCOPE)?;
            Ok(Scoped(principal, PhantomData))
        })
    }
}

impl<S: ScopeName> Answers for Scoped<S> {
    fn answers() -> Vec<Answer> {
        let mut answers = Principal::answers();
        answers.push(S::REFUSAL);
        answers
    }
}

/// Staff, or a service whose key holds `S`.
pub struct StaffOrKey<S: ScopeName>(pub Principal, pub PhantomData<S>);

impl<S: ScopeName> FromRequest for StaffOrKey<S> {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let principal = principal(request);
        Box::pin(async move {
            let principal = principal.await?;
            policy::require_staff_or_scope(&principal, S::SCOPE)?;
            Ok(StaffOrKey(principal, PhantomData))
        })
    }
}

impl<S: ScopeName> Answers for StaffOrKey<S> {
    fn answers() -> Vec<Answer> {
        let mut answers = Principal::answers();
        answers.extend([
            Answer::noted(403, ErrorCode::StaffOnly, "A member other than staff."),
            STAFF_MFA,
            S::REFUSAL,
        ]);
        answers
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

/// Who calls with a bearer token: a member's access token or a service's key.
fn principal(request: &HttpRequest) -> impl Future<Output = Result<Principal, AppError>> + 'static {
    let state = request.app_data::<web::Data<AppState>>().cloned();
    let token = bearer_token(request);
    async move {
        let token = token?;
        if !is_api_key(&token) {
            return authenticate(state, Ok(token)).await.map(Principal::Member);
        }
        let state = state.ok_or_else(|| AppError::internal("application state missing"))?;
        let now = state.clock.now();
        // From memory that every replica drops when a key is revoked.
        let client = state
            .cache
            .client(&state.db, now, token)
            .await?
            .ok_or(AuthError::InvalidApiKey)?;
        if client.claim_use_record(now) {
            let id = client.row.id;
            state.db.run(move |conn| clients::record_use(conn, id, now)).await?;
        }
        Ok(Principal::Service(client))
    }
}

impl Answers for Principal {
    fn answers() -> Vec<Answer> {
        let mut answers = authentication_answers();
        answers.push(Answer::new(401, ErrorCode::InvalidApiKey));
        answers
    }
}

impl FromRequest for Principal {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        Box::pin(principal(request))
    }
}

/// The caller of a public endpoint: anonymous, a member, or a service whose
/// key holds `S`.
pub struct MaybePrincipal<S: ScopeName>(pub Option<Principal>, pub PhantomData<S>);

/// Anonymous callers pass; a caller who sends a token may be refused as by [`Scoped`].
impl<S: ScopeName> Answers for MaybePrincipal<S> {
    fn answers() -> Vec<Answer> {
        Scoped::<S>::answers()
    }
}

impl<S: ScopeName> FromRequest for MaybePrincipal<S> {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        if !request.headers().contains_key(header::AUTHORIZATION) {
            return Box::pin(async { Ok(MaybePrincipal(None, PhantomData)) });
        }
        let future = principal(request);
        Box::pin(async move {
            let principal = future.await?;
            principal.require_scope(S::SCOPE)?;
            Ok(MaybePrincipal(Some(principal), PhantomData))
        })
    }
}

//! Login, refresh and logout: the use cases that open, renew and end sessions.

use std::net::IpAddr;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use diesel::{Connection, PgConnection};
use uuid::Uuid;

use crate::auth::TokenIssuer;
use crate::auth::admission::{Admitted, admit};
use crate::auth::keys::{AUDIENCE, AccessClaims};
use crate::auth::model::{AuthError, Caller, SessionError};
use crate::auth::model::{AuthMethod, Revocation, assurance_level, fold_identifier};
use crate::auth::store;
use crate::error::{AppError, FieldCode, FieldError, SecondFactorDue};
use crate::factors::model::{FactorKind, MFA_TOKEN_MINUTES};
use crate::factors::store as factors;
use crate::members::model::{Member, PASSWORD_MAX_CHARS};
use crate::members::store as members;
use crate::pagination::{Page, Paged};
use crate::sanctions::standing::OpenStanding;
use crate::state::AppState;
use crate::tokens::model::{OpaqueToken, hash_presented};

/// A session as handed to its holder.
pub struct Grant {
    pub access_token: String,
    pub expires_in: u64,
    pub refresh_token: String,
    pub refresh_expires_in: u64,
    pub member: Member,
}

/// Where a session was opened from.
#[derive(Clone)]
pub struct Origin {
    pub ip: IpAddr,
    pub user_agent: Option<String>,
}

impl Origin {
    fn user_agent(&self) -> Option<&str> {
        // A user agent is informative, not evidence; keep it bounded.
        self.user_agent.as_deref().map(|ua| match ua.char_indices().nth(300) {
            Some((end, _)) => &ua[..end],
            None => ua,
        })
    }
}

fn sign_access(
    issuer: &TokenIssuer,
    member: &Member,
    session_id: Uuid,
    amr: &[String],
    now: DateTime<Utc>,
) -> Result<(String, u64), AppError> {
    let ttl = issuer.access_ttl.as_secs();
    let claims = AccessClaims {
        sub: member.id.to_string(),
        name: member.username.clone(),
        roles: member.roles(),
        sid: session_id.to_string(),
        amr: amr.to_vec(),
        aal: assurance_level(amr),
        exp: now.timestamp() + ttl as i64,
        iat: now.timestamp(),
        iss: issuer.issuer.clone(),
        aud: AUDIENCE.into(),
    };
    Ok((issuer.keys.sign(&claims)?, ttl))
}

/// How a session is opened.
pub struct Opening<'a> {
    pub remember_me: bool,
    pub origin: &'a Origin,
    /// The login identifier a login was made with, and the client's IP key
    /// (`rate_limit::IpKeys`): its failures are forgotten with the opening,
    /// in one statement.
    pub login: Option<(&'a str, &'a str)>,
    pub commit: store::Commit,
    /// How the member proved who they are (RFC 8176).
    pub amr: &'a [String],
}

/// Opens a session for a member whose login was recorded (and who was locked)
/// with `members::store::record_login`, if they are admitted: with
/// [`renew_session`], the only way a session is granted. The member's open
/// sanctions are read by the statement that writes the session, and a
/// refusal's error rolls that back with the caller's transaction. Last among
/// the transaction's writes to what the member cache holds, it answers what
/// they changed, for `Db::transaction_reporting_changes`.
pub fn open_session(
    conn: &mut PgConnection,
    issuer: &TokenIssuer,
    member: Member,
    opening: &Opening,
    now: DateTime<Utc>,
) -> Result<(Grant, String), AppError> {
    let session_id = Uuid::new_v4();
    let expires_at = issuer.session_lifetime(opening.remember_me).ends_at(now, now);
    let ip = opening.origin.ip.to_string();
    let refresh = OpaqueToken::generate();
    let opened = store::open_session(
        conn,
        &store::NewSession {
            id: session_id,
            member_id: member.id,
            remember_me: opening.remember_me,
            created_at: now,
            expires_at,
            ip: Some(&ip),
            user_agent: opening.origin.user_agent(),
            amr: opening.amr,
        },
        &refresh.hash(),
        opening.login,
        opening.commit,
    )?;
    let admitted = admit(member, &OpenStanding::new(opened.open_sanctions)?, now)?;
    let session = GrantedSession {
        id: session_id,
        amr: opening.amr,
        expires_at,
    };
    Ok((grant(issuer, admitted, &session, refresh, now)?, opened.changed))
}

/// Renews a session for an admitted member: the presented refresh token is
/// rotated out and a new pair issued.
fn renew_session(
    conn: &mut PgConnection,
    issuer: &TokenIssuer,
    admitted: Admitted,
    session: &store::SessionState,
    presented_hash: &[u8],
    now: DateTime<Utc>,
) -> Result<Grant, AppError> {
    store::mark_rotated(conn, presented_hash, now)?;
    let expires_at = issuer
        .session_lifetime(session.remember_me)
        .ends_at(session.created_at, now);
    store::extend_session(conn, session.id, now, expires_at)?;
    let refresh = OpaqueToken::generate();
    store::insert_refresh_token(conn, &refresh.hash(), session.id, now)?;
    let granted = GrantedSession {
        id: session.id,
        amr: &session.amr,
        expires_at,
    };
    grant(issuer, admitted, &granted, refresh, now)
}

/// The session a grant is for.
struct GrantedSession<'a> {
    id: Uuid,
    amr: &'a [String],
    expires_at: DateTime<Utc>,
}

/// The stored refresh token and an access token to go with it.
fn grant(
    issuer: &TokenIssuer,
    admitted: Admitted,
    session: &GrantedSession,
    refresh: OpaqueToken,
    now: DateTime<Utc>,
) -> Result<Grant, AppError> {
    let member = admitted.member().clone();
    let (access_token, expires_in) = sign_access(issuer, &member, session.id, session.amr, now)?;
    Ok(Grant {
        access_token,
        expires_in,
        refresh_token: refresh.text().to_string(),
        refresh_expires_in: (session.expires_at - now).num_seconds().max(0) as u64,
        member,
    })
}

pub struct LoginInput {
    pub login: String,
    pub password: String,
    pub remember_me: bool,
}

pub async fn login(state: &AppState, input: LoginInput, origin: Origin) -> Result<Grant, AppError> {
    let identifier = fold_identifier(&input.login);
    let mut errors = Vec::new();
    // The length as sent: folding may change it.
    if input.login.chars().count() > 320 {
        errors.push(FieldError::new(
            "login",
            FieldCode::TooLong,
            "A login has at most 320 characters.",
        ));
    } else if identifier.is_empty() {
        errors.push(FieldError::new(
            "login",
            FieldCode::Required,
            "A username or e-mail address is required.",
        ));
    }
    if input.password.is_empty() {
        errors.push(FieldError::new(
            "password",
            FieldCode::Required,
            "A password is required.",
        ));
    } else if input.password.chars().count() > PASSWORD_MAX_CHARS {
        errors.push(FieldError::new(
            "password",
            FieldCode::TooLong,
            "A password has at most 256 characters.",
        ));
    }
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }

    let now = state.clock.now();
    let ip = origin.ip.to_string();
    let ip_key = state.ip_keys.key(origin.ip);
    state.hasher.check_room(&ip_key)?;
    // Counted before the password is checked, so parallel guesses are all
    // counted. Only login throttles are written.
    let credentials = {
        let (identifier, ip_key) = (identifier.clone(), ip_key.clone());
        state
            .db
            .read(move |conn| count_login_attempt(conn, &identifier, &ip_key, now))
            .await?
    };

    let (member_id, stored) = credentials.map(|c| (c.member_id, c.password_hash)).unzip();
    // A hash in another format (brought by an import) is replaced by
    // memberd's own at the first login that proves its password.
    let rehash = stored
        .as_deref()
        .is_some_and(crate::auth::password::is_foreign)
        .then(|| input.password.clone());
    let matches = match state.hasher.verify(&ip_key, input.password, stored.clone()).await {
        // Not a failure: the password was never checked.
        Err(AppError::Busy) => {
            let (identifier, ip_key) = (identifier.clone(), ip_key.clone());
            state
                .db
                .read(move |conn| store::take_back_attempt(conn, &identifier, &ip_key))
                .await?;
            return Err(AppError::Busy);
        }
        verified => verified?,
    };
    let (Some(member_id), Some(verified), true) = (member_id, stored, matches) else {
        return Err(AuthError::InvalidCredentials.into());
    };
    let rehashed = match rehash {
        // Busy hashing: the old hash serves until the next login.
        Some(password) => match state.hasher.hash(&ip_key, password).await {
            Err(AppError::Busy) => None,
            hashed => Some(hashed?),
        },
        None => None,
    };

    let issuer = Arc::clone(&state.issuer);
    let step = state
        .db
        .transaction_reporting_changes(move |conn| {
            let verified = match rehashed {
                Some(rehashed) => {
                    // The password changed while it was checked: as below.
                    if !members::rehash_password(conn, member_id, &verified, &rehashed)? {
                        return Err(AuthError::InvalidCredentials.into());
                    }
                    rehashed
                }
                None => verified,
            };
            let ways = factors::second_factor_ways(conn, member_id)?;
            if !ways.is_empty() {
                let due = second_factor_due(conn, member_id, &verified, ways, input.remember_me, now)?;
                // The password was right: its failures are forgotten, as a
                // login's, last. A token lost in a crash costs a new login.
                store::forget_failures(conn, &identifier, &ip_key, store::Commit::Lazy)?;
                return Ok((LoginStep::SecondFactorDue(due), String::new()));
            }
            let member =
                members::record_login(conn, member_id, now, Some(&ip))?.ok_or(AuthError::InvalidCredentials)?;
            // The password was checked against the hash read before hashing;
            // a change or reset committed since (which ended every session)
            // must not be followed by a session opened with the old password.
            if member.password_hash != verified {
                return Err(AuthError::InvalidCredentials.into());
            }
            // The failures are forgotten by the last statement, for the same
            // reason as the count. A login lost in a crash of PostgreSQL costs
            // its member a new login, and writes no event: it need not wait
            // for the disk, which is most of its cost.
            let opening = Opening {
                remember_me: input.remember_me,
                origin: &origin,
                login: Some((&identifier, &ip_key)),
                commit: store::Commit::Lazy,
                amr: &[AuthMethod::Password.as_str().to_string()],
            };
            let (grant, changed) = open_session(conn, &issuer, member, &opening, now)?;
            Ok((LoginStep::Granted(Box::new(grant)), changed))
        })
        .await?;
    state.cache.forget_member(member_id);
    match step {
        LoginStep::Granted(grant) => Ok(*grant),
        LoginStep::SecondFactorDue(due) => Err(AppError::SecondFactorDue(due)),
    }
}

/// Where a login with the right password stands.
enum LoginStep {
    Granted(Box<Grant>),
    SecondFactorDue(SecondFactorDue),
}

/// Opens the wait for the second factor of a member whose password was
/// right: the same admission as a session's (a banned member learns it
/// here, not after their second factor), and a single-use token naming the
/// login and the factors that may finish it.
fn second_factor_due(
    conn: &mut PgConnection,
    member_id: i64,
    verified_hash: &str,
    ways: Vec<String>,
    remember_me: bool,
    now: DateTime<Utc>,
) -> Result<SecondFactorDue, AppError> {
    let member = members::find_for_update(conn, member_id)?.ok_or(AuthError::InvalidCredentials)?;
    // As for a session: a password changed while this one was hashed does not count.
    if member.password_hash != verified_hash {
        return Err(AuthError::InvalidCredentials.into());
    }
    let standing = OpenStanding::load(conn, member_id, now)?;
    admit(member, &standing, now)?;
    let token = OpaqueToken::generate();
    let expires_at = now + chrono::Duration::minutes(MFA_TOKEN_MINUTES);
    factors::open_challenge(conn, &token.hash(), member_id, remember_me, now, expires_at)?;
    // TOTP, then passkeys, then recovery codes: as the problem lists them.
    let order = [FactorKind::Totp.as_str(), FactorKind::Passkey.as_str(), "recovery_code"];
    let names: Vec<&'static str> = order.into_iter().filter(|way| ways.iter().any(|w| w == way)).collect();
    Ok(SecondFactorDue {
        mfa_token: token.text().to_string(),
        factors: names,
    })
}

/// Counts a login attempt and finds whom its identifier names, or refuses
/// it (uncounted) when failures impose a wait. On a connection outside any
/// transaction: an attempt below every threshold, by far the most common,
/// is counted in one statement that commits on its own. `ip` is the client's
/// key, as `rate_limit::IpKeys` makes it.
pub fn count_login_attempt(
    conn: &mut PgConnection,
    identifier: &str,
    ip: &str,
    now: DateTime<Utc>,
) -> Result<Option<store::Credentials>, AppError> {
    if let Some(counted) = store::count_attempt_below_thresholds(conn, identifier, ip, now)? {
        return Ok(counted.credentials);
    }
    conn.transaction(|conn| {
        let counted = store::count_attempt(conn, identifier, ip, now)?;
        // A refusal rolls the count back.
        if let Some(retry_after_secs) = counted.wait_secs {
            return Err(AuthError::TooManyAttempts { retry_after_secs }.into());
        }
        Ok(counted.credentials)
    })
}

pub async fn refresh(state: &AppState, refresh_token: &str) -> Result<Grant, AppError> {
    let invalid = AuthError::InvalidRefreshToken;
    let hash = hash_presented(refresh_token).ok_or(invalid)?;
    let now = state.clock.now();
    let issuer = Arc::clone(&state.issuer);
    // The inner Result carries refusals that must still commit (reuse revokes the session).
    state
        .db
        .transaction(move |conn| {
            let Some((rotated_at, session)) = store::find_refresh_for_update(conn, &hash)? else {
                return Ok(Err(invalid.into()));
            };
            if rotated_at.is_some() {
                store::revoke_session(conn, session.id, Revocation::RefreshTokenReused, now)?;
                return Ok(Err(AuthError::RefreshTokenReused.into()));
            }
            let lifetime = issuer.session_lifetime(session.remember_me);
            if session.revoked_at.is_none() && lifetime.outlived(session.created_at, now) {
                return Ok(Err(AuthError::SessionExpired.into()));
            }
            if !session.is_live(now) {
                return Ok(Err(invalid.into()));
            }
            let member = members::find_for_update(conn, session.member_id)?.ok_or(invalid)?;
            let standing = OpenStanding::load(conn, member.id, now)?;
            let admitted = admit(member, &standing, now)?;
            renew_session(conn, &issuer, admitted, &session, &hash, now).map(Ok)
        })
        .await?
}

/// A live session of the caller's, as they see it.
pub struct OwnSession {
    pub session: store::LiveSession,
    /// The session this list is read with.
    pub current: bool,
    /// Where its address is, when GeoIP is configured.
    pub city: Option<String>,
}

/// A page of the caller's live sessions, the latest opened first.
pub async fn own_sessions(state: &AppState, caller: &Caller, page: Page) -> Result<Paged<OwnSession>, AppError> {
    let (member_id, current) = (caller.member_id, caller.session_id);
    let now = state.clock.now();
    let sessions = state
        .db
        .read(move |conn| store::live_sessions_of(conn, member_id, now, page))
        .await?;
    Ok(sessions.map(|session| OwnSession {
        current: session.id == current,
        city: state.city_of(session.ip.as_deref()),
        session,
    }))
}

/// Ends one of the caller's live sessions: its refresh token stops working
/// and its access tokens are refused at once, on every replica, as after a
/// logout. Another member's session is as unknown as a made-up id.
pub async fn end_own_session(state: &AppState, member_id: i64, id: &str) -> Result<(), AppError> {
    let id = Uuid::parse_str(id).map_err(|_| SessionError::NotFound)?;
    let now = state.clock.now();
    state
        .db
        .transaction(move |conn| {
            if store::end_live_session(conn, member_id, id, now)? {
                Ok(())
            } else {
                Err(SessionError::NotFound.into())
            }
        })
        .await
}

pub async fn logout(state: &AppState, member_id: i64, session_id: Uuid, everywhere: bool) -> Result<(), AppError> {
    let now = state.clock.now();
    state
        .db
        .transaction(move |conn| {
            if everywhere {
                store::revoke_member_sessions(conn, member_id, Revocation::Logout, now)?;
            } else {
                store::revoke_session(conn, session_id, Revocation::Logout, now)?;
            }
            Ok(())
        })
        .await
}

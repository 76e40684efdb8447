//! Who may do what. The HTTP layer turns each rule into an extractor
//! (`auth::extract`), so that a handler states its rule in its signature and
//! no handler body checks a role.

use std::sync::Arc;

use diesel::PgConnection;

use crate::audit::{AuditAction, AuditEntry};
use crate::auth::model::{AuthError, Caller};
use crate::cache::CachedClient;
use crate::error::{AppError, DomainError, ErrorCode, Kind};
use crate::integration::model::Scope;
use crate::members::model::{Member, MemberKey};
use crate::members::store as members;
use crate::sanctions::model::{Rank, may_moderate};
use crate::state::AppState;

/// Why a caller may not use an endpoint at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    #[error("Only staff may do this.")]
    StaffOnly,
    #[error("Only superusers may do this.")]
    SuperuserOnly,
    #[error("This key lacks the {} scope.", .0.as_str())]
    MissingScope(Scope),
    #[error("Only the member, staff and services may see this status.")]
    NotYourStatus,
    #[error("Staff powers need a session that proved a second factor: enrol one, then log in with it.")]
    MfaRequiredForStaff,
}

impl DomainError for Denied {
    fn kind(&self) -> Kind {
        Kind::Forbidden
    }

    fn code(&self) -> ErrorCode {
        match self {
            Self::StaffOnly => ErrorCode::StaffOnly,
            Self::SuperuserOnly => ErrorCode::SuperuserOnly,
            Self::MissingScope(_) => ErrorCode::InsufficientScope,
            Self::NotYourStatus => ErrorCode::Forbidden,
            Self::MfaRequiredForStaff => ErrorCode::MfaRequiredForStaff,
        }
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
    pub fn require_scope(&self, scope: Scope) -> Result<(), Denied> {
        match self {
            Self::Service(client) if !client.row.has(scope) => Err(Denied::MissingScope(scope)),
            _ => Ok(()),
        }
    }
}

/// Services with `scope`, and staff; other members are refused.
pub fn require_staff_or_scope(principal: &Principal, scope: Scope) -> Result<(), Denied> {
    principal.require_scope(scope)?;
    match principal {
        Principal::Member(caller) => require_staff(caller),
        Principal::Service(_) => Ok(()),
    }
}

/// A member's status is theirs, staff's and services' to read.
pub fn may_read_status_of(principal: &Principal, member_id: i64) -> Result<(), Denied> {
    match principal {
        Principal::Member(caller) if caller.member_id != member_id => {
            require_staff(caller).map_err(|denied| match denied {
                Denied::StaffOnly => Denied::NotYourStatus,
                other => other,
            })
        }
        _ => Ok(()),
    }
}

/// Superusers pass.
pub fn require_superuser(caller: &Caller) -> Result<(), Denied> {
    if !caller.is_superuser {
        Err(Denied::SuperuserOnly)
    } else if caller.staff_mfa_missing {
        Err(Denied::MfaRequiredForStaff)
    } else {
        Ok(())
    }
}

/// The write guard, from the member cache.
pub async fn ensure_can_write(state: &AppState, member_id: i64) -> Result<(), AppError> {
    let facts = state
        .cache
        .member(&state.db, state.clock.now(), MemberKey::Id(member_id))
        .await?
        .ok_or(AuthError::AccountGone)?;
    facts.standing.ensure_can_write(state.clock.now())
}

/// The write guard, returning the member as memory holds them: a moderator
/// checked this way needs no query for their own row.
pub async fn writer(state: &AppState, member_id: i64) -> Result<Member, AppError> {
    let facts = state
        .cache
        .member(&state.db, state.clock.now(), MemberKey::Id(member_id))
        .await?
        .ok_or(AuthError::AccountGone)?;
    facts.standing.ensure_can_write(state.clock.now())?;
    Ok(facts.member.clone())
}

pub fn rank_of(member: &Member) -> Rank {
    if member.is_superuser {
        Rank::Superuser
    } else if member.is_staff {
        Rank::Staff
    } else {
        Rank::Member
    }
}

/// The rank rule of sanctions and karma, as the 403 a moderator gets.
pub fn check_may_moderate(
    conn: &mut PgConnection,
    moderator: &Member,
    target: &Member,
    bot_group: &str,
) -> Result<(), AppError> {
    let is_bot = !members::bots_among(conn, &[target.id], bot_group)?.is_empty();
    check_rank(moderator, target, is_bot)
}

/// [`check_may_moderate`], when whether the target is a bot is known.
pub fn check_rank(moderator: &Member, target: &Member, target_is_bot: bool) -> Result<(), AppError> {
    Ok(may_moderate(
        moderator.id,
        rank_of(moderator),
        target.id,
        rank_of(target),
        target_is_bot,
    )?)
}

/// Staff and superusers pass.
pub fn require_staff(caller: &Caller) -> Result<(), Denied> {
    if !caller.is_staff {
        Err(Denied::StaffOnly)
    } else if caller.staff_mfa_missing {
        Err(Denied::MfaRequiredForStaff)
    } else {
        Ok(())
    }
}

/// Where a staff action comes from, for the audit log.
pub struct Actor {
    pub member_id: i64,
    pub ip: String,
}

impl Actor {
    pub fn new(caller: &Caller, ip: std::net::IpAddr) -> Self {
        Self {
            member_id: caller.member_id,
            ip: ip.to_string(),
        }
    }

    /// The audit entry of `action` by this actor, about no member in particular.
    pub fn audit(&self, action: AuditAction, details: serde_json::Value) -> AuditEntry<'_> {
        AuditEntry {
            actor_id: self.member_id,
            action,
            target_member_id: None,
            target: None,
            reason: None,
            ip: &self.ip,
            details,
        }
    }
}

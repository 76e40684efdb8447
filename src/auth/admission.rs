//! The one gate every session passes: login, refresh and activation call
//! [`admit`], and only an [`Admitted`] member can be given a session. A
//! banned member is refused with the ban's public reason and end.

use chrono::{DateTime, Utc};

use crate::auth::model::AuthError;
use crate::error::AppError;
use crate::members::model::Member;
use crate::sanctions::standing::OpenStanding;

/// Proof that a member was allowed a session at a given instant. Only
/// [`admit`] makes one.
pub struct Admitted {
    member: Member,
}

impl Admitted {
    pub fn member(&self) -> &Member {
        &self.member
    }
}

/// Decides whether `member`, whose open sanctions `standing` holds, may open
/// or renew a session at `now`: the account must be active and under no
/// running global ban. The standing must have been read after the member was
/// locked, so that a ban committed meanwhile is seen.
pub fn admit(member: Member, standing: &OpenStanding, now: DateTime<Utc>) -> Result<Admitted, AppError> {
    if member.deactivated_at.is_some() {
        return Err(AuthError::AccountDisabled.into());
    }
    if !member.is_active {
        return Err(AuthError::AccountInactive.into());
    }
    standing.refuse_if_banned(now)?;
    Ok(Admitted { member })
}

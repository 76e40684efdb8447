//! The one gate every session passes: login, refresh and activation (and,
//! later, password reset) call [`admit`], and only an [`Admitted`] member can
//! be given a session. Sanctions plug in here: a banned member is refused
//! with the ban's public reason and end.

use chrono::{DateTime, Utc};
use diesel::PgConnection;

use crate::error::AppError;
use crate::members::model::Member;

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

/// Decides whether `member` may open or renew a session at `now`.
pub fn admit(_conn: &mut PgConnection, member: Member, _now: DateTime<Utc>) -> Result<Admitted, AppError> {
    if !member.is_active {
        return Err(AppError::forbidden(
            "account_inactive",
            "This account is not active yet: use the link in the validation e-mail, or ask for a new one.",
        ));
    }
    // The sanctions issue adds the running-ban check here, reading the
    // member's queue through `_conn` at `_now`, refusing with AppError::Banned.
    Ok(Admitted { member })
}

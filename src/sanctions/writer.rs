//! What the sanction writer (`db::batch`) takes and answers: sanctions
//! applied at the same moment are stored together (`sanctions::service`'s
//! `impose`).

use chrono::{DateTime, Utc};

use crate::db::batch::Batcher;
use crate::mail::OutgoingMail;
use crate::members::model::{Member, MemberKey};
use crate::sanctions::model::State;
use crate::sanctions::request::SanctionRequest;
use crate::sanctions::store::SanctionRow;

pub type SanctionWriter = Batcher<Imposition, Imposed>;

/// A moderator's sanction (or lift), checked but for what only its target's
/// row tells: who they are, their rank, their history.
pub struct Imposition {
    /// Read from memory, with the write guard.
    pub moderator: Member,
    /// Where the moderator acts from, for the audit log.
    pub ip: String,
    pub target: MemberKey,
    pub request: SanctionRequest,
    pub now: DateTime<Utc>,
}

/// The stored sanction, and the e-mail that tells its member.
pub struct Imposed {
    pub row: SanctionRow,
    pub state: State,
    pub member_name: String,
    pub moderator_name: String,
    pub mail: OutgoingMail,
}

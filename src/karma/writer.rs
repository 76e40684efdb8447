//! What the karma writer (`db::batch`) takes and answers: notes written at
//! the same moment are stored together (`karma::service`'s `note`).

use chrono::{DateTime, Utc};

use crate::db::batch::Batcher;
use crate::karma::model::KarmaNote;
use crate::karma::store::NoteView;
use crate::members::model::{Member, MemberKey};

pub type KarmaWriter = Batcher<Noting, NoteView>;

/// A note staff write about a member, checked but for what only its
/// target's row tells: who they are, their rank.
pub struct Noting {
    /// Read from memory, with the write guard.
    pub author: Member,
    /// Where the author writes from, for the audit log.
    pub ip: String,
    pub target: MemberKey,
    pub note: KarmaNote,
    pub now: DateTime<Utc>,
}

//! What the report writer (`db::batch`) takes and answers: reports filed at
//! the same moment are stored together (`cases::service::filing`).

use chrono::{DateTime, Utc};

use crate::cases::model::Filing;
use crate::cases::store::reports::ReportView;
use crate::db::batch::Batcher;
use crate::members::model::{Member, MemberKey};

pub type ReportWriter = Batcher<Reporting, ReportView>;

/// A member's report, checked but for what only its target's row and the
/// reporter's counts tell: who the target is, whether they are a bot, how
/// many reports the reporter may still file.
pub struct Reporting {
    /// Read from memory.
    pub reporter: Member,
    pub target: MemberKey,
    pub filing: Filing,
    pub now: DateTime<Utc>,
}

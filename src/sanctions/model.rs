//! The sanction queue, in plain Rust: from a member's history and an instant,
//! when each sanction starts and ends, and what the member may do.
//!
//! Sanctions queue per (kind, resource). A temporary one starts at the later
//! of its creation and the end of the one before it; a permanent one blocks
//! the queue behind it. Forgiving ends a sanction at that instant (the next
//! starts then); reverting erases it (the next starts where it would have
//! without it); lifting ends everything running or queued of its kind and
//! resource. Nothing here is stored: every start and end is derived, so expiry
//! needs no job.

use chrono::{DateTime, Utc};

use crate::duration::Duration;
use crate::error::{Answer, Answers, DomainError, ErrorCode, Kind};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Restriction {
    /// Cannot write.
    ReadOnly,
    /// Cannot log in; cannot read or write.
    Ban,
}

impl Restriction {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ReadOnly => "read_only",
            Self::Ban => "ban",
        }
    }
}

/// What a staff entry does: impose a restriction, or lift every running and
/// queued one of a kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Impose(Restriction),
    Lift(Restriction),
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Impose(r) => r.as_str(),
            Self::Lift(Restriction::ReadOnly) => "lift_read_only",
            Self::Lift(Restriction::Ban) => "lift_ban",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "read_only" => Some(Self::Impose(Restriction::ReadOnly)),
            "ban" => Some(Self::Impose(Restriction::Ban)),
            "lift_read_only" => Some(Self::Lift(Restriction::ReadOnly)),
            "lift_ban" => Some(Self::Lift(Restriction::Ban)),
            _ => None,
        }
    }

    pub fn restriction(self) -> Restriction {
        match self {
            Self::Impose(r) | Self::Lift(r) => r,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndingKind {
    Forgiven,
    Reverted,
    Lifted,
    /// Ended by the next sanction of its kind, in a history imported from
    /// software that replaced a running sanction instead of queueing the next.
    Replaced,
}

impl EndingKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Forgiven => "forgiven",
            Self::Reverted => "reverted",
            Self::Lifted => "lifted",
            Self::Replaced => "replaced",
        }
    }
}

/// How and when a sanction was ended early (or erased).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ending {
    pub kind: EndingKind,
    pub at: DateTime<Utc>,
}

/// One entry of a member's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub id: i64,
    pub action: Action,
    pub resource: Option<String>,
    pub created_at: DateTime<Utc>,
    /// None: permanent.
    pub duration: Option<Duration>,
    pub ending: Option<Ending>,
}

impl Entry {
    /// Its state at `at`, in its slot: the slot alone says whether it runs,
    /// so the state needs no other entry of the history.
    pub fn state(&self, slot: &Slot, at: DateTime<Utc>) -> State {
        if let Action::Lift(_) = self.action {
            return State::Expired;
        }
        if slot.covers(at) {
            return State::Active;
        }
        match (self.ending, slot.starts_at) {
            (
                Some(Ending {
                    kind: EndingKind::Reverted,
                    ..
                }),
                _,
            ) => State::Reverted,
            (
                Some(Ending {
                    kind: EndingKind::Forgiven,
                    at: ended,
                }),
                _,
            ) if ended <= at => State::Forgiven,
            (
                Some(Ending {
                    kind: EndingKind::Lifted,
                    at: ended,
                }),
                _,
            ) if ended <= at => State::Lifted,
            (
                Some(Ending {
                    kind: EndingKind::Replaced,
                    at: ended,
                }),
                _,
            ) if ended <= at => State::Replaced,
            (_, None) => State::Queued,
            (_, Some(start)) if at < start => State::Queued,
            _ => State::Expired,
        }
    }

    fn queue(&self) -> (Restriction, Option<&str>) {
        (self.action.restriction(), self.resource.as_deref())
    }
}

/// An instant that may never come: the end of a permanent sanction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Until {
    At(DateTime<Utc>),
    Never,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Queued,
    Active,
    Expired,
    Forgiven,
    Reverted,
    Lifted,
    Replaced,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Active => "active",
            Self::Expired => "expired",
            Self::Forgiven => "forgiven",
            Self::Reverted => "reverted",
            Self::Lifted => "lifted",
            Self::Replaced => "replaced",
        }
    }
}

/// When an entry runs. A sanction blocked behind a permanent one has no start
/// yet; a reverted one never runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    pub id: i64,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Until,
}

impl Slot {
    pub fn covers(&self, at: DateTime<Utc>) -> bool {
        self.starts_at
            .is_some_and(|start| start <= at && Until::At(at) < self.ends_at)
    }
}

/// The history of one member, in the order the entries were given.
#[derive(Debug, Clone, Default)]
pub struct History {
    entries: Vec<Entry>,
}

impl History {
    pub fn new(mut entries: Vec<Entry>) -> Self {
        entries.sort_by_key(|e| (e.created_at, e.id));
        Self { entries }
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The slot of every entry. Lifts are instants: they start and end when given.
    pub fn schedule(&self) -> Vec<Slot> {
        let mut previous_end: std::collections::HashMap<(Restriction, Option<&str>), Until> = Default::default();
        self.entries
            .iter()
            .map(|entry| {
                if let Action::Lift(_) = entry.action {
                    return Slot {
                        id: entry.id,
                        starts_at: Some(entry.created_at),
                        ends_at: Until::At(entry.created_at),
                    };
                }
                if matches!(
                    entry.ending,
                    Some(Ending {
                        kind: EndingKind::Reverted,
                        ..
                    })
                ) {
                    return Slot {
                        id: entry.id,
                        starts_at: None,
                        ends_at: Until::At(entry.created_at),
                    };
                }
                let cursor = previous_end.get(&entry.queue()).copied();
                let start = match cursor {
                    None => Some(entry.created_at),
                    Some(Until::At(end)) => Some(end.max(entry.created_at)),
                    Some(Until::Never) => None,
                };
                let natural_end = match (start, entry.duration) {
                    (Some(start), Some(duration)) => Until::At(start + duration.to_chrono()),
                    _ => Until::Never,
                };
                let (starts_at, ends_at) = match (start, entry.ending) {
                    // Ended while running: at the ending (or its natural end, if sooner).
                    (Some(start), Some(ending)) if ending.at >= start => {
                        (Some(start), natural_end.min(Until::At(ending.at)))
                    }
                    // Ended before its turn: it never runs, and the queue goes
                    // on from where it would have started.
                    (Some(start), Some(_)) => (None, Until::At(start)),
                    (None, Some(ending)) => (None, Until::At(ending.at)),
                    (start, None) => (start, natural_end),
                };
                let next = cursor.map_or(ends_at, |c| c.max(ends_at));
                previous_end.insert(entry.queue(), next);
                Slot {
                    id: entry.id,
                    starts_at,
                    ends_at,
                }
            })
            .collect()
    }

    /// The ids a lift of `restriction` on `resource` at `at` ends: everything
    /// of that queue still running or waiting.
    pub fn lifted_by(&self, restriction: Restriction, resource: Option<&str>, at: DateTime<Utc>) -> Vec<i64> {
        self.entries
            .iter()
            .zip(self.schedule())
            .filter(|(entry, slot)| {
                entry.action == Action::Impose(restriction)
                    && entry.resource.as_deref() == resource
                    && entry.ending.is_none()
                    && Until::At(at) < slot.ends_at
            })
            .map(|(entry, _)| entry.id)
            .collect()
    }

    /// What the member may do at `at`, where `resource` is asked about:
    /// global sanctions apply everywhere, scoped ones only to their resource.
    pub fn status_at(&self, resource: Option<&str>, at: DateTime<Utc>) -> Status {
        status_of(self.entries.iter().zip(&self.schedule()), resource, at)
    }
}

/// The part of a history that decides status from some instant on: the
/// sanctions not ended by then, with the slots the whole history gave them.
/// Status read from it at that instant or later equals
/// [`History::status_at`] (property tested); it is what is kept in memory per member, so a
/// member with ten thousand past sanctions costs what one without does.
#[derive(Debug, Clone, Default)]
pub struct OpenQueue {
    scheduled: Vec<(Entry, Slot)>,
}

impl OpenQueue {
    pub fn new(scheduled: Vec<(Entry, Slot)>) -> Self {
        Self { scheduled }
    }

    pub fn status_at(&self, resource: Option<&str>, at: DateTime<Utc>) -> Status {
        status_of(self.scheduled.iter().map(|(e, s)| (e, s)), resource, at)
    }
}

/// Status from entries and their slots: for each restriction, whether a
/// sanction that applies covers `at`, and when its whole queue ends.
fn status_of<'a>(
    scheduled: impl Iterator<Item = (&'a Entry, &'a Slot)> + Clone,
    resource: Option<&str>,
    at: DateTime<Utc>,
) -> Status {
    let applies = |entry: &Entry| entry.resource.is_none() || entry.resource.as_deref() == resource;
    let mut status = Status::default();
    for restriction in [Restriction::Ban, Restriction::ReadOnly] {
        let relevant: Vec<(&Entry, &Slot)> = scheduled
            .clone()
            .filter(|(e, _)| e.action == Action::Impose(restriction) && applies(e))
            .collect();
        let running: Vec<i64> = relevant
            .iter()
            .filter(|(_, s)| s.covers(at))
            .map(|(e, _)| e.id)
            .collect();
        if running.is_empty() {
            continue;
        }
        // The end of the whole queue: the last end among what is running
        // or still to come in the queues that apply.
        let until = relevant
            .iter()
            .filter(|(e, s)| running.contains(&e.id) || (Until::At(at) < s.ends_at && !is_reverted(e)))
            .map(|(_, s)| s.ends_at)
            .max()
            .unwrap_or(Until::Never);
        status.active.extend(running);
        match restriction {
            Restriction::Ban => status.banned_until = Some(until),
            Restriction::ReadOnly => status.read_only_until = Some(until),
        }
    }
    status
}

fn is_reverted(entry: &Entry) -> bool {
    matches!(
        entry.ending,
        Some(Ending {
            kind: EndingKind::Reverted,
            ..
        })
    )
}

/// What a member may do at one instant.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Status {
    /// Some while banned: until when (or Never).
    pub banned_until: Option<Until>,
    /// Some while read-only: until when (or Never).
    pub read_only_until: Option<Until>,
    /// The ids of the running sanctions.
    pub active: Vec<i64>,
}

impl Status {
    pub fn can_read(&self) -> bool {
        self.banned_until.is_none()
    }

    pub fn can_write(&self) -> bool {
        self.banned_until.is_none() && self.read_only_until.is_none()
    }
}

/// Ranks of the rule "a moderator needs a higher rank than the target".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Rank {
    Member,
    Staff,
    Superuser,
}

/// Why a moderator may not moderate a member (sanctions, karma, logging out).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("Nobody moderates themselves.")]
    Yourself,
    #[error("Bots are not moderated.")]
    Bot,
    #[error("Superusers are not moderated.")]
    Superuser,
    #[error("Moderating this member needs a higher rank.")]
    Outranked,
}

/// Every operation that checks the rank rule may answer each refusal.
impl Answers for Refusal {
    fn answers() -> Vec<Answer> {
        [Self::Yourself, Self::Bot, Self::Superuser, Self::Outranked]
            .iter()
            .map(|refusal| Answer::new(403, refusal.code()))
            .collect()
    }
}

impl DomainError for Refusal {
    fn kind(&self) -> Kind {
        Kind::Forbidden
    }

    fn code(&self) -> ErrorCode {
        match self {
            Self::Yourself => ErrorCode::CannotModerateSelf,
            Self::Bot => ErrorCode::CannotModerateBot,
            Self::Superuser => ErrorCode::CannotModerateSuperuser,
            Self::Outranked => ErrorCode::InsufficientRank,
        }
    }
}

/// Why a sanction cannot be found or ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SanctionError {
    #[error("No such sanction.")]
    NotFound,
    #[error("A lift cannot be forgiven or reverted.")]
    IsALift,
    #[error("This sanction is {} already.", .0.as_str())]
    NotEndable(State),
}

impl DomainError for SanctionError {
    fn kind(&self) -> Kind {
        match self {
            Self::NotFound => Kind::NotFound,
            Self::IsALift | Self::NotEndable(_) => Kind::Conflict,
        }
    }

    fn code(&self) -> ErrorCode {
        match self {
            Self::NotFound => ErrorCode::SanctionNotFound,
            Self::IsALift => ErrorCode::SanctionIsALift,
            Self::NotEndable(_) => ErrorCode::SanctionNotEndable,
        }
    }
}

/// Whether `moderator` may sanction (or note karma on) `target`.
pub fn may_moderate(
    moderator_id: i64,
    moderator: Rank,
    target_id: i64,
    target: Rank,
    target_is_bot: bool,
) -> Result<(), Refusal> {
    if moderator_id == target_id {
        Err(Refusal::Yourself)
    } else if target_is_bot {
        Err(Refusal::Bot)
    } else if target == Rank::Superuser {
        Err(Refusal::Superuser)
    } else if moderator <= target {
        Err(Refusal::Outranked)
    } else {
        Ok(())
    }
}

mod reduction;
pub use reduction::check_reduction;

#[cfg(test)]
mod tests;

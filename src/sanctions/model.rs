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
use crate::error::FieldError;

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

    pub fn state_of(&self, entry: &Entry, slot: &Slot, at: DateTime<Utc>) -> State {
        if let Action::Lift(_) = entry.action {
            return State::Expired;
        }
        if slot.covers(at) {
            return State::Active;
        }
        match (entry.ending, slot.starts_at) {
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
            (_, None) => State::Queued,
            (_, Some(start)) if at < start => State::Queued,
            _ => State::Expired,
        }
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

pub const REASON_MAX_CHARS: usize = 1_000;
pub const PRIVATE_NOTE_MAX_CHARS: usize = 2_000;
pub const RESOURCE_MAX_CHARS: usize = 200;

/// A sanction as a moderator asked for it, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SanctionRequest {
    pub action: Action,
    pub reason: String,
    pub private_note: String,
    pub duration: Option<Duration>,
    pub resource: Option<String>,
}

/// A resource as services name it: opaque, 1–200 characters, no control characters.
pub fn parse_resource(field: &str, text: &str) -> Result<String, FieldError> {
    let count = text.chars().count();
    if count == 0 || count > RESOURCE_MAX_CHARS {
        Err(FieldError::new(
            field,
            "invalid_length",
            "A resource has 1 to 200 characters.",
        ))
    } else if text.chars().any(char::is_control) {
        Err(FieldError::new(
            field,
            "contains_control_character",
            "A resource may not contain control characters.",
        ))
    } else {
        Ok(text.to_string())
    }
}

/// A required reason-like text of 1 to `max` characters.
pub fn parse_reason(field: &str, text: &str, max: usize) -> Result<String, FieldError> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        Err(FieldError::new(field, "required", "Give a reason."))
    } else if trimmed.chars().count() > max {
        Err(FieldError::new(field, "too_long", format!("At most {max} characters.")))
    } else {
        Ok(trimmed.to_string())
    }
}

impl SanctionRequest {
    pub fn parse(
        kind: &str,
        reason: &str,
        private_note: Option<&str>,
        duration: Option<&str>,
        resource: Option<&str>,
    ) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        let action = Action::parse(kind);
        if action.is_none() {
            errors.push(FieldError::new(
                "kind",
                "invalid",
                "kind is read_only, ban, lift_read_only or lift_ban.",
            ));
        }
        let reason = parse_reason("reason", reason, REASON_MAX_CHARS)
            .map_err(|e| errors.push(e))
            .ok();
        let private_note = private_note.unwrap_or_default().trim().to_string();
        if private_note.chars().count() > PRIVATE_NOTE_MAX_CHARS {
            errors.push(FieldError::new("private_note", "too_long", "At most 2000 characters."));
        }
        let duration = match (action, duration) {
            (Some(Action::Lift(_)), Some(_)) => {
                errors.push(FieldError::new("duration", "not_allowed", "A lift has no duration."));
                None
            }
            (_, Some(text)) => Duration::parse(text)
                .map_err(|e| errors.push(FieldError::new("duration", "invalid", e.to_string())))
                .ok(),
            (_, None) => None,
        };
        let resource = resource
            .map(|r| parse_resource("resource", r))
            .transpose()
            .map_err(|e| errors.push(e))
            .ok()
            .flatten();
        match (action, reason) {
            (Some(action), Some(reason)) if errors.is_empty() => Ok(Self {
                action,
                reason,
                private_note,
                duration,
                resource,
            }),
            _ => Err(errors),
        }
    }
}

/// Ranks of the rule "a moderator needs a higher rank than the target".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Rank {
    Member,
    Staff,
    Superuser,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Yourself,
    Bot,
    Superuser,
    Outranked,
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

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn t(secs: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_800_000_000 + secs, 0).unwrap()
    }

    fn impose(id: i64, r: Restriction, resource: Option<&str>, at: i64, secs: Option<u64>) -> Entry {
        Entry {
            id,
            action: Action::Impose(r),
            resource: resource.map(String::from),
            created_at: t(at),
            duration: secs.map(|s| Duration::from_secs(s).unwrap()),
            ending: None,
        }
    }

    fn ended(mut entry: Entry, kind: EndingKind, at: i64) -> Entry {
        entry.ending = Some(Ending { kind, at: t(at) });
        entry
    }

    const H: u64 = 3_600;

    #[test]
    fn temporary_sanctions_accumulate() {
        let history = History::new(vec![
            impose(1, Restriction::Ban, None, 0, Some(H)),
            impose(2, Restriction::Ban, None, 10, Some(H)),
        ]);
        let slots = history.schedule();
        assert_eq!(slots[1].starts_at, Some(t(3_600)));
        assert_eq!(slots[1].ends_at, Until::At(t(7_200)));
        assert_eq!(history.status_at(None, t(20)).banned_until, Some(Until::At(t(7_200))));
        assert_eq!(history.status_at(None, t(3_700)).active, vec![2]);
        assert_eq!(history.status_at(None, t(7_200)), Status::default());
    }

    #[test]
    fn a_later_sanction_after_a_gap_starts_at_its_creation() {
        let history = History::new(vec![
            impose(1, Restriction::ReadOnly, None, 0, Some(60)),
            impose(2, Restriction::ReadOnly, None, 1_000, Some(60)),
        ]);
        assert_eq!(history.schedule()[1].starts_at, Some(t(1_000)));
        assert!(history.status_at(None, t(500)).can_write());
    }

    #[test]
    fn a_permanent_sanction_blocks_the_queue() {
        let history = History::new(vec![
            impose(1, Restriction::Ban, None, 0, None),
            impose(2, Restriction::Ban, None, 10, Some(H)),
        ]);
        let slots = history.schedule();
        assert_eq!(slots[0].ends_at, Until::Never);
        assert_eq!(slots[1].starts_at, None);
        assert_eq!(
            history.state_of(&history.entries()[1], &slots[1], t(99_999)),
            State::Queued
        );
        assert_eq!(history.status_at(None, t(99_999)).banned_until, Some(Until::Never));
    }

    #[test]
    fn forgiving_ends_now_and_the_next_starts_now() {
        let first = ended(impose(1, Restriction::Ban, None, 0, Some(H)), EndingKind::Forgiven, 600);
        let history = History::new(vec![first, impose(2, Restriction::Ban, None, 10, Some(H))]);
        let slots = history.schedule();
        assert_eq!(slots[0].ends_at, Until::At(t(600)));
        assert_eq!(slots[1].starts_at, Some(t(600)));
        assert_eq!(slots[1].ends_at, Until::At(t(600 + 3_600)));
        assert_eq!(
            history.state_of(&history.entries()[0], &slots[0], t(601)),
            State::Forgiven
        );
    }

    #[test]
    fn forgiving_a_queued_sanction_means_it_never_runs() {
        let queued = ended(impose(2, Restriction::Ban, None, 10, Some(H)), EndingKind::Forgiven, 20);
        let history = History::new(vec![
            impose(1, Restriction::Ban, None, 0, Some(H)),
            queued,
            impose(3, Restriction::Ban, None, 30, Some(H)),
        ]);
        let slots = history.schedule();
        assert_eq!(slots[1].starts_at, None);
        assert_eq!(slots[2].starts_at, Some(t(3_600)));
        assert_eq!(
            history.state_of(&history.entries()[1], &slots[1], t(25)),
            State::Forgiven
        );
        assert_eq!(history.status_at(None, t(25)).banned_until, Some(Until::At(t(7_200))));
    }

    #[test]
    fn forgiving_a_permanent_sanction_unblocks_the_queue() {
        let first = ended(impose(1, Restriction::Ban, None, 0, None), EndingKind::Forgiven, 100);
        let history = History::new(vec![first, impose(2, Restriction::Ban, None, 10, Some(60))]);
        assert_eq!(history.schedule()[1].starts_at, Some(t(100)));
        assert_eq!(history.status_at(None, t(150)).banned_until, Some(Until::At(t(160))));
    }

    #[test]
    fn reverting_erases_and_the_next_starts_where_it_would_have() {
        let first = ended(impose(1, Restriction::Ban, None, 0, Some(H)), EndingKind::Reverted, 600);
        let history = History::new(vec![first, impose(2, Restriction::Ban, None, 10, Some(H))]);
        let slots = history.schedule();
        assert_eq!(slots[1].starts_at, Some(t(10)));
        assert_eq!(history.status_at(None, t(700)).active, vec![2]);
        assert_eq!(
            history.state_of(&history.entries()[0], &slots[0], t(700)),
            State::Reverted
        );
    }

    #[test]
    fn lifting_ends_everything_running_or_queued_of_its_queue_only() {
        let history = History::new(vec![
            impose(1, Restriction::Ban, None, 0, Some(H)),
            impose(2, Restriction::Ban, None, 10, None),
            impose(3, Restriction::ReadOnly, None, 20, Some(H)),
            impose(4, Restriction::Ban, Some("forum:1"), 30, Some(H)),
        ]);
        assert_eq!(history.lifted_by(Restriction::Ban, None, t(100)), vec![1, 2]);
        let lifted: Vec<Entry> = history
            .entries()
            .iter()
            .cloned()
            .map(|e| {
                if e.id <= 2 {
                    ended(e, EndingKind::Lifted, 100)
                } else {
                    e
                }
            })
            .collect();
        let history = History::new(lifted);
        let status = history.status_at(None, t(101));
        assert!(status.can_read() && !status.can_write());
        assert!(!history.status_at(Some("forum:1"), t(101)).can_read());
    }

    #[test]
    fn scoped_sanctions_apply_to_their_resource_only() {
        let history = History::new(vec![impose(1, Restriction::Ban, Some("forum:1"), 0, Some(H))]);
        assert!(!history.status_at(Some("forum:1"), t(1)).can_read());
        assert!(history.status_at(Some("forum:2"), t(1)).can_read());
        assert!(history.status_at(None, t(1)).can_read());
        let global = History::new(vec![impose(1, Restriction::ReadOnly, None, 0, Some(H))]);
        assert!(!global.status_at(Some("forum:2"), t(1)).can_write());
    }

    #[test]
    fn expiry_is_exact_to_the_second() {
        let history = History::new(vec![impose(1, Restriction::Ban, None, 0, Some(2))]);
        assert!(!history.status_at(None, t(1)).can_read());
        assert!(history.status_at(None, t(2)).can_read());
    }

    #[test]
    fn sanction_requests_are_checked_together() {
        let ok = SanctionRequest::parse("ban", " spam ", None, Some("1d12h"), Some("forum:1")).unwrap();
        assert_eq!(ok.reason, "spam");
        assert_eq!(ok.duration.map(Duration::as_secs), Some(129_600));
        let codes = |r: Result<SanctionRequest, Vec<FieldError>>| -> Vec<(String, String)> {
            r.unwrap_err().into_iter().map(|e| (e.field, e.code)).collect()
        };
        assert_eq!(
            codes(SanctionRequest::parse("mute", "", None, Some("0s"), Some(""))),
            [
                ("kind".to_string(), "invalid".to_string()),
                ("reason".to_string(), "required".to_string()),
                ("duration".to_string(), "invalid".to_string()),
                ("resource".to_string(), "invalid_length".to_string()),
            ]
        );
        for bad in ["-1d", "", "1x", "P0D"] {
            assert_eq!(
                codes(SanctionRequest::parse("ban", "r", None, Some(bad), None)),
                [("duration".to_string(), "invalid".to_string())],
                "{bad}"
            );
        }
        assert_eq!(
            codes(SanctionRequest::parse("lift_ban", "r", None, Some("1d"), None)),
            [("duration".to_string(), "not_allowed".to_string())]
        );
        assert_eq!(
            codes(SanctionRequest::parse("ban", &"r".repeat(1_001), None, None, None)),
            [("reason".to_string(), "too_long".to_string())]
        );
        assert_eq!(
            codes(SanctionRequest::parse("ban", "r", None, None, Some(&"x".repeat(201)))),
            [("resource".to_string(), "invalid_length".to_string())]
        );
    }

    #[test]
    fn who_may_moderate_whom() {
        assert_eq!(may_moderate(1, Rank::Staff, 2, Rank::Member, false), Ok(()));
        assert_eq!(may_moderate(1, Rank::Superuser, 2, Rank::Staff, false), Ok(()));
        assert_eq!(
            may_moderate(1, Rank::Staff, 2, Rank::Staff, false),
            Err(Refusal::Outranked)
        );
        assert_eq!(
            may_moderate(1, Rank::Member, 2, Rank::Member, false),
            Err(Refusal::Outranked)
        );
        assert_eq!(
            may_moderate(1, Rank::Superuser, 2, Rank::Superuser, false),
            Err(Refusal::Superuser)
        );
        assert_eq!(
            may_moderate(1, Rank::Superuser, 1, Rank::Superuser, false),
            Err(Refusal::Yourself)
        );
        assert_eq!(may_moderate(1, Rank::Staff, 2, Rank::Member, true), Err(Refusal::Bot));
    }

    /// One staff operation in a generated sequence.
    #[derive(Debug, Clone)]
    enum Op {
        Impose { ban: bool, scoped: bool, secs: Option<u64> },
        Forgive(usize),
        Revert(usize),
        Lift { ban: bool, scoped: bool },
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (any::<bool>(), any::<bool>(), prop::option::weighted(0.8, 1u64..500)).prop_map(|(ban, scoped, secs)| Op::Impose { ban, scoped, secs }),
            1 => (0usize..20).prop_map(Op::Forgive),
            1 => (0usize..20).prop_map(Op::Revert),
            1 => (any::<bool>(), any::<bool>()).prop_map(|(ban, scoped)| Op::Lift { ban, scoped }),
        ]
    }

    fn restriction(ban: bool) -> Restriction {
        if ban { Restriction::Ban } else { Restriction::ReadOnly }
    }

    fn resource(scoped: bool) -> Option<&'static str> {
        scoped.then_some("forum:1")
    }

    /// Applies operations one every 10 seconds, as the service would.
    fn apply(ops: &[Op]) -> (History, i64) {
        let mut entries: Vec<Entry> = Vec::new();
        let mut now = 0;
        for (i, op) in ops.iter().enumerate() {
            now += 10;
            let id = i as i64 + 1;
            let history = History::new(entries.clone());
            match op {
                Op::Impose { ban, scoped, secs } => {
                    entries.push(impose(id, restriction(*ban), resource(*scoped), now, *secs));
                }
                Op::Forgive(n) | Op::Revert(n) => {
                    let impositions: Vec<usize> = (0..entries.len())
                        .filter(|&k| matches!(entries[k].action, Action::Impose(_)) && entries[k].ending.is_none())
                        .collect();
                    if let Some(&k) = impositions.get(*n % impositions.len().max(1)) {
                        let kind = if matches!(op, Op::Forgive(_)) {
                            EndingKind::Forgiven
                        } else {
                            EndingKind::Reverted
                        };
                        entries[k].ending = Some(Ending { kind, at: t(now) });
                    }
                }
                Op::Lift { ban, scoped } => {
                    let ids = history.lifted_by(restriction(*ban), resource(*scoped), t(now));
                    for entry in entries.iter_mut().filter(|e| ids.contains(&e.id)) {
                        entry.ending = Some(Ending {
                            kind: EndingKind::Lifted,
                            at: t(now),
                        });
                    }
                    entries.push(Entry {
                        id,
                        action: Action::Lift(restriction(*ban)),
                        resource: resource(*scoped).map(String::from),
                        created_at: t(now),
                        duration: None,
                        ending: None,
                    });
                }
            }
        }
        (History::new(entries), now)
    }

    /// The entries that can still matter at `since` or later, with the slots
    /// the whole history gives them: what the service loads from stored slots.
    fn open_since(history: &History, since: DateTime<Utc>) -> OpenQueue {
        OpenQueue::new(
            history
                .entries()
                .iter()
                .cloned()
                .zip(history.schedule())
                .filter(|(entry, slot)| matches!(entry.action, Action::Impose(_)) && Until::At(since) < slot.ends_at)
                .collect(),
        )
    }

    proptest! {
        #[test]
        fn slots_of_a_queue_never_overlap(ops in prop::collection::vec(op(), 0..30)) {
            let (history, _) = apply(&ops);
            let slots = history.schedule();
            let pairs: Vec<(&Entry, &Slot)> = history.entries().iter().zip(&slots).collect();
            for (i, (a, sa)) in pairs.iter().enumerate() {
                for (b, sb) in pairs.iter().skip(i + 1) {
                    let same_queue = matches!(a.action, Action::Impose(_)) && a.action == b.action && a.resource == b.resource;
                    if same_queue && let (Some(start_a), Some(start_b)) = (sa.starts_at, sb.starts_at) {
                        let disjoint = sa.ends_at <= Until::At(start_b) || sb.ends_at <= Until::At(start_a);
                        prop_assert!(disjoint, "{a:?} {sa:?} overlaps {b:?} {sb:?}");
                    }
                }
            }
        }

        #[test]
        fn reverting_everything_leaves_a_clean_member(ops in prop::collection::vec(op(), 0..30), probe in 0i64..20_000) {
            let (history, now) = apply(&ops);
            let entries = history.entries().iter().cloned().map(|e| match e.action {
                Action::Impose(_) if !is_reverted(&e) => ended(e, EndingKind::Reverted, now + 1),
                _ => e,
            }).collect();
            let clean = History::new(entries);
            prop_assert_eq!(clean.status_at(None, t(probe)), Status::default());
            prop_assert_eq!(clean.status_at(Some("forum:1"), t(probe)), Status::default());
        }

        #[test]
        fn a_lift_always_clears_its_queue(ops in prop::collection::vec(op(), 0..30), ban: bool, scoped: bool, later in 0i64..10_000) {
            let (mut history, now) = apply(&ops);
            let at = now + 5;
            let ids = history.lifted_by(restriction(ban), resource(scoped), t(at));
            history = History::new(history.entries().iter().cloned().map(|e| if ids.contains(&e.id) { ended(e, EndingKind::Lifted, at) } else { e }).collect());
            let slots = history.schedule();
            for (entry, slot) in history.entries().iter().zip(&slots) {
                if entry.action == Action::Impose(restriction(ban)) && entry.resource.as_deref() == resource(scoped) {
                    prop_assert!(!slot.covers(t(at + later)), "{entry:?} {slot:?} still runs after the lift");
                }
            }
        }

        #[test]
        fn one_more_sanction_never_shortens_the_queue(ops in prop::collection::vec(op(), 0..30), ban: bool, scoped: bool, secs in 1u64..500, probe in 0i64..2_000) {
            let (history, now) = apply(&ops);
            let before = history.status_at(resource(scoped), t(now + probe));
            let mut entries = history.entries().to_vec();
            entries.push(impose(10_000, restriction(ban), resource(scoped), now, Some(secs)));
            let after = History::new(entries).status_at(resource(scoped), t(now + probe));
            let field = |s: &Status| if ban { s.banned_until } else { s.read_only_until };
            if let Some(until) = field(&before) {
                prop_assert!(field(&after).is_some_and(|a| a >= until), "{before:?} then {after:?}");
            }
            prop_assert!(after.can_read() <= before.can_read());
            prop_assert!(after.can_write() <= before.can_write());
        }

        #[test]
        fn the_open_queue_answers_as_the_whole_history(ops in prop::collection::vec(op(), 0..30), since in 0i64..400, later in 0i64..20_000, scoped: bool) {
            let (history, _) = apply(&ops);
            let open = open_since(&history, t(since));
            let at = t(since + later);
            prop_assert_eq!(open.status_at(resource(scoped), at), history.status_at(resource(scoped), at));
        }

        #[test]
        fn everything_temporary_expires(ops in prop::collection::vec(op(), 0..30)) {
            let (history, now) = apply(&ops);
            let all_temporary = history.entries().iter().all(|e| e.duration.is_some() || !matches!(e.action, Action::Impose(_)));
            if all_temporary {
                // 30 sanctions of under 500 s each cannot outlast this.
                prop_assert_eq!(history.status_at(None, t(now + 20_000)), Status::default());
            }
        }
    }
}

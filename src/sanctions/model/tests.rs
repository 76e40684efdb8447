use super::*;
use crate::error::FieldError;
use crate::sanctions::request::SanctionRequest;
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
    assert_eq!(history.entries()[1].state(&slots[1], t(99_999)), State::Queued);
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
    assert_eq!(history.entries()[0].state(&slots[0], t(601)), State::Forgiven);
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
    assert_eq!(history.entries()[1].state(&slots[1], t(25)), State::Forgiven);
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
    assert_eq!(history.entries()[0].state(&slots[0], t(700)), State::Reverted);
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
        r.unwrap_err()
            .into_iter()
            .map(|e| (e.field, e.code.to_string()))
            .collect()
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

    /// An appeal's reduction: the sanction keeps its place with a shorter
    /// duration; what queues behind it starts no later and runs no later, the
    /// member is never restricted longer, and no other queue moves.
    #[test]
    fn a_reduction_moves_what_queues_behind_it_and_nothing_else(ops in prop::collection::vec(op(), 1..30), pick: usize, shorter in 1u64..500, probe in 0i64..20_000) {
        let (history, now) = apply(&ops);
        let slots = history.schedule();
        let pending: Vec<usize> = (0..history.entries().len())
            .filter(|&i| matches!(history.entries()[i].state(&slots[i], t(now)), State::Active | State::Queued))
            .collect();
        prop_assume!(!pending.is_empty());
        let k = pending[pick % pending.len()];
        let reduced_entry = &history.entries()[k];
        let current = reduced_entry.duration;
        let secs = match current.map(Duration::as_secs) {
            None => shorter,
            Some(d) if d > 1 => 1 + shorter % (d - 1),
            Some(_) => return Ok(()),
        };
        let reduced = Duration::from_secs(secs).unwrap();
        prop_assert!(check_reduction(current, reduced).is_ok());
        if let Some(current) = current {
            prop_assert!(check_reduction(Some(current), current).is_err(), "not shorter");
        }
        let mut entries = history.entries().to_vec();
        entries[k].duration = Some(reduced);
        let after = History::new(entries);
        let after_slots = after.schedule();
        let start = |slot: &Slot| slot.starts_at.map_or(Until::Never, Until::At);
        let queue = (reduced_entry.action, reduced_entry.resource.clone());
        for ((entry, before), moved) in history.entries().iter().zip(&slots).zip(&after_slots) {
            if (entry.action, entry.resource.clone()) == queue {
                prop_assert!(start(moved) <= start(before), "{entry:?}: {before:?} then {moved:?}");
                // The end of one that never runs only says where its queue resumes.
                if moved.starts_at.is_some() {
                    prop_assert!(moved.ends_at <= before.ends_at, "{entry:?}: {before:?} then {moved:?}");
                }
            } else {
                prop_assert_eq!(moved, before);
            }
        }
        if let Some(began) = after_slots[k].starts_at {
            prop_assert!(after_slots[k].ends_at <= Until::At(began + reduced.to_chrono()));
        }
        for resource in [None, Some("forum:1")] {
            let (was, is) = (history.status_at(resource, t(now + probe)), after.status_at(resource, t(now + probe)));
            prop_assert!(is.can_read() >= was.can_read() && is.can_write() >= was.can_write(), "{was:?} then {is:?}");
            if let Some(until) = is.banned_until {
                prop_assert!(was.banned_until.is_some_and(|w| until <= w));
            }
            if let Some(until) = is.read_only_until {
                prop_assert!(was.read_only_until.is_some_and(|w| until <= w));
            }
        }
    }
}

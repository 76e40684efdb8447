use super::*;

fn queue() -> FairQueue<u32> {
    FairQueue::new(QueueLimits {
        total: 6,
        per_source: 4,
        fair_share: 1,
    })
}

fn next(queue: &mut FairQueue<u32>, now: Instant) -> Option<(String, u32)> {
    queue.pop(now).map(|(source, job)| (source.to_string(), job))
}

#[test]
fn the_queue_is_bounded_overall_and_per_source() {
    let mut queue = queue();
    let now = Instant::now();
    for job in 0..4 {
        assert!(queue.push("flood", job, now).is_ok());
    }
    assert!(!queue.has_room("flood") && queue.has_room("a"));
    assert_eq!(queue.push("flood", 4, now), Err(Full));
    assert!(queue.push("a", 5, now).is_ok());
    assert!(queue.push("b", 6, now).is_ok());
    assert!(!queue.has_room("c"));
    assert_eq!(queue.push("c", 7, now), Err(Full));
    // Taking a job makes room.
    assert!(queue.pop(now).is_some());
    let ticket = queue.push("c", 7, now).unwrap();
    // Whoever asked went away: the place is free again.
    assert!(queue.cancel("c", ticket));
    assert!(!queue.cancel("c", ticket));
    assert!(queue.has_room("c") && queue.waiting() == 5);
    assert!(queue.turn.iter().all(|source| &**source != "c"));
}

#[test]
fn a_source_at_its_share_gives_way_to_the_others() {
    let mut queue = queue();
    let start = Instant::now();
    let at = |ms: u64| start + Duration::from_millis(ms);
    for job in 0..4 {
        queue.push("flood", job, at(0)).unwrap();
    }
    // Alone, the flood may use every thread.
    assert_eq!(next(&mut queue, at(1)), Some(("flood".into(), 0)));
    assert_eq!(next(&mut queue, at(1)), Some(("flood".into(), 1)));
    queue.done("flood");
    // Others ask: they go first, whatever waited before them.
    queue.push("alice", 10, at(2)).unwrap();
    queue.push("bob", 20, at(2)).unwrap();
    assert_eq!(next(&mut queue, at(3)), Some(("alice".into(), 10)));
    // The flood's job ends: it may take its share again, no more.
    queue.done("flood");
    assert_eq!(next(&mut queue, at(4)), Some(("flood".into(), 2)));
    queue.done("alice");
    assert_eq!(next(&mut queue, at(5)), Some(("bob".into(), 20)));
    // Bob's ends; alice or bob may ask again in a moment: the thread waits
    // for them rather than go to the flood, which holds its share.
    queue.done("bob");
    assert_eq!(next(&mut queue, at(6)), None, "held for whoever asked lately");
    queue.push("alice", 11, at(7)).unwrap();
    assert_eq!(next(&mut queue, at(8)), Some(("alice".into(), 11)));
    queue.done("alice");
    // Nobody else has asked for a while: the flood may use every thread again.
    let quiet = at(7) + ACTIVE_WINDOW;
    assert_eq!(next(&mut queue, quiet), Some(("flood".into(), 3)));
    assert_eq!(next(&mut queue, quiet), None);
    assert_eq!(queue.waiting(), 0);
}

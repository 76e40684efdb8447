use super::*;

#[tokio::test(flavor = "multi_thread")]
async fn a_flood_from_one_source_is_refused_at_once_and_leaves_a_thread_to_others() {
    let hasher = PasswordHasher::new(2, None).unwrap();
    let limits = QueueLimits::for_threads(2);
    // The flood's jobs hold their thread until released.
    let (release, gate) = std::sync::mpsc::channel::<()>();
    let gate = Arc::new(Mutex::new(gate));
    let mut flood = Vec::new();
    let flood_job = |hasher: &PasswordHasher| {
        let (gate, hasher) = (gate.clone(), hasher.clone());
        tokio::spawn(async move {
            hasher
                .run("flood", move |_| {
                    let _ = gate.lock().map(|gate| gate.recv());
                })
                .await
        })
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let until = |what: &str, done: &dyn Fn(&FairQueue<Job>) -> bool| {
        while !done(&hasher.owner.pool.queue.lock().unwrap().0) {
            assert!(std::time::Instant::now() < deadline, "{what}");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    };
    // Both threads hold a flood job, then the flood's share of the queue fills.
    for _ in 0..2 {
        flood.push(flood_job(&hasher));
    }
    until("both threads busy", &|queue| queue.held_by("flood") == 2);
    for _ in 0..limits.per_source {
        flood.push(flood_job(&hasher));
    }
    until("the flood queued", &|queue| queue.waiting() == limits.per_source);
    // More from the flood is refused at once.
    let refused = hasher.run("flood", |_| ()).await;
    assert!(matches!(refused, Err(AppError::Busy)), "{refused:?}");
    // Another source is served once a thread frees, before the flood's queue.
    let alice = tokio::spawn({
        let hasher = hasher.clone();
        async move { hasher.hash("alice", "p".into()).await }
    });
    until("alice queued", &|queue| queue.waiting() == limits.per_source + 1);
    release.send(()).unwrap();
    let hash = tokio::time::timeout(std::time::Duration::from_secs(10), alice)
        .await
        .expect("served beside the flood")
        .unwrap()
        .unwrap();
    assert!(hash.starts_with("$argon2id$"));
    // Alice went before the flood's queue, which has moved by one at most
    // (the thread that served her may have taken the next).
    assert!(hasher.owner.pool.queue.lock().unwrap().0.waiting() >= limits.per_source - 1);
    for _ in 0..flood.len() {
        let _ = release.send(());
    }
    for task in flood {
        task.await.unwrap().unwrap();
    }
}

#[tokio::test]
async fn hashes_verify_and_use_argon2id_with_owasp_parameters() {
    let hasher = PasswordHasher::new(2, None).unwrap();
    let hash = hasher.hash("t", "correct horse".into()).await.unwrap();
    assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
    assert!(
        hasher
            .verify("t", "correct horse".into(), Some(hash.clone()))
            .await
            .unwrap()
    );
    assert!(!hasher.verify("t", "wrong horse".into(), Some(hash)).await.unwrap());
    assert!(!hasher.verify("t", "anything".into(), None).await.unwrap());
}

#[tokio::test]
async fn hashes_made_elsewhere_or_with_other_parameters_still_verify() {
    use argon2::password_hash::PasswordHasher as _;
    let hasher = PasswordHasher::new(1, None).unwrap();
    let params = Params::new(4_096, 3, 1, Some(24)).unwrap();
    let other = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password(b"correct horse")
        .unwrap()
        .to_string();
    assert!(
        hasher
            .verify("t", "correct horse".into(), Some(other.clone()))
            .await
            .unwrap()
    );
    assert!(!hasher.verify("t", "wrong horse".into(), Some(other)).await.unwrap());
    // And ours verify with the stock verifier.
    let ours = hasher.hash("t", "correct horse".into()).await.unwrap();
    use argon2::password_hash::PasswordVerifier as _;
    assert!(
        Argon2::default()
            .verify_password(b"correct horse", &PasswordHash::new(&ours).unwrap())
            .is_ok()
    );
    assert!(!hasher.verify("t", "x".into(), Some("!".into())).await.unwrap());
}

//! Appeals over HTTP: by session and by the e-mailed link, each refusal
//! changing nothing; decisions acting through the sanction queue; the
//! member's standing, export and unregistration.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, Response, Session, TestApp, link_token};
use crate::sanctions::sanction;

fn time(value: &Value) -> chrono::DateTime<chrono::Utc> {
    value
        .as_str()
        .unwrap_or_else(|| panic!("not a time: {value}"))
        .parse()
        .unwrap()
}

async fn staff(app: &TestApp, name: &str) -> Session {
    let session = app.member(name).await;
    app.make_staff(session.id);
    session
}

/// The appeal link of the sanction e-mail to `username` that gives `reason`,
/// once `count` mails have come (they may come in any order).
async fn appeal_link(app: &TestApp, username: &str, count: usize, reason: &str) -> String {
    let mails = app.inbox.wait_for(&format!("{username}@example.com"), count).await;
    let mail = mails
        .iter()
        .find(|m| m.text.contains(&format!("Reason: {reason}")))
        .unwrap_or_else(|| {
            panic!(
                "no sanction mail for {reason}: {:?}",
                mails.iter().map(|m| &m.text).collect::<Vec<_>>()
            )
        });
    link_token(&mail.text, "/appeal/")
}

fn appeals(app: &TestApp) -> i64 {
    app.count("SELECT count(*) FROM appeals")
}

/// `member` appeals `sanction` (a sanction's body) by session.
async fn appeal(app: &TestApp, member: &Session, sanction: &Value, text: &str) -> Response {
    app.post(
        &format!("/v1/sanctions/{}/appeals", sanction["id"]),
        Some(&member.access),
        json!({"text": text}),
    )
    .await
}

/// `staff` decides `appeal` (an appeal's body).
async fn decide(app: &TestApp, staff: &Session, appeal: &Value, body: Value) -> Response {
    app.post(
        &format!("/v1/appeals/{}/decision", appeal["id"]),
        Some(&staff.access),
        body,
    )
    .await
}

#[tokio::test]
async fn a_banned_member_appeals_by_the_link_once_and_for_that_sanction_only() {
    let app = TestApp::spawn().await;
    let moderator = staff(&app, "moderator").await;
    app.member("dan").await;
    // Mail 1 is the activation; 2 and 3 the two bans.
    let first = sanction(
        &app,
        &moderator,
        "dan",
        json!({"kind": "ban", "reason": "Spam", "duration": "1d"}),
    )
    .await;
    let second = sanction(
        &app,
        &moderator,
        "dan",
        json!({"kind": "ban", "reason": "More spam", "duration": "2d"}),
    )
    .await;
    let first_link = appeal_link(&app, "dan", 3, "Spam\r").await;
    let second_link = appeal_link(&app, "dan", 3, "More spam").await;
    assert_ne!(first_link, second_link);
    assert_eq!(
        app.count("SELECT count(*) FROM member_tokens WHERE kind = 'appeal' AND token_hash IS NOT NULL"),
        2
    );
    assert!(app.places_holding(&first_link).is_empty(), "tokens are stored hashed");

    // Banned: no session, yet the link works.
    app.post("/v1/auth/login", None, json!({"login": "dan", "password": PASSWORD}))
        .await
        .assert_problem(403, "member_banned");
    let path = |token: &str| format!("/v1/tokens/appeal/{token}");
    let refused = app.post(&path(&first_link), None, json!({"text": ""})).await;
    refused.assert_problem(422, "validation_failed");
    assert_eq!(appeals(&app), 0);
    let appealed = app
        .post(&path(&first_link), None, json!({"text": "It was a friend's link."}))
        .await;
    assert_eq!(appealed.status, StatusCode::CREATED, "{}", appealed.body);
    assert_eq!(
        appealed.body["sanction"]["id"], first.body["id"],
        "the link's own sanction"
    );
    assert_eq!(appealed.body["state"], "open");
    assert_eq!(appealed.body["moderator"], Value::Null, "staff only");

    app.post(&path(&first_link), None, json!({"text": "Again."}))
        .await
        .assert_problem(410, "token_used");
    app.post(&path("x".repeat(43).as_str()), None, json!({"text": "x"}))
        .await
        .assert_problem(404, "token_not_found");
    // A link of another kind opens no appeal.
    let activation = link_token(&app.inbox.wait_for("dan@example.com", 1).await[0].text, "/activate/");
    app.post(&path(&activation), None, json!({"text": "x"}))
        .await
        .assert_problem(404, "token_not_found");
    assert_eq!(appeals(&app), 1);
    // The second sanction keeps its own link.
    let other = app
        .post(&path(&second_link), None, json!({"text": "And this one."}))
        .await;
    assert_eq!(other.status, StatusCode::CREATED, "{}", other.body);
    assert_eq!(other.body["sanction"]["id"], second.body["id"]);
    assert_eq!(
        app.count("SELECT count(*) FROM events WHERE event_type = 'appeal.created'"),
        2
    );
}

#[tokio::test]
async fn appeals_that_break_a_rule_are_refused_and_change_nothing() {
    let app = TestApp::spawn().await;
    let moderator = staff(&app, "moderator").await;
    let eve = app.member("eve").await;
    app.member("fay").await;
    let given = sanction(
        &app,
        &moderator,
        "eve",
        json!({"kind": "read_only", "reason": "Rude", "duration": "1d"}),
    )
    .await;
    let lift = sanction(
        &app,
        &moderator,
        "eve",
        json!({"kind": "lift_read_only", "reason": "Fine"}),
    )
    .await;
    let kept = sanction(
        &app,
        &moderator,
        "eve",
        json!({"kind": "read_only", "reason": "Rude again", "duration": "1w"}),
    )
    .await;
    let others = sanction(&app, &moderator, "fay", json!({"kind": "read_only", "reason": "x"})).await;
    let appeal = |id: &Value| format!("/v1/sanctions/{id}/appeals");

    app.post(&appeal(&others.body["id"]), Some(&eve.access), json!({"text": "x"}))
        .await
        .assert_problem(404, "sanction_not_found");
    app.post("/v1/sanctions/abc/appeals", Some(&eve.access), json!({"text": "x"}))
        .await
        .assert_problem(404, "sanction_not_found");
    app.post(&appeal(&lift.body["id"]), Some(&eve.access), json!({"text": "x"}))
        .await
        .assert_problem(409, "sanction_is_a_lift");
    for body in [
        json!({"text": "x".repeat(2001)}),
        json!({"text": "a\u{0}"}),
        json!({"text": 1}),
        json!({}),
    ] {
        let refused = app
            .post(&appeal(&kept.body["id"]), Some(&eve.access), body.clone())
            .await;
        assert_eq!(
            refused.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            refused.body
        );
        assert_eq!(refused.field_codes()[0].0, "text", "{}", refused.body);
    }
    assert_eq!(appeals(&app), 0);

    let filed = app
        .post(&appeal(&given.body["id"]), Some(&eve.access), json!({"text": "Sorry."}))
        .await;
    assert_eq!(filed.status, StatusCode::CREATED, "{}", filed.body);
    app.post(
        &appeal(&given.body["id"]),
        Some(&eve.access),
        json!({"text": "Really sorry."}),
    )
    .await
    .assert_problem(409, "already_appealed");
    // The e-mailed link of an appealed sanction has done its work.
    let link = appeal_link(&app, "eve", 4, "Rude\r").await;
    app.post(&format!("/v1/tokens/appeal/{link}"), None, json!({"text": "x"}))
        .await
        .assert_problem(410, "token_used");

    app.clock.advance(chrono::Duration::days(31));
    let eve = app.login("eve", PASSWORD).await;
    app.post(&appeal(&kept.body["id"]), Some(&eve.access), json!({"text": "x"}))
        .await
        .assert_problem(409, "appeal_window_closed");
    let late = appeal_link(&app, "eve", 4, "Rude again").await;
    app.post(&format!("/v1/tokens/appeal/{late}"), None, json!({"text": "x"}))
        .await
        .assert_problem(410, "token_expired");
    assert_eq!(appeals(&app), 1);
}

#[tokio::test]
async fn a_decision_acts_through_the_queue_and_the_member_hears_why() {
    let app = TestApp::spawn().await;
    let moderator = staff(&app, "moderator").await;
    let second = staff(&app, "second").await;
    let boss = app.member("boss").await;
    app.make_superuser(boss.id);
    let eve = app.member("eve").await;
    let long = sanction(
        &app,
        &moderator,
        "eve",
        json!({"kind": "read_only", "reason": "Rude", "duration": "1w", "private_note": "Watch her."}),
    )
    .await;
    let behind = sanction(
        &app,
        &moderator,
        "eve",
        json!({"kind": "read_only", "reason": "Rude again", "duration": "1d"}),
    )
    .await;
    let created = time(&long.body["created_at"]);
    assert_eq!(time(&behind.body["starts_at"]), created + chrono::Duration::weeks(1));
    let filed = app
        .post(
            &format!("/v1/sanctions/{}/appeals", long.body["id"]),
            Some(&eve.access),
            json!({"text": "A week is a lot."}),
        )
        .await;
    let decision = format!("/v1/appeals/{}/decision", filed.body["id"]);

    app.post(
        &decision,
        Some(&moderator.access),
        json!({"outcome": "upheld", "reason": "x"}),
    )
    .await
    .assert_problem(403, "cannot_decide_own_sanction");
    app.post(
        &decision,
        Some(&eve.access),
        json!({"outcome": "forgiven", "reason": "x"}),
    )
    .await
    .assert_problem(403, "staff_only");
    for (body, field, code) in [
        (
            json!({"outcome": "reduced", "reason": "x", "duration": "2w"}),
            "duration",
            "not_shorter",
        ),
        (
            json!({"outcome": "reduced", "reason": "x", "duration": "1w"}),
            "duration",
            "not_shorter",
        ),
        (json!({"outcome": "reduced", "reason": "x"}), "duration", "required"),
        (
            json!({"outcome": "upheld", "reason": "x", "duration": "1d"}),
            "duration",
            "not_allowed",
        ),
        (
            json!({"outcome": "pardoned", "reason": "x"}),
            "outcome",
            "invalid_choice",
        ),
        (
            json!({"outcome": "upheld", "reason": "a\u{0}"}),
            "reason",
            "null_character",
        ),
    ] {
        let refused = app.post(&decision, Some(&second.access), body.clone()).await;
        refused.assert_problem(422, "validation_failed");
        assert_eq!(refused.field_codes(), [(field.to_string(), code.to_string())], "{body}");
    }
    assert_eq!(app.count("SELECT count(*) FROM appeals WHERE outcome IS NOT NULL"), 0);
    assert_eq!(
        app.count("SELECT duration_seconds FROM sanctions WHERE duration_seconds IS NOT NULL ORDER BY id LIMIT 1"),
        604_800
    );

    let reduced = app
        .post(
            &decision,
            Some(&second.access),
            json!({"outcome": "reduced", "reason": "Two days is enough.", "duration": "2d"}),
        )
        .await;
    assert_eq!(reduced.status, StatusCode::OK, "{}", reduced.body);
    assert_eq!(reduced.body["decision"]["outcome"], "reduced");
    assert_eq!(reduced.body["decision"]["duration_seconds"], 172_800);
    assert_eq!(reduced.body["decision"]["decided_by"]["username"], "second");
    assert_eq!(
        time(&reduced.body["sanction"]["ends_at"]),
        created + chrono::Duration::days(2)
    );
    let moved = app
        .get(&format!("/v1/sanctions/{}", behind.body["id"]), Some(&boss.access))
        .await;
    assert_eq!(
        time(&moved.body["starts_at"]),
        created + chrono::Duration::days(2),
        "the queue behind moved up"
    );
    let status = app.get("/v1/members/eve/status", Some(&boss.access)).await;
    assert_eq!(
        time(&status.body["read_only_until"]),
        created + chrono::Duration::days(3)
    );

    let mails = app.inbox.wait_for("eve@example.com", 4).await;
    let told = mails.last().unwrap();
    assert!(
        told.text.contains("Two days is enough.") && !told.text.contains("Watch her"),
        "{}",
        told.text
    );
    app.post(
        &decision,
        Some(&boss.access),
        json!({"outcome": "forgiven", "reason": "x"}),
    )
    .await
    .assert_problem(409, "appeal_decided");
    let audit = app.get("/v1/audit?action=appeal.decided", Some(&boss.access)).await;
    assert_eq!(audit.body["items"][0]["reason"], "Two days is enough.");
    assert_eq!(
        app.count("SELECT count(*) FROM audit_log WHERE action = 'sanction.reduced'"),
        1
    );
    let event = app.text("SELECT data::text FROM events WHERE event_type = 'appeal.decided'");
    assert!(event.contains("reduced") && !event.contains("Watch her"), "{event}");

    // Reverting through an appeal is reverting: the sanction never counted.
    let appealed = appeal(&app, &eve, &behind.body, "And this?").await;
    let reverted = decide(
        &app,
        &boss,
        &appealed.body,
        json!({"outcome": "reverted", "reason": "Not rude."}),
    )
    .await;
    assert_eq!(reverted.status, StatusCode::OK, "{}", reverted.body);
    assert_eq!(reverted.body["sanction"]["state"], "reverted");
    assert_eq!(
        app.count("SELECT count(*) FROM events WHERE event_type = 'sanction.reverted'"),
        1
    );
    let listed = app.get("/v1/appeals?state=decided", Some(&second.access)).await;
    assert_eq!(listed.body["total"], 2);
    assert_eq!(listed.body["items"][0]["moderator"]["username"], "moderator");
    app.get("/v1/appeals?state=pending", Some(&second.access))
        .await
        .assert_problem(422, "validation_failed");
}

#[tokio::test]
async fn the_standing_shows_the_members_own_case_file_and_nothing_private() {
    let app = TestApp::spawn().await;
    let moderator = staff(&app, "moderator").await;
    let eve = app.member("eve").await;
    app.member("fay").await;
    let ann = app.member("ann").await;
    let running = sanction(
        &app,
        &moderator,
        "eve",
        json!({"kind": "read_only", "reason": "Rude", "duration": "1d", "private_note": "Watch her."}),
    )
    .await;
    sanction(
        &app,
        &moderator,
        "eve",
        json!({"kind": "read_only", "reason": "Rude again", "duration": "1d"}),
    )
    .await;
    app.post(
        &format!("/v1/sanctions/{}/appeals", running.body["id"]),
        Some(&eve.access),
        json!({"text": "Sorry."}),
    )
    .await;
    app.post(
        "/v1/members/fay/reports",
        Some(&eve.access),
        json!({"reason": "spam", "text": "Ads."}),
    )
    .await;
    app.post(
        "/v1/members/eve/reports",
        Some(&ann.access),
        json!({"reason": "harassment", "text": "Mean."}),
    )
    .await;

    let standing = app.get("/v1/members/me/standing", Some(&eve.access)).await;
    assert_eq!(standing.status, StatusCode::OK, "{}", standing.body);
    let body = &standing.body;
    assert_eq!(
        (body["can_read"].clone(), body["can_write"].clone()),
        (json!(true), json!(false))
    );
    let sanctions = body["sanctions"].as_array().unwrap();
    assert_eq!(sanctions.len(), 2);
    assert_eq!(
        (sanctions[0]["state"].clone(), sanctions[1]["state"].clone()),
        (json!("active"), json!("queued"))
    );
    assert_eq!(sanctions[0]["appeal"]["state"], "open");
    assert_eq!(sanctions[0]["appealable_until"], Value::Null, "appealed once");
    assert!(sanctions[1]["appealable_until"].is_string());
    assert_eq!(body["appeals"]["total"], 1);
    assert_eq!(body["reports"]["items"][0]["member"]["username"], "fay");
    let text = body.to_string();
    for secret in [
        "Watch her",
        "\"username\":\"moderator\"",
        "\"username\":\"ann\"",
        "Mean",
    ] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
    let export = app.get("/v1/members/me/export", Some(&eve.access)).await;
    assert_eq!(export.body["reports"][0]["text"], "Ads.");
    assert_eq!(export.body["appeals"][0]["text"], "Sorry.");
    assert!(
        !export.body.to_string().contains("Mean"),
        "reports about the member stay staff-only"
    );
}

#[tokio::test]
async fn unregistering_takes_what_the_reporter_said_and_keeps_decisions() {
    let app = TestApp::spawn().await;
    let moderator = staff(&app, "moderator").await;
    let ann = app.member("ann").await;
    let bob = app.member("bob").await;
    app.member("carl").await;
    let alone = app
        .post(
            "/v1/members/carl/reports",
            Some(&ann.access),
            json!({"reason": "spam", "text": "Only what ann said.", "resource": "forum:1"}),
        )
        .await;
    let joined = app
        .post(
            "/v1/members/carl/reports",
            Some(&ann.access),
            json!({"reason": "spam", "text": "What ann said."}),
        )
        .await;
    app.post(
        "/v1/members/carl/reports",
        Some(&bob.access),
        json!({"reason": "spam", "text": "What bob said."}),
    )
    .await;
    let closed = app
        .post(
            "/v1/members/carl/reports",
            Some(&ann.access),
            json!({"reason": "other", "text": "Closed one.", "resource": "forum:2"}),
        )
        .await;
    app.post(
        &format!("/v1/reports/{}/resolution", closed.body["id"]),
        Some(&moderator.access),
        json!({"outcome": "dismissed", "note": "Nothing there."}),
    )
    .await;

    let gone = app
        .request(
            Method::DELETE,
            "/v1/members/me",
            Some(&ann.access),
            Some(json!({"password": PASSWORD})),
        )
        .await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT, "{}", gone.body);
    assert_eq!(
        app.count(&format!("SELECT count(*) FROM reports WHERE id = {}", alone.body["id"])),
        0
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM reports WHERE id = {}",
            joined.body["id"]
        )),
        1
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM reports WHERE id = {}",
            closed.body["id"]
        )),
        1,
        "a staff decision stays"
    );
    assert!(app.places_holding("What ann said").is_empty() && app.places_holding("Closed one").is_empty());
    let kept = app
        .get(&format!("/v1/reports/{}", joined.body["id"]), Some(&moderator.access))
        .await;
    assert_eq!(kept.body["reporters"].as_array().unwrap().len(), 1);
    assert_eq!(kept.body["reporters"][0]["member"]["username"], "bob");
}

#[tokio::test]
async fn upheld_keeps_the_sanction_forgiven_ends_it_and_the_member_reads_each_outcome() {
    let app = TestApp::spawn().await;
    let moderator = staff(&app, "moderator").await;
    let second = staff(&app, "second").await;
    let eve = app.member("eve").await;
    app.member("fay").await;
    let kept = sanction(
        &app,
        &moderator,
        "eve",
        json!({"kind": "read_only", "reason": "Rude", "duration": "1d"}),
    )
    .await;
    let queued = sanction(
        &app,
        &moderator,
        "eve",
        json!({"kind": "read_only", "reason": "Rude again", "duration": "1d"}),
    )
    .await;
    let upheld_appeal = appeal(&app, &eve, &kept.body, "Please.").await.body;
    let forgiven_appeal = appeal(&app, &eve, &queued.body, "Please.").await.body;

    let upheld = decide(
        &app,
        &second,
        &upheld_appeal,
        json!({"outcome": "upheld", "reason": "Rude is rude."}),
    )
    .await;
    assert_eq!(upheld.status, StatusCode::OK, "{}", upheld.body);
    assert_eq!(upheld.body["decision"]["outcome"], "upheld");
    assert_eq!(upheld.body["sanction"]["state"], "active");
    assert_eq!(
        upheld.body["sanction"]["ends_at"], kept.body["ends_at"],
        "upheld changes nothing"
    );
    let forgiven = decide(
        &app,
        &second,
        &forgiven_appeal,
        json!({"outcome": "forgiven", "reason": "First time."}),
    )
    .await;
    assert_eq!(forgiven.status, StatusCode::OK, "{}", forgiven.body);
    assert_eq!(forgiven.body["sanction"]["state"], "forgiven");
    assert_eq!(
        app.count("SELECT count(*) FROM events WHERE event_type = 'sanction.forgiven'"),
        1
    );
    let status = app.get("/v1/members/me/standing", Some(&eve.access)).await.body;
    assert_eq!(
        status["read_only_until"], kept.body["ends_at"],
        "the queue behind is gone"
    );

    // Activation, two sanctions, two outcomes.
    let mails = app.inbox.wait_for("eve@example.com", 5).await;
    for reason in ["Rude is rude.", "First time."] {
        assert!(mails.iter().any(|m| m.text.contains(reason)), "no mail with {reason}");
    }

    // The member reads each outcome and its reason, never who decided.
    app.post(
        "/v1/members/fay/reports",
        Some(&eve.access),
        json!({"reason": "spam", "text": "Ads."}),
    )
    .await;
    let report = app.get("/v1/reports", Some(&second.access)).await.body["items"][0]["id"].clone();
    app.post(
        &format!("/v1/reports/{report}/resolution"),
        Some(&second.access),
        json!({"outcome": "dismissed", "note": "Eve cries wolf.", "message": "We found nothing against the rules."}),
    )
    .await;
    let standing = app.get("/v1/members/me/standing", Some(&eve.access)).await.body;
    let sanctions = standing["sanctions"].as_array().unwrap();
    assert_eq!(sanctions.len(), 1, "{standing}");
    assert_eq!(sanctions[0]["reason"], "Rude");
    assert_eq!(sanctions[0]["ends_at"], kept.body["ends_at"]);
    assert_eq!(sanctions[0]["appeal"]["state"], "decided");
    assert_eq!(sanctions[0]["appeal"]["decision"]["outcome"], "upheld");
    assert_eq!(sanctions[0]["appeal"]["decision"]["reason"], "Rude is rude.");
    let outcomes: Vec<(Value, Value)> = standing["appeals"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["decision"]["outcome"].clone(), a["decision"]["reason"].clone()))
        .collect();
    assert_eq!(outcomes.len(), 2);
    assert!(
        outcomes.contains(&(json!("forgiven"), json!("First time."))),
        "{outcomes:?}"
    );
    assert_eq!(standing["reports"]["items"][0]["state"], "dismissed");
    assert_eq!(
        standing["reports"]["items"][0]["message"],
        "We found nothing against the rules."
    );
    let text = standing.to_string();
    for secret in ["cries wolf", "\"username\":\"second\"", "\"username\":\"moderator\""] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
}

#[tokio::test]
async fn staff_who_leave_hand_back_their_claims_and_keep_their_decisions_anonymised() {
    let app = TestApp::spawn().await;
    let moderator = staff(&app, "moderator").await;
    let leaver = staff(&app, "leaver").await;
    let boss = app.member("boss").await;
    app.make_superuser(boss.id);
    let ann = app.member("ann").await;
    let eve = app.member("eve").await;
    app.member("carl").await;
    let mut reports = Vec::new();
    for resource in ["forum:1", "forum:2"] {
        let filed = app
            .post(
                "/v1/members/carl/reports",
                Some(&ann.access),
                json!({"reason": "spam", "text": "Ads.", "resource": resource}),
            )
            .await;
        reports.push(filed.body["id"].clone());
    }
    let (held, resolved) = (&reports[0], &reports[1]);
    app.post(&format!("/v1/reports/{held}/claim"), Some(&leaver.access), json!({}))
        .await;
    app.post(
        &format!("/v1/reports/{resolved}/resolution"),
        Some(&leaver.access),
        json!({"outcome": "dismissed", "note": "Nothing there."}),
    )
    .await;
    let given = sanction(
        &app,
        &moderator,
        "eve",
        json!({"kind": "read_only", "reason": "Rude", "duration": "1d"}),
    )
    .await;
    let appealed = appeal(&app, &eve, &given.body, "Please.").await;
    let decided = decide(
        &app,
        &leaver,
        &appealed.body,
        json!({"outcome": "upheld", "reason": "Rude is rude."}),
    )
    .await;
    assert_eq!(decided.status, StatusCode::OK, "{}", decided.body);

    let gone = app
        .request(
            Method::DELETE,
            "/v1/members/me",
            Some(&leaver.access),
            Some(json!({"password": PASSWORD})),
        )
        .await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT, "{}", gone.body);

    let back = app.get(&format!("/v1/reports/{held}"), Some(&boss.access)).await.body;
    assert_eq!(
        (back["state"].clone(), back["assignee"].clone()),
        (json!("open"), Value::Null)
    );
    let closed = app
        .get(&format!("/v1/reports/{resolved}"), Some(&boss.access))
        .await
        .body;
    assert_eq!(closed["state"], "dismissed");
    assert_eq!(closed["resolution"]["note"], "Nothing there.");
    assert_eq!(closed["resolution"]["resolved_by"]["username"], "[deleted]");
    let appeals = app.get("/v1/appeals?state=decided", Some(&boss.access)).await.body;
    assert_eq!(appeals["items"][0]["decision"]["reason"], "Rude is rude.");
    assert_eq!(appeals["items"][0]["decision"]["decided_by"]["username"], "[deleted]");
    assert!(
        app.places_holding("leaver").is_empty(),
        "{:?}",
        app.places_holding("leaver")
    );
}

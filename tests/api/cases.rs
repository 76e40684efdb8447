//! The moderation case file over HTTP: reports, the staff queue, appeals,
//! a member's standing. Each refusal is checked to change nothing.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, Session, TestApp};
use crate::sanctions::sanction;

struct Cast {
    boss: Session,
    moderator: Session,
    second: Session,
}

/// A superuser and two moderators.
async fn staff(app: &TestApp) -> Cast {
    let boss = app.member("boss").await;
    app.make_superuser(boss.id);
    let moderator = app.member("moderator").await;
    app.make_staff(moderator.id);
    let second = app.member("second").await;
    app.make_staff(second.id);
    Cast {
        boss,
        moderator,
        second,
    }
}

async fn report(app: &TestApp, reporter: &Session, member: &str, body: Value) -> crate::helpers::Response {
    app.post(&format!("/v1/members/{member}/reports"), Some(&reporter.access), body)
        .await
}

fn spam() -> Value {
    json!({"reason": "spam", "text": "Selling watches in their signature."})
}

#[tokio::test]
async fn reporters_join_one_open_report_and_nobody_learns_who_else_reported() {
    let app = TestApp::spawn().await;
    let cast = staff(&app).await;
    let ann = app.member("ann").await;
    let bob = app.member("bob").await;
    let carl = app.member("carl").await;

    let first = report(&app, &ann, "carl", spam()).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    let id = first.body["id"].as_i64().unwrap();
    assert_eq!(first.body["state"], "open");
    assert_eq!(first.body["assignee"], Value::Null);
    assert!(first.body["reporters"][0]["tally"].is_null(), "{}", first.body);
    let joined = report(
        &app,
        &bob,
        &carl.id.to_string(),
        json!({"reason": "harassment", "text": "And insults.", "evidence_url": "https://forum.example/t/1#p2"}),
    )
    .await;
    assert_eq!(joined.status, StatusCode::CREATED, "{}", joined.body);
    assert_eq!(joined.body["id"], id, "the open report is joined, not duplicated");
    assert_eq!(joined.body["reporters"].as_array().unwrap().len(), 1, "{}", joined.body);
    assert_eq!(joined.body["reporters"][0]["member"]["username"], "bob");

    // Once per reporter: the second time changes nothing.
    let again = report(&app, &ann, "carl", spam()).await;
    again.assert_problem(409, "already_reported");
    assert_eq!(app.count("SELECT count(*) FROM report_entries"), 2);
    // A resource of another service is another report.
    let scoped = report(
        &app,
        &ann,
        "carl",
        json!({"reason": "other", "text": "x", "resource": "forum:42"}),
    )
    .await;
    assert_eq!(scoped.status, StatusCode::CREATED);
    assert_ne!(scoped.body["id"], id);
    assert_eq!(
        app.count("SELECT count(*) FROM events WHERE event_type = 'report.created'"),
        2,
        "joining is not a new report"
    );
    let event = app.text("SELECT data::text FROM events WHERE event_type = 'report.created' ORDER BY id LIMIT 1");
    assert!(!event.contains("ann") && event.contains("carl"), "{event}");
    // Each event names its own report (the id is set by the filing statement).
    let named = app.count(
        "SELECT count(DISTINCT r.id) FROM events e JOIN reports r ON r.id = (e.data->'report'->>'id')::bigint \
         WHERE e.event_type = 'report.created' AND r.member_id = (e.data->'member'->>'id')::bigint",
    );
    assert_eq!(named, 2, "{event}");

    // Each reporter reads their own words; the reported member nothing; staff everything.
    let path = format!("/v1/reports/{id}");
    let as_ann = app.get(&path, Some(&ann.access)).await;
    assert_eq!(as_ann.status, StatusCode::OK);
    assert_eq!(as_ann.body["reporters"].as_array().unwrap().len(), 1);
    assert!(!as_ann.body.to_string().contains("bob"), "{}", as_ann.body);
    app.get(&path, Some(&carl.access))
        .await
        .assert_problem(404, "report_not_found");
    let as_staff = app.get(&path, Some(&cast.moderator.access)).await;
    let reporters = as_staff.body["reporters"].as_array().unwrap();
    assert_eq!(reporters.len(), 2);
    assert_eq!(reporters[1]["evidence_url"], "https://forum.example/t/1#p2");
    assert_eq!(reporters[0]["tally"], json!({"actioned": 0, "dismissed": 0}));
    let standing = app.get("/v1/members/me/standing", Some(&carl.access)).await;
    assert!(!standing.body.to_string().contains("\"ann\""), "{}", standing.body);
}

#[tokio::test]
async fn reports_that_break_a_rule_are_refused_and_change_nothing() {
    let app = TestApp::spawn().await;
    let ann = app.member("ann").await;
    let robot = app.member("robot").await;
    app.make_bot(robot.id);
    app.member("carl").await;
    // The member reported, the body, and the problem with its field error.
    type Case<'a> = (&'a str, Value, u16, &'a str, Option<(&'a str, &'a str)>);
    let cases: Vec<Case> = vec![
        ("ann", spam(), 422, "cannot_report_self", None),
        ("me", spam(), 422, "cannot_report_self", None),
        ("robot", spam(), 422, "cannot_report_bot", None),
        ("nobody", spam(), 404, "member_not_found", None),
        (
            "carl",
            json!({"reason": "rude", "text": "x"}),
            422,
            "validation_failed",
            Some(("reason", "invalid_choice")),
        ),
        (
            "carl",
            json!({"reason": "spam", "text": "x".repeat(2001)}),
            422,
            "validation_failed",
            Some(("text", "too_long")),
        ),
        (
            "carl",
            json!({"reason": "spam", "text": " \n "}),
            422,
            "validation_failed",
            Some(("text", "required")),
        ),
        (
            "carl",
            json!({"reason": "spam", "text": "a\u{0}b"}),
            422,
            "validation_failed",
            Some(("text", "null_character")),
        ),
        (
            "carl",
            json!({"reason": "spam", "text": "x", "evidence_url": "javascript:alert(1)"}),
            422,
            "validation_failed",
            Some(("evidence_url", "invalid_url")),
        ),
        (
            "carl",
            json!({"reason": "spam", "text": "x", "resource": "a\nb"}),
            422,
            "validation_failed",
            Some(("resource", "contains_control_character")),
        ),
        (
            "carl",
            json!({"reason": 5, "text": "x"}),
            422,
            "validation_failed",
            Some(("reason", "invalid_type")),
        ),
        (
            "carl",
            json!({"reason": "spam", "text": "x", "reporter": 1}),
            422,
            "validation_failed",
            Some(("reporter", "unknown_field")),
        ),
    ];
    for (member, body, status, code, field) in cases {
        let response = report(&app, &ann, member, body.clone()).await;
        response.assert_problem(status, code);
        if let Some((field, code)) = field {
            assert!(
                response.field_codes().contains(&(field.into(), code.into())),
                "{body}: {}",
                response.body
            );
        }
    }
    assert_eq!(app.count("SELECT count(*) FROM reports"), 0);
    assert_eq!(app.count("SELECT count(*) FROM report_entries"), 0);
    // Nobody anonymous reports.
    app.post("/v1/members/carl/reports", None, spam())
        .await
        .assert_problem(401, "missing_credentials");
}

#[tokio::test]
async fn a_read_only_member_reports_a_banned_one_cannot() {
    let app = TestApp::spawn().await;
    let cast = staff(&app).await;
    let quiet = app.member("quiet").await;
    let gone = app.member("gone").await;
    app.member("carl").await;
    for (member, kind) in [("quiet", "read_only"), ("gone", "ban")] {
        let given = sanction(&app, &cast.moderator, member, json!({"kind": kind, "reason": "x"})).await;
        assert_eq!(given.status, StatusCode::CREATED);
    }
    assert_eq!(report(&app, &quiet, "carl", spam()).await.status, StatusCode::CREATED);
    report(&app, &gone, "carl", spam())
        .await
        .assert_problem(403, "member_banned");
    assert_eq!(app.count("SELECT count(*) FROM report_entries"), 1);
}

#[tokio::test]
async fn a_report_flood_is_stopped_and_reporters_staff_keep_dismissing_are_slowed() {
    let app = TestApp::spawn().await;
    let cast = staff(&app).await;
    let ann = app.member("ann").await;
    app.member("carl").await;
    let mut ids = Vec::new();
    for n in 1..=10 {
        let filed = report(
            &app,
            &ann,
            "carl",
            json!({"reason": "spam", "text": "x", "resource": format!("forum:{n}")}),
        )
        .await;
        assert_eq!(filed.status, StatusCode::CREATED, "{}", filed.body);
        ids.push(filed.body["id"].as_i64().unwrap());
    }
    let flood = report(
        &app,
        &ann,
        "carl",
        json!({"reason": "spam", "text": "x", "resource": "forum:11"}),
    )
    .await;
    flood.assert_problem(429, "rate_limited");
    assert!(flood.headers.contains_key("retry-after"));
    assert_eq!(app.count("SELECT count(*) FROM reports"), 10);

    // Three dismissed, none actioned: half as many an hour.
    for id in &ids[..3] {
        let dismissed = app
            .post(
                &format!("/v1/reports/{id}/resolution"),
                Some(&cast.moderator.access),
                json!({"outcome": "dismissed", "note": "Nothing there."}),
            )
            .await;
        assert_eq!(dismissed.status, StatusCode::OK, "{}", dismissed.body);
    }
    let queue = app
        .get("/v1/reports?reporter=ann&per_page=1", Some(&cast.moderator.access))
        .await;
    assert_eq!(
        queue.body["items"][0]["reporters"][0]["tally"],
        json!({"actioned": 0, "dismissed": 3})
    );
    assert_eq!(queue.body["total"], 7, "the queue holds the open ones");
    app.clock.advance(chrono::Duration::minutes(61));
    let ann = app.login("ann", PASSWORD).await;
    for n in 12..=16 {
        let filed = report(
            &app,
            &ann,
            "carl",
            json!({"reason": "spam", "text": "x", "resource": format!("forum:{n}")}),
        )
        .await;
        assert_eq!(filed.status, StatusCode::CREATED, "{}", filed.body);
    }
    report(
        &app,
        &ann,
        "carl",
        json!({"reason": "spam", "text": "x", "resource": "forum:17"}),
    )
    .await
    .assert_problem(429, "rate_limited");
}

#[tokio::test]
async fn staff_claim_and_resolve_and_reporters_hear_the_outcome_without_the_note() {
    let app = TestApp::spawn().await;
    let cast = staff(&app).await;
    let ann = app.member("ann").await;
    let bob = app.member("bob").await;
    app.member("carl").await;
    app.member("dave").await;
    let id = report(&app, &ann, "carl", spam()).await.body["id"].as_i64().unwrap();
    report(&app, &bob, "carl", spam()).await;
    let claim = format!("/v1/reports/{id}/claim");

    let claimed = app.post(&claim, Some(&cast.moderator.access), json!({})).await;
    assert_eq!(claimed.status, StatusCode::OK, "{}", claimed.body);
    assert_eq!(claimed.body["state"], "claimed");
    assert_eq!(claimed.body["assignee"]["username"], "moderator");
    app.post(&claim, Some(&cast.second.access), json!({}))
        .await
        .assert_problem(409, "report_claimed");
    app.request(Method::DELETE, &claim, Some(&cast.second.access), None)
        .await
        .assert_problem(409, "report_claimed");
    let resolution = format!("/v1/reports/{id}/resolution");
    app.post(
        &resolution,
        Some(&cast.second.access),
        json!({"outcome": "dismissed", "note": "x"}),
    )
    .await
    .assert_problem(409, "report_claimed");
    let taken = app.post(&claim, Some(&cast.boss.access), json!({})).await;
    assert_eq!(taken.body["assignee"]["username"], "boss", "a superuser takes over");
    let released = app.request(Method::DELETE, &claim, Some(&cast.boss.access), None).await;
    assert_eq!(released.body["state"], "open");
    assert_eq!(released.body["assignee"], Value::Null);

    // The sanction it led to must be about the reported member.
    let elsewhere = sanction(
        &app,
        &cast.moderator,
        "dave",
        json!({"kind": "read_only", "reason": "x"}),
    )
    .await;
    let given = sanction(
        &app,
        &cast.moderator,
        "carl",
        json!({"kind": "read_only", "reason": "Spam", "duration": "1d"}),
    )
    .await;
    for (sanction_id, code) in [
        (elsewhere.body["id"].clone(), "other_member"),
        (json!(999_999), "not_found"),
    ] {
        let refused = app
            .post(
                &resolution,
                Some(&cast.moderator.access),
                json!({"outcome": "actioned", "note": "x", "sanction_id": sanction_id}),
            )
            .await;
        refused.assert_problem(422, "validation_failed");
        assert_eq!(refused.field_codes(), [("sanction_id".to_string(), code.to_string())]);
    }
    assert_eq!(app.text(&format!("SELECT state FROM reports WHERE id = {id}")), "open");

    let resolved = app
        .post(
            &resolution,
            Some(&cast.moderator.access),
            json!({"outcome": "actioned", "note": "Known spammer, third time.", "message": "Thanks, we took care of it.", "sanction_id": given.body["id"]}),
        )
        .await;
    assert_eq!(resolved.status, StatusCode::OK, "{}", resolved.body);
    assert_eq!(resolved.body["state"], "resolved");
    assert_eq!(resolved.body["resolution"]["outcome"], "actioned");
    assert_eq!(resolved.body["resolution"]["note"], "Known spammer, third time.");
    assert_eq!(resolved.body["sanction"]["id"], given.body["id"]);
    app.post(
        &resolution,
        Some(&cast.moderator.access),
        json!({"outcome": "dismissed", "note": "x"}),
    )
    .await
    .assert_problem(409, "report_closed");
    app.post(&claim, Some(&cast.boss.access), json!({}))
        .await
        .assert_problem(409, "report_closed");

    for (reporter, other) in [("ann", "bob"), ("bob", "ann")] {
        let mails = app.inbox.wait_for(&format!("{reporter}@example.com"), 2).await;
        let outcome = mails
            .iter()
            .find(|m| m.text.contains("Thanks, we took care of it."))
            .expect("the outcome's mail");
        assert!(
            !outcome.text.contains("third time") && !outcome.text.contains(other),
            "{}",
            outcome.text
        );
    }
    // The reporter reads the outcome, not the staff fields.
    let as_ann = app.get(&format!("/v1/reports/{id}"), Some(&ann.access)).await;
    assert_eq!(as_ann.body["resolution"]["message"], "Thanks, we took care of it.");
    assert_eq!(as_ann.body["resolution"]["note"], Value::Null);
    assert_eq!(as_ann.body["sanction"], Value::Null);
    let filed = app.get("/v1/members/me/reports", Some(&ann.access)).await;
    assert_eq!(filed.body["items"][0]["state"], "resolved");
    assert_eq!(filed.body["items"][0]["message"], "Thanks, we took care of it.");

    let audit = app
        .get("/v1/audit?action=report.resolved", Some(&cast.boss.access))
        .await;
    assert_eq!(audit.body["items"][0]["reason"], "Known spammer, third time.");
    assert_eq!(
        app.count("SELECT count(*) FROM audit_log WHERE action LIKE 'report.%'"),
        4
    );
    let event = app.text("SELECT data::text FROM events WHERE event_type = 'report.resolved'");
    assert!(
        event.contains("actioned") && !event.contains("third time") && !event.contains("ann"),
        "{event}"
    );
    assert_eq!(
        app.count(
            "SELECT actioned FROM reporter_tallies WHERE member_id = (SELECT id FROM members WHERE username = 'bob')"
        ),
        1
    );
}

#[tokio::test]
async fn nobody_handles_a_report_about_themselves() {
    let app = TestApp::spawn().await;
    let cast = staff(&app).await;
    let ann = app.member("ann").await;
    let id = report(&app, &ann, "moderator", spam()).await.body["id"]
        .as_i64()
        .unwrap();
    app.post(
        &format!("/v1/reports/{id}/claim"),
        Some(&cast.moderator.access),
        json!({}),
    )
    .await
    .assert_problem(403, "cannot_moderate_self");
    app.post(
        &format!("/v1/reports/{id}/resolution"),
        Some(&cast.moderator.access),
        json!({"outcome": "dismissed", "note": "x"}),
    )
    .await
    .assert_problem(403, "cannot_moderate_self");
    assert_eq!(app.text(&format!("SELECT state FROM reports WHERE id = {id}")), "open");
    let claimed = app
        .post(&format!("/v1/reports/{id}/claim"), Some(&cast.second.access), json!({}))
        .await;
    assert_eq!(claimed.status, StatusCode::OK);
}

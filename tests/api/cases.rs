//! The moderation case file over HTTP: reports, the staff queue, appeals,
//! a member's standing. Each refusal is checked to change nothing.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, Session, TestApp, sent_while_writers_wait};
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

fn about(resource: &str) -> Value {
    json!({"reason": "spam", "text": "Selling watches.", "resource": resource})
}

/// What the writers' blockers need: a lock on what a filing writes last.
const FILINGS_WAIT: &str = "LOCK TABLE report_entries IN SHARE MODE";

/// Hits counted against a reporter's hourly window.
fn hits(app: &TestApp, reporter: &Session) -> i64 {
    app.count(&format!(
        "SELECT coalesce(sum(hits), 0) FROM rate_limits WHERE bucket = 'reports' AND key = '{}'",
        reporter.id
    ))
}

/// Reports that arrive while the writers are busy are stored together, in
/// one transaction, each answered on its own: refusals among them (oneself,
/// a bot, nobody, past the limit, reported already) write nothing and count
/// no hit; two reporters of one thing join one report; a reporter's reports
/// count one after the other.
#[tokio::test]
async fn reports_stored_together_answer_each_on_its_own() {
    let app = TestApp::spawn().await;
    let mut people = Vec::new();
    for name in ["rita", "ann", "ben", "cal", "dan", "flo"] {
        people.push(app.member(name).await);
    }
    let [rita, ann, ben, cal, dan, flo] = &people[..] else {
        unreachable!()
    };
    app.member("tom").await;
    let robot = app.member("robot").await;
    app.make_bot(robot.id);
    // Cal has reported forum:3 already; Flo may file one more this hour.
    assert_eq!(
        report(&app, cal, "tom", about("forum:3")).await.status,
        StatusCode::CREATED
    );
    for n in 1..=9 {
        let filed = report(&app, flo, "tom", about(&format!("old:{n}"))).await;
        assert_eq!(filed.status, StatusCode::CREATED, "{}", filed.body);
    }
    let requests = [
        (ann, "tom", "forum:1"),
        (ben, "tom", "forum:1"),
        (ann, "tom", "forum:2"),
        (ann, "ann", "forum:1"),
        (ben, "nobody", "forum:1"),
        (ben, "robot", "forum:1"),
        (cal, "tom", "forum:3"),
        (dan, "tom", "forum:6"),
        (dan, "tom", "forum:6"),
        (flo, "tom", "forum:4"),
        (flo, "tom", "forum:5"),
    ];
    let blockers = std::cell::Cell::new(0);
    let (blocked, queued) = sent_while_writers_wait(
        &app,
        FILINGS_WAIT,
        || {
            blockers.set(blockers.get() + 1);
            Box::pin(report(&app, rita, "tom", about(&format!("blocker:{}", blockers.get()))))
        },
        futures_util::future::join_all(
            requests
                .iter()
                .map(|(reporter, member, resource)| report(&app, reporter, member, about(resource))),
        ),
    )
    .await;
    for answer in blocked {
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
    }
    for (i, answer) in queued.iter().enumerate().take(7) {
        match i {
            3 => answer.assert_problem(422, "cannot_report_self"),
            4 => answer.assert_problem(404, "member_not_found"),
            5 => answer.assert_problem(422, "cannot_report_bot"),
            6 => answer.assert_problem(409, "already_reported"),
            _ => {
                assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
                assert_eq!(answer.body["member"]["username"], "tom");
                assert_eq!(answer.body["resource"], requests[i].2);
            }
        }
    }
    assert_eq!(
        queued[0].body["id"], queued[1].body["id"],
        "two reporters of one thing, two reports"
    );
    assert_ne!(queued[0].body["id"], queued[2].body["id"]);
    // Of a reporter's twin requests, one is filed and the other refused.
    for (twins, refused) in [
        (&queued[7..9], (409, "already_reported")),
        (&queued[9..11], (429, "rate_limited")),
    ] {
        let filed = twins
            .iter()
            .filter(|answer| answer.status == StatusCode::CREATED)
            .count();
        assert_eq!(filed, 1, "{:?}", twins.iter().map(|a| &a.body).collect::<Vec<_>>());
        let other = twins
            .iter()
            .find(|answer| answer.status != StatusCode::CREATED)
            .unwrap();
        other.assert_problem(refused.0, refused.1);
    }

    // Opened in the batch: forum:1, forum:2, forum:6, and forum:4 or 5.
    let opened = "event_type = 'report.created' \
                  AND data->'report'->>'resource' IN ('forum:1', 'forum:2', 'forum:4', 'forum:5', 'forum:6')";
    assert_eq!(app.count(&format!("SELECT count(*) FROM events WHERE {opened}")), 4);
    assert_eq!(
        app.count(&format!("SELECT count(DISTINCT txid) FROM events WHERE {opened}")),
        1,
        "the queued reports were not stored together"
    );
    for (reporter, counted, entries) in [(ann, 2, 2), (ben, 1, 1), (cal, 1, 1), (dan, 1, 1), (flo, 10, 10)] {
        assert_eq!(hits(&app, reporter), counted, "hits of reporter {}", reporter.id);
        let said = app.count(&format!(
            "SELECT count(*) FROM report_entries WHERE reporter_id = {}",
            reporter.id
        ));
        assert_eq!(said, entries, "entries of reporter {}", reporter.id);
    }
    assert_eq!(
        app.count("SELECT count(*) FROM reports r JOIN members m ON m.id = r.member_id WHERE m.username <> 'tom'"),
        0
    );
}

/// A reporter's two requests about one thing, each in a batch of its own at
/// the same moment: the later finds the earlier's entry only as it files,
/// and is refused with nothing written, not even its hit.
#[tokio::test]
async fn a_report_raced_by_its_twin_is_refused_and_counts_nothing() {
    let app = TestApp::spawn().await;
    let dan = app.member("dan").await;
    app.member("tom").await;
    let (twins, _) = sent_while_writers_wait(
        &app,
        FILINGS_WAIT,
        || Box::pin(report(&app, &dan, "tom", about("forum:1"))),
        async { Vec::new() },
    )
    .await;
    let mut statuses: Vec<u16> = twins.iter().map(|answer| answer.status.as_u16()).collect();
    statuses.sort_unstable();
    assert_eq!(
        statuses,
        [201, 409],
        "{:?}",
        twins.iter().map(|a| &a.body).collect::<Vec<_>>()
    );
    assert_eq!(hits(&app, &dan), 1);
    assert_eq!(app.count("SELECT count(*) FROM report_entries"), 1);
    assert_eq!(
        app.count("SELECT count(*) FROM events WHERE event_type = 'report.created'"),
        1
    );
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

#[tokio::test]
async fn the_queue_lists_oldest_open_first_and_filters_each_way() {
    let app = TestApp::spawn().await;
    let cast = staff(&app).await;
    let ann = app.member("ann").await;
    let bob = app.member("bob").await;
    app.member("carl").await;
    app.member("dave").await;
    let mut filed = Vec::new();
    for (reporter, member, body) in [
        (&ann, "carl", spam()),
        (&bob, "dave", about("forum:42")),
        (&ann, "dave", spam()),
        (&bob, "carl", about("forum:7")),
    ] {
        let created = report(&app, reporter, member, body).await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
        filed.push(created.body["id"].as_i64().unwrap());
    }
    let [carl, dave_42, dave, carl_7] = filed[..] else {
        unreachable!()
    };
    // Joining does not make a report younger: bob's word on carl joins the first.
    assert_eq!(report(&app, &bob, "carl", spam()).await.body["id"], carl);
    app.post(
        &format!("/v1/reports/{dave_42}/claim"),
        Some(&cast.moderator.access),
        json!({}),
    )
    .await;
    app.post(
        &format!("/v1/reports/{dave}/resolution"),
        Some(&cast.second.access),
        json!({"outcome": "dismissed", "note": "x"}),
    )
    .await;
    app.post(
        &format!("/v1/reports/{carl_7}/resolution"),
        Some(&cast.second.access),
        json!({"outcome": "dismissed", "note": "x"}),
    )
    .await;

    let listed = |query: &'static str, who: &Session| {
        let (app, access) = (&app, who.access.clone());
        async move {
            let page = app.get(&format!("/v1/reports{query}"), Some(&access)).await;
            assert_eq!(page.status, StatusCode::OK, "{query}: {}", page.body);
            let ids: Vec<i64> = page.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["id"].as_i64().unwrap())
                .collect();
            assert_eq!(page.body["total"], ids.len(), "{query}");
            ids
        }
    };
    assert_eq!(
        listed("", &cast.boss).await,
        [carl, dave_42],
        "the queue: open and claimed, oldest first"
    );
    assert_eq!(listed("?state=open", &cast.boss).await, [carl]);
    assert_eq!(listed("?state=claimed", &cast.boss).await, [dave_42]);
    assert_eq!(
        listed("?state=dismissed", &cast.boss).await,
        [carl_7, dave],
        "latest closed first"
    );
    assert_eq!(listed("?state=resolved", &cast.boss).await, Vec::<i64>::new());
    assert_eq!(listed("?member=dave", &cast.boss).await, [dave_42]);
    assert_eq!(listed("?member=dave&state=dismissed", &cast.boss).await, [dave]);
    assert_eq!(listed("?reporter=bob", &cast.boss).await, [carl, dave_42]);
    assert_eq!(listed("?reporter=ann&state=dismissed", &cast.boss).await, [dave]);
    assert_eq!(listed("?resource=forum:42", &cast.boss).await, [dave_42]);
    assert_eq!(listed("?assignee=me", &cast.moderator).await, [dave_42]);
    assert_eq!(listed("?assignee=me", &cast.second).await, Vec::<i64>::new());
    assert_eq!(listed("?assignee=moderator", &cast.boss).await, [dave_42]);
    assert_eq!(listed("?member=nobody", &cast.boss).await, Vec::<i64>::new());
    for (query, field) in [("?state=pending", "state"), ("?resource=a%01b", "resource")] {
        let refused = app.get(&format!("/v1/reports{query}"), Some(&cast.boss.access)).await;
        refused.assert_problem(422, "validation_failed");
        assert_eq!(refused.field_codes()[0].0, field, "{query}");
    }
}

/// Beside the ranks the access matrix checks (`access.rs`), a case has
/// parties: its reporter, the member reported and sanctioned, the sanction's
/// moderator, other staff. Each reaches its own part and nothing more.
#[tokio::test]
async fn each_party_to_a_case_reaches_its_own_part_and_no_more() {
    let app = TestApp::spawn().await;
    let cast = staff(&app).await;
    let ann = app.member("ann").await;
    let carl = app.member("carl").await;
    let dave = app.member("dave").await;
    let id = report(&app, &ann, "carl", spam()).await.body["id"].as_i64().unwrap();
    let given = sanction(
        &app,
        &cast.moderator,
        "carl",
        json!({"kind": "read_only", "reason": "Spam", "duration": "1d"}),
    )
    .await;
    let appeal = format!("/v1/sanctions/{}/appeals", given.body["id"]);

    for (who, name, status) in [
        (&ann, "the reporter", 200),
        (&carl, "the reported member", 404),
        (&dave, "another member", 404),
        (&cast.second, "staff", 200),
    ] {
        let read = app.get(&format!("/v1/reports/{id}"), Some(&who.access)).await;
        assert_eq!(read.status.as_u16(), status, "{name}: {}", read.body);
        if status == 404 {
            read.assert_problem(404, "report_not_found");
        }
    }
    for who in [&ann, &carl, &dave] {
        app.get("/v1/reports", Some(&who.access))
            .await
            .assert_problem(403, "staff_only");
        app.post(&format!("/v1/reports/{id}/claim"), Some(&who.access), json!({}))
            .await
            .assert_problem(403, "staff_only");
        app.post(
            &format!("/v1/reports/{id}/resolution"),
            Some(&who.access),
            json!({"outcome": "dismissed", "note": "x"}),
        )
        .await
        .assert_problem(403, "staff_only");
        app.get("/v1/appeals", Some(&who.access))
            .await
            .assert_problem(403, "staff_only");
    }
    // Only the sanctioned member appeals; to anyone else the sanction is not theirs to see.
    for who in [&ann, &dave, &cast.moderator, &cast.boss] {
        app.post(&appeal, Some(&who.access), json!({"text": "Mine?"}))
            .await
            .assert_problem(404, "sanction_not_found");
    }
    assert_eq!(app.count("SELECT count(*) FROM appeals"), 0);
    let filed = app.post(&appeal, Some(&carl.access), json!({"text": "Please."})).await;
    assert_eq!(filed.status, StatusCode::CREATED, "{}", filed.body);
    let decision = format!("/v1/appeals/{}/decision", filed.body["id"]);
    for (who, status, code) in [
        (&carl, 403, "staff_only"),
        (&ann, 403, "staff_only"),
        (&cast.moderator, 403, "cannot_decide_own_sanction"),
    ] {
        app.post(
            &decision,
            Some(&who.access),
            json!({"outcome": "forgiven", "reason": "x"}),
        )
        .await
        .assert_problem(status, code);
    }
    assert_eq!(app.count("SELECT count(*) FROM appeals WHERE outcome IS NULL"), 1);
    let decided = app
        .post(
            &decision,
            Some(&cast.second.access),
            json!({"outcome": "upheld", "reason": "Spam."}),
        )
        .await;
    assert_eq!(decided.status, StatusCode::OK, "{}", decided.body);
    // The sanctioned member reads their appeal; nobody else reads it as theirs.
    for (who, total) in [(&carl, 1), (&ann, 0), (&dave, 0)] {
        let own = app.get("/v1/members/me/appeals", Some(&who.access)).await;
        assert_eq!(own.body["total"], total);
    }
}

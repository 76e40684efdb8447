//! Sanctions end to end: queues, enforcement, scopes, and who may do what.

use std::collections::BTreeMap;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use memberd::db::batch::WRITERS;

use crate::helpers::{PASSWORD, Session, TestApp, sent_while_writers_wait};

/// A moderator (staff) and a member to moderate.
async fn cast(app: &TestApp) -> (Session, Session) {
    let moderator = app.member("mod").await;
    app.make_staff(moderator.id);
    let member = app.member("troll").await;
    (moderator, member)
}

pub async fn sanction(app: &TestApp, moderator: &Session, member: &str, body: Value) -> crate::helpers::Response {
    app.post(
        &format!("/v1/members/{member}/sanctions"),
        Some(&moderator.access),
        body,
    )
    .await
}

fn time(value: &Value) -> chrono::DateTime<chrono::Utc> {
    value
        .as_str()
        .unwrap_or_else(|| panic!("not a time: {value}"))
        .parse()
        .unwrap()
}

#[tokio::test]
async fn a_ban_takes_effect_at_once_everywhere() {
    let app = TestApp::spawn().await;
    let (moderator, troll) = cast(&app).await;
    assert_eq!(
        app.get("/v1/members/me", Some(&troll.access)).await.status,
        StatusCode::OK
    );

    let banned = sanction(
        &app,
        &moderator,
        "troll",
        json!({"kind": "ban", "reason": "Spam", "private_note": "third strike", "duration": "1d"}),
    )
    .await;
    assert_eq!(banned.status, StatusCode::CREATED, "{}", banned.body);
    assert_eq!(banned.body["state"], "active");
    assert_eq!(banned.body["private_note"], "third strike");

    let refused = app.get("/v1/members/me", Some(&troll.access)).await;
    refused.assert_problem(403, "member_banned");
    assert_eq!(refused.body["sanction"]["reason"], "Spam");
    app.post("/v1/auth/refresh", None, json!({"refresh_token": troll.refresh}))
        .await
        .assert_problem(401, "invalid_refresh_token");
    let login = app
        .post("/v1/auth/login", None, json!({"login": "troll", "password": PASSWORD}))
        .await;
    login.assert_problem(403, "member_banned");
    assert_eq!(login.body["sanction"]["reason"], "Spam");
    let live_sessions = format!(
        "SELECT count(*) FROM sessions WHERE member_id = {} AND revoked_at IS NULL",
        troll.id
    );
    assert_eq!(app.count(&live_sessions), 0, "a refused login leaves no session");
    assert_eq!(time(&login.body["sanction"]["ends_at"]), time(&banned.body["ends_at"]));
    // A wrong password still says only that.
    app.post(
        "/v1/auth/login",
        None,
        json!({"login": "troll", "password": "wrong password"}),
    )
    .await
    .assert_problem(401, "invalid_credentials");

    let mails = app.inbox.wait_for("troll@example.com", 2).await;
    assert!(mails[1].text.contains("Spam"), "{}", mails[1].text);
    assert!(!mails[1].text.contains("third strike") && !mails[1].html.contains("third strike"));
    assert_eq!(
        app.count("SELECT count(*) FROM events WHERE event_type = 'sanction.applied'"),
        1
    );
    assert_eq!(
        app.count("SELECT count(*) FROM audit_log WHERE action = 'sanction.applied'"),
        1
    );

    // The directory no longer lists the member.
    let names: Vec<String> = app.get("/v1/members", None).await.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["username"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["mod"]);
}

#[tokio::test]
async fn a_short_ban_expires_without_any_job() {
    let app = TestApp::spawn().await;
    let (moderator, _) = cast(&app).await;
    sanction(
        &app,
        &moderator,
        "troll",
        json!({"kind": "ban", "reason": "Cool down", "duration": "2s"}),
    )
    .await;
    app.post("/v1/auth/login", None, json!({"login": "troll", "password": PASSWORD}))
        .await
        .assert_problem(403, "member_banned");
    app.clock.advance(chrono::Duration::seconds(2));
    let back = app.login("troll", PASSWORD).await;
    let status = app.get("/v1/members/troll/status", Some(&back.access)).await;
    assert_eq!(status.body["can_read"], true);
    assert_eq!(status.body["active_sanctions"], json!([]));
    // Observed: the expiry is now in the event log, dated at its end.
    assert_eq!(
        app.count("SELECT count(*) FROM events WHERE event_type = 'sanction.expired'"),
        1
    );
}

#[tokio::test]
async fn sanctions_of_a_kind_accumulate_and_forgive_and_revert_move_the_queue() {
    let app = TestApp::spawn().await;
    let (moderator, troll) = cast(&app).await;
    let first = sanction(
        &app,
        &moderator,
        "troll",
        json!({"kind": "read_only", "reason": "One", "duration": "1h"}),
    )
    .await
    .body;
    let second = sanction(
        &app,
        &moderator,
        "troll",
        json!({"kind": "read_only", "reason": "Two", "duration": "1h"}),
    )
    .await
    .body;
    assert_eq!(second["state"], "queued");
    assert_eq!(time(&second["starts_at"]), time(&first["ends_at"]));
    let status = app.get("/v1/members/troll/status", Some(&troll.access)).await.body;
    assert_eq!(
        (status["can_read"].clone(), status["can_write"].clone()),
        (json!(true), json!(false))
    );
    let two_hours = time(&status["read_only_until"]) - time(&first["starts_at"]);
    assert_eq!(two_hours, chrono::Duration::hours(2));

    // Forgiving the first: it ends now, the second starts now.
    let forgiven = app
        .post(
            &format!("/v1/sanctions/{}/forgiveness", first["id"]),
            Some(&moderator.access),
            json!({"reason": "Apologised"}),
        )
        .await;
    assert_eq!(forgiven.status, StatusCode::OK, "{}", forgiven.body);
    assert_eq!(forgiven.body["state"], "forgiven");
    let second_now = app
        .get(&format!("/v1/sanctions/{}", second["id"]), Some(&moderator.access))
        .await
        .body;
    assert_eq!(second_now["state"], "active");
    assert_eq!(time(&second_now["starts_at"]), time(&forgiven.body["ended_at"]));

    // A third queues after the second; reverting the second moves the third
    // to where the second started, as if the second had never been.
    let third = sanction(
        &app,
        &moderator,
        "troll",
        json!({"kind": "read_only", "reason": "Three", "duration": "1h"}),
    )
    .await
    .body;
    assert_eq!(time(&third["starts_at"]), time(&second_now["ends_at"]));
    let reverted = app
        .post(
            &format!("/v1/sanctions/{}/reversion", second["id"]),
            Some(&moderator.access),
            json!({"reason": "Mistake"}),
        )
        .await;
    assert_eq!(reverted.body["state"], "reverted");
    let third_now = app
        .get(&format!("/v1/sanctions/{}", third["id"]), Some(&moderator.access))
        .await
        .body;
    assert_eq!(time(&third_now["starts_at"]), time(&third["created_at"]));

    app.post(
        &format!("/v1/sanctions/{}/reversion", second["id"]),
        Some(&moderator.access),
        json!({"reason": "Again"}),
    )
    .await
    .assert_problem(409, "sanction_not_endable");
    app.post(
        &format!("/v1/sanctions/{}/forgiveness", first["id"]),
        Some(&moderator.access),
        json!({"reason": "Again"}),
    )
    .await
    .assert_problem(409, "sanction_not_endable");
    app.post(
        "/v1/sanctions/999999/forgiveness",
        Some(&moderator.access),
        json!({"reason": "x"}),
    )
    .await
    .assert_problem(404, "sanction_not_found");

    // Lifting ends everything of the kind.
    let lift = sanction(
        &app,
        &moderator,
        "troll",
        json!({"kind": "lift_read_only", "reason": "Clean slate"}),
    )
    .await;
    assert_eq!(lift.status, StatusCode::CREATED);
    // The member is told, as of any sanction (mail goes out in the background).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let lifted = loop {
        let mails = app.inbox.to("troll@example.com");
        let found = mails
            .into_iter()
            .find(|m| m.subject == "Your read-only restriction was lifted");
        if found.is_some() || std::time::Instant::now() > deadline {
            break found.expect("a mail telling of the lift");
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert!(lifted.text.contains("Reason: Clean slate"), "{}", lifted.text);
    assert_eq!(
        app.get("/v1/members/troll/status", Some(&troll.access)).await.body["can_write"],
        true
    );

    let history = app
        .get("/v1/members/troll/sanctions", Some(&moderator.access))
        .await
        .body;
    let states: Vec<(&str, &str)> = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["kind"].as_str().unwrap(), s["state"].as_str().unwrap()))
        .collect();
    assert_eq!(
        states,
        [
            ("lift_read_only", "expired"),
            ("read_only", "lifted"),
            ("read_only", "reverted"),
            ("read_only", "forgiven")
        ]
    );
    assert_eq!(
        app.count("SELECT count(*) FROM events WHERE event_type IN ('sanction.forgiven', 'sanction.reverted')"),
        2
    );
}

#[tokio::test]
async fn a_scoped_ban_stays_in_its_resource() {
    let app = TestApp::spawn().await;
    let (moderator, troll) = cast(&app).await;
    let scoped = sanction(
        &app,
        &moderator,
        "troll",
        json!({"kind": "ban", "reason": "Off-topic", "duration": "1d", "resource": "forum:1"}),
    )
    .await;
    assert_eq!(scoped.status, StatusCode::CREATED);
    // Not a global ban: the session lives on.
    let in_forum_1 = app
        .get("/v1/members/troll/status?resource=forum:1", Some(&troll.access))
        .await
        .body;
    assert_eq!(
        (
            in_forum_1["can_read"].clone(),
            in_forum_1["active_sanctions"][0]["resource"].clone()
        ),
        (json!(false), json!("forum:1"))
    );
    let in_forum_2 = app
        .get("/v1/members/troll/status?resource=forum:2", Some(&troll.access))
        .await
        .body;
    assert_eq!(
        (in_forum_2["can_read"].clone(), in_forum_2["can_write"].clone()),
        (json!(true), json!(true))
    );
    let global = app.get("/v1/members/troll/status", Some(&troll.access)).await.body;
    assert_eq!(global["can_read"], true);
    app.login("troll", PASSWORD).await;

    // A global read-only applies in every resource.
    sanction(
        &app,
        &moderator,
        "troll",
        json!({"kind": "read_only", "reason": "Calm down", "duration": "1h"}),
    )
    .await;
    let in_forum_2 = app
        .get("/v1/members/troll/status?resource=forum:2", Some(&troll.access))
        .await
        .body;
    assert_eq!(in_forum_2["can_write"], false);
    app.get(
        &format!("/v1/members/troll/status?resource={}", "r".repeat(201)),
        Some(&troll.access),
    )
    .await
    .assert_problem(422, "validation_failed");
}

#[tokio::test]
async fn who_may_sanction_whom() {
    let app = TestApp::spawn().await;
    let (moderator, troll) = cast(&app).await;
    let other_mod = app.member("othermod").await;
    app.make_staff(other_mod.id);
    let boss = app.member("boss").await;
    app.make_superuser(boss.id);
    let bot = app.member("robot").await;
    app.make_bot(bot.id);
    let ban = json!({"kind": "ban", "reason": "x", "duration": "1h"});

    sanction(&app, &troll, "mod", ban.clone())
        .await
        .assert_problem(403, "staff_only");
    sanction(&app, &moderator, "mod", ban.clone())
        .await
        .assert_problem(403, "cannot_moderate_self");
    sanction(&app, &moderator, "othermod", ban.clone())
        .await
        .assert_problem(403, "insufficient_rank");
    sanction(&app, &moderator, "boss", ban.clone())
        .await
        .assert_problem(403, "cannot_moderate_superuser");
    sanction(&app, &moderator, "robot", ban.clone())
        .await
        .assert_problem(403, "cannot_moderate_bot");
    sanction(&app, &moderator, "nobody", ban.clone())
        .await
        .assert_problem(404, "member_not_found");
    app.post("/v1/members/troll/sanctions", None, ban.clone())
        .await
        .assert_problem(401, "missing_credentials");
    assert_eq!(
        sanction(&app, &boss, "othermod", ban.clone()).await.status,
        StatusCode::CREATED
    );

    for (body, field) in [
        (json!({"kind": "ban", "reason": "x", "duration": "0s"}), "duration"),
        (json!({"kind": "ban", "reason": "x", "duration": "-1d"}), "duration"),
        (json!({"kind": "ban", "reason": "x", "duration": "soon"}), "duration"),
        (json!({"kind": "mute", "reason": "x"}), "kind"),
        (json!({"kind": "ban", "reason": ""}), "reason"),
        (json!({"kind": "ban", "reason": "x", "resource": ""}), "resource"),
    ] {
        let response = sanction(&app, &moderator, "troll", body).await;
        response.assert_problem(422, "validation_failed");
        assert_eq!(response.field_codes()[0].0, field);
    }
    assert_eq!(app.count("SELECT count(*) FROM sanctions"), 1);

    // Reading: staff only; a member sees their own status, not another's.
    app.get("/v1/sanctions", Some(&troll.access))
        .await
        .assert_problem(403, "staff_only");
    app.get("/v1/members/troll/sanctions", Some(&troll.access))
        .await
        .assert_problem(403, "staff_only");
    app.get("/v1/members/mod/status", Some(&troll.access))
        .await
        .assert_problem(403, "forbidden");
    app.get("/v1/members/troll/status", None)
        .await
        .assert_problem(401, "missing_credentials");
    let listed = app
        .get(
            "/v1/sanctions?active=true&kind=ban&moderator=boss",
            Some(&moderator.access),
        )
        .await;
    assert_eq!(listed.body["total"], 1);
    assert_eq!(listed.body["items"][0]["member"]["username"], "othermod");
    assert_eq!(
        app.get("/v1/sanctions?moderator=mod", Some(&moderator.access))
            .await
            .body["total"],
        0
    );
    app.get("/v1/sanctions?kind=mute", Some(&moderator.access))
        .await
        .assert_problem(422, "validation_failed");
}

#[tokio::test]
async fn concurrent_sanctions_build_one_consistent_queue() {
    let app = TestApp::spawn().await;
    let (moderator, _) = cast(&app).await;
    let second = app.member("mod2").await;
    app.make_staff(second.id);
    let body = json!({"kind": "ban", "reason": "Flood", "duration": "1h"});
    let requests = (0..6).map(|i| {
        let token = if i % 2 == 0 {
            moderator.access.clone()
        } else {
            second.access.clone()
        };
        let (app, body) = (&app, body.clone());
        async move {
            sanction(
                app,
                &Session {
                    id: 0,
                    access: token,
                    refresh: String::new(),
                },
                "troll",
                body,
            )
            .await
        }
    });
    let responses = futures_util::future::join_all(requests).await;
    assert!(responses.iter().all(|r| r.status == StatusCode::CREATED));

    let history = app
        .get("/v1/members/troll/sanctions", Some(&moderator.access))
        .await
        .body;
    let mut slots: Vec<(chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>)> = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (time(&s["starts_at"]), time(&s["ends_at"])))
        .collect();
    slots.sort();
    for pair in slots.windows(2) {
        assert_eq!(pair[0].1, pair[1].0, "the queue has a gap or an overlap: {slots:?}");
    }
    assert_eq!(slots[5].1 - slots[0].0, chrono::Duration::hours(6));
}

/// Sanctions that arrive while the writers are busy are stored together, in
/// one transaction, and each gets its own answer: a refusal among them fails
/// nobody else and writes nothing, and three about one member queue one
/// after the other as if they had come alone.
#[tokio::test]
async fn sanctions_stored_together_answer_each_on_its_own() {
    let app = TestApp::spawn().await;
    let (moderator, _) = cast(&app).await;
    let boss = app.member("boss").await;
    app.make_superuser(boss.id);
    for name in ["blocker", "alice", "bob", "carol"] {
        app.member(name).await;
    }
    let read_only = json!({"kind": "read_only", "reason": "Cool down", "duration": "1h"});
    let targets = ["alice", "nobody", "carol", "boss", "bob", "carol", "carol"];
    let (blocked, queued) = sent_while_writers_wait(
        &app,
        "SELECT 1 FROM members WHERE username = 'blocker' FOR UPDATE",
        || Box::pin(sanction(&app, &moderator, "blocker", read_only.clone())),
        futures_util::future::join_all(
            targets
                .iter()
                .map(|target| sanction(&app, &moderator, target, read_only.clone())),
        ),
    )
    .await;
    for answer in blocked {
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
    }
    for (i, answer) in queued.iter().enumerate() {
        match i {
            1 => answer.assert_problem(404, "member_not_found"),
            3 => answer.assert_problem(403, "cannot_moderate_superuser"),
            _ => {
                assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
                assert_eq!(answer.body["member"]["username"], targets[i]);
            }
        }
    }

    let of = |names: &str| format!("(SELECT id FROM members WHERE username IN ({names}))");
    assert_eq!(
        app.count(&format!(
            "SELECT count(DISTINCT txid) FROM events WHERE event_type = 'sanction.applied' AND member_id IN {}",
            of("'alice', 'bob', 'carol'")
        )),
        1,
        "the queued sanctions were not stored together"
    );
    for written in [
        "sanctions WHERE member_id",
        "events WHERE event_type = 'sanction.applied' AND member_id",
        "audit_log WHERE action = 'sanction.applied' AND target_member_id",
    ] {
        assert_eq!(
            app.count(&format!("SELECT count(*) FROM {written} IN {}", of("'boss'"))),
            0,
            "a refused sanction wrote to {written}"
        );
    }
    let mut slots: Vec<_> = queued
        .iter()
        .filter(|answer| answer.body["member"]["username"] == "carol")
        .map(|answer| (time(&answer.body["starts_at"]), time(&answer.body["ends_at"])))
        .collect();
    slots.sort();
    assert_eq!(slots.len(), 3);
    for pair in slots.windows(2) {
        assert_eq!(pair[0].1, pair[1].0, "carol's queue has a gap or an overlap: {slots:?}");
    }
    assert_eq!(slots[2].1 - slots[0].0, chrono::Duration::hours(3));
    // Each member's count, kept by a trigger per statement, is their history's length.
    assert_eq!(
        app.count(&format!(
            "SELECT sanctions FROM sanction_counts WHERE member_id IN {}",
            of("'carol'")
        )),
        3
    );
    assert_eq!(
        app.count(
            "SELECT count(*) FROM sanction_counts c \
             WHERE c.sanctions <> (SELECT count(*) FROM sanctions s WHERE s.member_id = c.member_id)"
        ),
        0
    );
    // Each sanction, the writers' too, has its own appeal link.
    assert_eq!(
        app.count("SELECT count(*) FROM member_tokens WHERE kind = 'appeal'"),
        5 + WRITERS as i64
    );
}

/// Karma notes that arrive while the writers are busy are stored together,
/// each answered with its own note; refused ones write nothing.
#[tokio::test]
async fn karma_notes_stored_together_answer_each_on_its_own() {
    let app = TestApp::spawn().await;
    let (moderator, _) = cast(&app).await;
    let boss = app.member("boss").await;
    app.make_superuser(boss.id);
    for name in ["blocker", "alice", "bob"] {
        app.member(name).await;
    }
    let note = |target: &str, text: &str| {
        let (path, body) = (
            format!("/v1/members/{target}/karma-notes"),
            json!({"note": text, "karma": -1}),
        );
        let (app, token) = (&app, &moderator.access);
        async move { app.post(&path, Some(token), body).await }
    };
    let notes = [
        ("alice", "first"),
        ("nobody", "lost"),
        ("bob", "second"),
        ("boss", "refused"),
        ("alice", "third"),
    ];
    let (blocked, queued) = sent_while_writers_wait(
        &app,
        "LOCK TABLE karma_notes IN SHARE MODE",
        || Box::pin(note("blocker", "waits")),
        futures_util::future::join_all(notes.iter().map(|(target, text)| note(target, text))),
    )
    .await;
    for answer in blocked {
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
    }
    for (answer, (target, text)) in queued.iter().zip(notes) {
        match target {
            "nobody" => answer.assert_problem(404, "member_not_found"),
            "boss" => answer.assert_problem(403, "cannot_moderate_superuser"),
            _ => {
                assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
                assert_eq!(answer.body["note"], text);
                let stored = app.text(&format!(
                    "SELECT m.username || ' ' || k.note FROM karma_notes k JOIN members m ON m.id = k.member_id WHERE k.id = {}",
                    answer.body["id"]
                ));
                assert_eq!(stored, format!("{target} {text}"));
            }
        }
    }
    assert_eq!(
        app.count(
            "SELECT count(DISTINCT txid) FROM events WHERE event_type = 'karma.noted' \
             AND member_id IN (SELECT id FROM members WHERE username IN ('alice', 'bob'))"
        ),
        1,
        "the queued notes were not stored together"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM audit_log WHERE action = 'karma.noted' AND reason = 'refused'"),
        0
    );
    assert_eq!(app.count("SELECT count(*) FROM karma_notes WHERE note = 'refused'"), 0);
}

#[tokio::test]
async fn activation_refuses_a_banned_member() {
    let app = TestApp::spawn().await;
    let moderator = app.member("mod").await;
    app.make_staff(moderator.id);
    app.register("late", "late@example.com").await;
    let token = app.activation_token("late@example.com", 1).await;
    // Staff may sanction inactive members.
    assert_eq!(
        sanction(
            &app,
            &moderator,
            "late",
            json!({"kind": "ban", "reason": "Known spammer"})
        )
        .await
        .status,
        StatusCode::CREATED
    );
    app.post(&format!("/v1/tokens/registration/{token}"), None, json!({}))
        .await
        .assert_problem(403, "member_banned");
    assert_eq!(
        app.count("SELECT count(*) FROM sessions s JOIN members m ON m.id = s.member_id WHERE m.username = 'late'"),
        0
    );
}

/// Write routes a read-only member may still use, as API.md lists them.
const OPEN_TO_READ_ONLY: &[(&str, &str)] = &[
    ("POST", "/v1/members"),
    ("POST", "/v1/auth/login"),
    ("POST", "/v1/auth/refresh"),
    ("POST", "/v1/auth/logout"),
    // Ending one's own session is a logout from elsewhere.
    ("DELETE", "/v1/members/me/sessions/{id}"),
    ("POST", "/v1/tokens/registration"),
    ("POST", "/v1/tokens/registration/{token}"),
    ("POST", "/v1/tokens/password-reset"),
    ("POST", "/v1/tokens/password-reset/{token}"),
    ("POST", "/v1/tokens/email-change/{token}"),
    ("PUT", "/v1/members/me/password"),
    // Securing one's own account.
    ("POST", "/v1/auth/mfa"),
    ("POST", "/v1/auth/mfa/passkey-options"),
    ("POST", "/v1/auth/passkey/options"),
    ("POST", "/v1/auth/passkey"),
    ("POST", "/v1/members/me/factors/totp"),
    ("POST", "/v1/members/me/factors/passkey"),
    ("POST", "/v1/members/me/factors/{id}/confirmation"),
    ("DELETE", "/v1/members/me/factors/{id}"),
    ("POST", "/v1/members/me/recovery-codes"),
    ("DELETE", "/v1/members/me"),
    // A read that takes a body.
    ("POST", "/v1/status/batch"),
    // Reporting is not writing content; appealing is the member's own business.
    ("POST", "/v1/members/{member}/reports"),
    ("POST", "/v1/sanctions/{id}/appeals"),
    ("POST", "/v1/tokens/appeal/{token}"),
];

#[tokio::test]
async fn every_write_route_refuses_a_read_only_member_who_can_still_log_in() {
    let app = TestApp::spawn().await;
    let boss = app.member("boss").await;
    app.make_superuser(boss.id);
    // A read-only staff member, so that staff routes reach the guard too.
    let quiet = app.member("quiet").await;
    app.make_staff(quiet.id);
    let victim = app.member("victim").await;
    let earlier = sanction(
        &app,
        &boss,
        "victim",
        json!({"kind": "read_only", "reason": "x", "duration": "1h"}),
    )
    .await
    .body;
    assert_eq!(
        sanction(
            &app,
            &boss,
            "quiet",
            json!({"kind": "read_only", "reason": "Cooling off", "duration": "1h"})
        )
        .await
        .status,
        StatusCode::CREATED
    );
    let quiet = app.login("quiet", PASSWORD).await;

    let samples: BTreeMap<(&str, &str), Value> = BTreeMap::from([
        (("PATCH", "/v1/members/me"), json!({"biography": "x"})),
        (
            ("PATCH", "/v1/members/me/account"),
            json!({"current_password": PASSWORD, "username": "loud"}),
        ),
        (
            ("POST", "/v1/members/{member}/sanctions"),
            json!({"kind": "ban", "reason": "x"}),
        ),
        (("POST", "/v1/sanctions/{id}/forgiveness"), json!({"reason": "x"})),
        (("POST", "/v1/sanctions/{id}/reversion"), json!({"reason": "x"})),
        (
            ("POST", "/v1/members/{member}/karma-notes"),
            json!({"note": "x", "karma": 1}),
        ),
        (("POST", "/v1/members/{member}/sessions/revocation"), json!({})),
        (("DELETE", "/v1/members/{member}/factors"), json!({})),
        (
            ("PUT", "/v1/members/{member}/roles"),
            json!({"groups": [], "staff": false, "superuser": false, "active": true}),
        ),
        (("POST", "/v1/groups"), json!({"name": "helpers"})),
        (
            ("POST", "/v1/forbidden-email-domains"),
            json!({"domain": "spam.example"}),
        ),
        (("DELETE", "/v1/forbidden-email-domains/{domain}"), json!({})),
        (
            ("POST", "/v1/service-clients"),
            json!({"name": "forum", "scopes": ["status:read"]}),
        ),
        (("DELETE", "/v1/service-clients/{id}"), json!({})),
        (
            ("POST", "/v1/webhooks"),
            json!({"url": "https://example.org/hook", "events": ["member.registered"]}),
        ),
        (("DELETE", "/v1/webhooks/{id}"), json!({})),
        (
            ("POST", "/v1/webhooks/{id}/deliveries/{delivery}/redelivery"),
            json!({}),
        ),
        (("POST", "/v1/reports/{id}/claim"), json!({})),
        (("DELETE", "/v1/reports/{id}/claim"), json!({})),
        (
            ("POST", "/v1/reports/{id}/resolution"),
            json!({"outcome": "dismissed", "note": "x"}),
        ),
        (
            ("POST", "/v1/appeals/{id}/decision"),
            json!({"outcome": "upheld", "reason": "x"}),
        ),
    ]);
    let document = app.get("/v1/openapi.json", None).await.body;
    let mut checked = 0;
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys().map(|m| m.to_uppercase()) {
            if method == "GET" || OPEN_TO_READ_ONLY.contains(&(method.as_str(), path.as_str())) {
                continue;
            }
            let body = samples.get(&(method.as_str(), path.as_str())).unwrap_or_else(|| {
                panic!("{method} {path} is a write route: add it to the samples here, or to OPEN_TO_READ_ONLY if API.md lets read-only members use it")
            });
            let concrete = path
                .replace("{member}", &victim.id.to_string())
                .replace("{id}", &earlier["id"].to_string());
            let response = app
                .request(
                    Method::from_bytes(method.as_bytes()).unwrap(),
                    &concrete,
                    Some(&quiet.access),
                    Some(body.clone()),
                )
                .await;
            response.assert_problem(403, "member_read_only");
            assert_eq!(response.body["sanction"]["reason"], "Cooling off");
            checked += 1;
        }
    }
    assert_eq!(checked, samples.len());

    // What read-only members keep: logging in and out, the password, their data.
    app.login("quiet", PASSWORD).await;
    assert_eq!(
        app.get("/v1/members/me/export", Some(&quiet.access)).await.status,
        StatusCode::OK
    );
    let new = "another fine passphrase";
    let changed = app
        .request(
            Method::PUT,
            "/v1/members/me/password",
            Some(&quiet.access),
            Some(json!({"current_password": PASSWORD, "password": new, "password_confirmation": new})),
        )
        .await;
    assert_eq!(changed.status, StatusCode::NO_CONTENT);
    let email_only = app
        .patch(
            "/v1/members/me/account",
            Some(&quiet.access),
            json!({"current_password": new, "email": "quiet@new.example.org"}),
        )
        .await;
    assert_eq!(email_only.status, StatusCode::ACCEPTED);
}

#[tokio::test]
async fn expiries_nobody_observed_are_recorded_by_the_sweep_at_their_end() {
    let app = TestApp::spawn().await;
    let (moderator, _) = cast(&app).await;
    let short = sanction(
        &app,
        &moderator,
        "troll",
        json!({"kind": "read_only", "reason": "x", "duration": "5s"}),
    )
    .await
    .body;
    assert_eq!(
        memberd::sanctions::service::sweep_expiries(&app.state).await.unwrap(),
        0
    );
    app.clock.advance(chrono::Duration::seconds(5));
    assert_eq!(
        memberd::sanctions::service::sweep_expiries(&app.state).await.unwrap(),
        1
    );
    assert_eq!(
        memberd::sanctions::service::sweep_expiries(&app.state).await.unwrap(),
        0,
        "recorded once"
    );
    let occurred = app.count(&format!(
        "SELECT count(*) FROM events WHERE event_type = 'sanction.expired' AND occurred_at = '{}'::timestamptz",
        short["ends_at"].as_str().unwrap()
    ));
    assert_eq!(occurred, 1, "dated at the sanction's end");
}

#[tokio::test]
async fn a_long_history_pages_running_then_queued_then_the_rest_newest_first() {
    let app = TestApp::spawn().await;
    let (moderator, troll) = cast(&app).await;
    // Five sanctions served long ago, as an import would have written them.
    app.execute(&format!(
        "INSERT INTO sanctions (member_id, kind, reason, duration_seconds, moderator_id, created_at, starts_at, ends_at, expiry_recorded)
         SELECT {troll}, 'read_only', 'old ' || g, 60, {moderator}, now() - make_interval(days => 100 - g),
                now() - make_interval(days => 100 - g), now() - make_interval(days => 100 - g) + interval '1 minute', TRUE
         FROM generate_series(1, 5) AS g",
        troll = troll.id,
        moderator = moderator.id
    ));
    for body in [
        json!({"kind": "read_only", "reason": "running", "duration": "1h"}),
        json!({"kind": "read_only", "reason": "queued", "duration": "1h"}),
        json!({"kind": "ban", "reason": "running here", "duration": "1h", "resource": "forum:1"}),
    ] {
        assert_eq!(
            sanction(&app, &moderator, "troll", body).await.status,
            StatusCode::CREATED
        );
    }
    let reasons = |page: &Value| -> Vec<(String, String)> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    s["reason"].as_str().unwrap().to_string(),
                    s["state"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    let whole = app
        .get("/v1/members/troll/sanctions?per_page=100", Some(&moderator.access))
        .await;
    assert_eq!(whole.body["total"], 8);
    let expected: Vec<(String, String)> = [
        ("running here", "active"),
        ("running", "active"),
        ("queued", "queued"),
        ("old 5", "expired"),
        ("old 4", "expired"),
        ("old 3", "expired"),
        ("old 2", "expired"),
        ("old 1", "expired"),
    ]
    .into_iter()
    .map(|(r, s)| (r.to_string(), s.to_string()))
    .collect();
    assert_eq!(reasons(&whole.body), expected);
    // Pages of every size put together give the same history.
    for per_page in 1..=4 {
        let mut walked = Vec::new();
        for page in 1..=(8 / per_page + 2) {
            let answer = app
                .get(
                    &format!("/v1/members/troll/sanctions?per_page={per_page}&page={page}"),
                    Some(&moderator.access),
                )
                .await;
            assert_eq!(answer.body["total"], 8);
            walked.extend(reasons(&answer.body));
        }
        assert_eq!(walked, expected, "per_page={per_page}");
    }
}

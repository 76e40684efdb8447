//! Karma notes and staff tools: sessions, IPs, roles, groups, forbidden domains, audit.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{PASSWORD, Session, TestApp};

async fn staff_and_member(app: &TestApp) -> (Session, Session) {
    let moderator = app.member("mod").await;
    app.make_staff(moderator.id);
    (moderator, app.member("pat").await)
}

#[tokio::test]
async fn karma_notes_sum_up_and_only_staff_see_them() {
    let app = TestApp::spawn().await;
    let (moderator, pat) = staff_and_member(&app).await;
    let note = |karma: i64| json!({"note": "Helpful answer", "karma": karma});
    let added = app
        .post("/v1/members/pat/karma-notes", Some(&moderator.access), note(10))
        .await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.body);
    assert_eq!(added.body["author"]["username"], "mod");
    app.post("/v1/members/pat/karma-notes", Some(&moderator.access), note(-3))
        .await;

    let history = app
        .get("/v1/members/pat/karma-notes", Some(&moderator.access))
        .await
        .body;
    assert_eq!(history["karma"], 7);
    assert_eq!(history["items"].as_array().unwrap().len(), 2);
    assert_eq!(
        app.get("/v1/members/pat", Some(&moderator.access)).await.body["karma"],
        7
    );
    assert!(
        app.get("/v1/members/pat", Some(&pat.access))
            .await
            .body
            .get("karma")
            .is_none()
    );
    assert!(app.get("/v1/members/pat", None).await.body.get("karma").is_none());
    assert_eq!(
        app.count("SELECT count(*) FROM events WHERE event_type = 'karma.noted'"),
        2
    );

    app.post("/v1/members/mod/karma-notes", Some(&pat.access), note(1))
        .await
        .assert_problem(403, "staff_only");
    app.get("/v1/members/pat/karma-notes", Some(&pat.access))
        .await
        .assert_problem(403, "staff_only");
    app.post("/v1/members/mod/karma-notes", Some(&moderator.access), note(1))
        .await
        .assert_problem(403, "cannot_moderate_self");
    let bot = app.member("robot").await;
    app.make_bot(bot.id);
    app.post("/v1/members/robot/karma-notes", Some(&moderator.access), note(1))
        .await
        .assert_problem(403, "cannot_moderate_bot");
    let out_of_range = app
        .post(
            "/v1/members/pat/karma-notes",
            Some(&moderator.access),
            json!({"note": "", "karma": 101}),
        )
        .await;
    assert_eq!(
        out_of_range.field_codes(),
        [
            ("note".to_string(), "required".to_string()),
            ("karma".to_string(), "out_of_range".to_string())
        ]
    );

    // A rename leaves a note of 0 by memberd, naming both names.
    app.patch(
        "/v1/members/me/account",
        Some(&pat.access),
        json!({"current_password": PASSWORD, "username": "patricia"}),
    )
    .await;
    let history = app
        .get("/v1/members/patricia/karma-notes", Some(&moderator.access))
        .await
        .body;
    assert_eq!(history["karma"], 7);
    assert_eq!(history["items"][0]["note"], "Username changed from pat to patricia.");
    assert_eq!(history["items"][0]["author"], serde_json::Value::Null);
}

#[tokio::test]
async fn staff_can_log_a_member_out_everywhere() {
    let app = TestApp::spawn().await;
    let (moderator, pat) = staff_and_member(&app).await;
    let other = app.login("pat", PASSWORD).await;
    app.post("/v1/members/mod/sessions/revocation", Some(&pat.access), json!({}))
        .await
        .assert_problem(403, "staff_only");
    let done = app
        .post(
            "/v1/members/pat/sessions/revocation",
            Some(&moderator.access),
            json!({}),
        )
        .await;
    // The activation's session and two logins.
    assert_eq!((done.status, done.body["revoked"].clone()), (StatusCode::OK, json!(3)));
    app.get("/v1/members/me", Some(&pat.access))
        .await
        .assert_problem(401, "session_revoked");
    app.get("/v1/members/me", Some(&other.access))
        .await
        .assert_problem(401, "session_revoked");
    assert_eq!(
        app.count("SELECT count(*) FROM events WHERE event_type = 'member.sessions_revoked'"),
        1
    );

    let peer = app.member("peer").await;
    app.make_staff(peer.id);
    app.post(
        "/v1/members/peer/sessions/revocation",
        Some(&moderator.access),
        json!({}),
    )
    .await
    .assert_problem(403, "insufficient_rank");
    app.login("pat", PASSWORD).await;
}

#[tokio::test]
async fn ip_lookups_match_ipv6_by_64_and_are_audited() {
    let app = TestApp::spawn_with(&[("MEMBERD_TRUSTED_PROXIES", "127.0.0.1")]).await;
    let (moderator, _) = staff_and_member(&app).await;
    let login = |name: &'static str| json!({"login": name, "password": PASSWORD});
    app.request_from(
        "2001:db8:1:2::5",
        Method::POST,
        "/v1/auth/login",
        None,
        Some(login("pat")),
    )
    .await;
    app.request_from(
        "198.51.100.20",
        Method::POST,
        "/v1/auth/login",
        None,
        Some(login("pat")),
    )
    .await;
    let other = app.member("other").await;
    app.request_from(
        "2001:db8:1:3::5",
        Method::POST,
        "/v1/auth/login",
        None,
        Some(login("other")),
    )
    .await;

    let ips = app.get("/v1/members/pat/ips", Some(&moderator.access)).await;
    assert_eq!(ips.status, StatusCode::OK);
    let listed: Vec<&str> = ips.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["ip"].as_str().unwrap())
        .collect();
    assert_eq!(listed, ["198.51.100.20", "2001:db8:1:2::5", "127.0.0.1"]);

    let same_64 = app
        .get("/v1/ips/2001:db8:1:2:ffff::1/members", Some(&moderator.access))
        .await;
    assert_eq!(same_64.body["network"], "2001:db8:1:2::/64");
    let names: Vec<&str> = same_64.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["member"]["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["pat"]);
    let v4 = app.get("/v1/ips/198.51.100.20/members", Some(&moderator.access)).await;
    assert_eq!(v4.body["items"][0]["member"]["username"], "pat");
    app.get("/v1/ips/not-an-ip/members", Some(&moderator.access))
        .await
        .assert_problem(422, "validation_failed");
    app.get("/v1/ips/198.51.100.20/members", Some(&other.access))
        .await
        .assert_problem(403, "staff_only");
    app.get("/v1/members/pat/ips", Some(&other.access))
        .await
        .assert_problem(403, "staff_only");

    assert_eq!(
        app.count("SELECT count(*) FROM audit_log WHERE action = 'member.ips_viewed'"),
        1
    );
    assert_eq!(
        app.count("SELECT count(*) FROM audit_log WHERE action = 'ip.members_viewed' AND target = '198.51.100.20/32'"),
        1
    );
}

#[tokio::test]
async fn superusers_manage_roles_and_groups() {
    let app = TestApp::spawn().await;
    let boss = app.member("boss").await;
    app.make_superuser(boss.id);
    let (moderator, pat) = staff_and_member(&app).await;
    let roles = |groups: serde_json::Value, staff: bool, superuser: bool, active: bool| json!({"groups": groups, "staff": staff, "superuser": superuser, "active": active});

    app.post("/v1/groups", Some(&moderator.access), json!({"name": "helpers"}))
        .await
        .assert_problem(403, "superuser_only");
    assert_eq!(
        app.post("/v1/groups", Some(&boss.access), json!({"name": "helpers"}))
            .await
            .status,
        StatusCode::CREATED
    );
    app.post("/v1/groups", Some(&boss.access), json!({"name": "helpers"}))
        .await
        .assert_problem(409, "group_exists");
    app.post("/v1/groups", Some(&boss.access), json!({"name": "Bad Name"}))
        .await
        .assert_problem(422, "validation_failed");

    let put = |who: &'static str, token: String, body: serde_json::Value| {
        let app = &app;
        async move {
            app.request(
                Method::PUT,
                &format!("/v1/members/{who}/roles"),
                Some(&token),
                Some(body),
            )
            .await
        }
    };
    put("pat", moderator.access.clone(), roles(json!([]), true, false, true))
        .await
        .assert_problem(403, "superuser_only");
    put("boss", boss.access.clone(), roles(json!([]), true, true, true))
        .await
        .assert_problem(403, "cannot_change_own_roles");
    let unknown = put("pat", boss.access.clone(), roles(json!(["nope"]), false, false, true)).await;
    assert_eq!(
        unknown.field_codes(),
        [("groups".to_string(), "unknown_group".to_string())]
    );

    let promoted = put("pat", boss.access.clone(), roles(json!(["helpers"]), true, false, true)).await;
    assert_eq!(promoted.status, StatusCode::OK, "{}", promoted.body);
    assert_eq!(promoted.body, roles(json!(["helpers"]), true, false, true));
    assert_eq!(
        app.get("/v1/groups", Some(&moderator.access)).await.body["items"][0]["members"],
        1
    );
    // Roles are read fresh on every request, not from the token.
    assert_eq!(
        app.get("/v1/members/pat/karma-notes", Some(&pat.access)).await.status,
        StatusCode::OK
    );

    let new_boss = put("mod", boss.access.clone(), roles(json!([]), true, true, true)).await;
    assert_eq!(new_boss.status, StatusCode::OK);
    // Two superusers: one may demote the other, but not the last one.
    assert_eq!(
        put("mod", boss.access.clone(), roles(json!([]), false, false, true))
            .await
            .status,
        StatusCode::OK
    );
    // Demoted, "mod" may no longer change anyone's roles.
    put("pat", moderator.access.clone(), roles(json!([]), false, false, true))
        .await
        .assert_problem(403, "superuser_only");

    // Deactivation ends sessions.
    assert_eq!(
        put("pat", boss.access.clone(), roles(json!([]), false, false, false))
            .await
            .status,
        StatusCode::OK
    );
    app.get("/v1/members/me", Some(&pat.access))
        .await
        .assert_problem(401, "session_revoked");
    app.post("/v1/auth/login", None, json!({"login": "pat", "password": PASSWORD}))
        .await
        .assert_problem(403, "account_disabled");
    assert_eq!(
        app.count("SELECT count(*) FROM events WHERE event_type = 'member.roles_changed'"),
        4
    );
    assert_eq!(
        app.count("SELECT count(*) FROM audit_log WHERE action = 'member.roles_changed'"),
        4
    );
}

#[tokio::test]
async fn two_superusers_demoting_each_other_leave_one() {
    let app = TestApp::spawn().await;
    let a = app.member("alpha").await;
    let b = app.member("beta").await;
    app.make_superuser(a.id);
    app.make_superuser(b.id);
    let demote = json!({"groups": [], "staff": false, "superuser": false, "active": true});
    let (first, second) = tokio::join!(
        app.request(
            Method::PUT,
            "/v1/members/beta/roles",
            Some(&a.access),
            Some(demote.clone())
        ),
        app.request(
            Method::PUT,
            "/v1/members/alpha/roles",
            Some(&b.access),
            Some(demote.clone())
        ),
    );
    let codes = [first.code().to_string(), second.code().to_string()];
    let successes = [&first, &second].iter().filter(|r| r.status == StatusCode::OK).count();
    assert_eq!(successes, 1, "{codes:?}");
    // The loser was either still a superuser when it asked (and is refused as
    // the last one) or no longer one.
    assert!(
        codes.iter().any(|c| c == "last_superuser" || c == "superuser_only"),
        "{codes:?}"
    );
    assert_eq!(app.count("SELECT count(*) FROM members WHERE is_superuser"), 1);
}

#[tokio::test]
async fn a_name_under_any_top_level_domain_is_forbidden_with_its_subdomains() {
    let app = TestApp::spawn().await;
    let (moderator, _) = staff_and_member(&app).await;
    let added = app
        .post(
            "/v1/forbidden-email-domains",
            Some(&moderator.access),
            json!({"domain": "Throwaway-Test.*"}),
        )
        .await;
    assert_eq!(
        (added.status, added.body["domain"].clone()),
        (StatusCode::CREATED, json!("throwaway-test.*"))
    );
    for (n, address) in ["a@throwaway-test.com", "b@throwaway-test.fr", "c@mx.throwaway-test.io"]
        .iter()
        .enumerate()
    {
        let refused = app.register(&format!("refused{n}"), address).await;
        assert_eq!(
            refused.field_codes(),
            [("email".to_string(), "forbidden_domain".to_string())],
            "{address}"
        );
    }
    // Only that name, and only under a top-level domain.
    for (n, address) in [
        "d@throwaway-tests.com",
        "e@throwaway-test.co.uk",
        "f@nothrowaway-test.com",
    ]
    .iter()
    .enumerate()
    {
        assert_eq!(
            app.register(&format!("welcome{n}"), address).await.status,
            StatusCode::ACCEPTED,
            "{address}"
        );
    }
    for bad in ["*", ".*", "throwaway.*.com", "throw*away.com"] {
        app.post(
            "/v1/forbidden-email-domains",
            Some(&moderator.access),
            json!({"domain": bad}),
        )
        .await
        .assert_problem(422, "validation_failed");
    }
    let removed = app
        .request(
            Method::DELETE,
            "/v1/forbidden-email-domains/throwaway-test.*",
            Some(&moderator.access),
            None,
        )
        .await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn staff_manage_forbidden_domains() {
    let app = TestApp::spawn().await;
    let (moderator, pat) = staff_and_member(&app).await;
    app.post(
        "/v1/forbidden-email-domains",
        Some(&pat.access),
        json!({"domain": "spam-test.example"}),
    )
    .await
    .assert_problem(403, "staff_only");
    let added = app
        .post(
            "/v1/forbidden-email-domains",
            Some(&moderator.access),
            json!({"domain": "Spam-Test.Example"}),
        )
        .await;
    assert_eq!(
        (added.status, added.body["domain"].clone()),
        (StatusCode::CREATED, json!("spam-test.example"))
    );
    app.post(
        "/v1/forbidden-email-domains",
        Some(&moderator.access),
        json!({"domain": "spam-test.example"}),
    )
    .await
    .assert_problem(409, "domain_exists");
    app.post(
        "/v1/forbidden-email-domains",
        Some(&moderator.access),
        json!({"domain": "*.spam-test.example"}),
    )
    .await
    .assert_problem(422, "validation_failed");

    let refused = app.register("spammer", "x@mail.spam-test.example").await;
    assert_eq!(
        refused.field_codes(),
        [("email".to_string(), "forbidden_domain".to_string())]
    );
    let listed = app
        .get("/v1/forbidden-email-domains?q=spam-test", Some(&moderator.access))
        .await;
    assert_eq!(listed.body["total"], 1);
    assert!(
        app.get("/v1/forbidden-email-domains", Some(&moderator.access))
            .await
            .body["total"]
            .as_i64()
            .unwrap()
            > 10_000
    );

    let removed = app
        .request(
            Method::DELETE,
            "/v1/forbidden-email-domains/spam-test.example",
            Some(&moderator.access),
            None,
        )
        .await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT);
    app.request(
        Method::DELETE,
        "/v1/forbidden-email-domains/spam-test.example",
        Some(&moderator.access),
        None,
    )
    .await
    .assert_problem(404, "domain_not_found");
    assert_eq!(
        app.register("spammer", "x@mail.spam-test.example").await.status,
        StatusCode::ACCEPTED
    );
    assert_eq!(
        app.count("SELECT count(*) FROM audit_log WHERE action LIKE 'forbidden_domain.%'"),
        2
    );
}

#[tokio::test]
async fn superusers_read_the_audit_log() {
    let app = TestApp::spawn().await;
    let boss = app.member("boss").await;
    app.make_superuser(boss.id);
    let (moderator, _) = staff_and_member(&app).await;
    app.post(
        "/v1/members/pat/sanctions",
        Some(&moderator.access),
        json!({"kind": "read_only", "reason": "Rude", "duration": "1h"}),
    )
    .await;
    app.post(
        "/v1/members/pat/karma-notes",
        Some(&moderator.access),
        json!({"note": "Warned", "karma": -1}),
    )
    .await;

    app.get("/v1/audit", Some(&moderator.access))
        .await
        .assert_problem(403, "superuser_only");
    let all = app.get("/v1/audit", Some(&boss.access)).await.body;
    assert_eq!(all["total"], 2);
    assert_eq!(all["items"][0]["action"], "karma.noted");
    assert_eq!(all["items"][1]["actor"]["username"], "mod");
    assert_eq!(all["items"][1]["target_member"]["username"], "pat");
    assert_eq!(all["items"][1]["reason"], "Rude");
    assert_eq!(all["items"][1]["ip"], "127.0.0.1");
    let filtered = app
        .get(
            "/v1/audit?actor=mod&target=pat&action=sanction.applied",
            Some(&boss.access),
        )
        .await
        .body;
    assert_eq!(filtered["total"], 1);
    assert_eq!(
        app.get("/v1/audit?actor=nobody", Some(&boss.access)).await.body["total"],
        0
    );
}

#[tokio::test]
async fn what_unregistered_staff_wrote_stays_under_the_placeholder() {
    let app = TestApp::spawn().await;
    let (moderator, _) = staff_and_member(&app).await;
    app.post(
        "/v1/members/pat/sanctions",
        Some(&moderator.access),
        json!({"kind": "read_only", "reason": "Rude", "duration": "1h"}),
    )
    .await;
    app.post(
        "/v1/members/pat/karma-notes",
        Some(&moderator.access),
        json!({"note": "Warned", "karma": -1}),
    )
    .await;
    // What unregistering will do, told before: their staff work is kept, the
    // audit entries of it anonymised.
    let summary = app
        .get("/v1/members/me/unregistration", Some(&moderator.access))
        .await
        .body;
    let count = |part: &str, what: &str| {
        summary[part]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["what"] == what)
            .map(|c| c["count"].as_i64().unwrap())
    };
    assert_eq!(count("kept", "sanctions_given"), Some(1), "{summary}");
    assert_eq!(count("kept", "karma_notes_written"), Some(1), "{summary}");
    assert_eq!(count("anonymised", "audit_entries"), Some(2), "{summary}");
    assert_eq!(count("deleted", "sanctions"), Some(0), "{summary}");
    // And pat's: the sanction and note about them would go with their account.
    let pat = app.login("pat", PASSWORD).await;
    let theirs = app.get("/v1/members/me/unregistration", Some(&pat.access)).await.body;
    let about = |what: &str| {
        theirs["deleted"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["what"] == what)
            .unwrap()["count"]
            .clone()
    };
    assert_eq!(
        (about("sanctions"), about("karma_notes")),
        (json!(1), json!(1)),
        "{theirs}"
    );
    let gone = app
        .request(
            Method::DELETE,
            "/v1/members/me",
            Some(&moderator.access),
            Some(json!({"password": PASSWORD})),
        )
        .await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT);

    let boss = app.member("boss").await;
    app.make_superuser(boss.id);
    let history = app.get("/v1/members/pat/sanctions", Some(&boss.access)).await.body;
    assert_eq!(history["items"][0]["moderator"]["username"], "[deleted]");
    assert_eq!(history["items"][0]["state"], "active");
    let notes = app.get("/v1/members/pat/karma-notes", Some(&boss.access)).await.body;
    assert_eq!(notes["items"][0]["author"]["username"], "[deleted]");
    let audit = app.get("/v1/audit", Some(&boss.access)).await.body;
    assert!(
        audit["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["actor"]["username"] == "[deleted]" && e["ip"].is_null())
    );

    // And a member's own export carries the sanctions about them.
    let pat = app.login("pat", PASSWORD).await;
    let export = app.get("/v1/members/me/export", Some(&pat.access)).await.body;
    assert_eq!(export["sanctions"][0]["reason"], "Rude");
    assert!(export["sanctions"][0].get("private_note").is_none());
}

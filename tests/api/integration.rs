//! For other services: API keys, single and batch status.

use diesel::prelude::*;
use memberd::db::ChangeSink;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{Session, TestApp};

/// A new service key with these scopes, issued by the superuser `boss`.
pub async fn key(app: &TestApp, boss: &Session, scopes: serde_json::Value) -> String {
    let created = app
        .post(
            "/v1/service-clients",
            Some(&boss.access),
            json!({"name": "forum", "scopes": scopes}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    created.body["key"].as_str().unwrap().to_string()
}

/// A one-hour ban on troll, by boss.
async fn ban_troll(app: &TestApp, boss: &Session) -> crate::helpers::Response {
    let banned = crate::sanctions::sanction(
        app,
        boss,
        "troll",
        json!({"kind": "ban", "reason": "Spam", "duration": "1h"}),
    )
    .await;
    assert_eq!(banned.status, StatusCode::CREATED, "{}", banned.body);
    banned
}

/// Revokes the first key in the list (revoked keys stay listed).
async fn revoke_first_key(app: &TestApp, boss: &Session) -> crate::helpers::Response {
    let id = app.get("/v1/service-clients", Some(&boss.access)).await.body["items"][0]["id"].clone();
    app.request(
        Method::DELETE,
        &format!("/v1/service-clients/{id}"),
        Some(&boss.access),
        None,
    )
    .await
}

#[tokio::test]
async fn superusers_issue_keys_shown_once_and_stored_hashed() {
    let app = TestApp::spawn().await;
    let boss = app.member("boss").await;
    app.make_superuser(boss.id);
    let staff = app.member("mod").await;
    app.make_staff(staff.id);

    app.post(
        "/v1/service-clients",
        Some(&staff.access),
        json!({"name": "x", "scopes": ["status:read"]}),
    )
    .await
    .assert_problem(403, "superuser_only");
    let bad = app
        .post(
            "/v1/service-clients",
            Some(&boss.access),
            json!({"name": "", "scopes": []}),
        )
        .await;
    assert_eq!(
        bad.field_codes(),
        [
            ("name".to_string(), "invalid_length".to_string()),
            ("scopes".to_string(), "required".to_string())
        ]
    );
    let unknown = app
        .post(
            "/v1/service-clients",
            Some(&boss.access),
            json!({"name": "x", "scopes": ["status:read", "root"]}),
        )
        .await;
    assert_eq!(
        unknown.field_codes(),
        [("scopes.1".to_string(), "invalid_choice".to_string())]
    );

    let key = key(&app, &boss, json!(["status:read", "events:read"])).await;
    assert!(key.starts_with("mbd_") && key.len() == 47, "{key}");
    let listed = &app.get("/v1/service-clients", Some(&boss.access)).await.body["items"];
    assert_eq!(listed[0]["scopes"], json!(["status:read", "events:read"]));
    assert!(key.starts_with(listed[0]["key_prefix"].as_str().unwrap()));
    assert!(listed[0].get("key").is_none());
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM service_clients WHERE key_prefix = '{key}' OR encode(key_hash, 'escape') LIKE '%{}%'",
            &key[4..]
        )),
        0
    );
    app.get("/v1/service-clients", Some(&staff.access))
        .await
        .assert_problem(403, "superuser_only");
    assert_eq!(
        app.count("SELECT count(*) FROM audit_log WHERE action = 'service_client.created'"),
        1
    );
}

#[tokio::test]
async fn a_key_reads_status_by_scope_with_cache_headers_and_stops_when_revoked() {
    let app = TestApp::spawn().await;
    let boss = app.member("boss").await;
    app.make_superuser(boss.id);
    app.member("alice").await;
    app.post(
        "/v1/members/alice/sanctions",
        Some(&boss.access),
        json!({"kind": "read_only", "reason": "Calm down", "duration": "1h"}),
    )
    .await;
    let status_key = key(&app, &boss, json!(["status:read"])).await;
    let events_key = key(&app, &boss, json!(["events:read"])).await;

    let status = app.get("/v1/members/alice/status", Some(&status_key)).await;
    assert_eq!(status.status, StatusCode::OK);
    assert_eq!(
        (status.body["can_read"].clone(), status.body["can_write"].clone()),
        (json!(true), json!(false))
    );
    assert_eq!(status.body["active_sanctions"][0]["reason"], "Calm down");
    assert!(status.body["active_sanctions"][0].get("private_note").is_none());
    assert_eq!(status.headers["cache-control"], "private, max-age=5");
    let etag = status.headers["etag"].to_str().unwrap().to_string();
    let again = app
        .client
        .get(format!("{}/v1/members/alice/status", app.address))
        .bearer_auth(&status_key)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    assert!(app.count("SELECT count(*) FROM service_clients WHERE last_used_at IS NOT NULL") >= 1);

    app.get("/v1/members/alice/status", Some(&events_key))
        .await
        .assert_problem(403, "insufficient_scope");
    app.get("/v1/members/alice/status", Some("mbd_notarealkey"))
        .await
        .assert_problem(401, "invalid_api_key");
    // Keys are for services, not members' endpoints.
    app.get("/v1/members/me", Some(&status_key))
        .await
        .assert_problem(401, "invalid_token");

    assert_eq!(revoke_first_key(&app, &boss).await.status, StatusCode::NO_CONTENT);
    app.get("/v1/members/alice/status", Some(&status_key))
        .await
        .assert_problem(401, "invalid_api_key");
    revoke_first_key(&app, &boss)
        .await
        .assert_problem(404, "service_client_not_found");
}

#[tokio::test]
async fn batch_status_answers_in_order_with_unknowns_reported() {
    let app = TestApp::spawn_with(&[("MEMBERD_STATUS_MAX_AGE", "30s")]).await;
    let boss = app.member("boss").await;
    app.make_superuser(boss.id);
    let alice = app.member("alice").await;
    let bob = app.member("bob").await;
    app.post(
        "/v1/members/bob/sanctions",
        Some(&boss.access),
        json!({"kind": "ban", "reason": "Spam", "duration": "1d", "resource": "forum:1"}),
    )
    .await;
    let status_key = key(&app, &boss, json!(["status:read"])).await;

    let body = json!({"members": [bob.id, "alice", "nobody", bob.id.to_string(), 999_999], "resource": "forum:1"});
    let batch = app.post("/v1/status/batch", Some(&status_key), body).await;
    assert_eq!(batch.status, StatusCode::OK, "{}", batch.body);
    assert_eq!(batch.headers["cache-control"], "private, max-age=30");
    let items = batch.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 5);
    assert_eq!(
        (items[0]["member"].clone(), items[0]["status"]["can_read"].clone()),
        (json!(bob.id), json!(false))
    );
    assert_eq!(
        (items[1]["member"].clone(), items[1]["status"]["can_read"].clone()),
        (json!("alice"), json!(true))
    );
    assert_eq!(
        (items[2]["member"].clone(), items[2]["error"].clone()),
        (json!("nobody"), json!("not_found"))
    );
    assert_eq!(items[3]["status"]["can_read"], false);
    assert_eq!(items[4]["error"], "not_found");

    let too_many: Vec<i64> = (0..1_001).collect();
    app.post("/v1/status/batch", Some(&status_key), json!({"members": too_many}))
        .await
        .assert_problem(422, "validation_failed");
    app.post("/v1/status/batch", Some(&status_key), json!({"members": [{"id": 1}]}))
        .await
        .assert_problem(422, "validation_failed");
    let thousand: Vec<i64> = (0..1_000).collect();
    assert_eq!(
        app.post("/v1/status/batch", Some(&status_key), json!({"members": thousand}))
            .await
            .status,
        StatusCode::OK
    );

    app.post("/v1/status/batch", Some(&alice.access), json!({"members": [1]}))
        .await
        .assert_problem(403, "staff_only");
    assert_eq!(
        app.post("/v1/status/batch", Some(&boss.access), json!({"members": ["alice"]}))
            .await
            .status,
        StatusCode::OK
    );
    app.post("/v1/status/batch", None, json!({"members": [1]}))
        .await
        .assert_problem(401, "missing_credentials");
}

fn event_types(page: &serde_json::Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn the_event_feed_follows_a_cursor_with_filters_and_scopes() {
    let app = TestApp::spawn().await;
    let boss = app.member("boss").await;
    app.make_superuser(boss.id);
    let events_key = key(&app, &boss, json!(["events:read"])).await;
    let status_key = key(&app, &boss, json!(["status:read"])).await;
    app.member("carol").await;

    let all = app.get("/v1/events", Some(&events_key)).await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.body);
    assert_eq!(
        event_types(&all.body),
        [
            "member.registered",
            "member.activated",
            "member.registered",
            "member.activated"
        ]
    );
    assert_eq!(all.body["items"][2]["data"]["member"]["username"], "carol");
    let first_two = app.get("/v1/events?limit=2", Some(&events_key)).await.body;
    let rest = app
        .get(
            &format!("/v1/events?after={}", first_two["next_cursor"].as_str().unwrap()),
            Some(&events_key),
        )
        .await
        .body;
    assert_eq!(event_types(&rest), ["member.registered", "member.activated"]);
    let end = app
        .get(
            &format!("/v1/events?after={}", rest["next_cursor"].as_str().unwrap()),
            Some(&events_key),
        )
        .await
        .body;
    assert_eq!(
        (end["items"].clone(), end["next_cursor"].clone()),
        (json!([]), rest["next_cursor"].clone())
    );
    let activations = app
        .get("/v1/events?types=member.activated", Some(&events_key))
        .await
        .body;
    assert_eq!(event_types(&activations), ["member.activated", "member.activated"]);

    for bad in [
        "after=x",
        "after=-1",
        "types=member.exploded",
        "wait=61s",
        "wait=soon",
        "limit=0",
        "limit=1001",
    ] {
        app.get(&format!("/v1/events?{bad}"), Some(&events_key))
            .await
            .assert_problem(422, "validation_failed");
    }
    app.get("/v1/events", Some(&status_key))
        .await
        .assert_problem(403, "insufficient_scope");
    let carol = app.login("carol", crate::helpers::PASSWORD).await;
    app.get("/v1/events", Some(&carol.access))
        .await
        .assert_problem(403, "staff_only");
    assert_eq!(app.get("/v1/events", Some(&boss.access)).await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_waiting_reader_is_woken_by_a_new_event() {
    let app = TestApp::spawn().await;
    let boss = app.member("boss").await;
    app.make_superuser(boss.id);
    let events_key = key(&app, &boss, json!(["events:read"])).await;
    let cursor = app.get("/v1/events", Some(&events_key)).await.body["next_cursor"]
        .as_str()
        .unwrap()
        .to_string();

    // Nothing new: the wait runs out and the answer is empty.
    let quiet = app
        .get(&format!("/v1/events?after={cursor}&wait=1s"), Some(&events_key))
        .await;
    assert_eq!(quiet.body["items"], json!([]));

    let started = std::time::Instant::now();
    let waiting = format!("/v1/events?after={cursor}&wait=30s");
    let (woken, _) = tokio::join!(app.get(&waiting, Some(&events_key)), async {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        app.register("dora", "dora@example.com").await
    });
    assert_eq!(event_types(&woken.body), ["member.registered"]);
    // Woken by the event, far before the 30 s wait was over.
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn following_the_cursor_during_concurrent_writes_misses_nothing() {
    let app = TestApp::spawn().await;
    let boss = app.member("boss").await;
    app.make_superuser(boss.id);
    let events_key = key(&app, &boss, json!(["events:read"])).await;
    let start = app.get("/v1/events", Some(&events_key)).await.body["next_cursor"]
        .as_str()
        .unwrap()
        .to_string();

    let writers = async {
        let registrations = (0..8).map(|i| {
            let app = &app;
            async move {
                app.register(&format!("writer{i}"), &format!("writer{i}@example.com"))
                    .await
            }
        });
        futures_util::future::join_all(registrations).await;
    };
    let reader = async {
        let mut cursor = start.clone();
        let mut seen: Vec<i64> = Vec::new();
        while seen.len() < 8 {
            let page = app
                .get(
                    &format!("/v1/events?after={cursor}&wait=5s&types=member.registered"),
                    Some(&events_key),
                )
                .await
                .body;
            seen.extend(
                page["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| e["id"].as_i64().unwrap()),
            );
            cursor = page["next_cursor"].as_str().unwrap().to_string();
        }
        seen
    };
    let (_, seen) = tokio::join!(writers, reader);
    let all: Vec<i64> = app
        .get(
            &format!("/v1/events?after={start}&types=member.registered"),
            Some(&events_key),
        )
        .await
        .body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_i64().unwrap())
        .collect();
    assert_eq!(seen, all, "the reader saw every event once, in order");
}

#[tokio::test]
async fn members_read_keys_see_profiles_with_activity_and_roles() {
    let app = TestApp::spawn().await;
    let boss = app.member("boss").await;
    app.make_superuser(boss.id);
    app.member("erin").await;
    let members_key = key(&app, &boss, json!(["members:read"])).await;
    let status_key = key(&app, &boss, json!(["status:read"])).await;

    let profile = app.get("/v1/members/erin", Some(&members_key)).await;
    assert_eq!(profile.status, StatusCode::OK);
    assert_eq!(
        (profile.body["is_active"].clone(), profile.body["roles"].clone()),
        (json!(true), json!(["member"]))
    );
    assert!(profile.body.get("email").is_none());
    let directory = app.get("/v1/members", Some(&members_key)).await.body;
    assert_eq!(directory["items"][0]["roles"], json!(["member", "staff", "superuser"]));
    app.get("/v1/members/erin", Some(&status_key))
        .await
        .assert_problem(403, "insufficient_scope");
    app.get("/v1/members", Some(&status_key))
        .await
        .assert_problem(403, "insufficient_scope");
    assert!(app.get("/v1/members/erin", None).await.body.get("is_active").is_none());
}

/// Asks until `done` holds, for at most a second: the promise made to other replicas.
pub(crate) async fn within_a_second<F, Fut>(
    mut ask: F,
    done: impl Fn(&crate::helpers::Response) -> bool,
) -> crate::helpers::Response
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = reqwest::Response>,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
    loop {
        let answer = TestApp::read(ask().await).await;
        if done(&answer) || std::time::Instant::now() > deadline {
            return answer;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn logouts_bans_and_revocations_through_one_replica_are_refused_by_another_within_a_second() {
    let app = TestApp::spawn().await;
    let (other, replica_state) = app.replica(&[]).await;
    let boss = app.member("boss").await;
    app.make_superuser(boss.id);
    let troll = app.member("troll").await;
    let leaver = app.member("leaver").await;
    let key = key(&app, &boss, json!(["status:read"])).await;
    let me_on_other = |access: &str| {
        app.client
            .get(format!("{other}/v1/members/me"))
            .bearer_auth(access)
            .send()
    };
    let status_on_other = || {
        app.client
            .get(format!("{other}/v1/members/troll/status"))
            .bearer_auth(&key)
            .send()
    };
    // Twice each, so that the other replica answers from memory.
    for _ in 0..2 {
        assert_eq!(me_on_other(&troll.access).await.unwrap().status(), StatusCode::OK);
        assert_eq!(me_on_other(&leaver.access).await.unwrap().status(), StatusCode::OK);
        let status = TestApp::read(status_on_other().await.unwrap()).await;
        assert_eq!(status.body["can_read"], true);
    }

    let logout = app
        .request(reqwest::Method::POST, "/v1/auth/logout", Some(&leaver.access), None)
        .await;
    assert_eq!(logout.status, StatusCode::NO_CONTENT);
    within_a_second(
        || async { me_on_other(&leaver.access).await.unwrap() },
        |r| r.status.as_u16() == 401,
    )
    .await
    .assert_problem(401, "session_revoked");

    ban_troll(&app, &boss).await;
    within_a_second(
        || async { me_on_other(&troll.access).await.unwrap() },
        |r| r.status.as_u16() == 403,
    )
    .await
    .assert_problem(403, "member_banned");
    let status = within_a_second(
        || async { status_on_other().await.unwrap() },
        |r| r.body["can_read"] == false,
    )
    .await;
    assert_eq!(status.body["can_read"], false, "{}", status.body);
    let login = app
        .client
        .post(format!("{other}/v1/auth/login"))
        .json(&json!({"login": "troll", "password": crate::helpers::PASSWORD}))
        .send()
        .await
        .unwrap();
    TestApp::read(login).await.assert_problem(403, "member_banned");

    assert_eq!(revoke_first_key(&app, &boss).await.status, StatusCode::NO_CONTENT);
    within_a_second(
        || async { status_on_other().await.unwrap() },
        |r| r.status.as_u16() == 401,
    )
    .await
    .assert_problem(401, "invalid_api_key");
    replica_state.notifications.stop();
}

/// The listener reads what committed since its last look, whatever is still
/// running: a transaction left open elsewhere holds no change back, and its
/// own change is read once it commits, however many looks it outlived.
#[tokio::test]
async fn a_transaction_left_open_holds_no_replica_back_and_is_read_when_it_commits() {
    let app = TestApp::spawn().await;
    let (other, replica_state) = app.replica(&[]).await;
    let boss = app.member("boss").await;
    app.make_superuser(boss.id);
    let troll = app.member("troll").await;
    let leaver = app.member("leaver").await;
    let me_on_other = |access: &str| {
        app.client
            .get(format!("{other}/v1/members/me"))
            .bearer_auth(access)
            .send()
    };
    for _ in 0..2 {
        assert_eq!(me_on_other(&troll.access).await.unwrap().status(), StatusCode::OK);
        assert_eq!(me_on_other(&leaver.access).await.unwrap().status(), StatusCode::OK);
    }

    // Another writer revokes the leaver's session and stays open.
    let claims = leaver.access.split('.').nth(1).unwrap();
    let claims: serde_json::Value = {
        use base64::Engine;
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(claims).unwrap()).unwrap()
    };
    let mut slow = app.db();
    diesel::sql_query("BEGIN").execute(&mut slow).unwrap();
    diesel::sql_query(format!(
        "UPDATE sessions SET revoked_at = now(), revoked_reason = 'logout' WHERE id = '{}'",
        claims["sid"].as_str().unwrap()
    ))
    .execute(&mut slow)
    .unwrap();

    ban_troll(&app, &boss).await;
    within_a_second(
        || async { me_on_other(&troll.access).await.unwrap() },
        |r| r.status.as_u16() == 403,
    )
    .await
    .assert_problem(403, "member_banned");
    // Many looks pass while the revocation is uncommitted…
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(me_on_other(&leaver.access).await.unwrap().status(), StatusCode::OK);

    // …and once it commits, the next look reads it.
    diesel::sql_query("COMMIT").execute(&mut slow).unwrap();
    within_a_second(
        || async { me_on_other(&leaver.access).await.unwrap() },
        |r| r.status.as_u16() == 401,
    )
    .await
    .assert_problem(401, "session_revoked");
    replica_state.notifications.stop();
}

#[tokio::test]
async fn the_cache_answers_from_memory_and_starts_again_when_its_listener_drops() {
    let app = TestApp::spawn().await;
    let boss = app.member("boss").await;
    app.make_superuser(boss.id);
    let troll = app.member("troll").await;
    let key = key(&app, &boss, json!(["status:read"])).await;
    let status = || app.get("/v1/members/troll/status", Some(&key));
    // The notifications of the writes above arrive within milliseconds and
    // drop troll from memory again; let them pass before filling it.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(status().await.body["can_read"], true);

    // A ban written with triggers off: no notification, as if it were lost.
    let mut conn = app.db();
    diesel::sql_query("SET session_replication_role = replica")
        .execute(&mut conn)
        .unwrap();
    diesel::sql_query(format!(
        "INSERT INTO sanctions (member_id, kind, reason, moderator_id, created_at, starts_at) \
         VALUES ({0}, 'ban', 'Unannounced', {1}, now(), now())",
        troll.id, boss.id
    ))
    .execute(&mut conn)
    .unwrap();
    // Memory still says what it was told: the answer comes from there.
    assert_eq!(status().await.body["can_read"], true);

    // The listener's connection drops: memory is no longer trusted, and is
    // rebuilt from the database.
    diesel::sql_query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND application_name = 'memberd listener'",
    )
    .execute(&mut conn)
    .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
    let mut answer = status().await;
    while answer.body["can_read"] == true && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        answer = status().await;
    }
    assert_eq!(answer.body["can_read"], false, "{}", answer.body);
    assert_eq!(answer.body["active_sanctions"][0]["reason"], "Unannounced");
}

#[tokio::test]
async fn the_replica_that_makes_a_change_never_answers_from_the_old_copy() {
    let app = TestApp::spawn().await;
    let boss = app.member("boss").await;
    app.make_superuser(boss.id);
    app.member("troll").await;
    let key = key(&app, &boss, json!(["status:read"])).await;
    // No notifications from here on: only the writer's own path can drop copies.
    app.state.notifications.stop();
    // As if the listener heard its heartbeat: memory is trusted for a few seconds.
    app.state.cache.heard_heartbeat();
    let status = || app.get("/v1/members/troll/status", Some(&key));
    assert_eq!(status().await.body["can_read"], true);
    assert_eq!(status().await.body["can_read"], true);

    let banned = ban_troll(&app, &boss).await;
    assert_eq!(status().await.body["can_read"], false);

    let id = banned.body["id"].as_i64().unwrap();
    app.post(
        &format!("/v1/sanctions/{id}/forgiveness"),
        Some(&boss.access),
        json!({"reason": "Sorry"}),
    )
    .await;
    assert_eq!(status().await.body["can_read"], true);
}

#[tokio::test]
async fn login_and_visit_times_reach_memory_without_an_announcement() {
    let app = TestApp::spawn().await;
    let ada = app.member("ada").await;
    // No notifications from here on: what memory shows comes from this
    // replica's own writes, or from its copies' age.
    app.state.notifications.stop();
    // As if the listener heard its heartbeat: memory is trusted for a few seconds.
    app.state.cache.heard_heartbeat();
    let app = &app;
    let me = |access: String| async move { app.get("/v1/members/me", Some(&access)).await.body };
    let first = me(ada.access.clone()).await;
    assert_eq!(me(ada.access.clone()).await, first);

    // A login through this replica shows at once.
    app.clock.advance(chrono::Duration::seconds(1));
    let again = app.login("ada", crate::helpers::PASSWORD).await;
    let after_login = me(again.access.clone()).await;
    assert_ne!(after_login["last_login_at"], first["last_login_at"]);
    assert_eq!(after_login["last_login_at"], after_login["last_visit_at"]);

    // So does a visit, recorded once it is five minutes old.
    app.clock.advance(chrono::Duration::minutes(6));
    let visited = me(again.access.clone()).await;
    assert_ne!(visited["last_visit_at"], after_login["last_visit_at"]);
    assert_eq!(visited["last_login_at"], after_login["last_login_at"]);

    // A login through another replica announces nothing: this one's copy
    // shows it once the copy is a minute old.
    diesel::sql_query(format!(
        "UPDATE members SET last_login_at = '2030-01-02T03:04:05Z' WHERE id = {}",
        ada.id
    ))
    .execute(&mut app.db())
    .unwrap();
    assert_eq!(
        me(again.access.clone()).await["last_login_at"],
        visited["last_login_at"]
    );
    app.clock.advance(memberd::cache::MAX_AGE);
    assert_eq!(me(again.access.clone()).await["last_login_at"], "2030-01-02T03:04:05Z");
}

#[derive(diesel::QueryableByName)]
struct Changed {
    #[diesel(sql_type = diesel::sql_types::Text)]
    changed: String,
}

#[tokio::test]
async fn every_member_column_but_login_and_visit_times_announces_a_change() {
    let app = TestApp::spawn().await;
    let ada = app.member("ada").await;
    let mut conn = app.db();
    let columns: Vec<String> = diesel::dsl::sql::<diesel::sql_types::Text>(
        "SELECT column_name::text FROM information_schema.columns WHERE table_name = 'members'",
    )
    .load(&mut conn)
    .unwrap();
    assert!(columns.len() > 10, "{columns:?}");
    for column in columns {
        diesel::sql_query(format!(
            "UPDATE members SET \"{column}\" = \"{column}\" WHERE id = {}",
            ada.id
        ))
        .execute(&mut conn)
        .unwrap();
        let taken: Changed = diesel::sql_query("SELECT memberd_take_changes() AS changed")
            .get_result(&mut conn)
            .unwrap();
        let announced = taken.changed == format!("m{} ", ada.id);
        let unannounced = ["last_login_at", "last_visit_at", "last_ip"].contains(&column.as_str());
        assert_eq!(announced, !unannounced, "{column}: {:?}", taken.changed);
    }
}

/// Writers take no lock: an event whose transaction commits after a later
/// one's must still come first, and the cursor must not pass it meanwhile.
#[tokio::test]
async fn an_event_that_commits_late_is_not_passed_by_the_cursor() {
    use diesel::RunQueryDsl;
    let app = TestApp::spawn().await;
    let boss = app.member("boss").await;
    app.make_superuser(boss.id);
    let events_key = key(&app, &boss, json!(["events:read"])).await;
    let start = app.get("/v1/events", Some(&events_key)).await.body["next_cursor"]
        .as_str()
        .unwrap()
        .to_string();
    let feed = |after: String| {
        let app = &app;
        let events_key = &events_key;
        async move {
            app.get(&format!("/v1/events?after={after}"), Some(events_key))
                .await
                .body
        }
    };

    // A transaction writes an event and stays open while a later one commits.
    let mut slow = app.db();
    diesel::sql_query("BEGIN").execute(&mut slow).unwrap();
    diesel::sql_query("INSERT INTO events (event_type, occurred_at, data) VALUES ('karma.noted', now(), '{}')")
        .execute(&mut slow)
        .unwrap();
    assert_eq!(
        app.register("late", "late@example.com").await.status,
        StatusCode::ACCEPTED
    );
    let held = feed(start.clone()).await;
    assert_eq!(held["items"], json!([]), "nothing passes the open transaction: {held}");
    assert_eq!(held["next_cursor"], start.as_str());

    diesel::sql_query("COMMIT").execute(&mut slow).unwrap();
    let page = feed(start).await;
    let types: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["karma.noted", "member.registered"], "{page}");
    let rest = feed(page["next_cursor"].as_str().unwrap().to_string()).await;
    assert_eq!(rest["items"], json!([]));
}

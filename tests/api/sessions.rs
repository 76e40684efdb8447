//! Login, refresh, logout, access tokens and the JWKS.

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, session_of};

#[tokio::test]
async fn login_works_by_username_or_email_in_any_case() {
    let app = TestApp::spawn().await;
    let heidi = app.member("Heidi").await;
    for login in ["heidi", "HEIDI", "heidi@example.com", " Heidi@Example.COM "] {
        let session = app.login(login, PASSWORD).await;
        assert_eq!(session.id, heidi.id, "{login}");
    }
    let response = app
        .post("/v1/auth/login", None, json!({"login": "heidi", "password": PASSWORD}))
        .await;
    assert_eq!(response.body["token_type"], "Bearer");
    assert_eq!(response.body["expires_in"], 900);
    assert_eq!(response.body["refresh_expires_in"], 86_400);
    let remembered = app
        .post(
            "/v1/auth/login",
            None,
            json!({"login": "heidi", "password": PASSWORD, "remember_me": true}),
        )
        .await;
    assert_eq!(remembered.body["refresh_expires_in"], 30 * 86_400);
}

#[tokio::test]
async fn unknown_member_and_wrong_password_look_the_same() {
    let app = TestApp::spawn().await;
    app.member("ivan").await;
    let wrong = app
        .post(
            "/v1/auth/login",
            None,
            json!({"login": "ivan", "password": "not the password"}),
        )
        .await;
    let unknown = app
        .post(
            "/v1/auth/login",
            None,
            json!({"login": "nobody", "password": "not the password"}),
        )
        .await;
    wrong.assert_problem(401, "invalid_credentials");
    unknown.assert_problem(401, "invalid_credentials");
    assert_eq!(wrong.body, unknown.body);
}

#[tokio::test]
async fn an_inactive_account_is_told_so_only_after_a_correct_password() {
    let app = TestApp::spawn().await;
    app.register("judy", "judy@example.com").await;
    let wrong = app
        .post(
            "/v1/auth/login",
            None,
            json!({"login": "judy", "password": "not the password"}),
        )
        .await;
    wrong.assert_problem(401, "invalid_credentials");
    let right = app
        .post("/v1/auth/login", None, json!({"login": "judy", "password": PASSWORD}))
        .await;
    right.assert_problem(403, "account_inactive");
    assert_eq!(app.count("SELECT count(*) FROM sessions"), 0);
}

#[tokio::test]
async fn repeated_failures_bring_a_growing_delay_for_anyone_and_success_resets() {
    let app = TestApp::spawn().await;
    app.member("kim").await;
    // Four failures pass; the fifth arms a 1 s wait for this login and IP.
    for _ in 0..5 {
        let r = app
            .post(
                "/v1/auth/login",
                None,
                json!({"login": "kim", "password": "wrong password"}),
            )
            .await;
        r.assert_problem(401, "invalid_credentials");
    }
    let throttled = app
        .post("/v1/auth/login", None, json!({"login": "kim", "password": PASSWORD}))
        .await;
    throttled.assert_problem(429, "too_many_attempts");
    assert_eq!(throttled.headers["retry-after"], "1");

    // Refused attempts are not counted: after the wait, one more failure arms 2 s.
    app.clock.advance(chrono::Duration::seconds(1));
    app.post(
        "/v1/auth/login",
        None,
        json!({"login": "kim", "password": "wrong password"}),
    )
    .await
    .assert_problem(401, "invalid_credentials");
    let throttled = app
        .post("/v1/auth/login", None, json!({"login": "kim", "password": PASSWORD}))
        .await;
    assert_eq!(throttled.headers["retry-after"], "2");

    app.clock.advance(chrono::Duration::seconds(2));
    app.login("kim", PASSWORD).await;
    // The success forgot kim's counters and took its own attempt back from the
    // IP's, which keeps the six failures.
    assert_eq!(
        app.count("SELECT coalesce(sum(failures), 0)::bigint FROM login_throttles WHERE identifier = 'kim'"),
        0
    );
    assert_eq!(app.count("SELECT failures FROM login_throttles WHERE scope = 'ip'"), 6);
    // The success forgot the failures: a wrong password is a plain 401 again.
    for _ in 0..4 {
        let r = app
            .post(
                "/v1/auth/login",
                None,
                json!({"login": "kim", "password": "wrong password"}),
            )
            .await;
        r.assert_problem(401, "invalid_credentials");
    }

    // Unknown logins are throttled the same way, revealing nothing.
    for _ in 0..5 {
        app.post(
            "/v1/auth/login",
            None,
            json!({"login": "ghost", "password": "wrong password"}),
        )
        .await;
    }
    app.post("/v1/auth/login", None, json!({"login": "ghost", "password": "x"}))
        .await
        .assert_problem(429, "too_many_attempts");

    // Quiet for the window: the slate is clean.
    app.clock.advance(chrono::Duration::minutes(16));
    app.post("/v1/auth/login", None, json!({"login": "ghost", "password": "x"}))
        .await
        .assert_problem(401, "invalid_credentials");
}

#[tokio::test]
async fn failures_are_counted_per_client_ip_from_trusted_proxies_only() {
    let app = TestApp::spawn_with(&[("MEMBERD_TRUSTED_PROXIES", "127.0.0.1/32")]).await;
    let attempt = |ip: &'static str| {
        let app = &app;
        async move {
            let response = app
                .client
                .post(format!("{}/v1/auth/login", app.address))
                .header("x-forwarded-for", format!("198.51.100.1, {ip}"))
                .json(&json!({"login": "liam", "password": "wrong password"}))
                .send()
                .await
                .unwrap();
            TestApp::read(response).await
        }
    };
    for _ in 0..5 {
        attempt("203.0.113.1").await.assert_problem(401, "invalid_credentials");
    }
    attempt("203.0.113.1").await.assert_problem(429, "too_many_attempts");
    // Another client behind the same proxy is not held back.
    attempt("203.0.113.2").await.assert_problem(401, "invalid_credentials");
    // Kept under the client's key, which holds no address.
    let key = app.state.ip_keys.key("203.0.113.1".parse().unwrap());
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM login_throttles WHERE scope = 'ip' AND ip = '{key}'"
        )),
        1
    );

    // Without trust, the header is ignored and the socket peer counts.
    let untrusting = TestApp::spawn().await;
    let mallory = untrusting.member("mallory").await;
    let response = untrusting
        .client
        .post(format!("{}/v1/auth/login", untrusting.address))
        .header("x-forwarded-for", "203.0.113.77")
        .json(&json!({"login": "mallory", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        untrusting.count(&format!(
            "SELECT count(*) FROM members WHERE id = {} AND last_ip = '127.0.0.1'",
            mallory.id
        )),
        1
    );
}

#[tokio::test]
async fn refresh_rotates_and_a_reused_token_ends_the_session() {
    let app = TestApp::spawn().await;
    let mia = app.member("mia").await;
    let renewed = app
        .post("/v1/auth/refresh", None, json!({"refresh_token": mia.refresh}))
        .await;
    assert_eq!(renewed.status, StatusCode::OK, "{}", renewed.body);
    let renewed = session_of(&renewed.body);
    assert_ne!(renewed.refresh, mia.refresh);
    assert_eq!(
        app.get("/v1/members/me", Some(&renewed.access)).await.status,
        StatusCode::OK
    );

    // The old token again: someone else may hold it, so the session ends.
    app.post("/v1/auth/refresh", None, json!({"refresh_token": mia.refresh}))
        .await
        .assert_problem(401, "refresh_token_reused");
    app.post("/v1/auth/refresh", None, json!({"refresh_token": renewed.refresh}))
        .await
        .assert_problem(401, "invalid_refresh_token");
    app.get("/v1/members/me", Some(&renewed.access))
        .await
        .assert_problem(401, "session_revoked");
    app.get("/v1/members/me", Some(&mia.access))
        .await
        .assert_problem(401, "session_revoked");

    app.post("/v1/auth/refresh", None, json!({"refresh_token": "made-up"}))
        .await
        .assert_problem(401, "invalid_refresh_token");
    // Refresh tokens are stored hashed.
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM refresh_tokens WHERE encode(token_hash, 'escape') LIKE '%{}%'",
            renewed.refresh
        )),
        0
    );
}

#[tokio::test]
async fn a_refresh_token_expires_with_its_session() {
    let app = TestApp::spawn().await;
    let nina = app.member("nina").await;
    app.clock.advance(chrono::Duration::hours(25));
    app.post("/v1/auth/refresh", None, json!({"refresh_token": nina.refresh}))
        .await
        .assert_problem(401, "invalid_refresh_token");
}

#[tokio::test]
async fn logout_ends_one_session_or_all() {
    let app = TestApp::spawn().await;
    let first = app.member("oscar").await;
    let second = app.login("oscar", PASSWORD).await;
    let third = app.login("oscar", PASSWORD).await;

    app.request(reqwest::Method::POST, "/v1/auth/logout", None, None)
        .await
        .assert_problem(401, "missing_credentials");

    let out = app
        .request(reqwest::Method::POST, "/v1/auth/logout", Some(&first.access), None)
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    app.get("/v1/members/me", Some(&first.access))
        .await
        .assert_problem(401, "session_revoked");
    app.post("/v1/auth/refresh", None, json!({"refresh_token": first.refresh}))
        .await
        .assert_problem(401, "invalid_refresh_token");
    assert_eq!(
        app.get("/v1/members/me", Some(&second.access)).await.status,
        StatusCode::OK
    );

    let bad = app
        .post("/v1/auth/logout", Some(&second.access), json!({"all": "yes"}))
        .await;
    bad.assert_problem(422, "validation_failed");
    assert_eq!(
        app.get("/v1/members/me", Some(&second.access)).await.status,
        StatusCode::OK
    );

    let all = app
        .post("/v1/auth/logout", Some(&second.access), json!({"all": true}))
        .await;
    assert_eq!(all.status, StatusCode::NO_CONTENT);
    app.get("/v1/members/me", Some(&second.access))
        .await
        .assert_problem(401, "session_revoked");
    app.get("/v1/members/me", Some(&third.access))
        .await
        .assert_problem(401, "session_revoked");
}

#[tokio::test]
async fn access_tokens_verify_offline_with_the_jwks_and_expire() {
    let app = TestApp::spawn().await;
    let peggy = app.member("peggy").await;
    let jwks = app.get("/.well-known/jwks.json", None).await;
    assert_eq!(jwks.status, StatusCode::OK);
    let key = &jwks.body["keys"][0];
    assert_eq!(key["kty"], "OKP");
    assert_eq!(key["alg"], "EdDSA");

    let header = jsonwebtoken::decode_header(&peggy.access).unwrap();
    assert_eq!(header.alg, Algorithm::EdDSA);
    assert_eq!(header.kid.as_deref(), key["kid"].as_str());
    let decoding = DecodingKey::from_ed_components(key["x"].as_str().unwrap()).unwrap();
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.set_audience(&["memberd"]);
    validation.set_issuer(&["http://memberd.test"]);
    // As a service would, with jsonwebtoken (its EdDSA backend the one memberd installs).
    memberd::auth::eddsa::install();
    let claims = jsonwebtoken::decode::<Value>(&peggy.access, &decoding, &validation)
        .unwrap()
        .claims;
    assert_eq!(claims["sub"], peggy.id.to_string());
    assert_eq!(claims["name"], "peggy");
    assert_eq!(claims["roles"], json!(["member"]));
    assert!(claims["sid"].is_string());
    assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 900);

    // A tampered token is refused.
    let mut parts: Vec<String> = peggy.access.split('.').map(String::from).collect();
    parts[1] = parts[1].chars().rev().collect();
    app.get("/v1/members/me", Some(&parts.join(".")))
        .await
        .assert_problem(401, "invalid_token");

    app.clock.advance(chrono::Duration::minutes(16));
    app.get("/v1/members/me", Some(&peggy.access))
        .await
        .assert_problem(401, "token_expired");
}

#[tokio::test]
async fn the_signing_key_is_kept_across_restarts() {
    let app = TestApp::spawn().await;
    let before = app.get("/.well-known/jwks.json", None).await.body;
    let config = memberd::config::Config::from_lookup(|name| match name {
        "DATABASE_URL" => Some(app.database_url.clone()),
        "MEMBERD_BIND" => Some("127.0.0.1:0".into()),
        "MEMBERD_PUBLIC_URL" => Some("http://memberd.test".into()),
        _ => None,
    })
    .unwrap();
    let again = memberd::app::Application::build(config, memberd::app::Options::default())
        .await
        .unwrap();
    let address = format!("http://127.0.0.1:{}/.well-known/jwks.json", again.port());
    let state = again.state();
    tokio::spawn(again.run_until_stopped());
    let after: Value = app.client.get(address).send().await.unwrap().json().await.unwrap();
    state.notifications.stop();
    assert_eq!(before, after);
}

/// The throttle's counts are not worth an fsync: the transaction that counts
/// an attempt commits without waiting for the disk, whether or not the
/// counters existed before.
#[tokio::test]
async fn counting_an_attempt_does_not_wait_for_the_disk() {
    use diesel::prelude::*;
    let app = TestApp::spawn().await;
    let mut conn = app.db();
    for _ in 0..2 {
        let setting = conn
            .transaction(|conn| {
                let counted =
                    memberd::auth::store::count_attempt(conn, "kim", "127.0.0.1", chrono::Utc::now()).unwrap();
                assert_eq!(counted.wait_secs, None);
                diesel::select(diesel::dsl::sql::<diesel::sql_types::Text>(
                    "current_setting('synchronous_commit')",
                ))
                .get_result::<String>(conn)
            })
            .unwrap();
        assert_eq!(setting, "off");
    }
    let after: String = diesel::select(diesel::dsl::sql::<diesel::sql_types::Text>(
        "current_setting('synchronous_commit')",
    ))
    .get_result(&mut conn)
    .unwrap();
    assert_eq!(after, "on", "only for that transaction");
}

#[tokio::test]
async fn forgetting_failures_commits_lazily_only_when_asked() {
    use diesel::prelude::*;
    use memberd::auth::store::{Commit, forget_failures};
    let app = TestApp::spawn().await;
    let mut conn = app.db();
    for (commit, expected) in [(Commit::Lazy, "off"), (Commit::Durable, "on")] {
        let setting = conn
            .transaction(|conn| {
                forget_failures(conn, "kim", "127.0.0.1", commit).unwrap();
                diesel::select(diesel::dsl::sql::<diesel::sql_types::Text>(
                    "current_setting('synchronous_commit')",
                ))
                .get_result::<String>(conn)
            })
            .unwrap();
        assert_eq!(setting, expected, "{commit:?}");
    }
}

#[tokio::test]
async fn successes_from_an_address_do_not_keep_its_failures_counted() {
    use diesel::prelude::*;
    use memberd::auth::store::{Commit, count_attempt, forget_failures};
    let app = TestApp::spawn().await;
    let mut conn = app.db();
    let ip = "10.0.0.9";
    let start = chrono::Utc::now();
    let attempt = |conn: &mut diesel::PgConnection, login: &str, minutes: i64, succeeds: bool| {
        conn.transaction(|conn| {
            let counted = count_attempt(conn, login, ip, start + chrono::Duration::minutes(minutes))?;
            assert_eq!(counted.wait_secs, None);
            if succeeds {
                forget_failures(conn, login, ip, Commit::Durable)?;
            }
            Ok::<_, memberd::error::AppError>(())
        })
        .unwrap();
    };
    attempt(&mut conn, "typo", 0, false);
    // Logins keep succeeding from that address...
    for minute in [5, 10, 14] {
        attempt(&mut conn, "kim", minute, true);
    }
    // ... yet the failure lapses 15 minutes after it was made.
    attempt(&mut conn, "other", 16, false);
    let failures = app.count(&format!(
        "SELECT failures::bigint FROM login_throttles WHERE scope = 'ip' AND ip = '{ip}'"
    ));
    assert_eq!(failures, 1, "only the newest failure counts");
}

/// A login's last statement reads what the login changed in cached rows, so
/// that the process hands it to its cache without asking after the commit.
#[tokio::test]
async fn opening_a_session_answers_what_the_login_changed() {
    use diesel::prelude::*;
    use memberd::auth::store::{Commit, NewSession, open_session};
    let app = TestApp::spawn().await;
    let nina = app.member("nina").await;
    // One ban over, one running: the statement reads the running one, for admission.
    for (reason, ends) in [
        ("Over", "now() - interval '1 day'"),
        ("Running", "now() + interval '1 day'"),
    ] {
        app.execute(&format!(
            "INSERT INTO sanctions (member_id, kind, reason, moderator_id, created_at, starts_at, ends_at) \
             VALUES ({0}, 'ban', '{reason}', {0}, now() - interval '2 days', now() - interval '2 days', {ends})",
            nina.id
        ));
    }
    let mut conn = app.db();
    let now = chrono::Utc::now();
    let opened = conn
        .transaction(|conn| {
            // A change of the member, as an activation makes one.
            diesel::sql_query(format!("UPDATE members SET is_active = TRUE WHERE id = {}", nina.id)).execute(conn)?;
            let session = NewSession {
                id: uuid::Uuid::new_v4(),
                member_id: nina.id,
                remember_me: false,
                created_at: now,
                expires_at: now + chrono::Duration::days(1),
                ip: Some("10.0.0.7"),
                user_agent: None,
                amr: &["pwd".to_string()],
            };
            open_session(conn, &session, &[7; 32], Some(("nina", "ip:0")), Commit::Lazy)
        })
        .unwrap();
    assert_eq!(
        opened.changed.split_whitespace().collect::<Vec<_>>(),
        [format!("m{}", nina.id)]
    );
    let open: Vec<_> = opened.open_sanctions.iter().map(|s| s.reason.as_str()).collect();
    assert_eq!(open, ["Running"]);
    // Taken: nothing is left for the next unit of work on this connection.
    let left: String = diesel::select(diesel::dsl::sql::<diesel::sql_types::Text>(
        "coalesce(current_setting('memberd.changed', true), '')",
    ))
    .get_result(&mut conn)
    .unwrap();
    assert_eq!(left, "");
}

/// Attempts and successes for one login from one IP, in parallel, while its
/// counters keep appearing and disappearing: each must lock the counters in
/// one order, or two of them deadlock (PostgreSQL then fails one).
#[tokio::test]
async fn parallel_attempts_on_one_login_never_deadlock() {
    use diesel::Connection;
    use memberd::auth::service::count_login_attempt;
    use memberd::auth::store::{Commit, forget_failures};
    use memberd::error::{AppError, Kind};
    let app = TestApp::spawn().await;
    let workers: Vec<_> = (0..6)
        .map(|worker| {
            let mut conn = app.db();
            std::thread::spawn(move || {
                let mut refused = 0;
                for round in 0..60 {
                    let let_in = match count_login_attempt(&mut conn, "lee", "10.0.0.1", chrono::Utc::now()) {
                        Ok(_) => true,
                        Err(AppError::Refused {
                            kind: Kind::TooManyRequests { .. },
                            ..
                        }) => false,
                        Err(e) => panic!("worker {worker}, round {round}: {e:?}"),
                    };
                    refused += usize::from(!let_in);
                    // Half of them succeed and forget the failures again.
                    if let_in && (worker + round) % 2 == 0 {
                        conn.transaction(|conn| forget_failures(conn, "lee", "10.0.0.1", Commit::Lazy))
                            .unwrap_or_else(|e| panic!("worker {worker}, round {round}: {e:?}"));
                    }
                }
                refused
            })
        })
        .collect();
    let refused: usize = workers.into_iter().map(|worker| worker.join().unwrap()).sum();
    // Both ways of counting ran: below the thresholds, and past them.
    assert!(refused > 0, "no attempt reached a threshold");
}

#[tokio::test]
async fn an_attempt_below_every_threshold_is_counted_on_its_own_and_one_past_them_by_the_rule() {
    use memberd::auth::service::count_login_attempt;
    use memberd::auth::store::count_attempt_below_thresholds;
    use memberd::error::{AppError, Kind};
    let app = TestApp::spawn().await;
    let mut conn = app.db();
    let (ip, now) = ("10.0.0.2", chrono::Utc::now());
    let counted = || app.count("SELECT failures::bigint FROM login_throttles WHERE scope = 'login_ip'");
    for n in 1..=5 {
        assert!(
            count_attempt_below_thresholds(&mut conn, "kim", ip, now)
                .unwrap()
                .is_some()
        );
        // Committed: another connection sees it.
        assert_eq!(counted(), n);
    }
    // Five failures of one login from one address: the next may have to wait.
    assert!(
        count_attempt_below_thresholds(&mut conn, "kim", ip, now)
            .unwrap()
            .is_none()
    );
    assert_eq!(counted(), 5, "nothing counted");
    match count_login_attempt(&mut conn, "kim", ip, now) {
        Err(AppError::Refused {
            kind: Kind::TooManyRequests { retry_after_secs },
            ..
        }) => assert_eq!(retry_after_secs, 1),
        other => panic!("{:?}", other.map(|c| c.is_some())),
    }
    assert_eq!(counted(), 5, "a refusal is not counted");
    assert!(count_login_attempt(&mut conn, "kim", ip, now + chrono::Duration::seconds(2)).is_ok());
    assert_eq!(counted(), 6);
}

#[tokio::test]
async fn lapsed_counters_are_deleted_and_current_ones_kept() {
    use memberd::auth::store::{count_attempt_below_thresholds, forget_lapsed_counters};
    let app = TestApp::spawn().await;
    let mut conn = app.db();
    let start = chrono::Utc::now();
    let later = start + chrono::Duration::minutes(20);
    count_attempt_below_thresholds(&mut conn, "old", "10.0.0.3", start).unwrap();
    count_attempt_below_thresholds(&mut conn, "new", "10.0.0.4", later).unwrap();
    assert_eq!(app.count("SELECT count(*) FROM login_throttles"), 6);
    assert_eq!(forget_lapsed_counters(&mut conn, later).unwrap(), 3);
    assert_eq!(
        app.count("SELECT count(*) FROM login_throttles WHERE identifier = 'new' OR ip = '10.0.0.4'"),
        3
    );
    assert_eq!(app.count("SELECT count(*) FROM login_throttles"), 3);
}

#[tokio::test]
async fn a_member_sees_their_live_sessions_and_ends_one_everywhere() {
    let app = TestApp::spawn().await;
    let (other, _) = app.replica(&[]).await;
    // Activation opens a session, and so does the login after it.
    let laptop = app.member("uma").await;
    let iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 \
                  (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";
    let phone = app
        .client
        .post(format!("{}/v1/auth/login", app.address))
        .header("user-agent", iphone)
        .json(&json!({"login": "uma", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let phone = session_of(&phone.json::<Value>().await.unwrap());
    let stranger = app.member("vic").await;
    app.get("/v1/members/me/sessions", None)
        .await
        .assert_problem(401, "missing_credentials");

    let listed = app.get("/v1/members/me/sessions", Some(&laptop.access)).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    assert_eq!(listed.body["total"], 3);
    let items = listed.body["items"].as_array().unwrap();
    let current: Vec<&Value> = items.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["ip"], "127.0.0.1");
    assert_eq!(current[0]["amr"], json!(["pwd"]));
    // The phone's session is the latest opened: first in the list, not current.
    let phone_id = items[0]["id"].as_str().unwrap().to_string();
    assert_eq!(items[0]["current"], false);
    assert_eq!(items[0]["user_agent"], iphone);
    assert_eq!(items[0]["device"], "Safari on iPhone");
    assert_eq!(current[0]["device"], Value::Null);
    let paged = app
        .get("/v1/members/me/sessions?per_page=2&page=2", Some(&laptop.access))
        .await;
    assert_eq!(paged.body["items"].as_array().unwrap().len(), 1);

    // The phone's token works on the other replica, and stops everywhere once ended.
    let me_on_other = || {
        app.client
            .get(format!("{other}/v1/members/me"))
            .bearer_auth(&phone.access)
            .send()
    };
    assert_eq!(me_on_other().await.unwrap().status(), StatusCode::OK);
    let path = format!("/v1/members/me/sessions/{phone_id}");
    // Another member's session is as unknown as a made-up one, and stays live.
    app.request(Method::DELETE, &path, Some(&stranger.access), None)
        .await
        .assert_problem(404, "session_not_found");
    assert_eq!(
        app.get("/v1/members/me", Some(&phone.access)).await.status,
        StatusCode::OK
    );
    let ended = app.request(Method::DELETE, &path, Some(&laptop.access), None).await;
    assert_eq!(ended.status, StatusCode::NO_CONTENT, "{}", ended.body);
    app.get("/v1/members/me", Some(&phone.access))
        .await
        .assert_problem(401, "session_revoked");
    app.post("/v1/auth/refresh", None, json!({"refresh_token": phone.refresh}))
        .await
        .assert_problem(401, "invalid_refresh_token");
    crate::integration::within_a_second(|| async { me_on_other().await.unwrap() }, |r| r.status.as_u16() == 401)
        .await
        .assert_problem(401, "session_revoked");
    // Ended once: a second time it is unknown; the list no longer has it.
    app.request(Method::DELETE, &path, Some(&laptop.access), None)
        .await
        .assert_problem(404, "session_not_found");
    for made_up in ["not-a-uuid", "00000000-0000-0000-0000-000000000000"] {
        app.request(
            Method::DELETE,
            &format!("/v1/members/me/sessions/{made_up}"),
            Some(&laptop.access),
            None,
        )
        .await
        .assert_problem(404, "session_not_found");
    }
    let listed = app.get("/v1/members/me/sessions", Some(&laptop.access)).await;
    assert_eq!(listed.body["total"], 2);
    assert!(
        listed.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["id"] != phone_id.as_str())
    );
    assert_eq!(
        app.get("/v1/members/me", Some(&laptop.access)).await.status,
        StatusCode::OK
    );
}

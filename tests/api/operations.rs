//! Health, configuration and the command line.

use std::process::Command;

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{PASSWORD, TestApp};

#[tokio::test]
async fn health_endpoints_answer() {
    let app = TestApp::spawn().await;
    let live = app.get("/health/live", None).await;
    assert_eq!((live.status, live.body), (StatusCode::OK, json!({"status": "ok"})));
    let ready = app.get("/health/ready", None).await;
    assert_eq!((ready.status, ready.body), (StatusCode::OK, json!({"status": "ok"})));
}

fn memberd(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_memberd"));
    command
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    for (name, value) in env {
        command.env(name, value);
    }
    command.current_dir(std::env::temp_dir()).output().unwrap()
}

#[test]
fn a_bad_variable_stops_start_up_naming_it() {
    let output = memberd(&["serve"], &[("MEMBERD_ACCESS_TTL", "0s")]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("MEMBERD_ACCESS_TTL"), "{stderr}");
}

#[test]
fn an_unreachable_database_says_where_it_looked_and_how_to_change_it() {
    let output = memberd(
        &["migrate"],
        &[("DATABASE_URL", "postgres://postgres@127.0.0.1:1/memberd")],
    );
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("127.0.0.1:1/memberd") && stderr.contains("DATABASE_URL"),
        "{stderr}"
    );
}

#[test]
fn openapi_subcommand_prints_the_document() {
    let output = memberd(&["openapi"], &[]);
    assert!(output.status.success());
    let printed: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(printed, serde_json::to_value(memberd::app::openapi_document()).unwrap());
}

#[tokio::test]
async fn create_superuser_makes_an_active_superuser() {
    let app = TestApp::spawn().await;
    let url = app.database_url.clone();
    let output = tokio::task::spawn_blocking(move || {
        memberd(
            &["create-superuser", "--username", "root", "--email", "root@example.com"],
            &[
                ("DATABASE_URL", &url),
                ("MEMBERD_PASSWORD", PASSWORD),
                ("MEMBERD_PUBLIC_URL", "http://memberd.test"),
            ],
        )
    })
    .await
    .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let session = app.login("root", PASSWORD).await;
    let me = app.get("/v1/members/me", Some(&session.access)).await;
    assert_eq!(me.body["roles"], json!(["member", "staff", "superuser"]));

    let url = app.database_url.clone();
    let weak = tokio::task::spawn_blocking(move || {
        memberd(
            &[
                "create-superuser",
                "--username",
                "root2",
                "--email",
                "root2@example.com",
            ],
            &[("DATABASE_URL", &url), ("MEMBERD_PASSWORD", "password")],
        )
    })
    .await
    .unwrap();
    assert!(!weak.status.success());
    assert!(String::from_utf8_lossy(&weak.stderr).contains("password"));
}

#[tokio::test]
async fn metrics_count_requests_by_route_pattern() {
    let app = TestApp::spawn().await;
    app.member("mia").await;
    app.get("/v1/members/mia", None).await;
    app.get("/v1/members/12345", None).await;
    for made_up in ["BREW", "WHEN"] {
        let method = reqwest::Method::from_bytes(made_up.as_bytes()).unwrap();
        app.request(method, "/v1/members/mia", None, None)
            .await
            .assert_problem(405, "method_not_allowed");
    }
    let text = app
        .client
        .get(format!("{}/metrics", app.address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains(r#"memberd_http_requests_total{method="GET",route="/v1/members/{member}",status="200"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"memberd_http_requests_total{method="GET",route="/v1/members/{member}",status="404"} 1"#),
        "{text}"
    );
    assert!(text.contains("memberd_http_request_duration_seconds_bucket"), "{text}");
    assert!(text.contains(r#"memberd_db_pool_connections{state="idle"}"#), "{text}");
    assert!(text.contains("memberd_password_hash_queue_depth 0"), "{text}");
    assert!(!text.contains("/v1/members/mia"), "raw paths never become labels");
    assert!(
        text.contains(r#"memberd_http_requests_total{method="OTHER",route="/v1/members/{member}",status="405"} 2"#),
        "made-up methods are counted together: {text}"
    );
    assert!(!text.contains("BREW"), "made-up methods never become labels");
}

#[tokio::test]
async fn metrics_need_the_token_when_one_is_set() {
    let app = TestApp::spawn_with(&[("MEMBERD_METRICS_TOKEN", "scrape-me")]).await;
    app.get("/metrics", None)
        .await
        .assert_problem(401, "missing_credentials");
    app.get("/metrics", Some("wrong"))
        .await
        .assert_problem(401, "invalid_token");
    let ok = app
        .client
        .get(format!("{}/metrics", app.address))
        .bearer_auth("scrape-me")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    assert!(ok.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
}

/// `db::prepared` exists so that hand-written SQL on hot paths (the login
/// throttle) is parsed and planned once per connection, not per call.
#[tokio::test]
async fn hand_written_sql_is_prepared_once_per_connection() {
    use diesel::prelude::*;
    use diesel::sql_types::{BigInt, Integer};

    #[derive(QueryableByName)]
    struct Sum {
        #[diesel(sql_type = Integer)]
        n: i32,
    }
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }

    let app = TestApp::spawn().await;
    let mut conn = app.db();
    for (a, b) in [(1, 2), (40, 2)] {
        let sum: Sum = memberd::db::prepared("SELECT $2 + $1 AS n")
            .bind::<Integer, _>(a)
            .bind::<Integer, _>(b)
            .get_result(&mut conn)
            .unwrap();
        assert_eq!(sum.n, a + b);
    }
    let prepared: Count = diesel::sql_query(
        "SELECT count(*) AS n FROM pg_prepared_statements WHERE statement LIKE '%SELECT $2 + $1 AS n'",
    )
    .get_result(&mut conn)
    .unwrap();
    assert_eq!(prepared.n, 1, "one named statement, reused by the second call");
}

/// Pooled connections are not pinged before use: one that PostgreSQL closed
/// meanwhile fails its request as unavailable (never 500), and is dropped.
#[tokio::test]
async fn connections_lost_by_the_database_are_answered_as_unavailable_and_replaced() {
    use diesel::prelude::*;
    let app = TestApp::spawn().await;
    let ada = app.member("ada").await;
    // The pool is filled to its maximum first, so that it is opening no
    // connection when they are terminated, and holds more lost ones than the
    // webhook worker can meet (one a second) before the request under test.
    let fill_pool_then_terminate = || {
        let pool = app.state.db.pool();
        let held: Vec<_> = (0..pool.max_size()).map(|_| pool.get().unwrap()).collect();
        drop(held);
        let others = "FROM pg_stat_activity WHERE datname = current_database() \
                      AND pid <> pg_backend_pid() AND application_name <> 'memberd listener'";
        let count = |what: &str| -> i64 {
            diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(&format!(
                "(SELECT count({what}) {others})"
            )))
            .get_result(&mut app.db())
            .unwrap()
        };
        let terminated = count("pg_terminate_backend(pid)");
        assert_eq!(terminated, i64::from(pool.max_size()));
        // Termination is asynchronous.
        for _ in 0..500 {
            if count("*") == 0 {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        panic!("terminated backends still running after 5 s");
    };
    // Until a request succeeds, every answer is 503; at least one met a lost connection.
    async fn until_ok(mut ask: impl AsyncFnMut() -> crate::helpers::Response) {
        let mut statuses = Vec::new();
        for _ in 0..20 {
            let answer = ask().await;
            statuses.push(answer.status.as_u16());
            if answer.status == StatusCode::OK {
                break;
            }
            answer.assert_problem(503, "service_unavailable");
        }
        assert_eq!(statuses.last(), Some(&200), "{statuses:?}");
        assert!(statuses.contains(&503), "no lost connection was used: {statuses:?}");
    }

    fill_pool_then_terminate();
    until_ok(async || app.get("/v1/members", None).await).await;

    // A write, in a transaction.
    fill_pool_then_terminate();
    until_ok(async || {
        app.patch("/v1/members/me", Some(&ada.access), json!({"biography": "Hello"}))
            .await
    })
    .await;
}

#[tokio::test]
async fn every_list_is_paged_with_links_a_total_and_a_bound_on_its_pages() {
    let app = TestApp::spawn_with(&[
        ("MEMBERD_WEBHOOK_ALLOW_PRIVATE", "true"),
        ("MEMBERD_TRUSTED_PROXIES", "127.0.0.1"),
    ])
    .await;
    let boss = app.member("boss").await;
    app.make_superuser(boss.id);
    let token = Some(boss.access.as_str());
    // Three second factors; the first ends the boss's activation session (it
    // proved none), so two more logins make three sessions.
    let first = app.enrol_totp(&boss).await;
    app.enrol_totp(&boss).await;
    app.enrol_totp(&boss).await;
    app.login_with_totp("boss", &first.secret).await;
    app.login_with_totp("boss", &first.secret).await;
    // Three of everything. Sanctions (each audited) are delivered to a hook
    // nobody answers: each delivery's first attempt fails at once.
    for n in 1..=3 {
        let hook = app
            .post(
                "/v1/webhooks",
                token,
                json!({"url": format!("http://127.0.0.1:9/hook{n}"), "events": ["sanction.applied"]}),
            )
            .await;
        assert_eq!(hook.status, StatusCode::CREATED, "{}", hook.body);
        let client = app
            .post(
                "/v1/service-clients",
                token,
                json!({"name": format!("svc{n}"), "scopes": ["status:read"]}),
            )
            .await;
        assert_eq!(client.status, StatusCode::CREATED, "{}", client.body);
        let group = app
            .post("/v1/groups", token, json!({"name": format!("group{n}")}))
            .await;
        assert_eq!(group.status, StatusCode::CREATED, "{}", group.body);
    }
    let hook_id = app.count("SELECT min(id) FROM webhooks");
    for name in ["ann", "bob", "cid"] {
        app.member(name).await;
        // Seen at one address, and ann at two more.
        let login = json!({"login": name, "password": PASSWORD});
        for ip in ["203.0.113.7", "198.51.100.1", "198.51.100.2"] {
            if ip == "203.0.113.7" || name == "ann" {
                app.request_from(ip, Method::POST, "/v1/auth/login", None, Some(login.clone()))
                    .await;
            }
        }
        let banned = app
            .post(
                &format!("/v1/members/{name}/sanctions"),
                token,
                json!({"kind": "ban", "reason": "x", "duration": "1h"}),
            )
            .await;
        assert_eq!(banned.status, StatusCode::CREATED, "{}", banned.body);
    }
    for n in 1..=3 {
        let read_only = app
            .post(
                "/v1/members/ann/sanctions",
                token,
                json!({"kind": "read_only", "reason": "x", "duration": "1h"}),
            )
            .await;
        assert_eq!(read_only.status, StatusCode::CREATED, "{}", read_only.body);
        let note = app
            .post("/v1/members/ann/karma-notes", token, json!({"note": "x", "karma": -n}))
            .await;
        assert_eq!(note.status, StatusCode::CREATED, "{}", note.body);
    }
    // Three reports by the caller, three open in the queue; three appeals by
    // gil, read-only (so still with a session) three times.
    let gil = app.member("gil").await;
    for name in ["ann", "bob", "cid"] {
        let report = app
            .post(
                &format!("/v1/members/{name}/reports"),
                token,
                json!({"reason": "spam", "text": "x"}),
            )
            .await;
        assert_eq!(report.status, StatusCode::CREATED, "{}", report.body);
        let sanction = app
            .post(
                "/v1/members/gil/sanctions",
                token,
                json!({"kind": "read_only", "reason": "x", "duration": "1h"}),
            )
            .await;
        let appeal = app
            .post(
                &format!("/v1/sanctions/{}/appeals", sanction.body["id"]),
                Some(&gil.access),
                json!({"text": "x"}),
            )
            .await;
        assert_eq!(appeal.status, StatusCode::CREATED, "{}", appeal.body);
    }
    // The directory leaves banned members out.
    for name in ["dee", "eve", "fay"] {
        app.member(name).await;
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while app.count(&format!("SELECT count(*) FROM webhook_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_id WHERE d.webhook_id = {hook_id}")) < 3
        && std::time::Instant::now() < deadline
    {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }

    let document = crate::openapi::committed();
    let mut checked = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        let Some(operation) = item.get("get") else { continue };
        if operation["responses"]["200"]["headers"].get("Link").is_none() {
            continue;
        }
        let concrete = path
            .replace("{id}", &hook_id.to_string())
            .replace("{member}", "ann")
            .replace("{ip}", "203.0.113.7");
        let target = format!("{concrete}?per_page=1&page=2");
        // The caller's own appeals are gil's: superusers are not sanctioned.
        let token = if path == "/v1/members/me/appeals" {
            Some(gil.access.as_str())
        } else {
            token
        };
        let response = app.get(&target, token).await;
        assert_eq!(response.status, StatusCode::OK, "{target}: {}", response.body);
        assert_eq!(
            response.body["items"].as_array().map(Vec::len),
            Some(1),
            "{target}: {}",
            response.body
        );
        assert_eq!(
            (&response.body["page"], &response.body["per_page"]),
            (&json!(2), &json!(1)),
            "{target}"
        );
        let total = response.body["total"].as_i64().unwrap();
        assert!(total >= 3, "{target}: total {total}");
        let link = response.headers.get("link").map(|v| v.to_str().unwrap()).unwrap_or("");
        assert!(
            link.contains(&format!("<{concrete}?per_page=1&page=3>; rel=\"next\""))
                && link.contains("page=1>; rel=\"prev\""),
            "{target}: Link {link:?}"
        );

        let past = app.get(&format!("{concrete}?per_page=100&page=500"), token).await;
        assert_eq!(past.status, StatusCode::OK, "{concrete}: {}", past.body);
        assert_eq!(past.body["items"], json!([]), "{concrete}");
        assert_eq!(past.body["total"], json!(total), "{concrete}");

        let too_many = app.get(&format!("{concrete}?per_page=101"), token).await;
        too_many.assert_problem(422, "validation_failed");
        assert_eq!(too_many.body["errors"][0]["field"], "per_page", "{concrete}");
        checked.push(path.clone());
    }
    let karma = app.get("/v1/members/ann/karma-notes?per_page=1", token).await;
    assert_eq!(karma.body["karma"], -6, "the sum of every note, not of the page's");
    assert_eq!(
        app.get("/v1/ips/203.0.113.7/members?per_page=1", token).await.body["network"],
        "203.0.113.7/32"
    );
    assert_eq!(
        app.get("/v1/members/ann/ips?per_page=1", token).await.body["member"]["username"],
        "ann"
    );
    assert_eq!(checked.len(), 18, "{checked:?}");
}

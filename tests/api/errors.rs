//! Malformed and hostile input: always a problem+json 4xx, never a change.

use diesel::RunQueryDsl;
use reqwest::{Method, StatusCode};
use serde_json::{Map, Value, json};

use crate::helpers::{PASSWORD, TestApp};
use crate::openapi::{body_shapes, committed, plausible_of, with_parameters};

fn counts(app: &TestApp) -> (i64, i64, i64) {
    (
        app.count("SELECT count(*) FROM members WHERE NOT is_system"),
        app.count("SELECT count(*) FROM events"),
        app.count("SELECT count(*) FROM member_tokens"),
    )
}

#[tokio::test]
async fn bad_bodies_are_problems_and_change_nothing() {
    let app = TestApp::spawn().await;
    let before = counts(&app);
    let url = format!("{}/v1/members", app.address);
    let send = |body: Vec<u8>, content_type: Option<&'static str>| {
        let mut request = app.client.post(&url).body(body);
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        async move { TestApp::read(request.send().await.unwrap()).await }
    };

    send(b"{\"username\": ".to_vec(), Some("application/json"))
        .await
        .assert_problem(400, "malformed_json");
    send(b"not json".to_vec(), Some("application/json"))
        .await
        .assert_problem(400, "malformed_json");
    send(b"{\"username\": \"\xff\xfe\"}".to_vec(), Some("application/json"))
        .await
        .assert_problem(400, "malformed_json");
    send(b"username=alice".to_vec(), Some("application/x-www-form-urlencoded"))
        .await
        .assert_problem(415, "unsupported_media_type");
    send(b"{}".to_vec(), None)
        .await
        .assert_problem(415, "unsupported_media_type");

    let huge = serde_json::to_vec(&json!({"username": "x".repeat(2 * 1024 * 1024)})).unwrap();
    send(huge, Some("application/json"))
        .await
        .assert_problem(413, "payload_too_large");

    let unknown = json!({"username": "u", "email": "u@example.com", "password": PASSWORD, "password_confirmation": PASSWORD, "is_superuser": true});
    let response = send(serde_json::to_vec(&unknown).unwrap(), Some("application/json")).await;
    response.assert_problem(422, "validation_failed");
    assert_eq!(
        response.field_codes(),
        [("is_superuser".to_string(), "unknown_field".to_string())]
    );

    let wrong_type = send(
        br#"{"username": 5, "email": "a@example.com", "password": "x", "password_confirmation": "x"}"#.to_vec(),
        Some("application/json"),
    )
    .await;
    wrong_type.assert_problem(422, "validation_failed");
    let missing = send(br#"{"username": "u"}"#.to_vec(), Some("application/json")).await;
    missing.assert_problem(422, "validation_failed");
    assert_eq!(missing.field_codes()[0].1, "required");
    send(b"[]".to_vec(), Some("application/json"))
        .await
        .assert_problem(422, "validation_failed");
    send(b"null".to_vec(), Some("application/json"))
        .await
        .assert_problem(422, "validation_failed");

    let long = json!({"username": "y".repeat(10_000), "email": format!("{}@example.com", "e".repeat(300)), "password": PASSWORD, "password_confirmation": PASSWORD});
    let response = send(serde_json::to_vec(&long).unwrap(), Some("application/json")).await;
    assert_eq!(
        response.field_codes(),
        [
            ("username".to_string(), "too_long".to_string()),
            ("email".to_string(), "too_long".to_string())
        ]
    );

    assert_eq!(counts(&app), before);
}

#[tokio::test]
async fn bad_input_to_login_and_tokens_is_a_problem() {
    let app = TestApp::spawn().await;
    app.post("/v1/auth/login", None, json!({"login": "", "password": ""}))
        .await
        .assert_problem(422, "validation_failed");
    app.post(
        "/v1/auth/login",
        None,
        json!({"login": "a", "password": "x".repeat(300)}),
    )
    .await
    .assert_problem(422, "validation_failed");
    app.post("/v1/auth/login", None, json!({"login": ["a"], "password": "x"}))
        .await
        .assert_problem(422, "validation_failed");
    app.post("/v1/auth/refresh", None, json!({}))
        .await
        .assert_problem(422, "validation_failed");
    app.post(
        "/v1/tokens/registration",
        None,
        json!({"email": "a@example.com", "extra": 1}),
    )
    .await
    .assert_problem(422, "validation_failed");
    let long_token = "t".repeat(5_000);
    app.post(&format!("/v1/tokens/registration/{long_token}"), None, json!({}))
        .await
        .assert_problem(404, "token_not_found");
    app.post("/v1/tokens/registration/%FF%FE", None, json!({}))
        .await
        .assert_problem(404, "token_not_found");
    assert_eq!(
        app.count("SELECT count(*) FROM login_throttles"),
        0,
        "input errors are not login attempts"
    );
}

#[tokio::test]
async fn unknown_routes_and_methods_are_problems() {
    let app = TestApp::spawn().await;
    app.get("/v1/nothing-here", None).await.assert_problem(404, "not_found");
    app.get("/nothing", None).await.assert_problem(404, "not_found");
    let response = app.request(Method::DELETE, "/v1/members", None, None).await;
    response.assert_problem(405, "method_not_allowed");
    assert_eq!(response.headers["allow"], "GET, POST");
    let response = app
        .request(Method::PUT, "/v1/tokens/registration/abc", None, None)
        .await;
    response.assert_problem(405, "method_not_allowed");
    let response = app.get("/v1/auth/login", None).await;
    assert_eq!(response.status, StatusCode::METHOD_NOT_ALLOWED);
    // Where templates overlap, the path the document names most precisely
    // says what it allows: `/factors/totp` is not `/factors/{id}`.
    for (path, allow) in [
        ("/v1/members/me/factors/totp", "POST"),
        ("/v1/members/me/factors", "GET"),
    ] {
        let response = app.request(Method::PUT, path, None, None).await;
        response.assert_problem(405, "method_not_allowed");
        assert_eq!(response.headers["allow"], allow, "{path}");
    }
    let response = app
        .request(Method::DELETE, "/v1/members/me/factors/passkey", None, None)
        .await;
    response.assert_problem(405, "method_not_allowed");
    assert_eq!(response.headers["allow"], "POST");
}

#[tokio::test]
async fn responses_carry_a_request_id() {
    let app = TestApp::spawn().await;
    let response = app.get("/health/live", None).await;
    let id = response.headers["x-request-id"].to_str().unwrap();
    assert_eq!(id.len(), 36, "{id}");
}

#[tokio::test]
async fn browsers_of_configured_origins_get_cors_headers_and_others_none() {
    let app = TestApp::spawn_with(&[("MEMBERD_CORS_ORIGINS", "https://front.example")]).await;
    let send = |method: Method, origin: &'static str| {
        let request = app
            .client
            .request(method.clone(), format!("{}/v1/members", app.address))
            .header("origin", origin);
        let request = if method == Method::OPTIONS {
            request.header("access-control-request-method", "POST")
        } else {
            request
        };
        async move { TestApp::read(request.send().await.unwrap()).await }
    };

    for allowed in ["https://front.example", "http://memberd.test"] {
        let response = send(Method::GET, allowed).await;
        assert_eq!(response.status, StatusCode::OK);
        assert_eq!(response.headers["access-control-allow-origin"], allowed);
        assert_eq!(response.headers["vary"], "Origin");
        let exposed = response.headers["access-control-expose-headers"].to_str().unwrap();
        assert!(exposed.contains("x-request-id"), "{exposed}");
        assert!(response.headers.contains_key("x-request-id"));

        let preflight = send(Method::OPTIONS, allowed).await;
        assert_eq!(preflight.status, StatusCode::NO_CONTENT);
        assert_eq!(preflight.headers["access-control-allow-origin"], allowed);
        let methods = preflight.headers["access-control-allow-methods"].to_str().unwrap();
        assert!(methods.contains("POST"), "{methods}");
        assert!(preflight.headers.contains_key("access-control-allow-headers"));
        assert!(preflight.headers.contains_key("x-request-id"));
    }

    // Refused by leaving the headers out: the browser enforces the rest.
    let response = send(Method::GET, "https://elsewhere.example").await;
    assert_eq!(response.status, StatusCode::OK);
    assert!(!response.headers.contains_key("access-control-allow-origin"));
    let preflight = send(Method::OPTIONS, "https://elsewhere.example").await;
    assert_eq!(preflight.status, StatusCode::NO_CONTENT);
    assert!(!preflight.headers.contains_key("access-control-allow-origin"));
    assert!(!preflight.headers.contains_key("access-control-allow-methods"));
}

/// What a refused request must leave as it was: every table but the
/// counters of attempts and the times of last use, as one digest.
fn digest(conn: &mut diesel::PgConnection) -> String {
    #[derive(diesel::QueryableByName)]
    struct Digest {
        #[diesel(sql_type = diesel::sql_types::Text)]
        digest: String,
    }
    let tables = [
        "audit_log",
        "events",
        "groups",
        "karma_notes",
        "appeals",
        "report_entries",
        "reporter_tallies",
        "reports",
        "member_groups",
        "member_tokens",
        "members",
        "refresh_tokens",
        "sanctions",
        "service_clients",
        "sessions",
        "username_history",
        "webhooks",
        "webhook_deliveries",
    ];
    let mut rows = tables
        .map(|t| {
            format!(
                "SELECT '{t}' || (to_jsonb(x) - 'last_login_at' - 'last_visit_at' - 'last_ip' - 'last_used_at')::text \
                 AS row FROM {t} x"
            )
        })
        .join(" UNION ALL ");
    // Ten thousand domains are seeded at start: their number and the newest
    // row version tell any insert, update or delete, without reading them all.
    rows.push_str(
        " UNION ALL SELECT 'forbidden_email_domains' || count(*) || '/' || coalesce(max(xmin::text::bigint), 0) \
         FROM forbidden_email_domains",
    );
    diesel::sql_query(format!(
        "SELECT md5(string_agg(row, '|' ORDER BY row)) AS digest FROM ({rows}) r"
    ))
    .get_result::<Digest>(conn)
    .unwrap()
    .digest
}

/// The request bodies to send to an operation that takes one: not JSON, JSON
/// of the wrong shape, and its required fields filled with each field in
/// turn set to a hostile value.
fn hostile_bodies(document: &Value, operation: &Value) -> Vec<String> {
    if operation.get("requestBody").is_none() {
        return Vec::new();
    }
    let mut bodies: Vec<String> = [
        "not json",
        "{\"a\":",
        "null",
        "[]",
        "\"text\"",
        "{}",
        "{\"\\u0000\": 1}",
    ]
    .map(String::from)
    .to_vec();
    for shape in body_shapes(document, operation) {
        let (Some(properties), Some(base)) = (shape["properties"].as_object(), plausible_of(document, shape)) else {
            continue;
        };
        bodies.extend(hostile_fields(properties, &base));
    }
    bodies
}

/// A shape's plausible body, and that body with each field in turn set to
/// each hostile value.
fn hostile_fields(properties: &Map<String, Value>, base: &Map<String, Value>) -> Vec<String> {
    let mut bodies = vec![Value::Object(base.clone()).to_string()];
    let values = [
        "null".to_string(),
        "[[[]]]".to_string(),
        "{\"a\": {\"b\": 1}}".to_string(),
        "99999999999999999999999".to_string(),
        "-1".to_string(),
        "1.5e308".to_string(),
        "\"\\u0000\"".to_string(),
        "\"a\\u0000b\"".to_string(),
        "[\"\\u0000\"]".to_string(),
        "\"'; DROP TABLE members; --\"".to_string(),
        format!("\"{}\"", "x".repeat(20_000)),
    ];
    for property in properties.keys() {
        for value in &values {
            let mut fields: Vec<String> = base
                .iter()
                .filter(|(name, _)| *name != property)
                .map(|(name, value)| format!("{}: {value}", Value::from(name.as_str())))
                .collect();
            fields.push(format!("\"{property}\": {value}"));
            bodies.push(format!("{{{}}}", fields.join(", ")));
        }
    }
    bodies
}

#[tokio::test]
async fn every_operation_refuses_hostile_input_with_a_documented_problem_and_writes_nothing() {
    let app = TestApp::spawn().await;
    let boss = app.member("boss").await;
    app.make_superuser(boss.id);
    let target = app.member("target").await;
    // A report, a sanction and its appeal under the id the other path
    // parameters name, so that what is sent to their routes is refused for
    // itself, not because nothing is there.
    let moderator = app.member("moderator").await;
    app.make_staff(moderator.id);
    let reporter = app.member("reporter").await;
    for table in ["reports", "sanctions", "appeals"] {
        app.execute(&format!(
            "SELECT setval(pg_get_serial_sequence('{table}', 'id'), 424241)"
        ));
    }
    let filed = app
        .post(
            "/v1/members/target/reports",
            Some(&reporter.access),
            json!({"reason": "spam", "text": "Ads."}),
        )
        .await;
    let given = app
        .post(
            "/v1/members/target/sanctions",
            Some(&moderator.access),
            json!({"kind": "read_only", "reason": "Rude", "duration": "1d"}),
        )
        .await;
    let appealed = app
        .post(
            "/v1/sanctions/424242/appeals",
            Some(&target.access),
            json!({"text": "Please."}),
        )
        .await;
    for created in [&filed, &given, &appealed] {
        assert_eq!(created.body["id"], 424_242, "{}", created.body);
    }
    let document = committed();
    let path_values = [
        "0",
        "-1",
        "99999999999999999999",
        "1e3",
        "%00",
        "a%00b",
        "%FF%FE",
        "..%2F..%2Fetc",
        "'%20OR%201=1--",
        &"x".repeat(600),
    ];
    let query_values = [
        "-1",
        "abc",
        "99999999999999999999",
        "%00",
        "a%00b",
        "%FF",
        &"y".repeat(3000),
    ];

    let mut conn = app.db();
    let mut access = boss.access.clone();
    let mut failures = Vec::new();
    let mut requests = 0;
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            // Some of what is sent may end the superuser's session (a logout
            // with an empty body is a valid one): start each operation signed in.
            if app.get("/v1/members/me", Some(&access)).await.status != StatusCode::OK {
                access = app.login("boss", PASSWORD).await.access;
            }
            let mut calls: Vec<(String, Option<String>)> = Vec::new();
            for value in path_values {
                let concrete = path
                    .split('/')
                    .map(|segment| if segment.starts_with('{') { value } else { segment })
                    .collect::<Vec<_>>()
                    .join("/");
                if concrete != *path {
                    calls.push((concrete, None));
                }
            }
            // Query strings and bodies go to the path with its parameters
            // naming a member who exists, or nothing that does.
            let plain = with_parameters(path);
            let queries = operation["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| p["in"] == "query")
                .map(|p| p["name"].as_str().unwrap());
            for query in queries {
                for value in query_values {
                    calls.push((format!("{plain}?{query}={value}"), None));
                }
            }
            for body in hostile_bodies(&document, operation) {
                calls.push((plain.clone(), Some(body)));
            }

            for (target, body) in calls {
                let before = digest(&mut conn);
                let mut request = app
                    .client
                    .request(
                        Method::from_bytes(method.to_uppercase().as_bytes()).unwrap(),
                        format!("{}{target}", app.address),
                    )
                    .bearer_auth(&access);
                if let Some(body) = &body {
                    request = request.header("content-type", "application/json").body(body.clone());
                }
                let raw = request.send().await.unwrap();
                let content_type = raw
                    .headers()
                    .get("content-type")
                    .map(|v| v.to_str().unwrap().to_string())
                    .unwrap_or_default();
                let response = TestApp::read(raw).await;
                requests += 1;
                let status = response.status.as_u16();
                let what = format!(
                    "{} {target} {}: {status} {}",
                    method.to_uppercase(),
                    body.as_deref().map(|b| &b[..b.len().min(80)]).unwrap_or(""),
                    response.body
                );
                if status >= 500 {
                    failures.push(format!("server error: {what}"));
                    continue;
                }
                if status < 400 {
                    continue;
                }
                if content_type != "application/problem+json" {
                    failures.push(format!("not a problem ({content_type}): {what}"));
                    continue;
                }
                // Each status's description lists its codes, backticked.
                let code = format!("`{}`", response.code());
                match operation["responses"][status.to_string()]["description"].as_str() {
                    Some(description) if description.contains(&code) => {}
                    Some(_) => failures.push(format!("code not documented for this status: {what}")),
                    None => failures.push(format!("status not documented: {what}")),
                }
                if digest(&mut conn) != before {
                    failures.push(format!("refused but wrote: {what}"));
                }
            }
        }
    }
    assert!(requests > 1000, "only {requests} requests were sent");
    assert!(
        failures.is_empty(),
        "{} of {requests}:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[tokio::test]
async fn text_holding_u0000_is_refused_where_it_comes_in() {
    let app = TestApp::spawn().await;
    let ada = app.member("ada").await;
    // A backslash followed by the letters is text like any other.
    let response = app
        .patch("/v1/members/me", Some(&ada.access), json!({"biography": "\\u0000"}))
        .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.body);
    assert_eq!(response.body["biography"], "\\u0000");
    let before = counts(&app);

    let response = app
        .patch("/v1/members/me", Some(&ada.access), json!({"biography": "a\u{0}b"}))
        .await;
    response.assert_problem(422, "validation_failed");
    assert_eq!(
        response.field_codes(),
        [("biography".to_string(), "null_character".to_string())]
    );
    app.get("/v1/members?q=a%00", None)
        .await
        .assert_problem(400, "invalid_query");
    app.get("/v1/members/ada%00", None)
        .await
        .assert_problem(404, "member_not_found");
    app.post("/v1/tokens/password-reset", None, json!({"login": "ada\u{0}"}))
        .await
        .assert_problem(422, "validation_failed");
    assert_eq!(counts(&app), before);
    assert_eq!(app.get("/v1/members/ada", None).await.body["biography"], "\\u0000");
}

#[tokio::test]
async fn a_body_announced_as_too_large_is_refused_before_it_arrives() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::spawn().await;
    let mut stream = tokio::net::TcpStream::connect(app.address.trim_start_matches("http://"))
        .await
        .unwrap();
    stream
        .write_all(
            b"POST /v1/auth/login HTTP/1.1\r\nHost: memberd.test\r\nContent-Type: application/json\r\n\
              Content-Length: 99999999\r\n\r\n{}",
        )
        .await
        .unwrap();
    let mut answer = vec![0; 2048];
    let read = tokio::time::timeout(std::time::Duration::from_secs(5), stream.read(&mut answer))
        .await
        .expect("an answer without waiting for the body")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..read]);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("payload_too_large"), "{answer}");
}

#[tokio::test]
async fn the_same_thing_created_at_once_many_times_is_created_once_and_refused_cleanly() {
    let app = TestApp::spawn().await;
    let boss = app.member("boss").await;
    app.make_superuser(boss.id);
    let app = &app;
    let at_once = |path: &'static str, bodies: Vec<Value>, token: Option<String>| async move {
        let calls = bodies.into_iter().map(|body| {
            let token = token.clone();
            async move { app.post(path, token.as_deref(), body).await }
        });
        let mut answers: Vec<(u16, String)> = futures_util::future::join_all(calls)
            .await
            .iter()
            .map(|r| {
                let fields: Vec<String> = r.field_codes().into_iter().map(|(f, c)| format!(" {f}:{c}")).collect();
                (r.status.as_u16(), format!("{}{}", r.code(), fields.concat()))
            })
            .collect();
        answers.sort();
        answers
    };
    for (path, body, conflict) in [
        ("/v1/groups", json!({"name": "racers"}), "group_exists"),
        (
            "/v1/forbidden-email-domains",
            json!({"domain": "race.example"}),
            "domain_exists",
        ),
    ] {
        let answers = at_once(path, vec![body; 8], Some(boss.access.clone())).await;
        let expected: Vec<_> = [(201, String::new())]
            .into_iter()
            .chain(std::iter::repeat_n((409, conflict.to_string()), 7))
            .collect();
        assert_eq!(answers, expected, "{path}");
    }

    // One username, eight addresses: the unique index decides, not a check before it.
    let registrations = (0..8)
        .map(|n| {
            json!({"username": "racer", "email": format!("racer{n}@example.com"),
                   "password": PASSWORD, "password_confirmation": PASSWORD})
        })
        .collect();
    let registered = at_once("/v1/members", registrations, None).await;
    assert_eq!(registered[0], (202, String::new()), "{registered:?}");
    assert!(
        registered[1..]
            .iter()
            .all(|answer| *answer == (422, "validation_failed username:taken".to_string())),
        "{registered:?}"
    );
    assert_eq!(app.count("SELECT count(*) FROM members WHERE username = 'racer'"), 1);
}

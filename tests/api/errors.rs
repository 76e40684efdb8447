//! Malformed and hostile input: always a problem+json 4xx, never a change.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{PASSWORD, TestApp};

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

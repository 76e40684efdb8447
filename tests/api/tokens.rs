//! Registration tokens: activation and resending.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{PASSWORD, TestApp, session_of};

#[tokio::test]
async fn activation_opens_a_session_once_and_writes_an_event() {
    let app = TestApp::spawn().await;
    app.register("quinn", "quinn@example.com").await;
    let token = app.activation_token("quinn@example.com", 1).await;

    let activated = app
        .post(&format!("/v1/tokens/registration/{token}"), None, json!({}))
        .await;
    assert_eq!(activated.status, StatusCode::OK, "{}", activated.body);
    let session = session_of(&activated.body);
    assert_eq!(activated.body["member"]["is_active"], true);
    assert_eq!(
        app.get("/v1/members/me", Some(&session.access)).await.status,
        StatusCode::OK
    );
    assert_eq!(
        app.count("SELECT count(*) FROM events WHERE event_type = 'member.activated'"),
        1
    );

    app.post(&format!("/v1/tokens/registration/{token}"), None, json!({}))
        .await
        .assert_problem(410, "token_used");
    assert_eq!(
        app.count("SELECT count(*) FROM events WHERE event_type = 'member.activated'"),
        1
    );
    app.login("quinn", PASSWORD).await;
}

#[tokio::test]
async fn unknown_and_expired_tokens_have_their_own_codes() {
    let app = TestApp::spawn().await;
    app.post("/v1/tokens/registration/nonsense", None, json!({}))
        .await
        .assert_problem(404, "token_not_found");
    let plausible = "A".repeat(43);
    app.post(&format!("/v1/tokens/registration/{plausible}"), None, json!({}))
        .await
        .assert_problem(404, "token_not_found");

    app.register("rita", "rita@example.com").await;
    let token = app.activation_token("rita@example.com", 1).await;
    app.clock.advance(chrono::Duration::minutes(61));
    app.post(&format!("/v1/tokens/registration/{token}"), None, json!({}))
        .await
        .assert_problem(410, "token_expired");
    assert_eq!(app.count("SELECT count(*) FROM members WHERE is_active"), 0);
    assert_eq!(app.count("SELECT count(*) FROM sessions"), 0);
}

#[tokio::test]
async fn resending_always_answers_202_and_replaces_the_older_link() {
    let app = TestApp::spawn().await;
    app.register("sam", "sam@example.com").await;
    let first = app.activation_token("sam@example.com", 1).await;

    for email in ["sam@example.com", "nobody@example.com"] {
        let response = app.post("/v1/tokens/registration", None, json!({"email": email})).await;
        assert_eq!(response.status, StatusCode::ACCEPTED, "{email}");
        assert_eq!(response.body, json!({"status": "accepted"}));
    }
    let second = app.activation_token("sam@example.com", 2).await;
    assert_ne!(first, second);
    app.inbox.assert_quiet("nobody@example.com", 0).await;

    app.post(&format!("/v1/tokens/registration/{first}"), None, json!({}))
        .await
        .assert_problem(404, "token_not_found");
    assert_eq!(
        app.post(&format!("/v1/tokens/registration/{second}"), None, json!({}))
            .await
            .status,
        StatusCode::OK
    );

    // Active now: a resend is still 202, and sends nothing.
    let response = app
        .post("/v1/tokens/registration", None, json!({"email": "sam@example.com"}))
        .await;
    assert_eq!(response.status, StatusCode::ACCEPTED);
    app.inbox.assert_quiet("sam@example.com", 2).await;

    app.post("/v1/tokens/registration", None, json!({"email": "not an address"}))
        .await
        .assert_problem(422, "validation_failed");
}

#[tokio::test]
async fn resending_to_one_address_is_silently_capped() {
    let app = TestApp::spawn().await;
    app.register("tina", "tina@example.com").await;
    app.inbox.wait_for("tina@example.com", 1).await;
    for _ in 0..5 {
        let response = app
            .post("/v1/tokens/registration", None, json!({"email": "tina@example.com"}))
            .await;
        assert_eq!(response.status, StatusCode::ACCEPTED);
    }
    app.inbox.wait_for("tina@example.com", 4).await;
    app.inbox.assert_quiet("tina@example.com", 4).await;
}

//! `POST /v1/members` and `GET /v1/members/me`.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{PASSWORD, TestApp};

#[tokio::test]
async fn registration_sends_a_validation_email_and_writes_an_event() {
    let app = TestApp::spawn().await;
    let response = app.register("alice", "Alice@Example.com").await;
    assert_eq!(response.status, StatusCode::ACCEPTED);
    assert_eq!(response.body, json!({"status": "validation_email_sent"}));

    let mails = app.inbox.wait_for("Alice@Example.com", 1).await;
    assert!(
        mails[0].text.contains("http://front.test/app/activate/"),
        "{}",
        mails[0].text
    );
    assert!(mails[0].html.contains("href=\"http://front.test/app/activate/"));
    assert_eq!(
        app.count("SELECT count(*) FROM members WHERE NOT is_system AND username = 'alice' AND NOT is_active"),
        1
    );
    assert_eq!(
        app.count("SELECT count(*) FROM events WHERE event_type = 'member.registered'"),
        1
    );
    // Tokens are stored hashed: the e-mailed text is nowhere in the database.
    let token = app.activation_token("Alice@Example.com", 1).await;
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM member_tokens WHERE token_hash::text LIKE '%{token}%'"
        )),
        0
    );
    assert_eq!(app.count("SELECT count(*) FROM member_tokens"), 1);
}

#[tokio::test]
async fn every_field_error_comes_back_together() {
    let app = TestApp::spawn().await;
    let response = app
        .post(
            "/v1/members",
            None,
            json!({"username": "bad,name", "email": "not-an-address", "password": "short", "password_confirmation": "other"}),
        )
        .await;
    response.assert_problem(422, "validation_failed");
    assert_eq!(
        response.field_codes(),
        [
            ("username".into(), "contains_comma".into()),
            ("email".into(), "invalid".into()),
            ("password".into(), "too_short".into()),
            ("password_confirmation".into(), "mismatch".into()),
        ]
    );
    assert_eq!(app.count("SELECT count(*) FROM members WHERE NOT is_system"), 0);
}

#[tokio::test]
async fn username_rules() {
    let app = TestApp::spawn().await;
    let cases = [
        (" padded", "surrounding_space"),
        ("a/b", "contains_slash"),
        ("tab\there", "contains_control_character"),
        ("zero\u{200b}width", "contains_control_character"),
        ("rocket🚀", "contains_emoji"),
        ("abcdefghijklmnopqrstuvwxyz12345", "too_long"),
        ("", "required"),
    ];
    for (name, code) in cases {
        let response = app.register(name, "someone@example.com").await;
        response.assert_problem(422, "validation_failed");
        assert_eq!(
            response.field_codes(),
            [("username".to_string(), code.to_string())],
            "{name:?}"
        );
    }
    assert_eq!(app.count("SELECT count(*) FROM members WHERE NOT is_system"), 0);
}

#[tokio::test]
async fn taken_and_confusable_usernames_are_refused() {
    let app = TestApp::spawn().await;
    assert_eq!(
        app.register("Paypal", "first@example.com").await.status,
        StatusCode::ACCEPTED
    );
    let taken = app.register("PAYPAL", "second@example.com").await;
    assert_eq!(taken.field_codes(), [("username".to_string(), "taken".to_string())]);
    // Cyrillic а (U+0430) in place of the Latin a.
    let confusable = app.register("pаypаl", "third@example.com").await;
    assert_eq!(
        confusable.field_codes(),
        [("username".to_string(), "confusable".to_string())]
    );
    assert_eq!(app.count("SELECT count(*) FROM members WHERE NOT is_system"), 1);
}

#[tokio::test]
async fn password_rules() {
    let app = TestApp::spawn().await;
    for (password, code) in [
        ("password123", "too_common"),
        ("carol@example.com", "same_as_email"),
        ("carolcarol", ""),
    ] {
        let response = app
            .post(
                "/v1/members",
                None,
                json!({"username": "carolcarol", "email": "carol@example.com", "password": password, "password_confirmation": password}),
            )
            .await;
        let expected = if code.is_empty() { "same_as_username" } else { code };
        assert_eq!(
            response.field_codes(),
            [("password".to_string(), expected.to_string())],
            "{password}"
        );
    }
    let long = "x".repeat(257);
    let response = app
        .post(
            "/v1/members",
            None,
            json!({"username": "carol", "email": "carol@example.com", "password": long, "password_confirmation": long}),
        )
        .await;
    assert_eq!(
        response.field_codes(),
        [("password".to_string(), "too_long".to_string())]
    );
}

#[tokio::test]
async fn forbidden_domains_and_their_subdomains_are_refused() {
    let app = TestApp::spawn().await;
    for email in ["dave@mailinator.com", "dave@eu.mailinator.com", "dave@MAILINATOR.COM"] {
        let response = app.register("dave", email).await;
        assert_eq!(
            response.field_codes(),
            [("email".to_string(), "forbidden_domain".to_string())],
            "{email}"
        );
    }
    // A domain that merely ends with the same letters is not a subdomain.
    assert_eq!(
        app.register("dave", "dave@xmailinator.com").await.status,
        StatusCode::ACCEPTED
    );
}

#[tokio::test]
async fn a_taken_email_gets_the_same_answer_and_its_owner_a_notice() {
    let app = TestApp::spawn().await;
    let first = app.register("erin", "erin@example.com").await;
    app.inbox.wait_for("erin@example.com", 1).await;
    let second = app.register("mallory", "ERIN@example.com").await;
    assert_eq!(second.status, first.status);
    assert_eq!(second.body, first.body);

    let mails = app.inbox.wait_for("erin@example.com", 2).await;
    assert!(mails[1].subject.contains("tried to register"), "{}", mails[1].subject);
    assert!(!mails[1].text.contains("activate/"));
    assert_eq!(app.count("SELECT count(*) FROM members WHERE NOT is_system"), 1);
    assert_eq!(
        app.count("SELECT count(*) FROM members WHERE NOT is_system AND username = 'mallory'"),
        0
    );
}

#[tokio::test]
async fn the_validation_email_speaks_the_registrants_language() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .post(format!("{}/v1/members", app.address))
        .header("accept-language", "fr-FR,fr;q=0.9,en;q=0.5")
        .json(&json!({"username": "zoé", "email": "zoe@example.com", "password": PASSWORD, "password_confirmation": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let mails = app.inbox.wait_for("zoe@example.com", 1).await;
    assert_eq!(mails[0].subject, "Confirmez votre adresse e-mail");
    assert!(mails[0].text.contains("Bonjour zoé"));
    assert_eq!(app.count("SELECT count(*) FROM members WHERE locale = 'fr'"), 1);
}

#[tokio::test]
async fn registration_is_rate_limited_per_ip() {
    let app = TestApp::spawn().await;
    // Invalid registrations count too: the limit is on attempts.
    for i in 0..10 {
        let response = app.register(&format!("bad,{i}"), "x@example.com").await;
        assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY);
    }
    let limited = app.register("frank", "frank@example.com").await;
    limited.assert_problem(429, "rate_limited");
    assert!(limited.headers.get("retry-after").is_some());
    assert_eq!(app.count("SELECT count(*) FROM members WHERE NOT is_system"), 0);
}

#[tokio::test]
async fn me_needs_a_live_session_and_shows_the_own_account() {
    let app = TestApp::spawn().await;
    app.get("/v1/members/me", None)
        .await
        .assert_problem(401, "missing_credentials");
    let anonymous = app.get("/v1/members/me", None).await;
    assert!(
        anonymous
            .headers
            .get("www-authenticate")
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );
    app.get("/v1/members/me", Some("not-a-jwt"))
        .await
        .assert_problem(401, "invalid_token");

    let grace = app.member("grace").await;
    let me = app.get("/v1/members/me", Some(&grace.access)).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["username"], "grace");
    assert_eq!(me.body["email"], "grace@example.com");
    assert_eq!(me.body["roles"], json!(["member"]));
    assert_eq!(me.body["is_active"], true);
    assert!(me.body["last_login_at"].is_string());
    assert!(me.body.get("password_hash").is_none());
}

#[tokio::test]
async fn emailed_links_follow_the_configured_template() {
    let template = "https://accounts.example/#/activate?t={token}";
    let app = TestApp::spawn_with(&[("MEMBERD_ACTIVATION_URL_TEMPLATE", template)]).await;
    assert_eq!(
        app.register("tess", "tess@example.com").await.status,
        StatusCode::ACCEPTED
    );
    let mail = app.inbox.wait_for("tess@example.com", 1).await.remove(0);
    let token = crate::helpers::link_token(&mail.text, "https://accounts.example/#/activate?t=");
    assert_eq!(token.len(), 43, "{}", mail.text);
    assert!(
        mail.html
            .contains(&format!("href=\"{}\"", template.replace("{token}", &token)))
    );
    let activated = app
        .post(&format!("/v1/tokens/registration/{token}"), None, json!({}))
        .await;
    assert_eq!(activated.status, StatusCode::OK, "{}", activated.body);
}

//! Account settings: password, username, e-mail; reset; unregistration; export.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, link_token};

const NEW_PASSWORD: &str = "a brand new passphrase";

#[tokio::test]
async fn changing_the_password_keeps_this_session_and_ends_the_others() {
    let app = TestApp::spawn().await;
    let here = app.member("hana").await;
    let elsewhere = app.login("hana", PASSWORD).await;
    let change =
        |current: &str, new: &str| json!({"current_password": current, "password": new, "password_confirmation": new});

    let wrong = app
        .request(
            Method::PUT,
            "/v1/members/me/password",
            Some(&here.access),
            Some(change("nope nope", NEW_PASSWORD)),
        )
        .await;
    wrong.assert_problem(422, "validation_failed");
    assert_eq!(
        wrong.field_codes(),
        [("current_password".to_string(), "incorrect".to_string())]
    );
    let weak = app
        .request(
            Method::PUT,
            "/v1/members/me/password",
            Some(&here.access),
            Some(change(PASSWORD, "password1")),
        )
        .await;
    assert_eq!(weak.field_codes(), [("password".to_string(), "too_common".to_string())]);
    app.request(
        Method::PUT,
        "/v1/members/me/password",
        None,
        Some(change(PASSWORD, NEW_PASSWORD)),
    )
    .await
    .assert_problem(401, "missing_credentials");

    let done = app
        .request(
            Method::PUT,
            "/v1/members/me/password",
            Some(&here.access),
            Some(change(PASSWORD, NEW_PASSWORD)),
        )
        .await;
    assert_eq!(done.status, StatusCode::NO_CONTENT, "{}", done.body);
    assert_eq!(
        app.get("/v1/members/me", Some(&here.access)).await.status,
        StatusCode::OK
    );
    app.get("/v1/members/me", Some(&elsewhere.access))
        .await
        .assert_problem(401, "session_revoked");
    app.post("/v1/auth/refresh", None, json!({"refresh_token": elsewhere.refresh}))
        .await
        .assert_problem(401, "invalid_refresh_token");
    app.post("/v1/auth/login", None, json!({"login": "hana", "password": PASSWORD}))
        .await
        .assert_problem(401, "invalid_credentials");
    app.login("hana", NEW_PASSWORD).await;
}

#[tokio::test]
async fn wrong_current_passwords_are_rate_limited() {
    let app = TestApp::spawn().await;
    let ivy = app.member("ivy").await;
    let body =
        json!({"current_password": "guess guess", "password": NEW_PASSWORD, "password_confirmation": NEW_PASSWORD});
    for _ in 0..10 {
        let r = app
            .request(
                Method::PUT,
                "/v1/members/me/password",
                Some(&ivy.access),
                Some(body.clone()),
            )
            .await;
        r.assert_problem(422, "validation_failed");
    }
    app.request(Method::PUT, "/v1/members/me/password", Some(&ivy.access), Some(body))
        .await
        .assert_problem(429, "rate_limited");
}

#[tokio::test]
async fn renaming_applies_at_once_and_is_remembered() {
    let app = TestApp::spawn().await;
    let jack = app.member("jack").await;
    app.member("jill").await;
    let rename = |name: &str| json!({"current_password": PASSWORD, "username": name});

    let taken = app
        .patch("/v1/members/me/account", Some(&jack.access), rename("JILL"))
        .await;
    assert_eq!(taken.field_codes(), [("username".to_string(), "taken".to_string())]);
    let confusable = app
        .patch("/v1/members/me/account", Some(&jack.access), rename("ji11"))
        .await;
    assert_eq!(
        confusable.field_codes(),
        [("username".to_string(), "confusable".to_string())]
    );
    let bad = app
        .patch("/v1/members/me/account", Some(&jack.access), rename("a,b"))
        .await;
    assert_eq!(
        bad.field_codes(),
        [("username".to_string(), "contains_comma".to_string())]
    );
    let wrong = app
        .patch(
            "/v1/members/me/account",
            Some(&jack.access),
            json!({"current_password": "x", "username": "jacques"}),
        )
        .await;
    assert_eq!(
        wrong.field_codes(),
        [("current_password".to_string(), "incorrect".to_string())]
    );
    app.patch(
        "/v1/members/me/account",
        Some(&jack.access),
        json!({"current_password": PASSWORD}),
    )
    .await
    .assert_problem(422, "validation_failed");

    // The member's own name is no obstacle: a change of case is a rename.
    let cased = app
        .patch("/v1/members/me/account", Some(&jack.access), rename("Jack"))
        .await;
    assert_eq!(cased.status, StatusCode::OK, "{}", cased.body);
    let renamed = app
        .patch("/v1/members/me/account", Some(&jack.access), rename("jacques"))
        .await;
    assert_eq!(renamed.status, StatusCode::OK);
    assert_eq!(renamed.body["member"]["username"], "jacques");
    assert_eq!(renamed.body["email_confirmation_sent"], false);

    assert_eq!(app.get("/v1/members/jacques", None).await.status, StatusCode::OK);
    app.get("/v1/members/jack", None)
        .await
        .assert_problem(404, "member_not_found");
    app.login("jacques", PASSWORD).await;
    assert_eq!(app.count("SELECT count(*) FROM username_history"), 2);
    assert_eq!(
        app.count("SELECT count(*) FROM events WHERE event_type = 'member.username_changed'"),
        2
    );
    let export = app.get("/v1/members/me/export", Some(&jack.access)).await;
    assert_eq!(
        export.body["username_history"][0],
        json!({"old_username": "Jack", "new_username": "jacques", "changed_at": export.body["username_history"][0]["changed_at"]})
    );
}

#[tokio::test]
async fn a_new_address_replaces_the_old_one_only_once_confirmed() {
    let app = TestApp::spawn().await;
    let kate = app.member("kate").await;
    app.member("taken").await;

    let asked = app
        .patch(
            "/v1/members/me/account",
            Some(&kate.access),
            json!({"current_password": PASSWORD, "email": "kate@new.example.org"}),
        )
        .await;
    assert_eq!(asked.status, StatusCode::ACCEPTED, "{}", asked.body);
    assert_eq!(asked.body["email_confirmation_sent"], true);
    assert_eq!(asked.body["member"]["email"], "kate@example.com");

    let confirmation = app.inbox.wait_for("kate@new.example.org", 1).await;
    let token = link_token(&confirmation[0].text, "email-change/");
    let notice = app.inbox.wait_for("kate@example.com", 2).await;
    assert!(notice[1].subject.contains("change of e-mail"), "{}", notice[1].subject);

    // A taken address: the same answer, and nothing is sent or changed.
    let same = app
        .patch(
            "/v1/members/me/account",
            Some(&kate.access),
            json!({"current_password": PASSWORD, "email": "TAKEN@example.com"}),
        )
        .await;
    assert_eq!(
        (same.status, same.body["email_confirmation_sent"].clone()),
        (StatusCode::ACCEPTED, json!(true))
    );
    // Only its own activation mail, from when it registered.
    app.inbox.assert_quiet("taken@example.com", 1).await;
    let forbidden = app
        .patch(
            "/v1/members/me/account",
            Some(&kate.access),
            json!({"current_password": PASSWORD, "email": "k@mailinator.com"}),
        )
        .await;
    assert_eq!(
        forbidden.field_codes(),
        [("email".to_string(), "forbidden_domain".to_string())]
    );

    let confirmed = app
        .post(&format!("/v1/tokens/email-change/{token}"), None, json!({}))
        .await;
    assert_eq!(confirmed.status, StatusCode::NO_CONTENT, "{}", confirmed.body);
    assert_eq!(
        app.get("/v1/members/me", Some(&kate.access)).await.body["email"],
        "kate@new.example.org"
    );
    app.login("kate@new.example.org", PASSWORD).await;
    assert_eq!(
        app.count("SELECT count(*) FROM events WHERE event_type = 'member.email_changed'"),
        1
    );
    app.post(&format!("/v1/tokens/email-change/{token}"), None, json!({}))
        .await
        .assert_problem(410, "token_used");
    app.post("/v1/tokens/email-change/unknown", None, json!({}))
        .await
        .assert_problem(404, "token_not_found");
}

#[tokio::test]
async fn a_reset_link_can_be_checked_any_number_of_times_and_used_once() {
    let app = TestApp::spawn().await;
    let leo = app.member("leo").await;
    let other_session = app.login("leo", PASSWORD).await;

    for login in ["leo", "nobody-here"] {
        let response = app
            .post("/v1/tokens/password-reset", None, json!({"login": login}))
            .await;
        assert_eq!(
            (response.status, response.body.clone()),
            (StatusCode::ACCEPTED, json!({"status": "accepted"}))
        );
    }
    let mails = app.inbox.wait_for("leo@example.com", 2).await;
    let token = link_token(&mails[1].text, "password-reset/");
    assert!(mails[1].text.contains("http://front.test/app/password-reset/"));
    assert_eq!(app.inbox.all().len(), 2, "no mail for an unknown login");

    for _ in 0..3 {
        let check = app.get(&format!("/v1/tokens/password-reset/{token}"), None).await;
        assert_eq!(check.status, StatusCode::NO_CONTENT);
    }
    let weak = app
        .post(
            &format!("/v1/tokens/password-reset/{token}"),
            None,
            json!({"password": "leo", "password_confirmation": "leo"}),
        )
        .await;
    weak.assert_problem(422, "validation_failed");
    assert_eq!(
        app.get(&format!("/v1/tokens/password-reset/{token}"), None)
            .await
            .status,
        StatusCode::NO_CONTENT,
        "a refused password does not use the token"
    );

    let set = app
        .post(
            &format!("/v1/tokens/password-reset/{token}"),
            None,
            json!({"password": NEW_PASSWORD, "password_confirmation": NEW_PASSWORD}),
        )
        .await;
    assert_eq!(set.status, StatusCode::NO_CONTENT, "{}", set.body);
    app.get("/v1/members/me", Some(&leo.access))
        .await
        .assert_problem(401, "session_revoked");
    app.get("/v1/members/me", Some(&other_session.access))
        .await
        .assert_problem(401, "session_revoked");
    app.login("leo", NEW_PASSWORD).await;

    app.get(&format!("/v1/tokens/password-reset/{token}"), None)
        .await
        .assert_problem(410, "token_used");
    let again = app
        .post(
            &format!("/v1/tokens/password-reset/{token}"),
            None,
            json!({"password": PASSWORD, "password_confirmation": PASSWORD}),
        )
        .await;
    again.assert_problem(410, "token_used");
    app.get("/v1/tokens/password-reset/nope", None)
        .await
        .assert_problem(404, "token_not_found");
}

#[tokio::test]
async fn reset_links_expire_and_requests_are_rate_limited() {
    let app = TestApp::spawn().await;
    app.member("mona").await;
    app.post("/v1/tokens/password-reset", None, json!({"login": "mona@example.com"}))
        .await;
    let token = link_token(
        &app.inbox.wait_for("mona@example.com", 2).await[1].text,
        "password-reset/",
    );
    app.clock.advance(chrono::Duration::minutes(61));
    app.get(&format!("/v1/tokens/password-reset/{token}"), None)
        .await
        .assert_problem(410, "token_expired");

    // The earlier request's window has passed: ten more are allowed.
    for _ in 0..10 {
        assert_eq!(
            app.post("/v1/tokens/password-reset", None, json!({"login": "someone"}))
                .await
                .status,
            StatusCode::ACCEPTED
        );
    }
    let limited = app
        .post("/v1/tokens/password-reset", None, json!({"login": "someone"}))
        .await;
    limited.assert_problem(429, "rate_limited");
    app.post("/v1/tokens/password-reset", None, json!({"login": ""}))
        .await
        .assert_problem(422, "validation_failed");
}

#[tokio::test]
async fn unregistration_leaves_no_trace_of_the_member() {
    let app = TestApp::spawn_with(&[("MEMBERD_TRUSTED_PROXIES", "127.0.0.1")]).await;
    let ip = "198.51.100.231";
    // A distinctive name, address and IP, used everywhere they can be.
    app.request_from(ip, Method::POST, "/v1/members", None, Some(json!({
        "username": "Quetzalcoatl", "email": "quetzal@feathers.example.org", "password": PASSWORD, "password_confirmation": PASSWORD
    }))).await;
    let token = app.activation_token("quetzal@feathers.example.org", 1).await;
    app.request_from(
        ip,
        Method::POST,
        &format!("/v1/tokens/registration/{token}"),
        None,
        None,
    )
    .await;
    let login = json!({"login": "quetzalcoatl", "password": PASSWORD});
    let session: Value = app
        .request_from(ip, Method::POST, "/v1/auth/login", None, Some(login.clone()))
        .await
        .body;
    let access = session["access_token"].as_str().unwrap().to_string();
    app.request_from(
        ip,
        Method::POST,
        "/v1/auth/login",
        None,
        Some(json!({"login": "quetzalcoatl", "password": "wrong password"})),
    )
    .await;
    app.request_from(
        ip,
        Method::POST,
        "/v1/tokens/password-reset",
        None,
        Some(json!({"login": "Quetzalcoatl"})),
    )
    .await;
    app.patch(
        "/v1/members/me",
        Some(&access),
        json!({"biography": "Feathered.", "signature": "Quetzalcoatl"}),
    )
    .await;
    app.patch(
        "/v1/members/me/account",
        Some(&access),
        json!({"current_password": PASSWORD, "username": "Quetzal", "email": "quetzal@new.example.org"}),
    )
    .await;
    app.inbox.wait_for("quetzal@new.example.org", 1).await;

    let summary = app.get("/v1/members/me/unregistration", Some(&access)).await;
    assert_eq!(summary.status, StatusCode::OK);
    let deleted = summary.body["deleted"].as_array().unwrap();
    let count_of = |what: &str| {
        deleted.iter().find(|d| d["what"] == what).unwrap()["count"]
            .as_i64()
            .unwrap()
    };
    assert_eq!(count_of("sessions"), 2);
    assert_eq!(count_of("ip_records"), 1);
    assert_eq!(count_of("username_history"), 1);

    let wrong = app
        .request(
            Method::DELETE,
            "/v1/members/me",
            Some(&access),
            Some(json!({"password": "not it"})),
        )
        .await;
    assert_eq!(wrong.field_codes(), [("password".to_string(), "incorrect".to_string())]);
    app.request(
        Method::DELETE,
        "/v1/members/me",
        None,
        Some(json!({"password": PASSWORD})),
    )
    .await
    .assert_problem(401, "missing_credentials");
    let gone = app
        .request(
            Method::DELETE,
            "/v1/members/me",
            Some(&access),
            Some(json!({"password": PASSWORD})),
        )
        .await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT, "{}", gone.body);

    app.get("/v1/members/me", Some(&access))
        .await
        .assert_problem(401, "session_revoked");
    app.get("/v1/members/Quetzal", None)
        .await
        .assert_problem(404, "member_not_found");
    assert_eq!(
        app.count("SELECT count(*) FROM events WHERE event_type = 'member.unregistered'"),
        1
    );

    for needle in ["quetzal", "feathers.example", "new.example.org", ip] {
        assert_eq!(app.places_holding(needle), Vec::<String>::new(), "{needle}");
    }

    // The name and address are free again.
    assert_eq!(
        app.register("Quetzalcoatl", "quetzal@feathers.example.org")
            .await
            .status,
        StatusCode::ACCEPTED
    );
    assert_eq!(
        app.count("SELECT count(*) FROM members WHERE username = 'Quetzalcoatl'"),
        1
    );
}

#[tokio::test]
async fn the_export_holds_the_members_data() {
    let app = TestApp::spawn().await;
    let nora = app.member("nora").await;
    app.get("/v1/members/me/export", None)
        .await
        .assert_problem(401, "missing_credentials");
    app.get("/v1/members/me/unregistration", None)
        .await
        .assert_problem(401, "missing_credentials");
    let export = app.get("/v1/members/me/export", Some(&nora.access)).await;
    assert_eq!(export.status, StatusCode::OK);
    assert_eq!(export.body["account"]["email"], "nora@example.com");
    assert_eq!(
        export.body["sessions"].as_array().unwrap().len(),
        2,
        "activation and login"
    );
    assert_eq!(export.body["ips"][0]["ip"], "127.0.0.1");
    assert_eq!(export.body["username_history"], json!([]));
    assert!(
        export.headers["content-disposition"]
            .to_str()
            .unwrap()
            .contains("attachment")
    );
}

#[tokio::test]
async fn ip_records_are_kept_only_for_the_retention_period() {
    let app = TestApp::spawn_with(&[("MEMBERD_IP_RETENTION_DAYS", "30")]).await;
    let olga = app.member("olga").await;
    app.execute(&format!(
        "INSERT INTO member_ips VALUES ({0}, '203.0.113.9', now() - interval '90 days', now() - interval '31 days'), \
         ({0}, '203.0.113.10', now() - interval '90 days', now() - interval '29 days')",
        olga.id
    ));
    let pruned = memberd::members::account::prune_ip_records(&app.state, app.clock.now())
        .await
        .unwrap();
    assert_eq!(pruned, 1);
    let ips: Vec<String> = app.get("/v1/members/me/export", Some(&olga.access)).await.body["ips"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["ip"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ips, ["127.0.0.1", "203.0.113.10"]);
}

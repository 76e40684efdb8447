//! Account security (issue 14): the takeover paths and throttling gaps an
//! attacker would try, each closed and proven so over HTTP.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{PASSWORD, Session, TestApp, TestDatabase, link_token};
use crate::pg_proxy::PgProxy;
use crate::process::Process;

const NEW_PASSWORD: &str = "a brand new passphrase";

/// A superuser, logged in.
async fn superuser(app: &TestApp, name: &str) -> Session {
    let admin = app.member(name).await;
    app.make_superuser(admin.id);
    admin
}

async fn set_active(app: &TestApp, admin: &Session, who: &str, active: bool) {
    let answer = app
        .request(
            Method::PUT,
            &format!("/v1/members/{who}/roles"),
            Some(&admin.access),
            Some(json!({"groups": [], "staff": false, "superuser": false, "active": active})),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
}

async fn attempt(app: &TestApp, login: &str, password: &str) -> crate::helpers::Response {
    app.post("/v1/auth/login", None, json!({"login": login, "password": password}))
        .await
}

/// The newest reset link among the first `nth` mails to `email`. Each mail
/// is sent on its own once its change commits, so a notice sent just before
/// a reset mail may arrive just after it: the order of the last two is not
/// the order of the requests.
async fn reset_token(app: &TestApp, email: &str, nth: usize) -> String {
    let mails = app.inbox.wait_for(email, nth).await;
    let with_token = |text: &str| {
        text.split("password-reset/")
            .skip(1)
            // Tokens are URL-safe base64: they may start with `-` or `_`.
            .any(|rest| rest.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
    };
    let mail = mails[..nth]
        .iter()
        .rev()
        .find(|mail| with_token(&mail.text))
        .expect("a reset link");
    link_token(&mail.text, "password-reset/")
}

// Item 1: a deactivated member stays out, whatever they do alone.
#[tokio::test]
async fn a_deactivated_member_cannot_bring_their_account_back() {
    let app = TestApp::spawn().await;
    let admin = superuser(&app, "root").await;
    let bob = app.member("bob").await;
    // A second account, registered but never validated, with its link in hand.
    assert_eq!(
        app.register("carol", "carol@example.com").await.status,
        StatusCode::ACCEPTED
    );
    let carol_link = app.activation_token("carol@example.com", 1).await;
    // A reset link bob asked for before he was deactivated.
    app.post("/v1/tokens/password-reset", None, json!({"login": "bob"}))
        .await;
    let old_reset = reset_token(&app, "bob@example.com", 2).await;

    set_active(&app, &admin, "bob", false).await;
    set_active(&app, &admin, "carol", false).await;
    app.get("/v1/members/me", Some(&bob.access))
        .await
        .assert_problem(401, "session_revoked");

    // A correct password tells him why; a wrong one tells nothing.
    attempt(&app, "bob", PASSWORD)
        .await
        .assert_problem(403, "account_disabled");
    attempt(&app, "bob", "not his password")
        .await
        .assert_problem(401, "invalid_credentials");

    // Resend answers as for any address, and sends nothing.
    let mails_before = app.inbox.to("bob@example.com").len();
    let resend = app
        .post("/v1/tokens/registration", None, json!({"email": "bob@example.com"}))
        .await;
    assert_eq!(resend.status, StatusCode::ACCEPTED);
    // Nor does a reset request.
    let reset = app
        .post("/v1/tokens/password-reset", None, json!({"login": "bob"}))
        .await;
    assert_eq!(reset.status, StatusCode::ACCEPTED);
    app.inbox.assert_quiet("bob@example.com", mails_before).await;

    // Links sent before the deactivation open nothing.
    app.post(&format!("/v1/tokens/registration/{carol_link}"), None, json!({}))
        .await
        .assert_problem(404, "token_not_found");
    app.post(
        &format!("/v1/tokens/password-reset/{old_reset}"),
        None,
        json!({"password": NEW_PASSWORD, "password_confirmation": NEW_PASSWORD}),
    )
    .await
    .assert_problem(404, "token_not_found");
    assert_eq!(
        app.count("SELECT count(*) FROM events WHERE event_type = 'member.activated' AND member_id IN (SELECT id FROM members WHERE username = 'carol')"),
        0
    );
    attempt(&app, "bob", PASSWORD)
        .await
        .assert_problem(403, "account_disabled");

    // Only a superuser brings the account back.
    set_active(&app, &admin, "bob", true).await;
    app.login("bob", PASSWORD).await;
}

// Item 1, the two states: never validated, then deactivated.
#[tokio::test]
async fn never_validated_and_deactivated_are_told_apart() {
    let app = TestApp::spawn().await;
    let admin = superuser(&app, "root").await;
    assert_eq!(
        app.register("dora", "dora@example.com").await.status,
        StatusCode::ACCEPTED
    );
    attempt(&app, "dora", PASSWORD)
        .await
        .assert_problem(403, "account_inactive");
    set_active(&app, &admin, "dora", false).await;
    attempt(&app, "dora", PASSWORD)
        .await
        .assert_problem(403, "account_disabled");
    set_active(&app, &admin, "dora", true).await;
    app.login("dora", PASSWORD).await;
}

// Item 2: a pending e-mail change dies with the password it was asked with.
#[tokio::test]
async fn a_password_reset_voids_a_pending_email_change() {
    let app = TestApp::spawn().await;
    let victim = app.member("vera").await;
    // The attacker, with the stolen password, asks for their own address.
    let asked = app
        .patch(
            "/v1/members/me/account",
            Some(&victim.access),
            json!({"current_password": PASSWORD, "email": "attacker@evil.example.org"}),
        )
        .await;
    assert_eq!(asked.status, StatusCode::ACCEPTED, "{}", asked.body);
    let change = link_token(
        &app.inbox.wait_for("attacker@evil.example.org", 1).await[0].text,
        "email-change/",
    );
    app.post("/v1/tokens/password-reset", None, json!({"login": "vera"}))
        .await;
    // activation, e-mail change notice, reset link
    let reset = reset_token(&app, "vera@example.com", 3).await;
    let used = app
        .post(
            &format!("/v1/tokens/password-reset/{reset}"),
            None,
            json!({"password": NEW_PASSWORD, "password_confirmation": NEW_PASSWORD}),
        )
        .await;
    assert_eq!(used.status, StatusCode::NO_CONTENT, "{}", used.body);

    app.post(&format!("/v1/tokens/email-change/{change}"), None, json!({}))
        .await
        .assert_problem(404, "token_not_found");
    let me = app.login("vera", NEW_PASSWORD).await;
    assert_eq!(
        app.get("/v1/members/me", Some(&me.access)).await.body["email"],
        "vera@example.com"
    );
}

// Item 2: the same after a password change, and reset links sent to an old
// address die when a new one is confirmed.
#[tokio::test]
async fn a_password_change_and_a_new_address_void_the_links_sent_before() {
    let app = TestApp::spawn().await;
    let member = app.member("wanda").await;
    app.patch(
        "/v1/members/me/account",
        Some(&member.access),
        json!({"current_password": PASSWORD, "email": "wanda@elsewhere.example.org"}),
    )
    .await;
    let change = link_token(
        &app.inbox.wait_for("wanda@elsewhere.example.org", 1).await[0].text,
        "email-change/",
    );
    app.post("/v1/tokens/password-reset", None, json!({"login": "wanda"}))
        .await;
    let reset = reset_token(&app, "wanda@example.com", 3).await;
    let changed = app
        .request(
            Method::PUT,
            "/v1/members/me/password",
            Some(&member.access),
            Some(
                json!({"current_password": PASSWORD, "password": NEW_PASSWORD, "password_confirmation": NEW_PASSWORD}),
            ),
        )
        .await;
    assert_eq!(changed.status, StatusCode::NO_CONTENT, "{}", changed.body);
    app.post(&format!("/v1/tokens/email-change/{change}"), None, json!({}))
        .await
        .assert_problem(404, "token_not_found");
    app.get(&format!("/v1/tokens/password-reset/{reset}"), None)
        .await
        .assert_problem(404, "token_not_found");

    // A reset link to the old address, then the new address confirmed.
    app.post("/v1/tokens/password-reset", None, json!({"login": "wanda"}))
        .await;
    // activation, change notice, reset, password notice, reset
    let reset = reset_token(&app, "wanda@example.com", 5).await;
    app.patch(
        "/v1/members/me/account",
        Some(&member.access),
        json!({"current_password": NEW_PASSWORD, "email": "wanda@elsewhere.example.org"}),
    )
    .await;
    let change = link_token(
        &app.inbox.wait_for("wanda@elsewhere.example.org", 2).await[1].text,
        "email-change/",
    );
    let confirmed = app
        .post(&format!("/v1/tokens/email-change/{change}"), None, json!({}))
        .await;
    assert_eq!(confirmed.status, StatusCode::NO_CONTENT, "{}", confirmed.body);
    app.get(&format!("/v1/tokens/password-reset/{reset}"), None)
        .await
        .assert_problem(404, "token_not_found");
}

// Item 3: a login verified against the old password, committing after a
// reset, opens no session.
#[tokio::test(flavor = "multi_thread")]
async fn a_login_that_loses_a_race_with_a_reset_opens_no_session() {
    use diesel::prelude::*;
    let app = TestApp::spawn().await;
    let member = app.member("rita").await;
    // Another transaction holds the member's row, as a reset in progress does.
    let mut reset = app.db();
    let run = |conn: &mut diesel::PgConnection, sql: String| {
        diesel::sql_query(sql).execute(conn).unwrap();
    };
    run(&mut reset, "BEGIN".into());
    run(
        &mut reset,
        format!("SELECT id FROM members WHERE id = {} FOR UPDATE", member.id),
    );
    let login = tokio::spawn({
        let (client, address) = (app.client.clone(), app.address.clone());
        async move {
            let response = client
                .post(format!("{address}/v1/auth/login"))
                .json(&json!({"login": "rita", "password": PASSWORD}))
                .send()
                .await
                .unwrap();
            TestApp::read(response).await
        }
    });
    // Until the login has checked the password and waits for the row.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while app.count(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
         AND wait_event_type = 'Lock' AND query LIKE '%UPDATE members SET last_login_at%'",
    ) == 0
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the login never reached the member's row"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The reset: a new password, every session ended.
    run(
        &mut reset,
        format!(
            "UPDATE members SET password_hash = '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA' \
             WHERE id = {}",
            member.id
        ),
    );
    run(
        &mut reset,
        format!(
            "UPDATE sessions SET revoked_at = now(), revoked_reason = 'password_reset' WHERE member_id = {}",
            member.id
        ),
    );
    run(&mut reset, "COMMIT".into());
    login.await.unwrap().assert_problem(401, "invalid_credentials");
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM sessions WHERE member_id = {} AND revoked_at IS NULL",
            member.id
        )),
        0
    );
}

// Item 16: every password change and reset is told to the member, with no
// token in the notice.
#[tokio::test]
async fn the_member_is_told_when_their_password_changes() {
    let app = TestApp::spawn().await;
    let member = app.member("nina").await;
    let changed = app
        .request(
            Method::PUT,
            "/v1/members/me/password",
            Some(&member.access),
            Some(
                json!({"current_password": PASSWORD, "password": NEW_PASSWORD, "password_confirmation": NEW_PASSWORD}),
            ),
        )
        .await;
    assert_eq!(changed.status, StatusCode::NO_CONTENT);
    let mails = app.inbox.wait_for("nina@example.com", 2).await;
    assert_eq!(mails[1].subject, "Your password was changed");
    assert!(
        mails[1].text.contains("http://front.test/app/password-reset"),
        "{}",
        mails[1].text
    );
    assert!(!mails[1].text.contains("password-reset/"), "{}", mails[1].text);

    // In French for a French member, after a reset.
    let me = app.login("nina", NEW_PASSWORD).await;
    app.patch("/v1/members/me", Some(&me.access), json!({"locale": "fr"}))
        .await;
    app.post("/v1/tokens/password-reset", None, json!({"login": "nina"}))
        .await;
    let reset = reset_token(&app, "nina@example.com", 3).await;
    app.post(
        &format!("/v1/tokens/password-reset/{reset}"),
        None,
        json!({"password": PASSWORD, "password_confirmation": PASSWORD}),
    )
    .await;
    let mails = app.inbox.wait_for("nina@example.com", 4).await;
    assert_eq!(mails[3].subject, "Votre mot de passe a été modifié");
    assert!(!mails[3].text.contains(&reset) && !mails[3].html.contains(&reset));
    assert!(!mails[3].text.contains("password-reset/"), "{}", mails[3].text);
}

// Item 12: refreshing keeps a session alive, but never past its maximum age
// (90 days by default) from its login.
#[tokio::test]
async fn sessions_end_at_their_maximum_age_whatever_the_refreshes() {
    let app = TestApp::spawn().await;
    app.member("sam").await;
    let login = app
        .post(
            "/v1/auth/login",
            None,
            json!({"login": "sam", "password": PASSWORD, "remember_me": true}),
        )
        .await;
    let mut refresh = login.body["refresh_token"].as_str().unwrap().to_string();
    for _ in 0..3 {
        app.clock.advance(chrono::Duration::days(29));
        let renewed = app
            .post("/v1/auth/refresh", None, json!({"refresh_token": refresh}))
            .await;
        assert_eq!(renewed.status, StatusCode::OK, "{}", renewed.body);
        refresh = renewed.body["refresh_token"].as_str().unwrap().to_string();
        let left = renewed.body["refresh_expires_in"].as_i64().unwrap();
        assert!(left <= 30 * 86_400, "{left}");
    }
    // 87 days in: three days are left, whatever the refresh lifetime says.
    app.clock.advance(chrono::Duration::days(3));
    app.post("/v1/auth/refresh", None, json!({"refresh_token": refresh}))
        .await
        .assert_problem(401, "session_expired");
}

#[tokio::test]
async fn a_short_maximum_age_caps_the_refresh_lifetime() {
    let app = TestApp::spawn_with(&[("MEMBERD_SESSION_MAX_AGE", "2d")]).await;
    let session = app.member("tom").await;
    app.clock.advance(chrono::Duration::hours(20));
    let renewed = app
        .post("/v1/auth/refresh", None, json!({"refresh_token": session.refresh}))
        .await;
    assert_eq!(renewed.body["refresh_expires_in"], 24 * 3_600);
    app.clock.advance(chrono::Duration::hours(20));
    let renewed = app
        .post(
            "/v1/auth/refresh",
            None,
            json!({"refresh_token": renewed.body["refresh_token"]}),
        )
        .await;
    assert_eq!(renewed.status, StatusCode::OK, "{}", renewed.body);
    // What is left of the two days since the login (a few milliseconds passed for real).
    let left = renewed.body["refresh_expires_in"].as_i64().unwrap();
    assert!((8 * 3_600 - 60..=8 * 3_600).contains(&left), "{left}");
    // Its access token works until its own end…
    let access = renewed.body["access_token"].as_str().unwrap();
    assert_eq!(app.get("/v1/members/me", Some(access)).await.status, StatusCode::OK);
    app.clock.advance(chrono::Duration::hours(8));
    app.post(
        "/v1/auth/refresh",
        None,
        json!({"refresh_token": renewed.body["refresh_token"]}),
    )
    .await
    .assert_problem(401, "session_expired");
}

// Item 13: no cache on the way keeps an answer that carries tokens.
#[tokio::test]
async fn answers_that_carry_tokens_are_not_stored() {
    let app = TestApp::spawn().await;
    assert_eq!(
        app.register("una", "una@example.com").await.status,
        StatusCode::ACCEPTED
    );
    let link = app.activation_token("una@example.com", 1).await;
    let activated = app
        .post(&format!("/v1/tokens/registration/{link}"), None, json!({}))
        .await;
    let login = app
        .post("/v1/auth/login", None, json!({"login": "una", "password": PASSWORD}))
        .await;
    let refreshed = app
        .post(
            "/v1/auth/refresh",
            None,
            json!({"refresh_token": login.body["refresh_token"]}),
        )
        .await;
    for answer in [activated, login, refreshed] {
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        assert_eq!(answer.headers["cache-control"], "no-store");
    }
}

const PROXIED: &[(&str, &str)] = &[("MEMBERD_TRUSTED_PROXIES", "127.0.0.1")];

async fn register_from(app: &TestApp, ip: &str, username: &str, email: &str) -> crate::helpers::Response {
    app.request_from(
        ip,
        Method::POST,
        "/v1/members",
        None,
        Some(json!({"username": username, "email": email, "password": PASSWORD, "password_confirmation": PASSWORD})),
    )
    .await
}

// Item 4: a throwaway account's unregistration resets no counter that
// protects others.
#[tokio::test]
async fn unregistering_forgets_no_counter_kept_per_ip() {
    let app = TestApp::spawn_with(PROXIED).await;
    let ip = "198.51.100.40";
    let registered = register_from(&app, ip, "throwaway", "throwaway@example.com").await;
    assert_eq!(registered.status, StatusCode::ACCEPTED);
    let link = app.activation_token("throwaway@example.com", 1).await;
    let session = app
        .request_from(ip, Method::POST, &format!("/v1/tokens/registration/{link}"), None, None)
        .await;
    let access = session.body["access_token"].as_str().unwrap().to_string();
    // Password spraying from the same address, counted per IP.
    for n in 0..3 {
        let sprayed = app
            .request_from(
                ip,
                Method::POST,
                "/v1/auth/login",
                None,
                Some(json!({"login": format!("victim{n}"), "password": "Summer2026!"})),
            )
            .await;
        sprayed.assert_problem(401, "invalid_credentials");
    }
    // The address's registrations run out.
    for n in 1..10 {
        let more = register_from(&app, ip, &format!("spare{n}"), &format!("spare{n}@example.com")).await;
        assert_eq!(more.status, StatusCode::ACCEPTED, "{}", more.body);
    }
    register_from(&app, ip, "onemore", "onemore@example.com")
        .await
        .assert_problem(429, "rate_limited");
    let per_ip_counters = || app.count("SELECT count(*) FROM login_throttles WHERE scope = 'ip' AND failures > 0");
    assert_eq!(per_ip_counters(), 1);

    let gone = app
        .request_from(
            ip,
            Method::DELETE,
            "/v1/members/me",
            Some(&access),
            Some(json!({"password": PASSWORD})),
        )
        .await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT, "{}", gone.body);

    register_from(&app, ip, "onemore", "onemore@example.com")
        .await
        .assert_problem(429, "rate_limited");
    assert_eq!(per_ip_counters(), 1);
}

// Item 5: rotating addresses inside one IPv6 /64 escapes no per-IP limit.
#[tokio::test]
async fn ipv6_clients_are_counted_by_their_64_everywhere() {
    let app = TestApp::spawn_with(PROXIED).await;
    let address = |n: usize| format!("2001:db8:5:6::{n:x}");
    // Logins: five failures for one login from one client, then a wait.
    for n in 1..=5 {
        app.request_from(
            &address(n),
            Method::POST,
            "/v1/auth/login",
            None,
            Some(json!({"login": "ghost", "password": "guess guess"})),
        )
        .await
        .assert_problem(401, "invalid_credentials");
    }
    app.request_from(
        &address(6),
        Method::POST,
        "/v1/auth/login",
        None,
        Some(json!({"login": "ghost", "password": "guess guess"})),
    )
    .await
    .assert_problem(429, "too_many_attempts");
    // Another /64 is another client.
    app.request_from(
        "2001:db8:5:7::1",
        Method::POST,
        "/v1/auth/login",
        None,
        Some(json!({"login": "ghost", "password": "guess guess"})),
    )
    .await
    .assert_problem(401, "invalid_credentials");

    // Registration, resend and reset: ten an hour per client.
    for n in 1..=10 {
        let registered = register_from(&app, &address(n), &format!("six{n}"), &format!("six{n}@example.com")).await;
        assert_eq!(registered.status, StatusCode::ACCEPTED, "{}", registered.body);
        let resent = app
            .request_from(
                &address(100 + n),
                Method::POST,
                "/v1/tokens/registration",
                None,
                Some(json!({"email": format!("six{n}@example.com")})),
            )
            .await;
        assert_eq!(resent.status, StatusCode::ACCEPTED, "{}", resent.body);
        let reset = app
            .request_from(
                &address(200 + n),
                Method::POST,
                "/v1/tokens/password-reset",
                None,
                Some(json!({"login": format!("six{n}")})),
            )
            .await;
        assert_eq!(reset.status, StatusCode::ACCEPTED, "{}", reset.body);
    }
    register_from(&app, &address(11), "six11", "six11@example.com")
        .await
        .assert_problem(429, "rate_limited");
    app.request_from(
        &address(111),
        Method::POST,
        "/v1/tokens/registration",
        None,
        Some(json!({"email": "six11@example.com"})),
    )
    .await
    .assert_problem(429, "rate_limited");
    app.request_from(
        &address(211),
        Method::POST,
        "/v1/tokens/password-reset",
        None,
        Some(json!({"login": "six11"})),
    )
    .await
    .assert_problem(429, "rate_limited");
}

// Item 7: a proxy that appends its own X-Forwarded-For line is believed, not
// the client's line before it.
#[tokio::test]
async fn every_x_forwarded_for_line_is_read() {
    let app = TestApp::spawn_with(PROXIED).await;
    let member = app.member("xena").await;
    let response = app
        .client
        .post(format!("{}/v1/auth/login", app.address))
        .header("x-forwarded-for", "6.6.6.6")
        .header("x-forwarded-for", "203.0.113.77")
        .json(&json!({"login": "xena", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let ips = |ip: &str| {
        app.count(&format!(
            "SELECT count(*) FROM sessions WHERE member_id = {} AND ip = '{ip}'",
            member.id
        ))
    };
    assert_eq!((ips("203.0.113.77"), ips("6.6.6.6")), (1, 0));
}

// Item 11: "already registered" notices are capped per address.
#[tokio::test]
async fn already_registered_notices_are_capped_per_address() {
    let app = TestApp::spawn_with(PROXIED).await;
    app.member("yara").await;
    for n in 1..=6 {
        let again = register_from(
            &app,
            &format!("198.51.100.{n}"),
            &format!("flood{n}"),
            "yara@example.com",
        )
        .await;
        assert_eq!(again.status, StatusCode::ACCEPTED, "{}", again.body);
    }
    // Her activation mail, and three notices.
    app.inbox.wait_for("yara@example.com", 4).await;
    app.inbox.assert_quiet("yara@example.com", 4).await;
}

// Item 9: staff never read the private note of a sanction about themselves,
// nor what staff noted about them.
#[tokio::test]
async fn staff_never_read_private_notes_about_themselves() {
    let app = TestApp::spawn().await;
    let boss = superuser(&app, "boss").await;
    let moderator = app.member("mona").await;
    app.make_staff(moderator.id);
    let other = app.member("otto").await;
    let sanction = |who: &str, access: String, note: &'static str| {
        let app = &app;
        let path = format!("/v1/members/{who}/sanctions");
        async move {
            let answer = app
                .post(
                    &path,
                    Some(&access),
                    json!({"kind": "read_only", "reason": "Public reason", "private_note": note, "duration": "1d"}),
                )
                .await;
            assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
            answer.body["id"].as_i64().unwrap()
        }
    };
    sanction("otto", moderator.access.clone(), "NOTE-ABOUT-OTTO").await;
    let about_mona = sanction("mona", boss.access.clone(), "SECRET-NOTE").await;
    let karma = app
        .post(
            "/v1/members/mona/karma-notes",
            Some(&boss.access),
            json!({"note": "SECRET-KARMA", "karma": -5}),
        )
        .await;
    assert_eq!(karma.status, StatusCode::CREATED, "{}", karma.body);

    // Through every route that shows a sanction or a karma note.
    let mut seen = Vec::new();
    for path in [
        "/v1/members/mona/sanctions".to_string(),
        "/v1/members/me/sanctions".to_string(),
        format!("/v1/members/{}/sanctions", moderator.id),
        "/v1/sanctions".to_string(),
        "/v1/sanctions?active=true".to_string(),
        format!("/v1/sanctions/{about_mona}"),
        "/v1/members/mona/karma-notes".to_string(),
        "/v1/members/me/karma-notes".to_string(),
        "/v1/members/me/export".to_string(),
        "/v1/members/mona/status".to_string(),
    ] {
        let answer = app.get(&path, Some(&moderator.access)).await;
        assert_eq!(answer.status, StatusCode::OK, "{path}: {}", answer.body);
        seen.push((path, answer.body.to_string()));
    }
    let forgiven = app
        .post(
            &format!("/v1/sanctions/{about_mona}/forgiveness"),
            Some(&boss.access),
            json!({"reason": "Enough"}),
        )
        .await;
    assert_eq!(
        forgiven.body["private_note"], "SECRET-NOTE",
        "the moderator who gave it reads it"
    );
    for (path, body) in &seen {
        assert!(
            !body.contains("SECRET-NOTE") && !body.contains("SECRET-KARMA"),
            "{path}: {body}"
        );
    }
    // What staff note about others, they read.
    let listed = app.get("/v1/members/otto/sanctions", Some(&moderator.access)).await;
    assert_eq!(listed.body["items"][0]["private_note"], "NOTE-ABOUT-OTTO");
    let _ = other;
}

// Item 10: a superuser who made keys and hooks may unregister (they stay with
// the community); the last active superuser may not.
#[tokio::test]
async fn superusers_unregister_without_taking_keys_along_but_never_the_last() {
    let app = TestApp::spawn_with(&[("MEMBERD_WEBHOOK_ALLOW_PRIVATE", "true")]).await;
    let first = superuser(&app, "first").await;
    let second = superuser(&app, "second").await;
    let key = app
        .post(
            "/v1/service-clients",
            Some(&first.access),
            json!({"name": "forum", "scopes": ["status:read"]}),
        )
        .await;
    assert_eq!(key.status, StatusCode::CREATED, "{}", key.body);
    let hook = app
        .post(
            "/v1/webhooks",
            Some(&first.access),
            json!({"url": "http://127.0.0.1:9/hook", "events": ["member.registered"]}),
        )
        .await;
    assert_eq!(hook.status, StatusCode::CREATED, "{}", hook.body);
    let unregister = |access: String| {
        let app = &app;
        async move {
            app.request(
                Method::DELETE,
                "/v1/members/me",
                Some(&access),
                Some(json!({"password": PASSWORD})),
            )
            .await
        }
    };
    let gone = unregister(first.access.clone()).await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT, "{}", gone.body);
    // The key still works, and both are listed.
    let status = app.get("/v1/members/second/status", key.body["key"].as_str()).await;
    assert_eq!(status.status, StatusCode::OK, "{}", status.body);
    assert_eq!(
        app.get("/v1/service-clients", Some(&second.access)).await.body["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        app.get("/v1/webhooks", Some(&second.access)).await.body["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    unregister(second.access.clone())
        .await
        .assert_problem(409, "last_superuser");
    assert_eq!(
        app.get("/v1/members/me", Some(&second.access)).await.status,
        StatusCode::OK
    );
}

// Item 14: an e-mailed token in a log is a working link for whoever reads the
// log, and a forged X-Forwarded-For is not the client.
#[tokio::test]
async fn tokens_and_forged_addresses_never_reach_the_logs() {
    use diesel::prelude::*;
    let database = TestDatabase::create().await;
    let memberd = Process::serve(&database.url, &[]).await;
    let token = "tOkEnThatMustNeverBeLogged_0123456789abcdef";
    assert_eq!(token.len(), 43);
    // A 503 answer is logged inside the request's span: lose the database
    // connections the process holds until one request meets a lost one.
    let client = reqwest::Client::new();
    let mut statuses = Vec::new();
    for _ in 0..20 {
        let mut admin = diesel::PgConnection::establish(&database.url).unwrap();
        diesel::sql_query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
        )
        .execute(&mut admin)
        .unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        let answer = client
            .post(format!("{}/v1/tokens/password-reset/{token}", memberd.address))
            .header("x-forwarded-for", "6.6.6.6")
            .json(&json!({"password": NEW_PASSWORD, "password_confirmation": NEW_PASSWORD}))
            .send()
            .await
            .unwrap();
        statuses.push(answer.status().as_u16());
        if answer.status() == StatusCode::SERVICE_UNAVAILABLE {
            break;
        }
    }
    assert_eq!(
        statuses.last(),
        Some(&503),
        "no request met a lost connection: {statuses:?}"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    let logs = memberd.logs();
    let logged = logs
        .lines()
        .find(|line| line.contains("service unavailable") && line.contains("/v1/tokens/password-reset/"))
        .unwrap_or_else(|| panic!("the 503 was not logged: {logs}"));
    assert!(logged.contains("/v1/tokens/password-reset/[redacted]"), "{logged}");
    assert!(logged.contains("\"http.client_ip\":\"127.0.0.1\""), "{logged}");
    assert!(!logs.contains(token), "{logs}");
    assert!(!logs.contains("6.6.6.6"), "{logs}");
}

/// A TCP listener that answers every HTTP request with `status` and counts them.
async fn http_listener(status: &'static str) -> (u16, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(AtomicUsize::new(0));
    let counter = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buffer = [0u8; 16_384];
                let _ = socket.read(&mut buffer).await;
                let answer = format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
                let _ = socket.write_all(answer.as_bytes()).await;
            });
        }
    });
    (port, seen)
}

// Item 15: a proxy would resolve a hook's name itself, after memberd checked
// it: deliveries go direct, whatever the environment says.
#[tokio::test]
async fn webhook_deliveries_ignore_proxy_settings() {
    let database = TestDatabase::create().await;
    let (receiver, received) = http_listener("200 OK").await;
    let (proxy, proxied) = http_listener("502 Bad Gateway").await;
    let proxy_url = format!("http://127.0.0.1:{proxy}");
    let env = [
        ("MEMBERD_WEBHOOK_ALLOW_PRIVATE", "true"),
        ("MEMBERD_PASSWORD", PASSWORD),
        ("HTTP_PROXY", proxy_url.as_str()),
        ("http_proxy", proxy_url.as_str()),
        ("HTTPS_PROXY", proxy_url.as_str()),
        ("ALL_PROXY", proxy_url.as_str()),
        ("NO_PROXY", ""),
        ("no_proxy", ""),
    ];
    assert!(Process::run(
        &database.url,
        &env,
        &[
            "create-superuser",
            "--username",
            "admin",
            "--email",
            "admin@example.com"
        ]
    ));
    let memberd = Process::serve(&database.url, &env).await;
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let login: serde_json::Value = client
        .post(format!("{}/v1/auth/login", memberd.address))
        .json(&json!({"login": "admin", "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let access = login["access_token"].as_str().unwrap();
    let hook = client
        .post(format!("{}/v1/webhooks", memberd.address))
        .bearer_auth(access)
        .json(&json!({"url": format!("http://127.0.0.1:{receiver}/hook"), "events": ["member.registered"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(hook.status(), StatusCode::CREATED);
    let registered = client
        .post(format!("{}/v1/members", memberd.address))
        .json(&json!({"username": "zoe", "email": "zoe@example.com", "password": PASSWORD, "password_confirmation": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), StatusCode::ACCEPTED);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while received.load(Ordering::SeqCst) + proxied.load(Ordering::SeqCst) == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "nothing was delivered: {}",
            memberd.logs()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        (received.load(Ordering::SeqCst), proxied.load(Ordering::SeqCst)),
        (1, 0)
    );
}

// Item 15: addresses that lead inside, however they are written.
#[tokio::test]
async fn webhooks_to_addresses_that_lead_inside_are_refused() {
    let app = TestApp::spawn().await;
    let boss = superuser(&app, "boss").await;
    for host in [
        "[64:ff9b::7f00:1]",
        "[64:ff9b:1::5db8:d822]",
        "[::127.0.0.1]",
        "[::a00:1]",
        "192.0.0.8",
        "198.18.0.1",
        "240.0.0.1",
    ] {
        let refused = app
            .post(
                "/v1/webhooks",
                Some(&boss.access),
                json!({"url": format!("http://{host}/hook"), "events": ["member.registered"]}),
            )
            .await;
        assert_eq!(
            refused.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{host}: {}",
            refused.body
        );
        assert_eq!(
            refused.field_codes(),
            [("url".to_string(), "url_not_allowed".to_string())],
            "{host}"
        );
    }
    assert_eq!(app.count("SELECT count(*) FROM webhooks"), 0);
}

// Item 8: a listener connection that silently stops answering is noticed (no
// look answers), and memory stops being trusted; the listener may use a
// connection of its own (MEMBERD_LISTEN_DATABASE_URL).
#[tokio::test(flavor = "multi_thread")]
async fn a_listener_that_stops_hearing_is_not_trusted() {
    let database = TestDatabase::create().await;
    let mut listen_url = url::Url::parse(&database.url).unwrap();
    let upstream = format!(
        "{}:{}",
        listen_url.host_str().unwrap(),
        listen_url.port().unwrap_or(5432)
    );
    let proxy = PgProxy::start(upstream).await;
    listen_url.set_port(Some(proxy.port)).unwrap();
    let app = TestApp::spawn_on(database, &[("MEMBERD_LISTEN_DATABASE_URL", listen_url.as_str())]).await;
    // Start-up (migrations) and the listener go through the relay…
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while proxy.seen().1 == 0 {
        assert!(tokio::time::Instant::now() < deadline, "the listener never connected");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (at_start, listeners) = proxy.seen();
    assert_eq!(listeners, 1);
    let first = app.member("lisa").await;
    let second = app.login("lisa", PASSWORD).await;
    // …the pool does not.
    assert_eq!(proxy.seen(), (at_start, 1));

    let revoke = |session: &Session| {
        let claims = session.access.split('.').nth(1).unwrap();
        use base64::Engine;
        let claims: serde_json::Value =
            serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(claims).unwrap()).unwrap();
        // By hand, as another replica would: only the listener tells this one.
        diesel::RunQueryDsl::execute(
            diesel::sql_query(format!(
                "UPDATE sessions SET revoked_at = now(), revoked_reason = 'logout' WHERE id = '{}'",
                claims["sid"].as_str().unwrap()
            )),
            &mut app.db(),
        )
        .unwrap();
    };
    let until_refused = |session: &Session| {
        let access = session.access.clone();
        let app = &app;
        async move {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
            loop {
                let answer = app.get("/v1/members/me", Some(&access)).await;
                if answer.status == StatusCode::UNAUTHORIZED {
                    return;
                }
                assert!(tokio::time::Instant::now() < deadline, "still served: {}", answer.body);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    // While the relay delivers, a change is heard at once.
    assert_eq!(
        app.get("/v1/members/me", Some(&first.access)).await.status,
        StatusCode::OK
    );
    revoke(&first);
    until_refused(&first).await;

    // Silent: the change is not heard, memory would answer from before it…
    assert_eq!(
        app.get("/v1/members/me", Some(&second.access)).await.status,
        StatusCode::OK
    );
    let silence = proxy.silence();
    revoke(&second);
    // …until the missing heartbeats withdraw trust, within seconds.
    until_refused(&second).await;
    drop(silence);
}

// Item 8: a key's copy is kept no longer than a member's, whatever is heard.
#[tokio::test]
async fn cached_keys_have_a_maximum_age() {
    let app = TestApp::spawn().await;
    let boss = superuser(&app, "boss").await;
    let key = app
        .post(
            "/v1/service-clients",
            Some(&boss.access),
            json!({"name": "forum", "scopes": ["status:read"]}),
        )
        .await;
    let key = key.body["key"].as_str().unwrap().to_string();
    let status = "/v1/members/boss/status";
    // The key's creation is announced: heard after the key was cached, it
    // would drop it, and the revoked key would be read afresh below.
    app.caught_up().await;
    assert_eq!(app.get(status, Some(&key)).await.status, StatusCode::OK);
    // Revoked with the triggers off: no announcement, as if it were lost.
    let mut conn = app.db();
    for sql in [
        "SET session_replication_role = replica",
        "UPDATE service_clients SET revoked_at = now()",
    ] {
        diesel::RunQueryDsl::execute(diesel::sql_query(sql), &mut conn).unwrap();
    }
    assert_eq!(
        app.get(status, Some(&key)).await.status,
        StatusCode::OK,
        "served from memory"
    );
    app.clock.advance(memberd::cache::MAX_AGE);
    app.get(status, Some(&key)).await.assert_problem(401, "invalid_api_key");
}

// Item 6: a flood of logins from one address is refused at once past its
// share of the hashing queue, and leaves room for everyone else.
#[tokio::test(flavor = "multi_thread")]
async fn a_login_flood_from_one_address_is_refused_at_once_and_others_still_log_in() {
    let app = TestApp::spawn_with(PROXIED).await;
    app.member("carl").await;
    let flood: Vec<_> = (0..48)
        .map(|n| {
            let (client, address) = (app.client.clone(), app.address.clone());
            tokio::spawn(async move {
                let response = client
                    .post(format!("{address}/v1/auth/login"))
                    .header("x-forwarded-for", "203.0.113.66")
                    .json(&json!({"login": format!("nobody{n}"), "password": "a guess at last"}))
                    .send()
                    .await
                    .unwrap();
                TestApp::read(response).await
            })
        })
        .collect();
    let other = app
        .request_from(
            "198.51.100.99",
            Method::POST,
            "/v1/auth/login",
            None,
            Some(json!({"login": "carl", "password": PASSWORD})),
        )
        .await;
    assert_eq!(other.status, StatusCode::OK, "{}", other.body);
    let (mut busy, mut judged) = (0, 0);
    for answer in flood {
        let answer = answer.await.unwrap();
        if answer.status == StatusCode::SERVICE_UNAVAILABLE {
            answer.assert_problem(503, "busy");
            assert_eq!(answer.headers["retry-after"], "1");
            busy += 1;
        } else {
            answer.assert_problem(401, "invalid_credentials");
            judged += 1;
        }
    }
    assert!(busy > 0, "the queue took the whole flood");
    // A refusal for being busy judged no password: it counts as no failure.
    let key = app.state.ip_keys.key("203.0.113.66".parse().unwrap());
    assert_eq!(
        app.count(&format!(
            "SELECT coalesce(sum(failures), 0) FROM login_throttles WHERE scope = 'ip' AND ip = '{key}'"
        )),
        judged
    );
}

// Privacy: an IP older than MEMBERD_IP_RETENTION_DAYS is gone from every
// table, and so are the user agents and rotated refresh tokens of old sessions.
#[tokio::test]
async fn an_ip_older_than_the_retention_is_gone_from_every_table() {
    let app = TestApp::spawn_with(&[
        ("MEMBERD_TRUSTED_PROXIES", "127.0.0.1"),
        ("MEMBERD_IP_RETENTION_DAYS", "30"),
    ])
    .await;
    let old_ip = "203.0.113.171";
    let from_old = |method: Method, path: &str, token: Option<&str>, body: Option<serde_json::Value>| {
        let (app, path, token) = (&app, path.to_string(), token.map(String::from));
        async move {
            let mut request = app
                .client
                .request(method, format!("{}{path}", app.address))
                .header("x-forwarded-for", old_ip)
                .header("user-agent", "RetainedAgent/1.0");
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            if let Some(body) = body {
                request = request.json(&body);
            }
            TestApp::read(request.send().await.unwrap()).await
        }
    };
    // Everything a member and a moderator do from that address.
    let registered = register_from(&app, old_ip, "olaf", "olaf@example.com").await;
    assert_eq!(registered.status, StatusCode::ACCEPTED);
    let link = app.activation_token("olaf@example.com", 1).await;
    let activated = from_old(Method::POST, &format!("/v1/tokens/registration/{link}"), None, None).await;
    assert_eq!(activated.status, StatusCode::OK, "{}", activated.body);
    let login = json!({"login": "olaf", "password": PASSWORD});
    let session = from_old(Method::POST, "/v1/auth/login", None, Some(login)).await;
    let refreshed = from_old(
        Method::POST,
        "/v1/auth/refresh",
        None,
        Some(json!({"refresh_token": session.body["refresh_token"]})),
    )
    .await;
    assert_eq!(refreshed.status, StatusCode::OK);
    from_old(
        Method::POST,
        "/v1/auth/logout",
        refreshed.body["access_token"].as_str(),
        None,
    )
    .await;
    from_old(
        Method::POST,
        "/v1/auth/login",
        None,
        Some(json!({"login": "olaf", "password": "wrong one"})),
    )
    .await;
    from_old(
        Method::POST,
        "/v1/tokens/password-reset",
        None,
        Some(json!({"login": "nobody"})),
    )
    .await;
    let moderator = app.member("mod").await;
    app.make_staff(moderator.id);
    let looked_up = from_old(
        Method::GET,
        &format!("/v1/ips/{old_ip}/members"),
        Some(&moderator.access),
        None,
    )
    .await;
    assert_eq!(looked_up.status, StatusCode::OK, "{}", looked_up.body);
    from_old(Method::GET, "/v1/members/olaf/ips", Some(&moderator.access), None).await;
    let places = app.places_holding(old_ip);
    assert!(places.len() >= 5, "{places:?}");
    let key = app.state.ip_keys.key(old_ip.parse().unwrap());
    assert!(app.count(&format!("SELECT count(*) FROM rate_limits WHERE key = '{key}'")) > 0);
    assert!(app.count("SELECT count(*) FROM refresh_tokens WHERE rotated_at IS NOT NULL") > 0);

    app.clock.advance(chrono::Duration::days(31));
    // What happens now is kept.
    let recent = app.login("mod", PASSWORD).await;
    memberd::members::account::prune_ip_records(&app.state, app.clock.now())
        .await
        .unwrap();

    assert_eq!(app.places_holding(old_ip), Vec::<String>::new());
    assert_eq!(app.places_holding("RetainedAgent"), Vec::<String>::new());
    assert_eq!(
        app.count("SELECT count(*) FROM refresh_tokens WHERE rotated_at IS NOT NULL"),
        0
    );
    // The counters kept for that address hold a key, not the address: gone too.
    assert_eq!(
        app.count(&format!("SELECT count(*) FROM rate_limits WHERE key = '{key}'")),
        0
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM login_throttles WHERE ip = '{key}' OR identifier = 'olaf'"
        )),
        0
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM sessions WHERE member_id = {} AND ip = '127.0.0.1'",
            recent.id
        )),
        1
    );
    // Who did what stays; only the address goes.
    assert_eq!(
        app.count("SELECT count(*) FROM audit_log WHERE action = 'ip.members_viewed'"),
        1
    );
}

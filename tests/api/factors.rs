//! Second factors: TOTP enrolment, the login's second step, recovery codes,
//! the throttle on wrong answers, removal, a superuser's reset, and staff
//! powers held back from sessions without a second factor.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, session_of};

/// The claims of an access token, read without checking it (the JWKS tests do).
fn claims(access: &str) -> Value {
    let payload = access.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

async fn mfa(app: &TestApp, body: Value) -> crate::helpers::Response {
    app.post("/v1/auth/mfa", None, body).await
}

#[tokio::test]
async fn a_member_enrols_an_app_and_logs_in_with_its_codes() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice").await;
    let activation_session = app.count(&format!(
        "SELECT count(*) FROM sessions WHERE member_id = {} AND revoked_at IS NULL",
        alice.id
    ));
    assert_eq!(activation_session, 2);
    assert_eq!(claims(&alice.access)["amr"], json!(["pwd"]));
    assert_eq!(claims(&alice.access)["aal"], 1);

    let enrolled = app
        .post(
            "/v1/members/me/factors/totp",
            Some(&alice.access),
            json!({"current_password": PASSWORD, "name": "  Phone  "}),
        )
        .await;
    assert_eq!(enrolled.status, StatusCode::CREATED, "{}", enrolled.body);
    assert_eq!(enrolled.headers["cache-control"], "no-store");
    let uri = enrolled.body["otpauth_uri"].as_str().unwrap();
    assert!(uri.starts_with("otpauth://totp/front.test:alice?"), "{uri}");
    assert!(uri.contains("issuer=front.test"), "{uri}");
    // Pending: no login asks for it yet, and it is not listed.
    app.login("alice", PASSWORD).await;
    let listed = app.get("/v1/members/me/factors", Some(&alice.access)).await;
    assert_eq!(listed.body["total"], 0);

    let id = enrolled.body["id"].as_str().unwrap();
    let secret = totp_rs::Secret::Encoded(enrolled.body["secret"].as_str().unwrap().into())
        .to_bytes()
        .unwrap();
    let confirmation = format!("/v1/members/me/factors/{id}/confirmation");
    let wrong = app
        .post(
            &confirmation,
            Some(&alice.access),
            json!({"code": app.code_at(&secret, 5)}),
        )
        .await;
    wrong.assert_problem(422, "validation_failed");
    assert_eq!(wrong.field_codes(), [("code".to_string(), "incorrect".to_string())]);
    let confirmed = app
        .post(
            &confirmation,
            Some(&alice.access),
            json!({"code": app.next_code(&secret)}),
        )
        .await;
    assert_eq!(confirmed.status, StatusCode::OK, "{}", confirmed.body);
    let codes = confirmed.body["recovery_codes"].as_array().unwrap();
    assert_eq!(codes.len(), 10);
    assert!(codes.iter().all(|c| c.as_str().unwrap().len() == 19));
    assert_eq!(
        app.count("SELECT count(*) FROM recovery_codes WHERE used_at IS NULL"),
        10
    );
    // Confirmed once only.
    app.post(
        &confirmation,
        Some(&alice.access),
        json!({"code": app.next_code(&secret)}),
    )
    .await
    .assert_problem(409, "factor_already_confirmed");

    // The confirming session proved the factor; the others, which proved none, ended.
    let sessions = app.get("/v1/members/me/sessions", Some(&alice.access)).await;
    assert_eq!(sessions.body["total"], 1, "{}", sessions.body);
    assert_eq!(sessions.body["items"][0]["amr"], json!(["pwd", "otp"]));
    let refreshed = app
        .post("/v1/auth/refresh", None, json!({"refresh_token": alice.refresh}))
        .await;
    assert_eq!(claims(refreshed.body["access_token"].as_str().unwrap())["aal"], 2);
    let mail = app.inbox.wait_for("alice@example.com", 2).await;
    assert_eq!(mail[1].subject, "A second factor was added to your account");
    assert!(mail[1].text.contains("\u{201c}Phone\u{201d}"), "{}", mail[1].text);

    let listed = app.get("/v1/members/me/factors", Some(&alice.access)).await;
    assert_eq!(listed.body["total"], 1);
    assert_eq!(listed.body["items"][0]["name"], "Phone");
    assert_eq!(listed.body["items"][0]["kind"], "totp");
    assert!(listed.body["items"][0].get("secret").is_none());

    // Now a right password is half a login.
    let step = app
        .post("/v1/auth/login", None, json!({"login": "alice", "password": PASSWORD}))
        .await;
    step.assert_problem(401, "mfa_required");
    assert_eq!(step.body["factors"], json!(["totp", "recovery_code"]));
    let mfa_token = step.body["mfa_token"].as_str().unwrap();
    let done = mfa(&app, json!({"mfa_token": mfa_token, "code": app.next_code(&secret)})).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    let token = claims(done.body["access_token"].as_str().unwrap());
    assert_eq!((&token["amr"], &token["aal"]), (&json!(["pwd", "otp"]), &json!(2)));
    assert_eq!(done.body["member"]["username"], "alice");
    // The token is used up.
    mfa(&app, json!({"mfa_token": mfa_token, "code": app.next_code(&secret)}))
        .await
        .assert_problem(401, "invalid_mfa_token");
    assert_eq!(
        app.count("SELECT count(*) FROM events WHERE event_type = 'member.factor_added'"),
        1
    );
}

#[tokio::test]
async fn a_code_is_accepted_once_and_none_older_after_it() {
    let app = TestApp::spawn().await;
    let bob = app.member("bob").await;
    let totp = app.enrol_totp(&bob).await;
    let code = app.next_code(&totp.secret);
    let first = app.password_step("bob").await;
    assert_eq!(
        mfa(&app, json!({"mfa_token": first, "code": code})).await.status,
        StatusCode::OK
    );
    // The same code, still inside its window, in another login.
    let again = app.password_step("bob").await;
    mfa(&app, json!({"mfa_token": again, "code": code}))
        .await
        .assert_problem(401, "invalid_second_factor");
    // The step before it, still within the drift allowed.
    mfa(&app, json!({"mfa_token": again, "code": app.code_at(&totp.secret, -1)}))
        .await
        .assert_problem(401, "invalid_second_factor");
    // A refused code left the token usable.
    let next = app.code_at(&totp.secret, 1);
    assert_eq!(
        mfa(&app, json!({"mfa_token": again, "code": next})).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_recovery_code_works_once_in_any_case_and_tells_the_member() {
    let app = TestApp::spawn().await;
    let carol = app.member("carol").await;
    let totp = app.enrol_totp(&carol).await;
    let code = &totp.recovery_codes[3];
    let typed = code.replace('-', " ").to_uppercase();
    let token = app.password_step("carol").await;
    let done = mfa(&app, json!({"mfa_token": token, "recovery_code": typed})).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert_eq!(claims(done.body["access_token"].as_str().unwrap())["aal"], 2);
    let mail = app.inbox.wait_for("carol@example.com", 3).await;
    assert_eq!(mail[2].subject, "A recovery code was used to log in");
    let text = mail[2].text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(text.contains("; 9 of them are left"), "{text}");

    let token = app.password_step("carol").await;
    mfa(&app, json!({"mfa_token": token, "recovery_code": code}))
        .await
        .assert_problem(401, "invalid_second_factor");
    // Another member's code is no code of carol's.
    let dave = app.member("dave").await;
    let daves = app.enrol_totp(&dave).await;
    mfa(
        &app,
        json!({"mfa_token": token, "recovery_code": daves.recovery_codes[0]}),
    )
    .await
    .assert_problem(401, "invalid_second_factor");
    mfa(&app, json!({"mfa_token": token, "code": app.code_at(&daves.secret, 0)}))
        .await
        .assert_problem(401, "invalid_second_factor");

    // New codes void the old ones.
    let session = session_of(&done.body);
    let renewed = app
        .post(
            "/v1/members/me/recovery-codes",
            Some(&session.access),
            json!({"current_password": PASSWORD}),
        )
        .await;
    assert_eq!(renewed.status, StatusCode::OK, "{}", renewed.body);
    assert_eq!(renewed.body["recovery_codes"].as_array().unwrap().len(), 10);
    mfa(
        &app,
        json!({"mfa_token": token, "recovery_code": totp.recovery_codes[0]}),
    )
    .await
    .assert_problem(401, "invalid_second_factor");
    let fresh = renewed.body["recovery_codes"][0].as_str().unwrap();
    assert_eq!(
        mfa(&app, json!({"mfa_token": token, "recovery_code": fresh}))
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn mfa_tokens_are_single_use_short_lived_and_checked_before_anything() {
    let app = TestApp::spawn().await;
    let erin = app.member("erin").await;
    let totp = app.enrol_totp(&erin).await;
    for token in ["", "x", &"A".repeat(43)] {
        mfa(&app, json!({"mfa_token": token, "code": app.code_at(&totp.secret, 0)}))
            .await
            .assert_problem(401, "invalid_mfa_token");
    }
    let token = app.password_step("erin").await;
    app.clock.advance(chrono::Duration::minutes(5));
    mfa(&app, json!({"mfa_token": token, "code": app.code_at(&totp.secret, 0)}))
        .await
        .assert_problem(401, "invalid_mfa_token");
    // Malformed answers are the field's fault, and cost no attempt.
    let token = app.password_step("erin").await;
    for (body, field, code) in [
        (json!({"mfa_token": token}), "code", "required"),
        (json!({"mfa_token": token, "code": "12345"}), "code", "invalid"),
        (json!({"mfa_token": token, "code": "１２３４５６"}), "code", "invalid"),
        (
            json!({"mfa_token": token, "code": "123456", "recovery_code": "x"}),
            "recovery_code",
            "not_allowed",
        ),
        (
            json!({"mfa_token": token, "recovery_code": "abc"}),
            "recovery_code",
            "invalid",
        ),
    ] {
        let response = mfa(&app, body.clone()).await;
        response.assert_problem(422, "validation_failed");
        assert_eq!(
            response.field_codes(),
            [(field.to_string(), code.to_string())],
            "{body}"
        );
    }
    assert_eq!(app.count("SELECT count(*) FROM factor_throttles"), 0);
}

#[tokio::test]
async fn wrong_codes_are_throttled_per_member_and_never_lock_the_owner_out() {
    let app = TestApp::spawn().await;
    let frank = app.member("frank").await;
    let totp = app.enrol_totp(&frank).await;
    let wrong = |n: usize| format!("{:06}", (n * 7919) % 1_000_000);
    let right = |app: &TestApp| app.code_at(&totp.secret, 0);
    assert!((0..5).all(|n| wrong(n) != right(&app)));
    let token = app.password_step("frank").await;
    for n in 0..5 {
        mfa(&app, json!({"mfa_token": token, "code": wrong(n)}))
            .await
            .assert_problem(401, "invalid_second_factor");
    }
    // From the fifth, each answer waits: the right one too, and from a new login.
    let waited = mfa(&app, json!({"mfa_token": token, "code": right(&app)})).await;
    waited.assert_problem(429, "too_many_attempts");
    assert_eq!(waited.headers["retry-after"], "1");
    let other = app.password_step("frank").await;
    mfa(&app, json!({"mfa_token": other, "code": right(&app)}))
        .await
        .assert_problem(429, "too_many_attempts");

    // 10,000 guesses as fast as they come: refused while a wait runs, and
    // then not counted, so only a handful are ever judged (each judged one
    // doubles the wait: in T seconds, about log2(T) of them).
    let mut refused = 0;
    let mut counted = 0;
    for batch in (0..10_000).collect::<Vec<usize>>().chunks(100) {
        let answers = futures_util::future::join_all(
            batch
                .iter()
                .map(|n| mfa(&app, json!({"mfa_token": token, "code": format!("{:06}", 999_999 - n)}))),
        )
        .await;
        for answer in answers {
            match answer.status.as_u16() {
                429 => refused += 1,
                401 => counted += 1,
                other => panic!("{other}: {}", answer.body),
            }
        }
    }
    assert_eq!(refused + counted, 10_000);
    assert!(counted < 15, "{counted} of 10,000 guesses were judged");

    // Each further wrong answer, once its wait is over, doubles the next wait
    // up to fifteen minutes; the owner gets in once it is over.
    let mut longest = 0;
    for n in 0..40 {
        // A fresh login each time: a token lives five minutes.
        let token = app.password_step("frank").await;
        let answer = mfa(&app, json!({"mfa_token": token, "code": wrong(n + 100)})).await;
        if answer.status == StatusCode::TOO_MANY_REQUESTS {
            let wait: i64 = answer.headers["retry-after"].to_str().unwrap().parse().unwrap();
            longest = longest.max(wait);
            app.clock.advance(chrono::Duration::seconds(wait));
        }
    }
    assert_eq!(longest, 15 * 60, "the waits reach their cap");
    let token = app.password_step("frank").await;
    app.clock.advance(chrono::Duration::minutes(15));
    let owner = mfa(&app, json!({"mfa_token": token, "code": app.next_code(&totp.secret)})).await;
    // The token lived 5 minutes: a fresh login after the wait.
    owner.assert_problem(401, "invalid_mfa_token");
    let session = app.login_with_totp("frank", &totp.secret).await;
    assert_eq!(session.id, frank.id);
    assert_eq!(app.count("SELECT count(*) FROM factor_throttles"), 0);
}

#[tokio::test]
async fn a_member_banned_after_the_password_step_cannot_finish_it() {
    let app = TestApp::spawn().await;
    let boss = app.member("boss").await;
    app.make_superuser(boss.id);
    let gina = app.member("gina").await;
    let totp = app.enrol_totp(&gina).await;
    let token = app.password_step("gina").await;
    let banned = app
        .post(
            "/v1/members/gina/sanctions",
            Some(&boss.access),
            json!({"kind": "ban", "reason": "Spam", "duration": "1d"}),
        )
        .await;
    assert_eq!(banned.status, StatusCode::CREATED, "{}", banned.body);
    let code = app.next_code(&totp.secret);
    let refused = mfa(&app, json!({"mfa_token": token, "code": code})).await;
    refused.assert_problem(403, "member_banned");
    assert_eq!(refused.body["sanction"]["reason"], "Spam");
    // Nothing was used up or counted.
    assert_eq!(
        app.count("SELECT count(*) FROM mfa_challenges WHERE used_at IS NOT NULL"),
        0
    );
    assert_eq!(app.count("SELECT count(*) FROM factor_throttles"), 0);
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM sessions WHERE member_id = {} AND revoked_at IS NULL",
            gina.id
        )),
        0
    );
    // And the password step tells a banned member so at once.
    app.post("/v1/auth/login", None, json!({"login": "gina", "password": PASSWORD}))
        .await
        .assert_problem(403, "member_banned");
}

#[tokio::test]
async fn enrolling_and_removing_need_the_password_and_a_proven_factor() {
    let app = TestApp::spawn().await;
    let hugo = app.member("hugo").await;
    let path = "/v1/members/me/factors/totp";
    let wrong = app
        .post(path, Some(&hugo.access), json!({"current_password": "not it"}))
        .await;
    wrong.assert_problem(422, "validation_failed");
    assert_eq!(
        wrong.field_codes(),
        [("current_password".to_string(), "incorrect".to_string())]
    );
    for (name, code) in [("", "required"), ("a\u{7}b", "contains_control_character")] {
        let response = app
            .post(
                path,
                Some(&hugo.access),
                json!({"current_password": PASSWORD, "name": name}),
            )
            .await;
        assert_eq!(response.field_codes(), [("name".to_string(), code.to_string())]);
    }
    let long = app
        .post(
            path,
            Some(&hugo.access),
            json!({"current_password": PASSWORD, "name": "x".repeat(101)}),
        )
        .await;
    assert_eq!(long.field_codes(), [("name".to_string(), "too_long".to_string())]);
    assert_eq!(app.count("SELECT count(*) FROM member_factors"), 0);
    app.post(
        "/v1/members/me/recovery-codes",
        Some(&hugo.access),
        json!({"current_password": PASSWORD}),
    )
    .await
    .assert_problem(409, "no_second_factor");

    let first = app.enrol_totp(&hugo).await;
    let second = app.enrol_totp(&hugo).await;
    assert!(
        second.recovery_codes.is_empty(),
        "recovery codes come with the first factor only"
    );
    // Another member's factor is no factor of theirs.
    let iris = app.member("iris").await;
    let remove = |id: &str| format!("/v1/members/me/factors/{id}");
    app.request(
        Method::DELETE,
        &remove(&first.id),
        Some(&iris.access),
        Some(json!({"current_password": PASSWORD})),
    )
    .await
    .assert_problem(404, "factor_not_found");

    // A session that proved no second factor (one opened before there was
    // any, say) needs a code to remove one, or to add one. (Past the window
    // of the limit on password confirmations, 10 per 15 minutes.)
    app.clock.advance(chrono::Duration::minutes(15));
    let weak = app.login_with_totp("hugo", &first.secret).await;
    app.execute(&format!(
        "UPDATE sessions SET amr = '{{pwd}}' WHERE id = (SELECT id FROM sessions WHERE member_id = {} ORDER BY created_at DESC LIMIT 1)",
        hugo.id
    ));
    app.request(
        Method::DELETE,
        &remove(&second.id),
        Some(&weak.access),
        Some(json!({"current_password": PASSWORD})),
    )
    .await
    .assert_problem(403, "second_factor_required");
    app.post(path, Some(&weak.access), json!({"current_password": PASSWORD}))
        .await
        .assert_problem(403, "second_factor_required");
    app.post(
        "/v1/members/me/recovery-codes",
        Some(&weak.access),
        json!({"current_password": PASSWORD}),
    )
    .await
    .assert_problem(403, "second_factor_required");
    let wrong_code = app
        .request(
            Method::DELETE,
            &remove(&second.id),
            Some(&weak.access),
            Some(json!({"current_password": PASSWORD, "code": app.code_at(&first.secret, 9)})),
        )
        .await;
    assert_eq!(
        wrong_code.field_codes(),
        [("code".to_string(), "incorrect".to_string())]
    );
    let no_password = app
        .request(
            Method::DELETE,
            &remove(&second.id),
            Some(&weak.access),
            Some(json!({"current_password": "nope", "code": app.next_code(&first.secret)})),
        )
        .await;
    assert_eq!(
        no_password.field_codes(),
        [("current_password".to_string(), "incorrect".to_string())]
    );
    assert_eq!(app.count("SELECT count(*) FROM member_factors"), 2);
    let removed = app
        .request(
            Method::DELETE,
            &remove(&second.id),
            Some(&weak.access),
            Some(json!({"current_password": PASSWORD, "code": app.next_code(&first.secret)})),
        )
        .await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT, "{}", removed.body);

    // From a session that proved it, the password is enough; the last
    // factor takes the recovery codes with it.
    let strong = app.login_with_totp("hugo", &first.secret).await;
    let removed = app
        .request(
            Method::DELETE,
            &remove(&first.id),
            Some(&strong.access),
            Some(json!({"current_password": PASSWORD})),
        )
        .await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT, "{}", removed.body);
    assert_eq!(app.count("SELECT count(*) FROM member_factors"), 0);
    assert_eq!(app.count("SELECT count(*) FROM recovery_codes"), 0);
    assert_eq!(
        app.count("SELECT count(*) FROM events WHERE event_type = 'member.factor_removed'"),
        2
    );
    let mails = app.inbox.wait_for("hugo@example.com", 5).await;
    assert!(
        mails
            .iter()
            .filter(|m| m.subject == "A second factor was removed from your account")
            .count()
            == 2,
        "{:?}",
        mails.iter().map(|m| &m.subject).collect::<Vec<_>>()
    );
    app.login("hugo", PASSWORD).await;
}

#[tokio::test]
async fn a_superuser_resets_the_factors_of_a_member_who_lost_their_phone() {
    let app = TestApp::spawn().await;
    let boss = app.member("boss").await;
    app.make_superuser(boss.id);
    let staff = app.member("mod").await;
    app.make_staff(staff.id);
    let jane = app.member("Jane").await;
    app.enrol_totp(&jane).await;
    app.execute("UPDATE members SET locale = 'fr' WHERE username = 'Jane'");

    app.request(Method::DELETE, "/v1/members/jane/factors", Some(&staff.access), None)
        .await
        .assert_problem(403, "superuser_only");
    app.request(Method::DELETE, "/v1/members/jane/factors", Some(&jane.access), None)
        .await
        .assert_problem(403, "superuser_only");
    let reset = app
        .request(Method::DELETE, "/v1/members/jane/factors", Some(&boss.access), None)
        .await;
    assert_eq!(reset.status, StatusCode::OK, "{}", reset.body);
    assert_eq!(reset.body["removed"], 1);
    app.get("/v1/members/me", Some(&jane.access))
        .await
        .assert_problem(401, "session_revoked");
    let audit = app
        .get("/v1/audit?action=member.factors_reset", Some(&boss.access))
        .await;
    assert_eq!(audit.body["total"], 1, "{}", audit.body);
    let mails = app.inbox.wait_for("jane@example.com", 3).await;
    assert_eq!(
        mails[2].subject,
        "Les seconds facteurs de votre compte ont été réinitialisés"
    );
    assert_eq!(app.count("SELECT count(*) FROM recovery_codes"), 0);
    app.login("jane", PASSWORD).await;
    app.request(Method::DELETE, "/v1/members/nobody/factors", Some(&boss.access), None)
        .await
        .assert_problem(404, "member_not_found");
    app.request(Method::DELETE, "/v1/members/me/factors", Some(&boss.access), None)
        .await
        .assert_problem(403, "cannot_reset_own_factors");
}

#[tokio::test]
async fn the_export_lists_factors_without_secrets_and_unregistering_deletes_them() {
    let app = TestApp::spawn().await;
    let kim = app.member("kim").await;
    let totp = app.enrol_totp(&kim).await;
    let export = app.get("/v1/members/me/export", Some(&kim.access)).await;
    assert_eq!(export.body["factors"][0]["kind"], "totp");
    assert_eq!(export.body["factors"][0]["name"], "Authenticator app");
    assert_eq!(export.body["unused_recovery_codes"], 10);
    let text = export.body.to_string();
    let base32 = totp_rs::TOTP::new_unchecked(
        totp_rs::Algorithm::SHA1,
        6,
        0,
        30,
        totp.secret.clone(),
        None,
        String::new(),
    )
    .get_secret_base32();
    assert!(!text.contains(&base32));
    assert!(!text.contains(&totp.recovery_codes[0]));
    assert!(
        export.body["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["amr"] == json!(["pwd", "otp"]))
    );
    let summary = app.get("/v1/members/me/unregistration", Some(&kim.access)).await;
    assert!(
        summary.body["deleted"]
            .as_array()
            .unwrap()
            .contains(&json!({"what": "second_factors", "count": 1}))
    );
    let gone = app
        .request(
            Method::DELETE,
            "/v1/members/me",
            Some(&kim.access),
            Some(json!({"password": PASSWORD})),
        )
        .await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT, "{}", gone.body);
    for table in ["member_factors", "recovery_codes", "mfa_challenges", "factor_throttles"] {
        assert_eq!(app.count(&format!("SELECT count(*) FROM {table}")), 0, "{table}");
    }
}

/// Every operation whose document names `mfa_required_for_staff`, called by
/// staff (or a superuser, where it needs one) from a session that proved no
/// second factor, under the default `MEMBERD_STAFF_MFA=required`.
#[tokio::test]
async fn staff_powers_wait_for_a_second_factor_by_default() {
    let app = TestApp::spawn_with(&[("MEMBERD_STAFF_MFA", "required")]).await;
    let boss = app.member("boss").await;
    app.make_superuser(boss.id);
    let target = app.member("target").await;
    let document = crate::openapi::committed();
    let mut checked = 0;
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let forbidden = operation["responses"]["403"]["description"].as_str().unwrap_or("");
            if !forbidden.contains("`mfa_required_for_staff`") {
                continue;
            }
            let concrete = path
                .replace("{member}", "target")
                .replace("{domain}", "example.org")
                .replace("{ip}", "127.0.0.1")
                .replace("{id}", "1")
                .replace("{delivery}", "1");
            let body = crate::openapi::plausible_body(&document, operation);
            let response = app
                .request(
                    Method::from_bytes(method.to_uppercase().as_bytes()).unwrap(),
                    &concrete,
                    Some(&boss.access),
                    body,
                )
                .await;
            response.assert_problem(403, "mfa_required_for_staff");
            checked += 1;
        }
    }
    assert!(checked > 25, "only {checked}");
    // Another member's status is a staff read too; one's own is not.
    let status = format!("/v1/members/{}/status", target.id);
    app.get(&status, Some(&boss.access))
        .await
        .assert_problem(403, "mfa_required_for_staff");
    assert_eq!(app.get(&status, Some(&target.access)).await.status, StatusCode::OK);
    // Staff may still use member routes and enrol; the enrolling session then acts.
    assert_eq!(
        app.get("/v1/members/me", Some(&boss.access)).await.status,
        StatusCode::OK
    );
    let profile = app.get("/v1/members/target", Some(&boss.access)).await;
    assert!(profile.body.get("karma").is_none(), "staff-only fields wait too");
    let totp = app.enrol_totp(&boss).await;
    assert_eq!(app.get(&status, Some(&boss.access)).await.status, StatusCode::OK);
    let profile = app.get("/v1/members/target", Some(&boss.access)).await;
    assert_eq!(profile.body["karma"], 0);
    let audit = app.get("/v1/audit", Some(&boss.access)).await;
    assert_eq!(audit.status, StatusCode::OK, "{}", audit.body);
    // And a login with the factor is a session with staff powers.
    let again = app.login_with_totp("boss", &totp.secret).await;
    assert_eq!(app.get("/v1/audit", Some(&again.access)).await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_new_password_voids_the_logins_the_old_one_began() {
    let app = TestApp::spawn().await;
    let lea = app.member("lea").await;
    let totp = app.enrol_totp(&lea).await;
    let waiting = app.password_step("lea").await;
    let new = "another long passphrase";
    let changed = app
        .request(
            Method::PUT,
            "/v1/members/me/password",
            Some(&lea.access),
            Some(json!({"current_password": PASSWORD, "password": new, "password_confirmation": new})),
        )
        .await;
    assert_eq!(changed.status, StatusCode::NO_CONTENT, "{}", changed.body);
    mfa(&app, json!({"mfa_token": waiting, "code": app.next_code(&totp.secret)}))
        .await
        .assert_problem(401, "invalid_mfa_token");
}

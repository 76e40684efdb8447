//! Passkeys, through real WebAuthn ceremonies: memberd's options go to a
//! software authenticator (`webauthn-authenticator-rs`, `SoftPasskey`), which
//! signs with its own keys, and its answers come back over HTTP.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::StatusCode;
use serde_json::{Value, json};
use url::Url;
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_rs_proto::{AllowCredentials, CreationChallengeResponse, RequestChallengeResponse};

use crate::helpers::{PASSWORD, Session, TestApp};

/// memberd's relying party in these tests: `front.test`, from the front
/// end's URL, with an https origin as browsers (and the software
/// authenticator) require.
const ORIGIN: &str = "https://front.test";

async fn spawn() -> TestApp {
    TestApp::spawn_with(&[("MEMBERD_WEBAUTHN_ORIGIN", ORIGIN)]).await
}

fn authenticator() -> SoftPasskey {
    // `true`: it says it verified its user, as every passkey ceremony requires.
    SoftPasskey::new(true)
}

fn origin() -> Url {
    Url::parse(ORIGIN).unwrap()
}

fn claims(access: &str) -> Value {
    let payload = access.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

/// Starts an enrolment: the factor's id and the creation options.
async fn start_enrolment(app: &TestApp, session: &Session) -> (String, CreationChallengeResponse) {
    let started = app
        .post(
            "/v1/members/me/factors/passkey",
            Some(&session.access),
            json!({"current_password": PASSWORD, "name": "Laptop"}),
        )
        .await;
    assert_eq!(started.status, StatusCode::CREATED, "{}", started.body);
    let options = serde_json::from_value(started.body["options"].clone()).unwrap();
    (started.body["id"].as_str().unwrap().to_string(), options)
}

/// Enrols a passkey held by `key` for the holder of `session`; the
/// confirmation's answer.
async fn enrol(app: &TestApp, session: &Session, key: &mut SoftPasskey) -> Value {
    let (id, options) = start_enrolment(app, session).await;
    let credential = key.do_registration(origin(), options).unwrap();
    let confirmed = app
        .post(
            &format!("/v1/members/me/factors/{id}/confirmation"),
            Some(&session.access),
            json!({"credential": credential}),
        )
        .await;
    assert_eq!(confirmed.status, StatusCode::OK, "{}", confirmed.body);
    confirmed.body
}

/// Request options answered by `key`, for `POST /v1/auth/mfa`.
async fn second_step_answer(app: &TestApp, mfa_token: &str, key: &mut SoftPasskey) -> Value {
    let options = second_step_options(app, mfa_token).await;
    serde_json::to_value(key.do_authentication(origin(), options).unwrap()).unwrap()
}

/// The request options of a login's second step.
async fn second_step_options(app: &TestApp, mfa_token: &str) -> RequestChallengeResponse {
    let options = app
        .post("/v1/auth/mfa/passkey-options", None, json!({"mfa_token": mfa_token}))
        .await;
    assert_eq!(options.status, StatusCode::OK, "{}", options.body);
    serde_json::from_value(options.body["options"].clone()).unwrap()
}

fn counter(app: &TestApp, member_id: i64) -> i64 {
    app.count(&format!(
        "SELECT (passkey->'cred'->>'counter')::bigint FROM member_factors WHERE member_id = {member_id} AND kind = 'passkey'"
    ))
}

#[tokio::test]
async fn a_passkey_is_enrolled_and_finishes_logins_as_a_second_factor() {
    let app = spawn().await;
    let alice = app.member("alice").await;
    let mut key = authenticator();
    let confirmed = enrol(&app, &alice, &mut key).await;
    assert_eq!(confirmed["recovery_codes"].as_array().unwrap().len(), 10);
    let listed = app.get("/v1/members/me/factors", Some(&alice.access)).await;
    assert_eq!(listed.body["items"][0]["kind"], "passkey");
    assert_eq!(listed.body["items"][0]["name"], "Laptop");
    let sessions = app.get("/v1/members/me/sessions", Some(&alice.access)).await;
    assert_eq!(sessions.body["items"][0]["amr"], json!(["pwd", "hwk"]));
    assert_eq!(
        app.count("SELECT count(*) FROM member_factors WHERE credential_id IS NOT NULL AND passkey ? 'cred'"),
        1
    );

    let step = app
        .post("/v1/auth/login", None, json!({"login": "alice", "password": PASSWORD}))
        .await;
    step.assert_problem(401, "mfa_required");
    assert_eq!(step.body["factors"], json!(["passkey", "recovery_code"]));
    let token = step.body["mfa_token"].as_str().unwrap();
    let before = counter(&app, alice.id);
    let answer = second_step_answer(&app, token, &mut key).await;
    let done = app
        .post("/v1/auth/mfa", None, json!({"mfa_token": token, "credential": answer}))
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    let access = claims(done.body["access_token"].as_str().unwrap());
    assert_eq!((&access["amr"], &access["aal"]), (&json!(["pwd", "hwk"]), &json!(2)));
    assert!(counter(&app, alice.id) > before, "the signature counter is kept");

    // An answer is good once: replayed to a new login, whose own options
    // were asked for, or to one that asked for none, it proves nothing.
    let token = app.password_step("alice").await;
    app.post("/v1/auth/mfa", None, json!({"mfa_token": token, "credential": answer}))
        .await
        .assert_problem(401, "invalid_second_factor");
    let fresh = second_step_answer(&app, &token, &mut key).await;
    app.post("/v1/auth/mfa", None, json!({"mfa_token": token, "credential": answer}))
        .await
        .assert_problem(401, "invalid_second_factor");
    // And the options were used up by that wrong answer.
    app.post("/v1/auth/mfa", None, json!({"mfa_token": token, "credential": fresh}))
        .await
        .assert_problem(401, "invalid_second_factor");
    let fresh = second_step_answer(&app, &token, &mut key).await;
    let done = app
        .post("/v1/auth/mfa", None, json!({"mfa_token": token, "credential": fresh}))
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);

    // A member without a passkey gets no options.
    let bob = app.member("bob").await;
    app.enrol_totp(&bob).await;
    let token = app.password_step("bob").await;
    app.post("/v1/auth/mfa/passkey-options", None, json!({"mfa_token": token}))
        .await
        .assert_problem(409, "no_passkey");
    app.post("/v1/auth/mfa/passkey-options", None, json!({"mfa_token": "nope"}))
        .await
        .assert_problem(401, "invalid_mfa_token");
    let export = app.get("/v1/members/me/export", Some(&alice.access)).await;
    assert!(export.body.to_string().contains("\"kind\":\"passkey\""));
    assert!(
        !export.body.to_string().contains("cred_id"),
        "the key itself is not exported"
    );
}

#[tokio::test]
async fn another_members_passkey_proves_nothing_for_this_login() {
    let app = spawn().await;
    let alice = app.member("alice").await;
    let bob = app.member("bob").await;
    let mut alices = authenticator();
    let mut bobs = authenticator();
    enrol(&app, &alice, &mut alices).await;
    enrol(&app, &bob, &mut bobs).await;
    let alice_token = app.password_step("alice").await;
    let bob_token = app.password_step("bob").await;
    // Options for alice's login; bob's key answers the options of his own.
    second_step_answer(&app, &alice_token, &mut alices).await;
    let bobs_answer = second_step_answer(&app, &bob_token, &mut bobs).await;
    app.post(
        "/v1/auth/mfa",
        None,
        json!({"mfa_token": alice_token, "credential": bobs_answer}),
    )
    .await
    .assert_problem(401, "invalid_second_factor");
    // Nor does it open bob's: that token's options are still his.
    let done = app
        .post(
            "/v1/auth/mfa",
            None,
            json!({"mfa_token": bob_token, "credential": bobs_answer}),
        )
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert_eq!(done.body["member"]["username"], "bob");
}

#[tokio::test]
async fn a_discoverable_passkey_logs_in_without_a_password() {
    let app = spawn().await;
    let carol = app.member("carol").await;
    let mut key = authenticator();
    enrol(&app, &carol, &mut key).await;
    let user_handle = app.count(&format!(
        "SELECT count(DISTINCT passkey_user_id) FROM member_factors WHERE member_id = {}",
        carol.id
    ));
    assert_eq!(user_handle, 1);

    let answer = passwordless_answer(&app, &mut key, carol.id).await;
    let (challenge_id, credential) = (answer.0.clone(), answer.1.clone());
    let done = app
        .post(
            "/v1/auth/passkey",
            None,
            json!({"challenge_id": challenge_id, "credential": credential, "remember_me": true}),
        )
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert_eq!(done.body["member"]["username"], "carol");
    assert_eq!(done.body["refresh_expires_in"], 30 * 86_400);
    let access = claims(done.body["access_token"].as_str().unwrap());
    assert_eq!((&access["amr"], &access["aal"]), (&json!(["hwk"]), &json!(2)));
    // The ceremony is spent.
    app.post(
        "/v1/auth/passkey",
        None,
        json!({"challenge_id": challenge_id, "credential": credential}),
    )
    .await
    .assert_problem(401, "invalid_passkey");
    for made_up in ["not-a-uuid", "00000000-0000-0000-0000-000000000000"] {
        app.post(
            "/v1/auth/passkey",
            None,
            json!({"challenge_id": made_up, "credential": credential}),
        )
        .await
        .assert_problem(401, "invalid_passkey");
    }

    // Carol's key, presented as another member's (the user handle is not
    // signed), logs nobody in.
    let dave = app.member("dave").await;
    let mut daves = authenticator();
    enrol(&app, &dave, &mut daves).await;
    let (challenge_id, credential) = passwordless_answer(&app, &mut key, carol.id).await;
    let mut as_daves = credential.clone();
    as_daves["response"]["userHandle"] = json!(URL_SAFE_NO_PAD.encode(passkey_of(&app, dave.id).0.as_bytes()));
    app.post(
        "/v1/auth/passkey",
        None,
        json!({"challenge_id": challenge_id, "credential": as_daves}),
    )
    .await
    .assert_problem(401, "invalid_passkey");
    // That first answer spent the ceremony, though it proved nothing.
    app.post(
        "/v1/auth/passkey",
        None,
        json!({"challenge_id": challenge_id, "credential": credential}),
    )
    .await
    .assert_problem(401, "invalid_passkey");

    // A ceremony lapses after 5 minutes.
    let (challenge_id, credential) = passwordless_answer(&app, &mut key, carol.id).await;
    app.clock.advance(chrono::Duration::minutes(5));
    app.post(
        "/v1/auth/passkey",
        None,
        json!({"challenge_id": challenge_id, "credential": credential}),
    )
    .await
    .assert_problem(401, "invalid_passkey");

    // The admission of every login: a banned member is refused.
    let boss = app.member("boss").await;
    app.make_superuser(boss.id);
    let ban = app
        .post(
            "/v1/members/carol/sanctions",
            Some(&boss.access),
            json!({"kind": "ban", "reason": "Spam", "duration": "1d"}),
        )
        .await;
    assert_eq!(ban.status, StatusCode::CREATED, "{}", ban.body);
    let (challenge_id, credential) = passwordless_answer(&app, &mut key, carol.id).await;
    app.post(
        "/v1/auth/passkey",
        None,
        json!({"challenge_id": challenge_id, "credential": credential}),
    )
    .await
    .assert_problem(403, "member_banned");
}

/// Starting a passwordless login writes nothing, so it is not limited;
/// answers are, per client: 600 a minute.
#[tokio::test]
async fn passwordless_answers_are_limited_per_client() {
    let app = spawn().await;
    let carol = app.member("carol").await;
    let mut key = authenticator();
    enrol(&app, &carol, &mut key).await;
    for _ in 0..700 {
        let started = app.post("/v1/auth/passkey/options", None, json!({})).await;
        assert_eq!(started.status, StatusCode::OK, "{}", started.body);
    }
    let (challenge_id, credential) = passwordless_answer(&app, &mut key, carol.id).await;
    let answer = json!({"challenge_id": challenge_id, "credential": credential});
    let first = app.post("/v1/auth/passkey", None, answer.clone()).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    for _ in 1..600 {
        app.post("/v1/auth/passkey", None, answer.clone())
            .await
            .assert_problem(401, "invalid_passkey");
    }
    let limited = app.post("/v1/auth/passkey", None, answer.clone()).await;
    limited.assert_problem(429, "rate_limited");
    assert!(limited.headers.get("retry-after").is_some());
    // The next minute answers again.
    app.clock.advance(chrono::Duration::minutes(1));
    app.post("/v1/auth/passkey", None, answer)
        .await
        .assert_problem(401, "invalid_passkey");
}

/// A passwordless login's ceremony answered by `key`. The software
/// authenticator keeps no resident (discoverable) credentials: it is told
/// which of its credentials to use, and its answer is given the user handle
/// a discoverable credential carries (unsigned, as the browser passes it on).
async fn passwordless_answer(app: &TestApp, key: &mut SoftPasskey, member_id: i64) -> (String, Value) {
    let started = app.post("/v1/auth/passkey/options", None, json!({})).await;
    assert_eq!(started.status, StatusCode::OK, "{}", started.body);
    assert_eq!(started.body["options"]["mediation"], "conditional");
    let mut options: RequestChallengeResponse = serde_json::from_value(started.body["options"].clone()).unwrap();
    assert!(
        options.public_key.allow_credentials.is_empty(),
        "any discoverable passkey"
    );
    let (user_handle, credential_id) = passkey_of(app, member_id);
    options.public_key.allow_credentials = vec![AllowCredentials {
        type_: "public-key".into(),
        id: credential_id,
        transports: None,
    }];
    let mut answer = key.do_authentication(origin(), options).unwrap();
    answer.response.user_handle = Some(user_handle.as_bytes().to_vec());
    (
        started.body["challenge_id"].as_str().unwrap().to_string(),
        serde_json::to_value(answer).unwrap(),
    )
}

/// The user handle and credential id of the member's (first) passkey.
fn passkey_of(app: &TestApp, member_id: i64) -> (uuid::Uuid, Vec<u8>) {
    use diesel::prelude::*;
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Uuid)]
        passkey_user_id: uuid::Uuid,
        #[diesel(sql_type = diesel::sql_types::Bytea)]
        credential_id: Vec<u8>,
    }
    let row = diesel::sql_query(format!(
        "SELECT passkey_user_id, credential_id FROM member_factors WHERE member_id = {member_id} AND kind = 'passkey' LIMIT 1"
    ))
    .get_result::<Row>(&mut app.db())
    .unwrap();
    (row.passkey_user_id, row.credential_id)
}

#[tokio::test]
async fn enrolments_answered_for_another_origin_or_party_or_too_late_are_refused_and_spent() {
    let app = spawn().await;
    let erin = app.member("erin").await;
    let mut key = authenticator();

    // From a subdomain: the authenticator signs for it, memberd refuses the origin.
    let (id, options) = start_enrolment(&app, &erin).await;
    let credential = key
        .do_registration(Url::parse("https://evil.front.test").unwrap(), options)
        .unwrap();
    let path = format!("/v1/members/me/factors/{id}/confirmation");
    let refused = app
        .post(&path, Some(&erin.access), json!({"credential": credential}))
        .await;
    refused.assert_problem(422, "validation_failed");
    assert_eq!(
        refused.field_codes(),
        [("credential".to_string(), "incorrect".to_string())]
    );
    // The ceremony is spent: the same answer again finds no enrolment.
    app.post(&path, Some(&erin.access), json!({"credential": credential}))
        .await
        .assert_problem(404, "factor_not_found");

    // Another relying party's id.
    let (id, mut options) = start_enrolment(&app, &erin).await;
    options.public_key.rp.id = "other.test".into();
    let credential = key
        .do_registration(Url::parse("https://other.test").unwrap(), options)
        .unwrap();
    let refused = app
        .post(
            &format!("/v1/members/me/factors/{id}/confirmation"),
            Some(&erin.access),
            json!({"credential": credential}),
        )
        .await;
    assert_eq!(
        refused.field_codes(),
        [("credential".to_string(), "incorrect".to_string())]
    );

    // Answered after 5 minutes.
    let (id, options) = start_enrolment(&app, &erin).await;
    let credential = key.do_registration(origin(), options).unwrap();
    app.clock.advance(chrono::Duration::minutes(5));
    app.post(
        &format!("/v1/members/me/factors/{id}/confirmation"),
        Some(&erin.access),
        json!({"credential": credential}),
    )
    .await
    .assert_problem(410, "ceremony_expired");

    // Not a credential at all, or a code for a passkey.
    let (id, _) = start_enrolment(&app, &erin).await;
    let path = format!("/v1/members/me/factors/{id}/confirmation");
    let malformed = app
        .post(&path, Some(&erin.access), json!({"credential": {"id": 7}}))
        .await;
    assert_eq!(
        malformed.field_codes(),
        [("credential".to_string(), "invalid".to_string())]
    );
    let code = app.post(&path, Some(&erin.access), json!({"code": "123456"})).await;
    assert_eq!(code.field_codes(), [("credential".to_string(), "required".to_string())]);
    assert_eq!(
        app.count("SELECT count(*) FROM member_factors WHERE confirmed_at IS NOT NULL"),
        0
    );
    assert_eq!(
        app.count("SELECT count(*) FROM events WHERE event_type = 'member.factor_added'"),
        0
    );
    // None of it was a factor: logins still take the password alone.
    app.login("erin", PASSWORD).await;
}

#[tokio::test]
async fn assertions_for_another_origin_or_party_prove_nothing() {
    let app = spawn().await;
    let fay = app.member("fay").await;
    let mut key = authenticator();
    enrol(&app, &fay, &mut key).await;
    let token = app.password_step("fay").await;
    let mfa = |answer: Value| app.post("/v1/auth/mfa", None, json!({"mfa_token": token, "credential": answer}));

    // Signed for a subdomain's page: memberd's origin is https://front.test alone.
    let options = second_step_options(&app, &token).await;
    let answer = key
        .do_authentication(Url::parse("https://evil.front.test").unwrap(), options)
        .unwrap();
    mfa(serde_json::to_value(answer).unwrap())
        .await
        .assert_problem(401, "invalid_second_factor");
    // Signed for another relying party.
    let mut options = second_step_options(&app, &token).await;
    options.public_key.rp_id = "other.test".into();
    let answer = key
        .do_authentication(Url::parse("https://other.test").unwrap(), options)
        .unwrap();
    mfa(serde_json::to_value(answer).unwrap())
        .await
        .assert_problem(401, "invalid_second_factor");
    // Neither spent more than its own options: the right answer still logs in.
    let answer = second_step_answer(&app, &token, &mut key).await;
    assert_eq!(mfa(answer).await.status, StatusCode::OK);
}

//! The passkey row of bench/run.sh: logins by passkey alone, as fast as a
//! few clients can sign them, through real WebAuthn ceremonies with a
//! software authenticator (the one the tests use).
//!
//! `bench_passkey API MEMBER_PREFIX PASSWORD CONNECTIONS SECONDS`: members
//! PREFIX1..PREFIX<CONNECTIONS> (active, with PASSWORD, no factor yet) each
//! enrol a passkey, then each connection logs its member in again and again
//! (options, assertion, login) for SECONDS. Prints
//! `passkey_logins <completed> <refused> <seconds>`.
//!
//! memberd must run with its default relying party (`localhost`, origin
//! `http://localhost:3000`) and trust 127.0.0.1's `X-Forwarded-For`: each
//! login comes from an address of its own, as from many people.

// A measuring harness, not the service: it may stop at the first failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use url::Url;
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_rs_proto::{AllowCredentials, CreationChallengeResponse, RequestChallengeResponse};

struct Holder {
    key: SoftPasskey,
    credential_id: Vec<u8>,
    user_handle: Vec<u8>,
}

fn origin() -> Url {
    Url::parse("http://localhost:3000").expect("origin")
}

async fn post(client: &reqwest::Client, url: String, token: Option<&str>, ip: &str, body: Value) -> (u16, Value) {
    let mut request = client.post(url).header("x-forwarded-for", ip).json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn enrol(client: &reqwest::Client, api: &str, username: &str, password: &str, n: usize) -> Holder {
    let ip = format!("198.18.0.{}", n % 250 + 1);
    let (status, session) = post(
        client,
        format!("{api}/v1/auth/login"),
        None,
        &ip,
        json!({"login": username, "password": password}),
    )
    .await;
    assert_eq!(status, 200, "login of {username}: {session}");
    let access = session["access_token"].as_str().expect("access token").to_string();
    let (status, started) = post(
        client,
        format!("{api}/v1/members/me/factors/passkey"),
        Some(&access),
        &ip,
        json!({"current_password": password}),
    )
    .await;
    assert_eq!(status, 201, "enrolment of {username}: {started}");
    let options: CreationChallengeResponse = serde_json::from_value(started["options"].clone()).expect("options");
    let user_handle = options.public_key.user.id.to_vec();
    let mut key = SoftPasskey::new(true);
    let credential = key.do_registration(origin(), options).expect("registration");
    let credential_id = credential.raw_id.to_vec();
    let id = started["id"].as_str().expect("factor id");
    let (status, confirmed) = post(
        client,
        format!("{api}/v1/members/me/factors/{id}/confirmation"),
        Some(&access),
        &ip,
        json!({"credential": credential}),
    )
    .await;
    assert_eq!(status, 200, "confirmation of {username}: {confirmed}");
    Holder {
        key,
        credential_id,
        user_handle,
    }
}

/// Logs `holder`'s member in until `until`: (completed, refused).
async fn log_in_repeatedly(
    client: &reqwest::Client,
    api: &str,
    holder: &mut Holder,
    n: usize,
    until: Instant,
) -> (u64, u64) {
    let (mut completed, mut refused, mut round) = (0, 0, 0u32);
    while Instant::now() < until {
        round += 1;
        let ip = format!("198.19.{}.{}", (n * 31 + round as usize) % 250, round % 250 + 1);
        let (status, started) = post(client, format!("{api}/v1/auth/passkey/options"), None, &ip, json!({})).await;
        if status != 200 {
            refused += 1;
            continue;
        }
        let mut options: RequestChallengeResponse =
            serde_json::from_value(started["options"].clone()).expect("request options");
        // The software authenticator keeps no discoverable credentials: it is
        // told which of its own to use, and its answer carries the user handle
        // a discoverable one would (as tests/api/passkeys.rs does).
        options.public_key.allow_credentials = vec![AllowCredentials {
            type_: "public-key".into(),
            id: holder.credential_id.clone(),
            transports: None,
        }];
        let mut answer = holder.key.do_authentication(origin(), options).expect("assertion");
        answer.response.user_handle = Some(holder.user_handle.clone());
        let (status, _) = post(
            client,
            format!("{api}/v1/auth/passkey"),
            None,
            &ip,
            json!({"challenge_id": started["challenge_id"], "credential": answer}),
        )
        .await;
        if status == 200 {
            completed += 1;
        } else {
            refused += 1;
        }
    }
    (completed, refused)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, api, prefix, password, connections, seconds] = args.as_slice() else {
        eprintln!("usage: bench_passkey API MEMBER_PREFIX PASSWORD CONNECTIONS SECONDS");
        std::process::exit(2);
    };
    // reqwest is built without a TLS provider of its own (Cargo.toml); loopback HTTP needs none, reqwest one all the same.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let connections: usize = connections.parse().expect("connections");
    let seconds: u64 = seconds.parse().expect("seconds");
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(connections)
        .build()
        .expect("client");
    let mut holders = Vec::new();
    for n in 1..=connections {
        holders.push(enrol(&client, api, &format!("{prefix}{n}"), password, n).await);
    }
    let started = Instant::now();
    let until = started + Duration::from_secs(seconds);
    let runs = holders
        .iter_mut()
        .enumerate()
        .map(|(n, holder)| log_in_repeatedly(&client, api, holder, n, until));
    let results = futures_util::future::join_all(runs).await;
    let (completed, refused) = results.iter().fold((0, 0), |(c, r), (c2, r2)| (c + c2, r + r2));
    println!(
        "passkey_logins {completed} {refused} {:.2}",
        started.elapsed().as_secs_f64()
    );
}

//! The passkey row of bench/run.sh: logins by passkey alone, as fast as a
//! few clients can sign them, through real WebAuthn ceremonies.
//!
//! `bench_passkey API MEMBER_PREFIX PASSWORD CONNECTIONS SECONDS`: members
//! PREFIX1..PREFIX<CONNECTIONS> (active, with PASSWORD, no factor yet) each
//! enrol a passkey, then each connection logs its member in again and again
//! (options, assertion, login) for SECONDS. Prints
//! `passkey_logins <completed> <refused> <seconds>`.
//!
//! The authenticator is a minimal one of its own, [`Authenticator`]: an
//! ES256 key held by ring, attestation `none`. The clients share the two
//! cores with the server, and the tests' SoftPasskey signs with RustCrypto's
//! P-256 at several times ring's cost (a tenth of all the CPU of a run went
//! to signing), which measured the clients as much as memberd. memberd sees
//! the same ceremonies either way: its checks are webauthn-rs's.
//!
//! memberd must run with its default relying party (`localhost`, origin
//! `http://localhost:3000`) and trust 127.0.0.1's `X-Forwarded-For`: each
//! login comes from an address of its own, as from many people.

// A measuring harness, not the service: it may stop at the first failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const ORIGIN: &str = "http://localhost:3000";

/// A passkey authenticator reduced to what these ceremonies use: one ES256
/// credential, user present and verified, a signature counter.
struct Authenticator {
    key: EcdsaKeyPair,
    rng: SystemRandom,
    credential_id: Vec<u8>,
    user_handle: String,
    rp_id_hash: [u8; 32],
    counter: u32,
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// CollectedClientData as a browser writes it.
fn client_data(kind: &str, challenge: &Value) -> Vec<u8> {
    let challenge = challenge.as_str().expect("challenge");
    serde_json::to_vec(&json!({"type": kind, "challenge": challenge, "origin": ORIGIN, "crossOrigin": false})).unwrap()
}

impl Authenticator {
    /// Makes a credential for creation options: the authenticator and the
    /// credential to send back (attestation `none`).
    fn register(options: &Value) -> (Self, Value) {
        let public_key = &options["publicKey"];
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng).unwrap();
        let mut credential_id = vec![0; 32];
        rng.fill(&mut credential_id).unwrap();
        let rp_id_hash: [u8; 32] = Sha256::digest(public_key["rp"]["id"].as_str().expect("rp id").as_bytes()).into();
        // The public key as COSE (RFC 9053): {1: 2 (EC2), 3: -7 (ES256),
        // -1: 1 (P-256), -2: x, -3: y}, from its SEC1 form 04 || x || y.
        let point = key.public_key().as_ref();
        let mut cose = vec![0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21, 0x58, 0x20];
        cose.extend_from_slice(&point[1..33]);
        cose.extend_from_slice(&[0x22, 0x58, 0x20]);
        cose.extend_from_slice(&point[33..65]);
        // rpIdHash, flags (user present, verified, attested data), counter 0,
        // then the attested credential: AAGUID (none), id length, id, key.
        let mut auth_data = rp_id_hash.to_vec();
        auth_data.extend_from_slice(&[0x45, 0, 0, 0, 0]);
        auth_data.extend_from_slice(&[0; 16]);
        auth_data.extend_from_slice(&(credential_id.len() as u16).to_be_bytes());
        auth_data.extend_from_slice(&credential_id);
        auth_data.extend_from_slice(&cose);
        // {"fmt": "none", "attStmt": {}, "authData": auth_data} in CBOR.
        let mut attestation = b"\xa3\x63fmt\x64none\x67attStmt\xa0\x68authData\x59".to_vec();
        attestation.extend_from_slice(&(auth_data.len() as u16).to_be_bytes());
        attestation.extend_from_slice(&auth_data);
        let credential = json!({
            "id": b64(&credential_id),
            "rawId": b64(&credential_id),
            "type": "public-key",
            "extensions": {},
            "response": {
                "attestationObject": b64(&attestation),
                "clientDataJSON": b64(&client_data("webauthn.create", &public_key["challenge"])),
            },
        });
        let user_handle = public_key["user"]["id"].as_str().expect("user handle").to_string();
        let authenticator = Self {
            key,
            rng,
            credential_id,
            user_handle,
            rp_id_hash,
            counter: 0,
        };
        (authenticator, credential)
    }

    /// Answers request options: an assertion with the user handle, as a
    /// discoverable credential gives it.
    fn assert(&mut self, options: &Value) -> Value {
        self.counter += 1;
        let mut auth_data = self.rp_id_hash.to_vec();
        auth_data.push(0x05);
        auth_data.extend_from_slice(&self.counter.to_be_bytes());
        let client_data = client_data("webauthn.get", &options["publicKey"]["challenge"]);
        let mut signed = auth_data.clone();
        signed.extend_from_slice(&Sha256::digest(&client_data));
        let signature = self.key.sign(&self.rng, &signed).unwrap();
        json!({
            "id": b64(&self.credential_id),
            "rawId": b64(&self.credential_id),
            "type": "public-key",
            "extensions": {},
            "response": {
                "authenticatorData": b64(&auth_data),
                "clientDataJSON": b64(&client_data),
                "signature": b64(signature.as_ref()),
                "userHandle": self.user_handle,
            },
        })
    }
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

async fn enrol(client: &reqwest::Client, api: &str, username: &str, password: &str, n: usize) -> Authenticator {
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
    let (authenticator, credential) = Authenticator::register(&started["options"]);
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
    authenticator
}

/// Logs `authenticator`'s member in until `until`: (completed, refused).
async fn log_in_repeatedly(
    client: &reqwest::Client,
    api: &str,
    authenticator: &mut Authenticator,
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
        let answer = authenticator.assert(&started["options"]);
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
    let mut authenticators = Vec::new();
    for n in 1..=connections {
        authenticators.push(enrol(&client, api, &format!("{prefix}{n}"), password, n).await);
    }
    let started = Instant::now();
    let until = started + Duration::from_secs(seconds);
    let runs = authenticators
        .iter_mut()
        .enumerate()
        .map(|(n, authenticator)| log_in_repeatedly(&client, api, authenticator, n, until));
    let results = futures_util::future::join_all(runs).await;
    let (completed, refused) = results.iter().fold((0, 0), |(c, r), (c2, r2)| (c + c2, r + r2));
    println!(
        "passkey_logins {completed} {refused} {:.2}",
        started.elapsed().as_secs_f64()
    );
}

//! Webhooks delivered to a real HTTP receiver, signatures checked.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::TestApp;

#[derive(Clone, Debug)]
struct Received {
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

/// A receiver answering each request with the next status of `script` (then 200).
async fn receiver(script: Vec<u16>) -> (String, Arc<Mutex<Vec<Received>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://127.0.0.1:{}/hook", listener.local_addr().unwrap().port());
    let received = Arc::new(Mutex::new(Vec::new()));
    let (log, script) = (received.clone(), Arc::new(Mutex::new(script.into_iter())));
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let (log, script) = (log.clone(), script.clone());
            tokio::spawn(async move {
                let mut raw = Vec::new();
                let mut buffer = [0u8; 4096];
                let (head_end, length) = loop {
                    let n = stream.read(&mut buffer).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    raw.extend_from_slice(&buffer[..n]);
                    if let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&raw[..end]).to_lowercase();
                        let length = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .map_or(0, |v| v.trim().parse().unwrap_or(0));
                        break (end + 4, length);
                    }
                };
                while raw.len() < head_end + length {
                    let n = stream.read(&mut buffer).await.unwrap_or(0);
                    if n == 0 {
                        break;
                    }
                    raw.extend_from_slice(&buffer[..n]);
                }
                let head = String::from_utf8_lossy(&raw[..head_end]).to_string();
                let headers = head
                    .lines()
                    .skip(1)
                    .filter_map(|l| l.split_once(':'))
                    .map(|(k, v)| (k.trim().to_lowercase(), v.trim().to_string()))
                    .collect();
                log.lock().unwrap().push(Received {
                    headers,
                    body: raw[head_end..].to_vec(),
                });
                let status = script.lock().unwrap().next().unwrap_or(200);
                let reply = format!("HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
                let _ = stream.write_all(reply.as_bytes()).await;
            });
        }
    });
    (url, received)
}

async fn wait_until<F: Fn() -> bool>(what: &str, check: F) {
    for _ in 0..100 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}

fn verify(secret: &str, received: &Received) {
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap())
        .unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(
        format!(
            "{}.{}.",
            received.headers["webhook-id"], received.headers["webhook-timestamp"]
        )
        .as_bytes(),
    );
    mac.update(&received.body);
    let expected = format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    );
    assert_eq!(received.headers["webhook-signature"], expected);
}

async fn superuser(app: &TestApp) -> String {
    let boss = app.member("boss").await;
    app.make_superuser(boss.id);
    boss.access
}

#[tokio::test]
async fn events_arrive_signed_and_failures_are_retried_with_the_same_id() {
    let app = TestApp::spawn_with(&[("MEMBERD_WEBHOOK_ALLOW_PRIVATE", "true")]).await;
    let boss = superuser(&app).await;
    let (url, received) = receiver(vec![500]).await;
    let (id, secret) = subscribe(&app, &boss, &url).await;

    app.register("wanda", "wanda@example.com").await;
    wait_until("the first attempt", || !received.lock().unwrap().is_empty()).await;
    let first = received.lock().unwrap()[0].clone();
    verify(&secret, &first);
    let body: Value = serde_json::from_slice(&first.body).unwrap();
    assert_eq!(
        (body["type"].clone(), body["data"]["member"]["username"].clone()),
        (json!("member.registered"), json!("wanda"))
    );

    // The receiver answered 500: a retry is due within 10 s. The worker
    // writes the attempt down after the receiver has answered, so look until
    // it has.
    let mut log = Value::Null;
    for _ in 0..50 {
        log = app
            .get(&format!("/v1/webhooks/{id}/deliveries"), Some(&boss))
            .await
            .body;
        if !log["items"][0]["response_status"].is_null() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let attempt = &log["items"][0];
    assert_eq!(
        (attempt["delivery_state"].clone(), attempt["response_status"].clone()),
        (json!("pending"), json!(500))
    );
    let retry_in = chrono::DateTime::parse_from_rfc3339(attempt["next_attempt_at"].as_str().unwrap())
        .unwrap()
        .with_timezone(&chrono::Utc)
        - app.clock.now();
    assert!(retry_in <= chrono::Duration::seconds(10), "{retry_in}");
    app.clock.advance(chrono::Duration::seconds(10));
    wait_until("the retry", || received.lock().unwrap().len() >= 2).await;
    let second = received.lock().unwrap()[1].clone();
    verify(&secret, &second);
    assert_eq!(second.headers["webhook-id"], first.headers["webhook-id"]);

    let mut delivered = false;
    for _ in 0..50 {
        let log = app
            .get(&format!("/v1/webhooks/{id}/deliveries"), Some(&boss))
            .await
            .body;
        // One item per attempt, newest first.
        if log["items"][0]["delivery_state"] == "delivered" {
            assert_eq!(log["items"].as_array().unwrap().len(), 2);
            assert_eq!(log["items"][0]["delivery_id"], log["items"][1]["delivery_id"]);
            delivered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(delivered);

    // Redelivery: again, with the same webhook-id.
    let delivery_id = app
        .get(&format!("/v1/webhooks/{id}/deliveries"), Some(&boss))
        .await
        .body["items"][0]["delivery_id"]
        .clone();
    let again = app
        .post(
            &format!("/v1/webhooks/{id}/deliveries/{delivery_id}/redelivery"),
            Some(&boss),
            json!({}),
        )
        .await;
    assert_eq!(again.status, StatusCode::ACCEPTED);
    wait_until("the redelivery", || received.lock().unwrap().len() >= 3).await;
    assert_eq!(
        received.lock().unwrap()[2].headers["webhook-id"],
        first.headers["webhook-id"]
    );
    // Only subscribed types are sent: the activation was not.
    assert!(
        received
            .lock()
            .unwrap()
            .iter()
            .all(|r| String::from_utf8_lossy(&r.body).contains("member.registered"))
    );

    let deleted = app
        .request(Method::DELETE, &format!("/v1/webhooks/{id}"), Some(&boss), None)
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    // Each change is audited, with its ids and never the secret.
    let audit = app.get("/v1/audit", Some(&boss)).await.body;
    let entries: Vec<(&str, &Value)> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"].as_str().unwrap().starts_with("webhook."))
        .map(|e| (e["action"].as_str().unwrap(), &e["details"]))
        .collect();
    let actions: Vec<&str> = entries.iter().map(|(action, _)| *action).collect();
    assert_eq!(
        actions,
        ["webhook.deleted", "webhook.redelivered", "webhook.created"],
        "{audit}"
    );
    assert_eq!(entries[1].1["delivery_id"], delivery_id);
    assert!(entries.iter().all(|(_, details)| details["webhook_id"] == id));
    assert!(!audit.to_string().contains("whsec_"), "{audit}");
}

#[tokio::test]
async fn webhooks_are_for_superusers_and_refuse_private_addresses_by_default() {
    let app = TestApp::spawn().await;
    let boss = superuser(&app).await;
    let refused = app
        .post(
            "/v1/webhooks",
            Some(&boss),
            json!({"url": "http://127.0.0.1:9/x", "events": ["member.registered"]}),
        )
        .await;
    assert_eq!(
        refused.field_codes(),
        [("url".to_string(), "url_not_allowed".to_string())]
    );
    let bad = app
        .post(
            "/v1/webhooks",
            Some(&boss),
            json!({"url": "ftp://x", "events": ["nope"], "secret": "plain"}),
        )
        .await;
    assert_eq!(
        bad.field_codes(),
        [
            ("url".to_string(), "invalid_url".to_string()),
            ("events".to_string(), "unknown_type".to_string()),
            ("secret".to_string(), "invalid".to_string())
        ]
    );
    let member = app.member("mel").await;
    app.post(
        "/v1/webhooks",
        Some(&member.access),
        json!({"url": "https://example.org", "events": ["member.registered"]}),
    )
    .await
    .assert_problem(403, "superuser_only");
    app.get("/v1/webhooks", Some(&member.access))
        .await
        .assert_problem(403, "superuser_only");
    app.request(Method::DELETE, "/v1/webhooks/1", Some(&boss), None)
        .await
        .assert_problem(404, "webhook_not_found");
    app.get("/v1/webhooks/1/deliveries", Some(&boss))
        .await
        .assert_problem(404, "webhook_not_found");
}

/// The attempts to deliver to hook `id`, newest first.
async fn attempts(app: &TestApp, boss: &str, id: i64) -> Vec<Value> {
    let log = app
        .get(&format!("/v1/webhooks/{id}/deliveries?per_page=100"), Some(boss))
        .await;
    assert_eq!(log.status, StatusCode::OK, "{}", log.body);
    log.body["items"].as_array().unwrap().clone()
}

/// Subscribes `url` to `member.registered`: the hook's id and secret.
async fn subscribe(app: &TestApp, boss: &str, url: &str) -> (i64, String) {
    let created = app
        .post(
            "/v1/webhooks",
            Some(boss),
            json!({"url": url, "events": ["member.registered"]}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let secret = created.body["secret"].as_str().unwrap().to_string();
    (created.body["id"].as_i64().unwrap(), secret)
}

#[tokio::test]
async fn an_endpoint_failing_for_a_day_is_given_up_and_its_hook_disabled() {
    let app = TestApp::spawn_with(&[("MEMBERD_WEBHOOK_ALLOW_PRIVATE", "true")]).await;
    let boss = superuser(&app).await;
    let (url, received) = receiver(vec![500; 100]).await;
    let (id, _) = subscribe(&app, &boss, &url).await;
    app.register("wanda", "wanda@example.com").await;

    // The test drives rounds itself (the service's own worker may take some
    // too: claims keep them apart) and moves the clock to each retry. It
    // reads the delivery from the database: a day on, access tokens expire.
    let client = memberd::integration::webhooks::service::http_client(true);
    let delivery_now = || {
        use diesel::prelude::*;
        use memberd::schema::webhook_deliveries::dsl::*;
        webhook_deliveries
            .select((state, attempts, next_attempt_at))
            .load::<(String, i32, chrono::DateTime<chrono::Utc>)>(&mut app.db())
            .unwrap()
    };
    let mut made = 0;
    loop {
        let (state, next) = loop {
            memberd::integration::webhooks::service::tick(&app.state, &client)
                .await
                .unwrap();
            // None yet while the other worker fans the event out.
            if let Some((state, recorded, next)) = delivery_now().pop()
                && recorded > made
            {
                assert_eq!(recorded, made + 1);
                break (state, next);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        made += 1;
        if state != "pending" {
            assert_eq!(state, "failed");
            break;
        }
        let wait = next - app.clock.now();
        assert!(wait > chrono::Duration::zero(), "retried at once after attempt {made}");
        app.clock.advance(wait);
        assert!(made < 50, "never given up");
    }
    let boss = app.login("boss", crate::helpers::PASSWORD).await.access;
    let attempts = attempts(&app, &boss, id).await;
    assert_eq!(attempts[0]["delivery_state"], "failed");
    assert_eq!(received.lock().unwrap().len(), made as usize);
    assert_eq!(attempts.len(), made as usize);
    let times: Vec<chrono::DateTime<chrono::FixedOffset>> = attempts
        .iter()
        .map(|a| chrono::DateTime::parse_from_rfc3339(a["attempted_at"].as_str().unwrap()).unwrap())
        .collect();
    let (first, last) = (times.iter().min().unwrap(), times.iter().max().unwrap());
    assert!(
        *last - *first >= chrono::Duration::hours(24),
        "retried for {}",
        *last - *first
    );
    // Backing off: no wait shorter than the one before it, up to the longest.
    let mut sorted = times.clone();
    sorted.sort();
    // In whole seconds: the clock also runs between the test's moves.
    let waits: Vec<i64> = sorted.windows(2).map(|w| (w[1] - w[0]).num_seconds()).collect();
    assert!(waits[0] <= 10, "{waits:?}");
    let longest = waits.iter().position(|w| w == waits.iter().max().unwrap()).unwrap();
    assert!(waits[..=longest].windows(2).all(|w| w[0] <= w[1]), "{waits:?}");

    let hooks = app.get("/v1/webhooks", Some(&boss)).await.body;
    assert!(hooks["items"][0]["disabled_at"].is_string(), "{hooks}");
    assert!(hooks["items"][0]["disabled_reason"].is_string(), "{hooks}");
    // A disabled hook is sent nothing new.
    app.register("walter", "walter@example.com").await;
    memberd::integration::webhooks::service::tick(&app.state, &client)
        .await
        .unwrap();
    assert_eq!(self::attempts(&app, &boss, id).await.len(), made as usize);
    assert_eq!(received.lock().unwrap().len(), made as usize);
}

#[tokio::test]
async fn replicas_deliver_each_event_once_and_a_delivery_abandoned_mid_way_is_sent_again() {
    let allow = [("MEMBERD_WEBHOOK_ALLOW_PRIVATE", "true")];
    let app = TestApp::spawn_with(&allow).await;
    let (_, replica) = app.replica(&allow).await;
    let boss = superuser(&app).await;
    let (url, received) = receiver(Vec::new()).await;
    subscribe(&app, &boss, &url).await;

    // Both replicas' workers run, and the test adds rounds of both at once.
    let client = memberd::integration::webhooks::service::http_client(true);
    for n in 0..8 {
        app.register(&format!("member{n}"), &format!("member{n}@example.com"))
            .await;
    }
    use memberd::integration::webhooks::service::tick;
    for _ in 0..100 {
        let (a, b) = tokio::join!(tick(&app.state, &client), tick(&replica, &client));
        a.unwrap();
        b.unwrap();
        if received.lock().unwrap().len() >= 8 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Another second of both workers, for a duplicate to show up if any would.
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    let ids: Vec<String> = received
        .lock()
        .unwrap()
        .iter()
        .map(|r| r.headers["webhook-id"].clone())
        .collect();
    let distinct: std::collections::HashSet<&String> = ids.iter().collect();
    assert_eq!((ids.len(), distinct.len()), (8, 8), "{ids:?}");

    // A worker that claimed a delivery and stopped (a crash, a restart)
    // leaves it leased; when the lease ends, it is sent, with its id. The
    // test plays that worker: holding the hook keeps the live ones from
    // fanning the new event out before it does.
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    use memberd::integration::webhooks::store;
    let mut conn = app.db();
    AnsiTransactionManager::begin_transaction(&mut conn).unwrap();
    diesel::RunQueryDsl::execute(diesel::sql_query("SELECT id FROM webhooks FOR UPDATE"), &mut conn).unwrap();
    app.register("late", "late@example.com").await;
    let now = app.clock.now();
    // The event is fanned out once no older transaction (the server's own
    // background work) still runs: each try reads afresh.
    let mut fanned = 0;
    for _ in 0..200 {
        fanned = store::fan_out(&mut conn, now).unwrap();
        if fanned > 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(fanned, 1);
    let leased = store::claim_due(&mut conn, now, now + chrono::Duration::hours(1), 20).unwrap();
    AnsiTransactionManager::commit_transaction(&mut conn).unwrap();
    assert_eq!(leased.len(), 1);
    tick(&app.state, &client).await.unwrap();
    assert_eq!(received.lock().unwrap().len(), 8, "a leased delivery was sent");
    app.clock
        .advance(chrono::Duration::hours(1) + chrono::Duration::seconds(1));
    wait_until("the abandoned delivery", || received.lock().unwrap().len() >= 9).await;
    let late = received.lock().unwrap()[8].clone();
    assert!(String::from_utf8_lossy(&late.body).contains("\"late\""));
}

#[tokio::test]
async fn deliveries_never_connect_to_a_name_that_resolves_to_a_private_address() {
    use memberd::integration::webhooks::service::http_client;
    let (url, received) = receiver(Vec::new()).await;
    // A name that resolves to the receiver's loopback address, as a public
    // name could after the check at subscription or before delivery.
    let by_name = url.replace("127.0.0.1", "localhost");

    let refused = http_client(false).post(&by_name).body("{}").send().await.unwrap_err();
    let mut reasons = Vec::new();
    let mut source: Option<&dyn std::error::Error> = Some(&refused);
    while let Some(error) = source {
        reasons.push(error.to_string());
        source = error.source();
    }
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("localhost resolves to a private address")),
        "{reasons:?}"
    );
    assert!(received.lock().unwrap().is_empty());

    // Where private addresses are allowed, the same request arrives.
    let sent = http_client(true).post(&by_name).body("{}").send().await.unwrap();
    assert_eq!(sent.status(), StatusCode::OK);
    assert_eq!(received.lock().unwrap().len(), 1);
}

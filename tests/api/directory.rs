//! The directory at depth — counted and paged to the 10,000th match and no
//! further — and the walk over every member that services page through by
//! cursor.

use diesel::connection::SimpleConnection;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::integration::key;

/// `count` active members named m00001, m00002…, written in one statement
/// as a bulk load would be (no change notifications: nobody has them cached).
fn seed_members(app: &TestApp, count: u32) {
    app.db()
        .batch_execute(&format!(
            "SET session_replication_role = replica;
             INSERT INTO members (username, username_skeleton, email, email_key, password_hash, is_active, locale, date_joined)
             SELECT 'm' || lpad(g::text, 5, '0'), 'seed' || g, 'm' || g || '@example.com', 'm' || g || '@example.com',
                    '!', TRUE, 'en', now() - make_interval(secs => g)
             FROM generate_series(1, {count}) AS g;"
        ))
        .unwrap();
}

fn usernames(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["username"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn the_directory_counts_and_pages_to_the_ten_thousandth_match_and_no_further() {
    let app = TestApp::spawn().await;
    seed_members(&app, 10_050);

    let first = app.get("/v1/members?per_page=100", None).await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(
        (first.body["total"].clone(), first.body["total_capped"].clone()),
        (json!(10_000), json!(true))
    );
    assert_eq!(usernames(&first.body)[0], "m00001");

    // The deepest page ends at the 10,000th match, with no next page.
    let deepest = app.get("/v1/members?per_page=100&page=100", None).await;
    assert_eq!(deepest.status, StatusCode::OK);
    let names = usernames(&deepest.body);
    assert_eq!(
        (names.first().unwrap().as_str(), names.last().unwrap().as_str()),
        ("m09901", "m10000")
    );
    let link = deepest.headers["link"].to_str().unwrap();
    assert!(!link.contains("rel=\"next\""), "{link}");
    // A page that straddles the bound stops at it.
    let straddling = app.get("/v1/members?per_page=30&page=334", None).await;
    assert_eq!(
        usernames(&straddling.body),
        (9_991..=10_000).map(|n| format!("m{n:05}")).collect::<Vec<_>>()
    );

    let beyond = app.get("/v1/members?per_page=100&page=101", None).await;
    beyond.assert_problem(422, "page_too_deep");
    assert!(
        beyond.body["detail"].as_str().unwrap().contains("narrow `q`"),
        "{}",
        beyond.body
    );
    app.get("/v1/members?sort=-date_joined&page=1000", None)
        .await
        .assert_problem(422, "page_too_deep");

    // Narrowed under the bound, the count is exact and a deep page is only past the end.
    let narrowed = app.get("/v1/members?q=M0999", None).await;
    assert_eq!(
        (narrowed.body["total"].clone(), narrowed.body["total_capped"].clone()),
        (json!(10), json!(false))
    );
    let past_the_end = app.get("/v1/members?q=m0999&page=1000", None).await;
    assert_eq!(past_the_end.status, StatusCode::OK);
    assert_eq!(
        (past_the_end.body["items"].clone(), past_the_end.body["total"].clone()),
        (json!([]), json!(10))
    );

    // Each sort pages through the same members.
    let oldest = app.get("/v1/members?sort=date_joined&per_page=1", None).await;
    assert_eq!(usernames(&oldest.body), ["m10050"]);
    let newest = app.get("/v1/members?sort=-date_joined&per_page=1", None).await;
    assert_eq!(usernames(&newest.body), ["m00001"]);
    let last_by_name = app.get("/v1/members?sort=-username&per_page=1", None).await;
    assert_eq!(usernames(&last_by_name.body), ["m10050"]);

    // A broad search by date: sorted on its first page, then cut from the
    // order kept (the second time round), to the same depth.
    for _ in 0..2 {
        let newest = app.get("/v1/members?q=m&sort=-date_joined&per_page=3", None).await;
        assert_eq!(usernames(&newest.body), ["m00001", "m00002", "m00003"]);
        assert_eq!(
            (newest.body["total"].clone(), newest.body["total_capped"].clone()),
            (json!(10_000), json!(true))
        );
        let deepest = app
            .get("/v1/members?q=m&sort=date_joined&per_page=100&page=100", None)
            .await;
        assert_eq!(usernames(&deepest.body).last().unwrap(), "m00051");
        app.get("/v1/members?q=m&sort=date_joined&per_page=100&page=101", None)
            .await
            .assert_problem(422, "page_too_deep");
    }
    // Its pages show only members who are listed when they are read.
    let boss = app.member("boss").await;
    app.make_superuser(boss.id);
    let ban = json!({"kind": "ban", "reason": "Spam"});
    assert_eq!(
        crate::sanctions::sanction(&app, &boss, "m00002", ban).await.status,
        StatusCode::CREATED
    );
    let newest = app.get("/v1/members?q=m&sort=-date_joined&per_page=3", None).await;
    assert_eq!(usernames(&newest.body), ["m00001", "m00003"]);
}

#[tokio::test]
async fn members_under_a_running_global_ban_are_not_listed_nor_counted() {
    let app = TestApp::spawn().await;
    let boss = app.member("boss").await;
    app.make_superuser(boss.id);
    for name in ["troll", "reader", "scoped"] {
        app.member(name).await;
    }
    for (member, body) in [
        ("troll", json!({"kind": "ban", "reason": "Spam", "duration": "1h"})),
        ("reader", json!({"kind": "read_only", "reason": "Flames"})),
        (
            "scoped",
            json!({"kind": "ban", "reason": "Off topic", "resource": "forum:1"}),
        ),
    ] {
        let given = crate::sanctions::sanction(&app, &boss, member, body).await;
        assert_eq!(given.status, StatusCode::CREATED, "{}", given.body);
    }
    let listed = app.get("/v1/members", None).await;
    assert_eq!(usernames(&listed.body), ["boss", "reader", "scoped"]);
    assert_eq!(listed.body["total"], 3);

    // A ban forgiven ends now: the member is listed again at once.
    let ban = app.count("SELECT id FROM sanctions WHERE kind = 'ban' AND resource IS NULL");
    let forgiven = app
        .post(
            &format!("/v1/sanctions/{ban}/forgiveness"),
            Some(&boss.access),
            json!({"reason": "Apologised"}),
        )
        .await;
    assert_eq!(forgiven.status, StatusCode::OK, "{}", forgiven.body);
    assert_eq!(app.get("/v1/members", None).await.body["total"], 4);
}

#[tokio::test]
async fn a_members_read_key_walks_every_member_by_cursor() {
    let app = TestApp::spawn().await;
    let boss = app.member("boss").await;
    app.make_superuser(boss.id);
    let bot = app.member("helperbot").await;
    app.make_bot(bot.id);
    app.member("troll").await;
    app.register("newcomer", "newcomer@example.com").await; // never activated
    let banned = crate::sanctions::sanction(&app, &boss, "troll", json!({"kind": "ban", "reason": "Spam"})).await;
    assert_eq!(banned.status, StatusCode::CREATED, "{}", banned.body);
    let members_key = key(&app, &boss, json!(["members:read"])).await;

    // Two at a time, from the start, following each answer's cursor.
    let mut seen = Vec::new();
    let mut path = "/v1/members?after=&per_page=2".to_string();
    loop {
        let step = app.get(&path, Some(&members_key)).await;
        assert_eq!(step.status, StatusCode::OK, "{}", step.body);
        assert!(
            step.body.get("total").is_none() && step.body.get("page").is_none(),
            "{}",
            step.body
        );
        for member in step.body["items"].as_array().unwrap() {
            seen.push((
                member["username"].as_str().unwrap().to_string(),
                member["is_active"].as_bool().unwrap(),
                member["is_bot"].as_bool().unwrap(),
            ));
        }
        let Some(next) = step.body["next_cursor"].as_str() else {
            assert!(step.headers.get("link").is_none());
            break;
        };
        let link = step.headers["link"].to_str().unwrap();
        assert_eq!(link, format!("</v1/members?after={next}&per_page=2>; rel=\"next\""));
        path = format!("/v1/members?after={next}&per_page=2");
    }
    // Every member but the built-in ones, in the order they registered.
    assert_eq!(
        seen,
        [
            ("boss".to_string(), true, false),
            ("helperbot".to_string(), true, true),
            ("troll".to_string(), true, false),
            ("newcomer".to_string(), false, false),
        ]
    );
    // A cursor past the last member is the end of the walk, not an error.
    let over = app.get("/v1/members?after=7fffffffffffffff", Some(&members_key)).await;
    assert_eq!(
        (over.body["items"].clone(), over.body["next_cursor"].clone()),
        (json!([]), Value::Null)
    );

    // A walk has no query, sort or page; its cursor is one an answer gave.
    let mixed = app
        .get("/v1/members?after=&q=b&sort=username&page=2", Some(&members_key))
        .await;
    mixed.assert_problem(422, "validation_failed");
    let mut fields = mixed.field_codes();
    fields.sort();
    assert_eq!(
        fields,
        [
            ("page".to_string(), "not_allowed".to_string()),
            ("q".to_string(), "not_allowed".to_string()),
            ("sort".to_string(), "not_allowed".to_string()),
        ]
    );
    let forged = app.get("/v1/members?after=12", Some(&members_key)).await;
    forged.assert_problem(422, "validation_failed");
    assert_eq!(forged.field_codes(), [("after".to_string(), "invalid".to_string())]);

    // Walks are for services: members and anonymous callers are refused.
    app.get("/v1/members?after=", Some(&boss.access))
        .await
        .assert_problem(403, "forbidden");
    app.get("/v1/members?after=", None)
        .await
        .assert_problem(401, "missing_credentials");
    let status_key = key(&app, &boss, json!(["status:read"])).await;
    app.get("/v1/members?after=", Some(&status_key))
        .await
        .assert_problem(403, "insufficient_scope");
}

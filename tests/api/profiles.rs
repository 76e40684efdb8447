//! Public profiles, the directory, and editing one's own profile.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::TestApp;

#[tokio::test]
async fn a_profile_is_found_by_id_or_username_and_shows_no_email_to_anonymous_callers() {
    let app = TestApp::spawn().await;
    let alice = app.member("Alice").await;
    app.patch(
        "/v1/members/me",
        Some(&alice.access),
        json!({"show_email": true, "biography": "Hi."}),
    )
    .await;

    let by_name = app.get("/v1/members/alice", None).await;
    let by_id = app.get(&format!("/v1/members/{}", alice.id), None).await;
    assert_eq!(by_name.status, StatusCode::OK);
    assert_eq!(by_name.body, by_id.body);
    let profile = &by_name.body;
    assert_eq!(profile["username"], "Alice");
    assert_eq!(profile["biography"], "Hi.");
    assert_eq!(profile["is_bot"], false);
    assert_eq!(profile["profile_url"], "http://front.test/app/members/Alice");
    assert!(
        profile["avatar_url"]
            .as_str()
            .unwrap()
            .starts_with("https://www.gravatar.com/avatar/")
    );
    assert!(profile["avatar_url"].as_str().unwrap().ends_with("?d=identicon&s=80"));
    assert!(
        profile.get("email").is_none(),
        "anonymous callers never see an address: {profile}"
    );
    assert!(profile.get("city").is_none());

    app.get("/v1/members/nobody", None)
        .await
        .assert_problem(404, "member_not_found");
    app.get("/v1/members/999999", None)
        .await
        .assert_problem(404, "member_not_found");
    // The built-in placeholder is nobody's profile.
    app.get("/v1/members/[deleted]", None)
        .await
        .assert_problem(404, "member_not_found");
    app.get("/v1/members/alice", Some("garbage"))
        .await
        .assert_problem(401, "invalid_token");
}

#[tokio::test]
async fn the_email_is_shown_to_members_only_when_its_owner_chooses() {
    let app = TestApp::spawn().await;
    let bob = app.member("bob").await;
    let carol = app.member("carol").await;
    let path = format!("/v1/members/{}", bob.id);
    assert!(app.get(&path, Some(&carol.access)).await.body.get("email").is_none());
    assert_eq!(app.get(&path, Some(&bob.access)).await.body["email"], "bob@example.com");

    app.patch("/v1/members/me", Some(&bob.access), json!({"show_email": true}))
        .await;
    assert_eq!(
        app.get(&path, Some(&carol.access)).await.body["email"],
        "bob@example.com"
    );
    assert!(app.get(&path, None).await.body.get("email").is_none());

    app.patch("/v1/members/me", Some(&bob.access), json!({"show_email": false}))
        .await;
    app.make_staff(carol.id);
    assert_eq!(
        app.get(&path, Some(&carol.access)).await.body["email"],
        "bob@example.com"
    );
}

#[tokio::test]
async fn editing_the_profile() {
    let app = TestApp::spawn().await;
    let dan = app.member("dan").await;
    let patch = json!({
        "biography": "Gardener.",
        "website": "https://dan.example.org",
        "avatar_url": "https://img.example.org/dan.png",
        "signature": "-- dan",
        "locale": "fr",
        "show_signature": false,
        "hover_menus": false,
        "email_on_private_message": false
    });
    let updated = app.patch("/v1/members/me", Some(&dan.access), patch).await;
    assert_eq!(updated.status, StatusCode::OK, "{}", updated.body);
    assert_eq!(updated.body["biography"], "Gardener.");
    assert_eq!(updated.body["locale"], "fr");
    assert_eq!(updated.body["avatar_url"], "https://img.example.org/dan.png");
    assert_eq!(
        updated.body["preferences"],
        json!({"show_email": false, "show_signature": false, "hover_menus": false, "email_on_private_message": false})
    );
    assert_eq!(
        app.count("SELECT count(*) FROM events WHERE event_type = 'member.updated'"),
        1
    );

    let public = app.get("/v1/members/dan", None).await.body;
    assert_eq!(public["website"], "https://dan.example.org");
    assert_eq!(public["avatar_url"], "https://img.example.org/dan.png");
    assert!(
        public.get("signature").is_none(),
        "a hidden signature is not shown: {public}"
    );

    // Empty avatar: back to Gravatar.
    let reset = app
        .patch("/v1/members/me", Some(&dan.access), json!({"avatar_url": ""}))
        .await;
    assert!(
        reset.body["avatar_url"]
            .as_str()
            .unwrap()
            .starts_with("https://www.gravatar.com/avatar/")
    );
}

#[tokio::test]
async fn a_bad_profile_patch_is_refused_whole_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let erin = app.member("erin").await;
    let before = app.get("/v1/members/me", Some(&erin.access)).await.body;

    let too_long = app
        .patch(
            "/v1/members/me",
            Some(&erin.access),
            json!({"biography": "b".repeat(2_001), "signature": "s".repeat(501), "website": "ftp://x.example"}),
        )
        .await;
    too_long.assert_problem(422, "validation_failed");
    assert_eq!(
        too_long.field_codes(),
        [
            ("biography".into(), "too_long".into()),
            ("signature".into(), "too_long".into()),
            ("website".into(), "invalid_url".into())
        ]
    );
    let unknown = app
        .patch(
            "/v1/members/me",
            Some(&erin.access),
            json!({"biography": "ok", "is_staff": true}),
        )
        .await;
    unknown.assert_problem(422, "validation_failed");
    assert_eq!(
        unknown.field_codes(),
        [("is_staff".to_string(), "unknown_field".to_string())]
    );
    app.patch("/v1/members/me", Some(&erin.access), json!({"show_email": "yes"}))
        .await
        .assert_problem(422, "validation_failed");
    app.patch("/v1/members/me", Some(&erin.access), json!({"locale": "de"}))
        .await
        .assert_problem(422, "validation_failed");
    app.patch(
        "/v1/members/me",
        Some(&erin.access),
        json!({"avatar_url": "javascript:alert(1)"}),
    )
    .await
    .assert_problem(422, "validation_failed");

    assert_eq!(app.get("/v1/members/me", Some(&erin.access)).await.body, before);
    assert_eq!(
        app.count("SELECT count(*) FROM events WHERE event_type = 'member.updated'"),
        0
    );
    app.patch("/v1/members/me", None, json!({"biography": "x"}))
        .await
        .assert_problem(401, "missing_credentials");
}

#[tokio::test]
async fn staff_see_the_city_of_the_last_ip() {
    let geoip = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/city-test.mmdb");
    let app = TestApp::spawn_with(&[("MEMBERD_GEOIP_DB", geoip), ("MEMBERD_TRUSTED_PROXIES", "127.0.0.1")]).await;
    let frank = app.member("frank").await;
    let login = json!({"login": "frank", "password": crate::helpers::PASSWORD});
    let response = app
        .request_from("198.51.100.7", Method::POST, "/v1/auth/login", None, Some(login))
        .await;
    assert_eq!(response.status, StatusCode::OK);

    let moderator = app.member("grace").await;
    app.make_staff(moderator.id);
    let seen_by_staff = app.get("/v1/members/frank", Some(&moderator.access)).await;
    assert_eq!(seen_by_staff.body["city"], "Testville");
    assert!(
        app.get("/v1/members/frank", Some(&frank.access))
            .await
            .body
            .get("city")
            .is_none()
    );
    assert!(app.get("/v1/members/frank", None).await.body.get("city").is_none());
}

#[tokio::test]
async fn the_directory_pages_sorts_and_searches_listed_members_only() {
    let app = TestApp::spawn().await;
    for name in ["Zed", "amy", "Ann", "bob", "ANDY"] {
        app.member(name).await;
    }
    app.register("andrea", "andrea@example.com").await; // never activated
    let bot = app.member("anbot").await;
    app.make_bot(bot.id);

    let all = app.get("/v1/members", None).await;
    assert_eq!(all.status, StatusCode::OK);
    assert_eq!(all.body["total"], 5);
    let names: Vec<&str> = all.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["amy", "ANDY", "Ann", "bob", "Zed"]);
    assert!(all.body["items"][0].get("email").is_none());

    let page = app.get("/v1/members?per_page=2&page=2", None).await;
    let names: Vec<&str> = page.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Ann", "bob"]);
    assert_eq!(
        (
            page.body["page"].clone(),
            page.body["per_page"].clone(),
            page.body["total"].clone()
        ),
        (json!(2), json!(2), json!(5))
    );
    let link = page.headers["link"].to_str().unwrap();
    assert!(link.contains("</v1/members?per_page=2&page=3>; rel=\"next\""), "{link}");
    assert!(link.contains("</v1/members?per_page=2&page=1>; rel=\"prev\""), "{link}");

    let search = app.get("/v1/members?q=AN", None).await;
    let names: Vec<&str> = search.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["ANDY", "Ann"]);
    assert_eq!(search.body["total"], 2);
    assert_eq!(
        app.get("/v1/members?q=%25", None).await.body["total"],
        0,
        "% is a character, not a wildcard"
    );

    let reversed = app.get("/v1/members?sort=-username&per_page=1", None).await;
    assert_eq!(reversed.body["items"][0]["username"], "Zed");
    let newest = app.get("/v1/members?sort=-date_joined&per_page=1", None).await;
    assert_eq!(newest.body["items"][0]["username"], "ANDY");

    let past_the_end = app.get("/v1/members?page=9", None).await;
    assert_eq!(past_the_end.status, StatusCode::OK);
    assert_eq!(past_the_end.body["items"], json!([]));
    assert_eq!(past_the_end.body["total"], all.body["total"]);
    app.get("/v1/members?per_page=101", None)
        .await
        .assert_problem(422, "validation_failed");
    app.get("/v1/members?page=0", None)
        .await
        .assert_problem(422, "validation_failed");
    app.get("/v1/members?sort=karma", None)
        .await
        .assert_problem(422, "validation_failed");
    app.get("/v1/members?per_page=abc", None)
        .await
        .assert_problem(400, "invalid_query");
}

#[tokio::test]
async fn bots_are_marked_on_their_profile() {
    let app = TestApp::spawn().await;
    let bot = app.member("helperbot").await;
    app.make_bot(bot.id);
    assert_eq!(app.get("/v1/members/helperbot", None).await.body["is_bot"], true);
}

#[tokio::test]
async fn me_names_the_caller_in_every_member_path_and_no_username_can_shadow_it() {
    let app = TestApp::spawn().await;
    let boss = app.member("boss").await;
    app.make_superuser(boss.id);
    let ada = app.member("ada").await;

    let own = app.get("/v1/members/me/status", Some(&ada.access)).await;
    assert_eq!(own.status, StatusCode::OK, "{}", own.body);
    assert_eq!(own.body["can_read"], true);
    let notes = app.get("/v1/members/me/karma-notes", Some(&boss.access)).await;
    assert_eq!(notes.status, StatusCode::OK, "{}", notes.body);
    let history = app.get("/v1/sanctions?moderator=me", Some(&boss.access)).await;
    assert_eq!(history.status, StatusCode::OK, "{}", history.body);
    // Staff cannot sanction themselves through `me` either.
    app.post(
        "/v1/members/me/sanctions",
        Some(&boss.access),
        json!({"kind": "ban", "reason": "x"}),
    )
    .await
    .assert_problem(403, "cannot_moderate_self");

    // A key is nobody: `me` names no member.
    let key = crate::integration::key(&app, &boss, json!(["status:read"])).await;
    app.get("/v1/members/me/status", Some(&key))
        .await
        .assert_problem(404, "member_not_found");

    for (name, code) in [("me", "reserved"), ("ME", "reserved"), ("12", "numeric")] {
        let response = app.register(name, &format!("x{code}{}@example.com", name.len())).await;
        response.assert_problem(422, "validation_failed");
        assert!(
            response
                .field_codes()
                .contains(&("username".to_string(), code.to_string())),
            "{name}: {}",
            response.body
        );
    }
}

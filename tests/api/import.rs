//! `memberd import zds`, run as operators run it (the built binary), on
//! dumps written by real Django (`tests/fixtures/zds/make_fixtures.py`);
//! then the imported community, through the API.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Session, TestApp, TestDatabase};
use crate::process::Process;

fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/zds/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// The password every fixture user was given with Django's `set_password`.
fn password(username: &str) -> String {
    format!("pw-{username}-sésame")
}

struct Imported {
    success: bool,
    stdout: String,
    stderr: String,
    report: Value,
}

/// Long enough that the fixture's addresses (seen up to 2025) are kept.
const RETENTION: (&str, &str) = ("MEMBERD_IP_RETENTION_DAYS", "36500");

fn import(database_url: &str, file: &str, extra: &[&str]) -> Imported {
    let report_file = std::env::temp_dir().join(format!("memberd-import-{}.json", uuid::Uuid::new_v4().simple()));
    let report_path = report_file.to_string_lossy().into_owned();
    let mut args = vec!["import", "zds", file, "--report", &report_path];
    args.extend_from_slice(extra);
    let output = Process::output(database_url, &[RETENTION], &args);
    let report = std::fs::read(&report_file)
        .ok()
        .map(|bytes| serde_json::from_slice(&bytes).unwrap())
        .unwrap_or(Value::Null);
    let _ = std::fs::remove_file(&report_file);
    Imported {
        success: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        report,
    }
}

/// A database with `community.json` imported, and memberd serving it.
async fn imported_community() -> (TestApp, Value) {
    let database = TestDatabase::create().await;
    let url = database.url.clone();
    let imported = tokio::task::spawn_blocking(move || import(&url, &fixture("community.json"), &[]))
        .await
        .unwrap();
    assert!(imported.success, "{}\n{}", imported.stdout, imported.stderr);
    (TestApp::spawn_on(database, &[RETENTION]).await, imported.report)
}

fn member_id(app: &TestApp, pk: i64) -> i64 {
    app.count(&format!("SELECT id FROM members WHERE legacy_id = 'zds:user:{pk}'"))
}

async fn admin(app: &TestApp) -> Session {
    app.login("admin", &password("admin")).await
}

#[tokio::test]
async fn every_django_password_format_logs_in_once_and_is_then_memberds_own() {
    let (app, report) = imported_community().await;
    assert_eq!(report["conflicts"]["unusable_passwords"], 1, "{report}");
    let formats = [
        ("admin", "argon2$argon2id$"),
        ("moderatrice", "pbkdf2_sha256$600000$"),
        ("Clément Dupont", "pbkdf2_sha256$1000$"),
        ("pbkdf2sha1", "pbkdf2_sha1$"),
        ("argon2i", "argon2$argon2i$"),
        ("bcryptsha256", "bcrypt_sha256$"),
        ("bcrypt", "bcrypt$"),
        ("scrypt", "scrypt$"),
        ("md5", "md5$"),
        ("sha1", "sha1$"),
        ("md5bare", ""),
        ("md5prefixed", "md5$$"),
        ("sha1bare", "sha1$$"),
    ];
    for (username, prefix) in formats {
        let stored = app.text(&format!(
            "SELECT password_hash FROM members WHERE username = '{username}'"
        ));
        assert!(
            stored.starts_with(prefix) && !stored.starts_with("$argon2id$"),
            "{username}: {stored}"
        );
        let wrong = app
            .post(
                "/v1/auth/login",
                None,
                json!({"login": username, "password": "pw-wrong-sésame"}),
            )
            .await;
        wrong.assert_problem(401, "invalid_credentials");
        app.login(username, &password(username)).await;
        let upgraded = app.text(&format!(
            "SELECT password_hash FROM members WHERE username = '{username}'"
        ));
        assert!(
            upgraded.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{username}: {upgraded}"
        );
        // The new hash verifies the same password, and still only it.
        app.login(username, &password(username)).await;
        app.post(
            "/v1/auth/login",
            None,
            json!({"login": username, "password": "pw-wrong-sésame"}),
        )
        .await
        .assert_problem(401, "invalid_credentials");
    }
    // A social-login account's unusable password never verifies: a reset is its way in.
    app.post("/v1/auth/login", None, json!({"login": "social", "password": "!"}))
        .await
        .assert_problem(401, "invalid_credentials");
    app.post(
        "/v1/auth/login",
        None,
        json!({"login": "social", "password": password("social")}),
    )
    .await
    .assert_problem(401, "invalid_credentials");
    // Accounts not validated there are not here; banned ones stay out.
    app.post(
        "/v1/auth/login",
        None,
        json!({"login": "inactive", "password": password("inactive")}),
    )
    .await
    .assert_problem(403, "account_inactive");
    app.post(
        "/v1/auth/login",
        None,
        json!({"login": "ban_perm", "password": password("ban_perm")}),
    )
    .await
    .assert_problem(403, "member_banned");
}

#[tokio::test]
async fn standing_after_the_import_is_what_zeste_de_savoir_says_now() {
    let (app, _) = imported_community().await;
    let admin = admin(&app).await;
    let status = |pk: i64| {
        let app = &app;
        let token = admin.access.clone();
        async move {
            let response = app
                .get(&format!("/v1/members/{}/status", member_id(app, pk)), Some(&token))
                .await;
            assert_eq!(response.status, StatusCode::OK, "{}", response.body);
            response.body
        }
    };
    let standing = |body: &Value| {
        (
            body["can_read"].as_bool().unwrap(),
            body["can_write"].as_bool().unwrap(),
            body["banned_until"].clone(),
            body["read_only_until"].clone(),
        )
    };
    // ro_perm, ro_running, ro_over, ban_perm, ban_lifted, ban_replaced, legacy, unknown_label
    assert_eq!(standing(&status(22).await), (true, false, Value::Null, Value::Null));
    assert_eq!(
        standing(&status(23).await),
        (true, false, Value::Null, json!("2098-12-31T23:00:00Z"))
    );
    assert_eq!(standing(&status(24).await), (true, true, Value::Null, Value::Null));
    assert_eq!(standing(&status(25).await), (false, false, Value::Null, Value::Null));
    assert_eq!(standing(&status(26).await), (true, true, Value::Null, Value::Null));
    assert_eq!(standing(&status(27).await), (false, false, Value::Null, Value::Null));
    assert_eq!(standing(&status(28).await), (true, true, Value::Null, Value::Null));
    assert_eq!(standing(&status(29).await), (true, true, Value::Null, Value::Null));
    // The reason the member is shown is the note of the row that runs.
    assert_eq!(status(23).await["active_sanctions"][0]["reason"], "Spam");

    let history = |pk: i64| {
        let app = &app;
        let token = admin.access.clone();
        async move {
            let response = app
                .get(&format!("/v1/members/{}/sanctions", member_id(app, pk)), Some(&token))
                .await;
            assert_eq!(response.status, StatusCode::OK, "{}", response.body);
            response.body["items"].as_array().unwrap().clone()
        }
    };
    let replaced = history(27).await;
    let summary: Vec<(&str, &str, &str)> = replaced
        .iter()
        .map(|s| {
            (
                s["kind"].as_str().unwrap(),
                s["state"].as_str().unwrap(),
                s["moderator"]["username"].as_str().unwrap(),
            )
        })
        .collect();
    // The permanent ban was given by nobody the file knows: the placeholder.
    assert_eq!(
        summary,
        [("ban", "active", "[deleted]"), ("ban", "replaced", "moderatrice")]
    );
    assert_eq!(replaced[1]["ends_at"], "2022-06-03T08:00:00Z");
    assert_eq!(replaced[1]["created_at"], "2022-06-01T08:00:00Z");

    let lifted = history(26).await;
    let states: Vec<(&str, &str)> = lifted
        .iter()
        .map(|s| (s["kind"].as_str().unwrap(), s["state"].as_str().unwrap()))
        .collect();
    assert_eq!(states, [("lift_ban", "expired"), ("ban", "lifted")]);
    assert_eq!(lifted[1]["end_reason"], "Erreur");
    assert_eq!(lifted[1]["ended_by"]["username"], "admin");

    let over = history(24).await;
    assert_eq!(
        (over[0]["state"].as_str(), over[0]["ends_at"].as_str()),
        (Some("expired"), Some("2021-03-02T09:00:00Z"))
    );
    // An old temporary ban without days ends where the profile said.
    let legacy = history(28).await;
    assert!(
        legacy
            .iter()
            .any(|s| s["kind"] == "ban" && s["ends_at"] == "2019-07-08T08:00:00Z"),
        "{legacy:?}"
    );
    // An unknown label is reported and not imported.
    assert!(history(29).await.is_empty());
    // Nothing imported waits in a queue.
    assert_eq!(
        app.count("SELECT count(*) FROM sanctions WHERE starts_at IS NULL AND ended_kind IS NULL"),
        0
    );
}

#[tokio::test]
async fn karma_groups_roles_profiles_and_forbidden_domains_come_over() {
    let (app, report) = imported_community().await;
    let admin = admin(&app).await;
    let notes = |pk: i64| {
        let app = &app;
        let token = admin.access.clone();
        async move {
            let response = app
                .get(&format!("/v1/members/{}/karma-notes", member_id(app, pk)), Some(&token))
                .await;
            assert_eq!(response.status, StatusCode::OK, "{}", response.body);
            response.body
        }
    };
    let karmic = notes(30).await;
    assert_eq!((karmic["karma"].as_i64(), karmic["total"].as_i64()), (Some(5), Some(2)));
    let gap = notes(31).await;
    assert_eq!((gap["karma"].as_i64(), gap["total"].as_i64()), (Some(-50), Some(2)));
    assert!(
        gap["items"].as_array().unwrap().iter().any(|n| n["karma"] == -30),
        "{gap}"
    );
    assert_eq!(
        report["conflicts"]["karma_balances"],
        json!([{"user": 31, "profile_karma": -50, "notes_sum": -20, "carried_over": -30}])
    );
    // Paris time: the earlier of the autumn's two 02:30, the instant the spring's gap ends.
    let dst = notes(34).await;
    let mut times: Vec<&str> = dst["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["created_at"].as_str().unwrap())
        .collect();
    times.sort();
    assert_eq!(times, ["2021-03-28T01:00:00Z", "2021-10-31T00:30:00Z"]);

    // Roles: staff from the group or is_staff, superuser from is_superuser, bots from `bot`.
    let flags = |pk: i64| {
        app.text(&format!(
            "SELECT is_staff || ',' || is_superuser FROM members WHERE legacy_id = 'zds:user:{pk}'"
        ))
    };
    assert_eq!(
        (flags(1), flags(2), flags(3)),
        ("true,true".into(), "true,false".into(), "false,false".into())
    );
    let bot = app.get(&format!("/v1/members/{}", member_id(&app, 32)), None).await;
    assert_eq!(bot.body["is_bot"], true, "{}", bot.body);
    assert_eq!(
        app.text(
            "SELECT string_agg(g.name, ',' ORDER BY g.name) FROM member_groups mg JOIN groups g ON g.id = mg.group_id JOIN members m ON m.id = mg.member_id WHERE m.username = 'admin'"
        ),
        "devs,staff"
    );

    // The profile, and nothing of what memberd must not keep.
    let profile = app.get("/v1/members/admin", Some(&admin.access)).await.body;
    assert_eq!(
        (
            &profile["biography"],
            &profile["website"],
            &profile["signature"],
            &profile["email"]
        ),
        (
            &json!("Fondateur"),
            &json!("https://zds.example"),
            &json!("— admin"),
            &json!("admin@zds.example")
        )
    );
    assert!(app.places_holding("ghp_secret_never_imported").is_empty());
    assert_eq!(app.count("SELECT count(*) FROM member_ips WHERE ip = '2001:db8::1'"), 1);
    assert_eq!(app.count("SELECT count(*) FROM members WHERE last_ip = '0.0.0.0'"), 0);

    // Providers ending with a dot are the name under any top-level domain.
    for (n, address) in [
        "a@yopmail.fr",
        "b@sub.yopmail.com",
        "c@mailinator.com",
        "d@trashmail.net",
    ]
    .iter()
    .enumerate()
    {
        let refused = app.register(&format!("newbie{n}"), address).await;
        assert_eq!(
            refused.field_codes(),
            [("email".to_string(), "forbidden_domain".to_string())],
            "{address}"
        );
    }
    assert_eq!(
        app.register("welcome", "e@yopmailer.com").await.status,
        StatusCode::ACCEPTED
    );
}

#[tokio::test]
async fn every_conflict_is_resolved_without_dropping_an_account_and_reported() {
    let (app, report) = imported_community().await;
    assert_eq!(
        app.count("SELECT count(*) FROM members WHERE legacy_id LIKE 'zds:user:%'"),
        34
    );
    let conflicts = &report["conflicts"];
    // Confusable names: the later account gets a suffix.
    assert_eq!(
        conflicts["renamed"],
        json!([{"pk": 16, "username": "élodie", "imported_as": "élodie-16", "confusable_with": "Élodie"}])
    );
    app.login("élodie-16", &password("élodie")).await;
    app.login("Élodie", &password("Élodie")).await;
    // Names memberd would refuse today are kept as they are.
    let kept: Vec<i64> = conflicts["grandfathered"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["pk"].as_i64().unwrap())
        .collect();
    assert_eq!(kept, [17, 18]);
    app.login("Jean/Paul", &password("Jean/Paul")).await;
    // An address shared but for case: the most recently active keeps it as their login.
    assert_eq!(
        conflicts["shared_addresses"],
        json!([{"email": "camille@example.com", "kept_by": 20, "others": [19]}])
    );
    let by_address = app.login("camille@example.com", &password("camille2")).await;
    assert_eq!(by_address.id, member_id(&app, 20));
    app.login("Camille", &password("Camille")).await;
    // Without an address: none, malformed, or given to the other sharer.
    let without: Vec<(i64, &str)> = conflicts["without_address"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| (w["pk"].as_i64().unwrap(), w["why"].as_str().unwrap()))
        .collect();
    assert_eq!(without, [(14, "missing"), (19, "shared_but_for_case"), (21, "invalid")]);
    let bademail = app.login("bademail", &password("bademail")).await;
    assert_eq!(
        app.get("/v1/members/me", Some(&bademail.access)).await.body["email"],
        ""
    );
    assert_eq!(
        app.count("SELECT count(*) FROM members WHERE email = '' AND email_key IS NULL"),
        3
    );
    // A reset for a member without an address sends nothing and reveals nothing.
    let reset = app
        .post("/v1/tokens/password-reset", None, json!({"login": "bademail"}))
        .await;
    assert_eq!(reset.status, StatusCode::ACCEPTED);
}

/// What an import may change, in a form two runs can be compared by.
fn snapshot(app: &TestApp) -> String {
    [
        "SELECT md5(string_agg(m::text, '|' ORDER BY id)) FROM members m",
        "SELECT md5(string_agg(s::text, '|' ORDER BY id)) FROM sanctions s",
        "SELECT md5(string_agg(k::text, '|' ORDER BY id)) FROM karma_notes k",
        "SELECT md5(string_agg(g::text, '|' ORDER BY member_id, group_id)) FROM member_groups g",
        "SELECT md5(string_agg(g::text, '|' ORDER BY id)) FROM groups g",
        "SELECT md5(string_agg(i::text, '|' ORDER BY member_id, ip)) FROM member_ips i",
        "SELECT md5(string_agg(d::text, '|' ORDER BY domain)) FROM forbidden_email_domains d",
        "SELECT count(*)::text FROM audit_log",
    ]
    .iter()
    .map(|sql| app.text(&format!("SELECT coalesce(({sql}), '')")))
    .collect::<Vec<_>>()
    .join(" ")
}

fn totals(report: &Value, model: &str) -> (i64, i64, i64, i64) {
    let counts = &report["models"][model];
    let n = |k: &str| counts[k].as_i64().unwrap_or(0);
    (n("read"), n("imported"), n("updated"), n("unchanged"))
}

#[tokio::test]
async fn a_dry_run_writes_nothing_the_same_file_changes_nothing_and_a_newer_one_what_changed() {
    let database = TestDatabase::create().await;
    let url = database.url.clone();
    let app = TestApp::spawn_on(database, &[RETENTION]).await;
    let before = snapshot(&app);
    let dry = import(&url, &fixture("community.json"), &["--dry-run"]);
    assert!(dry.success, "{}", dry.stderr);
    assert!(dry.stdout.contains("dry run"), "{}", dry.stdout);
    assert_eq!(totals(&dry.report, "auth.user"), (34, 34, 0, 0));
    assert_eq!(snapshot(&app), before);
    // Addresses are kept as memberd keeps them: not past MEMBERD_IP_RETENTION_DAYS (365 by default).
    let dated = Process::output(&url, &[], &["import", "zds", &fixture("community.json"), "--dry-run"]);
    let printed = String::from_utf8_lossy(&dated.stdout);
    assert!(
        printed.contains("addresses past the IP retention period, left out: 2"),
        "{printed}"
    );
    assert_eq!(dry.report["conflicts"]["ips_past_retention"], 0);

    let first = import(&url, &fixture("community.json"), &[]);
    assert!(first.success, "{}", first.stderr);
    assert_eq!(totals(&first.report, "auth.user"), (34, 34, 0, 0));
    assert_eq!(totals(&first.report, "member.ban"), (12, 11, 0, 0));
    assert_eq!(
        first.report["models"]["member.ban"]["skipped"],
        json!({"unknown label": 1})
    );
    // The dry run said what the run did.
    assert_eq!(dry.report["models"], first.report["models"]);
    assert_eq!(dry.report["conflicts"], first.report["conflicts"]);
    let skipped: Vec<&str> = first.report["skipped_fields"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for field in [
        "auth.user.first_name",
        "auth.user.user_permissions",
        "member.profile.github_token",
        "member.profile.hats",
    ] {
        assert!(skipped.contains(&field), "{field}: {skipped:?}");
    }
    let imported = snapshot(&app);
    assert_ne!(imported, before);

    let again = import(&url, &fixture("community.json"), &[]);
    assert!(again.success, "{}", again.stderr);
    assert_eq!(totals(&again.report, "auth.user"), (34, 0, 0, 34));
    assert_eq!(totals(&again.report, "member.ban"), (12, 0, 0, 11));
    assert_eq!(totals(&again.report, "member.karmanote"), (5, 0, 0, 5));
    assert_eq!(snapshot(&app), imported);

    // A member who logged in here keeps memberd's hash when the file comes again.
    app.login("karmic", &password("karmic")).await;
    let newer = import(&url, &fixture("community-newer.json"), &[]);
    assert!(newer.success, "{}", newer.stderr);
    assert_eq!(totals(&newer.report, "auth.user"), (35, 1, 1, 33));
    assert_eq!(totals(&newer.report, "member.ban"), (13, 1, 1, 10));
    assert!(
        app.text("SELECT password_hash FROM members WHERE username = 'karmic'")
            .starts_with("$argon2id$")
    );
    app.execute("SELECT 1");
    let admin = admin(&app).await;
    let ro_perm = app
        .get(
            &format!("/v1/members/{}/status", member_id(&app, 22)),
            Some(&admin.access),
        )
        .await;
    assert_eq!(ro_perm.body["can_write"], true, "{}", ro_perm.body);
    assert_eq!(
        app.get("/v1/members/admin", None).await.body["biography"],
        "Fondateur du site"
    );
    app.login("newcomer", &password("newcomer")).await;
    assert_eq!(
        app.register("spammer", "x@spam4.me").await.field_codes()[0].1,
        "forbidden_domain"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM audit_log WHERE action = 'community.imported'"),
        2
    );
}

/// Writes `records` as a dump, imports it, and checks it stopped before writing anything.
async fn refused(records: Value, expected: &str) {
    let database = TestDatabase::create().await;
    let url = database.url.clone();
    let app = TestApp::spawn_on(database, &[]).await;
    let before = snapshot(&app);
    let file = std::env::temp_dir().join(format!("memberd-bad-{}.json", uuid::Uuid::new_v4().simple()));
    let text = match records {
        Value::String(raw) => raw,
        other => other.to_string(),
    };
    std::fs::write(&file, text).unwrap();
    let imported = import(&url, &file.to_string_lossy(), &[]);
    let _ = std::fs::remove_file(&file);
    assert!(!imported.success, "{}", imported.stdout);
    assert!(
        imported.stderr.contains(expected),
        "{expected:?} not in {}",
        imported.stderr
    );
    assert!(imported.stderr.contains("nothing was written"), "{}", imported.stderr);
    assert_eq!(snapshot(&app), before);
}

fn user(pk: i64, username: &str) -> Value {
    json!({"model": "auth.user", "pk": pk, "fields": {
        "password": "md5$$36ff666261eda33b9d9a42a64e6c17f1", "last_login": null, "is_superuser": false,
        "username": username, "first_name": "", "last_name": "", "email": format!("{username}@x.example"),
        "is_staff": false, "is_active": true, "date_joined": "2020-01-01T00:00:00", "groups": [], "user_permissions": []
    }})
}

#[tokio::test]
async fn a_malformed_file_or_a_broken_reference_stops_the_import_naming_the_record() {
    refused(json!("not json at all"), "not a Django dump").await;
    refused(
        json!("[{\"model\": \"auth.user\", \"pk\": 1, \"fields\": {"),
        "not a Django dump",
    )
    .await;
    refused(json!({"model": "auth.user"}), "not a Django dump").await;
    let mut wrong_type = user(2, "typed");
    wrong_type["fields"]["is_active"] = json!("yes");
    refused(
        json!([user(1, "fine"), wrong_type]),
        "auth.user 2: the field is_active is not true or false",
    )
    .await;
    let mut bad_date = user(3, "dated");
    bad_date["fields"]["date_joined"] = json!("yesterday");
    refused(
        json!([bad_date]),
        "auth.user 3: the field date_joined is not a date and time",
    )
    .await;
    refused(
        json!([user(1, "twice"), user(1, "twice")]),
        "auth.user 1: the same record appears twice",
    )
    .await;
    let profile = json!({"model": "member.profile", "pk": 7, "fields": {"user": 99, "karma": 0, "can_read": true, "can_write": true}});
    refused(
        json!([user(1, "alone"), profile]),
        "member.profile 7: its user 99 is not in the file",
    )
    .await;
    let ban = json!({"model": "member.ban", "pk": 5, "fields": {"user": 42, "moderator": null, "type": "Lecture Seule", "note": "", "pubdate": "2020-01-01T00:00:00"}});
    refused(
        json!([user(1, "alone"), ban]),
        "member.ban 5: its user 42 is not in the file",
    )
    .await;
    let mut grouped = user(1, "grouped");
    grouped["fields"]["groups"] = json!([8]);
    refused(json!([grouped]), "auth.user 1: its group 8 is not in the file").await;
}

#[tokio::test]
async fn models_and_fields_the_command_does_not_read_are_skipped_and_counted() {
    let database = TestDatabase::create().await;
    let url = database.url.clone();
    let mut newer = user(1, "futur");
    newer["fields"]["a_field_from_a_later_version"] = json!({"any": "thing"});
    // A moderator the file does not hold (deleted there, or left out of the dump).
    let noted = json!({"model": "member.karmanote", "pk": 3, "fields": {
        "user": 1, "moderator": 999, "note": "Bienvenue", "karma": 2, "pubdate": "2020-02-02T00:00:00"
    }});
    // Read-only there, with no `Ban` row that says so (a profile edited by hand).
    let silenced = json!({"model": "member.profile", "pk": 9, "fields": {
        "user": 2, "karma": 0, "can_read": true, "can_write": false, "end_ban_write": null
    }});
    let records = json!([
        newer,
        user(2, "muet"),
        silenced,
        noted,
        {"model": "forum.post", "pk": 1, "fields": {"text": "hello"}},
        {"model": "forum.post", "pk": 2, "fields": {"text": "again"}},
    ]);
    let file = std::env::temp_dir().join(format!("memberd-extra-{}.json", uuid::Uuid::new_v4().simple()));
    std::fs::write(&file, records.to_string()).unwrap();
    let imported = import(&url, &file.to_string_lossy(), &[]);
    let _ = std::fs::remove_file(&file);
    assert!(imported.success, "{}", imported.stderr);
    assert_eq!(imported.report["skipped_models"], json!({"forum.post": 2}));
    assert_eq!(
        imported.report["skipped_fields"]["auth.user.a_field_from_a_later_version"],
        1
    );
    let app = TestApp::spawn_on(database, &[]).await;
    assert_eq!(imported.report["conflicts"]["placeholder_moderators"], 1);
    assert_eq!(
        imported.report["conflicts"]["carried_standings"],
        json!([{"user": 2, "kind": "read_only"}])
    );
    // No profile: memberd's defaults, and the member logs in.
    app.login("futur", &password("md5prefixed")).await;
    assert_eq!(
        app.text("SELECT m.username FROM karma_notes k JOIN members m ON m.id = k.author_id"),
        "[deleted]"
    );
    let silenced = app.login("muet", &password("md5prefixed")).await;
    app.patch(
        "/v1/members/me",
        Some(&silenced.access),
        json!({"biography": "Bonjour"}),
    )
    .await
    .assert_problem(403, "member_read_only");
}

#[tokio::test]
async fn the_names_and_addresses_of_members_already_here_are_theirs() {
    let database = TestDatabase::create().await;
    let url = database.url.clone();
    let app = TestApp::spawn_on(database, &[RETENTION]).await;
    // Registered here before the import: a name confusable with one in the
    // file, an address another account of the file has.
    let native = app.register("KARMIC", "RO_perm@zds.example").await;
    assert_eq!(native.status, StatusCode::ACCEPTED);
    let imported = import(&url, &fixture("community.json"), &[]);
    assert!(imported.success, "{}", imported.stderr);
    let conflicts = &imported.report["conflicts"];
    assert!(
        conflicts["renamed"].as_array().unwrap().contains(
            &json!({"pk": 30, "username": "karmic", "imported_as": "karmic-30", "confusable_with": "KARMIC"})
        ),
        "{conflicts}"
    );
    assert!(
        conflicts["without_address"].as_array().unwrap().contains(&json!({
            "pk": 22, "username": "ro_perm", "email": "ro_perm@zds.example", "why": "taken_in_memberd"
        })),
        "{conflicts}"
    );
    app.login("karmic-30", &password("karmic")).await;
    assert_eq!(
        app.count("SELECT count(*) FROM members WHERE email_key = 'ro_perm@zds.example'"),
        1
    );
}

//! The test harness: a database per test cloned from a migrated template, a
//! real SMTP listener, and memberd on a free port, talked to over HTTP.

use std::collections::HashMap;
use std::sync::OnceLock;

use diesel::prelude::*;
use memberd::app::{Application, Options};
use memberd::clock::Clock;
use memberd::config::Config;
use memberd::db::batch::WRITERS;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::smtp::{self, Inbox};

pub const PASSWORD: &str = "correct horse battery staple";

fn server_url() -> String {
    std::env::var("TEST_DATABASE_SERVER").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

/// A database of the test server. Without TLS on loopback: OpenSSL's exit
/// handlers crash a process that still has a connection in its handshake
/// on another thread, and loopback needs no encryption.
fn database_url(server: &str, database: &str) -> String {
    let loopback = server.contains("@127.0.0.1") || server.contains("@localhost") || server.contains("@[::1]");
    if loopback && !server.contains('?') {
        format!("{server}/{database}?sslmode=disable")
    } else {
        format!("{server}/{database}")
    }
}

/// Builds (once per migration set, across test processes) a database with the
/// schema and seeded lists, to be copied for each test.
fn template() -> &'static str {
    static TEMPLATE: OnceLock<String> = OnceLock::new();
    TEMPLATE.get_or_init(|| {
        let mut fingerprint = 0u64;
        for file in memberd_migration_files() {
            for byte in std::fs::read(&file).unwrap() {
                fingerprint = fingerprint.wrapping_mul(1_099_511_628_211).wrapping_add(byte as u64);
            }
        }
        for byte in include_bytes!("../../data/forbidden-email-domains.txt") {
            fingerprint = fingerprint.wrapping_mul(1_099_511_628_211).wrapping_add(*byte as u64);
        }
        let name = format!("memberd_tmpl_{fingerprint:016x}");
        let mut admin = PgConnection::establish(&database_url(&server_url(), "postgres"))
            .expect("PostgreSQL at 127.0.0.1:5432 (set TEST_DATABASE_SERVER to point elsewhere)");
        diesel::sql_query("SELECT pg_advisory_lock(80420001)")
            .execute(&mut admin)
            .unwrap();
        let exists: bool = diesel::select(diesel::dsl::sql::<diesel::sql_types::Bool>(&format!(
            "EXISTS (SELECT 1 FROM pg_database WHERE datname = '{name}')"
        )))
        .get_result(&mut admin)
        .unwrap();
        if !exists {
            // Built under another name and renamed when complete, so an
            // interrupted build is never mistaken for a template.
            let building = format!("{name}_building");
            diesel::sql_query(format!("DROP DATABASE IF EXISTS \"{building}\" WITH (FORCE)"))
                .execute(&mut admin)
                .unwrap();
            let config = config_for(&database_url(&server_url(), &building), &HashMap::new(), 1);
            memberd::app::prepare_database(&config, &Clock::system()).expect("template database");
            retry(|| {
                diesel::sql_query(format!("ALTER DATABASE \"{building}\" RENAME TO \"{name}\"")).execute(&mut admin)
            });
        }
        diesel::sql_query("SELECT pg_advisory_unlock(80420001)")
            .execute(&mut admin)
            .unwrap();
        name
    })
}

/// PostgreSQL refuses to copy or rename a database while a just-closed
/// connection to it is still winding down; that lasts milliseconds.
fn retry<T, E: std::fmt::Debug>(mut work: impl FnMut() -> Result<T, E>) -> T {
    for _ in 0..50 {
        if let Ok(value) = work() {
            return value;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    work().unwrap()
}

fn memberd_migration_files() -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))
        .unwrap()
        .flat_map(|dir| std::fs::read_dir(dir.unwrap().path()).unwrap())
        .map(|file| file.unwrap().path())
        .collect();
    files.sort();
    files
}

fn config_for(database_url: &str, overrides: &HashMap<&str, String>, smtp_port: u16) -> Config {
    let mut vars: HashMap<&str, String> = HashMap::from([
        ("DATABASE_URL", database_url.to_string()),
        ("MEMBERD_BIND", "127.0.0.1:0".into()),
        ("MEMBERD_PUBLIC_URL", "http://memberd.test".into()),
        ("MEMBERD_FRONTEND_URL", "http://front.test/app".into()),
        ("MEMBERD_SMTP_URL", format!("smtp://127.0.0.1:{smtp_port}")),
        // Staff powers without a second factor, so that a test of staff work
        // need not enrol one; `tests/api/factors.rs` holds them to `required`,
        // the default, operation by operation.
        ("MEMBERD_STAFF_MFA", "optional".into()),
    ]);
    vars.extend(overrides.iter().map(|(k, v)| (*k, v.clone())));
    Config::from_lookup(|name| vars.get(name).cloned()).expect("test configuration")
}

/// A database of its own, copied from the template, dropped with this value.
pub struct TestDatabase {
    pub name: String,
    pub url: String,
}

impl TestDatabase {
    pub async fn create() -> TestDatabase {
        let template = template();
        let name = format!("memberd_test_{}", uuid::Uuid::new_v4().simple());
        let server = server_url();
        {
            let (template, name, server) = (template.to_string(), name.clone(), server.clone());
            tokio::task::spawn_blocking(move || {
                let mut admin = PgConnection::establish(&database_url(&server, "postgres")).unwrap();
                retry(|| {
                    diesel::sql_query(format!("CREATE DATABASE \"{name}\" TEMPLATE \"{template}\"")).execute(&mut admin)
                });
            })
            .await
            .unwrap();
        }
        let url = database_url(&server, &name);
        TestDatabase { name, url }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let statement = format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name);
        let server = server_url();
        // A thread of its own: this may run inside the test's runtime.
        let _ = std::thread::spawn(move || {
            if let Ok(mut admin) = PgConnection::establish(&database_url(&server, "postgres")) {
                let _ = diesel::sql_query(statement).execute(&mut admin);
            }
        })
        .join();
    }
}

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub inbox: Inbox,
    pub clock: Clock,
    pub database_url: String,
    pub state: actix_web::web::Data<memberd::state::AppState>,
    /// Dropped after the server has let go of it (see `Drop`).
    _database: TestDatabase,
}

pub struct Response {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Response {
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or_default()
    }

    /// Asserts a problem+json answer with this status and code.
    #[track_caller]
    pub fn assert_problem(&self, status: u16, code: &str) {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.body);
        assert_eq!(self.code(), code, "body: {}", self.body);
        let content_type = self
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        assert_eq!(content_type, "application/problem+json");
        assert_eq!(self.body["status"].as_u64(), Some(status as u64));
    }

    pub fn field_codes(&self) -> Vec<(String, String)> {
        self.body["errors"]
            .as_array()
            .map(|errors| {
                errors
                    .iter()
                    .map(|e| {
                        (
                            e["field"].as_str().unwrap().to_string(),
                            e["code"].as_str().unwrap().to_string(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// A logged-in member.
pub struct Session {
    pub id: i64,
    pub access: String,
    pub refresh: String,
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(&[]).await
    }

    pub async fn spawn_with(overrides: &[(&'static str, &str)]) -> TestApp {
        Self::spawn_on(TestDatabase::create().await, overrides).await
    }

    /// memberd on a database made beforehand (to point settings at it).
    pub async fn spawn_on(database: TestDatabase, overrides: &[(&'static str, &str)]) -> TestApp {
        let database_url = database.url.clone();
        let (smtp_port, inbox) = smtp::start().await;
        let overrides: HashMap<&str, String> = overrides.iter().map(|(k, v)| (*k, v.to_string())).collect();
        let config = config_for(&database_url, &overrides, smtp_port);
        let clock = Clock::system();
        let app = Application::build(
            config,
            Options {
                clock: clock.clone(),
                workers: 1,
            },
        )
        .await
        .expect("app starts");
        let address = format!("http://127.0.0.1:{}", app.port());
        let state = app.state();
        tokio::spawn(app.run_until_stopped());
        // Until its listener hears a heartbeat the cache reads nothing: a test
        // about what memory holds would otherwise depend on that race (a
        // loaded machine connects the listener late).
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !state.cache.trusted() && std::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        memberd::integration::webhooks::service::install_tls_provider();
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            // Below the server's keep-alive, so a connection it closed is never reused.
            .pool_idle_timeout(std::time::Duration::from_secs(2))
            .build()
            .unwrap();
        TestApp {
            address,
            client,
            inbox,
            clock,
            database_url,
            state,
            _database: database,
        }
    }

    /// A second memberd process on this test's database, as another replica
    /// (with the system's clock, not this one's).
    pub async fn replica(
        &self,
        overrides: &[(&'static str, &str)],
    ) -> (String, actix_web::web::Data<memberd::state::AppState>) {
        let config = Config::from_lookup(|name| match name {
            "DATABASE_URL" => Some(self.database_url.clone()),
            "MEMBERD_BIND" => Some("127.0.0.1:0".into()),
            "MEMBERD_PUBLIC_URL" => Some("http://memberd.test".into()),
            "MEMBERD_MAIL_DIR" => Some(
                std::env::temp_dir()
                    .join("memberd-test-mail")
                    .to_string_lossy()
                    .into_owned(),
            ),
            _ => overrides.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string()),
        })
        .unwrap();
        let replica = Application::build(
            config,
            Options {
                workers: 1,
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let address = format!("http://127.0.0.1:{}", replica.port());
        let state = replica.state();
        tokio::spawn(replica.run_until_stopped());
        (address, state)
    }

    pub async fn request(&self, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> Response {
        let mut request = self.client.request(method.clone(), format!("{}{path}", self.address));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = Self::read(request.send().await.expect("request sent")).await;
        assert_documented(&method, path, &response);
        response
    }

    pub async fn read(response: reqwest::Response) -> Response {
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.unwrap();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or(Value::Null)
        };
        Response { status, headers, body }
    }

    /// Waits until every change committed so far has reached the server's
    /// memory: each look of the listener reads every change committed before
    /// it, so two more looks (the first may have begun before the commit)
    /// suffice.
    pub async fn caught_up(&self) {
        let heard = self.state.cache.heartbeats_heard();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while self.state.cache.heartbeats_heard() < heard + 2 {
            assert!(std::time::Instant::now() < deadline, "the listener hears no heartbeat");
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Response {
        self.request(Method::GET, path, token, None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Response {
        self.request(Method::POST, path, token, Some(body)).await
    }

    /// Runs SQL for set-up that the API does not offer yet (staff, groups).
    /// A change made by hand, as another process would make it. Its
    /// notification reaches the server's cache within milliseconds; the
    /// cache is cleared here so that the next request needs no wait.
    pub fn execute(&self, sql: &str) {
        diesel::sql_query(sql).execute(&mut self.db()).unwrap();
        self.state.cache.clear();
    }

    pub fn make_staff(&self, member_id: i64) {
        self.execute(&format!("UPDATE members SET is_staff = TRUE WHERE id = {member_id}"));
    }

    pub fn make_superuser(&self, member_id: i64) {
        self.execute(&format!(
            "UPDATE members SET is_staff = TRUE, is_superuser = TRUE WHERE id = {member_id}"
        ));
    }

    pub fn make_bot(&self, member_id: i64) {
        self.execute("INSERT INTO groups (name, created_at) VALUES ('bots', now()) ON CONFLICT DO NOTHING");
        self.execute(&format!(
            "INSERT INTO member_groups (member_id, group_id) SELECT {member_id}, id FROM groups WHERE name = 'bots'"
        ));
    }

    /// Sends a request as if from `ip` through a trusted proxy (the test
    /// server must trust 127.0.0.1).
    pub async fn request_from(
        &self,
        ip: &str,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Response {
        let mut request = self
            .client
            .request(method.clone(), format!("{}{path}", self.address))
            .header("x-forwarded-for", ip);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = Self::read(request.send().await.expect("request sent")).await;
        assert_documented(&method, path, &response);
        response
    }

    pub async fn patch(&self, path: &str, token: Option<&str>, body: Value) -> Response {
        self.request(Method::PATCH, path, token, Some(body)).await
    }

    pub fn db(&self) -> PgConnection {
        PgConnection::establish(&self.database_url).unwrap()
    }

    /// Runs a query that returns one bigint, for checking what was written.
    pub fn count(&self, sql: &str) -> i64 {
        #[derive(QueryableByName)]
        struct Count {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        diesel::sql_query(format!("SELECT ({sql})::bigint AS n"))
            .get_result::<Count>(&mut self.db())
            .unwrap()
            .n
    }

    /// Waits until `sql` counts `n`.
    pub async fn until_counted(&self, sql: &str, n: i64) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while self.count(sql) != n {
            assert!(std::time::Instant::now() < deadline, "{sql} never counted {n}");
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }

    /// Runs a query that returns one value, as text.
    pub fn text(&self, sql: &str) -> String {
        #[derive(QueryableByName)]
        struct Text {
            #[diesel(sql_type = diesel::sql_types::Text)]
            t: String,
        }
        diesel::sql_query(format!("SELECT ({sql})::text AS t"))
            .get_result::<Text>(&mut self.db())
            .unwrap()
            .t
    }

    /// Every text-like column of every table, as (table, column).
    pub fn text_columns(&self) -> Vec<(String, String)> {
        #[derive(QueryableByName)]
        struct Column {
            #[diesel(sql_type = diesel::sql_types::Text)]
            table_name: String,
            #[diesel(sql_type = diesel::sql_types::Text)]
            column_name: String,
        }
        let columns: Vec<Column> = diesel::sql_query(
            "SELECT table_name::text, column_name::text FROM information_schema.columns \
             WHERE table_schema = 'public' AND data_type IN ('text', 'character varying', 'jsonb', 'json', 'bytea') \
             AND table_name <> '__diesel_schema_migrations'",
        )
        .load(&mut self.db())
        .unwrap();
        columns.into_iter().map(|c| (c.table_name, c.column_name)).collect()
    }

    /// Where `needle` still appears in a text-like column, as "table.column".
    pub fn places_holding(&self, needle: &str) -> Vec<String> {
        self.text_columns()
            .into_iter()
            .filter(|(table, column)| {
                self.count(&format!(
                    "SELECT count(*) FROM \"{table}\" WHERE \"{column}\"::text ILIKE '%{needle}%'"
                )) > 0
            })
            .map(|(table, column)| format!("{table}.{column}"))
            .collect()
    }

    pub async fn register(&self, username: &str, email: &str) -> Response {
        self.post(
            "/v1/members",
            None,
            json!({"username": username, "email": email, "password": PASSWORD, "password_confirmation": PASSWORD}),
        )
        .await
    }

    /// The token of the `nth` (1-based) activation link e-mailed to `email`.
    pub async fn activation_token(&self, email: &str, nth: usize) -> String {
        let mails = self.inbox.wait_for(email, nth).await;
        link_token(&mails[nth - 1].text, "activate/")
    }

    /// Registers, activates and logs in a member.
    pub async fn member(&self, username: &str) -> Session {
        let email = format!("{}@example.com", username.to_lowercase());
        assert_eq!(self.register(username, &email).await.status, StatusCode::ACCEPTED);
        let token = self.activation_token(&email, 1).await;
        let activated = self
            .post(&format!("/v1/tokens/registration/{token}"), None, json!({}))
            .await;
        assert_eq!(activated.status, StatusCode::OK, "{}", activated.body);
        self.login(username, PASSWORD).await
    }

    pub async fn login(&self, login: &str, password: &str) -> Session {
        let response = self
            .post("/v1/auth/login", None, json!({"login": login, "password": password}))
            .await;
        assert_eq!(response.status, StatusCode::OK, "{}", response.body);
        session_of(&response.body)
    }
}

/// A TOTP factor a test enrolled: its secret, and the recovery codes its
/// confirmation answered (the member's first factor only).
pub struct Totp {
    pub id: String,
    pub secret: Vec<u8>,
    pub recovery_codes: Vec<String>,
}

impl TestApp {
    /// The code of `secret` now, after moving this app's clock to the next
    /// 30-second step: a code is accepted once, and none of an earlier step
    /// after it.
    pub fn next_code(&self, secret: &[u8]) -> String {
        self.clock.advance(chrono::Duration::seconds(30));
        self.code_at(secret, 0)
    }

    /// The code of `secret` `steps` steps from this app's now, without moving its clock.
    pub fn code_at(&self, secret: &[u8], steps: i64) -> String {
        let at = self.clock.now().timestamp() + 30 * steps;
        totp_rs::TOTP::new_unchecked(totp_rs::Algorithm::SHA1, 6, 0, 30, secret.to_vec(), None, String::new())
            .generate(at as u64)
    }

    /// Enrols and confirms a TOTP factor for the holder of `session`, whose
    /// session then counts as having proved it.
    pub async fn enrol_totp(&self, session: &Session) -> Totp {
        let enrolled = self
            .post(
                "/v1/members/me/factors/totp",
                Some(&session.access),
                json!({"current_password": PASSWORD}),
            )
            .await;
        assert_eq!(enrolled.status, StatusCode::CREATED, "{}", enrolled.body);
        let id = enrolled.body["id"].as_str().unwrap().to_string();
        let secret = totp_rs::Secret::Encoded(enrolled.body["secret"].as_str().unwrap().into())
            .to_bytes()
            .unwrap();
        let confirmed = self
            .post(
                &format!("/v1/members/me/factors/{id}/confirmation"),
                Some(&session.access),
                json!({"code": self.next_code(&secret)}),
            )
            .await;
        assert_eq!(confirmed.status, StatusCode::OK, "{}", confirmed.body);
        let recovery_codes = confirmed.body["recovery_codes"]
            .as_array()
            .map(|codes| codes.iter().map(|c| c.as_str().unwrap().to_string()).collect())
            .unwrap_or_default();
        Totp {
            id,
            secret,
            recovery_codes,
        }
    }

    /// The `mfa_token` a right password gets a member with a second factor.
    pub async fn password_step(&self, login: &str) -> String {
        let response = self
            .post("/v1/auth/login", None, json!({"login": login, "password": PASSWORD}))
            .await;
        response.assert_problem(401, "mfa_required");
        response.body["mfa_token"].as_str().unwrap().to_string()
    }

    /// Logs in with the password and a code of `secret`.
    pub async fn login_with_totp(&self, login: &str, secret: &[u8]) -> Session {
        let mfa_token = self.password_step(login).await;
        let response = self
            .post(
                "/v1/auth/mfa",
                None,
                json!({"mfa_token": mfa_token, "code": self.next_code(secret)}),
            )
            .await;
        assert_eq!(response.status, StatusCode::OK, "{}", response.body);
        session_of(&response.body)
    }
}

pub fn session_of(body: &Value) -> Session {
    Session {
        id: body["member"]["id"].as_i64().unwrap(),
        access: body["access_token"].as_str().unwrap().into(),
        refresh: body["refresh_token"].as_str().unwrap().into(),
    }
}

/// The token following `marker` in a link of a mail's text.
pub fn link_token(text: &str, marker: &str) -> String {
    let start = text
        .find(marker)
        .unwrap_or_else(|| panic!("no {marker} link in: {text}"))
        + marker.len();
    text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // No libpq call may be in flight on another thread when the process
        // exits; the database is dropped after this, with the fields.
        self.state.notifications.stop();
    }
}

/// Fails when a problem the suite meets is not one its operation's document
/// lists: the document names each operation's codes, and every request the
/// tests send holds that list to what the server answers.
#[track_caller]
pub fn assert_documented(method: &Method, path: &str, response: &Response) {
    static DOCUMENT: OnceLock<Value> = OnceLock::new();
    let is_problem = response
        .headers
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/problem+json"));
    if !is_problem {
        return;
    }
    let document = DOCUMENT.get_or_init(|| serde_json::to_value(memberd::app::openapi_document()).unwrap());
    let path = path.split('?').next().unwrap_or(path);
    // Paths no operation takes are answered by the fallbacks, outside the document.
    let Some((template, operation)) = operation_of(document, method, path) else {
        return;
    };
    let status = response.status.as_str();
    let code = response.code();
    let listed = listed_codes(&operation["responses"][status]);
    assert!(
        listed.contains(&code),
        "{method} {template} answered {status} `{code}`, which its document does not list (it lists {listed:?} for {status})"
    );
}

/// The operation of the document that takes `method` on `path`: the path
/// template matching it with the most literal segments.
fn operation_of<'a>(document: &'a Value, method: &Method, path: &str) -> Option<(&'a str, &'a Value)> {
    let segments: Vec<&str> = path.split('/').collect();
    // The templates that match, with how many literal segments each has: as
    // the server's fallback reads it, the most literal owns the path, and a
    // method it lacks is answered outside the document.
    let matching: Vec<(usize, &String, &Value)> = document["paths"]
        .as_object()?
        .iter()
        .filter_map(|(template, item)| {
            let parts: Vec<&str> = template.split('/').collect();
            let matches = parts.len() == segments.len()
                && parts
                    .iter()
                    .zip(&segments)
                    .all(|(part, segment)| part.starts_with('{') || part == segment);
            matches.then(|| {
                (
                    parts.iter().filter(|part| !part.starts_with('{')).count(),
                    template,
                    item,
                )
            })
        })
        .collect();
    let most = matching.iter().map(|(literals, _, _)| *literals).max()?;
    matching
        .into_iter()
        .filter(|(literals, _, _)| *literals == most)
        .find_map(|(_, template, item)| Some((template.as_str(), item.get(method.as_str().to_lowercase())?)))
}

/// The codes a problem response of the document lists: its description has
/// one "- `code`: meaning" line per code.
pub fn listed_codes(response: &Value) -> Vec<&str> {
    response["description"]
        .as_str()
        .unwrap_or_default()
        .lines()
        .filter_map(|line| line.strip_prefix("- `")?.split('`').next())
        .collect()
}

/// A request on its way.
pub type Sent<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = Response> + 'a>>;

/// What `requests` answer when they reach memberd while every writer of
/// their kind is busy: `block` (run in a transaction of the test's own) holds
/// what `blocker` needs, so that each writer waits on it with one blocker of
/// its own, and `requests` queue behind them until the transaction ends.
/// Answers the blockers' requests, then the queued ones.
pub async fn sent_while_writers_wait<'a, B, R>(
    app: &TestApp,
    block: &str,
    blocker: B,
    requests: R,
) -> (Vec<Response>, Vec<Response>)
where
    B: Fn() -> Sent<'a>,
    R: std::future::Future<Output = Vec<Response>>,
{
    use diesel::connection::SimpleConnection;
    let waiting =
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'";
    let mut held = app.db();
    held.batch_execute(&format!("BEGIN; {block}")).unwrap();
    let blockers = (0..WRITERS).map(|k| {
        let blocker = &blocker;
        async move {
            // One at a time, so that each writer takes one.
            app.until_counted(waiting, k as i64).await;
            blocker().await
        }
    });
    let queued = async {
        app.until_counted(waiting, WRITERS as i64).await;
        let release = async {
            // Time for every request to reach the queue.
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            held.batch_execute("COMMIT").unwrap();
        };
        futures_util::future::join(requests, release).await.0
    };
    futures_util::future::join(futures_util::future::join_all(blockers), queued).await
}

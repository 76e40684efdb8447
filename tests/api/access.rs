//! Who may call each operation, as the OpenAPI document says: an operation
//! with `security` needs credentials, its 403 names the rank it needs
//! (`staff_only`, `superuser_only`, `forbidden` for another member's own
//! things), and `insufficient_scope` names the operations open to service keys.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, Session, TestApp};
use crate::integration::key;
use crate::openapi::{committed, plausible_body};

/// The codes that say "not you", as opposed to what a caller sent.
const ACCESS_CODES: &[&str] = &[
    "missing_credentials",
    "invalid_token",
    "token_expired",
    "session_revoked",
    "invalid_api_key",
    "staff_only",
    "superuser_only",
    "forbidden",
    "insufficient_scope",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Rank {
    Anyone,
    Member,
    Staff,
    Superuser,
}

/// The rank an operation documents, and the code that refuses those below it.
fn rank(operation: &Value) -> (Rank, &'static str) {
    if operation.get("security").is_none() {
        return (Rank::Anyone, "");
    }
    let forbidden = operation["responses"]["403"]["description"].as_str().unwrap_or("");
    if forbidden.contains("`superuser_only`") {
        (Rank::Superuser, "superuser_only")
    } else if forbidden.contains("`staff_only`") {
        (Rank::Staff, "staff_only")
    } else if forbidden.contains("`forbidden`") {
        (Rank::Staff, "forbidden")
    } else {
        (Rank::Member, "missing_credentials")
    }
}

enum Expect {
    Admitted,
    RefusedWith(&'static str),
}

struct Caller {
    name: &'static str,
    /// None for a service key.
    rank: Option<Rank>,
    username: Option<&'static str>,
    scope: Option<&'static str>,
    token: Option<String>,
}

const SCOPES: [&str; 3] = ["status:read", "members:read", "events:read"];

#[tokio::test]
async fn every_operation_admits_whom_its_document_says_and_refuses_the_rest() {
    let app = TestApp::spawn().await;
    let boss = app.member("boss").await;
    app.make_superuser(boss.id);
    let moderator = app.member("moderator").await;
    app.make_staff(moderator.id);
    let plain = app.member("plain").await;
    app.member("target").await;
    let session = |s: &Session| Some(s.access.clone());
    let mut callers = vec![
        Caller {
            name: "anonymous",
            rank: Some(Rank::Anyone),
            username: None,
            scope: None,
            token: None,
        },
        Caller {
            name: "member",
            rank: Some(Rank::Member),
            username: Some("plain"),
            scope: None,
            token: session(&plain),
        },
        Caller {
            name: "staff",
            rank: Some(Rank::Staff),
            username: Some("moderator"),
            scope: None,
            token: session(&moderator),
        },
        Caller {
            name: "superuser",
            rank: Some(Rank::Superuser),
            username: Some("boss"),
            scope: None,
            token: session(&boss),
        },
    ];
    for scope in SCOPES {
        let token = Some(key(&app, &boss, json!([scope])).await);
        callers.push(Caller {
            name: scope,
            rank: None,
            username: None,
            scope: Some(scope),
            token,
        });
    }

    let document = committed();
    let mut failures = Vec::new();
    let mut checked = 0;
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let (needed, refusal) = rank(operation);
            // "`insufficient_scope`: the key lacks `status:read`" and the like.
            let scope_needed = operation["responses"]["403"]["description"]
                .as_str()
                .filter(|d| d.contains("`insufficient_scope`"))
                .and_then(|d| SCOPES.into_iter().find(|scope| d.contains(&format!("`{scope}`"))));
            let concrete = path
                .replace("{member}", "target")
                .replace("{token}", "x")
                .replace("{domain}", "example.org")
                .replace("{ip}", "127.0.0.1")
                .replace("{id}", "424242")
                .replace("{delivery}", "1");
            let body = plausible_body(&document, operation);
            for caller in &mut callers {
                // What went before may have ended the caller's session (a logout).
                if let Some(username) = caller.username
                    && app.get("/v1/members/me", caller.token.as_deref()).await.status.as_u16() == 401
                {
                    caller.token = Some(app.login(username, PASSWORD).await.access);
                }
                let response = app
                    .request(
                        Method::from_bytes(method.to_uppercase().as_bytes()).unwrap(),
                        &concrete,
                        caller.token.as_deref(),
                        body.clone(),
                    )
                    .await;
                checked += 1;
                let code = response.code().to_string();
                let refused = ACCESS_CODES.contains(&code.as_str());
                let expect = match caller.rank {
                    Some(rank) if rank >= needed => Expect::Admitted,
                    Some(Rank::Anyone) => Expect::RefusedWith("missing_credentials"),
                    Some(_) => Expect::RefusedWith(refusal),
                    None if needed == Rank::Anyone && scope_needed.is_none() => Expect::Admitted,
                    None => match scope_needed {
                        Some(scope) if caller.scope == Some(scope) => Expect::Admitted,
                        Some(_) => Expect::RefusedWith("insufficient_scope"),
                        // A key is not a member's access token.
                        None => Expect::RefusedWith("invalid_token"),
                    },
                };
                let what = format!("{} {method} {path}: {} {}", caller.name, response.status, response.body);
                match expect {
                    Expect::Admitted if refused => {
                        failures.push(format!("refused, but the document admits them: {what}"))
                    }
                    Expect::RefusedWith(wanted) if code != wanted => failures.push(format!("wanted {wanted}: {what}")),
                    _ => {}
                }
            }
        }
    }
    assert!(checked > 250, "only {checked} calls");
    assert!(
        failures.is_empty(),
        "{} of {checked}:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

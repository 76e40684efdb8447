//! The OpenAPI document is the truth: committed, served, and complete.

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Response, TestApp, assert_documented, listed_codes};

fn generated() -> Value {
    serde_json::to_value(memberd::app::openapi_document()).unwrap()
}

/// The committed document, which a test below holds to the generated one.
pub fn committed() -> Value {
    serde_json::from_str(include_str!("../../openapi/openapi.json")).unwrap()
}

pub fn resolve<'a>(document: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(reference) => &document["components"]["schemas"][reference.trim_start_matches("#/components/schemas/")],
        None => schema,
    }
}

/// A value of a property's type, so that a body gets past its required
/// fields to the one under test.
fn plausible(document: &Value, schema: &Value) -> Value {
    let schema = resolve(document, schema);
    if let Some(first) = schema["enum"].as_array().and_then(|values| values.first()) {
        return first.clone();
    }
    let kind = match &schema["type"] {
        Value::Array(kinds) => kinds.iter().find(|k| *k != "null").cloned().unwrap_or(Value::Null),
        kind => kind.clone(),
    };
    match kind.as_str() {
        Some("integer" | "number") => json!(1),
        Some("boolean") => json!(false),
        Some("array") => json!([]),
        Some("object") => json!({}),
        _ => json!("x"),
    }
}

/// A documented path with its parameters filled: `{member}` names the member
/// `target` (the walks create one), every other names nothing that exists.
pub fn with_parameters(path: &str) -> String {
    path.split('/')
        .map(|segment| match segment {
            "{member}" => "target",
            s if s.starts_with('{') => "424242",
            s => s,
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// The object shapes an operation's body may take: each alternative of a
/// `oneOf` (a sanction or a lift), or its one schema.
pub fn body_shapes<'a>(document: &'a Value, operation: &'a Value) -> Vec<&'a Value> {
    let Some(body) = operation.get("requestBody") else {
        return Vec::new();
    };
    let schema = resolve(document, &body["content"]["application/json"]["schema"]);
    match schema["oneOf"].as_array() {
        Some(shapes) => shapes.iter().map(|shape| resolve(document, shape)).collect(),
        None => vec![schema],
    }
}

/// A body of this shape with its required fields filled.
pub fn plausible_of(document: &Value, shape: &Value) -> Option<serde_json::Map<String, Value>> {
    let properties = shape["properties"].as_object()?;
    let mut fields = serde_json::Map::new();
    for name in shape["required"].as_array().into_iter().flatten() {
        let name = name.as_str().unwrap();
        fields.insert(name.into(), plausible(document, &properties[name]));
    }
    Some(fields)
}

/// A body of an operation's first shape with its required fields filled.
pub fn plausible_body(document: &Value, operation: &Value) -> Option<Value> {
    let shape = *body_shapes(document, operation).first()?;
    plausible_of(document, shape).map(Value::Object)
}

#[test]
fn the_committed_document_is_the_generated_one() {
    assert!(
        committed() == generated(),
        "openapi/openapi.json is stale: run `cargo run -- openapi > openapi/openapi.json`"
    );
}

/// Every `#[get("...")]`-style route attribute in the sources, with the
/// scope it is mounted under, as (METHOD, path).
fn routes_in_source() -> BTreeSet<(String, String)> {
    let mut routes = BTreeSet::new();
    let mut stack = vec![std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/src"))];
    while let Some(path) = stack.pop() {
        if path.is_dir() {
            stack.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for line in text.lines().map(str::trim) {
            for method in ["get", "post", "put", "patch", "delete"] {
                if let Some(rest) = line.strip_prefix(&format!("#[{method}(\"")) {
                    let route = rest.split('"').next().unwrap();
                    // Routes under /health, /.well-known and /metrics are mounted at the root; the rest under /v1.
                    let root = ["/health", "/.well-known", "/metrics"];
                    let full = if root.iter().any(|r| route.starts_with(r)) {
                        route.to_string()
                    } else {
                        format!("/v1{route}")
                    };
                    routes.insert((method.to_uppercase(), full));
                }
            }
        }
    }
    routes
}

fn routes_in_document(document: &Value) -> BTreeSet<(String, String)> {
    let mut routes = BTreeSet::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            routes.insert((method.to_uppercase(), path.clone()));
        }
    }
    routes
}

/// Every `$ref` names a schema the document holds, and no named pattern
/// (`{filled}`) is left unwritten.
#[test]
fn every_reference_resolves_and_every_pattern_is_written_out() {
    fn walk(document: &Value, value: &Value, dangling: &mut Vec<String>) {
        match value {
            Value::Object(fields) => {
                for (key, inner) in fields {
                    if key == "$ref" {
                        let target = inner.as_str().unwrap().trim_start_matches("#/components/");
                        let (kind, name) = target.split_once('/').unwrap();
                        if document["components"][kind].get(name).is_none() {
                            dangling.push(target.to_string());
                        }
                    }
                    if key == "pattern" && inner.as_str().is_some_and(|p| p.starts_with('{')) {
                        dangling.push(format!("pattern {inner}"));
                    }
                    walk(document, inner, dangling);
                }
            }
            Value::Array(items) => items.iter().for_each(|item| walk(document, item, dangling)),
            _ => {}
        }
    }
    let document = generated();
    let mut dangling = Vec::new();
    walk(&document, &document, &mut dangling);
    assert!(dangling.is_empty(), "{dangling:?}");
}

/// Generated clients name their functions after operation ids: two alike
/// would not compile (as a TypeScript client found).
#[test]
fn operation_ids_are_unique() {
    let document = generated();
    let mut seen = BTreeSet::new();
    for item in document["paths"].as_object().unwrap().values() {
        for operation in item.as_object().unwrap().values() {
            let id = operation["operationId"].as_str().unwrap();
            assert!(seen.insert(id.to_string()), "operationId {id} is used twice");
        }
    }
}

#[test]
fn every_route_in_the_code_is_documented() {
    let source = routes_in_source();
    assert!(source.len() >= 9, "found only {source:?}");
    let documented = routes_in_document(&generated());
    let missing: Vec<_> = source.difference(&documented).collect();
    assert!(
        missing.is_empty(),
        "routes missing from the OpenAPI document: {missing:?}"
    );
}

#[test]
fn every_operation_documents_its_problems() {
    let document = generated();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let responses = operation["responses"].as_object().unwrap();
            for (status, response) in responses {
                if status.starts_with('4') || status.starts_with('5') {
                    assert!(
                        response["content"].get("application/problem+json").is_some(),
                        "{method} {path} {status} is not a problem"
                    );
                }
            }
            let needs_body = operation.get("requestBody").is_some();
            if needs_body {
                assert!(responses.contains_key("422"), "{method} {path} has a body but no 422");
            }
            if operation.get("security").is_some() {
                assert!(
                    responses.contains_key("401"),
                    "{method} {path} needs a token but documents no 401"
                );
            }
        }
    }
    assert!(document["components"]["securitySchemes"]["bearer"].is_object());
}

#[tokio::test]
async fn the_served_document_is_the_generated_one_and_every_route_is_mounted() {
    let app = TestApp::spawn().await;
    let served = app.get("/v1/openapi.json", None).await;
    assert_eq!(served.status, StatusCode::OK);
    assert_eq!(served.body, generated());
    assert_eq!(served.body["openapi"], "3.1.0");

    for (method, path) in routes_in_document(&served.body) {
        let concrete = path.replace("{token}", "x").replace("{member}", "1");
        let response = app
            .request(Method::from_bytes(method.as_bytes()).unwrap(), &concrete, None, None)
            .await;
        let fallback = matches!(response.code(), "not_found" | "method_not_allowed");
        assert!(
            !fallback,
            "{method} {path} is documented but not mounted: {}",
            response.body
        );
    }
}

#[tokio::test]
async fn swagger_ui_is_served_from_the_binary() {
    let app = TestApp::spawn().await;
    let page = app
        .client
        .get(format!("{}/swagger-ui/", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("swagger-ui"), "{html}");
    let initializer = app
        .client
        .get(format!("{}/swagger-ui/swagger-initializer.js", app.address))
        .send()
        .await
        .unwrap();
    assert!(initializer.text().await.unwrap().contains("/v1/openapi.json"));
    let bundle = app
        .client
        .get(format!("{}/swagger-ui/swagger-ui-bundle.js", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(bundle.status(), StatusCode::OK);
    assert!(bundle.bytes().await.unwrap().len() > 100_000);
}

/// Codes that no operation answers: the answers for paths no route takes,
/// and two that only a bug can cause (an unexpected unique index, a 500).
const ANSWERED_OUTSIDE_OPERATIONS: [&str; 4] = ["not_found", "method_not_allowed", "conflict", "internal_error"];

#[test]
fn every_documented_code_is_an_error_code_and_every_error_code_is_documented() {
    let document = generated();
    let codes: BTreeSet<String> = document["components"]["schemas"]["ErrorCode"]["enum"]
        .as_array()
        .expect("the ErrorCode enum is in the document")
        .iter()
        .map(|code| code.as_str().unwrap().to_string())
        .collect();
    let mut documented = BTreeSet::new();
    let mut unlisted = Vec::new();
    let mut unknown = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            for (status, response) in operation["responses"].as_object().unwrap() {
                if !(status.starts_with('4') || status.starts_with('5')) {
                    continue;
                }
                let listed = listed_codes(response);
                if listed.is_empty() {
                    unlisted.push(format!("{method} {path} {status}"));
                }
                for code in listed {
                    documented.insert(code.to_string());
                    if !codes.contains(code) {
                        unknown.push(format!("{method} {path} {status}: `{code}`"));
                    }
                }
            }
        }
    }
    assert!(
        unlisted.is_empty(),
        "problem responses without their codes: {unlisted:#?}"
    );
    assert!(
        unknown.is_empty(),
        "documented codes that are no ErrorCode: {unknown:#?}"
    );
    let undocumented: Vec<&String> = codes
        .iter()
        .filter(|code| !documented.contains(*code) && !ANSWERED_OUTSIDE_OPERATIONS.contains(&code.as_str()))
        .collect();
    assert!(
        undocumented.is_empty(),
        "error codes no operation documents: {undocumented:?}"
    );
}

fn problem(status: StatusCode, code: &str) -> Response {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("content-type", "application/problem+json".parse().unwrap());
    Response {
        status,
        headers,
        body: json!({ "code": code }),
    }
}

/// Every request the suite sends has its problem checked against its
/// operation's list (`helpers::assert_documented`); a listed one passes.
#[test]
fn the_harness_passes_a_problem_its_operation_lists() {
    assert_documented(
        &Method::GET,
        "/v1/members/12/sanctions",
        &problem(StatusCode::NOT_FOUND, "member_not_found"),
    );
}

/// …and one the list lacks fails the test that met it.
#[test]
#[should_panic(expected = "answered 404 `sanction_not_found`, which its document does not list")]
fn the_harness_refuses_a_problem_its_operation_does_not_list() {
    assert_documented(
        &Method::GET,
        "/v1/members/12/sanctions",
        &problem(StatusCode::NOT_FOUND, "sanction_not_found"),
    );
}

/// A 422's description names fields and their codes; each code must be a
/// `FieldCode` (or a problem's own code) and each other name a field of the
/// operation's body or query.
#[test]
fn every_field_code_a_422_names_is_a_field_code_of_a_real_field() {
    let document = generated();
    let field_codes: BTreeSet<&str> = document["components"]["schemas"]["FieldCode"]["enum"]
        .as_array()
        .expect("the FieldCode enum is in the document")
        .iter()
        .map(|code| code.as_str().unwrap())
        .collect();
    let problem_codes: BTreeSet<&str> = document["components"]["schemas"]["ErrorCode"]["enum"]
        .as_array()
        .expect("the ErrorCode enum is in the document")
        .iter()
        .map(|code| code.as_str().unwrap())
        .collect();
    let mut wrong = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let Some(description) = operation["responses"]["422"]["description"].as_str() else {
                continue;
            };
            let mut fields: BTreeSet<&str> = operation["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|parameter| parameter["name"].as_str())
                .collect();
            fields.extend(
                body_shapes(&document, operation)
                    .into_iter()
                    .filter_map(|shape| shape["properties"].as_object())
                    .flat_map(|properties| properties.keys().map(String::as_str)),
            );
            for word in description.split('`').skip(1).step_by(2) {
                let snake = word.chars().all(|c| c.is_ascii_lowercase() || c == '_');
                let known = field_codes.contains(word)
                    || problem_codes.contains(word)
                    || fields.contains(word)
                    || ["validation_failed", "errors"].contains(&word);
                if snake && !known {
                    wrong.push(format!("{method} {path}: `{word}`"));
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "422 descriptions name what is neither a field code nor a field: {wrong:#?}"
    );
}

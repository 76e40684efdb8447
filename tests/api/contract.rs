//! The contract as a generated client reads it: every field a refusal can
//! be about is named in it.

use reqwest::Method;
use serde_json::{Map, Value, json};

use crate::helpers::TestApp;
use crate::openapi::{body_shapes, committed, plausible_of, resolve, with_parameters};

/// The JSON types a schema admits (`null` left out: no field is refused for
/// being of a type the tests send).
fn admitted_types(document: &Value, schema: &Value) -> Vec<String> {
    let schema = resolve(document, schema);
    let alternatives = ["oneOf", "anyOf", "allOf"]
        .iter()
        .filter_map(|key| schema[*key].as_array())
        .flatten()
        .flat_map(|inner| admitted_types(document, inner));
    let own = match &schema["type"] {
        Value::String(kind) => vec![kind.clone()],
        Value::Array(kinds) => kinds.iter().filter_map(|k| k.as_str().map(String::from)).collect(),
        _ if schema["properties"].is_object() => vec!["object".into()],
        _ => Vec::new(),
    };
    let mut types: Vec<String> = own.into_iter().chain(alternatives).collect();
    if types.iter().any(|t| t == "number") {
        types.push("integer".into());
    }
    types
}

/// A value of none of the types the schema admits.
fn wrong_type(document: &Value, schema: &Value) -> Option<Value> {
    let admitted = admitted_types(document, schema);
    if admitted.is_empty() {
        return None;
    }
    [
        ("integer", json!(5)),
        ("string", json!("x")),
        ("boolean", json!(true)),
        ("object", json!({"a": 1})),
        ("array", json!([1])),
    ]
    .into_iter()
    .find(|(kind, _)| !admitted.iter().any(|a| a == kind))
    .map(|(_, value)| value)
}

/// Every field of an object schema, nested ones by dotted path, with a
/// body that is plausible but for that field set to a value of the wrong type
/// (none when the document gives the field no type).
fn mistyped_bodies(
    document: &Value,
    schema: &Value,
    base: &Map<String, Value>,
    at: &str,
) -> Vec<(String, Option<Value>)> {
    let schema = resolve(document, schema);
    let mut bodies = Vec::new();
    for (name, property) in schema["properties"].as_object().into_iter().flatten() {
        let field = if at.is_empty() {
            name.clone()
        } else {
            format!("{at}.{name}")
        };
        let body = wrong_type(document, property).map(|value| {
            let mut body = base.clone();
            body.insert(name.clone(), value);
            Value::Object(body)
        });
        bodies.push((field.clone(), body));
        // A nested object's fields, with the rest of it empty.
        if resolve(document, property)["properties"].is_object() {
            for (nested, inner) in mistyped_bodies(document, property, &Map::new(), &field) {
                let body = inner.map(|inner| {
                    let mut body = base.clone();
                    body.insert(name.clone(), inner);
                    Value::Object(body)
                });
                bodies.push((nested, body));
            }
        }
    }
    bodies
}

#[tokio::test]
async fn a_value_of_the_wrong_type_is_refused_on_its_own_field_in_every_body() {
    let app = TestApp::spawn().await;
    let boss = app.member("boss").await;
    app.make_superuser(boss.id);
    app.member("target").await;
    let document = committed();

    let mut failures = Vec::new();
    let mut checked = 0;
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let target = with_parameters(path);
            let shapes = body_shapes(&document, operation)
                .into_iter()
                .filter_map(|shape| Some((shape, plausible_of(&document, shape)?)));
            let mistyped = shapes.flat_map(|(shape, base)| mistyped_bodies(&document, shape, &base, ""));
            for (field, body) in mistyped.collect::<Vec<_>>() {
                let Some(body) = body else {
                    failures.push(format!("{method} {path}: `{field}` has no type in the document"));
                    continue;
                };
                let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
                let response = app
                    .request(method.clone(), &target, Some(&boss.access), Some(body.clone()))
                    .await;
                checked += 1;
                let named: Vec<&str> = response.body["errors"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|error| error["field"].as_str())
                    .collect();
                let code = response.body["errors"][0]["code"].as_str().unwrap_or_default();
                if response.status != 422 || named != [field.as_str()] || code != "invalid_type" {
                    failures.push(format!(
                        "{method} {target} {body}: {} {}",
                        response.status, response.body
                    ));
                }
            }
        }
    }
    // Fifty when this was written: a walk that found none would prove nothing.
    assert!(checked >= 50, "only {checked} fields were tried");
    assert!(
        failures.is_empty(),
        "{} of {checked}:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The pattern the document gives `types` accepts what the server does.
#[test]
fn the_event_types_pattern_reads_as_the_server_does() {
    let document = committed();
    let parameters = document["paths"]["/v1/events"]["get"]["parameters"].as_array().unwrap();
    let types = parameters.iter().find(|p| p["name"] == "types").unwrap();
    let pattern = regex::Regex::new(types["schema"]["pattern"].as_str().unwrap()).unwrap();
    for text in [
        "",
        "sanction.applied",
        " member.registered , sanction.applied",
        ",,",
        "sanction.applied,",
        "\u{3000}member.activated\t",
        "nope",
        "sanction_applied",
        "sanction.applied;member.registered",
        "sanction.appliedx",
    ] {
        let parsed = memberd::integration::model::EventQuery::parse(None, Some(text), None, None);
        assert_eq!(pattern.is_match(text), parsed.is_ok(), "{text:?}");
    }
}

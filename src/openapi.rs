//! The root of the OpenAPI document: metadata, the bearer scheme, shared
//! schemas, and the problem responses each operation lists.

use std::collections::BTreeMap;

use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::schema::{AdditionalProperties, ArrayItems, ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use crate::error::{Answer, ErrorCode, FieldError, Problem, SanctionNotice};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "memberd",
        description = "Membership and moderation service for online communities: accounts, \
            sessions, sanctions, and the APIs other services use to ask about members.\n\n\
            Every error is an RFC 9457 `application/problem+json` body with a stable `code`.",
        license(name = "MIT OR Apache-2.0")
    ),
    components(schemas(Problem, FieldError, SanctionNotice)),
    modifiers(&SharedComponents),
    tags(
        (name = "auth", description = "Logging in and out, sessions, signing keys"),
        (name = "factors", description = "Second factors (TOTP, passkeys) and recovery codes"),
        (name = "members", description = "Registration and accounts"),
        (name = "tokens", description = "E-mailed single-use tokens"),
        (name = "sanctions", description = "Read-only and bans: queues, forgiveness, reversion, status"),
        (name = "karma", description = "Staff notes about members, with karma"),
        (name = "cases", description = "The moderation case file: member reports, the staff queue, appeals, a member's standing"),
        (name = "integration", description = "For other services: API keys, batch status, events"),
        (name = "staff", description = "Staff tools: sessions, IPs, roles, groups, forbidden domains, audit log"),
        (name = "operations", description = "Health and the API description")
    )
)]
pub struct ApiDoc;

const WWW_AUTHENTICATE: &str = "WWW-Authenticate";
const RETRY_AFTER: &str = "Retry-After";

/// Name of the security scheme handlers refer to (as the literal `"bearer"`).
const BEARER: &str = "bearer";

/// The bearer scheme and the headers problem responses refer to.
struct SharedComponents;

impl Modify for SharedComponents {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.headers.insert(
            WWW_AUTHENTICATE.into(),
            HeaderBuilder::new()
                .description(Some(
                    "`Bearer realm=\"memberd\", error=\"invalid_token\", error_description=\"<code>\"`.",
                ))
                .build()
                .into(),
        );
        components.headers.insert(
            RETRY_AFTER.into(),
            HeaderBuilder::new()
                .schema(Some(ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(0))))
                .description(Some("Seconds to wait before trying again."))
                .build()
                .into(),
        );
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "An access token from `POST /v1/auth/login`, `/v1/auth/refresh` or an activation.",
                    ))
                    .build(),
            ),
        );
    }
}

/// The problems an operation answers: the sets of its extractors (written
/// once beside each, as [`Answers`]) and its own, each line `status: Code`
/// or `status: Code = "what it means here"`. Descriptions and the per-response
/// code lists are generated from [`ErrorCode`], so no code is typed twice.
macro_rules! problems {
    (@note) => { None };
    (@note $note:literal) => { Some($note) };
    ($(#[$meta:meta])* $name:ident: $($set:ty),* $(; $status:literal: $($code:ident $(= $note:literal)?),+)* $(;)?) => {
        $(#[$meta])*
        pub struct $name;

        impl utoipa::IntoResponses for $name {
            fn responses() -> std::collections::BTreeMap<
                String,
                utoipa::openapi::RefOr<utoipa::openapi::response::Response>,
            > {
                let own: &[$crate::error::Answer] = &[$($($crate::error::Answer {
                    status: $status,
                    code: $crate::error::ErrorCode::$code,
                    note: $crate::openapi::problems!(@note $($note)?),
                },)+)*];
                let mut answers: Vec<$crate::error::Answer> = Vec::new();
                $(answers.extend(<$set as $crate::error::Answers>::answers());)*
                answers.extend_from_slice(own);
                $crate::openapi::problem_responses(&answers)
            }
        }
    };
}
pub(crate) use problems;

/// Groups answers by status into problem responses: each lists its codes
/// with their meaning and declares the headers that come with the status.
pub fn problem_responses(answers: &[Answer]) -> BTreeMap<String, RefOr<Response>> {
    let mut by_status: BTreeMap<u16, BTreeMap<ErrorCode, Vec<&'static str>>> = BTreeMap::new();
    for answer in answers {
        let notes = by_status
            .entry(answer.status)
            .or_default()
            .entry(answer.code)
            .or_default();
        if let Some(note) = answer.note
            && !notes.contains(&note)
        {
            notes.push(note);
        }
    }
    by_status
        .into_iter()
        .map(|(status, codes)| (status.to_string(), problem_response(status, &codes)))
        .collect()
}

fn problem_response(status: u16, codes: &BTreeMap<ErrorCode, Vec<&'static str>>) -> RefOr<Response> {
    let description = codes
        .iter()
        .map(|(code, notes)| {
            let mut line = format!("- `{code}`: {}", code.meaning());
            for note in notes {
                line.push(' ');
                line.push_str(note);
            }
            line
        })
        .collect::<Vec<_>>()
        .join("\n");
    // The codes are listed in the description, one "- `code`:" line each,
    // rather than as an enum in an inline schema: every worker builds the
    // document's paths at start, and an inline schema per response cost
    // about 3 MiB of resident memory (bench/RESULTS.md, tenth session).
    let mut response = ResponseBuilder::new().description(description).content(
        "application/problem+json",
        ContentBuilder::new()
            .schema(Some(Ref::from_schema_name("Problem")))
            .build(),
    );
    // By reference, for the memory reason above.
    let header = |name: &str| Ref::new(format!("#/components/headers/{name}"));
    response = match status {
        401 => response.header_ref(WWW_AUTHENTICATE, header(WWW_AUTHENTICATE)),
        429 | 503 => response.header_ref(RETRY_AFTER, header(RETRY_AFTER)),
        _ => response,
    };
    response.build().into()
}

/// What every string a request carries must match unless it has a stricter
/// pattern: `input.rs` refuses U+0000 in any text, since PostgreSQL text
/// cannot hold it.
const NO_NUL: &str = r"^[^\u0000]*$";

/// Patterns too long to repeat in each field's `#[schema(pattern = ...)]`,
/// which takes a literal only: a field names one, and `write_text_rules`
/// writes it out.
fn named_pattern(name: &str) -> Option<String> {
    match name {
        "{filled}" => Some(crate::input::FILLED.to_string()),
        "{web_url_or_empty}" => Some(crate::input::WEB_URL_OR_EMPTY.to_string()),
        "{web_url}" => Some(crate::input::WEB_URL.to_string()),
        "{duration}" => Some(crate::duration::pattern()),
        "{email}" => Some(crate::members::model::EMAIL_PATTERN.to_string()),
        "{username}" => Some(crate::members::model::username_pattern()),
        "{event_types}" => Some(crate::integration::model::EventQuery::types_pattern()),
        _ => None,
    }
}

/// Writes the text rules into every string of every request — bodies, query
/// strings and paths: a named pattern is written out, and a string with no
/// pattern or list of values of its own gets the U+0000 rule, so that a client
/// generated from the document refuses what the server does. Every request
/// object refuses fields it does not name (`#[serde(deny_unknown_fields)]`
/// on every body, which utoipa does not write), so each says so.
pub fn write_text_rules(document: &mut utoipa::openapi::OpenApi) {
    let mut components = Vec::new();
    for item in document.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for operation in operations.into_iter().flatten() {
            for parameter in operation.parameters.iter_mut().flatten() {
                if let RefOr::T(parameter) = parameter
                    && let Some(schema) = &mut parameter.schema
                {
                    write_rules(schema, &mut components);
                }
            }
            if let Some(RefOr::T(body)) = &mut operation.request_body {
                for content in body.content.values_mut() {
                    if let RefOr::T(content) = content
                        && let Some(schema) = &mut content.schema
                    {
                        write_rules(schema, &mut components);
                    }
                }
            }
        }
    }
    // The components requests name, and those they name in turn.
    let Some(schemas) = document.components.as_mut().map(|c| &mut c.schemas) else {
        return;
    };
    let mut done = std::collections::BTreeSet::new();
    while let Some(name) = components.pop() {
        if done.insert(name.clone())
            && let Some(schema) = schemas.get_mut(&name)
        {
            write_rules(schema, &mut components);
        }
    }
}

fn write_rules(schema: &mut RefOr<Schema>, components: &mut Vec<String>) {
    let schema = match schema {
        RefOr::Ref(reference) => {
            let name = reference.ref_location.trim_start_matches("#/components/schemas/");
            components.push(name.to_string());
            return;
        }
        RefOr::T(schema) => schema,
    };
    match schema {
        Schema::Object(object) => {
            let is_string = match &object.schema_type {
                SchemaType::Type(Type::String) => true,
                SchemaType::Array(types) => types.contains(&Type::String),
                _ => false,
            };
            if let Some(pattern) = object.pattern.as_deref().and_then(named_pattern) {
                object.pattern = Some(pattern);
            } else if is_string && object.pattern.is_none() && object.enum_values.is_none() {
                object.pattern = Some(NO_NUL.to_string());
            }
            if !object.properties.is_empty() && object.additional_properties.is_none() {
                object.additional_properties = Some(Box::new(AdditionalProperties::FreeForm(false)));
            }
            for property in object.properties.values_mut() {
                write_rules(property, components);
            }
        }
        Schema::Array(array) => {
            if let ArrayItems::RefOrSchema(items) = &mut array.items {
                write_rules(items, components);
            }
        }
        Schema::OneOf(one_of) => one_of.items.iter_mut().for_each(|s| write_rules(s, components)),
        Schema::AllOf(all_of) => all_of.items.iter_mut().for_each(|s| write_rules(s, components)),
        Schema::AnyOf(any_of) => any_of.items.iter_mut().for_each(|s| write_rules(s, components)),
        _ => {}
    }
}

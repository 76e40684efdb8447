//! The root of the OpenAPI document: metadata, the bearer scheme, shared
//! schemas, and the reusable problem responses that handlers list.

use std::collections::BTreeMap;

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};
use utoipa::{IntoResponses, Modify, OpenApi};

use crate::error::{FieldError, Problem, SanctionNotice};

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
    modifiers(&BearerAuth),
    tags(
        (name = "auth", description = "Logging in and out, sessions, signing keys"),
        (name = "members", description = "Registration and accounts"),
        (name = "tokens", description = "E-mailed single-use tokens"),
        (name = "sanctions", description = "Read-only and bans: queues, forgiveness, reversion, status"),
        (name = "karma", description = "Staff notes about members, with karma"),
        (name = "integration", description = "For other services: API keys, batch status, events"),
        (name = "staff", description = "Staff tools: sessions, IPs, roles, groups, forbidden domains, audit log"),
        (name = "operations", description = "Health and the API description")
    )
)]
pub struct ApiDoc;

/// Name of the security scheme handlers refer to (as the literal `"bearer"`).
const BEARER: &str = "bearer";

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
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

pub fn problem(description: &str) -> RefOr<Response> {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/problem+json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
                .build(),
        )
        .build()
        .into()
}

fn responses(items: &[(&str, &str)]) -> BTreeMap<String, RefOr<Response>> {
    items
        .iter()
        .map(|(status, description)| (status.to_string(), problem(description)))
        .collect()
}

/// Problems any endpoint with a JSON body can answer.
pub struct BodyProblems;

impl IntoResponses for BodyProblems {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        responses(&[
            (
                "400",
                "`malformed_json`: the body is not JSON (or not UTF-8); `bad_request`: the body could not be read \
                 (the connection broke off before its end).",
            ),
            ("413", "`payload_too_large`: the body is over 64 KiB."),
            ("415", "`unsupported_media_type`: the body is not `application/json`."),
            (
                "422",
                "`validation_failed`: `errors[]` lists each field with its code \
                 (`required`, `too_long`, `unknown_field`, `invalid_type`, `null_character` for text holding U+0000, \
                 and the rules of the endpoint).",
            ),
            (
                "503",
                "`service_unavailable`: the database could not be reached in time; retry.",
            ),
        ])
    }
}

/// The problem of endpoints that check or hash a password, listed after
/// `BodyProblems`, whose 503 it extends.
pub struct HashingProblems;

impl IntoResponses for HashingProblems {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        responses(&[(
            "503",
            "`service_unavailable`: the database could not be reached in time; or `busy`: more password \
             checks wait than the service takes on, from everyone, or from this client (an IPv6 /64 counts as one) or member \
             — refused at once rather than queued; retry after `Retry-After` seconds.",
        )])
    }
}

/// Problems of endpoints that need an access token.
pub struct AuthProblems;

impl IntoResponses for AuthProblems {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        responses(&[
            (
                "401",
                "`missing_credentials`, `invalid_token`, `token_expired` or `session_revoked` \
                 (the session was ended: logout, password change, staff action). Comes with `WWW-Authenticate`.",
            ),
            (
                "503",
                "`service_unavailable`: the database could not be reached in time; retry.",
            ),
        ])
    }
}

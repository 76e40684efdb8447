//! What a request carries in: JSON bodies and query strings.
//!
//! Every body and query string is read here, so that one rule holds for all
//! of them: text holding U+0000 is refused as input, since PostgreSQL text
//! cannot store it and a query carrying it would fail as a server error.

mod text;

use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use futures_util::future::LocalBoxFuture;
use futures_util::{FutureExt, StreamExt};
use serde::de::DeserializeOwned;

use serde_path_to_error::Segment;

pub use text::{
    FILLED, SPACES, WEB_URL, WEB_URL_OR_EMPTY, WHITE_SPACE, integer, is_blank, is_web_url, optional_integer,
};

use crate::error::{Answer, Answers, AppError, ErrorCode, FieldCode, FieldError};

/// The largest body any endpoint accepts.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A JSON body, required.
pub struct Json<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        json_body(request, payload, None)
            .map(|body| body.map(Json))
            .boxed_local()
    }
}

/// What reading a JSON body may answer.
const BODY_ANSWERS: &[Answer] = &[
    Answer::new(400, ErrorCode::MalformedJson),
    Answer::noted(
        400,
        ErrorCode::BadRequest,
        "The body could not be read (the connection broke off before its end).",
    ),
    Answer::new(413, ErrorCode::PayloadTooLarge),
    Answer::new(415, ErrorCode::UnsupportedMediaType),
    Answer::noted(
        422,
        ErrorCode::ValidationFailed,
        "Codes of any body: `required`, `too_long`, `unknown_field`, `invalid_type`, `invalid_choice`, \
         `out_of_range`, `null_character` (text holding U+0000).",
    ),
];

impl<T> Answers for Json<T> {
    fn answers() -> Vec<Answer> {
        BODY_ANSWERS.to_vec()
    }
}

impl<T> Answers for OptionalJson<T> {
    fn answers() -> Vec<Answer> {
        BODY_ANSWERS.to_vec()
    }
}

/// A JSON body that may be left out entirely, such as logout's `{"all": true}`.
pub struct OptionalJson<T>(pub T);

impl<T: DeserializeOwned + Default + 'static> FromRequest for OptionalJson<T> {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        json_body(request, payload, Some(T::default))
            .map(|body| body.map(OptionalJson))
            .boxed_local()
    }
}

/// A query string, decoded into `T`.
pub struct Query<T>(pub T);

impl<T: DeserializeOwned> FromRequest for Query<T> {
    type Error = AppError;
    type Future = std::future::Ready<Result<Self, AppError>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let query = request.query_string();
        // U+0000 can only arrive percent-encoded: a raw NUL is not valid in a request line.
        let parsed = if query.contains("%00") {
            Err(AppError::BadRequest {
                code: ErrorCode::InvalidQuery,
                detail: "A query parameter holds the character U+0000.".into(),
            })
        } else {
            web::Query::<T>::from_query(query)
                .map(|q| Query(q.into_inner()))
                .map_err(|e| AppError::BadRequest {
                    code: ErrorCode::InvalidQuery,
                    detail: e.to_string(),
                })
        };
        std::future::ready(parsed)
    }
}

impl<T> Answers for Query<T> {
    fn answers() -> Vec<Answer> {
        vec![Answer::new(400, ErrorCode::InvalidQuery)]
    }
}

/// Reads and parses a body; `if_empty` answers an empty one where the
/// endpoint allows that.
fn json_body<T: DeserializeOwned + 'static>(
    request: &HttpRequest,
    payload: &mut Payload,
    if_empty: Option<fn() -> T>,
) -> LocalBoxFuture<'static, Result<T, AppError>> {
    let request = request.clone();
    let mut payload = payload.take();
    Box::pin(async move {
        let body = read(&request, &mut payload).await?;
        match if_empty {
            Some(default) if body.iter().all(u8::is_ascii_whitespace) || body.trim_ascii() == b"null" => Ok(default()),
            _ => parse(&request, &body),
        }
    })
}

fn parse<T: DeserializeOwned>(request: &HttpRequest, body: &[u8]) -> Result<T, AppError> {
    let is_json = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<mime::Mime>().ok())
        .is_some_and(|m| m.subtype() == mime::JSON || m.suffix() == Some(mime::JSON));
    if !is_json {
        return Err(AppError::UnsupportedMediaType);
    }
    refuse_nul_in_body(body)?;
    parse_json(body)
}

/// Parses at full speed; only a body that fails is read again with its path
/// tracked, to name the field (a body is at most 64 KiB).
fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, AppError> {
    let error = match serde_json::from_slice::<T>(body) {
        Ok(value) => return Ok(value),
        Err(error) if error.is_eof() || error.is_io() => return Err(malformed(error)),
        Err(error) => error,
    };
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    match serde_path_to_error::deserialize::<_, T>(&mut deserializer) {
        Err(error) => Err(shape_error(error, body)),
        // Read whole the second time: what failed was the end (trailing text).
        Ok(_) => Err(malformed(error)),
    }
}

fn malformed(error: serde_json::Error) -> AppError {
    AppError::BadRequest {
        code: ErrorCode::MalformedJson,
        detail: format!("The body is not valid JSON: {error}"),
    }
}

/// A body that is JSON but not of the endpoint's shape, refused on the field
/// that is wrong, named by its dotted path (`preferences.show_email`,
/// `members.3`); `body` when the body itself is of the wrong type.
fn shape_error(error: serde_path_to_error::Error<serde_json::Error>, body: &[u8]) -> AppError {
    let mut path: Vec<String> = error
        .path()
        .iter()
        .filter_map(|segment| match segment {
            Segment::Seq { index } => Some(index.to_string()),
            Segment::Map { key } => Some(key.clone()),
            Segment::Enum { variant } => Some(variant.clone()),
            Segment::Unknown => None,
        })
        .collect();
    let field = |path: Vec<String>| {
        if path.is_empty() {
            "body".to_string()
        } else {
            path.join(".")
        }
    };
    let error = error.into_inner();
    if !error.is_data() {
        // serde_json calls a number or a boolean where an enum is expected a
        // syntax error, though the JSON is sound.
        if serde_json::from_slice::<serde_json::Value>(body).is_err() {
            return malformed(error);
        }
        return AppError::Validation(vec![FieldError::new(
            &field(path),
            FieldCode::InvalidType,
            "Not a value of this field's type.",
        )]);
    }
    let message = error.to_string();
    let message = message.split(" at line ").next().unwrap_or(&message);
    // serde tells the kind of mistake only in its message; the field comes
    // from the path, except for a missing or unknown one, which the message names.
    let quoted = |prefix: &str| {
        message
            .strip_prefix(prefix)
            .and_then(|rest| rest.split('`').next())
            .map(String::from)
    };
    let code = if let Some(missing) = quoted("missing field `") {
        path.push(missing);
        FieldCode::Required
    } else if let Some(unknown) = quoted("unknown field `") {
        if path.last() != Some(&unknown) {
            path.push(unknown);
        }
        FieldCode::UnknownField
    } else if message.starts_with("unknown variant") {
        FieldCode::InvalidChoice
    } else if message.starts_with("invalid value: integer") || message.starts_with("invalid value: floating point") {
        FieldCode::OutOfRange
    } else if message.starts_with("invalid type")
        || message.starts_with("data did not match any variant")
        // An array where an object is expected: serde reads structs from arrays too.
        || (message.starts_with("invalid length") && message.contains("expected struct"))
    {
        FieldCode::InvalidType
    } else {
        FieldCode::Invalid
    };
    AppError::Validation(vec![FieldError::new(&field(path), code, message)])
}

async fn read(request: &HttpRequest, payload: &mut Payload) -> Result<web::BytesMut, AppError> {
    // Answer a body announced as too large at once, rather than wait for it.
    let announced = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if announced.is_some_and(|length| length > MAX_BODY_BYTES) {
        return Err(AppError::PayloadTooLarge);
    }
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| match e {
            actix_web::error::PayloadError::Overflow => AppError::PayloadTooLarge,
            e => AppError::BadRequest {
                code: ErrorCode::BadRequest,
                detail: format!("The body could not be read: {e}"),
            },
        })?;
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(AppError::PayloadTooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// JSON can carry U+0000 only as the escape `\u0000` (a raw control
/// character in a string is malformed JSON), so the bytes tell whether to
/// look for the field that holds it.
fn refuse_nul_in_body(body: &[u8]) -> Result<(), AppError> {
    if !has_nul_escape(body) {
        return Ok(());
    }
    // Malformed JSON: the parser says so.
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else {
        return Ok(());
    };
    match nul_path(&value, String::new()) {
        None => Ok(()),
        Some(field) => Err(AppError::Validation(vec![FieldError::new(
            &field,
            FieldCode::NullCharacter,
            "Text may not hold the character U+0000.",
        )])),
    }
}

fn has_nul_escape(body: &[u8]) -> bool {
    let mut i = 0;
    while i < body.len() {
        if body[i] == b'\\' {
            if body[i + 1..].starts_with(b"u0000") {
                return true;
            }
            // Skip the escaped character, so that `\\u0000` (a backslash, then text) does not count.
            i += 2;
        } else {
            i += 1;
        }
    }
    false
}

/// Where in `value` text holds U+0000, as a dotted path (`items.3`), with
/// object keys counting as text of their object.
fn nul_path(value: &serde_json::Value, at: String) -> Option<String> {
    let join = |key: &str| {
        if at.is_empty() {
            key.to_string()
        } else {
            format!("{at}.{key}")
        }
    };
    match value {
        serde_json::Value::String(s) if s.contains('\0') => Some(if at.is_empty() { "body".into() } else { at }),
        serde_json::Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| nul_path(item, join(&i.to_string()))),
        serde_json::Value::Object(fields) => fields.iter().find_map(|(key, item)| {
            if key.contains('\0') {
                Some(if at.is_empty() { "body".into() } else { at.clone() })
            } else {
                nul_path(item, join(key))
            }
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nul_escape_is_found_and_an_escaped_backslash_before_it_is_not() {
        assert!(has_nul_escape(br#"{"a": "x\u0000"}"#));
        assert!(has_nul_escape(br#"{"a": "\\\u0000"}"#));
        assert!(!has_nul_escape(br#"{"a": "\\u0000"}"#));
        assert!(!has_nul_escape(br#"{"a": "\u0001", "b": "\\"}"#));
        assert!(!has_nul_escape(br#"{"a": "\"#));
    }

    #[test]
    fn the_field_holding_nul_is_named() {
        let path = |text: &str| nul_path(&serde_json::from_str(text).unwrap(), String::new());
        assert_eq!(
            path(r#"{"bio": "ok", "signature": "a\u0000"}"#).as_deref(),
            Some("signature")
        );
        assert_eq!(path(r#"{"members": [1, "x\u0000"]}"#).as_deref(), Some("members.1"));
        assert_eq!(path(r#"{"a": {"\u0000": 1}}"#).as_deref(), Some("a"));
        assert_eq!(path(r#""\u0000""#).as_deref(), Some("body"));
        assert_eq!(path(r#"{"a": "\\u0000"}"#), None);
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Shape {
        duration: Option<String>,
        locale: Option<Locale>,
        #[serde(default)]
        members: Vec<u32>,
        preferences: Option<Preferences>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(rename_all = "lowercase")]
    enum Locale {
        En,
        Fr,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Preferences {
        show_email: bool,
    }

    fn refusal(body: &str) -> (String, &'static str) {
        match parse_json::<Shape>(body.as_bytes()) {
            Err(AppError::Validation(errors)) => {
                assert_eq!(errors.len(), 1, "{errors:?}");
                (errors[0].field.clone(), errors[0].code.as_str())
            }
            Err(other) => panic!("{body}: not a field error: {other:?}"),
            Ok(shape) => panic!("{body}: accepted as {shape:?}"),
        }
    }

    #[test]
    fn a_body_of_the_wrong_shape_is_refused_on_the_field_that_is_wrong() {
        assert_eq!(refusal(r#"{"duration": 5}"#), ("duration".into(), "invalid_type"));
        assert_eq!(refusal(r#"{"locale": "de"}"#), ("locale".into(), "invalid_choice"));
        assert_eq!(refusal(r#"{"locale": 1}"#), ("locale".into(), "invalid_type"));
        assert_eq!(
            refusal(r#"{"members": [1, 2, "x"]}"#),
            ("members.2".into(), "invalid_type")
        );
        assert_eq!(refusal(r#"{"members": [1, -1]}"#), ("members.1".into(), "out_of_range"));
        assert_eq!(
            refusal(r#"{"preferences": {"show_email": "yes"}}"#),
            ("preferences.show_email".into(), "invalid_type")
        );
        assert_eq!(
            refusal(r#"{"preferences": {}}"#),
            ("preferences.show_email".into(), "required")
        );
        assert_eq!(
            refusal(r#"{"preferences": {"show_email": true, "colour": 1}}"#),
            ("preferences.colour".into(), "unknown_field")
        );
        assert_eq!(refusal(r#"{"colour": 1}"#), ("colour".into(), "unknown_field"));
        assert_eq!(refusal("[]"), ("body".into(), "invalid_type"));
    }

    #[test]
    fn integers_are_counted_as_json_schema_counts_them() {
        #[derive(Debug, serde::Deserialize)]
        struct Number {
            #[serde(deserialize_with = "integer")]
            n: i64,
        }
        let read = |body: &str| parse_json::<Number>(body.as_bytes()).map(|number| number.n);
        assert_eq!(read(r#"{"n": -10.0}"#).ok(), Some(-10));
        assert_eq!(read(r#"{"n": 7}"#).ok(), Some(7));
        assert_eq!(read(r#"{"n": -9223372036854775808}"#).ok(), Some(i64::MIN));
        let code = |body: &str| match read(body) {
            Err(AppError::Validation(errors)) => errors[0].code.as_str(),
            other => panic!("{body}: {other:?}"),
        };
        assert_eq!(code(r#"{"n": 1.5}"#), "invalid_type");
        assert_eq!(code(r#"{"n": 9223372036854775808}"#), "out_of_range");
        assert_eq!(code(r#"{"n": 1e19}"#), "out_of_range");
        assert_eq!(code(r#"{"n": "7"}"#), "invalid_type");
    }

    #[test]
    fn json_that_does_not_parse_or_goes_on_after_its_end_is_malformed() {
        for body in [r#"{"duration": "#, r#"{} {}"#, "{}x"] {
            assert!(
                matches!(
                    parse_json::<Shape>(body.as_bytes()),
                    Err(AppError::BadRequest {
                        code: ErrorCode::MalformedJson,
                        ..
                    })
                ),
                "{body}"
            );
        }
    }

    #[test]
    fn malformed_json_is_left_to_the_parser() {
        assert!(refuse_nul_in_body(br#"{"a": "\u0000"#).is_ok());
        assert!(refuse_nul_in_body(br#"{"a": "\u0000"}"#).is_err());
    }
}

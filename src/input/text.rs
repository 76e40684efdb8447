//! Rules for the text and numbers a request carries, shared by the parsers
//! of every domain and written into the OpenAPI document.

/// Unicode's White_Space characters, those `char::is_whitespace` and
/// `str::trim` know, as the inside of a regular-expression class that
/// JavaScript, Python and Rust read alike (their own `\s` differ).
macro_rules! white_space {
    () => {
        r"\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
    };
}

/// Unicode's White_Space characters, as the inside of a class.
pub const WHITE_SPACE: &str = white_space!();

/// Any white space, as `str::trim` would take away.
pub const SPACES: &str = concat!("[", white_space!(), "]*");

/// Text that holds something besides white space (and no U+0000), as a
/// pattern the OpenAPI document gives such fields. The class lists Unicode's
/// White_Space characters, the ones `is_blank` skips, so that JavaScript and
/// Python validators read it as the server does.
pub const FILLED: &str = concat!(r"^[^\u0000]*[^\u0000", white_space!(), r"][^\u0000]*$");

/// An http(s) address as profiles take it: a host name (no user, no IP
/// literal), an optional port, then any printable ASCII. Stricter than
/// WHATWG's parser on purpose: one regular expression, the same in the
/// document and in `is_web_url`, so that a client validates as the server.
macro_rules! web_url {
    () => {
        r"^https?://[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*(:[0-9]{1,5})?([/?#][!-~]*)?$"
    };
}
/// An http(s) address as [`is_web_url`] takes it.
pub const WEB_URL: &str = web_url!();
/// `WEB_URL`, or nothing: what profile address fields take.
pub const WEB_URL_OR_EMPTY: &str = concat!(r"^$|", web_url!());

pub fn is_web_url(text: &str) -> bool {
    // Valid, as `web_addresses` shows: were it not, every address would be refused.
    static WEB: std::sync::LazyLock<Option<regex::Regex>> =
        std::sync::LazyLock::new(|| regex::Regex::new(WEB_URL).ok());
    WEB.as_ref().is_some_and(|web| web.is_match(text))
}

/// Text that is empty or only white space: what `FILLED` refuses.
pub fn is_blank(text: &str) -> bool {
    text.chars().all(char::is_whitespace)
}

/// An integer as JSON Schema counts them, `5.0` as well as `5`: the type the
/// document gives integer fields (`#[serde(deserialize_with = "integer")]`).
pub fn integer<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
    use serde::de::{Error, Unexpected};
    struct Integer;
    impl serde::de::Visitor<'_> for Integer {
        type Value = i64;

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an integer")
        }

        fn visit_i64<E: Error>(self, v: i64) -> Result<i64, E> {
            Ok(v)
        }

        fn visit_u64<E: Error>(self, v: u64) -> Result<i64, E> {
            i64::try_from(v).map_err(|_| E::invalid_value(Unexpected::Unsigned(v), &self))
        }

        fn visit_f64<E: Error>(self, v: f64) -> Result<i64, E> {
            // 2^63 is exact as a float; -2^63 is refused too, since a float
            // that rounded to it may have been below it (i64::MIN itself
            // arrives as an integer).
            const LIMIT: f64 = 9_223_372_036_854_775_808.0;
            if v.fract() != 0.0 {
                Err(E::invalid_type(Unexpected::Float(v), &self))
            } else if -LIMIT < v && v < LIMIT {
                Ok(v as i64)
            } else {
                Err(E::invalid_value(Unexpected::Float(v), &self))
            }
        }
    }
    deserializer.deserialize_any(Integer)
}

/// [`integer`], for a field that may be absent or null
/// (`#[serde(default, deserialize_with = "optional_integer")]`).
pub fn optional_integer<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
    #[derive(serde::Deserialize)]
    struct Integer(#[serde(deserialize_with = "integer")] i64);
    Ok(<Option<Integer> as serde::Deserialize>::deserialize(deserializer)?.map(|Integer(value)| value))
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The pattern the document gives filled fields, read by a regex
        /// engine, agrees with the server's own test on any text.
        #[test]
        fn the_filled_pattern_is_the_server_s_rule(text in "[\\x{1}-\\x{3001} \\u{85}\\u{a0}\\u{1680}\\u{2000}-\\u{200b}\\u{2028}\\u{2029}\\u{202f}\\u{205f}\\u{3000}\\u{feff}]{0,4}") {
            let filled = regex::Regex::new(FILLED).unwrap();
            proptest::prop_assert_eq!(filled.is_match(&text), !is_blank(&text), "{:?}", text);
        }
    }

    #[test]
    fn web_addresses() {
        for good in [
            "https://example.org",
            "http://a.b-c.example:8080/x?y=1#z",
            "https://EXAMPLE.org/%20~",
        ] {
            assert!(is_web_url(good), "{good}");
        }
        for bad in [
            "",
            " https://example.org",
            "ftp://example.org",
            "https://",
            "https://-x.org",
            "https://a b",
            "https://x/é",
            "javascript:alert(1)",
        ] {
            assert!(!is_web_url(bad), "{bad}");
        }
    }

    #[test]
    fn the_filled_pattern_refuses_white_space_and_nul() {
        let filled = regex::Regex::new(FILLED).unwrap();
        for blank in [
            "",
            " ",
            "\t\n\r\u{b}\u{c}",
            "\u{85}\u{a0}\u{3000}",
            "\u{2000}\u{200a}\u{2028}",
        ] {
            assert!(!filled.is_match(blank) && is_blank(blank), "{blank:?}");
        }
        for text in ["a", " a ", "\u{feff}", "\u{200b}", "\u{1c}"] {
            assert!(filled.is_match(text) && !is_blank(text), "{text:?}");
        }
        assert!(!filled.is_match("a\u{0}"));
    }
}

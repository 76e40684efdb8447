//! The duration grammar shared by requests and configuration: `45s`, `30m`,
//! `1d12h`, `1w2d3h4m5s` (units in that order, each at most once), or ISO 8601
//! (`P1D`, `PT12H`, `P1W`, `P1DT2H30M`). Zero and negative durations are
//! refused: nothing in memberd has a use for them. Each number has at most
//! as many digits as its unit allows (`UNITS`), which keeps every duration
//! under 80 years, so that the whole rule is a regular expression
//! (`pattern`) the OpenAPI document can state.

use std::fmt;

/// A strictly positive length of time, in whole seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Duration(u64);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("a duration must not be empty")]
    Empty,
    #[error("a duration must be longer than zero")]
    Zero,
    #[error("`{0}` is not a duration: use units w, d, h, m, s in that order (like 1d12h) or ISO 8601 (like P1DT12H)")]
    Malformed(String),
    #[error("the duration is too long")]
    TooLong,
}

/// A hundred years: longer than anything a community moderates for, and far
/// from every overflow in chrono.
const MAX_SECONDS: u64 = 100 * 365 * 86_400;

impl Duration {
    pub fn from_secs(secs: u64) -> Result<Self, DurationError> {
        match secs {
            0 => Err(DurationError::Zero),
            s if s > MAX_SECONDS => Err(DurationError::TooLong),
            s => Ok(Self(s)),
        }
    }

    pub fn parse(input: &str) -> Result<Self, DurationError> {
        let text = input.trim();
        if text.is_empty() {
            return Err(DurationError::Empty);
        }
        let malformed = || DurationError::Malformed(text.chars().take(40).collect());
        let secs = if let Some(iso) = text.strip_prefix('P').or_else(|| text.strip_prefix('p')) {
            parse_iso8601(iso).ok_or_else(malformed)?
        } else {
            parse_units(text, &UNITS).ok_or_else(malformed)?
        };
        Self::from_secs(secs)
    }

    pub fn as_secs(self) -> u64 {
        self.0
    }

    pub fn to_chrono(self) -> chrono::Duration {
        // MAX_SECONDS keeps this far inside i64 and chrono's range.
        chrono::Duration::seconds(self.0 as i64)
    }

    pub fn to_std(self) -> std::time::Duration {
        std::time::Duration::from_secs(self.0)
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        for (unit, size, _) in UNITS {
            if rest >= size {
                write!(f, "{}{unit}", rest / size)?;
                rest %= size;
            }
        }
        Ok(())
    }
}

/// Each unit, its length in seconds, and the most digits its number has:
/// 999w + 9999d + 99999h + 9999999m + 99999999s is about 80 years.
const UNITS: [(char, u64, usize); 5] = [
    ('w', 604_800, 3),
    ('d', 86_400, 4),
    ('h', 3_600, 5),
    ('m', 60, 7),
    ('s', 1, 8),
];

/// Parses `<number><unit>` groups whose units appear in the order of `units`,
/// each at most once. Returns None on anything else.
fn parse_units(text: &str, units: &[(char, u64, usize)]) -> Option<u64> {
    let mut total: u64 = 0;
    let mut next_unit = 0;
    let mut digits = String::new();
    let mut groups = 0;
    for c in text.chars() {
        if c.is_ascii_digit() {
            if digits.len() >= 8 {
                return None;
            }
            digits.push(c);
            continue;
        }
        let position = units[next_unit..]
            .iter()
            .position(|(u, _, _)| u.eq_ignore_ascii_case(&c))?;
        let (_, size, most) = units[next_unit + position];
        if digits.is_empty() || digits.len() > most {
            return None;
        }
        let value: u64 = digits.parse().ok()?;
        total = total.checked_add(value.checked_mul(size)?)?;
        next_unit += position + 1;
        digits.clear();
        groups += 1;
    }
    (digits.is_empty() && groups > 0).then_some(total)
}

/// What `Duration::parse` accepts, as a regular expression for the OpenAPI
/// document (no look-around, so JavaScript, Python and Rust read it alike):
/// white space around (`parse` trims it), then either form with at least one
/// number that is not zero.
pub fn pattern() -> String {
    use crate::input::SPACES;
    let unit = |(letter, _, _): (char, u64, usize)| format!("[{}{}]", letter, letter.to_ascii_uppercase());
    let any = |u: (char, u64, usize)| format!("[0-9]{{1,{}}}{}", u.2, unit(u));
    let zero = |u: (char, u64, usize)| format!("0{{1,{}}}{}", u.2, unit(u));
    // Not zero, in at most `most` digits: by the position of the first digit that is not 0.
    let nonzero = |u: (char, u64, usize)| {
        let most = u.2;
        let numbers: Vec<String> = (0..most)
            .map(|zeros| format!("0{{{zeros}}}[1-9][0-9]{{0,{}}}", most - 1 - zeros))
            .collect();
        format!("(?:{}){}", numbers.join("|"), unit(u))
    };
    let optional = |group: String| format!("(?:{group})?");
    // Groups of these units in order, at least one not zero.
    let some_nonzero = |units: &[(char, u64, usize)]| -> Vec<String> {
        (0..units.len())
            .map(|first| {
                let before = units[..first].iter().map(|u| optional(zero(*u)));
                let after = units[first + 1..].iter().map(|u| optional(any(*u)));
                before.chain([nonzero(units[first])]).chain(after).collect()
            })
            .collect()
    };
    // Groups of these units in order, at least one present.
    let some_present = |units: &[(char, u64, usize)]| -> String {
        let choices: Vec<String> = (0..units.len())
            .map(|first| {
                let after = units[first + 1..].iter().map(|u| optional(any(*u)));
                std::iter::once(any(units[first])).chain(after).collect()
            })
            .collect();
        format!("(?:{})", choices.join("|"))
    };
    let (date, time) = UNITS.split_at(2);
    let mut forms = some_nonzero(&UNITS);
    // ISO 8601: the first number not zero in the date part, any time part after it…
    for first in some_nonzero(date) {
        forms.push(format!("[pP]{first}(?:[tT]{})?", some_present(time)));
    }
    // …or in the time part, after a date part of zeros.
    let zeros: String = date.iter().map(|u| optional(zero(*u))).collect();
    for first in some_nonzero(time) {
        forms.push(format!("[pP]{zeros}[tT]{first}"));
    }
    format!("^{SPACES}(?:{}){SPACES}$", forms.join("|"))
}

/// ISO 8601 durations without years and months, whose length depends on the
/// calendar: `nW`, or `nD` followed by an optional `T` part of `nH nM nS`.
fn parse_iso8601(text: &str) -> Option<u64> {
    let upper = text.to_ascii_uppercase();
    let (date, time) = match upper.split_once('T') {
        Some((d, t)) if !t.is_empty() => (d, Some(t)),
        Some(_) => return None,
        None => (upper.as_str(), None),
    };
    let mut total = 0u64;
    if !date.is_empty() {
        total = parse_units(date, &UNITS[..2])?;
    }
    if let Some(time) = time {
        total = total.checked_add(parse_units(time, &UNITS[2..])?)?;
    }
    (!date.is_empty() || time.is_some()).then_some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(text: &str) -> u64 {
        Duration::parse(text)
            .map(Duration::as_secs)
            .unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn unit_grammar() {
        assert_eq!(secs("45s"), 45);
        assert_eq!(secs("30m"), 1_800);
        assert_eq!(secs("12h"), 43_200);
        assert_eq!(secs("1d"), 86_400);
        assert_eq!(secs("2w"), 1_209_600);
        assert_eq!(secs("1d12h"), 129_600);
        assert_eq!(secs("90m"), 5_400);
        assert_eq!(secs("1w2d3h4m5s"), 604_800 + 2 * 86_400 + 3 * 3_600 + 4 * 60 + 5);
    }

    #[test]
    fn iso8601_grammar() {
        assert_eq!(secs("P1D"), 86_400);
        assert_eq!(secs("PT12H"), 43_200);
        assert_eq!(secs("PT2S"), 2);
        assert_eq!(secs("P1W"), 604_800);
        assert_eq!(secs("P1DT2H30M"), 86_400 + 9_000);
    }

    #[test]
    fn refuses_zero_empty_negative_and_malformed() {
        for bad in [
            "", " ", "0s", "0", "PT0S", "-1d", "1h1d", "1d1d", "h", "1x", "1.5h", "P", "PT", "P1Y", "1 d", "s1",
        ] {
            assert!(Duration::parse(bad).is_err(), "{bad:?} should be refused");
        }
        assert_eq!(Duration::parse("0s"), Err(DurationError::Zero));
        assert_eq!(Duration::parse(""), Err(DurationError::Empty));
    }

    #[test]
    fn refuses_more_digits_than_a_unit_takes() {
        for (most, longer) in [
            ("999w", "1000w"),
            ("9999d", "10000d"),
            ("99999h", "100000h"),
            ("9999999m", "10000000m"),
        ] {
            assert!(Duration::parse(most).is_ok(), "{most}");
            assert!(Duration::parse(longer).is_err(), "{longer}");
        }
        assert!(Duration::parse("99999999s").is_ok());
        assert!(Duration::parse("999999999s").is_err());
        assert!(Duration::parse("P999W9999DT99999H9999999M99999999S").is_ok());
        assert_eq!(
            Duration::parse("101w52w"),
            Err(DurationError::Malformed("101w52w".into()))
        );
    }

    #[test]
    fn the_pattern_reads_known_cases_as_parse_does() {
        let pattern = regex::Regex::new(&pattern()).unwrap();
        for text in [
            "45s",
            "1d12h",
            "1w2d3h4m5s",
            "P1D",
            "pt12h",
            "P0DT1H",
            "P1W2D",
            " 90m\u{3000}",
            "0d1s",
            "00000001s",
        ] {
            assert!(pattern.is_match(text) && Duration::parse(text).is_ok(), "{text:?}");
        }
        for text in [
            "",
            "0s",
            "0",
            "PT0S",
            "P",
            "PT",
            "P1DT",
            "1h1d",
            "1000w",
            "1 d",
            "P1Y",
            "-1d",
            "000000001s",
        ] {
            assert!(!pattern.is_match(text) && Duration::parse(text).is_err(), "{text:?}");
        }
    }

    proptest::proptest! {
        /// The pattern the document gives durations accepts exactly what `parse` does.
        #[test]
        fn the_pattern_is_the_grammar(text in "[ 0-9wdhmsWDHMSpPtTy\u{3000}]{0,12}") {
            let pattern = regex::Regex::new(&pattern()).unwrap();
            proptest::prop_assert_eq!(pattern.is_match(&text), Duration::parse(&text).is_ok(), "{:?}", text);
        }

        /// The same on text shaped like durations, most of them valid.
        #[test]
        fn the_pattern_is_the_grammar_near_it(text in "[pP]?([0-9]{1,9}[wdhmsWDHMStT]){1,5}") {
            let pattern = regex::Regex::new(&pattern()).unwrap();
            proptest::prop_assert_eq!(pattern.is_match(&text), Duration::parse(&text).is_ok(), "{:?}", text);
        }
    }

    #[test]
    fn displays_in_its_own_grammar() {
        for text in ["45s", "1d12h", "1w2d3h4m5s", "15m"] {
            assert_eq!(Duration::parse(text).map(|d| d.to_string()), Ok(text.to_string()));
        }
    }
}

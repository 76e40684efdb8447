//! The duration grammar shared by requests and configuration: `45s`, `30m`,
//! `1d12h`, `1w2d3h4m5s` (units in that order, each at most once), or ISO 8601
//! (`P1D`, `PT12H`, `P1W`, `P1DT2H30M`). Zero and negative durations are
//! refused: nothing in memberd has a use for them.

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
            parse_units(
                text,
                &[('w', 604_800), ('d', 86_400), ('h', 3_600), ('m', 60), ('s', 1)],
            )
            .ok_or_else(malformed)?
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
        for (unit, size) in [('w', 604_800), ('d', 86_400), ('h', 3_600), ('m', 60), ('s', 1)] {
            if rest >= size {
                write!(f, "{}{unit}", rest / size)?;
                rest %= size;
            }
        }
        Ok(())
    }
}

/// Parses `<number><unit>` groups whose units appear in the order of `units`,
/// each at most once. Returns None on anything else, including overflow.
fn parse_units(text: &str, units: &[(char, u64)]) -> Option<u64> {
    let mut total: u64 = 0;
    let mut next_unit = 0;
    let mut digits = String::new();
    let mut groups = 0;
    for c in text.chars() {
        if c.is_ascii_digit() {
            if digits.len() >= 12 {
                return None;
            }
            digits.push(c);
            continue;
        }
        let position = units[next_unit..]
            .iter()
            .position(|(u, _)| u.eq_ignore_ascii_case(&c))?;
        if digits.is_empty() {
            return None;
        }
        let value: u64 = digits.parse().ok()?;
        let (_, size) = units[next_unit + position];
        total = total.checked_add(value.checked_mul(size)?)?;
        next_unit += position + 1;
        digits.clear();
        groups += 1;
    }
    (digits.is_empty() && groups > 0).then_some(total)
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
        total = parse_units(date, &[('W', 604_800), ('D', 86_400)])?;
    }
    if let Some(time) = time {
        total = total.checked_add(parse_units(time, &[('H', 3_600), ('M', 60), ('S', 1)])?)?;
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
    fn refuses_overflow() {
        assert!(Duration::parse("999999999999w").is_err());
        assert_eq!(
            Duration::parse("101w52w"),
            Err(DurationError::Malformed("101w52w".into()))
        );
    }

    #[test]
    fn displays_in_its_own_grammar() {
        for text in ["45s", "1d12h", "1w2d3h4m5s", "15m"] {
            assert_eq!(Duration::parse(text).map(|d| d.to_string()), Ok(text.to_string()));
        }
    }
}

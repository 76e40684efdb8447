//! Django's `dumpdata` JSON, read as a stream: one JSON array of
//! `{"model", "pk", "fields"}` objects, handed over one record at a time so
//! that a dump of any size never sits in memory whole.

use std::collections::BTreeMap;
use std::io::Read;

use chrono::{DateTime, NaiveDateTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use serde::Deserialize;
use serde::de::{DeserializeSeed, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// Why a dump cannot be read: where, and what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DumpError {
    #[error("not a Django dump: {0}")]
    Syntax(String),
    #[error("{model} {pk}: {message}")]
    Record { model: String, pk: String, message: String },
}

/// One record as Django wrote it.
#[derive(Debug, Deserialize)]
pub struct RawRecord {
    pub model: String,
    pub pk: Value,
    #[serde(default)]
    pub fields: Map<String, Value>,
}

/// Reads every record of the array in `reader`, in order, into `each`; the
/// first error (of the file or of `each`) stops the reading.
pub fn read_records<R: Read>(reader: R, each: impl FnMut(RawRecord) -> Result<(), DumpError>) -> Result<(), DumpError> {
    struct Records<F> {
        each: F,
        failure: Option<DumpError>,
    }
    impl<'de, F: FnMut(RawRecord) -> Result<(), DumpError>> Visitor<'de> for &mut Records<F> {
        type Value = ();
        fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
            formatter.write_str("a JSON array of Django records")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            while let Some(record) = seq.next_element::<RawRecord>()? {
                if let Err(error) = (self.each)(record) {
                    self.failure = Some(error);
                    return Err(serde::de::Error::custom("stopped"));
                }
            }
            Ok(())
        }
    }
    impl<'de, F: FnMut(RawRecord) -> Result<(), DumpError>> DeserializeSeed<'de> for &mut Records<F> {
        type Value = ();
        fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
            deserializer.deserialize_seq(self)
        }
    }

    let mut records = Records { each, failure: None };
    let mut deserializer = serde_json::Deserializer::from_reader(std::io::BufReader::with_capacity(1 << 16, reader));
    let read = (&mut records)
        .deserialize(&mut deserializer)
        .and_then(|()| deserializer.end());
    match (records.failure, read) {
        (Some(failure), _) => Err(failure),
        (None, Err(error)) => Err(DumpError::Syntax(error.to_string())),
        (None, Ok(())) => Ok(()),
    }
}

/// The fields of one record, taken one by one: what is left at the end are
/// the fields memberd does not keep.
pub struct Fields {
    model: String,
    pk: String,
    fields: Map<String, Value>,
    zone: Tz,
}

impl Fields {
    pub fn new(record: RawRecord, zone: Tz) -> Result<(i64, Self), DumpError> {
        let pk_text = record.pk.to_string();
        let pk = record.pk.as_i64().ok_or_else(|| DumpError::Record {
            model: record.model.clone(),
            pk: pk_text.clone(),
            message: "the primary key is not an integer".into(),
        })?;
        Ok((
            pk,
            Self {
                model: record.model,
                pk: pk_text,
                fields: record.fields,
                zone,
            },
        ))
    }

    /// An error about this record.
    pub fn error(&self, message: impl Into<String>) -> DumpError {
        DumpError::Record {
            model: self.model.clone(),
            pk: self.pk.clone(),
            message: message.into(),
        }
    }

    fn take(&mut self, name: &str) -> Result<Value, DumpError> {
        self.fields
            .remove(name)
            .ok_or_else(|| self.error(format!("the field {name} is missing")))
    }

    fn wrong(&self, name: &str, expected: &str) -> DumpError {
        self.error(format!("the field {name} is not {expected}"))
    }

    pub fn text(&mut self, name: &str) -> Result<String, DumpError> {
        match self.take(name)? {
            Value::String(text) => Ok(text),
            _ => Err(self.wrong(name, "a string")),
        }
    }

    /// A text that may be null (or, for a field a later version dropped, absent).
    pub fn optional_text(&mut self, name: &str) -> Result<Option<String>, DumpError> {
        match self.fields.remove(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) => Ok(Some(text)),
            Some(_) => Err(self.wrong(name, "a string")),
        }
    }

    pub fn boolean(&mut self, name: &str) -> Result<bool, DumpError> {
        match self.take(name)? {
            Value::Bool(value) => Ok(value),
            _ => Err(self.wrong(name, "true or false")),
        }
    }

    /// A boolean a later version may drop: its default then.
    pub fn boolean_or(&mut self, name: &str, default: bool) -> Result<bool, DumpError> {
        match self.fields.remove(name) {
            None => Ok(default),
            Some(Value::Bool(value)) => Ok(value),
            Some(_) => Err(self.wrong(name, "true or false")),
        }
    }

    pub fn integer(&mut self, name: &str) -> Result<i64, DumpError> {
        match self.take(name)? {
            Value::Number(n) if n.is_i64() => n.as_i64().ok_or_else(|| self.wrong(name, "an integer")),
            _ => Err(self.wrong(name, "an integer")),
        }
    }

    /// A foreign key that may be null.
    pub fn optional_key(&mut self, name: &str) -> Result<Option<i64>, DumpError> {
        match self.fields.remove(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) if n.is_i64() => Ok(n.as_i64()),
            Some(_) => Err(self.wrong(name, "an integer or null")),
        }
    }

    pub fn keys(&mut self, name: &str) -> Result<Vec<i64>, DumpError> {
        match self.fields.remove(name) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| item.as_i64().ok_or_else(|| self.wrong(name, "a list of integers")))
                .collect(),
            Some(_) => Err(self.wrong(name, "a list of integers")),
        }
    }

    pub fn instant(&mut self, name: &str) -> Result<DateTime<Utc>, DumpError> {
        self.optional_instant(name)?
            .ok_or_else(|| self.wrong(name, "a date and time"))
    }

    pub fn optional_instant(&mut self, name: &str) -> Result<Option<DateTime<Utc>>, DumpError> {
        match self.fields.remove(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) => parse_instant(&text, self.zone)
                .map(Some)
                .ok_or_else(|| self.error(format!("the field {name} is not a date and time: {text:?}"))),
            Some(_) => Err(self.wrong(name, "a date and time")),
        }
    }

    /// Drops a field memberd must never keep (a secret), counting it as skipped.
    pub fn discard(&mut self, name: &str, skipped: &mut BTreeMap<String, u64>) {
        if self.fields.remove(name).is_some() {
            *skipped.entry(format!("{}.{name}", self.model)).or_default() += 1;
        }
    }

    /// Counts the fields nobody took, by `model.field`.
    pub fn finish(self, skipped: &mut BTreeMap<String, u64>) {
        for name in self.fields.keys() {
            *skipped.entry(format!("{}.{name}", self.model)).or_default() += 1;
        }
    }
}

/// An instant as Django's serializer writes it: ISO 8601 with an offset
/// (`Z`, `+01:00`), which wins, or naive (`USE_TZ = False`), read in `zone`.
pub fn parse_instant(text: &str, zone: Tz) -> Option<DateTime<Utc>> {
    if let Ok(instant) = DateTime::parse_from_rfc3339(text) {
        return Some(instant.with_timezone(&Utc));
    }
    let naive = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
        .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f"))
        .ok()?;
    local_instant(naive, zone)
}

/// A wall-clock time in `zone`: in an autumn overlap, the earlier of its two
/// instants; in a spring gap (a time that never showed), the instant the gap
/// ends, as the clocks jumped to it.
pub fn local_instant(naive: NaiveDateTime, zone: Tz) -> Option<DateTime<Utc>> {
    use chrono::offset::LocalResult;
    match zone.from_local_datetime(&naive) {
        LocalResult::Single(instant) => Some(instant.with_timezone(&Utc)),
        LocalResult::Ambiguous(earlier, later) => Some(earlier.min(later).with_timezone(&Utc)),
        LocalResult::None => {
            // Gaps start and end on whole minutes, and last hours at most.
            let minute = naive.with_second(0)?.with_nanosecond(0)?;
            (1..=24 * 60).find_map(|step| {
                zone.from_local_datetime(&(minute + chrono::Duration::minutes(step)))
                    .earliest()
                    .map(|instant| instant.with_timezone(&Utc))
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paris() -> Tz {
        chrono_tz::Europe::Paris
    }

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn naive_times_are_read_in_the_zone_and_offsets_win() {
        assert_eq!(
            parse_instant("2023-01-10T09:00:00", paris()),
            Some(utc("2023-01-10T08:00:00Z"))
        );
        assert_eq!(
            parse_instant("2023-07-10T09:00:00.123", paris()),
            Some(utc("2023-07-10T07:00:00.123Z"))
        );
        assert_eq!(
            parse_instant("2023-07-10T09:00:00Z", paris()),
            Some(utc("2023-07-10T09:00:00Z"))
        );
        assert_eq!(
            parse_instant("2023-07-10T09:00:00-04:00", paris()),
            Some(utc("2023-07-10T13:00:00Z"))
        );
        for bad in ["", "2023-13-01T00:00:00", "yesterday", "2023-01-10"] {
            assert_eq!(parse_instant(bad, paris()), None, "{bad}");
        }
    }

    #[test]
    fn the_autumn_overlap_takes_the_earlier_instant_and_the_spring_gap_the_instant_after() {
        // 2021-10-31: 03:00 CEST became 02:00 CET; 02:30 happened twice.
        assert_eq!(
            parse_instant("2021-10-31T02:30:00", paris()),
            Some(utc("2021-10-31T00:30:00Z"))
        );
        // 2021-03-28: 02:00 CET became 03:00 CEST; 02:30 never happened.
        assert_eq!(
            parse_instant("2021-03-28T02:30:00", paris()),
            Some(utc("2021-03-28T01:00:00Z"))
        );
        assert_eq!(
            parse_instant("2021-03-28T01:59:59", paris()),
            Some(utc("2021-03-28T00:59:59Z"))
        );
    }

    #[test]
    fn records_stream_in_order_and_the_first_failure_stops_them() {
        let text = r#"[{"model": "a.b", "pk": 1, "fields": {"x": 1}}, {"model": "a.c", "pk": 2, "fields": {}}]"#;
        let mut seen = Vec::new();
        read_records(text.as_bytes(), |record| {
            seen.push((record.model, record.pk));
            Ok(())
        })
        .unwrap();
        assert_eq!(seen.len(), 2);

        let stopped = read_records(text.as_bytes(), |record| {
            Err(DumpError::Record {
                model: record.model,
                pk: record.pk.to_string(),
                message: "no".into(),
            })
        });
        assert_eq!(stopped.unwrap_err().to_string(), "a.b 1: no");

        for bad in ["", "{}", "[", "[1]", r#"[{"model": "a"}]"#, "[] []"] {
            assert!(
                matches!(read_records(bad.as_bytes(), |_| Ok(())), Err(DumpError::Syntax(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn fields_are_typed_and_the_rest_is_counted_as_skipped() {
        let record: RawRecord = serde_json::from_str(
            r#"{"model": "auth.user", "pk": 3, "fields": {"username": "a", "is_active": "yes", "first_name": "", "groups": [1, 2]}}"#,
        )
        .unwrap();
        let (pk, mut fields) = Fields::new(record, paris()).unwrap();
        assert_eq!(pk, 3);
        assert_eq!(fields.text("username").unwrap(), "a");
        assert_eq!(fields.keys("groups").unwrap(), [1, 2]);
        assert_eq!(
            fields.boolean("is_active").unwrap_err().to_string(),
            "auth.user 3: the field is_active is not true or false"
        );
        assert_eq!(
            fields.text("email").unwrap_err().to_string(),
            "auth.user 3: the field email is missing"
        );
        let mut skipped = BTreeMap::new();
        fields.finish(&mut skipped);
        assert_eq!(
            skipped.into_iter().collect::<Vec<_>>(),
            [("auth.user.first_name".to_string(), 1)]
        );
    }
}

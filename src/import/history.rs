//! A member's sanctions as Zeste de Savoir recorded them, rebuilt as
//! memberd's history: `Ban` rows (French labels, no end date) and the
//! profile's flags (the truth about now).
//!
//! Zeste de Savoir replaced a running sanction of a kind by the next one
//! instead of queueing it, so each imported sanction ends where the next
//! row of its kind (or its lift) began, or after its own days; the latest
//! one ends at the profile's end. Nothing imported queues.

use chrono::{DateTime, Utc};

use crate::duration::Duration;
use crate::import::model::{Ban, Flag};
use crate::sanctions::model::{Action, Ending, EndingKind, Entry, History, Restriction};

/// How long a sanction's label says it lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Length {
    Permanent,
    Days(u32),
    /// A temporary sanction of before March 2020: its label gives no length.
    Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Label {
    Impose(Restriction, Length),
    Lift(Restriction),
}

/// Reads a label exactly as Zeste de Savoir stores it (an apostrophe may be
/// typographic); None for any other, which is reported, never guessed.
pub fn parse_label(label: &str) -> Option<Label> {
    use Restriction::{Ban, ReadOnly};
    let label = label.replace('’', "'");
    let days = |rest: &str| -> Option<u32> {
        let inner = rest.strip_prefix(" (")?.strip_suffix(')')?;
        let (count, unit) = inner.split_once(' ')?;
        let count: u32 = count.parse().ok().filter(|n| *n > 0)?;
        (unit == if count == 1 { "jour" } else { "jours" }).then_some(count)
    };
    Some(match label.as_str() {
        "Lecture seule illimitée" | "Lecture Seule" => Label::Impose(ReadOnly, Length::Permanent),
        "Lecture Seule Temporaire" => Label::Impose(ReadOnly, Length::Unknown),
        "Levée de la lecture seule" | "Autorisation d'écrire" => Label::Lift(ReadOnly),
        "Bannissement illimité" | "Ban définitif" => Label::Impose(Ban, Length::Permanent),
        "Ban Temporaire" => Label::Impose(Ban, Length::Unknown),
        "Levée du bannissement" | "Autorisation de se connecter" => Label::Lift(Ban),
        other => {
            if let Some(rest) = other.strip_prefix("Lecture seule temporaire") {
                Label::Impose(ReadOnly, Length::Days(days(rest)?))
            } else if let Some(rest) = other.strip_prefix("Bannissement temporaire") {
                Label::Impose(Ban, Length::Days(days(rest)?))
            } else {
                return None;
            }
        }
    })
}

/// One `Ban` row with a known label and date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub ban: Ban,
    pub label: Label,
    pub at: DateTime<Utc>,
}

/// Who ended an imported sanction early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndedBy {
    /// The moderator of the row that ended it, as the rows name moderators (None: unknown).
    Row(Option<i64>),
    /// memberd, from the profile's flags.
    Import,
}

/// A sanction to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rebuilt {
    /// The `Ban` row's pk; None for a standing carried over from the
    /// profile with no row that explains it.
    pub pk: Option<i64>,
    pub action: Action,
    pub created_at: DateTime<Utc>,
    pub duration: Option<Duration>,
    pub moderator: Option<i64>,
    pub reason: String,
    pub ending: Option<(EndingKind, DateTime<Utc>, EndedBy, String)>,
}

pub const CARRIED_REASON: &str = "Carried over from the member's standing in Zeste de Savoir.";
pub const REPLACED_REASON: &str = "Replaced by the next sanction of its kind in Zeste de Savoir.";
pub const NOT_IN_FORCE_REASON: &str = "No longer in force in Zeste de Savoir at the import.";

/// The rebuilt sanctions as entries of memberd's queue model (each one's id
/// its index), so that memberd schedules them as it will read them.
pub fn history(rebuilt: &[Rebuilt]) -> History {
    History::new(
        rebuilt
            .iter()
            .enumerate()
            .map(|(i, r)| Entry {
                id: i as i64,
                action: r.action,
                resource: None,
                created_at: r.created_at,
                duration: r.duration,
                ending: r
                    .ending
                    .as_ref()
                    .map(|(kind, at, _, _)| Ending { kind: *kind, at: *at }),
            })
            .collect(),
    )
}

fn span(from: DateTime<Utc>, to: DateTime<Utc>) -> Option<Duration> {
    // A sanction lasts a second at least; an end before its start is a
    // profile edited by hand, read as "over at once".
    let seconds = (to - from).num_seconds().max(1);
    Duration::from_secs(seconds.unsigned_abs()).ok()
}

fn days(n: u32) -> Option<Duration> {
    Duration::from_secs(u64::from(n) * 86_400).ok()
}

/// The history of one restriction: `rows` are the member's rows of that
/// restriction, oldest first; `flag` the profile's flag and end for it;
/// `as_of` the latest instant of the dump (when it was taken, as near as
/// the file tells), so that the same file always gives the same history.
pub fn rebuild(restriction: Restriction, rows: &[Row], flag: Flag, as_of: DateTime<Utc>) -> Vec<Rebuilt> {
    let mut rebuilt = Vec::with_capacity(rows.len() + 1);
    for (i, row) in rows.iter().enumerate() {
        let base = |action, duration, ending| Rebuilt {
            pk: Some(row.ban.pk),
            action,
            created_at: row.at,
            duration,
            moderator: row.ban.moderator,
            reason: row.ban.note.clone(),
            ending,
        };
        let length = match row.label {
            Label::Lift(_) => {
                rebuilt.push(base(Action::Lift(restriction), None, None));
                continue;
            }
            Label::Impose(_, length) => length,
        };
        let labelled = match length {
            Length::Days(n) => days(n),
            Length::Permanent | Length::Unknown => None,
        };
        let natural_end = labelled.map(|d| row.at + d.to_chrono());
        let action = Action::Impose(restriction);
        if let Some(next) = rows.get(i + 1) {
            if natural_end.is_some_and(|end| end <= next.at) {
                rebuilt.push(base(action, labelled, None));
            } else {
                let (kind, reason) = match next.label {
                    Label::Lift(_) => (EndingKind::Lifted, next.ban.note.clone()),
                    Label::Impose(..) => (EndingKind::Replaced, REPLACED_REASON.to_string()),
                };
                let ending = (kind, next.at, EndedBy::Row(next.ban.moderator), reason);
                rebuilt.push(base(action, labelled, Some(ending)));
            }
            continue;
        }
        // The latest of its kind: the profile says how it ends.
        let sanction = match (flag.allowed, flag.end) {
            (false, None) => base(action, None, None),
            (_, Some(end)) if end > row.at && (!flag.allowed || end <= as_of) => base(action, span(row.at, end), None),
            (false, Some(end)) => base(action, span(row.at, end), None),
            _ => match natural_end {
                Some(end) if end <= as_of => base(action, labelled, None),
                _ => {
                    let at = as_of.max(row.at);
                    let ending = (EndingKind::Lifted, at, EndedBy::Import, NOT_IN_FORCE_REASON.to_string());
                    base(action, labelled, Some(ending))
                }
            },
        };
        rebuilt.push(sanction);
    }
    let explained = matches!(rows.last(), Some(row) if matches!(row.label, Label::Impose(..)));
    let restricted = !flag.allowed && flag.end.is_none_or(|end| end > as_of);
    if restricted && !explained {
        let created_at = match flag.end {
            Some(end) => as_of.min(end - chrono::Duration::seconds(1)),
            None => as_of,
        };
        rebuilt.push(Rebuilt {
            pk: None,
            action: Action::Impose(restriction),
            created_at,
            duration: flag.end.and_then(|end| span(created_at, end)),
            moderator: None,
            reason: CARRIED_REASON.to_string(),
            ending: None,
        });
    }
    rebuilt
}

#[cfg(test)]
mod tests;

//! The import's moderation history: sanctions rebuilt from `Ban` rows and
//! the profiles' standing, karma notes and their balances, banned providers;
//! read from the staging tables a batch at a time.

use chrono::{DateTime, Utc};
use diesel::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Nullable, Text, Timestamptz};

use super::legacy;
use crate::error::AppError;
use crate::import::history::{self, EndedBy, Rebuilt, Row};
use crate::import::model::{self, Ban, Flag, Provider};
use crate::import::report::{CarriedStanding, KarmaBalance, Report, UnknownLabel};
use crate::import::staging;
use crate::import::store::{self, BATCH, NoteRow, SanctionRow};
use crate::sanctions::model::{Action, Restriction};
use crate::sanctions::standing::until_to_option;

/// A `Ban` row with its member and the profile's flags; a member whose
/// profile restricts them and who has no row comes once, without one.
/// Moderators are memberd ids (none: null there, or not in the file).
#[derive(QueryableByName)]
struct BanRow {
    #[diesel(sql_type = BigInt)]
    user_pk: i64,
    #[diesel(sql_type = BigInt)]
    member_id: i64,
    #[diesel(sql_type = Nullable<Bool>)]
    can_read: Option<bool>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    end_ban_read: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Bool>)]
    can_write: Option<bool>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    end_ban_write: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<BigInt>)]
    ban_pk: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    moderator_id: Option<i64>,
    #[diesel(sql_type = Nullable<Text>)]
    label: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    note: Option<String>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    at: Option<DateTime<Utc>>,
}

/// The moderator's memberd id, as a join from a staged record's `moderator`.
const MODERATOR_JOIN: &str = "LEFT JOIN zds_users mu ON mu.pk = r.moderator \
     LEFT JOIN members mm ON mm.legacy_id = 'zds:user:' || mu.pk";

/// One member's rows, gathered across fetches.
struct Gathered {
    member_id: i64,
    user_pk: i64,
    read: Flag,
    write: Flag,
    rows: Vec<Row>,
}

/// The sanctions' part of the import, as the rows stream by.
struct Sanctions<'a> {
    placeholder: i64,
    as_of: DateTime<Utc>,
    now: DateTime<Utc>,
    report: &'a mut Report,
    pending: Vec<SanctionRow>,
    carried: Vec<String>,
}

impl Sanctions<'_> {
    fn take(&mut self, row: BanRow, into: &mut Gathered) {
        let (Some(pk), Some(label_text)) = (row.ban_pk, row.label) else {
            return;
        };
        let Some(at) = row.at else {
            self.report.counts(model::BAN).skip("no date");
            return;
        };
        let Some(label) = history::parse_label(&label_text) else {
            self.report.counts(model::BAN).skip("unknown label");
            self.report.conflicts.unknown_ban_labels.push(UnknownLabel {
                pk,
                user: row.user_pk,
                label: label_text,
            });
            return;
        };
        into.rows.push(Row {
            ban: Ban {
                pk,
                user: row.user_pk,
                moderator: row.moderator_id,
                label: label_text,
                note: row.note.unwrap_or_default(),
                at: Some(at),
            },
            label,
            at,
        });
    }

    /// Rebuilds one member's history and queues its rows for writing.
    fn finish(&mut self, member: Gathered) {
        let mut rebuilt: Vec<Rebuilt> = Vec::new();
        for (restriction, flag) in [(Restriction::Ban, member.read), (Restriction::ReadOnly, member.write)] {
            let of_kind: Vec<Row> = member
                .rows
                .iter()
                .filter(|row| match row.label {
                    history::Label::Impose(r, _) | history::Label::Lift(r) => r == restriction,
                })
                .cloned()
                .collect();
            let before = rebuilt.len();
            rebuilt.extend(history::rebuild(restriction, &of_kind, flag, self.as_of));
            if rebuilt[before..].iter().any(|r| r.pk.is_none()) {
                self.report.conflicts.carried_standings.push(CarriedStanding {
                    user: member.user_pk,
                    kind: restriction.as_str(),
                });
            }
        }
        let history = history::history(&rebuilt);
        for (entry, slot) in history.entries().iter().zip(history.schedule()) {
            let Some(r) = usize::try_from(entry.id).ok().and_then(|i| rebuilt.get(i)) else {
                continue;
            };
            let legacy_id = match r.pk {
                Some(pk) => legacy("ban", pk),
                None => {
                    let id = format!("zds:standing:{}:{}", member.user_pk, r.action.as_str());
                    self.carried.push(id.clone());
                    id
                }
            };
            let moderator_id = match (r.pk, r.moderator) {
                (_, Some(id)) => id,
                // A standing carried over has no moderator to count as missing.
                (None, None) => self.placeholder,
                (Some(_), None) => {
                    self.report.conflicts.placeholder_moderators += 1;
                    self.placeholder
                }
            };
            let ends_at = until_to_option(slot.ends_at);
            let running =
                r.ending.is_none() && matches!(r.action, Action::Impose(_)) && ends_at.is_none_or(|e| e > self.now);
            let (ended_kind, ended_at, ended_by, end_reason) = match &r.ending {
                Some((kind, at, by, reason)) => (
                    Some(kind.as_str()),
                    Some(*at),
                    Some(match by {
                        EndedBy::Row(Some(id)) => *id,
                        EndedBy::Row(None) | EndedBy::Import => self.placeholder,
                    }),
                    Some(reason.clone()),
                ),
                None => (None, None, None, None),
            };
            self.pending.push(SanctionRow {
                legacy_id,
                member_id: member.member_id,
                kind: r.action.as_str(),
                reason: r.reason.clone(),
                duration_seconds: r.duration.map(|d| d.as_secs() as i64),
                moderator_id,
                created_at: r.created_at,
                ended_kind,
                ended_at,
                ended_by,
                end_reason,
                starts_at: slot.starts_at,
                ends_at,
                expiry_recorded: !running,
            });
        }
    }

    fn write(&mut self, conn: &mut PgConnection, all: bool) -> Result<(), AppError> {
        let due = self.pending.len() >= BATCH || (all && !self.pending.is_empty());
        if !due {
            return Ok(());
        }
        let rows = std::mem::take(&mut self.pending);
        let outcomes = store::upsert_sanctions(conn, &rows)?;
        for row in &rows {
            let model = if row.legacy_id.starts_with("zds:ban:") {
                model::BAN
            } else {
                "standing (from profiles)"
            };
            self.report.counts(model).wrote(outcomes.get(&row.legacy_id).copied());
        }
        Ok(())
    }
}

fn flag(allowed: Option<bool>, end: Option<DateTime<Utc>>) -> Flag {
    Flag {
        allowed: allowed.unwrap_or(true),
        end,
    }
}

pub(super) fn import_sanctions(
    conn: &mut PgConnection,
    placeholder: i64,
    (as_of, now): (DateTime<Utc>, DateTime<Utc>),
    report: &mut Report,
) -> Result<(), AppError> {
    let query = format!(
        "SELECT u.pk AS user_pk, m.id AS member_id, p.can_read, p.end_ban_read, p.can_write, p.end_ban_write, \
             r.pk AS ban_pk, mm.id AS moderator_id, r.label, r.note, r.at \
         FROM zds_users u JOIN members m ON m.legacy_id = 'zds:user:' || u.pk \
         LEFT JOIN zds_profiles p ON p.user_pk = u.pk LEFT JOIN zds_bans r ON r.user_pk = u.pk {MODERATOR_JOIN} \
         WHERE r.pk IS NOT NULL OR NOT p.can_read OR NOT p.can_write ORDER BY u.pk, r.at, r.pk"
    );
    let mut sanctions = Sanctions {
        placeholder,
        as_of,
        now,
        report,
        pending: Vec::new(),
        carried: Vec::new(),
    };
    let mut current: Option<Gathered> = None;
    staging::each_batch(conn, "zds_sanctions", &query, BATCH, |conn, rows: Vec<BanRow>| {
        for row in rows {
            if current.as_ref().is_none_or(|c| c.user_pk != row.user_pk) {
                if let Some(done) = current.take() {
                    sanctions.finish(done);
                }
                current = Some(Gathered {
                    member_id: row.member_id,
                    user_pk: row.user_pk,
                    read: flag(row.can_read, row.end_ban_read),
                    write: flag(row.can_write, row.end_ban_write),
                    rows: Vec::new(),
                });
            }
            if let Some(gathered) = current.as_mut() {
                sanctions.take(row, gathered);
            }
        }
        sanctions.write(conn, false)
    })?;
    if let Some(done) = current.take() {
        sanctions.finish(done);
    }
    sanctions.write(conn, true)?;
    store::forget_stale(conn, "sanctions", "zds:standing:", &sanctions.carried)?;
    Ok(())
}

#[derive(QueryableByName)]
struct NoteFromFile {
    #[diesel(sql_type = BigInt)]
    pk: i64,
    #[diesel(sql_type = BigInt)]
    member_id: i64,
    #[diesel(sql_type = Nullable<BigInt>)]
    moderator_id: Option<i64>,
    #[diesel(sql_type = Text)]
    note: String,
    #[diesel(sql_type = BigInt)]
    karma: i64,
    #[diesel(sql_type = Timestamptz)]
    at: DateTime<Utc>,
}

#[derive(QueryableByName)]
struct Balance {
    #[diesel(sql_type = BigInt)]
    user_pk: i64,
    #[diesel(sql_type = BigInt)]
    member_id: i64,
    #[diesel(sql_type = BigInt)]
    karma: i64,
    #[diesel(sql_type = BigInt)]
    notes_sum: i64,
}

fn write_notes(conn: &mut PgConnection, rows: &[NoteRow], report: &mut Report) -> Result<(), AppError> {
    let outcomes = store::upsert_notes(conn, rows)?;
    for row in rows {
        let model = if row.author_id.is_some() {
            model::KARMA_NOTE
        } else {
            "karma balance"
        };
        report.counts(model).wrote(outcomes.get(&row.legacy_id).copied());
    }
    Ok(())
}

pub(super) fn import_notes(
    conn: &mut PgConnection,
    placeholder: i64,
    as_of: DateTime<Utc>,
    report: &mut Report,
) -> Result<(), AppError> {
    let query = format!(
        "SELECT r.pk, m.id AS member_id, mm.id AS moderator_id, r.note, r.karma, r.at FROM zds_notes r \
         JOIN members m ON m.legacy_id = 'zds:user:' || r.user_pk {MODERATOR_JOIN} ORDER BY r.pk"
    );
    staging::each_batch(conn, "zds_karma", &query, BATCH, |conn, notes: Vec<NoteFromFile>| {
        let mut rows = Vec::with_capacity(notes.len());
        for note in notes {
            let Some(karma) = i32::try_from(note.karma).ok().filter(|k| (-100..=100).contains(k)) else {
                report
                    .counts(model::KARMA_NOTE)
                    .skip("karma outside -100..100 (in the balance)");
                continue;
            };
            let author = note.moderator_id.unwrap_or_else(|| {
                report.conflicts.placeholder_moderators += 1;
                placeholder
            });
            rows.push(NoteRow {
                legacy_id: legacy("karmanote", note.pk),
                member_id: note.member_id,
                author_id: Some(author),
                note: note.note,
                karma,
                created_at: note.at,
            });
        }
        write_notes(conn, &rows, report)
    })?;

    // Where a profile's total differs from its notes (notes deleted there),
    // one note by memberd carries the difference over.
    let query = "SELECT u.pk AS user_pk, m.id AS member_id, p.karma, coalesce(s.total, 0)::bigint AS notes_sum \
         FROM zds_profiles p JOIN zds_users u ON u.pk = p.user_pk JOIN members m ON m.legacy_id = 'zds:user:' || u.pk \
         LEFT JOIN (SELECT user_pk, sum(karma) AS total FROM zds_notes WHERE karma BETWEEN -100 AND 100 \
             GROUP BY user_pk) s ON s.user_pk = u.pk \
         WHERE p.karma <> coalesce(s.total, 0) ORDER BY u.pk";
    let mut kept = Vec::new();
    staging::each_batch(conn, "zds_balances", query, BATCH, |conn, balances: Vec<Balance>| {
        let mut rows = Vec::with_capacity(balances.len());
        for balance in balances {
            let difference = balance.karma - balance.notes_sum;
            let Ok(karma) = i32::try_from(difference) else { continue };
            report.conflicts.karma_balances.push(KarmaBalance {
                user: balance.user_pk,
                profile_karma: balance.karma,
                notes_sum: balance.notes_sum,
                carried_over: difference,
            });
            let legacy_id = format!("zds:karma-balance:{}", balance.user_pk);
            kept.push(legacy_id.clone());
            rows.push(NoteRow {
                legacy_id,
                member_id: balance.member_id,
                author_id: None,
                note: "Balance carried over from Zeste de Savoir (notes deleted there).".into(),
                karma,
                created_at: as_of,
            });
        }
        write_notes(conn, &rows, report)
    })?;
    store::forget_stale(conn, "karma_notes", "zds:karma-balance:", &kept)?;
    Ok(())
}

pub(super) fn import_providers(
    conn: &mut PgConnection,
    providers: &[Provider],
    now: DateTime<Utc>,
    report: &mut Report,
) -> Result<(), AppError> {
    let mut domains = Vec::new();
    for provider in providers {
        match model::provider_domain(&provider.provider) {
            Some(domain) => domains.push((domain, provider.at.unwrap_or(now))),
            None => report.counts(model::PROVIDER).skip("not a domain"),
        }
    }
    domains.sort();
    domains.dedup_by(|a, b| a.0 == b.0);
    let added = store::add_domains(conn, &domains)?;
    let counts = report.counts(model::PROVIDER);
    counts.imported = added.len() as u64;
    counts.unchanged = domains.len() as u64 - counts.imported;
    Ok(())
}

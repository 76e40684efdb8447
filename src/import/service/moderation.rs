//! The import's moderation history: sanctions rebuilt from `Ban` rows and
//! the profiles' standing, karma notes and their balances, banned providers.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use diesel::PgConnection;

use super::{Dump, legacy};
use crate::error::AppError;
use crate::import::history::{self, EndedBy, Label, Rebuilt, Row};
use crate::import::model;
use crate::import::report::{CarriedStanding, KarmaBalance, Report, UnknownLabel};
use crate::import::store::{self, BATCH, NoteRow, SanctionRow};
use crate::sanctions::model::{Action, Ending, Entry, History, Restriction, Until};

pub(super) type Moderator<'a> = dyn Fn(Option<i64>, &mut Report) -> i64 + 'a;

pub(super) fn import_sanctions(
    conn: &mut PgConnection,
    dump: &Dump,
    members: &HashMap<i64, i64>,
    placeholder: i64,
    (as_of, now): (DateTime<Utc>, DateTime<Utc>),
    report: &mut Report,
    moderator: &Moderator,
) -> Result<(), AppError> {
    let mut by_user: BTreeMap<i64, Vec<Row>> = BTreeMap::new();
    for ban in &dump.bans {
        let Some(at) = ban.at else {
            report.counts(model::BAN).skip("no date");
            continue;
        };
        let Some(label) = history::parse_label(&ban.label) else {
            report.counts(model::BAN).skip("unknown label");
            report.conflicts.unknown_ban_labels.push(UnknownLabel {
                pk: ban.pk,
                user: ban.user,
                label: ban.label.clone(),
            });
            continue;
        };
        by_user.entry(ban.user).or_default().push(Row {
            ban: ban.clone(),
            label,
            at,
        });
    }
    let mut rows: Vec<SanctionRow> = Vec::new();
    let mut carried: Vec<String> = Vec::new();
    for user in &dump.users {
        let Some(&member_id) = members.get(&user.pk) else {
            continue;
        };
        let mut own = by_user.remove(&user.pk).unwrap_or_default();
        own.sort_by_key(|row| (row.at, row.ban.pk));
        let profile = dump.profiles.get(&user.pk);
        let mut rebuilt: Vec<Rebuilt> = Vec::new();
        for (restriction, flag) in [
            (
                Restriction::Ban,
                profile.map(|p| p.read).unwrap_or(model::Flag {
                    allowed: true,
                    end: None,
                }),
            ),
            (
                Restriction::ReadOnly,
                profile.map(|p| p.write).unwrap_or(model::Flag {
                    allowed: true,
                    end: None,
                }),
            ),
        ] {
            let of_kind: Vec<Row> = own
                .iter()
                .filter(|row| match row.label {
                    Label::Impose(r, _) | Label::Lift(r) => r == restriction,
                })
                .cloned()
                .collect();
            let before = rebuilt.len();
            rebuilt.extend(history::rebuild(restriction, &of_kind, flag, as_of));
            if rebuilt[before..].iter().any(|r| r.pk.is_none()) {
                report.conflicts.carried_standings.push(CarriedStanding {
                    user: user.pk,
                    kind: restriction.as_str(),
                });
            }
        }
        let history = History::new(
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
        );
        let slots = history.schedule();
        for (entry, slot) in history.entries().iter().zip(slots) {
            let Some(r) = usize::try_from(entry.id).ok().and_then(|i| rebuilt.get(i)) else {
                continue;
            };
            let legacy_id = match r.pk {
                Some(pk) => legacy("ban", pk),
                None => {
                    let id = format!("zds:standing:{}:{}", user.pk, r.action.as_str());
                    carried.push(id.clone());
                    id
                }
            };
            let ends_at = match slot.ends_at {
                Until::At(at) => Some(at),
                Until::Never => None,
            };
            let running =
                r.ending.is_none() && matches!(r.action, Action::Impose(_)) && ends_at.is_none_or(|e| e > now);
            let (ended_kind, ended_at, ended_by, end_reason) = match &r.ending {
                Some((kind, at, by, reason)) => (
                    Some(kind.as_str()),
                    Some(*at),
                    Some(match by {
                        EndedBy::Row(Some(pk)) => members.get(pk).copied().unwrap_or(placeholder),
                        EndedBy::Row(None) | EndedBy::Import => placeholder,
                    }),
                    Some(reason.clone()),
                ),
                None => (None, None, None, None),
            };
            rows.push(SanctionRow {
                legacy_id,
                member_id,
                kind: r.action.as_str(),
                reason: r.reason.clone(),
                duration_seconds: r.duration.map(|d| d.as_secs() as i64),
                // A standing carried over has no moderator to count as missing.
                moderator_id: match r.pk {
                    Some(_) => moderator(r.moderator, report),
                    None => placeholder,
                },
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
    for chunk in rows.chunks(BATCH) {
        let outcomes = store::upsert_sanctions(conn, chunk)?;
        for row in chunk {
            let outcome = outcomes.get(&row.legacy_id).copied();
            let model = if row.legacy_id.starts_with("zds:ban:") {
                model::BAN
            } else {
                "standing (from profiles)"
            };
            report.counts(model).wrote(outcome);
        }
    }
    let ids: Vec<i64> = members.values().copied().collect();
    store::forget_stale(conn, "sanctions", "zds:standing:", &ids, &carried)?;
    Ok(())
}

pub(super) fn import_notes(
    conn: &mut PgConnection,
    dump: &Dump,
    members: &HashMap<i64, i64>,
    as_of: DateTime<Utc>,
    report: &mut Report,
    moderator: &Moderator,
) -> Result<(), AppError> {
    let mut sums: HashMap<i64, i64> = HashMap::new();
    let mut rows = Vec::with_capacity(dump.notes.len());
    for note in &dump.notes {
        let (Some(&member_id), Ok(karma)) = (members.get(&note.user), i32::try_from(note.karma)) else {
            continue;
        };
        if !(-100..=100).contains(&karma) {
            report
                .counts(model::KARMA_NOTE)
                .skip("karma outside -100..100 (in the balance)");
            continue;
        }
        *sums.entry(note.user).or_default() += note.karma;
        rows.push(NoteRow {
            legacy_id: legacy("karmanote", note.pk),
            member_id,
            author_id: Some(moderator(note.moderator, report)),
            note: note.note.clone(),
            karma,
            created_at: note.at,
        });
    }
    let mut balances = Vec::new();
    for user in &dump.users {
        let (Some(profile), Some(&member_id)) = (dump.profiles.get(&user.pk), members.get(&user.pk)) else {
            continue;
        };
        let sum = sums.get(&user.pk).copied().unwrap_or(0);
        let difference = profile.karma - sum;
        let Ok(karma) = i32::try_from(difference) else { continue };
        if karma == 0 {
            continue;
        }
        report.conflicts.karma_balances.push(KarmaBalance {
            user: user.pk,
            profile_karma: profile.karma,
            notes_sum: sum,
            carried_over: difference,
        });
        let legacy_id = format!("zds:karma-balance:{}", user.pk);
        balances.push(legacy_id.clone());
        rows.push(NoteRow {
            legacy_id,
            member_id,
            author_id: None,
            note: "Balance carried over from Zeste de Savoir (notes deleted there).".into(),
            karma,
            created_at: as_of,
        });
    }
    for chunk in rows.chunks(BATCH) {
        let outcomes = store::upsert_notes(conn, chunk)?;
        for row in chunk {
            let model = if row.author_id.is_some() {
                model::KARMA_NOTE
            } else {
                "karma balance"
            };
            report.counts(model).wrote(outcomes.get(&row.legacy_id).copied());
        }
    }
    let ids: Vec<i64> = members.values().copied().collect();
    store::forget_stale(conn, "karma_notes", "zds:karma-balance:", &ids, &balances)?;
    Ok(())
}

pub(super) fn import_providers(
    conn: &mut PgConnection,
    dump: &Dump,
    now: DateTime<Utc>,
    report: &mut Report,
) -> Result<(), AppError> {
    let mut domains = Vec::new();
    for provider in &dump.providers {
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

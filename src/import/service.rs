//! `memberd import zds`: in one transaction, streams a dump into staging
//! tables, checks it whole, then writes it, so that a broken file or a
//! failure halfway leaves nothing behind (and a dry run is the same work,
//! rolled back).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::time::Instant;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use diesel::prelude::*;

use crate::audit::{self, AuditAction, AuditEntry};
use crate::error::AppError;
use crate::import::dump::{self, DumpError, Fields};
use crate::import::model::{self, Ban, Group, KarmaNote, Profile, Provider, Record, User};
use crate::import::report::{Renamed, Report};
use crate::import::staging::{self, StagedUser};
use crate::import::store::{self, BATCH};
use crate::members::model::Email;

pub struct Options {
    pub file: PathBuf,
    pub dry_run: bool,
    pub time_zone: Tz,
    /// Zeste de Savoir's group whose members are moderators.
    pub staff_group: String,
    /// Zeste de Savoir's group whose members are bots…
    pub bot_group: String,
    /// …and memberd's (`MEMBERD_BOT_GROUP`), which they join.
    pub memberd_bot_group: String,
    /// `MEMBERD_IP_RETENTION_DAYS`: addresses last seen before are not brought over.
    pub ip_retention: chrono::Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read {0}: {1}")]
    Open(PathBuf, std::io::Error),
    #[error("{0} (nothing was written)")]
    Dump(DumpError),
    #[error("the import failed and was rolled back: {0}")]
    Write(AppError),
}

/// What the transaction keeps in memory of the file: the groups and banned
/// providers (a few dozen and a few hundred), and its latest instant. The
/// rest is staged in PostgreSQL (`staging`).
#[derive(Default)]
struct Staged {
    groups: Vec<Group>,
    providers: Vec<Provider>,
    /// The latest instant the file records: when it was taken, as near as it tells.
    as_of: Option<DateTime<Utc>>,
}

impl Staged {
    fn saw(&mut self, at: Option<DateTime<Utc>>) {
        self.as_of = self.as_of.max(at);
    }
}

/// Records waiting to be staged, a batch of each model at most.
#[derive(Default)]
struct Pending {
    users: Vec<StagedUser>,
    profiles: Vec<Profile>,
    bans: Vec<Ban>,
    notes: Vec<KarmaNote>,
}

impl Pending {
    /// Stages the full batches, or with `all` whatever waits.
    fn flush(&mut self, conn: &mut PgConnection, all: bool) -> Result<(), AppError> {
        let due = |n: usize| n >= BATCH || (all && n > 0);
        if due(self.users.len()) {
            staging::stage_users(conn, &std::mem::take(&mut self.users))?;
        }
        if due(self.profiles.len()) {
            staging::stage_profiles(conn, &std::mem::take(&mut self.profiles))?;
        }
        if due(self.bans.len()) {
            staging::stage_bans(conn, &std::mem::take(&mut self.bans))?;
        }
        if due(self.notes.len()) {
            staging::stage_notes(conn, &std::mem::take(&mut self.notes))?;
        }
        Ok(())
    }
}

/// A user as staged: its address's key if memberd's syntax check takes it,
/// and whatever Django would not verify (`!…`, an unknown format, costs
/// beyond any Django setting) as unusable, never as a value memberd would
/// try to compute or read as its own.
fn staged_user(mut user: User, report: &mut Report) -> StagedUser {
    if !crate::auth::password::django::verifiable(&user.password) {
        report.conflicts.unusable_passwords += 1;
        if !user.password.starts_with('!') {
            user.password.insert(0, '!');
        }
    }
    StagedUser {
        email_key: Email::parse(&user.email).ok().map(|email| email.key()),
        user,
    }
}

/// Streams the file into the staging tables, then checks it whole: a
/// record held twice or naming a user or group the file does not hold
/// stops the import before anything is written.
fn stage(conn: &mut PgConnection, options: &Options, report: &mut Report) -> Result<Staged, Undone> {
    let file = std::fs::File::open(&options.file).map_err(|e| Undone::Open(options.file.clone(), e))?;
    staging::create(conn)?;
    let mut staged = Staged::default();
    let mut pending = Pending::default();
    let mut small: HashSet<(&'static str, i64)> = HashSet::new();
    let mut failure = None;
    let read = dump::read_records(file, |raw| {
        let model_name = raw.model.clone();
        let (pk, fields) = Fields::new(raw, options.time_zone)?;
        let duplicate = fields.error("the same record appears twice");
        let Some(record) = model::record(&model_name, pk, fields, &mut report.skipped_fields)? else {
            *report.skipped_models.entry(model_name).or_default() += 1;
            return Ok(());
        };
        let label = record.model();
        report.counts(label).read += 1;
        match record {
            Record::Group(group) => {
                if !small.insert((label, pk)) {
                    return Err(duplicate);
                }
                staged.groups.push(group);
            }
            Record::Provider(provider) => {
                if !small.insert((label, pk)) {
                    return Err(duplicate);
                }
                staged.saw(provider.at);
                staged.providers.push(provider);
            }
            Record::User(user) => {
                staged.saw(Some(user.date_joined));
                staged.saw(user.last_login);
                pending.users.push(staged_user(user, report));
            }
            Record::Profile(profile) => {
                staged.saw(profile.last_visit);
                pending.profiles.push(*profile);
            }
            Record::Ban(ban) => {
                staged.saw(ban.at);
                pending.bans.push(ban);
            }
            Record::KarmaNote(note) => {
                staged.saw(Some(note.at));
                pending.notes.push(note);
            }
        }
        pending.flush(conn, false).map_err(|error| {
            failure = Some(error);
            DumpError::Syntax("the staging failed".into())
        })
    });
    if let Some(error) = failure {
        return Err(Undone::Failed(error));
    }
    read?;
    pending.flush(conn, true)?;
    staging::prepare(conn)?;
    check(conn, &staged)?;
    Ok(staged)
}

fn check(conn: &mut PgConnection, staged: &Staged) -> Result<(), Undone> {
    let record = |model: &str, pk: i64, message: String| {
        Undone::Dump(DumpError::Record {
            model: model.into(),
            pk: pk.to_string(),
            message,
        })
    };
    if let Some((model, pk)) = staging::first_duplicate(conn)? {
        return Err(record(model, pk, "the same record appears twice".into()));
    }
    if let Some((pk, _)) = staging::second_profile(conn)? {
        return Err(record(model::PROFILE, pk, "its user has another profile".into()));
    }
    let groups: Vec<i64> = staged.groups.iter().map(|g| g.pk).collect();
    if let Some((pk, group)) = staging::first_unknown_group(conn, &groups)? {
        return Err(record(model::USER, pk, format!("its group {group} is not in the file")));
    }
    if let Some((model, pk, user)) = staging::first_unknown_user(conn)? {
        return Err(record(model, pk, format!("its user {user} is not in the file")));
    }
    Ok(())
}

/// Reads `options.file` and imports it; the report says what was (or, in
/// a dry run, would be) done.
pub fn run(conn: &mut PgConnection, options: &Options, now: DateTime<Utc>) -> Result<Report, ImportError> {
    let started = Instant::now();
    let mut report = Report {
        dry_run: options.dry_run,
        time_zone: options.time_zone.name().to_string(),
        ..Report::default()
    };
    let result = conn.transaction(|conn| {
        let staged = stage(conn, options, &mut report)?;
        report.read_seconds = started.elapsed().as_secs_f64();
        let as_of = staged.as_of.unwrap_or(now).min(now);
        write(conn, &staged, options, as_of, now, &mut report).map_err(Undone::Failed)?;
        if options.dry_run {
            // The same work, undone: the report is all a dry run leaves.
            return Err(Undone::DryRun);
        }
        Ok(())
    });
    match result {
        Ok(()) | Err(Undone::DryRun) => {}
        Err(Undone::Open(path, error)) => return Err(ImportError::Open(path, error)),
        Err(Undone::Dump(error)) => return Err(ImportError::Dump(error)),
        Err(Undone::Failed(error)) => return Err(ImportError::Write(error)),
    }
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// Why the transaction was rolled back.
enum Undone {
    DryRun,
    Open(PathBuf, std::io::Error),
    Dump(DumpError),
    Failed(AppError),
}

impl From<diesel::result::Error> for Undone {
    fn from(error: diesel::result::Error) -> Self {
        Self::Failed(error.into())
    }
}

impl From<AppError> for Undone {
    fn from(error: AppError) -> Self {
        Self::Failed(error)
    }
}

impl From<DumpError> for Undone {
    fn from(error: DumpError) -> Self {
        Self::Dump(error)
    }
}

fn legacy(model: &str, pk: i64) -> String {
    format!("zds:{model}:{pk}")
}

fn write(
    conn: &mut PgConnection,
    staged: &Staged,
    options: &Options,
    as_of: DateTime<Utc>,
    now: DateTime<Utc>,
    report: &mut Report,
) -> Result<(), AppError> {
    let placeholder = crate::members::store::placeholder_id(conn)?;
    let group_ids = import_groups(conn, &staged.groups, options, now, report)?;
    let staff_group = staged
        .groups
        .iter()
        .find(|g| g.name == options.staff_group)
        .map(|g| g.pk);
    members::import_members(conn, staff_group, now - options.ip_retention, report)?;
    report.conflicts.accounts.shared_addresses = store::shared_addresses(conn)?;
    store::set_memberships(conn, &group_ids)?;
    let cutoff = now - options.ip_retention;
    store::record_ips(conn, cutoff)?;
    report.conflicts.ips_past_retention = store::ips_past(conn, cutoff)?;

    moderation::import_sanctions(conn, placeholder, (as_of, now), report)?;
    moderation::import_notes(conn, placeholder, as_of, report)?;
    moderation::import_providers(conn, &staged.providers, now, report)?;

    let changed = report.models.values().any(|c| c.imported + c.updated > 0);
    if changed && !options.dry_run {
        let counts: BTreeMap<&str, (u64, u64)> = report
            .models
            .iter()
            .map(|(model, c)| (*model, (c.imported, c.updated)))
            .collect();
        audit::record(
            conn,
            AuditEntry {
                actor_id: placeholder,
                action: AuditAction::CommunityImported,
                target_member_id: None,
                target: Some("zds"),
                reason: None,
                ip: "",
                details: serde_json::json!({ "imported_and_updated": counts }),
            },
            now,
        )?;
    }
    Ok(())
}

/// Groups by name: Zeste de Savoir's bot group becomes memberd's; a name
/// memberd's rules refuse is made one it accepts, and reported.
fn import_groups(
    conn: &mut PgConnection,
    groups: &[Group],
    options: &Options,
    now: DateTime<Utc>,
    report: &mut Report,
) -> Result<HashMap<i64, i64>, AppError> {
    let mut names: HashMap<i64, String> = HashMap::new();
    for group in groups {
        let name = if group.name == options.bot_group {
            options.memberd_bot_group.clone()
        } else if crate::staff::model::parse_group_name(&group.name).is_ok() {
            group.name.clone()
        } else {
            let slug: String = group
                .name
                .to_lowercase()
                .chars()
                .map(|c| {
                    if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' {
                        c
                    } else {
                        '-'
                    }
                })
                .take(50)
                .collect();
            let slug = if slug.is_empty() {
                format!("group-{}", group.pk)
            } else {
                slug
            };
            report.conflicts.renamed_groups.push(Renamed {
                from: group.name.clone(),
                to: slug.clone(),
            });
            slug
        };
        names.insert(group.pk, name);
    }
    let unique: Vec<String> = names.values().cloned().collect::<HashSet<_>>().into_iter().collect();
    let (ids, created) = store::ensure_groups(conn, &unique, now)?;
    let counts = report.counts(model::GROUP);
    counts.imported = created.len() as u64;
    counts.unchanged = counts.read - counts.imported;
    Ok(names
        .into_iter()
        .filter_map(|(pk, name)| Some((pk, *ids.get(&name)?)))
        .collect())
}

mod members;
mod moderation;

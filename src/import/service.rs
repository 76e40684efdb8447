//! `memberd import zds`: reads a dump, checks it whole, then writes it in one
//! transaction, so that a broken file or a failure halfway leaves nothing
//! behind (and a dry run is the same work, rolled back).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::time::Instant;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use diesel::prelude::*;

use crate::audit::{self, AuditAction, AuditEntry};
use crate::error::AppError;
use crate::import::accounts::{self, Account, Identity, Taken};
use crate::import::dump::{self, DumpError, Fields};
use crate::import::model::{self, Ban, Group, KarmaNote, Profile, Provider, Record, User};
use crate::import::report::{Renamed, Report};
use crate::import::store::{self, BATCH, MemberRow};

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
    Dump(#[from] DumpError),
    #[error("the import failed and was rolled back: {0}")]
    Write(#[from] AppError),
}

/// Everything the file holds that the command reads.
#[derive(Default)]
struct Dump {
    groups: Vec<Group>,
    users: Vec<User>,
    profiles: HashMap<i64, Profile>,
    bans: Vec<Ban>,
    notes: Vec<KarmaNote>,
    providers: Vec<Provider>,
    /// The latest instant the file records: when it was taken, as near as it tells.
    as_of: Option<DateTime<Utc>>,
}

impl Dump {
    fn saw(&mut self, at: Option<DateTime<Utc>>) {
        self.as_of = self.as_of.max(at);
    }
}

fn read(options: &Options, report: &mut Report) -> Result<Dump, ImportError> {
    let file = std::fs::File::open(&options.file).map_err(|e| ImportError::Open(options.file.clone(), e))?;
    let mut dump = Dump::default();
    let mut seen: HashSet<(&'static str, i64)> = HashSet::new();
    dump::read_records(file, |raw| {
        let model_name = raw.model.clone();
        let (pk, fields) = Fields::new(raw, options.time_zone)?;
        let duplicate = fields.error("the same record appears twice");
        let Some(record) = model::record(&model_name, pk, fields, &mut report.skipped_fields)? else {
            *report.skipped_models.entry(model_name).or_default() += 1;
            return Ok(());
        };
        let label = match &record {
            Record::Group(_) => model::GROUP,
            Record::User(_) => model::USER,
            Record::Profile(_) => model::PROFILE,
            Record::Ban(_) => model::BAN,
            Record::KarmaNote(_) => model::KARMA_NOTE,
            Record::Provider(_) => model::PROVIDER,
        };
        if !seen.insert((label, pk)) {
            return Err(duplicate);
        }
        report.counts(label).read += 1;
        match record {
            Record::Group(group) => dump.groups.push(group),
            Record::User(user) => {
                dump.saw(Some(user.date_joined));
                dump.saw(user.last_login);
                dump.users.push(user);
            }
            Record::Profile(profile) => {
                dump.saw(profile.last_visit);
                if dump.profiles.insert(profile.user, *profile).is_some() {
                    return Err(DumpError::Record {
                        model: model::PROFILE.into(),
                        pk: pk.to_string(),
                        message: "its user has another profile".into(),
                    });
                }
            }
            Record::Ban(ban) => {
                dump.saw(ban.at);
                dump.bans.push(ban);
            }
            Record::KarmaNote(note) => {
                dump.saw(Some(note.at));
                dump.notes.push(note);
            }
            Record::Provider(provider) => {
                dump.saw(provider.at);
                dump.providers.push(provider);
            }
        }
        Ok(())
    })?;
    dump.users.sort_by_key(|u| u.pk);
    check_references(&dump)?;
    Ok(dump)
}

/// A record naming a user or group the file does not hold stops the import.
fn check_references(dump: &Dump) -> Result<(), DumpError> {
    let users: HashSet<i64> = dump.users.iter().map(|u| u.pk).collect();
    let groups: HashSet<i64> = dump.groups.iter().map(|g| g.pk).collect();
    let broken = |model: &str, pk: i64, what: &str, key: i64| DumpError::Record {
        model: model.into(),
        pk: pk.to_string(),
        message: format!("its {what} {key} is not in the file"),
    };
    for user in &dump.users {
        if let Some(group) = user.groups.iter().find(|g| !groups.contains(g)) {
            return Err(broken(model::USER, user.pk, "group", *group));
        }
    }
    for profile in dump.profiles.values() {
        if !users.contains(&profile.user) {
            return Err(broken(model::PROFILE, profile.pk, "user", profile.user));
        }
    }
    for ban in &dump.bans {
        if !users.contains(&ban.user) {
            return Err(broken(model::BAN, ban.pk, "user", ban.user));
        }
    }
    for note in &dump.notes {
        if !users.contains(&note.user) {
            return Err(broken(model::KARMA_NOTE, note.pk, "user", note.user));
        }
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
    let dump = read(options, &mut report)?;
    report.read_seconds = started.elapsed().as_secs_f64();
    let as_of = dump.as_of.unwrap_or(now).min(now);
    let result = conn.transaction(|conn| {
        write(conn, &dump, options, as_of, now, &mut report).map_err(Undone::Failed)?;
        if options.dry_run {
            // The same work, undone: the report is all a dry run leaves.
            return Err(Undone::DryRun);
        }
        Ok(())
    });
    match result {
        Ok(()) | Err(Undone::DryRun) => {}
        Err(Undone::Failed(error)) => return Err(error.into()),
    }
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// Why the transaction was rolled back.
enum Undone {
    DryRun,
    Failed(AppError),
}

impl From<diesel::result::Error> for Undone {
    fn from(error: diesel::result::Error) -> Self {
        Self::Failed(error.into())
    }
}

fn legacy(model: &str, pk: i64) -> String {
    format!("zds:{model}:{pk}")
}

const USER_PREFIX: &str = "zds:user:";

fn write(
    conn: &mut PgConnection,
    dump: &Dump,
    options: &Options,
    as_of: DateTime<Utc>,
    now: DateTime<Utc>,
    report: &mut Report,
) -> Result<(), AppError> {
    let placeholder = crate::members::store::placeholder_id(conn)?;
    let group_ids = import_groups(conn, dump, options, now, report)?;
    let members = import_members(conn, dump, options, now, report)?;

    let ids: Vec<i64> = members.values().copied().collect();
    let mut pairs = Vec::new();
    for user in &dump.users {
        let Some(&member) = members.get(&user.pk) else { continue };
        pairs.extend(
            user.groups
                .iter()
                .filter_map(|g| group_ids.get(g))
                .map(|g| (member, *g)),
        );
    }
    let all_groups: Vec<i64> = group_ids.values().copied().collect();
    store::set_memberships(conn, &ids, &all_groups, &pairs)?;

    let cutoff = now - options.ip_retention;
    let mut seen: Vec<(i64, String, DateTime<Utc>)> = Vec::new();
    for user in &dump.users {
        let (Some(profile), Some(&member)) = (dump.profiles.get(&user.pk), members.get(&user.pk)) else {
            continue;
        };
        let Some(ip) = profile.last_ip else { continue };
        let at = profile.last_visit.or(user.last_login).unwrap_or(user.date_joined);
        if at < cutoff {
            report.conflicts.ips_past_retention += 1;
        } else {
            seen.push((member, ip.to_string(), at));
        }
    }
    store::record_ips(conn, &seen)?;

    let moderator = |pk: Option<i64>, report: &mut Report| match pk.and_then(|pk| members.get(&pk)) {
        Some(id) => *id,
        None => {
            report.conflicts.placeholder_moderators += 1;
            placeholder
        }
    };
    moderation::import_sanctions(conn, dump, &members, placeholder, (as_of, now), report, &moderator)?;
    moderation::import_notes(conn, dump, &members, as_of, report, &moderator)?;
    moderation::import_providers(conn, dump, now, report)?;

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
    dump: &Dump,
    options: &Options,
    now: DateTime<Utc>,
    report: &mut Report,
) -> Result<HashMap<i64, i64>, AppError> {
    let mut names: HashMap<i64, String> = HashMap::new();
    for group in &dump.groups {
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

/// Members, by Django pk → memberd id.
fn import_members(
    conn: &mut PgConnection,
    dump: &Dump,
    options: &Options,
    now: DateTime<Utc>,
    report: &mut Report,
) -> Result<HashMap<i64, i64>, AppError> {
    let in_file: HashSet<String> = dump.users.iter().map(|u| legacy("user", u.pk)).collect();
    let mut taken = Taken::default();
    for held in store::held_names(conn)? {
        if held.legacy_id.is_some_and(|id| in_file.contains(&id)) {
            continue;
        }
        taken.skeletons.insert(held.username_skeleton, held.username);
        taken.email_keys.extend(held.email_key);
    }
    let default_profile = Profile {
        pk: 0,
        user: 0,
        last_ip: None,
        site: String::new(),
        show_email: false,
        avatar_url: String::new(),
        biography: String::new(),
        sign: String::new(),
        show_sign: true,
        hover_menus: true,
        email_for_new_mp: false,
        karma: 0,
        read: model::Flag {
            allowed: true,
            end: None,
        },
        write: model::Flag {
            allowed: true,
            end: None,
        },
        last_visit: None,
    };
    let profile_of = |user: &User| dump.profiles.get(&user.pk).unwrap_or(&default_profile);
    let accounts_in: Vec<Account> = dump
        .users
        .iter()
        .map(|user| Account {
            pk: user.pk,
            username: &user.username,
            email: &user.email,
            active_at: [user.last_login, profile_of(user).last_visit]
                .into_iter()
                .flatten()
                .max()
                .unwrap_or(user.date_joined)
                .max(user.date_joined),
        })
        .collect();
    let (identities, conflicts) = accounts::identities(&accounts_in, taken);
    report.conflicts.accounts = conflicts;

    let staff_group = dump.groups.iter().find(|g| g.name == options.staff_group).map(|g| g.pk);
    // Row by row, a batch at a time: the file's records are copied once more
    // for the statement, never all at once.
    let mut identities = identities.into_iter();
    for users in dump.users.chunks(BATCH) {
        let rows: Vec<MemberRow> = users
            .iter()
            .zip(identities.by_ref())
            .map(|(user, identity)| {
                let Identity {
                    username,
                    skeleton,
                    email,
                    email_key,
                } = identity;
                let profile = profile_of(user);
                // Whatever Django would not verify (`!…`, an unknown format, costs
                // beyond any Django setting) is stored as unusable, never as a
                // value memberd would try to compute, or read as its own.
                let password_hash = if crate::auth::password::django::verifiable(&user.password) {
                    user.password.clone()
                } else {
                    report.conflicts.unusable_passwords += 1;
                    match user.password.starts_with('!') {
                        true => user.password.clone(),
                        false => format!("!{}", user.password),
                    }
                };
                MemberRow {
                    legacy_id: legacy("user", user.pk),
                    username,
                    skeleton,
                    email,
                    email_key,
                    password_hash,
                    is_active: user.is_active,
                    is_staff: user.is_staff || staff_group.is_some_and(|g| user.groups.contains(&g)),
                    is_superuser: user.is_superuser,
                    date_joined: user.date_joined,
                    last_login_at: user.last_login,
                    last_visit_at: profile.last_visit,
                    // As memberd keeps it: with a last login within the retention period.
                    last_ip: profile
                        .last_ip
                        .filter(|_| user.last_login.is_some_and(|at| at >= now - options.ip_retention))
                        .map(|ip| ip.to_string()),
                    biography: profile.biography.clone(),
                    website: profile.site.clone(),
                    avatar_url: profile.avatar_url.clone(),
                    signature: profile.sign.clone(),
                    show_email: profile.show_email,
                    show_signature: profile.show_sign,
                    hover_menus: profile.hover_menus,
                    email_on_private_message: profile.email_for_new_mp,
                }
            })
            .collect();
        let outcomes = store::upsert_members(conn, &rows, "fr")?;
        for (row, user) in rows.iter().zip(users) {
            let outcome = outcomes.get(&row.legacy_id).copied();
            report.counts(model::USER).wrote(outcome);
            // A profile is part of its member's row: it counts as that row does.
            if dump.profiles.contains_key(&user.pk) {
                report.counts(model::PROFILE).wrote(outcome);
            }
        }
    }

    // The file's members only: one imported before and left out of this
    // file is not this import's to change, nor a moderator it knows.
    let mut ids = store::ids_by_legacy_id(conn, "members", USER_PREFIX)?;
    Ok(dump
        .users
        .iter()
        .filter_map(|user| Some((user.pk, ids.remove(&legacy("user", user.pk))?)))
        .collect())
}

mod moderation;

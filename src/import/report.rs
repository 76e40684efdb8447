//! What an import did, or would do: printed for the operator, and written as
//! JSON with `--report`.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use crate::import::accounts::AccountConflicts;

/// What became of the records of one kind.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Counts {
    pub read: u64,
    pub imported: u64,
    pub updated: u64,
    pub unchanged: u64,
    /// Reason → how many.
    pub skipped: BTreeMap<String, u64>,
}

impl Counts {
    pub fn skip(&mut self, reason: &str) {
        *self.skipped.entry(reason.to_string()).or_default() += 1;
    }

    /// Counts one write: inserted, updated, or left as it was.
    pub fn wrote(&mut self, outcome: Option<bool>) {
        match outcome {
            Some(true) => self.imported += 1,
            Some(false) => self.updated += 1,
            None => self.unchanged += 1,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct UnknownLabel {
    pub pk: i64,
    pub user: i64,
    pub label: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct KarmaBalance {
    pub user: i64,
    pub profile_karma: i64,
    pub notes_sum: i64,
    pub carried_over: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct CarriedStanding {
    pub user: i64,
    pub kind: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct Renamed {
    pub from: String,
    pub to: String,
}

#[derive(Debug, Default, Serialize)]
pub struct Conflicts {
    #[serde(flatten)]
    pub accounts: AccountConflicts,
    pub unknown_ban_labels: Vec<UnknownLabel>,
    pub karma_balances: Vec<KarmaBalance>,
    /// Profiles whose flags say a sanction runs that no `Ban` row explains.
    pub carried_standings: Vec<CarriedStanding>,
    /// Groups whose names memberd's rules refuse, and what they became.
    pub renamed_groups: Vec<Renamed>,
    /// Bans and karma notes whose moderator is null or not in the file,
    /// attributed to the placeholder member.
    pub placeholder_moderators: u64,
    /// Passwords in a form memberd cannot verify (the member uses a reset).
    pub unusable_passwords: u64,
    /// Last-seen addresses older than `MEMBERD_IP_RETENTION_DAYS`, not brought over.
    pub ips_past_retention: u64,
}

#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub dry_run: bool,
    pub time_zone: String,
    /// Per model: `auth.user`, `member.ban`, …
    pub models: BTreeMap<&'static str, Counts>,
    /// Records of models the command does not read, by model.
    pub skipped_models: BTreeMap<String, u64>,
    /// Fields memberd does not keep, by `model.field`: how many records had them.
    pub skipped_fields: BTreeMap<String, u64>,
    pub conflicts: Conflicts,
    /// Reading and checking the file.
    pub read_seconds: f64,
    /// In all.
    pub seconds: f64,
}

impl Report {
    pub fn counts(&mut self, model: &'static str) -> &mut Counts {
        self.models.entry(model).or_default()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let title = if self.dry_run {
            "Zeste de Savoir import (dry run: nothing was written)"
        } else {
            "Zeste de Savoir import"
        };
        writeln!(f, "{title}, naive times read in {}", self.time_zone)?;
        writeln!(
            f,
            "{:<28} {:>8} {:>9} {:>8} {:>10} {:>8}",
            "model", "read", "imported", "updated", "unchanged", "skipped"
        )?;
        for (model, counts) in &self.models {
            let skipped: u64 = counts.skipped.values().sum();
            writeln!(
                f,
                "{model:<28} {:>8} {:>9} {:>8} {:>10} {skipped:>8}",
                counts.read, counts.imported, counts.updated, counts.unchanged
            )?;
            for (reason, n) in &counts.skipped {
                writeln!(f, "    skipped: {n} {reason}")?;
            }
        }
        for (model, n) in &self.skipped_models {
            writeln!(f, "not read: {n} records of {model}")?;
        }
        if !self.skipped_fields.is_empty() {
            let fields: Vec<&str> = self.skipped_fields.keys().map(String::as_str).collect();
            writeln!(f, "fields not kept: {}", fields.join(", "))?;
        }
        let c = &self.conflicts;
        for r in &c.accounts.renamed {
            writeln!(
                f,
                "renamed: {:?} (pk {}) is {:?}: confusable with {:?}",
                r.username, r.pk, r.imported_as, r.confusable_with
            )?;
        }
        for g in &c.accounts.grandfathered {
            writeln!(f, "kept as it is: {:?} (pk {}): {}", g.username, g.pk, g.why.join(" "))?;
        }
        for s in &c.accounts.shared_addresses {
            writeln!(
                f,
                "shared address {}: kept by pk {} (most recently active); without an address: {:?}",
                s.email, s.kept_by, s.others
            )?;
        }
        for w in &c.accounts.without_address {
            writeln!(
                f,
                "no address: {:?} (pk {}, {:?}): {:?}",
                w.username, w.pk, w.email, w.why
            )?;
        }
        for u in &c.unknown_ban_labels {
            writeln!(
                f,
                "unknown ban label {:?} (ban {}, user {}): not imported",
                u.label, u.pk, u.user
            )?;
        }
        for k in &c.karma_balances {
            writeln!(
                f,
                "karma of user {}: profile {} but notes {}: balance {} carried over",
                k.user, k.profile_karma, k.notes_sum, k.carried_over
            )?;
        }
        for s in &c.carried_standings {
            writeln!(
                f,
                "user {}: {} carried over from the profile (no ban row explains it)",
                s.user, s.kind
            )?;
        }
        for g in &c.renamed_groups {
            writeln!(f, "group {:?} imported as {:?}", g.from, g.to)?;
        }
        writeln!(
            f,
            "moderators attributed to the placeholder: {}",
            c.placeholder_moderators
        )?;
        writeln!(
            f,
            "passwords that cannot be verified (reset needed): {}",
            c.unusable_passwords
        )?;
        writeln!(
            f,
            "addresses past the IP retention period, left out: {}",
            c.ips_past_retention
        )?;
        write!(
            f,
            "took {:.1} s ({:.1} s reading the file)",
            self.seconds, self.read_seconds
        )
    }
}

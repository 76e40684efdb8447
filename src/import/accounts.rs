//! Who each imported account becomes: its username (kept, even where
//! memberd's rules would refuse it today, unless it can be mistaken for
//! another member's) and its e-mail address (kept unless it is missing,
//! malformed, or another account has it). Plain rules, reported in full: no
//! account is dropped, and every change is listed.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::members::model::{Email, Username, confusable_key};

/// What the import needs to know of one account.
pub struct Account<'a> {
    pub pk: i64,
    pub username: &'a str,
    pub email: &'a str,
    /// Its last sign of life: last login, last visit or joining.
    pub active_at: DateTime<Utc>,
}

/// Who an account becomes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub username: String,
    pub skeleton: String,
    /// Empty when the account has no usable address.
    pub email: String,
    pub email_key: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Renamed {
    pub pk: i64,
    pub username: String,
    pub imported_as: String,
    /// The member whose name it could be mistaken for.
    pub confusable_with: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Grandfathered {
    pub pk: i64,
    pub username: String,
    /// What memberd's rules say of it today.
    pub why: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NoAddress {
    /// The account has none (social login).
    Missing,
    /// memberd's syntax check refuses it.
    Invalid,
    /// A member already in memberd has it.
    TakenInMemberd,
    /// A more recently active account has it, in another case.
    SharedButForCase,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WithoutAddress {
    pub pk: i64,
    pub username: String,
    pub email: String,
    pub why: NoAddress,
}

/// Accounts whose addresses are equal but for case: who keeps it as their login.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SharedAddress {
    pub email: String,
    pub kept_by: i64,
    /// The others, imported without an address.
    pub others: Vec<i64>,
}

#[derive(Debug, Default, Serialize)]
pub struct AccountConflicts {
    pub renamed: Vec<Renamed>,
    pub grandfathered: Vec<Grandfathered>,
    pub shared_addresses: Vec<SharedAddress>,
    pub without_address: Vec<WithoutAddress>,
}

/// Names and addresses held by members the import does not bring: they win.
#[derive(Debug, Default)]
pub struct Taken {
    /// Confusable key → username.
    pub skeletons: HashMap<String, String>,
    pub email_keys: HashSet<String>,
}

/// Decides every account's identity, in the order given (Django's pk order:
/// the earlier account keeps a contested name).
pub fn identities(accounts: &[Account], mut taken: Taken) -> (Vec<Identity>, AccountConflicts) {
    let mut conflicts = AccountConflicts::default();

    // The most recently active account keeps an address others share but for case.
    let mut keeper: HashMap<String, (DateTime<Utc>, i64)> = HashMap::new();
    let mut sharers: HashMap<String, Vec<i64>> = HashMap::new();
    for account in accounts {
        if Email::parse(account.email).is_err() {
            continue;
        }
        let key = account.email.to_lowercase();
        sharers.entry(key.clone()).or_default().push(account.pk);
        let candidate = (account.active_at, -account.pk);
        keeper
            .entry(key)
            .and_modify(|best| {
                if candidate > (best.0, -best.1) {
                    *best = (account.active_at, account.pk);
                }
            })
            .or_insert((account.active_at, account.pk));
    }
    for (key, pks) in &sharers {
        if pks.len() > 1 && !taken.email_keys.contains(key) {
            let kept_by = keeper[key].1;
            conflicts.shared_addresses.push(SharedAddress {
                email: key.clone(),
                kept_by,
                others: pks.iter().copied().filter(|pk| *pk != kept_by).collect(),
            });
        }
    }
    conflicts.shared_addresses.sort_by(|a, b| a.email.cmp(&b.email));

    let identities = accounts
        .iter()
        .map(|account| {
            let mut username = account.username.to_string();
            let mut skeleton = confusable_key(&username);
            if let Some(holder) = taken.skeletons.get(&skeleton).cloned() {
                let mut n = 1;
                loop {
                    username = match n {
                        1 => format!("{}-{}", account.username, account.pk),
                        n => format!("{}-{}-{n}", account.username, account.pk),
                    };
                    skeleton = confusable_key(&username);
                    if !taken.skeletons.contains_key(&skeleton) {
                        break;
                    }
                    n += 1;
                }
                conflicts.renamed.push(Renamed {
                    pk: account.pk,
                    username: account.username.to_string(),
                    imported_as: username.clone(),
                    confusable_with: holder,
                });
            }
            if let Err(errors) = Username::parse(&username) {
                conflicts.grandfathered.push(Grandfathered {
                    pk: account.pk,
                    username: username.clone(),
                    why: errors.into_iter().map(|e| e.message).collect(),
                });
            }
            taken.skeletons.insert(skeleton.clone(), username.clone());

            let key = account.email.to_lowercase();
            let why = if account.email.is_empty() {
                Some(NoAddress::Missing)
            } else if Email::parse(account.email).is_err() {
                Some(NoAddress::Invalid)
            } else if taken.email_keys.contains(&key) {
                Some(NoAddress::TakenInMemberd)
            } else if keeper.get(&key).is_some_and(|(_, pk)| *pk != account.pk) {
                Some(NoAddress::SharedButForCase)
            } else {
                None
            };
            let (email, email_key) = match why {
                Some(why) => {
                    conflicts.without_address.push(WithoutAddress {
                        pk: account.pk,
                        username: username.clone(),
                        email: account.email.to_string(),
                        why,
                    });
                    (String::new(), None)
                }
                None => (account.email.to_string(), Some(key)),
            };
            Identity {
                username,
                skeleton,
                email,
                email_key,
            }
        })
        .collect();
    (identities, conflicts)
}

#[cfg(test)]
mod tests;

//! Who each imported account becomes: its username (kept, even where
//! memberd's rules would refuse it today, unless it can be mistaken for
//! another member's) and its e-mail address (kept unless it is missing,
//! malformed, or another account has it: the import's staging decides
//! which). Plain rules, reported in full: no account is dropped, and every
//! change is listed.

use std::collections::HashMap;

use serde::Serialize;

use crate::members::model::{Username, confusable_key};

/// What the import needs to know of one account.
pub struct Account<'a> {
    pub pk: i64,
    pub username: &'a str,
    /// `confusable_key(username)`, computed once.
    pub key: String,
    pub email: &'a str,
    /// Why it comes without its address, if it does.
    pub without_address: Option<NoAddress>,
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

/// Names held already, by confusable key: by members the import does not
/// bring, and by the accounts it decided before.
pub type Taken = HashMap<String, String>;

/// The confusable keys of the names `identities` would try instead of the
/// contested ones among `accounts`: those `taken` holds, and those another
/// of the accounts has first. Looked up before `identities` runs, so that
/// `taken` knows them.
pub fn contested_keys(accounts: &[Account], taken: &Taken) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    accounts
        .iter()
        .filter(|account| !seen.insert(account.key.as_str()) || taken.contains_key(&account.key))
        .flat_map(|account| (1..=SUFFIXES).map(|n| confusable_key(&suffixed(account.username, account.pk, n))))
        .collect()
}

/// Suffixed names tried before giving up on a contested one.
const SUFFIXES: u32 = 4;

fn suffixed(username: &str, pk: i64, n: u32) -> String {
    match n {
        0 => username.to_string(),
        1 => format!("{username}-{pk}"),
        n => format!("{username}-{pk}-{n}"),
    }
}

/// Decides the identities of accounts, in the order given (Django's pk
/// order: the earlier account keeps a contested name); `taken` gains the
/// names they take.
pub fn identities(accounts: &[Account], taken: &mut Taken, conflicts: &mut AccountConflicts) -> Vec<Identity> {
    accounts
        .iter()
        .map(|account| {
            let mut username = account.username.to_string();
            let mut skeleton = account.key.clone();
            if let Some(holder) = taken.get(&skeleton).cloned() {
                // The keys looked up beforehand hold the first few; past them,
                // a clash is left to the database's unique index to refuse.
                let mut n = 1;
                loop {
                    username = suffixed(account.username, account.pk, n);
                    skeleton = confusable_key(&username);
                    if !taken.contains_key(&skeleton) || n >= SUFFIXES {
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
            taken.insert(skeleton.clone(), username.clone());

            let (email, email_key) = match account.without_address {
                Some(why) => {
                    conflicts.without_address.push(WithoutAddress {
                        pk: account.pk,
                        username: username.clone(),
                        email: account.email.to_string(),
                        why,
                    });
                    (String::new(), None)
                }
                None => (account.email.to_string(), Some(account.email.to_lowercase())),
            };
            Identity {
                username,
                skeleton,
                email,
                email_key,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests;

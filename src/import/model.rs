//! Zeste de Savoir's records, as memberd reads them from a dump: the fields
//! it keeps, typed; the rest counted as skipped.

use std::collections::BTreeMap;
use std::net::IpAddr;

use chrono::{DateTime, Utc};

use crate::import::dump::{DumpError, Fields};

/// The models the command reads, by their Django label.
pub const GROUP: &str = "auth.group";
pub const USER: &str = "auth.user";
pub const PROFILE: &str = "member.profile";
pub const BAN: &str = "member.ban";
pub const KARMA_NOTE: &str = "member.karmanote";
pub const PROVIDER: &str = "member.bannedemailprovider";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub pk: i64,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub pk: i64,
    pub username: String,
    pub email: String,
    /// Django's encoded hash, kept as it is.
    pub password: String,
    pub is_active: bool,
    pub is_staff: bool,
    pub is_superuser: bool,
    pub date_joined: DateTime<Utc>,
    pub last_login: Option<DateTime<Utc>>,
    pub groups: Vec<i64>,
}

/// A restriction's flag and end, as the profile keeps them: the truth about now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Flag {
    /// `can_read` / `can_write`.
    pub allowed: bool,
    /// `end_ban_read` / `end_ban_write`.
    pub end: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    pub pk: i64,
    pub user: i64,
    pub last_ip: Option<IpAddr>,
    pub site: String,
    pub show_email: bool,
    pub avatar_url: String,
    pub biography: String,
    pub sign: String,
    pub show_sign: bool,
    pub hover_menus: bool,
    pub email_for_new_mp: bool,
    pub karma: i64,
    pub read: Flag,
    pub write: Flag,
    pub last_visit: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ban {
    pub pk: i64,
    pub user: i64,
    pub moderator: Option<i64>,
    pub label: String,
    pub note: String,
    pub at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KarmaNote {
    pub pk: i64,
    pub user: i64,
    pub moderator: Option<i64>,
    pub note: String,
    pub karma: i64,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provider {
    pub pk: i64,
    pub provider: String,
    pub at: Option<DateTime<Utc>>,
}

/// A record of a model the command reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    Group(Group),
    User(User),
    Profile(Box<Profile>),
    Ban(Ban),
    KarmaNote(KarmaNote),
    Provider(Provider),
}

impl Record {
    /// Its model's Django label.
    pub fn model(&self) -> &'static str {
        match self {
            Self::Group(_) => GROUP,
            Self::User(_) => USER,
            Self::Profile(_) => PROFILE,
            Self::Ban(_) => BAN,
            Self::KarmaNote(_) => KARMA_NOTE,
            Self::Provider(_) => PROVIDER,
        }
    }
}

/// Reads the record of `model`, or None for a model the command does not read.
pub fn record(
    model: &str,
    pk: i64,
    mut fields: Fields,
    skipped: &mut BTreeMap<String, u64>,
) -> Result<Option<Record>, DumpError> {
    let record = match model {
        GROUP => Record::Group(Group {
            pk,
            name: fields.text("name")?,
        }),
        USER => Record::User(User {
            pk,
            username: fields.text("username")?,
            email: fields.optional_text("email")?.unwrap_or_default(),
            password: fields.optional_text("password")?.unwrap_or_default(),
            is_active: fields.boolean("is_active")?,
            is_staff: fields.boolean_or("is_staff", false)?,
            is_superuser: fields.boolean_or("is_superuser", false)?,
            date_joined: fields.instant("date_joined")?,
            last_login: fields.optional_instant("last_login")?,
            groups: fields.keys("groups")?,
        }),
        PROFILE => {
            // A token for another site's account: a secret memberd never keeps.
            fields.discard("github_token", skipped);
            Record::Profile(Box::new(Profile {
                pk,
                user: fields.integer("user")?,
                // Social-login profiles hold 0.0.0.0: no address.
                last_ip: fields
                    .optional_text("last_ip_address")?
                    .and_then(|text| text.trim().parse::<IpAddr>().ok())
                    .filter(|ip| !ip.is_unspecified()),
                site: fields.optional_text("site")?.unwrap_or_default(),
                show_email: fields.boolean_or("show_email", false)?,
                avatar_url: fields.optional_text("avatar_url")?.unwrap_or_default(),
                biography: fields.optional_text("biography")?.unwrap_or_default(),
                sign: fields.optional_text("sign")?.unwrap_or_default(),
                show_sign: fields.boolean_or("show_sign", true)?,
                hover_menus: fields.boolean_or("is_hover_enabled", true)?,
                email_for_new_mp: fields.boolean_or("email_for_new_mp", false)?,
                karma: fields.integer("karma")?,
                read: Flag {
                    allowed: fields.boolean("can_read")?,
                    end: fields.optional_instant("end_ban_read")?,
                },
                write: Flag {
                    allowed: fields.boolean("can_write")?,
                    end: fields.optional_instant("end_ban_write")?,
                },
                last_visit: fields.optional_instant("last_visit")?,
            }))
        }
        BAN => Record::Ban(Ban {
            pk,
            user: fields.integer("user")?,
            moderator: fields.optional_key("moderator")?,
            label: fields.text("type")?,
            note: fields.optional_text("note")?.unwrap_or_default(),
            at: fields.optional_instant("pubdate")?,
        }),
        KARMA_NOTE => Record::KarmaNote(KarmaNote {
            pk,
            user: fields.integer("user")?,
            moderator: fields.optional_key("moderator")?,
            note: fields.text("note")?,
            karma: fields.integer("karma")?,
            at: fields.instant("pubdate")?,
        }),
        PROVIDER => {
            let provider = Provider {
                pk,
                provider: fields.text("provider")?,
                at: fields.optional_instant("date")?,
            };
            // Who added it is not kept: the list has no authors.
            fields.discard("moderator", skipped);
            Record::Provider(provider)
        }
        _ => return Ok(None),
    };
    fields.finish(skipped);
    Ok(Some(record))
}

/// A banned provider as a forbidden-domain entry: Zeste de Savoir refuses
/// an address containing `"@" + provider`, so `yopmail.` means "yopmail
/// under any top-level domain": memberd's `yopmail.*`. None when the entry
/// is no domain memberd can hold (it is reported).
pub fn provider_domain(provider: &str) -> Option<String> {
    let provider = provider.trim().trim_start_matches('@');
    let entry = match provider.strip_suffix('.') {
        Some(name) => format!("{name}.*"),
        None => provider.to_string(),
    };
    crate::staff::model::parse_domain(&entry).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn providers_ending_with_a_dot_mean_any_top_level_domain() {
        assert_eq!(provider_domain("yopmail."), Some("yopmail.*".into()));
        assert_eq!(provider_domain("Mailinator.com"), Some("mailinator.com".into()));
        assert_eq!(provider_domain("@spam4.me"), Some("spam4.me".into()));
        assert_eq!(provider_domain("not a domain"), None);
        assert_eq!(provider_domain(""), None);
    }
}

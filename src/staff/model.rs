//! Rules of staff-managed names: forbidden domains, group names, IP lookups.

use std::net::IpAddr;

use ipnet::{IpNet, Ipv6Net};

use crate::error::{DomainError, ErrorCode, FieldCode, FieldError, Kind};

/// A forbidden e-mail domain: a lower-case host name, matched with its
/// subdomains; or `name.*`, that name under any top-level domain and their
/// subdomains (`yopmail.*`: `yopmail.com`, `a.yopmail.fr`), as Zeste de
/// Savoir's entries ending with a dot mean. No other wildcard.
pub fn parse_domain(text: &str) -> Result<String, FieldError> {
    // Exactly the document's pattern (`DOMAIN` in routes): any case, one
    // trailing dot or `.*` at most, nothing around it.
    let (name, wildcard) = match text.strip_suffix(".*") {
        Some(name) => (name, true),
        None => (text.strip_suffix('.').unwrap_or(text), false),
    };
    let name = name.to_ascii_lowercase();
    let label_ok = |label: &str| {
        (1..=63).contains(&label.len())
            && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    let length = name.len() + if wildcard { 2 } else { 0 };
    if name.is_empty() || length > 253 || !name.split('.').all(label_ok) {
        return Err(FieldError::new(
            "domain",
            FieldCode::Invalid,
            "Give a domain such as example.com, or name.* for that name under any top-level domain.",
        ));
    }
    Ok(if wildcard { format!("{name}.*") } else { name })
}

/// A group name: 1–50 characters of a–z, 0–9, `_` and `-`.
pub fn parse_group_name(text: &str) -> Result<String, FieldError> {
    let name = text;
    let ok = (1..=50).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if ok {
        Ok(name.to_string())
    } else {
        Err(FieldError::new(
            "name",
            FieldCode::Invalid,
            "1–50 characters of a–z, 0–9, _ and -.",
        ))
    }
}

/// The network an IP lookup covers: the address itself for IPv4, its /64
/// for IPv6 (one customer's allocation, usually).
pub fn lookup_network(text: &str) -> Result<IpNet, FieldError> {
    match text.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => Ok(IpNet::from(IpAddr::V4(v4))),
        Ok(IpAddr::V6(v6)) => Ipv6Net::new(v6, 64)
            .map(|net| IpNet::V6(net.trunc()))
            .map_err(|_| FieldError::new("ip", FieldCode::Invalid, "Not an IP address.")),
        Err(_) => Err(FieldError::new("ip", FieldCode::Invalid, "Not an IP address.")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains() {
        assert_eq!(parse_domain("Mail.Example.COM."), Ok("mail.example.com".into()));
        assert_eq!(parse_domain("YopMail.*"), Ok("yopmail.*".into()));
        assert_eq!(parse_domain("mail.yopmail.*"), Ok("mail.yopmail.*".into()));
        for bad in [
            "",
            ".*",
            "*",
            "yopmail.*.",
            "yopmail..*",
            "yop*mail.com",
            &format!("{}.*", vec!["a".repeat(63); 4].join(".")),
            " example.com",
            "example.com..",
            "*.example.com",
            "exa mple.com",
            "-x.com",
            &format!("{}.com", "a".repeat(64)),
        ] {
            assert!(parse_domain(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn group_names() {
        assert_eq!(parse_group_name("bots"), Ok("bots".into()));
        assert!(
            parse_group_name("Bots").is_err()
                && parse_group_name("").is_err()
                && parse_group_name(&"g".repeat(51)).is_err()
        );
    }

    #[test]
    fn ipv6_lookups_cover_the_64() {
        assert_eq!(
            lookup_network("2001:db8:1:2:3:4:5:6").unwrap().to_string(),
            "2001:db8:1:2::/64"
        );
        assert_eq!(lookup_network("198.51.100.7").unwrap().to_string(), "198.51.100.7/32");
        assert!(lookup_network("198.51.100.300").is_err() && lookup_network("nope").is_err());
    }
}

/// Why a staff tool refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StaffError {
    #[error("Nobody changes their own roles.")]
    CannotChangeOwnRoles,
    #[error("There is a group {0} already.")]
    GroupExists(String),
    #[error("{0} is forbidden already.")]
    DomainExists(String),
    #[error("{0} is not on the list.")]
    DomainNotFound(String),
}

impl DomainError for StaffError {
    fn kind(&self) -> Kind {
        match self {
            Self::CannotChangeOwnRoles => Kind::Forbidden,
            Self::GroupExists(_) | Self::DomainExists(_) => Kind::Conflict,
            Self::DomainNotFound(_) => Kind::NotFound,
        }
    }

    fn code(&self) -> ErrorCode {
        match self {
            Self::CannotChangeOwnRoles => ErrorCode::CannotChangeOwnRoles,
            Self::GroupExists(_) => ErrorCode::GroupExists,
            Self::DomainExists(_) => ErrorCode::DomainExists,
            Self::DomainNotFound(_) => ErrorCode::DomainNotFound,
        }
    }
}

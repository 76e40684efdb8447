//! What kinds of events there are, as other services name them.

/// The kind of an event, as its `type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    MemberRegistered,
    MemberActivated,
    MemberUpdated,
    MemberUsernameChanged,
    MemberEmailChanged,
    MemberUnregistered,
    MemberRolesChanged,
    MemberSessionsRevoked,
    MemberFactorAdded,
    MemberFactorRemoved,
    SanctionApplied,
    SanctionForgiven,
    SanctionReverted,
    SanctionExpired,
    KarmaNoted,
    ReportCreated,
    ReportResolved,
    AppealCreated,
    AppealDecided,
}

impl EventType {
    pub const ALL: [EventType; 19] = [
        Self::MemberRegistered,
        Self::MemberActivated,
        Self::MemberUpdated,
        Self::MemberUsernameChanged,
        Self::MemberEmailChanged,
        Self::MemberUnregistered,
        Self::MemberRolesChanged,
        Self::MemberSessionsRevoked,
        Self::MemberFactorAdded,
        Self::MemberFactorRemoved,
        Self::SanctionApplied,
        Self::SanctionForgiven,
        Self::SanctionReverted,
        Self::SanctionExpired,
        Self::KarmaNoted,
        Self::ReportCreated,
        Self::ReportResolved,
        Self::AppealCreated,
        Self::AppealDecided,
    ];

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == text)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::MemberRegistered => "member.registered",
            Self::MemberActivated => "member.activated",
            Self::MemberUpdated => "member.updated",
            Self::MemberUsernameChanged => "member.username_changed",
            Self::MemberEmailChanged => "member.email_changed",
            Self::MemberUnregistered => "member.unregistered",
            Self::MemberRolesChanged => "member.roles_changed",
            Self::MemberSessionsRevoked => "member.sessions_revoked",
            Self::MemberFactorAdded => "member.factor_added",
            Self::MemberFactorRemoved => "member.factor_removed",
            Self::SanctionApplied => "sanction.applied",
            Self::SanctionForgiven => "sanction.forgiven",
            Self::SanctionReverted => "sanction.reverted",
            Self::SanctionExpired => "sanction.expired",
            Self::KarmaNoted => "karma.noted",
            Self::ReportCreated => "report.created",
            Self::ReportResolved => "report.resolved",
            Self::AppealCreated => "appeal.created",
            Self::AppealDecided => "appeal.decided",
        }
    }
}

/// A place in the feed: the transaction that wrote an event and the event's
/// id, the order in which readers take events. Written `txid-id`; a plain
/// id is a cursor from before events carried their transaction (txid 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Cursor {
    pub txid: i64,
    pub id: i64,
}

impl Cursor {
    pub fn parse(text: &str) -> Option<Self> {
        let number = |digits: &str| {
            (!digits.is_empty() && digits.len() <= 19 && digits.bytes().all(|b| b.is_ascii_digit()))
                .then(|| digits.parse::<i64>().ok())
                .flatten()
        };
        match text.split_once('-') {
            None if text.is_empty() => Some(Self::default()),
            None => Some(Self {
                txid: 0,
                id: number(text)?,
            }),
            Some((txid, id)) => Some(Self {
                txid: number(txid)?,
                id: number(id)?,
            }),
        }
    }

    /// What [`Cursor::parse`] accepts, for the OpenAPI document.
    pub const PATTERN: &str = r"^([0-9]{1,19}-)?[0-9]{0,19}$";
}

impl std::fmt::Display for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.txid, self.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_read_as_they_are_written_and_plain_ids_still_resume() {
        let cursor = Cursor { txid: 812, id: 40 };
        assert_eq!(Cursor::parse(&cursor.to_string()), Some(cursor));
        assert_eq!(Cursor::parse(""), Some(Cursor::default()));
        assert_eq!(Cursor::parse("17"), Some(Cursor { txid: 0, id: 17 }));
        assert!(Cursor { txid: 0, id: 99 } < Cursor { txid: 1, id: 1 });
        for bad in ["-", "1-", "-1", "a", "1-2-3", "1.2", "99999999999999999999", " 1"] {
            assert_eq!(Cursor::parse(bad), None, "{bad}");
        }
        let pattern = regex::Regex::new(Cursor::PATTERN).unwrap();
        for good in ["", "17", "812-40"] {
            assert!(pattern.is_match(good));
        }
    }
}

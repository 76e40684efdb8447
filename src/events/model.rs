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

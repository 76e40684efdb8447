//! The case file's rules, in plain Rust: what a report, a resolution, an
//! appeal and a decision carry; who may act on a report or an appeal, and
//! when; how fast a reporter may report.

use chrono::{DateTime, Utc};

use crate::duration::Duration;
use crate::error::{Answer, Answers, DomainError, ErrorCode, FieldCode, FieldError, Kind};
use crate::input::{is_blank, is_web_url};
use crate::sanctions::model::State;
use crate::sanctions::request::parse_resource;

/// What a report's text, a resolution's note and message, an appeal and a
/// decision's reason hold at most.
pub const TEXT_MAX_CHARS: usize = 2_000;
pub const EVIDENCE_URL_MAX_CHARS: usize = 2_000;

macro_rules! text_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &[$name] = &[$(Self::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }

            pub fn parse(text: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|value| value.as_str() == text)
            }
        }
    };
}

text_enum!(
    /// Why a member reports another.
    ReportReason {
        Spam = "spam",
        Harassment = "harassment",
        Impersonation = "impersonation",
        InappropriateProfile = "inappropriate_profile",
        Other = "other",
    }
);

text_enum!(
    /// Where a report stands. Open and claimed ones are the staff queue.
    ReportState {
        Open = "open",
        Claimed = "claimed",
        Resolved = "resolved",
        Dismissed = "dismissed",
    }
);

impl ReportState {
    pub fn is_closed(self) -> bool {
        matches!(self, Self::Resolved | Self::Dismissed)
    }
}

text_enum!(
    /// How staff close a report.
    Outcome {
        Actioned = "actioned",
        Dismissed = "dismissed",
    }
);

impl Outcome {
    pub fn state(self) -> ReportState {
        match self {
            Self::Actioned => ReportState::Resolved,
            Self::Dismissed => ReportState::Dismissed,
        }
    }
}

/// A required text of at most [`TEXT_MAX_CHARS`] as sent, not all white
/// space; kept trimmed.
pub fn parse_text(field: &str, text: &str) -> Result<String, FieldError> {
    if text.chars().count() > TEXT_MAX_CHARS {
        Err(FieldError::new(field, FieldCode::TooLong, "At most 2000 characters."))
    } else if is_blank(text) {
        Err(FieldError::new(field, FieldCode::Required, "Write something."))
    } else {
        Ok(text.trim().to_string())
    }
}

fn collect<T>(result: Result<T, FieldError>, errors: &mut Vec<FieldError>) -> Option<T> {
    result.map_err(|e| errors.push(e)).ok()
}

/// A member's report, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filing {
    pub reason: ReportReason,
    pub text: String,
    pub resource: Option<String>,
    pub evidence_url: Option<String>,
}

impl Filing {
    pub fn parse(
        reason: &str,
        text: &str,
        resource: Option<&str>,
        evidence_url: Option<&str>,
    ) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        let reason = ReportReason::parse(reason).ok_or_else(|| {
            FieldError::new(
                "reason",
                FieldCode::InvalidChoice,
                "reason is spam, harassment, impersonation, inappropriate_profile or other.",
            )
        });
        let reason = collect(reason, &mut errors);
        let text = collect(parse_text("text", text), &mut errors);
        let resource = collect(resource.map(|r| parse_resource("resource", r)).transpose(), &mut errors);
        let evidence_url = evidence_url.map(|url| {
            if url.chars().count() > EVIDENCE_URL_MAX_CHARS {
                Err(FieldError::new(
                    "evidence_url",
                    FieldCode::TooLong,
                    "At most 2000 characters.",
                ))
            } else if !is_web_url(url) {
                Err(FieldError::new(
                    "evidence_url",
                    FieldCode::InvalidUrl,
                    "An http(s) address with a host name.",
                ))
            } else {
                Ok(url.to_string())
            }
        });
        let evidence_url = collect(evidence_url.transpose(), &mut errors);
        match (reason, text, resource, evidence_url) {
            (Some(reason), Some(text), Some(resource), Some(evidence_url)) if errors.is_empty() => Ok(Self {
                reason,
                text,
                resource,
                evidence_url,
            }),
            _ => Err(errors),
        }
    }
}

/// How a member of staff closes a report, checked: `actioned` names the
/// sanction it led to, `dismissed` names none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolution {
    pub outcome: Outcome,
    /// For staff only.
    pub note: String,
    /// For the reporters; may be empty.
    pub message: String,
    pub sanction_id: Option<i64>,
}

impl Resolution {
    pub fn parse(
        outcome: &str,
        note: &str,
        message: Option<&str>,
        sanction_id: Option<i64>,
    ) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        let outcome = Outcome::parse(outcome)
            .ok_or_else(|| FieldError::new("outcome", FieldCode::InvalidChoice, "outcome is actioned or dismissed."));
        let outcome = collect(outcome, &mut errors);
        let note = collect(parse_text("note", note), &mut errors);
        let message = message.unwrap_or_default();
        if message.chars().count() > TEXT_MAX_CHARS {
            errors.push(FieldError::new(
                "message",
                FieldCode::TooLong,
                "At most 2000 characters.",
            ));
        }
        match (outcome, sanction_id) {
            (Some(Outcome::Actioned), None) => errors.push(FieldError::new(
                "sanction_id",
                FieldCode::Required,
                "Name the sanction the report led to.",
            )),
            (Some(Outcome::Dismissed), Some(_)) => errors.push(FieldError::new(
                "sanction_id",
                FieldCode::NotAllowed,
                "A dismissed report led to no sanction.",
            )),
            _ => {}
        }
        match (outcome, note) {
            (Some(outcome), Some(note)) if errors.is_empty() => Ok(Self {
                outcome,
                note,
                message: message.trim().to_string(),
                sanction_id,
            }),
            _ => Err(errors),
        }
    }
}

text_enum!(
    /// How staff answer an appeal.
    AppealOutcome {
        Upheld = "upheld",
        Forgiven = "forgiven",
        Reverted = "reverted",
        Reduced = "reduced",
    }
);

/// A decision on an appeal, checked: a reduction carries the new duration,
/// nothing else does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub outcome: AppealOutcome,
    /// Public: e-mailed to the member.
    pub reason: String,
    pub duration: Option<Duration>,
}

impl Decision {
    pub fn parse(outcome: &str, reason: &str, duration: Option<&str>) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        let outcome = AppealOutcome::parse(outcome).ok_or_else(|| {
            FieldError::new(
                "outcome",
                FieldCode::InvalidChoice,
                "outcome is upheld, forgiven, reverted or reduced.",
            )
        });
        let outcome = collect(outcome, &mut errors);
        let reason = collect(parse_text("reason", reason), &mut errors);
        let duration = match (outcome, duration) {
            (Some(AppealOutcome::Reduced), None) => {
                errors.push(FieldError::new(
                    "duration",
                    FieldCode::Required,
                    "Give the sanction's new duration.",
                ));
                None
            }
            (Some(AppealOutcome::Reduced), Some(text)) => Duration::parse(text)
                .map_err(|e| errors.push(FieldError::new("duration", FieldCode::Invalid, e.to_string())))
                .ok(),
            (_, Some(_)) => {
                errors.push(FieldError::new(
                    "duration",
                    FieldCode::NotAllowed,
                    "Only a reduction has a duration.",
                ));
                None
            }
            (_, None) => None,
        };
        match (outcome, reason) {
            (Some(outcome), Some(reason)) if errors.is_empty() => Ok(Self {
                outcome,
                reason,
                duration,
            }),
            _ => Err(errors),
        }
    }
}

/// How many reports a reporter may file in an hour: `base`, halved for every
/// three more of their reports dismissed than actioned, down to one, so that
/// a member whose reports staff keep dismissing cannot keep the queue busy.
pub fn reports_per_hour(base: u32, actioned: i32, dismissed: i32) -> i32 {
    let unfounded = dismissed.saturating_sub(actioned).max(0);
    let halvings = (unfounded / 3).min(31) as u32;
    let base = i32::try_from(base).unwrap_or(i32::MAX);
    (base >> halvings).max(1)
}

/// Whether `reporter` may report `target`.
pub fn may_report(reporter_id: i64, target_id: i64, target_is_bot: bool) -> Result<(), CaseError> {
    if reporter_id == target_id {
        Err(CaseError::ReportSelf)
    } else if target_is_bot {
        Err(CaseError::ReportBot)
    } else {
        Ok(())
    }
}

/// Who holds a report, as a claim or a resolution needs to know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hold {
    pub state: ReportState,
    pub assignee: Option<i64>,
}

impl Hold {
    /// Whether `caller` may take the report (or resolve it, which takes it):
    /// an open one, one they hold, or, for a superuser, one another holds.
    pub fn may_take(self, caller: i64, superuser: bool) -> Result<(), CaseError> {
        match (self.state, self.assignee) {
            (state, _) if state.is_closed() => Err(CaseError::ReportClosed),
            (_, Some(holder)) if holder != caller && !superuser => Err(CaseError::ReportClaimed),
            _ => Ok(()),
        }
    }

    /// Whether `caller` may release it: its holder, or a superuser.
    pub fn may_release(self, caller: i64, superuser: bool) -> Result<(), CaseError> {
        self.may_take(caller, superuser)
    }
}

/// Whether a sanction may be appealed at `now` by its member.
pub struct Appealable {
    pub created_at: DateTime<Utc>,
    pub is_lift: bool,
    pub state: State,
    pub appealed: bool,
}

impl Appealable {
    pub fn check(&self, now: DateTime<Utc>, window: Duration) -> Result<(), CaseError> {
        if self.is_lift {
            Err(CaseError::AppealOfLift)
        } else if self.appealed {
            Err(CaseError::AlreadyAppealed)
        } else if self.state == State::Reverted {
            Err(CaseError::SanctionReverted)
        } else if now >= self.created_at + window.to_chrono() {
            Err(CaseError::AppealWindowClosed)
        } else {
            Ok(())
        }
    }
}

/// Whether `decider` may decide an appeal of a sanction `moderator` gave:
/// a second pair of eyes, never the first.
pub fn may_decide(decider: i64, moderator: i64, decided: bool) -> Result<(), CaseError> {
    if decided {
        Err(CaseError::AppealDecided)
    } else if decider == moderator {
        Err(CaseError::OwnSanction)
    } else {
        Ok(())
    }
}

/// Why a report or an appeal cannot be filed or acted on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CaseError {
    #[error("No such report.")]
    ReportNotFound,
    #[error("Nobody reports themselves.")]
    ReportSelf,
    #[error("Bots are not reported.")]
    ReportBot,
    #[error("You have reported this already; staff will look at it.")]
    AlreadyReported,
    #[error("Another member of staff holds this report.")]
    ReportClaimed,
    #[error("This report is closed.")]
    ReportClosed,
    #[error("No such appeal.")]
    AppealNotFound,
    #[error("A lift is not appealed.")]
    AppealOfLift,
    #[error("This sanction was appealed already.")]
    AlreadyAppealed,
    #[error("This sanction was reverted: there is nothing to appeal.")]
    SanctionReverted,
    #[error("The time to appeal this sanction is over.")]
    AppealWindowClosed,
    #[error("This appeal was decided already.")]
    AppealDecided,
    #[error("The moderator who gave a sanction does not decide its appeal.")]
    OwnSanction,
}

impl DomainError for CaseError {
    fn kind(&self) -> Kind {
        match self {
            Self::ReportNotFound | Self::AppealNotFound => Kind::NotFound,
            Self::ReportSelf | Self::ReportBot => Kind::Unprocessable,
            Self::OwnSanction => Kind::Forbidden,
            Self::AlreadyReported
            | Self::ReportClaimed
            | Self::ReportClosed
            | Self::AppealOfLift
            | Self::AlreadyAppealed
            | Self::SanctionReverted
            | Self::AppealWindowClosed
            | Self::AppealDecided => Kind::Conflict,
        }
    }

    fn code(&self) -> ErrorCode {
        match self {
            Self::ReportNotFound => ErrorCode::ReportNotFound,
            Self::ReportSelf => ErrorCode::CannotReportSelf,
            Self::ReportBot => ErrorCode::CannotReportBot,
            Self::AlreadyReported => ErrorCode::AlreadyReported,
            Self::ReportClaimed => ErrorCode::ReportClaimed,
            Self::ReportClosed => ErrorCode::ReportClosed,
            Self::AppealNotFound => ErrorCode::AppealNotFound,
            Self::AppealOfLift => ErrorCode::SanctionIsALift,
            Self::AlreadyAppealed => ErrorCode::AlreadyAppealed,
            Self::SanctionReverted => ErrorCode::SanctionNotEndable,
            Self::AppealWindowClosed => ErrorCode::AppealWindowClosed,
            Self::AppealDecided => ErrorCode::AppealDecided,
            Self::OwnSanction => ErrorCode::CannotDecideOwnSanction,
        }
    }
}

/// The answers of filing an appeal, for the document.
pub struct AppealAnswers;

impl Answers for AppealAnswers {
    fn answers() -> Vec<Answer> {
        vec![
            Answer::noted(409, ErrorCode::SanctionIsALift, "A lift is not appealed."),
            Answer::new(409, ErrorCode::AlreadyAppealed),
            Answer::noted(409, ErrorCode::SanctionNotEndable, "The sanction was reverted."),
            Answer::new(409, ErrorCode::AppealWindowClosed),
        ]
    }
}

#[cfg(test)]
mod tests;

//! The e-mails of moderation: a sanction (with its appeal link), a report's
//! outcome to its reporters, an appeal's decision to its member. None carries
//! a private note, and none names who reported whom.

use chrono::{DateTime, Utc};

use crate::mail::OutgoingMail;
use crate::mail::templates::compose;
use crate::members::model::Locale;
use crate::sanctions::model::{Action, Restriction};

fn date(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// Who a moderation e-mail goes to.
pub struct Recipient<'a> {
    pub locale: Locale,
    pub to: &'a str,
    pub username: &'a str,
}

impl Recipient<'_> {
    fn greeting(&self) -> String {
        match self.locale {
            Locale::En => format!("Hello {},", self.username),
            Locale::Fr => format!("Bonjour {},", self.username),
        }
    }
}

/// A sanction as its member is told of it: the public reason and the end.
pub struct SanctionNews<'a> {
    pub action: Action,
    pub reason: &'a str,
    pub resource: Option<&'a str>,
    pub ends_at: Option<DateTime<Utc>>,
    /// Where to appeal it, until when; lifts have none.
    pub appeal: Option<(String, DateTime<Utc>)>,
}

/// Tells a member of a sanction or of its lifting, never the moderator's
/// private note; a sanction's mail carries its appeal link, which works
/// without a session (a banned member has none).
pub fn sanction(to: &Recipient, news: &SanctionNews, frontend: &str) -> OutgoingMail {
    let end = news.ends_at.map(date);
    let reason = news.reason;
    let (subject, mut lines) = match to.locale {
        Locale::En => {
            let scope = news.resource.map(|r| format!(" in {r}")).unwrap_or_default();
            match news.action {
                Action::Impose(restriction) => {
                    let what = match restriction {
                        Restriction::Ban => "banned",
                        Restriction::ReadOnly => "made read-only",
                    };
                    let until = end.map_or("This sanction has no end date.".to_string(), |e| {
                        format!("It lasts until {e}.")
                    });
                    (
                        format!("Your account was {what}"),
                        vec![
                            format!("A moderator has {what} your account{scope}. Reason: {reason}"),
                            until,
                        ],
                    )
                }
                Action::Lift(restriction) => {
                    let what = match restriction {
                        Restriction::Ban => "ban",
                        Restriction::ReadOnly => "read-only restriction",
                    };
                    (
                        format!("Your {what} was lifted"),
                        vec![format!(
                            "A moderator has lifted the {what} on your account{scope}. Reason: {reason}"
                        )],
                    )
                }
            }
        }
        Locale::Fr => {
            let scope = news.resource.map(|r| format!(" dans {r}")).unwrap_or_default();
            match news.action {
                Action::Impose(restriction) => {
                    let what = match restriction {
                        Restriction::Ban => "banni",
                        Restriction::ReadOnly => "mis en lecture seule",
                    };
                    let until = end.map_or("Cette sanction n'a pas de date de fin.".to_string(), |e| {
                        format!("Elle dure jusqu'au {e}.")
                    });
                    (
                        format!("Votre compte a été {what}"),
                        vec![
                            format!("Un modérateur a {what} votre compte{scope}. Motif : {reason}"),
                            until,
                        ],
                    )
                }
                Action::Lift(restriction) => {
                    let what = match restriction {
                        Restriction::Ban => "le bannissement",
                        Restriction::ReadOnly => "la mise en lecture seule",
                    };
                    (
                        "Votre sanction a été levée".to_string(),
                        vec![format!(
                            "Un modérateur a levé {what} de votre compte{scope}. Motif : {reason}"
                        )],
                    )
                }
            }
        }
    };
    let link = news.appeal.as_ref().map(|(link, until)| {
        let (label, line) = match to.locale {
            Locale::En => (
                "Appeal this sanction",
                format!("You may appeal this sanction once, until {}:", date(*until)),
            ),
            Locale::Fr => (
                "Contester cette sanction",
                format!(
                    "Vous pouvez contester cette sanction une fois, jusqu'au {} :",
                    date(*until)
                ),
            ),
        };
        lines.push(line);
        (label, link.as_str())
    });
    compose(
        to.to,
        subject,
        to.greeting(),
        &lines,
        link,
        frontend.trim_end_matches('/'),
    )
}

/// Tells a reporter how their report ended: the outcome and staff's message
/// to reporters, never the staff note nor who else reported.
pub fn report_outcome(to: &Recipient, actioned: bool, reported: &str, message: &str, frontend: &str) -> OutgoingMail {
    let (subject, mut lines) = match (to.locale, actioned) {
        (Locale::En, true) => (
            "Your report was acted on".to_string(),
            vec![format!(
                "Thank you for your report about {reported}: the moderators have acted on it."
            )],
        ),
        (Locale::En, false) => (
            "Your report was reviewed".to_string(),
            vec![format!(
                "Thank you for your report about {reported}: the moderators reviewed it and took no action."
            )],
        ),
        (Locale::Fr, true) => (
            "Votre signalement a été traité".to_string(),
            vec![format!(
                "Merci pour votre signalement concernant {reported} : les modérateurs ont agi."
            )],
        ),
        (Locale::Fr, false) => (
            "Votre signalement a été examiné".to_string(),
            vec![format!(
                "Merci pour votre signalement concernant {reported} : les modérateurs l'ont examiné et n'ont pas sanctionné."
            )],
        ),
    };
    if !message.is_empty() {
        lines.push(match to.locale {
            Locale::En => format!("Their message: {message}"),
            Locale::Fr => format!("Leur message : {message}"),
        });
    }
    compose(
        to.to,
        subject,
        to.greeting(),
        &lines,
        None,
        frontend.trim_end_matches('/'),
    )
}

/// What an appeal's decision did to its sanction, for the member's e-mail.
pub enum Decided {
    Upheld,
    Forgiven,
    Reverted,
    /// Reduced; the sanction now ends then (None: it waits behind a permanent one).
    Reduced(Option<DateTime<Utc>>),
}

/// Tells a member how their appeal was decided, and why.
pub fn appeal_decision(to: &Recipient, decided: &Decided, reason: &str, frontend: &str) -> OutgoingMail {
    let (subject, outcome) = match (to.locale, decided) {
        (Locale::En, Decided::Upheld) => ("Your appeal was declined", "The sanction stands.".to_string()),
        (Locale::En, Decided::Forgiven) => ("Your appeal was granted", "The sanction ends now.".to_string()),
        (Locale::En, Decided::Reverted) => (
            "Your appeal was granted",
            "The sanction is withdrawn, as if it had never been given.".to_string(),
        ),
        (Locale::En, Decided::Reduced(end)) => (
            "Your sanction was reduced",
            end.map_or("The sanction was shortened.".to_string(), |end| {
                format!("The sanction was shortened: it now ends {}.", date(end))
            }),
        ),
        (Locale::Fr, Decided::Upheld) => ("Votre recours a été rejeté", "La sanction est maintenue.".to_string()),
        (Locale::Fr, Decided::Forgiven) => (
            "Votre recours a été accepté",
            "La sanction prend fin maintenant.".to_string(),
        ),
        (Locale::Fr, Decided::Reverted) => (
            "Votre recours a été accepté",
            "La sanction est annulée, comme si elle n'avait jamais été donnée.".to_string(),
        ),
        (Locale::Fr, Decided::Reduced(end)) => (
            "Votre sanction a été réduite",
            end.map_or("La sanction a été raccourcie.".to_string(), |end| {
                format!("La sanction a été raccourcie : elle prend fin le {}.", date(end))
            }),
        ),
    };
    let why = match to.locale {
        Locale::En => format!("Reason: {reason}"),
        Locale::Fr => format!("Motif : {reason}"),
    };
    compose(
        to.to,
        subject.to_string(),
        to.greeting(),
        &[outcome, why],
        None,
        frontend.trim_end_matches('/'),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sanction_carries_its_appeal_link_and_a_lift_none() {
        let to = Recipient {
            locale: Locale::Fr,
            to: "a@example.com",
            username: "zoé",
        };
        let until = Utc::now();
        let news = SanctionNews {
            action: Action::Impose(Restriction::Ban),
            reason: "spam",
            resource: None,
            ends_at: None,
            appeal: Some(("http://front/appeal/T0K".into(), until)),
        };
        let mail = sanction(&to, &news, "http://front");
        assert!(mail.text.contains("http://front/appeal/T0K"), "{}", mail.text);
        assert!(mail.html.contains("href=\"http://front/appeal/T0K\""));
        let lift = SanctionNews {
            action: Action::Lift(Restriction::Ban),
            appeal: None,
            ..news
        };
        assert!(!sanction(&to, &lift, "http://front").text.contains("appeal"));
    }

    #[test]
    fn a_report_outcome_carries_the_message_in_each_language() {
        for locale in [Locale::En, Locale::Fr] {
            let to = Recipient {
                locale,
                to: "a@example.com",
                username: "ann",
            };
            let mail = report_outcome(&to, true, "bob", "Thanks, handled.", "http://front");
            assert!(mail.text.contains("bob") && mail.text.contains("Thanks, handled."));
            let quiet = report_outcome(&to, false, "bob", "", "http://front");
            assert_ne!(mail.subject, quiet.subject);
        }
    }
}

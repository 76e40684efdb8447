//! The e-mails memberd sends, in English and French, as text and HTML.

use crate::mail::OutgoingMail;
use crate::members::model::{Locale, Member};

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Breaks a paragraph into lines of at most 72 columns, at spaces, as plain
/// text e-mail is read. Words longer than a line (links) stand alone.
fn wrap(paragraph: &str) -> String {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in paragraph.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > 72 {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    lines.push(line);
    lines.join("\n")
}

/// Wraps paragraphs and one call-to-action link into both parts of a mail.
pub(super) fn compose(
    to: &str,
    subject: String,
    greeting: String,
    paragraphs: &[String],
    link: Option<(&str, &str)>,
    footer: &str,
) -> OutgoingMail {
    let mut text = format!("{greeting}\n\n");
    let mut html = format!(
        "<!DOCTYPE html>\n<html><body style=\"font-family: sans-serif; line-height: 1.5\">\n<p>{}</p>",
        escape(&greeting)
    );
    for paragraph in paragraphs {
        text.push_str(&wrap(paragraph));
        text.push_str("\n\n");
        html.push_str(&format!("\n<p>{}</p>", escape(paragraph)));
    }
    if let Some((label, url)) = link {
        text.push_str(&format!("{url}\n\n"));
        html.push_str(&format!("\n<p><a href=\"{}\">{}</a></p>", escape(url), escape(label)));
    }
    text.push_str(&format!("-- \n{}\n", wrap(footer)));
    html.push_str(&format!(
        "\n<p style=\"color: #666\">{}</p>\n</body></html>\n",
        escape(footer)
    ));
    OutgoingMail {
        to: to.into(),
        subject,
        text,
        html,
    }
}

pub fn registration(locale: Locale, to: &str, username: &str, link: &str, ttl: &str) -> OutgoingMail {
    match locale {
        Locale::En => compose(
            to,
            "Confirm your e-mail address".into(),
            format!("Hello {username},"),
            &[format!(
                "Welcome! To activate your account, open the link below within {ttl}. \
                 If you did not register, ignore this e-mail: nothing will happen."
            )],
            Some(("Activate my account", link)),
            "This e-mail was sent because someone registered with this address.",
        ),
        Locale::Fr => compose(
            to,
            "Confirmez votre adresse e-mail".into(),
            format!("Bonjour {username},"),
            &[format!(
                "Bienvenue ! Pour activer votre compte, ouvrez le lien ci-dessous dans les {ttl} à venir. \
                 Si vous ne vous êtes pas inscrit, ignorez ce message : rien ne se passera."
            )],
            Some(("Activer mon compte", link)),
            "Ce message a été envoyé car quelqu'un s'est inscrit avec cette adresse.",
        ),
    }
}

/// Sent instead of a validation e-mail when someone registers with an address
/// that already has an account, so the address cannot be probed.
pub fn already_registered(locale: Locale, to: &str, username: &str, reset_link: &str) -> OutgoingMail {
    match locale {
        Locale::En => compose(
            to,
            "Someone tried to register with your e-mail address".into(),
            format!("Hello {username},"),
            &[
                "Someone just tried to create an account with this e-mail address, which already \
                 belongs to your account. If it was you, you do not need a new account: log in as usual."
                    .into(),
                "If you forgot your password, you can choose a new one here:".into(),
            ],
            Some(("Reset my password", reset_link)),
            "If it was not you, you can ignore this e-mail; your account is unchanged.",
        ),
        Locale::Fr => compose(
            to,
            "Quelqu'un a tenté de s'inscrire avec votre adresse e-mail".into(),
            format!("Bonjour {username},"),
            &[
                "Quelqu'un vient d'essayer de créer un compte avec cette adresse e-mail, qui appartient \
                 déjà à votre compte. Si c'était vous, inutile de créer un compte : connectez-vous comme d'habitude."
                    .into(),
                "Si vous avez oublié votre mot de passe, vous pouvez en choisir un nouveau ici :".into(),
            ],
            Some(("Réinitialiser mon mot de passe", reset_link)),
            "Si ce n'était pas vous, ignorez ce message ; votre compte n'a pas changé.",
        ),
    }
}

pub fn password_reset(locale: Locale, to: &str, username: &str, link: &str, ttl: &str) -> OutgoingMail {
    match locale {
        Locale::En => compose(
            to,
            "Choose a new password".into(),
            format!("Hello {username},"),
            &[format!(
                "Someone asked to reset the password of your account. To choose a new one, open the link below \
                 within {ttl}. If it was not you, ignore this e-mail: your password is unchanged."
            )],
            Some(("Choose a new password", link)),
            "Choosing a new password logs you out everywhere.",
        ),
        Locale::Fr => compose(
            to,
            "Choisissez un nouveau mot de passe".into(),
            format!("Bonjour {username},"),
            &[format!(
                "Quelqu'un a demandé à réinitialiser le mot de passe de votre compte. Pour en choisir un nouveau, \
                 ouvrez le lien ci-dessous dans les {ttl} à venir. Si ce n'était pas vous, ignorez ce message : \
                 votre mot de passe n'a pas changé."
            )],
            Some(("Choisir un nouveau mot de passe", link)),
            "Choisir un nouveau mot de passe vous déconnecte partout.",
        ),
    }
}

/// Sent to the new address: using the link makes it the account's address.
pub fn email_change_confirmation(locale: Locale, to: &str, username: &str, link: &str, ttl: &str) -> OutgoingMail {
    match locale {
        Locale::En => compose(
            to,
            "Confirm your new e-mail address".into(),
            format!("Hello {username},"),
            &[format!(
                "To make this the e-mail address of your account, open the link below within {ttl}."
            )],
            Some(("Confirm this address", link)),
            "If you did not ask for this, ignore this e-mail: nothing changes.",
        ),
        Locale::Fr => compose(
            to,
            "Confirmez votre nouvelle adresse e-mail".into(),
            format!("Bonjour {username},"),
            &[format!(
                "Pour faire de cette adresse celle de votre compte, ouvrez le lien ci-dessous dans les {ttl} à venir."
            )],
            Some(("Confirmer cette adresse", link)),
            "Si vous n'avez rien demandé, ignorez ce message : rien ne change.",
        ),
    }
}

/// Sent to the current address when a change to another one is asked for.
pub fn email_change_notice(locale: Locale, to: &str, username: &str) -> OutgoingMail {
    match locale {
        Locale::En => compose(
            to,
            "A change of e-mail address was requested".into(),
            format!("Hello {username},"),
            &[
                "Someone logged in to your account asked to change its e-mail address. The change happens only \
               when the link sent to the new address is used; until then this address stays in use."
                    .into(),
            ],
            None,
            "If it was not you, change your password now.",
        ),
        Locale::Fr => compose(
            to,
            "Un changement d'adresse e-mail a été demandé".into(),
            format!("Bonjour {username},"),
            &[
                "Quelqu'un connecté à votre compte a demandé à changer son adresse e-mail. Le changement n'a lieu \
               que si le lien envoyé à la nouvelle adresse est utilisé ; d'ici là, cette adresse reste en usage."
                    .into(),
            ],
            None,
            "Si ce n'était pas vous, changez votre mot de passe dès maintenant.",
        ),
    }
}

/// How a password came to change, for the notice that says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordChanged {
    /// By the member, from a session.
    Changed,
    /// With a link e-mailed for a forgotten password.
    Reset,
}

/// Tells a member their password changed, so that a change they did not make
/// does not go unnoticed. It carries no token: the link opens the page where a
/// reset is asked for.
pub fn password_changed(member: &Member, how: PasswordChanged, reset_page: &str) -> OutgoingMail {
    let (to, username) = (&member.email, &member.username);
    match member.locale {
        Locale::En => compose(
            to,
            "Your password was changed".into(),
            format!("Hello {username},"),
            &[
                match how {
                    PasswordChanged::Changed => "The password of your account was just changed from a logged-in                                                  session. Your other sessions have ended."
                        .into(),
                    PasswordChanged::Reset => "The password of your account was just reset with a link sent to                                                this address. Every session of the account has ended."
                        .into(),
                },
                "If it was not you, choose a new password now:".into(),
            ],
            Some(("Reset my password", reset_page)),
            "You receive this e-mail whenever your password changes.",
        ),
        Locale::Fr => compose(
            to,
            "Votre mot de passe a été modifié".into(),
            format!("Bonjour {username},"),
            &[
                match how {
                    PasswordChanged::Changed => "Le mot de passe de votre compte vient d'être modifié depuis une                                                  session connectée. Vos autres sessions ont été fermées."
                        .into(),
                    PasswordChanged::Reset => "Le mot de passe de votre compte vient d'être réinitialisé avec un                                                lien envoyé à cette adresse. Toutes les sessions du compte ont été                                                fermées."
                        .into(),
                },
                "Si ce n'était pas vous, choisissez un nouveau mot de passe dès maintenant :".into(),
            ],
            Some(("Réinitialiser mon mot de passe", reset_page)),
            "Vous recevez ce message à chaque changement de votre mot de passe.",
        ),
    }
}

/// A change to a member's second factors, for the notice that tells them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FactorChange {
    /// The member added the factor of this name.
    Added(String),
    /// The member removed the factor of this name.
    Removed(String),
    /// The member logged in with a recovery code; this many are left.
    RecoveryCodeUsed(i64),
    /// A superuser removed every factor of the member (a lost device).
    Reset,
}

/// Tells a member their second factors changed, or that a recovery code was
/// used, so that a change they did not make does not go unnoticed.
pub fn factor_change(member: &Member, change: &FactorChange, reset_page: &str) -> OutgoingMail {
    let (to, username) = (&member.email, &member.username);
    match member.locale {
        Locale::En => {
            let (subject, what) = match change {
                FactorChange::Added(name) => (
                    "A second factor was added to your account",
                    format!("The second factor \u{201c}{name}\u{201d} was just added to your account; logging in now asks for it. Sessions that had not proved a second factor have ended."),
                ),
                FactorChange::Removed(name) => (
                    "A second factor was removed from your account",
                    format!("The second factor \u{201c}{name}\u{201d} was just removed from your account."),
                ),
                FactorChange::RecoveryCodeUsed(left) => (
                    "A recovery code was used to log in",
                    format!("Someone just logged in to your account with one of its recovery codes; {left} of them are left. Each works once: when few are left, make new ones from your account's security settings."),
                ),
                FactorChange::Reset => (
                    "The second factors of your account were reset",
                    "An administrator removed every second factor of your account, as asked when a device is lost, and ended all its sessions. Log in with your password and add a second factor again.".to_string(),
                ),
            };
            compose(
                to,
                subject.into(),
                format!("Hello {username},"),
                &[what, "If it was not you, choose a new password now:".into()],
                Some(("Reset my password", reset_page)),
                "You receive this e-mail whenever the second factors of your account change or are used to recover it.",
            )
        }
        Locale::Fr => {
            let (subject, what) = match change {
                FactorChange::Added(name) => (
                    "Un second facteur a été ajouté à votre compte",
                    format!("Le second facteur « {name} » vient d'être ajouté à votre compte ; il vous sera demandé à la connexion. Les sessions qui n'avaient pas prouvé de second facteur ont été fermées."),
                ),
                FactorChange::Removed(name) => (
                    "Un second facteur a été retiré de votre compte",
                    format!("Le second facteur « {name} » vient d'être retiré de votre compte."),
                ),
                FactorChange::RecoveryCodeUsed(left) => (
                    "Un code de secours a servi à se connecter",
                    format!("Quelqu'un vient de se connecter à votre compte avec l'un de ses codes de secours ; il en reste {left}. Chacun ne sert qu'une fois : quand il en reste peu, créez-en de nouveaux depuis les réglages de sécurité de votre compte."),
                ),
                FactorChange::Reset => (
                    "Les seconds facteurs de votre compte ont été réinitialisés",
                    "Un administrateur a retiré tous les seconds facteurs de votre compte, comme on le demande quand un appareil est perdu, et fermé toutes ses sessions. Connectez-vous avec votre mot de passe et ajoutez de nouveau un second facteur.".to_string(),
                ),
            };
            compose(
                to,
                subject.into(),
                format!("Bonjour {username},"),
                &[
                    what,
                    "Si ce n'était pas vous, choisissez un nouveau mot de passe dès maintenant :".into(),
                ],
                Some(("Réinitialiser mon mot de passe", reset_page)),
                "Vous recevez ce message à chaque changement des seconds facteurs de votre compte, ou quand ils servent à le récupérer.",
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_wrapped_but_links_stay_whole() {
        let link = format!("http://localhost:3000/activate/{}", "t".repeat(43));
        let mail = password_reset(Locale::Fr, "a@example.com", "zoé", &link, "1h");
        assert!(mail.text.lines().any(|line| line == link));
        assert!(
            mail.text
                .lines()
                .filter(|line| *line != link)
                .all(|line| line.chars().count() <= 72),
            "{}",
            mail.text
        );
    }

    #[test]
    fn both_languages_carry_the_link_and_escape_html() {
        for locale in [Locale::En, Locale::Fr] {
            let mail = registration(locale, "a@example.com", "<b>eve</b>", "http://front/activate/T0K", "1h");
            assert!(mail.text.contains("http://front/activate/T0K"));
            assert!(mail.html.contains("href=\"http://front/activate/T0K\""));
            assert!(mail.html.contains("&lt;b&gt;eve&lt;/b&gt;"));
            assert!(!mail.html.contains("<b>eve"));
        }
        assert_ne!(
            registration(Locale::En, "a@x.org", "u", "l", "1h").subject,
            registration(Locale::Fr, "a@x.org", "u", "l", "1h").subject
        );
    }
}

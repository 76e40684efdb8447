//! Typed settings read once from the environment at start-up. A bad value
//! stops the service with a message that names the variable.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

use ipnet::IpNet;
use url::Url;

use crate::duration::Duration;

/// A value that must never reach a log line.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    pub fn new(value: T) -> Self {
        Self(value)
    }
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StaffMfa {
    /// Staff and superuser actions need a session with a second factor (`aal` 2).
    Required,
    Optional,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: Secret<String>,
    /// A direct connection, for the listener and migrations, so that `database_url`
    /// may go through a pooler in transaction mode.
    pub listen_database_url: Secret<String>,
    pub bind: SocketAddr,
    pub public_url: Url,
    pub frontend_url: Url,
    /// Where a member's page is on the front end: `{frontend}`, `{id}` and
    /// `{username}` are replaced.
    pub profile_url_template: String,
    /// Where e-mailed links point: `{frontend}` and `{token}` are replaced.
    pub link_templates: LinkTemplates,
    pub smtp_url: Option<Secret<String>>,
    pub mail_dir: PathBuf,
    pub mail_from: lettre::message::Mailbox,
    pub jwt_key_file: Option<PathBuf>,
    pub trusted_proxies: Vec<IpNet>,
    pub bot_group: String,
    pub forbidden_email_domains_file: Option<PathBuf>,
    pub geoip_db: Option<PathBuf>,
    pub cors_origins: Vec<String>,
    pub log_format: LogFormat,
    pub token_ttl: Duration,
    /// How long after a sanction its member may appeal it.
    pub appeal_window: Duration,
    /// Reports a member may file in an hour, before dismissals slow them.
    pub reports_per_hour: u32,
    pub access_ttl: Duration,
    /// How long a session lives at most from its login, whatever its refreshes.
    pub session_max_age: Duration,
    pub ip_retention_days: u32,
    pub status_max_age: Duration,
    pub webhook_allow_private: bool,
    pub metrics_token: Option<Secret<String>>,
    /// Whether staff and superuser actions need a session that proved a second factor.
    pub staff_mfa: StaffMfa,
    /// WebAuthn's relying party: its id (a registrable domain) and the origin
    /// ceremonies must come from.
    pub webauthn_rp_id: String,
    pub webauthn_origin: Url,
}

/// The front-end pages that e-mailed links open; they, not this API, use
/// the token up, so that opening a link (or a mail scanner doing so) does not.
#[derive(Debug, Clone)]
pub struct LinkTemplates {
    pub activation: String,
    pub password_reset: String,
    pub email_change: String,
    pub appeal: String,
}

/// What an e-mailed link is for.
#[derive(Debug, Clone, Copy)]
pub enum Link {
    Activation,
    PasswordReset,
    EmailChange,
    Appeal,
}

#[derive(Debug, thiserror::Error)]
#[error("{variable}: {message}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub message: String,
}

impl Config {
    /// Reads the process environment (after `.env`, which main loads).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Builds the settings from any source of variables; unset and empty
    /// values both mean "use the default".
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let var = |name: &str| lookup(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        let parsed = |name: &'static str, default: &str| -> (String, &'static str) {
            (var(name).unwrap_or_else(|| default.to_string()), name)
        };
        let fail = |variable: &'static str, message: String| ConfigError { variable, message };

        let database = |name: &'static str, default: &str| -> Result<String, ConfigError> {
            let (url, name) = parsed(name, default);
            let db = Url::parse(&url).map_err(|e| fail(name, format!("not a URL: {e}")))?;
            if !matches!(db.scheme(), "postgres" | "postgresql") || db.path().trim_matches('/').is_empty() {
                return Err(fail(name, "expected postgres://user@host:port/database".into()));
            }
            Ok(url)
        };
        let database_url = database("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/memberd")?;
        let listen_database_url = database("MEMBERD_LISTEN_DATABASE_URL", &database_url)?;

        let (bind, name) = parsed("MEMBERD_BIND", "127.0.0.1:8080");
        let bind = bind
            .parse()
            .map_err(|_| fail(name, format!("`{bind}` is not an address like 127.0.0.1:8080")))?;

        let url = |name: &'static str, default: &str| -> Result<Url, ConfigError> {
            let (text, name) = parsed(name, default);
            let url = Url::parse(&text).map_err(|e| fail(name, format!("`{text}` is not a URL: {e}")))?;
            if !matches!(url.scheme(), "http" | "https") {
                return Err(fail(name, "expected an http:// or https:// URL".into()));
            }
            Ok(url)
        };
        let public_url = url("MEMBERD_PUBLIC_URL", "http://127.0.0.1:8080")?;
        let frontend_url = url("MEMBERD_FRONTEND_URL", "http://localhost:3000")?;

        let (profile_url_template, name) = parsed("MEMBERD_PROFILE_URL_TEMPLATE", "{frontend}/members/{username}");
        if !profile_url_template.contains("{username}") && !profile_url_template.contains("{id}") {
            return Err(fail(name, "the template must contain {username} or {id}".into()));
        }

        let link_template = |name: &'static str, default: &str| -> Result<String, ConfigError> {
            let (template, name) = parsed(name, default);
            if !template.contains("{token}") {
                return Err(fail(name, "the template must contain {token}".into()));
            }
            Ok(template)
        };
        let link_templates = LinkTemplates {
            activation: link_template("MEMBERD_ACTIVATION_URL_TEMPLATE", "{frontend}/activate/{token}")?,
            password_reset: link_template(
                "MEMBERD_PASSWORD_RESET_URL_TEMPLATE",
                "{frontend}/password-reset/{token}",
            )?,
            email_change: link_template("MEMBERD_EMAIL_CHANGE_URL_TEMPLATE", "{frontend}/email-change/{token}")?,
            appeal: link_template("MEMBERD_APPEAL_URL_TEMPLATE", "{frontend}/appeal/{token}")?,
        };

        let smtp_url = match var("MEMBERD_SMTP_URL") {
            None => None,
            Some(text) => {
                let name = "MEMBERD_SMTP_URL";
                let url = Url::parse(&text).map_err(|e| fail(name, format!("not a URL: {e}")))?;
                if !matches!(url.scheme(), "smtp" | "smtps") || url.host_str().is_none() {
                    return Err(fail(
                        name,
                        "expected smtp://host:port or smtps://user:pass@host:port".into(),
                    ));
                }
                Some(Secret::new(text))
            }
        };

        let (mail_dir, _) = parsed("MEMBERD_MAIL_DIR", "./mail");
        let (mail_from, name) = parsed("MEMBERD_MAIL_FROM", "memberd <noreply@localhost>");
        let mail_from = mail_from
            .parse()
            .map_err(|e| fail(name, format!("not a mailbox: {e}")))?;

        let trusted_proxies = match var("MEMBERD_TRUSTED_PROXIES") {
            None => Vec::new(),
            Some(text) => text
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| {
                    s.parse::<IpNet>()
                        .or_else(|_| s.parse::<std::net::IpAddr>().map(IpNet::from))
                        .map_err(|_| {
                            fail(
                                "MEMBERD_TRUSTED_PROXIES",
                                format!("`{s}` is not a CIDR like 10.0.0.0/8"),
                            )
                        })
                })
                .collect::<Result<_, _>>()?,
        };

        let (bot_group, _) = parsed("MEMBERD_BOT_GROUP", "bots");
        let cors_origins: Vec<String> = var("MEMBERD_CORS_ORIGINS")
            .map(|text| {
                text.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default();
        for origin in &cors_origins {
            Url::parse(origin).map_err(|_| fail("MEMBERD_CORS_ORIGINS", format!("`{origin}` is not an origin URL")))?;
        }

        let (log_format, name) = parsed("MEMBERD_LOG_FORMAT", "text");
        let log_format = match log_format.as_str() {
            "text" => LogFormat::Text,
            "json" => LogFormat::Json,
            other => {
                return Err(fail(name, format!("`{other}` is neither `text` nor `json`")));
            }
        };

        let duration = |name: &'static str, default: &str| -> Result<Duration, ConfigError> {
            let (text, name) = parsed(name, default);
            Duration::parse(&text).map_err(|e| fail(name, e.to_string()))
        };
        let token_ttl = duration("MEMBERD_TOKEN_TTL", "1h")?;
        let appeal_window = duration("MEMBERD_APPEAL_WINDOW", "30d")?;
        let (reports, name) = parsed("MEMBERD_REPORTS_PER_HOUR", "10");
        let reports_per_hour = reports
            .parse::<u32>()
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| fail(name, format!("`{reports}` is not a whole number of at least 1")))?;
        let access_ttl = duration("MEMBERD_ACCESS_TTL", "15m")?;
        let session_max_age = duration("MEMBERD_SESSION_MAX_AGE", "90d")?;
        let status_max_age = duration("MEMBERD_STATUS_MAX_AGE", "5s")?;

        let (days, name) = parsed("MEMBERD_IP_RETENTION_DAYS", "365");
        let ip_retention_days = days
            .parse::<u32>()
            .ok()
            .filter(|d| (1..=36_500).contains(d))
            .ok_or_else(|| fail(name, format!("`{days}` is not a number of days between 1 and 36500")))?;

        let (allow, name) = parsed("MEMBERD_WEBHOOK_ALLOW_PRIVATE", "false");
        let webhook_allow_private = match allow.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => true,
            "false" | "0" | "no" => false,
            other => return Err(fail(name, format!("`{other}` is not true or false"))),
        };

        let (staff_mfa, name) = parsed("MEMBERD_STAFF_MFA", "required");
        let staff_mfa = match staff_mfa.as_str() {
            "required" => StaffMfa::Required,
            "optional" => StaffMfa::Optional,
            other => return Err(fail(name, format!("`{other}` is neither `required` nor `optional`"))),
        };
        let webauthn_origin = match var("MEMBERD_WEBAUTHN_ORIGIN") {
            Some(_) => url("MEMBERD_WEBAUTHN_ORIGIN", "")?,
            None => frontend_url.clone(),
        };
        let webauthn_origin = Url::parse(&webauthn_origin.origin().ascii_serialization())
            .map_err(|_| fail("MEMBERD_WEBAUTHN_ORIGIN", "the URL has no origin".into()))?;
        let webauthn_rp_id = match var("MEMBERD_WEBAUTHN_RP_ID") {
            Some(id) => id,
            None => frontend_url
                .host_str()
                .map(str::to_string)
                .ok_or_else(|| fail("MEMBERD_FRONTEND_URL", "a URL with a host name".into()))?,
        };
        let rp_host = webauthn_origin.host_str().unwrap_or_default();
        // WebAuthn's rule: the origin's host is the relying party id or one of its subdomains.
        if !(rp_host == webauthn_rp_id || rp_host.ends_with(&format!(".{webauthn_rp_id}"))) {
            return Err(fail(
                "MEMBERD_WEBAUTHN_RP_ID",
                format!(
                    "`{webauthn_rp_id}` is neither the host of the WebAuthn origin `{rp_host}` nor a parent domain of it"
                ),
            ));
        }

        Ok(Config {
            database_url: Secret::new(database_url),
            listen_database_url: Secret::new(listen_database_url),
            bind,
            public_url,
            frontend_url,
            profile_url_template,
            link_templates,
            smtp_url,
            mail_dir: PathBuf::from(mail_dir),
            mail_from,
            jwt_key_file: var("MEMBERD_JWT_KEY_FILE").map(PathBuf::from),
            trusted_proxies,
            bot_group,
            forbidden_email_domains_file: var("MEMBERD_FORBIDDEN_EMAIL_DOMAINS_FILE").map(PathBuf::from),
            geoip_db: var("MEMBERD_GEOIP_DB").map(PathBuf::from),
            cors_origins,
            log_format,
            token_ttl,
            appeal_window,
            reports_per_hour,
            access_ttl,
            session_max_age,
            ip_retention_days,
            status_max_age,
            webhook_allow_private,
            metrics_token: var("MEMBERD_METRICS_TOKEN").map(Secret::new),
            staff_mfa,
            webauthn_rp_id,
            webauthn_origin,
        })
    }

    fn link_template(&self, link: Link) -> &str {
        match link {
            Link::Activation => &self.link_templates.activation,
            Link::PasswordReset => &self.link_templates.password_reset,
            Link::EmailChange => &self.link_templates.email_change,
            Link::Appeal => &self.link_templates.appeal,
        }
    }

    /// The e-mailed link of a token (tokens are URL-safe as they are).
    pub fn link(&self, link: Link, token: &str) -> String {
        self.link_template(link)
            .replace("{frontend}", self.frontend_url.as_str().trim_end_matches('/'))
            .replace("{token}", token)
    }

    /// The page a link of this kind opens, without its token (nor the query
    /// parameter that carries it): where a member asks for a new one.
    pub fn link_page(&self, link: Link) -> String {
        let template = self.link_template(link);
        let before = template.split("{token}").next().unwrap_or(template);
        let page = match before.strip_suffix('=') {
            Some(rest) => rest.rsplit_once(['?', '&']).map_or(rest, |(page, _)| page),
            None => before,
        };
        page.trim_end_matches('/')
            .replace("{frontend}", self.frontend_url.as_str().trim_end_matches('/'))
    }

    /// The front-end page of a member.
    pub fn profile_url(&self, id: i64, username: &str) -> String {
        let encoded: String = url::form_urlencoded::byte_serialize(username.as_bytes()).collect();
        self.profile_url_template
            .replace("{frontend}", self.frontend_url.as_str().trim_end_matches('/'))
            .replace("{id}", &id.to_string())
            .replace("{username}", &encoded.replace('+', "%20"))
    }

    /// The `iss` of access tokens: the public URL without a trailing slash.
    pub fn issuer(&self) -> String {
        self.public_url.as_str().trim_end_matches('/').to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn defaults_run_on_a_developer_machine() {
        let c = config(&[]).unwrap();
        assert_eq!(c.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(c.access_ttl.as_secs(), 900);
        assert_eq!(c.token_ttl.as_secs(), 3_600);
        assert_eq!(c.issuer(), "http://127.0.0.1:8080");
        assert!(c.smtp_url.is_none());
        assert!(c.trusted_proxies.is_empty());
    }

    #[test]
    fn a_bad_value_names_its_variable() {
        for (var, value) in [
            ("MEMBERD_BIND", "nowhere"),
            ("MEMBERD_ACCESS_TTL", "0s"),
            ("MEMBERD_SESSION_MAX_AGE", "forever"),
            ("MEMBERD_TOKEN_TTL", "soon"),
            ("MEMBERD_TRUSTED_PROXIES", "10.0.0.0/8,banana"),
            ("MEMBERD_LOG_FORMAT", "xml"),
            ("DATABASE_URL", "mysql://x/y"),
            ("MEMBERD_LISTEN_DATABASE_URL", "postgres://host-without-database"),
            ("MEMBERD_SMTP_URL", "http://mail"),
            ("MEMBERD_PUBLIC_URL", "ftp://x"),
            ("MEMBERD_IP_RETENTION_DAYS", "-3"),
            ("MEMBERD_WEBHOOK_ALLOW_PRIVATE", "maybe"),
            ("MEMBERD_ACTIVATION_URL_TEMPLATE", "https://x.example/activate"),
            ("MEMBERD_PASSWORD_RESET_URL_TEMPLATE", "{frontend}/reset"),
            ("MEMBERD_EMAIL_CHANGE_URL_TEMPLATE", "{frontend}"),
        ] {
            let err = config(&[(var, value)]).unwrap_err();
            assert_eq!(err.variable, var);
            assert!(err.to_string().starts_with(var));
        }
    }

    #[test]
    fn emailed_links_follow_their_templates() {
        let c = config(&[("MEMBERD_FRONTEND_URL", "https://forum.example/")]).unwrap();
        assert_eq!(c.link(Link::Activation, "T0K"), "https://forum.example/activate/T0K");
        assert_eq!(
            c.link(Link::EmailChange, "T0K"),
            "https://forum.example/email-change/T0K"
        );
        assert_eq!(c.link_page(Link::PasswordReset), "https://forum.example/password-reset");
        let c = config(&[(
            "MEMBERD_PASSWORD_RESET_URL_TEMPLATE",
            "https://accounts.example/#/reset?token={token}",
        )])
        .unwrap();
        assert_eq!(
            c.link(Link::PasswordReset, "T0K"),
            "https://accounts.example/#/reset?token=T0K"
        );
        assert_eq!(c.link_page(Link::PasswordReset), "https://accounts.example/#/reset");
    }

    #[test]
    fn profile_urls_follow_the_template() {
        let c = config(&[("MEMBERD_FRONTEND_URL", "https://forum.example/")]).unwrap();
        assert_eq!(
            c.profile_url(7, "Zoé Lin"),
            "https://forum.example/members/Zo%C3%A9%20Lin"
        );
        let c = config(&[("MEMBERD_PROFILE_URL_TEMPLATE", "https://x.example/u/{id}")]).unwrap();
        assert_eq!(c.profile_url(7, "zoe"), "https://x.example/u/7");
        assert_eq!(
            config(&[("MEMBERD_PROFILE_URL_TEMPLATE", "/members")])
                .unwrap_err()
                .variable,
            "MEMBERD_PROFILE_URL_TEMPLATE"
        );
    }

    #[test]
    fn secrets_do_not_print() {
        let c = config(&[("DATABASE_URL", "postgres://u:hunter2@h/db")]).unwrap();
        assert!(!format!("{c:?}").contains("hunter2"));
    }

    #[test]
    fn trusted_proxies_accept_cidrs_and_addresses() {
        let c = config(&[("MEMBERD_TRUSTED_PROXIES", "10.0.0.0/8, 127.0.0.1 ,::1")]).unwrap();
        assert_eq!(c.trusted_proxies.len(), 3);
    }
}

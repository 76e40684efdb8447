//! Registration: rules, uniqueness, the new member, its token, its event and
//! its e-mail, in that order.

use crate::config::Link;
use crate::error::{AppError, ErrorCode, FieldCode, FieldError};
use crate::events::{self, EventType};
use crate::mail::{OutgoingMail, templates};
use crate::members::model::{Locale, Member, check_registration};
use crate::members::store::{self, NewMember};
use crate::rate_limit;
use crate::state::AppState;
use crate::tokens::service::issue_registration_token;

pub struct RegistrationInput {
    pub username: String,
    pub email: String,
    pub password: String,
    pub password_confirmation: String,
    pub locale: Locale,
    pub ip: std::net::IpAddr,
}

/// Registers a member. Whether the e-mail address was free or taken, the
/// caller sees the same success: a taken address gets a notice instead.
pub async fn register(state: &AppState, input: RegistrationInput) -> Result<(), AppError> {
    let now = state.clock.now();
    let check = check_registration(
        &input.username,
        &input.email,
        &input.password,
        &input.password_confirmation,
    );
    let (username, email) = (check.username.clone(), check.email.clone());
    let ip_key = state.ip_keys.key(input.ip);
    state.hasher.check_room(&ip_key)?;
    let ip = ip_key.clone();
    let mut errors = check.errors;
    errors.extend(
        state
            .db
            .transaction(move |conn| {
                rate_limit::enforce(conn, rate_limit::REGISTRATION_PER_IP, &ip, now)?;
                let mut errors = Vec::new();
                if let Some(username) = &username
                    && let Some(clash) = store::name_clash(conn, username, None)?
                {
                    errors.push(clash.into());
                }
                if let Some(email) = &email
                    && store::email_domain_forbidden(conn, email)?
                {
                    errors.push(FieldError::new(
                        "email",
                        FieldCode::ForbiddenDomain,
                        "Addresses of this domain are not accepted.",
                    ));
                }
                Ok(errors)
            })
            .await?,
    );
    let (Some(username), Some(email), true) = (check.username, check.email, errors.is_empty()) else {
        return Err(AppError::Validation(errors));
    };

    // Hashed whether or not the address is taken, so both take the same time.
    let password_hash = state.hasher.hash(&ip_key, input.password).await?;
    let config = state.config.clone();
    let locale = input.locale;
    let mail: Result<Option<OutgoingMail>, AppError> = state
        .db
        .transaction(move |conn| {
            if let Some(owner) = store::find_by_email(conn, &email)? {
                // Capped per address, silently, or registering with someone's
                // address from many IPs would flood their mailbox.
                if rate_limit::hit(conn, rate_limit::REGISTRATION_NOTICE_PER_ADDRESS, &email.key(), now)?.is_err() {
                    return Ok(None);
                }
                return Ok(Some(templates::already_registered(
                    owner.locale,
                    &owner.email,
                    &owner.username,
                    &config.link_page(Link::PasswordReset),
                )));
            }
            if let Some(clash) = store::name_clash(conn, &username, None)? {
                return Err(AppError::Validation(vec![clash.into()]));
            }
            let new = NewMember {
                username: &username,
                email: &email,
                password_hash: &password_hash,
                locale,
                superuser: false,
                now,
            };
            let member = store::insert(conn, &new)?;
            events::record(
                conn,
                EventType::MemberRegistered,
                member.id,
                events::member_data(member.id, &member.username),
                now,
            )?;
            issue_registration_token(conn, &config, &member, now).map(Some)
        })
        .await;
    match mail {
        Ok(Some(mail)) => state.mailer.send_later(mail),
        Ok(None) => {}
        // Lost a race with a simultaneous registration of the same address:
        // answer as for any taken address; that registration's mail is on its way.
        Err(error) if error.code() == ErrorCode::EmailTaken => {}
        Err(error) => return Err(error),
    }
    Ok(())
}

pub struct SuperuserInput {
    pub username: String,
    pub email: String,
    pub password: String,
}

/// Creates an active superuser, under the registration rules (the operator
/// types the password once, so it is its own confirmation).
pub async fn create_superuser(state: &AppState, input: SuperuserInput) -> Result<Member, AppError> {
    let check = check_registration(&input.username, &input.email, &input.password, &input.password);
    let (Some(username), Some(email), true) = (check.username, check.email, check.errors.is_empty()) else {
        return Err(AppError::Validation(check.errors));
    };
    let password_hash = state.hasher.hash("operator", input.password).await?;
    let now = state.clock.now();
    state
        .db
        .transaction(move |conn| {
            if let Some(clash) = store::name_clash(conn, &username, None)? {
                return Err(AppError::Validation(vec![clash.into()]));
            }
            if store::find_by_email(conn, &email)?.is_some() {
                return Err(AppError::validation(
                    "email",
                    FieldCode::Taken,
                    "A member already has this e-mail address.",
                ));
            }
            let new = NewMember {
                username: &username,
                email: &email,
                password_hash: &password_hash,
                locale: Locale::En,
                superuser: true,
                now,
            };
            let member = store::insert(conn, &new)?;
            let data = events::member_data(member.id, &member.username);
            events::record(conn, EventType::MemberRegistered, member.id, data.clone(), now)?;
            events::record(conn, EventType::MemberActivated, member.id, data, now)?;
            Ok(member)
        })
        .await
}

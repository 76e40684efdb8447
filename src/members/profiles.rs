//! What others see of members: public profiles and the directory.

use crate::error::AppError;
use crate::members::directory::{self, DirectoryQuery};
use crate::members::model::{Member, MemberError, MemberKey};
use crate::members::store;
use crate::state::AppState;

/// Who is looking, which decides what a profile shows.
#[derive(Debug, Clone, Copy, Default)]
pub struct Viewer {
    pub member_id: Option<i64>,
    pub is_staff: bool,
    /// A service client with `members:read`: sees whether members are active, and their roles.
    pub is_service: bool,
}

/// A member as one viewer may see them.
pub struct ProfileView {
    pub member: Member,
    pub is_bot: bool,
    /// Only for staff, and only with a GeoIP database.
    pub city: Option<String>,
    /// Only for staff: the sum of the member's karma notes.
    pub karma: Option<i64>,
    pub show_email: bool,
    pub show_signature: bool,
    /// Whether a service reads it: add is_active and roles.
    pub for_service: bool,
}

fn view(state: &AppState, member: Member, is_bot: bool, viewer: Viewer) -> ProfileView {
    let own = viewer.member_id == Some(member.id);
    let city = match (&state.geoip, &member.last_ip) {
        (Some(geoip), Some(ip)) if viewer.is_staff => geoip.city(ip),
        _ => None,
    };
    ProfileView {
        // Anonymous callers never see an address; members see it when its
        // owner shows it; staff and the owner always do.
        show_email: viewer.member_id.is_some() && (member.preferences.show_email || viewer.is_staff || own),
        show_signature: member.preferences.show_signature,
        for_service: viewer.is_service,
        city,
        karma: None,
        is_bot,
        member,
    }
}

pub async fn profile(state: &AppState, key: MemberKey, viewer: Viewer) -> Result<ProfileView, AppError> {
    let bot_group = state.config.bot_group.clone();
    let (member, is_bot, karma) = state
        .db
        .read(move |conn| {
            let member = store::find_by_key(conn, &key)?.ok_or(MemberError::NotFound)?;
            let is_bot = !store::bots_among(conn, &[member.id], &bot_group)?.is_empty();
            let karma = if viewer.is_staff {
                Some(crate::karma::store::total(conn, member.id)?)
            } else {
                None
            };
            Ok((member, is_bot, karma))
        })
        .await?;
    Ok(ProfileView {
        karma,
        ..view(state, member, is_bot, viewer)
    })
}

pub async fn directory(
    state: &AppState,
    query: DirectoryQuery,
    viewer: Viewer,
) -> Result<(Vec<ProfileView>, i64), AppError> {
    let bot_group = state.config.bot_group.clone();
    let now = state.clock.now();
    let (members, total) = state
        .db
        .read(move |conn| directory::directory(conn, &query, &bot_group, now))
        .await?;
    // The directory lists no bots, by definition.
    Ok((
        members.into_iter().map(|m| view(state, m, false, viewer)).collect(),
        total,
    ))
}

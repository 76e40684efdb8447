//! What others see of members: public profiles and the directory.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::auth::model::AuthError;
use crate::error::{AppError, DomainError, ErrorCode, Kind};
use crate::members::directory::{self, DirectoryQuery};
use crate::members::model::{DirectorySort, Member, MemberError, MemberKey, WalkCursor};
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
    let city = if viewer.is_staff {
        state.city_of(member.last_ip.as_deref())
    } else {
        None
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

/// A page of the directory, and how many members match (counted up to
/// [`directory::DEPTH`]; `capped` when more do).
pub struct DirectoryViews {
    pub views: Vec<ProfileView>,
    pub total: i64,
    pub capped: bool,
}

pub async fn directory(state: &AppState, query: DirectoryQuery, viewer: Viewer) -> Result<DirectoryViews, AppError> {
    let bot_group = state.config.bot_group.clone();
    let now = state.clock.now();
    let broad = &state.broad_searches;
    let prefix = query.prefix.clone();
    let known_capped = broad.known_capped(&prefix);
    let sort = query.sort;
    let kept = broad.order(&prefix, sort);
    let page = if known_capped || kept.is_some() {
        // A broad search: its pages are cut from the order kept.
        let order = match kept {
            Some(kept) => {
                if !kept.fresh && kept.claim() {
                    sort_again(state, prefix.clone(), sort, now);
                }
                kept.ids
            }
            None => {
                let (search, group) = (prefix.clone(), bot_group.clone());
                let order = state
                    .db
                    .read(move |conn| directory::first_ids(conn, search.as_deref(), sort, &group, now))
                    .await?;
                let order: Arc<[i64]> = Arc::from(order);
                broad.keep_order(prefix.clone(), sort, order.clone());
                order
            }
        };
        state
            .db
            .read(move |conn| directory::page_of_order(conn, &order, query.page, &bot_group, now))
            .await?
    } else {
        state
            .db
            .read(move |conn| directory::directory(conn, &query, &bot_group, now))
            .await?
    };
    if page.capped && !known_capped {
        broad.capped(prefix);
    }
    // The directory lists no bots, by definition.
    Ok(DirectoryViews {
        views: page
            .members
            .into_iter()
            .map(|m| view(state, m, false, viewer))
            .collect(),
        total: page.total,
        capped: page.capped,
    })
}

/// A step of the walk over every member.
pub struct WalkStep {
    pub views: Vec<ProfileView>,
    /// Where the next step starts; None at the end.
    pub next: Option<WalkCursor>,
}

/// Why a caller may not walk the members.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WalkDenied {
    #[error("Only services with members:read walk every member.")]
    NotAService,
}

impl DomainError for WalkDenied {
    fn kind(&self) -> Kind {
        Kind::Forbidden
    }

    fn code(&self) -> ErrorCode {
        ErrorCode::Forbidden
    }
}

/// Walks are for services with `members:read`: anonymous callers are asked
/// for credentials, members refused.
pub fn may_walk(viewer: Viewer) -> Result<(), AppError> {
    match (viewer.is_service, viewer.member_id) {
        (true, _) => Ok(()),
        (false, Some(_)) => Err(WalkDenied::NotAService.into()),
        (false, None) => Err(AuthError::MissingCredentials.into()),
    }
}

/// Sorts a broad search again in the background, while requests go on with
/// the order kept.
fn sort_again(state: &AppState, prefix: Option<String>, sort: DirectorySort, now: DateTime<Utc>) {
    let (db, broad) = (state.db.clone(), state.broad_searches.clone());
    let bot_group = state.config.bot_group.clone();
    tokio::spawn(async move {
        let search = prefix.clone();
        let sorted = db
            .read(move |conn| directory::first_ids(conn, search.as_deref(), sort, &bot_group, now))
            .await;
        match sorted {
            Ok(order) => broad.keep_order(prefix, sort, Arc::from(order)),
            Err(error) => tracing::warn!(%error, "a broad search was not sorted again"),
        }
    });
}

/// Up to `limit` members after the cursor, every member but the built-in
/// ones (inactive, banned and bots too), for a service that walks them all:
/// its view shows which are active, and their roles.
pub async fn walk(state: &AppState, after: WalkCursor, limit: i64, viewer: Viewer) -> Result<WalkStep, AppError> {
    may_walk(viewer)?;
    let bot_group = state.config.bot_group.clone();
    // One more than asked tells whether the walk goes on.
    let (mut members, bots) = state
        .db
        .read(move |conn| {
            let members = directory::walk(conn, after.0, limit + 1)?;
            let ids: Vec<i64> = members.iter().map(|m| m.id).collect();
            let bots = store::bots_among(conn, &ids, &bot_group)?;
            Ok((members, bots))
        })
        .await?;
    let more = members.len() > usize::try_from(limit).unwrap_or(usize::MAX);
    members.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    let next = more.then(|| members.last().map(|m| WalkCursor(m.id))).flatten();
    Ok(WalkStep {
        views: members
            .into_iter()
            .map(|m| {
                let is_bot = bots.contains(&m.id);
                view(state, m, is_bot, viewer)
            })
            .collect(),
        next,
    })
}

//! A member's own case file: where they stand, what they may appeal, what
//! came of their appeals and of the reports they filed. Never a private
//! note, never who reported them.

use chrono::{DateTime, Utc};

use crate::cases::service::appeals::{AppealView, appealable_until, views};
use crate::cases::service::reports::{FiledView, filed_page};
use crate::cases::store::appeals::{self, AppealRow};
use crate::error::AppError;
use crate::pagination::{Page, Paged};
use crate::sanctions::model::State;
use crate::sanctions::standing::{OpenStanding, StatusView, stored_state};
use crate::sanctions::store::{self as sanctions, SanctionRow};
use crate::state::AppState;

/// A running or waiting sanction, its appeal, and until when it may be appealed.
pub struct PendingSanction {
    pub row: SanctionRow,
    pub state: State,
    pub appeal: Option<AppealRow>,
    pub appealable_until: Option<DateTime<Utc>>,
}

pub struct StandingView {
    pub status: StatusView,
    pub sanctions: Vec<PendingSanction>,
    /// The newest appeals; the rest are paged at `/members/me/appeals`.
    pub appeals: Paged<AppealView>,
    /// The newest reports filed; the rest are paged at `/members/me/reports`.
    pub reports: Paged<FiledView>,
}

pub async fn of_member(state: &AppState, member_id: i64) -> Result<StandingView, AppError> {
    let now = state.clock.now();
    let window = state.config.appeal_window;
    let first = Page::first();
    state
        .db
        .run(move |conn| {
            let status = OpenStanding::load(conn, member_id, now)?.status(None, now);
            let mut pending = Vec::new();
            for row in sanctions::open_of_members(conn, &[member_id], now)? {
                let state = stored_state(&row, now)?;
                if matches!(state, State::Active | State::Queued) {
                    pending.push((row, state));
                }
            }
            pending.sort_by_key(|(row, state)| (*state != State::Active, row.created_at, row.id));
            let ids: Vec<i64> = pending.iter().map(|(row, _)| row.id).collect();
            let mut filed = appeals::of_sanctions(conn, &ids)?;
            let sanctions = pending
                .into_iter()
                .map(|(row, state)| {
                    let appeal = filed
                        .iter()
                        .position(|a| a.sanction_id == row.id)
                        .map(|at| filed.swap_remove(at));
                    PendingSanction {
                        appealable_until: appealable_until(&row, state, appeal.is_some(), window, now),
                        row,
                        state,
                        appeal,
                    }
                })
                .collect();
            let appeals = appeals::of_member(conn, member_id, first)?.try_map_items(|rows| views(conn, rows, now))?;
            let reports = filed_page(conn, member_id, first)?;
            Ok(StandingView {
                status,
                sanctions,
                appeals,
                reports,
            })
        })
        .await
}

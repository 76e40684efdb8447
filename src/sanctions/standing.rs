//! A member's standing: their sanctions and what the queue model derives
//! from them. `OpenStanding` is what the member cache keeps; `Standing` is the
//! whole history, read where a sanction is changed or shown.

use chrono::{DateTime, Utc};
use diesel::PgConnection;

use crate::error::{AppError, SanctionNotice};
use crate::sanctions::model::{Action, Entry, History, OpenQueue, Restriction, Slot, State, Status, Until};
use crate::sanctions::store::{self, SanctionRow};

/// A member's history and standing at one instant.
pub struct Standing {
    pub rows: Vec<SanctionRow>,
    pub history: History,
    pub slots: Vec<Slot>,
}

impl Standing {
    pub fn load(conn: &mut PgConnection, member_id: i64) -> Result<Self, AppError> {
        Self::of(store::of_member(conn, member_id)?)
    }

    /// The standing of a history read elsewhere, oldest first.
    pub fn of(rows: Vec<SanctionRow>) -> Result<Self, AppError> {
        let history = store::history_of(&rows)?;
        let slots = history.schedule();
        Ok(Self { rows, history, slots })
    }

    pub fn status(&self, resource: Option<&str>, at: DateTime<Utc>) -> Status {
        self.history.status_at(resource, at)
    }

    /// The slot `entry` would have if it joined this history now.
    pub fn slot_of_new(&self, entry: Entry) -> Option<Slot> {
        let id = entry.id;
        let mut entries = self.history.entries().to_vec();
        entries.push(entry);
        History::new(entries).schedule().into_iter().find(|slot| slot.id == id)
    }

    /// Adds a row just stored, and schedules the history again.
    pub fn push(&mut self, row: SanctionRow) -> Result<(), AppError> {
        self.rows.push(row);
        self.history = store::history_of(&self.rows)?;
        self.slots = self.history.schedule();
        Ok(())
    }

    /// Gives each row the slot the schedule derived, as `store_schedule`
    /// stored it: the rows then read as a fresh load would.
    pub fn adopt_schedule(&mut self) {
        let slots: std::collections::HashMap<i64, &Slot> = self.slots.iter().map(|s| (s.id, s)).collect();
        for row in &mut self.rows {
            if let Some(slot) = slots.get(&row.id) {
                row.starts_at = slot.starts_at;
                row.ends_at = until_to_option(slot.ends_at);
            }
        }
    }

    fn slot(&self, id: i64) -> Option<&Slot> {
        self.slots.iter().find(|s| s.id == id)
    }

    pub fn state(&self, id: i64, at: DateTime<Utc>) -> Option<State> {
        let entry = self.history.entries().iter().find(|e| e.id == id)?;
        Some(entry.state(self.slot(id)?, at))
    }
}

/// A sanction's state at `at`, from the slot the last change to its queue
/// stored: what status reads too, without the rest of the history.
pub fn stored_state(row: &SanctionRow, at: DateTime<Utc>) -> Result<State, AppError> {
    Ok(row.entry()?.state(&store::stored_slot(row), at))
}

/// What to tell a member refused for `restriction`: the public reason of the
/// newest running sanction of that kind, and when the queue ends.
fn notice(rows: &[SanctionRow], status: &Status, restriction: Restriction) -> Option<SanctionNotice> {
    let until = match restriction {
        Restriction::Ban => status.banned_until?,
        Restriction::ReadOnly => status.read_only_until?,
    };
    let reason = status
        .active
        .iter()
        .filter_map(|id| rows.iter().find(|r| r.id == *id))
        .filter(|row| row.kind == Action::Impose(restriction))
        .max_by_key(|row| (row.created_at, row.id))
        .map(|row| row.reason.clone())?;
    Some(SanctionNotice {
        reason,
        ends_at: until_to_option(until),
    })
}

/// A member's sanctions that had not ended when they were read, with the
/// slots stored by the last change to their queue: everything status needs
/// from that instant on, however long the member's past (plus those that
/// ended without their `sanction.expired` event, which change no status).
/// This is what the member cache keeps.
pub struct OpenStanding {
    rows: Vec<SanctionRow>,
    queue: OpenQueue,
}

impl OpenStanding {
    pub fn new(rows: Vec<SanctionRow>) -> Result<Self, AppError> {
        let scheduled = rows
            .iter()
            .map(|row| Ok((row.entry()?, store::stored_slot(row))))
            .collect::<Result<Vec<_>, AppError>>()?;
        Ok(Self {
            rows,
            queue: OpenQueue::new(scheduled),
        })
    }

    pub fn load(conn: &mut PgConnection, member_id: i64, now: DateTime<Utc>) -> Result<Self, AppError> {
        Self::new(store::open_of_members(conn, &[member_id], now)?)
    }

    pub fn status(&self, resource: Option<&str>, at: DateTime<Utc>) -> StatusView {
        let status = self.queue.status_at(resource, at);
        let active = status
            .active
            .iter()
            .filter_map(|id| self.rows.iter().find(|r| r.id == *id).cloned())
            .collect();
        StatusView { status, active }
    }

    /// Refuses a banned member.
    pub fn refuse_if_banned(&self, at: DateTime<Utc>) -> Result<(), AppError> {
        let status = self.queue.status_at(None, at);
        match notice(&self.rows, &status, Restriction::Ban) {
            Some(notice) => Err(AppError::Banned(notice)),
            None => Ok(()),
        }
    }

    /// The write guard: banned and read-only members may not change what
    /// others see or do.
    pub fn ensure_can_write(&self, at: DateTime<Utc>) -> Result<(), AppError> {
        let status = self.queue.status_at(None, at);
        if let Some(notice) = notice(&self.rows, &status, Restriction::Ban) {
            return Err(AppError::Banned(notice));
        }
        if let Some(notice) = notice(&self.rows, &status, Restriction::ReadOnly) {
            return Err(AppError::ReadOnly(notice));
        }
        Ok(())
    }

    /// Sanctions ended by `now` that still lack their `sanction.expired` event.
    pub fn due_expiries(&self, now: DateTime<Utc>) -> Vec<SanctionRow> {
        let due = due_expiries(&self.rows, now);
        self.rows.iter().filter(|r| due.contains(&r.id)).cloned().collect()
    }
}

pub fn until_to_option(until: Until) -> Option<DateTime<Utc>> {
    match until {
        Until::At(at) => Some(at),
        Until::Never => None,
    }
}

/// What a member may do where `resource` is asked about.
pub struct StatusView {
    pub status: Status,
    pub active: Vec<SanctionRow>,
}

/// Sanctions that ran and reached their natural end by `now` without their
/// `sanction.expired` event.
pub fn due_expiries(rows: &[SanctionRow], now: DateTime<Utc>) -> Vec<i64> {
    rows.iter()
        .filter(|r| !r.expiry_recorded && r.ended_kind.is_none() && matches!(r.kind, Action::Impose(_)))
        .filter(|r| r.starts_at.is_some() && r.ends_at.is_some_and(|end| end <= now))
        .map(|r| r.id)
        .collect()
}

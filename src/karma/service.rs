//! Writing and reading karma notes.

use crate::audit::{self, AuditAction, AuditEntry, Logged};
use crate::auth::policy::{Actor, check_rank, writer};
use crate::error::AppError;
use crate::events::{EventType, NewEvent};
use crate::karma::model::KarmaNote;
use crate::karma::store::{self, NoteRow};
use crate::members::model::MemberError;
use crate::members::model::MemberKey;
use crate::members::store as members;
use crate::pagination::{Page, Paged};
use crate::sanctions::store::usernames;
use crate::state::AppState;

pub struct NoteView {
    pub row: NoteRow,
    pub author_name: Option<String>,
}

/// Three round trips: the target (with whether it is a bot), the note, and
/// its event with its audit entry, which also returns what the transaction
/// changed; the author comes from memory, with the write guard.
pub async fn add(state: &AppState, actor: Actor, target: MemberKey, note: KarmaNote) -> Result<NoteView, AppError> {
    let author = writer(state, actor.member_id).await?;
    let now = state.clock.now();
    let bot_group = state.config.bot_group.clone();
    state
        .db
        .transaction_reporting_changes(move |conn| {
            let (target, is_bot) =
                members::find_by_key_with_bot(conn, &target, &bot_group)?.ok_or(MemberError::NotFound)?;
            check_rank(&author, &target, is_bot)?;
            let row = store::insert(conn, target.id, Some(author.id), &note, now)?;
            let data = serde_json::json!({
                "member": { "id": target.id, "username": target.username },
                "karma_note": { "id": row.id, "karma": row.karma },
            });
            let event = NewEvent {
                event_type: EventType::KarmaNoted,
                member_id: target.id,
                data,
            };
            let entry = AuditEntry {
                actor_id: author.id,
                action: AuditAction::KarmaNoted,
                target_member_id: Some(target.id),
                target: None,
                reason: Some(&note.note),
                ip: &actor.ip,
                details: serde_json::json!({ "karma_note_id": row.id, "karma": row.karma }),
            };
            let changed = audit::record_last_with_events(conn, &[Logged { entry, event, at: now }])?;
            let view = NoteView {
                row,
                author_name: Some(author.username),
            };
            Ok((view, changed))
        })
        .await
}

/// A page of a member's notes, and their karma (the sum of all notes).
pub async fn history(state: &AppState, target: MemberKey, page: Page) -> Result<(Paged<NoteView>, i64), AppError> {
    state
        .db
        .run(move |conn| {
            let target = members::find_by_key(conn, &target)?.ok_or(MemberError::NotFound)?;
            let notes = store::of_member(conn, target.id, page)?;
            let karma = store::total(conn, target.id)?;
            let authors: Vec<i64> = notes.items.iter().filter_map(|r| r.author_id).collect();
            let names = usernames(conn, &authors)?;
            let views = notes.map(|row| NoteView {
                author_name: row.author_id.and_then(|id| names.get(&id).cloned()),
                row,
            });
            Ok((views, karma))
        })
        .await
}

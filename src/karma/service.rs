//! Writing and reading karma notes.

use diesel::PgConnection;

use crate::audit::{self, AuditAction, AuditEntry, Logged};
use crate::auth::policy::{Actor, check_rank, writer};
use crate::db::batch::Written;
use crate::error::AppError;
use crate::events::{EventType, NewEvent};
use crate::karma::model::KarmaNote;
use crate::karma::store::{self, NewNote, NoteView};
use crate::karma::writer::Noting;
use crate::members::model::MemberError;
use crate::members::model::MemberKey;
use crate::members::store as members;
use crate::pagination::{Page, Paged};
use crate::sanctions::store::usernames;
use crate::state::AppState;

/// Adds a note through the karma writer, which stores it with whatever
/// others arrive at the same moment (`note`); the author comes from memory,
/// with the write guard.
pub async fn add(state: &AppState, actor: Actor, target: MemberKey, note: KarmaNote) -> Result<NoteView, AppError> {
    let author = writer(state, actor.member_id).await?;
    state
        .karma
        .submit(Noting {
            author,
            ip: actor.ip,
            target,
            note,
            now: state.clock.now(),
        })
        .await
}

/// Writes `jobs` in the caller's transaction, in three statements whatever
/// their number: the targets (with whether they are bots), the notes, and
/// their events with their audit entries, which also return what the
/// transaction changed. A job refused (no such member, a rank it may not
/// touch) writes nothing and gets its error; the others go on.
pub fn note(conn: &mut PgConnection, bot_group: &str, jobs: &[Noting]) -> Result<Written<NoteView>, AppError> {
    let keys: Vec<_> = jobs.iter().map(|job| job.target.clone()).collect();
    let found = members::many_by_keys_with_bot(conn, &keys, bot_group, false)?;
    let mut answers: Vec<Option<Result<NoteView, AppError>>> = jobs.iter().map(|_| None).collect();
    let mut accepted = Vec::new();
    for (i, job) in jobs.iter().enumerate() {
        let target = found.iter().find(|member| member.is_named_by(&job.target));
        let allowed = match target {
            None => Err(MemberError::NotFound.into()),
            Some(target) => check_rank(&job.author, &target.member, target.is_bot).map(|()| &target.member),
        };
        match allowed {
            Ok(target) => accepted.push((i, target)),
            Err(refusal) => answers[i] = Some(Err(refusal)),
        }
    }
    let new: Vec<NewNote> = accepted
        .iter()
        .map(|&(i, target)| NewNote {
            member_id: target.id,
            author_id: jobs[i].author.id,
            note: &jobs[i].note,
            now: jobs[i].now,
        })
        .collect();
    let rows = if new.is_empty() {
        Vec::new()
    } else {
        store::insert_many(conn, &new)?
    };
    let mut logged = Vec::with_capacity(rows.len());
    for (&(i, target), row) in accepted.iter().zip(rows) {
        let job = &jobs[i];
        logged.push(Logged {
            entry: AuditEntry {
                actor_id: job.author.id,
                action: AuditAction::KarmaNoted,
                target_member_id: Some(target.id),
                target: None,
                reason: Some(&job.note.note),
                ip: &job.ip,
                details: serde_json::json!({ "karma_note_id": row.id, "karma": row.karma }),
            },
            event: NewEvent {
                event_type: EventType::KarmaNoted,
                member_id: target.id,
                data: serde_json::json!({
                    "member": { "id": target.id, "username": target.username },
                    "karma_note": { "id": row.id, "karma": row.karma },
                }),
            },
            at: job.now,
        });
        answers[i] = Some(Ok(NoteView {
            row,
            author_name: Some(job.author.username.clone()),
        }));
    }
    let changed = audit::record_last_with_events(conn, &logged)?;
    Ok(Written::of(answers, changed))
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

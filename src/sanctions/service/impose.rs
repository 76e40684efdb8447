//! Applying sanctions, as many as the sanction writer hands over at once:
//! the members locked and their histories read in one query each, the
//! sanctions with their appeal links stored in one statement, their events
//! and audit entries in another.

use std::collections::HashMap;

use diesel::PgConnection;

use super::{AppealLink, event_data, record_expiries};
use crate::audit::{self, AuditAction, AuditEntry, Logged};
use crate::auth::model::Revocation;
use crate::auth::policy::check_rank;
use crate::auth::store as sessions;
use crate::config::{Config, Link};
use crate::db::batch::Written;
use crate::error::AppError;
use crate::events::{EventType, NewEvent};
use crate::mail::moderation::{self, Recipient, SanctionNews};
use crate::members::model::MemberError;
use crate::members::store::{self as members, KeyedMember};
use crate::sanctions::model::{Action, EndingKind};
use crate::sanctions::standing::{Standing, stored_state};
use crate::sanctions::store::{self, NewSanction};
use crate::sanctions::writer::{Imposed, Imposition};

/// Writes `jobs` in the caller's transaction. A job refused (no such member,
/// a rank it may not touch) writes nothing and gets its error; the others go
/// on. Two jobs about one member are applied one after the other, each on
/// the history the one before left: a batch is written in rounds, each
/// taking a member at most once.
pub fn impose(conn: &mut PgConnection, config: &Config, jobs: &[Imposition]) -> Result<Written<Imposed>, AppError> {
    let keys: Vec<_> = jobs.iter().map(|job| job.target.clone()).collect();
    let locked = members::many_by_keys_with_bot(conn, &keys, &config.bot_group, true)?;
    let targets: Vec<Option<&KeyedMember>> = jobs
        .iter()
        .map(|job| locked.iter().find(|member| member.is_named_by(&job.target)))
        .collect();
    let ids: Vec<i64> = locked.iter().map(|m| m.member.id).collect();
    let mut standings = HashMap::new();
    for (id, rows) in store::of_members(conn, &ids)? {
        standings.insert(id, Standing::of(rows)?);
    }
    // A lift has nothing to appeal.
    let links: Vec<Option<AppealLink>> = jobs
        .iter()
        .map(|job| match job.request.action {
            Action::Impose(_) => Some(AppealLink::issue(job.now + config.appeal_window.to_chrono())),
            Action::Lift(_) => None,
        })
        .collect();

    let mut answers: Vec<Option<Result<Imposed, AppError>>> = jobs.iter().map(|_| None).collect();
    let mut rounds: Vec<Vec<usize>> = Vec::new();
    let mut seen: HashMap<i64, usize> = HashMap::new();
    for (i, (job, target)) in jobs.iter().zip(&targets).enumerate() {
        let refusal = match target {
            None => Some(MemberError::NotFound.into()),
            Some(target) => check_rank(&job.moderator, &target.member, target.is_bot).err(),
        };
        match (refusal, target) {
            (Some(refusal), _) => answers[i] = Some(Err(refusal)),
            (None, Some(target)) => {
                let round = seen.entry(target.member.id).or_insert(0);
                if rounds.len() <= *round {
                    rounds.push(Vec::new());
                }
                rounds[*round].push(i);
                *round += 1;
            }
            (None, None) => {}
        }
    }

    let mut logged = Vec::new();
    for round in rounds {
        let mut new = Vec::with_capacity(round.len());
        for &i in &round {
            let (job, target) = (&jobs[i], targets[i].map(|t| &t.member).ok_or(MemberError::NotFound)?);
            let standing = standings
                .get_mut(&target.id)
                .ok_or_else(|| AppError::internal("a locked member without a history"))?;
            if let Action::Lift(restriction) = job.request.action {
                let lifted = standing
                    .history
                    .lifted_by(restriction, job.request.resource.as_deref(), job.now);
                store::end(
                    conn,
                    &lifted,
                    EndingKind::Lifted,
                    job.moderator.id,
                    &job.request.reason,
                    job.now,
                )?;
                *standing = Standing::load(conn, target.id)?;
            }
            let sanction = NewSanction {
                member_id: target.id,
                action: job.request.action,
                resource: job.request.resource.as_deref(),
                reason: &job.request.reason,
                private_note: &job.request.private_note,
                duration: job.request.duration,
                moderator_id: job.moderator.id,
                now: job.now,
                appeal: links[i].as_ref().map(AppealLink::stored),
            };
            let slot = standing
                .slot_of_new(sanction.entry())
                .ok_or_else(|| AppError::internal("no slot for a new sanction"))?;
            new.push((sanction, slot));
        }
        let rows = store::insert_many(conn, &new)?;
        for (&i, row) in round.iter().zip(rows) {
            let (job, target) = (&jobs[i], targets[i].map(|t| &t.member).ok_or(MemberError::NotFound)?);
            let standing = standings
                .get_mut(&target.id)
                .ok_or_else(|| AppError::internal("a locked member without a history"))?;
            let id = row.id;
            // Appended at the end of the history, it moves nothing else; if a
            // clock put it elsewhere, whatever moved is stored here.
            standing.push(row)?;
            store::store_schedule(conn, &standing.rows, &standing.slots)?;
            standing.adopt_schedule();
            record_expiries(conn, &standing.rows, job.now)?;
            if standing.status(None, job.now).banned_until.is_some() {
                // A ban takes effect at once: refresh tokens stop working and
                // access tokens are refused from this instant.
                sessions::revoke_member_sessions(conn, target.id, Revocation::Banned, job.now)?;
            }
            let row = standing
                .rows
                .iter()
                .find(|r| r.id == id)
                .cloned()
                .ok_or_else(|| AppError::internal("sanction vanished"))?;
            logged.push(Logged {
                entry: AuditEntry {
                    actor_id: job.moderator.id,
                    action: AuditAction::SanctionApplied,
                    target_member_id: Some(target.id),
                    target: None,
                    reason: Some(&job.request.reason),
                    ip: &job.ip,
                    details: serde_json::json!({ "sanction_id": id, "kind": row.kind.as_str(), "resource": row.resource }),
                },
                event: NewEvent {
                    event_type: EventType::SanctionApplied,
                    member_id: target.id,
                    data: event_data(&row, Some(&target.username)),
                },
                at: job.now,
            });
            let mail = moderation::sanction(
                &Recipient {
                    locale: target.locale,
                    to: &target.email,
                    username: &target.username,
                },
                &SanctionNews {
                    action: job.request.action,
                    reason: &row.reason,
                    resource: row.resource.as_deref(),
                    ends_at: row.ends_at,
                    appeal: links[i]
                        .as_ref()
                        .map(|link| (config.link(Link::Appeal, link.token.text()), link.until)),
                },
                config.frontend_url.as_ref(),
            );
            answers[i] = Some(Ok(Imposed {
                state: stored_state(&row, job.now)?,
                member_name: target.username.clone(),
                moderator_name: job.moderator.username.clone(),
                mail,
                row,
            }));
        }
    }
    let changed = audit::record_last_with_events(conn, &logged)?;
    Ok(Written::of(answers, changed))
}

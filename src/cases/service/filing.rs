//! Filing reports, as many as the report writer hands over at once: the
//! targets read in one query, then in each round the reporters' hits
//! counted in one statement and the reports filed in another.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::PgConnection;

use crate::cases::model::{CaseError, may_report, reports_per_hour};
use crate::cases::store::filing::{self as store, NewFiling};
use crate::cases::store::reports::{EntryView, ReportView};
use crate::cases::writer::Reporting;
use crate::db::batch::Written;
use crate::error::AppError;
use crate::events::{EventType, NewEvent};
use crate::members::model::{Member, MemberError};
use crate::members::store as members;
use crate::rate_limit::{self, Limit};

/// Where reporters' hits are counted.
const BUCKET: &str = "reports";

/// How many reports a member may file in an hour, before dismissals slow them.
fn report_limit(base: u32, tally: (i32, i32)) -> Limit {
    Limit {
        bucket: BUCKET,
        max_hits: reports_per_hour(base, tally.0, tally.1),
        window: chrono::Duration::hours(1),
    }
}

/// Writes `jobs` in the caller's transaction. A job refused (no such member,
/// oneself, a bot, past the reporter's limit, already reported) writes
/// nothing and gets its error; the others go on. A reporter's reports are
/// counted one after the other, and two reports about one thing join one
/// report, so a batch is written in rounds, each taking a reporter and a
/// (member, resource) at most once.
///
/// Whether the reporter already joined the report is read with their count;
/// should two of their requests race past that read in two batches, the
/// later finds its entry there when it files: it fails its batch, whose jobs
/// are then written again one by one, and alone it gets its 409 with
/// nothing written.
pub fn file(
    conn: &mut PgConnection,
    bot_group: &str,
    base: u32,
    jobs: &[Reporting],
) -> Result<Written<ReportView>, AppError> {
    let keys: Vec<_> = jobs.iter().map(|job| job.target.clone()).collect();
    let found = members::many_by_keys_with_bot(conn, &keys, bot_group, false)?;
    let mut answers: Vec<Option<Result<ReportView, AppError>>> = jobs.iter().map(|_| None).collect();
    let mut rounds: Vec<Vec<(usize, &Member)>> = Vec::new();
    let mut reporter_round: HashMap<i64, usize> = HashMap::new();
    let mut thing_round: HashMap<(i64, Option<&str>), usize> = HashMap::new();
    for (i, job) in jobs.iter().enumerate() {
        let target = found.iter().find(|member| member.is_named_by(&job.target));
        let allowed = match target {
            None => Err(MemberError::NotFound.into()),
            Some(target) => may_report(job.reporter.id, target.member.id, target.is_bot)
                .map(|()| &target.member)
                .map_err(AppError::from),
        };
        let target = match allowed {
            Ok(target) => target,
            Err(refusal) => {
                answers[i] = Some(Err(refusal));
                continue;
            }
        };
        let thing = (target.id, job.filing.resource.as_deref());
        let round = reporter_round
            .get(&job.reporter.id)
            .max(thing_round.get(&thing))
            .copied()
            .unwrap_or(0);
        reporter_round.insert(job.reporter.id, round + 1);
        thing_round.insert(thing, round + 1);
        if rounds.len() <= round {
            rounds.resize_with(round + 1, Vec::new);
        }
        rounds[round].push((i, target));
    }

    let mut changed = Vec::new();
    for round in rounds {
        let filings = round
            .iter()
            .map(|&(job, target)| Pending {
                job,
                target,
                filing: new_filing(&jobs[job], target),
            })
            .collect();
        let now = round.iter().map(|&(i, _)| jobs[i].now).max().unwrap_or_default();
        let Admission { admitted, refused } = admit(conn, base, filings, now)?;
        for (i, refusal) in refused {
            answers[i] = Some(Err(refusal));
        }
        if admitted.is_empty() {
            continue;
        }
        let filings: Vec<&NewFiling> = admitted.iter().map(|(pending, _)| &pending.filing).collect();
        let (filed, round_changed) = store::file(conn, &filings)?;
        changed.push(round_changed);
        for ((pending, tally), filed) in admitted.iter().zip(filed) {
            let entry = filed.entry.ok_or(CaseError::AlreadyReported)?;
            let job = &jobs[pending.job];
            // What the reporter reads: their own entry, nothing of staff's.
            answers[pending.job] = Some(Ok(ReportView {
                member_name: pending.target.username.clone(),
                assignee_name: None,
                resolved_by_name: None,
                entries: vec![EntryView {
                    row: entry,
                    reporter_name: job.reporter.username.clone(),
                    tally: *tally,
                }],
                sanction_kind: None,
                row: filed.report,
            }));
        }
    }
    Ok(Written::of(answers, changed.join(" ")))
}

/// A job's filing, about its target.
struct Pending<'a> {
    job: usize,
    target: &'a Member,
    filing: NewFiling<'a>,
}

/// The report `job` files about `target`, with the event of its opening.
fn new_filing<'a>(job: &'a Reporting, target: &Member) -> NewFiling<'a> {
    NewFiling {
        member_id: target.id,
        reporter_id: job.reporter.id,
        filing: &job.filing,
        // The report's id is set in SQL, should the report open.
        opened: NewEvent {
            event_type: EventType::ReportCreated,
            member_id: target.id,
            data: serde_json::json!({
                "report": { "id": null, "resource": job.filing.resource, "reason": job.filing.reason.as_str() },
                "member": { "id": target.id, "username": target.username },
            }),
        },
        now: job.now,
    }
}

/// A round's filings as the reporters' limits left them.
struct Admission<'a> {
    /// With the reporter's tally.
    admitted: Vec<(Pending<'a>, (i32, i32))>,
    /// The job's index and its answer.
    refused: Vec<(usize, AppError)>,
}

/// Counts a round's hits (distinct reporters) and splits its filings into
/// those the reporters' limits admit and those refused; the refused hits
/// are taken back.
fn admit<'a>(
    conn: &mut PgConnection,
    base: u32,
    round: Vec<Pending<'a>>,
    now: DateTime<Utc>,
) -> Result<Admission<'a>, AppError> {
    let filings: Vec<&NewFiling> = round.iter().map(|pending| &pending.filing).collect();
    // The hit counts against the base limit's window; whether it is
    // admitted depends on the tally read with it.
    let counted = store::count(conn, report_limit(base, (0, 0)), &filings, now)?;
    let mut admission = Admission {
        admitted: Vec::new(),
        refused: Vec::new(),
    };
    let mut taken_back = Vec::new();
    for pending in round {
        let reporter_id = pending.filing.reporter_id;
        let count = counted
            .get(&reporter_id)
            .ok_or_else(|| AppError::internal("a reporter's hit was not counted"))?;
        let refusal = match count.window.admits(report_limit(base, count.tally), now) {
            Err(limited) => Some(limited.into()),
            Ok(()) if count.already => Some(CaseError::AlreadyReported.into()),
            Ok(()) => None,
        };
        match refusal {
            Some(refusal) => {
                taken_back.push(reporter_id.to_string());
                admission.refused.push((pending.job, refusal));
            }
            None => admission.admitted.push((pending, count.tally)),
        }
    }
    if !taken_back.is_empty() {
        rate_limit::take_back(conn, BUCKET, &taken_back)?;
    }
    Ok(admission)
}

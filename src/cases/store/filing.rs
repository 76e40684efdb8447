//! Filing reports as many at a time as the report writer hands over: the
//! reporters' hits counted in one statement, the reports opened or joined
//! with their entries and events in another.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool, Integer, Jsonb, Nullable, Text, Timestamptz};

use crate::cases::model::Filing;
use crate::cases::store::reports::{EntryRow, ReportRow};
use crate::db::{column, prepared};
use crate::error::AppError;
use crate::events::NewEvent;
use crate::rate_limit::{self, Limit, Window, count_hits_cte};

/// A report to file: who files it about whom, and what they say.
pub struct NewFiling<'a> {
    pub member_id: i64,
    pub reporter_id: i64,
    pub filing: &'a Filing,
    /// The event of the report, should it open; its `report.id` is set in SQL.
    pub opened: NewEvent,
    pub now: DateTime<Utc>,
}

/// A reporter's hit as counted, with what their limit depends on.
pub struct Counted {
    pub window: Window,
    /// Their reports actioned and dismissed so far.
    pub tally: (i32, i32),
    /// Whether they already said something in the open report this filing
    /// would join (the request is refused).
    pub already: bool,
}

/// Counts one hit against each reporter's window (`limit`'s, at the base
/// rate: whether the hit is admitted depends on the tally read with it),
/// and reads whether they already joined the open report their filing is
/// about. The filings name distinct reporters.
pub fn count(
    conn: &mut PgConnection,
    limit: Limit,
    filings: &[&NewFiling],
    now: DateTime<Utc>,
) -> Result<HashMap<i64, Counted>, AppError> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = BigInt)]
        reporter_id: i64,
        #[diesel(embed)]
        window: Window,
        #[diesel(sql_type = Integer)]
        actioned: i32,
        #[diesel(sql_type = Integer)]
        dismissed: i32,
        #[diesel(sql_type = Bool)]
        already: bool,
    }
    let rows: Vec<Row> = rate_limit::counting_many(
        concat!(
            "WITH ",
            count_hits_cte!(),
            ", input AS (SELECT * FROM unnest($5::bigint[], $6::bigint[], $7::text[]) \
                AS i(reporter_id, about, on_resource)) \
             SELECT input.reporter_id, counted.window_start, counted.hits, \
               coalesce(t.actioned, 0) AS actioned, coalesce(t.dismissed, 0) AS dismissed, \
               EXISTS (SELECT 1 FROM reports r \
                       JOIN report_entries e ON e.report_id = r.id AND e.reporter_id = input.reporter_id \
                       WHERE r.member_id = input.about AND coalesce(r.resource, '') = coalesce(input.on_resource, '') \
                         AND r.state IN ('open', 'claimed')) AS already \
             FROM input JOIN counted ON counted.key = input.reporter_id::text \
             LEFT JOIN reporter_tallies t ON t.member_id = input.reporter_id"
        ),
        limit,
        column(filings, |f| f.reporter_id.to_string()),
        now,
    )
    .bind::<Array<BigInt>, _>(column(filings, |f| f.reporter_id))
    .bind::<Array<BigInt>, _>(column(filings, |f| f.member_id))
    .bind::<Array<Nullable<Text>>, _>(column(filings, |f| f.filing.resource.as_deref()))
    .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let counted = Counted {
                window: row.window,
                tally: (row.actioned, row.dismissed),
                already: row.already,
            };
            (row.reporter_id, counted)
        })
        .collect())
}

/// What filing a report did: the open report about the member and resource
/// (opened if there was none, locked until the transaction ends), and the
/// reporter's entry in it.
pub struct Filed {
    pub report: ReportRow,
    /// None when the reporter had said something in this report already.
    pub entry: Option<EntryRow>,
}

/// Files reports in one statement, which returns what the transaction
/// changed: opens the report about each member and resource or joins the
/// open one (so that two members reporting at once end in the same report),
/// adds what the reporter said, and writes the event of each report that
/// opens. Joining is no news to other services: they heard of the report
/// when it opened. The filings name distinct (member, resource) pairs; the
/// reports are locked in that order, so that two batches never deadlock.
/// Answers in the filings' order.
pub fn file(conn: &mut PgConnection, filings: &[&NewFiling]) -> Result<(Vec<Filed>, String), AppError> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(embed)]
        report: ReportRow,
        #[diesel(sql_type = Bool)]
        added: bool,
        #[diesel(sql_type = Text)]
        changed: String,
    }
    let rows: Vec<Row> = prepared(
        "WITH input AS ( \
           SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[], \
                                $7::timestamptz[], $8::text[], $9::jsonb[]) WITH ORDINALITY \
             AS i(about, on_resource, reporter_id, reason, text, evidence_url, at, event_type, news, n)), \
         opened AS ( \
           INSERT INTO reports (member_id, resource, created_at, updated_at) \
           SELECT about, on_resource, at, at FROM input ORDER BY about, coalesce(on_resource, '') \
           ON CONFLICT (member_id, coalesce(resource, '')) WHERE state IN ('open', 'claimed') \
           DO UPDATE SET updated_at = EXCLUDED.updated_at \
           RETURNING *, (xmax = 0) AS created), \
         matched AS ( \
           SELECT opened.*, input.* FROM opened JOIN input \
             ON input.about = opened.member_id AND coalesce(input.on_resource, '') = coalesce(opened.resource, '')), \
         entry AS ( \
           INSERT INTO report_entries (report_id, reporter_id, reason, text, evidence_url, created_at) \
           SELECT id, reporter_id, reason, text, evidence_url, at FROM matched ORDER BY n \
           ON CONFLICT DO NOTHING RETURNING report_id), \
         event AS ( \
           INSERT INTO events (event_type, occurred_at, member_id, data) \
           SELECT event_type, at, about, jsonb_set(news, '{report,id}', to_jsonb(id)) FROM matched \
           WHERE created ORDER BY n) \
         SELECT matched.*, matched.id IN (SELECT report_id FROM entry) AS added, \
           memberd_take_changes() AS changed \
         FROM matched ORDER BY n",
    )
    .bind::<Array<BigInt>, _>(column(filings, |f| f.member_id))
    .bind::<Array<Nullable<Text>>, _>(column(filings, |f| f.filing.resource.as_deref()))
    .bind::<Array<BigInt>, _>(column(filings, |f| f.reporter_id))
    .bind::<Array<Text>, _>(column(filings, |f| f.filing.reason.as_str()))
    .bind::<Array<Text>, _>(column(filings, |f| f.filing.text.as_str()))
    .bind::<Array<Nullable<Text>>, _>(column(filings, |f| f.filing.evidence_url.as_deref()))
    .bind::<Array<Timestamptz>, _>(column(filings, |f| f.now))
    .bind::<Array<Text>, _>(column(filings, |f| f.opened.event_type.as_str()))
    .bind::<Array<Jsonb>, _>(column(filings, |f| &f.opened.data))
    .load(conn)?;
    if rows.len() != filings.len() {
        return Err(AppError::internal("a filing matched no report"));
    }
    // The first row takes every change; the others find none left.
    let changed = rows
        .iter()
        .map(|row| row.changed.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    let filed = filings
        .iter()
        .zip(rows)
        .map(|(filing, row)| Filed {
            entry: row.added.then(|| EntryRow {
                report_id: row.report.id,
                reporter_id: filing.reporter_id,
                reason: filing.filing.reason,
                text: filing.filing.text.clone(),
                evidence_url: filing.filing.evidence_url.clone(),
                created_at: filing.now,
            }),
            report: row.report,
        })
        .collect();
    Ok((filed, changed))
}

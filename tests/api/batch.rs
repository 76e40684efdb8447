//! The write combiner (`db::batch`) on a real database: jobs queued together
//! are written together, and one job's failure fails nobody else.

use std::sync::{Arc, Mutex};

use diesel::prelude::*;
use memberd::db::Db;
use memberd::db::batch::{Batcher, Written};
use memberd::error::AppError;

use crate::helpers::TestDatabase;

#[derive(QueryableByName)]
struct Quotient {
    #[diesel(sql_type = diesel::sql_types::Integer)]
    q: i32,
}

#[tokio::test]
async fn a_batch_that_fails_is_written_again_one_job_at_a_time() {
    let database = TestDatabase::create().await;
    let db = Db::connect(&database.url, 4).unwrap();
    let batches = Arc::new(Mutex::new(Vec::new()));
    let seen = batches.clone();
    // Each job divides 60 by itself in SQL: a zero fails its statement, and
    // with it the whole transaction of its batch.
    let batcher = Batcher::start(db, move |conn, jobs: &[i32]| {
        seen.lock().unwrap().push(jobs.to_vec());
        let mut answers = Vec::new();
        for job in jobs {
            let quotient: Quotient = diesel::sql_query(format!("SELECT 60 / {job} AS q")).get_result(conn)?;
            answers.push(Ok::<_, AppError>(quotient.q));
        }
        Ok(Written {
            answers,
            changed: String::new(),
        })
    });
    // Queued before any writer runs (the test's runtime has one thread).
    let answers = futures_util::future::join_all([1, 2, 0, 3].map(|job| batcher.submit(job))).await;

    let answers: Vec<Option<i32>> = answers.into_iter().map(Result::ok).collect();
    assert_eq!(answers, [Some(60), Some(30), None, Some(20)]);
    assert_eq!(
        *batches.lock().unwrap(),
        [vec![1, 2, 0, 3], vec![1], vec![2], vec![0], vec![3]],
        "queued together, then alone once the batch failed"
    );
}

//! Write combining: requests of one kind that arrive while earlier ones are
//! being written are written together, in one transaction, by statements
//! that each take the whole batch.
//!
//! A one-row transaction spends most of its time on what every transaction
//! pays whatever it writes: round trips, statement start-up, the commit. A
//! batch pays it once. A writer with no other writer busy takes whatever is
//! queued, so under light load a batch holds one request and costs what a
//! lone transaction does; under load it waits for as many jobs as the busy
//! one is writing (see [`take`]).

use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use diesel::PgConnection;
use tokio::sync::{Mutex, Notify, mpsc, oneshot};

use super::Db;
use crate::error::AppError;

/// What a batch's writer returns: an answer for each job, in the jobs'
/// order, and what the transaction changed (the `memberd_take_changes()` of
/// its last statement). A job answered with an error must have written
/// nothing: the others' writes commit.
pub struct Written<R> {
    pub answers: Vec<Result<R, AppError>>,
    pub changed: String,
}

/// Writers per kind of job: while one waits for its commit, the other
/// writes. More writers make smaller batches: sanctions at c=16 took 410,
/// 560, 645 and 705 µs of the machine's time each with one, two, three and
/// four writers taking whatever was queued. One alone would hold every
/// write behind a batch that waits on a lock.
pub const WRITERS: usize = 2;

/// Jobs in one batch at most: what one transaction may hold locked.
const MOST: usize = 64;

impl<R> Written<R> {
    /// A batch's answers as its writer gathered them, one slot per job; a
    /// slot left empty is a writer's bug, answered as such.
    pub fn of(answers: Vec<Option<Result<R, AppError>>>, changed: String) -> Self {
        let answers = answers
            .into_iter()
            .map(|answer| answer.unwrap_or_else(|| Err(AppError::internal("a batch writer left a job unanswered"))))
            .collect();
        Self { answers, changed }
    }
}

type Queued<J, R> = (J, oneshot::Sender<Result<R, AppError>>);

/// Takes jobs and hands them, batched, to its writers.
pub struct Batcher<J, R> {
    queue: mpsc::Sender<Queued<J, R>>,
}

impl<J, R> Clone for Batcher<J, R> {
    fn clone(&self) -> Self {
        Self {
            queue: self.queue.clone(),
        }
    }
}

impl<J, R> Batcher<J, R>
where
    J: Send + Sync + 'static,
    R: Send + 'static,
{
    /// Starts [`WRITERS`] tasks, each writing up to [`MOST`] jobs at a time
    /// with `write`.
    pub fn start<W>(db: Db, write: W) -> Self
    where
        W: Fn(&mut PgConnection, &[J]) -> Result<Written<R>, AppError> + Send + Sync + 'static,
    {
        let (queue, jobs) = mpsc::channel(MOST * WRITERS * 4);
        let jobs = Arc::new(Mutex::new(jobs));
        let (write, pace) = (Arc::new(write), Arc::new(Pace::default()));
        for _ in 0..WRITERS {
            tokio::spawn(run(db.clone(), jobs.clone(), write.clone(), pace.clone()));
        }
        Self { queue }
    }

    /// Queues `job` and waits for its answer.
    pub async fn submit(&self, job: J) -> Result<R, AppError> {
        let (answer, answered) = oneshot::channel();
        self.queue
            .send((job, answer))
            .await
            .map_err(|_| AppError::Unavailable("the writer has stopped".into()))?;
        answered
            .await
            .map_err(|_| AppError::internal("the writer dropped a job"))?
    }
}

/// What the writers know of each other: how many jobs they are writing, and
/// when one of them is done.
#[derive(Default)]
struct Pace {
    writing: AtomicUsize,
    finished: Notify,
}

impl Pace {
    /// Counts `jobs` as being written until the guard is dropped, however
    /// their writer ends.
    fn busy_with(&self, jobs: usize) -> Writing<'_> {
        self.writing.fetch_add(jobs, Ordering::AcqRel);
        Writing { pace: self, jobs }
    }
}

struct Writing<'a> {
    pace: &'a Pace,
    jobs: usize,
}

impl Drop for Writing<'_> {
    fn drop(&mut self) {
        self.pace.writing.fetch_sub(self.jobs, Ordering::AcqRel);
        self.pace.finished.notify_waiters();
    }
}

/// How long a batch waits beside a busy writer at most. A batch takes 1–3
/// ms to write here under load; one that takes longer is waiting on a lock,
/// and the next batch does not wait with it.
const PATIENCE: Duration = Duration::from_millis(5);

/// Takes the next batch: at once when no other writer is busy, so that a
/// lone request waits for nobody; while one is, as many jobs as it is
/// writing, or what has come by the time it is done or [`PATIENCE`] has
/// passed. A transaction costs PostgreSQL about as much as six of the rows
/// it writes, so batches that two busy writers split into ones and twos cost
/// twice what they need to: sanctions at c=16 took 560 µs of the machine's
/// time each with two writers taking whatever was queued, 410 with one
/// writer alone.
async fn take<J, R>(jobs: &mut mpsc::Receiver<Queued<J, R>>, pace: &Pace) -> Vec<Queued<J, R>> {
    let mut batch = Vec::with_capacity(MOST);
    if jobs.recv_many(&mut batch, MOST).await == 0 {
        return batch;
    }
    // Set only once there is a reason to wait: most batches have none.
    let mut patience = None;
    loop {
        let finished = pace.finished.notified();
        tokio::pin!(finished);
        // Listening before looking: a writer that finishes in between is heard.
        finished.as_mut().enable();
        let others = pace.writing.load(Ordering::Acquire);
        if others == 0 || batch.len() >= others.min(MOST) {
            return batch;
        }
        let room = MOST - batch.len();
        let patience = patience.get_or_insert_with(|| Box::pin(tokio::time::sleep(PATIENCE)));
        tokio::select! {
            received = jobs.recv_many(&mut batch, room) => if received == 0 {
                return batch;
            },
            () = &mut finished => break,
            () = patience.as_mut() => break,
        }
    }
    while batch.len() < MOST {
        match jobs.try_recv() {
            Ok(job) => batch.push(job),
            Err(_) => break,
        }
    }
    batch
}

async fn run<J, R, W>(db: Db, jobs: Arc<Mutex<mpsc::Receiver<Queued<J, R>>>>, write: Arc<W>, pace: Arc<Pace>)
where
    J: Send + Sync + 'static,
    R: Send + 'static,
    W: Fn(&mut PgConnection, &[J]) -> Result<Written<R>, AppError> + Send + Sync + 'static,
{
    loop {
        // One writer waits for jobs at a time; the others are writing.
        let (batch, writing) = {
            let mut jobs = jobs.lock().await;
            let batch = take(&mut jobs, &pace).await;
            // Counted before the next writer may look.
            let writing = pace.busy_with(batch.len());
            (batch, writing)
        };
        if batch.is_empty() {
            return;
        }
        let (batch, answers): (Vec<J>, Vec<_>) = batch.into_iter().unzip();
        let batch: Arc<[J]> = batch.into();
        let results = match write_range(&db, &write, &batch, 0..batch.len()).await {
            Ok(results) => results,
            // One job must not fail the others: each is written again alone,
            // and gets its own answer.
            Err(_) if batch.len() > 1 => {
                let mut results = Vec::with_capacity(batch.len());
                for i in 0..batch.len() {
                    results.push(match write_range(&db, &write, &batch, i..i + 1).await {
                        Ok(mut alone) => alone.pop().unwrap_or_else(|| Err(AppError::internal("no answer"))),
                        Err(error) => Err(error),
                    });
                }
                results
            }
            Err(error) => vec![Err(error)],
        };
        drop(writing);
        for (answer, result) in answers.into_iter().zip(results) {
            // The requester may have gone; its write stands.
            let _ = answer.send(result);
        }
    }
}

/// Opens a batch's transaction, in one round trip. A batch's statements take
/// arrays, and PostgreSQL, finding the generic plan of `= ANY($1)` dearer
/// than a custom one, planned them anew on every execution: a fifth of its
/// time under sanctions at c=16. Their generic plans use the same indexes.
const BEGIN: &str = "BEGIN; SET LOCAL plan_cache_mode = force_generic_plan";

/// Writes `range` of the batch in one transaction.
async fn write_range<J, R, W>(
    db: &Db,
    write: &Arc<W>,
    batch: &Arc<[J]>,
    range: Range<usize>,
) -> Result<Vec<Result<R, AppError>>, AppError>
where
    J: Send + Sync + 'static,
    R: Send + 'static,
    W: Fn(&mut PgConnection, &[J]) -> Result<Written<R>, AppError> + Send + Sync + 'static,
{
    let (write, batch) = (write.clone(), batch.clone());
    let expected = range.len();
    db.transaction_begun_by(BEGIN, move |conn| {
        let written = write(conn, &batch[range])?;
        if written.answers.len() != expected {
            return Err(AppError::internal("a batch writer answered the wrong number of jobs"));
        }
        Ok((written.answers, written.changed))
    })
    .await
}

#[cfg(test)]
mod tests {
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    use super::*;

    fn job(n: u32) -> Queued<u32, ()> {
        (n, oneshot::channel().0)
    }

    fn taken(poll: Poll<Vec<Queued<u32, ()>>>) -> Option<Vec<u32>> {
        match poll {
            Poll::Ready(batch) => Some(batch.into_iter().map(|(n, _)| n).collect()),
            Poll::Pending => None,
        }
    }

    enum Step {
        Queue(u32),
        Finish,
    }

    /// Queues job 1 beside a writer writing `busy` jobs, then polls `take`
    /// once, and again after each step: what each poll gave.
    fn taking(busy: usize, steps: &[Step]) -> Vec<Option<Vec<u32>>> {
        // A runtime for `take`'s timer, never driven: polls alone move it.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let _inside = runtime.enter();
        let (queue, mut jobs) = mpsc::channel(8);
        let pace = Pace::default();
        pace.writing.store(busy, Ordering::Release);
        queue.try_send(job(1)).unwrap();
        let mut next = pin!(take(&mut jobs, &pace));
        let mut cx = Context::from_waker(Waker::noop());
        let mut polls = vec![taken(next.as_mut().poll(&mut cx))];
        for step in steps {
            match step {
                Step::Queue(n) => queue.try_send(job(*n)).unwrap(),
                Step::Finish => {
                    pace.writing.store(0, Ordering::Release);
                    pace.finished.notify_waiters();
                }
            }
            polls.push(taken(next.as_mut().poll(&mut cx)));
        }
        polls
    }

    #[test]
    fn a_writer_alone_takes_what_is_queued_at_once() {
        assert_eq!(taking(0, &[]), [Some(vec![1])]);
    }

    #[test]
    fn beside_a_busy_writer_a_batch_waits_for_as_many_jobs() {
        assert_eq!(
            taking(3, &[Step::Queue(2), Step::Queue(3)]),
            [None, None, Some(vec![1, 2, 3])]
        );
    }

    #[tokio::test]
    async fn beside_a_writer_that_stays_busy_a_batch_goes_when_patience_runs_out() {
        let (queue, mut jobs) = mpsc::channel(8);
        let pace = Pace::default();
        let _stuck = pace.busy_with(3);
        queue.try_send(job(1)).unwrap();
        let next = tokio::time::timeout(Duration::from_secs(5), take(&mut jobs, &pace)).await;
        assert_eq!(next.ok().map(|batch| batch.len()), Some(1));
    }

    #[test]
    fn beside_a_busy_writer_a_batch_goes_when_that_writer_is_done() {
        assert_eq!(taking(3, &[Step::Finish]), [None, Some(vec![1])]);
    }
}

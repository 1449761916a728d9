//! Group commit of partial updates, for both backends: concurrent updates queue up, and a
//! committer applies a batch of them in one transaction (one version bump and one audit
//! record each, one `COMMIT`, one fsync), then answers each. An update refused cleanly (a
//! taken email, a stale version, a missing account) gets its own refusal and the rest of its
//! batch commits without it; any other failure fails the batch.

use std::collections::HashMap;
use std::sync::Arc;

use sqlx::QueryBuilder;
use tokio::sync::{mpsc, oneshot, Mutex};

use super::audit::insert_audits;
use super::{Backend, Db};
use crate::domain::Account;
use crate::store::caches::Changed;
use crate::store::rows::{account_columns, update_record, AccountRow};
use crate::store::{StoreError, StoreResult, Update};

/// The most updates one commit carries.
const GROUP_MAX: usize = 128;
/// How many times a committer yields to gather a batch as large as its last one.
const GATHER_YIELDS: usize = 16;

type Job = (Update, oneshot::Sender<StoreResult<()>>);

/// The queue of updates waiting for a group commit.
pub(crate) struct CommitQueue(mpsc::Sender<Job>);

impl CommitQueue {
    /// Starts `committers` committers on `writer` (several commit in parallel on PostgreSQL,
    /// where their row locks order them; one on SQLite, which has one writer).
    pub(crate) fn start(writer: &sqlx::Pool<Db>, committers: usize) -> CommitQueue {
        let (updates, queue) = mpsc::channel(4 * GROUP_MAX);
        let queue = Arc::new(Mutex::new(queue));
        for _ in 0..committers.max(1) {
            tokio::spawn(group_commit(writer.clone(), queue.clone()));
        }
        CommitQueue(updates)
    }

    /// Queues the update for the next group commit and waits until that commit is durable.
    pub(crate) async fn apply(&self, update: Update) -> StoreResult<()> {
        let (done, result) = oneshot::channel();
        let closed = || StoreError::Unavailable("the commit queue has stopped".into());
        self.0.send((update, done)).await.map_err(|_| closed())?;
        result.await.map_err(|_| closed())?
    }
}

/// One committer: takes what is queued (after a few yields under load, so that the clients
/// just answered can send their next update: a yield costs microseconds, a commit an
/// fsync), commits it, answers, again. It ends when the store is dropped.
async fn group_commit(writer: sqlx::Pool<Db>, queue: Arc<Mutex<mpsc::Receiver<Job>>>) {
    let mut batch = Vec::with_capacity(GROUP_MAX);
    let mut previous = 0;
    loop {
        {
            let mut queue = queue.lock().await;
            if queue.recv_many(&mut batch, GROUP_MAX).await == 0 {
                return;
            }
            if previous > 1 {
                for _ in 0..GATHER_YIELDS {
                    if batch.len() >= previous || batch.len() >= GROUP_MAX {
                        break;
                    }
                    tokio::task::yield_now().await;
                    while batch.len() < GROUP_MAX {
                        match queue.try_recv() {
                            Ok(job) => batch.push(job),
                            Err(_) => break,
                        }
                    }
                }
            }
        }
        previous = batch.len();
        let started = std::time::Instant::now();
        let results = commit_batch(&writer, &batch).await;
        tracing::debug!(
            size = batch.len(),
            micros = started.elapsed().as_micros() as u64,
            "group commit"
        );
        for ((_, done), result) in batch.drain(..).zip(results) {
            let _ = done.send(result);
        }
    }
}

/// Why one attempt at a batch ended without a commit.
enum Failure {
    /// The update at this index broke a uniqueness rule; its statement was rolled back with
    /// the transaction (PostgreSQL aborts a transaction at its first error).
    Refused(usize, StoreError),
    /// The batch cannot commit.
    Failed(StoreError),
}

impl From<sqlx::Error> for Failure {
    fn from(e: sqlx::Error) -> Failure {
        Failure::Failed(e.into())
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Failure {
        Failure::Failed(e)
    }
}

/// The outcome of each update of the batch: its own refusal, or the batch's failure, or
/// success once the `COMMIT` succeeded. A refused update is taken out and the others tried
/// again in a new transaction (refusals are rare: a taken email).
async fn commit_batch(writer: &sqlx::Pool<Db>, batch: &[Job]) -> Vec<StoreResult<()>> {
    let mut results: Vec<Option<StoreResult<()>>> = vec![None; batch.len()];
    loop {
        let pending: Vec<usize> = (0..batch.len()).filter(|&i| results[i].is_none()).collect();
        if pending.is_empty() {
            break;
        }
        match apply_batch(writer, batch, &pending).await {
            Ok(outcomes) => {
                for (i, outcome) in pending.into_iter().zip(outcomes) {
                    results[i] = Some(outcome);
                }
            }
            Err(Failure::Refused(i, refusal)) => results[i] = Some(Err(refusal)),
            Err(Failure::Failed(e)) => {
                tracing::error!(cause = %e, size = pending.len(), "group commit failed");
                for i in pending {
                    results[i] = Some(Err(e.clone()));
                }
            }
        }
    }
    results
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(StoreError::Unavailable("not committed".into()))))
        .collect()
}

/// One transaction for the pending updates of the batch: their rows read (and locked, on
/// PostgreSQL, in id order so that concurrent batches cannot deadlock) in one query and
/// kept current in memory (an account may be updated twice in one batch), one `UPDATE`
/// per update, the audit records in one `INSERT`, the change announced, one `COMMIT`.
async fn apply_batch(
    writer: &sqlx::Pool<Db>,
    batch: &[Job],
    pending: &[usize],
) -> Result<Vec<StoreResult<()>>, Failure> {
    let mut tx = writer.begin().await?;
    let columns = account_columns();
    let mut q = QueryBuilder::<Db>::new(format!("SELECT {columns} FROM accounts WHERE id IN ("));
    let mut ids = q.separated(", ");
    for &i in pending {
        ids.push_bind(batch[i].0.id);
    }
    q.push(") ORDER BY id").push(Backend::LOCK_ROWS);
    let rows: Vec<AccountRow> = q.build_query_as().fetch_all(&mut *tx).await?;
    let mut current: HashMap<i64, Account> = rows
        .into_iter()
        .map(Account::from)
        .map(|a| (a.id, a))
        .collect();
    let mut results = Vec::with_capacity(pending.len());
    let mut records = Vec::new();
    let mut changed = Vec::new();
    // Only an email can break a uniqueness rule; without one, no statement is refused and
    // the updates may go together where the backend takes several statements in one trip.
    let together =
        Backend::ONE_TRIP_UPDATES && pending.iter().all(|&i| batch[i].0.patch.email.is_none());
    let mut joined = QueryBuilder::<Db>::new("");
    for &i in pending {
        let update = &batch[i].0;
        let Some(old) = current.get_mut(&update.id) else {
            results.push(Err(StoreError::NotFound));
            continue;
        };
        if update.expected_version.is_some_and(|v| v != old.version) {
            results.push(Err(StoreError::Stale));
            continue;
        }
        if together {
            super::push_update(&mut joined, update);
            joined.push("; ");
        } else {
            match super::update_query(update)
                .build()
                .execute(&mut *tx)
                .await
                .map_err(StoreError::from)
            {
                Err(refused @ StoreError::Conflict(_)) => return Err(Failure::Refused(i, refused)),
                Err(e) => return Err(e.into()),
                Ok(_) => {}
            }
        }
        records.extend(update_record(update, old));
        update.patch.apply(old);
        changed.push(update.id);
        results.push(Ok(()));
    }
    if together && !changed.is_empty() {
        // A one-off text: kept out of the statement cache.
        joined.build().persistent(false).execute(&mut *tx).await?;
    }
    insert_audits(&mut tx, &records).await?;
    if !changed.is_empty() {
        changed.sort_unstable();
        changed.dedup();
        Backend::announce(&mut tx, &Changed::accounts(changed)).await?;
    }
    tx.commit().await?;
    Ok(results)
}

//! Charges entered many to a transaction, on both backends.
//!
//! The platform charges on every metered use, and a charge in a
//! transaction of its own paid for its own commit (a WAL flush) and, on a
//! busy wallet, for the row lock handed from one connection to the next:
//! PostgreSQL held one wallet's row for a charge's whole round trip and
//! commit, so 16 callers of one wallet waited in line for 44 ms at p99,
//! and SQLite paid for a hop onto a blocking thread and a turn at the
//! writers' gate per charge. Here a charge is handed to a writer thread,
//! which takes every charge waiting for it (up to [`MAX_BATCH`]) into one
//! transaction; one commit answers them all.
//!
//! - SQLite has one writer (it takes one at a time anyway), and each
//!   charge is a savepoint within the batch, so a refused or repeated
//!   charge leaves the others as they were.
//! - PostgreSQL has [`POSTGRES_WRITERS`], each with the wallets whose id
//!   hashes to it; the charges to one wallet share its lock and commit,
//!   and those to different writers' wallets run side by side. The batch's
//!   charges for no particular member go in as one statement
//!   ([`super::billing::enter_charges_together`]) that debits each wallet
//!   once for all of its charges. The charges of a wallet that can't
//!   cover them all, and those for a member, are then entered one by one
//!   in the same transaction, a charge for no particular member as one
//!   statement without a savepoint (a savepoint would cost two more round
//!   trips each). When a statement fails (a repeated idempotency key),
//!   the batch is rolled back and its charges are entered one by one, as
//!   they would have been without the writer. A batch takes its wallets'
//!   row locks in the order of their ids, as a transfer between two
//!   wallets does, so the two can't deadlock.

use std::hash::{Hash, Hasher};
use std::sync::mpsc;

use tokio::sync::oneshot;

use super::billing::{ChargeOutcome, NewCharge, enter_charge, enter_charges_together};
use super::{AnyConnection, Backend, DbError, DbPool, write_transaction};

/// The most charges one transaction enters: the others wait for the next,
/// and the process's other writers wait no longer than this many charges
/// take. It also keeps a PostgreSQL batch of member charges (a savepoint
/// each) within the 64 subtransactions a backend tracks without spilling.
const MAX_BATCH: usize = 64;

/// PostgreSQL's writer threads, each holding a pooled connection while it
/// enters a batch. More writers keep one wallet's lock waits (a transfer,
/// a top-up) from holding up the charges to the others, but split the
/// charges into smaller batches: on the charge bench (2 cores, 64
/// wallets, 64 connections) one writer entered charges with half the
/// PostgreSQL CPU of three and a p99 of 19–20 ms against 26–118 ms.
const POSTGRES_WRITERS: usize = 1;

/// A charge waiting for the writer, with where its outcome goes.
struct Queued {
    charge: NewCharge,
    reply: oneshot::Sender<ChargeOutcome>,
}

/// The way to a database's charge writers (see the module documentation).
/// The writer threads start with the first charge and end when the last
/// clone of their [`super::Db`] is dropped.
#[derive(Default)]
pub(super) struct ChargeQueue {
    writers: std::sync::OnceLock<Vec<mpsc::Sender<Queued>>>,
}

impl ChargeQueue {
    /// Enters `charge` with the others waiting for its wallet's writer,
    /// and answers its outcome.
    pub(super) async fn enter(
        &self,
        pool: &DbPool,
        backend: Backend,
        charge: NewCharge,
    ) -> ChargeOutcome {
        let writers = self.writers.get_or_init(|| {
            let count = match backend {
                Backend::Sqlite => 1,
                Backend::Postgres => POSTGRES_WRITERS,
            };
            (0..count).map(|_| spawn_writer(pool.clone())).collect()
        });
        let mut hasher = std::hash::DefaultHasher::new();
        charge.workspace.hash(&mut hasher);
        let writer = &writers[(hasher.finish() % writers.len() as u64) as usize];
        let (reply, outcome) = oneshot::channel();
        if writer.send(Queued { charge, reply }).is_err() {
            return Err(writer_gone());
        }
        outcome.await.unwrap_or_else(|_| Err(writer_gone()))
    }
}

fn writer_gone() -> DbError {
    DbError::Unavailable("the charge writer stopped".into())
}

/// Starts a thread that enters the charges sent to it.
fn spawn_writer(pool: DbPool) -> mpsc::Sender<Queued> {
    let (sender, queue) = mpsc::channel::<Queued>();
    let spawned = std::thread::Builder::new()
        .name("charge-writer".into())
        .spawn(move || write_batches(&pool, &queue));
    if let Err(error) = spawned {
        tracing::error!(%error, "could not start a charge writer");
    }
    sender
}

/// Enters what is waiting, batch after batch, until every sender is gone.
fn write_batches(pool: &DbPool, queue: &mpsc::Receiver<Queued>) {
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        batch.extend(queue.try_iter().take(MAX_BATCH - 1));
        // In the order of their wallets' ids (see the module documentation);
        // the sort is stable, so one wallet's charges keep their order.
        batch.sort_by(|a, b| a.charge.workspace.cmp(&b.charge.workspace));
        let outcomes = enter_batch(pool, &batch);
        for (queued, outcome) in batch.into_iter().zip(outcomes) {
            // The request may have gone (its client hung up): its charge
            // stands, as it would have had it waited.
            let _ = queued.reply.send(outcome);
        }
    }
}

/// Why a batch's transaction was rolled back.
enum BatchAbort {
    /// A PostgreSQL charge failed, and with it the transaction: the
    /// charges are entered again one by one.
    OneFailed,
    /// The transaction itself failed: nothing of the batch was entered.
    Failed(DbError),
}

impl From<DbError> for BatchAbort {
    fn from(error: DbError) -> Self {
        BatchAbort::Failed(error)
    }
}

/// One write transaction for the whole batch; each charge nests in it
/// (see the module documentation for what a failed charge does). When the
/// commit fails, nothing of the batch was entered and every charge hears
/// so.
fn enter_batch(pool: &DbPool, batch: &[Queued]) -> Vec<ChargeOutcome> {
    let failed = |error: &dyn std::fmt::Display| {
        batch
            .iter()
            .map(|_| Err(DbError::Unavailable(error.to_string())))
            .collect()
    };
    let mut conn = match pool.get() {
        Ok(conn) => conn,
        Err(error) => return failed(&error),
    };
    let entered = write_transaction(&mut conn, |conn| {
        let postgres = matches!(conn, AnyConnection::Postgresql(_));
        let together = match conn {
            AnyConnection::Postgresql(pg) => {
                let charges: Vec<&NewCharge> = batch.iter().map(|queued| &queued.charge).collect();
                enter_charges_together(pg, &charges).map_err(|_| BatchAbort::OneFailed)?
            }
            AnyConnection::Sqlite(_) => batch.iter().map(|_| None).collect(),
        };
        let mut outcomes = Vec::with_capacity(batch.len());
        for (queued, entered) in batch.iter().zip(together) {
            let outcome = match entered {
                Some(entered) => Ok(Ok(entered)),
                None => enter_charge(conn, &queued.charge),
            };
            if outcome.is_err() && postgres {
                return Err(BatchAbort::OneFailed);
            }
            outcomes.push(outcome);
        }
        Ok(outcomes)
    });
    match entered {
        Ok(outcomes) => outcomes,
        Err(BatchAbort::OneFailed) => batch
            .iter()
            .map(|queued| enter_charge(&mut conn, &queued.charge))
            .collect(),
        Err(BatchAbort::Failed(error)) => failed(&error),
    }
}

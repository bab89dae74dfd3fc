//! SQLite's charges, entered many to a transaction.
//!
//! SQLite takes one writer at a time, and every charge in its own
//! transaction paid for its own commit (the WAL frames of the wallet, the
//! day's spend and the ledger's pages and indexes), for a hop onto a
//! blocking thread and for its turn at the writers' gate, all while the
//! platform's other charges waited in line. Here a charge is handed to one
//! thread per database, which takes every charge waiting (up to
//! [`MAX_BATCH`]) into one write transaction, each charge in a savepoint of
//! its own, so a refused or repeated charge leaves the others as they were;
//! one commit answers them all. PostgreSQL, which runs charges side by side
//! on its connections, enters each on its own (see
//! [`super::billing::enter_charge`]).

use std::sync::mpsc;

use tokio::sync::oneshot;

use super::billing::{ChargeOutcome, NewCharge, enter_charge};
use super::{DbError, DbPool, write_transaction};

/// The most charges one transaction enters: the others wait for the next,
/// and the process's other writers wait no longer than this many charges
/// take.
const MAX_BATCH: usize = 64;

/// A charge waiting for the writer, with where its outcome goes.
struct Queued {
    charge: NewCharge,
    reply: oneshot::Sender<ChargeOutcome>,
}

/// The way to a database's charge writer (see the module documentation).
/// The writer thread starts with the first charge and ends when the last
/// clone of its [`super::Db`] is dropped.
#[derive(Default)]
pub(super) struct ChargeQueue {
    sender: std::sync::OnceLock<mpsc::Sender<Queued>>,
}

impl ChargeQueue {
    /// Enters `charge` with the others waiting, and answers its outcome.
    pub(super) async fn enter(&self, pool: &DbPool, charge: NewCharge) -> ChargeOutcome {
        let (reply, outcome) = oneshot::channel();
        let sent = self
            .sender
            .get_or_init(|| spawn_writer(pool.clone()))
            .send(Queued { charge, reply });
        if sent.is_err() {
            return Err(writer_gone());
        }
        outcome.await.unwrap_or_else(|_| Err(writer_gone()))
    }
}

fn writer_gone() -> DbError {
    DbError::Unavailable("the charge writer stopped".into())
}

/// Starts the thread that enters the charges sent to it.
fn spawn_writer(pool: DbPool) -> mpsc::Sender<Queued> {
    let (sender, queue) = mpsc::channel::<Queued>();
    let spawned = std::thread::Builder::new()
        .name("charge-writer".into())
        .spawn(move || write_batches(&pool, &queue));
    if let Err(error) = spawned {
        tracing::error!(%error, "could not start the charge writer");
    }
    sender
}

/// Enters what is waiting, batch after batch, until every sender is gone.
fn write_batches(pool: &DbPool, queue: &mpsc::Receiver<Queued>) {
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        batch.extend(queue.try_iter().take(MAX_BATCH - 1));
        let outcomes = enter_batch(pool, &batch);
        for (queued, outcome) in batch.into_iter().zip(outcomes) {
            // The request may have gone (its client hung up): its charge
            // stands, as it would have had it waited.
            let _ = queued.reply.send(outcome);
        }
    }
}

/// One write transaction for the whole batch; each charge is a savepoint
/// within it (`enter_charge` nests in the open transaction). When the
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
        Ok::<_, DbError>(
            batch
                .iter()
                .map(|queued| enter_charge(conn, &queued.charge))
                .collect::<Vec<_>>(),
        )
    });
    match entered {
        Ok(outcomes) => outcomes,
        Err(error) => failed(&error),
    }
}

//! SQLite's write-ahead log copied back into the database file by a
//! thread of its own.
//!
//! Left to itself, SQLite checkpoints in whichever connection commits the
//! transaction that takes the log past 1 000 pages: that writer copies the
//! log's pages into the database and waits for two `fsync`s before it
//! answers, and every writer behind it waits too. Charges spread over
//! many wallets dirty an index page per wallet per batch, so the log
//! fills quickly: `perf` found a fifth of the charge writer's time in
//! those checkpoints, and its longest waits behind their `fsync`s.
//!
//! Here the pool's connections leave checkpoints to this thread. Every
//! [`INTERVAL`] it copies the log back beside the writers (a passive
//! checkpoint blocks neither writers nor readers), as often as it takes
//! to catch up with them. Copied back is not enough: SQLite starts the
//! log again from its beginning only when a write transaction begins
//! with every page of the log copied, which busy writers, each beginning
//! as the last commits, almost never see; the log would grow without end.
//! So once the log is [`RESTART_AT_PAGES`] long, the thread copies the
//! last few pages while it holds the process's writers' gate
//! ([`super::SQLITE_WRITER`]), and the next writer starts the log again.
//! Should the thread fall behind or stop, a committing writer still
//! checkpoints once the log holds [`WRITERS_CHECKPOINT_AT_PAGES`].

use std::sync::mpsc;
use std::time::Duration;

use diesel::sql_types::Integer;
use diesel::{Connection, QueryableByName, RunQueryDsl, SqliteConnection};

/// How often the log is copied back. Each copy `fsync`s the log, and a
/// writer appending to the log's last page waits for that write: the
/// less there is to write, the shorter the wait. On the charge bench (2
/// cores, 64 wallets) copies every 30–60 ms kept the p99 where the
/// writers' own checkpoints had it, every 400 ms doubled it and every
/// second tripled it. An idle server's copy finds nothing to do.
const INTERVAL: Duration = Duration::from_millis(50);

/// The log's length, in pages, from which the thread starts it again (64 MB
/// of 4 KB pages: below it, a log copied back costs nothing but its file,
/// and each start holds the writers back for a copy and its `fsync`s).
const RESTART_AT_PAGES: i32 = 16_384;

/// Pages the writers may append while the thread copies the others, before
/// it holds the writers back to copy the rest: one batch of charges over
/// many wallets, so that the writers wait for a small copy and its
/// `fsync`s, not for the log's.
const CAUGHT_UP_PAGES: i32 = 512;

/// Passive checkpoints the thread runs in a row to catch up with the
/// writers before it gives up until the next round.
const CATCH_UP_ROUNDS: usize = 4;

/// The log's size, in pages, at which a committing writer checkpoints it
/// itself (SQLite's `wal_autocheckpoint`; its default is 1 000): 64 MB,
/// a backstop for when the checkpoint thread can't keep up.
pub(super) const WRITERS_CHECKPOINT_AT_PAGES: u32 = 65_536;

/// The checkpoint thread of one SQLite database. The thread ends when this
/// is dropped (with the last clone of its [`super::Db`]).
pub(super) struct Checkpointer {
    _running: mpsc::Sender<()>,
}

impl Checkpointer {
    /// Starts checkpointing the database at `path`, on a connection of its
    /// own (it takes no slot of the pool). `None` for an in-memory
    /// database, which has no log, or when the thread can't start (the
    /// writers then checkpoint, later than SQLite would).
    pub(super) fn start(path: &str) -> Option<Self> {
        if path.is_empty() || path == ":memory:" || path.contains("mode=memory") {
            return None;
        }
        match Self::spawn(path) {
            Ok(checkpointer) => Some(checkpointer),
            Err(error) => {
                tracing::warn!(%error, "no checkpoint thread: writers will checkpoint");
                None
            }
        }
    }

    fn spawn(path: &str) -> Result<Self, Box<dyn std::error::Error>> {
        let mut conn = SqliteConnection::establish(path)?;
        let (running, stop) = mpsc::channel::<()>();
        std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || {
                while let Err(mpsc::RecvTimeoutError::Timeout) = stop.recv_timeout(INTERVAL) {
                    if let Err(error) = copy_back(&mut conn, RESTART_AT_PAGES) {
                        tracing::debug!(%error, "checkpoint failed; the next round retries");
                    }
                }
            })?;
        Ok(Checkpointer { _running: running })
    }
}

/// What `PRAGMA wal_checkpoint` answers.
#[derive(QueryableByName)]
struct Checkpointed {
    /// The log's length, in pages (-1 when the database is not in WAL mode).
    #[diesel(sql_type = Integer)]
    log: i32,
    /// Of them, the pages copied back.
    #[diesel(sql_type = Integer, column_name = checkpointed)]
    copied: i32,
}

/// One round: copies the log back beside the writers until it is caught
/// up with them, then, if the log is `restart_at_pages` long or longer,
/// copies the rest with the writers held back so that the next one starts
/// the log again.
fn copy_back(conn: &mut SqliteConnection, restart_at_pages: i32) -> diesel::QueryResult<()> {
    let mut state = passive_checkpoint(conn)?;
    for _ in 1..CATCH_UP_ROUNDS {
        if state.log - state.copied <= CAUGHT_UP_PAGES {
            break;
        }
        state = passive_checkpoint(conn)?;
    }
    if state.log >= restart_at_pages && state.log - state.copied <= CAUGHT_UP_PAGES {
        let _writers = super::SQLITE_WRITER
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        passive_checkpoint(conn)?;
    }
    Ok(())
}

fn passive_checkpoint(conn: &mut SqliteConnection) -> diesel::QueryResult<Checkpointed> {
    diesel::sql_query("PRAGMA wal_checkpoint(PASSIVE)").get_result(conn)
}

#[cfg(test)]
mod tests {
    use diesel::connection::SimpleConnection;

    use super::*;

    /// The log's length after a checkpoint that copies nothing.
    fn log_pages(conn: &mut SqliteConnection) -> i32 {
        passive_checkpoint(conn).expect("checkpoint").log
    }

    /// A writer that commits one row of a few pages' worth at a time, as
    /// the pool's connections do with the thread running (no checkpoints
    /// of their own).
    fn write(writer: &mut SqliteConnection, rows: usize) {
        for _ in 0..rows {
            writer
                .batch_execute("INSERT INTO t (v) VALUES (randomblob(10000))")
                .expect("insert");
        }
    }

    #[test]
    fn a_round_over_a_long_log_copies_it_back_and_the_next_writer_starts_it_again() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("log.db");
        let path = path.to_str().expect("utf-8 path");
        let mut writer = SqliteConnection::establish(path).expect("writer");
        writer
            .batch_execute(
                "PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0; \
                 CREATE TABLE t (v BLOB);",
            )
            .expect("set up");
        let mut checkpoints = SqliteConnection::establish(path).expect("checkpoint connection");

        write(&mut writer, 40);
        let long = log_pages(&mut checkpoints);
        assert!(long > 100, "the writes filled {long} pages of log");

        copy_back(&mut checkpoints, 100).expect("round");
        write(&mut writer, 1);
        let restarted = log_pages(&mut checkpoints);
        assert!(
            restarted < 10,
            "the next write started the log again: {restarted} pages, against {long}"
        );
    }
}

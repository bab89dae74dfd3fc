//! Periodic clean-up: expired sessions and old sign-in failures. Deletes are
//! idempotent, so several instances running it against one database is harmless.

use std::time::Duration;

use crate::db::{self, Db, DbError};
use crate::session::store::DbSessionStore;

/// How often the clean-up runs.
const INTERVAL: Duration = Duration::from_secs(600);

/// Runs one clean-up pass; returns (sessions, sign-in failures) deleted.
pub async fn run_once(
    db: &Db,
    idle: chrono::Duration,
    lifetime: chrono::Duration,
    throttle_window: chrono::Duration,
) -> Result<(usize, usize), DbError> {
    db.run(move |conn| {
        let expiry = DbSessionStore::expiry_now(idle, lifetime);
        let sessions = db::sessions::purge_expired(conn, expiry)?;
        let attempts = db::login_attempts::purge_older_than(conn, throttle_window, expiry.now)?;
        Ok((sessions, attempts))
    })
    .await
}

/// Runs the clean-up forever, every [`INTERVAL`].
pub async fn run_forever(
    db: Db,
    idle: chrono::Duration,
    lifetime: chrono::Duration,
    throttle_window: chrono::Duration,
) {
    let mut ticker = tokio::time::interval(INTERVAL);
    loop {
        ticker.tick().await;
        match run_once(&db, idle, lifetime, throttle_window).await {
            Ok((sessions, attempts)) if sessions + attempts > 0 => {
                tracing::info!(
                    sessions,
                    attempts,
                    "purged expired sessions and sign-in failures"
                );
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "clean-up failed; will retry"),
        }
    }
}

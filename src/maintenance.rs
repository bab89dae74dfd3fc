//! Periodic clean-up: expired sessions, old sign-in failures, and
//! organizations archived longer than the retention period. Deletes are
//! idempotent, so several instances running it against one database is
//! harmless.

use std::time::Duration;

use crate::db::{self, Db, DbError};
use crate::session::store::DbSessionStore;

/// How often the clean-up runs.
const INTERVAL: Duration = Duration::from_secs(600);

/// What the clean-up needs to know.
#[derive(Debug, Clone, Copy)]
pub struct Retention {
    /// Session idle timeout.
    pub idle: chrono::Duration,
    /// Session absolute lifetime.
    pub lifetime: chrono::Duration,
    /// Sign-in throttling window.
    pub throttle_window: chrono::Duration,
    /// How long archived organizations stay restorable.
    pub archived_organizations: chrono::Duration,
}

impl Retention {
    /// The periods configured for this process.
    pub fn from_config(config: &crate::config::Config) -> Self {
        Self {
            idle: config.session_idle,
            lifetime: config.session_lifetime,
            throttle_window: config.login_throttle.window,
            archived_organizations: chrono::Duration::days(i64::from(
                config.archive_retention_days,
            )),
        }
    }
}

/// What one clean-up pass deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    /// Expired sessions.
    pub sessions: usize,
    /// Sign-in failures older than the window.
    pub attempts: usize,
    /// Organizations archived longer than the retention period.
    pub organizations: usize,
}

/// Runs one clean-up pass.
pub async fn run_once(db: &Db, retention: Retention) -> Result<Purged, DbError> {
    db.run(move |conn| {
        let expiry = DbSessionStore::expiry_now(retention.idle, retention.lifetime);
        Ok(Purged {
            sessions: db::sessions::purge_expired(conn, expiry)?,
            attempts: db::login_attempts::purge_older_than(
                conn,
                retention.throttle_window,
                expiry.now,
            )?,
            organizations: db::organizations::purge_archived_before(
                conn,
                expiry.now - retention.archived_organizations,
            )?,
        })
    })
    .await
}

/// Runs the clean-up forever, every [`INTERVAL`].
pub async fn run_forever(db: Db, retention: Retention) {
    let mut ticker = tokio::time::interval(INTERVAL);
    loop {
        ticker.tick().await;
        match run_once(&db, retention).await {
            Ok(purged) if purged != Purged::default() => {
                tracing::info!(
                    ?purged,
                    "purged expired sessions, sign-in failures and archived organizations"
                );
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "clean-up failed; will retry"),
        }
    }
}

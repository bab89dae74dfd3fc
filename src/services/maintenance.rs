//! Periodic clean-up: expired sessions, old throttle events, expired
//! account links, organizations archived longer than the retention period,
//! and `.eml` files in the local outbox older than the invitation lifetime
//! (they hold live links; past that age every link in them is dead).
//! Deletes are idempotent, so several instances running it against one
//! database is harmless.

use std::path::PathBuf;
use std::time::Duration;

use crate::db::{self, Db, DbError};

/// How often the clean-up runs.
const INTERVAL: Duration = Duration::from_secs(600);

/// What the clean-up needs to know.
#[derive(Debug, Clone)]
pub struct Retention {
    /// Session idle timeout.
    pub idle: chrono::Duration,
    /// Session absolute lifetime.
    pub lifetime: chrono::Duration,
    /// The longest throttling window (sign-in, sign-up, organization creation).
    pub throttle_window: chrono::Duration,
    /// How long archived organizations stay restorable.
    pub archived_organizations: chrono::Duration,
    /// The local outbox directory and how old its `.eml` files may get
    /// (the invitation lifetime, the longest any emailed link works).
    pub outbox_files: Option<(PathBuf, chrono::Duration)>,
}

impl Retention {
    /// The periods configured for this process.
    pub fn from_config(config: &crate::config::Config) -> Self {
        Self {
            idle: config.session_idle,
            lifetime: config.session_lifetime,
            throttle_window: config.longest_throttle_window(),
            archived_organizations: chrono::Duration::days(i64::from(
                config.archive_retention_days,
            )),
            outbox_files: Some((config.data_dir.join("outbox"), config.invitation_ttl)),
        }
    }
}

/// What one clean-up pass deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    /// Expired sessions.
    pub sessions: usize,
    /// Throttle events older than the longest throttling window.
    pub throttle_events: usize,
    /// Organizations archived longer than the retention period.
    pub organizations: usize,
    /// Account links (verification, reset, email change) past their expiry.
    pub account_tokens: usize,
    /// `.eml` files older than the invitation lifetime.
    pub outbox_files: usize,
    /// API keys' call counts of minutes that are over.
    pub api_key_windows: usize,
}

/// Runs one clean-up pass.
pub async fn run_once(db: &Db, retention: Retention) -> Result<Purged, DbError> {
    let outbox_files = retention
        .outbox_files
        .as_ref()
        .map(|(dir, max_age)| purge_old_eml_files(dir, *max_age))
        .unwrap_or(0);
    let mut purged: Purged = db
        .run(move |conn| {
            let expiry = crate::db::sessions::Expiry::now(retention.idle, retention.lifetime);
            Ok::<_, DbError>(Purged {
                sessions: db::sessions::purge_expired(conn, expiry)?,
                throttle_events: db::throttle::purge_older_than(
                    conn,
                    retention.throttle_window,
                    expiry.now,
                )?,
                organizations: db::organizations::purge_archived_before(
                    conn,
                    expiry.now - retention.archived_organizations,
                )?,
                account_tokens: db::account_tokens::purge_expired(conn, expiry.now)?,
                outbox_files: 0,
                api_key_windows: db::api_keys::purge_windows_before(
                    conn,
                    expiry.now.and_utc().timestamp().div_euclid(60) - 1,
                )?,
            })
        })
        .await?;
    purged.outbox_files = outbox_files;
    Ok(purged)
}

/// Deletes `.eml` files in `dir` last modified more than `max_age` ago;
/// returns how many. A missing directory (SMTP only) deletes nothing.
fn purge_old_eml_files(dir: &std::path::Path, max_age: chrono::Duration) -> usize {
    let Ok(max_age) = max_age.to_std() else {
        return 0;
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let now = std::time::SystemTime::now();
    entries
        .filter_map(Result::ok)
        .filter(|entry| entry.path().extension().is_some_and(|e| e == "eml"))
        .filter(|entry| {
            entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|modified| now.duration_since(modified).ok())
                .is_some_and(|age| age > max_age)
        })
        .filter(|entry| match std::fs::remove_file(entry.path()) {
            Ok(()) => true,
            Err(error) => {
                tracing::warn!(path = %entry.path().display(), %error, "cannot delete an old outbox file");
                false
            }
        })
        .count()
}

/// Runs the clean-up forever, every [`INTERVAL`].
pub async fn run_forever(db: Db, retention: Retention) {
    let mut ticker = tokio::time::interval(INTERVAL);
    loop {
        ticker.tick().await;
        match run_once(&db, retention.clone()).await {
            Ok(purged) if purged != Purged::default() => {
                tracing::info!(
                    ?purged,
                    "purged expired sessions, throttle events, account links, old outbox files and archived organizations"
                );
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "clean-up failed; will retry"),
        }
    }
}

//! Outgoing email. Messages are queued in the `outbox_emails` table by the
//! change that causes them (same transaction) and delivered by
//! [`run_worker`], which claims one message at a time, sends it over SMTP
//! (or, with no SMTP configured, writes it as a `.eml` file under
//! `data/outbox/`), and on failure retries with exponential backoff. An SMTP
//! outage delays mail; it never loses it.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use tokio::sync::Notify;

use crate::db::outbox::QueuedEmail;
use crate::db::{self, Db, DbError};

/// How long a claimed message is reserved for the instance sending it.
const CLAIM_LEASE_SECONDS: i64 = 120;
/// Longest wait between two attempts at one message.
const MAX_BACKOFF_SECONDS: i64 = 3_600;

/// Where mail goes.
#[derive(Clone)]
pub enum Transport {
    /// An SMTP server (`TENANTRY_SMTP_URL`).
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    /// `.eml` files in a directory, for machines without SMTP.
    Files(AsyncFileTransport<Tokio1Executor>, PathBuf),
}

impl Transport {
    /// SMTP when a URL is configured (`smtp://host:port`, `?tls=required`,
    /// `smtps://user:pass@host`), otherwise files in `data/outbox/`.
    pub fn from_config(smtp_url: Option<&str>, data_dir: &std::path::Path) -> anyhow::Result<Self> {
        match smtp_url {
            Some(url) => Ok(Transport::Smtp(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .map_err(|e| anyhow::anyhow!("TENANTRY_SMTP_URL: {e}"))?
                    .timeout(Some(Duration::from_secs(20)))
                    .build(),
            )),
            None => {
                let dir = data_dir.join("outbox");
                std::fs::create_dir_all(&dir)?;
                Ok(Transport::Files(AsyncFileTransport::new(&dir), dir))
            }
        }
    }

    /// Whether mail leaves the machine (otherwise links are also logged).
    pub fn is_smtp(&self) -> bool {
        matches!(self, Transport::Smtp(_))
    }

    async fn deliver(&self, message: Message) -> Result<(), String> {
        match self {
            Transport::Smtp(smtp) => smtp
                .send(message)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string()),
            Transport::Files(files, _) => files
                .send(message)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string()),
        }
    }
}

/// What a service needs after queueing an email in its transaction: the
/// public base URL to build links from (never the request's `Host`), a way
/// to wake the delivery worker, and whether to log the link for a local
/// user who has no SMTP server.
#[derive(Clone)]
pub struct Notifier {
    base_url: String,
    kick: Arc<Notify>,
    logs_links: bool,
}

impl Notifier {
    /// A notifier that wakes `outbox`'s worker.
    pub fn new(base_url: &str, outbox: &Outbox) -> Self {
        Self {
            base_url: base_url.to_owned(),
            kick: outbox.kick.clone(),
            logs_links: !outbox.transport.is_smtp(),
        }
    }

    /// The absolute URL of `path` (which starts with `/`).
    pub fn link(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// Wakes the worker; call it once the email's transaction committed.
    pub fn wake(&self) {
        self.kick.notify_one();
    }

    /// Wakes the worker and, without SMTP, logs the link so a local user
    /// can follow it: `what` names the email ("invitation").
    pub fn after_commit(&self, to: &str, what: &str, link: &str) {
        self.wake();
        if self.logs_links {
            tracing::info!(to = %to, %link, "{what} link (no SMTP configured; the email is in data/outbox/)");
        }
    }
}

/// The delivery worker's settings.
#[derive(Clone)]
pub struct Outbox {
    /// The database holding the queue.
    pub db: Db,
    /// Where mail goes.
    pub transport: Transport,
    /// The sender.
    pub from: Mailbox,
    /// Wakes the worker when a message is queued.
    pub kick: Arc<Notify>,
    /// First retry delay; doubles per failed attempt.
    pub retry_base: Duration,
    /// How often the worker looks for due messages without being woken.
    pub poll: Duration,
}

/// Delivers queued mail until the process stops.
pub async fn run_worker(outbox: Outbox) {
    loop {
        loop {
            match deliver_next(&outbox).await {
                Ok(true) => continue,
                Ok(false) => break,
                Err(error) => {
                    tracing::warn!(%error, "outbox: database unavailable; will retry");
                    break;
                }
            }
        }
        let _ = tokio::time::timeout(outbox.poll, outbox.kick.notified()).await;
    }
}

/// Claims and sends one due message; `Ok(false)` when none is due.
pub async fn deliver_next(outbox: &Outbox) -> Result<bool, DbError> {
    let claimed = outbox
        .db
        .run(|conn| db::outbox::claim_next(conn, chrono::Duration::seconds(CLAIM_LEASE_SECONDS)))
        .await?;
    let Some(email) = claimed else {
        return Ok(false);
    };
    let outcome = match build_message(&outbox.from, &email) {
        Ok(message) => outbox.transport.deliver(message).await,
        Err(error) => Err(error),
    };
    let id = email.id.clone();
    match outcome {
        Ok(()) => {
            tracing::info!(email_id = %id, to = %email.to_address, subject = %email.subject, "email sent");
            outbox
                .db
                .run(move |conn| db::outbox::mark_sent(conn, &id))
                .await?;
        }
        Err(error) => {
            let delay = backoff(outbox.retry_base, email.attempts);
            tracing::warn!(email_id = %id, attempts = email.attempts + 1, %error, retry_in_s = delay.num_seconds(), "email not sent");
            let retry_at = db::now() + delay;
            outbox
                .db
                .run(move |conn| db::outbox::mark_failed(conn, &id, &error, retry_at))
                .await?;
        }
    }
    Ok(true)
}

/// Delay before the next attempt after `attempts` earlier failures.
fn backoff(base: Duration, attempts: i32) -> chrono::Duration {
    let base = i64::try_from(base.as_millis()).unwrap_or(i64::MAX).max(1);
    let factor = 1_i64 << attempts.clamp(0, 16);
    chrono::Duration::milliseconds(base.saturating_mul(factor).min(MAX_BACKOFF_SECONDS * 1_000))
}

fn build_message(from: &Mailbox, email: &QueuedEmail) -> Result<Message, String> {
    let to: Mailbox = email
        .to_address
        .parse()
        .map_err(|e| format!("bad recipient: {e}"))?;
    Message::builder()
        .from(from.clone())
        .to(to)
        .subject(email.subject.clone())
        .multipart(MultiPart::alternative_plain_html(
            email.text_body.clone(),
            email.html_body.clone(),
        ))
        .map_err(|e| format!("cannot build message: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let base = Duration::from_secs(30);
        assert_eq!(backoff(base, 0).num_seconds(), 30);
        assert_eq!(backoff(base, 1).num_seconds(), 60);
        assert_eq!(backoff(base, 3).num_seconds(), 240);
        assert_eq!(backoff(base, 40).num_seconds(), MAX_BACKOFF_SECONDS);
    }
}

//! The email outbox. A message is inserted in the same transaction as the
//! change that causes it, so it exists exactly when the change does; the
//! delivery worker claims due messages one at a time with a conditional
//! update, so several instances on one database never send one twice.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use super::schema::{invitations, outbox_emails};
use super::{AnyConnection, DbError, now};
use crate::domain::InvitationId;

/// A message to queue.
#[derive(Debug, Clone)]
pub struct NewEmail<'a> {
    /// Recipient address.
    pub to: &'a str,
    /// Subject line.
    pub subject: &'a str,
    /// Plain-text part.
    pub text: &'a str,
    /// HTML part.
    pub html: &'a str,
    /// The invitation it delivers, if any (shown as its delivery status).
    pub invitation_id: Option<&'a InvitationId>,
}

/// A queued message, as the worker sends it.
#[derive(Debug, Clone, Queryable)]
pub struct QueuedEmail {
    /// Id.
    pub id: String,
    /// Recipient.
    pub to_address: String,
    /// Subject.
    pub subject: String,
    /// Plain text.
    pub text_body: String,
    /// HTML.
    pub html_body: String,
    /// Attempts so far.
    pub attempts: i32,
}

/// Queues a message for immediate delivery.
pub fn enqueue(conn: &mut AnyConnection, email: &NewEmail<'_>) -> Result<String, DbError> {
    let id = uuid::Uuid::now_v7().to_string();
    let created = now();
    diesel::insert_into(outbox_emails::table)
        .values((
            outbox_emails::id.eq(&id),
            outbox_emails::to_address.eq(email.to),
            outbox_emails::subject.eq(email.subject),
            outbox_emails::text_body.eq(email.text),
            outbox_emails::html_body.eq(email.html),
            outbox_emails::invitation_id.eq(email.invitation_id),
            outbox_emails::created_at.eq(created),
            outbox_emails::next_attempt_at.eq(created),
        ))
        .execute(conn)?;
    if let Some(invitation) = email.invitation_id {
        // The invitation points at its latest email, so listing invitations
        // with their delivery status is one join.
        diesel::update(invitations::table.find(invitation))
            .set(invitations::last_email_id.eq(&id))
            .execute(conn)?;
    }
    Ok(id)
}

/// Claims the next due message for `lease` (another instance may take it
/// over only after the lease runs out, e.g. if this one died mid-send).
pub fn claim_next(
    conn: &mut AnyConnection,
    lease: Duration,
) -> Result<Option<QueuedEmail>, DbError> {
    let at = now();
    let candidates: Vec<String> = outbox_emails::table
        .filter(outbox_emails::sent_at.is_null())
        .filter(outbox_emails::next_attempt_at.le(at))
        .filter(
            outbox_emails::claimed_until
                .is_null()
                .or(outbox_emails::claimed_until.lt(at)),
        )
        .order(outbox_emails::next_attempt_at.asc())
        .select(outbox_emails::id)
        .limit(5)
        .load(conn)?;
    for id in candidates {
        let claimed = diesel::update(outbox_emails::table.find(&id))
            .filter(outbox_emails::sent_at.is_null())
            .filter(
                outbox_emails::claimed_until
                    .is_null()
                    .or(outbox_emails::claimed_until.lt(at)),
            )
            .set(outbox_emails::claimed_until.eq(at + lease))
            .execute(conn)?;
        if claimed == 1 {
            let email = outbox_emails::table
                .find(&id)
                .select((
                    outbox_emails::id,
                    outbox_emails::to_address,
                    outbox_emails::subject,
                    outbox_emails::text_body,
                    outbox_emails::html_body,
                    outbox_emails::attempts,
                ))
                .first(conn)?;
            return Ok(Some(email));
        }
    }
    Ok(None)
}

/// Records a successful delivery and blanks the bodies: they may carry a
/// live secret (an invitation, verification or password-reset link) that
/// must not outlive its delivery in the database. Recipient, subject,
/// status, attempts and times stay for the delivery history.
pub fn mark_sent(conn: &mut AnyConnection, id: &str) -> Result<(), DbError> {
    diesel::update(outbox_emails::table.find(id))
        .set((
            outbox_emails::sent_at.eq(now()),
            outbox_emails::text_body.eq(""),
            outbox_emails::html_body.eq(""),
            outbox_emails::attempts.eq(outbox_emails::attempts + 1),
            outbox_emails::claimed_until.eq(None::<NaiveDateTime>),
            outbox_emails::last_error.eq(None::<String>),
        ))
        .execute(conn)?;
    Ok(())
}

/// Records a failed attempt and when to try again.
pub fn mark_failed(
    conn: &mut AnyConnection,
    id: &str,
    error: &str,
    retry_at: NaiveDateTime,
) -> Result<(), DbError> {
    let error: String = error.chars().take(500).collect();
    diesel::update(outbox_emails::table.find(id))
        .set((
            outbox_emails::attempts.eq(outbox_emails::attempts + 1),
            outbox_emails::next_attempt_at.eq(retry_at),
            outbox_emails::claimed_until.eq(None::<NaiveDateTime>),
            outbox_emails::last_error.eq(Some(error)),
        ))
        .execute(conn)?;
    Ok(())
}

/// How the latest email of an invitation fared (the members page shows it).
#[derive(Debug, Clone, Queryable)]
pub struct Delivery {
    /// Attempts so far.
    pub attempts: i32,
    /// When it went out.
    pub sent_at: Option<NaiveDateTime>,
    /// The last error.
    pub last_error: Option<String>,
}

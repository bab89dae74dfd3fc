//! What the account links share: 256-bit tokens from the CSPRNG of which
//! only the SHA-256 is stored, the emails that carry them (askama templates
//! `emails/account.{txt,html}`, queued in the outbox inside the caller's
//! transaction) and links built from the configured base URL, never from
//! the request's `Host` header.

use askama::Template;

use crate::db;
use crate::services::ServiceError;
use crate::services::members::hash_token;

/// How long an email-verification link works.
pub const VERIFY_EMAIL_TTL: chrono::Duration = chrono::Duration::hours(24);
/// How long a password-reset link works.
pub const PASSWORD_RESET_TTL: chrono::Duration = chrono::Duration::hours(1);
/// How long an email-change confirmation link works.
pub const EMAIL_CHANGE_TTL: chrono::Duration = chrono::Duration::hours(24);
/// Seconds between two verification or email-change emails of one account.
pub const RESEND_INTERVAL_SECONDS: i64 = 60;

/// A fresh token (for the link) and its hash (for the database).
pub fn new_token() -> (String, String) {
    let token = hex::encode(rand::random::<[u8; 32]>());
    let hash = hash_token(&token);
    (token, hash)
}

/// The plain-text part of an account email.
#[derive(Template)]
#[template(path = "emails/account.txt")]
struct AccountText<'a> {
    name: &'a str,
    intro: &'a str,
    action: &'a str,
    link: Option<&'a str>,
    outro: &'a str,
}

/// The HTML part of an account email.
#[derive(Template)]
#[template(path = "emails/account.html")]
struct AccountHtml<'a> {
    name: &'a str,
    intro: &'a str,
    action: &'a str,
    link: Option<&'a str>,
    outro: &'a str,
}

/// One account email: a greeting, what happened, an optional button and a
/// closing line that says how long the link works and what to do if it
/// wasn't you.
pub struct AccountMail<'a> {
    /// Recipient.
    pub to: &'a str,
    /// Subject line.
    pub subject: &'a str,
    /// Who is greeted.
    pub name: &'a str,
    /// What happened.
    pub intro: &'a str,
    /// The label of the link.
    pub action: &'a str,
    /// The link, if the email carries one.
    pub link: Option<&'a str>,
    /// How long the link works; what to do if it wasn't you.
    pub outro: &'a str,
}

/// Renders and queues an account email (inside the caller's transaction).
pub fn queue(conn: &mut db::AnyConnection, mail: &AccountMail<'_>) -> Result<(), ServiceError> {
    let text = AccountText {
        name: mail.name,
        intro: mail.intro,
        action: mail.action,
        link: mail.link,
        outro: mail.outro,
    }
    .render()
    .map_err(|e| ServiceError::Internal(e.to_string()))?;
    let html = AccountHtml {
        name: mail.name,
        intro: mail.intro,
        action: mail.action,
        link: mail.link,
        outro: mail.outro,
    }
    .render()
    .map_err(|e| ServiceError::Internal(e.to_string()))?;
    db::outbox::enqueue(
        conn,
        &db::outbox::NewEmail {
            to: mail.to,
            subject: mail.subject,
            text: &text,
            html: &html,
            invitation_id: None,
        },
    )?;
    Ok(())
}

/// The address a usable link of `purpose` was sent to (for the page the
/// link opens); `None` for unknown, used, expired and other-purpose links
/// alike.
pub async fn target(
    service: &super::AccountService,
    token: &str,
    purpose: db::account_tokens::TokenPurpose,
) -> Result<Option<String>, crate::services::ServiceError> {
    let token_hash = hash_token(token);
    Ok(service
        .db
        .run(move |conn| db::account_tokens::usable(conn, &token_hash, purpose))
        .await?
        .map(|t| t.email))
}

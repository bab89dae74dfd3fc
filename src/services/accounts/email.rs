//! Proving and changing an account's email address. Sign-up mails a
//! verification link (the account works at once; a banner asks to confirm);
//! a resend is allowed once a minute. Changing the address needs the
//! current password, mails a confirmation link to the new address and a
//! notice to the old one, and applies only when the link is followed.
//!
//! The confirmation link alone identifies the change (whoever opens it need
//! not be signed in): it was issued after re-authentication and only reaches
//! the new inbox, and people often open mail on another device. Following it
//! still takes a POST from the page it opens, so a mail scanner that fetches
//! links changes nothing.

use super::tokens::{
    self, AccountMail, EMAIL_CHANGE_TTL, RESEND_INTERVAL_SECONDS, VERIFY_EMAIL_TTL,
};
use super::{AccountService, account_context, record_account_event};
use crate::db::account_tokens::{NewToken, TokenPurpose};
use crate::db::audit::{Actor, Event};
use crate::db::scope::Scope;
use crate::db::{self, DbError, UniqueKey, write_transaction};
use crate::domain::password::plausible_for_sign_in;
use crate::domain::time::format_time;
use crate::domain::{Email, FieldErrors, UserId};
use crate::services::ServiceError;
use crate::services::mail::Notifier;
use crate::services::members::hash_token;

/// A verification link about to be mailed: the token's hash for the
/// database and the link for the email.
pub(crate) struct Verification {
    token_hash: String,
    link: String,
}

impl Verification {
    /// A fresh verification link.
    pub(crate) fn new(mail: &Notifier) -> Self {
        let (token, token_hash) = tokens::new_token();
        Self {
            token_hash,
            link: mail.link(&format!("/email/verify/{token}")),
        }
    }

    /// Stores the token and queues the email (inside the caller's transaction).
    pub(crate) fn queue(
        &self,
        conn: &mut db::AnyConnection,
        user: &UserId,
        email: &str,
        name: &str,
    ) -> Result<(), ServiceError> {
        let expires_at = db::now() + VERIFY_EMAIL_TTL;
        db::account_tokens::create(
            conn,
            &NewToken {
                user_id: user,
                purpose: TokenPurpose::VerifyEmail,
                token_hash: &self.token_hash,
                email,
                expires_at,
            },
        )?;
        let outro = format!(
            "The link works once and expires on {}. If you did not create a Tenantry account, you can ignore this email.",
            format_time(&expires_at)
        );
        tokens::queue(
            conn,
            &AccountMail {
                to: email,
                subject: "Confirm your email address for Tenantry",
                name,
                intro: "Please confirm that this is your email address, so that invitations sent to it reach you and you can reset your password if you forget it.",
                action: "Confirm your email address",
                link: Some(&self.link),
                outro: &outro,
            },
        )
    }

    /// Wakes the mail worker (and logs the link without SMTP).
    pub(crate) fn after_commit(&self, mail: &Notifier, to: &str) {
        mail.after_commit(to, "email verification", &self.link);
    }
}

/// Sends a new verification link to the signed-in user, at most once a
/// minute. `Ok(false)` when the address is already verified.
pub async fn resend_verification(
    service: &AccountService,
    scope: &Scope,
) -> Result<bool, ServiceError> {
    let user = scope.user().clone();
    if user.email_verified_at.is_some() {
        return Ok(false);
    }
    let verification = Verification::new(&service.mail);
    let (actor, personal) = account_context(scope)?;
    let (to, queued) = (user.email.clone(), verification);
    let queued = service
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                let last = db::account_tokens::last_issued(conn, &user.id, TokenPurpose::VerifyEmail)?;
                if last.is_some_and(|at| {
                    at > db::now() - chrono::Duration::seconds(RESEND_INTERVAL_SECONDS)
                }) {
                    return Err(ServiceError::Refused(
                        "A verification email was sent a moment ago. Wait a minute before asking for another one.",
                    ));
                }
                queued.queue(conn, &user.id, &user.email, &user.name)?;
                record_account_event(
                    conn,
                    &personal,
                    &actor,
                    Event::account_email_verification_sent,
                    format!("to {}", user.email),
                )?;
                Ok(queued)
            })
        })
        .await?;
    queued.after_commit(&service.mail, &to);
    Ok(true)
}

/// The address a usable verification link would confirm (for the page the
/// link opens); `None` for unknown, used and expired links alike.
pub async fn verification_target(
    service: &AccountService,
    token: &str,
) -> Result<Option<String>, ServiceError> {
    super::tokens::target(service, token, TokenPurpose::VerifyEmail).await
}

/// Follows a verification link: consumes it and marks the address verified,
/// if it is still the account's address.
pub async fn verify(
    service: &AccountService,
    token: &str,
    client_ip: &str,
) -> Result<(), ServiceError> {
    let (token_hash, ip) = (hash_token(token), client_ip.to_owned());
    service
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                let token =
                    db::account_tokens::consume(conn, &token_hash, TokenPurpose::VerifyEmail)?
                        .ok_or(ServiceError::NotFound)?;
                if !db::users::mark_email_verified_if_current(conn, &token.user_id, &token.email)? {
                    // The account moved to another address since: this link proves nothing now.
                    return Err(ServiceError::NotFound);
                }
                let user = db::users::find(conn, &token.user_id)?;
                let personal = db::workspaces::personal_of(conn, &user.id)?;
                let actor = Actor {
                    user_id: user.id.clone(),
                    name: user.name.clone(),
                    ip,
                };
                record_account_event(
                    conn,
                    &personal,
                    &actor,
                    Event::account_email_verify,
                    user.email,
                )?;
                Ok(())
            })
        })
        .await
}

/// What the email-change form asks.
#[derive(Debug, Clone)]
pub struct EmailChangeRequest {
    /// The new address.
    pub new_email: String,
    /// The current password (re-authentication).
    pub current_password: String,
}

/// Starts an email change: checks the current password, then mails a
/// confirmation link to the new address and a notice to the old one.
/// Nothing changes until the link is followed. Returns the new address.
pub async fn request_change(
    service: &AccountService,
    scope: &Scope,
    request: EmailChangeRequest,
) -> Result<String, ServiceError> {
    let user = scope.user().clone();
    let mut errors = FieldErrors::new();
    let new_email = errors.check("new_email", Email::parse(&request.new_email));
    if request.current_password.is_empty() {
        errors.add("email_current_password", "Enter your current password.");
    }
    if new_email.as_ref().is_some_and(|e| e.as_str() == user.email) {
        errors.add("new_email", "This is already your email address.");
    }
    let Some(new_email) = new_email.filter(|_| errors.is_empty()) else {
        return Err(ServiceError::Invalid(errors));
    };
    let (id, lookup) = (user.id.clone(), new_email.clone());
    let (stored, taken) = service
        .db
        .run(move |conn| {
            Ok::<_, DbError>((
                db::users::credentials(conn, &id)?,
                db::users::credentials_by_email(conn, &lookup)?.is_some(),
            ))
        })
        .await?;
    let current_ok = plausible_for_sign_in(&request.current_password)
        && service
            .hasher
            .verify(request.current_password, Some(stored.password_hash))
            .await?;
    if !current_ok {
        errors.add(
            "email_current_password",
            "That is not your current password.",
        );
        return Err(ServiceError::Invalid(errors));
    }
    if taken {
        errors.add(
            "new_email",
            "Another account already uses this email address.",
        );
        return Err(ServiceError::Invalid(errors));
    }
    let (token, token_hash) = tokens::new_token();
    let link = service.mail.link(&format!("/email/change/{token}"));
    let reset_link = service.mail.link("/password/forgot");
    let (actor, personal) = account_context(scope)?;
    let (new, link_c) = (new_email.as_str().to_owned(), link.clone());
    service
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                let last = db::account_tokens::last_issued(conn, &user.id, TokenPurpose::EmailChange)?;
                if last.is_some_and(|at| {
                    at > db::now() - chrono::Duration::seconds(RESEND_INTERVAL_SECONDS)
                }) {
                    return Err(ServiceError::Refused(
                        "A confirmation link was sent a moment ago. Wait a minute before asking for another one.",
                    ));
                }
                let expires_at = db::now() + EMAIL_CHANGE_TTL;
                db::account_tokens::create(
                    conn,
                    &NewToken {
                        user_id: &user.id,
                        purpose: TokenPurpose::EmailChange,
                        token_hash: &token_hash,
                        email: &new,
                        expires_at,
                    },
                )?;
                let intro = format!(
                    "You asked to change the email address of your Tenantry account from {} to this address.",
                    user.email
                );
                let outro = format!(
                    "Nothing changes until you follow the link. It works once and expires on {}. If you did not ask for this, ignore this email.",
                    format_time(&expires_at)
                );
                tokens::queue(
                    conn,
                    &AccountMail {
                        to: &new,
                        subject: "Confirm your new email address for Tenantry",
                        name: &user.name,
                        intro: &intro,
                        action: "Confirm the change",
                        link: Some(&link_c),
                        outro: &outro,
                    },
                )?;
                let notice = format!(
                    "Someone signed in to your Tenantry account asked to change its email address from this address to {new}. The change happens only when the link sent to {new} is followed."
                );
                tokens::queue(
                    conn,
                    &AccountMail {
                        to: &user.email,
                        subject: "Your Tenantry email address is about to change",
                        name: &user.name,
                        intro: &notice,
                        action: "If this was not you, reset your password now",
                        link: Some(&reset_link),
                        outro: "Resetting your password signs out every session of your account.",
                    },
                )?;
                record_account_event(
                    conn,
                    &personal,
                    &actor,
                    Event::account_email_change_request,
                    format!("{} → {new}", user.email),
                )?;
                Ok(())
            })
        })
        .await?;
    service
        .mail
        .after_commit(new_email.as_str(), "email change", &link);
    Ok(new_email.as_str().to_owned())
}

/// The change a usable email-change link would make: (old, new) address.
pub async fn change_target(
    service: &AccountService,
    token: &str,
) -> Result<Option<(String, String)>, ServiceError> {
    let token_hash = hash_token(token);
    Ok(service
        .db
        .run(move |conn| {
            let Some(token) =
                db::account_tokens::usable(conn, &token_hash, TokenPurpose::EmailChange)?
            else {
                return Ok::<_, DbError>(None);
            };
            let user = db::users::find(conn, &token.user_id)?;
            Ok(Some((user.email, token.email)))
        })
        .await?)
}

/// Follows an email-change link: consumes it and moves the account to the
/// new address (verified: the link proved it), if no other account took
/// the address meanwhile. Links mailed to the old address stop working; the
/// old address gets a notice. Returns the new address.
pub async fn confirm_change(
    service: &AccountService,
    token: &str,
    client_ip: &str,
) -> Result<String, ServiceError> {
    let (token_hash, ip) = (hash_token(token), client_ip.to_owned());
    let reset_link = service.mail.link("/password/forgot");
    let outcome: Result<String, ServiceError> = service
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                let token = db::account_tokens::consume(conn, &token_hash, TokenPurpose::EmailChange)?
                    .ok_or(ServiceError::NotFound)?;
                let user = db::users::find(conn, &token.user_id)?;
                let new = Email::parse(&token.email).map_err(|_| ServiceError::NotFound)?;
                db::users::change_email(conn, &user.id, &new)?;
                db::account_tokens::void_for_user(
                    conn,
                    &user.id,
                    &[
                        TokenPurpose::VerifyEmail,
                        TokenPurpose::PasswordReset,
                        TokenPurpose::EmailChange,
                    ],
                )?;
                let notice = format!(
                    "The email address of your Tenantry account was changed from this address to {}.",
                    new.as_str()
                );
                tokens::queue(
                    conn,
                    &AccountMail {
                        to: &user.email,
                        subject: "Your Tenantry email address was changed",
                        name: &user.name,
                        intro: &notice,
                        action: "If this was not you, reset your password",
                        link: Some(&reset_link),
                        outro: "You will not receive mail about this account at this address any more.",
                    },
                )?;
                let personal = db::workspaces::personal_of(conn, &user.id)?;
                let actor = Actor {
                    user_id: user.id.clone(),
                    name: user.name.clone(),
                    ip,
                };
                record_account_event(
                    conn,
                    &personal,
                    &actor,
                    Event::account_email_change,
                    format!("{} → {}", user.email, new.as_str()),
                )?;
                Ok(new.as_str().to_owned())
            })
        })
        .await;
    match outcome {
        Ok(new) => {
            service.mail.wake();
            Ok(new)
        }
        Err(error) if error.is_conflict_on(&UniqueKey::UserEmail) => Err(ServiceError::conflict(
            "email",
            "Another account uses this address now, so the change was not made.",
        )),
        Err(other) => Err(other),
    }
}

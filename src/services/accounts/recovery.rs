//! Password reset by email. Asking for a link answers the same, in the same
//! time, whether or not an account uses the address: both paths do the same
//! database work (throttle check, one attempt row per key, one lookup, one
//! email queued — the reset link, or a note that no account uses the
//! address) and neither hashes a password. Requests are limited per address
//! and per client IP, counted in the database so the limit holds across
//! instances. Following the link sets a new password (the sign-up rules),
//! proves the address, voids every other link of the account, signs out
//! every session of it and signs this browser in: whoever registered
//! someone else's address first loses the account to its real owner.

use super::tokens::{self, AccountMail, PASSWORD_RESET_TTL};
use super::{AccountService, SignedIn, record_account_event};
use crate::db::account_tokens::{NewToken, TokenPurpose};
use crate::db::audit::{Actor, Event};
use crate::db::throttle::{KeyLimit, Reservation};
use crate::db::{self, DbError, write_transaction};
use crate::domain::time::format_time;
use crate::domain::{Email, FieldErrors, Password, UserStatus};
use crate::services::ServiceError;
use crate::services::members::hash_token;

/// Mails a reset link to the account using `email`, or a note that none
/// does. The outcome says nothing about which it was.
pub async fn request_reset(
    service: &AccountService,
    email: &str,
    client_ip: &str,
) -> Result<(), ServiceError> {
    let mut errors = FieldErrors::new();
    if email.trim().is_empty() {
        errors.add("email", "Enter the email address of your account.");
        return Err(ServiceError::Invalid(errors));
    }
    let Some(email) = errors.check("email", Email::parse(email)) else {
        return Err(ServiceError::Invalid(errors));
    };
    let keys = [
        format!("reset-email:{email}"),
        format!("reset-ip:{client_ip}"),
    ];
    let throttle = service.reset_throttle;
    let (token, token_hash) = tokens::new_token();
    let link = service.mail.link(&format!("/password/reset/{token}"));
    let signup_link = service.mail.link("/signup");
    let (to, link_c, ip) = (email.clone(), link.clone(), client_ip.to_owned());
    let known = service
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                let now = db::now();
                let limits = [
                    KeyLimit {
                        key: &keys[0],
                        max: throttle.per_account,
                        window: throttle.window,
                    },
                    KeyLimit {
                        key: &keys[1],
                        max: throttle.per_ip,
                        window: throttle.window,
                    },
                ];
                if let Reservation::Refused { until } =
                    db::throttle::reserve(conn, &limits, now)?
                {
                    let minutes = ((until - now).num_seconds() + 59) / 60;
                    return Err(ServiceError::Throttled {
                        retry_after_minutes: minutes.max(1),
                    });
                }
                let account = db::users::credentials_by_email(conn, &to)?
                    .filter(|c| c.status == UserStatus::Active);
                let expires_at = now + PASSWORD_RESET_TTL;
                match &account {
                    Some(account) => {
                        db::account_tokens::create(
                            conn,
                            &NewToken {
                                user_id: &account.id,
                                purpose: TokenPurpose::PasswordReset,
                                token_hash: &token_hash,
                                email: to.as_str(),
                                expires_at,
                            },
                        )?;
                        let outro = format!(
                            "The link works once, for one hour (until {}). Using it signs out every session of the account. If you did not ask for it, ignore this email: your password stays as it is.",
                            format_time(&expires_at)
                        );
                        tokens::queue(
                            conn,
                            &AccountMail {
                                to: to.as_str(),
                                subject: "Reset your Tenantry password",
                                name: &account.name,
                                intro: "Someone (hopefully you) asked to reset the password of the Tenantry account that uses this address.",
                                action: "Choose a new password",
                                link: Some(&link_c),
                                outro: &outro,
                            },
                        )?;
                        let personal = db::workspaces::personal_of(conn, &account.id)?;
                        let actor = Actor {
                            user_id: account.id.clone(),
                            name: account.name.clone(),
                            ip: ip.clone(),
                        };
                        record_account_event(
                            conn,
                            &personal,
                            &actor,
                            Event::account_password_reset_request,
                            String::new(),
                        )?;
                    }
                    None => tokens::queue(
                        conn,
                        &AccountMail {
                            to: to.as_str(),
                            subject: "Reset your Tenantry password",
                            name: "there",
                            intro: "Someone (hopefully you) asked to reset a Tenantry password for this address, but no active Tenantry account uses it. Perhaps you signed up with another address?",
                            action: "Create an account",
                            link: Some(&signup_link),
                            outro: "If you did not ask for this, you can ignore this email.",
                        },
                    )?,
                }
                Ok::<_, ServiceError>(account.is_some())
            })
        })
        .await?;
    if known {
        service
            .mail
            .after_commit(email.as_str(), "password reset", &link);
    } else {
        service.mail.wake();
    }
    Ok(())
}

/// The address a usable reset link was sent to (for the page it opens);
/// `None` for unknown, used, expired and other-purpose links alike.
pub async fn reset_target(
    service: &AccountService,
    token: &str,
) -> Result<Option<String>, ServiceError> {
    tokens::target(service, token, TokenPurpose::PasswordReset).await
}

/// Follows a reset link: sets the new password, proves the address, voids
/// every other link of the account, ends every session of it, and returns
/// the sign-in for this browser.
pub async fn reset_password(
    service: &AccountService,
    token: &str,
    new_password: &str,
    client_ip: &str,
) -> Result<SignedIn, ServiceError> {
    let token_hash = hash_token(token);
    let lookup = token_hash.clone();
    let user = service
        .db
        .run(move |conn| {
            let Some(token) =
                db::account_tokens::usable(conn, &lookup, TokenPurpose::PasswordReset)?
            else {
                return Ok::<_, DbError>(None);
            };
            Ok(Some(db::users::find(conn, &token.user_id)?))
        })
        .await?
        .ok_or(ServiceError::NotFound)?;
    let mut errors = FieldErrors::new();
    let context = [user.email.as_str(), user.name.as_str()];
    let Some(password) = errors.check("password", Password::parse_new(new_password, &context))
    else {
        return Err(ServiceError::Invalid(errors));
    };
    let hash = service.hasher.hash(password).await?;
    let ip = client_ip.to_owned();
    service
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                // The conditional update decides: of two tabs racing with one
                // link, only one gets here.
                let token =
                    db::account_tokens::consume(conn, &token_hash, TokenPurpose::PasswordReset)?
                        .ok_or(ServiceError::NotFound)?;
                db::users::set_password_hash(conn, &token.user_id, &hash)?;
                db::users::mark_email_verified_if_current(conn, &token.user_id, &token.email)?;
                db::account_tokens::void_for_user(
                    conn,
                    &token.user_id,
                    &[
                        TokenPurpose::VerifyEmail,
                        TokenPurpose::PasswordReset,
                        TokenPurpose::EmailChange,
                    ],
                )?;
                let ended = db::sessions::delete_all_of_user(conn, &token.user_id)?;
                db::throttle::clear(conn, &format!("account:{}", token.email))?;
                db::users::record_sign_in(conn, &token.user_id)?;
                let personal = db::workspaces::personal_of(conn, &token.user_id)?;
                let actor = Actor {
                    user_id: token.user_id.clone(),
                    name: user.name.clone(),
                    ip,
                };
                record_account_event(
                    conn,
                    &personal,
                    &actor,
                    Event::account_password_reset,
                    format!("{ended} session(s) signed out"),
                )?;
                Ok(SignedIn {
                    user_id: token.user_id,
                    personal_workspace: personal,
                })
            })
        })
        .await
}

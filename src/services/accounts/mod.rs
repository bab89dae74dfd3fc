//! Accounts: sign-up, sign-in (with throttling), password and profile
//! changes. These are the domain functions behind the entry and account
//! pages; handlers parse the form, call one of these and render the result.

pub mod email;
pub mod passwords;
pub mod recovery;
pub mod tokens;

use crate::config::{LoginThrottle, RateLimit};
use crate::db::audit::{Actor, Constructor, Event};
use crate::db::scope::Scope;
use crate::db::throttle::{KeyLimit, Reservation};
use crate::db::{self, Db, DbError, UniqueKey, write_transaction};
use crate::domain::password::plausible_for_sign_in;
use crate::domain::{Email, FieldErrors, Password, PersonName, UserId, UserStatus, WorkspaceId};
use crate::services::ServiceError;
use crate::services::mail::Notifier;

/// What sign-up and sign-in can refuse, by what the form should show.
/// What the account service needs: the database, the password hasher, the
/// mail notifier for verification and reset links, and the throttling
/// limits. Built once at start-up; handlers, the CLI and tests share it.
#[derive(Clone)]
pub struct AccountService {
    /// The database.
    pub db: Db,
    /// Password hashing with bounded concurrency.
    pub hasher: passwords::PasswordHasher,
    /// Builds links and wakes the mail worker.
    pub mail: Notifier,
    /// Failed sign-ins allowed per account and per IP.
    pub login_throttle: LoginThrottle,
    /// Sign-ups allowed per IP.
    pub signup_throttle: RateLimit,
    /// Password-reset requests allowed per address and per IP.
    pub reset_throttle: LoginThrottle,
}

/// What a new account starts with.
#[derive(Debug, Clone)]
pub struct SignUpInput {
    /// Display name.
    pub name: String,
    /// Email address.
    pub email: String,
    /// Password.
    pub password: String,
    /// Whether the email is proven (the sign-up came from an invitation
    /// link sent to it).
    pub email_verified: bool,
}

/// A successful sign-up or sign-in: who, and where they start.
#[derive(Debug, Clone)]
pub struct SignedIn {
    /// The account.
    pub user_id: UserId,
    /// Their personal workspace, active after sign-in.
    pub personal_workspace: WorkspaceId,
}

/// Creates an account and its personal workspace.
pub async fn sign_up(
    service: &AccountService,
    input: SignUpInput,
    client_ip: &str,
) -> Result<SignedIn, ServiceError> {
    let mut errors = FieldErrors::new();
    let name = errors.check("name", PersonName::parse(&input.name));
    let email = errors.check("email", Email::parse(&input.email));
    let context: Vec<&str> = [input.name.as_str(), input.email.as_str()]
        .into_iter()
        .collect();
    let password = errors.check("password", Password::parse_new(&input.password, &context));
    let (Some(name), Some(email), Some(password)) = (name, email, password) else {
        return Err(ServiceError::Invalid(errors));
    };
    reserve_sign_up(service, client_ip).await?;
    let taken_email = email.clone();
    let taken = service
        .db
        .run(move |conn| {
            Ok::<_, DbError>(db::users::credentials_by_email(conn, &taken_email)?.is_some())
        })
        .await?;
    if taken {
        return Err(email_taken());
    }
    let hash = service.hasher.hash(password).await?;
    let ip = client_ip.to_owned();
    // From an invitation link the address is proven; otherwise a
    // verification link is mailed in the same transaction.
    let verification = (!input.email_verified).then(|| email::Verification::new(&service.mail));
    let created = service
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                let (user, personal) = db::users::create(conn, &email, &name, &hash)?;
                match &verification {
                    None => db::users::mark_email_verified(conn, &user.id)?,
                    Some(verification) => {
                        verification.queue(conn, &user.id, email.as_str(), name.as_str())?
                    }
                }
                // Signing up signs in.
                db::users::record_sign_in(conn, &user.id)?;
                let actor = Actor {
                    user_id: user.id.clone(),
                    name: user.name.clone(),
                    ip,
                };
                record_account_event(
                    conn,
                    &personal,
                    &actor,
                    Event::account_create,
                    String::new(),
                )?;
                Ok::<_, ServiceError>((user, personal, verification))
            })
        })
        .await;
    match created {
        Ok((user, personal_workspace, verification)) => {
            if let Some(verification) = verification {
                verification.after_commit(&service.mail, &user.email);
            }
            Ok(SignedIn {
                user_id: user.id,
                personal_workspace,
            })
        }
        // Two sign-ups racing for one email: the loser gets the form error.
        Err(error) if error.is_conflict_on(&UniqueKey::UserEmail) => Err(email_taken()),
        Err(error) => Err(error),
    }
}

/// The refusal for a limit that lifts at `until`, in whole minutes (at least one).
fn throttled(until: chrono::NaiveDateTime) -> ServiceError {
    let minutes = ((until - db::now()).num_seconds() + 59) / 60;
    ServiceError::Throttled {
        retry_after_minutes: minutes.max(1),
    }
}

/// Counts a sign-up against the client IP before its password is hashed;
/// refused past `signup_max_per_ip` within the window.
async fn reserve_sign_up(service: &AccountService, client_ip: &str) -> Result<(), ServiceError> {
    let key = format!("signup-ip:{client_ip}");
    let limit = service.signup_throttle;
    service
        .db
        .run(move |conn| {
            let limits = [KeyLimit {
                key: &key,
                max: limit.max,
                window: limit.window,
            }];
            db::throttle::reserve(conn, &limits, db::now())
        })
        .await
        .map_err(ServiceError::from)
        .and_then(|reservation| match reservation {
            Reservation::Granted(_) => Ok(()),
            Reservation::Refused { until } => Err(throttled(until)),
        })
}

fn email_taken() -> ServiceError {
    ServiceError::conflict(
        "email",
        "An account with this email already exists. Sign in instead?",
    )
}

/// Checks an email and password. Unknown emails cost the same argon2 time
/// as wrong passwords. Every attempt is first reserved against both the
/// account and the client IP (one database transaction, atomic across
/// instances); past either limit, attempts are refused without hashing. A
/// success takes its reservations back and clears the account's failures.
pub async fn sign_in(
    service: &AccountService,
    email: &str,
    password: String,
    client_ip: &str,
) -> Result<SignedIn, ServiceError> {
    let email = sign_in_email(email, &password)?;
    let account_key = format!("account:{email}");
    let ip_key = format!("ip:{client_ip}");
    let throttle = service.login_throttle;
    let (lookup_email, keys) = (email.clone(), [account_key.clone(), ip_key]);
    // The attempt is reserved (counted) before the password is checked, so
    // parallel guesses can't all slip under the limit.
    let (credentials, ip_reservation) = service
        .db
        .run(move |conn| {
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
            match db::throttle::reserve(conn, &limits, db::now())? {
                Reservation::Refused { until } => Ok(Err(throttled(until))),
                Reservation::Granted(mut ids) => {
                    let credentials = db::users::credentials_by_email(conn, &lookup_email)?;
                    Ok::<_, DbError>(Ok((credentials, ids.pop())))
                }
            }
        })
        .await??;
    let active = credentials.filter(|c| c.status == UserStatus::Active);
    let stored_hash = active.as_ref().map(|c| c.password_hash.clone());
    let matches =
        plausible_for_sign_in(&password) && service.hasher.verify(password, stored_hash).await?;
    match (matches, active) {
        (true, Some(credentials)) => {
            let actor = Actor {
                user_id: credentials.id,
                name: credentials.name,
                ip: client_ip.to_owned(),
            };
            record_success(service, actor, account_key, ip_reservation).await
        }
        // The reservation stays: it counts as the failure.
        _ => Err(ServiceError::BadCredentials),
    }
}

/// The sign-in form's email, or what is missing from the form.
fn sign_in_email(email: &str, password: &str) -> Result<Email, ServiceError> {
    let mut errors = FieldErrors::new();
    if email.trim().is_empty() {
        errors.add("email", "Enter your email address.");
    }
    if password.is_empty() {
        errors.add("password", "Enter your password.");
    }
    if !errors.is_empty() {
        return Err(ServiceError::Invalid(errors));
    }
    Email::parse(email).map_err(|_| {
        ServiceError::invalid("email", "Enter an email address like name@example.com.")
    })
}

/// A successful sign-in, in one transaction: forgets the account's failures
/// and this attempt's per-IP reservation (a success is no failure), records
/// the sign-in and audits it in the personal workspace.
async fn record_success(
    service: &AccountService,
    actor: Actor,
    account_key: String,
    ip_reservation: Option<String>,
) -> Result<SignedIn, ServiceError> {
    let user_id = actor.user_id.clone();
    let personal_workspace = service
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                db::throttle::clear(conn, &account_key)?;
                if let Some(id) = &ip_reservation {
                    db::throttle::release(conn, id)?;
                }
                db::users::record_sign_in(conn, &actor.user_id)?;
                let personal = db::workspaces::personal_of(conn, &actor.user_id)?;
                record_account_event(
                    conn,
                    &personal,
                    &actor,
                    Event::account_sign_in,
                    String::new(),
                )?;
                Ok::<_, DbError>(personal)
            })
        })
        .await?;
    Ok(SignedIn {
        user_id,
        personal_workspace,
    })
}

/// What a password change asks for.
#[derive(Debug, Clone)]
pub struct PasswordChange {
    /// The current password (re-authentication).
    pub current: String,
    /// The new password.
    pub new: String,
    /// Whether to end every other session of the user.
    pub sign_out_others: bool,
}

/// Changes the password after checking the current one; optionally ends
/// every other session. Returns how many sessions were ended.
pub async fn change_password(
    service: &AccountService,
    scope: &Scope,
    change: PasswordChange,
) -> Result<usize, ServiceError> {
    let user = scope.user();
    let mut errors = FieldErrors::new();
    if change.current.is_empty() {
        errors.add("current_password", "Enter your current password.");
    }
    let context = [user.email.as_str(), user.name.as_str()];
    let new = errors.check("new_password", Password::parse_new(&change.new, &context));
    let Some(new) = new.filter(|_| errors.is_empty()) else {
        return Err(ServiceError::Invalid(errors));
    };
    let id = user.id.clone();
    let stored = service
        .db
        .run(move |conn| db::users::credentials(conn, &id))
        .await?;
    let current_ok = plausible_for_sign_in(&change.current)
        && service
            .hasher
            .verify(change.current, Some(stored.password_hash))
            .await?;
    if !current_ok {
        errors.add("current_password", "That is not your current password.");
        return Err(ServiceError::Invalid(errors));
    }
    let hash = service.hasher.hash(new).await?;
    let (id, keep) = (user.id.clone(), scope.session_public_id().to_owned());
    let (actor, personal) = account_context(scope)?;
    let ended = service
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                db::users::set_password_hash(conn, &id, &hash)?;
                let ended = if change.sign_out_others {
                    db::sessions::delete_others_of_user(conn, &id, &keep)?
                } else {
                    0
                };
                let details = format!("{ended} other session(s) signed out");
                record_account_event(
                    conn,
                    &personal,
                    &actor,
                    Event::account_password_change,
                    details,
                )?;
                Ok::<_, DbError>(ended)
            })
        })
        .await?;
    Ok(ended)
}

/// Renames the user.
pub async fn rename(
    service: &AccountService,
    scope: &Scope,
    name: &str,
) -> Result<(), ServiceError> {
    let mut errors = FieldErrors::new();
    let Some(name) = errors.check("name", PersonName::parse(name)) else {
        return Err(ServiceError::Invalid(errors));
    };
    let id = scope.user_id().clone();
    let details = format!("name: {} → {}", scope.user().name, name);
    let (actor, personal) = account_context(scope)?;
    service
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                db::users::rename(conn, &id, &name)?;
                record_account_event(
                    conn,
                    &personal,
                    &actor,
                    Event::account_profile_update,
                    details,
                )
            })
        })
        .await?;
    Ok(())
}

/// Signs out one of the user's other sessions; returns whether one ended (a
/// public id of someone else's session matches nothing).
pub async fn revoke_session(
    service: &AccountService,
    scope: &Scope,
    public_id: String,
) -> Result<bool, ServiceError> {
    let user = scope.user_id().clone();
    let (actor, personal) = account_context(scope)?;
    Ok(service
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                let ended = db::sessions::delete_one_of_user(conn, &user, &public_id)?;
                if ended {
                    record_account_event(
                        conn,
                        &personal,
                        &actor,
                        Event::account_session_revoke,
                        String::new(),
                    )?;
                }
                Ok::<_, DbError>(ended)
            })
        })
        .await?)
}

/// Signs out every session of the user but the current one; returns how many ended.
pub async fn revoke_other_sessions(
    service: &AccountService,
    scope: &Scope,
) -> Result<usize, ServiceError> {
    let (user, keep) = (
        scope.user_id().clone(),
        scope.session_public_id().to_owned(),
    );
    let (actor, personal) = account_context(scope)?;
    Ok(service
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                let ended = db::sessions::delete_others_of_user(conn, &user, &keep)?;
                let details = format!("{ended} session(s) signed out");
                record_account_event(
                    conn,
                    &personal,
                    &actor,
                    Event::account_session_revoke_others,
                    details,
                )?;
                Ok::<_, DbError>(ended)
            })
        })
        .await?)
}

/// Who is acting on their account, and the personal workspace whose audit
/// log records account events.
fn account_context(scope: &Scope) -> Result<(Actor, WorkspaceId), ServiceError> {
    let personal = scope
        .personal_workspace_id()
        .cloned()
        .ok_or(ServiceError::NotFound)?;
    Ok((Actor::of(scope), personal))
}

/// Account events are recorded in the user's personal workspace's log;
/// `action` is the event's constructor (`Event::account_sign_in`, …),
/// which takes the acting user's id as its target.
pub(crate) fn record_account_event(
    conn: &mut db::AnyConnection,
    personal: &WorkspaceId,
    actor: &Actor,
    action: Constructor<UserId>,
    details: String,
) -> Result<(), DbError> {
    let event = action(&actor.user_id, &actor.name).with_details(details);
    db::audit::record(conn, personal, actor, &event)
}

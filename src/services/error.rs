//! The one error every service returns. Each variant says what the user
//! should see, not where it came from; the web layer maps it once to a page
//! (or, later, a JSON error) and a status.

use crate::db::{DbError, UniqueKey};
use crate::domain::FieldErrors;
use crate::domain::permission::Forbidden;

/// Why a service did not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// Fields failed validation: the form is shown again (422) with a
    /// message beside each field and everything the user typed.
    #[error("invalid input")]
    Invalid(FieldErrors),
    /// Someone else holds the value (a taken slug or email, a pending
    /// invitation): recognised from the unique constraint that refused the
    /// write and, like `Invalid`, shown on the field it names (see
    /// [`ServiceError::conflict`]), so a form matches both in one arm.
    #[error("conflict: {0:?}")]
    Conflict(FieldErrors),
    /// A rule of the domain forbids it; the message says which and why (409).
    #[error("{0}")]
    Refused(&'static str),
    /// A limit of the workspace stops it (running agents, runtime hours);
    /// the message names the limit and who can raise it (409).
    #[error("{0}")]
    LimitReached(String),
    /// The platform's charge was refused: no funds, a suspended
    /// workspace (402), a model not allowed, a spend limit (403), or an
    /// idempotency key reused for another charge (409).
    #[error("charge refused: {0:?}")]
    ChargeRefused(crate::services::billing::ChargeRefusal),
    /// An API call's key is missing, malformed, unknown or revoked (401).
    #[error("no live API key")]
    KeyRejected,
    /// The key's workspace is suspended until its wallet is funded: the
    /// platform must not serve it (403).
    #[error("workspace suspended")]
    Suspended,
    /// A payment notification's signature doesn't check out, is too old,
    /// or its amount isn't the top-up's (401).
    #[error("payment notification signature rejected")]
    SignatureRejected,
    /// The acting role lacks a permission (403).
    #[error(transparent)]
    Forbidden(#[from] Forbidden),
    /// The thing doesn't exist here: a row of another workspace, a used or
    /// unknown link (404).
    #[error("not found")]
    NotFound,
    /// Unknown email or wrong password: deliberately indistinguishable.
    #[error("wrong email or password")]
    BadCredentials,
    /// Too many attempts from this client or on this account; the limit
    /// lifts in this many whole minutes (429).
    #[error("too many attempts, retry in {retry_after_minutes} min")]
    Throttled {
        /// Whole minutes until the oldest counted attempt leaves the window.
        retry_after_minutes: i64,
    },
    /// An API key used up its calls for this minute (429 with
    /// `Retry-After`).
    #[error("rate limited, retry in {retry_after_seconds} s")]
    RateLimited {
        /// Seconds until the key's next minute begins.
        retry_after_seconds: i64,
    },
    /// Storage failed or is unavailable.
    #[error(transparent)]
    Db(DbError),
    /// A bug or a failing dependency (password hashing, an email template);
    /// details go to the log only.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ServiceError {
    /// A validation error on one field.
    pub fn invalid(field: &'static str, message: &str) -> Self {
        let mut errors = FieldErrors::default();
        errors.add(field, message);
        ServiceError::Invalid(errors)
    }

    /// A unique-constraint clash shown on `field`.
    pub fn conflict(field: &'static str, message: &str) -> Self {
        let mut errors = FieldErrors::default();
        errors.add(field, message);
        ServiceError::Conflict(errors)
    }

    /// Whether storage refused a write because `key` is taken.
    pub fn is_conflict_on(&self, key: &UniqueKey) -> bool {
        matches!(self, ServiceError::Db(DbError::Conflict(found)) if found == key)
    }
}

impl From<DbError> for ServiceError {
    fn from(error: DbError) -> Self {
        match error {
            DbError::NotFound => ServiceError::NotFound,
            other => ServiceError::Db(other),
        }
    }
}

impl From<super::accounts::passwords::HashError> for ServiceError {
    fn from(error: super::accounts::passwords::HashError) -> Self {
        ServiceError::Internal(error.to_string())
    }
}

//! What a session remembers, behind typed accessors: the signed-in user,
//! the session's public id (how the account page names it), the active
//! workspace and a one-shot flash message. Handlers never touch raw keys.
//!
//! The store also hands the request what it read along with the session
//! (the user and the workspaces they may enter, see [`Preload`]) through a per-request slot ([`with_preload_slot`]), typed,
//! never through the session state.

pub mod store;

use std::cell::RefCell;

use actix_session::Session;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};

use crate::db::DbError;
use crate::db::users::User;
use crate::db::workspaces::WorkspaceAccess;
use crate::domain::{UserId, WorkspaceId};
use crate::web::error::AppError;

pub(crate) const USER_ID_KEY: &str = "uid";
pub(crate) const PUBLIC_ID_KEY: &str = "sid";
pub(crate) const WORKSPACE_KEY: &str = "wid";
const FLASH_KEY: &str = "flash";

/// Keys that only a signed-in session may carry.
pub(crate) const SIGNED_IN_KEYS: &[&str] = &[USER_ID_KEY, PUBLIC_ID_KEY, WORKSPACE_KEY];

/// A message shown once on the next page (POST → redirect → GET).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Flash {
    /// `success`, `info` or `error`.
    pub level: FlashLevel,
    /// The message.
    pub message: String,
}

/// How a flash message is styled.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum FlashLevel {
    /// Something worked.
    Success,
    /// Something to know.
    Info,
    /// Something went wrong.
    Error,
}

impl FlashLevel {
    /// CSS modifier used by the flash partial.
    pub fn css_class(self) -> &'static str {
        match self {
            FlashLevel::Success => "success",
            FlashLevel::Info => "info",
            FlashLevel::Error => "error",
        }
    }
}

/// What the session store read in the same statement as the session row:
/// the signed-in user and the workspaces they may enter right now, and the
/// activity last recorded. The `Scope` extractor builds from it without
/// another query. Lives only for the request.
#[derive(Debug, Clone)]
pub struct Preload {
    /// The user the session row names.
    pub user_id: Option<UserId>,
    /// That user, if the account is still active.
    pub user: Option<User>,
    /// The workspaces they may enter (personal first).
    pub accessible: Vec<WorkspaceAccess>,
    /// Last recorded activity.
    pub last_seen_at: NaiveDateTime,
    /// Client IP last recorded.
    pub ip: String,
    /// User agent last recorded.
    pub user_agent: String,
}

/// Typed access to a request's session.
pub struct SessionData<'a>(&'a Session);

impl<'a> SessionData<'a> {
    /// Wraps the request's session.
    pub fn new(session: &'a Session) -> Self {
        Self(session)
    }

    /// Starts a signed-in session: a new session key (the pre-sign-in one
    /// stops working), a new public id, and the personal workspace active.
    pub fn sign_in(
        &self,
        user: &UserId,
        workspace: &WorkspaceId,
    ) -> Result<(), actix_session::SessionInsertError> {
        self.0.renew();
        self.0.clear();
        self.0.insert(USER_ID_KEY, user.as_str())?;
        self.0
            .insert(PUBLIC_ID_KEY, hex::encode(rand::random::<[u8; 16]>()))?;
        self.0.insert(WORKSPACE_KEY, workspace.as_str())?;
        Ok(())
    }

    /// Ends the session: its row is deleted and the cookie removed.
    pub fn sign_out(&self) {
        self.0.purge();
    }

    /// The signed-in user, if any.
    pub fn user_id(&self) -> Option<UserId> {
        self.get_string(USER_ID_KEY)
            .and_then(|id| UserId::parse(&id))
    }

    /// This session's public id (set at sign-in).
    pub fn public_id(&self) -> Option<String> {
        self.get_string(PUBLIC_ID_KEY)
    }

    /// The workspace the user last switched to.
    pub fn active_workspace(&self) -> Option<WorkspaceId> {
        self.get_string(WORKSPACE_KEY)
            .and_then(|id| WorkspaceId::parse(&id))
    }

    /// Switches the active workspace (the caller has checked membership).
    pub fn set_active_workspace(
        &self,
        workspace: &WorkspaceId,
    ) -> Result<(), actix_session::SessionInsertError> {
        self.0.insert(WORKSPACE_KEY, workspace.as_str())
    }

    /// Queues a message for the next page.
    pub fn flash(&self, level: FlashLevel, message: impl Into<String>) {
        let flash = Flash {
            level,
            message: message.into(),
        };
        if let Err(error) = self.0.insert(FLASH_KEY, flash) {
            tracing::warn!(%error, "could not store flash message");
        }
    }

    /// Takes the queued message, if any (it is shown once). Looks first:
    /// `remove` marks the session changed even when there is nothing to
    /// remove, and a changed session is written back on every page view.
    pub fn take_flash(&self) -> Option<Flash> {
        if !self.0.entries().contains_key(FLASH_KEY) {
            return None;
        }
        self.0.remove_as::<Flash>(FLASH_KEY).and_then(Result::ok)
    }

    fn get_string(&self, key: &str) -> Option<String> {
        self.0.get::<String>(key).ok().flatten()
    }
}

/// What the session store left for the request it loaded a session for.
enum Loaded {
    /// Nothing (no cookie, or nothing to preload).
    Nothing,
    /// What it read with the session.
    Preload(Box<Preload>),
    /// The session could not be read (the database is down, say): the
    /// request must be answered with that error, not served as anonymous.
    Failed(DbError),
}

tokio::task_local! {
    /// What the session store read for the request being served.
    static PRELOADED: RefCell<Loaded>;
}

/// Serves `request` with a slot for what the session store reads along
/// with the session (see [`Preload`]); wraps the session middleware.
pub async fn with_preload_slot<F: std::future::Future>(request: F) -> F::Output {
    PRELOADED
        .scope(RefCell::new(Loaded::Nothing), request)
        .await
}

/// Called by the store's `load`: hands the request what it read.
fn put_preload(preload: Preload) {
    if PRELOADED
        .try_with(|slot| *slot.borrow_mut() = Loaded::Preload(Box::new(preload)))
        .is_err()
    {
        tracing::debug!("session loaded outside a request: nothing preloaded");
    }
}

/// Called by the store's `load` when reading the session failed: the
/// failure is kept for [`answer_failed_load`], which answers the request
/// with it (a 503 page with its request id when the database is down).
/// actix-session itself would answer any load error with a bare 500 that no
/// error handler sees. Gives the error back when there is no request to
/// keep it for.
fn put_load_failure(error: DbError) -> Result<(), DbError> {
    let unkept = std::cell::Cell::new(Some(error));
    let _outside_a_request = PRELOADED.try_with(|slot| {
        if let Some(error) = unkept.take() {
            *slot.borrow_mut() = Loaded::Failed(error);
        }
    });
    unkept.take().map_or(Ok(()), Err)
}

/// Takes what the slot holds if `pick` wants it (`Ok`); what it gives back
/// (`Err`) stays in the slot.
fn take_from_slot<T>(pick: impl FnOnce(Loaded) -> Result<T, Loaded>) -> Option<T> {
    PRELOADED
        .try_with(|slot| {
            let mut slot = slot.borrow_mut();
            match pick(std::mem::replace(&mut *slot, Loaded::Nothing)) {
                Ok(taken) => Some(taken),
                Err(kept) => {
                    *slot = kept;
                    None
                }
            }
        })
        .ok()
        .flatten()
}

/// What the store read with this request's session, for the user `user`
/// (`None` when it read nothing for them, e.g. the session changed hands
/// during this request). Taken once: the `Scope` extractor keeps the result.
pub fn take_preload_for(user: &UserId) -> Option<Preload> {
    let preload = take_from_slot(|loaded| match loaded {
        Loaded::Preload(preload) => Ok(preload),
        other => Err(other),
    })?;
    (preload.user_id.as_ref() == Some(user)).then_some(*preload)
}

/// Middleware inside the session middleware: a request whose session could
/// not be read is answered with that error (503 when the database is
/// unreachable) before any handler sees it, so it is neither served as
/// anonymous nor given a new session in place of the one it came with.
pub async fn answer_failed_load(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let failed = take_from_slot(|loaded| match loaded {
        Loaded::Failed(error) => Ok(error),
        other => Err(other),
    });
    match failed {
        Some(error) => Ok(req
            .error_response(AppError::from(error))
            .map_into_right_body()),
        None => Ok(next.call(req).await?.map_into_left_body()),
    }
}

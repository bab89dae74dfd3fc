//! The extractors that resolve a request into a [`Scope`]: session →
//! signed-in user → the workspaces they may enter right now → the active one
//! → their role and permissions in it. [`Permitted`] adds a permission check
//! before the handler runs.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;

use actix_session::SessionExt;
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};

use crate::db::members::RoleRow;
use crate::db::scope::Scope;
use crate::db::users::User;
use crate::db::workspaces::WorkspaceAccess;
use crate::db::{self, DbError};
use crate::domain::permission::RequiredPermission;
use crate::domain::{UserId, WorkspaceId};
use crate::web::AppState;
use crate::web::error::AppError;
use crate::web::session::{self, Preload, SessionData};

/// Minimum time between two writes of a session's "last seen".
const TOUCH_INTERVAL_SECONDS: i64 = 60;

impl FromRequest for Scope {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            if let Some(scope) = req.extensions().get::<Scope>() {
                return Ok(scope.clone());
            }
            let scope = build_scope(&req).await?;
            req.extensions_mut().insert(scope.clone());
            Ok(scope)
        })
    }
}

async fn build_scope(req: &HttpRequest) -> Result<Scope, AppError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| AppError::Internal("application state missing".into()))?
        .clone();
    let session = req.get_session();
    let data = SessionData::new(&session);
    let (Some(user_id), Some(public_id)) = (data.user_id(), data.public_id()) else {
        return Err(AppError::SignInRequired);
    };
    let wanted = data.active_workspace();
    let ip = state.client_ip(req);
    let Some(known) = who_and_where(&state, user_id, &public_id, &ip, user_agent(req)).await?
    else {
        // The account is gone or disabled: end the session here and now.
        data.sign_out();
        return Err(AppError::SignInRequired);
    };
    let Some(active) = Scope::entered(&known.accessible, wanted.as_ref()).cloned() else {
        let user = &known.user.id;
        return Err(AppError::Internal(format!(
            "user {user} has no personal workspace"
        )));
    };
    if wanted.as_ref() != Some(&active) {
        // Entering another workspace than asked: store it.
        data.set_active_workspace(&active)
            .map_err(|e| AppError::Internal(e.to_string()))?;
    }
    Scope::enter(known.user, public_id, ip, known.accessible, &active)
        .ok_or_else(|| AppError::Internal("the entered workspace vanished".into()))
}

/// The active workspace's roles, highest rank first, for a page with role
/// menus: from [`RoleCache`](crate::web::cache::RoleCache) when the roles
/// version the session load read with the workspace is the one they were
/// cached at. Otherwise the page reads them with its own data
/// ([`WorkspaceRoles::missing`]), so a miss costs a statement but no second
/// pool checkout, and hands them back to be cached
/// ([`WorkspaceRoles::or_read`]). A role created or changed
/// after the request's session load isn't among them: changes re-read
/// what they rely on inside their transaction.
pub struct WorkspaceRoles {
    cached: Option<Vec<RoleRow>>,
    state: web::Data<AppState>,
    workspace: WorkspaceId,
    version: i32,
}

impl WorkspaceRoles {
    /// Whether the page must read the roles (`db::members::roles`) with
    /// its data and pass them to [`WorkspaceRoles::or_read`].
    pub fn missing(&self) -> bool {
        self.cached.is_none()
    }

    /// The roles: the cached ones, else those the page `read` (and now
    /// cached for the next view).
    pub fn or_read(self, read: Option<Vec<RoleRow>>) -> Vec<RoleRow> {
        if let Some(roles) = self.cached {
            return roles;
        }
        // Nothing read (a page that didn't ask although they were missing)
        // is not cached: it would stand for the roles until they change.
        let Some(roles) = read else {
            return Vec::new();
        };
        self.state
            .role_cache
            .put(&self.workspace, self.version, roles.clone());
        roles
    }
}

impl FromRequest for WorkspaceRoles {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let scope = Scope::from_request(req, payload);
        let req = req.clone();
        Box::pin(async move {
            let scope = scope.await?;
            let state = req
                .app_data::<web::Data<AppState>>()
                .ok_or_else(|| AppError::Internal("application state missing".into()))?
                .clone();
            let (workspace, version) = (scope.workspace_id(), scope.workspace().roles_version);
            Ok(WorkspaceRoles {
                cached: state.role_cache.get(workspace, version),
                workspace: workspace.clone(),
                version,
                state,
            })
        })
    }
}

/// The request's user agent, as much of it as the session row keeps.
fn user_agent(req: &HttpRequest) -> String {
    req.headers()
        .get(actix_web::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .chars()
        .take(300)
        .collect()
}

/// Who the session's user is and where they may go: what the scope is
/// built from.
struct Known {
    user: User,
    accessible: Vec<WorkspaceAccess>,
}

/// Usually what the session store read in the session's own query (and
/// the activity recorded when due); otherwise (nothing preloaded for this
/// user) asked here. `None` when the account is gone or disabled.
async fn who_and_where(
    state: &AppState,
    user_id: UserId,
    public_id: &str,
    ip: &str,
    user_agent: String,
) -> Result<Option<Known>, AppError> {
    let Some(preload) = session::take_preload_for(&user_id) else {
        let loaded = load_scope(
            state,
            user_id,
            public_id.to_owned(),
            ip.to_owned(),
            user_agent,
        );
        return Ok(loaded
            .await?
            .map(|(user, accessible)| Known { user, accessible }));
    };
    record_activity_if_due(state, &preload, public_id, ip, user_agent).await?;
    Ok(preload.user.map(|user| Known {
        user,
        accessible: preload.accessible,
    }))
}

/// Writes the session's last-seen time, IP and user agent when the
/// preloaded values are older than a minute or differ, and not otherwise:
/// a page view writes nothing unless something changed.
async fn record_activity_if_due(
    state: &AppState,
    preload: &Preload,
    public_id: &str,
    ip: &str,
    user_agent: String,
) -> Result<(), AppError> {
    let now = db::now();
    let due = preload.last_seen_at < now - chrono::Duration::seconds(TOUCH_INTERVAL_SECONDS)
        || preload.ip != ip
        || preload.user_agent != user_agent;
    if !due || preload.user.is_none() || !state.activity_claims.claim(public_id, preload) {
        return Ok(());
    }
    let (id, ip) = (public_id.to_owned(), ip.to_owned());
    let written = state
        .db
        .run_handing_on(move |conn| db::sessions::record_activity(conn, &id, &ip, &user_agent, now))
        .await;
    if written.is_err() {
        // Let the next request try again, or the session would idle out.
        state.activity_claims.release(public_id);
    }
    Ok(written?)
}

/// The user and their workspaces when the session store did not preload
/// them; records activity when due.
async fn load_scope(
    state: &AppState,
    user_id: UserId,
    touch_id: String,
    touch_ip: String,
    user_agent: String,
) -> Result<Option<(User, Vec<WorkspaceAccess>)>, AppError> {
    Ok(state
        .db
        .run(move |conn| {
            let Some(user) = db::users::find_active(conn, &user_id)? else {
                return Ok::<_, DbError>(None);
            };
            let accessible = db::workspaces::accessible_to(conn, &user.id)?;
            db::sessions::touch(
                conn,
                &touch_id,
                &touch_ip,
                &user_agent,
                db::now(),
                chrono::Duration::seconds(TOUCH_INTERVAL_SECONDS),
            )?;
            Ok(Some((user, accessible)))
        })
        .await?)
}

/// The activity writes this process has started, by session: when a
/// session's last-seen falls due, every request of it in flight at that
/// moment sees it due (a browser's parallel loads, or a benchmark's 64
/// connections on one cookie), and on PostgreSQL their UPDATEs of the one
/// row wait for each other's commit. The first request claims the write
/// for the activity it saw; the others skip it. Not state that matters:
/// another instance claims for itself, and a lost claim costs one write.
#[derive(Default)]
pub struct ActivityClaims(
    std::sync::Mutex<std::collections::HashMap<String, (Preloaded, std::time::Instant)>>,
);

/// What a claim was made on: the activity the session row showed.
#[derive(PartialEq)]
struct Preloaded {
    last_seen_at: chrono::NaiveDateTime,
    ip: String,
    user_agent: String,
}

/// Claims are forgotten wholesale past this many sessions (a claim only
/// matters for the moment its write takes).
const MAX_CLAIMS: usize = 10_000;

/// A claim stands this long: far longer than its write takes, and short
/// enough that a write that never landed is tried again soon.
const CLAIM_LIFETIME: std::time::Duration = std::time::Duration::from_secs(10);

impl ActivityClaims {
    /// Whether this request should make the due write for the activity
    /// `preload` showed: only the first to ask for that same view of it.
    fn claim(&self, public_id: &str, preload: &Preload) -> bool {
        let seen = Preloaded {
            last_seen_at: preload.last_seen_at,
            ip: preload.ip.clone(),
            user_agent: preload.user_agent.clone(),
        };
        let Ok(mut claims) = self.0.lock() else {
            return true;
        };
        let now = std::time::Instant::now();
        if let Some((claimed, at)) = claims.get(public_id)
            && *claimed == seen
            && now.duration_since(*at) < CLAIM_LIFETIME
        {
            return false;
        }
        if claims.len() >= MAX_CLAIMS {
            claims.clear();
        }
        claims.insert(public_id.to_owned(), (seen, now));
        true
    }

    /// Gives up a claim whose write failed.
    fn release(&self, public_id: &str) {
        if let Ok(mut claims) = self.0.lock() {
            claims.remove(public_id);
        }
    }
}

/// A [`Scope`] whose role holds permission `P`; otherwise the request is
/// refused with 403 before the handler runs.
pub struct Permitted<P: RequiredPermission> {
    scope: Scope,
    _permission: PhantomData<P>,
}

impl<P: RequiredPermission> Permitted<P> {
    /// The scope, now known to allow `P`.
    pub fn scope(&self) -> &Scope {
        &self.scope
    }
}

impl<P: RequiredPermission + 'static> FromRequest for Permitted<P> {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let scope = Scope::from_request(req, payload);
        Box::pin(async move {
            let scope = scope.await?;
            scope.require(P::PERMISSION)?;
            Ok(Self {
                scope,
                _permission: PhantomData,
            })
        })
    }
}

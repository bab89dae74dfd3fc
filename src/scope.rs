//! The only door to workspace data. A [`Scope`] is built by its extractor
//! on every request: session → signed-in user → the workspaces they may
//! enter right now → the active one → their role and permissions in it.
//! Its fields are private and it has no public constructor, so a repository
//! function that takes `&Scope` can trust the workspace id inside it.
//!
//! Membership is re-checked on every request (one query that also feeds the
//! context switcher), so a removed or deactivated member, or an archived
//! workspace, is gone on the member's next request.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;

use actix_session::SessionExt;
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};

use crate::db::users::User;
use crate::db::workspaces::WorkspaceAccess;
use crate::db::{self, DbError};
use crate::domain::permission::RequiredPermission;
use crate::domain::{Permission, PermissionSet, UserId, WorkspaceId};
use crate::session::SessionData;
use crate::web::AppState;
use crate::web::error::AppError;

/// Minimum time between two writes of a session's "last seen".
const TOUCH_INTERVAL_SECONDS: i64 = 60;

/// The signed-in user acting in their active workspace.
#[derive(Clone)]
pub struct Scope(Arc<ScopeInner>);

struct ScopeInner {
    user: User,
    session_public_id: String,
    client_ip: String,
    active: WorkspaceAccess,
    permissions: PermissionSet,
    accessible: Vec<WorkspaceAccess>,
}

impl Scope {
    /// The user acting.
    pub fn user(&self) -> &User {
        &self.0.user
    }

    /// The user's id.
    pub fn user_id(&self) -> &UserId {
        &self.0.user.id
    }

    /// The public id of the session this request came in on.
    pub fn session_public_id(&self) -> &str {
        &self.0.session_public_id
    }

    /// The client IP of this request (recorded in the audit log).
    pub fn client_ip(&self) -> &str {
        &self.0.client_ip
    }

    /// The active workspace's id: the filter of every scoped query.
    pub fn workspace_id(&self) -> &WorkspaceId {
        &self.0.active.workspace_id
    }

    /// The active workspace with the user's role in it.
    pub fn workspace(&self) -> &WorkspaceAccess {
        &self.0.active
    }

    /// Whether the active workspace is the user's personal one.
    pub fn is_personal(&self) -> bool {
        self.0.active.kind == "personal"
    }

    /// Whether the user's role in the active workspace allows `permission`.
    pub fn can(&self, permission: Permission) -> bool {
        self.0.permissions.contains(permission)
    }

    /// Everything the user's role allows here.
    pub fn permissions(&self) -> PermissionSet {
        self.0.permissions
    }

    /// The rank of the user's role here.
    pub fn role_level(&self) -> i32 {
        self.0.active.role_level
    }

    /// Refuses the request unless the role allows `permission`.
    pub fn require(&self, permission: Permission) -> Result<(), AppError> {
        if self.can(permission) {
            Ok(())
        } else {
            Err(AppError::Forbidden(permission))
        }
    }

    /// Every workspace the user may switch to (for the context switcher).
    pub fn accessible_workspaces(&self) -> &[WorkspaceAccess] {
        &self.0.accessible
    }

    /// The user's personal workspace, where account-level events are audited.
    pub fn personal_workspace_id(&self) -> Option<&WorkspaceId> {
        self.0
            .accessible
            .iter()
            .find(|w| w.kind == "personal")
            .map(|w| &w.workspace_id)
    }

    /// The accessible workspace with this id, if the user may enter it.
    pub fn accessible(&self, id: &WorkspaceId) -> Option<&WorkspaceAccess> {
        self.0.accessible.iter().find(|w| &w.workspace_id == id)
    }
}

/// The permissions a membership's role grants. System roles take theirs
/// from the catalogue; custom roles from their stored set.
pub fn role_permissions(access: &WorkspaceAccess) -> PermissionSet {
    PermissionSet::of_role(access.role_system_key.as_deref(), &access.role_permissions)
}

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
    let user_agent = req
        .headers()
        .get(actix_web::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .chars()
        .take(300)
        .collect::<String>();
    // Usually the session store read the user and their workspaces in the
    // session's own query; otherwise (no preload for this user) ask here.
    let loaded = match data.preload_for(&user_id) {
        Some(preload) => {
            let now = db::now();
            let due = preload.last_seen_at
                < now - chrono::Duration::seconds(TOUCH_INTERVAL_SECONDS)
                || preload.ip != ip
                || preload.user_agent != user_agent;
            if due && preload.user.is_some() {
                let (touch_id, touch_ip) = (public_id.clone(), ip.clone());
                state
                    .db
                    .run(move |conn| {
                        db::sessions::record_activity(conn, &touch_id, &touch_ip, &user_agent, now)
                    })
                    .await?;
            }
            preload.user.map(|user| (user, preload.accessible))
        }
        None => load_scope(&state, user_id, public_id.clone(), ip.clone(), user_agent).await?,
    };
    let Some((user, accessible)) = loaded else {
        // The account is gone or disabled: end the session here and now.
        data.sign_out();
        return Err(AppError::SignInRequired);
    };
    let active = wanted
        .as_ref()
        .and_then(|id| accessible.iter().find(|w| &w.workspace_id == id))
        .or_else(|| accessible.iter().find(|w| w.kind == "personal"))
        .cloned()
        .ok_or_else(|| AppError::Internal(format!("user {} has no personal workspace", user.id)))?;
    if wanted.as_ref() != Some(&active.workspace_id) {
        // The workspace the session pointed at is no longer enterable.
        data.set_active_workspace(&active.workspace_id)
            .map_err(|e| AppError::Internal(e.to_string()))?;
    }
    let permissions = role_permissions(&active);
    Ok(Scope(Arc::new(ScopeInner {
        user,
        session_public_id: public_id,
        client_ip: ip,
        active,
        permissions,
        accessible,
    })))
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

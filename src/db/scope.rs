//! The only door to workspace data. A [`Scope`] is the signed-in user
//! acting in their active workspace, with their role and permissions there.
//! It is resolved on every request (the extractor in `web::scope` loads the
//! rows and calls [`Scope::enter`]); a repository function that takes
//! `&Scope` filters by the workspace id inside it, so a row of another
//! workspace is simply not found.
//!
//! Membership is re-checked on every request (one query that also feeds the
//! context switcher), so a removed or deactivated member, or an archived
//! workspace, is gone on the member's next request.

use std::sync::Arc;

use crate::db::users::User;
use crate::db::workspaces::WorkspaceAccess;
use crate::domain::permission::Forbidden;
use crate::domain::{Permission, PermissionSet, UserId, WorkspaceId};

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
    /// Which workspace a session that asked for `wanted` enters: that one
    /// if the user may still enter it, else their personal workspace.
    /// `None` when the user has no workspace at all, a broken account.
    /// `accessible` must be what [`crate::db::workspaces::accessible_to`]
    /// returned for the user in this request.
    pub fn entered<'a>(
        accessible: &'a [WorkspaceAccess],
        wanted: Option<&WorkspaceId>,
    ) -> Option<&'a WorkspaceId> {
        wanted
            .and_then(|id| accessible.iter().find(|w| &w.workspace_id == id))
            .or_else(|| accessible.iter().find(|w| w.kind.is_personal()))
            .map(|w| &w.workspace_id)
    }

    /// The user acting in `active` (chosen by [`Scope::entered`]). `None`
    /// when `active` isn't accessible.
    pub fn enter(
        user: User,
        session_public_id: String,
        client_ip: String,
        accessible: Vec<WorkspaceAccess>,
        active: &WorkspaceId,
    ) -> Option<Self> {
        let active = accessible
            .iter()
            .find(|w| &w.workspace_id == active)
            .cloned()?;
        let permissions = role_permissions(&active);
        Some(Self(Arc::new(ScopeInner {
            user,
            session_public_id,
            client_ip,
            active,
            permissions,
            accessible,
        })))
    }

    /// The holder of a member's API key acting in the key's workspace
    /// (`active`, read with the holder's membership), with what the key may
    /// do there: API calls reach the same repository functions and services
    /// as pages, through the same door. The key is named where a session's
    /// id would be.
    pub fn for_key(
        user: User,
        key_id: &crate::domain::ApiKeyId,
        client_ip: String,
        active: WorkspaceAccess,
        permissions: PermissionSet,
    ) -> Self {
        Self(Arc::new(ScopeInner {
            user,
            session_public_id: format!("key:{key_id}"),
            client_ip,
            accessible: vec![active.clone()],
            active,
            permissions,
        }))
    }

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
        self.0.active.kind.is_personal()
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

    /// Refuses unless the role allows `permission`.
    pub fn require(&self, permission: Permission) -> Result<(), Forbidden> {
        if self.can(permission) {
            Ok(())
        } else {
            Err(Forbidden(permission))
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
            .find(|w| w.kind.is_personal())
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
    PermissionSet::of_role(access.role_system_key, &access.role_permissions)
}

/// The scoped entry of each tenant table: `scope.memberships()` is
/// `memberships WHERE workspace_id = <the active workspace>`, and it is the
/// only way the repository starts a query on a tenant table, so forgetting
/// the filter is not something a function can do by accident.
macro_rules! tenant_tables {
    ($($table:ident),* $(,)?) => {
        impl Scope {$(
            #[doc = concat!("The `", stringify!($table), "` rows of the active workspace.")]
            pub(super) fn $table(
                &self,
            ) -> diesel::dsl::Filter<
                super::schema::$table::table,
                diesel::dsl::Eq<super::schema::$table::workspace_id, &WorkspaceId>,
            > {
                use diesel::prelude::*;
                super::schema::$table::table
                    .filter(super::schema::$table::workspace_id.eq(self.workspace_id()))
            }
        )*}
    };
}

tenant_tables!(
    agent_runs,
    api_keys,
    agents,
    app_instances,
    audit_entries,
    audit_facets,
    daily_spend,
    invitations,
    ledger_entries,
    memberships,
    project_keys,
    projects,
    roles,
    top_ups,
    wallet_models,
    wallets,
);

/// `workspaces WHERE parent_id = <an organization> AND kind = 'team'`.
type TeamsOf<'a> = diesel::dsl::Filter<
    diesel::dsl::Filter<
        super::schema::workspaces::table,
        diesel::dsl::Eq<super::schema::workspaces::parent_id, &'a WorkspaceId>,
    >,
    diesel::dsl::Eq<super::schema::workspaces::kind, crate::domain::WorkspaceKind>,
>;

impl Scope {
    /// The teams of the active workspace (an organization; none elsewhere),
    /// archived ones included: the only way the repository starts a query
    /// on teams, so another organization's team is not found.
    pub(super) fn teams(&self) -> TeamsOf<'_> {
        use super::schema::workspaces;
        use diesel::prelude::*;
        workspaces::table
            .filter(workspaces::parent_id.eq(self.workspace_id()))
            .filter(workspaces::kind.eq(crate::domain::WorkspaceKind::Team))
    }
}

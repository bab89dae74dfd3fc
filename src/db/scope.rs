//! The only door to workspace data. A [`Scope`] is the signed-in user
//! acting in their active workspace, with their role and permissions there.
//! It is resolved on every request (the extractor in `web::scope` loads the
//! rows and calls [`Scope::enter`]); a repository function that takes
//! `&Scope` filters by the workspace id inside it, so a row of another
//! workspace is simply not found.
//!
//! Paths with no signed-in user (the charge and authorize API, background
//! jobs, a payment's credit) come in through a [`Tenant`] instead: the same
//! per-table entries, for a workspace a credential, a job's query or a
//! payment named.
//!
//! Membership is re-checked on every request (one query that also feeds the
//! context switcher), so a removed or deactivated member, or an archived
//! workspace, is gone on the member's next request.

use std::sync::Arc;

use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql, FromSqlRow};
use diesel::sql_types::Text;

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

/// A workspace acted for without a signed-in user: one named by a
/// credential (a project or API key), by a background job's own query
/// (idle stops, monthly fees) or by a payment. It is the door those paths
/// have to tenant tables, with the same property as [`Scope`]'s: its
/// entries filter by its workspace, so a row of another workspace is not
/// found. It carries no user and no permissions: the caller has already
/// checked what it may do there.
///
/// Only the repository makes one: a row that names the workspace (a key's
/// lookup, a job's work list, a top-up) reads its workspace id column
/// straight into a `Tenant`, so the id is a door from the query that found
/// it on, and service code has no constructor to hand an arbitrary id to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, FromSqlRow)]
pub struct Tenant(WorkspaceId);

/// A workspace id column read as the [`Tenant`] it names.
impl<DB> FromSql<Text, DB> for Tenant
where
    DB: Backend,
    WorkspaceId: FromSql<Text, DB>,
{
    fn from_sql(bytes: DB::RawValue<'_>) -> deserialize::Result<Self> {
        WorkspaceId::from_sql(bytes).map(Self)
    }
}

impl Tenant {
    /// The workspace a debit the repository is entering names (it came
    /// from a key's [`Tenant`] through the charge): only `db` makes a
    /// tenant from an id it holds.
    pub(super) fn of(id: WorkspaceId) -> Self {
        Self(id)
    }

    /// The workspace's id: the filter of every query started from it.
    pub fn workspace_id(&self) -> &WorkspaceId {
        &self.0
    }

    /// The workspace's id, for an answer that names it (the door is not
    /// needed any more).
    pub fn into_workspace_id(self) -> WorkspaceId {
        self.0
    }
}

impl Scope {
    /// The active workspace as a [`Tenant`], for service code that hands
    /// a signed-in user's workspace to a function shared with key, job
    /// and payment paths.
    pub fn tenant(&self) -> Tenant {
        Tenant(self.workspace_id().clone())
    }

    /// The organization the active team belongs to, as a [`Tenant`]
    /// (whose counters a team's agents and apps also count against);
    /// `None` outside a team.
    pub fn parent_tenant(&self) -> Option<Tenant> {
        self.0.active.parent_id.clone().map(Tenant)
    }

    /// Another workspace the user may enter (`id`: a team its
    /// organization funds) as a [`Tenant`]; `None` when they can't enter
    /// it. The caller checks what their role there allows.
    pub fn accessible_tenant(&self, id: &WorkspaceId) -> Option<Tenant> {
        self.accessible(id).map(|w| Tenant(w.workspace_id.clone()))
    }
}

/// The permissions a membership's role grants. System roles take theirs
/// from the catalogue; custom roles from their stored set.
pub fn role_permissions(access: &WorkspaceAccess) -> PermissionSet {
    PermissionSet::of_role(access.role_system_key, &access.role_permissions)
}

/// The scoped entry of each tenant table: `scope.memberships()` is
/// `memberships WHERE workspace_id = <the active workspace>`, and
/// `tenant.wallets()` the same for a [`Tenant`]'s workspace. They are the
/// only way the repository starts a query on a tenant table, so forgetting
/// the filter is not something a function can do by accident. Each door
/// lists the tables it opens (an entry nothing calls would be dead code).
macro_rules! tenant_tables {
    ($door:ident: $($table:ident),* $(,)?) => {
        impl $door {$(
            #[doc = concat!("The `", stringify!($table), "` rows of the workspace.")]
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
    Scope:
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

tenant_tables!(
    Tenant:
    agents,
    app_instances,
    ledger_entries,
    memberships,
    projects,
    wallet_models,
    wallets,
    workspace_avatars,
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

/// `workspaces WHERE id = <a workspace> OR (parent_id = <it> AND kind =
/// 'team')`.
type WorkspaceAndTeams<'a> = diesel::dsl::Filter<
    super::schema::workspaces::table,
    diesel::dsl::Or<
        diesel::dsl::Eq<super::schema::workspaces::id, &'a WorkspaceId>,
        diesel::dsl::And<
            diesel::dsl::Eq<super::schema::workspaces::parent_id, &'a WorkspaceId>,
            diesel::dsl::Eq<super::schema::workspaces::kind, crate::domain::WorkspaceKind>,
        >,
    >,
>;

/// `member_agent_counts WHERE organization_id = <an organization>`.
type MemberAgentCountsOf<'a> = diesel::dsl::Filter<
    super::schema::member_agent_counts::table,
    diesel::dsl::Eq<super::schema::member_agent_counts::organization_id, &'a WorkspaceId>,
>;

/// `workspaces WHERE id = <a workspace>`.
type WorkspaceRow<'a> = diesel::dsl::Filter<
    super::schema::workspaces::table,
    diesel::dsl::Eq<super::schema::workspaces::id, &'a WorkspaceId>,
>;

/// Entries keyed other than by `workspace_id`, for both doors.
macro_rules! family_tables {
    ($($door:ident),*) => {$(
        impl $door {
            /// The workspace's own row (its settings, usage counters and
            /// limits): a counter moved or a setting changed is the one of
            /// the workspace the door names.
            pub(super) fn workspace_row(&self) -> WorkspaceRow<'_> {
                use super::schema::workspaces;
                use diesel::prelude::*;
                workspaces::table.filter(workspaces::id.eq(self.workspace_id()))
            }

            /// The workspace's own row and its teams' rows (an
            /// organization's; a team or a personal workspace has none):
            /// for what is read or limited across an organization at once.
            pub(super) fn workspace_and_teams(&self) -> WorkspaceAndTeams<'_> {
                use super::schema::workspaces;
                use diesel::prelude::*;
                workspaces::table.filter(
                    workspaces::id.eq(self.workspace_id()).or(workspaces::parent_id
                        .eq(self.workspace_id())
                        .and(workspaces::kind.eq(crate::domain::WorkspaceKind::Team))),
                )
            }

            /// The per-member running-agent counts of the workspace (an
            /// organization's, which its teams' agents count in).
            pub(super) fn member_agent_counts(&self) -> MemberAgentCountsOf<'_> {
                use super::schema::member_agent_counts;
                use diesel::prelude::*;
                member_agent_counts::table
                    .filter(member_agent_counts::organization_id.eq(self.workspace_id()))
            }
        }
    )*};
}

family_tables!(Scope, Tenant);

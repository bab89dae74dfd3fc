//! Workspaces as seen by one user: which they may enter, with which role.
//! This is the query behind the `Scope` extractor and the context switcher,
//! so it is one join, run once per request.

use crate::db::scope::Tenant;
use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::stamps::Stamp;

use super::schema::{audit_versions, memberships, roles, workspaces};
use super::{AnyConnection, DbError};
use crate::domain::{
    MembershipId, MembershipStatus, RoleId, SystemRole, UserId, WorkspaceId, WorkspaceKind,
    WorkspaceStatus,
};

/// One workspace a user can enter, with their membership and role in it:
/// a row of `workspaces` joined with `memberships`, `roles` and (left)
/// `audit_versions`.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = workspaces)]
pub struct WorkspaceAccess {
    /// The workspace.
    #[diesel(column_name = id)]
    pub workspace_id: WorkspaceId,
    /// Personal, organization or team.
    pub kind: WorkspaceKind,
    /// Its name.
    pub name: String,
    /// Its slug (organizations).
    pub slug: Option<String>,
    /// The organization a team belongs to.
    pub parent_id: Option<WorkspaceId>,
    /// Active or suspended (archived ones are never returned).
    pub status: WorkspaceStatus,
    /// When it was created.
    #[diesel(deserialize_as = Stamp)]
    pub created_at: NaiveDateTime,
    /// The user's membership.
    #[diesel(select_expression = memberships::id)]
    pub membership_id: MembershipId,
    /// The role held.
    #[diesel(select_expression = roles::id)]
    pub role_id: RoleId,
    /// The role's name.
    #[diesel(select_expression = roles::name)]
    pub role_name: String,
    /// Which system role it is; `None` for a custom role.
    #[diesel(select_expression = roles::system_key)]
    pub role_system_key: Option<SystemRole>,
    /// The role's rank.
    #[diesel(select_expression = roles::level)]
    pub role_level: i32,
    /// A custom role's stored permission keys.
    #[diesel(select_expression = roles::permissions)]
    pub role_permissions: String,
    /// Avatar version (0: none), for the switcher's image URL.
    pub avatar_version: i32,
    /// Active members (a counter the database keeps in step with memberships).
    pub member_count: i32,
    /// Agents running now (an organization's count its teams').
    pub running_agents: i32,
    /// How many may run at once (`None`: no limit).
    pub max_running_agents: Option<i32>,
    /// App instances installed (an organization's count its teams').
    pub app_instances: i32,
    /// How many may be installed (`None`: no limit).
    pub max_app_instances: Option<i32>,
    /// Moves with every change to the workspace's roles (a trigger), so
    /// roles kept in memory can be told current without reading them.
    pub roles_version: i32,
    /// Moves with every change to what the members page shows of the
    /// workspace's invitations (triggers), so invitations kept in memory
    /// can be told current without reading them.
    pub invitations_version: i32,
    /// Moves with every change to what the members page shows of the
    /// workspace's memberships (triggers), so a page of members kept in
    /// memory can be told current without reading it.
    pub members_version: i32,
    /// Moves with every entry recorded in the workspace's log (a trigger;
    /// `None` before the first), so the latest activity kept in memory can
    /// be told current without reading it. Read from a table of its own
    /// (migration 000031 says why).
    #[diesel(select_expression = audit_versions::version.nullable())]
    pub audit_version: Option<i32>,
}

/// Every workspace the user may enter right now: active memberships of
/// workspaces that are not archived. Personal first, then by name.
pub fn accessible_to(
    conn: &mut AnyConnection,
    user: &UserId,
) -> Result<Vec<WorkspaceAccess>, DbError> {
    let mut rows: Vec<WorkspaceAccess> = memberships::table
        .inner_join(workspaces::table)
        .inner_join(roles::table)
        .left_join(audit_versions::table.on(audit_versions::workspace_id.eq(workspaces::id)))
        .filter(memberships::user_id.eq(user))
        .filter(memberships::status.eq(MembershipStatus::Active))
        .filter(workspaces::status.ne(WorkspaceStatus::Archived))
        .select(WorkspaceAccess::as_select())
        .load(conn)?;
    sort_accessible(&mut rows);
    Ok(rows)
}

/// Keeps the workspaces a user may enter, in the switcher's order. A team
/// is entered only while its organization is: the user an active member of
/// it and it not archived, which is exactly the organization being among
/// the rows (deactivating someone in an organization, or archiving it, so
/// closes its teams to them on their next request, with nothing to undo on
/// the way back). Checked here rather than in the query: a correlated
/// `EXISTS` in the session load made every page view several times
/// slower on PostgreSQL (benches/README.md).
pub(super) fn sort_accessible(rows: &mut Vec<WorkspaceAccess>) {
    let organizations: std::collections::HashSet<WorkspaceId> = rows
        .iter()
        .filter(|w| w.parent_id.is_none())
        .map(|w| w.workspace_id.clone())
        .collect();
    rows.retain(|w| {
        w.parent_id
            .as_ref()
            .is_none_or(|p| organizations.contains(p))
    });
    order_for_switcher(rows);
}

/// Personal first, then organizations by name, each followed by its teams
/// by name (the switcher's order, which shows teams under their
/// organization).
fn order_for_switcher(rows: &mut [WorkspaceAccess]) {
    let names: std::collections::HashMap<WorkspaceId, String> = rows
        .iter()
        .map(|w| (w.workspace_id.clone(), w.name.to_lowercase()))
        .collect();
    let key = |w: &WorkspaceAccess| {
        let own = w.name.to_lowercase();
        match &w.parent_id {
            Some(parent) => (
                1,
                names.get(parent).cloned().unwrap_or_default(),
                parent.to_string(),
                own,
            ),
            None => (
                u8::from(!w.kind.is_personal()),
                own,
                w.workspace_id.to_string(),
                String::new(),
            ),
        }
    };
    rows.sort_by_cached_key(key);
}

/// The user's personal workspace (every user has exactly one).
pub fn personal_of(conn: &mut AnyConnection, user: &UserId) -> Result<WorkspaceId, DbError> {
    Ok(workspaces::table
        .filter(workspaces::personal_owner_id.eq(user))
        .select(workspaces::id)
        .first(conn)?)
}

/// A workspace's name (for messages after joining it).
pub fn name_of(conn: &mut AnyConnection, id: &WorkspaceId) -> Result<String, DbError> {
    Ok(workspaces::table
        .find(id)
        .select(workspaces::name)
        .first(conn)?)
}

/// Serialises the changes to one workspace's memberships, so that checks
/// made inside a change (who is owner, who ranks above whom) still hold
/// when it commits: "transfer ownership to X" and "remove X" can't both
/// pass their checks and leave the organization without an owner. On
/// PostgreSQL this locks the workspace row (`FOR UPDATE`) until the
/// transaction ends; SQLite's write transactions begin IMMEDIATE and so
/// already run one at a time. Taken before the memberships are touched,
/// it is also the lock order the triggers that move `members_version` need
/// (migration 000029: they update this row after the membership's).
pub fn lock_memberships(conn: &mut AnyConnection, workspace: &Tenant) -> Result<(), DbError> {
    if let AnyConnection::Postgresql(pg) = conn {
        workspace
            .workspace_row()
            .select(workspaces::id)
            .for_update()
            .first::<WorkspaceId>(pg)?;
    }
    Ok(())
}

/// Serialises the changes to one workspace's invitations with those to its
/// roles and memberships. An invitation's change moves the workspace's
/// `invitations_version` by trigger, which on PostgreSQL locks the
/// workspace row after the invitation's; a role's change locks the
/// workspace row first and then updates the invitations offering it. Taking
/// the workspace row first here too keeps one order, so the two can't
/// deadlock.
pub fn lock_invitations(conn: &mut AnyConnection, workspace: &Tenant) -> Result<(), DbError> {
    lock_memberships(conn, workspace)
}

//! Teams: workspaces inside an organization (`kind = 'team'`, `parent_id`
//! the organization). A team has its own members (chosen from the
//! organization's), roles and, later, resources and wallet. The queries
//! here start from `Scope::teams`, the scoped organization's teams, so a
//! team of another organization is not found. Functions that change data
//! expect to run inside the caller's transaction.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::expect_one;
use super::schema::{memberships, roles, users, workspaces};
use super::stamps::{MaybeStamp, Stamp};
use super::{AnyConnection, DbError, now};
use crate::db::scope::Scope;
use crate::domain::{
    MembershipId, MembershipStatus, RoleId, SystemRole, UserId, WorkspaceId, WorkspaceKind,
    WorkspaceStatus,
};

/// One team as the organization's Teams tab lists it.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = workspaces)]
pub struct TeamRow {
    /// The team's workspace.
    pub id: WorkspaceId,
    /// Its name, unique within the organization whatever its case.
    pub name: String,
    /// What it is for.
    pub description: String,
    /// Active, or archived (restorable from the Teams tab).
    pub status: WorkspaceStatus,
    /// Active members (kept in step by the memberships triggers).
    pub member_count: i32,
    /// When it was created.
    #[diesel(deserialize_as = Stamp)]
    pub created_at: NaiveDateTime,
    /// When it was archived.
    #[diesel(deserialize_as = MaybeStamp)]
    pub archived_at: Option<NaiveDateTime>,
}

/// Every team of the scoped organization, archived ones included, by name.
pub fn list(conn: &mut AnyConnection, scope: &Scope) -> Result<Vec<TeamRow>, DbError> {
    Ok(scope
        .teams()
        .order(workspaces::name.asc())
        .select(TeamRow::as_select())
        .load(conn)?)
}

/// One team of the scoped organization.
pub fn find(conn: &mut AnyConnection, scope: &Scope, id: &WorkspaceId) -> Result<TeamRow, DbError> {
    Ok(scope
        .teams()
        .filter(workspaces::id.eq(id))
        .select(TeamRow::as_select())
        .first(conn)?)
}

/// Creates a team in the scoped organization with its owner, admin and
/// member roles: `owner` (the organization's owner, who owns every team)
/// holds the owner role and `creator`, if someone else, the admin role. A
/// name the organization already has is `Conflict` on
/// [`super::UniqueKey::TeamName`].
pub fn create(
    conn: &mut AnyConnection,
    scope: &Scope,
    name: &str,
    description: &str,
    owner: &UserId,
    creator: &UserId,
) -> Result<WorkspaceId, DbError> {
    let created = now();
    let team = WorkspaceId::generate();
    diesel::insert_into(workspaces::table)
        .values((
            workspaces::id.eq(&team),
            workspaces::kind.eq(WorkspaceKind::Team),
            workspaces::name.eq(name),
            workspaces::description.eq(description),
            workspaces::parent_id.eq(scope.workspace_id()),
            workspaces::status.eq(WorkspaceStatus::Active),
            workspaces::created_at.eq(created),
            workspaces::updated_at.eq(created),
        ))
        .execute(conn)?;
    super::billing::open_wallet(conn, &team)?;
    let mut role_of = std::collections::HashMap::new();
    for system in SystemRole::ALL {
        let role = RoleId::generate();
        diesel::insert_into(roles::table)
            .values((
                roles::id.eq(&role),
                roles::workspace_id.eq(&team),
                roles::system_key.eq(system),
                roles::name.eq(system.display_name()),
                roles::level.eq(system.level()),
                roles::created_at.eq(created),
                roles::updated_at.eq(created),
            ))
            .execute(conn)?;
        role_of.insert(system, role);
    }
    let role = |system| role_of.get(&system).ok_or(DbError::NotFound);
    add_member(conn, &team, owner, role(SystemRole::Owner)?, created)?;
    if creator != owner {
        add_member(conn, &team, creator, role(SystemRole::Admin)?, created)?;
    }
    Ok(team)
}

fn add_member(
    conn: &mut AnyConnection,
    team: &WorkspaceId,
    user: &UserId,
    role: &RoleId,
    at: NaiveDateTime,
) -> Result<MembershipId, DbError> {
    let id = MembershipId::generate();
    diesel::insert_into(memberships::table)
        .values((
            memberships::id.eq(&id),
            memberships::workspace_id.eq(team),
            memberships::user_id.eq(user),
            memberships::role_id.eq(role),
            memberships::status.eq(MembershipStatus::Active),
            memberships::joined_at.eq(at),
            memberships::updated_at.eq(at),
        ))
        .execute(conn)?;
    Ok(id)
}

/// Renames a team of the scoped organization and sets its description.
pub fn update(
    conn: &mut AnyConnection,
    scope: &Scope,
    id: &WorkspaceId,
    name: &str,
    description: &str,
) -> Result<(), DbError> {
    expect_one(
        diesel::update(scope.teams().filter(workspaces::id.eq(id)))
            .set((
                workspaces::name.eq(name),
                workspaces::description.eq(description),
                workspaces::updated_at.eq(now()),
            ))
            .execute(conn)?,
    )
}

/// Archives an active team of the scoped organization (it leaves every
/// switcher; its data stays) or restores an archived one.
pub fn set_archived(
    conn: &mut AnyConnection,
    scope: &Scope,
    id: &WorkspaceId,
    archived: bool,
) -> Result<(), DbError> {
    let at = now();
    let (from, to, archived_at) = if archived {
        (WorkspaceStatus::Active, WorkspaceStatus::Archived, Some(at))
    } else {
        (WorkspaceStatus::Archived, WorkspaceStatus::Active, None)
    };
    expect_one(
        diesel::update(
            scope
                .teams()
                .filter(workspaces::id.eq(id))
                .filter(workspaces::status.eq(from)),
        )
        .set((
            workspaces::status.eq(to),
            workspaces::archived_at.eq(archived_at),
            workspaces::updated_at.eq(at),
        ))
        .execute(conn)?,
    )
}

/// Deletes a team of the scoped organization with its memberships and
/// roles (foreign keys cascade).
pub fn delete(conn: &mut AnyConnection, scope: &Scope, id: &WorkspaceId) -> Result<(), DbError> {
    expect_one(diesel::delete(scope.teams().filter(workspaces::id.eq(id))).execute(conn)?)
}

/// Ends `user`'s memberships of every team of the scoped organization:
/// leaving or being removed from an organization takes its teams along.
pub fn remove_from_teams_of(
    conn: &mut AnyConnection,
    scope: &Scope,
    user: &UserId,
) -> Result<usize, DbError> {
    let teams = scope.teams().select(workspaces::id);
    Ok(diesel::delete(
        memberships::table
            .filter(memberships::user_id.eq(user))
            .filter(memberships::workspace_id.eq_any(teams)),
    )
    .execute(conn)?)
}

/// Hands every team of the scoped organization to its new owner:
/// `new_owner` holds each team's owner role (promoted where a member, added
/// where not), and `previous`, who held it, becomes an admin there.
pub fn hand_teams_to(
    conn: &mut AnyConnection,
    scope: &Scope,
    new_owner: &UserId,
    previous: &UserId,
) -> Result<(), DbError> {
    let at = now();
    let teams: Vec<(WorkspaceId, RoleId, Option<SystemRole>)> = scope
        .teams()
        .inner_join(roles::table.on(roles::workspace_id.eq(workspaces::id)))
        .filter(roles::system_key.eq_any([SystemRole::Owner, SystemRole::Admin]))
        .select((workspaces::id, roles::id, roles::system_key))
        .load(conn)?;
    let role = |team: &WorkspaceId, system: SystemRole| {
        teams
            .iter()
            .find(|(t, _, key)| t == team && *key == Some(system))
            .map(|(_, role, _)| role.clone())
            .ok_or(DbError::NotFound)
    };
    let mut ids: Vec<&WorkspaceId> = teams.iter().map(|(t, _, _)| t).collect();
    ids.dedup();
    for team in ids {
        let (owner_role, admin_role) = (
            role(team, SystemRole::Owner)?,
            role(team, SystemRole::Admin)?,
        );
        diesel::update(
            memberships::table
                .filter(memberships::workspace_id.eq(team))
                .filter(memberships::user_id.eq(previous)),
        )
        .set((
            memberships::role_id.eq(&admin_role),
            memberships::updated_at.eq(at),
        ))
        .execute(conn)?;
        let promoted = diesel::update(
            memberships::table
                .filter(memberships::workspace_id.eq(team))
                .filter(memberships::user_id.eq(new_owner)),
        )
        .set((
            memberships::role_id.eq(&owner_role),
            memberships::status.eq(MembershipStatus::Active),
            memberships::updated_at.eq(at),
        ))
        .execute(conn)?;
        if promoted == 0 {
            add_member(conn, team, new_owner, &owner_role, at)?;
        }
    }
    Ok(())
}

/// The owner of the organization the scoped team belongs to: the team's
/// owner, whom nobody in it may remove, demote or deactivate, and who
/// can't leave it.
pub fn organization_owner(conn: &mut AnyConnection, scope: &Scope) -> Result<UserId, DbError> {
    let parent = scope
        .workspace_row()
        .select(workspaces::parent_id)
        .first::<Option<WorkspaceId>>(conn)?
        .ok_or(DbError::NotFound)?;
    Ok(memberships::table
        .inner_join(roles::table.on(roles::id.eq(memberships::role_id)))
        .filter(memberships::workspace_id.eq(&parent))
        .filter(roles::system_key.eq(SystemRole::Owner))
        .select(memberships::user_id)
        .first(conn)?)
}

/// An active member of the organization the scoped team belongs to, by
/// email: who may be added to the team.
pub fn organization_member_by_email(
    conn: &mut AnyConnection,
    scope: &Scope,
    email: &str,
) -> Result<Option<(UserId, String)>, DbError> {
    let Some(parent) = scope.workspace().parent_id.clone() else {
        return Ok(None);
    };
    Ok(memberships::table
        .inner_join(users::table)
        .filter(memberships::workspace_id.eq(&parent))
        .filter(memberships::status.eq(MembershipStatus::Active))
        .filter(users::email.eq(email))
        .select((users::id, users::name))
        .first(conn)
        .optional()?)
}

/// Adds `user` to the scoped team with `role` (a role of the team). A
/// second membership is `Conflict` on [`super::UniqueKey::Membership`].
pub fn add(
    conn: &mut AnyConnection,
    scope: &Scope,
    user: &UserId,
    role: &RoleId,
) -> Result<MembershipId, DbError> {
    add_member(conn, scope.workspace_id(), user, role, now())
}

/// Ends the acting user's membership of the scoped team.
pub fn leave(conn: &mut AnyConnection, scope: &Scope) -> Result<(), DbError> {
    expect_one(
        diesel::delete(
            scope
                .memberships()
                .filter(memberships::user_id.eq(scope.user_id())),
        )
        .execute(conn)?,
    )
}

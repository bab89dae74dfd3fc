//! Organizations: creation with their system roles, settings, avatar,
//! archive / restore / delete, ownership and leaving. Functions that change
//! data expect to run inside the caller's transaction (the domain layer in
//! `crate::services::organizations` opens it and writes the audit entry in it).

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::expect_one;
use super::schema::{memberships, roles, users, workspace_avatars, workspaces};
use super::{AnyConnection, DbError, natively, now};
use crate::db::scope::{Scope, Tenant};
use crate::domain::{
    MembershipId, MembershipStatus, RoleId, Slug, SystemRole, UserId, WorkspaceId, WorkspaceKind,
    WorkspaceStatus,
};

/// Creates an organization with its owner, admin and member roles and makes
/// `creator` its owner. A taken slug is `DbError::Conflict` on the slug.
pub fn create(
    conn: &mut AnyConnection,
    creator: &UserId,
    name: &str,
    slug: &Slug,
    status: WorkspaceStatus,
) -> Result<WorkspaceId, DbError> {
    let created = now();
    let workspace_id = WorkspaceId::generate();
    diesel::insert_into(workspaces::table)
        .values((
            workspaces::id.eq(&workspace_id),
            workspaces::kind.eq(WorkspaceKind::Organization),
            workspaces::name.eq(name),
            workspaces::slug.eq(slug.as_str()),
            workspaces::status.eq(status),
            workspaces::created_at.eq(created),
            workspaces::updated_at.eq(created),
        ))
        .execute(conn)?;
    super::billing::open_wallet(conn, &workspace_id)?;
    let mut owner_role = None;
    for system in SystemRole::ALL {
        let role_id = RoleId::generate();
        diesel::insert_into(roles::table)
            .values((
                roles::id.eq(&role_id),
                roles::workspace_id.eq(&workspace_id),
                roles::system_key.eq(system),
                roles::name.eq(system.display_name()),
                roles::level.eq(system.level()),
                roles::created_at.eq(created),
                roles::updated_at.eq(created),
            ))
            .execute(conn)?;
        if system == SystemRole::Owner {
            owner_role = Some(role_id);
        }
    }
    diesel::insert_into(memberships::table)
        .values((
            memberships::id.eq(MembershipId::generate()),
            memberships::workspace_id.eq(&workspace_id),
            memberships::user_id.eq(creator),
            memberships::role_id.eq(owner_role.ok_or(DbError::NotFound)?),
            memberships::status.eq(MembershipStatus::Active),
            memberships::joined_at.eq(created),
            memberships::updated_at.eq(created),
        ))
        .execute(conn)?;
    Ok(workspace_id)
}

/// Whether a slug is in use by any workspace (archived ones included).
pub fn slug_taken(conn: &mut AnyConnection, slug: &Slug) -> Result<bool, DbError> {
    Ok(diesel::select(diesel::dsl::exists(
        workspaces::table.filter(workspaces::slug.eq(slug.as_str())),
    ))
    .get_result(conn)?)
}

/// The settings of the scoped organization.
#[derive(Debug, Clone, Queryable)]
pub struct Settings {
    /// Name.
    pub name: String,
    /// Slug.
    pub slug: Option<String>,
    /// Description.
    pub description: String,
    /// Where invoices go.
    pub billing_email: String,
    /// Postal address on invoices.
    pub billing_address: String,
    /// Bumped on every avatar change (cache-busting query string).
    pub avatar_version: i32,
}

/// Reads the scoped workspace's settings.
pub fn settings(conn: &mut AnyConnection, scope: &Scope) -> Result<Settings, DbError> {
    let query = scope.workspace_row().select((
        workspaces::name,
        workspaces::slug,
        workspaces::description,
        workspaces::billing_email,
        workspaces::billing_address,
        workspaces::avatar_version,
    ));
    Ok(natively!(conn, |native| query.first(native))?)
}

/// New values of the General tab (already validated).
#[derive(Debug, Clone)]
pub struct GeneralUpdate {
    /// Name.
    pub name: String,
    /// Slug (`None` for a team, which has none).
    pub slug: Option<Slug>,
    /// Description.
    pub description: String,
    /// Billing email (empty when unset).
    pub billing_email: String,
    /// Billing address.
    pub billing_address: String,
}

/// Saves the General tab of the scoped organization or team.
pub fn update_general(
    conn: &mut AnyConnection,
    scope: &Scope,
    update: &GeneralUpdate,
) -> Result<(), DbError> {
    expect_one(
        diesel::update(scope.workspace_row())
            .filter(workspaces::kind.ne(WorkspaceKind::Personal))
            .set((
                workspaces::name.eq(&update.name),
                workspaces::slug.eq(update.slug.as_ref().map(Slug::as_str)),
                workspaces::description.eq(&update.description),
                workspaces::billing_email.eq(&update.billing_email),
                workspaces::billing_address.eq(&update.billing_address),
                workspaces::updated_at.eq(now()),
            ))
            .execute(conn)?,
    )
}

/// Replaces the scoped organization's avatar.
pub fn set_avatar(
    conn: &mut AnyConnection,
    scope: &Scope,
    content_type: &str,
    bytes: &[u8],
) -> Result<(), DbError> {
    let workspace = scope.workspace_id();
    diesel::delete(workspace_avatars::table.find(workspace)).execute(conn)?;
    diesel::insert_into(workspace_avatars::table)
        .values((
            workspace_avatars::workspace_id.eq(workspace),
            workspace_avatars::content_type.eq(content_type),
            workspace_avatars::bytes.eq(bytes),
            workspace_avatars::updated_at.eq(now()),
        ))
        .execute(conn)?;
    bump_avatar_version(conn, workspace)
}

/// Removes the scoped organization's avatar.
pub fn remove_avatar(conn: &mut AnyConnection, scope: &Scope) -> Result<(), DbError> {
    let workspace = scope.workspace_id();
    diesel::delete(workspace_avatars::table.find(workspace)).execute(conn)?;
    bump_avatar_version(conn, workspace)
}

fn bump_avatar_version(conn: &mut AnyConnection, workspace: &WorkspaceId) -> Result<(), DbError> {
    diesel::update(workspaces::table.find(workspace))
        .set(workspaces::avatar_version.eq(workspaces::avatar_version + 1))
        .execute(conn)?;
    Ok(())
}

/// A workspace's avatar (content type, bytes): of any workspace the user
/// may enter (the switcher shows them all).
pub fn avatar(
    conn: &mut AnyConnection,
    workspace: &Tenant,
) -> Result<Option<(String, Vec<u8>)>, DbError> {
    Ok(workspace
        .workspace_avatars()
        .select((workspace_avatars::content_type, workspace_avatars::bytes))
        .first(conn)
        .optional()?)
}

/// Archives the scoped organization (it leaves every switcher; data stays).
pub fn archive(conn: &mut AnyConnection, scope: &Scope) -> Result<(), DbError> {
    expect_one(
        diesel::update(scope.workspace_row())
            .filter(workspaces::kind.eq(WorkspaceKind::Organization))
            .filter(workspaces::status.ne(WorkspaceStatus::Archived))
            .set((
                workspaces::status.eq(WorkspaceStatus::Archived),
                workspaces::archived_at.eq(now()),
                workspaces::updated_at.eq(now()),
            ))
            .execute(conn)?,
    )
}

/// An archived organization its owner may still restore.
#[derive(Debug, Clone, Queryable)]
pub struct Archived {
    /// Id.
    pub id: WorkspaceId,
    /// Name.
    pub name: String,
    /// Slug.
    pub slug: Option<String>,
    /// When it was archived.
    pub archived_at: Option<NaiveDateTime>,
}

/// Archived organizations `user` owns, archived after `cutoff`.
pub fn archived_owned_by(
    conn: &mut AnyConnection,
    user: &UserId,
    cutoff: NaiveDateTime,
) -> Result<Vec<Archived>, DbError> {
    Ok(memberships::table
        .inner_join(workspaces::table)
        .inner_join(roles::table)
        .filter(memberships::user_id.eq(user))
        .filter(roles::system_key.eq(SystemRole::Owner))
        .filter(workspaces::status.eq(WorkspaceStatus::Archived))
        .filter(workspaces::archived_at.gt(cutoff))
        .order(workspaces::archived_at.desc())
        .select((
            workspaces::id,
            workspaces::name,
            workspaces::slug,
            workspaces::archived_at,
        ))
        .load(conn)?)
}

/// Restores one of `user`'s archived organizations; anything else (not
/// theirs, not archived, past retention) is `NotFound`.
pub fn restore(
    conn: &mut AnyConnection,
    user: &UserId,
    workspace: &WorkspaceId,
    cutoff: NaiveDateTime,
) -> Result<Archived, DbError> {
    let target = archived_owned_by(conn, user, cutoff)?
        .into_iter()
        .find(|a| &a.id == workspace)
        .ok_or(DbError::NotFound)?;
    diesel::update(workspaces::table.find(workspace))
        .set((
            workspaces::status.eq(WorkspaceStatus::Active),
            workspaces::archived_at.eq(None::<NaiveDateTime>),
            workspaces::updated_at.eq(now()),
        ))
        .execute(conn)?;
    Ok(target)
}

/// Deletes the scoped organization with everything in it.
pub fn delete_forever(conn: &mut AnyConnection, scope: &Scope) -> Result<(), DbError> {
    expect_one(
        diesel::delete(
            scope
                .workspace_row()
                .filter(workspaces::kind.eq(WorkspaceKind::Organization)),
        )
        .execute(conn)?,
    )
}

/// Deletes organizations archived before `cutoff` (retention over).
pub fn purge_archived_before(
    conn: &mut AnyConnection,
    cutoff: NaiveDateTime,
) -> Result<usize, DbError> {
    Ok(diesel::delete(
        workspaces::table
            .filter(workspaces::kind.eq(WorkspaceKind::Organization))
            .filter(workspaces::status.eq(WorkspaceStatus::Archived))
            .filter(workspaces::archived_at.le(cutoff)),
    )
    .execute(conn)?)
}

/// A member as the ownership and leave forms need them.
#[derive(Debug, Clone, Queryable)]
pub struct MemberRef {
    /// Membership.
    pub membership_id: MembershipId,
    /// User.
    pub user_id: UserId,
    /// Name.
    pub name: String,
    /// Email.
    pub email: String,
    /// Which system role they hold; `None` for a custom role.
    pub system_key: Option<SystemRole>,
}

/// The active member of the scoped workspace with this email.
pub fn active_member_by_email(
    conn: &mut AnyConnection,
    scope: &Scope,
    email: &str,
) -> Result<Option<MemberRef>, DbError> {
    Ok(scope
        .memberships()
        .inner_join(users::table)
        .inner_join(roles::table)
        .filter(memberships::status.eq(MembershipStatus::Active))
        .filter(users::email.eq(email))
        .select((
            memberships::id,
            users::id,
            users::name,
            users::email,
            roles::system_key,
        ))
        .first(conn)
        .optional()?)
}

/// The owner of the scoped organization.
pub fn owner_of(conn: &mut AnyConnection, scope: &Scope) -> Result<UserId, DbError> {
    Ok(scope
        .memberships()
        .inner_join(roles::table)
        .filter(roles::system_key.eq(SystemRole::Owner))
        .select(memberships::user_id)
        .first(conn)?)
}

/// The id of one of the scoped workspace's system roles.
fn system_role_id(
    conn: &mut AnyConnection,
    scope: &Scope,
    role: SystemRole,
) -> Result<RoleId, DbError> {
    Ok(scope
        .roles()
        .filter(roles::system_key.eq(role))
        .select(roles::id)
        .first(conn)?)
}

/// Makes `new_owner` the owner and the acting owner an admin, atomically
/// with the caller's transaction.
pub fn transfer_ownership(
    conn: &mut AnyConnection,
    scope: &Scope,
    new_owner: &MembershipId,
) -> Result<(), DbError> {
    let owner_role = system_role_id(conn, scope, SystemRole::Owner)?;
    let admin_role = system_role_id(conn, scope, SystemRole::Admin)?;
    let demoted = diesel::update(scope.memberships())
        .filter(memberships::user_id.eq(scope.user_id()))
        .filter(memberships::role_id.eq(&owner_role))
        .set((
            memberships::role_id.eq(&admin_role),
            memberships::updated_at.eq(now()),
        ))
        .execute(conn)?;
    let promoted = diesel::update(scope.memberships())
        .filter(memberships::id.eq(new_owner))
        .filter(memberships::status.eq(MembershipStatus::Active))
        .set((
            memberships::role_id.eq(&owner_role),
            memberships::updated_at.eq(now()),
        ))
        .execute(conn)?;
    if demoted != 1 || promoted != 1 {
        return Err(DbError::NotFound);
    }
    Ok(())
}

/// Ends the acting user's membership of the scoped workspace (never the owner's).
pub fn leave(conn: &mut AnyConnection, scope: &Scope) -> Result<(), DbError> {
    let owner_role = system_role_id(conn, scope, SystemRole::Owner)?;
    expect_one(
        diesel::delete(
            scope
                .memberships()
                .filter(memberships::user_id.eq(scope.user_id()))
                .filter(memberships::role_id.ne(&owner_role)),
        )
        .execute(conn)?,
    )
}

/// One card of the organizations page.
#[derive(Debug, Clone)]
pub struct Card {
    /// Id.
    pub id: WorkspaceId,
    /// Name.
    pub name: String,
    /// Slug.
    pub slug: String,
    /// Status (never archived: archived ones have no card).
    pub status: WorkspaceStatus,
    /// The viewer's role there.
    pub role_name: String,
    /// Whether the viewer owns it.
    pub viewer_is_owner: bool,
    /// The owner's name and email.
    pub owner: Option<(String, String)>,
    /// Active members.
    pub member_count: i64,
    /// Teams (archived ones included).
    pub team_count: i64,
    /// Projects of the organization itself.
    pub project_count: i64,
    /// Whether an avatar is set (its version, for the image URL).
    pub avatar_version: i32,
}

/// A card as read: the viewer's membership with its role, the
/// organization with its counters (kept in step with memberships, teams and
/// projects by triggers), and its owner, if any.
#[derive(Queryable)]
struct CardRow {
    id: WorkspaceId,
    name: String,
    slug: Option<String>,
    status: WorkspaceStatus,
    role_name: String,
    role_system_key: Option<SystemRole>,
    avatar_version: i32,
    member_count: i32,
    team_count: i32,
    project_count: i32,
    owner_name: Option<String>,
    owner_email: Option<String>,
}

/// The organizations `user` belongs to, as cards, in one query whatever
/// their number or size: the counts are the organizations' counters, and
/// each owner is the user its row names (`workspaces.owner_user_id`, kept
/// in step by triggers), read by primary key.
pub fn cards_for(conn: &mut AnyConnection, user: &UserId) -> Result<Vec<Card>, DbError> {
    let rows: Vec<CardRow> = memberships::table
        .inner_join(workspaces::table)
        .inner_join(roles::table)
        .left_join(users::table.on(workspaces::owner_user_id.eq(users::id.nullable())))
        .filter(memberships::user_id.eq(user))
        .filter(memberships::status.eq(MembershipStatus::Active))
        .filter(workspaces::kind.eq(WorkspaceKind::Organization))
        .filter(workspaces::status.ne(WorkspaceStatus::Archived))
        .order((workspaces::name.asc(), workspaces::id.asc()))
        .select((
            workspaces::id,
            workspaces::name,
            workspaces::slug,
            workspaces::status,
            roles::name,
            roles::system_key,
            workspaces::avatar_version,
            workspaces::member_count,
            workspaces::team_count,
            workspaces::project_count,
            users::name.nullable(),
            users::email.nullable(),
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|row| Card {
            member_count: row.member_count.into(),
            team_count: row.team_count.into(),
            project_count: row.project_count.into(),
            owner: row.owner_name.zip(row.owner_email),
            viewer_is_owner: row.role_system_key == Some(SystemRole::Owner),
            id: row.id,
            name: row.name,
            slug: row.slug.unwrap_or_default(),
            status: row.status,
            role_name: row.role_name,
            avatar_version: row.avatar_version,
        })
        .collect())
}

/// How many owners each workspace has (a team's is its organization's):
/// the invariant tests check this is exactly one everywhere.
pub fn owner_counts(conn: &mut AnyConnection) -> Result<Vec<(WorkspaceId, i64)>, DbError> {
    let owners: HashMap<WorkspaceId, i64> = memberships::table
        .inner_join(roles::table)
        .filter(roles::system_key.eq(SystemRole::Owner))
        .group_by(memberships::workspace_id)
        .select((memberships::workspace_id, diesel::dsl::count_star()))
        .load::<(WorkspaceId, i64)>(conn)?
        .into_iter()
        .collect();
    let all: Vec<WorkspaceId> = workspaces::table.select(workspaces::id).load(conn)?;
    Ok(all
        .into_iter()
        .map(|id| {
            let n = owners.get(&id).copied().unwrap_or(0);
            (id, n)
        })
        .collect())
}

/// An organization or team as the API shows it to one of its members.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = workspaces)]
pub struct Profile {
    /// Id.
    pub id: WorkspaceId,
    /// Organization or team.
    pub kind: WorkspaceKind,
    /// Name.
    pub name: String,
    /// Slug (organizations).
    pub slug: Option<String>,
    /// The organization a team belongs to.
    pub parent_id: Option<WorkspaceId>,
    /// Active, suspended or archived.
    pub status: WorkspaceStatus,
    /// Description.
    pub description: String,
    /// Where invoices go (empty when unset).
    pub billing_email: String,
    /// Postal address on invoices.
    pub billing_address: String,
    /// Agents that may run at once (`None`: no limit).
    pub max_running_agents: Option<i32>,
    /// Hours an agent may run (`None`: no limit).
    pub max_agent_hours: Option<i32>,
    /// When it was created.
    #[diesel(deserialize_as = super::stamps::Stamp)]
    pub created_at: NaiveDateTime,
    /// The member's role: a system role's key or a custom role's name.
    #[diesel(select_expression = roles::name)]
    pub role_name: String,
    /// Which system role the member holds, if one.
    #[diesel(select_expression = roles::system_key)]
    pub role_system_key: Option<SystemRole>,
}

/// The organization or team `workspace` with `user`'s role there, and its
/// owner's id (kept on the workspace's row), if `user` is an active member
/// of it: the membership is the door, so another workspace is `None` (404).
pub fn profile_for_member(
    conn: &mut AnyConnection,
    user: &UserId,
    workspace: &WorkspaceId,
) -> Result<Option<(Profile, Option<UserId>)>, DbError> {
    Ok(memberships::table
        .inner_join(workspaces::table)
        .inner_join(roles::table)
        .filter(memberships::user_id.eq(user))
        .filter(memberships::workspace_id.eq(workspace))
        .filter(memberships::status.eq(MembershipStatus::Active))
        .filter(workspaces::kind.ne(WorkspaceKind::Personal))
        .select((Profile::as_select(), workspaces::owner_user_id))
        .first(conn)
        .optional()?)
}

/// Sets a new organization's description and billing email (already
/// validated), in its creator's transaction.
pub fn set_profile(
    conn: &mut AnyConnection,
    workspace: &WorkspaceId,
    description: &str,
    billing_email: &str,
) -> Result<(), DbError> {
    expect_one(
        diesel::update(workspaces::table.find(workspace))
            .set((
                workspaces::description.eq(description),
                workspaces::billing_email.eq(billing_email),
            ))
            .execute(conn)?,
    )
}

//! Roles of a workspace: the three system roles (their permissions come
//! from the catalogue) and custom ones. A custom role's effective
//! permissions — its own plus those of the role it inherits from — are
//! stored in `permissions` and recomputed for the whole workspace whenever
//! one of its roles changes, so the per-request scope query stays one join.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{invitations, memberships, roles};
use super::{AnyConnection, DbError, now};
use crate::domain::{PermissionSet, RoleId};
use crate::scope::Scope;

/// A role as the roles page lists it.
#[derive(Debug, Clone, Queryable)]
pub struct RoleDetail {
    /// Id.
    pub id: RoleId,
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// `owner` / `admin` / `member` for system roles.
    pub system_key: Option<String>,
    /// Rank.
    pub level: i32,
    /// Effective permissions (custom roles).
    pub permissions: String,
    /// Permissions chosen for it (custom roles).
    pub own_permissions: String,
    /// The role it inherits from.
    pub inherits_from_id: Option<String>,
    /// Last change.
    pub updated_at: NaiveDateTime,
}

type DetailColumns = (
    roles::id,
    roles::name,
    roles::description,
    roles::system_key,
    roles::level,
    roles::permissions,
    roles::own_permissions,
    roles::inherits_from_id,
    roles::updated_at,
);

const DETAIL_COLUMNS: DetailColumns = (
    roles::id,
    roles::name,
    roles::description,
    roles::system_key,
    roles::level,
    roles::permissions,
    roles::own_permissions,
    roles::inherits_from_id,
    roles::updated_at,
);

/// The scoped workspace's roles, highest rank first, with how many members hold each.
pub fn list(conn: &mut AnyConnection, scope: &Scope) -> Result<Vec<(RoleDetail, i64)>, DbError> {
    let roles: Vec<RoleDetail> = roles::table
        .filter(roles::workspace_id.eq(scope.workspace_id()))
        .order((roles::level.desc(), roles::name.asc()))
        .select(DETAIL_COLUMNS)
        .load(conn)?;
    let counts: HashMap<RoleId, i64> = memberships::table
        .filter(memberships::workspace_id.eq(scope.workspace_id()))
        .group_by(memberships::role_id)
        .select((memberships::role_id, diesel::dsl::count_star()))
        .load::<(RoleId, i64)>(conn)?
        .into_iter()
        .collect();
    Ok(roles
        .into_iter()
        .map(|r| {
            let n = counts.get(&r.id).copied().unwrap_or(0);
            (r, n)
        })
        .collect())
}

/// One role of the scoped workspace.
pub fn find(conn: &mut AnyConnection, scope: &Scope, id: &RoleId) -> Result<RoleDetail, DbError> {
    Ok(roles::table
        .filter(roles::workspace_id.eq(scope.workspace_id()))
        .filter(roles::id.eq(id))
        .select(DETAIL_COLUMNS)
        .first(conn)?)
}

/// A custom role's editable fields (validated).
#[derive(Debug, Clone)]
pub struct CustomRole {
    /// Name (unique in the workspace).
    pub name: String,
    /// Description.
    pub description: String,
    /// Rank.
    pub level: i32,
    /// Permissions chosen for it.
    pub own_permissions: PermissionSet,
    /// A role of the same workspace to inherit from.
    pub inherits_from: Option<RoleId>,
}

/// Creates a custom role; a taken name is a `Conflict`.
pub fn create(
    conn: &mut AnyConnection,
    scope: &Scope,
    role: &CustomRole,
) -> Result<RoleId, DbError> {
    let id = RoleId::generate();
    let at = now();
    diesel::insert_into(roles::table)
        .values((
            roles::id.eq(&id),
            roles::workspace_id.eq(scope.workspace_id()),
            roles::name.eq(&role.name),
            roles::description.eq(&role.description),
            roles::level.eq(role.level),
            roles::own_permissions.eq(role.own_permissions.to_stored()),
            roles::permissions.eq(role.own_permissions.to_stored()),
            roles::inherits_from_id.eq(&role.inherits_from),
            roles::created_at.eq(at),
            roles::updated_at.eq(at),
        ))
        .execute(conn)?;
    recompute_effective(conn, scope)?;
    Ok(id)
}

/// Updates a custom role of the scoped workspace.
pub fn update(
    conn: &mut AnyConnection,
    scope: &Scope,
    id: &RoleId,
    role: &CustomRole,
) -> Result<(), DbError> {
    let changed = diesel::update(roles::table)
        .filter(roles::workspace_id.eq(scope.workspace_id()))
        .filter(roles::id.eq(id))
        .filter(roles::system_key.is_null())
        .set((
            roles::name.eq(&role.name),
            roles::description.eq(&role.description),
            roles::level.eq(role.level),
            roles::own_permissions.eq(role.own_permissions.to_stored()),
            roles::inherits_from_id.eq(&role.inherits_from),
            roles::updated_at.eq(now()),
        ))
        .execute(conn)?;
    if changed == 0 {
        return Err(DbError::NotFound);
    }
    recompute_effective(conn, scope)
}

/// How many memberships and pending invitations hold a role.
pub fn holders(
    conn: &mut AnyConnection,
    scope: &Scope,
    id: &RoleId,
) -> Result<(i64, i64), DbError> {
    let members = memberships::table
        .filter(memberships::workspace_id.eq(scope.workspace_id()))
        .filter(memberships::role_id.eq(id))
        .count()
        .get_result(conn)?;
    let invited = invitations::table
        .filter(invitations::workspace_id.eq(scope.workspace_id()))
        .filter(invitations::role_id.eq(id))
        .count()
        .get_result(conn)?;
    Ok((members, invited))
}

/// Deletes a custom role of the scoped workspace (roles inheriting from it
/// stop inheriting).
pub fn delete(conn: &mut AnyConnection, scope: &Scope, id: &RoleId) -> Result<(), DbError> {
    diesel::update(roles::table)
        .filter(roles::workspace_id.eq(scope.workspace_id()))
        .filter(roles::inherits_from_id.eq(id))
        .set(roles::inherits_from_id.eq(None::<String>))
        .execute(conn)?;
    let deleted = diesel::delete(
        roles::table
            .filter(roles::workspace_id.eq(scope.workspace_id()))
            .filter(roles::id.eq(id))
            .filter(roles::system_key.is_null()),
    )
    .execute(conn)?;
    if deleted == 0 {
        return Err(DbError::NotFound);
    }
    recompute_effective(conn, scope)
}

/// Recomputes every custom role's effective permissions in the scoped
/// workspace: its own, plus its parent's effective set (chains followed,
/// cycles cut).
fn recompute_effective(conn: &mut AnyConnection, scope: &Scope) -> Result<(), DbError> {
    let all: Vec<RoleDetail> = roles::table
        .filter(roles::workspace_id.eq(scope.workspace_id()))
        .select(DETAIL_COLUMNS)
        .load(conn)?;
    let by_id: HashMap<&str, &RoleDetail> = all.iter().map(|r| (r.id.as_str(), r)).collect();
    for role in all.iter().filter(|r| r.system_key.is_none()) {
        let mut effective = PermissionSet::from_stored(&role.own_permissions);
        let mut seen = vec![role.id.as_str()];
        let mut parent = role.inherits_from_id.as_deref();
        while let Some(parent_id) = parent.filter(|p| !seen.contains(p)) {
            let Some(parent_role) = by_id.get(parent_id) else {
                break;
            };
            effective = effective.union(PermissionSet::of_role(
                parent_role.system_key.as_deref(),
                &parent_role.own_permissions,
            ));
            seen.push(parent_id);
            parent = parent_role.inherits_from_id.as_deref();
        }
        let stored = effective.to_stored();
        if stored != role.permissions {
            diesel::update(roles::table.find(&role.id))
                .set(roles::permissions.eq(stored))
                .execute(conn)?;
        }
    }
    Ok(())
}

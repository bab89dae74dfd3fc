//! Roles of a workspace: the three system roles (their permissions come
//! from the catalogue) and custom ones. A custom role's effective
//! permissions — its own plus those of the role it inherits from — are
//! stored in `permissions` and recomputed for the whole workspace whenever
//! one of its roles changes, so the per-request scope query stays one join.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{memberships, roles};
use super::{AnyConnection, DbError, expect_one, natively, now};
use crate::db::scope::Scope;
use crate::domain::permission::{InheritingRole, effective_permissions};
use crate::domain::{PermissionSet, RoleId, SystemRole};

/// A role as the roles page lists it.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = roles)]
pub struct RoleDetail {
    /// Id.
    pub id: RoleId,
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Which system role it is; `None` for a custom role.
    pub system_key: Option<SystemRole>,
    /// Rank.
    pub level: i32,
    /// Effective permissions (custom roles).
    pub permissions: String,
    /// Permissions chosen for it (custom roles).
    pub own_permissions: String,
    /// The role it inherits from.
    pub inherits_from_id: Option<RoleId>,
    /// Last change.
    pub updated_at: NaiveDateTime,
    /// Memberships holding it (a counter the database keeps in step).
    pub member_count: i32,
}

/// The scoped workspace's roles, highest rank first (what the role rules
/// check an edit against; the page that also counts holders uses [`list`]).
pub fn all(conn: &mut AnyConnection, scope: &Scope) -> Result<Vec<RoleDetail>, DbError> {
    Ok(natively!(conn, |native| scope
        .roles()
        .order((roles::level.desc(), roles::name.asc()))
        .select(RoleDetail::as_select())
        .load(native))?)
}

/// The scoped workspace's roles, highest rank first, with how many members
/// hold each (from the counter, so the cost is the number of roles).
pub fn list(conn: &mut AnyConnection, scope: &Scope) -> Result<Vec<(RoleDetail, i64)>, DbError> {
    Ok(all(conn, scope)?
        .into_iter()
        .map(|r| {
            let n = i64::from(r.member_count);
            (r, n)
        })
        .collect())
}

/// One role of the scoped workspace.
pub fn find(conn: &mut AnyConnection, scope: &Scope, id: &RoleId) -> Result<RoleDetail, DbError> {
    Ok(scope
        .roles()
        .filter(roles::id.eq(id))
        .select(RoleDetail::as_select())
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
    expect_one(
        diesel::update(scope.roles())
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
            .execute(conn)?,
    )?;
    super::invitations::rename_role(conn, scope, id, &role.name)?;
    recompute_effective(conn, scope)
}

/// How many memberships and pending, unexpired invitations hold a role.
/// Ended invitations don't: they keep the role's name and let go of it.
pub fn holders(
    conn: &mut AnyConnection,
    scope: &Scope,
    id: &RoleId,
) -> Result<(i64, i64), DbError> {
    let members = scope
        .memberships()
        .filter(memberships::role_id.eq(id))
        .count()
        .get_result(conn)?;
    let invited = super::invitations::pending_count_for_role(conn, scope, id)?;
    Ok((members, invited))
}

/// Deletes a custom role of the scoped workspace (roles inheriting from it
/// stop inheriting).
pub fn delete(conn: &mut AnyConnection, scope: &Scope, id: &RoleId) -> Result<(), DbError> {
    super::invitations::release_role(conn, scope, id)?;
    diesel::update(scope.roles())
        .filter(roles::inherits_from_id.eq(id))
        .set(roles::inherits_from_id.eq(None::<RoleId>))
        .execute(conn)?;
    expect_one(
        diesel::delete(
            scope
                .roles()
                .filter(roles::id.eq(id))
                .filter(roles::system_key.is_null()),
        )
        .execute(conn)?,
    )?;
    recompute_effective(conn, scope)
}

/// Recomputes every custom role's effective permissions in the scoped
/// workspace (see [`effective_permissions`]) and stores those that changed.
fn recompute_effective(conn: &mut AnyConnection, scope: &Scope) -> Result<(), DbError> {
    let all: Vec<RoleDetail> = scope.roles().select(RoleDetail::as_select()).load(conn)?;
    let effective = effective_permissions(&inheriting(&all));
    for role in all.iter().filter(|r| r.system_key.is_none()) {
        let stored = effective
            .get(role.id.as_str())
            .copied()
            .unwrap_or_default()
            .to_stored();
        if stored != role.permissions {
            diesel::update(roles::table.find(&role.id))
                .set(roles::permissions.eq(stored))
                .execute(conn)?;
        }
    }
    Ok(())
}

/// The roles as inheritance sees them.
pub fn inheriting(roles: &[RoleDetail]) -> Vec<InheritingRole<'_>> {
    roles
        .iter()
        .map(|r| InheritingRole {
            id: r.id.as_str(),
            system_key: r.system_key,
            own: PermissionSet::from_stored(&r.own_permissions),
            parent: r.inherits_from_id.as_ref().map(RoleId::as_str),
        })
        .collect()
}

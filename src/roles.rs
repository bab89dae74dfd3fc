//! Custom roles: create, edit, delete, within the hierarchy rules. A member
//! may only shape roles ranked below their own, with permissions they hold
//! themselves (inherited ones included), never the owner-only ones; a role
//! still held by members or offered by pending invitations can't be deleted.

use crate::db::audit::{Actor, Event};
use crate::db::roles::CustomRole;
use crate::db::{self, DbError, write_transaction};
use crate::domain::permission::SystemRole;
use crate::domain::{FieldErrors, Permission, PermissionSet, PersonName, RoleId};
use crate::members::MemberError;
use crate::scope::Scope;
use crate::web::AppState;

/// Longest role description.
const DESCRIPTION_MAX_CHARS: usize = 500;

/// A starting point for a new role.
#[derive(Debug, Clone, Copy)]
pub struct Preset {
    /// Its key in `?preset=`.
    pub key: &'static str,
    /// Suggested name.
    pub name: &'static str,
    /// What it is for.
    pub description: &'static str,
    /// Suggested rank.
    pub level: i32,
    /// Its permissions.
    pub permissions: &'static [Permission],
}

/// The presets offered on the roles page.
pub const PRESETS: &[Preset] = &[
    Preset {
        key: "billing",
        name: "Billing",
        description: "Sees and manages the wallet and usage; nothing else.",
        level: 30,
        permissions: &[Permission::BillingRead, Permission::BillingManage],
    },
    Preset {
        key: "tech",
        name: "Tech",
        description: "Works with projects, agents and API keys; no billing, no members.",
        level: 40,
        permissions: &[
            Permission::ResourcesRead,
            Permission::ResourcesWrite,
            Permission::ResourcesTransfer,
            Permission::KeysManage,
        ],
    },
];

/// The role form's fields, as typed.
#[derive(Debug, Clone, Default)]
pub struct RoleInput {
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Rank, as typed.
    pub level: String,
    /// Permission keys ticked.
    pub permissions: Vec<String>,
    /// Role id to inherit from (empty: none).
    pub inherits_from: String,
}

impl RoleInput {
    /// Reads the form's pairs (checkboxes repeat the `permissions` key).
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        let mut input = RoleInput::default();
        for (key, value) in pairs {
            match key.as_str() {
                "name" => input.name = value,
                "description" => input.description = value,
                "level" => input.level = value,
                "permissions" => input.permissions.push(value),
                "inherits_from" => input.inherits_from = value,
                _ => {}
            }
        }
        input
    }

    /// Whether a permission is ticked (for re-rendering the form).
    pub fn has(&self, permission: &Permission) -> bool {
        self.permissions.iter().any(|p| p == permission.key())
    }
}

fn validate(
    conn: &mut db::AnyConnection,
    scope: &Scope,
    input: &RoleInput,
    editing: Option<&RoleId>,
) -> Result<CustomRole, MemberError> {
    let mut errors = FieldErrors::new();
    let name = errors.check("name", PersonName::parse(&input.name));
    if let Some(name) = &name {
        let clashes_with_system = [SystemRole::Owner, SystemRole::Admin, SystemRole::Member]
            .iter()
            .any(|s| s.display_name().eq_ignore_ascii_case(name.as_str()));
        if clashes_with_system {
            errors.add("name", "That name belongs to a system role.");
        }
    }
    let description = input.description.trim().to_owned();
    if description.chars().count() > DESCRIPTION_MAX_CHARS {
        errors.add("description", "Use at most 500 characters.");
    }
    let own_level = scope.role_level();
    let level = input
        .level
        .trim()
        .parse::<i32>()
        .ok()
        .filter(|l| (1..own_level).contains(l));
    if level.is_none() {
        errors.add(
            "level",
            format!(
                "Use a whole number from 1 to {} (below your own rank).",
                own_level - 1
            ),
        );
    }
    let own: PermissionSet = input
        .permissions
        .iter()
        .filter_map(|k| Permission::from_key(k))
        .collect();
    let roles = db::roles::list(conn, scope)?;
    let parent = match input.inherits_from.trim() {
        "" => None,
        id => {
            let parent = RoleId::parse(id)
                .and_then(|id| roles.iter().map(|(r, _)| r).find(|r| r.id == id).cloned());
            match parent {
                Some(parent)
                    if Some(&parent.id) != editing
                        && parent.system_key.as_deref() != Some("owner") =>
                {
                    Some(parent)
                }
                _ => {
                    errors.add(
                        "inherits_from",
                        "Choose another role of this organization (not the owner, not itself).",
                    );
                    None
                }
            }
        }
    };
    let inherited = parent
        .as_ref()
        .map(|p| PermissionSet::of_role(p.system_key.as_deref(), &p.permissions))
        .unwrap_or_default();
    let effective = own.union(inherited);
    if effective.iter().any(Permission::is_owner_only) {
        errors.add(
            "permissions",
            "Archiving, deleting and transferring the organization stay with its owner.",
        );
    } else if !scope.permissions().is_superset_of(effective) {
        errors.add(
            "permissions",
            "You can only give permissions you hold yourself.",
        );
    }
    if let Some(name) = &name {
        let taken = roles
            .iter()
            .any(|(r, _)| r.name.eq_ignore_ascii_case(name.as_str()) && Some(&r.id) != editing);
        if taken {
            errors.add("name", "Another role has this name.");
        }
    }
    match (name, level) {
        (Some(name), Some(level)) if errors.is_empty() => Ok(CustomRole {
            name: name.as_str().to_owned(),
            description,
            level,
            own_permissions: own,
            inherits_from: parent.map(|p| p.id),
        }),
        _ => Err(MemberError::Invalid(errors)),
    }
}

fn record(
    conn: &mut db::AnyConnection,
    scope: &Scope,
    actor: &Actor,
    action: &str,
    id: &RoleId,
    role: &str,
    details: String,
) -> Result<(), DbError> {
    let event = Event {
        action,
        target_type: "role",
        target_id: id.as_str(),
        target_label: role,
        details,
    };
    db::audit::record(conn, scope.workspace_id(), actor, &event)
}

/// Creates a custom role.
pub async fn create(
    state: &AppState,
    scope: &Scope,
    input: RoleInput,
) -> Result<RoleId, MemberError> {
    let (scope, actor) = (scope.clone(), Actor::of(scope));
    state
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                let role = validate(conn, &scope, &input, None)?;
                let id = db::roles::create(conn, &scope, &role)?;
                let details = format!("level {}; {}", role.level, role.own_permissions.to_stored());
                record(
                    conn,
                    &scope,
                    &actor,
                    "role.create",
                    &id,
                    &role.name,
                    details,
                )?;
                Ok(id)
            })
        })
        .await
}

/// Edits a custom role ranked below the actor's.
pub async fn update(
    state: &AppState,
    scope: &Scope,
    id: RoleId,
    input: RoleInput,
) -> Result<(), MemberError> {
    let (scope, actor) = (scope.clone(), Actor::of(scope));
    state
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                let current = db::roles::find(conn, &scope, &id)?;
                if current.system_key.is_some() {
                    return Err(MemberError::Refused("System roles can't be edited."));
                }
                if current.level >= scope.role_level() {
                    return Err(MemberError::Refused(
                        "You can only edit roles ranked below yours.",
                    ));
                }
                let role = validate(conn, &scope, &input, Some(&id))?;
                db::roles::update(conn, &scope, &id, &role)?;
                let details = format!("level {}; {}", role.level, role.own_permissions.to_stored());
                record(
                    conn,
                    &scope,
                    &actor,
                    "role.update",
                    &id,
                    &role.name,
                    details,
                )?;
                Ok(())
            })
        })
        .await
}

/// Deletes a custom role nobody holds.
pub async fn delete(state: &AppState, scope: &Scope, id: RoleId) -> Result<String, MemberError> {
    let (scope, actor) = (scope.clone(), Actor::of(scope));
    state
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                let current = db::roles::find(conn, &scope, &id)?;
                if current.system_key.is_some() {
                    return Err(MemberError::Refused("System roles can't be deleted."));
                }
                if current.level >= scope.role_level() {
                    return Err(MemberError::Refused("You can only delete roles ranked below yours."));
                }
                let (members, invited) = db::roles::holders(conn, &scope, &id)?;
                if members > 0 || invited > 0 {
                    return Err(MemberError::Refused(
                        "Members or invitations still hold this role. Give them another role first, then delete it.",
                    ));
                }
                db::roles::delete(conn, &scope, &id)?;
                record(conn, &scope, &actor, "role.delete", &id, &current.name, String::new())?;
                Ok(current.name)
            })
        })
        .await
}

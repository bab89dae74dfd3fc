//! Custom roles: create, edit, delete, within the hierarchy rules. A member
//! may only shape roles ranked below their own, with permissions they hold
//! themselves (inherited ones included), never the owner-only ones; a role
//! inherits only from one ranked below it; no edit changes what a role at
//! or above the editor holds; a role still held by members or offered by
//! pending invitations can't be deleted.

use crate::db::audit::{Actor, Constructor, Event};
use crate::db::roles::{CustomRole, RoleDetail};
use crate::db::scope::Scope;
use crate::db::{self, Db, DbError, write_transaction};
use crate::domain::name::read_alike;
use crate::domain::permission::{SystemRole, effective_permissions};
use crate::domain::{FieldErrors, Permission, PermissionSet, PersonName, RoleId, free_text};
use crate::services::ServiceError;
use crate::services::members::{Standing, revoke_invitations_beyond_senders};

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
            Permission::ProjectsManage,
            Permission::ResourcesManage,
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

/// Why `name` can't be used for a role: it reads as a system role's name
/// or as another role's (after Unicode folding and confusable mapping).
fn name_problem(roles: &[RoleDetail], name: &PersonName, editing: Option<&str>) -> Option<String> {
    let system = SystemRole::ALL
        .into_iter()
        .find(|s| read_alike(s.display_name(), name.as_str()));
    if let Some(system) = system {
        return Some(format!(
            "That name reads as the system role “{}”; choose another.",
            system.display_name()
        ));
    }
    roles
        .iter()
        .find(|r| Some(r.id.as_str()) != editing && read_alike(&r.name, name.as_str()))
        .map(|other| {
            format!(
                "Another role is named “{}”; choose another name.",
                other.name
            )
        })
}

/// The role chosen to inherit from (`None` for none), or why it can't be.
fn parent_of<'a>(
    roles: &'a [RoleDetail],
    chosen: &str,
    editing: Option<&str>,
    level: Option<i32>,
) -> Result<Option<&'a RoleDetail>, String> {
    let chosen = chosen.trim();
    if chosen.is_empty() {
        return Ok(None);
    }
    let parent = RoleId::parse(chosen)
        .and_then(|id| roles.iter().find(|r| r.id == id))
        .filter(|p| p.system_key != Some(SystemRole::Owner))
        .ok_or_else(|| "Choose another role of this organization (not the owner).".to_owned())?;
    match inheritance_problem(roles, parent, editing, level) {
        Some(problem) => Err(problem),
        None => Ok(Some(parent)),
    }
}

/// Checks a role form against the hierarchy rules, as the editor stands
/// now. `editing` is the stored role when an existing one is edited.
///
/// Permissions the editor doesn't hold are not theirs to give or take: the
/// form doesn't show them, and a role keeps the ones it had. A role may
/// inherit only from a role ranked below it (so inheritance never loops),
/// and an edit may not change what any role ranked at or above the editor
/// effectively holds (editing "Base" must not move "Senior" above you).
fn validate(
    conn: &mut db::AnyConnection,
    scope: &Scope,
    standing: &Standing,
    input: &RoleInput,
    editing: Option<&RoleDetail>,
) -> Result<CustomRole, ServiceError> {
    let mut errors = FieldErrors::new();
    let editing_id = editing.map(|r| r.id.as_str());
    let name = errors.check("name", PersonName::parse(&input.name));
    let roles = db::roles::all(conn, scope)?;
    if let Some(problem) = name
        .as_ref()
        .and_then(|n| name_problem(&roles, n, editing_id))
    {
        errors.add("name", problem);
    }
    let description = errors
        .check(
            "description",
            free_text(&input.description, DESCRIPTION_MAX_CHARS),
        )
        .unwrap_or_default();
    let level = input
        .level
        .trim()
        .parse::<i32>()
        .ok()
        .filter(|l| (1..standing.level()).contains(l));
    if level.is_none() {
        errors.add(
            "level",
            format!(
                "Use a whole number from 1 to {} (below your own rank).",
                standing.level() - 1
            ),
        );
    }
    let held = standing.permissions();
    let ticked: PermissionSet = input
        .permissions
        .iter()
        .filter_map(|k| Permission::from_key(k))
        .collect();
    let had = editing
        .map(|r| PermissionSet::from_stored(&r.own_permissions))
        .unwrap_or_default();
    let kept = had.difference(held);
    let own = ticked.intersection(held).union(kept);
    let parent = match parent_of(&roles, &input.inherits_from, editing_id, level) {
        Ok(parent) => parent,
        Err(problem) => {
            errors.add("inherits_from", problem);
            None
        }
    };
    let inherited = parent
        .map(|p| PermissionSet::of_role(p.system_key, &p.permissions))
        .unwrap_or_default();
    let effective = own.union(inherited);
    let had_effective = editing
        .map(|r| PermissionSet::from_stored(&r.permissions))
        .unwrap_or_default();
    if effective.iter().any(Permission::is_owner_only) {
        errors.add(
            "permissions",
            "Archiving, deleting and transferring the organization stay with its owner.",
        );
    } else if !ticked.difference(held).difference(kept).is_empty()
        || !effective
            .difference(had_effective)
            .difference(held)
            .is_empty()
    {
        errors.add(
            "permissions",
            "You can only give permissions you hold yourself.",
        );
    }
    if let (Some(current), Some(level)) = (editing, level) {
        let changed = CustomRole {
            name: String::new(),
            description: String::new(),
            level,
            own_permissions: own,
            inherits_from: parent.map(|p| p.id.clone()),
        };
        if let Some(problem) = effect_on_others(&roles, current, &changed, standing) {
            errors.add("permissions", problem);
        }
    }
    match (name, level) {
        (Some(name), Some(level)) if errors.is_empty() => Ok(CustomRole {
            name: name.as_str().to_owned(),
            description,
            level,
            own_permissions: own,
            inherits_from: parent.map(|p| p.id.clone()),
        }),
        _ => Err(ServiceError::Invalid(errors)),
    }
}

/// Why `parent` can't be inherited from by the role being saved (with
/// rank `level`), if it can't: itself, ranked at or above it, or a chain
/// that leads back to it.
fn inheritance_problem(
    roles: &[RoleDetail],
    parent: &RoleDetail,
    editing: Option<&str>,
    level: Option<i32>,
) -> Option<String> {
    if Some(parent.id.as_str()) == editing {
        return Some("A role can't inherit from itself.".into());
    }
    if let Some(editing) = editing {
        let mut chain = vec![parent.name.as_str()];
        let mut next = parent.inherits_from_id.as_ref().map(RoleId::as_str);
        while let Some(id) = next {
            let Some(role) = roles.iter().find(|r| r.id.as_str() == id) else {
                break;
            };
            if id == editing {
                return Some(format!(
                    "That would make a loop: {} inherits from this role.",
                    chain.join(" → ")
                ));
            }
            if chain.len() > roles.len() {
                break;
            }
            chain.push(role.name.as_str());
            next = role.inherits_from_id.as_ref().map(RoleId::as_str);
        }
    }
    match level {
        Some(level) if parent.level >= level => Some(format!(
            "A role can only inherit from a role ranked below it; “{}” is ranked {}.",
            parent.name, parent.level
        )),
        _ => None,
    }
}

/// Why saving `changed` over `current` (or deleting it, when `changed` is
/// `None`) is refused because of the roles inheriting from it, if it is:
/// one of them would end up ranked at or below it, or one ranked at or
/// above the editor would hold something else than before.
fn effect_on_others(
    roles: &[RoleDetail],
    current: &RoleDetail,
    changed: &CustomRole,
    standing: &Standing,
) -> Option<String> {
    if let Some(child) = roles
        .iter()
        .find(|r| r.inherits_from_id.as_ref() == Some(&current.id) && r.level <= changed.level)
    {
        return Some(format!(
            "“{}” (rank {}) inherits from this role, so this role must stay ranked below it.",
            child.name, child.level
        ));
    }
    let own_permissions = changed.own_permissions.to_stored();
    let parent_id = changed.inherits_from.clone();
    let after: Vec<RoleDetail> = roles
        .iter()
        .map(|r| {
            let mut r = r.clone();
            if r.id == current.id {
                r.own_permissions = own_permissions.clone();
                r.inherits_from_id = parent_id.clone();
            }
            r
        })
        .collect();
    changes_above(roles, &after, standing)
}

/// The first role ranked at or above `standing` whose effective permissions
/// differ between `before` and `after`, as a message.
fn changes_above(
    before: &[RoleDetail],
    after: &[RoleDetail],
    standing: &Standing,
) -> Option<String> {
    let old = effective_permissions(&db::roles::inheriting(before));
    let new = effective_permissions(&db::roles::inheriting(after));
    before
        .iter()
        .filter(|r| r.system_key.is_none() && r.level >= standing.level())
        .find(|r| old.get(r.id.as_str()) != new.get(r.id.as_str()))
        .map(|r| {
            format!(
                "“{}” (rank {}) inherits from this role; the change would alter what a role ranked at or above yours holds.",
                r.name, r.level
            )
        })
}

fn record(
    conn: &mut db::AnyConnection,
    scope: &Scope,
    actor: &Actor,
    action: Constructor<RoleId>,
    id: &RoleId,
    role: &str,
    details: String,
) -> Result<(), DbError> {
    let event = action(id, role).with_details(details);
    db::audit::record(conn, scope.workspace_id(), actor, &event)
}

/// Creates a custom role.
pub async fn create(db: &Db, scope: &Scope, input: RoleInput) -> Result<RoleId, ServiceError> {
    let (scope, actor) = (scope.clone(), Actor::of(scope));
    db.run(move |conn| {
        write_transaction(conn, |conn| {
            db::workspaces::lock_memberships(conn, &scope.tenant())?;
            let standing = Standing::current(conn, &scope)?;
            let role = validate(conn, &scope, &standing, &input, None)?;
            let id = db::roles::create(conn, &scope, &role)?;
            let details = format!("level {}; {}", role.level, role.own_permissions.to_stored());
            record(
                conn,
                &scope,
                &actor,
                Event::role_create,
                &id,
                &role.name,
                details,
            )?;
            Ok(id)
        })
    })
    .await
}

/// Edits a custom role ranked below the actor's. Members holding it are
/// affected at once, so invitations they sent to roles they can no longer
/// give are revoked in the same transaction.
pub async fn update(
    db: &Db,
    scope: &Scope,
    id: RoleId,
    input: RoleInput,
) -> Result<(), ServiceError> {
    let (scope, actor) = (scope.clone(), Actor::of(scope));
    db.run(move |conn| {
        write_transaction(conn, |conn| {
            db::workspaces::lock_memberships(conn, &scope.tenant())?;
            let standing = Standing::current(conn, &scope)?;
            let current = db::roles::find(conn, &scope, &id)?;
            if current.system_key.is_some() {
                return Err(ServiceError::Refused("System roles can't be edited."));
            }
            if current.level >= standing.level() {
                return Err(ServiceError::Refused(
                    "You can only edit roles ranked below yours.",
                ));
            }
            let role = validate(conn, &scope, &standing, &input, Some(&current))?;
            db::roles::update(conn, &scope, &id, &role)?;
            let details = format!("level {}; {}", role.level, role.own_permissions.to_stored());
            record(
                conn,
                &scope,
                &actor,
                Event::role_update,
                &id,
                &role.name,
                details,
            )?;
            revoke_invitations_beyond_senders(conn, &scope, &actor)?;
            Ok(())
        })
    })
    .await
}

/// Deletes a custom role that no member holds and no pending invitation
/// offers; ended invitations keep its name. Roles inheriting from it stop
/// inheriting, so it can't be deleted while that would change a role
/// ranked at or above the actor.
pub async fn delete(db: &Db, scope: &Scope, id: RoleId) -> Result<String, ServiceError> {
    let (scope, actor) = (scope.clone(), Actor::of(scope));
    db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                db::workspaces::lock_memberships(conn, &scope.tenant())?;
                let standing = Standing::current(conn, &scope)?;
                let current = db::roles::find(conn, &scope, &id)?;
                if current.system_key.is_some() {
                    return Err(ServiceError::Refused("System roles can't be deleted."));
                }
                if current.level >= standing.level() {
                    return Err(ServiceError::Refused("You can only delete roles ranked below yours."));
                }
                let (members, invited) = db::roles::holders(conn, &scope, &id)?;
                if members > 0 || invited > 0 {
                    return Err(ServiceError::Refused(
                        "Members or pending invitations still hold this role. Give them another role (or revoke the invitations) first, then delete it.",
                    ));
                }
                let roles = db::roles::all(conn, &scope)?;
                let after: Vec<RoleDetail> = roles
                    .iter()
                    .filter(|r| r.id != id)
                    .cloned()
                    .map(|mut r| {
                        if r.inherits_from_id.as_ref() == Some(&id) {
                            r.inherits_from_id = None;
                        }
                        r
                    })
                    .collect();
                if changes_above(&roles, &after, &standing).is_some() {
                    return Err(ServiceError::Refused(
                        "A role ranked at or above yours inherits from this role; deleting it would change what that role holds.",
                    ));
                }
                db::roles::delete(conn, &scope, &id)?;
                record(conn, &scope, &actor, Event::role_delete, &id, &current.name, String::new())?;
                revoke_invitations_beyond_senders(conn, &scope, &actor)?;
                Ok(current.name)
            })
        })
        .await
}

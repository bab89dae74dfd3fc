//! Teams, as an organization's managers change them: create, rename,
//! archive / restore, delete, and add an organization member to a team.
//! Each validates, then changes and audits in one transaction. Handlers
//! check `teams.manage` (or `members.manage` in the team) before these run;
//! the rules that depend on data (teams live in organizations, members come
//! from the organization) are checked here.

use crate::db::audit::{Actor, Event};
use crate::db::scope::Scope;
use crate::db::{self, Db, DbError, UniqueKey, write_transaction};
use crate::domain::{
    Email, FieldErrors, PersonName, RoleId, WorkspaceId, WorkspaceKind, free_text,
};
use crate::services::ServiceError;
use crate::services::members::{Standing, grantable_role};

/// Longest team description.
const DESCRIPTION_MAX_CHARS: usize = 1_000;

/// The team form, as typed.
#[derive(Debug, Clone, Default)]
pub struct TeamInput {
    /// Name (required, unique within the organization).
    pub name: String,
    /// What the team is for (optional).
    pub description: String,
}

/// A validated team form.
struct ValidTeam {
    name: String,
    description: String,
}

fn validate(input: &TeamInput) -> Result<ValidTeam, ServiceError> {
    let mut errors = FieldErrors::new();
    let name = errors.check("name", PersonName::parse(&input.name));
    let description = errors.check(
        "description",
        free_text(&input.description, DESCRIPTION_MAX_CHARS),
    );
    match (name, description) {
        (Some(name), Some(description)) if errors.is_empty() => Ok(ValidTeam {
            name: name.as_str().to_owned(),
            description,
        }),
        _ => Err(ServiceError::Invalid(errors)),
    }
}

/// The message for a name the organization already has.
fn name_taken(error: ServiceError) -> ServiceError {
    if error.is_conflict_on(&UniqueKey::TeamName) {
        ServiceError::conflict("name", "This organization already has a team of that name.")
    } else {
        error
    }
}

/// Teams exist only inside organizations.
fn require_organization(scope: &Scope) -> Result<(), ServiceError> {
    if scope.workspace().kind == WorkspaceKind::Organization {
        Ok(())
    } else {
        Err(ServiceError::Refused(
            "Teams are created inside an organization: switch to one first.",
        ))
    }
}

/// Creates a team in the scoped organization. The organization's owner
/// owns it and the creator, if someone else, is its admin; the event is
/// recorded in both the organization's and the team's audit log.
pub async fn create(db: &Db, scope: &Scope, input: TeamInput) -> Result<WorkspaceId, ServiceError> {
    require_organization(scope)?;
    let team = validate(&input)?;
    let (scope, actor) = (scope.clone(), Actor::of(scope));
    db.run(move |conn| {
        write_transaction(conn, |conn| {
            let owner = db::organizations::owner_of(conn, &scope)?;
            let id = db::teams::create(
                conn,
                &scope,
                &team.name,
                &team.description,
                &owner,
                scope.user_id(),
            )?;
            let event = Event::team_create(&id, &team.name)
                .with_details(format!("in {}", scope.workspace().name));
            db::audit::record_in_each(conn, [scope.workspace_id(), &id], &actor, &event)?;
            Ok::<_, ServiceError>(id)
        })
    })
    .await
    .map_err(name_taken)
}

/// Renames a team of the scoped organization and sets its description.
pub async fn update(
    db: &Db,
    scope: &Scope,
    id: WorkspaceId,
    input: TeamInput,
) -> Result<(), ServiceError> {
    require_organization(scope)?;
    let team = validate(&input)?;
    let (scope, actor) = (scope.clone(), Actor::of(scope));
    db.run(move |conn| {
        write_transaction(conn, |conn| {
            let before = db::teams::find(conn, &scope, &id)?;
            db::teams::update(conn, &scope, &id, &team.name, &team.description)?;
            let details = if before.name == team.name {
                "description changed".to_owned()
            } else {
                format!("name: {} → {}", before.name, team.name)
            };
            let event = Event::team_update(&id, &team.name).with_details(details);
            db::audit::record_in_each(conn, [scope.workspace_id(), &id], &actor, &event)?;
            Ok::<_, ServiceError>(())
        })
    })
    .await
    .map_err(name_taken)
}

/// Archives a team (its members can no longer enter it; its data stays)
/// or restores an archived one.
pub async fn set_archived(
    db: &Db,
    scope: &Scope,
    id: WorkspaceId,
    archived: bool,
) -> Result<String, ServiceError> {
    require_organization(scope)?;
    let (scope, actor) = (scope.clone(), Actor::of(scope));
    db.run(move |conn| {
        write_transaction(conn, |conn| {
            let team = db::teams::find(conn, &scope, &id)?;
            db::teams::set_archived(conn, &scope, &id, archived).map_err(|error| match error {
                DbError::NotFound if archived => {
                    ServiceError::Refused("This team is already archived.")
                }
                DbError::NotFound => ServiceError::Refused("This team is not archived."),
                other => other.into(),
            })?;
            let event = if archived {
                Event::team_archive(&id, &team.name)
            } else {
                Event::team_restore(&id, &team.name)
            };
            db::audit::record_in_each(conn, [scope.workspace_id(), &id], &actor, &event)?;
            Ok::<_, ServiceError>(team.name)
        })
    })
    .await
}

/// Deletes a team with its memberships and roles, once its name has been
/// typed to confirm. Recorded in the organization's log (the team's goes
/// with it).
pub async fn delete(
    db: &Db,
    scope: &Scope,
    id: WorkspaceId,
    confirm_name: &str,
) -> Result<String, ServiceError> {
    require_organization(scope)?;
    let (scope, actor) = (scope.clone(), Actor::of(scope));
    let confirm_name = confirm_name.trim().to_owned();
    db.run(move |conn| {
        write_transaction(conn, |conn| {
            let team = db::teams::find(conn, &scope, &id)?;
            if team.name != confirm_name {
                return Err(ServiceError::invalid(
                    "confirm_name",
                    "Type the team's name exactly to delete it.",
                ));
            }
            db::teams::delete(conn, &scope, &id)?;
            let event = Event::team_delete(&id, &team.name);
            db::audit::record(conn, scope.workspace_id(), &actor, &event)?;
            Ok::<_, ServiceError>(team.name)
        })
    })
    .await
}

/// The add-member form of a team, as typed.
#[derive(Debug, Clone, Default)]
pub struct AddMemberInput {
    /// The email of an active member of the organization.
    pub email: String,
    /// A role of the team; `None` when the form's value is no role id (it
    /// is refused like a role the actor can't give).
    pub role_id: Option<RoleId>,
}

/// Adds an active member of the organization to the scoped team with a
/// role the actor may grant (ranked below their own). Returns their name.
pub async fn add_member(
    db: &Db,
    scope: &Scope,
    input: AddMemberInput,
) -> Result<String, ServiceError> {
    if !scope.workspace().kind.is_team() {
        return Err(ServiceError::Refused(
            "Members are added to teams; an organization invites them by email.",
        ));
    }
    let email =
        Email::parse(&input.email).map_err(|e| ServiceError::invalid("email", &e.to_string()))?;
    let (scope, actor) = (scope.clone(), Actor::of(scope));
    let outcome = db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                db::workspaces::lock_memberships(conn, &scope.tenant())?;
                let standing = Standing::current(conn, &scope)?;
                let Some(role) =
                    grantable_role(conn, &scope, &standing, input.role_id.as_ref())?
                else {
                    return Err(ServiceError::invalid(
                        "role_id",
                        "Choose a role ranked below your own.",
                    ));
                };
                let Some((user, name)) =
                    db::teams::organization_member_by_email(conn, &scope, email.as_str())?
                else {
                    return Err(ServiceError::invalid(
                        "email",
                        "Nobody with this email is an active member of the organization; invite them there first.",
                    ));
                };
                let membership = db::teams::add(conn, &scope, &user, &role.id)?;
                let event = Event::membership_add(&membership, &name)
                    .with_details(format!("{} as {}", email.as_str(), role.name));
                db::audit::record(conn, scope.workspace_id(), &actor, &event)?;
                Ok::<_, ServiceError>(name)
            })
        })
        .await;
    match outcome {
        Err(error) if error.is_conflict_on(&UniqueKey::Membership) => Err(ServiceError::conflict(
            "email",
            "They are already a member of this team.",
        )),
        other => other,
    }
}

//! Moving projects and agents between workspaces — personal, team, another
//! team of the same or another organization — for someone with
//! `resources.transfer` on both sides. A move is one transaction: a
//! project takes its keys and (once the user agrees) its agents and their
//! runs along; an agent moves onto a project of its new workspace. Nothing
//! is left pointing across workspaces (the foreign keys pair each
//! reference with its workspace), and both workspaces' audit logs record
//! it.

use crate::db::audit::{Actor, Event};
use crate::db::scope::{Scope, role_permissions};
use crate::db::workspaces::WorkspaceAccess;
use crate::db::{self, Db, UniqueKey, write_transaction};
use crate::domain::{AgentId, AgentStatus, Permission, ProjectId, WorkspaceId};
use crate::services::ServiceError;

/// The workspaces the acting user may move resources into from the active
/// one: every other workspace they hold `resources.transfer` in.
pub fn destinations(scope: &Scope) -> Vec<&WorkspaceAccess> {
    scope
        .accessible_workspaces()
        .iter()
        .filter(|w| &w.workspace_id != scope.workspace_id())
        .filter(|w| role_permissions(w).contains(Permission::ResourcesTransfer))
        .collect()
}

/// The destination `to`, if the user may move resources there.
fn destination<'a>(
    scope: &'a Scope,
    to: &WorkspaceId,
) -> Result<&'a WorkspaceAccess, ServiceError> {
    let Some(target) = scope
        .accessible(to)
        .filter(|w| &w.workspace_id != scope.workspace_id())
    else {
        return Err(ServiceError::invalid(
            "to_workspace_id",
            "Choose another workspace of yours.",
        ));
    };
    if !role_permissions(target).contains(Permission::ResourcesTransfer) {
        return Err(ServiceError::invalid(
            "to_workspace_id",
            "Your role there doesn't allow moving resources in.",
        ));
    }
    Ok(target)
}

/// A label for a workspace in messages and the audit log.
fn label(access: &WorkspaceAccess) -> String {
    if access.kind.is_personal() {
        "a personal workspace".to_owned()
    } else {
        access.name.clone()
    }
}

/// Moves a project of the active workspace, with its keys, to `to`. When
/// agents use it they move along if `move_agents`, else the move is
/// refused naming them; running ones must be stopped first. Returns the
/// project's name and where it went.
pub async fn move_project(
    db: &Db,
    scope: &Scope,
    id: ProjectId,
    to: WorkspaceId,
    move_agents: bool,
) -> Result<(String, String), ServiceError> {
    let target = destination(scope, &to)?;
    let (from_label, to_label) = (label(scope.workspace()), label(target));
    let (scope, actor) = (scope.clone(), Actor::of(scope));
    let outcome = db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                let project = db::projects::find(conn, &scope, &id)?;
                let agents = db::agents::names_on_project(conn, &scope, &id)?;
                if agents.iter().any(|(_, status)| *status == AgentStatus::Running) {
                    return Err(ServiceError::Refused(
                        "Some of this project's agents are running: stop them before moving it.",
                    ));
                }
                let names: Vec<&str> = agents.iter().map(|(name, _)| name.as_str()).collect();
                if !names.is_empty() && !move_agents {
                    return Err(ServiceError::invalid(
                        "move_agents",
                        &format!(
                            "Agents use this project ({}): tick “Move its agents along” to move them with it.",
                            names.join(", ")
                        ),
                    ));
                }
                db::projects::transfer(conn, &scope, &id, &to)?;
                let details = if names.is_empty() {
                    format!("{from_label} → {to_label}")
                } else {
                    format!("{from_label} → {to_label}, with agents {}", names.join(", "))
                };
                let event = Event::project_transfer(&id, &project.name).with_details(details);
                db::audit::record_in_each(conn, [scope.workspace_id(), &to], &actor, &event)?;
                Ok::<_, ServiceError>((project.name, to_label))
            })
        })
        .await;
    match outcome {
        Err(e) if e.is_conflict_on(&UniqueKey::ProjectName) => Err(ServiceError::invalid(
            "to_workspace_id",
            "That workspace already has a project of this name: rename one first.",
        )),
        Err(e) if e.is_conflict_on(&UniqueKey::AgentName) => Err(ServiceError::invalid(
            "to_workspace_id",
            "That workspace already has an agent of the same name as one of this project's: rename one first.",
        )),
        other => other,
    }
}

/// Moves a stopped agent of the active workspace onto `project` of
/// another workspace (where it must use a project of its own). Returns the
/// agent's name and where it went.
pub async fn move_agent(
    db: &Db,
    scope: &Scope,
    id: AgentId,
    project: Option<ProjectId>,
) -> Result<(String, String), ServiceError> {
    let (scope, actor) = (scope.clone(), Actor::of(scope));
    let outcome = db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                // Another workspace's agent is not found, whatever else the
                // form says.
                let agent = db::agents::find(conn, &scope, &id)?;
                let elsewhere = || {
                    ServiceError::invalid(
                        "to_project_id",
                        "Choose a project of another workspace of yours.",
                    )
                };
                let project = project.ok_or_else(elsewhere)?;
                let to = db::projects::workspace_of(conn, &project).map_err(|_| elsewhere())?;
                let target = destination(&scope, &to).map_err(|_| elsewhere())?;
                let (from_label, to_label) = (label(scope.workspace()), label(target));
                if agent.status == AgentStatus::Running {
                    return Err(ServiceError::Refused("Stop the agent before moving it."));
                }
                db::agents::transfer(conn, &scope, &id, &to, &project)?;
                let event = Event::agent_transfer(&id, &agent.name)
                    .with_details(format!("{from_label} → {to_label}"));
                db::audit::record_in_each(conn, [scope.workspace_id(), &to], &actor, &event)?;
                Ok::<_, ServiceError>((agent.name, to_label))
            })
        })
        .await;
    match outcome {
        Err(e) if e.is_conflict_on(&UniqueKey::AgentName) => Err(ServiceError::invalid(
            "to_project_id",
            "That workspace already has an agent of this name: rename one first.",
        )),
        other => other,
    }
}

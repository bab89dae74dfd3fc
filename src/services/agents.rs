//! Agents, as a workspace's members run them: create (on a project of the
//! same workspace), start, stop, delete, and how long each ran this month.
//! Starting is where limits hold: in the transaction that starts the agent
//! the workspace's running-agent counter is raised only while it is below
//! its limit, and for a team its organization's as well, so concurrent
//! starts never pass a limit together.

use chrono::{Datelike, NaiveDate, NaiveDateTime};

use crate::db::audit::{Actor, Event};
use crate::db::scope::{Scope, Tenant};
use crate::db::{self, Db, DbError, UniqueKey, write_transaction};
use crate::domain::{AgentId, AgentStatus, FieldErrors, ProjectId, WorkspaceId, WorkspaceKind};
use crate::services::{ServiceError, billing};

/// Longest agent name.
const NAME_MAX_CHARS: usize = 100;

/// The new-agent form, as typed.
#[derive(Debug, Clone, Default)]
pub struct AgentInput {
    /// Name (required, unique within the workspace).
    pub name: String,
    /// The project it uses (a project of the workspace).
    pub project_id: String,
}

/// Creates a stopped agent on a project of the active workspace.
pub async fn create(db: &Db, scope: &Scope, input: AgentInput) -> Result<AgentId, ServiceError> {
    let mut errors = FieldErrors::new();
    let name = input.name.trim().to_owned();
    if name.is_empty()
        || name.chars().count() > NAME_MAX_CHARS
        || name.chars().any(char::is_control)
    {
        errors.add(
            "name",
            "Name the agent (at most 100 characters, no control characters).",
        );
    }
    let project = ProjectId::parse(&input.project_id);
    if project.is_none() {
        errors.add("project_id", "Choose a project of this workspace.");
    }
    let (Some(project), true) = (project, errors.is_empty()) else {
        return Err(ServiceError::Invalid(errors));
    };
    let (scope, actor) = (scope.clone(), Actor::of(scope));
    let outcome = db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                // Only a project of this workspace (another's is not found).
                let found = db::projects::find(conn, &scope, &project).map_err(|e| match e {
                    DbError::NotFound => {
                        ServiceError::invalid("project_id", "Choose a project of this workspace.")
                    }
                    other => other.into(),
                })?;
                let id = db::agents::create(conn, &scope, &name, &project)?;
                let event =
                    Event::agent_create(&id, &name).with_details(format!("on {}", found.name));
                db::audit::record(conn, scope.workspace_id(), &actor, &event)?;
                Ok::<_, ServiceError>(id)
            })
        })
        .await;
    match outcome {
        Err(error) if error.is_conflict_on(&UniqueKey::AgentName) => Err(ServiceError::conflict(
            "name",
            "This workspace already has an agent of that name.",
        )),
        other => other,
    }
}

/// Starts a stopped agent, within the running-agent limits of its
/// workspace and, for a team, of its organization. Returns its name.
pub async fn start(db: &Db, scope: &Scope, id: AgentId) -> Result<String, ServiceError> {
    let (scope, actor) = (scope.clone(), Actor::of(scope));
    db.run(move |conn| write_transaction(conn, |conn| start_in(conn, &scope, &id, Some(&actor))))
        .await
}

/// Starts a stopped agent of the scoped workspace within every limit, in
/// the caller's transaction; audited as `actor`'s start, or, without one,
/// as Tenantry resuming it on use after an idle stop.
fn start_in(
    conn: &mut db::AnyConnection,
    scope: &Scope,
    id: &AgentId,
    actor: Option<&Actor>,
) -> Result<String, ServiceError> {
    let agent = db::agents::find(conn, scope, id)?;
    let at = db::now();
    db::agents::mark_running(conn, scope, id, at)
        .map_err(|_| ServiceError::Refused("This agent is already running."))?;
    // Claiming locks the counter row first, so the hours checked
    // next can't be used up meanwhile by a start racing this one.
    let (name, whose) = (&scope.workspace().name, "this workspace's");
    let tenant = scope.tenant();
    claim(conn, &tenant, name, whose)?;
    billing::refuse_if_suspended(conn, &tenant)?;
    check_hours(conn, &tenant, name, whose)?;
    if let Some(parent) = scope.parent_tenant() {
        claim(conn, &parent, "the organization", "the organization's")?;
        check_hours(conn, &parent, "the organization", "the organization's")?;
    }
    if let Some(organization) = organization_of(scope) {
        claim_for_member(conn, &organization, scope)?;
    }
    let event = match actor {
        Some(_) => {
            Event::agent_start(id, &agent.name).with_details(format!("on {}", agent.project_name))
        }
        None => Event::agent_resume(id, &agent.name).with_details(format!(
            "used again after an idle stop; runs for {} on {}",
            scope.user().name,
            agent.project_name
        )),
    };
    match actor {
        Some(actor) => db::audit::record(conn, scope.workspace_id(), actor, &event)?,
        None => db::audit::record_by_system(conn, scope.workspace_id(), &event)?,
    }
    Ok(agent.name)
}

/// What the platform's report of an agent's use did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UseOutcome {
    /// It was running; its last activity moved on.
    Running,
    /// The idle job had stopped it; it runs again.
    Resumed,
}

/// The platform reports that an agent of the workspace its key opens was
/// used: a running agent's idle clock starts again; one the idle job
/// stopped starts again within every limit, acting for the member who
/// last started it (while they still may run agents there). One a person
/// stopped stays stopped.
pub async fn record_use(db: &Db, presented: &str, id: AgentId) -> Result<UseOutcome, ServiceError> {
    let presented = presented.to_owned();
    db.run(move |conn| {
        let key = crate::services::projects::key_in(conn, &presented)?
            .ok_or(ServiceError::KeyRejected)?;
        let workspace = key.workspace;
        let agent = db::agents::in_use(conn, &workspace, &id)?.ok_or(ServiceError::NotFound)?;
        if agent.status == AgentStatus::Running {
            db::agents::touch_running(conn, &workspace, &id)?;
            return Ok(UseOutcome::Running);
        }
        if !agent.idle_stopped {
            return Err(ServiceError::Refused(
                "A person stopped this agent: start it again on the agents page.",
            ));
        }
        let scope = agent
            .started_by
            .map(|starter| scope_of(conn, &starter, workspace.workspace_id()))
            .transpose()?
            .flatten()
            .filter(|scope| scope.can(crate::domain::Permission::ResourcesWrite))
            .ok_or(ServiceError::Refused(
                "The member who ran this agent can no longer run agents here: a member must start it.",
            ))?;
        write_transaction(conn, |conn| start_in(conn, &scope, &id, None))?;
        Ok(UseOutcome::Resumed)
    })
    .await
}

/// `user` acting in `workspace`, if they are an active user who may enter it.
fn scope_of(
    conn: &mut db::AnyConnection,
    user: &crate::domain::UserId,
    workspace: &WorkspaceId,
) -> Result<Option<Scope>, ServiceError> {
    let Some(user) = db::users::find_active(conn, user)? else {
        return Ok(None);
    };
    let accessible = db::workspaces::accessible_to(conn, &user.id)?;
    Ok(Scope::enter(
        user,
        String::new(),
        "platform".to_owned(),
        accessible,
        workspace,
    ))
}

/// Raises `workspace`'s running-agent counter, or refuses naming the limit
/// and who may raise it (the transaction then rolls back every claim).
fn claim(
    conn: &mut db::AnyConnection,
    workspace: &Tenant,
    label: &str,
    whose: &str,
) -> Result<(), ServiceError> {
    if db::agents::claim_running_slot(conn, workspace)? {
        return Ok(());
    }
    let (running, limit) = db::agents::running_and_limit(conn, workspace)?;
    Err(ServiceError::LimitReached(format!(
        "{running} of {} agents allowed to run at once in {label} are running: \
         stop one first, or ask someone with “Set limits and quotas” to raise {whose} limit \
         on the Resources tab.",
        limit.unwrap_or(running)
    )))
}

/// The organization whose per-member quota an agent of the scoped
/// workspace counts against: the organization itself, or a team's.
fn organization_of(scope: &Scope) -> Option<Tenant> {
    match scope.workspace().kind {
        WorkspaceKind::Organization => Some(scope.tenant()),
        WorkspaceKind::Team => scope.parent_tenant(),
        WorkspaceKind::Personal => None,
    }
}

/// Raises the acting member's running-agent count in `organization`, or
/// refuses naming their quota.
fn claim_for_member(
    conn: &mut db::AnyConnection,
    organization: &Tenant,
    scope: &Scope,
) -> Result<(), ServiceError> {
    if db::agents::claim_member_slot(conn, organization, scope.user_id())? {
        return Ok(());
    }
    let quota = db::agents::limits_of(conn, organization)?.max_agents_per_member;
    Err(ServiceError::LimitReached(format!(
        "You have {} agents running, the most each member may have at once: stop one first, \
         or ask someone with “Set limits and quotas” to raise the per-member quota on the \
         organization's Resources tab.",
        quota.unwrap_or(0)
    )))
}

/// Refuses when `workspace`'s agents (an organization's with its teams')
/// used up its agent hours this month.
fn check_hours(
    conn: &mut db::AnyConnection,
    workspace: &Tenant,
    label: &str,
    whose: &str,
) -> Result<(), ServiceError> {
    let Some(limit) = db::agents::limits_of(conn, workspace)?.max_agent_hours else {
        return Ok(());
    };
    let now = db::now();
    let used = db::agents::runtime_with_teams(conn, workspace, month_start(now), now)?;
    if used < i64::from(limit) * 3600 {
        return Ok(());
    }
    Err(ServiceError::LimitReached(format!(
        "The agents of {label} ran {:.1} of the {limit} hours allowed this month: \
         ask someone with “Set limits and quotas” to raise {whose} limit on the Resources tab.",
        used as f64 / 3600.0
    )))
}

/// Stops a running agent; its run is closed and its slots released.
pub async fn stop(db: &Db, scope: &Scope, id: AgentId) -> Result<String, ServiceError> {
    let (scope, actor) = (scope.clone(), Actor::of(scope));
    db.run(move |conn| {
        write_transaction(conn, |conn| {
            let agent = db::agents::find(conn, &scope, &id)?;
            let starter = db::agents::started_by(conn, &scope, &id)?;
            db::agents::mark_stopped(conn, &scope, &id, db::now())
                .map_err(|_| ServiceError::Refused("This agent is not running."))?;
            if let (Some(organization), Some(starter)) = (organization_of(&scope), &starter) {
                db::agents::release_member_slot(conn, &organization, starter)?;
            }
            db::agents::release_running_slot(conn, &scope.tenant())?;
            if let Some(parent) = scope.parent_tenant() {
                db::agents::release_running_slot(conn, &parent)?;
            }
            let event = Event::agent_stop(&id, &agent.name);
            db::audit::record(conn, scope.workspace_id(), &actor, &event)?;
            Ok::<_, ServiceError>(agent.name)
        })
    })
    .await
}

/// Deletes a stopped agent with its history.
pub async fn delete(db: &Db, scope: &Scope, id: AgentId) -> Result<String, ServiceError> {
    let (scope, actor) = (scope.clone(), Actor::of(scope));
    db.run(move |conn| {
        write_transaction(conn, |conn| {
            let agent = db::agents::find(conn, &scope, &id)?;
            db::agents::delete(conn, &scope, &id)
                .map_err(|_| ServiceError::Refused("Stop the agent before deleting it."))?;
            let event = Event::agent_delete(&id, &agent.name);
            db::audit::record(conn, scope.workspace_id(), &actor, &event)?;
            Ok::<_, ServiceError>(agent.name)
        })
    })
    .await
}

/// Idle agents stopped per batch of the idle job.
const IDLE_BATCH: i64 = 100;

/// Stops every running agent idle for longer than `idle`, each in a
/// transaction of its own (its run closed, its slots released, the stop
/// in its workspace's audit log as Tenantry's doing). Nothing is lost: a
/// stopped agent starts again as it was. Safe on several instances at
/// once (a stop applies only while the agent still qualifies). Returns
/// how many were stopped.
pub async fn stop_idle(db: &Db, idle: chrono::Duration) -> Result<usize, ServiceError> {
    let mut stopped = 0;
    loop {
        let now = db::now();
        let cutoff = now - idle;
        let batch = db
            .run(move |conn| db::agents::idle_since(conn, cutoff, IDLE_BATCH))
            .await?;
        let full = batch.len() as i64 == IDLE_BATCH;
        for agent in batch {
            let hours = idle.num_hours();
            let done = db
                .run(move |conn| {
                    write_transaction(conn, |conn| {
                        if !db::agents::stop_if_idle(conn, &agent, cutoff, now)? {
                            return Ok::<_, ServiceError>(false);
                        }
                        db::agents::release_running_slot(conn, &agent.workspace)?;
                        if let Some(parent) = &agent.parent {
                            db::agents::release_running_slot(conn, parent)?;
                        }
                        if let (Some(organization), Some(starter)) =
                            (agent.organization(), &agent.started_by)
                        {
                            db::agents::release_member_slot(conn, organization, starter)?;
                        }
                        let event = Event::agent_idle_stop(&agent.id, &agent.name).with_details(
                            format!("no activity for {hours} hours; start it again to resume"),
                        );
                        db::audit::record_by_system(conn, agent.workspace.workspace_id(), &event)?;
                        Ok(true)
                    })
                })
                .await?;
            stopped += usize::from(done);
        }
        if !full {
            return Ok(stopped);
        }
    }
}

/// Runs [`stop_idle`] and the apps' [`crate::services::apps::stop_idle`]
/// every `every`, for the life of the process.
pub async fn stop_idle_forever(
    db: Db,
    catalogue: Vec<crate::config::AppSpec>,
    idle: chrono::Duration,
    every: std::time::Duration,
) {
    loop {
        tokio::time::sleep(every).await;
        match stop_idle(&db, idle).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(stopped = n, "stopped idle agents"),
            Err(error) => tracing::warn!(%error, "stopping idle agents failed"),
        }
        match crate::services::apps::stop_idle(&db, &catalogue, idle).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(stopped = n, "stopped idle apps"),
            Err(error) => tracing::warn!(%error, "stopping idle apps failed"),
        }
    }
}

/// The first moment of the calendar month (UTC) `at` falls in.
pub fn month_start(at: NaiveDateTime) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(at.year(), at.month(), 1)
        .and_then(|day| day.and_hms_opt(0, 0, 0))
        .unwrap_or(at)
}

/// The calendar month so far, from its first midnight to now: the period
/// whose runtime the agents page shows beside each agent.
pub fn this_month() -> (NaiveDateTime, NaiveDateTime) {
    let until = db::now();
    (month_start(until), until)
}

#[cfg(test)]
mod tests {
    use super::month_start;

    #[test]
    fn a_month_starts_on_its_first_day_at_midnight() {
        let at = chrono::NaiveDate::from_ymd_opt(2026, 12, 31)
            .and_then(|d| d.and_hms_opt(23, 59, 59))
            .expect("a time");
        assert_eq!(month_start(at).to_string(), "2026-12-01 00:00:00");
    }
}

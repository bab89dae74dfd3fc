//! `/agents`: the active workspace's agents — create (on one of its
//! projects), start and stop within the running-agent limits, delete — with
//! their runtime this month. Seeing them needs `resources.read`; anything
//! else `resources.write`.

use std::collections::HashMap;

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::db::agents::AgentRow;
use crate::db::projects::ProjectRow;
use crate::db::{self, DbError};
use crate::domain::permission::require;
use crate::domain::time::UtcMinute;
use crate::domain::{AgentId, AgentStatus, FieldErrors, ProjectId, WorkspaceId};
use crate::services::ServiceError;
use crate::services::agents::{self, AgentInput};
use crate::services::transfers;
use crate::web::AppState;
use crate::web::csrf::{EmptyForm, ScopedForm};
use crate::web::error::AppError;
use crate::web::page::{Page, render_with_status, see_other};
use crate::web::projects::destinations;
use crate::web::scope::Permitted;
use crate::web::session::{FlashLevel, SessionData};

/// The agents page.
#[derive(Template)]
#[template(path = "agents/index.html")]
pub struct AgentsPage {
    page: Page,
    agents: Vec<AgentView>,
    projects: Vec<ProjectRow>,
    running: i32,
    limit: Option<i32>,
    form: AgentInput,
    errors: FieldErrors,
    /// Projects of other workspaces an agent may be moved onto: (project
    /// id, "workspace — project").
    move_targets: Vec<(String, String)>,
}

/// One row of the agents table.
pub struct AgentView {
    row: AgentRow,
    started: Option<UtcMinute>,
    last_active: Option<UtcMinute>,
    /// Hours run this month, to a tenth.
    hours_this_month: String,
}

impl AgentView {
    /// Whether it runs (the row offers "Stop").
    pub fn is_running(&self) -> bool {
        self.row.status == AgentStatus::Running
    }
}

/// What the page reads: agents with their seconds of runtime this month,
/// projects for the menu, and the projects agents may be moved onto by
/// workspace.
type Read = (
    Vec<(AgentRow, i64)>,
    Vec<ProjectRow>,
    Vec<(WorkspaceId, ProjectRow)>,
);

/// The page's data in two statements on the connection the session load
/// handed on; the running counter and its limit came with the scope.
async fn read(state: &AppState, page: &Page) -> Result<Read, AppError> {
    let scope = page.scope.clone();
    let elsewhere: Vec<WorkspaceId> = transfers::destinations(&page.scope)
        .into_iter()
        .map(|w| w.workspace_id.clone())
        .collect();
    let (from, until) = agents::this_month();
    Ok(state
        .db
        .read(move |conn| {
            let agents = db::agents::list_with_runtime(conn, &scope, from, until)?;
            let (projects, targets) = db::projects::own_and_in(conn, &scope, &elsewhere)?;
            Ok::<_, DbError>((agents, projects, targets))
        })
        .await?)
}

impl AgentView {
    fn of((row, seconds): (AgentRow, i64)) -> Self {
        AgentView {
            hours_this_month: format!("{:.1}", seconds as f64 / 3600.0),
            started: row.started_at.map(UtcMinute),
            last_active: row.last_active_at.map(UtcMinute),
            row,
        }
    }
}

async fn list(
    state: &AppState,
    page: Page,
    form: AgentInput,
    errors: FieldErrors,
) -> Result<HttpResponse, AppError> {
    let (rows, projects, targets) = read(state, &page).await?;
    let running = page.scope.workspace().running_agents;
    let limit = page.scope.workspace().max_running_agents;
    let names: HashMap<String, String> = destinations(&page.scope).into_iter().collect();
    let move_targets = targets
        .into_iter()
        .map(|(workspace, project)| {
            let place = names.get(workspace.as_str()).cloned().unwrap_or_default();
            (
                project.id.to_string(),
                format!("{place} — {}", project.name),
            )
        })
        .collect();
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let body = AgentsPage {
        page,
        agents: rows.into_iter().map(AgentView::of).collect(),
        projects,
        running,
        limit,
        form,
        errors,
        move_targets,
    };
    render_with_status(&body, status)
}

/// Lists the workspace's agents.
pub async fn index(
    state: web::Data<AppState>,
    _permitted: Permitted<require::ResourcesRead>,
    page: Page,
) -> Result<HttpResponse, AppError> {
    list(&state, page, AgentInput::default(), FieldErrors::new()).await
}

/// The new-agent form.
#[derive(Deserialize)]
pub struct AgentForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    project_id: String,
}

/// Creates a stopped agent.
pub async fn create(
    state: web::Data<AppState>,
    _permitted: Permitted<require::ResourcesWrite>,
    page: Page,
    session: Session,
    form: ScopedForm<AgentForm>,
) -> Result<HttpResponse, AppError> {
    let input = AgentInput {
        name: form.fields.name,
        project_id: form.fields.project_id,
    };
    match agents::create(&state.db, &form.scope, input.clone()).await {
        Ok(_) => {
            let message = format!(
                "Agent {} was created; start it when it should run.",
                input.name.trim()
            );
            SessionData::new(&session).flash(FlashLevel::Success, message);
            Ok(see_other("/agents"))
        }
        Err(ServiceError::Invalid(errors) | ServiceError::Conflict(errors)) => {
            list(&state, page, input, errors).await
        }
        Err(other) => Err(other.into()),
    }
}

/// The id in the URL path; a malformed one names nothing (404).
pub(crate) fn agent_id(path: &str) -> Result<AgentId, AppError> {
    AgentId::parse(path).ok_or(AppError::NotFound)
}

/// Starts an agent (409 naming the limit when one is reached).
pub async fn start(
    state: web::Data<AppState>,
    _permitted: Permitted<require::ResourcesWrite>,
    session: Session,
    path: web::Path<String>,
    form: ScopedForm<EmptyForm>,
) -> Result<HttpResponse, AppError> {
    let name = agents::start(&state.db, &form.scope, agent_id(&path)?).await?;
    SessionData::new(&session).flash(FlashLevel::Success, format!("Agent {name} is running."));
    Ok(see_other("/agents"))
}

/// Stops an agent.
pub async fn stop(
    state: web::Data<AppState>,
    _permitted: Permitted<require::ResourcesWrite>,
    session: Session,
    path: web::Path<String>,
    form: ScopedForm<EmptyForm>,
) -> Result<HttpResponse, AppError> {
    let name = agents::stop(&state.db, &form.scope, agent_id(&path)?).await?;
    SessionData::new(&session).flash(FlashLevel::Success, format!("Agent {name} was stopped."));
    Ok(see_other("/agents"))
}

/// Deletes a stopped agent.
pub async fn delete(
    state: web::Data<AppState>,
    _permitted: Permitted<require::ResourcesWrite>,
    session: Session,
    path: web::Path<String>,
    form: ScopedForm<EmptyForm>,
) -> Result<HttpResponse, AppError> {
    let name = agents::delete(&state.db, &form.scope, agent_id(&path)?).await?;
    SessionData::new(&session).flash(FlashLevel::Success, format!("Agent {name} was deleted."));
    Ok(see_other("/agents"))
}

/// The move form of an agent.
#[derive(Deserialize)]
pub struct MoveForm {
    #[serde(default)]
    to_project_id: String,
}

/// Moves a stopped agent onto a project of another workspace.
pub async fn transfer(
    state: web::Data<AppState>,
    _permitted: Permitted<require::ResourcesTransfer>,
    session: Session,
    path: web::Path<String>,
    form: ScopedForm<MoveForm>,
) -> Result<HttpResponse, AppError> {
    let id = agent_id(&path)?;
    let project = ProjectId::parse(&form.fields.to_project_id);
    let (name, to) = transfers::move_agent(&state.db, &form.scope, id, project).await?;
    let message = format!("Agent {name} was moved to {to}.");
    SessionData::new(&session).flash(FlashLevel::Success, message);
    Ok(see_other("/agents"))
}

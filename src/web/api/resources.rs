//! `/api/v1/organizations/{org_id}/projects…`, `…/agents…` and
//! `…/limits…` with a member's API key: the Resources pages' projects,
//! agents and limits, through the same services and rules (`resources.read`
//! to see, `projects.manage` for projects, `resources.write` to run
//! agents, `resources.manage` for limits; every change audited). `{org_id}`
//! is the key's workspace, which may be a team or a personal workspace.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db;
use crate::db::agents::AgentRow;
use crate::db::projects::ProjectRow;
use crate::db::scope::Scope;
use crate::domain::{AgentId, Permission, ProjectId};
use crate::services::agents::{self, AgentInput};
use crate::services::projects::{self, ProjectInput};
use crate::services::resources::{self, LimitsInput, Usage};
use crate::web::AppState;
use crate::web::agents::agent_id;
use crate::web::api::{ApiScope, own_workspace};
use crate::web::error::{ApiError, AppError};
use crate::web::projects::project_id;

/// The path's workspace, for a key that may do `permission`.
fn allowed(scope: &Scope, org_id: &str, permission: Permission) -> Result<(), AppError> {
    own_workspace(scope, org_id)?;
    Ok(scope.require(permission)?)
}

/// A project.
#[derive(Serialize, ToSchema)]
pub struct ProjectBody {
    id: String,
    name: String,
    description: String,
    created_at: String,
}

impl ProjectBody {
    fn of(row: ProjectRow) -> Self {
        ProjectBody {
            id: row.id.to_string(),
            name: row.name,
            description: row.description,
            created_at: row.created_at.and_utc().to_rfc3339(),
        }
    }
}

/// The workspace's projects by name (`resources.read`).
#[utoipa::path(
    get,
    path = "/api/v1/organizations/{org_id}/projects",
    tag = "member",
    params(("org_id" = String, Path, description = "The key's workspace")),
    security(("member_key" = [])),
    responses(
        (status = 200, description = "Projects by name", body = Vec<ProjectBody>),
        (status = 401, description = "No key, or one that doesn't work", body = ApiError),
        (status = 403, description = "The key lacks resources.read", body = ApiError),
        (status = 404, description = "Not the key's workspace", body = ApiError),
    )
)]
pub async fn projects(
    state: web::Data<AppState>,
    ApiScope(scope): ApiScope,
    org_id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    allowed(&scope, &org_id, Permission::ResourcesRead)?;
    let rows = state
        .db
        .read(move |conn| db::projects::all(conn, &scope))
        .await?;
    let body: Vec<ProjectBody> = rows.into_iter().map(ProjectBody::of).collect();
    Ok(HttpResponse::Ok().json(body))
}

/// A project's fields; on update, absent fields stay as they are.
#[derive(Deserialize, ToSchema)]
pub struct ProjectFields {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    description: Option<String>,
}

/// One project of the workspace, as now stored.
async fn project(state: &AppState, scope: &Scope, id: ProjectId) -> Result<ProjectRow, AppError> {
    let scope = scope.clone();
    Ok(state
        .db
        .read(move |conn| db::projects::find(conn, &scope, &id))
        .await?)
}

/// Creates a project (`projects.manage`).
#[utoipa::path(
    post,
    path = "/api/v1/organizations/{org_id}/projects",
    tag = "member",
    params(("org_id" = String, Path, description = "The key's workspace")),
    security(("member_key" = [])),
    request_body = ProjectFields,
    responses(
        (status = 201, description = "Created", body = ProjectBody),
        (status = 400, description = "A body that isn't the expected JSON", body = ApiError),
        (status = 401, description = "No key, or one that doesn't work", body = ApiError),
        (status = 403, description = "The key lacks projects.manage", body = ApiError),
        (status = 404, description = "Not the key's workspace", body = ApiError),
        (status = 415, description = "Not JSON", body = ApiError),
        (status = 422, description = "An invalid or taken name", body = ApiError),
    )
)]
pub async fn create_project(
    state: web::Data<AppState>,
    ApiScope(scope): ApiScope,
    org_id: web::Path<String>,
    fields: web::Json<ProjectFields>,
) -> Result<HttpResponse, AppError> {
    allowed(&scope, &org_id, Permission::ProjectsManage)?;
    let fields = fields.into_inner();
    let input = ProjectInput {
        name: fields.name.unwrap_or_default(),
        description: fields.description.unwrap_or_default(),
    };
    let id = projects::create(&state.db, &scope, input).await?;
    let body = ProjectBody::of(project(&state, &scope, id.clone()).await?);
    Ok(HttpResponse::Created()
        .insert_header((
            header::LOCATION,
            format!("/api/v1/organizations/{org_id}/projects/{id}"),
        ))
        .json(body))
}

/// One project (`resources.read`).
#[utoipa::path(
    get,
    path = "/api/v1/organizations/{org_id}/projects/{project_id}",
    tag = "member",
    params(
        ("org_id" = String, Path, description = "The key's workspace"),
        ("project_id" = String, Path, description = "A project of it"),
    ),
    security(("member_key" = [])),
    responses(
        (status = 200, description = "The project", body = ProjectBody),
        (status = 401, description = "No key, or one that doesn't work", body = ApiError),
        (status = 403, description = "The key lacks resources.read", body = ApiError),
        (status = 404, description = "No such project in the key's workspace", body = ApiError),
    )
)]
pub async fn show_project(
    state: web::Data<AppState>,
    ApiScope(scope): ApiScope,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let (org_id, id) = path.into_inner();
    allowed(&scope, &org_id, Permission::ResourcesRead)?;
    let row = project(&state, &scope, project_id(&id)?).await?;
    Ok(HttpResponse::Ok().json(ProjectBody::of(row)))
}

/// Renames or describes a project (`projects.manage`).
#[utoipa::path(
    patch,
    path = "/api/v1/organizations/{org_id}/projects/{project_id}",
    tag = "member",
    params(
        ("org_id" = String, Path, description = "The key's workspace"),
        ("project_id" = String, Path, description = "A project of it"),
    ),
    security(("member_key" = [])),
    request_body = ProjectFields,
    responses(
        (status = 200, description = "The project as saved", body = ProjectBody),
        (status = 400, description = "A body that isn't the expected JSON", body = ApiError),
        (status = 401, description = "No key, or one that doesn't work", body = ApiError),
        (status = 403, description = "The key lacks projects.manage", body = ApiError),
        (status = 404, description = "No such project in the key's workspace", body = ApiError),
        (status = 415, description = "Not JSON", body = ApiError),
        (status = 422, description = "An invalid or taken name", body = ApiError),
    )
)]
pub async fn update_project(
    state: web::Data<AppState>,
    ApiScope(scope): ApiScope,
    path: web::Path<(String, String)>,
    fields: web::Json<ProjectFields>,
) -> Result<HttpResponse, AppError> {
    let (org_id, id) = path.into_inner();
    allowed(&scope, &org_id, Permission::ProjectsManage)?;
    let id = project_id(&id)?;
    let now = project(&state, &scope, id.clone()).await?;
    let fields = fields.into_inner();
    let input = ProjectInput {
        name: fields.name.unwrap_or(now.name),
        description: fields.description.unwrap_or(now.description),
    };
    projects::update(&state.db, &scope, id.clone(), input).await?;
    let body = ProjectBody::of(project(&state, &scope, id).await?);
    Ok(HttpResponse::Ok().json(body))
}

/// Deletes a project with its keys (`projects.manage`); refused while an
/// agent uses it.
#[utoipa::path(
    delete,
    path = "/api/v1/organizations/{org_id}/projects/{project_id}",
    tag = "member",
    params(
        ("org_id" = String, Path, description = "The key's workspace"),
        ("project_id" = String, Path, description = "A project of it"),
    ),
    security(("member_key" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "No key, or one that doesn't work", body = ApiError),
        (status = 403, description = "The key lacks projects.manage", body = ApiError),
        (status = 404, description = "No such project in the key's workspace", body = ApiError),
        (status = 409, description = "Agents still use it", body = ApiError),
    )
)]
pub async fn delete_project(
    state: web::Data<AppState>,
    ApiScope(scope): ApiScope,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let (org_id, id) = path.into_inner();
    allowed(&scope, &org_id, Permission::ProjectsManage)?;
    projects::delete(&state.db, &scope, project_id(&id)?).await?;
    state.project_keys.forget_all();
    Ok(HttpResponse::NoContent().finish())
}

/// An agent.
#[derive(Serialize, ToSchema)]
pub struct AgentBody {
    id: String,
    name: String,
    project_id: String,
    project_name: String,
    /// `running` or `stopped`.
    status: &'static str,
    started_at: Option<String>,
    last_active_at: Option<String>,
}

impl AgentBody {
    fn of(row: AgentRow) -> Self {
        AgentBody {
            id: row.id.to_string(),
            name: row.name,
            project_id: row.project_id.to_string(),
            project_name: row.project_name,
            status: row.status.as_str(),
            started_at: row.started_at.map(|t| t.and_utc().to_rfc3339()),
            last_active_at: row.last_active_at.map(|t| t.and_utc().to_rfc3339()),
        }
    }
}

/// One agent of the workspace, as now stored.
async fn agent(state: &AppState, scope: &Scope, id: AgentId) -> Result<AgentBody, AppError> {
    let scope = scope.clone();
    let row = state
        .db
        .read(move |conn| db::agents::find(conn, &scope, &id))
        .await?;
    Ok(AgentBody::of(row))
}

/// The workspace's agents (`resources.read`).
#[utoipa::path(
    get,
    path = "/api/v1/organizations/{org_id}/agents",
    tag = "member",
    params(("org_id" = String, Path, description = "The key's workspace")),
    security(("member_key" = [])),
    responses(
        (status = 200, description = "Agents", body = Vec<AgentBody>),
        (status = 401, description = "No key, or one that doesn't work", body = ApiError),
        (status = 403, description = "The key lacks resources.read", body = ApiError),
        (status = 404, description = "Not the key's workspace", body = ApiError),
    )
)]
pub async fn agents(
    state: web::Data<AppState>,
    ApiScope(scope): ApiScope,
    org_id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    allowed(&scope, &org_id, Permission::ResourcesRead)?;
    let rows = state
        .db
        .read(move |conn| db::agents::list(conn, &scope))
        .await?;
    let body: Vec<AgentBody> = rows.into_iter().map(AgentBody::of).collect();
    Ok(HttpResponse::Ok().json(body))
}

/// A new agent.
#[derive(Deserialize, ToSchema)]
pub struct NewAgentBody {
    name: String,
    /// A project of the same workspace.
    project_id: String,
}

/// Creates a stopped agent on a project of the workspace
/// (`resources.write`).
#[utoipa::path(
    post,
    path = "/api/v1/organizations/{org_id}/agents",
    tag = "member",
    params(("org_id" = String, Path, description = "The key's workspace")),
    security(("member_key" = [])),
    request_body = NewAgentBody,
    responses(
        (status = 201, description = "Created, stopped", body = AgentBody),
        (status = 400, description = "A body that isn't the expected JSON", body = ApiError),
        (status = 401, description = "No key, or one that doesn't work", body = ApiError),
        (status = 403, description = "The key lacks resources.write", body = ApiError),
        (status = 404, description = "Not the key's workspace", body = ApiError),
        (status = 415, description = "Not JSON", body = ApiError),
        (status = 422, description = "An invalid or taken name, or a project not of this workspace", body = ApiError),
    )
)]
pub async fn create_agent(
    state: web::Data<AppState>,
    ApiScope(scope): ApiScope,
    org_id: web::Path<String>,
    body: web::Json<NewAgentBody>,
) -> Result<HttpResponse, AppError> {
    allowed(&scope, &org_id, Permission::ResourcesWrite)?;
    let body = body.into_inner();
    let input = AgentInput {
        name: body.name,
        project_id: body.project_id,
    };
    let id = agents::create(&state.db, &scope, input).await?;
    let created = agent(&state, &scope, id.clone()).await?;
    Ok(HttpResponse::Created()
        .insert_header((
            header::LOCATION,
            format!("/api/v1/organizations/{org_id}/agents/{id}"),
        ))
        .json(created))
}

/// Starts or stops an agent (`resources.write`), as its buttons do.
async fn run_agent(
    state: &AppState,
    scope: Scope,
    path: (String, String),
    start: bool,
) -> Result<HttpResponse, AppError> {
    let (org_id, id) = path;
    allowed(&scope, &org_id, Permission::ResourcesWrite)?;
    let id = agent_id(&id)?;
    if start {
        agents::start(&state.db, &scope, id.clone()).await?;
    } else {
        agents::stop(&state.db, &scope, id.clone()).await?;
    }
    Ok(HttpResponse::Ok().json(agent(state, &scope, id).await?))
}

/// Starts a stopped agent within the running-agent limits
/// (`resources.write`).
#[utoipa::path(
    post,
    path = "/api/v1/organizations/{org_id}/agents/{agent_id}/start",
    tag = "member",
    params(
        ("org_id" = String, Path, description = "The key's workspace"),
        ("agent_id" = String, Path, description = "An agent of it"),
    ),
    security(("member_key" = [])),
    responses(
        (status = 200, description = "Running", body = AgentBody),
        (status = 401, description = "No key, or one that doesn't work", body = ApiError),
        (status = 403, description = "The key lacks resources.write, or the workspace is suspended", body = ApiError),
        (status = 404, description = "No such agent in the key's workspace", body = ApiError),
        (status = 409, description = "Running already, or a limit is reached", body = ApiError),
    )
)]
pub async fn start_agent(
    state: web::Data<AppState>,
    ApiScope(scope): ApiScope,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    run_agent(&state, scope, path.into_inner(), true).await
}

/// Stops a running agent (`resources.write`).
#[utoipa::path(
    post,
    path = "/api/v1/organizations/{org_id}/agents/{agent_id}/stop",
    tag = "member",
    params(
        ("org_id" = String, Path, description = "The key's workspace"),
        ("agent_id" = String, Path, description = "An agent of it"),
    ),
    security(("member_key" = [])),
    responses(
        (status = 200, description = "Stopped", body = AgentBody),
        (status = 401, description = "No key, or one that doesn't work", body = ApiError),
        (status = 403, description = "The key lacks resources.write", body = ApiError),
        (status = 404, description = "No such agent in the key's workspace", body = ApiError),
        (status = 409, description = "Not running", body = ApiError),
    )
)]
pub async fn stop_agent(
    state: web::Data<AppState>,
    ApiScope(scope): ApiScope,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    run_agent(&state, scope, path.into_inner(), false).await
}

/// Deletes a stopped agent (`resources.write`).
#[utoipa::path(
    delete,
    path = "/api/v1/organizations/{org_id}/agents/{agent_id}",
    tag = "member",
    params(
        ("org_id" = String, Path, description = "The key's workspace"),
        ("agent_id" = String, Path, description = "An agent of it"),
    ),
    security(("member_key" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "No key, or one that doesn't work", body = ApiError),
        (status = 403, description = "The key lacks resources.write", body = ApiError),
        (status = 404, description = "No such agent in the key's workspace", body = ApiError),
        (status = 409, description = "Still running", body = ApiError),
    )
)]
pub async fn delete_agent(
    state: web::Data<AppState>,
    ApiScope(scope): ApiScope,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let (org_id, id) = path.into_inner();
    allowed(&scope, &org_id, Permission::ResourcesWrite)?;
    agents::delete(&state.db, &scope, agent_id(&id)?).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// One workspace's usage against its limits (`null`: no limit).
#[derive(Serialize, ToSchema)]
pub struct LimitsBody {
    workspace_id: String,
    name: String,
    is_team: bool,
    running_agents: i32,
    max_running_agents: Option<i32>,
    /// Agent hours this calendar month.
    agent_hours: f64,
    max_agent_hours: Option<i32>,
    app_instances: i32,
    max_app_instances: Option<i32>,
    /// Organizations only.
    max_agents_per_member: Option<i32>,
}

impl LimitsBody {
    fn of(usage: Usage) -> Self {
        LimitsBody {
            workspace_id: usage.workspace_id.to_string(),
            name: usage.name,
            is_team: usage.is_team,
            running_agents: usage.running_agents,
            max_running_agents: usage.max_running_agents,
            agent_hours: usage.hours,
            max_agent_hours: usage.max_agent_hours,
            app_instances: usage.app_instances,
            max_app_instances: usage.max_app_instances,
            max_agents_per_member: usage.max_agents_per_member,
        }
    }
}

/// The workspace's usage and limits, then (in an organization) each
/// team's (`resources.read`).
#[utoipa::path(
    get,
    path = "/api/v1/organizations/{org_id}/limits",
    tag = "member",
    params(("org_id" = String, Path, description = "The key's workspace")),
    security(("member_key" = [])),
    responses(
        (status = 200, description = "Usage against limits", body = Vec<LimitsBody>),
        (status = 401, description = "No key, or one that doesn't work", body = ApiError),
        (status = 403, description = "The key lacks resources.read", body = ApiError),
        (status = 404, description = "Not the key's workspace", body = ApiError),
    )
)]
pub async fn limits(
    state: web::Data<AppState>,
    ApiScope(scope): ApiScope,
    org_id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    allowed(&scope, &org_id, Permission::ResourcesRead)?;
    let rows = resources::usage(&state.db, &scope).await?;
    let body: Vec<LimitsBody> = rows.into_iter().map(LimitsBody::of).collect();
    Ok(HttpResponse::Ok().json(body))
}

/// New limits of the organization or one of its teams; each absent or
/// null limit is lifted.
#[derive(Deserialize, ToSchema)]
pub struct LimitsFields {
    #[serde(default)]
    max_running_agents: Option<u32>,
    /// Agent hours per calendar month.
    #[serde(default)]
    max_agent_hours: Option<u32>,
    #[serde(default)]
    max_app_instances: Option<u32>,
    /// The organization's row only.
    #[serde(default)]
    max_agents_per_member: Option<u32>,
}

/// Sets the limits of the key's organization or of one of its teams
/// (`resources.manage`): a team's quota stays within the organization's.
#[utoipa::path(
    put,
    path = "/api/v1/organizations/{org_id}/limits/{workspace_id}",
    tag = "member",
    params(
        ("org_id" = String, Path, description = "The key's organization"),
        ("workspace_id" = String, Path, description = "The organization or one of its teams"),
    ),
    security(("member_key" = [])),
    request_body = LimitsFields,
    responses(
        (status = 200, description = "Usage against the new limits", body = Vec<LimitsBody>),
        (status = 400, description = "A body that isn't the expected JSON", body = ApiError),
        (status = 401, description = "No key, or one that doesn't work", body = ApiError),
        (status = 403, description = "The key lacks resources.manage", body = ApiError),
        (status = 404, description = "Not the key's organization or one of its teams", body = ApiError),
        (status = 409, description = "Not an organization's key", body = ApiError),
        (status = 415, description = "Not JSON", body = ApiError),
        (status = 422, description = "A limit out of range, or a team's quota above the organization's limit", body = ApiError),
    )
)]
pub async fn set_limits(
    state: web::Data<AppState>,
    ApiScope(scope): ApiScope,
    path: web::Path<(String, String)>,
    fields: web::Json<LimitsFields>,
) -> Result<HttpResponse, AppError> {
    let (org_id, workspace_id) = path.into_inner();
    allowed(&scope, &org_id, Permission::ResourcesManage)?;
    let text = |limit: Option<u32>| limit.map(|n| n.to_string()).unwrap_or_default();
    let input = LimitsInput {
        workspace_id,
        max_running_agents: text(fields.max_running_agents),
        max_agent_hours: text(fields.max_agent_hours),
        max_app_instances: text(fields.max_app_instances),
        max_agents_per_member: text(fields.max_agents_per_member),
    };
    resources::set_limits(&state.db, &scope, input).await?;
    let rows = resources::usage(&state.db, &scope).await?;
    let body: Vec<LimitsBody> = rows.into_iter().map(LimitsBody::of).collect();
    Ok(HttpResponse::Ok().json(body))
}

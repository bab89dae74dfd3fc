//! `/projects`: the active workspace's projects (list, create) and
//! `/projects/{id}`: one project (edit, delete) with its API keys (create,
//! shown once; revoke). Seeing them needs `resources.read`; changing a
//! project `projects.manage`; its keys `keys.manage`.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::db::projects::{KeyRow, ProjectRow};
use crate::db::{self, DbError};
use crate::domain::permission::require;
use crate::domain::time::UtcMinute;
use crate::domain::{AgentStatus, FieldErrors, ProjectId, ProjectKeyId, WorkspaceId};
use crate::services::ServiceError;
use crate::services::projects::{self, CreatedKey, ProjectInput};
use crate::services::transfers;
use crate::web::AppState;
use crate::web::csrf::{EmptyForm, ScopedForm};
use crate::web::error::AppError;
use crate::web::page::{Page, render_with_status, see_other};
use crate::web::scope::Permitted;
use crate::web::session::{FlashLevel, SessionData};

/// The projects page.
#[derive(Template)]
#[template(path = "projects/index.html")]
pub struct ProjectsPage {
    page: Page,
    projects: Vec<(ProjectRow, i64)>,
    form: ProjectInput,
    errors: FieldErrors,
}

/// The project form.
#[derive(Deserialize)]
pub struct ProjectForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
}

impl From<ProjectForm> for ProjectInput {
    fn from(form: ProjectForm) -> Self {
        ProjectInput {
            name: form.name,
            description: form.description,
        }
    }
}

async fn list(
    state: &AppState,
    page: Page,
    form: ProjectInput,
    errors: FieldErrors,
) -> Result<HttpResponse, AppError> {
    let scope = page.scope.clone();
    let projects = state
        .db
        .read(move |conn| db::projects::list(conn, &scope))
        .await?;
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let body = ProjectsPage {
        page,
        projects,
        form,
        errors,
    };
    render_with_status(&body, status)
}

/// Lists the workspace's projects.
pub async fn index(
    state: web::Data<AppState>,
    _permitted: Permitted<require::ResourcesRead>,
    page: Page,
) -> Result<HttpResponse, AppError> {
    list(&state, page, ProjectInput::default(), FieldErrors::new()).await
}

/// Creates a project and opens it.
pub async fn create(
    state: web::Data<AppState>,
    _permitted: Permitted<require::ProjectsManage>,
    page: Page,
    session: Session,
    form: ScopedForm<ProjectForm>,
) -> Result<HttpResponse, AppError> {
    let input = ProjectInput::from(form.fields);
    match projects::create(&state.db, &form.scope, input.clone()).await {
        Ok(id) => {
            let message = format!("Project {} was created.", input.name.trim());
            SessionData::new(&session).flash(FlashLevel::Success, message);
            Ok(see_other(&format!("/projects/{id}")))
        }
        Err(ServiceError::Invalid(errors) | ServiceError::Conflict(errors)) => {
            list(&state, page, input, errors).await
        }
        Err(other) => Err(other.into()),
    }
}

/// One project's page.
#[derive(Template)]
#[template(path = "projects/show.html")]
pub struct ProjectPage {
    page: Page,
    project: ProjectRow,
    created: UtcMinute,
    keys: Vec<KeyView>,
    form: ProjectInput,
    errors: FieldErrors,
    /// A key just created: shown this once.
    created_key: Option<CreatedKey>,
    /// Where the API is, for the curl example.
    base_url: String,
    /// The agents that use the project (they move with it).
    agents: Vec<(String, AgentStatus)>,
    /// Where the viewer may move it: (workspace id, label).
    destinations: Vec<(String, String)>,
}

/// One key in the list.
pub struct KeyView {
    row: KeyRow,
    created: UtcMinute,
    last_used: Option<UtcMinute>,
    revoked: Option<UtcMinute>,
}

/// What a project page shows besides the project as stored.
#[derive(Default)]
struct Shown {
    form: Option<ProjectInput>,
    errors: FieldErrors,
    created_key: Option<CreatedKey>,
}

/// The id in the URL path; a malformed one names nothing (404).
pub(crate) fn project_id(path: &str) -> Result<ProjectId, AppError> {
    ProjectId::parse(path).ok_or(AppError::NotFound)
}

async fn show_project(
    state: &AppState,
    page: Page,
    id: ProjectId,
    shown: Shown,
) -> Result<HttpResponse, AppError> {
    let scope = page.scope.clone();
    let (project, keys, agents) = state
        .db
        .read(move |conn| {
            let (project, keys) = db::projects::with_keys(conn, &scope, &id)?;
            let agents = db::agents::names_on_project(conn, &scope, &id)?;
            Ok::<_, DbError>((project, keys, agents))
        })
        .await?;
    let status = match (&shown.created_key, shown.errors.is_empty()) {
        (Some(_), _) => StatusCode::CREATED,
        (None, true) => StatusCode::OK,
        (None, false) => StatusCode::UNPROCESSABLE_ENTITY,
    };
    let destinations = destinations(&page.scope);
    let form = shown.form.unwrap_or_else(|| ProjectInput {
        name: project.name.clone(),
        description: project.description.clone(),
    });
    let body = ProjectPage {
        page,
        created: UtcMinute(project.created_at),
        project,
        keys: keys.into_iter().map(KeyView::of).collect(),
        form,
        errors: shown.errors,
        created_key: shown.created_key,
        base_url: state.config.base_url.clone(),
        destinations,
        agents,
    };
    render_with_status(&body, status)
}

impl KeyView {
    fn of(row: KeyRow) -> Self {
        KeyView {
            created: UtcMinute(row.created_at),
            last_used: row.last_used_at.map(UtcMinute),
            revoked: row.revoked_at.map(UtcMinute),
            row,
        }
    }
}

/// Shows a project with its keys.
pub async fn show(
    state: web::Data<AppState>,
    _permitted: Permitted<require::ResourcesRead>,
    page: Page,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    show_project(&state, page, project_id(&path)?, Shown::default()).await
}

/// Renames a project and sets its description.
pub async fn update(
    state: web::Data<AppState>,
    _permitted: Permitted<require::ProjectsManage>,
    page: Page,
    session: Session,
    path: web::Path<String>,
    form: ScopedForm<ProjectForm>,
) -> Result<HttpResponse, AppError> {
    let id = project_id(&path)?;
    let input = ProjectInput::from(form.fields);
    match projects::update(&state.db, &form.scope, id.clone(), input.clone()).await {
        Ok(()) => {
            SessionData::new(&session).flash(FlashLevel::Success, "The project was saved.");
            Ok(see_other(&format!("/projects/{id}")))
        }
        Err(ServiceError::Invalid(errors) | ServiceError::Conflict(errors)) => {
            let shown = Shown {
                form: Some(input),
                errors,
                created_key: None,
            };
            show_project(&state, page, id, shown).await
        }
        Err(other) => Err(other.into()),
    }
}

/// Deletes a project with its keys.
pub async fn delete(
    state: web::Data<AppState>,
    _permitted: Permitted<require::ProjectsManage>,
    session: Session,
    path: web::Path<String>,
    form: ScopedForm<EmptyForm>,
) -> Result<HttpResponse, AppError> {
    let name = projects::delete(&state.db, &form.scope, project_id(&path)?).await?;
    state.project_keys.forget_all();
    let message = format!("Project {name} and its keys were deleted.");
    SessionData::new(&session).flash(FlashLevel::Success, message);
    Ok(see_other("/projects"))
}

/// The new-key form.
#[derive(Deserialize)]
pub struct KeyForm {
    #[serde(default)]
    key_name: String,
}

/// Creates a key and shows it, this once (201; reloading shows it no more).
pub async fn create_key(
    state: web::Data<AppState>,
    _permitted: Permitted<require::KeysManage>,
    page: Page,
    path: web::Path<String>,
    form: ScopedForm<KeyForm>,
) -> Result<HttpResponse, AppError> {
    let id = project_id(&path)?;
    let shown =
        match projects::create_key(&state.db, &form.scope, id.clone(), &form.fields.key_name).await
        {
            Ok(created) => Shown {
                created_key: Some(created),
                ..Shown::default()
            },
            Err(ServiceError::Invalid(errors)) => Shown {
                errors,
                ..Shown::default()
            },
            Err(other) => return Err(other.into()),
        };
    show_project(&state, page, id, shown).await
}

/// Revokes a key, at once and for good.
pub async fn revoke_key(
    state: web::Data<AppState>,
    _permitted: Permitted<require::KeysManage>,
    session: Session,
    path: web::Path<(String, String)>,
    form: ScopedForm<EmptyForm>,
) -> Result<HttpResponse, AppError> {
    let (project, key) = path.into_inner();
    let project = project_id(&project)?;
    let key = ProjectKeyId::parse(&key).ok_or(AppError::NotFound)?;
    let name = projects::revoke_key(&state.db, &form.scope, project.clone(), key).await?;
    state.project_keys.forget_all();
    let message = format!("The key {name} was revoked; it no longer works.");
    SessionData::new(&session).flash(FlashLevel::Success, message);
    Ok(see_other(&format!("/projects/{project}")))
}

/// Where the viewer may move the active workspace's resources, for the
/// transfer menus: (workspace id, label).
pub(crate) fn destinations(scope: &crate::db::scope::Scope) -> Vec<(String, String)> {
    transfers::destinations(scope)
        .into_iter()
        .map(|w| {
            let label = if w.kind.is_personal() {
                "Personal".to_owned()
            } else {
                w.name.clone()
            };
            (w.workspace_id.to_string(), label)
        })
        .collect()
}

/// The transfer form.
#[derive(Deserialize)]
pub struct TransferForm {
    #[serde(default)]
    to_workspace_id: String,
    #[serde(default)]
    move_agents: Option<String>,
}

/// Moves a project (with its keys, and its agents when agreed) to another
/// workspace of the viewer's.
pub async fn transfer(
    state: web::Data<AppState>,
    _permitted: Permitted<require::ResourcesTransfer>,
    page: Page,
    session: Session,
    path: web::Path<String>,
    form: ScopedForm<TransferForm>,
) -> Result<HttpResponse, AppError> {
    let id = project_id(&path)?;
    let to = WorkspaceId::parse(&form.fields.to_workspace_id);
    let move_agents = form.fields.move_agents.is_some();
    let outcome = match to {
        Some(to) => {
            transfers::move_project(&state.db, &form.scope, id.clone(), to, move_agents).await
        }
        None => Err(ServiceError::invalid(
            "to_workspace_id",
            "Choose a workspace.",
        )),
    };
    match outcome {
        Ok((name, to)) => {
            state.project_keys.forget_all();
            let message = format!("Project {name} was moved to {to}, with its keys.");
            SessionData::new(&session).flash(FlashLevel::Success, message);
            Ok(see_other("/projects"))
        }
        Err(ServiceError::Invalid(errors)) => {
            let shown = Shown {
                errors,
                ..Shown::default()
            };
            show_project(&state, page, id, shown).await
        }
        Err(other) => Err(other.into()),
    }
}

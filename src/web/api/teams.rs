//! `/api/v1/organizations/{org_id}/teams…` with an organization's key:
//! the Teams tab's list, create, rename, archive and restore, through the
//! same service and rules (`teams.manage`; the organization's owner owns
//! every team; every change audited in the organization and the team). A
//! team's own key reaches the team's members, roles and resources through
//! the other endpoints with the team's id.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db;
use crate::db::scope::Scope;
use crate::db::teams::TeamRow;
use crate::domain::{Permission, WorkspaceId};
use crate::services::teams::{self, TeamInput};
use crate::web::AppState;
use crate::web::api::{ApiScope, own_workspace};
use crate::web::error::{ApiError, AppError};
use crate::web::settings::teams::team_id;

/// A team of the organization.
#[derive(Serialize, ToSchema)]
pub struct TeamBody {
    id: String,
    name: String,
    description: String,
    /// `active`, `suspended` or `archived`.
    status: &'static str,
    member_count: i32,
    created_at: String,
    archived_at: Option<String>,
}

impl TeamBody {
    fn of(row: TeamRow) -> Self {
        TeamBody {
            id: row.id.to_string(),
            name: row.name,
            description: row.description,
            status: row.status.as_str(),
            member_count: row.member_count,
            created_at: row.created_at.and_utc().to_rfc3339(),
            archived_at: row.archived_at.map(|t| t.and_utc().to_rfc3339()),
        }
    }
}

/// The path's organization, for a key that may manage its teams; a team's
/// or a personal key has no teams (404).
fn managing(scope: &Scope, org_id: &str) -> Result<(), AppError> {
    own_workspace(scope, org_id)?;
    if scope.workspace().kind != crate::domain::WorkspaceKind::Organization {
        return Err(AppError::NotFound);
    }
    Ok(scope.require(Permission::TeamsManage)?)
}

/// One team of the organization, as now stored.
async fn team(state: &AppState, scope: &Scope, id: WorkspaceId) -> Result<TeamRow, AppError> {
    let scope = scope.clone();
    Ok(state
        .db
        .read(move |conn| db::teams::find(conn, &scope, &id))
        .await?)
}

/// The organization's teams, archived ones included (`teams.manage`).
#[utoipa::path(
    get,
    path = "/api/v1/organizations/{org_id}/teams",
    tag = "member",
    params(("org_id" = String, Path, description = "The key's organization")),
    security(("member_key" = [])),
    responses(
        (status = 200, description = "Teams", body = Vec<TeamBody>),
        (status = 401, description = "No key, or one that doesn't work", body = ApiError),
        (status = 403, description = "The key lacks teams.manage", body = ApiError),
        (status = 404, description = "Not the key's organization", body = ApiError),
    )
)]
pub async fn list(
    state: web::Data<AppState>,
    ApiScope(scope): ApiScope,
    org_id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    managing(&scope, &org_id)?;
    let rows = state
        .db
        .read(move |conn| db::teams::list(conn, &scope))
        .await?;
    let body: Vec<TeamBody> = rows.into_iter().map(TeamBody::of).collect();
    Ok(HttpResponse::Ok().json(body))
}

/// A team's fields; on update, absent fields stay as they are.
#[derive(Deserialize, ToSchema)]
pub struct TeamFields {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    description: Option<String>,
}

/// Creates a team (`teams.manage`): the organization's owner owns it, the
/// caller is its admin.
#[utoipa::path(
    post,
    path = "/api/v1/organizations/{org_id}/teams",
    tag = "member",
    params(("org_id" = String, Path, description = "The key's organization")),
    security(("member_key" = [])),
    request_body = TeamFields,
    responses(
        (status = 201, description = "Created", body = TeamBody),
        (status = 400, description = "A body that isn't the expected JSON", body = ApiError),
        (status = 401, description = "No key, or one that doesn't work", body = ApiError),
        (status = 403, description = "The key lacks teams.manage", body = ApiError),
        (status = 404, description = "Not the key's organization", body = ApiError),
        (status = 415, description = "Not JSON", body = ApiError),
        (status = 422, description = "An invalid or taken name", body = ApiError),
    )
)]
pub async fn create(
    state: web::Data<AppState>,
    ApiScope(scope): ApiScope,
    org_id: web::Path<String>,
    fields: web::Json<TeamFields>,
) -> Result<HttpResponse, AppError> {
    managing(&scope, &org_id)?;
    let fields = fields.into_inner();
    let input = TeamInput {
        name: fields.name.unwrap_or_default(),
        description: fields.description.unwrap_or_default(),
    };
    let id = teams::create(&state.db, &scope, input).await?;
    let body = TeamBody::of(team(&state, &scope, id.clone()).await?);
    Ok(HttpResponse::Created()
        .insert_header((
            header::LOCATION,
            format!("/api/v1/organizations/{org_id}/teams/{id}"),
        ))
        .json(body))
}

/// Renames or describes a team (`teams.manage`).
#[utoipa::path(
    patch,
    path = "/api/v1/organizations/{org_id}/teams/{team_id}",
    tag = "member",
    params(
        ("org_id" = String, Path, description = "The key's organization"),
        ("team_id" = String, Path, description = "A team of it"),
    ),
    security(("member_key" = [])),
    request_body = TeamFields,
    responses(
        (status = 200, description = "The team as saved", body = TeamBody),
        (status = 400, description = "A body that isn't the expected JSON", body = ApiError),
        (status = 401, description = "No key, or one that doesn't work", body = ApiError),
        (status = 403, description = "The key lacks teams.manage", body = ApiError),
        (status = 404, description = "No such team in the key's organization", body = ApiError),
        (status = 415, description = "Not JSON", body = ApiError),
        (status = 422, description = "An invalid or taken name", body = ApiError),
    )
)]
pub async fn update(
    state: web::Data<AppState>,
    ApiScope(scope): ApiScope,
    path: web::Path<(String, String)>,
    fields: web::Json<TeamFields>,
) -> Result<HttpResponse, AppError> {
    let (org_id, id) = path.into_inner();
    managing(&scope, &org_id)?;
    let id = team_id(&id)?;
    let now = team(&state, &scope, id.clone()).await?;
    let fields = fields.into_inner();
    let input = TeamInput {
        name: fields.name.unwrap_or(now.name),
        description: fields.description.unwrap_or(now.description),
    };
    teams::update(&state.db, &scope, id.clone(), input).await?;
    Ok(HttpResponse::Ok().json(TeamBody::of(team(&state, &scope, id).await?)))
}

/// Archives a team (`teams.manage`): its members can no longer enter it
/// and its keys stop working; its data stays.
#[utoipa::path(
    delete,
    path = "/api/v1/organizations/{org_id}/teams/{team_id}",
    tag = "member",
    params(
        ("org_id" = String, Path, description = "The key's organization"),
        ("team_id" = String, Path, description = "A team of it"),
    ),
    security(("member_key" = [])),
    responses(
        (status = 204, description = "Archived"),
        (status = 401, description = "No key, or one that doesn't work", body = ApiError),
        (status = 403, description = "The key lacks teams.manage", body = ApiError),
        (status = 404, description = "No such team in the key's organization", body = ApiError),
        (status = 409, description = "Archived already", body = ApiError),
    )
)]
pub async fn archive(
    state: web::Data<AppState>,
    ApiScope(scope): ApiScope,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let (org_id, id) = path.into_inner();
    managing(&scope, &org_id)?;
    teams::set_archived(&state.db, &scope, team_id(&id)?, true).await?;
    state.api_keys.cache.forget_all();
    Ok(HttpResponse::NoContent().finish())
}

/// Restores an archived team (`teams.manage`).
#[utoipa::path(
    post,
    path = "/api/v1/organizations/{org_id}/teams/{team_id}/restore",
    tag = "member",
    params(
        ("org_id" = String, Path, description = "The key's organization"),
        ("team_id" = String, Path, description = "A team of it"),
    ),
    security(("member_key" = [])),
    responses(
        (status = 200, description = "Restored", body = TeamBody),
        (status = 401, description = "No key, or one that doesn't work", body = ApiError),
        (status = 403, description = "The key lacks teams.manage", body = ApiError),
        (status = 404, description = "No such team in the key's organization", body = ApiError),
        (status = 409, description = "Not archived", body = ApiError),
    )
)]
pub async fn restore(
    state: web::Data<AppState>,
    ApiScope(scope): ApiScope,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let (org_id, id) = path.into_inner();
    managing(&scope, &org_id)?;
    let id = team_id(&id)?;
    teams::set_archived(&state.db, &scope, id.clone(), false).await?;
    Ok(HttpResponse::Ok().json(TeamBody::of(team(&state, &scope, id).await?)))
}

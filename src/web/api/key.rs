//! `GET /api/v1/key`: which project and workspace does this key open?

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::services::projects::{self, ResolvedKey};
use crate::web::AppState;
use crate::web::api::bearer;
use crate::web::error::{ApiError, AppError};

/// A project or workspace as the API names it.
#[derive(Serialize, ToSchema)]
pub struct Named<'a> {
    /// Id.
    pub id: &'a str,
    /// Name.
    pub name: &'a str,
}

/// `GET /api/v1/key`'s answer.
#[derive(Serialize, ToSchema)]
pub struct KeyBody<'a> {
    project: Named<'a>,
    workspace: Named<'a>,
    workspace_kind: &'a str,
}

/// Which project and workspace the presented key opens (401 for a
/// missing, malformed, unknown or revoked key).
#[utoipa::path(
    get,
    path = "/api/v1/key",
    tag = "platform",
    security(("project_key" = [])),
    responses((status = 200, description = "The key's project and workspace", body = KeyBody), (status = 401, description = "No key, or one that doesn't work", body = ApiError))
)]
pub async fn key(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, AppError> {
    let ResolvedKey {
        project_id,
        project_name,
        workspace_id,
        workspace_name,
        workspace_kind,
    } = projects::resolve_key(&state.db, bearer(&req)?)
        .await?
        .ok_or(AppError::KeyRequired)?;
    Ok(HttpResponse::Ok().json(KeyBody {
        project: Named {
            id: project_id.as_str(),
            name: &project_name,
        },
        workspace: Named {
            id: workspace_id.as_str(),
            name: &workspace_name,
        },
        workspace_kind: workspace_kind.as_str(),
    }))
}

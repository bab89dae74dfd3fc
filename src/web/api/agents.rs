//! `POST /api/v1/agents/{id}/activity` and `/api/v1/apps/{id}/activity`:
//! the platform reports that it used an agent (or app instance) of the
//! workspace its key opens. A running agent's idle clock
//! starts again; one the idle job stopped runs again (within the limits,
//! for the member who last started it); one a person stopped stays so
//! (409). Another workspace's agent is 404.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::{AgentId, AppInstanceId};
use crate::services::agents::{self, UseOutcome};
use crate::services::apps;
use crate::web::AppState;
use crate::web::api::bearer;
use crate::web::error::{ApiError, AppError};

/// An agent after a reported use.
#[derive(Serialize, ToSchema)]
pub struct ActivityBody<'a> {
    agent: &'a str,
    status: &'static str,
    /// Whether this use started it again after an idle stop.
    resumed: bool,
}

/// An app instance after a reported use.
#[derive(Serialize, ToSchema)]
pub struct AppActivityBody<'a> {
    app_instance: &'a str,
    status: &'static str,
    /// Whether this use started it again after an idle stop.
    resumed: bool,
}

/// Records the use (and resumes the agent if the idle job stopped it).
#[utoipa::path(
    post,
    path = "/api/v1/agents/{id}/activity",
    tag = "platform",
    params(("id" = String, Path, description = "An agent of the key's workspace")),
    security(("project_key" = [])),
    responses(
        (status = 200, description = "Running", body = ActivityBody),
        (status = 401, description = "No key, or one that doesn't work", body = ApiError),
        (status = 404, description = "Not the key's workspace's agent", body = ApiError),
        (status = 409, description = "Stopped by a person, or a limit is full", body = ApiError),
    )
)]
pub async fn activity(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let key = bearer(&req)?;
    let id = AgentId::parse(&path).ok_or(AppError::NotFound)?;
    let outcome = agents::record_use(&state.db, key, id.clone()).await?;
    Ok(HttpResponse::Ok().json(ActivityBody {
        agent: id.as_str(),
        status: "running",
        resumed: outcome == UseOutcome::Resumed,
    }))
}

/// Records an app instance's use (and resumes it if the idle job stopped it).
#[utoipa::path(
    post,
    path = "/api/v1/apps/{id}/activity",
    tag = "platform",
    params(("id" = String, Path, description = "An app instance of the key's workspace")),
    security(("project_key" = [])),
    responses(
        (status = 200, description = "Running", body = AppActivityBody),
        (status = 401, description = "No key, or one that doesn't work", body = ApiError),
        (status = 404, description = "Not the key's workspace's app", body = ApiError),
        (status = 409, description = "Stopped by a person, or a limit is full", body = ApiError),
    )
)]
pub async fn app_activity(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let key = bearer(&req)?;
    let id = AppInstanceId::parse(&path).ok_or(AppError::NotFound)?;
    let resumed = apps::record_use(&state.db, &state.config.apps, key, id.clone()).await?;
    Ok(HttpResponse::Ok().json(AppActivityBody {
        app_instance: id.as_str(),
        status: "running",
        resumed,
    }))
}

//! `POST /api/v1/agents/{id}/activity` and `/api/v1/apps/{id}/activity`:
//! the platform reports that it used an agent (or app instance) of the
//! workspace its key opens. A running agent's idle clock
//! starts again; one the idle job stopped runs again (within the limits,
//! for the member who last started it); one a person stopped stays so
//! (409). Another workspace's agent is 404.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;

use crate::domain::{AgentId, AppInstanceId};
use crate::services::agents::{self, UseOutcome};
use crate::services::apps;
use crate::web::AppState;
use crate::web::api::bearer;
use crate::web::error::AppError;

#[derive(Serialize)]
struct ActivityBody<'a> {
    agent: &'a str,
    status: &'static str,
    /// Whether this use started it again after an idle stop.
    resumed: bool,
}

/// Records the use (and resumes the agent if the idle job stopped it).
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
pub async fn app_activity(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let key = bearer(&req)?;
    let id = AppInstanceId::parse(&path).ok_or(AppError::NotFound)?;
    let resumed = apps::record_use(&state.db, &state.config.apps, key, id.clone()).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "app_instance": id.as_str(),
        "status": "running",
        "resumed": resumed,
    })))
}

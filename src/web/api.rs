//! `/api/v1/…`: what the platform calls with a project's API key. For now
//! one question, `GET /api/v1/key`: which project and workspace does this
//! key open? Errors have one shape, `{"error": {"code", "message"}}`.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;

use crate::services::projects::{self, ResolvedKey};
use crate::web::AppState;
use crate::web::error::AppError;

/// The one shape of every API error.
#[derive(Serialize)]
struct ErrorBody<'a> {
    error: ErrorDetail<'a>,
}

#[derive(Serialize)]
struct ErrorDetail<'a> {
    code: &'a str,
    message: &'a str,
}

fn unauthorized() -> HttpResponse {
    HttpResponse::Unauthorized()
        .insert_header((header::WWW_AUTHENTICATE, "Bearer"))
        .json(ErrorBody {
            error: ErrorDetail {
                code: "unauthorized",
                message: "Send a live project API key as `Authorization: Bearer <key>`.",
            },
        })
}

/// The key presented in `Authorization: Bearer …`, if any.
fn bearer(req: &HttpRequest) -> Option<&str> {
    req.headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

/// A project and workspace as the API names them.
#[derive(Serialize)]
struct Named<'a> {
    id: &'a str,
    name: &'a str,
}

/// `GET /api/v1/key`'s answer.
#[derive(Serialize)]
struct KeyBody<'a> {
    project: Named<'a>,
    workspace: Named<'a>,
    workspace_kind: &'a str,
}

/// Which project and workspace the presented key opens (401 for a
/// missing, malformed, unknown or revoked key).
pub async fn key(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, AppError> {
    let Some(presented) = bearer(&req) else {
        return Ok(unauthorized());
    };
    let Some(ResolvedKey {
        project_id,
        project_name,
        workspace_id,
        workspace_name,
        workspace_kind,
    }) = projects::resolve_key(&state.db, presented).await?
    else {
        return Ok(unauthorized());
    };
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

//! Choosing the active workspace: `POST /context` (the switcher in every
//! page's top bar) and `GET /o/{slug}/{rest}` (links that carry their
//! context, used in emails and bookmarks). Switching needs only a valid CSRF
//! token (choosing where to be is the point, so no active-workspace check),
//! and the target must be a workspace the user may enter right now.

use actix_session::Session;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::csrf::CsrfForm;
use super::error::AppError;
use super::page::{safe_local_path, see_other};
use crate::db::scope::Scope;
use crate::domain::WorkspaceId;
use crate::web::session::SessionData;

/// The switcher's form.
#[derive(Deserialize)]
pub struct SwitchForm {
    #[serde(default)]
    workspace_id: String,
    #[serde(default)]
    return_to: String,
}

/// Makes another workspace active and reloads the page the user was on in
/// it. A workspace the user isn't in is "not found", and nothing changes.
pub async fn switch(
    scope: Scope,
    session: Session,
    form: CsrfForm<SwitchForm>,
) -> Result<HttpResponse, AppError> {
    let target = WorkspaceId::parse(&form.fields.workspace_id).ok_or(AppError::NotFound)?;
    let workspace = scope.accessible(&target).ok_or(AppError::NotFound)?;
    SessionData::new(&session).set_active_workspace(&workspace.workspace_id)?;
    Ok(see_other(
        safe_local_path(&form.fields.return_to).unwrap_or("/"),
    ))
}

/// Enters the organization with this slug (if the user belongs to it) and
/// continues to `/{rest}` with the query string kept.
pub async fn enter(
    scope: Scope,
    session: Session,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let (slug, rest) = path.into_inner();
    let workspace = scope
        .accessible_workspaces()
        .iter()
        .find(|w| w.slug.as_deref() == Some(slug.as_str()))
        .ok_or(AppError::NotFound)?;
    SessionData::new(&session).set_active_workspace(&workspace.workspace_id)?;
    let query = req.query_string();
    let target = if query.is_empty() {
        format!("/{rest}")
    } else {
        format!("/{rest}?{query}")
    };
    Ok(see_other(safe_local_path(&target).unwrap_or("/")))
}

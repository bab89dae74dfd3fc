//! `POST /context`: the context switcher. Switching needs only a valid CSRF
//! token (not the active-workspace check: choosing where to be is the point),
//! and the target must be one the user may enter right now.

use actix_session::Session;
use actix_web::{HttpResponse, http::header};
use serde::Deserialize;

use super::csrf::CsrfForm;
use super::error::AppError;
use crate::domain::WorkspaceId;
use crate::scope::Scope;
use crate::session::SessionData;

/// The switcher's form.
#[derive(Deserialize)]
pub struct SwitchForm {
    workspace_id: String,
}

/// Makes another workspace active and reloads the dashboard in it. A
/// workspace the user isn't in is "not found", and the session is unchanged.
pub async fn switch(
    scope: Scope,
    session: Session,
    form: CsrfForm<SwitchForm>,
) -> Result<HttpResponse, AppError> {
    let target = WorkspaceId::parse(&form.fields.workspace_id).ok_or(AppError::NotFound)?;
    let workspace = scope.accessible(&target).ok_or(AppError::NotFound)?;
    SessionData::new(&session).set_active_workspace(&workspace.workspace_id)?;
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/"))
        .finish())
}

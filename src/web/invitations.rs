//! `/invitations/{token}`: what an invitation link opens. It shows the
//! organization, who invited and the role, and lets the invited person
//! accept or decline, signing in or signing up first when needed. Used,
//! revoked, expired and unknown links all get one and the same page.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;

use super::AppState;
use super::csrf::{CsrfForm, CsrfToken, EmptyForm};
use super::error::AppError;
use super::page::{format_time, render_with_status, see_other};
use crate::db::invitations::InvitationView;
use crate::db::scope::Scope;
use crate::db::{self, DbError};
use crate::services::ServiceError;
use crate::services::members;
use crate::web::session::{FlashLevel, SessionData};

/// The invitation page.
#[derive(Template)]
#[template(path = "invitations/show.html")]
pub struct InvitationPage {
    csrf: String,
    token: String,
    invitation: Option<InvitationView>,
    expires: String,
    signed_in_as: Option<String>,
    email_matches: bool,
}

/// Shows an invitation (anyone holding the link may see it).
pub async fn show(
    state: web::Data<AppState>,
    scope: Option<Scope>,
    csrf: CsrfToken,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let token = path.into_inner();
    let invitation = members::usable_invitation(&state.members, &token).await?;
    let signed_in_as = scope.as_ref().map(|s| s.user().email.clone());
    let email_matches = match (&invitation, &signed_in_as) {
        (Some(invitation), Some(email)) => &invitation.email == email,
        _ => false,
    };
    let status = if invitation.is_some() {
        StatusCode::OK
    } else {
        StatusCode::NOT_FOUND
    };
    let body = InvitationPage {
        csrf: csrf.0,
        expires: invitation
            .as_ref()
            .map(|i| format_time(&i.expires_at))
            .unwrap_or_default(),
        token,
        invitation,
        signed_in_as,
        email_matches,
    };
    render_with_status(&body, status)
}

/// Accepts: the organization joins the switcher and becomes active.
pub async fn accept(
    state: web::Data<AppState>,
    scope: Scope,
    session: Session,
    path: web::Path<String>,
    _form: CsrfForm<EmptyForm>,
) -> Result<HttpResponse, AppError> {
    let token = path.into_inner();
    match members::accept(&state.members, &scope, &token).await {
        Ok(workspace) => {
            let name = usable_name(&state, &workspace).await;
            let data = SessionData::new(&session);
            data.set_active_workspace(&workspace)?;
            data.flash(FlashLevel::Success, format!("Welcome to {name}!"));
            Ok(see_other("/"))
        }
        Err(ServiceError::NotFound) => Ok(see_other(&format!("/invitations/{token}"))),
        Err(other) => Err(other.into()),
    }
}

async fn usable_name(state: &AppState, workspace: &crate::domain::WorkspaceId) -> String {
    let id = workspace.clone();
    state
        .db
        .read(move |conn| db::workspaces::name_of(conn, &id))
        .await
        .unwrap_or_else(|_: DbError| "your new organization".into())
}

/// Declines: nothing joins; the inviter sees it in the history.
pub async fn decline(
    state: web::Data<AppState>,
    scope: Scope,
    session: Session,
    path: web::Path<String>,
    _form: CsrfForm<EmptyForm>,
) -> Result<HttpResponse, AppError> {
    let token = path.into_inner();
    match members::decline(&state.members, &scope, &token).await {
        Ok(_) => {
            SessionData::new(&session).flash(FlashLevel::Info, "You declined the invitation.");
            Ok(see_other("/"))
        }
        Err(ServiceError::NotFound) => Ok(see_other(&format!("/invitations/{token}"))),
        Err(other) => Err(other.into()),
    }
}

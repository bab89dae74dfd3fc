//! `/organizations`: the list of the user's organizations (and the archived
//! ones they may restore), the creation form, and restoring.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::AppState;
use super::csrf::{CsrfForm, EmptyForm};
use super::error::AppError;
use super::page::{Page, format_time, render_with_status, see_other, try_again_in};
use crate::db::scope::Scope;
use crate::db::{self, organizations::Card};
use crate::domain::{FieldErrors, WorkspaceId};
use crate::services::ServiceError;
use crate::services::organizations::{self, NewOrganization};
use crate::web::session::{FlashLevel, SessionData};

/// The organizations page.
#[derive(Template)]
#[template(path = "organizations/index.html")]
pub struct OrganizationsPage {
    page: Page,
    cards: Vec<Card>,
    archived: Vec<ArchivedRow>,
    retention_days: u32,
}

/// An archived organization the viewer may restore.
pub struct ArchivedRow {
    id: String,
    name: String,
    slug: String,
    archived_at: String,
}

/// Lists the user's organizations: one card each, and the archived ones
/// they own with "Restore".
pub async fn index(state: web::Data<AppState>, page: Page) -> Result<HttpResponse, AppError> {
    let user = page.scope.user_id().clone();
    let cutoff = organizations::restore_cutoff(&state.organizations);
    let (cards, archived) = state
        .db
        .read(move |conn| {
            let cards = db::organizations::cards_for(conn, &user)?;
            let archived = db::organizations::archived_owned_by(conn, &user, cutoff)?;
            Ok::<_, db::DbError>((cards, archived))
        })
        .await?;
    let archived = archived
        .into_iter()
        .map(|a| ArchivedRow {
            id: a.id.to_string(),
            name: a.name,
            slug: a.slug.unwrap_or_default(),
            archived_at: a.archived_at.as_ref().map(format_time).unwrap_or_default(),
        })
        .collect();
    let body = OrganizationsPage {
        page,
        cards,
        archived,
        retention_days: state.config.archive_retention_days,
    };
    render_with_status(&body, StatusCode::OK)
}

/// The creation form.
#[derive(Template)]
#[template(path = "organizations/new.html")]
pub struct NewOrganizationPage {
    page: Page,
    name: String,
    slug: String,
    errors: FieldErrors,
}

/// Shows the empty creation form.
pub async fn new_form(page: Page) -> Result<HttpResponse, AppError> {
    let body = NewOrganizationPage {
        page,
        name: String::new(),
        slug: String::new(),
        errors: FieldErrors::new(),
    };
    render_with_status(&body, StatusCode::OK)
}

/// The creation form's fields.
#[derive(Deserialize)]
pub struct CreateForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    slug: String,
}

impl NewOrganizationPage {
    /// The form again after a refusal, with what was typed.
    fn again(page: Page, name: String, slug: String, errors: FieldErrors) -> Self {
        NewOrganizationPage {
            page,
            name,
            slug,
            errors,
        }
    }
}

/// Creates the organization and switches into it.
pub async fn create(
    state: web::Data<AppState>,
    page: Page,
    session: Session,
    form: CsrfForm<CreateForm>,
) -> Result<HttpResponse, AppError> {
    let CreateForm { name, slug } = form.fields;
    let input = NewOrganization {
        name: name.clone(),
        slug: slug.clone(),
        ..NewOrganization::default()
    };
    match organizations::create(&state.organizations, &page.scope, input).await {
        Ok(id) => {
            let data = SessionData::new(&session);
            data.set_active_workspace(&id)?;
            data.flash(
                FlashLevel::Success,
                format!("{} was created. You are its owner.", name.trim()),
            );
            Ok(see_other("/"))
        }
        Err(ServiceError::Invalid(errors) | ServiceError::Conflict(errors)) => {
            let body = NewOrganizationPage::again(page, name, slug, errors);
            render_with_status(&body, StatusCode::UNPROCESSABLE_ENTITY)
        }
        Err(ServiceError::Throttled {
            retry_after_minutes,
        }) => {
            let wait = try_again_in(retry_after_minutes);
            let errors = FieldErrors::of(
                "form",
                format!("Too many organizations were created from your network. {wait}"),
            );
            let body = NewOrganizationPage::again(page, name, slug, errors);
            render_with_status(&body, StatusCode::TOO_MANY_REQUESTS)
        }
        Err(other) => Err(other.into()),
    }
}

/// Restores an archived organization the user owns and switches into it.
pub async fn restore(
    state: web::Data<AppState>,
    scope: Scope,
    session: Session,
    path: web::Path<String>,
    _form: CsrfForm<EmptyForm>,
) -> Result<HttpResponse, AppError> {
    let workspace = WorkspaceId::parse(&path).ok_or(AppError::NotFound)?;
    let name = organizations::restore(&state.organizations, &scope, workspace.clone()).await?;
    let data = SessionData::new(&session);
    data.set_active_workspace(&workspace)?;
    data.flash(FlashLevel::Success, format!("{name} was restored."));
    Ok(see_other("/"))
}

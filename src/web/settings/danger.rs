//! `/settings/danger`: the danger zone of the active organization. Every
//! member may leave; the owner may transfer ownership, archive (restorable
//! for a while) or delete forever, each confirmed by typing.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::db::scope::Scope;
use crate::domain::FieldErrors;
use crate::domain::permission::require;
use crate::services::ServiceError;
use crate::services::organizations;
use crate::web::AppState;
use crate::web::csrf::{EmptyForm, ScopedForm};
use crate::web::error::AppError;
use crate::web::page::{Page, render_with_status, see_other};
use crate::web::scope::Permitted;
use crate::web::session::{FlashLevel, SessionData};
use crate::web::settings::general::PersonalSettingsPage;

/// The Danger zone tab.
#[derive(Template)]
#[template(path = "settings/danger.html")]
pub struct DangerPage {
    page: Page,
    errors: FieldErrors,
    new_owner_email: String,
    retention_days: u32,
}

fn danger_page(
    state: &AppState,
    page: Page,
    errors: FieldErrors,
    new_owner_email: String,
) -> DangerPage {
    DangerPage {
        page,
        errors,
        new_owner_email,
        retention_days: state.config.archive_retention_days,
    }
}

/// Shows the danger zone.
pub async fn danger(state: web::Data<AppState>, page: Page) -> Result<HttpResponse, AppError> {
    if page.scope.is_personal() {
        return render_with_status(&PersonalSettingsPage { page }, StatusCode::OK);
    }
    render_with_status(
        &danger_page(&state, page, FieldErrors::new(), String::new()),
        StatusCode::OK,
    )
}

/// Archives the organization; the owner lands in their personal workspace.
pub async fn archive(
    state: web::Data<AppState>,
    _permitted: Permitted<require::OrgDelete>,
    session: Session,
    form: ScopedForm<EmptyForm>,
) -> Result<HttpResponse, AppError> {
    organizations::archive(&state.organizations, &form.scope).await?;
    back_to_personal(
        &session,
        &form.scope,
        format!(
            "{} was archived. You can restore it from Organizations for {} days.",
            form.scope.workspace().name,
            state.config.archive_retention_days
        ),
    )
}

/// The delete confirmation.
#[derive(Deserialize)]
pub struct DeleteForm {
    #[serde(default)]
    confirm_name: String,
}

/// Deletes the organization forever, once its name is typed.
pub async fn delete(
    state: web::Data<AppState>,
    _permitted: Permitted<require::OrgDelete>,
    page: Page,
    session: Session,
    form: ScopedForm<DeleteForm>,
) -> Result<HttpResponse, AppError> {
    match organizations::delete_forever(
        &state.organizations,
        &form.scope,
        &form.fields.confirm_name,
    )
    .await
    {
        Ok(()) => back_to_personal(
            &session,
            &form.scope,
            format!("{} was deleted.", form.scope.workspace().name),
        ),
        Err(ServiceError::Invalid(errors) | ServiceError::Conflict(errors)) => render_with_status(
            &danger_page(&state, page, errors, String::new()),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Err(other) => Err(other.into()),
    }
}

/// The ownership transfer form.
#[derive(Deserialize)]
pub struct TransferForm {
    #[serde(default)]
    new_owner_email: String,
    leave: Option<String>,
}

/// Transfers ownership (and, if asked, leaves in the same step).
pub async fn transfer_ownership(
    state: web::Data<AppState>,
    _permitted: Permitted<require::OrgTransfer>,
    page: Page,
    session: Session,
    form: ScopedForm<TransferForm>,
) -> Result<HttpResponse, AppError> {
    let then_leave = form.fields.leave.is_some();
    let email = form.fields.new_owner_email;
    match organizations::transfer_ownership(&state.organizations, &form.scope, &email, then_leave)
        .await
    {
        Ok(new_owner) if then_leave => back_to_personal(
            &session,
            &form.scope,
            format!(
                "{new_owner} now owns {}, and you have left it.",
                form.scope.workspace().name
            ),
        ),
        Ok(new_owner) => {
            SessionData::new(&session).flash(
                FlashLevel::Success,
                format!(
                    "{new_owner} now owns {}. You are an admin.",
                    form.scope.workspace().name
                ),
            );
            Ok(see_other("/settings/danger"))
        }
        Err(ServiceError::Invalid(errors) | ServiceError::Conflict(errors)) => render_with_status(
            &danger_page(&state, page, errors, email),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Err(other) => Err(other.into()),
    }
}

/// Leaves the organization (not possible for the owner).
pub async fn leave(
    state: web::Data<AppState>,
    session: Session,
    form: ScopedForm<EmptyForm>,
) -> Result<HttpResponse, AppError> {
    organizations::leave(&state.organizations, &form.scope).await?;
    back_to_personal(
        &session,
        &form.scope,
        format!("You left {}.", form.scope.workspace().name),
    )
}

fn back_to_personal(
    session: &Session,
    scope: &Scope,
    message: String,
) -> Result<HttpResponse, AppError> {
    let data = SessionData::new(session);
    if let Some(personal) = scope.personal_workspace_id() {
        data.set_active_workspace(personal)?;
    }
    data.flash(FlashLevel::Success, message);
    Ok(see_other("/"))
}

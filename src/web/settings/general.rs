//! `/settings/general`: the active organization's name, slug,
//! description, avatar and billing details (read-only without `org.update`),
//! and `/avatars/{id}` that serves the avatar.

use actix_multipart::MultipartError;
use actix_multipart::form::bytes::Bytes as UploadBytes;
use actix_multipart::form::text::Text;
use actix_multipart::form::{MultipartForm, MultipartFormConfig};
use actix_session::{Session, SessionExt};
use actix_web::error::PayloadError;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::db;
use crate::db::scope::Scope;
use crate::domain::FieldErrors;
use crate::domain::permission::require;
use crate::services::ServiceError;
use crate::services::organizations::{self, GeneralInput};
use crate::web::AppState;
use crate::web::csrf::{self, EmptyForm, ScopedForm};
use crate::web::error::AppError;
use crate::web::page::{Page, render_with_status, see_other};
use crate::web::scope::Permitted;
use crate::web::session::{FlashLevel, SessionData};

/// The General tab.
#[derive(Template)]
#[template(path = "settings/general.html")]
pub struct GeneralPage {
    page: Page,
    form: GeneralInput,
    errors: FieldErrors,
    can_edit: bool,
    avatar_version: i32,
}

/// Shown on settings tabs in the personal workspace, which has none.
#[derive(Template)]
#[template(path = "settings/personal.html")]
pub struct PersonalSettingsPage {
    pub(crate) page: Page,
}

async fn load_general(
    state: &AppState,
    scope: &Scope,
) -> Result<db::organizations::Settings, AppError> {
    let scope = scope.clone();
    Ok(state
        .db
        .read(move |conn| db::organizations::settings(conn, &scope))
        .await?)
}

/// Shows the General tab (read-only for members without `org.update`).
pub async fn general(state: web::Data<AppState>, page: Page) -> Result<HttpResponse, AppError> {
    if page.scope.is_personal() {
        return render_with_status(&PersonalSettingsPage { page }, StatusCode::OK);
    }
    let current = load_general(&state, &page.scope).await?;
    let body = GeneralPage {
        can_edit: page.scope.can(crate::domain::Permission::OrgUpdate),
        form: GeneralInput {
            name: current.name,
            slug: current.slug.unwrap_or_default(),
            description: current.description,
            billing_email: current.billing_email,
            billing_address: current.billing_address,
        },
        errors: FieldErrors::new(),
        avatar_version: current.avatar_version,
        page,
    };
    render_with_status(&body, StatusCode::OK)
}

/// The General tab's form.
#[derive(Deserialize)]
pub struct GeneralForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    slug: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    billing_email: String,
    #[serde(default)]
    billing_address: String,
}

impl From<GeneralForm> for GeneralInput {
    fn from(form: GeneralForm) -> Self {
        GeneralInput {
            name: form.name,
            slug: form.slug,
            description: form.description,
            billing_email: form.billing_email,
            billing_address: form.billing_address,
        }
    }
}

/// Saves the General tab.
pub async fn update_general(
    state: web::Data<AppState>,
    _permitted: Permitted<require::OrgUpdate>,
    page: Page,
    session: Session,
    form: ScopedForm<GeneralForm>,
) -> Result<HttpResponse, AppError> {
    let input = GeneralInput::from(form.fields);
    match organizations::update_general(&state.organizations, &form.scope, input.clone()).await {
        Ok(()) => {
            SessionData::new(&session)
                .flash(FlashLevel::Success, "Organization settings were saved.");
            Ok(see_other("/settings/general"))
        }
        Err(ServiceError::Invalid(errors) | ServiceError::Conflict(errors)) => {
            let current = load_general(&state, &page.scope).await?;
            let body = GeneralPage {
                page,
                form: input,
                errors,
                can_edit: true,
                avatar_version: current.avatar_version,
            };
            render_with_status(&body, StatusCode::UNPROCESSABLE_ENTITY)
        }
        Err(other) => Err(other.into()),
    }
}

/// The avatar upload (multipart, so its CSRF fields are checked here).
#[derive(MultipartForm)]
pub struct AvatarUpload {
    csrf_token: Option<Text<String>>,
    active_workspace_id: Option<Text<String>>,
    /// Read up to the hard cap, so any too-large image up to it gets the
    /// form's "larger than 1 MB" message (the service checks the real limit).
    #[multipart(limit = "8MiB")]
    avatar: UploadBytes,
}

/// Largest avatar upload read at all; beyond it the body is cut off (and
/// the browser still gets the General tab with the size message).
pub const AVATAR_UPLOAD_HARD_CAP: usize = 8 * 1024 * 1024;

/// The multipart limits of the avatar form: actix-multipart's defaults keep
/// at most 2 MiB in memory and answered larger files with a bare 400.
pub fn avatar_upload_config() -> MultipartFormConfig {
    MultipartFormConfig::default()
        .memory_limit(AVATAR_UPLOAD_HARD_CAP + 64 * 1024)
        .total_limit(AVATAR_UPLOAD_HARD_CAP + 64 * 1024)
        .error_handler(|error, req| {
            if !is_overflow(&error) {
                return error.into();
            }
            SessionData::new(&req.get_session()).flash(FlashLevel::Error, AVATAR_TOO_LARGE);
            actix_web::error::InternalError::from_response(error, see_other("/settings/general"))
                .into()
        })
}

/// The message for an image over the limit, whether the service or the
/// multipart reader noticed.
const AVATAR_TOO_LARGE: &str = "The image is larger than 1 MB.";

/// Whether a multipart error is a size limit cutting in.
fn is_overflow(error: &MultipartError) -> bool {
    match error {
        MultipartError::Payload(PayloadError::Overflow) => true,
        MultipartError::Field { source, .. } => source
            .as_error::<MultipartError>()
            .is_some_and(|inner| matches!(inner, MultipartError::Payload(PayloadError::Overflow))),
        _ => false,
    }
}

/// Replaces the organization's avatar.
pub async fn upload_avatar(
    state: web::Data<AppState>,
    permitted: Permitted<require::OrgUpdate>,
    req: HttpRequest,
    session: Session,
    upload: MultipartForm<AvatarUpload>,
) -> Result<HttpResponse, AppError> {
    csrf::verify(
        &req,
        upload
            .csrf_token
            .as_ref()
            .map(|t| t.as_str())
            .unwrap_or_default(),
    )?;
    csrf::check_rendered_for(
        permitted.scope(),
        upload.active_workspace_id.as_ref().map(|t| t.as_str()),
    )?;
    let bytes = upload.into_inner().avatar.data.to_vec();
    let data = SessionData::new(&session);
    match organizations::set_avatar(&state.organizations, permitted.scope(), bytes).await {
        Ok(()) => data.flash(FlashLevel::Success, "The avatar was updated."),
        Err(ServiceError::Invalid(errors) | ServiceError::Conflict(errors)) => {
            let message = errors
                .get("avatar")
                .unwrap_or("That file can't be used as an avatar.")
                .to_owned();
            data.flash(FlashLevel::Error, message);
        }
        Err(other) => return Err(other.into()),
    }
    Ok(see_other("/settings/general"))
}

/// Removes the organization's avatar.
pub async fn remove_avatar(
    state: web::Data<AppState>,
    _permitted: Permitted<require::OrgUpdate>,
    session: Session,
    form: ScopedForm<EmptyForm>,
) -> Result<HttpResponse, AppError> {
    organizations::remove_avatar(&state.organizations, &form.scope).await?;
    SessionData::new(&session).flash(FlashLevel::Success, "The avatar was removed.");
    Ok(see_other("/settings/general"))
}

/// The danger zone.
/// Serves a workspace's avatar to its members (anyone else: 404).
pub async fn avatar(
    state: web::Data<AppState>,
    scope: Scope,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = crate::domain::WorkspaceId::parse(&path).ok_or(AppError::NotFound)?;
    let workspace = scope.accessible_tenant(&id).ok_or(AppError::NotFound)?;
    let (content_type, bytes) = state
        .db
        .read(move |conn| db::organizations::avatar(conn, &workspace))
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((
            actix_web::http::header::CACHE_CONTROL,
            "private, max-age=86400",
        ))
        .body(bytes))
}

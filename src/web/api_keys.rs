//! `/api-keys`: the member's API keys in the active workspace (every
//! member, for their own), and everyone's with `keys.manage`: create (shown
//! once, with a curl example), list, revoke (immediate and final).

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;

use crate::db::api_keys::KeyRow;
use crate::domain::time::UtcMinute;
use crate::domain::{ApiKeyId, FieldErrors, Permission, PermissionSet};
use crate::services::ServiceError;
use crate::services::api_keys::{self, CreatedApiKey, KeyInput};
use crate::web::AppState;
use crate::web::csrf::{EmptyForm, ScopedForm};
use crate::web::error::AppError;
use crate::web::page::{Page, render_with_status, see_other};
use crate::web::session::{FlashLevel, SessionData};
use crate::web::settings::roles::{PermissionGroup, groups};

/// How many keys the page lists, newest first.
const SHOWN: usize = 100;

/// The API keys page.
#[derive(Template)]
#[template(path = "api_keys/index.html")]
pub struct ApiKeysPage {
    page: Page,
    keys: Vec<KeyView>,
    /// More keys than shown exist.
    more: bool,
    /// Whether the list is everyone's (`keys.manage`) or the viewer's own.
    everyone: bool,
    form: KeyInput,
    errors: FieldErrors,
    groups: Vec<PermissionGroup>,
    /// A key just created: shown this once.
    created: Option<CreatedApiKey>,
    /// Where the API is, for the curl example.
    base_url: String,
}

/// One key in the list.
pub struct KeyView {
    row: KeyRow,
    scope: String,
    created: UtcMinute,
    last_used: Option<UtcMinute>,
    expires: Option<UtcMinute>,
    expired: bool,
    revoked: Option<UtcMinute>,
}

impl KeyView {
    fn of(row: KeyRow, now: chrono::NaiveDateTime) -> Self {
        let scope = if row.scope.is_empty() {
            "everything the holder may do".to_owned()
        } else {
            PermissionSet::from_stored(&row.scope)
                .iter()
                .map(Permission::key)
                .collect::<Vec<_>>()
                .join(", ")
        };
        KeyView {
            scope,
            created: UtcMinute(row.created_at),
            last_used: row.last_used_at.map(UtcMinute),
            expires: row.expires_at.map(UtcMinute),
            expired: row.expires_at.is_some_and(|at| at <= now),
            revoked: row.revoked_at.map(UtcMinute),
            row,
        }
    }
}

/// What the page shows besides the stored keys.
#[derive(Default)]
struct Shown {
    form: Option<KeyInput>,
    errors: FieldErrors,
    created: Option<CreatedApiKey>,
}

async fn render(state: &AppState, page: Page, shown: Shown) -> Result<HttpResponse, AppError> {
    let limit = i64::try_from(SHOWN + 1).unwrap_or(i64::MAX);
    let mut rows = api_keys::list(&state.db, &page.scope, limit).await?;
    let more = rows.len() > SHOWN;
    rows.truncate(SHOWN);
    let now = crate::db::now();
    let status = match (&shown.created, shown.errors.is_empty()) {
        (Some(_), _) => StatusCode::CREATED,
        (None, true) => StatusCode::OK,
        (None, false) => StatusCode::UNPROCESSABLE_ENTITY,
    };
    let body = ApiKeysPage {
        everyone: page.scope.can(Permission::KeysManage),
        groups: groups(&page.scope),
        keys: rows.into_iter().map(|row| KeyView::of(row, now)).collect(),
        more,
        form: shown.form.unwrap_or_else(KeyInput::blank),
        errors: shown.errors,
        created: shown.created,
        base_url: state.config.base_url.clone(),
        page,
    };
    render_with_status(&body, status)
}

/// Lists the keys, with the form to create one.
pub async fn index(state: web::Data<AppState>, page: Page) -> Result<HttpResponse, AppError> {
    render(&state, page, Shown::default()).await
}

/// Creates a key acting as the viewer and shows it, this once (201;
/// reloading shows it no more).
pub async fn create(
    state: web::Data<AppState>,
    page: Page,
    form: ScopedForm<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let input = KeyInput::from_pairs(form.fields);
    let shown = match api_keys::create(&state.db, &form.scope, input.clone()).await {
        Ok(created) => Shown {
            created: Some(created),
            ..Shown::default()
        },
        Err(ServiceError::Invalid(errors)) => Shown {
            form: Some(input),
            errors,
            created: None,
        },
        Err(other) => return Err(other.into()),
    };
    render(&state, page, shown).await
}

/// Revokes a key, at once and for good.
pub async fn revoke(
    state: web::Data<AppState>,
    session: Session,
    path: web::Path<String>,
    form: ScopedForm<EmptyForm>,
) -> Result<HttpResponse, AppError> {
    let id = ApiKeyId::parse(&path).ok_or(AppError::NotFound)?;
    let name = api_keys::revoke(&state.db, &form.scope, id).await?;
    state.api_keys.cache.forget_all();
    let message = format!("The key {name} was revoked; it no longer works.");
    SessionData::new(&session).flash(FlashLevel::Success, message);
    Ok(see_other("/api-keys"))
}

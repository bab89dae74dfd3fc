//! `/apps`: the app catalogue (from configuration) and the active
//! workspace's instances — install within the instance limit, stop, start,
//! remove. Seeing it needs `resources.read`; anything else
//! `resources.write`.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;

use crate::config::AppSpec;
use crate::db::{self, DbError, apps::InstanceRow};
use crate::domain::permission::require;
use crate::domain::time::UtcMinute;
use crate::domain::{AgentStatus, AppInstanceId};
use crate::services::apps;
use crate::web::AppState;
use crate::web::csrf::{EmptyForm, ScopedForm};
use crate::web::error::AppError;
use crate::web::page::{Page, render_with_status, see_other};
use crate::web::scope::Permitted;
use crate::web::session::{FlashLevel, SessionData};

/// The apps page.
#[derive(Template)]
#[template(path = "apps/index.html")]
pub struct AppsPage {
    page: Page,
    catalogue: Vec<AppSpec>,
    instances: Vec<InstanceView>,
    count: i32,
    limit: Option<i32>,
}

/// One installed instance.
pub struct InstanceView {
    row: InstanceRow,
    name: String,
    started: Option<UtcMinute>,
    last_active: Option<UtcMinute>,
}

impl InstanceView {
    /// Whether it runs (the row offers "Stop").
    pub fn is_running(&self) -> bool {
        self.row.status == AgentStatus::Running
    }
}

impl AppsPage {
    /// A catalogue price, per month.
    fn price(&self, app: &AppSpec) -> String {
        apps::price(app.monthly_price_cents)
    }
}

/// Shows the catalogue and the instances.
pub async fn index(
    state: web::Data<AppState>,
    _permitted: Permitted<require::ResourcesRead>,
    page: Page,
) -> Result<HttpResponse, AppError> {
    let scope = page.scope.clone();
    let (rows, (count, limit)) = state
        .db
        .read(move |conn| {
            let rows = db::apps::list(conn, &scope)?;
            let counter = db::apps::count_and_limit(conn, &scope.tenant())?;
            Ok::<_, DbError>((rows, counter))
        })
        .await?;
    let catalogue = state.config.apps.clone();
    let instances = rows
        .into_iter()
        .map(|row| InstanceView {
            name: apps::name_of(&catalogue, &row.app_key),
            started: row.started_at.map(UtcMinute),
            last_active: row.last_active_at.map(UtcMinute),
            row,
        })
        .collect();
    let body = AppsPage {
        page,
        catalogue,
        instances,
        count,
        limit,
    };
    render_with_status(&body, StatusCode::OK)
}

/// Installs an instance of a catalogue app (409 naming the limit when one
/// is reached).
pub async fn install(
    state: web::Data<AppState>,
    _permitted: Permitted<require::ResourcesWrite>,
    session: Session,
    path: web::Path<String>,
    form: ScopedForm<EmptyForm>,
) -> Result<HttpResponse, AppError> {
    let name = apps::install(&state.db, &form.scope, &state.config.apps, &path).await?;
    SessionData::new(&session).flash(
        FlashLevel::Success,
        format!("{name} was installed and is running."),
    );
    Ok(see_other("/apps"))
}

fn instance_id(path: &str) -> Result<AppInstanceId, AppError> {
    AppInstanceId::parse(path).ok_or(AppError::NotFound)
}

/// Starts a stopped instance.
pub async fn start(
    state: web::Data<AppState>,
    _permitted: Permitted<require::ResourcesWrite>,
    session: Session,
    path: web::Path<String>,
    form: ScopedForm<EmptyForm>,
) -> Result<HttpResponse, AppError> {
    let id = instance_id(&path)?;
    let name = apps::set_running(&state.db, &form.scope, &state.config.apps, id, true).await?;
    SessionData::new(&session).flash(FlashLevel::Success, format!("{name} is running."));
    Ok(see_other("/apps"))
}

/// Stops a running instance.
pub async fn stop(
    state: web::Data<AppState>,
    _permitted: Permitted<require::ResourcesWrite>,
    session: Session,
    path: web::Path<String>,
    form: ScopedForm<EmptyForm>,
) -> Result<HttpResponse, AppError> {
    let id = instance_id(&path)?;
    let name = apps::set_running(&state.db, &form.scope, &state.config.apps, id, false).await?;
    SessionData::new(&session).flash(FlashLevel::Success, format!("{name} was stopped."));
    Ok(see_other("/apps"))
}

/// Removes an instance.
pub async fn uninstall(
    state: web::Data<AppState>,
    _permitted: Permitted<require::ResourcesWrite>,
    session: Session,
    path: web::Path<String>,
    form: ScopedForm<EmptyForm>,
) -> Result<HttpResponse, AppError> {
    let id = instance_id(&path)?;
    let name = apps::uninstall(&state.db, &form.scope, &state.config.apps, id).await?;
    SessionData::new(&session).flash(FlashLevel::Success, format!("{name} was removed."));
    Ok(see_other("/apps"))
}

//! `/`: the dashboard of the active workspace.

use actix_web::web;
use askama::Template;
use askama_web::WebTemplate;

use super::AppState;
use super::error::AppError;
use super::page::{Page, format_time};
use crate::db;

/// The dashboard page.
#[derive(Template, WebTemplate)]
#[template(path = "dashboard/index.html")]
pub struct DashboardPage {
    page: Page,
    member_count: i64,
    created: String,
}

/// Shows the active workspace at a glance.
pub async fn show(page: Page, state: web::Data<AppState>) -> Result<DashboardPage, AppError> {
    let scope = page.scope.clone();
    let member_count = state
        .db
        .run(move |conn| db::workspaces::active_member_count(conn, &scope))
        .await?;
    let created = format_time(&page.scope.workspace().created_at);
    Ok(DashboardPage {
        page,
        member_count,
        created,
    })
}

//! `/`: the dashboard of the active workspace.

use askama::Template;
use askama_web::WebTemplate;

use super::error::AppError;
use super::page::{Page, format_time};

/// The dashboard page.
#[derive(Template, WebTemplate)]
#[template(path = "dashboard/index.html")]
pub struct DashboardPage {
    page: Page,
    member_count: i64,
    created: String,
}

/// Shows the active workspace at a glance. Everything it shows came with
/// the scope (the member count is a counter on the workspace row), so the
/// page runs no query of its own.
pub async fn show(page: Page) -> Result<DashboardPage, AppError> {
    let member_count = i64::from(page.scope.workspace().member_count);
    let created = format_time(&page.scope.workspace().created_at);
    Ok(DashboardPage {
        page,
        member_count,
        created,
    })
}

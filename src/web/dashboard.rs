//! `/`: the dashboard of the active workspace: its members and running
//! agents against their limit, its latest activity (for those who may read
//! the log) and the quick actions the viewer's role allows.

use actix_web::web;
use askama::Template;
use askama_web::WebTemplate;

use super::AppState;
use super::error::AppError;
use super::page::{Page, format_time};
use crate::db::{self, audit::Entry, audit::Filter};
use crate::domain::Permission;
use crate::domain::time::UtcMinute;

/// How many audit entries the dashboard shows.
const LATEST: i64 = 10;

/// The dashboard page.
#[derive(Template, WebTemplate)]
#[template(path = "dashboard/index.html")]
pub struct DashboardPage {
    page: Page,
    member_count: i64,
    created: String,
    /// The latest audit entries, when the viewer may read the log.
    latest: Option<Vec<(Entry, UtcMinute)>>,
}

impl DashboardPage {
    /// Whether the viewer's role allows `permission` (quick actions).
    fn can(&self, permission: Permission) -> bool {
        self.page.scope.can(permission)
    }
}

/// Shows the active workspace at a glance. The counts came with the scope
/// (counters on the workspace row); the latest activity is the page's one
/// query, run only for those who may read the log.
pub async fn show(state: web::Data<AppState>, page: Page) -> Result<DashboardPage, AppError> {
    let member_count = i64::from(page.scope.workspace().member_count);
    let created = format_time(&page.scope.workspace().created_at);
    let latest = if page.scope.can(Permission::AuditRead) {
        let scope = page.scope.clone();
        let mut entries = state
            .db
            .read(move |conn| db::audit::page(conn, &scope, &Filter::default(), LATEST))
            .await?;
        entries.truncate(LATEST as usize);
        Some(
            entries
                .into_iter()
                .map(|e| {
                    let at = UtcMinute(e.created_at);
                    (e, at)
                })
                .collect(),
        )
    } else {
        None
    };
    Ok(DashboardPage {
        page,
        member_count,
        created,
        latest,
    })
}

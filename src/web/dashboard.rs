//! `/`: the dashboard of the active workspace: its members and running
//! agents against their limit, its latest activity (for those who may read
//! the log) and the quick actions the viewer's role allows.

use actix_web::web;
use askama::Template;
use askama_web::WebTemplate;

use std::sync::Arc;

use super::AppState;
use super::error::AppError;
use super::page::{Page, format_time};
use crate::db::scope::Scope;
use crate::db::{self, RequestDb, audit::Entry, audit::Filter};
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
    /// The latest audit entries (up to one more than shown), when the
    /// viewer may read the log.
    latest: Option<Arc<Vec<Entry>>>,
}

impl DashboardPage {
    /// Whether the viewer's role allows `permission` (quick actions).
    fn can(&self, permission: Permission) -> bool {
        self.page.scope.can(permission)
    }

    /// The entries shown, newest first.
    fn latest_shown(&self) -> Option<&[Entry]> {
        let entries = self.latest.as_deref()?;
        Some(&entries[..entries.len().min(LATEST as usize)])
    }

    /// When an entry was recorded, as the page shows it.
    fn at(entry: &Entry) -> UtcMinute {
        UtcMinute(entry.created_at)
    }
}

/// Shows the active workspace at a glance. The counts came with the scope
/// (counters on the workspace row). The latest activity, for those who may
/// read the log, is kept in memory by the workspace's audit version
/// (`web::cache::LatestActivityCache`), so a view reads it only after
/// something was recorded there.
pub async fn show(state: web::Data<AppState>, page: Page) -> Result<DashboardPage, AppError> {
    let member_count = i64::from(page.scope.workspace().member_count);
    let created = format_time(&page.scope.workspace().created_at);
    let latest = latest_activity(&state, &page.scope).await?;
    Ok(DashboardPage {
        page,
        member_count,
        created,
        latest,
    })
}

/// The scoped workspace's latest entries for a viewer who may read the
/// log: as kept, else read on the connection the session load handed on
/// (and kept). A view that reads nothing gives that connection back.
async fn latest_activity(
    state: &AppState,
    scope: &Scope,
) -> Result<Option<Arc<Vec<Entry>>>, AppError> {
    if !scope.can(Permission::AuditRead) {
        RequestDb::give_back();
        return Ok(None);
    }
    let workspace = scope.workspace();
    let version = workspace.audit_version.unwrap_or(0);
    let kept = state
        .latest_activity_cache
        .lookup(&workspace.workspace_id, version);
    let read = if kept.is_current() {
        RequestDb::give_back();
        None
    } else {
        let scope = scope.clone();
        let entries = state
            .db
            .read(move |conn| db::audit::page(conn, &scope, &Filter::default(), LATEST))
            .await?;
        Some(Arc::new(entries))
    };
    Ok(kept.or_read(&state.latest_activity_cache, read))
}

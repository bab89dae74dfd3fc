//! `/audit`: the active workspace's audit log, filtered by actor and
//! action, newest first, paginated by a cursor (stable while entries arrive).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::AppState;
use super::error::AppError;
use super::page::{PAGE_SIZE, Page, cursor_page, format_time, render_with_status};
use crate::db::{self, DbError, audit::Filter};
use crate::domain::UserId;
use crate::domain::permission::require;
use crate::web::scope::Permitted;

impl EntryRow {
    fn of(e: db::audit::Entry) -> Self {
        EntryRow {
            time: format_time(&e.created_at),
            actor: e.actor_name,
            action: e.action,
            target: format!("{} {}", e.target_type, e.target_label),
            details: e.details,
            ip: e.ip,
        }
    }
}

/// The audit page.
#[derive(Template)]
#[template(path = "audit/index.html")]
pub struct AuditPage {
    page: Page,
    entries: Vec<EntryRow>,
    actors: Vec<(String, String)>,
    actions: Vec<String>,
    selected_actor: Option<String>,
    selected_action: Option<String>,
    older_href: Option<String>,
}

/// One line of the log.
pub struct EntryRow {
    time: String,
    actor: String,
    action: String,
    target: String,
    details: String,
    ip: String,
}

/// The filters in the query string.
#[derive(Deserialize)]
pub struct AuditQuery {
    actor: Option<String>,
    action: Option<String>,
    before: Option<String>,
}

/// Shows a page of the log (needs `audit.read`): the page of entries and
/// the filter menus, in one checkout and two statements.
pub async fn index(
    state: web::Data<AppState>,
    _permitted: Permitted<require::AuditRead>,
    page: Page,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, AppError> {
    let filter = query.into_inner().filter();
    let (scope, wanted) = (page.scope.clone(), filter.clone());
    let (entries, facets) = state
        .db
        .read(move |conn| {
            let entries = db::audit::page(conn, &scope, &wanted, PAGE_SIZE)?;
            Ok::<_, DbError>((entries, db::audit::facets(conn, &scope)?))
        })
        .await?;
    let actor = filter.actor.as_ref().map(ToString::to_string);
    let filters = [
        ("actor", actor.as_deref().unwrap_or_default()),
        ("action", filter.action.as_deref().unwrap_or_default()),
    ];
    let (entries, older_href) =
        cursor_page(entries, "/audit", &filters, "before", |e| e.id.clone());
    let body = AuditPage {
        page,
        entries: entries.into_iter().map(EntryRow::of).collect(),
        actors: facets.actors,
        actions: facets.actions,
        selected_actor: actor,
        selected_action: filter.action,
        older_href,
    };
    render_with_status(&body, StatusCode::OK)
}

impl AuditQuery {
    /// The repository's filter: empty fields and an actor that is no user
    /// id filter nothing.
    fn filter(self) -> Filter {
        Filter {
            actor: self
                .actor
                .as_deref()
                .filter(|a| !a.is_empty())
                .and_then(UserId::parse),
            action: self.action.filter(|a| !a.is_empty()),
            before: self.before.filter(|b| !b.is_empty()),
        }
    }
}

//! `/settings/usage` (an organization's or team's Usage tab) and `/usage`
//! (the personal workspace's): the wallet's spend per day over the last 30
//! days, stacked by project and by model, and this month's spend by
//! project, each linking to its charges in the billing history. Seeing it
//! needs `billing.read`. One statement after the session's: the daily
//! spend rows with their projects' names.

use std::collections::HashMap;

use actix_web::{HttpResponse, web};
use askama::Template;
use chrono::Datelike;

use super::billing::{GONE, billing_path};
use crate::db::scope::Scope;
use crate::domain::permission::require;
use crate::domain::{Money, ProjectId};
use crate::services::billing::{self, NamedSpend};
use crate::web::AppState;
use crate::web::charts::{self, DailyChart};
use crate::web::error::AppError;
use crate::web::page::{Page, render_with_status};
use crate::web::scope::Permitted;

/// Days the spend charts cover, today included.
const CHART_DAYS: usize = 30;

/// The Usage page.
#[derive(Template)]
#[template(path = "settings/usage.html")]
pub struct UsagePage {
    page: Page,
    by_project: DailyChart,
    by_model: DailyChart,
    /// The charts' first day, as their captions say it.
    first_day: String,
    month: Vec<ProjectMonth>,
    billing_href: &'static str,
}

/// One project's spend this month, and where its charges are listed.
pub struct ProjectMonth {
    name: String,
    spent: Money,
    /// The billing history filtered to this project (`None` for a project
    /// no longer in the workspace, which the filter can't name).
    history_href: Option<String>,
}

/// Where the active workspace's Usage page is.
pub fn usage_path(scope: &Scope) -> &'static str {
    if scope.is_personal() {
        "/usage"
    } else {
        "/settings/usage"
    }
}

/// A spend row's project as the charts and the month name it.
fn project_label(name: &Option<String>) -> String {
    name.clone().unwrap_or_else(|| GONE.to_owned())
}

/// Daily spend over the chart's days, stacked by project and by model.
fn spend_charts(
    spend: &[NamedSpend],
    first_day: chrono::NaiveDate,
) -> Result<(DailyChart, DailyChart), AppError> {
    let points = |key: fn(&NamedSpend) -> String| {
        spend.iter().filter_map(move |row| {
            let day = chrono::NaiveDate::parse_from_str(&row.0.day, "%Y-%m-%d").ok()?;
            let index = usize::try_from((day - first_day).num_days()).ok()?;
            Some((index, key(row), row.0.amount))
        })
    };
    let labels: HashMap<String, String> = spend
        .iter()
        .map(|(row, name)| (row.project_id.as_str().to_owned(), project_label(name)))
        .collect();
    let projects = charts::group(
        CHART_DAYS,
        points(|(row, _)| row.project_id.as_str().to_owned()),
        |id| labels.get(id).cloned().unwrap_or_else(|| GONE.to_owned()),
    );
    let models = charts::group(
        CHART_DAYS,
        points(|(row, _)| row.model.clone()),
        str::to_owned,
    );
    Ok((
        charts::daily(CHART_DAYS, projects)?,
        charts::daily(CHART_DAYS, models)?,
    ))
}

/// This month's spend by project, the most first.
fn month_by_project(spend: &[NamedSpend], scope: &Scope) -> Vec<ProjectMonth> {
    let month = billing::current_month();
    let mut totals: HashMap<&ProjectId, (&Option<String>, i64)> = HashMap::new();
    for (row, name) in spend.iter().filter(|(r, _)| r.day.starts_with(&month)) {
        totals.entry(&row.project_id).or_insert((name, 0)).1 += row.amount;
    }
    let history = billing_path(scope);
    let mut rows: Vec<ProjectMonth> = totals
        .into_iter()
        .map(|(id, (name, micros))| ProjectMonth {
            name: project_label(name),
            spent: Money::from_micros(micros),
            history_href: name
                .as_ref()
                .map(|_| format!("{history}?project={}#transactions", id.as_str())),
        })
        .collect();
    rows.sort_by(|a, b| b.spent.cmp(&a.spent).then_with(|| a.name.cmp(&b.name)));
    rows
}

/// The first day the page reads: the charts' or this month's, whichever
/// is earlier.
fn first_days(today: chrono::NaiveDate) -> (chrono::NaiveDate, String) {
    let first_day = today - chrono::Days::new(CHART_DAYS as u64 - 1);
    let month_start = today.with_day(1).unwrap_or(today);
    let since = first_day.min(month_start).format("%Y-%m-%d").to_string();
    (first_day, since)
}

/// Shows the spend charts and this month by project.
pub async fn index(
    state: web::Data<AppState>,
    _permitted: Permitted<require::BillingRead>,
    page: Page,
) -> Result<HttpResponse, AppError> {
    let (first_day, since) = first_days(chrono::Utc::now().date_naive());
    let spend = billing::daily_spend(&state.db, &page.scope, since).await?;
    let (by_project, by_model) = spend_charts(&spend, first_day)?;
    let body = UsagePage {
        month: month_by_project(&spend, &page.scope),
        by_project,
        by_model,
        first_day: first_day.format("%-d %b").to_string(),
        billing_href: billing_path(&page.scope),
        page,
    };
    render_with_status(&body, actix_web::http::StatusCode::OK)
}

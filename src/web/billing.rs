//! `/billing/receipts/{id}` (a top-up's printable receipt) and
//! `/billing/history.csv` (the wallet's history with the page's filters,
//! as CSV); the billing page itself is `web::settings::billing`. Both need
//! `billing.read`.

use std::collections::HashMap;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, web};
use askama::Template;

use crate::db::billing::{EntryRow, TopUpRow};
use crate::domain::permission::require;
use crate::domain::time::UtcMinute;
use crate::domain::{Money, ProjectId, TopUpId};
use crate::services::ServiceError;
use crate::services::billing;
use crate::web::AppState;
use crate::web::error::AppError;
use crate::web::page::{Page, render_with_status};
use crate::web::scope::Permitted;
use crate::web::settings::billing::HistoryFields;

/// A top-up's receipt.
#[derive(Template)]
#[template(path = "billing/receipt.html")]
pub struct ReceiptPage {
    page: Page,
    top_up: TopUpRow,
    amount: Money,
    requested: UtcMinute,
    completed: Option<UtcMinute>,
}

/// Shows a top-up of the active workspace (404 for another's).
pub async fn receipt(
    state: web::Data<AppState>,
    _permitted: Permitted<require::BillingRead>,
    page: Page,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = TopUpId::parse(&path).ok_or(AppError::NotFound)?;
    let top_up = billing::receipt(&state.db, &page.scope, id).await?;
    let body = ReceiptPage {
        amount: Money::from_micros(top_up.amount),
        requested: UtcMinute(top_up.created_at),
        completed: top_up.completed_at.map(UtcMinute),
        top_up,
        page,
    };
    render_with_status(&body, StatusCode::OK)
}

/// The most rows one export holds.
const EXPORT_MAX_ROWS: i64 = 100_000;

/// The wallet's history as CSV, filtered like the page (422 for filters
/// that aren't; newest first, at most 100 000 rows).
pub async fn export(
    state: web::Data<AppState>,
    _permitted: Permitted<require::BillingRead>,
    page: Page,
    query: web::Query<HistoryFields>,
) -> Result<HttpResponse, AppError> {
    let history = query.query();
    let found = billing::history(&state.db, &page.scope, &history, EXPORT_MAX_ROWS).await;
    let (rows, names) = match found {
        Err(ServiceError::Invalid(errors)) => return Err(AppError::Invalid(errors)),
        other => other?,
    };
    let body = to_csv(&rows, &names).map_err(|e| AppError::Internal(format!("csv: {e}")))?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"transactions.csv\"",
        ))
        .body(body))
}

/// One line per entry, amounts in credits, times in UTC; a spreadsheet
/// reads it as it is (the csv crate quotes what needs quoting).
fn to_csv(rows: &[EntryRow], names: &HashMap<ProjectId, String>) -> Result<Vec<u8>, csv::Error> {
    let mut csv = csv::Writer::from_writer(Vec::new());
    csv.write_record([
        "time_utc",
        "kind",
        "amount_credits",
        "balance_after_credits",
        "project",
        "model",
        "description",
        "entry_id",
    ])?;
    for row in rows {
        let project = row.project_id.as_ref().map_or("", |id| {
            names
                .get(id)
                .map_or("A deleted or moved project", String::as_str)
        });
        csv.write_record([
            row.created_at
                .format("%Y-%m-%d %H:%M:%S")
                .to_string()
                .as_str(),
            row.kind.as_str(),
            &Money::from_micros(row.amount).typed(),
            &Money::from_micros(row.balance_after).typed(),
            project,
            row.model.as_deref().unwrap_or(""),
            &row.description,
            row.id.as_str(),
        ])?;
    }
    csv.into_inner().map_err(|e| e.into_error().into())
}

//! What the billing page reads, in one checkout.

use super::current_month;
use std::collections::HashMap;

use crate::db::billing::{DailySpendRow, EntryRow, WalletRow};
use crate::db::scope::Scope;
use crate::db::{self, Db};
use crate::domain::{FieldErrors, ProjectId};
use crate::services::ServiceError;

/// The history filters as the page's query string gives them.
#[derive(Debug, Clone, Default)]
pub struct HistoryQuery {
    /// A project's id.
    pub project: String,
    /// A model's name.
    pub model: String,
    /// The email of the member who made the entries.
    pub member: String,
    /// First day, `YYYY-MM-DD` (UTC).
    pub from: String,
    /// Last day, `YYYY-MM-DD` (UTC), included.
    pub to: String,
}

impl HistoryQuery {
    /// Whether any filter is set.
    pub fn is_filtered(&self) -> bool {
        [
            &self.project,
            &self.model,
            &self.member,
            &self.from,
            &self.to,
        ]
        .iter()
        .any(|v| !v.trim().is_empty())
    }

    /// The checked filters, or a message per field that isn't one.
    fn parse(&self) -> Result<db::billing::EntryFilter, FieldErrors> {
        let mut errors = FieldErrors::new();
        let day = |field: &'static str, text: &str, errors: &mut FieldErrors| {
            let text = text.trim();
            if text.is_empty() {
                return None;
            }
            errors.check(
                field,
                chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| "Use YYYY-MM-DD."),
            )
        };
        let from = day("from", &self.from, &mut errors);
        let to = day("to", &self.to, &mut errors);
        let project = match self.project.trim() {
            "" => None,
            id => {
                let parsed = ProjectId::parse(id);
                if parsed.is_none() {
                    errors.add("project", "Choose a project from the list.");
                }
                parsed
            }
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(db::billing::EntryFilter {
            project,
            model: Some(self.model.trim().to_owned()).filter(|m| !m.is_empty()),
            member_email: Some(self.member.trim().to_lowercase()).filter(|m| !m.is_empty()),
            from: from.map(|d| d.and_time(chrono::NaiveTime::MIN)),
            until: to
                .and_then(|d| d.succ_opt())
                .map(|d| d.and_time(chrono::NaiveTime::MIN)),
        })
    }
}

/// What the billing page shows.
pub struct Overview {
    /// The wallet.
    pub wallet: WalletRow,
    /// Its allowed models (empty: every model).
    pub models: Vec<String>,
    /// A page of entries passing the filters, one more than shown (so a
    /// next page costs no count).
    pub entries: Vec<EntryRow>,
    /// The workspace's projects by name (the history's filter menu).
    pub projects: Vec<(ProjectId, String)>,
    /// In an organization: what each team spent this month.
    pub team_spend: Vec<(String, i64)>,
    /// Filters that aren't filters, per field.
    pub filter_errors: FieldErrors,
}

impl Overview {
    /// The names of the workspace's projects by id (a project since
    /// deleted or moved away has none).
    pub fn project_names(&self) -> HashMap<&ProjectId, &str> {
        self.projects
            .iter()
            .map(|(id, name)| (id, name.as_str()))
            .collect()
    }
}

/// Reads what the billing page shows, in two statements on one checkout:
/// the wallet with its controls, projects and (in an organization) its
/// teams' spend this month; and a page of the ledger that passes
/// `history`'s filters.
pub async fn overview(
    db: &Db,
    scope: &Scope,
    history: &HistoryQuery,
    after: Option<db::billing::EntryCursor>,
    page_size: i64,
) -> Result<Overview, ServiceError> {
    let scope = scope.clone();
    let parsed = history.parse();
    Ok(db
        .run(move |conn| {
            let wallets = db::billing::wallet_overview(conn, &scope, &current_month())?;
            let (entries, filter_errors) = match parsed {
                Ok(filter) => {
                    let limit = page_size + 1;
                    let rows = db::billing::entries(conn, &scope, &filter, after.as_ref(), limit)?;
                    (rows, FieldErrors::new())
                }
                Err(errors) => (Vec::new(), errors),
            };
            Ok::<_, db::DbError>(Overview {
                wallet: wallets.wallet,
                models: wallets.models,
                entries,
                projects: wallets.projects,
                team_spend: wallets.team_spend,
                filter_errors,
            })
        })
        .await?)
}

/// One day's spend of one project on one model, with the project's name
/// while it is still in the workspace.
pub type NamedSpend = (DailySpendRow, Option<String>);

/// The workspace's daily spend from `first_day` (`YYYY-MM-DD`) on, for the
/// Usage page's charts and month: one statement.
pub async fn daily_spend(
    db: &Db,
    scope: &Scope,
    first_day: String,
) -> Result<Vec<NamedSpend>, ServiceError> {
    let scope = scope.clone();
    Ok(db
        .run(move |conn| db::billing::daily_spend_since(conn, &scope, &first_day))
        .await?)
}

/// A page of entries passing `history`'s filters, newest first, after the
/// cursor: at most `limit` (the API; the page reads them with
/// [`overview`]). Filters that aren't filters are `Invalid`.
pub async fn transactions(
    db: &Db,
    scope: &Scope,
    history: &HistoryQuery,
    after: Option<db::billing::EntryCursor>,
    limit: i64,
) -> Result<Vec<EntryRow>, ServiceError> {
    let filter = history.parse().map_err(ServiceError::Invalid)?;
    let scope = scope.clone();
    Ok(db
        .run(move |conn| db::billing::entries(conn, &scope, &filter, after.as_ref(), limit))
        .await?)
}

/// Every entry passing `history`'s filters, newest first, at most `max`:
/// the CSV export.
pub async fn history(
    db: &Db,
    scope: &Scope,
    history: &HistoryQuery,
    max: i64,
) -> Result<(Vec<EntryRow>, HashMap<ProjectId, String>), ServiceError> {
    let filter = history.parse().map_err(ServiceError::Invalid)?;
    let scope = scope.clone();
    Ok(db
        .run(move |conn| {
            let rows = db::billing::entries(conn, &scope, &filter, None, max)?;
            let names = db::projects::all(conn, &scope)?
                .into_iter()
                .map(|p| (p.id, p.name))
                .collect();
            Ok::<_, db::DbError>((rows, names))
        })
        .await?)
}

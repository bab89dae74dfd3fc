//! `/settings/billing` (an organization's or team's Billing tab) and
//! `/billing` (the personal workspace's): the wallet's balance, this
//! month's spend against its limit, the ledger by cursor pages, and, with
//! `billing.manage`, the top-up and spend-control forms. Seeing it needs
//! `billing.read`. Receipts and the CSV export are in [`crate::web::billing`];
//! the daily spend charts are the Usage page's ([`super::usage`]), so this
//! page reads two statements after the session's.

use std::collections::HashMap;

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::usage::usage_path;
use crate::config::PlanSpec;
use crate::db::billing::{EntryCursor, EntryRow, WalletRow};
use crate::db::scope::{Scope, role_permissions};
use crate::domain::permission::require;
use crate::domain::time::UtcMinute;
use crate::domain::{FieldErrors, LedgerKind, Money, Permission, ProjectId};
use crate::services::ServiceError;
use crate::services::billing::{
    self, ControlsInput, HistoryQuery, Overview, TopUpInput, TopUpOutcome, TransferInput,
};
use crate::web::AppState;
use crate::web::csrf::ScopedForm;
use crate::web::error::AppError;
use crate::web::page::{PAGE_SIZE, Page, cursor_page, render_with_status, see_other};
use crate::web::scope::Permitted;
use crate::web::session::{FlashLevel, SessionData};

/// The billing page.
#[derive(Template)]
#[template(path = "settings/billing.html")]
pub struct BillingPage {
    page: Page,
    month: MonthView,
    history: HistoryView,
    plans: Vec<PlanSpec>,
    plan: String,
    usage_href: &'static str,
    balance: Money,
    spent: Money,
    limit: Option<Money>,
    models: Vec<String>,
    entries: Vec<EntryView>,
    older_href: Option<String>,
    can_manage: bool,
    forms: Forms,
}

/// One ledger line.
pub struct EntryView {
    row: EntryRow,
    at: UtcMinute,
    /// The charged project's name, if it is still in this workspace.
    project: Option<String>,
}

impl EntryView {
    fn of(row: EntryRow, project_names: &HashMap<&ProjectId, &str>) -> Self {
        let project = row
            .project_id
            .as_ref()
            .map(|id| project_names.get(id).copied().unwrap_or(GONE).to_owned());
        Self {
            at: UtcMinute(row.created_at),
            project,
            row,
        }
    }

    /// How the kind reads in the table.
    fn kind(&self) -> &'static str {
        match self.row.kind {
            LedgerKind::TopUp => "Top-up",
            LedgerKind::Coupon => "Coupon",
            LedgerKind::Charge => "Charge",
            LedgerKind::Refund => "Refund",
            LedgerKind::Adjustment => "Adjustment",
            LedgerKind::PlanFee => "Plan fee",
            LedgerKind::TransferIn => "Transfer in",
            LedgerKind::TransferOut => "Transfer out",
        }
    }

    fn amount(&self) -> Money {
        Money::from_micros(self.row.amount)
    }

    fn balance_after(&self) -> Money {
        Money::from_micros(self.row.balance_after)
    }
}

impl BillingPage {
    /// The wallet's plan as configured (`None` for a plan since removed).
    fn current_plan(&self) -> Option<&PlanSpec> {
        billing::plan(&self.plans, &self.plan)
    }

    /// A limit a plan includes, as the plan cards say it.
    fn included(&self, limit: &Option<i32>, unit: &str) -> String {
        limit.map_or_else(|| format!("unlimited {unit}"), |n| format!("{n} {unit}"))
    }

    /// This month's spend as a percentage of the limit, for the bar.
    fn spent_percent(&self) -> i64 {
        self.limit
            .map_or(0, |limit| limit.percent_of_this(self.spent).min(100))
    }
}

/// Where the active workspace's billing page is.
pub fn billing_path(scope: &Scope) -> &'static str {
    if scope.is_personal() {
        "/billing"
    } else {
        "/settings/billing"
    }
}

/// The query string: the cursor of the page's first entry.
#[derive(Deserialize)]
pub struct BillingQuery {
    before: Option<String>,
    #[serde(flatten)]
    history: HistoryFields,
}

/// The history filters in a query string.
#[derive(Deserialize, Default)]
pub struct HistoryFields {
    #[serde(default)]
    project: String,
    #[serde(default)]
    model: String,
    #[serde(default)]
    member: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
}

impl HistoryFields {
    /// The filters for the service.
    pub fn query(&self) -> HistoryQuery {
        HistoryQuery {
            project: self.project.clone(),
            model: self.model.clone(),
            member: self.member.clone(),
            from: self.from.clone(),
            to: self.to.clone(),
        }
    }
}

/// The filters as query-string pairs (for the next page's and the CSV's links).
pub fn filter_pairs(history: &HistoryQuery) -> [(&'static str, &str); 5] {
    [
        ("project", history.project.trim()),
        ("model", history.model.trim()),
        ("member", history.member.trim()),
        ("from", history.from.trim()),
        ("to", history.to.trim()),
    ]
}

/// The cursor after the last entry shown.
fn cursor_of(entry: &EntryView) -> String {
    EntryCursor::after(&entry.row).encode()
}

/// How a charged project reads once deleted or moved to another workspace.
pub(super) const GONE: &str = "A deleted or moved project";

/// The typed forms and their errors, when a form is shown again.
#[derive(Default)]
struct Typed {
    history: HistoryQuery,
    top_up: TopUpInput,
    controls: Option<ControlsInput>,
    coupon: String,
    transfer: TransferInput,
    errors: FieldErrors,
}

/// The page's forms: what they show and their errors.
pub struct Forms {
    top_up: TopUpInput,
    controls: ControlsInput,
    coupon: String,
    transfer: TransferInput,
    /// Teams of the organization whose billing the viewer manages (the
    /// transfer form's menu; empty elsewhere).
    teams: Vec<(String, String)>,
    errors: FieldErrors,
}

impl Typed {
    /// The forms as shown: as typed when one is shown again, else the
    /// stored controls and a fresh transfer key.
    fn into_forms(self, wallet: &WalletRow, models: &[String], scope: &Scope) -> Forms {
        let typed = |limit: Option<i64>| {
            limit
                .map(|l| Money::from_micros(l).typed())
                .unwrap_or_default()
        };
        let controls = self.controls.unwrap_or_else(|| ControlsInput {
            monthly_limit: typed(wallet.monthly_spend_limit),
            member_limit: typed(wallet.member_monthly_limit),
            allowed_models: models.join("\n"),
        });
        let mut transfer = self.transfer;
        if transfer.transfer_key.is_empty() {
            transfer.transfer_key = uuid::Uuid::new_v4().to_string();
        }
        let teams = scope
            .accessible_workspaces()
            .iter()
            .filter(|w| w.parent_id.as_ref() == Some(scope.workspace_id()))
            .filter(|w| role_permissions(w).contains(Permission::BillingManage))
            .map(|w| (w.workspace_id.as_str().to_owned(), w.name.clone()))
            .collect();
        Forms {
            top_up: self.top_up,
            controls,
            coupon: self.coupon,
            transfer,
            teams,
            errors: self.errors,
        }
    }

    /// 422 when a form is shown again with its errors.
    fn status(&self) -> StatusCode {
        if self.errors.is_empty() {
            StatusCode::OK
        } else {
            StatusCode::UNPROCESSABLE_ENTITY
        }
    }
}

/// One page of the ledger and the link to the next.
fn ledger_page(
    rows: Vec<EntryRow>,
    project_names: &HashMap<&ProjectId, &str>,
    scope: &Scope,
    history: &HistoryQuery,
) -> (Vec<EntryView>, Option<String>) {
    let views = rows
        .into_iter()
        .map(|row| EntryView::of(row, project_names))
        .collect();
    let filters = filter_pairs(history);
    cursor_page(views, billing_path(scope), &filters, "before", cursor_of)
}

/// The history section: its filters as typed, what's wrong with them, the
/// project menu and the export link.
pub struct HistoryView {
    query: HistoryQuery,
    errors: FieldErrors,
    projects: Vec<(String, String)>,
    csv_href: String,
}

impl HistoryView {
    fn of(query: HistoryQuery, overview: &mut Overview) -> Self {
        let projects = overview
            .projects
            .iter()
            .map(|(id, name)| (id.as_str().to_owned(), name.clone()))
            .collect();
        let pairs: Vec<_> = filter_pairs(&query)
            .into_iter()
            .filter(|(_, v)| !v.is_empty())
            .collect();
        let csv_href = format!(
            "/billing/history.csv?{}",
            serde_urlencoded::to_string(pairs).unwrap_or_default()
        );
        Self {
            errors: std::mem::take(&mut overview.filter_errors),
            query,
            projects,
            csv_href,
        }
    }
}

/// In an organization: what each team spent this month.
pub struct MonthView {
    by_team: Vec<(String, Money)>,
}

impl MonthView {
    fn of(overview: &Overview) -> Self {
        let by_team = overview
            .team_spend
            .iter()
            .map(|(name, micros)| (name.clone(), Money::from_micros(*micros)))
            .collect();
        Self { by_team }
    }
}

async fn render(
    state: &AppState,
    page: Page,
    before: Option<&str>,
    typed: Typed,
) -> Result<HttpResponse, AppError> {
    let after = before.and_then(EntryCursor::decode);
    let mut overview =
        billing::overview(&state.db, &page.scope, &typed.history, after, PAGE_SIZE).await?;
    let month = MonthView::of(&overview);
    let history = HistoryView::of(typed.history.clone(), &mut overview);
    let rows = std::mem::take(&mut overview.entries);
    let (entries, older_href) =
        ledger_page(rows, &overview.project_names(), &page.scope, &history.query);
    let (wallet, models) = (overview.wallet, overview.models);
    let limit = wallet.monthly_spend_limit.map(Money::from_micros);
    let status = typed.status();
    let forms = typed.into_forms(&wallet, &models, &page.scope);
    let body = BillingPage {
        month,
        history,
        plans: state.config.plans.clone(),
        plan: wallet.plan.clone(),
        usage_href: usage_path(&page.scope),
        can_manage: page.scope.can(Permission::BillingManage),
        balance: Money::from_micros(wallet.balance),
        spent: wallet.spent_in(&billing::current_month()),
        limit,
        models,
        entries,
        older_href,
        forms,
        page,
    };
    render_with_status(&body, status)
}

/// Shows the wallet.
pub async fn index(
    state: web::Data<AppState>,
    _permitted: Permitted<require::BillingRead>,
    page: Page,
    query: web::Query<BillingQuery>,
) -> Result<HttpResponse, AppError> {
    let typed = Typed {
        history: query.history.query(),
        ..Typed::default()
    };
    render(&state, page, query.before.as_deref(), typed).await
}

/// The top-up form.
#[derive(Deserialize)]
pub struct TopUpForm {
    #[serde(default)]
    amount: String,
    #[serde(default)]
    card_number: String,
}

/// Tops the wallet up through the payment provider: to the receipt when
/// credited, back to the form (422) with the reason when declined.
pub async fn top_up(
    state: web::Data<AppState>,
    _permitted: Permitted<require::BillingManage>,
    page: Page,
    session: Session,
    form: ScopedForm<TopUpForm>,
) -> Result<HttpResponse, AppError> {
    let input = TopUpInput {
        amount: form.fields.amount.clone(),
        card_number: form.fields.card_number.clone(),
    };
    let payments = &state.payments;
    let outcome = billing::top_up(
        &state.db,
        &form.scope,
        payments.provider.as_ref(),
        &payments.webhook_secret,
        &input,
    )
    .await;
    let errors = match to_receipt(outcome, &session) {
        Ok(redirect) => return Ok(redirect),
        Err(Refused::Form(errors)) => errors,
        Err(Refused::Other(error)) => return Err(error.into()),
    };
    let input = TopUpInput {
        card_number: String::new(),
        ..input
    };
    let typed = Typed {
        top_up: input,
        errors,
        ..Typed::default()
    };
    render(&state, page, None, typed).await
}

/// A top-up the form must show again, or an error that ends the request.
enum Refused {
    Form(FieldErrors),
    Other(ServiceError),
}

/// To the receipt (with a flash) when the provider took or will confirm
/// the payment; otherwise why not.
fn to_receipt(
    outcome: Result<TopUpOutcome, ServiceError>,
    session: &Session,
) -> Result<HttpResponse, Refused> {
    let (id, level, message) = match outcome {
        Ok(TopUpOutcome::Credited(id)) => (
            id,
            FlashLevel::Success,
            "Payment received: the credits are in the wallet.",
        ),
        Ok(TopUpOutcome::Pending(id)) => (
            id,
            FlashLevel::Info,
            "Payment requested: the credits arrive when the provider confirms it.",
        ),
        Ok(TopUpOutcome::Declined(reason)) => {
            return Err(Refused::Form(FieldErrors::of("card_number", reason)));
        }
        Err(ServiceError::Invalid(errors)) => return Err(Refused::Form(errors)),
        Err(other) => return Err(Refused::Other(other)),
    };
    SessionData::new(session).flash(level, message);
    Ok(see_other(&format!("/billing/receipts/{}", id.as_str())))
}

/// The spend-controls form.
#[derive(Deserialize)]
pub struct ControlsForm {
    #[serde(default)]
    monthly_limit: String,
    #[serde(default)]
    member_limit: String,
    #[serde(default)]
    allowed_models: String,
}

/// Sets the monthly spend limit and the model allow-list.
pub async fn set_controls(
    state: web::Data<AppState>,
    _permitted: Permitted<require::BillingManage>,
    page: Page,
    session: Session,
    form: ScopedForm<ControlsForm>,
) -> Result<HttpResponse, AppError> {
    let input = ControlsInput {
        monthly_limit: form.fields.monthly_limit.clone(),
        member_limit: form.fields.member_limit.clone(),
        allowed_models: form.fields.allowed_models.clone(),
    };
    match billing::set_controls(&state.db, &form.scope, &input).await {
        Ok(()) => {
            let message = "The spend controls were saved.";
            SessionData::new(&session).flash(FlashLevel::Success, message);
            Ok(see_other(billing_path(&form.scope)))
        }
        Err(ServiceError::Invalid(errors)) => {
            let typed = Typed {
                controls: Some(input),
                errors,
                ..Typed::default()
            };
            render(&state, page, None, typed).await
        }
        Err(other) => Err(other.into()),
    }
}

/// The coupon form.
#[derive(Deserialize)]
pub struct CouponForm {
    #[serde(default)]
    code: String,
}

/// Redeems a coupon into the wallet.
pub async fn redeem_coupon(
    state: web::Data<AppState>,
    _permitted: Permitted<require::BillingManage>,
    page: Page,
    session: Session,
    form: ScopedForm<CouponForm>,
) -> Result<HttpResponse, AppError> {
    match billing::redeem_coupon(&state.db, &form.scope, &form.fields.code).await {
        Ok(amount) => {
            let message = format!("The coupon added {amount} credits to the wallet.");
            SessionData::new(&session).flash(FlashLevel::Success, message);
            Ok(see_other(billing_path(&form.scope)))
        }
        Err(ServiceError::Invalid(errors)) => {
            let typed = Typed {
                coupon: form.fields.code.clone(),
                errors,
                ..Typed::default()
            };
            render(&state, page, None, typed).await
        }
        Err(other) => Err(other.into()),
    }
}

/// The form that moves funds to a team.
#[derive(Deserialize)]
pub struct TransferForm {
    #[serde(default)]
    team_id: String,
    #[serde(default)]
    transfer_amount: String,
    #[serde(default)]
    transfer_key: String,
}

/// Moves funds from the organization's wallet to a team's.
pub async fn transfer(
    state: web::Data<AppState>,
    _permitted: Permitted<require::BillingManage>,
    page: Page,
    session: Session,
    form: ScopedForm<TransferForm>,
) -> Result<HttpResponse, AppError> {
    let input = TransferInput {
        team_id: form.fields.team_id.clone(),
        amount: form.fields.transfer_amount.clone(),
        transfer_key: form.fields.transfer_key.clone(),
    };
    match billing::transfer_to_team(&state.db, &form.scope, &input).await {
        Ok((team, amount)) => {
            let message = format!("{amount} credits moved to the wallet of {team}.");
            SessionData::new(&session).flash(FlashLevel::Success, message);
            Ok(see_other(billing_path(&form.scope)))
        }
        Err(ServiceError::Invalid(errors)) => {
            let typed = Typed {
                transfer: input,
                errors,
                ..Typed::default()
            };
            render(&state, page, None, typed).await
        }
        Err(other) => Err(other.into()),
    }
}

/// The plan form.
#[derive(Deserialize)]
pub struct PlanForm {
    #[serde(default)]
    plan: String,
}

/// Moves the wallet to another plan (its fee for the month charged now).
pub async fn change_plan(
    state: web::Data<AppState>,
    _permitted: Permitted<require::BillingManage>,
    page: Page,
    session: Session,
    form: ScopedForm<PlanForm>,
) -> Result<HttpResponse, AppError> {
    let plans = &state.config.plans;
    match billing::change_plan(&state.db, &form.scope, plans, &form.fields.plan).await {
        Ok(name) => {
            let message = format!("The workspace is on the {name} plan now.");
            SessionData::new(&session).flash(FlashLevel::Success, message);
            Ok(see_other(billing_path(&form.scope)))
        }
        Err(ServiceError::Invalid(errors)) => {
            let typed = Typed {
                errors,
                ..Typed::default()
            };
            render(&state, page, None, typed).await
        }
        Err(other) => Err(other.into()),
    }
}

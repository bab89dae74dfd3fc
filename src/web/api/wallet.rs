//! `GET /api/v1/wallet`: the balance and this month's spend of the wallet
//! the key's project charges; and, with a member's key,
//! `/api/v1/organizations/{org_id}/wallet` and `…/transactions`, what the
//! billing page shows (`billing.read`).

use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::db;
use crate::db::billing::{EntryCursor, EntryRow};
use crate::domain::{FieldErrors, Permission};
use crate::services::billing::{self, HistoryQuery};
use crate::web::AppState;
use crate::web::api::key::Named;
use crate::web::api::{ApiScope, bearer, json_page, own_workspace};
use crate::web::error::{ApiError, AppError};
use crate::web::page::cursor_page_of;

/// A wallet's balance and this month's spend, in micro-credits.
#[derive(Serialize, ToSchema)]
pub struct WalletBody<'a> {
    workspace: Named<'a>,
    /// Micro-credits available.
    balance: i64,
    /// The month `month_spent` counts, `YYYY-MM` (UTC).
    month: &'a str,
    /// Micro-credits charged this month.
    month_spent: i64,
    /// Micro-credits that may be charged in a month (`null`: no limit).
    monthly_spend_limit: Option<i64>,
}

/// The key's wallet (401 without a live key).
#[utoipa::path(
    get,
    path = "/api/v1/wallet",
    tag = "platform",
    security(("project_key" = [])),
    responses((status = 200, description = "The wallet", body = WalletBody), (status = 401, description = "No key, or one that doesn't work", body = ApiError))
)]
pub async fn show(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, AppError> {
    let (workspace_id, workspace_name, wallet) =
        billing::wallet_of_key(&state.db, bearer(&req)?).await?;
    let month = billing::current_month();
    Ok(HttpResponse::Ok().json(WalletBody {
        workspace: Named {
            id: workspace_id.as_str(),
            name: &workspace_name,
        },
        balance: wallet.balance,
        month_spent: wallet.spent_in(&month).micros(),
        month: &month,
        monthly_spend_limit: wallet.monthly_spend_limit,
    }))
}

/// A workspace's wallet as its members see it, in micro-credits.
#[derive(Serialize, ToSchema)]
pub struct MemberWalletBody {
    /// Micro-credits available.
    balance: i64,
    /// The month `month_spent` counts, `YYYY-MM` (UTC).
    month: String,
    /// Micro-credits charged this month.
    month_spent: i64,
    /// Micro-credits that may be charged in a month (`null`: no limit).
    monthly_spend_limit: Option<i64>,
    /// Micro-credits each member may be charged in a month (`null`: no limit).
    member_monthly_limit: Option<i64>,
    /// The plan's key.
    plan: String,
    /// The models charges may name; `null` when any model may be charged.
    allowed_models: Option<Vec<String>>,
}

/// The key's workspace's wallet (`billing.read`).
#[utoipa::path(
    get,
    path = "/api/v1/organizations/{org_id}/wallet",
    tag = "member",
    params(("org_id" = String, Path, description = "The key's workspace")),
    security(("member_key" = [])),
    responses(
        (status = 200, description = "The wallet", body = MemberWalletBody),
        (status = 401, description = "No key, or one that doesn't work", body = ApiError),
        (status = 403, description = "The key lacks billing.read", body = ApiError),
        (status = 404, description = "Not the key's workspace", body = ApiError),
    )
)]
pub async fn member_wallet(
    state: web::Data<AppState>,
    ApiScope(scope): ApiScope,
    org_id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    own_workspace(&scope, &org_id)?;
    scope.require(Permission::BillingRead)?;
    let (wallet, models) = state
        .db
        .read(move |conn| {
            let wallet = db::billing::wallet(conn, &scope)?;
            let models = if wallet.models_restricted {
                Some(db::billing::allowed_models(conn, &scope)?)
            } else {
                None
            };
            Ok::<_, db::DbError>((wallet, models))
        })
        .await?;
    let month = billing::current_month();
    Ok(HttpResponse::Ok().json(MemberWalletBody {
        balance: wallet.balance,
        month_spent: wallet.spent_in(&month).micros(),
        month,
        monthly_spend_limit: wallet.monthly_spend_limit,
        member_monthly_limit: wallet.member_monthly_limit,
        plan: wallet.plan,
        allowed_models: models,
    }))
}

/// The transactions query: the billing page's filters, and a page.
#[derive(Deserialize, IntoParams)]
pub struct TransactionsQuery {
    /// A project's id.
    #[serde(default)]
    project: Option<String>,
    /// A model's name.
    #[serde(default)]
    model: Option<String>,
    /// The email of the member whose calls were charged.
    #[serde(default)]
    member: Option<String>,
    /// First day, `YYYY-MM-DD` (UTC).
    #[serde(default)]
    from: Option<String>,
    /// Last day, `YYYY-MM-DD` (UTC), included.
    #[serde(default)]
    to: Option<String>,
    /// Where the page starts: from the previous page's `Link` header.
    #[serde(default)]
    cursor: Option<String>,
    /// At most this many (1 to 100).
    #[serde(default)]
    limit: Option<i64>,
}

/// A ledger entry.
#[derive(Serialize, ToSchema)]
pub struct TransactionBody {
    id: String,
    /// `top_up`, `coupon`, `charge`, `refund`, `adjustment`, `plan_fee`, `transfer_in`, `transfer_out`.
    kind: &'static str,
    /// Signed micro-credits.
    amount: i64,
    /// The balance after it.
    balance_after: i64,
    project_id: Option<String>,
    model: Option<String>,
    description: String,
    created_at: String,
}

/// Transactions per page unless `limit` asks for fewer.
const TRANSACTIONS_PAGE: i64 = 100;

/// The key's workspace's ledger, newest first, filtered like the billing
/// page (`billing.read`); the next page is in the `Link` header.
#[utoipa::path(
    get,
    path = "/api/v1/organizations/{org_id}/transactions",
    tag = "member",
    params(("org_id" = String, Path, description = "The key's workspace"), TransactionsQuery),
    security(("member_key" = [])),
    responses(
        (status = 200, description = "Entries, newest first; the next page is in the Link header", body = Vec<TransactionBody>),
        (status = 400, description = "A query parameter of the wrong type", body = ApiError),
        (status = 401, description = "No key, or one that doesn't work", body = ApiError),
        (status = 403, description = "The key lacks billing.read", body = ApiError),
        (status = 404, description = "Not the key's workspace", body = ApiError),
        (status = 422, description = "A filter or cursor that isn't one", body = ApiError),
    )
)]
pub async fn transactions(
    state: web::Data<AppState>,
    ApiScope(scope): ApiScope,
    org_id: web::Path<String>,
    query: web::Query<TransactionsQuery>,
) -> Result<HttpResponse, AppError> {
    own_workspace(&scope, &org_id)?;
    scope.require(Permission::BillingRead)?;
    let query = query.into_inner();
    let limit = query
        .limit
        .unwrap_or(TRANSACTIONS_PAGE)
        .clamp(1, TRANSACTIONS_PAGE);
    let filters = query.filters();
    let rows =
        billing::transactions(&state.db, &scope, &filters, query.after()?, limit + 1).await?;
    let path = format!("/api/v1/organizations/{org_id}/transactions");
    let limit_text = limit.to_string();
    let params = [
        ("limit", limit_text.as_str()),
        ("project", filters.project.as_str()),
        ("model", filters.model.as_str()),
        ("member", filters.member.as_str()),
        ("from", filters.from.as_str()),
        ("to", filters.to.as_str()),
    ];
    let (rows, next) = cursor_page_of(limit, rows, &path, &params, "cursor", |entry| {
        EntryCursor::after(entry).encode()
    });
    let body: Vec<TransactionBody> = rows.into_iter().map(TransactionBody::of).collect();
    Ok(json_page(body, next))
}

impl TransactionsQuery {
    /// The billing page's filters, as given.
    fn filters(&self) -> HistoryQuery {
        let text = |value: &Option<String>| value.clone().unwrap_or_default();
        HistoryQuery {
            project: text(&self.project),
            model: text(&self.model),
            member: text(&self.member),
            from: text(&self.from),
            to: text(&self.to),
        }
    }

    /// Where the page starts; 422 for a cursor no Link header gave.
    fn after(&self) -> Result<Option<EntryCursor>, AppError> {
        self.cursor
            .as_deref()
            .map(|text| {
                EntryCursor::decode(text).ok_or_else(|| {
                    AppError::Invalid(FieldErrors::of(
                        "cursor",
                        "Use the cursor of a Link header.",
                    ))
                })
            })
            .transpose()
    }
}

impl TransactionBody {
    fn of(entry: EntryRow) -> Self {
        TransactionBody {
            id: entry.id.to_string(),
            kind: entry.kind.as_str(),
            amount: entry.amount,
            balance_after: entry.balance_after,
            project_id: entry.project_id.map(|id| id.to_string()),
            model: entry.model,
            description: entry.description,
            created_at: entry.created_at.and_utc().to_rfc3339(),
        }
    }
}

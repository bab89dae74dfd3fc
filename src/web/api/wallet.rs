//! `GET /api/v1/wallet`: the balance and this month's spend of the wallet
//! the key's project charges.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::services::billing;
use crate::web::AppState;
use crate::web::api::bearer;
use crate::web::api::key::Named;
use crate::web::error::{ApiError, AppError};

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

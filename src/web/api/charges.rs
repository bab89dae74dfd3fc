//! `POST /api/v1/usage/charges`: the platform charges usage to the wallet
//! of the project whose key it presents. Idempotent by the
//! `Idempotency-Key` header: a repeat answers what the first did (201,
//! `Idempotent-Replayed: true`), the key reused for another charge is 409.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db::billing::EntryRow;
use crate::services::billing::{self, ChargeInput, Charged};
use crate::web::AppState;
use crate::web::api::bearer;
use crate::web::error::{ApiError, AppError};

/// The body of a charge.
#[derive(Deserialize, ToSchema)]
pub struct ChargeBody {
    /// The model used.
    pub model: String,
    /// Micro-credits (1 credit = 1 000 000).
    pub amount: i64,
    /// What for.
    #[serde(default)]
    pub description: String,
    /// The email of the member the charge is for (optional; their monthly
    /// limit applies and the history can be filtered by them).
    #[serde(default)]
    pub member: Option<String>,
}

/// A ledger entry as the API shows it (amounts in signed micro-credits).
#[derive(Serialize, ToSchema)]
pub struct EntryBody<'a> {
    /// Id.
    pub id: &'a str,
    /// `charge`, `top_up`, …
    pub kind: &'a str,
    /// Signed micro-credits: a charge is negative.
    pub amount: i64,
    /// The balance the entry left.
    pub balance_after: i64,
    /// The project charged.
    pub project_id: Option<&'a str>,
    /// The model charged for.
    pub model: Option<&'a str>,
    /// What for.
    pub description: &'a str,
    /// When, RFC 3339 UTC.
    pub created_at: String,
}

impl<'a> EntryBody<'a> {
    /// The entry's API form.
    pub fn of(entry: &'a EntryRow) -> Self {
        Self {
            id: entry.id.as_str(),
            kind: entry.kind.as_str(),
            amount: entry.amount,
            balance_after: entry.balance_after,
            project_id: entry.project_id.as_ref().map(|p| p.as_str()),
            model: entry.model.as_deref(),
            description: &entry.description,
            created_at: entry.created_at.and_utc().to_rfc3339(),
        }
    }
}

/// A charge entered, or the first answer to a repeated one.
#[derive(Serialize, ToSchema)]
pub struct ChargedBody<'a> {
    entry: EntryBody<'a>,
    workspace_id: &'a str,
    /// Micro-credits left after this charge.
    balance: i64,
}

/// The charge asked for: the body and the `Idempotency-Key` header.
fn charge_input(req: &HttpRequest, body: ChargeBody) -> ChargeInput {
    let idempotency_key = req
        .headers()
        .get("Idempotency-Key")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    ChargeInput {
        model: body.model,
        amount: body.amount,
        description: body.description,
        idempotency_key,
        member: body.member,
    }
}

/// Charges the key's wallet: 201 with the entry and the new balance; 402
/// without funds or for a suspended workspace; 403 for a model not
/// allowed or a spend limit; 409 for a reused idempotency key; 422 for
/// invalid fields.
#[utoipa::path(
    post,
    path = "/api/v1/usage/charges",
    tag = "platform",
    request_body = ChargeBody,
    params(("Idempotency-Key" = String, Header, description = "New for each charge; a repeat answers the first")),
    security(("project_key" = [])),
    responses(
        (status = 201, description = "Charged (or the first answer to a repeat)", body = ChargedBody),
        (status = 400, description = "Malformed JSON", body = ApiError),
        (status = 401, description = "No key, or one that doesn't work", body = ApiError),
        (status = 402, description = "insufficient_funds or workspace_suspended", body = ApiError),
        (status = 403, description = "model_not_allowed, spend_limit_reached, member_spend_limit_reached", body = ApiError),
        (status = 409, description = "idempotency_key_reused", body = ApiError),
        (status = 415, description = "Not JSON", body = ApiError),
        (status = 422, description = "A field out of range", body = ApiError),
    )
)]
pub async fn create(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<ChargeBody>,
) -> Result<HttpResponse, AppError> {
    let key = bearer(&req)?;
    let input = charge_input(&req, body.into_inner());
    let (keys, alerts) = (&state.project_keys, &state.budget_alerts);
    let Charged {
        entry,
        workspace_id,
        replayed,
    } = billing::charge(&state.db, keys, key, input, alerts).await?;
    Ok(HttpResponse::Created()
        .insert_header((
            "Idempotent-Replayed",
            if replayed { "true" } else { "false" },
        ))
        .json(ChargedBody {
            entry: EntryBody::of(&entry),
            workspace_id: workspace_id.as_str(),
            balance: entry.balance_after,
        }))
}

//! `POST /api/v1/payments/notifications`: the payment provider's webhook.
//! The body is credited only if its `Tenantry-Signature` is the shared
//! secret's; a repeated notification is answered 200 and changes nothing.

use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::services::billing;
use crate::web::AppState;
use crate::web::error::{ApiError, AppError};

/// The header that carries the notification's signature.
pub const SIGNATURE_HEADER: &str = "Tenantry-Signature";

/// What became of the top-up a notification named.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct NotificationAnswer<'a> {
    top_up: &'a str,
    status: &'static str,
}

/// Settles the top-up the notification names (401 for a bad signature).
#[utoipa::path(
    post,
    path = "/api/v1/payments/notifications",
    tag = "provider",
    params(("Tenantry-Signature" = String, Header, description = "t=<unix time>,v1=<HMAC-SHA256 hex>")),
    request_body(content = String, description = "The provider's JSON notification, signed as sent", content_type = "application/json"),
    responses(
        (status = 200, description = "Settled (a repeat changes nothing)", body = NotificationAnswer),
        (status = 401, description = "The signature is missing, wrong or too old", body = ApiError),
    )
)]
pub async fn notify(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: Bytes,
) -> Result<HttpResponse, AppError> {
    let signature = req
        .headers()
        .get(SIGNATURE_HEADER)
        .and_then(|value| value.to_str().ok())
        .ok_or(AppError::SignatureRejected)?;
    let top_up =
        billing::receive_notification(&state.db, &state.payments.webhook_secret, &body, signature)
            .await?;
    Ok(HttpResponse::Ok().json(NotificationAnswer {
        top_up: top_up.id.as_str(),
        status: top_up.status.as_str(),
    }))
}

//! `POST /api/v1/payments/notifications`: the payment provider's webhook.
//! The body is credited only if its `Tenantry-Signature` is the shared
//! secret's; a repeated notification is answered 200 and changes nothing.

use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::services::billing;
use crate::web::AppState;
use crate::web::error::AppError;

/// The header that carries the notification's signature.
pub const SIGNATURE_HEADER: &str = "Tenantry-Signature";

/// Settles the top-up the notification names (401 for a bad signature).
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
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "top_up": top_up.id.as_str(),
        "status": top_up.status.as_str(),
    })))
}

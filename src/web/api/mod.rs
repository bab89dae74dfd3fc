//! `/api/v1/…`: what the platform calls with a project's API key, what a
//! member's API key may read and do in its workspace (the same services
//! and rules as the pages), and the payment provider's webhook. Every error has one shape,
//! `{"error": {"code", "message", "field"?}}` (see `web::error`).

pub mod agents;
pub mod authorize;
pub mod charges;
pub mod invitations;
pub mod key;
pub mod members;
pub mod openapi;
pub mod organizations;
pub mod payments;
pub mod resources;
pub mod roles;
pub mod teams;
pub mod wallet;

use actix_web::error::JsonPayloadError;
use actix_web::http::header;
use actix_web::{HttpRequest, web};

use crate::web::error::AppError;

/// The key presented in `Authorization: Bearer …`; 401 without one.
pub fn bearer(req: &HttpRequest) -> Result<&str, AppError> {
    req.headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim)
        .ok_or(AppError::KeyRequired)
}

/// The key's workspace, if the path names it; 404 otherwise, like
/// another workspace's row on a page.
pub fn own_workspace(scope: &crate::db::scope::Scope, org_id: &str) -> Result<(), AppError> {
    if scope.workspace_id().as_str() == org_id {
        Ok(())
    } else {
        Err(AppError::NotFound)
    }
}

/// A page of a list as JSON, with the next page's URL, if any, in a
/// `Link: <…>; rel="next"` header.
pub fn json_page(body: impl serde::Serialize, next: Option<String>) -> actix_web::HttpResponse {
    let mut response = actix_web::HttpResponse::Ok();
    if let Some(next) = next {
        response.insert_header((header::LINK, format!("<{next}>; rel=\"next\"")));
    }
    response.json(body)
}

/// Query strings the API can't read (a `limit` that isn't a number) are
/// 400 in the API's error shape, not actix's plain text.
pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default()
        .error_handler(|error, _| AppError::BadRequest(error.to_string()).into())
}

/// JSON bodies: at most 64 KiB; a wrong content type is 415, a body that
/// isn't the expected JSON is 400, both in the API's error shape.
pub fn json_config() -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(64 * 1024)
        .error_handler(|error, _| match error {
            JsonPayloadError::ContentType => AppError::UnsupportedMediaType.into(),
            other => AppError::BadRequest(other.to_string()).into(),
        })
}

/// A call made with a member's API key: the key's holder acting in the
/// key's workspace, with the key's permissions (401 for a key that doesn't
/// work). Endpoints take it as pages take a session's `Scope`, and pass
/// it to the same services.
pub struct ApiScope(pub crate::db::scope::Scope);

impl actix_web::FromRequest for ApiScope {
    type Error = AppError;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, _payload: &mut actix_web::dev::Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let state = req
                .app_data::<web::Data<crate::web::AppState>>()
                .ok_or_else(|| AppError::Internal("application state missing".into()))?
                .clone();
            let grant =
                crate::services::authorization::grant(&state.db, &state.api_keys, bearer(&req)?)
                    .await?;
            Ok(ApiScope(grant.scope(state.client_ip(&req))))
        })
    }
}

//! `GET /api/v1/openapi.json`: the API described from the handlers' own
//! annotations and types (utoipa), so the document changes with the code.
//! A test checks that every `/api/v1` route of the URL table is in it.

use std::sync::OnceLock;

use actix_web::HttpResponse;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::web::api;
use crate::web::error::{ApiError, ApiErrorDetail};

/// The bearer schemes: a project's key (the platform) and a member's key.
struct Keys;

impl Modify for Keys {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        for (name, what) in [
            ("project_key", "A project's key, tk_…"),
            ("member_key", "A member's API key, tkm_…"),
        ] {
            components.add_security_scheme(
                name,
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .description(Some(what))
                        .build(),
                ),
            );
        }
    }
}

/// The document's root.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Tenantry API",
        description = "Tenancy and billing: what the platform asks with a project's key, \
                       and what a member's key may read and do. Amounts are integer micro-credits.",
        version = "1"
    ),
    paths(
        api::authorize::authorize,
        api::members::list,
        api::members::roles,
        api::charges::create,
        api::wallet::show,
        api::key::key,
        api::agents::activity,
        api::agents::app_activity,
        api::payments::notify,
    ),
    components(schemas(ApiError, ApiErrorDetail)),
    modifiers(&Keys)
)]
struct Document;

/// The document, serialised once.
pub async fn document() -> HttpResponse {
    static JSON: OnceLock<String> = OnceLock::new();
    let body = JSON.get_or_init(|| {
        Document::openapi()
            .to_json()
            .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    });
    HttpResponse::Ok()
        .content_type("application/json")
        .body(body.as_str())
}

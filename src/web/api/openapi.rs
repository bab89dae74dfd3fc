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

/// Every member-key operation may be refused past the key's rate limit:
/// said once here rather than in each handler's annotation.
struct RateLimited;

impl Modify for RateLimited {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let response = rate_limited_response();
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.patch,
                &mut item.delete,
            ];
            for operation in operations.into_iter().flatten() {
                let for_members = operation
                    .tags
                    .as_ref()
                    .is_some_and(|tags| tags.iter().any(|t| t == "member"));
                if for_members {
                    operation
                        .responses
                        .responses
                        .insert("429".into(), response.clone().into());
                }
            }
        }
    }
}

/// The 429 answer with its `Retry-After` header and JSON error body.
fn rate_limited_response() -> utoipa::openapi::Response {
    use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder, header::HeaderBuilder};
    ResponseBuilder::new()
        .description("The key made all the calls its kind may make this minute")
        .header(
            "Retry-After",
            HeaderBuilder::new()
                .schema(
                    utoipa::openapi::ObjectBuilder::new()
                        .schema_type(utoipa::openapi::Type::Integer),
                )
                .description(Some("Seconds until the next minute"))
                .build(),
        )
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ApiError")))
                .build(),
        )
        .build()
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
        api::organizations::list,
        api::organizations::create,
        api::organizations::show,
        api::organizations::update,
        api::organizations::archive,
        api::organizations::restore,
        api::members::list,
        api::members::update,
        api::members::remove,
        api::invitations::list,
        api::invitations::create,
        api::invitations::resend,
        api::invitations::revoke,
        api::roles::list,
        api::roles::create,
        api::roles::update,
        api::roles::delete,
        api::teams::list,
        api::teams::create,
        api::teams::update,
        api::teams::archive,
        api::teams::restore,
        api::resources::projects,
        api::resources::create_project,
        api::resources::show_project,
        api::resources::update_project,
        api::resources::delete_project,
        api::resources::agents,
        api::resources::create_agent,
        api::resources::start_agent,
        api::resources::stop_agent,
        api::resources::delete_agent,
        api::resources::limits,
        api::resources::set_limits,
        api::wallet::member_wallet,
        api::wallet::transactions,
        api::charges::create,
        api::wallet::show,
        api::key::key,
        api::agents::activity,
        api::agents::app_activity,
        api::payments::notify,
    ),
    components(schemas(ApiError, ApiErrorDetail)),
    modifiers(&Keys, &RateLimited)
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

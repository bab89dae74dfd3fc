//! Static assets compiled into the binary, so `tenantry` serves its pages
//! styled from any working directory with nothing to deploy beside it.
//! Files change only with a new build, so they are cached for a day.

use actix_web::http::header;
use actix_web::{HttpResponse, web};

use super::error::AppError;

/// `(path under /static, content type, bytes)` for every asset.
const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "app.css",
        "text/css; charset=utf-8",
        include_bytes!("../../static/app.css"),
    ),
    (
        "copy.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../static/copy.js"),
    ),
    (
        "vendor/pico/pico.min.css",
        "text/css; charset=utf-8",
        include_bytes!("../../static/vendor/pico/pico.min.css"),
    ),
];

/// Registers `/static/{path}` (outside the session middleware).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/static/{path:.*}", web::get().to(serve));
}

async fn serve(path: web::Path<String>) -> Result<HttpResponse, AppError> {
    let (_, content_type, bytes) = ASSETS
        .iter()
        .find(|(name, _, _)| *name == path.as_str())
        .ok_or(AppError::NotFound)?;
    Ok(HttpResponse::Ok()
        .content_type(*content_type)
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .body(*bytes))
}

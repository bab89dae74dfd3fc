//! The span every request runs in, which the per-request log line reports.
//! tracing-actix-web's default takes `http.client_ip` from actix's
//! `realip_remote_addr()`, the left-most `Forwarded`/`X-Forwarded-For`
//! value — whatever the client wrote — even when no proxy is trusted. This
//! one logs the address Tenantry itself believes ([`AppState::client_ip`]),
//! the one the throttles, the audit log and the sessions list use.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::{Error, HttpMessage, web};
use tracing::Span;
use tracing::field::Empty;
use tracing_actix_web::{DefaultRootSpanBuilder, RequestId, RootSpanBuilder};

use super::AppState;

/// Builds each request's root span with the trusted client IP.
pub struct RequestSpan;

impl RootSpanBuilder for RequestSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        let client_ip = request
            .app_data::<web::Data<AppState>>()
            .map(|state| state.client_ip(request.request()))
            .unwrap_or_else(|| "unknown".into());
        let request_id = request
            .extensions()
            .get::<RequestId>()
            .map(ToString::to_string)
            .unwrap_or_default();
        let user_agent = request
            .headers()
            .get(actix_web::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let span = tracing::info_span!(
            "HTTP request",
            http.method = %request.method(),
            http.route = Empty,
            http.target = %request.uri().path_and_query().map(|p| p.as_str()).unwrap_or(""),
            http.client_ip = %client_ip,
            http.user_agent = %user_agent,
            http.status_code = Empty,
            otel.status_code = Empty,
            request_id = %request_id,
            exception.message = Empty,
            exception.details = Empty,
        );
        // Finding the route's pattern walks actix's resource map, matching
        // each dynamic route's regex (a tenth of a charge's CPU): only for
        // a span that is recorded.
        if !span.is_disabled() {
            let route = request.match_pattern().unwrap_or_else(|| "default".into());
            span.record("http.route", tracing::field::display(&route));
        }
        span
    }

    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, Error>) {
        DefaultRootSpanBuilder::on_request_end(span, outcome);
    }
}

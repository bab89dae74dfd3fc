//! The web layer's error type and the one place errors become pages.
//!
//! Layers and their errors: repository functions return
//! [`DbError`](crate::db::DbError); domain functions return their own enums
//! (e.g. [`ServiceError`](crate::services::accounts::ServiceError)) whose validation cases the
//! handler renders into its form; everything else converts into
//! [`AppError`]. `AppError` only decides the status; [`render_error`] (an
//! `ErrorHandlers` hook that sees the request) turns it into an HTML page or,
//! under `/api/`, the JSON error shape — with the request id on 500s, and the
//! cause in the log, never on the page.

use actix_web::dev::ServiceResponse;
use actix_web::http::{StatusCode, header};
use actix_web::middleware::ErrorHandlerResponse;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, ResponseError};
use askama::Template;
use tracing_actix_web::RequestId;

use crate::db::DbError;
use crate::domain::{FieldErrors, Permission};
use crate::services::ServiceError;
use crate::services::billing::ChargeRefusal;

/// Everything that can stop a request, by what the user should see.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// No signed-in session: go to the sign-in page and come back.
    #[error("sign-in required")]
    SignInRequired,
    /// The thing asked for doesn't exist here (including rows of other workspaces).
    #[error("not found")]
    NotFound,
    /// The user's role lacks a permission.
    #[error("permission {0} required")]
    Forbidden(Permission),
    /// A form arrived without a valid CSRF token.
    #[error("missing or invalid CSRF token")]
    CsrfRejected,
    /// A form rendered for one workspace arrived after the user switched to another.
    #[error("form was for workspace {form_workspace:?}, active is {active_workspace:?}")]
    WorkspaceChanged {
        /// Name of the workspace the form was for (or a placeholder when it's no longer accessible).
        form_workspace: String,
        /// Name of the workspace now active.
        active_workspace: String,
    },
    /// A rule of the domain forbids the action; the message says which and why.
    #[error("refused: {0}")]
    Refused(&'static str),
    /// A limit of the workspace stops the action; the message names it and
    /// who can raise it (409).
    #[error("limit reached: {0}")]
    LimitReached(String),
    /// The platform's charge was refused; the refusal gives the status
    /// (402, 403 or 409), the code and the message.
    #[error("charge refused: {0:?}")]
    ChargeRefused(ChargeRefusal),
    /// An API call without a live key (401, with `WWW-Authenticate`).
    #[error("API key required")]
    KeyRequired,
    /// The key's workspace is suspended until its wallet is funded (403).
    #[error("workspace suspended")]
    Suspended,
    /// A payment notification whose signature doesn't check out (401).
    #[error("signature rejected")]
    SignatureRejected,
    /// A JSON endpoint called with another content type (415).
    #[error("unsupported media type")]
    UnsupportedMediaType,
    /// Fields failed validation on a form the handler could not show again;
    /// the page lists the messages (422).
    #[error("invalid input: {0:?}")]
    Invalid(FieldErrors),
    /// Too many attempts; the limit lifts in this many whole minutes (429).
    #[error("throttled for {retry_after_minutes} min")]
    Throttled {
        /// Whole minutes until the next attempt may succeed.
        retry_after_minutes: i64,
    },
    /// An API key used up its calls for this minute (429 with
    /// `Retry-After`).
    #[error("rate limited for {retry_after_seconds} s")]
    RateLimited {
        /// Seconds until the key's next minute begins.
        retry_after_seconds: i64,
    },
    /// A malformed request (bad form encoding, oversized body).
    #[error("bad request: {0}")]
    BadRequest(String),
    /// The database (or another dependency) is down; try again.
    #[error("service unavailable: {0}")]
    Unavailable(String),
    /// A bug or an unexpected failure; details go to the log only.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<DbError> for AppError {
    fn from(error: DbError) -> Self {
        match error {
            DbError::NotFound => AppError::NotFound,
            DbError::Unavailable(cause) => AppError::Unavailable(cause),
            other => AppError::Internal(other.to_string()),
        }
    }
}

impl From<crate::services::accounts::passwords::HashError> for AppError {
    fn from(error: crate::services::accounts::passwords::HashError) -> Self {
        AppError::Internal(error.to_string())
    }
}

impl From<crate::domain::permission::Forbidden> for AppError {
    fn from(error: crate::domain::permission::Forbidden) -> Self {
        AppError::Forbidden(error.0)
    }
}

/// A template that failed to render (a filter's or a `Display`'s error):
/// a bug of ours, shown as the 500 page.
impl From<askama::Error> for AppError {
    fn from(error: askama::Error) -> Self {
        AppError::Internal(format!("template: {error}"))
    }
}

impl From<actix_session::SessionInsertError> for AppError {
    fn from(error: actix_session::SessionInsertError) -> Self {
        AppError::Internal(error.to_string())
    }
}

impl AppError {
    /// When a refused request may be tried again (`Retry-After`).
    fn retry_after_seconds(&self) -> Option<i64> {
        match self {
            AppError::Throttled {
                retry_after_minutes,
            } => Some(retry_after_minutes * 60),
            AppError::RateLimited {
                retry_after_seconds,
            } => Some(*retry_after_seconds),
            // Long enough for a database restart or failover to finish,
            // short enough that a person retrying by hand is not held up.
            AppError::Unavailable(_) => Some(5),
            _ => None,
        }
    }

    /// A stable machine-readable code for the JSON error shape.
    pub fn code(&self) -> &'static str {
        match self {
            AppError::SignInRequired => "unauthenticated",
            AppError::NotFound => "not_found",
            AppError::Forbidden(_) => "forbidden",
            AppError::CsrfRejected => "csrf_rejected",
            AppError::WorkspaceChanged { .. } => "workspace_changed",
            AppError::Refused(_) => "refused",
            AppError::LimitReached(_) => "limit_reached",
            AppError::ChargeRefused(refusal) => refusal.code(),
            AppError::KeyRequired => "unauthorized",
            AppError::Suspended => "workspace_suspended",
            AppError::SignatureRejected => "signature_invalid",
            AppError::UnsupportedMediaType => "unsupported_media_type",
            AppError::Invalid(_) => "invalid",
            AppError::Throttled { .. } => "throttled",
            AppError::RateLimited { .. } => "rate_limited",
            AppError::BadRequest(_) => "bad_request",
            AppError::Unavailable(_) => "unavailable",
            AppError::Internal(_) => "internal",
        }
    }

    /// Title and message a user may see (never internal details).
    fn public_text(&self) -> (&'static str, String) {
        match self {
            AppError::SignInRequired => ("Sign in required", "Sign in to continue.".into()),
            AppError::NotFound => (
                "Page not found",
                "There is nothing here, or it belongs to a workspace you are not in.".into(),
            ),
            AppError::Forbidden(permission) => (
                "Not allowed",
                format!(
                    "Your role in this workspace does not allow this ({}). Ask an owner or admin.",
                    permission.label().to_lowercase()
                ),
            ),
            AppError::CsrfRejected => (
                "This form has expired",
                "The page you sent it from was too old or came from elsewhere. Go back, reload the page and try again. Nothing was changed.".into(),
            ),
            AppError::WorkspaceChanged {
                form_workspace,
                active_workspace,
            } => (
                "You switched workspace",
                format!(
                    "This form was for “{form_workspace}”, but your active workspace is now “{active_workspace}” (you switched in another tab). Nothing was changed. Switch back and submit it again if you meant to."
                ),
            ),
            AppError::Refused(message) => ("Not possible", (*message).to_owned()),
            AppError::LimitReached(message) => ("Limit reached", message.clone()),
            AppError::ChargeRefused(refusal) => ("Charge refused", refusal.message()),
            AppError::KeyRequired => (
                "API key required",
                "Send a live API key as `Authorization: Bearer <key>`: it is missing, \
                 malformed, unknown, expired or revoked, or its member no longer has \
                 access."
                    .into(),
            ),
            AppError::Suspended => (
                "Workspace suspended",
                "The workspace is suspended until its wallet is topped up.".into(),
            ),
            AppError::SignatureRejected => (
                "Signature rejected",
                "The notification's signature is missing, wrong or too old.".into(),
            ),
            AppError::UnsupportedMediaType => (
                "Unsupported media type",
                "Send the body as JSON with `Content-Type: application/json`.".into(),
            ),
            AppError::Invalid(errors) => ("Please check your input", describe(errors)),
            AppError::Throttled {
                retry_after_minutes,
            } => (
                "Too many attempts",
                format!("Too many attempts. Try again in {retry_after_minutes} minutes."),
            ),
            AppError::RateLimited {
                retry_after_seconds,
            } => (
                "Too many requests",
                format!(
                    "This key made all the calls its kind may make in a minute. \
                     Try again in {retry_after_seconds} seconds."
                ),
            ),
            AppError::BadRequest(_) => ("Bad request", "The request could not be understood.".into()),
            AppError::Unavailable(_) => (
                "Temporarily unavailable",
                "Tenantry cannot reach its database right now. Nothing was changed; please try again in a moment.".into(),
            ),
            AppError::Internal(_) => (
                "Something went wrong",
                "An unexpected error stopped this request. Nothing was half-saved; please try again.".into(),
            ),
        }
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::SignInRequired | AppError::KeyRequired | AppError::SignatureRejected => {
                StatusCode::UNAUTHORIZED
            }
            AppError::ChargeRefused(refusal) => match refusal {
                ChargeRefusal::InsufficientFunds { .. } | ChargeRefusal::Inactive(_) => {
                    StatusCode::PAYMENT_REQUIRED
                }
                ChargeRefusal::ModelNotAllowed(_)
                | ChargeRefusal::SpendLimitReached { .. }
                | ChargeRefusal::MemberLimitReached { .. } => StatusCode::FORBIDDEN,
                ChargeRefusal::KeyReused => StatusCode::CONFLICT,
            },
            AppError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::Forbidden(_) | AppError::CsrfRejected | AppError::Suspended => {
                StatusCode::FORBIDDEN
            }
            AppError::WorkspaceChanged { .. }
            | AppError::Refused(_)
            | AppError::LimitReached(_) => StatusCode::CONFLICT,
            AppError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::Throttled { .. } | AppError::RateLimited { .. } => {
                StatusCode::TOO_MANY_REQUESTS
            }
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.status_code()).finish()
    }
}

/// The error page.
#[derive(Template)]
#[template(path = "errors/error.html")]
struct ErrorPage<'a> {
    status: u16,
    title: &'a str,
    message: &'a str,
    request_id: Option<String>,
}

/// `ErrorHandlers` hook: renders every error response that carries an error
/// (ours, or actix's own such as a malformed form) as a page or JSON.
/// Responses a handler built deliberately (a form re-rendered with 422) carry
/// no error and pass through untouched.
pub fn render_error<B>(res: ServiceResponse<B>) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let Some(error) = res.response().error() else {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    };
    let status = res.status();
    let fallback;
    let app_error = match error.as_error::<AppError>() {
        Some(app_error) => app_error,
        None => {
            fallback = foreign_error(error, status);
            &fallback
        }
    };
    let request = res.request();
    let request_id = request
        .extensions()
        .get::<RequestId>()
        .map(|id| id.to_string());
    if status.is_server_error() {
        tracing::error!(request_id = request_id.as_deref().unwrap_or("-"), error = %app_error, "request failed");
    }
    let is_api = request.path().starts_with("/api/");
    let response = if matches!(app_error, AppError::SignInRequired) && !is_api {
        sign_in_redirect(request)
    } else if is_api {
        json_error(app_error, status, request_id)
    } else {
        error_page(app_error, status, request_id)
    };
    Ok(ErrorHandlerResponse::Response(
        res.into_response(response.map_into_boxed_body())
            .map_into_right_body(),
    ))
}

/// An error of actix's own (a malformed form, an unknown route) as ours.
fn foreign_error(error: &actix_web::Error, status: StatusCode) -> AppError {
    match status {
        StatusCode::NOT_FOUND => AppError::NotFound,
        s if s.is_server_error() => AppError::Internal(error.to_string()),
        _ => AppError::BadRequest(error.to_string()),
    }
}

/// To the sign-in page; a GET of another page comes back to it after
/// signing in (`?next=`).
fn sign_in_redirect(request: &HttpRequest) -> HttpResponse {
    let target = request
        .uri()
        .path_and_query()
        .map(|pq| pq.as_str())
        .unwrap_or("/");
    let next = if request.method() == actix_web::http::Method::GET && target != "/" {
        serde_urlencoded::to_string([("next", target)])
            .map(|query| format!("/login?{query}"))
            .unwrap_or_else(|_| "/login".to_owned())
    } else {
        "/login".to_owned()
    };
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, next))
        .finish()
}

/// The API's one error shape: `{"error": {"code", "message", "field"?,
/// "request_id"}}`.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ApiError {
    /// What went wrong.
    pub error: ApiErrorDetail,
}

/// What went wrong, for a program (`code`, `field`) and a person
/// (`message`).
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ApiErrorDetail {
    /// Stable: `unauthorized`, `forbidden`, `not_found`, `invalid`, …
    pub code: &'static str,
    /// What to do about it, in words.
    pub message: String,
    /// The request field at fault, for invalid input.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<&'static str>,
    /// The id of the request in the server's log.
    pub request_id: Option<String>,
}

/// The error as the API answers it: code, public message, the field at
/// fault (for invalid input) and request id; a 401 names the scheme.
fn json_error(error: &AppError, status: StatusCode, request_id: Option<String>) -> HttpResponse {
    let (message, field) = match error {
        AppError::Invalid(errors) => match errors.iter().next() {
            Some((field, message)) => (message.to_owned(), Some(field)),
            None => (error.public_text().1, None),
        },
        // An API call is refused for its key, which may hold less than
        // its member's role.
        AppError::Forbidden(permission) => (
            format!(
                "This key may not {} ({}): the permission is missing from the key's scope \
                 or from its member's role.",
                permission.label().to_lowercase(),
                permission.key()
            ),
            None,
        ),
        _ => (error.public_text().1, None),
    };
    let mut response = HttpResponse::build(status);
    if status == StatusCode::UNAUTHORIZED {
        response.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
    }
    if let Some(seconds) = error.retry_after_seconds() {
        response.insert_header((header::RETRY_AFTER, seconds.to_string()));
    }
    response.json(ApiError {
        error: ApiErrorDetail {
            code: error.code(),
            message,
            field,
            request_id,
        },
    })
}

/// The error page; the request id is shown only for server errors (so a
/// report can be matched with the log).
fn error_page(error: &AppError, status: StatusCode, request_id: Option<String>) -> HttpResponse {
    let (title, message) = error.public_text();
    let page = ErrorPage {
        status: status.as_u16(),
        title,
        message: &message,
        request_id: status.is_server_error().then_some(request_id).flatten(),
    };
    let body = page.render().unwrap_or_else(|_| message.clone());
    let mut response = HttpResponse::build(status);
    if let Some(seconds) = error.retry_after_seconds() {
        response.insert_header((header::RETRY_AFTER, seconds.to_string()));
    }
    response.content_type("text/html; charset=utf-8").body(body)
}

impl From<ServiceError> for AppError {
    fn from(error: ServiceError) -> Self {
        match error {
            ServiceError::Invalid(errors) | ServiceError::Conflict(errors) => {
                AppError::Invalid(errors)
            }
            ServiceError::Refused(message) => AppError::Refused(message),
            ServiceError::LimitReached(message) => AppError::LimitReached(message),
            ServiceError::ChargeRefused(refusal) => AppError::ChargeRefused(refusal),
            ServiceError::KeyRejected => AppError::KeyRequired,
            ServiceError::Suspended => AppError::Suspended,
            ServiceError::SignatureRejected => AppError::SignatureRejected,
            ServiceError::Forbidden(forbidden) => forbidden.into(),
            ServiceError::NotFound => AppError::NotFound,
            ServiceError::BadCredentials => AppError::SignInRequired,
            ServiceError::Throttled {
                retry_after_minutes,
            } => AppError::Throttled {
                retry_after_minutes,
            },
            ServiceError::RateLimited {
                retry_after_seconds,
            } => AppError::RateLimited {
                retry_after_seconds,
            },
            ServiceError::Db(DbError::Conflict(_)) => AppError::Refused(
                "Someone else changed this at the same moment. Nothing was saved; reload the page and try again.",
            ),
            ServiceError::Db(db) => db.into(),
            ServiceError::Internal(detail) => AppError::Internal(detail),
        }
    }
}

/// Field errors that reached a handler without a form to show them on.
fn describe(errors: &crate::domain::FieldErrors) -> String {
    errors
        .iter()
        .map(|(field, message)| format!("{field}: {message}"))
        .collect::<Vec<_>>()
        .join("; ")
}

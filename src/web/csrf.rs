//! CSRF protection for every form: a signed double-submit token (OWASP's
//! "signed double-submit cookie"). Each browser gets a random binding cookie;
//! the token in forms is HMAC-SHA256(secret, binding ‖ session public id).
//! A forged form from another site can read neither, and the token changes
//! at sign-in (new session public id), so a token from before sign-in is
//! useless after it. Nothing is stored server-side, so the sign-in page
//! costs no database write.
//!
//! [`CsrfForm`] is the only form extractor handlers use; it refuses a form
//! before the handler runs. [`ScopedForm`] additionally refuses a form that
//! was rendered for another workspace than the active one.

use std::future::Future;
use std::pin::Pin;

use actix_session::SessionExt;
use actix_web::body::MessageBody;
use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use sha2::Sha256;

use super::AppState;
use super::error::AppError;
use crate::db::scope::Scope;
use crate::web::session::SessionData;

/// Name of the binding cookie over plain HTTP.
pub const COOKIE_NAME: &str = "tenantry_csrf";
/// Name of the binding cookie over HTTPS (`__Host-` pins it to this origin).
pub const SECURE_COOKIE_NAME: &str = "__Host-tenantry_csrf";
/// Form field carrying the token.
pub const TOKEN_FIELD: &str = "csrf_token";

#[derive(Clone)]
struct Binding(String);

fn cookie_name(state: &AppState) -> &'static str {
    if state.config.is_https() {
        SECURE_COOKIE_NAME
    } else {
        COOKIE_NAME
    }
}

fn is_valid_binding(value: &str) -> bool {
    value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Middleware: makes sure the browser has a binding cookie, setting one on
/// the response when the request had none.
pub async fn ensure_binding_cookie(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| AppError::Internal("application state missing".into()))?;
    let name = cookie_name(&state);
    let existing = req
        .cookie(name)
        .map(|c| c.value().to_owned())
        .filter(|v| is_valid_binding(v));
    let fresh = existing.is_none();
    let binding = existing.unwrap_or_else(|| hex::encode(rand::random::<[u8; 32]>()));
    req.extensions_mut().insert(Binding(binding.clone()));
    let mut res = next.call(req).await?;
    if fresh {
        let cookie = Cookie::build(name, binding)
            .path("/")
            .http_only(true)
            .secure(state.config.is_https())
            .same_site(SameSite::Lax)
            .max_age(CookieDuration::days(365))
            .finish();
        res.response_mut()
            .add_cookie(&cookie)
            .map_err(actix_web::error::ErrorInternalServerError)?;
    }
    Ok(res)
}

fn mac_for(state: &AppState, req: &HttpRequest) -> Result<Hmac<Sha256>, AppError> {
    let binding = req
        .extensions()
        .get::<Binding>()
        .map(|b| b.0.clone())
        .ok_or(AppError::CsrfRejected)?;
    let session = req.get_session();
    let session_id = SessionData::new(&session).public_id().unwrap_or_default();
    let mut mac = Hmac::<Sha256>::new_from_slice(&state.csrf_key)
        .map_err(|e| AppError::Internal(format!("csrf key: {e}")))?;
    mac.update(binding.as_bytes());
    mac.update(b"\0");
    mac.update(session_id.as_bytes());
    Ok(mac)
}

fn state_of(req: &HttpRequest) -> Result<web::Data<AppState>, AppError> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| AppError::Internal("application state missing".into()))
}

/// The token to embed in this request's forms.
#[derive(Debug, Clone)]
pub struct CsrfToken(pub String);

impl FromRequest for CsrfToken {
    type Error = AppError;
    type Future = std::future::Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        std::future::ready(
            state_of(req)
                .and_then(|state| mac_for(&state, req))
                .map(|mac| CsrfToken(hex::encode(mac.finalize().into_bytes()))),
        )
    }
}

/// Checks a token taken from a form this module didn't parse (multipart uploads).
pub fn verify(req: &HttpRequest, token: &str) -> Result<(), AppError> {
    let state = state_of(req)?;
    let presented = hex::decode(token).map_err(|_| AppError::CsrfRejected)?;
    mac_for(&state, req)?
        .verify_slice(&presented)
        .map_err(|_| AppError::CsrfRejected)
}

#[derive(Deserialize)]
struct Guard {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    active_workspace_id: Option<String>,
}

/// A form with nothing but its CSRF token (and, scoped, its workspace id):
/// sign-out, revoke, archive and the like.
#[derive(Deserialize)]
pub struct EmptyForm {}

/// A URL-encoded form whose CSRF token was checked.
pub struct CsrfForm<T> {
    /// The form's fields.
    pub fields: T,
    active_workspace_id: Option<String>,
}

/// Largest form body accepted (avatars go through multipart, not here).
const FORM_LIMIT_BYTES: usize = 64 * 1024;

impl<T: DeserializeOwned + 'static> FromRequest for CsrfForm<T> {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let is_form = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        let body = web::Bytes::from_request(&req, payload);
        Box::pin(async move {
            if !is_form {
                return Err(AppError::BadRequest("expected a URL-encoded form".into()));
            }
            let body = body
                .await
                .map_err(|e| AppError::BadRequest(e.to_string()))?;
            if body.len() > FORM_LIMIT_BYTES {
                return Err(AppError::BadRequest("form too large".into()));
            }
            let guard: Guard = serde_urlencoded::from_bytes(&body)
                .map_err(|e| AppError::BadRequest(e.to_string()))?;
            verify(&req, &guard.csrf_token)?;
            let fields = serde_urlencoded::from_bytes(&body)
                .map_err(|e| AppError::BadRequest(e.to_string()))?;
            Ok(Self {
                fields,
                active_workspace_id: guard.active_workspace_id,
            })
        })
    }
}

/// A CSRF-checked form that was rendered in the workspace that is still
/// active. A form from another tab, rendered before the user switched
/// workspace, is refused with a page naming both workspaces.
pub struct ScopedForm<T> {
    /// The scope the form acts in.
    pub scope: Scope,
    /// The form's fields.
    pub fields: T,
}

impl<T: DeserializeOwned + 'static> FromRequest for ScopedForm<T> {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let scope = Scope::from_request(req, payload);
        let form = CsrfForm::<T>::from_request(req, payload);
        Box::pin(async move {
            let scope = scope.await?;
            let form = form.await?;
            check_rendered_for(&scope, form.active_workspace_id.as_deref())?;
            Ok(Self {
                scope,
                fields: form.fields,
            })
        })
    }
}

/// Refuses a form rendered for another workspace than the active one (the
/// user switched in another tab since), naming both in the error page.
pub fn check_rendered_for(
    scope: &Scope,
    active_workspace_id: Option<&str>,
) -> Result<(), AppError> {
    let rendered_for = active_workspace_id
        .and_then(crate::domain::WorkspaceId::parse)
        .ok_or(AppError::CsrfRejected)?;
    if &rendered_for == scope.workspace_id() {
        return Ok(());
    }
    let form_workspace = scope
        .accessible(&rendered_for)
        .map(|w| {
            if w.kind.is_personal() {
                "Personal".to_owned()
            } else {
                w.name.clone()
            }
        })
        .unwrap_or_else(|| "a workspace you no longer have access to".into());
    Err(AppError::WorkspaceChanged {
        form_workspace,
        active_workspace: if scope.is_personal() {
            "Personal".to_owned()
        } else {
            scope.workspace().name.clone()
        },
    })
}

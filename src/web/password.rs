//! `/password/forgot` and `/password/reset/{token}`: asking for a reset link
//! (the same answer whether or not an account uses the address) and using it.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::AppState;
use super::csrf::{CsrfForm, CsrfToken};
use super::email::link_invalid;
use super::error::AppError;
use super::page::{render_with_status, see_other};
use crate::domain::FieldErrors;
use crate::services::ServiceError;
use crate::services::accounts::recovery;
use crate::web::session::{FlashLevel, SessionData};

/// The "forgot your password?" page.
#[derive(Template)]
#[template(path = "password/forgot.html")]
pub struct ForgotPage {
    csrf: String,
    email: String,
    errors: FieldErrors,
    error: Option<String>,
    sent: bool,
}

/// Query of the forgot page: `sent` after a request.
#[derive(Deserialize)]
pub struct ForgotQuery {
    sent: Option<String>,
}

/// The forgot form.
#[derive(Deserialize)]
pub struct ForgotForm {
    #[serde(default)]
    email: String,
}

/// Shows the form (and, after a request, the "check your inbox" notice).
pub async fn forgot_form(
    csrf: CsrfToken,
    query: web::Query<ForgotQuery>,
) -> Result<HttpResponse, AppError> {
    let page = ForgotPage {
        csrf: csrf.0,
        email: String::new(),
        errors: FieldErrors::new(),
        error: None,
        sent: query.sent.is_some(),
    };
    render_with_status(&page, StatusCode::OK)
}

/// Queues the reset email (or the "no account uses this address" note) and
/// redirects to the same notice either way.
pub async fn forgot(
    state: web::Data<AppState>,
    req: HttpRequest,
    csrf: CsrfToken,
    form: CsrfForm<ForgotForm>,
) -> Result<HttpResponse, AppError> {
    let email = form.fields.email;
    let rerender = |errors: FieldErrors, error: Option<String>, status: StatusCode| {
        let page = ForgotPage {
            csrf: csrf.0.clone(),
            email: email.clone(),
            errors,
            error,
            sent: false,
        };
        render_with_status(&page, status)
    };
    match recovery::request_reset(&state.accounts, &email, &state.client_ip(&req)).await {
        Ok(()) => Ok(see_other("/password/forgot?sent=1")),
        Err(ServiceError::Invalid(errors) | ServiceError::Conflict(errors)) => {
            rerender(errors, None, StatusCode::UNPROCESSABLE_ENTITY)
        }
        Err(ServiceError::Throttled {
            retry_after_minutes,
        }) => rerender(
            FieldErrors::new(),
            Some(format!(
                "Too many reset requests. Try again in {retry_after_minutes} minute{}.",
                if retry_after_minutes == 1 { "" } else { "s" }
            )),
            StatusCode::TOO_MANY_REQUESTS,
        ),
        Err(other) => Err(other.into()),
    }
}

/// The page a reset link opens.
#[derive(Template)]
#[template(path = "password/reset.html")]
pub struct ResetPage {
    csrf: String,
    token: String,
    email: String,
    errors: FieldErrors,
}

/// The new-password form.
#[derive(Deserialize)]
pub struct ResetForm {
    #[serde(default)]
    password: String,
}

/// Shows the new-password form for a usable link; unknown, used and
/// expired links get one and the same page.
pub async fn reset_form(
    state: web::Data<AppState>,
    csrf: CsrfToken,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let token = path.into_inner();
    match recovery::reset_target(&state.accounts, &token).await? {
        Some(email) => render_reset(csrf, token, email, FieldErrors::new(), StatusCode::OK),
        None => link_invalid(),
    }
}

/// The new-password form of the link `token` for the account at `email`,
/// with the reasons a password was refused beside the field.
fn render_reset(
    csrf: CsrfToken,
    token: String,
    email: String,
    errors: FieldErrors,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let page = ResetPage {
        csrf: csrf.0,
        token,
        email,
        errors,
    };
    render_with_status(&page, status)
}

/// Sets the new password, signs out every session of the account and signs
/// this browser in.
pub async fn reset(
    state: web::Data<AppState>,
    req: HttpRequest,
    session: Session,
    csrf: CsrfToken,
    path: web::Path<String>,
    form: CsrfForm<ResetForm>,
) -> Result<HttpResponse, AppError> {
    let token = path.into_inner();
    let outcome = recovery::reset_password(
        &state.accounts,
        &token,
        &form.fields.password,
        &state.client_ip(&req),
    )
    .await;
    match outcome {
        Ok(signed_in) => {
            let data = SessionData::new(&session);
            data.sign_in(&signed_in.user_id, &signed_in.personal_workspace)?;
            data.flash(
                FlashLevel::Success,
                "Your password was changed, and every other session of your account was signed out.",
            );
            Ok(see_other("/"))
        }
        Err(ServiceError::Invalid(errors) | ServiceError::Conflict(errors)) => {
            let email = recovery::reset_target(&state.accounts, &token)
                .await?
                .unwrap_or_default();
            render_reset(csrf, token, email, errors, StatusCode::UNPROCESSABLE_ENTITY)
        }
        Err(ServiceError::NotFound) => link_invalid(),
        Err(other) => Err(other.into()),
    }
}

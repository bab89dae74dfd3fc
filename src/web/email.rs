//! `/email/verify/{token}` and `/email/change/{token}`: the pages the
//! verification and email-change links open. A GET only shows what the link
//! would do; the button POSTs it (mail scanners that fetch links change
//! nothing). Unknown, used, expired and other-purpose links all get the
//! page of [`link_invalid`].

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::AppState;
use super::csrf::{CsrfForm, CsrfToken, EmptyForm};
use super::error::AppError;
use super::page::render_with_status;
use crate::services::ServiceError;
use crate::services::accounts::{self};

/// The one page for every link that can't be used.
#[derive(Template)]
#[template(path = "email/link_invalid.html")]
pub struct LinkInvalidPage;

/// Renders [`LinkInvalidPage`] as a 404.
pub fn link_invalid() -> Result<HttpResponse, AppError> {
    render_with_status(&LinkInvalidPage, StatusCode::NOT_FOUND)
}

/// "Do you want to …?" with one button.
#[derive(Template)]
#[template(path = "email/confirm.html")]
pub struct ConfirmPage {
    csrf: String,
    title: &'static str,
    text: String,
    action: String,
    button: &'static str,
}

/// What happened, with a way on.
#[derive(Template)]
#[template(path = "email/done.html")]
pub struct DonePage {
    title: &'static str,
    text: String,
}

/// Shows what a verification link confirms.
pub async fn verify_form(
    state: web::Data<AppState>,
    csrf: CsrfToken,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let token = path.into_inner();
    match accounts::email::verification_target(&state.accounts, &token).await? {
        Some(email) => render_with_status(
            &ConfirmPage {
                csrf: csrf.0,
                title: "Confirm your email address",
                text: format!("Confirm that {email} is your email address."),
                action: format!("/email/verify/{token}"),
                button: "Confirm my email address",
            },
            StatusCode::OK,
        ),
        None => link_invalid(),
    }
}

/// Marks the address verified.
pub async fn verify(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    _form: CsrfForm<EmptyForm>,
) -> Result<HttpResponse, AppError> {
    let token = path.into_inner();
    match accounts::email::verify(&state.accounts, &token, &state.client_ip(&req)).await {
        Ok(()) => render_with_status(
            &DonePage {
                title: "Email address confirmed",
                text: "Thank you: your email address is confirmed.".into(),
            },
            StatusCode::OK,
        ),
        Err(ServiceError::NotFound) => link_invalid(),
        Err(other) => Err(other.into()),
    }
}

/// Shows the change an email-change link makes.
pub async fn change_form(
    state: web::Data<AppState>,
    csrf: CsrfToken,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let token = path.into_inner();
    match accounts::email::change_target(&state.accounts, &token).await? {
        Some((old, new)) => render_with_status(
            &ConfirmPage {
                csrf: csrf.0,
                title: "Confirm your new email address",
                text: format!("Change the email address of your account from {old} to {new}."),
                action: format!("/email/change/{token}"),
                button: "Change my email address",
            },
            StatusCode::OK,
        ),
        None => link_invalid(),
    }
}

/// Applies the email change.
pub async fn confirm_change(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    _form: CsrfForm<EmptyForm>,
) -> Result<HttpResponse, AppError> {
    let token = path.into_inner();
    match accounts::email::confirm_change(&state.accounts, &token, &state.client_ip(&req)).await {
        Ok(new) => render_with_status(
            &DonePage {
                title: "Email address changed",
                text: format!("Your account now uses {new}. Sign in with it from now on."),
            },
            StatusCode::OK,
        ),
        Err(ServiceError::Invalid(errors) | ServiceError::Conflict(errors)) => render_with_status(
            &DonePage {
                title: "Email address not changed",
                text: errors.get("email").unwrap_or_default().to_owned(),
            },
            StatusCode::CONFLICT,
        ),
        Err(ServiceError::NotFound) => link_invalid(),
        Err(other) => Err(other.into()),
    }
}

//! Sign-up, sign-in and sign-out pages. The session key is replaced at
//! sign-in (the pre-sign-in one stops working) and deleted at sign-out.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::AppState;
use super::csrf::{CsrfForm, CsrfToken, EmptyForm};
use super::error::AppError;
use super::page::{render_with_status, safe_local_path, see_other, try_again_in};
use crate::db::invitations::InvitationView;
use crate::domain::FieldErrors;
use crate::services::ServiceError;
use crate::services::accounts::{self, SignUpInput, SignedIn};
use crate::services::members;
use crate::web::session::{FlashLevel, SessionData};

/// The sign-up page.
#[derive(Template)]
#[template(path = "auth/signup.html")]
pub struct SignUpPage {
    csrf: String,
    name: String,
    email: String,
    errors: FieldErrors,
    /// The invitation being answered: its token, and the organization's name.
    invitation: Option<(String, String)>,
}

impl SignUpPage {
    /// The form again after a refused sign-up, with what was typed.
    fn again(
        csrf: CsrfToken,
        name: String,
        email: String,
        errors: FieldErrors,
        token: String,
        invitation: Option<InvitationView>,
    ) -> Self {
        SignUpPage {
            csrf: csrf.0,
            name,
            email,
            errors,
            invitation: invitation.map(|i| (token, i.workspace_name)),
        }
    }
}

/// Query of the sign-up page: an invitation link's token, when coming from one.
#[derive(Deserialize)]
pub struct SignUpQuery {
    invitation: Option<String>,
}

/// The sign-up form.
#[derive(Deserialize)]
pub struct SignUpForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    invitation: String,
}

/// Shows the sign-up form (or the dashboard to someone signed in). From an
/// invitation link, the invited email is filled in and fixed.
pub async fn signup_form(
    state: web::Data<AppState>,
    session: Session,
    csrf: CsrfToken,
    query: web::Query<SignUpQuery>,
) -> Result<HttpResponse, AppError> {
    if SessionData::new(&session).user_id().is_some() {
        return Ok(see_other("/"));
    }
    let token = query.into_inner().invitation.unwrap_or_default();
    let invitation = invitation_of(&state, &token).await?;
    let page = SignUpPage {
        csrf: csrf.0,
        name: invitation
            .as_ref()
            .map(|i| i.name.clone())
            .unwrap_or_default(),
        email: invitation
            .as_ref()
            .map(|i| i.email.clone())
            .unwrap_or_default(),
        errors: FieldErrors::new(),
        invitation: invitation.map(|i| (token, i.workspace_name)),
    };
    render_with_status(&page, StatusCode::OK)
}

/// The invitation an invitation link's token stands for, if it can still
/// be answered (no token: none).
async fn invitation_of(state: &AppState, token: &str) -> Result<Option<InvitationView>, AppError> {
    if token.is_empty() {
        return Ok(None);
    }
    Ok(members::usable_invitation(&state.members, token).await?)
}

/// Creates the account and signs it in, or re-renders the form with what
/// was typed (never the password) and a message beside each bad field.
pub async fn signup(
    state: web::Data<AppState>,
    req: HttpRequest,
    session: Session,
    csrf: CsrfToken,
    form: CsrfForm<SignUpForm>,
) -> Result<HttpResponse, AppError> {
    let SignUpForm {
        name,
        email,
        password,
        invitation: token,
    } = form.fields;
    // From an invitation link, the account is for the invited address, which
    // the link proves the person receives mail at.
    let invitation = invitation_of(&state, &token).await?;
    let email = invitation
        .as_ref()
        .map(|i| i.email.clone())
        .unwrap_or(email);
    let input = SignUpInput {
        name: name.clone(),
        email: email.clone(),
        password,
        email_verified: invitation.is_some(),
    };
    match accounts::sign_up(&state.accounts, input, &state.client_ip(&req)).await {
        Ok(signed_in) => {
            let continue_to = invitation.map(|_| format!("/invitations/{token}"));
            welcome(&session, &signed_in, continue_to.as_deref().unwrap_or("/"))
        }
        Err(refused) => {
            let (errors, status) = sign_up_refusal(refused)?;
            let page = SignUpPage::again(csrf, name, email, errors, token, invitation);
            render_with_status(&page, status)
        }
    }
}

/// Signs the new account in, greets it and continues to `next`.
fn welcome(session: &Session, signed_in: &SignedIn, next: &str) -> Result<HttpResponse, AppError> {
    let data = SessionData::new(session);
    data.sign_in(&signed_in.user_id, &signed_in.personal_workspace)?;
    data.flash(
        FlashLevel::Success,
        "Welcome to Tenantry! This is your personal workspace.",
    );
    Ok(see_other(next))
}

/// What the sign-up form shows for a refused sign-up, with which status;
/// an error that is no refusal passes through.
fn sign_up_refusal(error: ServiceError) -> Result<(FieldErrors, StatusCode), AppError> {
    match error {
        ServiceError::Invalid(errors) | ServiceError::Conflict(errors) => {
            Ok((errors, StatusCode::UNPROCESSABLE_ENTITY))
        }
        ServiceError::Throttled {
            retry_after_minutes,
        } => {
            let wait = try_again_in(retry_after_minutes);
            let message = format!("Too many sign-ups from your network. {wait}");
            Ok((
                FieldErrors::of("form", message),
                StatusCode::TOO_MANY_REQUESTS,
            ))
        }
        other => Err(other.into()),
    }
}

/// The sign-in page.
#[derive(Template)]
#[template(path = "auth/login.html")]
pub struct LoginPage {
    csrf: String,
    email: String,
    next: String,
    errors: FieldErrors,
    error: Option<String>,
    notice: Option<&'static str>,
}

/// Query of the sign-in page.
#[derive(Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
    signed_out: Option<String>,
}

/// The sign-in form.
#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
}

/// Shows the sign-in form.
pub async fn login_form(
    session: Session,
    csrf: CsrfToken,
    query: web::Query<LoginQuery>,
) -> Result<HttpResponse, AppError> {
    if SessionData::new(&session).user_id().is_some() {
        return Ok(see_other("/"));
    }
    let page = LoginPage {
        csrf: csrf.0,
        email: String::new(),
        next: query
            .next
            .as_deref()
            .and_then(safe_local_path)
            .unwrap_or("")
            .to_owned(),
        errors: FieldErrors::new(),
        error: None,
        notice: query
            .signed_out
            .is_some()
            .then_some("You have been signed out."),
    };
    render_with_status(&page, StatusCode::OK)
}

/// Signs in and continues to `next` (a local path) or the dashboard.
pub async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    session: Session,
    csrf: CsrfToken,
    form: CsrfForm<LoginForm>,
) -> Result<HttpResponse, AppError> {
    let LoginForm {
        email,
        password,
        next,
    } = form.fields;
    let client_ip = state.client_ip(&req);
    match accounts::sign_in(&state.accounts, &email, password, &client_ip).await {
        Ok(signed_in) => {
            SessionData::new(&session)
                .sign_in(&signed_in.user_id, &signed_in.personal_workspace)?;
            Ok(see_other(safe_local_path(&next).unwrap_or("/")))
        }
        Err(refused) => {
            let (errors, error, status) = sign_in_refusal(refused)?;
            let page = LoginPage {
                csrf: csrf.0,
                email,
                next: safe_local_path(&next).unwrap_or("").to_owned(),
                errors,
                error,
                notice: None,
            };
            render_with_status(&page, status)
        }
    }
}

/// What the sign-in form shows for a refused sign-in (field errors or one
/// message for the form), with which status; an error that is no refusal
/// passes through.
fn sign_in_refusal(
    error: ServiceError,
) -> Result<(FieldErrors, Option<String>, StatusCode), AppError> {
    match error {
        ServiceError::Invalid(errors) | ServiceError::Conflict(errors) => {
            Ok((errors, None, StatusCode::UNPROCESSABLE_ENTITY))
        }
        ServiceError::BadCredentials => Ok((
            FieldErrors::new(),
            Some("Wrong email or password.".into()),
            StatusCode::UNAUTHORIZED,
        )),
        ServiceError::Throttled {
            retry_after_minutes,
        } => Ok((
            FieldErrors::new(),
            Some(format!(
                "Too many failed sign-ins. {}",
                try_again_in(retry_after_minutes)
            )),
            StatusCode::TOO_MANY_REQUESTS,
        )),
        other => Err(other.into()),
    }
}

/// Ends the session (its row is deleted, so the cookie is dead everywhere).
pub async fn logout(session: Session, _form: CsrfForm<EmptyForm>) -> HttpResponse {
    SessionData::new(&session).sign_out();
    see_other("/login?signed_out=1")
}

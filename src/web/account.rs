//! `/account`: the signed-in user's profile, password and sessions.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::AppState;
use super::csrf::{CsrfForm, EmptyForm};
use super::error::AppError;
use super::page::{Page, format_time, render_with_status, see_other};
use crate::db;
use crate::db::scope::Scope;
use crate::domain::FieldErrors;
use crate::services::ServiceError;
use crate::services::accounts::email::EmailChangeRequest;
use crate::services::accounts::{self, PasswordChange};
use crate::web::session::store::DbSessionStore;
use crate::web::session::{FlashLevel, SessionData};

/// The account page.
#[derive(Template)]
#[template(path = "account/index.html")]
pub struct AccountPage {
    page: Page,
    name: String,
    profile_errors: FieldErrors,
    password_errors: FieldErrors,
    sign_out_others: bool,
    sessions: Vec<SessionRow>,
    new_email: String,
    email_errors: FieldErrors,
}

/// What the email-change form shows: what was typed and its errors.
#[derive(Default)]
struct EmailFormState {
    new_email: String,
    errors: FieldErrors,
}

/// One line of the sessions table.
pub struct SessionRow {
    public_id: String,
    device: String,
    ip: String,
    signed_in: String,
    last_seen: String,
    current: bool,
}

async fn session_rows(state: &AppState, scope: &Scope) -> Result<Vec<SessionRow>, AppError> {
    let user = scope.user_id().clone();
    let expiry =
        DbSessionStore::expiry_now(state.config.session_idle, state.config.session_lifetime);
    let sessions = state
        .db
        .read(move |conn| db::sessions::list_for_user(conn, &user, expiry))
        .await?;
    Ok(sessions
        .into_iter()
        .filter_map(|s| {
            let public_id = s.public_id?;
            Some(SessionRow {
                current: public_id == scope.session_public_id(),
                public_id,
                device: describe_user_agent(&s.user_agent),
                ip: if s.ip.is_empty() { "—".into() } else { s.ip },
                signed_in: format_time(&s.created_at),
                last_seen: format_time(&s.last_seen_at),
            })
        })
        .collect())
}

async fn render(
    state: &AppState,
    page: Page,
    name: String,
    profile_errors: FieldErrors,
    password_errors: FieldErrors,
    sign_out_others: bool,
) -> Result<HttpResponse, AppError> {
    render_with_email_form(
        state,
        page,
        name,
        (profile_errors, password_errors),
        sign_out_others,
        EmailFormState::default(),
    )
    .await
}

async fn render_with_email_form(
    state: &AppState,
    page: Page,
    name: String,
    (profile_errors, password_errors): (FieldErrors, FieldErrors),
    sign_out_others: bool,
    email_form: EmailFormState,
) -> Result<HttpResponse, AppError> {
    let status = if profile_errors.is_empty()
        && password_errors.is_empty()
        && email_form.errors.is_empty()
    {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let sessions = session_rows(state, &page.scope).await?;
    let account = AccountPage {
        page,
        name,
        profile_errors,
        password_errors,
        sign_out_others,
        sessions,
        new_email: email_form.new_email,
        email_errors: email_form.errors,
    };
    render_with_status(&account, status)
}

/// Shows the account page.
pub async fn show(state: web::Data<AppState>, page: Page) -> Result<HttpResponse, AppError> {
    let name = page.scope.user().name.clone();
    render(
        &state,
        page,
        name,
        FieldErrors::new(),
        FieldErrors::new(),
        true,
    )
    .await
}

/// The profile form.
#[derive(Deserialize)]
pub struct ProfileForm {
    #[serde(default)]
    name: String,
}

/// Renames the user.
pub async fn update_profile(
    state: web::Data<AppState>,
    page: Page,
    session: Session,
    form: CsrfForm<ProfileForm>,
) -> Result<HttpResponse, AppError> {
    match accounts::rename(&state.accounts, &page.scope, &form.fields.name).await {
        Ok(()) => {
            SessionData::new(&session).flash(FlashLevel::Success, "Your profile was saved.");
            Ok(see_other("/account"))
        }
        Err(ServiceError::Invalid(errors) | ServiceError::Conflict(errors)) => {
            render(
                &state,
                page,
                form.fields.name,
                errors,
                FieldErrors::new(),
                true,
            )
            .await
        }
        Err(other) => Err(other.into()),
    }
}

/// The password form.
#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
    sign_out_others: Option<String>,
}

/// Changes the password; with "sign out others", ends every other session.
pub async fn change_password(
    state: web::Data<AppState>,
    page: Page,
    session: Session,
    form: CsrfForm<PasswordForm>,
) -> Result<HttpResponse, AppError> {
    let PasswordForm {
        current_password,
        new_password,
        sign_out_others,
    } = form.fields;
    let sign_out_others = sign_out_others.is_some();
    let change = PasswordChange {
        current: current_password,
        new: new_password,
        sign_out_others,
    };
    match accounts::change_password(&state.accounts, &page.scope, change).await {
        Ok(ended) => {
            // A new key for this session too: the old cookie value is dead.
            session.renew();
            SessionData::new(&session).flash(FlashLevel::Success, password_changed(ended));
            Ok(see_other("/account"))
        }
        Err(ServiceError::Invalid(errors) | ServiceError::Conflict(errors)) => {
            password_form_again(&state, page, errors, sign_out_others).await
        }
        Err(other) => Err(other.into()),
    }
}

/// The account page with a refused password change again: why it was
/// refused, and the "sign out others" choice as it was made.
async fn password_form_again(
    state: &AppState,
    page: Page,
    errors: FieldErrors,
    sign_out_others: bool,
) -> Result<HttpResponse, AppError> {
    let name = page.scope.user().name.clone();
    render(
        state,
        page,
        name,
        FieldErrors::new(),
        errors,
        sign_out_others,
    )
    .await
}

/// The message after a password change that ended `ended` other sessions.
fn password_changed(ended: usize) -> String {
    match ended {
        0 => "Your password was changed.".to_owned(),
        1 => "Your password was changed and your other session was signed out.".to_owned(),
        n => format!("Your password was changed and {n} other sessions were signed out."),
    }
}

/// The email-change form.
#[derive(Deserialize)]
pub struct EmailForm {
    #[serde(default)]
    new_email: String,
    #[serde(default)]
    email_current_password: String,
}

/// Starts an email change: a confirmation link goes to the new address, a
/// notice to the old one; nothing changes until the link is followed.
pub async fn change_email(
    state: web::Data<AppState>,
    page: Page,
    session: Session,
    form: CsrfForm<EmailForm>,
) -> Result<HttpResponse, AppError> {
    let EmailForm {
        new_email,
        email_current_password,
    } = form.fields;
    let request = EmailChangeRequest {
        new_email: new_email.clone(),
        current_password: email_current_password,
    };
    match accounts::email::request_change(&state.accounts, &page.scope, request).await {
        Ok(new) => {
            SessionData::new(&session).flash(
                FlashLevel::Success,
                format!("We sent a confirmation link to {new}. Your email address changes when you follow it."),
            );
            Ok(see_other("/account"))
        }
        Err(ServiceError::Refused(message)) => {
            SessionData::new(&session).flash(FlashLevel::Error, message);
            Ok(see_other("/account"))
        }
        Err(ServiceError::Invalid(errors) | ServiceError::Conflict(errors)) => {
            email_form_again(&state, page, EmailFormState { new_email, errors }).await
        }
        Err(other) => Err(other.into()),
    }
}

/// The account page with a refused email change again: what was typed and
/// why it was refused.
async fn email_form_again(
    state: &AppState,
    page: Page,
    email_form: EmailFormState,
) -> Result<HttpResponse, AppError> {
    let name = page.scope.user().name.clone();
    let no_errors = (FieldErrors::new(), FieldErrors::new());
    render_with_email_form(state, page, name, no_errors, true, email_form).await
}

/// Sends a new verification link (at most once a minute).
pub async fn resend_verification(
    state: web::Data<AppState>,
    scope: Scope,
    session: Session,
    _form: CsrfForm<EmptyForm>,
) -> Result<HttpResponse, AppError> {
    let data = SessionData::new(&session);
    match accounts::email::resend_verification(&state.accounts, &scope).await {
        Ok(true) => data.flash(
            FlashLevel::Success,
            format!("We sent a new confirmation link to {}.", scope.user().email),
        ),
        Ok(false) => data.flash(FlashLevel::Info, "Your email address is already confirmed."),
        Err(ServiceError::Refused(message)) => data.flash(FlashLevel::Error, message),
        Err(other) => return Err(other.into()),
    }
    Ok(see_other("/account"))
}

/// Which session to sign out.
#[derive(Deserialize)]
pub struct RevokeForm {
    #[serde(default)]
    session_id: String,
}

/// Signs out one of the user's other sessions. An id that is not one of
/// theirs is "not found"; this session's own (the page offers no button
/// for it) is refused and pointed at signing out.
pub async fn revoke_session(
    state: web::Data<AppState>,
    scope: Scope,
    session: Session,
    form: CsrfForm<RevokeForm>,
) -> Result<HttpResponse, AppError> {
    let target = form.fields.session_id;
    if target == scope.session_public_id() {
        return Err(AppError::Refused(
            "This is the session you are using: sign out to end it.",
        ));
    }
    let ended = accounts::revoke_session(&state.accounts, &scope, target).await?;
    if !ended {
        return Err(AppError::NotFound);
    }
    SessionData::new(&session).flash(FlashLevel::Success, "That session was signed out.");
    Ok(see_other("/account#sessions"))
}

/// Signs out every session of the user but this one.
pub async fn revoke_other_sessions(
    state: web::Data<AppState>,
    scope: Scope,
    session: Session,
    _form: CsrfForm<EmptyForm>,
) -> Result<HttpResponse, AppError> {
    let ended = accounts::revoke_other_sessions(&state.accounts, &scope).await?;
    let message = match ended {
        0 => "There were no other sessions.".to_owned(),
        1 => "Your other session was signed out.".to_owned(),
        n => format!("{n} other sessions were signed out."),
    };
    SessionData::new(&session).flash(FlashLevel::Success, message);
    Ok(see_other("/account#sessions"))
}

/// A short "Browser on OS" for the sessions table.
pub fn describe_user_agent(user_agent: &str) -> String {
    if user_agent.is_empty() {
        return "Unknown device".into();
    }
    let browser = [
        ("Edg/", "Edge"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("Chromium/", "Chromium"),
        ("HeadlessChrome/", "Headless Chrome"),
        ("Chrome/", "Chrome"),
        ("Safari/", "Safari"),
        ("curl/", "curl"),
    ]
    .iter()
    .find(|(marker, _)| user_agent.contains(marker))
    .map(|(_, name)| *name);
    let os = [
        ("Android", "Android"),
        ("iPhone", "iOS"),
        ("iPad", "iPadOS"),
        ("Windows", "Windows"),
        ("Mac OS X", "macOS"),
        ("CrOS", "ChromeOS"),
        ("Linux", "Linux"),
    ]
    .iter()
    .find(|(marker, _)| user_agent.contains(marker))
    .map(|(_, name)| *name);
    match (browser, os) {
        (Some(b), Some(o)) => format!("{b} on {o}"),
        (Some(b), None) => b.to_owned(),
        (None, Some(o)) => format!("Browser on {o}"),
        (None, None) => user_agent.chars().take(60).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::describe_user_agent;

    #[test]
    fn user_agents_read_as_devices() {
        assert_eq!(
            describe_user_agent(
                "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"
            ),
            "Chrome on Linux"
        );
        assert_eq!(
            describe_user_agent(
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Version/17.0 Mobile/15E148 Safari/604.1"
            ),
            "Safari on iOS"
        );
        assert_eq!(describe_user_agent(""), "Unknown device");
    }
}

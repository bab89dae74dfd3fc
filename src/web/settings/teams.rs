//! `/settings/teams`: the active organization's teams — create, rename,
//! archive / restore, delete — and a way into each team its viewer
//! belongs to. Needs `teams.manage`. (A team's own members are managed on
//! its `/settings/members`, once switched into it.)

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::db::scope::Scope;
use crate::db::{self, teams::TeamRow};
use crate::domain::permission::require;
use crate::domain::time::UtcMinute;
use crate::domain::{FieldErrors, WorkspaceId, WorkspaceKind};
use crate::services::ServiceError;
use crate::services::teams::{self, TeamInput};
use crate::web::AppState;
use crate::web::csrf::{EmptyForm, ScopedForm};
use crate::web::error::AppError;
use crate::web::page::{Page, render_with_status, see_other};
use crate::web::scope::Permitted;
use crate::web::session::{FlashLevel, SessionData};

/// The Teams tab.
#[derive(Template)]
#[template(path = "settings/teams.html")]
pub struct TeamsPage {
    page: Page,
    teams: Vec<TeamView>,
    new_team: TeamInput,
    new_errors: FieldErrors,
    /// The team whose edit or delete form was refused, with what was typed
    /// and why (its form is shown open).
    refused: Option<Refused>,
}

/// A team's form that came back with errors.
pub struct Refused {
    team: WorkspaceId,
    form: TeamInput,
    confirm_name: String,
    errors: FieldErrors,
}

/// One row of the teams table.
pub struct TeamView {
    row: TeamRow,
    created: UtcMinute,
    /// Whether the viewer is a member, so may switch into it.
    enterable: bool,
}

impl TeamsPage {
    /// What the edit form of `team` shows: what was typed when it was
    /// refused, else the team as stored.
    fn edit_values(&self, team: &TeamView) -> (String, String) {
        match &self.refused {
            Some(r) if r.team == team.row.id => (r.form.name.clone(), r.form.description.clone()),
            _ => (team.row.name.clone(), team.row.description.clone()),
        }
    }

    /// Whether one of `team`'s forms was refused (its forms are shown open).
    fn was_refused(&self, team: &TeamView) -> bool {
        self.refused_for(team).is_some()
    }

    /// The message on `field` of `team`'s refused form.
    fn error_of(&self, team: &TeamView, field: &str) -> Option<&str> {
        self.refused_for(team).and_then(|r| r.errors.get(field))
    }

    /// What was typed into `team`'s delete confirmation when it was refused.
    fn confirm_typed(&self, team: &TeamView) -> &str {
        self.refused_for(team)
            .map_or("", |r| r.confirm_name.as_str())
    }

    fn refused_for(&self, team: &TeamView) -> Option<&Refused> {
        self.refused.as_ref().filter(|r| r.team == team.row.id)
    }
}

async fn render(
    state: &AppState,
    page: Page,
    new_team: (TeamInput, FieldErrors),
    refused: Option<Refused>,
) -> Result<HttpResponse, AppError> {
    let scope = page.scope.clone();
    let rows = state
        .db
        .read(move |conn| db::teams::list(conn, &scope))
        .await?;
    let teams = rows
        .into_iter()
        .map(|row| TeamView {
            enterable: page.scope.accessible(&row.id).is_some(),
            created: UtcMinute(row.created_at),
            row,
        })
        .collect();
    let status = if new_team.1.is_empty() && refused.is_none() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let (new_team, new_errors) = new_team;
    let body = TeamsPage {
        page,
        teams,
        new_team,
        new_errors,
        refused,
    };
    render_with_status(&body, status)
}

/// Lists the organization's teams (a personal workspace or a team has
/// no such page).
pub async fn index(
    state: web::Data<AppState>,
    _permitted: Permitted<require::TeamsManage>,
    page: Page,
) -> Result<HttpResponse, AppError> {
    if page.scope.workspace().kind != WorkspaceKind::Organization {
        return Err(AppError::NotFound);
    }
    render(&state, page, Default::default(), None).await
}

/// The team form.
#[derive(Deserialize)]
pub struct TeamForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
}

impl From<TeamForm> for TeamInput {
    fn from(form: TeamForm) -> Self {
        TeamInput {
            name: form.name,
            description: form.description,
        }
    }
}

/// Creates a team.
pub async fn create(
    state: web::Data<AppState>,
    _permitted: Permitted<require::TeamsManage>,
    page: Page,
    session: Session,
    form: ScopedForm<TeamForm>,
) -> Result<HttpResponse, AppError> {
    let input = TeamInput::from(form.fields);
    match teams::create(&state.db, &form.scope, input.clone()).await {
        Ok(_) => {
            let message = format!(
                "Team {} was created; the organization's owner owns it and its creator is an admin.",
                input.name.trim()
            );
            SessionData::new(&session).flash(FlashLevel::Success, message);
            Ok(see_other("/settings/teams"))
        }
        Err(ServiceError::Invalid(errors) | ServiceError::Conflict(errors)) => {
            render(&state, page, (input, errors), None).await
        }
        Err(other) => Err(other.into()),
    }
}

/// The id in the URL path; a malformed one names nothing (404).
pub(crate) fn team_id(path: &str) -> Result<WorkspaceId, AppError> {
    WorkspaceId::parse(path).ok_or(AppError::NotFound)
}

/// Renames a team and sets its description.
pub async fn update(
    state: web::Data<AppState>,
    _permitted: Permitted<require::TeamsManage>,
    page: Page,
    session: Session,
    path: web::Path<String>,
    form: ScopedForm<TeamForm>,
) -> Result<HttpResponse, AppError> {
    let team = team_id(&path)?;
    let input = TeamInput::from(form.fields);
    match teams::update(&state.db, &form.scope, team.clone(), input.clone()).await {
        Ok(()) => {
            let message = format!("Team {} was saved.", input.name.trim());
            SessionData::new(&session).flash(FlashLevel::Success, message);
            Ok(see_other("/settings/teams"))
        }
        Err(ServiceError::Invalid(errors) | ServiceError::Conflict(errors)) => {
            let refused = refused(team, input, String::new(), errors);
            render(&state, page, Default::default(), refused).await
        }
        Err(other) => Err(other.into()),
    }
}

fn refused(
    team: WorkspaceId,
    form: TeamInput,
    confirm_name: String,
    errors: FieldErrors,
) -> Option<Refused> {
    Some(Refused {
        team,
        form,
        confirm_name,
        errors,
    })
}

/// Archives a team: its members can't enter it until it is restored.
pub async fn archive(
    state: web::Data<AppState>,
    _permitted: Permitted<require::TeamsManage>,
    session: Session,
    path: web::Path<String>,
    form: ScopedForm<EmptyForm>,
) -> Result<HttpResponse, AppError> {
    set_archived(&state, &session, &path, &form.scope, true).await
}

/// Restores an archived team.
pub async fn restore(
    state: web::Data<AppState>,
    _permitted: Permitted<require::TeamsManage>,
    session: Session,
    path: web::Path<String>,
    form: ScopedForm<EmptyForm>,
) -> Result<HttpResponse, AppError> {
    set_archived(&state, &session, &path, &form.scope, false).await
}

async fn set_archived(
    state: &AppState,
    session: &Session,
    path: &str,
    scope: &Scope,
    archived: bool,
) -> Result<HttpResponse, AppError> {
    let name = teams::set_archived(&state.db, scope, team_id(path)?, archived).await?;
    let message = if archived {
        format!("Team {name} was archived; its members can't enter it until it is restored.")
    } else {
        format!("Team {name} was restored.")
    };
    SessionData::new(session).flash(FlashLevel::Success, message);
    Ok(see_other("/settings/teams"))
}

/// The delete form: the team's name, typed to confirm.
#[derive(Deserialize)]
pub struct DeleteForm {
    #[serde(default)]
    confirm_name: String,
}

/// Deletes a team with its memberships and roles.
pub async fn delete(
    state: web::Data<AppState>,
    _permitted: Permitted<require::TeamsManage>,
    page: Page,
    session: Session,
    path: web::Path<String>,
    form: ScopedForm<DeleteForm>,
) -> Result<HttpResponse, AppError> {
    let team = team_id(&path)?;
    let confirm = form.fields.confirm_name;
    match teams::delete(&state.db, &form.scope, team.clone(), &confirm).await {
        Ok(name) => {
            SessionData::new(&session)
                .flash(FlashLevel::Success, format!("Team {name} was deleted."));
            Ok(see_other("/settings/teams"))
        }
        Err(ServiceError::Invalid(errors)) => {
            let refused = refused(team, TeamInput::default(), confirm, errors);
            render(&state, page, Default::default(), refused).await
        }
        Err(other) => Err(other.into()),
    }
}

//! `/settings/resources`: the Resources tab — running agents and agent
//! hours this month against their limits, for the active workspace and, in
//! an organization, each of its teams; with `resources.manage` in an
//! organization, the forms that set them. Seeing it needs `resources.read`.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::domain::permission::require;
use crate::domain::{FieldErrors, Permission, WorkspaceKind};
use crate::services::ServiceError;
use crate::services::resources::{self, LimitsInput, Usage};
use crate::web::AppState;
use crate::web::csrf::ScopedForm;
use crate::web::error::AppError;
use crate::web::page::{Page, render_with_status, see_other};
use crate::web::scope::Permitted;
use crate::web::session::{FlashLevel, SessionData};

/// The Resources tab.
#[derive(Template)]
#[template(path = "settings/resources.html")]
pub struct ResourcesPage {
    page: Page,
    rows: Vec<Usage>,
    /// Whether the viewer may change the limits here.
    editable: bool,
    /// A refused limits form: what was typed and why.
    refused: Option<(LimitsInput, FieldErrors)>,
    /// In an organization: members with agents running, and how many.
    members: Vec<(String, String, i32)>,
}

impl ResourcesPage {
    /// The values a row's form shows: as typed if it was refused, else as stored.
    /// The per-member quota as the organization's form shows it.
    fn typed_per_member(&self, row: &Usage) -> String {
        match &self.refused {
            Some((input, _)) if input.workspace_id == row.workspace_id.as_str() => {
                input.max_agents_per_member.clone()
            }
            _ => row
                .max_agents_per_member
                .map(|n| n.to_string())
                .unwrap_or_default(),
        }
    }

    fn typed(&self, row: &Usage) -> (String, String, String) {
        let stored = |limit: Option<i32>| limit.map(|n| n.to_string()).unwrap_or_default();
        match &self.refused {
            Some((input, _)) if input.workspace_id == row.workspace_id.as_str() => (
                input.max_running_agents.clone(),
                input.max_agent_hours.clone(),
                input.max_app_instances.clone(),
            ),
            _ => (
                stored(row.max_running_agents),
                stored(row.max_agent_hours),
                stored(row.max_app_instances),
            ),
        }
    }

    /// The message on `field` of `row`'s refused form.
    fn error_of(&self, row: &Usage, field: &str) -> Option<&str> {
        self.refused
            .as_ref()
            .filter(|(input, _)| input.workspace_id == row.workspace_id.as_str())
            .and_then(|(_, errors)| errors.get(field))
    }

    /// Running agents as a percentage of their limit, for the bar.
    fn agents_bar(&self, row: &Usage) -> u32 {
        percent(f64::from(row.running_agents), row.max_running_agents)
    }

    /// Hours this month as a percentage of their limit, for the bar.
    fn hours_bar(&self, row: &Usage) -> u32 {
        percent(row.hours, row.max_agent_hours)
    }

    /// Hours this month, to a tenth.
    fn hours_of(&self, row: &Usage) -> String {
        format!("{:.1}", row.hours)
    }
}

/// A usage as a percentage of its limit (a limit of 0 is full at once).
fn percent(used: f64, limit: Option<i32>) -> u32 {
    match limit {
        Some(limit) if limit > 0 => ((used / f64::from(limit)) * 100.0).clamp(0.0, 100.0) as u32,
        Some(_) => 100,
        None => 0,
    }
}

async fn render(
    state: &AppState,
    page: Page,
    refused: Option<(LimitsInput, FieldErrors)>,
) -> Result<HttpResponse, AppError> {
    let resources::Overview { rows, members } = resources::overview(&state.db, &page.scope).await?;
    let editable = page.scope.workspace().kind == WorkspaceKind::Organization
        && page.scope.can(Permission::ResourcesManage);
    let status = if refused.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let body = ResourcesPage {
        page,
        rows,
        editable,
        refused,
        members,
    };
    render_with_status(&body, status)
}

/// Shows usage against limits.
pub async fn index(
    state: web::Data<AppState>,
    _permitted: Permitted<require::ResourcesRead>,
    page: Page,
) -> Result<HttpResponse, AppError> {
    render(&state, page, None).await
}

/// The limits form of one row.
#[derive(Deserialize)]
pub struct LimitsForm {
    #[serde(default)]
    workspace_id: String,
    #[serde(default)]
    max_running_agents: String,
    #[serde(default)]
    max_agent_hours: String,
    #[serde(default)]
    max_app_instances: String,
    #[serde(default)]
    max_agents_per_member: String,
}

/// Sets the limits of the organization or of one of its teams.
pub async fn set_limits(
    state: web::Data<AppState>,
    _permitted: Permitted<require::ResourcesManage>,
    page: Page,
    session: Session,
    form: ScopedForm<LimitsForm>,
) -> Result<HttpResponse, AppError> {
    let input = LimitsInput {
        workspace_id: form.fields.workspace_id,
        max_running_agents: form.fields.max_running_agents,
        max_agent_hours: form.fields.max_agent_hours,
        max_app_instances: form.fields.max_app_instances,
        max_agents_per_member: form.fields.max_agents_per_member,
    };
    match resources::set_limits(&state.db, &form.scope, input.clone()).await {
        Ok(name) => {
            let message = format!("The limits of {name} were saved.");
            SessionData::new(&session).flash(FlashLevel::Success, message);
            Ok(see_other("/settings/resources"))
        }
        Err(ServiceError::Invalid(errors)) => render(&state, page, Some((input, errors))).await,
        Err(other) => Err(other.into()),
    }
}

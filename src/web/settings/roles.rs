//! `/settings/roles`: the system roles (read-only) and custom roles of the
//! active organization, with presets, grouped permission checkboxes and
//! inheritance. Needs `roles.manage`.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::db::scope::Scope;
use crate::db::{self, roles::RoleDetail};
use crate::domain::permission::require;
use crate::domain::{FieldErrors, Permission, PermissionSet, RoleId, SystemRole};
use crate::services::ServiceError;
use crate::services::roles::{self, PRESETS, Preset, RoleInput};
use crate::web::AppState;
use crate::web::csrf::{EmptyForm, ScopedForm};
use crate::web::error::AppError;
use crate::web::page::{Page, render_with_status, see_other};
use crate::web::scope::Permitted;
use crate::web::session::{FlashLevel, SessionData};

/// The roles page.
#[derive(Template)]
#[template(path = "settings/roles.html")]
pub struct RolesPage {
    page: Page,
    roles: Vec<RoleRow>,
    presets: &'static [Preset],
}

/// One role in the list.
pub struct RoleRow {
    id: String,
    name: String,
    description: String,
    system: bool,
    level: i32,
    permissions: Vec<&'static str>,
    members: i64,
    editable: bool,
}

/// One group of checkboxes.
pub struct PermissionGroup {
    pub(crate) name: &'static str,
    pub(crate) permissions: Vec<Permission>,
}

/// The permissions the viewer holds, grouped as the catalogue groups them:
/// what a role (or an API key) they make may be given.
pub(crate) fn groups(scope: &Scope) -> Vec<PermissionGroup> {
    let mut groups: Vec<PermissionGroup> = Vec::new();
    for permission in Permission::ALL
        .iter()
        .copied()
        .filter(|p| !p.is_owner_only())
    {
        if !scope.can(permission) {
            continue;
        }
        match groups.iter_mut().find(|g| g.name == permission.group()) {
            Some(group) => group.permissions.push(permission),
            None => groups.push(PermissionGroup {
                name: permission.group(),
                permissions: vec![permission],
            }),
        }
    }
    groups
}

async fn load(state: &AppState, scope: &Scope) -> Result<Vec<(RoleDetail, i64)>, AppError> {
    let scope = scope.clone();
    Ok(state
        .db
        .read(move |conn| db::roles::list(conn, &scope))
        .await?)
}

/// Lists the roles.
pub async fn index(
    state: web::Data<AppState>,
    _permitted: Permitted<require::RolesManage>,
    page: Page,
) -> Result<HttpResponse, AppError> {
    let roles = load(&state, &page.scope)
        .await?
        .into_iter()
        .map(|(r, members)| RoleRow {
            id: r.id.to_string(),
            editable: r.system_key.is_none() && r.level < page.scope.role_level(),
            permissions: PermissionSet::of_role(r.system_key, &r.permissions)
                .iter()
                .map(Permission::label)
                .collect(),
            system: r.system_key.is_some(),
            name: r.name,
            description: r.description,
            level: r.level,
            members,
        })
        .collect();
    render_with_status(
        &RolesPage {
            page,
            roles,
            presets: PRESETS,
        },
        StatusCode::OK,
    )
}

/// The create / edit form.
#[derive(Template)]
#[template(path = "settings/roles_form.html")]
pub struct RoleFormPage {
    page: Page,
    action: String,
    editing: bool,
    form: RoleInput,
    errors: FieldErrors,
    groups: Vec<PermissionGroup>,
    parents: Vec<(String, String)>,
    /// Permissions the edited role holds that the editor doesn't: not
    /// shown as checkboxes, kept as they are on save.
    kept: Vec<&'static str>,
}

async fn form_page(
    state: &AppState,
    page: Page,
    action: String,
    editing: Option<&RoleId>,
    form: RoleInput,
    errors: FieldErrors,
) -> Result<HttpResponse, AppError> {
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let roles: Vec<RoleDetail> = load(state, &page.scope)
        .await?
        .into_iter()
        .map(|(role, _)| role)
        .collect();
    let body = RoleFormPage {
        kept: kept_permissions(&roles, editing, &page.scope),
        parents: parent_choices(roles, editing),
        groups: groups(&page.scope),
        page,
        action,
        editing: editing.is_some(),
        form,
        errors,
    };
    render_with_status(&body, status)
}

/// What the edited role holds that the editor doesn't (so can't see as
/// checkboxes, and saving keeps as it is).
fn kept_permissions(
    roles: &[RoleDetail],
    editing: Option<&RoleId>,
    scope: &Scope,
) -> Vec<&'static str> {
    roles
        .iter()
        .find(|r| Some(&r.id) == editing)
        .map(|r| {
            PermissionSet::from_stored(&r.own_permissions)
                .difference(scope.permissions())
                .iter()
                .map(Permission::label)
                .collect()
        })
        .unwrap_or_default()
}

/// The roles a role may inherit from, as (id, name) for the menu: any but
/// the owner role and the edited role itself.
fn parent_choices(roles: Vec<RoleDetail>, editing: Option<&RoleId>) -> Vec<(String, String)> {
    roles
        .into_iter()
        .filter(|r| r.system_key != Some(SystemRole::Owner) && Some(&r.id) != editing)
        .map(|r| (r.id.to_string(), r.name))
        .collect()
}

/// Query of the new-role page.
#[derive(Deserialize)]
pub struct NewQuery {
    preset: Option<String>,
}

/// Shows the new-role form, optionally filled from a preset.
pub async fn new_form(
    state: web::Data<AppState>,
    _permitted: Permitted<require::RolesManage>,
    page: Page,
    query: web::Query<NewQuery>,
) -> Result<HttpResponse, AppError> {
    let preset = query
        .preset
        .as_deref()
        .and_then(|key| PRESETS.iter().find(|p| p.key == key));
    let form = match preset {
        Some(p) => RoleInput {
            name: p.name.into(),
            description: p.description.into(),
            level: p.level.to_string(),
            permissions: p.permissions.iter().map(|p| p.key().to_owned()).collect(),
            inherits_from: String::new(),
        },
        None => RoleInput {
            level: "20".into(),
            ..RoleInput::default()
        },
    };
    form_page(
        &state,
        page,
        "/settings/roles".into(),
        None,
        form,
        FieldErrors::new(),
    )
    .await
}

/// Creates a role.
pub async fn create(
    state: web::Data<AppState>,
    _permitted: Permitted<require::RolesManage>,
    page: Page,
    session: Session,
    form: ScopedForm<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let input = RoleInput::from_pairs(form.fields);
    match roles::create(&state.db, &form.scope, input.clone()).await {
        Ok(_) => {
            SessionData::new(&session).flash(
                FlashLevel::Success,
                format!("The role {} was created.", input.name.trim()),
            );
            Ok(see_other("/settings/roles"))
        }
        Err(ServiceError::Invalid(errors) | ServiceError::Conflict(errors)) => {
            form_page(&state, page, "/settings/roles".into(), None, input, errors).await
        }
        Err(other) => Err(other.into()),
    }
}

/// The id in the URL path; a malformed one names nothing (404).
pub(crate) fn role_id(path: &str) -> Result<RoleId, AppError> {
    RoleId::parse(path).ok_or(AppError::NotFound)
}

/// Shows a custom role's edit form.
pub async fn edit_form(
    state: web::Data<AppState>,
    _permitted: Permitted<require::RolesManage>,
    page: Page,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = role_id(&path)?;
    let (scope, lookup) = (page.scope.clone(), id.clone());
    let role = state
        .db
        .read(move |conn| db::roles::find(conn, &scope, &lookup))
        .await?;
    if role.system_key.is_some() || role.level >= page.scope.role_level() {
        return Err(AppError::Refused(
            "You can only edit custom roles ranked below yours.",
        ));
    }
    form_page(
        &state,
        page,
        format!("/settings/roles/{id}"),
        Some(&id),
        filled_from(role),
        FieldErrors::new(),
    )
    .await
}

/// The edit form filled with a stored custom role.
fn filled_from(role: RoleDetail) -> RoleInput {
    RoleInput {
        name: role.name,
        description: role.description,
        level: role.level.to_string(),
        permissions: PermissionSet::from_stored(&role.own_permissions)
            .iter()
            .map(|p| p.key().to_owned())
            .collect(),
        inherits_from: role
            .inherits_from_id
            .map(|id| id.to_string())
            .unwrap_or_default(),
    }
}

/// Saves a custom role.
pub async fn update(
    state: web::Data<AppState>,
    _permitted: Permitted<require::RolesManage>,
    page: Page,
    session: Session,
    path: web::Path<String>,
    form: ScopedForm<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let id = role_id(&path)?;
    let input = RoleInput::from_pairs(form.fields);
    match roles::update(&state.db, &form.scope, id.clone(), input.clone()).await {
        Ok(()) => {
            SessionData::new(&session).flash(
                FlashLevel::Success,
                format!("The role {} was saved.", input.name.trim()),
            );
            Ok(see_other("/settings/roles"))
        }
        Err(ServiceError::Invalid(errors) | ServiceError::Conflict(errors)) => {
            form_page(
                &state,
                page,
                format!("/settings/roles/{id}"),
                Some(&id),
                input,
                errors,
            )
            .await
        }
        Err(other) => Err(other.into()),
    }
}

/// Deletes a custom role nobody holds.
pub async fn delete(
    state: web::Data<AppState>,
    _permitted: Permitted<require::RolesManage>,
    session: Session,
    path: web::Path<String>,
    form: ScopedForm<EmptyForm>,
) -> Result<HttpResponse, AppError> {
    let id = role_id(&path)?;
    let name = roles::delete(&state.db, &form.scope, id).await?;
    SessionData::new(&session).flash(FlashLevel::Success, format!("The role {name} was deleted."));
    Ok(see_other("/settings/roles"))
}

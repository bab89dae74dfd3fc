//! `/api/v1/organizations/{org_id}/roles…` with a member's API key, in
//! seed 003's shapes: list (`members.read`), and create, update and delete
//! custom roles (`roles.manage`) through the same service and rules as
//! the Roles tab: only roles ranked below the caller's, never with a
//! permission the key lacks, system roles untouchable; audited.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::db;
use crate::db::members::RoleRow;
use crate::db::roles::RoleDetail;
use crate::db::scope::Scope;
use crate::domain::{Permission, PermissionSet, RoleId};
use crate::services::roles::{self, RoleInput};
use crate::web::AppState;
use crate::web::api::{ApiScope, own_workspace};
use crate::web::error::{ApiError, AppError};
use crate::web::settings::roles::role_id;

/// The roles query.
#[derive(Deserialize, IntoParams)]
pub struct RolesQuery {
    /// Whether to list the system roles too (default true).
    #[serde(default)]
    include_system: Option<bool>,
}

/// A role of the workspace; `name` is a system role's key.
#[derive(Serialize, ToSchema)]
pub struct RoleBody {
    id: String,
    name: String,
    description: String,
    /// Everything the role allows (its own and inherited).
    permissions: Vec<&'static str>,
    is_system: bool,
    /// Rank: a member acts only on members and roles ranked below theirs.
    level: i32,
    /// The role it inherits from.
    inherits_from: Option<String>,
    member_count: i32,
}

impl RoleBody {
    fn of(r: RoleDetail) -> Self {
        RoleBody {
            permissions: PermissionSet::of_role(r.system_key, &r.permissions)
                .iter()
                .map(Permission::key)
                .collect(),
            name: r.system_key.map_or(r.name, |s| s.as_str().to_owned()),
            id: r.id.to_string(),
            description: r.description,
            is_system: r.system_key.is_some(),
            level: r.level,
            inherits_from: r.inherits_from_id.map(|id| id.to_string()),
            member_count: r.member_count,
        }
    }
}

/// The workspace's roles, highest rank first (`members.read`).
#[utoipa::path(
    get,
    path = "/api/v1/organizations/{org_id}/roles",
    tag = "member",
    params(("org_id" = String, Path, description = "The key's workspace"), RolesQuery),
    security(("member_key" = [])),
    responses(
        (status = 200, description = "The roles, highest rank first", body = Vec<RoleBody>),
        (status = 400, description = "include_system isn't true or false", body = ApiError),
        (status = 401, description = "No key, or one that doesn't work", body = ApiError),
        (status = 403, description = "The key lacks members.read", body = ApiError),
        (status = 404, description = "Not the key's workspace", body = ApiError),
    )
)]
pub async fn list(
    state: web::Data<AppState>,
    ApiScope(scope): ApiScope,
    org_id: web::Path<String>,
    query: web::Query<RolesQuery>,
) -> Result<HttpResponse, AppError> {
    own_workspace(&scope, &org_id)?;
    scope.require(Permission::MembersRead)?;
    let include_system = query.include_system.unwrap_or(true);
    let read_scope = scope.clone();
    let roles = state
        .db
        .read(move |conn| db::roles::all(conn, &read_scope))
        .await?;
    let body: Vec<RoleBody> = roles
        .into_iter()
        .filter(|r| include_system || r.system_key.is_none())
        .map(RoleBody::of)
        .collect();
    Ok(HttpResponse::Ok().json(body))
}

/// A custom role's fields. On update, absent fields stay as they are.
#[derive(Deserialize, ToSchema)]
pub struct RoleFields {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    description: Option<String>,
    /// Permission keys (`members.read`, …) the role holds besides what it
    /// inherits.
    #[serde(default)]
    permissions: Option<Vec<String>>,
    /// Rank, below the caller's (default: ten above the role it inherits
    /// from, or 20, a little above the member role; at most just below the
    /// caller's).
    #[serde(default)]
    level: Option<i32>,
    /// A role ranked below this one, by id or name (`member`); empty for
    /// none.
    #[serde(default)]
    inherits_from: Option<String>,
}

/// The role named by id, name or system key, for `inherits_from`; what was
/// typed when none matches (the service then says so).
fn role_ref(roles: &[RoleRow], typed: &str) -> String {
    roles
        .iter()
        .find(|r| {
            r.id.as_str() == typed
                || r.name.eq_ignore_ascii_case(typed)
                || r.system_key.is_some_and(|s| s.as_str() == typed)
        })
        .map_or_else(|| typed.to_owned(), |r| r.id.to_string())
}

/// A new role's rank when none is given: ten above the role it inherits
/// from (or 20, just above the member role's 10), and below the caller's.
fn default_level(scope: &Scope, roles: &[RoleRow], inherits_from: &str) -> i32 {
    let above = roles
        .iter()
        .find(|r| r.id.as_str() == inherits_from)
        .map_or(20, |parent| parent.level + 10);
    above.min(scope.role_level() - 1)
}

/// The key's workspace's roles, highest rank first: what `inherits_from`
/// may name.
async fn workspace_roles(state: &AppState, scope: &Scope) -> Result<Vec<RoleRow>, AppError> {
    let scope = scope.clone();
    Ok(state
        .db
        .read(move |conn| db::members::roles(conn, &scope))
        .await?)
}

/// The path's workspace, for a key that may manage roles.
fn managing(scope: &Scope, org_id: &str) -> Result<(), AppError> {
    own_workspace(scope, org_id)?;
    Ok(scope.require(Permission::RolesManage)?)
}

/// One role of the workspace, as now stored.
async fn find(state: &AppState, scope: &Scope, id: RoleId) -> Result<RoleDetail, AppError> {
    let scope = scope.clone();
    Ok(state
        .db
        .read(move |conn| db::roles::find(conn, &scope, &id))
        .await?)
}

/// Creates a custom role (`roles.manage`).
#[utoipa::path(
    post,
    path = "/api/v1/organizations/{org_id}/roles",
    tag = "member",
    params(("org_id" = String, Path, description = "The key's workspace")),
    security(("member_key" = [])),
    request_body = RoleFields,
    responses(
        (status = 201, description = "Created", body = RoleBody),
        (status = 400, description = "A body that isn't the expected JSON", body = ApiError),
        (status = 401, description = "No key, or one that doesn't work", body = ApiError),
        (status = 403, description = "The key lacks roles.manage", body = ApiError),
        (status = 404, description = "Not the key's workspace", body = ApiError),
        (status = 409, description = "The caller's membership changed meanwhile", body = ApiError),
        (status = 415, description = "Not JSON", body = ApiError),
        (status = 422, description = "An invalid field: a taken name, a rank at or above the caller's, a permission the key lacks", body = ApiError),
    )
)]
pub async fn create(
    state: web::Data<AppState>,
    ApiScope(scope): ApiScope,
    org_id: web::Path<String>,
    fields: web::Json<RoleFields>,
) -> Result<HttpResponse, AppError> {
    managing(&scope, &org_id)?;
    let fields = fields.into_inner();
    let known = workspace_roles(&state, &scope).await?;
    let inherits_from = role_ref(&known, fields.inherits_from.as_deref().unwrap_or(""));
    let level = fields
        .level
        .unwrap_or_else(|| default_level(&scope, &known, &inherits_from));
    let input = RoleInput {
        name: fields.name.unwrap_or_default(),
        description: fields.description.unwrap_or_default(),
        level: level.to_string(),
        permissions: fields.permissions.unwrap_or_default(),
        inherits_from,
    };
    let id = roles::create(&state.db, &scope, input).await?;
    let body = RoleBody::of(find(&state, &scope, id.clone()).await?);
    Ok(HttpResponse::Created()
        .insert_header((
            header::LOCATION,
            format!("/api/v1/organizations/{org_id}/roles/{id}"),
        ))
        .json(body))
}

/// Updates a custom role ranked below the caller's (`roles.manage`);
/// members holding it are affected at once.
#[utoipa::path(
    patch,
    path = "/api/v1/organizations/{org_id}/roles/{role_id}",
    tag = "member",
    params(
        ("org_id" = String, Path, description = "The key's workspace"),
        ("role_id" = String, Path, description = "A custom role"),
    ),
    security(("member_key" = [])),
    request_body = RoleFields,
    responses(
        (status = 200, description = "The role as saved", body = RoleBody),
        (status = 400, description = "A body that isn't the expected JSON", body = ApiError),
        (status = 401, description = "No key, or one that doesn't work", body = ApiError),
        (status = 403, description = "The key lacks roles.manage", body = ApiError),
        (status = 404, description = "No such role in the key's workspace", body = ApiError),
        (status = 409, description = "A system role, or one ranked at or above the caller's", body = ApiError),
        (status = 415, description = "Not JSON", body = ApiError),
        (status = 422, description = "An invalid field", body = ApiError),
    )
)]
pub async fn update(
    state: web::Data<AppState>,
    ApiScope(scope): ApiScope,
    path: web::Path<(String, String)>,
    fields: web::Json<RoleFields>,
) -> Result<HttpResponse, AppError> {
    let (org_id, id) = path.into_inner();
    managing(&scope, &org_id)?;
    let id = role_id(&id)?;
    let now = find(&state, &scope, id.clone()).await?;
    let fields = fields.into_inner();
    let input = RoleInput {
        name: fields.name.unwrap_or(now.name),
        description: fields.description.unwrap_or(now.description),
        level: fields.level.unwrap_or(now.level).to_string(),
        permissions: fields.permissions.unwrap_or_else(|| {
            now.own_permissions
                .split_whitespace()
                .map(str::to_owned)
                .collect()
        }),
        inherits_from: match fields.inherits_from {
            Some(typed) => role_ref(&workspace_roles(&state, &scope).await?, &typed),
            None => now
                .inherits_from_id
                .map(|r| r.to_string())
                .unwrap_or_default(),
        },
    };
    roles::update(&state.db, &scope, id.clone(), input).await?;
    state.api_keys.cache.forget_all();
    Ok(HttpResponse::Ok().json(RoleBody::of(find(&state, &scope, id).await?)))
}

/// Deletes a custom role no member holds and no pending invitation offers
/// (`roles.manage`).
#[utoipa::path(
    delete,
    path = "/api/v1/organizations/{org_id}/roles/{role_id}",
    tag = "member",
    params(
        ("org_id" = String, Path, description = "The key's workspace"),
        ("role_id" = String, Path, description = "A custom role"),
    ),
    security(("member_key" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "No key, or one that doesn't work", body = ApiError),
        (status = 403, description = "The key lacks roles.manage", body = ApiError),
        (status = 404, description = "No such role in the key's workspace", body = ApiError),
        (status = 409, description = "A system role, one ranked at or above the caller's, or one still held or offered", body = ApiError),
    )
)]
pub async fn delete(
    state: web::Data<AppState>,
    ApiScope(scope): ApiScope,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let (org_id, id) = path.into_inner();
    managing(&scope, &org_id)?;
    roles::delete(&state.db, &scope, role_id(&id)?).await?;
    Ok(HttpResponse::NoContent().finish())
}

//! `/api/v1/organizations…` with a member's API key, in seed 003's shapes,
//! through the same services and rules as the Organizations page and the
//! General and Danger zone tabs.
//!
//! A key opens one workspace. A personal key (the user's own) lists every
//! organization and team the user belongs to, and is the one that creates
//! organizations and restores archived ones; an organization's or team's
//! key sees only its own workspace, so a key leaked from one organization
//! reveals nothing of the user's others.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db;
use crate::db::organizations::Profile;
use crate::db::scope::Scope;
use crate::domain::{Permission, PermissionSet, UserId, WorkspaceId};
use crate::services::organizations::{self, GeneralInput, NewOrganization};
use crate::web::AppState;
use crate::web::api::{ApiScope, own_workspace};
use crate::web::error::{ApiError, AppError};

/// An organization or team, with the caller's role in it.
#[derive(Serialize, ToSchema)]
pub struct OrganizationBody {
    id: String,
    /// `organization` or `team`.
    kind: &'static str,
    name: String,
    /// Organizations only.
    slug: Option<String>,
    /// A team's organization.
    parent_id: Option<String>,
    description: String,
    owner_id: Option<String>,
    billing_email: Option<String>,
    billing_address: String,
    /// `active`, `suspended` or `archived`.
    status: &'static str,
    is_active: bool,
    /// Agents that may run at once; null for no limit.
    max_concurrent_agents: Option<i32>,
    /// Hours an agent may run; null for no limit.
    max_agent_runtime_hours: Option<i32>,
    /// The caller's role: a system role's key or a custom role's name.
    role: String,
    created_at: String,
}

impl OrganizationBody {
    fn of(profile: Profile, owner: Option<UserId>) -> Self {
        OrganizationBody {
            id: profile.id.to_string(),
            kind: profile.kind.as_str(),
            name: profile.name,
            slug: profile.slug,
            parent_id: profile.parent_id.map(|id| id.to_string()),
            description: profile.description,
            owner_id: owner.map(|id| id.to_string()),
            billing_email: Some(profile.billing_email).filter(|e| !e.is_empty()),
            billing_address: profile.billing_address,
            status: profile.status.as_str(),
            is_active: profile.status == crate::domain::WorkspaceStatus::Active,
            max_concurrent_agents: profile.max_running_agents,
            max_agent_runtime_hours: profile.max_agent_hours,
            role: profile
                .role_system_key
                .map_or(profile.role_name, |s| s.as_str().to_owned()),
            created_at: profile.created_at.and_utc().to_rfc3339(),
        }
    }
}

/// An organization or team in the list.
#[derive(Serialize, ToSchema)]
pub struct OrganizationListItem {
    id: String,
    kind: &'static str,
    name: String,
    slug: Option<String>,
    parent_id: Option<String>,
    status: &'static str,
    /// The caller's role.
    role: String,
}

/// The organization `workspace` as `user` sees it; 404 unless they are
/// an active member.
async fn profile(
    state: &AppState,
    user: UserId,
    workspace: WorkspaceId,
) -> Result<OrganizationBody, AppError> {
    let found = state
        .db
        .read(move |conn| db::organizations::profile_for_member(conn, &user, &workspace))
        .await?;
    let (profile, owner) = found.ok_or(AppError::NotFound)?;
    Ok(OrganizationBody::of(profile, owner))
}

/// Refuses unless the key is its user's own personal key with everything
/// the user may do there: acts on the user's account, not one workspace.
fn require_personal_key(scope: &Scope) -> Result<(), AppError> {
    if scope.is_personal() && scope.permissions() == PermissionSet::all() {
        Ok(())
    } else {
        Err(AppError::Refused(
            "Use a personal API key whose scope is everything you may do: creating and restoring organizations acts on your account.",
        ))
    }
}

/// The organizations and teams the caller belongs to (a personal key), or
/// the key's own organization or team.
#[utoipa::path(
    get,
    path = "/api/v1/organizations",
    tag = "member",
    security(("member_key" = [])),
    responses(
        (status = 200, description = "Organizations and teams with the caller's role", body = Vec<OrganizationListItem>),
        (status = 401, description = "No key, or one that doesn't work", body = ApiError),
    )
)]
pub async fn list(
    state: web::Data<AppState>,
    ApiScope(scope): ApiScope,
) -> Result<HttpResponse, AppError> {
    let workspaces = if scope.is_personal() {
        let user = scope.user_id().clone();
        state
            .db
            .read(move |conn| db::workspaces::accessible_to(conn, &user))
            .await?
    } else {
        vec![scope.workspace().clone()]
    };
    let body: Vec<OrganizationListItem> = workspaces
        .into_iter()
        .filter(|w| !w.kind.is_personal())
        .map(|w| OrganizationListItem {
            id: w.workspace_id.to_string(),
            kind: w.kind.as_str(),
            name: w.name,
            slug: w.slug,
            parent_id: w.parent_id.map(|id| id.to_string()),
            status: w.status.as_str(),
            role: w
                .role_system_key
                .map_or(w.role_name, |s| s.as_str().to_owned()),
        })
        .collect();
    Ok(HttpResponse::Ok().json(body))
}

/// A new organization.
#[derive(Deserialize, ToSchema)]
pub struct NewOrganizationBody {
    name: String,
    /// Generated from the name when absent.
    #[serde(default)]
    slug: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    billing_email: Option<String>,
}

/// Creates an organization owned by the caller (a personal key with its
/// full scope).
#[utoipa::path(
    post,
    path = "/api/v1/organizations",
    tag = "member",
    security(("member_key" = [])),
    request_body = NewOrganizationBody,
    responses(
        (status = 201, description = "Created; the caller is its owner", body = OrganizationBody),
        (status = 400, description = "A body that isn't the expected JSON", body = ApiError),
        (status = 401, description = "No key, or one that doesn't work", body = ApiError),
        (status = 409, description = "Not a personal key with its full scope", body = ApiError),
        (status = 415, description = "Not JSON", body = ApiError),
        (status = 422, description = "An invalid or taken field", body = ApiError),
        (status = 429, description = "Too many organizations created from this address", body = ApiError),
    )
)]
pub async fn create(
    state: web::Data<AppState>,
    ApiScope(scope): ApiScope,
    body: web::Json<NewOrganizationBody>,
) -> Result<HttpResponse, AppError> {
    require_personal_key(&scope)?;
    let body = body.into_inner();
    let input = NewOrganization {
        name: body.name,
        slug: body.slug.unwrap_or_default(),
        description: body.description.unwrap_or_default(),
        billing_email: body.billing_email.unwrap_or_default(),
    };
    let id = organizations::create(&state.organizations, &scope, input).await?;
    let created = profile(&state, scope.user_id().clone(), id.clone()).await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/api/v1/organizations/{id}")))
        .json(created))
}

/// The key's organization or team.
#[utoipa::path(
    get,
    path = "/api/v1/organizations/{org_id}",
    tag = "member",
    params(("org_id" = String, Path, description = "The key's workspace")),
    security(("member_key" = [])),
    responses(
        (status = 200, description = "The organization", body = OrganizationBody),
        (status = 401, description = "No key, or one that doesn't work", body = ApiError),
        (status = 404, description = "Not the key's organization or team", body = ApiError),
    )
)]
pub async fn show(
    state: web::Data<AppState>,
    ApiScope(scope): ApiScope,
    org_id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    own_workspace(&scope, &org_id)?;
    let body = profile(
        &state,
        scope.user_id().clone(),
        scope.workspace_id().clone(),
    )
    .await?;
    Ok(HttpResponse::Ok().json(body))
}

/// Changes to an organization; absent fields stay as they are.
#[derive(Deserialize, ToSchema)]
pub struct OrganizationPatch {
    #[serde(default)]
    name: Option<String>,
    /// Organizations only.
    #[serde(default)]
    slug: Option<String>,
    #[serde(default)]
    description: Option<String>,
    /// Empty to unset.
    #[serde(default)]
    billing_email: Option<String>,
    #[serde(default)]
    billing_address: Option<String>,
}

/// Updates the key's organization or team (`org.update`); audited like
/// the General tab.
#[utoipa::path(
    patch,
    path = "/api/v1/organizations/{org_id}",
    tag = "member",
    params(("org_id" = String, Path, description = "The key's workspace")),
    security(("member_key" = [])),
    request_body = OrganizationPatch,
    responses(
        (status = 200, description = "The organization as saved", body = OrganizationBody),
        (status = 400, description = "A body that isn't the expected JSON", body = ApiError),
        (status = 401, description = "No key, or one that doesn't work", body = ApiError),
        (status = 403, description = "The key lacks org.update", body = ApiError),
        (status = 404, description = "Not the key's organization or team", body = ApiError),
        (status = 415, description = "Not JSON", body = ApiError),
        (status = 422, description = "An invalid or taken field", body = ApiError),
    )
)]
pub async fn update(
    state: web::Data<AppState>,
    ApiScope(scope): ApiScope,
    org_id: web::Path<String>,
    patch: web::Json<OrganizationPatch>,
) -> Result<HttpResponse, AppError> {
    own_workspace(&scope, &org_id)?;
    if scope.is_personal() {
        return Err(AppError::NotFound);
    }
    scope.require(Permission::OrgUpdate)?;
    let read_scope = scope.clone();
    let now = state
        .db
        .read(move |conn| db::organizations::settings(conn, &read_scope))
        .await?;
    let patch = patch.into_inner();
    let input = GeneralInput {
        name: patch.name.unwrap_or(now.name),
        slug: patch.slug.or(now.slug).unwrap_or_default(),
        description: patch.description.unwrap_or(now.description),
        billing_email: patch.billing_email.unwrap_or(now.billing_email),
        billing_address: patch.billing_address.unwrap_or(now.billing_address),
    };
    organizations::update_general(&state.organizations, &scope, input).await?;
    let body = profile(
        &state,
        scope.user_id().clone(),
        scope.workspace_id().clone(),
    )
    .await?;
    Ok(HttpResponse::Ok().json(body))
}

/// Archives the key's organization (`org.delete`, the owner's): every
/// key of it stops working; the owner restores it with a personal key
/// within the retention period.
#[utoipa::path(
    delete,
    path = "/api/v1/organizations/{org_id}",
    tag = "member",
    params(("org_id" = String, Path, description = "The key's workspace")),
    security(("member_key" = [])),
    responses(
        (status = 204, description = "Archived"),
        (status = 401, description = "No key, or one that doesn't work", body = ApiError),
        (status = 403, description = "The key lacks org.delete", body = ApiError),
        (status = 404, description = "Not the key's organization", body = ApiError),
    )
)]
pub async fn archive(
    state: web::Data<AppState>,
    ApiScope(scope): ApiScope,
    org_id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    own_workspace(&scope, &org_id)?;
    if scope.workspace().kind != crate::domain::WorkspaceKind::Organization {
        return Err(AppError::NotFound);
    }
    scope.require(Permission::OrgDelete)?;
    organizations::archive(&state.organizations, &scope).await?;
    state.api_keys.cache.forget_all();
    Ok(HttpResponse::NoContent().finish())
}

/// Restores one of the caller's archived organizations (a personal key
/// with its full scope; the caller must be its owner).
#[utoipa::path(
    post,
    path = "/api/v1/organizations/{org_id}/restore",
    tag = "member",
    params(("org_id" = String, Path, description = "An archived organization the caller owns")),
    security(("member_key" = [])),
    responses(
        (status = 200, description = "Restored", body = OrganizationBody),
        (status = 401, description = "No key, or one that doesn't work", body = ApiError),
        (status = 404, description = "No archived organization of the caller's with this id, or past retention", body = ApiError),
        (status = 409, description = "Not a personal key with its full scope", body = ApiError),
    )
)]
pub async fn restore(
    state: web::Data<AppState>,
    ApiScope(scope): ApiScope,
    org_id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    require_personal_key(&scope)?;
    let id = WorkspaceId::parse(&org_id).ok_or(AppError::NotFound)?;
    organizations::restore(&state.organizations, &scope, id.clone()).await?;
    let body = profile(&state, scope.user_id().clone(), id).await?;
    Ok(HttpResponse::Ok().json(body))
}

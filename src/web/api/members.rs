//! `GET /api/v1/organizations/{org_id}/members` and `…/roles` with a
//! member's API key, in the shapes of seed 003. `{org_id}` is the key's
//! workspace (an organization, a team or a personal workspace); any other
//! id is 404, like another workspace's row on a page. Pages of members go
//! by cursor: the next page's URL is in the `Link` header (`rel="next"`).

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::db;
use crate::db::members::MemberListing;
use crate::db::scope::Scope;
use crate::domain::{FieldErrors, MembershipId, Permission, PermissionSet, RoleId};
use crate::web::AppState;
use crate::web::api::ApiScope;
use crate::web::error::{ApiError, AppError};
use crate::web::page::cursor_page_of;

/// Members per page unless `limit` asks for fewer (at most this many).
const PAGE: i64 = 100;

/// The key's workspace, if the path names it; 404 otherwise.
fn own_workspace(scope: &Scope, org_id: &str) -> Result<(), AppError> {
    if scope.workspace_id().as_str() == org_id {
        Ok(())
    } else {
        Err(AppError::NotFound)
    }
}

/// The members query.
#[derive(Deserialize, IntoParams)]
pub struct MembersQuery {
    /// A fragment of a name or email.
    #[serde(default)]
    q: Option<String>,
    /// Where the page starts: the last membership id of the previous one.
    #[serde(default)]
    cursor: Option<String>,
    /// At most this many (1 to 100).
    #[serde(default)]
    limit: Option<i64>,
}

/// A member of the workspace (seed 003's shape).
#[derive(Serialize, ToSchema)]
pub struct MemberBody<'a> {
    id: &'a str,
    user_id: &'a str,
    agent_id: Option<&'a str>,
    organization_id: &'a str,
    role_id: &'a str,
    role_name: &'a str,
    name: &'a str,
    email: &'a str,
    status: &'static str,
    joined_at: String,
}

/// A role's name as the API gives it: a system role's key (`owner`,
/// `admin`, `member`), a custom role's name.
fn role_name<'a>(scope: &'a Scope, id: &RoleId) -> &'a str {
    scope
        .workspace_roles()
        .iter()
        .find(|r| &r.id == id)
        .map_or("", |r| r.system_key.map_or(r.name.as_str(), |s| s.as_str()))
}

/// A page of the workspace's members (`members.read`).
#[utoipa::path(
    get,
    path = "/api/v1/organizations/{org_id}/members",
    tag = "member",
    params(("org_id" = String, Path, description = "The key's workspace"), MembersQuery),
    security(("member_key" = [])),
    responses(
        (status = 200, description = "Members in joining order; the next page is in the Link header", body = Vec<MemberBody>),
        (status = 401, description = "No key, or one that doesn't work", body = ApiError),
        (status = 403, description = "The key lacks members.read", body = ApiError),
        (status = 404, description = "Not the key's workspace", body = ApiError),
        (status = 400, description = "A query parameter of the wrong type", body = ApiError),
        (status = 422, description = "A malformed cursor", body = ApiError),
    )
)]
pub async fn list(
    state: web::Data<AppState>,
    ApiScope(scope): ApiScope,
    org_id: web::Path<String>,
    query: web::Query<MembersQuery>,
) -> Result<HttpResponse, AppError> {
    own_workspace(&scope, &org_id)?;
    scope.require(Permission::MembersRead)?;
    let limit = query.limit.unwrap_or(PAGE).clamp(1, PAGE);
    let after = cursor(query.cursor.as_deref())?;
    let (read_scope, search) = (scope.clone(), query.q.clone());
    let rows = state
        .db
        .run(move |conn| {
            db::members::page(conn, &read_scope, search.as_deref(), after.as_ref(), limit)
        })
        .await?;
    let path = format!("/api/v1/organizations/{org_id}/members");
    let (limit_text, q) = (limit.to_string(), query.q.clone().unwrap_or_default());
    let filters = [("limit", limit_text.as_str()), ("q", q.as_str())];
    let (rows, next) = cursor_page_of(limit, rows, &path, &filters, "cursor", |m| {
        m.membership_id.to_string()
    });
    let body: Vec<MemberBody> = rows.iter().map(|m| MemberBody::of(&scope, m)).collect();
    let mut response = HttpResponse::Ok();
    if let Some(next) = next {
        response.insert_header((header::LINK, format!("<{next}>; rel=\"next\"")));
    }
    Ok(response.json(body))
}

impl<'a> MemberBody<'a> {
    fn of(scope: &'a Scope, m: &'a MemberListing) -> Self {
        MemberBody {
            id: m.membership_id.as_str(),
            user_id: m.user_id.as_str(),
            agent_id: None,
            organization_id: scope.workspace_id().as_str(),
            role_id: m.role_id.as_str(),
            role_name: role_name(scope, &m.role_id),
            name: &m.name,
            email: &m.email,
            status: m.status.as_str(),
            joined_at: m.joined_at.and_utc().to_rfc3339(),
        }
    }
}

/// Where a page starts: after the membership the cursor names.
fn cursor(cursor: Option<&str>) -> Result<Option<MembershipId>, AppError> {
    cursor
        .map(|c| {
            MembershipId::parse(c).ok_or_else(|| {
                AppError::Invalid(FieldErrors::of(
                    "cursor",
                    "Use the cursor of a Link header.",
                ))
            })
        })
        .transpose()
}

/// The roles query.
#[derive(Deserialize, IntoParams)]
pub struct RolesQuery {
    /// Whether to list the system roles too (default true).
    #[serde(default)]
    include_system: Option<bool>,
}

/// A role of the workspace; `name` is a system role's key.
#[derive(Serialize, ToSchema)]
pub struct RoleBody<'a> {
    id: &'a str,
    name: &'a str,
    description: &'a str,
    permissions: Vec<&'static str>,
    is_system: bool,
    level: i32,
    member_count: i32,
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
pub async fn roles(
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
        .run(move |conn| db::roles::all(conn, &read_scope))
        .await?;
    let body: Vec<RoleBody> = roles
        .iter()
        .filter(|r| include_system || r.system_key.is_none())
        .map(|r| RoleBody {
            id: r.id.as_str(),
            name: r.system_key.map_or(r.name.as_str(), |s| s.as_str()),
            description: &r.description,
            permissions: PermissionSet::of_role(r.system_key, &r.permissions)
                .iter()
                .map(Permission::key)
                .collect(),
            is_system: r.system_key.is_some(),
            level: r.level,
            member_count: r.member_count,
        })
        .collect();
    Ok(HttpResponse::Ok().json(body))
}

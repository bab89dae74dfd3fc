//! `/api/v1/organizations/{org_id}/members…` with a member's API key, in
//! the shapes of seed 003. `{org_id}` is the key's
//! workspace (an organization, a team or a personal workspace); any other
//! id is 404, like another workspace's row on a page. Pages of members go
//! by cursor: the next page's URL is in the `Link` header (`rel="next"`).

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::db;
use crate::db::members::{MemberListing, RoleRow};
use crate::db::scope::Scope;
use crate::domain::{FieldErrors, MembershipId, MembershipStatus, Permission, RoleId};
use crate::services::members;
use crate::web::AppState;
use crate::web::api::{ApiScope, json_page, own_workspace};
use crate::web::error::{ApiError, AppError};
use crate::web::page::cursor_page_of;
use crate::web::settings::members::member_id;

/// Members per page unless `limit` asks for fewer (at most this many).
const PAGE: i64 = 100;

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
fn role_name<'a>(roles: &'a [RoleRow], id: &RoleId) -> &'a str {
    roles
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
    let long = db::members::search_may_walk(search.as_deref());
    let (rows, roles) = state
        .db
        .read_long_if(long, move |conn| {
            let rows =
                db::members::page(conn, &read_scope, search.as_deref(), after.as_ref(), limit)?;
            Ok::<_, db::DbError>((rows, db::members::roles(conn, &read_scope)?))
        })
        .await?;
    let path = format!("/api/v1/organizations/{org_id}/members");
    let (limit_text, q) = (limit.to_string(), query.q.clone().unwrap_or_default());
    let filters = [("limit", limit_text.as_str()), ("q", q.as_str())];
    let (rows, next) = cursor_page_of(limit, rows, &path, &filters, "cursor", |m| {
        m.membership_id.to_string()
    });
    let body: Vec<MemberBody> = rows
        .iter()
        .map(|m| MemberBody::of(&scope, &roles, m))
        .collect();
    Ok(json_page(body, next))
}

impl<'a> MemberBody<'a> {
    fn of(scope: &'a Scope, roles: &'a [RoleRow], m: &'a MemberListing) -> Self {
        MemberBody {
            id: m.membership_id.as_str(),
            user_id: m.user_id.as_str(),
            agent_id: None,
            organization_id: scope.workspace_id().as_str(),
            role_id: m.role_id.as_str(),
            role_name: role_name(roles, &m.role_id),
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

/// Changes to a membership: a new role, or `active` / `inactive`.
#[derive(Deserialize, ToSchema)]
pub struct MemberPatch {
    /// A role ranked below the caller's whose permissions the key holds.
    #[serde(default)]
    role_id: Option<String>,
    /// `active` or `inactive` (an inactive member keeps the membership but
    /// can't enter, and their keys stop working).
    #[serde(default)]
    status: Option<String>,
}

/// Changes a member's role or status (`members.manage`), within the same
/// hierarchy rules as the members page; audited.
#[utoipa::path(
    patch,
    path = "/api/v1/organizations/{org_id}/members/{member_id}",
    tag = "member",
    params(
        ("org_id" = String, Path, description = "The key's workspace"),
        ("member_id" = String, Path, description = "A membership id"),
    ),
    security(("member_key" = [])),
    request_body = MemberPatch,
    responses(
        (status = 200, description = "The member as changed", body = MemberBody),
        (status = 400, description = "A body that isn't the expected JSON", body = ApiError),
        (status = 401, description = "No key, or one that doesn't work", body = ApiError),
        (status = 403, description = "The key lacks members.manage", body = ApiError),
        (status = 404, description = "No such member of the key's workspace", body = ApiError),
        (status = 409, description = "The hierarchy forbids it (a member ranked at or above the caller, a role the caller can't give)", body = ApiError),
        (status = 415, description = "Not JSON", body = ApiError),
        (status = 422, description = "Neither or both of role_id and status, or an unknown status", body = ApiError),
    )
)]
pub async fn update(
    state: web::Data<AppState>,
    ApiScope(scope): ApiScope,
    path: web::Path<(String, String)>,
    patch: web::Json<MemberPatch>,
) -> Result<HttpResponse, AppError> {
    let (org_id, member) = path.into_inner();
    own_workspace(&scope, &org_id)?;
    scope.require(Permission::MembersManage)?;
    let member = member_id(&member)?;
    apply(&state, &scope, member.clone(), patch.into_inner()).await?;
    state.api_keys.cache.forget_all();
    let read_scope = scope.clone();
    let (row, roles) = state
        .db
        .read(move |conn| {
            let row = db::members::find(conn, &read_scope, &member)?;
            Ok::<_, AppError>((row, db::members::roles(conn, &read_scope)?))
        })
        .await?;
    Ok(HttpResponse::Ok().json(MemberBody::of(&scope, &roles, &row.member)))
}

/// Makes the one change a patch asks for: a role or a status, never both
/// (nor neither: that is a 422, as an unknown status is).
async fn apply(
    state: &AppState,
    scope: &Scope,
    member: MembershipId,
    patch: MemberPatch,
) -> Result<(), AppError> {
    match patch {
        MemberPatch {
            role_id: Some(role_id),
            status: None,
        } => {
            let role = RoleId::parse(&role_id);
            members::change_role(&state.members, scope, member, role).await?;
        }
        MemberPatch {
            role_id: None,
            status: Some(status),
        } => {
            let status = MembershipStatus::parse(&status)
                .ok_or_else(|| invalid("status", "Use active or inactive."))?;
            let active = status == MembershipStatus::Active;
            members::set_active(&state.members, scope, member, active).await?;
        }
        _ => return Err(invalid("role_id", "Give either role_id or status.")),
    }
    Ok(())
}

/// A 422 on one field.
fn invalid(field: &'static str, message: &str) -> AppError {
    AppError::Invalid(FieldErrors::of(field, message))
}

/// Removes a member (`members.manage`) and their keys of the workspace,
/// and from its teams; audited.
#[utoipa::path(
    delete,
    path = "/api/v1/organizations/{org_id}/members/{member_id}",
    tag = "member",
    params(
        ("org_id" = String, Path, description = "The key's workspace"),
        ("member_id" = String, Path, description = "A membership id"),
    ),
    security(("member_key" = [])),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "No key, or one that doesn't work", body = ApiError),
        (status = 403, description = "The key lacks members.manage", body = ApiError),
        (status = 404, description = "No such member of the key's workspace", body = ApiError),
        (status = 409, description = "A member ranked at or above the caller, or the caller", body = ApiError),
    )
)]
pub async fn remove(
    state: web::Data<AppState>,
    ApiScope(scope): ApiScope,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let (org_id, member) = path.into_inner();
    own_workspace(&scope, &org_id)?;
    scope.require(Permission::MembersManage)?;
    members::remove(&state.members, &scope, member_id(&member)?).await?;
    state.api_keys.cache.forget_all();
    Ok(HttpResponse::NoContent().finish())
}

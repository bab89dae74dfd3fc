//! `POST /api/v1/authorize`: the question the platform asks on every call
//! it serves for a member's API key: "may this key do `permission` (on
//! `resource`), and which wallet pays?" 200 with the workspace, the member
//! and the wallet; 401 for a key that doesn't work, 403 for a permission
//! it lacks or a suspended workspace, 404 for another workspace's
//! resource, 422 for a permission or resource the API doesn't know.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::{AgentId, AppInstanceId, FieldErrors, Permission, ProjectId};
use crate::services::authorization::{self, KeyGrant, Resource};
use crate::services::billing::current_month;
use crate::web::AppState;
use crate::web::api::bearer;
use crate::web::error::{ApiError, AppError};

/// The question.
#[derive(Deserialize, ToSchema)]
pub struct AuthorizeBody {
    /// A permission name from the catalogue, e.g. `members.read`.
    pub permission: String,
    /// What it would be done to, if a particular thing.
    #[serde(default)]
    pub resource: Option<ResourceBody>,
}

/// A thing of the workspace: `project`, `agent` or `app`, and its id.
#[derive(Deserialize, ToSchema)]
pub struct ResourceBody {
    /// `project`, `agent` or `app`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Its id.
    pub id: String,
}

/// The answer: allowed, who acts, where, and the wallet that pays.
#[derive(Serialize, ToSchema)]
pub struct Authorization<'a> {
    allowed: bool,
    permission: &'static str,
    key: AuthorizedKey<'a>,
    member: AuthorizedMember<'a>,
    workspace: AuthorizedWorkspace<'a>,
    wallet: AuthorizedWallet<'a>,
}

/// The key that asked.
#[derive(Serialize, ToSchema)]
pub struct AuthorizedKey<'a> {
    id: &'a str,
    kind: &'static str,
}

/// The member the key acts as.
#[derive(Serialize, ToSchema)]
pub struct AuthorizedMember<'a> {
    id: &'a str,
    email: &'a str,
}

/// The workspace the key opens.
#[derive(Serialize, ToSchema)]
pub struct AuthorizedWorkspace<'a> {
    id: &'a str,
    name: &'a str,
    kind: &'static str,
    status: &'static str,
}

/// The wallet that pays (micro-credits), as read less than a second ago.
#[derive(Serialize, ToSchema)]
pub struct AuthorizedWallet<'a> {
    workspace_id: &'a str,
    balance: i64,
    month_spent: i64,
    monthly_spend_limit: Option<i64>,
    remaining: i64,
}

fn parse(body: &AuthorizeBody) -> Result<(Permission, Option<Resource>), AppError> {
    let permission = Permission::from_key(body.permission.trim()).ok_or_else(|| {
        AppError::Invalid(FieldErrors::of(
            "permission",
            "Name a permission of the catalogue, e.g. members.read.",
        ))
    })?;
    let resource = match &body.resource {
        None => None,
        Some(ResourceBody { kind, id }) => Some(resource(kind, id).ok_or_else(|| {
            AppError::Invalid(FieldErrors::of(
                "resource",
                "Name a resource as {\"type\": \"project\" | \"agent\" | \"app\", \"id\": …}.",
            ))
        })?),
    };
    Ok((permission, resource))
}

fn resource(kind: &str, id: &str) -> Option<Resource> {
    match kind {
        "project" => ProjectId::parse(id).map(Resource::Project),
        "agent" => AgentId::parse(id).map(Resource::Agent),
        "app" => AppInstanceId::parse(id).map(Resource::App),
        _ => None,
    }
}

fn answer(grant: &KeyGrant, permission: Permission) -> HttpResponse {
    let caller = &grant.caller;
    HttpResponse::Ok().json(Authorization {
        allowed: true,
        permission: permission.key(),
        key: AuthorizedKey {
            id: caller.key_id.as_str(),
            kind: caller.kind.as_str(),
        },
        member: AuthorizedMember {
            id: caller.user_id.as_str(),
            email: &caller.email,
        },
        workspace: AuthorizedWorkspace {
            id: caller.workspace.workspace_id().as_str(),
            name: &caller.workspace_name,
            kind: caller.workspace_kind.as_str(),
            status: caller.workspace_status.as_str(),
        },
        wallet: AuthorizedWallet {
            workspace_id: caller.workspace.workspace_id().as_str(),
            balance: grant.wallet.balance,
            month_spent: grant.wallet.spent_in(&current_month()).micros(),
            monthly_spend_limit: grant.wallet.monthly_spend_limit,
            remaining: grant.remaining().micros(),
        },
    })
}

/// Answers whether the presented key may do what the body asks.
#[utoipa::path(
    post,
    path = "/api/v1/authorize",
    tag = "member",
    request_body = AuthorizeBody,
    security(("member_key" = [])),
    responses(
        (status = 200, description = "Allowed: who acts, where, and the wallet that pays", body = Authorization),
        (status = 400, description = "Malformed JSON", body = ApiError),
        (status = 401, description = "The key doesn't work", body = ApiError),
        (status = 403, description = "A permission the key lacks, or a suspended workspace", body = ApiError),
        (status = 404, description = "The resource isn't the key's workspace's", body = ApiError),
        (status = 415, description = "Not JSON", body = ApiError),
        (status = 422, description = "An unknown permission or resource", body = ApiError),
    )
)]
pub async fn authorize(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<AuthorizeBody>,
) -> Result<HttpResponse, AppError> {
    let (permission, resource) = parse(&body)?;
    let presented = bearer(&req)?;
    let grant =
        authorization::authorize(&state.db, &state.api_keys, presented, permission, resource)
            .await?;
    Ok(answer(&grant, permission))
}

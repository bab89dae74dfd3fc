//! `/api/v1/organizations/{org_id}/invitations…` with a member's API key:
//! invite by email, list, resend and revoke, through the same service and
//! rules as the members page (`members.invite`; only roles the caller may
//! give; at most one resend a minute; every change audited, every email
//! through the outbox). People join by accepting the emailed invitation;
//! there is no adding a user by id.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db;
use crate::db::invitations::InvitationRow;
use crate::db::scope::Scope;
use crate::domain::{InvitationId, Permission, RoleId};
use crate::services::members::{self, InviteInput};
use crate::web::AppState;
use crate::web::api::{ApiScope, own_workspace};
use crate::web::error::{ApiError, AppError};
use crate::web::settings::members::invitation_id;

/// Ended invitations listed after the pending ones.
const HISTORY: i64 = 50;

/// An invitation.
#[derive(Serialize, ToSchema)]
pub struct InvitationBody {
    id: String,
    email: String,
    name: String,
    role_id: Option<String>,
    role_name: String,
    /// `pending`, `accepted`, `declined`, `revoked` or `expired`.
    status: &'static str,
    invited_by_name: String,
    created_at: String,
    expires_at: String,
    /// Emails sent: the first and each resend.
    send_count: i32,
}

impl InvitationBody {
    fn of(row: InvitationRow) -> Self {
        InvitationBody {
            id: row.id.into(),
            email: row.email,
            name: row.name,
            role_id: row.role_id.map(|id| id.to_string()),
            role_name: row.role_name,
            status: row.status.as_str(),
            invited_by_name: row.invited_by_name,
            created_at: row.created_at.and_utc().to_rfc3339(),
            expires_at: row.expires_at.and_utc().to_rfc3339(),
            send_count: row.send_count,
        }
    }
}

/// The path's workspace, for a key that may invite.
fn inviting(scope: &Scope, org_id: &str) -> Result<(), AppError> {
    own_workspace(scope, org_id)?;
    Ok(scope.require(Permission::MembersInvite)?)
}

/// The workspace's invitations: pending first (newest first), then the
/// 50 most recently ended.
async fn listed(state: &AppState, scope: &Scope) -> Result<Vec<InvitationBody>, AppError> {
    let scope = scope.clone();
    let listed = state
        .db
        .read(move |conn| db::invitations::listed(conn, &scope, HISTORY))
        .await?;
    Ok(listed
        .pending
        .into_iter()
        .chain(listed.history)
        .map(|(row, _)| InvitationBody::of(row))
        .collect())
}

/// The pending invitation with this id, as now stored (one query, not
/// the whole list).
async fn pending(
    state: &AppState,
    scope: &Scope,
    id: InvitationId,
) -> Result<InvitationBody, AppError> {
    let scope = scope.clone();
    let found = state
        .db
        .read(move |conn| db::invitations::find_pending(conn, &scope, &id))
        .await?;
    Ok(InvitationBody::of(found.row))
}

/// The workspace's invitations (`members.invite`).
#[utoipa::path(
    get,
    path = "/api/v1/organizations/{org_id}/invitations",
    tag = "member",
    params(("org_id" = String, Path, description = "The key's workspace")),
    security(("member_key" = [])),
    responses(
        (status = 200, description = "Pending invitations, then recently ended ones", body = Vec<InvitationBody>),
        (status = 401, description = "No key, or one that doesn't work", body = ApiError),
        (status = 403, description = "The key lacks members.invite", body = ApiError),
        (status = 404, description = "Not the key's workspace", body = ApiError),
    )
)]
pub async fn list(
    state: web::Data<AppState>,
    ApiScope(scope): ApiScope,
    org_id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    inviting(&scope, &org_id)?;
    Ok(HttpResponse::Ok().json(listed(&state, &scope).await?))
}

/// Someone to invite.
#[derive(Deserialize, ToSchema)]
pub struct NewInvitationBody {
    /// Their name, for the email.
    name: String,
    email: String,
    /// A role ranked below the caller's whose permissions the key holds.
    role_id: String,
}

/// Invites someone by email (`members.invite`); the email goes through
/// the outbox.
#[utoipa::path(
    post,
    path = "/api/v1/organizations/{org_id}/invitations",
    tag = "member",
    params(("org_id" = String, Path, description = "The key's workspace")),
    security(("member_key" = [])),
    request_body = NewInvitationBody,
    responses(
        (status = 201, description = "Invited; the email is on its way", body = InvitationBody),
        (status = 400, description = "A body that isn't the expected JSON", body = ApiError),
        (status = 401, description = "No key, or one that doesn't work", body = ApiError),
        (status = 403, description = "The key lacks members.invite", body = ApiError),
        (status = 404, description = "Not the key's workspace", body = ApiError),
        (status = 409, description = "A personal workspace, which has no members to invite", body = ApiError),
        (status = 415, description = "Not JSON", body = ApiError),
        (status = 422, description = "An invalid field, a role the caller can't give, a member already, or invited already", body = ApiError),
    )
)]
pub async fn create(
    state: web::Data<AppState>,
    ApiScope(scope): ApiScope,
    org_id: web::Path<String>,
    body: web::Json<NewInvitationBody>,
) -> Result<HttpResponse, AppError> {
    inviting(&scope, &org_id)?;
    let body = body.into_inner();
    let input = InviteInput {
        name: body.name,
        email: body.email,
        role_id: RoleId::parse(&body.role_id),
    };
    let id = members::invite(&state.members, &scope, input).await?;
    let invitation = pending(&state, &scope, id.clone()).await?;
    Ok(HttpResponse::Created()
        .insert_header((
            header::LOCATION,
            format!("/api/v1/organizations/{org_id}/invitations/{id}"),
        ))
        .json(invitation))
}

/// Sends a pending invitation again with a new link (`members.invite`; at
/// most once a minute).
#[utoipa::path(
    post,
    path = "/api/v1/organizations/{org_id}/invitations/{invitation_id}/resend",
    tag = "member",
    params(
        ("org_id" = String, Path, description = "The key's workspace"),
        ("invitation_id" = String, Path, description = "A pending invitation"),
    ),
    security(("member_key" = [])),
    responses(
        (status = 200, description = "Sent again; the old link no longer works", body = InvitationBody),
        (status = 401, description = "No key, or one that doesn't work", body = ApiError),
        (status = 403, description = "The key lacks members.invite", body = ApiError),
        (status = 404, description = "No such pending invitation in the key's workspace", body = ApiError),
        (status = 409, description = "Sent less than a minute ago, or for a role the caller can't give", body = ApiError),
    )
)]
pub async fn resend(
    state: web::Data<AppState>,
    ApiScope(scope): ApiScope,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let (org_id, id) = path.into_inner();
    inviting(&scope, &org_id)?;
    let id = invitation_id(&id)?;
    members::resend(&state.members, &scope, id.clone()).await?;
    Ok(HttpResponse::Ok().json(pending(&state, &scope, id).await?))
}

/// Revokes a pending invitation (`members.invite`): its link stops
/// working.
#[utoipa::path(
    delete,
    path = "/api/v1/organizations/{org_id}/invitations/{invitation_id}",
    tag = "member",
    params(
        ("org_id" = String, Path, description = "The key's workspace"),
        ("invitation_id" = String, Path, description = "A pending invitation"),
    ),
    security(("member_key" = [])),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, description = "No key, or one that doesn't work", body = ApiError),
        (status = 403, description = "The key lacks members.invite", body = ApiError),
        (status = 404, description = "No such pending invitation in the key's workspace", body = ApiError),
        (status = 409, description = "For a role the caller can't give", body = ApiError),
    )
)]
pub async fn revoke(
    state: web::Data<AppState>,
    ApiScope(scope): ApiScope,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let (org_id, id) = path.into_inner();
    inviting(&scope, &org_id)?;
    members::revoke(&state.members, &scope, invitation_id(&id)?).await?;
    Ok(HttpResponse::NoContent().finish())
}

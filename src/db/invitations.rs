//! Invitations to a workspace. Only the SHA-256 of a token is stored. A
//! partial unique index allows one pending invitation per email and
//! workspace; acceptance is one conditional update (pending, unexpired, for
//! this email) followed by the membership insert, in one transaction.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::audit::Actor;
use super::schema::{invitations, roles, workspaces};
use super::{AnyConnection, DbError, now};
use crate::domain::{Email, RoleId, WorkspaceId};
use crate::scope::Scope;

/// An invitation as the members page lists it.
#[derive(Debug, Clone, Queryable)]
pub struct InvitationRow {
    /// Id.
    pub id: String,
    /// Invited email.
    pub email: String,
    /// Invitee's name, as the inviter typed it.
    pub name: String,
    /// Role offered.
    pub role_name: String,
    /// `pending`, `accepted`, `declined`, `revoked` or `expired`.
    pub status: String,
    /// Who invited.
    pub invited_by_name: String,
    /// When.
    pub created_at: NaiveDateTime,
    /// Expiry.
    pub expires_at: NaiveDateTime,
    /// Emails sent (first + resends).
    pub send_count: i32,
    /// When it was accepted / declined / revoked / expired.
    pub resolved_at: Option<NaiveDateTime>,
    /// By whom.
    pub resolved_by_name: Option<String>,
}

type RowColumns = (
    invitations::id,
    invitations::email,
    invitations::name,
    roles::name,
    invitations::status,
    invitations::invited_by_name,
    invitations::created_at,
    invitations::expires_at,
    invitations::send_count,
    invitations::resolved_at,
    invitations::resolved_by_name,
);

const ROW_COLUMNS: RowColumns = (
    invitations::id,
    invitations::email,
    invitations::name,
    roles::name,
    invitations::status,
    invitations::invited_by_name,
    invitations::created_at,
    invitations::expires_at,
    invitations::send_count,
    invitations::resolved_at,
    invitations::resolved_by_name,
);

/// A new invitation.
#[derive(Debug, Clone)]
pub struct NewInvitation<'a> {
    /// Invited email.
    pub email: &'a Email,
    /// Invitee's name.
    pub name: &'a str,
    /// Role offered (a role of the scoped workspace).
    pub role_id: &'a RoleId,
    /// SHA-256 of the token.
    pub token_hash: &'a str,
    /// Expiry.
    pub expires_at: NaiveDateTime,
}

/// Marks the scoped workspace's pending invitations past their expiry as expired.
pub fn expire_stale(conn: &mut AnyConnection, scope: &Scope) -> Result<usize, DbError> {
    let at = now();
    Ok(diesel::update(invitations::table)
        .filter(invitations::workspace_id.eq(scope.workspace_id()))
        .filter(invitations::status.eq("pending"))
        .filter(invitations::expires_at.le(at))
        .set((
            invitations::status.eq("expired"),
            invitations::resolved_at.eq(at),
        ))
        .execute(conn)?)
}

/// Inserts a pending invitation; a pending one for the same email is a
/// `Conflict` naming the pending index.
pub fn create(
    conn: &mut AnyConnection,
    scope: &Scope,
    actor: &Actor,
    new: &NewInvitation<'_>,
) -> Result<String, DbError> {
    let id = uuid::Uuid::now_v7().to_string();
    let created = now();
    diesel::insert_into(invitations::table)
        .values((
            invitations::id.eq(&id),
            invitations::workspace_id.eq(scope.workspace_id()),
            invitations::email.eq(new.email.as_str()),
            invitations::name.eq(new.name),
            invitations::role_id.eq(new.role_id),
            invitations::token_hash.eq(new.token_hash),
            invitations::status.eq("pending"),
            invitations::invited_by_user_id.eq(&actor.user_id),
            invitations::invited_by_name.eq(&actor.name),
            invitations::created_at.eq(created),
            invitations::expires_at.eq(new.expires_at),
            invitations::last_sent_at.eq(created),
        ))
        .execute(conn)
        .map_err(|e| match DbError::from(e) {
            DbError::Conflict(_) => DbError::Conflict("invitations_pending_key".into()),
            other => other,
        })?;
    Ok(id)
}

/// The scoped workspace's pending invitations, newest first.
pub fn pending(conn: &mut AnyConnection, scope: &Scope) -> Result<Vec<InvitationRow>, DbError> {
    Ok(invitations::table
        .inner_join(roles::table)
        .filter(invitations::workspace_id.eq(scope.workspace_id()))
        .filter(invitations::status.eq("pending"))
        .order(invitations::created_at.desc())
        .select(ROW_COLUMNS)
        .load(conn)?)
}

/// The scoped workspace's resolved invitations, newest first.
pub fn history(
    conn: &mut AnyConnection,
    scope: &Scope,
    limit: i64,
) -> Result<Vec<InvitationRow>, DbError> {
    Ok(invitations::table
        .inner_join(roles::table)
        .filter(invitations::workspace_id.eq(scope.workspace_id()))
        .filter(invitations::status.ne("pending"))
        .order(invitations::resolved_at.desc())
        .limit(limit)
        .select(ROW_COLUMNS)
        .load(conn)?)
}

/// One pending invitation of the scoped workspace.
pub fn find_pending(
    conn: &mut AnyConnection,
    scope: &Scope,
    id: &str,
) -> Result<InvitationRow, DbError> {
    Ok(invitations::table
        .inner_join(roles::table)
        .filter(invitations::workspace_id.eq(scope.workspace_id()))
        .filter(invitations::id.eq(id))
        .filter(invitations::status.eq("pending"))
        .select(ROW_COLUMNS)
        .first(conn)?)
}

/// Gives a pending invitation a new token (the old link stops working) and
/// a new expiry.
pub fn reissue(
    conn: &mut AnyConnection,
    scope: &Scope,
    id: &str,
    token_hash: &str,
    expires_at: NaiveDateTime,
) -> Result<(), DbError> {
    let changed = diesel::update(invitations::table)
        .filter(invitations::workspace_id.eq(scope.workspace_id()))
        .filter(invitations::id.eq(id))
        .filter(invitations::status.eq("pending"))
        .set((
            invitations::token_hash.eq(token_hash),
            invitations::expires_at.eq(expires_at),
            invitations::send_count.eq(invitations::send_count + 1),
            invitations::last_sent_at.eq(now()),
        ))
        .execute(conn)?;
    if changed == 0 {
        return Err(DbError::NotFound);
    }
    Ok(())
}

/// Revokes a pending invitation of the scoped workspace.
pub fn revoke(
    conn: &mut AnyConnection,
    scope: &Scope,
    id: &str,
    by: &Actor,
) -> Result<(), DbError> {
    let changed = diesel::update(invitations::table)
        .filter(invitations::workspace_id.eq(scope.workspace_id()))
        .filter(invitations::id.eq(id))
        .filter(invitations::status.eq("pending"))
        .set((
            invitations::status.eq("revoked"),
            invitations::resolved_at.eq(now()),
            invitations::resolved_by_name.eq(&by.name),
        ))
        .execute(conn)?;
    if changed == 0 {
        return Err(DbError::NotFound);
    }
    Ok(())
}

/// An invitation as its link shows it.
#[derive(Debug, Clone, Queryable)]
pub struct InvitationView {
    /// Id.
    pub id: String,
    /// Workspace.
    pub workspace_id: WorkspaceId,
    /// Organization name.
    pub workspace_name: String,
    /// Invited email.
    pub email: String,
    /// Invitee's name.
    pub name: String,
    /// Role offered.
    pub role_id: RoleId,
    /// Its name.
    pub role_name: String,
    /// Who invited.
    pub invited_by_name: String,
    /// Expiry.
    pub expires_at: NaiveDateTime,
}

/// The usable invitation with this token hash: pending, unexpired, of a
/// workspace that is not archived. Anything else is `None`, all alike.
pub fn usable_by_token(
    conn: &mut AnyConnection,
    token_hash: &str,
) -> Result<Option<InvitationView>, DbError> {
    Ok(invitations::table
        .inner_join(workspaces::table)
        .inner_join(roles::table)
        .filter(invitations::token_hash.eq(token_hash))
        .filter(invitations::status.eq("pending"))
        .filter(invitations::expires_at.gt(now()))
        .filter(workspaces::status.ne("archived"))
        .select((
            invitations::id,
            invitations::workspace_id,
            workspaces::name,
            invitations::email,
            invitations::name,
            invitations::role_id,
            roles::name,
            invitations::invited_by_name,
            invitations::expires_at,
        ))
        .first(conn)
        .optional()?)
}

/// Resolves a usable invitation for `email` (accept or decline) in one
/// conditional update; `NotFound` when it was used, revoked or expired
/// meanwhile, or is for another email.
pub fn resolve(
    conn: &mut AnyConnection,
    token_hash: &str,
    email: &str,
    status: &str,
    by_name: &str,
) -> Result<(), DbError> {
    let at = now();
    let changed = diesel::update(invitations::table)
        .filter(invitations::token_hash.eq(token_hash))
        .filter(invitations::email.eq(email))
        .filter(invitations::status.eq("pending"))
        .filter(invitations::expires_at.gt(at))
        .set((
            invitations::status.eq(status),
            invitations::resolved_at.eq(at),
            invitations::resolved_by_name.eq(by_name),
        ))
        .execute(conn)?;
    if changed == 0 {
        return Err(DbError::NotFound);
    }
    Ok(())
}

/// When a pending invitation of the scoped workspace was last sent.
pub fn last_sent_at(
    conn: &mut AnyConnection,
    scope: &Scope,
    id: &str,
) -> Result<NaiveDateTime, DbError> {
    Ok(invitations::table
        .filter(invitations::workspace_id.eq(scope.workspace_id()))
        .filter(invitations::id.eq(id))
        .select(invitations::last_sent_at)
        .first(conn)?)
}

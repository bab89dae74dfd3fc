//! Invitations to a workspace. Only the SHA-256 of a token is stored. A
//! partial unique index allows one pending invitation per email and
//! workspace; acceptance is one conditional update (pending, unexpired, for
//! this email) followed by the membership insert, in one transaction.
//!
//! A pending invitation whose `expires_at` has passed is expired whether or
//! not anything has marked it yet: every query here that looks for pending
//! ones also asks for an unexpired one, and the history shows it as expired.
//! An invitation keeps the name of the role it offered (`role_name`), so
//! deleting a role only needs pending invitations to let go of it.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::audit::Actor;
use super::expect_one;
use super::members::RoleRow;
use super::outbox::Delivery;
use super::schema::{invitations, outbox_emails, roles, workspaces};
use super::{AnyConnection, DbError, natively, now};
use crate::db::scope::{Scope, Tenant};
use crate::domain::{Email, InvitationId, InvitationStatus, RoleId, UserId, WorkspaceStatus};

diesel::define_sql_function!(
    /// SQL `COALESCE` over two timestamps, to order the history by when an
    /// invitation ended (resolved, or lapsed unmarked).
    fn coalesce(x: diesel::sql_types::Nullable<diesel::sql_types::Timestamp>, y: diesel::sql_types::Timestamp) -> diesel::sql_types::Timestamp
);

/// An invitation as the members page lists it.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = invitations)]
pub struct InvitationRow {
    /// Id.
    pub id: InvitationId,
    /// Invited email.
    pub email: String,
    /// Invitee's name, as the inviter typed it.
    pub name: String,
    /// The role offered (`None` once a deleted role let go of an ended invitation).
    pub role_id: Option<RoleId>,
    /// The name of the role offered, as it was when last offered.
    pub role_name: String,
    /// Where it stands (a lapsed pending one is shown as expired).
    pub status: InvitationStatus,
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

/// A new invitation.
#[derive(Debug, Clone)]
pub struct NewInvitation<'a> {
    /// Invited email.
    pub email: &'a Email,
    /// Invitee's name.
    pub name: &'a str,
    /// Role offered (a role of the scoped workspace).
    pub role_id: &'a RoleId,
    /// Its name, kept for the history.
    pub role_name: &'a str,
    /// SHA-256 of the token.
    pub token_hash: &'a str,
    /// Expiry.
    pub expires_at: NaiveDateTime,
}

/// Marks the scoped workspace's pending invitations past their expiry as expired.
pub fn expire_stale(conn: &mut AnyConnection, scope: &Scope) -> Result<usize, DbError> {
    let at = now();
    Ok(diesel::update(scope.invitations())
        .filter(invitations::status.eq(InvitationStatus::Pending))
        .filter(invitations::expires_at.le(at))
        .set((
            invitations::status.eq(InvitationStatus::Expired),
            invitations::resolved_at.eq(invitations::expires_at.nullable()),
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
) -> Result<InvitationId, DbError> {
    let id = InvitationId::generate();
    let created = now();
    diesel::insert_into(invitations::table)
        .values((
            invitations::id.eq(&id),
            invitations::workspace_id.eq(scope.workspace_id()),
            invitations::email.eq(new.email.as_str()),
            invitations::name.eq(new.name),
            invitations::role_id.eq(new.role_id),
            invitations::role_name.eq(new.role_name),
            invitations::token_hash.eq(new.token_hash),
            invitations::status.eq(InvitationStatus::Pending),
            invitations::invited_by_user_id.eq(&actor.user_id),
            invitations::invited_by_name.eq(&actor.name),
            invitations::created_at.eq(created),
            invitations::expires_at.eq(new.expires_at),
            invitations::last_sent_at.eq(created),
        ))
        .execute(conn)?;
    Ok(id)
}

/// The invitations the members page lists, each with how its latest email
/// fared: every pending one, newest first, and the `history_limit` most
/// recently ended (accepted, declined, revoked, or expired, marked or not),
/// most recent first. One statement.
pub fn listed(
    conn: &mut AnyConnection,
    scope: &Scope,
    history_limit: i64,
) -> Result<Listed, DbError> {
    let at = now();
    let is_pending = invitations::status
        .eq(InvitationStatus::Pending)
        .and(invitations::expires_at.gt(at));
    // The subquery names the table a second time, so under an alias; its
    // workspace filter is the scope's, spelled out for the alias.
    let ended = diesel::alias!(invitations as ended);
    let recently_ended = ended
        .filter(
            ended
                .field(invitations::workspace_id)
                .eq(scope.workspace_id()),
        )
        .filter(
            ended
                .field(invitations::status)
                .ne(InvitationStatus::Pending)
                .or(ended.field(invitations::expires_at).le(at)),
        )
        .order(
            coalesce(
                ended.field(invitations::resolved_at),
                ended.field(invitations::expires_at),
            )
            .desc(),
        )
        .limit(history_limit)
        .select(ended.field(invitations::id));
    // `as_select` names the backend, so the query is built in each arm.
    let rows: Vec<(InvitationRow, Option<Delivery>)> = natively!(conn, |native| {
        scope
            .invitations()
            .left_join(
                outbox_emails::table
                    .on(outbox_emails::id.nullable().eq(invitations::last_email_id)),
            )
            .filter(is_pending.or(invitations::id.eq_any(recently_ended)))
            .select((
                InvitationRow::as_select(),
                (
                    outbox_emails::attempts,
                    outbox_emails::sent_at,
                    outbox_emails::last_error,
                )
                    .nullable(),
            ))
            .load(native)
    })?;
    Ok(Listed::as_of(rows, at, history_limit))
}

/// What [`listed`] returns: invitations with their latest email's delivery.
#[derive(Debug, Clone, Default)]
pub struct Listed {
    /// Pending and unexpired, newest first.
    pub pending: Vec<(InvitationRow, Option<Delivery>)>,
    /// Ended, most recently ended first.
    pub history: Vec<(InvitationRow, Option<Delivery>)>,
}

impl Listed {
    /// The lists as they stand at `at`, which may be later than when they
    /// were read: an invitation still pending then but past its expiry now
    /// ends (expired, at its expiry) and joins the history, which keeps its
    /// `history_limit` most recent. So lists kept in memory stay right as
    /// time passes, for running out moves no version (see
    /// `workspaces.invitations_version`).
    pub fn as_seen_at(&self, at: NaiveDateTime, history_limit: i64) -> Listed {
        let rows = self.pending.iter().chain(&self.history).cloned().collect();
        Self::as_of(rows, at, history_limit)
    }

    fn as_of(
        rows: Vec<(InvitationRow, Option<Delivery>)>,
        at: NaiveDateTime,
        history_limit: i64,
    ) -> Listed {
        let (mut pending, mut history): (Vec<_>, Vec<_>) = rows
            .into_iter()
            .partition(|(row, _)| row.status == InvitationStatus::Pending && row.expires_at > at);
        for (row, _) in &mut history {
            if row.status == InvitationStatus::Pending {
                row.status = InvitationStatus::Expired;
                row.resolved_at = Some(row.expires_at);
            }
        }
        pending.sort_by_key(|(row, _)| std::cmp::Reverse(row.created_at));
        history.sort_by_key(|(row, _)| std::cmp::Reverse(row.resolved_at));
        history.truncate(usize::try_from(history_limit).unwrap_or(0));
        Listed { pending, history }
    }
}

/// A pending invitation with the role it offers, for the hierarchy checks
/// of resend and revoke.
#[derive(Debug, Clone)]
pub struct PendingInvitation {
    /// The invitation.
    pub row: InvitationRow,
    /// The role it offers.
    pub role: RoleRow,
}

/// One pending, unexpired invitation of the scoped workspace.
pub fn find_pending(
    conn: &mut AnyConnection,
    scope: &Scope,
    id: &InvitationId,
) -> Result<PendingInvitation, DbError> {
    let (row, role) = scope
        .invitations()
        .inner_join(roles::table)
        .filter(invitations::id.eq(id))
        .filter(invitations::status.eq(InvitationStatus::Pending))
        .filter(invitations::expires_at.gt(now()))
        .select((InvitationRow::as_select(), RoleRow::as_select()))
        .first::<(InvitationRow, RoleRow)>(conn)?;
    Ok(PendingInvitation { row, role })
}

/// Whether the scoped workspace has this invitation still marked pending
/// although its link has expired (so resend can say why it refuses).
pub fn has_lapsed(
    conn: &mut AnyConnection,
    scope: &Scope,
    id: &InvitationId,
) -> Result<bool, DbError> {
    Ok(diesel::select(diesel::dsl::exists(
        scope
            .invitations()
            .filter(invitations::id.eq(id))
            .filter(invitations::status.eq(InvitationStatus::Pending))
            .filter(invitations::expires_at.le(now())),
    ))
    .get_result(conn)?)
}

/// A pending invitation and who sent it, for re-checking that its sender
/// may still give the role it offers.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = invitations)]
pub struct SentInvitation {
    /// Id.
    pub id: InvitationId,
    /// Invited email.
    pub email: String,
    /// Who sent it (`None` once their account is gone).
    #[diesel(column_name = invited_by_user_id)]
    pub invited_by: Option<UserId>,
    /// Their name, as recorded.
    pub invited_by_name: String,
    /// The role it offers.
    #[diesel(embed)]
    pub role: RoleRow,
}

/// The scoped workspace's pending, unexpired invitations with their senders.
/// Pending invitations are few (one per invited email), so this is read
/// whole when a member change needs to re-check them.
pub fn pending_with_senders(
    conn: &mut AnyConnection,
    scope: &Scope,
) -> Result<Vec<SentInvitation>, DbError> {
    Ok(scope
        .invitations()
        .inner_join(roles::table)
        .filter(invitations::status.eq(InvitationStatus::Pending))
        .filter(invitations::expires_at.gt(now()))
        .order(invitations::created_at.asc())
        .select(SentInvitation::as_select())
        .load(conn)?)
}

/// Lets the ended invitations of the scoped workspace forget a role about
/// to be deleted (they keep its name); pending ones still hold it.
pub fn release_role(conn: &mut AnyConnection, scope: &Scope, role: &RoleId) -> Result<(), DbError> {
    expire_stale(conn, scope)?;
    diesel::update(scope.invitations())
        .filter(invitations::role_id.eq(role))
        .filter(invitations::status.ne(InvitationStatus::Pending))
        .set(invitations::role_id.eq(None::<RoleId>))
        .execute(conn)?;
    Ok(())
}

/// How many pending, unexpired invitations of the scoped workspace offer a role.
pub fn pending_count_for_role(
    conn: &mut AnyConnection,
    scope: &Scope,
    role: &RoleId,
) -> Result<i64, DbError> {
    Ok(scope
        .invitations()
        .filter(invitations::role_id.eq(role))
        .filter(invitations::status.eq(InvitationStatus::Pending))
        .filter(invitations::expires_at.gt(now()))
        .count()
        .get_result(conn)?)
}

/// Keeps the offered role's name current on pending invitations after a rename.
pub fn rename_role(
    conn: &mut AnyConnection,
    scope: &Scope,
    role: &RoleId,
    name: &str,
) -> Result<(), DbError> {
    diesel::update(scope.invitations())
        .filter(invitations::role_id.eq(role))
        .filter(invitations::status.eq(InvitationStatus::Pending))
        .set(invitations::role_name.eq(name))
        .execute(conn)?;
    Ok(())
}

/// Gives a pending invitation a new token (the old link stops working) and
/// a new expiry.
pub fn reissue(
    conn: &mut AnyConnection,
    scope: &Scope,
    id: &InvitationId,
    token_hash: &str,
    expires_at: NaiveDateTime,
) -> Result<(), DbError> {
    expect_one(
        diesel::update(scope.invitations())
            .filter(invitations::id.eq(id))
            .filter(invitations::status.eq(InvitationStatus::Pending))
            .filter(invitations::expires_at.gt(now()))
            .set((
                invitations::token_hash.eq(token_hash),
                invitations::expires_at.eq(expires_at),
                invitations::send_count.eq(invitations::send_count + 1),
                invitations::last_sent_at.eq(now()),
            ))
            .execute(conn)?,
    )
}

/// Revokes a pending, unexpired invitation of the scoped workspace;
/// `by` is the name the history shows.
pub fn revoke(
    conn: &mut AnyConnection,
    scope: &Scope,
    id: &InvitationId,
    by: &str,
) -> Result<(), DbError> {
    let at = now();
    expect_one(
        diesel::update(scope.invitations())
            .filter(invitations::id.eq(id))
            .filter(invitations::status.eq(InvitationStatus::Pending))
            .filter(invitations::expires_at.gt(at))
            .set((
                invitations::status.eq(InvitationStatus::Revoked),
                invitations::resolved_at.eq(at),
                invitations::resolved_by_name.eq(by),
            ))
            .execute(conn)?,
    )
}

/// An invitation as its link shows it.
#[derive(Debug, Clone, Queryable)]
pub struct InvitationView {
    /// Id.
    pub id: InvitationId,
    /// Its workspace: the door for the invitee, who isn't a member of it
    /// yet.
    pub workspace: Tenant,
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
        .filter(invitations::status.eq(InvitationStatus::Pending))
        .filter(invitations::expires_at.gt(now()))
        .filter(workspaces::status.ne(WorkspaceStatus::Archived))
        .select((
            invitations::id,
            invitations::workspace_id,
            workspaces::name,
            invitations::email,
            invitations::name,
            roles::id,
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
    status: InvitationStatus,
    by_name: &str,
) -> Result<(), DbError> {
    let at = now();
    expect_one(
        diesel::update(invitations::table)
            .filter(invitations::token_hash.eq(token_hash))
            .filter(invitations::email.eq(email))
            .filter(invitations::status.eq(InvitationStatus::Pending))
            .filter(invitations::expires_at.gt(at))
            .set((
                invitations::status.eq(status),
                invitations::resolved_at.eq(at),
                invitations::resolved_by_name.eq(by_name),
            ))
            .execute(conn)?,
    )
}

/// When a pending invitation of the scoped workspace was last sent.
pub fn last_sent_at(
    conn: &mut AnyConnection,
    scope: &Scope,
    id: &InvitationId,
) -> Result<NaiveDateTime, DbError> {
    Ok(scope
        .invitations()
        .filter(invitations::id.eq(id))
        .select(invitations::last_sent_at)
        .first(conn)?)
}

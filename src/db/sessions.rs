//! Server-side sessions. A row is keyed by the SHA-256 of the cookie's
//! session key (a database leak yields no usable cookie). Deleting a row ends
//! that session on its next request: that is how sign-out, "sign out other
//! sessions" and password changes take effect everywhere at once.

use super::stamps::Stamp;
use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{audit_versions, memberships, roles, sessions, users, workspaces};
use super::users::User;
use super::workspaces::{WorkspaceAccess, sort_accessible};
use super::{AnyConnection, DbError, natively};
use crate::domain::{MembershipStatus, UserId, UserStatus, WorkspaceId, WorkspaceStatus};

/// The expiry rules applied when a session is loaded.
#[derive(Debug, Clone, Copy)]
pub struct Expiry {
    /// Now.
    pub now: NaiveDateTime,
    /// Sessions idle since before this have ended.
    pub idle_cutoff: NaiveDateTime,
    /// Sessions created before this have ended.
    pub lifetime_cutoff: NaiveDateTime,
}

impl Expiry {
    /// The cut-offs that decide whether a session is alive right now, given
    /// the idle timeout and the absolute lifetime.
    pub fn now(idle: chrono::Duration, lifetime: chrono::Duration) -> Self {
        let now = super::now();
        Self {
            now,
            idle_cutoff: now - idle,
            lifetime_cutoff: now - lifetime,
        }
    }
}

/// A session row being written by the store.
#[derive(Debug, Clone)]
pub struct SessionWrite {
    /// SHA-256 (hex) of the session key.
    pub id_hash: String,
    /// The session's public id (from its state), once signed in.
    pub public_id: Option<String>,
    /// The signed-in user (from its state).
    pub user_id: Option<UserId>,
    /// The serialised state.
    pub state: String,
    /// The active workspace (from its state), so the next load can bring
    /// that workspace's roles.
    pub active_workspace_id: Option<WorkspaceId>,
    /// When the cookie expires.
    pub expires_at: NaiveDateTime,
}

/// A session as listed on the account page.
#[derive(Debug, Clone, Queryable)]
pub struct SessionInfo {
    /// Public id, used to sign it out.
    pub public_id: Option<String>,
    /// Browser's user agent.
    pub user_agent: String,
    /// Client IP last seen.
    pub ip: String,
    /// Sign-in time.
    pub created_at: NaiveDateTime,
    /// Last request (to within a minute).
    pub last_seen_at: NaiveDateTime,
}

/// The state of a live session, or `None` when it doesn't exist or has expired.
pub fn load(
    conn: &mut AnyConnection,
    id_hash: &str,
    expiry: Expiry,
) -> Result<Option<String>, DbError> {
    Ok(sessions::table
        .find(id_hash)
        .filter(sessions::expires_at.gt(expiry.now))
        .filter(sessions::last_seen_at.gt(expiry.idle_cutoff))
        .filter(sessions::created_at.gt(expiry.lifetime_cutoff))
        .select(sessions::state)
        .first(conn)
        .optional()?)
}

/// A live session with everything a signed-in request needs to know about
/// who is asking, read in one statement (see [`load_with_access`]).
#[derive(Debug, Clone)]
pub struct LoadedSession {
    /// The serialised state.
    pub state: String,
    /// The signed-in user the row names, if any.
    pub user_id: Option<UserId>,
    /// That user, if the account is still active.
    pub user: Option<User>,
    /// The workspaces that user may enter right now (personal first).
    pub accessible: Vec<WorkspaceAccess>,
    /// Last request (to within a minute).
    pub last_seen_at: NaiveDateTime,
    /// Client IP last seen.
    pub ip: String,
    /// User agent last seen.
    pub user_agent: String,
}

/// The session's own part of a [`load_with_access`] row.
#[derive(Queryable, Selectable)]
#[diesel(table_name = sessions)]
struct LiveSession {
    state: String,
    user_id: Option<UserId>,
    #[diesel(deserialize_as = Stamp)]
    last_seen_at: NaiveDateTime,
    ip: String,
    user_agent: String,
}

/// The live session with this key hash, its active user, and every
/// workspace they may enter with their role there and its versions (the
/// audit version from its own table), in one query: a row per accessible
/// workspace. The `Scope` extractor takes it from there instead
/// of asking again. The workspace's roles are not among the rows: they
/// cost PostgreSQL a third more work for this statement (pgbench,
/// 100 000-member organization: 19 000 against 28 000 tps) and doubled the
/// rows to decode, for the one page with role menus, which keeps them in
/// memory by `workspaces.roles_version` instead (`web::cache::RoleCache`).
/// Decoding the session's and user's columns again on each row was
/// measured cheaper overall than a `UNION ALL` returning them once
/// (SQLite: 0.4 % fewer instructions; PostgreSQL: 275 µs of its CPU per
/// dashboard view against 185–235). `None` when the session doesn't exist
/// or has expired.
pub fn load_with_access(
    conn: &mut AnyConnection,
    id_hash: &str,
    expiry: Expiry,
) -> Result<Option<LoadedSession>, DbError> {
    type Row = (LiveSession, Option<User>, Option<WorkspaceAccess>);
    // `as_select` names the backend, so the query is built in each arm.
    let rows: Vec<Row> = natively!(conn, |native| sessions::table
        .left_join(
            users::table.on(sessions::user_id
                .eq(users::id.nullable())
                .and(users::status.eq(UserStatus::Active))),
        )
        .left_join(
            memberships::table.on(memberships::user_id
                .eq(users::id)
                .and(memberships::status.eq(MembershipStatus::Active))),
        )
        .left_join(
            workspaces::table.on(workspaces::id
                .eq(memberships::workspace_id)
                .and(workspaces::status.ne(WorkspaceStatus::Archived))),
        )
        .left_join(roles::table.on(roles::id.eq(memberships::role_id)))
        .left_join(audit_versions::table.on(audit_versions::workspace_id.eq(workspaces::id)))
        .filter(sessions::id_hash.eq(id_hash))
        .filter(sessions::expires_at.gt(expiry.now))
        .filter(sessions::last_seen_at.gt(expiry.idle_cutoff))
        .filter(sessions::created_at.gt(expiry.lifetime_cutoff))
        .select((
            LiveSession::as_select(),
            // `Option<T>` selects T's columns as nullable: NULL without a
            // user (or an accessible workspace) on the right of the join.
            Option::<User>::as_select(),
            Option::<WorkspaceAccess>::as_select(),
        ))
        .load(native))?;
    let mut rows = rows.into_iter();
    let Some((session, user, first_access)) = rows.next() else {
        return Ok(None);
    };
    // A membership of an archived workspace joins no workspace: its columns
    // come back NULL and the row is skipped.
    let mut accessible: Vec<WorkspaceAccess> = std::iter::once(first_access)
        .chain(rows.map(|(_, _, access)| access))
        .flatten()
        .collect();
    sort_accessible(&mut accessible);
    Ok(Some(LoadedSession {
        state: session.state,
        user_id: session.user_id,
        user,
        accessible,
        last_seen_at: session.last_seen_at,
        ip: session.ip,
        user_agent: session.user_agent,
    }))
}

/// Records activity (last seen, client IP, user agent) unconditionally;
/// the caller decided from a [`LoadedSession`] that it is due.
pub fn record_activity(
    conn: &mut AnyConnection,
    public_id: &str,
    ip: &str,
    user_agent: &str,
    now: NaiveDateTime,
) -> Result<(), DbError> {
    diesel::update(sessions::table)
        .filter(sessions::public_id.eq(public_id))
        .set((
            sessions::last_seen_at.eq(now),
            sessions::ip.eq(ip),
            sessions::user_agent.eq(user_agent),
        ))
        .execute(conn)?;
    Ok(())
}

/// Inserts a new session.
pub fn insert(
    conn: &mut AnyConnection,
    row: &SessionWrite,
    now: NaiveDateTime,
) -> Result<(), DbError> {
    diesel::insert_into(sessions::table)
        .values((
            sessions::id_hash.eq(&row.id_hash),
            sessions::public_id.eq(&row.public_id),
            sessions::user_id.eq(&row.user_id),
            sessions::state.eq(&row.state),
            sessions::active_workspace_id.eq(&row.active_workspace_id),
            sessions::created_at.eq(now),
            sessions::last_seen_at.eq(now),
            sessions::expires_at.eq(row.expires_at),
        ))
        .execute(conn)?;
    Ok(())
}

/// Replaces a session's state; returns whether the row still existed.
pub fn update(conn: &mut AnyConnection, row: &SessionWrite) -> Result<bool, DbError> {
    let changed = diesel::update(sessions::table.find(&row.id_hash))
        .set((
            sessions::public_id.eq(&row.public_id),
            sessions::user_id.eq(&row.user_id),
            sessions::state.eq(&row.state),
            sessions::active_workspace_id.eq(&row.active_workspace_id),
            sessions::expires_at.eq(row.expires_at),
        ))
        .execute(conn)?;
    Ok(changed > 0)
}

/// Moves a session's cookie expiry.
pub fn set_expiry(
    conn: &mut AnyConnection,
    id_hash: &str,
    expires_at: NaiveDateTime,
) -> Result<(), DbError> {
    diesel::update(sessions::table.find(id_hash))
        .set(sessions::expires_at.eq(expires_at))
        .execute(conn)?;
    Ok(())
}

/// Deletes one session by its key hash.
pub fn delete(conn: &mut AnyConnection, id_hash: &str) -> Result<(), DbError> {
    diesel::delete(sessions::table.find(id_hash)).execute(conn)?;
    Ok(())
}

/// Records activity: last seen, client IP and user agent. Writes only when
/// something changed or `min_interval` has passed, and decides that with a
/// read first: on SQLite even an UPDATE that matches nothing takes the write
/// lock, which would serialise every page view.
pub fn touch(
    conn: &mut AnyConnection,
    public_id: &str,
    ip: &str,
    user_agent: &str,
    now: NaiveDateTime,
    min_interval: chrono::Duration,
) -> Result<(), DbError> {
    let seen: Option<(NaiveDateTime, String, String)> = sessions::table
        .filter(sessions::public_id.eq(public_id))
        .select((sessions::last_seen_at, sessions::ip, sessions::user_agent))
        .first(conn)
        .optional()?;
    let Some((last_seen, seen_ip, seen_agent)) = seen else {
        return Ok(());
    };
    if last_seen >= now - min_interval && seen_ip == ip && seen_agent == user_agent {
        return Ok(());
    }
    diesel::update(sessions::table)
        .filter(sessions::public_id.eq(public_id))
        .set((
            sessions::last_seen_at.eq(now),
            sessions::ip.eq(ip),
            sessions::user_agent.eq(user_agent),
        ))
        .execute(conn)?;
    Ok(())
}

/// The user's live sessions, most recently active first.
pub fn list_for_user(
    conn: &mut AnyConnection,
    user: &UserId,
    expiry: Expiry,
) -> Result<Vec<SessionInfo>, DbError> {
    Ok(sessions::table
        .filter(sessions::user_id.eq(user))
        .filter(sessions::expires_at.gt(expiry.now))
        .filter(sessions::last_seen_at.gt(expiry.idle_cutoff))
        .filter(sessions::created_at.gt(expiry.lifetime_cutoff))
        .order(sessions::last_seen_at.desc())
        .select((
            sessions::public_id,
            sessions::user_agent,
            sessions::ip,
            sessions::created_at,
            sessions::last_seen_at,
        ))
        .load(conn)?)
}

/// Ends one of the user's sessions; a public id of someone else's session
/// matches nothing. Returns whether a session ended.
pub fn delete_one_of_user(
    conn: &mut AnyConnection,
    user: &UserId,
    public_id: &str,
) -> Result<bool, DbError> {
    let deleted = diesel::delete(
        sessions::table
            .filter(sessions::user_id.eq(user))
            .filter(sessions::public_id.eq(public_id)),
    )
    .execute(conn)?;
    Ok(deleted > 0)
}

/// Ends all of the user's sessions except the one with `keep_public_id`.
pub fn delete_others_of_user(
    conn: &mut AnyConnection,
    user: &UserId,
    keep_public_id: &str,
) -> Result<usize, DbError> {
    Ok(diesel::delete(
        sessions::table.filter(sessions::user_id.eq(user)).filter(
            sessions::public_id
                .ne(keep_public_id)
                .or(sessions::public_id.is_null()),
        ),
    )
    .execute(conn)?)
}

/// Ends every session of the user (a password reset: whoever else was
/// signed in, e.g. someone who registered the address first, is out).
pub fn delete_all_of_user(conn: &mut AnyConnection, user: &UserId) -> Result<usize, DbError> {
    Ok(diesel::delete(sessions::table.filter(sessions::user_id.eq(user))).execute(conn)?)
}

/// Deletes sessions that can no longer be used.
pub fn purge_expired(conn: &mut AnyConnection, expiry: Expiry) -> Result<usize, DbError> {
    Ok(diesel::delete(
        sessions::table.filter(
            sessions::expires_at
                .le(expiry.now)
                .or(sessions::last_seen_at.le(expiry.idle_cutoff))
                .or(sessions::created_at.le(expiry.lifetime_cutoff)),
        ),
    )
    .execute(conn)?)
}

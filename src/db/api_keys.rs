//! Members' API keys. The page's queries start from the scoped workspace's
//! `api_keys`, so another workspace's key is not found; the one exception
//! is [`by_prefix`], which is how a presented key finds its holder.
//! Functions that change data expect to run inside the caller's
//! transaction.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::expect_one;
use super::schema::{api_key_windows, api_keys, memberships, roles, users, workspaces};
use super::stamps::{MaybeStamp, Stamp};
use super::{AnyConnection, DbError, natively, now};
use crate::db::scope::{Scope, Tenant};
use crate::domain::{
    ApiKeyId, ApiKeyKind, MembershipStatus, SystemRole, UserId, UserStatus, WorkspaceKind,
    WorkspaceStatus,
};

/// A key as the API keys page lists it, with its holder.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = api_keys)]
pub struct KeyRow {
    /// Id.
    pub id: ApiKeyId,
    /// Name.
    pub name: String,
    /// What it is for.
    pub description: String,
    /// Standard or AI agent.
    pub kind: ApiKeyKind,
    /// Permission names separated by spaces; empty for everything the
    /// holder may do.
    pub scope: String,
    /// The public prefix, shown to tell keys apart.
    pub prefix: String,
    /// Whose key it is.
    pub user_id: UserId,
    /// The holder's name.
    #[diesel(select_expression = users::name)]
    pub holder_name: String,
    /// The holder's email.
    #[diesel(select_expression = users::email)]
    pub holder_email: String,
    /// When it was created.
    #[diesel(deserialize_as = Stamp)]
    pub created_at: NaiveDateTime,
    /// When it stops working by itself.
    #[diesel(deserialize_as = MaybeStamp)]
    pub expires_at: Option<NaiveDateTime>,
    /// When it was last presented (noted at most once a minute).
    #[diesel(deserialize_as = MaybeStamp)]
    pub last_used_at: Option<NaiveDateTime>,
    /// When it was revoked, for good.
    #[diesel(deserialize_as = MaybeStamp)]
    pub revoked_at: Option<NaiveDateTime>,
}

/// The scoped workspace's keys, newest first: every member's when
/// `holder` is `None` (for `keys.manage`), else that member's own. At most
/// `limit` rows; the page asks for one more than it shows.
pub fn list(
    conn: &mut AnyConnection,
    scope: &Scope,
    holder: Option<&UserId>,
    limit: i64,
) -> Result<Vec<KeyRow>, DbError> {
    let mut query = scope
        .api_keys()
        .inner_join(users::table.on(users::id.eq(api_keys::user_id)))
        .select(KeyRow::as_select())
        .order((api_keys::created_at.desc(), api_keys::id.desc()))
        .limit(limit)
        .into_boxed();
    if let Some(holder) = holder {
        query = query.filter(api_keys::user_id.eq(holder));
    }
    Ok(query.load(conn)?)
}

/// One key of the scoped workspace.
pub fn find(conn: &mut AnyConnection, scope: &Scope, id: &ApiKeyId) -> Result<KeyRow, DbError> {
    Ok(scope
        .api_keys()
        .inner_join(users::table.on(users::id.eq(api_keys::user_id)))
        .filter(api_keys::id.eq(id))
        .select(KeyRow::as_select())
        .first(conn)?)
}

/// A key to store: only the hash of its secret.
pub struct NewApiKey<'a> {
    /// The member it acts as.
    pub holder: &'a UserId,
    /// Name.
    pub name: &'a str,
    /// What it is for.
    pub description: &'a str,
    /// Standard or AI agent.
    pub kind: ApiKeyKind,
    /// Permission names separated by spaces; empty for everything.
    pub scope: &'a str,
    /// The public prefix.
    pub prefix: &'a str,
    /// SHA-256 of the whole key, hex.
    pub secret_hash: &'a str,
    /// When it stops working by itself.
    pub expires_at: Option<NaiveDateTime>,
}

/// Stores a new key of the scoped workspace, created by the scope's user.
pub fn create(
    conn: &mut AnyConnection,
    scope: &Scope,
    key: &NewApiKey<'_>,
) -> Result<ApiKeyId, DbError> {
    let id = ApiKeyId::generate();
    diesel::insert_into(api_keys::table)
        .values((
            api_keys::id.eq(&id),
            api_keys::workspace_id.eq(scope.workspace_id()),
            api_keys::user_id.eq(key.holder),
            api_keys::name.eq(key.name),
            api_keys::description.eq(key.description),
            api_keys::kind.eq(key.kind),
            api_keys::scope.eq(key.scope),
            api_keys::prefix.eq(key.prefix),
            api_keys::secret_hash.eq(key.secret_hash),
            api_keys::created_by.eq(scope.user_id()),
            api_keys::created_at.eq(now()),
            api_keys::expires_at.eq(key.expires_at),
        ))
        .execute(conn)?;
    Ok(id)
}

/// Revokes a live key of the scoped workspace, for good; `NotFound` when
/// there is none with this id or it was already revoked.
pub fn revoke(conn: &mut AnyConnection, scope: &Scope, id: &ApiKeyId) -> Result<(), DbError> {
    expect_one(
        diesel::update(
            scope
                .api_keys()
                .filter(api_keys::id.eq(id))
                .filter(api_keys::revoked_at.is_null()),
        )
        .set((
            api_keys::revoked_at.eq(now()),
            api_keys::revoked_by.eq(scope.user_id()),
        ))
        .execute(conn)?,
    )
}

/// A presented key's holder as the API needs it: one row joining the key,
/// its membership, the holder, the role and the workspace.
#[derive(Debug, Clone, Queryable)]
pub struct KeyHolder {
    /// The key.
    pub id: ApiKeyId,
    /// SHA-256 of the whole key, hex, to check the presented key against.
    pub secret_hash: String,
    /// Standard or AI agent.
    pub kind: ApiKeyKind,
    /// The key's permissions; empty for everything the holder may do.
    pub scope: String,
    /// When it stops working.
    #[diesel(deserialize_as = MaybeStamp)]
    pub expires_at: Option<NaiveDateTime>,
    /// When it was last presented.
    #[diesel(deserialize_as = MaybeStamp)]
    pub last_used_at: Option<NaiveDateTime>,
    /// The holder.
    pub user_id: UserId,
    /// The holder's email.
    pub email: String,
    /// Whether the holder's account may sign in.
    pub user_status: UserStatus,
    /// Whether the holder is an active member.
    pub membership_status: MembershipStatus,
    /// The holder's role's system key, if it is a system role.
    pub role_system_key: Option<SystemRole>,
    /// The holder's role's stored permissions (custom roles).
    pub role_permissions: String,
    /// The workspace the key opens: the key is the credential that names
    /// it, so it is read as the [`Tenant`] the key's calls act for.
    pub workspace: Tenant,
    /// Its name.
    pub workspace_name: String,
    /// Personal, organization or team.
    pub workspace_kind: WorkspaceKind,
    /// Active, suspended or archived.
    pub workspace_status: WorkspaceStatus,
}

/// The unrevoked key with this prefix and its holder, from any workspace:
/// the key itself is the credential, so this lookup isn't scoped.
pub fn by_prefix(conn: &mut AnyConnection, prefix: &str) -> Result<Option<KeyHolder>, DbError> {
    Ok(api_keys::table
        .inner_join(
            memberships::table.on(memberships::workspace_id
                .eq(api_keys::workspace_id)
                .and(memberships::user_id.eq(api_keys::user_id))),
        )
        .inner_join(users::table.on(users::id.eq(api_keys::user_id)))
        .inner_join(roles::table.on(roles::id.eq(memberships::role_id)))
        .inner_join(workspaces::table.on(workspaces::id.eq(api_keys::workspace_id)))
        .filter(api_keys::prefix.eq(prefix))
        .filter(api_keys::revoked_at.is_null())
        .select((
            api_keys::id,
            api_keys::secret_hash,
            api_keys::kind,
            api_keys::scope,
            api_keys::expires_at,
            api_keys::last_used_at,
            users::id,
            users::email,
            users::status,
            memberships::status,
            roles::system_key,
            roles::permissions,
            workspaces::id,
            workspaces::name,
            workspaces::kind,
            workspaces::status,
        ))
        .first(conn)
        .optional()?)
}

/// Notes that a key was presented, at most once a minute per key.
pub fn touch(conn: &mut AnyConnection, id: &ApiKeyId) -> Result<(), DbError> {
    let at = now();
    let a_minute_ago = at - chrono::Duration::minutes(1);
    diesel::update(
        api_keys::table.filter(api_keys::id.eq(id)).filter(
            api_keys::last_used_at
                .is_null()
                .or(api_keys::last_used_at.lt(a_minute_ago)),
        ),
    )
    .set(api_keys::last_used_at.eq(at))
    .execute(conn)?;
    Ok(())
}

/// Claims `calls` more calls for a key in one minute, shared by every
/// instance, if the minute's total stays within `max`; returns whether it
/// did. One statement: concurrent claims from any number of instances
/// can't together pass `max`.
pub fn claim_calls(
    conn: &mut AnyConnection,
    key: &ApiKeyId,
    minute: i64,
    calls: i32,
    max: i32,
) -> Result<bool, DbError> {
    if calls > max {
        return Ok(false);
    }
    let upsert = diesel::insert_into(api_key_windows::table)
        .values((
            api_key_windows::key_id.eq(key),
            api_key_windows::window_minute.eq(minute),
            api_key_windows::calls.eq(calls),
        ))
        .on_conflict((api_key_windows::key_id, api_key_windows::window_minute))
        .do_update()
        .set(api_key_windows::calls.eq(api_key_windows::calls + calls));
    // `ON CONFLICT … DO UPDATE … WHERE`: the update happens only if the
    // minute's count stays within `max` (which the multi-backend wrapper
    // can't render, so each backend's own connection runs it).
    let upsert = diesel::query_dsl::methods::FilterDsl::filter(
        upsert,
        api_key_windows::calls.le(max - calls),
    );
    let claimed = natively!(conn, |native| upsert.execute(native))?;
    Ok(claimed == 1)
}

/// Forgets the counts of minutes before `minute` (the maintenance job).
pub fn purge_windows_before(conn: &mut AnyConnection, minute: i64) -> Result<usize, DbError> {
    Ok(
        diesel::delete(api_key_windows::table.filter(api_key_windows::window_minute.lt(minute)))
            .execute(conn)?,
    )
}

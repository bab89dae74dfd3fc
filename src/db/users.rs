//! Accounts. Creating a user also creates their personal workspace, its
//! owner role and the membership in one transaction, so a user without a
//! personal workspace cannot exist.

use super::stamps::{MaybeStamp, Stamp};
use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::expect_one;
use super::schema::{memberships, roles, users, workspaces};
use super::{AnyConnection, DbError, now, write_transaction};
use crate::domain::{
    Email, MembershipId, MembershipStatus, PersonName, RoleId, SystemRole, UserId, UserStatus,
    WorkspaceId, WorkspaceKind, WorkspaceStatus,
};

/// An account as the application sees it (never its password hash).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct User {
    /// Its id.
    pub id: UserId,
    /// Normalised email address.
    pub email: String,
    /// Display name.
    pub name: String,
    /// Whether they may sign in.
    pub status: UserStatus,
    /// The previous successful sign-in.
    #[diesel(deserialize_as = MaybeStamp)]
    pub last_login_at: Option<NaiveDateTime>,
    /// When the account was created.
    #[diesel(deserialize_as = Stamp)]
    pub created_at: NaiveDateTime,
    /// When the user proved they receive mail at `email` (`None`: a banner
    /// asks them to, and invitations need their own link).
    #[diesel(deserialize_as = MaybeStamp)]
    pub email_verified_at: Option<NaiveDateTime>,
}

/// What sign-in needs to check a password.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct Credentials {
    /// The account.
    pub id: UserId,
    /// Its display name (for the audit log).
    pub name: String,
    /// Its argon2id PHC string.
    pub password_hash: String,
    /// Whether they may sign in.
    pub status: UserStatus,
}

/// Creates an account with its personal workspace and returns both. An
/// email already in use comes back as `DbError::Conflict` naming the email.
pub fn create(
    conn: &mut AnyConnection,
    email: &Email,
    name: &PersonName,
    password_hash: &str,
) -> Result<(User, WorkspaceId), DbError> {
    write_transaction(conn, |conn| {
        let created = now();
        let user_id = UserId::generate();
        diesel::insert_into(users::table)
            .values((
                users::id.eq(&user_id),
                users::email.eq(email.as_str()),
                users::name.eq(name.as_str()),
                users::password_hash.eq(password_hash),
                users::status.eq(UserStatus::Active),
                users::created_at.eq(created),
                users::updated_at.eq(created),
            ))
            .execute(conn)?;
        let workspace_id = WorkspaceId::generate();
        diesel::insert_into(workspaces::table)
            .values((
                workspaces::id.eq(&workspace_id),
                workspaces::kind.eq(WorkspaceKind::Personal),
                workspaces::name.eq("Personal"),
                workspaces::personal_owner_id.eq(&user_id),
                workspaces::status.eq(WorkspaceStatus::Active),
                workspaces::created_at.eq(created),
                workspaces::updated_at.eq(created),
            ))
            .execute(conn)?;
        super::billing::open_wallet(conn, &workspace_id)?;
        let owner = SystemRole::Owner;
        let role_id = RoleId::generate();
        diesel::insert_into(roles::table)
            .values((
                roles::id.eq(&role_id),
                roles::workspace_id.eq(&workspace_id),
                roles::system_key.eq(owner),
                roles::name.eq(owner.display_name()),
                roles::level.eq(owner.level()),
                roles::created_at.eq(created),
                roles::updated_at.eq(created),
            ))
            .execute(conn)?;
        diesel::insert_into(memberships::table)
            .values((
                memberships::id.eq(MembershipId::generate()),
                memberships::workspace_id.eq(&workspace_id),
                memberships::user_id.eq(&user_id),
                memberships::role_id.eq(&role_id),
                memberships::status.eq(MembershipStatus::Active),
                memberships::joined_at.eq(created),
                memberships::updated_at.eq(created),
            ))
            .execute(conn)?;
        let user = User {
            id: user_id,
            email: email.as_str().to_owned(),
            name: name.as_str().to_owned(),
            status: UserStatus::Active,
            last_login_at: None,
            created_at: created,
            email_verified_at: None,
        };
        Ok((user, workspace_id))
    })
}

/// The credentials of the account with this email, if any.
pub fn credentials_by_email(
    conn: &mut AnyConnection,
    email: &Email,
) -> Result<Option<Credentials>, DbError> {
    Ok(users::table
        .filter(users::email.eq(email.as_str()))
        .select(Credentials::as_select())
        .first(conn)
        .optional()?)
}

/// The credentials of one account (for re-authentication).
pub fn credentials(conn: &mut AnyConnection, id: &UserId) -> Result<Credentials, DbError> {
    Ok(users::table
        .find(id)
        .select(Credentials::as_select())
        .first(conn)?)
}

/// The account behind a session, if it still exists and is active.
pub fn find_active(conn: &mut AnyConnection, id: &UserId) -> Result<Option<User>, DbError> {
    Ok(users::table
        .find(id)
        .filter(users::status.eq(UserStatus::Active))
        .select(User::as_select())
        .first(conn)
        .optional()?)
}

/// Records the time of a successful sign-in (shown as "last sign-in" to admins).
pub fn record_sign_in(conn: &mut AnyConnection, id: &UserId) -> Result<(), DbError> {
    diesel::update(users::table.find(id))
        .set(users::last_login_at.eq(now()))
        .execute(conn)?;
    Ok(())
}

/// Renames the account.
pub fn rename(conn: &mut AnyConnection, id: &UserId, name: &PersonName) -> Result<(), DbError> {
    expect_one(
        diesel::update(users::table.find(id))
            .set((users::name.eq(name.as_str()), users::updated_at.eq(now())))
            .execute(conn)?,
    )
}

/// Replaces the password hash.
pub fn set_password_hash(
    conn: &mut AnyConnection,
    id: &UserId,
    password_hash: &str,
) -> Result<(), DbError> {
    expect_one(
        diesel::update(users::table.find(id))
            .set((
                users::password_hash.eq(password_hash),
                users::updated_at.eq(now()),
            ))
            .execute(conn)?,
    )
}

/// How many accounts exist (for the operator's CLI and metrics).
pub fn count(conn: &mut AnyConnection) -> Result<i64, DbError> {
    Ok(users::table.count().get_result(conn)?)
}

/// Records that the user proved they receive mail at their address.
pub fn mark_email_verified(conn: &mut AnyConnection, id: &UserId) -> Result<(), DbError> {
    diesel::update(users::table.find(id))
        .set(users::email_verified_at.eq(now()))
        .execute(conn)?;
    Ok(())
}

/// Records that the user proved they receive mail at `email`, only if that
/// is still their address (a link mailed to an old address proves nothing
/// about the new one). Returns whether it was marked.
pub fn mark_email_verified_if_current(
    conn: &mut AnyConnection,
    id: &UserId,
    email: &str,
) -> Result<bool, DbError> {
    let changed = diesel::update(users::table.find(id))
        .filter(users::email.eq(email))
        .set(users::email_verified_at.eq(now()))
        .execute(conn)?;
    Ok(changed == 1)
}

/// Moves the account to a new, proven address. Another account holding it
/// comes back as `DbError::Conflict` naming the email index.
pub fn change_email(conn: &mut AnyConnection, id: &UserId, email: &Email) -> Result<(), DbError> {
    let at = now();
    expect_one(
        diesel::update(users::table.find(id))
            .set((
                users::email.eq(email.as_str()),
                users::email_verified_at.eq(at),
                users::updated_at.eq(at),
            ))
            .execute(conn)?,
    )
}

/// The account with this id, whatever its status (for links that identify
/// the account by themselves).
pub fn find(conn: &mut AnyConnection, id: &UserId) -> Result<User, DbError> {
    Ok(users::table
        .find(id)
        .select(User::as_select())
        .first(conn)?)
}

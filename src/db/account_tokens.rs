//! Single-use links of an account (email verification, password reset,
//! email change). Only a token's SHA-256 is stored. A token is bound to one
//! purpose and to the address it was mailed to; it is consumed by one
//! conditional update, so two requests racing with one link can't both use it.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::account_tokens;
use super::{AnyConnection, DbError, now};
use crate::domain::UserId;

/// What a token may be used for; a token of one purpose never works for another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenPurpose {
    /// Proves the account's email address.
    VerifyEmail,
    /// Sets a new password without the old one.
    PasswordReset,
    /// Moves the account to the address the link was sent to.
    EmailChange,
}

impl TokenPurpose {
    /// The stored form (the migration's CHECK lists the same values).
    pub fn as_str(self) -> &'static str {
        match self {
            TokenPurpose::VerifyEmail => "verify_email",
            TokenPurpose::PasswordReset => "password_reset",
            TokenPurpose::EmailChange => "email_change",
        }
    }
}

/// What a token stands for.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = account_tokens)]
pub struct AccountToken {
    /// The account.
    pub user_id: UserId,
    /// The address the link was sent to (the new one, for an email change).
    pub email: String,
    /// When the link stops working.
    pub expires_at: NaiveDateTime,
}

/// A token about to be stored.
#[derive(Debug, Clone)]
pub struct NewToken<'a> {
    /// The account.
    pub user_id: &'a UserId,
    /// What it is for.
    pub purpose: TokenPurpose,
    /// SHA-256 of the token, hex.
    pub token_hash: &'a str,
    /// The address the link goes to.
    pub email: &'a str,
    /// When it stops working.
    pub expires_at: NaiveDateTime,
}

/// Stores a token.
pub fn create(conn: &mut AnyConnection, token: &NewToken<'_>) -> Result<(), DbError> {
    diesel::insert_into(account_tokens::table)
        .values((
            account_tokens::id.eq(uuid::Uuid::now_v7().to_string()),
            account_tokens::user_id.eq(token.user_id),
            account_tokens::purpose.eq(token.purpose.as_str()),
            account_tokens::token_hash.eq(token.token_hash),
            account_tokens::email.eq(token.email),
            account_tokens::created_at.eq(now()),
            account_tokens::expires_at.eq(token.expires_at),
        ))
        .execute(conn)?;
    Ok(())
}

/// The unused, unexpired token of this purpose with this hash, if any (to
/// show the page a link opens; using it goes through [`consume`]).
pub fn usable(
    conn: &mut AnyConnection,
    token_hash: &str,
    purpose: TokenPurpose,
) -> Result<Option<AccountToken>, DbError> {
    Ok(account_tokens::table
        .filter(account_tokens::token_hash.eq(token_hash))
        .filter(account_tokens::purpose.eq(purpose.as_str()))
        .filter(account_tokens::used_at.is_null())
        .filter(account_tokens::expires_at.gt(now()))
        .select(AccountToken::as_select())
        .first(conn)
        .optional()?)
}

/// Uses a token: one conditional update that only an unused, unexpired
/// token of this purpose passes. `None` when the link is unknown, used,
/// expired or for another purpose (one and the same answer).
pub fn consume(
    conn: &mut AnyConnection,
    token_hash: &str,
    purpose: TokenPurpose,
) -> Result<Option<AccountToken>, DbError> {
    let at = now();
    let used = diesel::update(
        account_tokens::table
            .filter(account_tokens::token_hash.eq(token_hash))
            .filter(account_tokens::purpose.eq(purpose.as_str()))
            .filter(account_tokens::used_at.is_null())
            .filter(account_tokens::expires_at.gt(at)),
    )
    .set(account_tokens::used_at.eq(at))
    .execute(conn)?;
    if used != 1 {
        return Ok(None);
    }
    Ok(Some(
        account_tokens::table
            .filter(account_tokens::token_hash.eq(token_hash))
            .select(AccountToken::as_select())
            .first(conn)?,
    ))
}

/// When the newest token of this purpose was issued to the user (for
/// "at most once a minute" limits).
pub fn last_issued(
    conn: &mut AnyConnection,
    user: &UserId,
    purpose: TokenPurpose,
) -> Result<Option<NaiveDateTime>, DbError> {
    Ok(account_tokens::table
        .filter(account_tokens::user_id.eq(user))
        .filter(account_tokens::purpose.eq(purpose.as_str()))
        .select(diesel::dsl::max(account_tokens::created_at))
        .first(conn)?)
}

/// Makes every unused token of these purposes of the user unusable (a
/// password reset or an email change voids links mailed before it).
pub fn void_for_user(
    conn: &mut AnyConnection,
    user: &UserId,
    purposes: &[TokenPurpose],
) -> Result<usize, DbError> {
    let purposes: Vec<&str> = purposes.iter().map(|p| p.as_str()).collect();
    Ok(diesel::update(
        account_tokens::table
            .filter(account_tokens::user_id.eq(user))
            .filter(account_tokens::purpose.eq_any(purposes))
            .filter(account_tokens::used_at.is_null()),
    )
    .set(account_tokens::used_at.eq(now()))
    .execute(conn)?)
}

/// Deletes tokens that expired before `before` (used or not): they can no
/// longer do anything.
pub fn purge_expired(conn: &mut AnyConnection, before: NaiveDateTime) -> Result<usize, DbError> {
    Ok(
        diesel::delete(account_tokens::table.filter(account_tokens::expires_at.lt(before)))
            .execute(conn)?,
    )
}

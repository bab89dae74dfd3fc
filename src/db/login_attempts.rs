//! Failed sign-ins, counted per account and per client IP in the database so
//! the limit holds across every instance sharing it.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use super::schema::login_attempts;
use super::{AnyConnection, DbError};

/// How many failures were recorded under `key` since `since`.
pub fn failures_since(
    conn: &mut AnyConnection,
    key: &str,
    since: NaiveDateTime,
) -> Result<i64, DbError> {
    Ok(login_attempts::table
        .filter(login_attempts::throttle_key.eq(key))
        .filter(login_attempts::attempted_at.gt(since))
        .count()
        .get_result(conn)?)
}

/// The oldest failure under `key` since `since`: the limit lifts one window after it.
pub fn oldest_failure_since(
    conn: &mut AnyConnection,
    key: &str,
    since: NaiveDateTime,
) -> Result<Option<NaiveDateTime>, DbError> {
    Ok(login_attempts::table
        .filter(login_attempts::throttle_key.eq(key))
        .filter(login_attempts::attempted_at.gt(since))
        .select(diesel::dsl::min(login_attempts::attempted_at))
        .first(conn)?)
}

/// Records one failure under each key.
pub fn record_failure(
    conn: &mut AnyConnection,
    keys: &[&str],
    at: NaiveDateTime,
) -> Result<(), DbError> {
    for key in keys {
        diesel::insert_into(login_attempts::table)
            .values((
                login_attempts::id.eq(uuid::Uuid::now_v7().to_string()),
                login_attempts::throttle_key.eq(*key),
                login_attempts::attempted_at.eq(at),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Forgets the failures of a key (an account that just signed in).
pub fn clear(conn: &mut AnyConnection, key: &str) -> Result<(), DbError> {
    diesel::delete(login_attempts::table.filter(login_attempts::throttle_key.eq(key)))
        .execute(conn)?;
    Ok(())
}

/// Deletes failures older than any window could look at.
pub fn purge_older_than(
    conn: &mut AnyConnection,
    age: Duration,
    now: NaiveDateTime,
) -> Result<usize, DbError> {
    Ok(
        diesel::delete(login_attempts::table.filter(login_attempts::attempted_at.lt(now - age)))
            .execute(conn)?,
    )
}

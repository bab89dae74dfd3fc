//! Throttle events (table `throttle_events`) in the database, so a limit
//! holds across every instance sharing it: sign-in attempts per account and
//! per client IP, password-reset requests per address and per client IP,
//! sign-ups and organization creations per client IP. Each row is one event
//! under a key (`account:…`, `ip:…`, `reset-email:…`, `reset-ip:…`,
//! `signup-ip:…`, `org-create-ip:…`); a limit counts a key's rows within a
//! sliding window.
//!
//! An attempt is *reserved* (its row written) before the costly or
//! squattable work it guards, in one write transaction that counts and
//! inserts only when every key is under its limit: concurrent requests can't
//! all pass one check (on SQLite the transaction is IMMEDIATE; on PostgreSQL
//! a transaction-scoped advisory lock per key serialises them).

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use diesel::sql_types::Text;

use super::schema::throttle_events;
use super::{AnyConnection, DbError, write_transaction};

/// One key's limit, for [`reserve`].
#[derive(Debug, Clone, Copy)]
pub struct KeyLimit<'a> {
    /// The throttle key, e.g. `ip:192.0.2.1`.
    pub key: &'a str,
    /// Events allowed under the key within the window.
    pub max: u32,
    /// The sliding window.
    pub window: Duration,
}

/// What [`reserve`] decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reservation {
    /// Every key was under its limit; one event was recorded under each, with these ids
    /// (in the order of the limits), so a caller can take back one that should not count.
    Granted(Vec<String>),
    /// At least one key is at its limit; nothing was recorded. The limit
    /// lifts at `until` (when the oldest counted event leaves its window).
    Refused {
        /// When the next attempt can pass.
        until: NaiveDateTime,
    },
}

/// Records one event under each key if, and only if, every key has fewer
/// than its `max` events within its window; otherwise records nothing.
/// Atomic against concurrent callers on both backends, also when nested in
/// the caller's write transaction (the lock is then held until it ends).
pub fn reserve(
    conn: &mut AnyConnection,
    limits: &[KeyLimit<'_>],
    now: NaiveDateTime,
) -> Result<Reservation, DbError> {
    write_transaction(conn, |conn| {
        if let AnyConnection::Postgresql(pg) = conn {
            // Locks in a fixed order, so two requests sharing keys can't deadlock.
            let mut keys: Vec<&str> = limits.iter().map(|limit| limit.key).collect();
            keys.sort_unstable();
            keys.dedup();
            for key in keys {
                diesel::sql_query("SELECT pg_advisory_xact_lock(hashtext($1))")
                    .bind::<Text, _>(key)
                    .execute(pg)?;
            }
        }
        let mut refused_until: Option<NaiveDateTime> = None;
        for limit in limits {
            let since = now - limit.window;
            if events_since(conn, limit.key, since)? >= i64::from(limit.max) {
                let oldest = oldest_event_since(conn, limit.key, since)?.unwrap_or(now);
                refused_until = refused_until.max(Some(oldest + limit.window));
            }
        }
        if let Some(until) = refused_until {
            return Ok(Reservation::Refused { until });
        }
        let mut ids = Vec::with_capacity(limits.len());
        for limit in limits {
            let id = uuid::Uuid::now_v7().to_string();
            diesel::insert_into(throttle_events::table)
                .values((
                    throttle_events::id.eq(&id),
                    throttle_events::throttle_key.eq(limit.key),
                    throttle_events::attempted_at.eq(now),
                ))
                .execute(conn)?;
            ids.push(id);
        }
        Ok(Reservation::Granted(ids))
    })
}

/// Takes back one reserved event (an attempt that turned out not to count,
/// such as a successful sign-in's per-IP reservation).
pub fn release(conn: &mut AnyConnection, id: &str) -> Result<(), DbError> {
    diesel::delete(throttle_events::table.filter(throttle_events::id.eq(id))).execute(conn)?;
    Ok(())
}

/// How many events were recorded under `key` since `since`.
pub fn events_since(
    conn: &mut AnyConnection,
    key: &str,
    since: NaiveDateTime,
) -> Result<i64, DbError> {
    Ok(throttle_events::table
        .filter(throttle_events::throttle_key.eq(key))
        .filter(throttle_events::attempted_at.gt(since))
        .count()
        .get_result(conn)?)
}

/// The oldest event under `key` since `since`: the limit lifts one window after it.
pub fn oldest_event_since(
    conn: &mut AnyConnection,
    key: &str,
    since: NaiveDateTime,
) -> Result<Option<NaiveDateTime>, DbError> {
    Ok(throttle_events::table
        .filter(throttle_events::throttle_key.eq(key))
        .filter(throttle_events::attempted_at.gt(since))
        .select(diesel::dsl::min(throttle_events::attempted_at))
        .first(conn)?)
}

/// Forgets the events of a key (an account that just signed in).
pub fn clear(conn: &mut AnyConnection, key: &str) -> Result<(), DbError> {
    diesel::delete(throttle_events::table.filter(throttle_events::throttle_key.eq(key)))
        .execute(conn)?;
    Ok(())
}

/// Deletes events older than any window could look at.
pub fn purge_older_than(
    conn: &mut AnyConnection,
    age: Duration,
    now: NaiveDateTime,
) -> Result<usize, DbError> {
    Ok(
        diesel::delete(throttle_events::table.filter(throttle_events::attempted_at.lt(now - age)))
            .execute(conn)?,
    )
}

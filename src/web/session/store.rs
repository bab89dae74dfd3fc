//! actix-session's `SessionStore` over the `sessions` table. The cookie
//! carries a random 256-bit key; the table holds only its SHA-256, so a copy
//! of the database yields no usable cookie. Idle timeout and absolute
//! lifetime are enforced here, on load.
//!
//! `load` reads the session, its user and the workspaces they may enter in
//! one statement, and hands the latter two to the `Scope` extractor through
//! the request's preload slot (see [`Preload`]).
//! A connection that turns out broken during `load` is replaced and the
//! read retried (it is a read, so that is always safe). A load that still
//! fails is handed to the request as its answer (see
//! `session::answer_failed_load`), not to actix-session as an error.

use std::collections::HashMap;

use actix_session::storage::{LoadError, SaveError, SessionKey, SessionStore, UpdateError};
use actix_web::cookie::time::Duration as CookieDuration;
use sha2::{Digest, Sha256};

use super::{
    PUBLIC_ID_KEY, Preload, SIGNED_IN_KEYS, USER_ID_KEY, WORKSPACE_KEY, put_load_failure,
    put_preload,
};
use crate::db::sessions::{Expiry, LoadedSession, SessionWrite};
use crate::db::{self, Db, DbError};
use crate::domain::{UserId, WorkspaceId};

/// The database-backed session store.
#[derive(Clone)]
pub struct DbSessionStore {
    db: Db,
    idle: chrono::Duration,
    lifetime: chrono::Duration,
}

impl DbSessionStore {
    /// A store enforcing the given idle timeout and absolute lifetime.
    pub fn new(db: Db, idle: chrono::Duration, lifetime: chrono::Duration) -> Self {
        Self { db, idle, lifetime }
    }

    /// The cut-offs that decide whether a session is still alive right now.
    pub fn expiry_now(idle: chrono::Duration, lifetime: chrono::Duration) -> Expiry {
        Expiry::now(idle, lifetime)
    }

    fn expiry(&self) -> Expiry {
        Self::expiry_now(self.idle, self.lifetime)
    }

    /// The live session with its user's access (`Ok`), or only its state
    /// when reading the access failed (`Err`). `None` when there is no live
    /// session, or when the database could not be read: the failure is
    /// kept for the error page rather than failing the middleware.
    async fn read(
        &self,
        key: &SessionKey,
    ) -> Result<Option<Result<LoadedSession, String>>, LoadError> {
        let id_hash = hash_key(key.as_ref());
        let expiry = self.expiry();
        let read = self
            .db
            .read_handing_on(move |conn| {
                match db::sessions::load_with_access(conn, &id_hash, expiry) {
                    Ok(loaded) => Ok(loaded.map(Ok)),
                    // Reading the user's workspaces failed: load the bare
                    // session, so the failure surfaces in the handler's
                    // extractor (an error page with a request id) and not
                    // in the session middleware.
                    Err(error) => {
                        tracing::warn!(%error, "session preload failed");
                        Ok::<_, DbError>(db::sessions::load(conn, &id_hash, expiry)?.map(Err))
                    }
                }
            })
            .await;
        let loaded = match read {
            Ok(loaded) => loaded,
            // Logged once, with the request id, when the error page is
            // rendered.
            Err(error) => {
                put_load_failure(error).map_err(|e| LoadError::Other(e.into()))?;
                return Ok(None);
            }
        };
        Ok(loaded)
    }
}

/// The stored form of a session key.
pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

fn new_key() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

fn cookie_expiry(ttl: &CookieDuration) -> chrono::NaiveDateTime {
    db::now() + chrono::Duration::seconds(ttl.whole_seconds())
}

/// Pulls the indexed columns (user, public id) out of the state. Values in
/// actix-session state are JSON-encoded.
fn row_for(
    id_hash: String,
    state: &HashMap<String, String>,
    ttl: &CookieDuration,
) -> serde_json::Result<SessionWrite> {
    let decode = |key: &str| -> serde_json::Result<Option<String>> {
        state
            .get(key)
            .map(|raw| serde_json::from_str::<String>(raw))
            .transpose()
    };
    Ok(SessionWrite {
        id_hash,
        public_id: decode(PUBLIC_ID_KEY)?,
        user_id: decode(USER_ID_KEY)?.and_then(|id| UserId::parse(&id)),
        active_workspace_id: decode(WORKSPACE_KEY)?.and_then(|id| WorkspaceId::parse(&id)),
        state: serde_json::to_string(state)?,
        expires_at: cookie_expiry(ttl),
    })
}

impl SessionStore for DbSessionStore {
    async fn load(&self, key: &SessionKey) -> Result<Option<HashMap<String, String>>, LoadError> {
        let (state, preload) = match self.read(key).await? {
            None => return Ok(None),
            Some(Err(state)) => (state, None),
            Some(Ok(mut loaded)) => {
                let state = std::mem::take(&mut loaded.state);
                (
                    state,
                    loaded.user_id.is_some().then(|| Preload::from(loaded)),
                )
            }
        };
        let state =
            serde_json::from_str(&state).map_err(|e| LoadError::Deserialization(e.into()))?;
        if let Some(preload) = preload {
            put_preload(preload);
        }
        Ok(Some(state))
    }

    async fn save(
        &self,
        state: HashMap<String, String>,
        ttl: &CookieDuration,
    ) -> Result<SessionKey, SaveError> {
        let key = new_key();
        let row =
            row_for(hash_key(&key), &state, ttl).map_err(|e| SaveError::Serialization(e.into()))?;
        self.db
            .run(move |conn| db::sessions::insert(conn, &row, db::now()))
            .await
            .map_err(|e: DbError| SaveError::Other(e.into()))?;
        SessionKey::try_from(key).map_err(|e| SaveError::Other(e.into()))
    }

    async fn update(
        &self,
        key: SessionKey,
        state: HashMap<String, String>,
        ttl: &CookieDuration,
    ) -> Result<SessionKey, UpdateError> {
        let row = row_for(hash_key(key.as_ref()), &state, ttl)
            .map_err(|e| UpdateError::Serialization(e.into()))?;
        let still_there = self
            .db
            .run(move |conn| db::sessions::update(conn, &row))
            .await
            .map_err(|e: DbError| UpdateError::Other(e.into()))?;
        if still_there {
            return Ok(key);
        }
        // The row was deleted (signed out elsewhere) while this request ran:
        // keep what the request stored, but never the sign-in it no longer has.
        let mut state = state;
        for key in SIGNED_IN_KEYS {
            state.remove(*key);
        }
        self.save(state, ttl)
            .await
            .map_err(|e| UpdateError::Other(e.into()))
    }

    async fn update_ttl(
        &self,
        key: &SessionKey,
        ttl: &CookieDuration,
    ) -> Result<(), anyhow::Error> {
        let id_hash = hash_key(key.as_ref());
        let expires_at = cookie_expiry(ttl);
        self.db
            .run(move |conn| db::sessions::set_expiry(conn, &id_hash, expires_at))
            .await
            .map_err(anyhow::Error::from)
    }

    async fn delete(&self, key: &SessionKey) -> Result<(), anyhow::Error> {
        let id_hash = hash_key(key.as_ref());
        self.db
            .run(move |conn| db::sessions::delete(conn, &id_hash))
            .await
            .map_err(anyhow::Error::from)
    }
}

impl From<LoadedSession> for Preload {
    fn from(loaded: LoadedSession) -> Self {
        Preload {
            user_id: loaded.user_id,
            user: loaded.user,
            accessible: loaded.accessible,
            last_seen_at: loaded.last_seen_at,
            ip: loaded.ip,
            user_agent: loaded.user_agent,
        }
    }
}

//! Calls per minute for members' API keys, by kind (AI-agent keys have
//! their own limit), holding across every instance that shares the
//! database.
//!
//! Each key's minute has one shared counter in the database. An instance
//! claims calls from it in blocks (a twentieth of the limit, at most 100)
//! with one conditional upsert, and serves the block from memory, so the
//! database sees one statement per block rather than per call. A claim
//! never takes the counter past the limit, so the instances together never
//! serve more than the limit; calls an instance claimed but didn't use by
//! the end of the minute are lost, so near the limit a busy key may be
//! refused a little early (at most one block per instance). When a whole
//! block no longer fits, calls are claimed one at a time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use crate::db::{self, Db, DbError};
use crate::domain::{ApiKeyId, ApiKeyKind};
use crate::services::ServiceError;

/// Calls a key may make per minute, by its kind.
#[derive(Debug, Clone, Copy)]
pub struct KeyRateLimits {
    /// Standard keys.
    pub standard_per_minute: u32,
    /// AI-agent keys.
    pub ai_agent_per_minute: u32,
}

impl KeyRateLimits {
    /// The limit of a kind of key.
    fn of(&self, kind: ApiKeyKind) -> i32 {
        let per_minute = match kind {
            ApiKeyKind::Standard => self.standard_per_minute,
            ApiKeyKind::AiAgent => self.ai_agent_per_minute,
        };
        i32::try_from(per_minute).unwrap_or(i32::MAX)
    }
}

/// Calls this instance claimed for one key's minute and hasn't served yet.
#[derive(Debug, Clone, Copy)]
struct Lease {
    minute: i64,
    left: i32,
    /// The shared counter had nothing left this minute.
    spent: bool,
}

/// Entries kept before the leases of past minutes are dropped.
const LEASES_KEPT: usize = 10_000;

/// This instance's leases on keys' shared per-minute allowances.
#[derive(Clone)]
pub struct KeyRateLimiter {
    limits: KeyRateLimits,
    leases: Arc<Mutex<HashMap<ApiKeyId, Lease>>>,
}

/// What this instance's leases say about a call.
enum Local {
    Admitted,
    Refused,
    Unknown,
}

impl KeyRateLimiter {
    /// A limiter with no leases yet.
    pub fn new(limits: KeyRateLimits) -> Self {
        Self {
            limits,
            leases: Arc::default(),
        }
    }

    /// Admits one call of `key` (of `kind`), or refuses it until the next
    /// minute (`RateLimited`).
    pub async fn admit(
        &self,
        db: &Db,
        key: &ApiKeyId,
        kind: ApiKeyKind,
    ) -> Result<(), ServiceError> {
        let now = chrono::Utc::now().timestamp();
        let (minute, retry_after_seconds) = (now.div_euclid(60), 60 - now.rem_euclid(60));
        match self.take_local(key, minute) {
            Local::Admitted => return Ok(()),
            Local::Refused => {
                return Err(ServiceError::RateLimited {
                    retry_after_seconds,
                });
            }
            Local::Unknown => {}
        }
        let max = self.limits.of(kind);
        let block = (max / 20).clamp(1, 100);
        let claim_key = key.clone();
        let granted = db
            .run(move |conn| {
                if db::api_keys::claim_calls(conn, &claim_key, minute, block, max)? {
                    Ok::<_, DbError>(block)
                } else if block > 1 && db::api_keys::claim_calls(conn, &claim_key, minute, 1, max)?
                {
                    Ok(1)
                } else {
                    Ok(0)
                }
            })
            .await?;
        if self.add_claimed(key, minute, granted) {
            Ok(())
        } else {
            Err(ServiceError::RateLimited {
                retry_after_seconds,
            })
        }
    }

    /// Serves the call from this instance's lease if it can tell.
    fn take_local(&self, key: &ApiKeyId, minute: i64) -> Local {
        let mut leases = self.leases.lock().unwrap_or_else(PoisonError::into_inner);
        match leases.get_mut(key) {
            Some(lease) if lease.minute == minute && lease.left > 0 => {
                lease.left -= 1;
                Local::Admitted
            }
            Some(lease) if lease.minute == minute && lease.spent => Local::Refused,
            _ => Local::Unknown,
        }
    }

    /// Adds `granted` claimed calls to the key's lease and takes one for
    /// this call; false when there was none to take.
    fn add_claimed(&self, key: &ApiKeyId, minute: i64, granted: i32) -> bool {
        let mut leases = self.leases.lock().unwrap_or_else(PoisonError::into_inner);
        if leases.len() >= LEASES_KEPT {
            leases.retain(|_, lease| lease.minute == minute);
        }
        let lease = leases.entry(key.clone()).or_insert(Lease {
            minute,
            left: 0,
            spent: false,
        });
        if lease.minute != minute {
            *lease = Lease {
                minute,
                left: 0,
                spent: false,
            };
        }
        lease.left += granted;
        if lease.left == 0 {
            lease.spent = true;
            return false;
        }
        lease.left -= 1;
        true
    }
}

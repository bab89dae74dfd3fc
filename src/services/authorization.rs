//! "May this key do this, and charge whom?": the question the platform
//! asks on every call it serves for a member's API key. The answer (the
//! key's holder, workspace, permissions and wallet) is kept in memory for
//! less than a second, so a revoked key, a removed member or a suspended
//! workspace is refused within a second on every instance, with nothing
//! to invalidate across instances.

use std::sync::Arc;

use crate::db::billing::WalletRow;
use crate::db::scope::Scope;
use crate::db::users::User;
use crate::db::workspaces::WorkspaceAccess;
use crate::db::{self, Db};
use crate::domain::permission::Forbidden;
use crate::domain::{AgentId, AppInstanceId, Money, Permission, ProjectId, WorkspaceStatus};
use crate::services::ServiceError;
use crate::services::api_keys::{self, ApiCaller};
use crate::services::billing::current_month;
use crate::services::rate_limits::KeyRateLimiter;
use crate::services::secret_keys::{self, Recent};

/// A key's holder and wallet, as read less than a second ago.
#[derive(Clone)]
pub struct KeyGrant {
    /// Who the key acts as, where, with what.
    pub caller: ApiCaller,
    /// The wallet that pays for what the key does.
    pub wallet: WalletRow,
    /// The holder's account.
    user: User,
    /// The key's workspace with the holder's membership and role there.
    access: WorkspaceAccess,
}

impl KeyGrant {
    /// The door to the key's workspace for one API call: the holder, with
    /// the key's permissions there and nowhere else.
    pub fn scope(&self, client_ip: String) -> Scope {
        Scope::for_key(
            self.user.clone(),
            &self.caller.key_id,
            client_ip,
            self.access.clone(),
            self.caller.permissions,
        )
    }

    /// What may still be charged this month: the balance, or less when
    /// the monthly limit is nearer.
    pub fn remaining(&self) -> Money {
        let balance = Money::from_micros(self.wallet.balance);
        match self.wallet.monthly_spend_limit {
            Some(limit) => {
                let spent = self.wallet.spent_in(&current_month()).micros();
                balance.min(Money::from_micros((limit - spent).max(0)))
            }
            None => balance,
        }
    }
}

/// Members' keys checked less than a second ago.
pub type KeyCache = Recent<KeyGrant>;

/// A thing the platform asks about, which must be the key's workspace's.
#[derive(Debug, Clone)]
pub enum Resource {
    /// A project.
    Project(ProjectId),
    /// An agent.
    Agent(AgentId),
    /// An installed app.
    App(AppInstanceId),
}

/// Where a key's calls are checked: the grants read less than a second
/// ago and this instance's leases on the keys' per-minute allowances.
#[derive(Clone)]
pub struct KeyCheck {
    /// Grants read less than a second ago.
    pub cache: KeyCache,
    /// Calls per minute, by kind of key.
    pub limiter: KeyRateLimiter,
}

/// The key's grant, from the cache or the database, once the call is
/// within the key's rate limit: `KeyRejected` for anything that isn't a
/// live key, `RateLimited` past the limit.
pub async fn grant(
    db: &Db,
    check: &KeyCheck,
    presented: &str,
) -> Result<Arc<KeyGrant>, ServiceError> {
    let grant = read_grant(db, &check.cache, presented).await?;
    check
        .limiter
        .admit(db, &grant.caller.key_id, grant.caller.kind)
        .await?;
    Ok(grant)
}

/// The key's grant, from the cache or the database.
async fn read_grant(
    db: &Db,
    cache: &KeyCache,
    presented: &str,
) -> Result<Arc<KeyGrant>, ServiceError> {
    secret_keys::prefix_of(api_keys::KEY_MARKER, presented).ok_or(ServiceError::KeyRejected)?;
    let digest = secret_keys::hash(presented);
    if let Some(grant) = cache.get(&digest) {
        return Ok(grant);
    }
    let presented = presented.to_owned();
    let grant = db
        .run(move |conn| {
            let Some(caller) = api_keys::authenticate_in(conn, &presented)? else {
                return Err(ServiceError::KeyRejected);
            };
            let user = db::users::find_active(conn, &caller.user_id)?;
            let access = db::workspaces::accessible_to(conn, &caller.user_id)?
                .into_iter()
                .find(|w| &w.workspace_id == caller.workspace.workspace_id());
            let (Some(user), Some(access)) = (user, access) else {
                return Err(ServiceError::KeyRejected);
            };
            let wallet = db::billing::wallet_of(conn, &caller.workspace)?;
            Ok(Arc::new(KeyGrant {
                caller,
                wallet,
                user,
                access,
            }))
        })
        .await?;
    cache.put(digest, grant.clone());
    Ok(grant)
}

/// Whether the key may do `permission` (on `resource`, which must be its
/// workspace's: 404 otherwise), and which wallet pays: 403 for a
/// permission the key lacks or a suspended workspace.
pub async fn authorize(
    db: &Db,
    check: &KeyCheck,
    presented: &str,
    permission: Permission,
    resource: Option<Resource>,
) -> Result<Arc<KeyGrant>, ServiceError> {
    let grant = grant(db, check, presented).await?;
    if !grant.caller.permissions.contains(permission) {
        return Err(ServiceError::Forbidden(Forbidden(permission)));
    }
    if grant.caller.workspace_status == WorkspaceStatus::Suspended {
        return Err(ServiceError::Suspended);
    }
    if let Some(resource) = resource {
        let workspace = grant.caller.workspace.clone();
        let found = db
            .read(move |conn| match &resource {
                Resource::Project(id) => db::projects::is_in(conn, &workspace, id),
                Resource::Agent(id) => db::agents::is_in(conn, &workspace, id),
                Resource::App(id) => db::apps::is_in(conn, &workspace, id),
            })
            .await?;
        if !found {
            return Err(ServiceError::NotFound);
        }
    }
    Ok(grant)
}

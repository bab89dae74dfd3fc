//! Members' API keys: each acts as its holder in one workspace, with
//! everything the holder may do there or only the permissions chosen for
//! it, never more than the holder's role grants when it is used. Shown
//! once; only a SHA-256 is stored; revoking is immediate and final.

use chrono::{NaiveDate, NaiveDateTime};

use crate::db::api_keys::{KeyHolder, NewApiKey};
use crate::db::audit::{Actor, Event};
use crate::db::scope::{Scope, Tenant};
use crate::db::{self, Db, write_transaction};
use crate::domain::{
    ApiKeyId, ApiKeyKind, FieldErrors, MembershipStatus, Permission, PermissionSet, UserId,
    UserStatus, WorkspaceKind, WorkspaceStatus, free_text,
};
use crate::services::{ServiceError, secret_keys};

/// What a member's key starts with (a project's starts with `tk_`), so a
/// key found in a log or a repository says what it is.
pub const KEY_MARKER: &str = "tkm_";

const NAME_MAX_CHARS: usize = 100;
const DESCRIPTION_MAX_CHARS: usize = 500;

/// The key form as typed.
#[derive(Debug, Clone, Default)]
pub struct KeyInput {
    /// Name.
    pub name: String,
    /// What it is for.
    pub description: String,
    /// `standard` or `ai_agent`.
    pub kind: String,
    /// `all` (everything the holder may do) or `chosen`.
    pub scope: String,
    /// The chosen permissions' names.
    pub permissions: Vec<String>,
    /// `never`, `30`, `90` (days) or `date`.
    pub expires: String,
    /// The last day it works (`YYYY-MM-DD`), with `expires = date`.
    pub expires_on: String,
}

/// A checked key form.
struct ValidKey {
    name: String,
    description: String,
    kind: ApiKeyKind,
    scope: Option<PermissionSet>,
    expires_at: Option<NaiveDateTime>,
}

fn validate(input: &KeyInput, holder: PermissionSet) -> Result<ValidKey, ServiceError> {
    let mut errors = FieldErrors::new();
    let name = input.name.trim().to_owned();
    if name.is_empty()
        || name.chars().count() > NAME_MAX_CHARS
        || name.chars().any(char::is_control)
    {
        errors.add(
            "name",
            "Name the key (at most 100 characters), e.g. where it is used.",
        );
    }
    let description = errors
        .check(
            "description",
            free_text(&input.description, DESCRIPTION_MAX_CHARS),
        )
        .unwrap_or_default();
    let kind = ApiKeyKind::parse(&input.kind);
    if kind.is_none() {
        errors.add("kind", "Choose Standard or AI agent.");
    }
    let scope = match input.scope.as_str() {
        "all" => None,
        "chosen" => chosen_permissions(&input.permissions, holder, &mut errors),
        _ => {
            errors.add("scope", "Choose what the key may do.");
            None
        }
    };
    let expires_at = expiry(input, &mut errors);
    match (errors.is_empty(), kind) {
        (true, Some(kind)) => Ok(ValidKey {
            name,
            description,
            kind,
            scope,
            expires_at,
        }),
        _ => Err(ServiceError::Invalid(errors)),
    }
}

/// The chosen permissions: at least one, each a name from the catalogue
/// the holder's role grants.
fn chosen_permissions(
    names: &[String],
    holder: PermissionSet,
    errors: &mut FieldErrors,
) -> Option<PermissionSet> {
    let chosen: Option<PermissionSet> = names.iter().map(|n| Permission::from_key(n)).collect();
    match chosen {
        Some(set) if set.is_empty() => {
            errors.add("permissions", "Choose at least one permission.");
            None
        }
        Some(set) if !holder.is_superset_of(set) => {
            errors.add(
                "permissions",
                "A key can't do more than your role allows here.",
            );
            None
        }
        Some(set) => Some(set),
        None => {
            errors.add("permissions", "Choose permissions from the list.");
            None
        }
    }
}

/// When the key stops working: never, in 30 or 90 days, or at the end
/// (UTC) of a chosen future day.
fn expiry(input: &KeyInput, errors: &mut FieldErrors) -> Option<NaiveDateTime> {
    let now = db::now();
    match input.expires.as_str() {
        "never" => None,
        "30" => Some(now + chrono::Duration::days(30)),
        "90" => Some(now + chrono::Duration::days(90)),
        "date" => {
            let day = NaiveDate::parse_from_str(input.expires_on.trim(), "%Y-%m-%d").ok();
            match day
                .and_then(|day| day.succ_opt())
                .and_then(|d| d.and_hms_opt(0, 0, 0))
            {
                Some(end) if end > now + chrono::Duration::hours(1) => Some(end),
                _ => {
                    errors.add("expires_on", "Choose a day after today (YYYY-MM-DD).");
                    None
                }
            }
        }
        _ => {
            errors.add("expires", "Choose when the key expires.");
            None
        }
    }
}

/// A key just created: the only time its secret is known.
#[derive(Debug, Clone)]
pub struct CreatedApiKey {
    /// Its id.
    pub id: ApiKeyId,
    /// Its name.
    pub name: String,
    /// The key itself, to show once.
    pub key: String,
}

/// Creates a key acting as the scope's user in the active workspace.
pub async fn create(
    db: &Db,
    scope: &Scope,
    input: KeyInput,
) -> Result<CreatedApiKey, ServiceError> {
    let key = validate(&input, scope.permissions())?;
    let (prefix, secret) = secret_keys::generate(KEY_MARKER);
    let secret_hash = secret_keys::hash(&secret);
    let (scope, actor) = (scope.clone(), Actor::of(scope));
    let name = key.name.clone();
    let id = db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                let stored_scope = key.scope.map(PermissionSet::to_stored).unwrap_or_default();
                let new = NewApiKey {
                    holder: scope.user_id(),
                    name: &key.name,
                    description: &key.description,
                    kind: key.kind,
                    scope: &stored_scope,
                    prefix: &prefix,
                    secret_hash: &secret_hash,
                    expires_at: key.expires_at,
                };
                let id = db::api_keys::create(conn, &scope, &new)?;
                let details = describe(&prefix, key.kind, &stored_scope, key.expires_at);
                let entry = Event::api_key_create(&id, &key.name).with_details(details);
                db::audit::record(conn, scope.workspace_id(), &actor, &entry)?;
                Ok::<_, ServiceError>(id)
            })
        })
        .await?;
    Ok(CreatedApiKey {
        id,
        name,
        key: secret,
    })
}

/// The audit entry's details: never the secret, only its public prefix.
fn describe(prefix: &str, kind: ApiKeyKind, scope: &str, expires: Option<NaiveDateTime>) -> String {
    let scope = if scope.is_empty() {
        "everything the holder may do"
    } else {
        scope
    };
    let expires = expires.map_or("never expires".to_owned(), |at| {
        format!("expires {}", at.format("%Y-%m-%d %H:%M UTC"))
    });
    format!("{prefix}… ({}), scope: {scope}, {expires}", kind.as_str())
}

/// Revokes a key of the active workspace: the member's own, or anyone's
/// with `keys.manage`. Another member's key without it, or another
/// workspace's, is not found. Returns its name.
pub async fn revoke(db: &Db, scope: &Scope, id: ApiKeyId) -> Result<String, ServiceError> {
    let (scope, actor) = (scope.clone(), Actor::of(scope));
    db.run(move |conn| {
        write_transaction(conn, |conn| {
            let key = db::api_keys::find(conn, &scope, &id)?;
            if &key.user_id != scope.user_id() && !scope.can(Permission::KeysManage) {
                return Err(ServiceError::NotFound);
            }
            if key.revoked_at.is_some() {
                return Err(ServiceError::Refused("This key was already revoked."));
            }
            db::api_keys::revoke(conn, &scope, &id)?;
            let entry = Event::api_key_revoke(&id, &key.name)
                .with_details(format!("{}… of {}", key.prefix, key.holder_email));
            db::audit::record(conn, scope.workspace_id(), &actor, &entry)?;
            Ok(key.name)
        })
    })
    .await
}

/// The keys the page lists (one more than `limit` tells there are more):
/// everyone's with `keys.manage`, else the member's own.
pub async fn list(
    db: &Db,
    scope: &Scope,
    limit: i64,
) -> Result<Vec<db::api_keys::KeyRow>, ServiceError> {
    let scope = scope.clone();
    db.run(move |conn| {
        let holder = (!scope.can(Permission::KeysManage)).then(|| scope.user_id().clone());
        Ok(db::api_keys::list(conn, &scope, holder.as_ref(), limit)?)
    })
    .await
}

/// Who a presented key acts as, where, and what it may do there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiCaller {
    /// The key.
    pub key_id: ApiKeyId,
    /// Standard or AI agent (each has its own rate limit).
    pub kind: ApiKeyKind,
    /// The member it acts as.
    pub user_id: UserId,
    /// Their email.
    pub email: String,
    /// The workspace it opens (read with the key, see
    /// [`db::api_keys::KeyHolder`]).
    pub workspace: Tenant,
    /// Its name.
    pub workspace_name: String,
    /// Personal, organization or team.
    pub workspace_kind: WorkspaceKind,
    /// Active or suspended (an archived workspace's keys don't work).
    pub workspace_status: WorkspaceStatus,
    /// What the key may do: its scope, or the holder's role.
    pub permissions: PermissionSet,
}

/// The caller a presented key stands for, on a connection the caller
/// holds; `None` for anything that isn't a live key: malformed, unknown,
/// revoked, expired, a wrong secret behind a real prefix, a holder no
/// longer an active member or whose role no longer covers the key's scope,
/// an archived workspace (all indistinguishable to the caller). Notes the
/// key's use at most once a minute.
pub fn authenticate_in(
    conn: &mut db::AnyConnection,
    presented: &str,
) -> Result<Option<ApiCaller>, db::DbError> {
    let Some(prefix) = secret_keys::prefix_of(KEY_MARKER, presented) else {
        return Ok(None);
    };
    let Some(found) = db::api_keys::by_prefix(conn, prefix)? else {
        return Ok(None);
    };
    if !secret_keys::same_digest(&found.secret_hash, &secret_keys::hash(presented)) {
        return Ok(None);
    }
    let now = db::now();
    let Some(caller) = live_caller(found.clone(), now) else {
        return Ok(None);
    };
    if found
        .last_used_at
        .is_none_or(|at| at < now - chrono::Duration::minutes(1))
    {
        db::api_keys::touch(conn, &found.id)?;
    }
    Ok(Some(caller))
}

/// The caller of a found key, if the key still works now.
fn live_caller(found: KeyHolder, now: NaiveDateTime) -> Option<ApiCaller> {
    let role = PermissionSet::of_role(found.role_system_key, &found.role_permissions);
    let permissions = if found.scope.is_empty() {
        role
    } else {
        PermissionSet::from_stored(&found.scope)
    };
    let live = found.expires_at.is_none_or(|at| at > now)
        && found.user_status == UserStatus::Active
        && found.membership_status == MembershipStatus::Active
        && found.workspace_status != WorkspaceStatus::Archived
        && role.is_superset_of(permissions);
    live.then_some(ApiCaller {
        key_id: found.id,
        kind: found.kind,
        user_id: found.user_id,
        email: found.email,
        workspace: found.workspace,
        workspace_name: found.workspace_name,
        workspace_kind: found.workspace_kind,
        workspace_status: found.workspace_status,
        permissions,
    })
}

impl KeyInput {
    /// The form's fields as posted (`permissions` repeats, once per
    /// ticked box).
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        let mut input = KeyInput::default();
        for (key, value) in pairs {
            match key.as_str() {
                "name" => input.name = value,
                "description" => input.description = value,
                "kind" => input.kind = value,
                "scope" => input.scope = value,
                "permissions" => input.permissions.push(value),
                "expires" => input.expires = value,
                "expires_on" => input.expires_on = value,
                _ => {}
            }
        }
        input
    }

    /// Whether a permission is ticked (for showing the form again).
    pub fn has(&self, permission: &Permission) -> bool {
        self.permissions.iter().any(|p| p == permission.key())
    }
}

impl KeyInput {
    /// The form as first shown: a standard key with everything the holder
    /// may do, expiring in 90 days.
    pub fn blank() -> Self {
        KeyInput {
            kind: ApiKeyKind::Standard.as_str().to_owned(),
            scope: "all".to_owned(),
            expires: "90".to_owned(),
            ..KeyInput::default()
        }
    }
}

//! Projects and their API keys, as a workspace's members change them, and
//! the one question the platform asks of a key: which project, and so which
//! workspace, does it open? Each change validates, changes and audits in
//! one transaction; handlers check `projects.manage` or `keys.manage`
//! first.

use crate::db::audit::{Actor, Event};
use crate::db::projects::NewKey;
use crate::db::scope::Scope;
use crate::db::{self, Db, UniqueKey, write_transaction};
use crate::domain::{FieldErrors, ProjectId, ProjectKeyId, WorkspaceId, WorkspaceKind, free_text};
use crate::services::{ServiceError, secret_keys};

/// Longest project name.
const NAME_MAX_CHARS: usize = 100;
/// Longest description.
const DESCRIPTION_MAX_CHARS: usize = 1_000;
/// What every project key starts with, so a leaked one is recognisable
/// (secret scanners match on it).
pub const KEY_PREFIX: &str = "tk_";

/// Project keys the charge endpoint found less than a second ago.
pub type ProjectKeys = secret_keys::Recent<db::projects::KeyLookup>;

/// The project form, as typed.
#[derive(Debug, Clone, Default)]
pub struct ProjectInput {
    /// Name (required, unique within the workspace).
    pub name: String,
    /// What it is for.
    pub description: String,
}

fn validate(input: &ProjectInput) -> Result<(String, String), ServiceError> {
    let mut errors = FieldErrors::new();
    let name = input.name.trim().to_owned();
    if name.is_empty() {
        errors.add("name", "Enter a name.");
    } else if name.chars().count() > NAME_MAX_CHARS {
        errors.add("name", "Use at most 100 characters.");
    } else if name.chars().any(char::is_control) {
        errors.add("name", "Use letters, digits, spaces and punctuation.");
    }
    let description = errors
        .check(
            "description",
            free_text(&input.description, DESCRIPTION_MAX_CHARS),
        )
        .unwrap_or_default();
    if errors.is_empty() {
        Ok((name, description))
    } else {
        Err(ServiceError::Invalid(errors))
    }
}

fn name_taken(error: ServiceError) -> ServiceError {
    if error.is_conflict_on(&UniqueKey::ProjectName) {
        ServiceError::conflict("name", "This workspace already has a project of that name.")
    } else {
        error
    }
}

/// Creates a project in the active workspace.
pub async fn create(
    db: &Db,
    scope: &Scope,
    input: ProjectInput,
) -> Result<ProjectId, ServiceError> {
    let (name, description) = validate(&input)?;
    let (scope, actor) = (scope.clone(), Actor::of(scope));
    db.run(move |conn| {
        write_transaction(conn, |conn| {
            let id = db::projects::create(conn, &scope, &name, &description)?;
            let entry = Event::project_create(&id, &name);
            db::audit::record(conn, scope.workspace_id(), &actor, &entry)?;
            Ok::<_, ServiceError>(id)
        })
    })
    .await
    .map_err(name_taken)
}

/// Renames a project and sets its description.
pub async fn update(
    db: &Db,
    scope: &Scope,
    id: ProjectId,
    input: ProjectInput,
) -> Result<(), ServiceError> {
    let (name, description) = validate(&input)?;
    let (scope, actor) = (scope.clone(), Actor::of(scope));
    db.run(move |conn| {
        write_transaction(conn, |conn| {
            let before = db::projects::find(conn, &scope, &id)?;
            db::projects::update(conn, &scope, &id, &name, &description)?;
            let details = if before.name == name {
                "description changed".to_owned()
            } else {
                format!("name: {} → {name}", before.name)
            };
            let entry = Event::project_update(&id, &name).with_details(details);
            db::audit::record(conn, scope.workspace_id(), &actor, &entry)?;
            Ok::<_, ServiceError>(())
        })
    })
    .await
    .map_err(name_taken)
}

/// Deletes a project with its keys (they stop working at once).
pub async fn delete(db: &Db, scope: &Scope, id: ProjectId) -> Result<String, ServiceError> {
    let (scope, actor) = (scope.clone(), Actor::of(scope));
    db.run(move |conn| {
        write_transaction(conn, |conn| {
            let project = db::projects::find(conn, &scope, &id)?;
            if !db::agents::names_on_project(conn, &scope, &id)?.is_empty() {
                return Err(ServiceError::Refused(
                    "Agents use this project (see Agents): delete them, or move the project with them, first.",
                ));
            }
            db::projects::delete(conn, &scope, &id)?;
            let entry = Event::project_delete(&id, &project.name);
            db::audit::record(conn, scope.workspace_id(), &actor, &entry)?;
            Ok::<_, ServiceError>(project.name)
        })
    })
    .await
}

/// A key just created: the only time the key itself is known.
#[derive(Debug, Clone)]
pub struct CreatedKey {
    /// What it is for.
    pub name: String,
    /// The whole key, to be shown once.
    pub key: String,
}

/// Creates an API key for a project of the active workspace. Only its
/// SHA-256 is stored, with its public prefix.
pub async fn create_key(
    db: &Db,
    scope: &Scope,
    project: ProjectId,
    name: &str,
) -> Result<CreatedKey, ServiceError> {
    let name = name.trim().to_owned();
    if name.is_empty()
        || name.chars().count() > NAME_MAX_CHARS
        || name.chars().any(char::is_control)
    {
        return Err(ServiceError::invalid(
            "key_name",
            "Name the key (at most 100 characters), e.g. where it is used.",
        ));
    }
    let (prefix, key) = secret_keys::generate(KEY_PREFIX);
    let secret_hash = secret_keys::hash(&key);
    let (scope, actor) = (scope.clone(), Actor::of(scope));
    let stored_name = name.clone();
    db.run(move |conn| {
        write_transaction(conn, |conn| {
            let found = db::projects::find(conn, &scope, &project)?;
            let new = NewKey {
                project: &project,
                name: &stored_name,
                prefix: &prefix,
                secret_hash: &secret_hash,
            };
            let id = db::projects::add_key(conn, &scope, &new)?;
            let details = format!("{stored_name} ({prefix}…) for {}", found.name);
            let entry = Event::project_key_create(&id, &stored_name).with_details(details);
            db::audit::record(conn, scope.workspace_id(), &actor, &entry)?;
            Ok::<_, ServiceError>(())
        })
    })
    .await?;
    Ok(CreatedKey { name, key })
}

/// Revokes a key: it stops working at once, for good. Returns its name.
pub async fn revoke_key(
    db: &Db,
    scope: &Scope,
    project: ProjectId,
    key: ProjectKeyId,
) -> Result<String, ServiceError> {
    let (scope, actor) = (scope.clone(), Actor::of(scope));
    db.run(move |conn| {
        write_transaction(conn, |conn| {
            let name = db::projects::revoke_key(conn, &scope, &project, &key)?;
            let entry = Event::project_key_revoke(&key, &name);
            db::audit::record(conn, scope.workspace_id(), &actor, &entry)?;
            Ok::<_, ServiceError>(name)
        })
    })
    .await
}

/// What a presented key opens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedKey {
    /// The project.
    pub project_id: ProjectId,
    /// The project's name.
    pub project_name: String,
    /// Its workspace, now: the one usage is counted and charged to.
    pub workspace_id: WorkspaceId,
    /// That workspace's name.
    pub workspace_name: String,
    /// Personal, organization or team.
    pub workspace_kind: WorkspaceKind,
}

/// The project and workspace a presented key opens; `None` for anything
/// that isn't a live key (malformed, unknown, revoked, or a wrong secret
/// behind a real prefix: all indistinguishable to the caller).
pub async fn resolve_key(db: &Db, presented: &str) -> Result<Option<ResolvedKey>, ServiceError> {
    let presented = presented.to_owned();
    db.run(move |conn| {
        Ok::<_, ServiceError>(key_in(conn, &presented)?.map(|found| ResolvedKey {
            project_id: found.project_id,
            project_name: found.project_name,
            workspace_id: found.workspace.into_workspace_id(),
            workspace_name: found.workspace_name,
            workspace_kind: found.workspace_kind,
        }))
    })
    .await
}

/// [`resolve_key`] on a connection the caller holds (the charge endpoint
/// resolves the key and charges on one checkout); notes the key's use.
pub fn key_in(
    conn: &mut db::AnyConnection,
    presented: &str,
) -> Result<Option<db::projects::KeyLookup>, db::DbError> {
    let Some(prefix) = secret_keys::prefix_of(KEY_PREFIX, presented) else {
        return Ok(None);
    };
    let Some(found) = db::projects::key_by_prefix(conn, prefix)? else {
        return Ok(None);
    };
    if !secret_keys::same_digest(&found.secret_hash, &secret_keys::hash(presented)) {
        return Ok(None);
    }
    let a_minute_ago = db::now() - chrono::Duration::minutes(1);
    if found.last_used_at.is_none_or(|at| at < a_minute_ago) {
        db::projects::touch_key(conn, &found.id)?;
    }
    Ok(Some(found))
}

//! Projects and their API keys. Every query starts from the scoped
//! workspace's `projects` or `project_keys`, so another workspace's project
//! or key is not found; the one exception is [`key_by_prefix`], which is
//! how a key presented by the platform finds its project and workspace.
//! Functions that change data expect to run inside the caller's
//! transaction.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::expect_one;
use super::schema::{project_keys, projects, workspaces};
use super::stamps::{MaybeStamp, Stamp};
use super::{AnyConnection, DbError, now};
use crate::db::scope::{Scope, Tenant};
use crate::domain::{ProjectId, ProjectKeyId, WorkspaceId, WorkspaceKind};

/// A project as its pages show it.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = projects)]
pub struct ProjectRow {
    /// Id.
    pub id: ProjectId,
    /// Name, unique within the workspace whatever its case.
    pub name: String,
    /// What it is for.
    pub description: String,
    /// When it was created.
    #[diesel(deserialize_as = Stamp)]
    pub created_at: NaiveDateTime,
}

/// The scoped workspace's projects by name (the agents page's menu).
pub fn all(conn: &mut AnyConnection, scope: &Scope) -> Result<Vec<ProjectRow>, DbError> {
    Ok(scope
        .projects()
        .order(projects::name.asc())
        .select(ProjectRow::as_select())
        .load(conn)?)
}

/// The scoped workspace's projects by name, each with how many live
/// (unrevoked) keys it has: two statements for the whole list.
pub fn list(conn: &mut AnyConnection, scope: &Scope) -> Result<Vec<(ProjectRow, i64)>, DbError> {
    let rows = all(conn, scope)?;
    let counts: HashMap<ProjectId, i64> = scope
        .project_keys()
        .filter(project_keys::revoked_at.is_null())
        .group_by(project_keys::project_id)
        .select((project_keys::project_id, diesel::dsl::count_star()))
        .load::<(ProjectId, i64)>(conn)?
        .into_iter()
        .collect();
    Ok(rows
        .into_iter()
        .map(|row| {
            let keys = counts.get(&row.id).copied().unwrap_or(0);
            (row, keys)
        })
        .collect())
}

/// One project of the scoped workspace.
pub fn find(
    conn: &mut AnyConnection,
    scope: &Scope,
    id: &ProjectId,
) -> Result<ProjectRow, DbError> {
    Ok(scope
        .projects()
        .filter(projects::id.eq(id))
        .select(ProjectRow::as_select())
        .first(conn)?)
}

/// Creates a project in the scoped workspace. A name it already has is
/// `Conflict` on [`super::UniqueKey::ProjectName`].
pub fn create(
    conn: &mut AnyConnection,
    scope: &Scope,
    name: &str,
    description: &str,
) -> Result<ProjectId, DbError> {
    let id = ProjectId::generate();
    let at = now();
    diesel::insert_into(projects::table)
        .values((
            projects::id.eq(&id),
            projects::workspace_id.eq(scope.workspace_id()),
            projects::name.eq(name),
            projects::description.eq(description),
            projects::created_by.eq(scope.user_id()),
            projects::created_at.eq(at),
            projects::updated_at.eq(at),
        ))
        .execute(conn)?;
    Ok(id)
}

/// Renames a project of the scoped workspace and sets its description.
pub fn update(
    conn: &mut AnyConnection,
    scope: &Scope,
    id: &ProjectId,
    name: &str,
    description: &str,
) -> Result<(), DbError> {
    expect_one(
        diesel::update(scope.projects().filter(projects::id.eq(id)))
            .set((
                projects::name.eq(name),
                projects::description.eq(description),
                projects::updated_at.eq(now()),
            ))
            .execute(conn)?,
    )
}

/// Deletes a project of the scoped workspace with its keys.
pub fn delete(conn: &mut AnyConnection, scope: &Scope, id: &ProjectId) -> Result<(), DbError> {
    expect_one(diesel::delete(scope.projects().filter(projects::id.eq(id))).execute(conn)?)
}

/// Moves a project of the scoped workspace to `to`, with its keys and its
/// agents and their runs (their foreign keys cascade on update).
pub fn transfer(
    conn: &mut AnyConnection,
    scope: &Scope,
    id: &ProjectId,
    to: &WorkspaceId,
) -> Result<(), DbError> {
    expect_one(
        diesel::update(scope.projects().filter(projects::id.eq(id)))
            .set((
                projects::workspace_id.eq(to),
                projects::updated_at.eq(now()),
            ))
            .execute(conn)?,
    )
}

/// The scoped workspace's projects, and those of other workspaces each
/// with its workspace.
pub type OwnAndElsewhere = (Vec<ProjectRow>, Vec<(WorkspaceId, ProjectRow)>);

/// The scoped workspace's projects by name, and those of `elsewhere` (the
/// workspaces the user may move agents into) by workspace and name, in one
/// statement: the agents page's project menu and its move targets.
pub fn own_and_in(
    conn: &mut AnyConnection,
    scope: &Scope,
    elsewhere: &[WorkspaceId],
) -> Result<OwnAndElsewhere, DbError> {
    let rows: Vec<(WorkspaceId, ProjectRow)> = projects::table
        .filter(
            projects::workspace_id
                .eq(scope.workspace_id())
                .or(projects::workspace_id.eq_any(elsewhere)),
        )
        .order((projects::workspace_id.asc(), projects::name.asc()))
        .select((projects::workspace_id, ProjectRow::as_select()))
        .load(conn)?;
    let (own, others): (Vec<_>, Vec<_>) = rows
        .into_iter()
        .partition(|(workspace, _)| workspace == scope.workspace_id());
    Ok((own.into_iter().map(|(_, row)| row).collect(), others))
}

/// The workspace a project is in now.
pub fn workspace_of(conn: &mut AnyConnection, id: &ProjectId) -> Result<WorkspaceId, DbError> {
    Ok(projects::table
        .filter(projects::id.eq(id))
        .select(projects::workspace_id)
        .first(conn)?)
}

/// A project key as the project page lists it (never the key itself).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = project_keys)]
pub struct KeyRow {
    /// Id.
    pub id: ProjectKeyId,
    /// What it is for.
    pub name: String,
    /// The public start of the key, to recognise it by.
    pub prefix: String,
    /// When it was created.
    #[diesel(deserialize_as = Stamp)]
    pub created_at: NaiveDateTime,
    /// When it was last presented.
    #[diesel(deserialize_as = MaybeStamp)]
    pub last_used_at: Option<NaiveDateTime>,
    /// When it was revoked (it no longer works).
    #[diesel(deserialize_as = MaybeStamp)]
    pub revoked_at: Option<NaiveDateTime>,
}

/// One project of the scoped workspace with its keys, newest first: one
/// statement for the project page, the project's row coming once per key.
pub fn with_keys(
    conn: &mut AnyConnection,
    scope: &Scope,
    id: &ProjectId,
) -> Result<(ProjectRow, Vec<KeyRow>), DbError> {
    let rows: Vec<(ProjectRow, Option<KeyRow>)> = scope
        .projects()
        .filter(projects::id.eq(id))
        .left_join(project_keys::table.on(project_keys::project_id.eq(projects::id)))
        .order((project_keys::created_at.desc(), project_keys::id.desc()))
        .select((ProjectRow::as_select(), Option::<KeyRow>::as_select()))
        .load(conn)?;
    let mut rows = rows.into_iter();
    let (project, first_key) = rows.next().ok_or(DbError::NotFound)?;
    let keys = first_key
        .into_iter()
        .chain(rows.filter_map(|(_, key)| key))
        .collect();
    Ok((project, keys))
}

/// A new key's stored parts.
pub struct NewKey<'a> {
    /// The project it opens.
    pub project: &'a ProjectId,
    /// What it is for.
    pub name: &'a str,
    /// Its public prefix (unique).
    pub prefix: &'a str,
    /// SHA-256 of the whole key, hex.
    pub secret_hash: &'a str,
}

/// Stores a key of a project of the scoped workspace (the project must be
/// there: its foreign key is the workspace and the project together).
pub fn add_key(
    conn: &mut AnyConnection,
    scope: &Scope,
    key: &NewKey<'_>,
) -> Result<ProjectKeyId, DbError> {
    let id = ProjectKeyId::generate();
    diesel::insert_into(project_keys::table)
        .values((
            project_keys::id.eq(&id),
            project_keys::workspace_id.eq(scope.workspace_id()),
            project_keys::project_id.eq(key.project),
            project_keys::name.eq(key.name),
            project_keys::prefix.eq(key.prefix),
            project_keys::secret_hash.eq(key.secret_hash),
            project_keys::created_by.eq(scope.user_id()),
            project_keys::created_at.eq(now()),
        ))
        .execute(conn)?;
    Ok(id)
}

/// Revokes a live key of a project of the scoped workspace; returns its name.
pub fn revoke_key(
    conn: &mut AnyConnection,
    scope: &Scope,
    project: &ProjectId,
    id: &ProjectKeyId,
) -> Result<String, DbError> {
    let name: String = scope
        .project_keys()
        .filter(project_keys::project_id.eq(project))
        .filter(project_keys::id.eq(id))
        .filter(project_keys::revoked_at.is_null())
        .select(project_keys::name)
        .first(conn)?;
    expect_one(
        diesel::update(
            scope
                .project_keys()
                .filter(project_keys::id.eq(id))
                .filter(project_keys::revoked_at.is_null()),
        )
        .set(project_keys::revoked_at.eq(now()))
        .execute(conn)?,
    )?;
    Ok(name)
}

/// A live key found by its prefix: what it opens, and the hash to check
/// the presented key against.
#[derive(Debug, Clone, Queryable)]
pub struct KeyLookup {
    /// The key.
    pub id: ProjectKeyId,
    /// SHA-256 of the whole key, hex.
    pub secret_hash: String,
    /// The project it opens.
    pub project_id: ProjectId,
    /// The project's name.
    pub project_name: String,
    /// The project's workspace now (it follows the project when moved):
    /// the key is the credential that names it, so it is read as the
    /// [`Tenant`] the key's calls act for.
    pub workspace: Tenant,
    /// That workspace's name.
    pub workspace_name: String,
    /// Personal, organization or team.
    pub workspace_kind: WorkspaceKind,
    /// That workspace's slug (organizations have one).
    pub workspace_slug: Option<String>,
    /// When it was last presented (noted at most once a minute).
    #[diesel(deserialize_as = MaybeStamp)]
    pub last_used_at: Option<NaiveDateTime>,
}

/// The live key with this prefix, from any workspace: the key itself is
/// the credential, so this is the one lookup that isn't scoped.
pub fn key_by_prefix(conn: &mut AnyConnection, prefix: &str) -> Result<Option<KeyLookup>, DbError> {
    Ok(project_keys::table
        .inner_join(projects::table.on(projects::id.eq(project_keys::project_id)))
        .inner_join(workspaces::table.on(workspaces::id.eq(project_keys::workspace_id)))
        .filter(project_keys::prefix.eq(prefix))
        .filter(project_keys::revoked_at.is_null())
        .select((
            project_keys::id,
            project_keys::secret_hash,
            projects::id,
            projects::name,
            workspaces::id,
            workspaces::name,
            workspaces::kind,
            workspaces::slug,
            project_keys::last_used_at,
        ))
        .first(conn)
        .optional()?)
}

/// Notes that a key was presented, at most once a minute per key (a
/// busy key doesn't turn every call into a write; callers skip the call
/// when the lookup's `last_used_at` is recent, so no write lock is taken).
pub fn touch_key(conn: &mut AnyConnection, id: &ProjectKeyId) -> Result<(), DbError> {
    let at = now();
    let a_minute_ago = at - chrono::Duration::minutes(1);
    diesel::update(
        project_keys::table.filter(project_keys::id.eq(id)).filter(
            project_keys::last_used_at
                .is_null()
                .or(project_keys::last_used_at.lt(a_minute_ago)),
        ),
    )
    .set(project_keys::last_used_at.eq(at))
    .execute(conn)?;
    Ok(())
}

/// Whether `tenant` holds the project (an API caller's question, asked
/// for the workspace its key opens).
pub fn is_in(conn: &mut AnyConnection, tenant: &Tenant, id: &ProjectId) -> Result<bool, DbError> {
    Ok(diesel::select(diesel::dsl::exists(
        tenant.projects().filter(projects::id.eq(id)),
    ))
    .get_result(conn)?)
}

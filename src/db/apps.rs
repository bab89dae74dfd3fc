//! Installed app instances and the counter their limit is enforced on.
//! Queries start from the scoped workspace's `app_instances`, except the
//! idle job's, which acts for no workspace. Functions that change data
//! expect to run inside the caller's transaction.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::expect_one;
use super::schema::{app_instances, workspaces};
use super::stamps::MaybeStamp;
use super::{AnyConnection, DbError, now};
use crate::db::scope::{Scope, Tenant};
use crate::domain::{AgentStatus, AppInstanceId, WorkspaceId};

/// An instance as the apps page lists it. (Its status reuses the agents'
/// running / stopped.)
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = app_instances)]
pub struct InstanceRow {
    /// Id.
    pub id: AppInstanceId,
    /// The catalogue app it is an instance of.
    pub app_key: String,
    /// Running or stopped.
    pub status: AgentStatus,
    /// When it last started.
    #[diesel(deserialize_as = MaybeStamp)]
    pub started_at: Option<NaiveDateTime>,
    /// When it last started or stopped.
    #[diesel(deserialize_as = MaybeStamp)]
    pub last_active_at: Option<NaiveDateTime>,
}

/// The scoped workspace's instances, oldest first.
pub fn list(conn: &mut AnyConnection, scope: &Scope) -> Result<Vec<InstanceRow>, DbError> {
    Ok(scope
        .app_instances()
        .order(app_instances::created_at.asc())
        .select(InstanceRow::as_select())
        .load(conn)?)
}

/// One instance of the scoped workspace.
pub fn find(
    conn: &mut AnyConnection,
    scope: &Scope,
    id: &AppInstanceId,
) -> Result<InstanceRow, DbError> {
    Ok(scope
        .app_instances()
        .filter(app_instances::id.eq(id))
        .select(InstanceRow::as_select())
        .first(conn)?)
}

/// Installs a running instance of `app` in the scoped workspace.
pub fn install(
    conn: &mut AnyConnection,
    scope: &Scope,
    app: &str,
) -> Result<AppInstanceId, DbError> {
    let id = AppInstanceId::generate();
    let at = now();
    diesel::insert_into(app_instances::table)
        .values((
            app_instances::id.eq(&id),
            app_instances::workspace_id.eq(scope.workspace_id()),
            app_instances::app_key.eq(app),
            app_instances::status.eq(AgentStatus::Running),
            app_instances::started_at.eq(Some(at)),
            app_instances::last_active_at.eq(Some(at)),
            app_instances::created_by.eq(scope.user_id()),
            app_instances::created_at.eq(at),
            app_instances::updated_at.eq(at),
        ))
        .execute(conn)?;
    Ok(id)
}

/// Starts a stopped instance or stops a running one; `NotFound` when it
/// isn't there or already is in that state.
pub fn set_running(
    conn: &mut AnyConnection,
    scope: &Scope,
    id: &AppInstanceId,
    running: bool,
) -> Result<(), DbError> {
    let at = now();
    let (from, to) = if running {
        (AgentStatus::Stopped, AgentStatus::Running)
    } else {
        (AgentStatus::Running, AgentStatus::Stopped)
    };
    expect_one(
        diesel::update(
            scope
                .app_instances()
                .filter(app_instances::id.eq(id))
                .filter(app_instances::status.eq(from)),
        )
        .set((
            app_instances::status.eq(to),
            app_instances::started_at.eq(running.then_some(at)),
            app_instances::last_active_at.eq(Some(at)),
            app_instances::idle_stopped.eq(false),
            app_instances::updated_at.eq(at),
        ))
        .execute(conn)?,
    )
}

/// Removes an instance of the scoped workspace.
pub fn uninstall(
    conn: &mut AnyConnection,
    scope: &Scope,
    id: &AppInstanceId,
) -> Result<(), DbError> {
    expect_one(
        diesel::delete(scope.app_instances().filter(app_instances::id.eq(id))).execute(conn)?,
    )
}

/// Counts one more instance in `tenant` if its limit allows it (a
/// conditional update; concurrent installs queue on the row). `false` when
/// the limit is reached.
pub fn claim_slot(conn: &mut AnyConnection, tenant: &Tenant) -> Result<bool, DbError> {
    let claimed = diesel::update(
        tenant.workspace_row().filter(
            workspaces::max_app_instances
                .is_null()
                .or(workspaces::app_instances
                    .nullable()
                    .lt(workspaces::max_app_instances)),
        ),
    )
    .set(workspaces::app_instances.eq(workspaces::app_instances + 1))
    .execute(conn)?;
    Ok(claimed == 1)
}

/// Counts one instance less in `tenant`.
pub fn release_slot(conn: &mut AnyConnection, tenant: &Tenant) -> Result<(), DbError> {
    diesel::update(
        tenant
            .workspace_row()
            .filter(workspaces::app_instances.gt(0)),
    )
    .set(workspaces::app_instances.eq(workspaces::app_instances - 1))
    .execute(conn)?;
    Ok(())
}

/// A workspace's instances and their limit (`None`: no limit).
pub fn count_and_limit(
    conn: &mut AnyConnection,
    tenant: &Tenant,
) -> Result<(i32, Option<i32>), DbError> {
    Ok(tenant
        .workspace_row()
        .select((workspaces::app_instances, workspaces::max_app_instances))
        .first(conn)?)
}

/// Sets the instance limit of `workspace` (`None`: no limit).
pub fn set_limit(
    conn: &mut AnyConnection,
    workspace: &WorkspaceId,
    limit: Option<i32>,
) -> Result<(), DbError> {
    expect_one(
        diesel::update(workspaces::table.filter(workspaces::id.eq(workspace)))
            .set(workspaces::max_app_instances.eq(limit))
            .execute(conn)?,
    )
}

/// Stops running instances last active before `cutoff` (the idle job);
/// returns `(instance, workspace, app)` of each stopped.
pub fn stop_idle(
    conn: &mut AnyConnection,
    cutoff: NaiveDateTime,
) -> Result<Vec<(AppInstanceId, WorkspaceId, String)>, DbError> {
    let idle: Vec<(AppInstanceId, WorkspaceId, String)> = app_instances::table
        .filter(app_instances::status.eq(AgentStatus::Running))
        .filter(app_instances::last_active_at.lt(cutoff))
        .select((
            app_instances::id,
            app_instances::workspace_id,
            app_instances::app_key,
        ))
        .load(conn)?;
    let at = now();
    let mut stopped = Vec::new();
    for (id, workspace, app) in idle {
        let changed = diesel::update(
            app_instances::table
                .filter(app_instances::id.eq(&id))
                .filter(app_instances::status.eq(AgentStatus::Running))
                .filter(app_instances::last_active_at.lt(cutoff)),
        )
        .set((
            app_instances::status.eq(AgentStatus::Stopped),
            app_instances::started_at.eq(None::<NaiveDateTime>),
            app_instances::idle_stopped.eq(true),
            app_instances::updated_at.eq(at),
        ))
        .execute(conn)?;
        if changed == 1 {
            stopped.push((id, workspace, app));
        }
    }
    Ok(stopped)
}

/// What the platform's report of an instance's use does to it, in the
/// workspace its key opens: a running one's idle clock starts again (at
/// most once a minute), one the idle job stopped runs again. Returns its
/// app's key and whether it was resumed; `None` when no such instance runs
/// or waits to resume there.
pub fn use_instance(
    conn: &mut AnyConnection,
    tenant: &Tenant,
    id: &AppInstanceId,
) -> Result<Option<(String, bool)>, DbError> {
    let at = now();
    let instance = tenant.app_instances().filter(app_instances::id.eq(id));
    let found: Option<(String, AgentStatus, bool)> = instance
        .select((
            app_instances::app_key,
            app_instances::status,
            app_instances::idle_stopped,
        ))
        .first(conn)
        .optional()?;
    let Some((app, status, idle_stopped)) = found else {
        return Ok(None);
    };
    if status == AgentStatus::Running {
        let a_minute_ago = at - chrono::Duration::minutes(1);
        diesel::update(instance.filter(app_instances::last_active_at.lt(a_minute_ago)))
            .set(app_instances::last_active_at.eq(Some(at)))
            .execute(conn)?;
        return Ok(Some((app, false)));
    }
    if !idle_stopped {
        return Ok(None);
    }
    expect_one(
        diesel::update(instance.filter(app_instances::idle_stopped.eq(true)))
            .set((
                app_instances::status.eq(AgentStatus::Running),
                app_instances::started_at.eq(Some(at)),
                app_instances::last_active_at.eq(Some(at)),
                app_instances::idle_stopped.eq(false),
                app_instances::updated_at.eq(at),
            ))
            .execute(conn)?,
    )?;
    Ok(Some((app, true)))
}

/// Whether `tenant` has the instance `id`.
pub fn exists_in(
    conn: &mut AnyConnection,
    tenant: &Tenant,
    id: &AppInstanceId,
) -> Result<bool, DbError> {
    Ok(diesel::select(diesel::dsl::exists(
        tenant.app_instances().filter(app_instances::id.eq(id)),
    ))
    .get_result(conn)?)
}

/// Whether `tenant` holds the installed app (an API caller's question,
/// asked for the workspace its key opens).
pub fn is_in(
    conn: &mut AnyConnection,
    tenant: &Tenant,
    id: &AppInstanceId,
) -> Result<bool, DbError> {
    Ok(diesel::select(diesel::dsl::exists(
        tenant.app_instances().filter(app_instances::id.eq(id)),
    ))
    .get_result(conn)?)
}

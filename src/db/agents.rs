//! Agents, their runs and the running-agent counters their limits are
//! enforced on. Queries start from the scoped workspace's `agents` and
//! `agent_runs`; functions that change data expect to run inside the
//! caller's transaction.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::expect_one;
use super::schema::{agent_runs, agents, member_agent_counts, projects, users, workspaces};
use super::stamps::MaybeStamp;
use super::{AnyConnection, DbError, natively, now};
use crate::db::scope::{Scope, Tenant};
use crate::domain::{AgentId, AgentRunId, AgentStatus, ProjectId, UserId, WorkspaceId};

/// An agent as the agents page lists it, with its project's name.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = agents)]
pub struct AgentRow {
    /// Id.
    pub id: AgentId,
    /// Name, unique within the workspace whatever its case.
    pub name: String,
    /// The project it uses (of the same workspace).
    pub project_id: ProjectId,
    /// That project's name.
    #[diesel(select_expression = projects::name)]
    pub project_name: String,
    /// Running or stopped.
    pub status: AgentStatus,
    /// When its current run began.
    #[diesel(deserialize_as = MaybeStamp)]
    pub started_at: Option<NaiveDateTime>,
    /// When it last started or stopped.
    #[diesel(deserialize_as = MaybeStamp)]
    pub last_active_at: Option<NaiveDateTime>,
}

/// The scoped workspace's agents by name.
pub fn list(conn: &mut AnyConnection, scope: &Scope) -> Result<Vec<AgentRow>, DbError> {
    Ok(scope
        .agents()
        .inner_join(projects::table)
        .order(agents::name.asc())
        .select(AgentRow::as_select())
        .load(conn)?)
}

/// One agent of the scoped workspace.
pub fn find(conn: &mut AnyConnection, scope: &Scope, id: &AgentId) -> Result<AgentRow, DbError> {
    Ok(scope
        .agents()
        .inner_join(projects::table)
        .filter(agents::id.eq(id))
        .select(AgentRow::as_select())
        .first(conn)?)
}

/// Creates a stopped agent using `project` (which must be a project of
/// the scoped workspace: the foreign key is the workspace and the project
/// together). A name the workspace has is `Conflict` on `AgentName`.
pub fn create(
    conn: &mut AnyConnection,
    scope: &Scope,
    name: &str,
    project: &ProjectId,
) -> Result<AgentId, DbError> {
    let id = AgentId::generate();
    let at = now();
    diesel::insert_into(agents::table)
        .values((
            agents::id.eq(&id),
            agents::workspace_id.eq(scope.workspace_id()),
            agents::project_id.eq(project),
            agents::name.eq(name),
            agents::status.eq(AgentStatus::Stopped),
            agents::created_by.eq(scope.user_id()),
            agents::created_at.eq(at),
            agents::updated_at.eq(at),
        ))
        .execute(conn)?;
    Ok(id)
}

/// The names of the scoped workspace's agents that use `project`, each
/// with whether it runs.
pub fn names_on_project(
    conn: &mut AnyConnection,
    scope: &Scope,
    project: &ProjectId,
) -> Result<Vec<(String, AgentStatus)>, DbError> {
    Ok(scope
        .agents()
        .filter(agents::project_id.eq(project))
        .order(agents::name.asc())
        .select((agents::name, agents::status))
        .load(conn)?)
}

/// Moves a stopped agent of the scoped workspace onto `project` of the
/// workspace `to`, with its runs (their foreign key cascades on update).
pub fn transfer(
    conn: &mut AnyConnection,
    scope: &Scope,
    id: &AgentId,
    to: &WorkspaceId,
    project: &ProjectId,
) -> Result<(), DbError> {
    expect_one(
        diesel::update(
            scope
                .agents()
                .filter(agents::id.eq(id))
                .filter(agents::status.eq(AgentStatus::Stopped)),
        )
        .set((
            agents::workspace_id.eq(to),
            agents::project_id.eq(project),
            agents::updated_at.eq(now()),
        ))
        .execute(conn)?,
    )
}

/// Deletes a stopped agent of the scoped workspace with its runs.
pub fn delete(conn: &mut AnyConnection, scope: &Scope, id: &AgentId) -> Result<(), DbError> {
    expect_one(
        diesel::delete(
            scope
                .agents()
                .filter(agents::id.eq(id))
                .filter(agents::status.eq(AgentStatus::Stopped)),
        )
        .execute(conn)?,
    )
}

/// Marks a stopped agent of the scoped workspace running and opens its
/// run; `NotFound` when it isn't there or already runs.
pub fn mark_running(
    conn: &mut AnyConnection,
    scope: &Scope,
    id: &AgentId,
    at: NaiveDateTime,
) -> Result<(), DbError> {
    expect_one(
        diesel::update(
            scope
                .agents()
                .filter(agents::id.eq(id))
                .filter(agents::status.eq(AgentStatus::Stopped)),
        )
        .set((
            agents::status.eq(AgentStatus::Running),
            agents::started_at.eq(Some(at)),
            agents::started_by.eq(Some(scope.user_id())),
            agents::last_active_at.eq(Some(at)),
            agents::idle_stopped.eq(false),
            agents::updated_at.eq(at),
        ))
        .execute(conn)?,
    )?;
    diesel::insert_into(agent_runs::table)
        .values((
            agent_runs::id.eq(AgentRunId::generate()),
            agent_runs::workspace_id.eq(scope.workspace_id()),
            agent_runs::agent_id.eq(id),
            agent_runs::started_at.eq(at),
        ))
        .execute(conn)?;
    Ok(())
}

/// Marks a running agent of the scoped workspace stopped and closes its
/// run; `NotFound` when it isn't there or isn't running.
pub fn mark_stopped(
    conn: &mut AnyConnection,
    scope: &Scope,
    id: &AgentId,
    at: NaiveDateTime,
) -> Result<(), DbError> {
    expect_one(
        diesel::update(
            scope
                .agents()
                .filter(agents::id.eq(id))
                .filter(agents::status.eq(AgentStatus::Running)),
        )
        .set((
            agents::status.eq(AgentStatus::Stopped),
            agents::started_at.eq(None::<NaiveDateTime>),
            agents::last_active_at.eq(Some(at)),
            agents::idle_stopped.eq(false),
            agents::updated_at.eq(at),
        ))
        .execute(conn)?,
    )?;
    diesel::update(
        scope
            .agent_runs()
            .filter(agent_runs::agent_id.eq(id))
            .filter(agent_runs::stopped_at.is_null()),
    )
    .set(agent_runs::stopped_at.eq(Some(at)))
    .execute(conn)?;
    Ok(())
}

/// Counts one more running agent in `tenant` if its limit allows it (a
/// conditional update: concurrent starts queue on the row and each sees
/// the count the one before it left). `false` when the limit is reached.
pub fn claim_running_slot(conn: &mut AnyConnection, tenant: &Tenant) -> Result<bool, DbError> {
    let claimed = diesel::update(
        tenant.workspace_row().filter(
            workspaces::max_running_agents
                .is_null()
                .or(workspaces::running_agents
                    .nullable()
                    .lt(workspaces::max_running_agents)),
        ),
    )
    .set(workspaces::running_agents.eq(workspaces::running_agents + 1))
    .execute(conn)?;
    Ok(claimed == 1)
}

/// Counts one more running agent of `user` in `organization` if its
/// per-member quota allows it (the quota is read from the organization's
/// row, which the caller's transaction already holds through its running
/// counter). `false` when the quota is reached.
pub fn claim_member_slot(
    conn: &mut AnyConnection,
    organization: &Tenant,
    user: &UserId,
) -> Result<bool, DbError> {
    let quota: Option<i32> = organization
        .workspace_row()
        .select(workspaces::max_agents_per_member)
        .first(conn)?;
    natively!(conn, |native| diesel::insert_into(
        member_agent_counts::table
    )
    .values((
        member_agent_counts::organization_id.eq(organization.workspace_id()),
        member_agent_counts::user_id.eq(user),
        member_agent_counts::running_agents.eq(0),
    ))
    .on_conflict_do_nothing()
    .execute(native))?;
    let mut claim = diesel::update(organization.member_agent_counts())
        .filter(member_agent_counts::user_id.eq(user))
        .into_boxed();
    if let Some(quota) = quota {
        claim = claim.filter(member_agent_counts::running_agents.lt(quota));
    }
    let claimed = claim
        .set(member_agent_counts::running_agents.eq(member_agent_counts::running_agents + 1))
        .execute(conn)?;
    Ok(claimed == 1)
}

/// Counts one running agent of `user` less in `organization`.
pub fn release_member_slot(
    conn: &mut AnyConnection,
    organization: &Tenant,
    user: &UserId,
) -> Result<(), DbError> {
    diesel::update(
        organization
            .member_agent_counts()
            .filter(member_agent_counts::user_id.eq(user))
            .filter(member_agent_counts::running_agents.gt(0)),
    )
    .set(member_agent_counts::running_agents.eq(member_agent_counts::running_agents - 1))
    .execute(conn)?;
    Ok(())
}

/// Who started a running agent of the scoped workspace.
pub fn started_by(
    conn: &mut AnyConnection,
    scope: &Scope,
    id: &AgentId,
) -> Result<Option<UserId>, DbError> {
    Ok(scope
        .agents()
        .filter(agents::id.eq(id))
        .select(agents::started_by)
        .first::<Option<UserId>>(conn)?)
}

/// The members of the scoped organization with agents running (in it
/// and its teams), and how many, by name (the Resources tab's per-member
/// usage; at most `limit`).
pub fn member_usage(
    conn: &mut AnyConnection,
    scope: &Scope,
    limit: i64,
) -> Result<Vec<(String, String, i32)>, DbError> {
    Ok(scope
        .member_agent_counts()
        .inner_join(users::table.on(users::id.eq(member_agent_counts::user_id)))
        .filter(member_agent_counts::running_agents.gt(0))
        .order(users::name.asc())
        .limit(limit)
        .select((
            users::name,
            users::email,
            member_agent_counts::running_agents,
        ))
        .load(conn)?)
}

/// Counts one running agent less in `tenant`.
pub fn release_running_slot(conn: &mut AnyConnection, tenant: &Tenant) -> Result<(), DbError> {
    diesel::update(
        tenant
            .workspace_row()
            .filter(workspaces::running_agents.gt(0)),
    )
    .set(workspaces::running_agents.eq(workspaces::running_agents - 1))
    .execute(conn)?;
    Ok(())
}

/// A workspace's running agents and their limit (`None`: no limit).
pub fn running_and_limit(
    conn: &mut AnyConnection,
    tenant: &Tenant,
) -> Result<(i32, Option<i32>), DbError> {
    Ok(tenant
        .workspace_row()
        .select((workspaces::running_agents, workspaces::max_running_agents))
        .first(conn)?)
}

/// A workspace's usage counter and limits.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = workspaces)]
pub struct Limits {
    /// The workspace.
    pub id: WorkspaceId,
    /// Its name.
    pub name: String,
    /// The organization a team belongs to.
    pub parent_id: Option<WorkspaceId>,
    /// Agents running now (an organization's count its teams').
    pub running_agents: i32,
    /// How many may run at once (`None`: no limit).
    pub max_running_agents: Option<i32>,
    /// Agent hours allowed per calendar month (`None`: no limit).
    pub max_agent_hours: Option<i32>,
    /// App instances installed (an organization's count its teams').
    pub app_instances: i32,
    /// How many may be installed (`None`: no limit).
    pub max_app_instances: Option<i32>,
    /// Agents each member may have running at once (`None`: no quota).
    pub max_agents_per_member: Option<i32>,
}

/// The limits of `workspace` alone: what a start checks against, without
/// reading its teams' rows.
pub fn limits_of(conn: &mut AnyConnection, workspace: &Tenant) -> Result<Limits, DbError> {
    Ok(workspace
        .workspace_row()
        .select(Limits::as_select())
        .first(conn)?)
}

/// The limits of `workspace` and of its teams (an organization's Resources
/// tab), the workspace first, then its teams by name; archived teams left
/// out.
pub fn limits_with_teams(
    conn: &mut AnyConnection,
    workspace: &Tenant,
) -> Result<Vec<Limits>, DbError> {
    use crate::domain::WorkspaceStatus;
    Ok(workspace
        .workspace_and_teams()
        .filter(workspaces::status.ne(WorkspaceStatus::Archived))
        .order((workspaces::parent_id.is_not_null(), workspaces::name.asc()))
        .select(Limits::as_select())
        .load(conn)?)
}

/// The scoped workspace's limits and, in an organization, its teams'
/// (archived teams left out), each with the seconds its agents ran between
/// `from` and `until`: the Resources tab in one statement, a workspace's
/// row coming once per run of the period. The workspace comes first, then
/// its teams by name.
pub fn usage_with_teams(
    conn: &mut AnyConnection,
    scope: &Scope,
    from: NaiveDateTime,
    until: NaiveDateTime,
) -> Result<Vec<(Limits, i64)>, DbError> {
    use crate::domain::WorkspaceStatus;
    let in_period = agent_runs::workspace_id
        .eq(workspaces::id)
        .and(overlapping(from, until));
    let rows: Vec<(Limits, Option<RunSpanTimes>)> = scope
        .workspace_and_teams()
        .filter(workspaces::status.ne(WorkspaceStatus::Archived))
        .left_join(agent_runs::table.on(in_period))
        .order((
            workspaces::parent_id.is_not_null(),
            workspaces::name.asc(),
            workspaces::id.asc(),
        ))
        .select((
            Limits::as_select(),
            (agent_runs::started_at, agent_runs::stopped_at).nullable(),
        ))
        .load(conn)?;
    Ok(with_runtime(rows, |a, b| a.id == b.id, from, until))
}

/// The limits of one workspace (`None`: no limit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitValues {
    /// Agents running at once.
    pub running_agents: Option<i32>,
    /// Agent hours per calendar month.
    pub agent_hours: Option<i32>,
    /// App instances installed.
    pub app_instances: Option<i32>,
    /// Agents running at once per member.
    pub agents_per_member: Option<i32>,
}

/// Sets the limits of `workspace`.
pub fn set_limits(
    conn: &mut AnyConnection,
    scope: &Scope,
    workspace: &WorkspaceId,
    limits: LimitValues,
) -> Result<(), DbError> {
    expect_one(
        diesel::update(
            scope
                .workspace_and_teams()
                .filter(workspaces::id.eq(workspace)),
        )
        .set((
            workspaces::max_running_agents.eq(limits.running_agents),
            workspaces::max_agent_hours.eq(limits.agent_hours),
            workspaces::max_app_instances.eq(limits.app_instances),
            workspaces::max_agents_per_member.eq(limits.agents_per_member),
        ))
        .execute(conn)?,
    )
}

/// Seconds the agents of `workspace` and of its teams ran between `from`
/// and `until`, whatever agent ran them (one statement): what an
/// organization's hours limit counts.
pub fn runtime_with_teams(
    conn: &mut AnyConnection,
    workspace: &Tenant,
    from: NaiveDateTime,
    until: NaiveDateTime,
) -> Result<i64, DbError> {
    let family = workspace.workspace_and_teams().select(workspaces::id);
    let runs: Vec<RunSpanTimes> = agent_runs::table
        .filter(agent_runs::workspace_id.eq_any(family))
        .filter(overlapping(from, until))
        .select((agent_runs::started_at, agent_runs::stopped_at))
        .load(conn)?;
    Ok(runs
        .into_iter()
        .map(|span| clipped_seconds(span, from, until))
        .sum())
}

/// The seconds of a run that fall between `from` and `until`.
fn clipped_seconds(
    (started, stopped): RunSpanTimes,
    from: NaiveDateTime,
    until: NaiveDateTime,
) -> i64 {
    let start = started.max(from);
    let stop = stopped.unwrap_or(until).min(until);
    if stop > start {
        (stop - start).num_seconds()
    } else {
        0
    }
}

/// The scoped workspace's agents by name, each with the seconds it ran
/// between `from` and `until` (the runs that overlap the period, clipped to
/// it, summed): one statement for the agents page, however many agents,
/// as each agent's row comes once per run of the period.
pub fn list_with_runtime(
    conn: &mut AnyConnection,
    scope: &Scope,
    from: NaiveDateTime,
    until: NaiveDateTime,
) -> Result<Vec<(AgentRow, i64)>, DbError> {
    let in_period = agent_runs::agent_id
        .eq(agents::id)
        .and(overlapping(from, until));
    let rows: Vec<(AgentRow, Option<RunSpanTimes>)> = scope
        .agents()
        .inner_join(projects::table)
        .left_join(agent_runs::table.on(in_period))
        .order((agents::name.asc(), agents::id.asc()))
        .select((
            AgentRow::as_select(),
            (agent_runs::started_at, agent_runs::stopped_at).nullable(),
        ))
        .load(conn)?;
    Ok(with_runtime(rows, |a, b| a.id == b.id, from, until))
}

type RunSpanTimes = (NaiveDateTime, Option<NaiveDateTime>);

/// The runs that overlap the period from `from` to `until` (a run still
/// going overlaps it if it began before its end).
#[diesel::dsl::auto_type]
fn overlapping(from: NaiveDateTime, until: NaiveDateTime) -> _ {
    agent_runs::started_at.lt(until).and(
        agent_runs::stopped_at
            .is_null()
            .or(agent_runs::stopped_at.gt(from)),
    )
}

/// Rows read with their runs of a period left-joined (once per run, or
/// once with none; the rows of one thing together, `same` telling them
/// apart), folded to each thing with the seconds its runs fall in the
/// period.
fn with_runtime<R>(
    rows: Vec<(R, Option<RunSpanTimes>)>,
    same: impl Fn(&R, &R) -> bool,
    from: NaiveDateTime,
    until: NaiveDateTime,
) -> Vec<(R, i64)> {
    let mut listed: Vec<(R, i64)> = Vec::new();
    for (row, run) in rows {
        let seconds = run.map_or(0, |span| clipped_seconds(span, from, until));
        match listed.last_mut() {
            Some((last, total)) if same(last, &row) => *total += seconds,
            _ => listed.push((row, seconds)),
        }
    }
    listed
}

/// A running agent that has been idle too long, as the idle job finds it
/// (in any workspace: the job acts for none).
#[derive(Debug, Clone, Queryable)]
pub struct IdleAgent {
    /// The agent.
    pub id: AgentId,
    /// Its name.
    pub name: String,
    /// Its workspace, which the job acts for when it stops it.
    pub workspace: Tenant,
    /// That workspace's organization, for a team (its running counter
    /// counts the team's agents too).
    pub parent: Option<Tenant>,
    /// Its workspace's kind.
    pub kind: crate::domain::WorkspaceKind,
    /// Who started it.
    pub started_by: Option<UserId>,
}

impl IdleAgent {
    /// The organization whose per-member quota it counts against.
    pub fn organization(&self) -> Option<&Tenant> {
        match self.kind {
            crate::domain::WorkspaceKind::Organization => Some(&self.workspace),
            crate::domain::WorkspaceKind::Team => self.parent.as_ref(),
            crate::domain::WorkspaceKind::Personal => None,
        }
    }
}

/// Running agents last active before `cutoff`, oldest first, at most
/// `limit` (the job takes them in batches).
pub fn idle_since(
    conn: &mut AnyConnection,
    cutoff: NaiveDateTime,
    limit: i64,
) -> Result<Vec<IdleAgent>, DbError> {
    Ok(agents::table
        .inner_join(workspaces::table.on(workspaces::id.eq(agents::workspace_id)))
        .filter(agents::status.eq(AgentStatus::Running))
        .filter(agents::last_active_at.lt(cutoff))
        .order(agents::last_active_at.asc())
        .limit(limit)
        .select((
            agents::id,
            agents::name,
            agents::workspace_id,
            workspaces::parent_id,
            workspaces::kind,
            agents::started_by,
        ))
        .load(conn)?)
}

/// An agent as the platform's report of its use finds it.
#[derive(Debug, Clone, Queryable)]
pub struct AgentInUse {
    /// Running or stopped.
    pub status: AgentStatus,
    /// Whether the idle job stopped it (it starts again on use).
    pub idle_stopped: bool,
    /// Who started it last (a resume acts for them).
    pub started_by: Option<UserId>,
}

/// The agent `id` of `tenant` (the workspace a key opens), if any.
pub fn in_use(
    conn: &mut AnyConnection,
    tenant: &Tenant,
    id: &AgentId,
) -> Result<Option<AgentInUse>, DbError> {
    Ok(tenant
        .agents()
        .filter(agents::id.eq(id))
        .select((agents::status, agents::idle_stopped, agents::started_by))
        .first(conn)
        .optional()?)
}

/// Notes that a running agent of `tenant` was used, at most once a
/// minute (a busy agent doesn't turn every report into a write).
pub fn touch_running(
    conn: &mut AnyConnection,
    tenant: &Tenant,
    id: &AgentId,
) -> Result<(), DbError> {
    let at = now();
    diesel::update(
        tenant
            .agents()
            .filter(agents::id.eq(id))
            .filter(agents::status.eq(AgentStatus::Running))
            .filter(
                agents::last_active_at
                    .is_null()
                    .or(agents::last_active_at.lt(at - chrono::Duration::minutes(1))),
            ),
    )
    .set(agents::last_active_at.eq(Some(at)))
    .execute(conn)?;
    Ok(())
}

/// Stops `agent` if it still runs idle since before `cutoff` (a start or
/// stop meanwhile wins) and closes its run; `false` when it no longer
/// qualifies. The caller releases its running slots.
pub fn stop_if_idle(
    conn: &mut AnyConnection,
    agent: &IdleAgent,
    cutoff: NaiveDateTime,
    at: NaiveDateTime,
) -> Result<bool, DbError> {
    let stopped = diesel::update(
        agent
            .workspace
            .agents()
            .filter(agents::id.eq(&agent.id))
            .filter(agents::status.eq(AgentStatus::Running))
            .filter(agents::last_active_at.lt(cutoff)),
    )
    .set((
        agents::status.eq(AgentStatus::Stopped),
        agents::started_at.eq(None::<NaiveDateTime>),
        agents::idle_stopped.eq(true),
        agents::updated_at.eq(at),
    ))
    .execute(conn)?;
    if stopped == 0 {
        return Ok(false);
    }
    diesel::update(
        agent_runs::table
            .filter(agent_runs::agent_id.eq(&agent.id))
            .filter(agent_runs::stopped_at.is_null()),
    )
    .set(agent_runs::stopped_at.eq(Some(at)))
    .execute(conn)?;
    Ok(true)
}

/// Whether `tenant` holds the agent (an API caller's question, asked
/// for the workspace its key opens).
pub fn is_in(conn: &mut AnyConnection, tenant: &Tenant, id: &AgentId) -> Result<bool, DbError> {
    Ok(diesel::select(diesel::dsl::exists(
        tenant.agents().filter(agents::id.eq(id)),
    ))
    .get_result(conn)?)
}

//! The Resources tab: what a workspace's agents use against its limits —
//! running agents and agent hours this month — and, in an organization,
//! the limits themselves: the organization's, and each team's quota within
//! them. Setting them validates, changes and audits in one transaction.

use crate::db::agents::LimitValues;
use crate::db::audit::{Actor, Event};
use crate::db::scope::Scope;
use crate::db::{self, Db, write_transaction};
use crate::domain::{FieldErrors, WorkspaceId, WorkspaceKind};
use crate::services::ServiceError;
use crate::services::agents::month_start;

/// Largest limit accepted (of agents, or of hours).
const LIMIT_MAX: i32 = 1_000_000;

/// One workspace's usage against its limits.
#[derive(Debug, Clone)]
pub struct Usage {
    /// The workspace.
    pub workspace_id: WorkspaceId,
    /// Its name.
    pub name: String,
    /// Whether it is a team of the organization shown.
    pub is_team: bool,
    /// Agents running now (an organization's count its teams').
    pub running_agents: i32,
    /// How many may run at once.
    pub max_running_agents: Option<i32>,
    /// Agent hours used this month (an organization's count its teams').
    pub hours: f64,
    /// Agent hours allowed per month.
    pub max_agent_hours: Option<i32>,
    /// App instances installed (an organization's count its teams').
    pub app_instances: i32,
    /// How many may be installed.
    pub max_app_instances: Option<i32>,
    /// Agents each member may have running (organizations only).
    pub max_agents_per_member: Option<i32>,
}

/// What the Resources tab shows: the active workspace's usage first, then
/// (in an organization) each team's, and the members with agents running.
pub struct Overview {
    /// Usage against limits, the workspace's row first.
    pub rows: Vec<Usage>,
    /// In an organization, its members with agents running (across it and
    /// its teams) and how many, by name: `(name, email, running)`.
    pub members: Vec<(String, String, i32)>,
}

/// Reads the Resources tab: two statements however many teams and runs,
/// on the connection the session load handed on.
pub async fn overview(db: &Db, scope: &Scope) -> Result<Overview, ServiceError> {
    let scope = scope.clone();
    Ok(db
        .read(move |conn| {
            let rows = usage_in(conn, &scope)?;
            let members = if scope.workspace().kind == WorkspaceKind::Organization {
                db::agents::member_usage(conn, &scope, MEMBERS_SHOWN)?
            } else {
                Vec::new()
            };
            Ok::<_, db::DbError>(Overview { rows, members })
        })
        .await?)
}

/// The active workspace's usage first, then (in an organization) each
/// team's: one statement (the API's limits).
pub async fn usage(db: &Db, scope: &Scope) -> Result<Vec<Usage>, ServiceError> {
    let scope = scope.clone();
    Ok(db.read(move |conn| usage_in(conn, &scope)).await?)
}

fn usage_in(conn: &mut db::AnyConnection, scope: &Scope) -> Result<Vec<Usage>, db::DbError> {
    let now = db::now();
    // A team or a personal workspace has no teams: its own row only.
    let usage = db::agents::usage_with_teams(conn, scope, month_start(now), now)?;
    let workspace = scope.workspace_id();
    // An organization's hours count its teams'.
    let total: i64 = usage.iter().map(|(_, seconds)| seconds).sum();
    Ok(usage
        .into_iter()
        .map(|(row, seconds)| {
            let is_team = &row.id != workspace;
            let own = if is_team { seconds } else { total };
            Usage {
                is_team,
                workspace_id: row.id,
                name: row.name,
                running_agents: row.running_agents,
                max_running_agents: row.max_running_agents,
                hours: own as f64 / 3600.0,
                max_agent_hours: row.max_agent_hours,
                app_instances: row.app_instances,
                max_app_instances: row.max_app_instances,
                max_agents_per_member: row.max_agents_per_member,
            }
        })
        .collect())
}

/// Members shown at most in the per-member usage.
const MEMBERS_SHOWN: i64 = 50;

/// The limits form of one workspace, as typed (empty: no limit).
#[derive(Debug, Clone, Default)]
pub struct LimitsInput {
    /// The organization or one of its teams.
    pub workspace_id: String,
    /// Agents that may run at once.
    pub max_running_agents: String,
    /// Agent hours per calendar month.
    pub max_agent_hours: String,
    /// App instances installed.
    pub max_app_instances: String,
    /// Agents each member may have running (the organization's row only).
    pub max_agents_per_member: String,
}

fn parse_limit(errors: &mut FieldErrors, field: &'static str, typed: &str) -> Option<i32> {
    let typed = typed.trim();
    if typed.is_empty() {
        return None;
    }
    match typed.parse::<i32>() {
        Ok(n) if (0..=LIMIT_MAX).contains(&n) => Some(n),
        _ => {
            errors.add(
                field,
                "Enter a whole number from 0 up, or leave it empty for no limit.",
            );
            None
        }
    }
}

/// Sets the limits of the active organization or of one of its teams. A
/// team's quota can't exceed the organization's limit, nor the
/// organization's limit go below a team's quota.
pub async fn set_limits(
    db: &Db,
    scope: &Scope,
    input: LimitsInput,
) -> Result<String, ServiceError> {
    if scope.workspace().kind != WorkspaceKind::Organization {
        return Err(ServiceError::Refused(
            "Limits are set by the organization, on its Resources tab.",
        ));
    }
    let mut errors = FieldErrors::new();
    let agents = parse_limit(&mut errors, "max_running_agents", &input.max_running_agents);
    let hours = parse_limit(&mut errors, "max_agent_hours", &input.max_agent_hours);
    let instances = parse_limit(&mut errors, "max_app_instances", &input.max_app_instances);
    let per_member = parse_limit(
        &mut errors,
        "max_agents_per_member",
        &input.max_agents_per_member,
    );
    let limits = LimitValues {
        running_agents: agents,
        agent_hours: hours,
        app_instances: instances,
        agents_per_member: per_member,
    };
    let target = WorkspaceId::parse(&input.workspace_id).ok_or(ServiceError::NotFound)?;
    if !errors.is_empty() {
        return Err(ServiceError::Invalid(errors));
    }
    let (scope, actor) = (scope.clone(), Actor::of(scope));
    db.run(move |conn| {
        write_transaction(conn, |conn| {
            db::workspaces::lock_memberships(conn, &scope.tenant())?;
            let rows = db::agents::limits_with_teams(conn, &scope.tenant())?;
            let row = rows
                .iter()
                .find(|row| row.id == target)
                .ok_or(ServiceError::NotFound)?;
            within_organization(&rows, &target, limits)?;
            // The per-member quota is the organization's; a team keeps none.
            let limits = if target == *scope.workspace_id() {
                limits
            } else {
                LimitValues {
                    agents_per_member: None,
                    ..limits
                }
            };
            db::agents::set_limits(conn, &scope, &target, limits)?;
            let show = |limit: Option<i32>| limit.map_or("no limit".to_owned(), |n| n.to_string());
            let event = Event::resource_limits_update(&target, &row.name).with_details(format!(
                "running agents: {} → {}; agent hours per month: {} → {}; app instances: {} → {}; \
                     running agents per member: {} → {}",
                show(row.max_running_agents),
                show(agents),
                show(row.max_agent_hours),
                show(hours),
                show(row.max_app_instances),
                show(instances),
                show(row.max_agents_per_member),
                show(limits.agents_per_member)
            ));
            db::audit::record(conn, scope.workspace_id(), &actor, &event)?;
            Ok::<_, ServiceError>(row.name.clone())
        })
    })
    .await
}

/// A limit's form field, how to read it from stored limits, and its new value.
type LimitField = (
    &'static str,
    fn(&db::agents::Limits) -> Option<i32>,
    Option<i32>,
);

/// Whether limits of `target` fit its organization's (`rows[0]`) and its
/// teams' (`rows[1..]`).
fn within_organization(
    rows: &[db::agents::Limits],
    target: &WorkspaceId,
    limits: LimitValues,
) -> Result<(), ServiceError> {
    let Some((organization, teams)) = rows.split_first() else {
        return Err(ServiceError::NotFound);
    };
    let exceeds = |quota: Option<i32>, limit: Option<i32>| matches!((quota, limit), (Some(quota), Some(limit)) if quota > limit);
    let fields: [LimitField; 3] = [
        (
            "max_running_agents",
            |r| r.max_running_agents,
            limits.running_agents,
        ),
        ("max_agent_hours", |r| r.max_agent_hours, limits.agent_hours),
        (
            "max_app_instances",
            |r| r.max_app_instances,
            limits.app_instances,
        ),
    ];
    let mut errors = FieldErrors::new();
    if &organization.id == target && exceeds(limits.agents_per_member, limits.running_agents) {
        errors.add(
            "max_agents_per_member",
            "A member's quota can't exceed the organization's running-agent limit.",
        );
    }
    for (field, stored, typed) in fields {
        if &organization.id == target {
            if teams.iter().any(|t| exceeds(stored(t), typed)) {
                errors.add(field, "A team's quota is higher; lower it first.");
            }
        } else if exceeds(typed, stored(organization)) {
            errors.add(
                field,
                "A team's quota can't exceed the organization's limit.",
            );
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ServiceError::Invalid(errors))
    }
}

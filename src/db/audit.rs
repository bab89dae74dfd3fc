//! The audit log: who did what to what, in which workspace, from where.
//! Entries are written by the domain function that makes the change, inside
//! its transaction, so a change without its entry cannot exist.

use super::stamps::Stamp;
use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{audit_entries, audit_facets};
use super::{AnyConnection, DbError, natively, now};
use crate::db::scope::Scope;
use crate::domain::{UserId, WorkspaceId};

/// Who acted, as recorded.
#[derive(Debug, Clone)]
pub struct Actor {
    /// The user (kept as a name snapshot too, so the log survives the account).
    pub user_id: UserId,
    /// Their name at the time.
    pub name: String,
    /// Their client IP.
    pub ip: String,
}

impl Actor {
    /// The user acting in a scope.
    pub fn of(scope: &Scope) -> Self {
        Self {
            user_id: scope.user_id().clone(),
            name: scope.user().name.clone(),
            ip: scope.client_ip().to_owned(),
        }
    }
}

/// Declares [`Action`]: each audited action with its stored key and the
/// kind of thing it acts on, so an entry can't name one without the other.
macro_rules! actions {
    ($($variant:ident => $key:literal, $target:literal;)*) => {
        /// Everything the audit log records, one variant per action.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Action {
            $(
                #[doc = concat!("`", $key, "` on a ", $target, ".")]
                $variant,
            )*
        }

        impl Action {
            /// The dotted key stored in the log and offered in its filter.
            pub fn key(self) -> &'static str {
                match self {
                    $(Action::$variant => $key,)*
                }
            }

            /// The kind of thing this action acts on.
            pub fn target_type(self) -> &'static str {
                match self {
                    $(Action::$variant => $target,)*
                }
            }
        }
    };
}

actions! {
    AccountCreate => "account.create", "account";
    AccountEmailChange => "account.email.change", "account";
    AccountEmailChangeRequest => "account.email.change_request", "account";
    AccountEmailVerificationSent => "account.email.verification_sent", "account";
    AccountEmailVerify => "account.email.verify", "account";
    AccountPasswordChange => "account.password.change", "account";
    AccountPasswordReset => "account.password.reset", "account";
    AccountPasswordResetRequest => "account.password.reset_request", "account";
    AccountProfileUpdate => "account.profile.update", "account";
    AccountSessionRevoke => "account.session.revoke", "account";
    AccountSessionRevokeOthers => "account.session.revoke_others", "account";
    AccountSignIn => "account.sign_in", "account";
    AgentCreate => "agent.create", "agent";
    AgentDelete => "agent.delete", "agent";
    AgentIdleStop => "agent.idle_stop", "agent";
    AgentResume => "agent.resume", "agent";
    AgentStart => "agent.start", "agent";
    AgentStop => "agent.stop", "agent";
    AgentTransfer => "agent.transfer", "agent";
    ApiKeyCreate => "api_key.create", "API key";
    ApiKeyRevoke => "api_key.revoke", "API key";
    AppIdleStop => "app.idle_stop", "app";
    AppInstall => "app.install", "app";
    AppResume => "app.resume", "app";
    AppStart => "app.start", "app";
    AppStop => "app.stop", "app";
    AppUninstall => "app.uninstall", "app";
    InvitationAccept => "invitation.accept", "invitation";
    InvitationCreate => "invitation.create", "invitation";
    InvitationDecline => "invitation.decline", "invitation";
    InvitationResend => "invitation.resend", "invitation";
    InvitationRevoke => "invitation.revoke", "invitation";
    MembershipAdd => "membership.add", "membership";
    MembershipDeactivate => "membership.deactivate", "membership";
    MembershipLeave => "membership.leave", "membership";
    MembershipReactivate => "membership.reactivate", "membership";
    MembershipRemove => "membership.remove", "membership";
    MembershipRoleChange => "membership.role.change", "membership";
    OrganizationArchive => "organization.archive", "organization";
    OrganizationAvatarRemove => "organization.avatar.remove", "organization";
    OrganizationAvatarUpdate => "organization.avatar.update", "organization";
    OrganizationCreate => "organization.create", "organization";
    OrganizationDelete => "organization.delete", "organization";
    OrganizationOwnershipTransfer => "organization.ownership.transfer", "membership";
    OrganizationRestore => "organization.restore", "organization";
    OrganizationUpdate => "organization.update", "organization";
    ProjectCreate => "project.create", "project";
    ProjectDelete => "project.delete", "project";
    ProjectKeyCreate => "project.key.create", "project key";
    ProjectKeyRevoke => "project.key.revoke", "project key";
    ProjectTransfer => "project.transfer", "project";
    ProjectUpdate => "project.update", "project";
    ResourceLimitsUpdate => "resources.limits.update", "workspace";
    RoleCreate => "role.create", "role";
    RoleDelete => "role.delete", "role";
    RoleUpdate => "role.update", "role";
    TeamArchive => "team.archive", "team";
    TeamCreate => "team.create", "team";
    TeamDelete => "team.delete", "team";
    TeamRestore => "team.restore", "team";
    TeamUpdate => "team.update", "team";
    WalletControls => "wallet.controls", "wallet";
    WalletCoupon => "wallet.coupon", "wallet";
    WalletPlan => "wallet.plan", "wallet";
    WalletTransfer => "wallet.transfer", "wallet";
    WalletTopUp => "wallet.top_up", "wallet";
    WorkspaceReactivate => "workspace.reactivate", "workspace";
    WorkspaceSuspend => "workspace.suspend", "workspace";
}

/// What was done to what.
#[derive(Debug, Clone)]
pub struct Event<'a> {
    /// What was done (which also says to what kind of thing).
    pub action: Action,
    /// Its id.
    pub target_id: &'a str,
    /// A human label for it at the time.
    pub target_label: &'a str,
    /// Extra facts, human-readable (`name: Acme → Acme Corp`).
    pub details: String,
}

/// One entry as listed.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = audit_entries)]
pub struct Entry {
    /// Its id (time-ordered; the page cursor).
    pub id: String,
    /// The actor's user id, unless the account is gone.
    pub actor_user_id: Option<String>,
    /// The actor's name then.
    pub actor_name: String,
    /// The action.
    pub action: String,
    /// Target kind.
    pub target_type: String,
    /// Target label.
    pub target_label: String,
    /// Details.
    pub details: String,
    /// Client IP.
    pub ip: String,
    /// When.
    #[diesel(deserialize_as = Stamp)]
    pub created_at: NaiveDateTime,
}

/// Records an event in `workspace` (call inside the change's transaction).
pub fn record(
    conn: &mut AnyConnection,
    workspace: &WorkspaceId,
    actor: &Actor,
    event: &Event<'_>,
) -> Result<(), DbError> {
    diesel::insert_into(audit_entries::table)
        .values((
            audit_entries::id.eq(uuid::Uuid::now_v7().to_string()),
            audit_entries::workspace_id.eq(workspace),
            audit_entries::actor_user_id.eq(&actor.user_id),
            audit_entries::actor_name.eq(&actor.name),
            audit_entries::action.eq(event.action.key()),
            audit_entries::target_type.eq(event.action.target_type()),
            audit_entries::target_id.eq(event.target_id),
            audit_entries::target_label.eq(event.target_label),
            audit_entries::details.eq(&event.details),
            audit_entries::ip.eq(&actor.ip),
            audit_entries::created_at.eq(now()),
        ))
        .execute(conn)?;
    Ok(())
}

/// Records one event in each of `workspaces` (a change that concerns two:
/// a transfer, a team and its organization), in the order of their ids.
/// Recording moves each workspace's audit version, which locks its row of
/// `audit_versions` on PostgreSQL until the transaction ends (migration
/// 000031); one order for all such changes means two of them in opposite
/// directions can't each hold the row the other waits for.
pub fn record_in_each(
    conn: &mut AnyConnection,
    workspaces: [&WorkspaceId; 2],
    actor: &Actor,
    event: &Event<'_>,
) -> Result<(), DbError> {
    let mut in_order = workspaces;
    in_order.sort();
    for workspace in in_order {
        record(conn, workspace, actor, event)?;
    }
    Ok(())
}

/// Records an event Tenantry itself caused (a background job), with no
/// user as actor.
pub fn record_by_system(
    conn: &mut AnyConnection,
    workspace: &WorkspaceId,
    event: &Event<'_>,
) -> Result<(), DbError> {
    diesel::insert_into(audit_entries::table)
        .values((
            audit_entries::id.eq(uuid::Uuid::now_v7().to_string()),
            audit_entries::workspace_id.eq(workspace),
            audit_entries::actor_user_id.eq(None::<String>),
            audit_entries::actor_name.eq("Tenantry"),
            audit_entries::action.eq(event.action.key()),
            audit_entries::target_type.eq(event.action.target_type()),
            audit_entries::target_id.eq(event.target_id),
            audit_entries::target_label.eq(event.target_label),
            audit_entries::details.eq(&event.details),
            audit_entries::ip.eq(""),
            audit_entries::created_at.eq(now()),
        ))
        .execute(conn)?;
    Ok(())
}

/// Filters of the audit page.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Only this actor.
    pub actor: Option<UserId>,
    /// Only this action.
    pub action: Option<String>,
    /// Entries older than this id (the next page).
    pub before: Option<String>,
}

/// A page of the scoped workspace's log, newest first; `limit + 1` rows are
/// read so the caller knows whether an older page exists.
pub fn page(
    conn: &mut AnyConnection,
    scope: &Scope,
    filter: &Filter,
    limit: i64,
) -> Result<Vec<Entry>, DbError> {
    if filter.actor.is_none() && filter.action.is_none() && filter.before.is_none() {
        return latest(conn, scope, limit);
    }
    Ok(natively!(conn, |native| {
        let mut query = scope.audit_entries().into_boxed();
        if let Some(actor) = &filter.actor {
            query = query.filter(audit_entries::actor_user_id.eq(actor.as_str()));
        }
        if let Some(action) = &filter.action {
            query = query.filter(audit_entries::action.eq(action));
        }
        if let Some(before) = &filter.before {
            query = query.filter(audit_entries::id.lt(before));
        }
        query
            .order(audit_entries::id.desc())
            .limit(limit + 1)
            .select(Entry::as_select())
            .load(native)
    })?)
}

/// The newest page, unfiltered: what the dashboard and the log's first view
/// show. Written without `into_boxed`: diesel renders a boxed query's SQL on
/// every call to look its prepared statement up by that text, while this
/// one's statement is found by its type (3 % of a SQLite dashboard view's
/// instructions).
fn latest(conn: &mut AnyConnection, scope: &Scope, limit: i64) -> Result<Vec<Entry>, DbError> {
    Ok(natively!(conn, |native| scope
        .audit_entries()
        .order(audit_entries::id.desc())
        .limit(limit + 1)
        .select(Entry::as_select())
        .load(native))?)
}

/// What the log's filter menus offer: everyone who has acted in the scoped
/// workspace and every action that occurs in its log.
#[derive(Debug, Clone, Default)]
pub struct Facets {
    /// `(user id, name)`, by name.
    pub actors: Vec<(String, String)>,
    /// Action keys, alphabetically.
    pub actions: Vec<String>,
}

/// The filter menus of the scoped workspace's log, from `audit_facets`
/// (kept in step by a trigger on `audit_entries`), so their cost is the
/// number of actors and actions, not of entries.
pub fn facets(conn: &mut AnyConnection, scope: &Scope) -> Result<Facets, DbError> {
    let query = scope
        .audit_facets()
        .order((audit_facets::kind.asc(), audit_facets::label.asc()))
        .select((audit_facets::kind, audit_facets::value, audit_facets::label));
    let rows: Vec<(String, String, String)> = natively!(conn, |native| query.load(native))?;
    let mut facets = Facets::default();
    for (kind, value, label) in rows {
        match kind.as_str() {
            FACET_ACTOR => facets.actors.push((value, label)),
            _ => facets.actions.push(value),
        }
    }
    Ok(facets)
}

/// `audit_facets.kind` of an actor (the migration's trigger writes it).
const FACET_ACTOR: &str = "actor";

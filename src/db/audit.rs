//! The audit log: who did what to what, in which workspace, from where.
//! Entries are written by the domain function that makes the change, inside
//! its transaction, so a change without its entry cannot exist.

use super::stamps::Stamp;
use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{audit_entries, audit_facets};
use super::{AnyConnection, DbError, natively, now};
use crate::db::scope::Scope;
use crate::domain::{
    AgentId, ApiKeyId, AppInstanceId, InvitationId, MembershipId, ProjectId, ProjectKeyId, RoleId,
    TopUpId, UserId, WorkspaceId,
};

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

/// Why a constructor takes the target type it does: `actions!` calls it
/// with each action's id type.
macro_rules! target_doc {
    (str) => {
        "Its target is taken as text (`&str`): this kind's ids have no id type."
    };
    ($id:ident) => {
        concat!(
            "Its target is taken as a `&",
            stringify!($id),
            "`, the type of this kind's ids, ",
            "so the compiler refuses any other kind of id there."
        )
    };
}

/// Declares [`Action`]: each audited action with its stored key, the kind
/// of thing it acts on and the Rust type of that thing's id, so an entry
/// can't name one without the others. Each action also gets a constructor
/// on [`Event`] (named on its line, as no crate here derives names) taking
/// its target as that type: the compiler then refuses, say, an agent's id
/// as a membership action's target. `str` marks an action whose target has
/// no id type; its line says why.
macro_rules! actions {
    ($(
        $(#[$why:meta])*
        $variant:ident, $constructor:ident => $key:literal, $target:literal, $id:ident;
    )*) => {
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

        impl Event<'_> {
            $(
                #[doc = concat!(
                    "A `", $key, "` event on `target` (kind `", $target, "`), labelled `label`, ",
                    "without details. ", target_doc!($id)
                )]
                $(#[doc = ""] #[$why])*
                pub fn $constructor<'a>(target: &'a $id, label: &'a str) -> Event<'a> {
                    Event {
                        action: Action::$variant,
                        target_id: TargetId::text(target),
                        target_label: label,
                        details: String::new(),
                    }
                }
            )*
        }
    };
}

/// How a target id is stored: its canonical text. Implemented only for the
/// id types actions take (and `str`, for the untyped ones).
trait TargetId {
    /// The text stored as `audit_entries.target_id`.
    fn text(&self) -> &str;
}

impl TargetId for str {
    fn text(&self) -> &str {
        self
    }
}

/// Implements [`TargetId`] for typed ids, as their `as_str`.
macro_rules! target_ids {
    ($($id:ty),*) => {
        $(
            impl TargetId for $id {
                fn text(&self) -> &str {
                    self.as_str()
                }
            }
        )*
    };
}

target_ids!(
    AgentId,
    ApiKeyId,
    AppInstanceId,
    InvitationId,
    MembershipId,
    ProjectId,
    ProjectKeyId,
    RoleId,
    TopUpId,
    UserId,
    WorkspaceId
);

actions! {
    AccountCreate, account_create => "account.create", "account", UserId;
    AccountEmailChange, account_email_change => "account.email.change", "account", UserId;
    AccountEmailChangeRequest, account_email_change_request => "account.email.change_request", "account", UserId;
    AccountEmailVerificationSent, account_email_verification_sent => "account.email.verification_sent", "account", UserId;
    AccountEmailVerify, account_email_verify => "account.email.verify", "account", UserId;
    AccountPasswordChange, account_password_change => "account.password.change", "account", UserId;
    AccountPasswordReset, account_password_reset => "account.password.reset", "account", UserId;
    AccountPasswordResetRequest, account_password_reset_request => "account.password.reset_request", "account", UserId;
    AccountProfileUpdate, account_profile_update => "account.profile.update", "account", UserId;
    AccountSessionRevoke, account_session_revoke => "account.session.revoke", "account", UserId;
    AccountSessionRevokeOthers, account_session_revoke_others => "account.session.revoke_others", "account", UserId;
    AccountSignIn, account_sign_in => "account.sign_in", "account", UserId;
    AgentCreate, agent_create => "agent.create", "agent", AgentId;
    AgentDelete, agent_delete => "agent.delete", "agent", AgentId;
    AgentIdleStop, agent_idle_stop => "agent.idle_stop", "agent", AgentId;
    AgentResume, agent_resume => "agent.resume", "agent", AgentId;
    AgentStart, agent_start => "agent.start", "agent", AgentId;
    AgentStop, agent_stop => "agent.stop", "agent", AgentId;
    AgentTransfer, agent_transfer => "agent.transfer", "agent", AgentId;
    ApiKeyCreate, api_key_create => "api_key.create", "API key", ApiKeyId;
    ApiKeyRevoke, api_key_revoke => "api_key.revoke", "API key", ApiKeyId;
    AppIdleStop, app_idle_stop => "app.idle_stop", "app", AppInstanceId;
    AppInstall, app_install => "app.install", "app", AppInstanceId;
    AppResume, app_resume => "app.resume", "app", AppInstanceId;
    AppStart, app_start => "app.start", "app", AppInstanceId;
    AppStop, app_stop => "app.stop", "app", AppInstanceId;
    AppUninstall, app_uninstall => "app.uninstall", "app", AppInstanceId;
    InvitationAccept, invitation_accept => "invitation.accept", "invitation", InvitationId;
    InvitationCreate, invitation_create => "invitation.create", "invitation", InvitationId;
    InvitationDecline, invitation_decline => "invitation.decline", "invitation", InvitationId;
    InvitationResend, invitation_resend => "invitation.resend", "invitation", InvitationId;
    InvitationRevoke, invitation_revoke => "invitation.revoke", "invitation", InvitationId;
    MembershipAdd, membership_add => "membership.add", "membership", MembershipId;
    MembershipDeactivate, membership_deactivate => "membership.deactivate", "membership", MembershipId;
    MembershipLeave, membership_leave => "membership.leave", "membership", MembershipId;
    MembershipReactivate, membership_reactivate => "membership.reactivate", "membership", MembershipId;
    MembershipRemove, membership_remove => "membership.remove", "membership", MembershipId;
    MembershipRoleChange, membership_role_change => "membership.role.change", "membership", MembershipId;
    OrganizationArchive, organization_archive => "organization.archive", "organization", WorkspaceId;
    OrganizationAvatarRemove, organization_avatar_remove => "organization.avatar.remove", "organization", WorkspaceId;
    OrganizationAvatarUpdate, organization_avatar_update => "organization.avatar.update", "organization", WorkspaceId;
    OrganizationCreate, organization_create => "organization.create", "organization", WorkspaceId;
    OrganizationDelete, organization_delete => "organization.delete", "organization", WorkspaceId;
    OrganizationOwnershipTransfer, organization_ownership_transfer => "organization.ownership.transfer", "membership", MembershipId;
    OrganizationRestore, organization_restore => "organization.restore", "organization", WorkspaceId;
    OrganizationUpdate, organization_update => "organization.update", "organization", WorkspaceId;
    ProjectCreate, project_create => "project.create", "project", ProjectId;
    ProjectDelete, project_delete => "project.delete", "project", ProjectId;
    ProjectKeyCreate, project_key_create => "project.key.create", "project key", ProjectKeyId;
    ProjectKeyRevoke, project_key_revoke => "project.key.revoke", "project key", ProjectKeyId;
    ProjectTransfer, project_transfer => "project.transfer", "project", ProjectId;
    ProjectUpdate, project_update => "project.update", "project", ProjectId;
    ResourceLimitsUpdate, resource_limits_update => "resources.limits.update", "workspace", WorkspaceId;
    RoleCreate, role_create => "role.create", "role", RoleId;
    RoleDelete, role_delete => "role.delete", "role", RoleId;
    RoleUpdate, role_update => "role.update", "role", RoleId;
    TeamArchive, team_archive => "team.archive", "team", WorkspaceId;
    TeamCreate, team_create => "team.create", "team", WorkspaceId;
    TeamDelete, team_delete => "team.delete", "team", WorkspaceId;
    TeamRestore, team_restore => "team.restore", "team", WorkspaceId;
    TeamUpdate, team_update => "team.update", "team", WorkspaceId;
    WalletControls, wallet_controls => "wallet.controls", "wallet", WorkspaceId;
    /// Untyped: the target is the redeemed coupon's code, not a row id.
    WalletCoupon, wallet_coupon => "wallet.coupon", "wallet", str;
    /// Untyped: the target is the plan's configured key, not a row id.
    WalletPlan, wallet_plan => "wallet.plan", "wallet", str;
    WalletTransfer, wallet_transfer => "wallet.transfer", "wallet", WorkspaceId;
    WalletTopUp, wallet_top_up => "wallet.top_up", "wallet", TopUpId;
    WorkspaceReactivate, workspace_reactivate => "workspace.reactivate", "workspace", WorkspaceId;
    WorkspaceSuspend, workspace_suspend => "workspace.suspend", "workspace", WorkspaceId;
}

/// What was done to what. Built only by the per-action constructors
/// (`Event::app_install`, …), whose target parameter has the action's id
/// type, so its fields are private.
#[derive(Debug, Clone)]
pub struct Event<'a> {
    /// What was done (which also says to what kind of thing).
    action: Action,
    /// Its id.
    target_id: &'a str,
    /// A human label for it at the time.
    target_label: &'a str,
    /// Extra facts, human-readable (`name: Acme → Acme Corp`).
    details: String,
}

impl Event<'_> {
    /// Adds the extra facts (`name: Acme → Acme Corp`): the constructors
    /// leave them empty, as many actions have none.
    pub fn with_details(self, details: impl Into<String>) -> Self {
        Self {
            details: details.into(),
            ..self
        }
    }
}

/// A constructor of events on targets of type `T`, such as
/// `Event::membership_remove`: what a helper recording one of several
/// actions takes instead of an [`Action`], so the caller's choice of action
/// stays checked against the target's id type.
pub type Constructor<T> = for<'a> fn(&'a T, &'a str) -> Event<'a>;

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constructors_store_the_action_target_and_no_details() {
        let id = MembershipId::generate();
        let event = Event::membership_remove(&id, "ann@example.com");
        assert_eq!(event.action, Action::MembershipRemove);
        assert_eq!(event.action.target_type(), "membership");
        assert_eq!(event.target_id, id.as_str());
        assert_eq!(event.target_label, "ann@example.com");
        assert_eq!(event.details, "");
    }

    #[test]
    fn details_are_added_and_untyped_targets_stored_as_given() {
        let event = Event::wallet_plan("pro", "Pro").with_details("10 credits a month");
        assert_eq!(event.action.key(), "wallet.plan");
        assert_eq!(event.target_id, "pro");
        assert_eq!(event.details, "10 credits a month");
    }
}

//! Members and invitations, with the hierarchy rules: a member acts only on
//! members ranked below them, never on themselves; grants only roles ranked
//! below their own whose permissions they hold themselves; and nobody makes
//! an owner here (that is ownership transfer). Every change, its audit entry
//! and any email it sends are one transaction, which locks the workspace's
//! memberships and re-reads the actor's and the target's roles before it
//! decides anything.

use std::collections::HashMap;

use askama::Template;
use sha2::{Digest, Sha256};

use crate::db::audit::{Actor, Constructor, Event};
use crate::db::members::{MemberRow, RoleRow};
use crate::db::scope::Scope;
use crate::db::{self, Db, DbError, UniqueKey, write_transaction};
use crate::domain::permission::SystemRole;
use crate::domain::{
    Email, FieldErrors, InvitationId, InvitationStatus, MembershipId, MembershipStatus,
    PermissionSet, PersonName, RoleId, UserId, WorkspaceId,
};
use crate::services::ServiceError;
use crate::services::mail::Notifier;

/// Seconds between two sends of one invitation.
const RESEND_INTERVAL_SECONDS: i64 = 60;

/// What the member and invitation service needs: the database, the mail
/// notifier for invitation links and how long an invitation stays valid.
#[derive(Clone)]
pub struct MemberService {
    /// The database.
    pub db: Db,
    /// Builds links and wakes the mail worker.
    pub mail: Notifier,
    /// How long an invitation link stays valid.
    pub invitation_ttl: chrono::Duration,
}

/// Where a member stands in a workspace: the rank and permissions of their
/// role. Every change re-reads the actor's standing inside its transaction
/// ([`Standing::current`]) rather than trusting the one the request began
/// with, which a concurrent change may have moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Standing {
    level: i32,
    permissions: PermissionSet,
}

impl Standing {
    /// The standing the request began with: good enough for deciding what a
    /// page offers, never for deciding a change.
    pub fn of_scope(scope: &Scope) -> Self {
        Self {
            level: scope.role_level(),
            permissions: scope.permissions(),
        }
    }

    /// What holding `role` amounts to.
    pub fn of_role(role: &RoleRow) -> Self {
        Self {
            level: role.level,
            permissions: PermissionSet::of_role(role.system_key, &role.permissions),
        }
    }

    /// The acting user's standing as stored now, inside the caller's
    /// transaction; refused when they are no longer an active member. Its
    /// permissions are also within the scope's, so an API key limited to
    /// some permissions can't hand out roles holding others.
    pub fn current(conn: &mut db::AnyConnection, scope: &Scope) -> Result<Self, ServiceError> {
        db::members::acting_role(conn, scope)?
            .map(|role| {
                let stored = Self::of_role(&role);
                Self {
                    permissions: stored.permissions.intersection(scope.permissions()),
                    ..stored
                }
            })
            .ok_or(ServiceError::Refused(
                "Your membership of this organization changed meanwhile; reload the page.",
            ))
    }

    /// The rank.
    pub fn level(&self) -> i32 {
        self.level
    }

    /// The permissions.
    pub fn permissions(&self) -> PermissionSet {
        self.permissions
    }

    /// Whether this standing may give `role` to someone, by invitation or
    /// by role change: never the owner role (that is ownership transfer),
    /// only roles ranked below, and only roles holding nothing this
    /// standing lacks — system roles included, so a custom role ranked
    /// above Admin can't hand out Admin's permissions it doesn't hold.
    pub fn can_grant(&self, role: &RoleRow) -> bool {
        role.system_key != Some(SystemRole::Owner)
            && role.level < self.level
            && self
                .permissions
                .is_superset_of(Standing::of_role(role).permissions)
    }
}

/// Whether `actor` (with `standing`) may change or remove `member`: never
/// themselves, only members ranked below.
pub fn can_act_on(actor: &UserId, standing: &Standing, member: &MemberRow) -> bool {
    may_act_on(actor, standing, &member.member.user_id, member.role.level)
}

/// [`can_act_on`] for a member known by user and rank (the members page,
/// whose rows carry their role's id only).
pub fn may_act_on(actor: &UserId, standing: &Standing, member: &UserId, level: i32) -> bool {
    member != actor && level < standing.level
}

/// The role of the scoped workspace with this id if `standing` may give
/// it, read inside the caller's transaction. `None` stands for a form's
/// value that is no role id: it names no role, so it is refused like a
/// role of another workspace, at the same point of the change (after the
/// checks that come before it).
pub(crate) fn grantable_role(
    conn: &mut db::AnyConnection,
    scope: &Scope,
    standing: &Standing,
    role_id: Option<&RoleId>,
) -> Result<Option<RoleRow>, DbError> {
    let Some(role_id) = role_id else {
        return Ok(None);
    };
    Ok(db::members::roles(conn, scope)?
        .into_iter()
        .find(|r| &r.id == role_id)
        .filter(|r| standing.can_grant(r)))
}

/// The roles the acting member may grant among the workspace's `roles`,
/// for the invite and role forms (granting one checks again).
pub fn grantable_roles(scope: &Scope, roles: &[RoleRow]) -> Vec<RoleRow> {
    let standing = Standing::of_scope(scope);
    roles
        .iter()
        .filter(|r| standing.can_grant(r))
        .cloned()
        .collect()
}

/// Revokes, in the caller's transaction, every pending invitation of the
/// scoped workspace whose sender could no longer send it: they left, were
/// removed or deactivated, or their role no longer lets them give the role
/// it offers. Runs after every change to members or roles, so an
/// invitation never outlives its sender's right to give it. Each
/// revocation is audited with the reason. Returns how many were revoked.
pub(crate) fn revoke_invitations_beyond_senders(
    conn: &mut db::AnyConnection,
    scope: &Scope,
    actor: &Actor,
) -> Result<usize, DbError> {
    let pending = db::invitations::pending_with_senders(conn, scope)?;
    if pending.is_empty() {
        return Ok(0);
    }
    let mut senders: Vec<UserId> = pending
        .iter()
        .filter_map(|i| i.invited_by.clone())
        .collect();
    senders.sort();
    senders.dedup();
    let standings: HashMap<UserId, Standing> = db::members::active_roles_of(conn, scope, &senders)?
        .into_iter()
        .map(|(user, role)| (user, Standing::of_role(&role)))
        .collect();
    let mut revoked = 0;
    for invitation in pending {
        let sender = &invitation.invited_by_name;
        let reason = match invitation
            .invited_by
            .as_ref()
            .and_then(|u| standings.get(u))
        {
            None => format!("{sender} is no longer an active member"),
            Some(standing) if !standing.can_grant(&invitation.role) => format!(
                "{sender} can no longer give the role {}",
                invitation.role.name
            ),
            Some(_) => continue,
        };
        db::invitations::revoke(conn, scope, &invitation.id, &actor.name)?;
        let event = Event::invitation_revoke(&invitation.id, &invitation.email)
            .with_details(format!("automatically: {reason}"));
        db::audit::record(conn, scope.workspace_id(), actor, &event)?;
        revoked += 1;
    }
    Ok(revoked)
}

/// What the invite form asks.
#[derive(Debug, Clone, Default)]
pub struct InviteInput {
    /// The invitee's name.
    pub name: String,
    /// Their email.
    pub email: String,
    /// The role offered; `None` when the form's value is no role id (it is
    /// refused like a role the inviter can't give).
    pub role_id: Option<RoleId>,
}

/// The email of an invitation.
#[derive(Template)]
#[template(path = "emails/invitation.txt")]
struct InvitationText<'a> {
    invitee: &'a str,
    inviter: &'a str,
    organization: &'a str,
    role: &'a str,
    link: &'a str,
    expires: &'a str,
}

/// The HTML part of an invitation email.
#[derive(Template)]
#[template(path = "emails/invitation.html")]
struct InvitationHtml<'a> {
    invitee: &'a str,
    inviter: &'a str,
    organization: &'a str,
    role: &'a str,
    link: &'a str,
    expires: &'a str,
}

fn new_token() -> (String, String) {
    let token = hex::encode(rand::random::<[u8; 32]>());
    let hash = hash_token(&token);
    (token, hash)
}

/// The stored form of an invitation token.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Everything an invitation email says.
struct InvitationMail<'a> {
    to: &'a str,
    invitee: &'a str,
    role: &'a str,
    link: &'a str,
    expires: chrono::NaiveDateTime,
}

fn queue_invitation_email(
    conn: &mut db::AnyConnection,
    scope: &Scope,
    invitation_id: &InvitationId,
    mail: &InvitationMail<'_>,
) -> Result<(), ServiceError> {
    let expires = crate::domain::time::format_time(&mail.expires);
    let organization = scope.workspace().name.as_str();
    let inviter = scope.user().name.as_str();
    let text = InvitationText {
        invitee: mail.invitee,
        inviter,
        organization,
        role: mail.role,
        link: mail.link,
        expires: &expires,
    }
    .render()
    .map_err(|_| ServiceError::Refused("The invitation email could not be written."))?;
    let html = InvitationHtml {
        invitee: mail.invitee,
        inviter,
        organization,
        role: mail.role,
        link: mail.link,
        expires: &expires,
    }
    .render()
    .map_err(|_| ServiceError::Refused("The invitation email could not be written."))?;
    let subject = format!("{inviter} invited you to {organization} on Tenantry");
    let email = db::outbox::NewEmail {
        to: mail.to,
        subject: &subject,
        text: &text,
        html: &html,
        invitation_id: Some(invitation_id),
    };
    db::outbox::enqueue(conn, &email)?;
    Ok(())
}

/// The pending, unexpired invitation behind a link's token, if any: what
/// the invitation page and the sign-up form show to whoever holds the link.
pub async fn usable_invitation(
    service: &MemberService,
    token: &str,
) -> Result<Option<db::invitations::InvitationView>, ServiceError> {
    let token_hash = hash_token(token);
    Ok(service
        .db
        .run(move |conn| db::invitations::usable_by_token(conn, &token_hash))
        .await?)
}

/// Invites someone by email to the active organization; returns the
/// invitation's id.
pub async fn invite(
    service: &MemberService,
    scope: &Scope,
    input: InviteInput,
) -> Result<InvitationId, ServiceError> {
    if scope.is_personal() {
        return Err(ServiceError::Refused(
            "Invitations are for organizations; your personal workspace is yours alone.",
        ));
    }
    let mut errors = FieldErrors::new();
    let name = errors.check("name", PersonName::parse(&input.name));
    let email = errors.check("email", Email::parse(&input.email));
    let (Some(name), Some(email)) = (name, email) else {
        return Err(ServiceError::Invalid(errors));
    };
    let (token, token_hash) = new_token();
    let link = service.mail.link(&format!("/invitations/{token}"));
    let expires_at = db::now() + service.invitation_ttl;
    let (scope_c, actor, link_c, email_c) =
        (scope.clone(), Actor::of(scope), link.clone(), email.clone());
    let outcome = service
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                let scope = &scope_c;
                db::workspaces::lock_invitations(conn, &scope.tenant())?;
                let standing = Standing::current(conn, scope)?;
                let Some(role) = grantable_role(conn, scope, &standing, input.role_id.as_ref())?
                else {
                    return Err(ServiceError::invalid(
                        "role_id",
                        "Choose a role you are allowed to give.",
                    ));
                };
                db::invitations::expire_stale(conn, scope)?;
                if db::members::is_member(conn, scope, email_c.as_str())? {
                    return Err(ServiceError::invalid(
                        "email",
                        "This person is already a member.",
                    ));
                }
                let new = db::invitations::NewInvitation {
                    email: &email_c,
                    name: name.as_str(),
                    role_id: &role.id,
                    role_name: &role.name,
                    token_hash: &token_hash,
                    expires_at,
                };
                let id = db::invitations::create(conn, scope, &actor, &new)?;
                let mail = InvitationMail {
                    to: email_c.as_str(),
                    invitee: name.as_str(),
                    role: &role.name,
                    link: &link_c,
                    expires: expires_at,
                };
                queue_invitation_email(conn, scope, &id, &mail)?;
                let event = Event::invitation_create(&id, email_c.as_str())
                    .with_details(format!("role: {}", role.name));
                db::audit::record(conn, scope.workspace_id(), &actor, &event)?;
                Ok(id)
            })
        })
        .await;
    match outcome {
        Ok(id) => {
            service
                .mail
                .after_commit(email.as_str(), "invitation", &link);
            Ok(id)
        }
        Err(error) if error.is_conflict_on(&UniqueKey::PendingInvitation) => {
            Err(ServiceError::conflict(
                "email",
                "This email already has a pending invitation. Resend it instead.",
            ))
        }
        Err(other) => Err(other),
    }
}

/// Sends a pending invitation again with a new link (the old one stops
/// working); at most once a minute per invitation.
pub async fn resend(
    service: &MemberService,
    scope: &Scope,
    invitation_id: InvitationId,
) -> Result<String, ServiceError> {
    let (token, token_hash) = new_token();
    let link = service.mail.link(&format!("/invitations/{token}"));
    let expires_at = db::now() + service.invitation_ttl;
    let (scope_c, actor, link_c) = (scope.clone(), Actor::of(scope), link.clone());
    let email = service
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                let scope = &scope_c;
                db::workspaces::lock_invitations(conn, &scope.tenant())?;
                let invitation = pending_within_reach(conn, scope, &invitation_id)?;
                let last_sent = db::invitations::last_sent_at(conn, scope, &invitation_id)?;
                if last_sent > db::now() - chrono::Duration::seconds(RESEND_INTERVAL_SECONDS) {
                    return Err(ServiceError::Refused(
                        "This invitation was just sent. Wait a minute before sending it again.",
                    ));
                }
                db::invitations::reissue(conn, scope, &invitation_id, &token_hash, expires_at)?;
                let mail = InvitationMail {
                    to: &invitation.email,
                    invitee: &invitation.name,
                    role: &invitation.role_name,
                    link: &link_c,
                    expires: expires_at,
                };
                queue_invitation_email(conn, scope, &invitation_id, &mail)?;
                let event = Event::invitation_resend(&invitation_id, &invitation.email)
                    .with_details(format!("send #{}", invitation.send_count + 1));
                db::audit::record(conn, scope.workspace_id(), &actor, &event)?;
                Ok(invitation.email)
            })
        })
        .await?;
    service.mail.after_commit(&email, "invitation", &link);
    Ok(email)
}

/// Revokes a pending invitation.
pub async fn revoke(
    service: &MemberService,
    scope: &Scope,
    invitation_id: InvitationId,
) -> Result<String, ServiceError> {
    let (scope, actor) = (scope.clone(), Actor::of(scope));
    service
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                db::workspaces::lock_invitations(conn, &scope.tenant())?;
                let invitation = pending_within_reach(conn, &scope, &invitation_id)?;
                db::invitations::revoke(conn, &scope, &invitation_id, &actor.name)?;
                let event = Event::invitation_revoke(&invitation_id, &invitation.email);
                db::audit::record(conn, scope.workspace_id(), &actor, &event)?;
                Ok(invitation.email)
            })
        })
        .await
}

/// The pending invitation `id` of the scoped workspace, if the acting
/// member (as they stand now) could have sent it: resending or revoking an
/// invitation to a role they couldn't give is refused. An invitation whose
/// link has expired can't be resent: it needs a new invitation.
fn pending_within_reach(
    conn: &mut db::AnyConnection,
    scope: &Scope,
    id: &InvitationId,
) -> Result<db::invitations::InvitationRow, ServiceError> {
    let standing = Standing::current(conn, scope)?;
    let invitation = match db::invitations::find_pending(conn, scope, id) {
        Err(DbError::NotFound) if db::invitations::has_lapsed(conn, scope, id)? => {
            return Err(ServiceError::Refused(
                "This invitation has expired. Send a new invitation instead.",
            ));
        }
        other => other?,
    };
    if !standing.can_grant(&invitation.role) {
        return Err(ServiceError::Refused(
            "You can only resend or revoke invitations to roles you could give yourself.",
        ));
    }
    Ok(invitation.row)
}

/// Accepts an invitation for the signed-in user (whose email must be the
/// invited one): one conditional update plus the membership, atomically.
/// Accepting through the link also marks the email verified. There is no
/// way to accept without the link's token, so an unverified account can
/// never join through an invitation it did not receive.
/// Returns the workspace joined.
pub async fn accept(
    service: &MemberService,
    scope: &Scope,
    token: &str,
) -> Result<WorkspaceId, ServiceError> {
    resolve(service, scope, token, true).await
}

/// Declines an invitation for the signed-in user.
pub async fn decline(
    service: &MemberService,
    scope: &Scope,
    token: &str,
) -> Result<WorkspaceId, ServiceError> {
    resolve(service, scope, token, false).await
}

async fn resolve(
    service: &MemberService,
    scope: &Scope,
    token: &str,
    accept: bool,
) -> Result<WorkspaceId, ServiceError> {
    let token_hash = hash_token(token);
    let (user, actor) = (scope.user().clone(), Actor::of(scope));
    service
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                let invitation = db::invitations::usable_by_token(conn, &token_hash)?
                    .ok_or(DbError::NotFound)?;
                db::workspaces::lock_invitations(conn, &invitation.workspace)?;
                let status = if accept {
                    InvitationStatus::Accepted
                } else {
                    InvitationStatus::Declined
                };
                db::invitations::resolve(conn, &token_hash, &user.email, status, &user.name)?;
                if accept {
                    // The link reached this inbox: that proves the address
                    // (the only way to accept is through the link).
                    db::users::mark_email_verified_if_current(conn, &user.id, &invitation.email)?;
                    db::members::add(conn, &invitation.workspace, &user.id, &invitation.role_id)
                        .map_err(|e| {
                            if matches!(e, DbError::Conflict(UniqueKey::Membership)) {
                                ServiceError::Refused(
                                    "You are already a member of this organization.",
                                )
                            } else {
                                e.into()
                            }
                        })?;
                }
                let event = if accept {
                    Event::invitation_accept(&invitation.id, &invitation.email)
                } else {
                    Event::invitation_decline(&invitation.id, &invitation.email)
                }
                .with_details(format!("role: {}", invitation.role_name));
                db::audit::record(conn, invitation.workspace.workspace_id(), &actor, &event)?;
                Ok(invitation.workspace.into_workspace_id())
            })
        })
        .await
}

/// Runs one change to a member of the scoped workspace in one transaction:
/// locks the workspace's memberships, re-reads the actor's standing and the
/// target (another workspace's member is not found), applies the hierarchy
/// rule, makes the change, records the event `action` builds (an
/// `Event` constructor taking a membership's id) with the details the
/// change returns, and revokes the invitations their senders can no longer
/// give. Returns the member's name.
async fn change_member<F>(
    service: &MemberService,
    scope: &Scope,
    member: MembershipId,
    action: Constructor<MembershipId>,
    change: F,
) -> Result<String, ServiceError>
where
    F: FnOnce(
            &mut db::AnyConnection,
            &Scope,
            &Standing,
            &MemberRow,
        ) -> Result<String, ServiceError>
        + Send
        + 'static,
{
    let (scope, actor) = (scope.clone(), Actor::of(scope));
    service
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                db::workspaces::lock_memberships(conn, &scope.tenant())?;
                let standing = Standing::current(conn, &scope)?;
                let target = db::members::find(conn, &scope, &member)?;
                if !can_act_on(scope.user_id(), &standing, &target) {
                    return Err(ServiceError::Refused(
                        "You can only change or remove members ranked below you, and never yourself.",
                    ));
                }
                if scope.workspace().kind.is_team()
                    && db::teams::organization_owner(conn, &scope)? == target.member.user_id
                {
                    return Err(ServiceError::Refused(
                        "The organization's owner owns every team; they can't be changed or removed here.",
                    ));
                }
                let details = change(conn, &scope, &standing, &target)?;
                let event = action(&member, &target.member.email).with_details(details);
                db::audit::record(conn, scope.workspace_id(), &actor, &event)?;
                revoke_invitations_beyond_senders(conn, &scope, &actor)?;
                Ok(target.member.name)
            })
        })
        .await
}

/// Gives a member another role, within the hierarchy rules. A `role_id`
/// of `None` (a form's value that is no role id) is refused like a role
/// the actor can't give, once the member is found and within reach.
pub async fn change_role(
    service: &MemberService,
    scope: &Scope,
    member: MembershipId,
    role_id: Option<RoleId>,
) -> Result<String, ServiceError> {
    change_member(
        service,
        scope,
        member,
        Event::membership_role_change,
        move |conn, scope, standing, target| {
            let Some(role) = grantable_role(conn, scope, standing, role_id.as_ref())? else {
                return Err(ServiceError::Refused(
                    "You can only give roles ranked below yours whose permissions you hold.",
                ));
            };
            db::members::set_role(
                conn,
                scope,
                &target.member.membership_id,
                &target.role.id,
                &role.id,
            )?;
            Ok(format!("{} → {}", target.role.name, role.name))
        },
    )
    .await
}

/// Deactivates (the member keeps the membership but can't enter) or
/// reactivates a member.
pub async fn set_active(
    service: &MemberService,
    scope: &Scope,
    member: MembershipId,
    active: bool,
) -> Result<String, ServiceError> {
    let action: Constructor<MembershipId> = if active {
        Event::membership_reactivate
    } else {
        Event::membership_deactivate
    };
    change_member(
        service,
        scope,
        member,
        action,
        move |conn, scope, _standing, target| {
            let status = if active {
                MembershipStatus::Active
            } else {
                MembershipStatus::Inactive
            };
            db::members::set_status(
                conn,
                scope,
                &target.member.membership_id,
                &target.role.id,
                status,
            )?;
            Ok(String::new())
        },
    )
    .await
}

/// Removes a member.
pub async fn remove(
    service: &MemberService,
    scope: &Scope,
    member: MembershipId,
) -> Result<String, ServiceError> {
    change_member(
        service,
        scope,
        member,
        Event::membership_remove,
        |conn, scope, _standing, target| {
            db::members::remove(conn, scope, &target.member.membership_id, &target.role.id)?;
            // Removed from an organization, removed from its teams too.
            let teams = db::teams::remove_from_teams_of(conn, scope, &target.member.user_id)?;
            Ok(match teams {
                0 => format!("role was {}", target.role.name),
                n => format!("role was {}; removed from {n} team(s)", target.role.name),
            })
        },
    )
    .await
}

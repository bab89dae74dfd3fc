//! Members and invitations, with the hierarchy rules: a member acts only on
//! members ranked below them, never on themselves; grants only roles ranked
//! below their own whose permissions they hold themselves; and nobody makes
//! an owner here (that is ownership transfer). Every change, its audit entry
//! and any email it sends are one transaction.

use askama::Template;
use sha2::{Digest, Sha256};

use crate::db::audit::{Actor, Event};
use crate::db::members::{MemberRow, RoleRow};
use crate::db::{self, DbError, write_transaction};
use crate::domain::permission::SystemRole;
use crate::domain::{
    Email, FieldErrors, MembershipId, PermissionSet, PersonName, RoleId, WorkspaceId,
};
use crate::scope::Scope;
use crate::web::AppState;

/// Seconds between two sends of one invitation.
const RESEND_INTERVAL_SECONDS: i64 = 60;

/// What member and invitation changes can refuse.
#[derive(Debug, thiserror::Error)]
pub enum MemberError {
    /// Fields failed validation; shown beside them.
    #[error("invalid input")]
    Invalid(FieldErrors),
    /// A rule forbids it; the message says which.
    #[error("{0}")]
    Refused(&'static str),
    /// Storage failed, or the row is not in scope (`DbError::NotFound`).
    #[error(transparent)]
    Db(#[from] DbError),
}

fn invalid(field: &'static str, message: &str) -> MemberError {
    let mut errors = FieldErrors::new();
    errors.add(field, message);
    MemberError::Invalid(errors)
}

/// Whether the acting member may give `role` to someone: ranked below
/// their own, never the owner role, and — for a custom role — nothing they
/// couldn't do themselves.
pub fn can_grant(scope: &Scope, role: &RoleRow) -> bool {
    let custom_within_own = role.system_key.is_some()
        || scope
            .permissions()
            .is_superset_of(PermissionSet::of_role(None, &role.permissions));
    role.system_key.as_deref() != Some(SystemRole::Owner.key())
        && role.level < scope.role_level()
        && custom_within_own
}

/// Whether the acting member may change or remove `member`.
pub fn can_act_on(scope: &Scope, member: &MemberRow) -> bool {
    &member.user_id != scope.user_id() && member.role_level < scope.role_level()
}

fn grantable_role(
    conn: &mut db::AnyConnection,
    scope: &Scope,
    role_id: &str,
) -> Result<Option<RoleRow>, DbError> {
    let Some(role_id) = RoleId::parse(role_id) else {
        return Ok(None);
    };
    Ok(db::members::roles(conn, scope)?
        .into_iter()
        .find(|r| r.id == role_id)
        .filter(|r| can_grant(scope, r)))
}

/// The roles the acting member may grant, for the invite and role forms.
pub async fn grantable_roles(state: &AppState, scope: &Scope) -> Result<Vec<RoleRow>, MemberError> {
    let scope = scope.clone();
    Ok(state
        .db
        .run(move |conn| {
            Ok::<_, DbError>(
                db::members::roles(conn, &scope)?
                    .into_iter()
                    .filter(|r| can_grant(&scope, r))
                    .collect(),
            )
        })
        .await?)
}

/// What the invite form asks.
#[derive(Debug, Clone, Default)]
pub struct InviteInput {
    /// The invitee's name.
    pub name: String,
    /// Their email.
    pub email: String,
    /// The role offered.
    pub role_id: String,
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
    invitation_id: &str,
    mail: &InvitationMail<'_>,
) -> Result<(), MemberError> {
    let expires = crate::web::page::format_time(&mail.expires);
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
    .map_err(|_| MemberError::Refused("The invitation email could not be written."))?;
    let html = InvitationHtml {
        invitee: mail.invitee,
        inviter,
        organization,
        role: mail.role,
        link: mail.link,
        expires: &expires,
    }
    .render()
    .map_err(|_| MemberError::Refused("The invitation email could not be written."))?;
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

fn invitation_link(state: &AppState, token: &str) -> String {
    format!("{}/invitations/{token}", state.config.base_url)
}

/// Wakes the mail worker and, without SMTP, logs the link so a local user
/// can follow it.
fn after_queueing(state: &AppState, email: &str, link: &str) {
    state.mail.kick.notify_one();
    if !state.mail.transport.is_smtp() {
        tracing::info!(to = %email, %link, "invitation link (no SMTP configured; the email is in data/outbox/)");
    }
}

/// Invites someone by email to the active organization.
pub async fn invite(
    state: &AppState,
    scope: &Scope,
    input: InviteInput,
) -> Result<(), MemberError> {
    if scope.is_personal() {
        return Err(MemberError::Refused(
            "Invitations are for organizations; your personal workspace is yours alone.",
        ));
    }
    let mut errors = FieldErrors::new();
    let name = errors.check("name", PersonName::parse(&input.name));
    let email = errors.check("email", Email::parse(&input.email));
    let (Some(name), Some(email)) = (name, email) else {
        return Err(MemberError::Invalid(errors));
    };
    let (token, token_hash) = new_token();
    let link = invitation_link(state, &token);
    let expires_at = db::now() + state.config.invitation_ttl;
    let (scope_c, actor, link_c, email_c) =
        (scope.clone(), Actor::of(scope), link.clone(), email.clone());
    let outcome = state
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                let scope = &scope_c;
                let Some(role) = grantable_role(conn, scope, &input.role_id)? else {
                    return Err(invalid("role_id", "Choose a role you are allowed to give."));
                };
                db::invitations::expire_stale(conn, scope)?;
                if db::members::is_member(conn, scope, email_c.as_str())? {
                    return Err(invalid("email", "This person is already a member."));
                }
                let new = db::invitations::NewInvitation {
                    email: &email_c,
                    name: name.as_str(),
                    role_id: &role.id,
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
                let event = Event {
                    action: "invitation.create",
                    target_type: "invitation",
                    target_id: &id,
                    target_label: email_c.as_str(),
                    details: format!("role: {}", role.name),
                };
                db::audit::record(conn, scope.workspace_id(), &actor, &event)?;
                Ok(())
            })
        })
        .await;
    match outcome {
        Ok(()) => {
            after_queueing(state, email.as_str(), &link);
            Ok(())
        }
        Err(MemberError::Db(error)) if error.is_conflict_on("invitations_pending_key") => {
            Err(invalid(
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
    state: &AppState,
    scope: &Scope,
    invitation_id: String,
) -> Result<String, MemberError> {
    let (token, token_hash) = new_token();
    let link = invitation_link(state, &token);
    let expires_at = db::now() + state.config.invitation_ttl;
    let (scope_c, actor, link_c) = (scope.clone(), Actor::of(scope), link.clone());
    let email = state
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                let scope = &scope_c;
                let invitation = db::invitations::find_pending(conn, scope, &invitation_id)?;
                let last_sent = db::invitations::last_sent_at(conn, scope, &invitation_id)?;
                if last_sent > db::now() - chrono::Duration::seconds(RESEND_INTERVAL_SECONDS) {
                    return Err(MemberError::Refused(
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
                let event = Event {
                    action: "invitation.resend",
                    target_type: "invitation",
                    target_id: &invitation_id,
                    target_label: &invitation.email,
                    details: format!("send #{}", invitation.send_count + 1),
                };
                db::audit::record(conn, scope.workspace_id(), &actor, &event)?;
                Ok(invitation.email)
            })
        })
        .await?;
    after_queueing(state, &email, &link);
    Ok(email)
}

/// Revokes a pending invitation.
pub async fn revoke(
    state: &AppState,
    scope: &Scope,
    invitation_id: String,
) -> Result<String, MemberError> {
    let (scope, actor) = (scope.clone(), Actor::of(scope));
    state
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                let invitation = db::invitations::find_pending(conn, &scope, &invitation_id)?;
                db::invitations::revoke(conn, &scope, &invitation_id, &actor)?;
                let event = Event {
                    action: "invitation.revoke",
                    target_type: "invitation",
                    target_id: &invitation_id,
                    target_label: &invitation.email,
                    details: String::new(),
                };
                db::audit::record(conn, scope.workspace_id(), &actor, &event)?;
                Ok(invitation.email)
            })
        })
        .await
}

/// Accepts an invitation for the signed-in user (whose email must be the
/// invited one): one conditional update plus the membership, atomically.
/// Returns the workspace joined.
pub async fn accept(
    state: &AppState,
    scope: &Scope,
    token: &str,
) -> Result<WorkspaceId, MemberError> {
    resolve(state, scope, token, true).await
}

/// Declines an invitation for the signed-in user.
pub async fn decline(
    state: &AppState,
    scope: &Scope,
    token: &str,
) -> Result<WorkspaceId, MemberError> {
    resolve(state, scope, token, false).await
}

async fn resolve(
    state: &AppState,
    scope: &Scope,
    token: &str,
    accept: bool,
) -> Result<WorkspaceId, MemberError> {
    let token_hash = hash_token(token);
    let (user, actor) = (scope.user().clone(), Actor::of(scope));
    state
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                let invitation = db::invitations::usable_by_token(conn, &token_hash)?
                    .ok_or(DbError::NotFound)?;
                let status = if accept { "accepted" } else { "declined" };
                db::invitations::resolve(conn, &token_hash, &user.email, status, &user.name)?;
                if accept {
                    db::members::add(
                        conn,
                        &invitation.workspace_id,
                        &user.id,
                        &invitation.role_id,
                    )
                    .map_err(|e| {
                        if matches!(e, DbError::Conflict(_)) {
                            MemberError::Refused("You are already a member of this organization.")
                        } else {
                            e.into()
                        }
                    })?;
                }
                let event = Event {
                    action: if accept {
                        "invitation.accept"
                    } else {
                        "invitation.decline"
                    },
                    target_type: "invitation",
                    target_id: &invitation.id,
                    target_label: &invitation.email,
                    details: format!("role: {}", invitation.role_name),
                };
                db::audit::record(conn, &invitation.workspace_id, &actor, &event)?;
                Ok(invitation.workspace_id)
            })
        })
        .await
}

/// Runs one change to a member of the scoped workspace: finds them (another
/// workspace's member is not found), applies the hierarchy rule, makes the
/// change and records `action` with the details the change returns, all in
/// one transaction. Returns the member's name.
async fn change_member<F>(
    state: &AppState,
    scope: &Scope,
    member: MembershipId,
    action: &'static str,
    change: F,
) -> Result<String, MemberError>
where
    F: FnOnce(&mut db::AnyConnection, &Scope, &MemberRow) -> Result<String, MemberError>
        + Send
        + 'static,
{
    let (scope, actor) = (scope.clone(), Actor::of(scope));
    state
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                let target = db::members::find(conn, &scope, &member)?;
                if !can_act_on(&scope, &target) {
                    return Err(MemberError::Refused(
                        "You can only change or remove members ranked below you, and never yourself.",
                    ));
                }
                let details = change(conn, &scope, &target)?;
                let event = Event {
                    action,
                    target_type: "membership",
                    target_id: member.as_str(),
                    target_label: &target.email,
                    details,
                };
                db::audit::record(conn, scope.workspace_id(), &actor, &event)?;
                Ok(target.name)
            })
        })
        .await
}

/// Gives a member another role, within the hierarchy rules.
pub async fn change_role(
    state: &AppState,
    scope: &Scope,
    member: MembershipId,
    role_id: String,
) -> Result<String, MemberError> {
    change_member(
        state,
        scope,
        member,
        "membership.role.change",
        move |conn, scope, target| {
            let Some(role) = grantable_role(conn, scope, &role_id)? else {
                return Err(MemberError::Refused(
                    "You can only give roles ranked below yours whose permissions you hold.",
                ));
            };
            db::members::set_role(conn, scope, &target.membership_id, &role.id)?;
            Ok(format!("{} → {}", target.role_name, role.name))
        },
    )
    .await
}

/// Deactivates (the member keeps the membership but can't enter) or
/// reactivates a member.
pub async fn set_active(
    state: &AppState,
    scope: &Scope,
    member: MembershipId,
    active: bool,
) -> Result<String, MemberError> {
    let action = if active {
        "membership.reactivate"
    } else {
        "membership.deactivate"
    };
    change_member(state, scope, member, action, move |conn, scope, target| {
        let status = if active { "active" } else { "inactive" };
        db::members::set_status(conn, scope, &target.membership_id, status)?;
        Ok(String::new())
    })
    .await
}

/// Removes a member.
pub async fn remove(
    state: &AppState,
    scope: &Scope,
    member: MembershipId,
) -> Result<String, MemberError> {
    change_member(
        state,
        scope,
        member,
        "membership.remove",
        |conn, scope, target| {
            db::members::remove(conn, scope, &target.membership_id)?;
            Ok(format!("role was {}", target.role_name))
        },
    )
    .await
}

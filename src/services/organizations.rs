//! Organizations, as their members change them: create, edit settings and
//! avatar, archive / restore / delete, transfer ownership, leave. Every
//! function validates its input, then makes its change and writes its audit
//! entry in one transaction. Permissions are checked before these run (by
//! the handler's `Permitted<…>` extractor); the rules that depend on data
//! (the owner can't leave, only members can become owner) are checked here.

use chrono::NaiveDateTime;

use crate::config::RateLimit;
use crate::db::audit::{Actor, Constructor, Event};
use crate::db::scope::Scope;
use crate::db::throttle::{KeyLimit, Reservation};
use crate::db::{self, Db, DbError, UniqueKey, write_transaction};
use crate::domain::{
    Email, FieldErrors, PersonName, Slug, SystemRole, WorkspaceId, WorkspaceKind, WorkspaceStatus,
    free_text,
};
use crate::services::ServiceError;

/// Longest description.
const DESCRIPTION_MAX_CHARS: usize = 1_000;
/// Longest billing address.
const ADDRESS_MAX_CHARS: usize = 500;
/// Largest avatar accepted.
pub const AVATAR_MAX_BYTES: usize = 1024 * 1024;

/// What organization changes can refuse.
/// What the organization service needs: the database, how many
/// organizations one client may create in a window, and how long an
/// archived organization can be restored.
#[derive(Clone)]
pub struct OrganizationService {
    /// The database.
    pub db: Db,
    /// Organizations created per client IP within a window.
    pub org_create_throttle: RateLimit,
    /// Days an archived organization can be restored before it is deleted.
    pub archive_retention_days: u32,
    /// Whether new organizations start suspended until their first top-up.
    pub require_prepaid: bool,
}

/// What the creation form asks.
#[derive(Debug, Clone, Default)]
pub struct NewOrganization {
    /// Name (required).
    pub name: String,
    /// Slug (optional: generated from the name when empty).
    pub slug: String,
    /// Description (optional; the page's form leaves it for General).
    pub description: String,
    /// Billing email (optional).
    pub billing_email: String,
}

/// The description as stored, or a message on `description`.
fn valid_description(errors: &mut FieldErrors, typed: &str) -> String {
    errors
        .check("description", free_text(typed, DESCRIPTION_MAX_CHARS))
        .unwrap_or_default()
}

/// The billing email as stored (empty when none), or a message on
/// `billing_email`.
fn valid_billing_email(errors: &mut FieldErrors, typed: &str) -> String {
    if typed.trim().is_empty() {
        return String::new();
    }
    errors
        .check("billing_email", Email::parse(typed))
        .map(|e| e.as_str().to_owned())
        .unwrap_or_default()
}

/// Creates an organization owned by the acting user; returns its id. Each
/// creation counts against the client IP (`org_create_max_per_ip`) in the
/// same transaction, so only organizations really created count and
/// concurrent requests can't pass the limit together.
pub async fn create(
    service: &OrganizationService,
    scope: &Scope,
    input: NewOrganization,
) -> Result<WorkspaceId, ServiceError> {
    let mut errors = FieldErrors::new();
    let name = errors.check("name", PersonName::parse(&input.name));
    let typed_slug = input.slug.trim();
    let slug = if typed_slug.is_empty() {
        None
    } else {
        errors
            .check("slug", Slug::parse(typed_slug))
            .map(Some)
            .unwrap_or(None)
    };
    let description = valid_description(&mut errors, &input.description);
    let billing_email = valid_billing_email(&mut errors, &input.billing_email);
    let Some(name) = name.filter(|_| errors.is_empty()) else {
        return Err(ServiceError::Invalid(errors));
    };
    let actor = Actor::of(scope);
    let creator = scope.user_id().clone();
    let chosen_slug = slug.clone();
    let throttle_key = format!("org-create-ip:{}", scope.client_ip());
    let limit = service.org_create_throttle;
    let require_prepaid = service.require_prepaid;
    let outcome = service
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                let limits = [KeyLimit {
                    key: &throttle_key,
                    max: limit.max,
                    window: limit.window,
                }];
                let now = db::now();
                if let Reservation::Refused { until } = db::throttle::reserve(conn, &limits, now)? {
                    let minutes = ((until - now).num_seconds() + 59) / 60;
                    return Err(ServiceError::Throttled {
                        retry_after_minutes: minutes.max(1),
                    });
                }
                let slug = match chosen_slug {
                    Some(slug) => slug,
                    None => free_slug_for(conn, name.as_str())?,
                };
                let status = if require_prepaid {
                    WorkspaceStatus::Suspended
                } else {
                    WorkspaceStatus::Active
                };
                let id = db::organizations::create(conn, &creator, name.as_str(), &slug, status)?;
                if !description.is_empty() || !billing_email.is_empty() {
                    db::organizations::set_profile(conn, &id, &description, &billing_email)?;
                }
                let prepaid = if require_prepaid {
                    "; suspended until its first top-up"
                } else {
                    ""
                };
                let event = Event::organization_create(&id, name.as_str())
                    .with_details(format!("slug: {slug}{prepaid}"));
                db::audit::record(conn, &id, &actor, &event)?;
                Ok::<_, ServiceError>(id)
            })
        })
        .await;
    match outcome {
        Ok(id) => Ok(id),
        // Two creations racing for one slug: the loser gets the form error.
        Err(error) if error.is_conflict_on(&UniqueKey::WorkspaceSlug) => {
            Err(ServiceError::conflict(
                "slug",
                if slug.is_some() {
                    "This slug is taken; choose another."
                } else {
                    "An organization with a similar name was just created; try again or choose a slug."
                },
            ))
        }
        Err(error) => Err(error),
    }
}

/// The slug generated from `name`, with the first free numeric suffix.
fn free_slug_for(conn: &mut db::AnyConnection, name: &str) -> Result<Slug, DbError> {
    let base = Slug::from_name(name);
    if !db::organizations::slug_taken(conn, &base)? {
        return Ok(base);
    }
    for n in 2..1_000 {
        let candidate = base.with_suffix(n);
        if !db::organizations::slug_taken(conn, &candidate)? {
            return Ok(candidate);
        }
    }
    Ok(base.with_suffix(rand::random_range(1_000..1_000_000)))
}

/// The General tab's fields, as typed.
#[derive(Debug, Clone, Default)]
pub struct GeneralInput {
    /// Name.
    pub name: String,
    /// Slug.
    pub slug: String,
    /// Description.
    pub description: String,
    /// Billing email (may be empty).
    pub billing_email: String,
    /// Billing address.
    pub billing_address: String,
}

/// Saves the General tab; the audit entry lists what changed.
pub async fn update_general(
    service: &OrganizationService,
    scope: &Scope,
    input: GeneralInput,
) -> Result<(), ServiceError> {
    let mut errors = FieldErrors::new();
    let name = errors.check("name", PersonName::parse(&input.name));
    // A team has no slug (its links go through its organization's).
    let team = scope.workspace().kind.is_team();
    let slug = if team {
        None
    } else {
        errors.check("slug", Slug::parse(&input.slug))
    };
    let description = valid_description(&mut errors, &input.description);
    let billing_email = valid_billing_email(&mut errors, &input.billing_email);
    let billing_address = errors
        .check(
            "billing_address",
            free_text(&input.billing_address, ADDRESS_MAX_CHARS),
        )
        .unwrap_or_default();
    let Some(name) = name.filter(|_| team || slug.is_some()) else {
        return Err(ServiceError::Invalid(errors));
    };
    if !errors.is_empty() {
        return Err(ServiceError::Invalid(errors));
    }
    let update = db::organizations::GeneralUpdate {
        name: name.as_str().to_owned(),
        slug,
        description,
        billing_email,
        billing_address,
    };
    let (scope, actor) = (scope.clone(), Actor::of(scope));
    let outcome = service
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                let before = db::organizations::settings(conn, &scope)?;
                db::organizations::update_general(conn, &scope, &update)?;
                let details = describe_changes(&before, &update);
                let event = Event::organization_update(scope.workspace_id(), &update.name)
                    .with_details(details);
                db::audit::record(conn, scope.workspace_id(), &actor, &event)
            })
        })
        .await;
    match outcome {
        Err(DbError::Conflict(UniqueKey::WorkspaceSlug)) => Err(ServiceError::conflict(
            "slug",
            "This slug is taken; choose another.",
        )),
        Err(DbError::Conflict(UniqueKey::TeamName)) => Err(ServiceError::conflict(
            "name",
            "This organization already has a team of that name.",
        )),
        other => Ok(other?),
    }
}

fn describe_changes(
    before: &db::organizations::Settings,
    after: &db::organizations::GeneralUpdate,
) -> String {
    let mut changes = Vec::new();
    if before.name != after.name {
        changes.push(format!("name: {} → {}", before.name, after.name));
    }
    if before.slug.as_deref() != after.slug.as_ref().map(Slug::as_str) {
        changes.push(format!(
            "slug: {} → {}",
            before.slug.as_deref().unwrap_or("—"),
            after.slug.as_ref().map_or("—", Slug::as_str)
        ));
    }
    if before.description != after.description {
        changes.push("description changed".into());
    }
    if before.billing_email != after.billing_email {
        changes.push(format!(
            "billing email: {} → {}",
            or_dash(&before.billing_email),
            or_dash(&after.billing_email)
        ));
    }
    if before.billing_address != after.billing_address {
        changes.push("billing address changed".into());
    }
    if changes.is_empty() {
        "no changes".into()
    } else {
        changes.join("; ")
    }
}

fn or_dash(value: &str) -> &str {
    if value.is_empty() { "—" } else { value }
}

/// The image types an avatar may be, recognised by content, never by the
/// name or the declared type.
pub fn sniff_avatar(bytes: &[u8]) -> Option<&'static str> {
    match infer::get(bytes)?.mime_type() {
        mime @ ("image/png" | "image/jpeg" | "image/webp") => Some(mime),
        _ => None,
    }
}

/// Replaces the organization's avatar.
pub async fn set_avatar(
    service: &OrganizationService,
    scope: &Scope,
    bytes: Vec<u8>,
) -> Result<(), ServiceError> {
    if bytes.is_empty() {
        return Err(ServiceError::invalid("avatar", "Choose an image file."));
    }
    if bytes.len() > AVATAR_MAX_BYTES {
        return Err(ServiceError::invalid(
            "avatar",
            "The image is larger than 1 MB.",
        ));
    }
    let Some(content_type) = sniff_avatar(&bytes) else {
        return Err(ServiceError::invalid(
            "avatar",
            "Use a PNG, JPEG or WebP image.",
        ));
    };
    let (scope, actor) = (scope.clone(), Actor::of(scope));
    service
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                db::organizations::set_avatar(conn, &scope, content_type, &bytes)?;
                record_on_org(
                    conn,
                    &scope,
                    &actor,
                    Event::organization_avatar_update,
                    format!("{content_type}, {} bytes", bytes.len()),
                )
            })
        })
        .await?;
    Ok(())
}

/// Removes the organization's avatar.
pub async fn remove_avatar(
    service: &OrganizationService,
    scope: &Scope,
) -> Result<(), ServiceError> {
    let (scope, actor) = (scope.clone(), Actor::of(scope));
    service
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                db::organizations::remove_avatar(conn, &scope)?;
                record_on_org(
                    conn,
                    &scope,
                    &actor,
                    Event::organization_avatar_remove,
                    String::new(),
                )
            })
        })
        .await?;
    Ok(())
}

fn record_on_org(
    conn: &mut db::AnyConnection,
    scope: &Scope,
    actor: &Actor,
    action: Constructor<WorkspaceId>,
    details: String,
) -> Result<(), DbError> {
    let event = action(scope.workspace_id(), &scope.workspace().name).with_details(details);
    db::audit::record(conn, scope.workspace_id(), actor, &event)
}

/// Archives the organization: it leaves every member's switcher on their
/// next request; the owner can restore it within the retention period.
pub async fn archive(service: &OrganizationService, scope: &Scope) -> Result<(), ServiceError> {
    require_organization(scope)?;
    let (scope, actor) = (scope.clone(), Actor::of(scope));
    let retention = service.archive_retention_days;
    service
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                db::organizations::archive(conn, &scope)?;
                record_on_org(
                    conn,
                    &scope,
                    &actor,
                    Event::organization_archive,
                    format!("restorable for {retention} days"),
                )
            })
        })
        .await?;
    Ok(())
}

/// The oldest archive time that may still be restored.
pub fn restore_cutoff(service: &OrganizationService) -> NaiveDateTime {
    db::now() - chrono::Duration::days(i64::from(service.archive_retention_days))
}

/// Restores one of the acting user's archived organizations; returns its name.
pub async fn restore(
    service: &OrganizationService,
    scope: &Scope,
    workspace: WorkspaceId,
) -> Result<String, ServiceError> {
    let (user, actor, cutoff) = (
        scope.user_id().clone(),
        Actor::of(scope),
        restore_cutoff(service),
    );
    let restored = service
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                let restored = db::organizations::restore(conn, &user, &workspace, cutoff)?;
                let event = Event::organization_restore(&restored.id, &restored.name);
                db::audit::record(conn, &restored.id, &actor, &event)?;
                Ok::<_, DbError>(restored)
            })
        })
        .await?;
    Ok(restored.name)
}

/// Deletes the organization and everything in it, once its name is typed.
/// The record of the deletion goes to the owner's personal audit log (the
/// organization's own log goes with it).
pub async fn delete_forever(
    service: &OrganizationService,
    scope: &Scope,
    typed_name: &str,
) -> Result<(), ServiceError> {
    require_organization(scope)?;
    if typed_name.trim() != scope.workspace().name {
        return Err(ServiceError::invalid(
            "confirm_name",
            "Type the organization's name exactly to confirm.",
        ));
    }
    let personal = scope
        .personal_workspace_id()
        .cloned()
        .ok_or(ServiceError::Refused("Your personal workspace is missing."))?;
    let (scope, actor) = (scope.clone(), Actor::of(scope));
    service
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                let event =
                    Event::organization_delete(scope.workspace_id(), &scope.workspace().name)
                        .with_details(format!(
                            "slug: {}",
                            scope.workspace().slug.as_deref().unwrap_or("—")
                        ));
                db::audit::record(conn, &personal, &actor, &event)?;
                db::organizations::delete_forever(conn, &scope)
            })
        })
        .await?;
    Ok(())
}

/// Hands the organization to another active member (they become owner, the
/// acting owner becomes admin); with `then_leave`, the previous owner also
/// leaves, in the same transaction. Returns the new owner's name.
pub async fn transfer_ownership(
    service: &OrganizationService,
    scope: &Scope,
    new_owner_email: &str,
    then_leave: bool,
) -> Result<String, ServiceError> {
    require_organization(scope)?;
    let Ok(email) = Email::parse(new_owner_email) else {
        return Err(ServiceError::invalid(
            "new_owner_email",
            "Enter the email of a member of this organization.",
        ));
    };
    let (scope, actor) = (scope.clone(), Actor::of(scope));
    service
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                db::workspaces::lock_memberships(conn, &scope.tenant())?;
                let Some(target) =
                    db::organizations::active_member_by_email(conn, &scope, email.as_str())?
                else {
                    return Err(ServiceError::invalid(
                        "new_owner_email",
                        "No active member of this organization has that email.",
                    ));
                };
                if &target.user_id == scope.user_id() {
                    return Err(ServiceError::invalid(
                        "new_owner_email",
                        "You already own this organization.",
                    ));
                }
                db::organizations::transfer_ownership(conn, &scope, &target.membership_id)?;
                // The organization's owner owns every team.
                db::teams::hand_teams_to(conn, &scope, &target.user_id, scope.user_id())?;
                let event =
                    Event::organization_ownership_transfer(&target.membership_id, &target.name)
                        .with_details(format!(
                            "{} → {}{}",
                            actor.name,
                            target.email,
                            if then_leave {
                                "; previous owner left"
                            } else {
                                "; previous owner is now admin"
                            }
                        ));
                db::audit::record(conn, scope.workspace_id(), &actor, &event)?;
                if then_leave {
                    db::organizations::leave(conn, &scope)?;
                    db::teams::remove_from_teams_of(conn, &scope, scope.user_id())?;
                }
                // The previous owner is an admin now (or gone): invitations
                // they sent to roles only an owner gives are revoked.
                crate::services::members::revoke_invitations_beyond_senders(conn, &scope, &actor)?;
                Ok::<_, ServiceError>(target.name)
            })
        })
        .await
}

/// Ends the acting member's membership of an organization (and of its
/// teams) or of a team. The owner can't leave an organization without
/// handing it over first, nor any of its teams.
pub async fn leave(service: &OrganizationService, scope: &Scope) -> Result<(), ServiceError> {
    let team = scope.workspace().kind.is_team();
    if !team {
        require_organization(scope)?;
    }
    if scope.workspace().role_system_key == Some(SystemRole::Owner) {
        return Err(ServiceError::Refused(if team {
            TEAM_OWNER_STAYS
        } else {
            "The owner can't leave. Transfer ownership to another member first (you can leave in the same step)."
        }));
    }
    let (scope, actor) = (scope.clone(), Actor::of(scope));
    service
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                db::workspaces::lock_memberships(conn, &scope.tenant())?;
                if team {
                    if &db::teams::organization_owner(conn, &scope)? == scope.user_id() {
                        return Err(ServiceError::Refused(TEAM_OWNER_STAYS));
                    }
                    db::teams::leave(conn, &scope)?;
                } else {
                    db::organizations::leave(conn, &scope)?;
                    db::teams::remove_from_teams_of(conn, &scope, scope.user_id())?;
                }
                let event = Event::membership_leave(&scope.workspace().membership_id, &actor.name);
                db::audit::record(conn, scope.workspace_id(), &actor, &event)?;
                crate::services::members::revoke_invitations_beyond_senders(conn, &scope, &actor)?;
                Ok::<_, ServiceError>(())
            })
        })
        .await
}

/// Why the organization's owner can't leave one of its teams.
const TEAM_OWNER_STAYS: &str = "The organization's owner owns every team and can't leave one.";

fn require_organization(scope: &Scope) -> Result<(), ServiceError> {
    if scope.workspace().kind == WorkspaceKind::Organization {
        Ok(())
    } else {
        Err(ServiceError::Refused(
            "This is only possible in an organization.",
        ))
    }
}

//! `/settings/members`: the members table (search, cursor pagination), the
//! invite form, pending invitations with their delivery status, the
//! invitation history, and the member actions (role, deactivate, remove).

use std::sync::Arc;

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::db::invitations::{InvitationRow, Listed};
use crate::db::members::{MemberListing, RoleRow};
use crate::db::outbox::Delivery;
use crate::db::scope::Scope;
use crate::db::{self, DbError, RequestDb};
use crate::domain::permission::require;
use crate::domain::time::UtcMinute;
use crate::domain::{
    FieldErrors, InvitationId, InvitationStatus, MembershipId, MembershipStatus, Permission, RoleId,
};
use crate::services::ServiceError;
use crate::services::members::{self, InviteInput, Standing, may_act_on};
use crate::services::teams::{self, AddMemberInput};
use crate::web::AppState;
use crate::web::cache::Kept;
use crate::web::csrf::{EmptyForm, ScopedForm};
use crate::web::error::AppError;
use crate::web::page::{PAGE_SIZE, Page, cursor_page, format_time, render_with_status, see_other};
use crate::web::scope::{Permitted, WorkspaceRoles};
use crate::web::session::{FlashLevel, SessionData};

/// Resolved invitations shown in the history.
const HISTORY_SIZE: i64 = 50;

/// The members page.
#[derive(Template)]
#[template(path = "settings/members.html")]
pub struct MembersPage<'a> {
    page: Page,
    members: Vec<MemberView<'a>>,
    search: String,
    next_href: Option<String>,
    can_invite: bool,
    can_manage: bool,
    grantable: Vec<RoleRow>,
    /// The roles the listed members hold, as their rows show them.
    row_roles: Vec<RowRole>,
    /// The invite (or add-member) form as typed, shown again when refused.
    invite: InviteForm,
    invite_errors: FieldErrors,
    pending: Vec<InvitationView>,
    history: Vec<InvitationView>,
}

/// One row of the members table, borrowing its HTML from the page of
/// members (which may be the one kept in memory for every view).
pub struct MemberView<'a> {
    html: &'a MemberRowHtml,
    /// Their role: an index into the page's `row_roles`.
    role: usize,
    actionable: bool,
}

/// A member on a page of members, with their row's HTML rendered when the
/// page was read. The first page is kept in memory (`web::cache`), so its
/// rows are escaped and formatted once rather than on every view: that
/// was most of the rendering of a members page, and the page is 50 rows.
pub struct ListedMember {
    listing: MemberListing,
    html: MemberRowHtml,
}

/// The pieces of a member's row that are the same for every viewer
/// (`settings/members_row.html`), which a view writes around its own: the
/// role's name, the token, the menu's options.
pub struct MemberRowHtml {
    cells_to_role: String,
    cells_after_role: String,
    form_open: String,
    menu_open: String,
    form_close: String,
}

/// What a row's pieces are rendered from.
#[derive(Template)]
#[template(
    path = "settings/members_row.html",
    blocks = [
        "cells_to_role",
        "cells_after_role",
        "form_open",
        "menu_open",
        "form_close"
    ]
)]
struct MemberRowParts<'a> {
    m: &'a MemberListing,
    last_login: Option<UtcMinute>,
    joined: UtcMinute,
    is_active: bool,
}

impl ListedMember {
    /// `rows` as read, each with its row's HTML.
    fn all(rows: Vec<MemberListing>) -> Result<Vec<Self>, AppError> {
        rows.into_iter().map(Self::of).collect()
    }

    fn of(listing: MemberListing) -> Result<Self, AppError> {
        let parts = MemberRowParts {
            m: &listing,
            last_login: listing.last_login_at.map(UtcMinute),
            joined: UtcMinute(listing.joined_at),
            is_active: listing.status == MembershipStatus::Active,
        };
        let html = MemberRowHtml {
            cells_to_role: parts.as_cells_to_role().render()?,
            cells_after_role: parts.as_cells_after_role().render()?,
            form_open: parts.as_form_open().render()?,
            menu_open: parts.as_menu_open().render()?,
            form_close: parts.as_form_close().render()?,
        };
        Ok(ListedMember { listing, html })
    }
}

/// A role as the members table shows it, worked out once per role the
/// page's members hold (a page of 50 usually holds one or two) rather
/// than once per row: its name, whether the viewer could give it, and the
/// options of a role menu with it selected.
struct RowRole {
    id: RoleId,
    /// "—" for a role created after this view's roles were read.
    name: String,
    /// Its rank; `i32::MAX` when unknown, so nobody acts on the row.
    level: i32,
    /// Whether the viewer could give it; when not, the row's menu shows it
    /// disabled instead of pre-selecting another role.
    grantable: bool,
    /// The menu's options, with it selected when `grantable`.
    options: String,
}

/// One invitation, pending or resolved.
pub struct InvitationView {
    id: InvitationId,
    email: String,
    name: String,
    role_name: String,
    status: InvitationStatus,
    invited_by: String,
    sent: String,
    expires: String,
    resolved: String,
    delivery: String,
    /// Whether the viewer could give the role it offers, and so may resend
    /// or revoke it.
    actionable: bool,
}

/// Query of the members page.
#[derive(Deserialize, Default)]
pub struct MembersQuery {
    q: Option<String>,
    after: Option<String>,
}

/// Shows the members page (needs `members.read`).
pub async fn index(
    state: web::Data<AppState>,
    _permitted: Permitted<require::MembersRead>,
    page: Page,
    roles: WorkspaceRoles,
    query: web::Query<MembersQuery>,
) -> Result<HttpResponse, AppError> {
    let query = query.into_inner();
    let form = (InviteForm::default(), FieldErrors::new());
    render(&state, page, roles, query, form).await
}

/// The page, with the invite form showing `invite` and `invite_errors`
/// (422 when there are any), and role menus offering the workspace's
/// roles.
///
/// What the page lists comes from memory where this process kept it at
/// the version the session load read with the workspace (the first page of
/// members, the invitations, the roles: `web::cache`), else it is read on
/// the connection the session load handed on, in one `Db::read`, and kept
/// for the next view.
async fn render(
    state: &AppState,
    page: Page,
    roles: WorkspaceRoles,
    query: MembersQuery,
    (invite, invite_errors): (InviteForm, FieldErrors),
) -> Result<HttpResponse, AppError> {
    let search = query.q.unwrap_or_default();
    let after = query.after.as_deref().and_then(MembershipId::parse);
    let scope = &page.scope;
    let (kept_rows, invitations) = kept(state, scope, search.is_empty() && after.is_none());
    let wanted = Wanted {
        rows: !kept_rows.is_current(),
        invitations: invitations.is_missing(),
        roles: roles.missing(),
    };
    let (read_rows, read_invitations, read_roles) =
        read(state, scope, wanted, &search, after).await?;
    let read_rows = read_rows.map(ListedMember::all).transpose()?;
    let rows = kept_rows
        .or_read(&state.member_page_cache, read_rows.map(Arc::new))
        .unwrap_or_default();
    let invitations = invitations
        .or_read(&state.invitation_cache, read_invitations.map(Arc::new))
        .map_or_else(Listed::default, |listed| {
            listed.as_seen_at(db::now(), HISTORY_SIZE)
        });
    let roles = roles.or_read(read_roles);
    let status = if invite_errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let form = (invite, invite_errors);
    let body = MembersPage::new(page, &roles, &rows, invitations, search, form)?;
    render_with_status(&body, status)
}

/// What this view of `scope` finds kept in memory: the first page of
/// members (when it is the `first_page`: no search, no cursor) and the
/// invitations (for those who may invite to an organization).
fn kept(
    state: &AppState,
    scope: &Scope,
    first_page: bool,
) -> (Kept<Arc<Vec<ListedMember>>>, Kept<Arc<Listed>>) {
    let workspace = scope.workspace();
    let rows = if first_page {
        let version = workspace.members_version;
        state
            .member_page_cache
            .lookup(&workspace.workspace_id, version)
    } else {
        Kept::Unkept
    };
    let invitations = if scope.can(Permission::MembersInvite) && !workspace.kind.is_team() {
        let version = workspace.invitations_version;
        state
            .invitation_cache
            .lookup(&workspace.workspace_id, version)
    } else {
        Kept::Unkept
    };
    (rows, invitations)
}

/// What a view of the members page must read: what was not kept in memory
/// at the version its session load saw (a search or a later page always
/// reads its rows; invitations only for those who may invite).
struct Wanted {
    rows: bool,
    invitations: bool,
    roles: bool,
}

/// The page's `wanted` data on the connection the session load handed
/// on, in one `Db::read` (one pool checkout however many statements); a
/// view that wants nothing runs no statement and gives that connection
/// back before rendering. A search may walk many members, so it stays off
/// the worker thread (`Db::read_long_if`).
async fn read(
    state: &AppState,
    scope: &Scope,
    wanted: Wanted,
    search: &str,
    after: Option<MembershipId>,
) -> Result<
    (
        Option<Vec<MemberListing>>,
        Option<Listed>,
        Option<Vec<RoleRow>>,
    ),
    AppError,
> {
    if !(wanted.rows || wanted.invitations || wanted.roles) {
        RequestDb::give_back();
        return Ok((None, None, None));
    }
    let long = wanted.rows && db::members::search_may_walk(Some(search));
    let (scope, search) = (scope.clone(), search.to_owned());
    Ok(state
        .db
        .read_long_if(long, move |conn| {
            let rows = wanted
                .rows
                .then(|| db::members::page(conn, &scope, Some(&search), after.as_ref(), PAGE_SIZE))
                .transpose()?;
            let invitations = wanted
                .invitations
                .then(|| db::invitations::listed(conn, &scope, HISTORY_SIZE))
                .transpose()?;
            let roles = wanted
                .roles
                .then(|| db::members::roles(conn, &scope))
                .transpose()?;
            Ok::<_, DbError>((rows, invitations, roles))
        })
        .await?)
}

impl<'a> MembersPage<'a> {
    fn new(
        page: Page,
        roles: &[RoleRow],
        rows: &'a [ListedMember],
        invitations: Listed,
        search: String,
        (invite, invite_errors): (InviteForm, FieldErrors),
    ) -> Result<Self, AppError> {
        let (rows, next_href) = cursor_page(
            rows.iter().collect(),
            "/settings/members",
            &[("q", search.as_str())],
            "after",
            |row| row.listing.membership_id.to_string(),
        );
        let scope = &page.scope;
        let can_invite = scope.can(Permission::MembersInvite);
        let can_manage = scope.can(Permission::MembersManage);
        let grantable = if can_invite || can_manage {
            members::grantable_roles(scope, roles)
        } else {
            Vec::new()
        };
        let (members, row_roles) = member_views(rows, scope, roles, &grantable, can_manage)?;
        Ok(MembersPage {
            pending: InvitationView::all(invitations.pending, &grantable),
            history: InvitationView::all(invitations.history, &grantable),
            page,
            members,
            search,
            next_href,
            can_invite,
            can_manage,
            grantable,
            row_roles,
            invite,
            invite_errors,
        })
    }
}

/// The rows of a page of members, and the role menus they point into (one
/// per role on the page, not one per row).
fn member_views<'a>(
    rows: Vec<&'a ListedMember>,
    scope: &Scope,
    roles: &[RoleRow],
    grantable: &[RoleRow],
    can_manage: bool,
) -> Result<(Vec<MemberView<'a>>, Vec<RowRole>), AppError> {
    let standing = Standing::of_scope(scope);
    let mut row_roles: Vec<RowRole> = Vec::new();
    let members = rows
        .into_iter()
        .map(|row| {
            let role_id = &row.listing.role_id;
            let role = RowRole::index_of(&mut row_roles, role_id, roles, grantable, can_manage)?;
            Ok(MemberView::of(
                row,
                role,
                row_roles[role].level,
                scope,
                &standing,
            ))
        })
        .collect::<Result<_, AppError>>()?;
    Ok((members, row_roles))
}

/// The options of a row's role menu, with `selected` selected (none when
/// the viewer can't give the member's role: the row shows it disabled).
#[derive(Template)]
#[template(
    ext = "html",
    source = r#"{% for role in roles %}<option value="{{ role.id.as_str()|safe }}"{% if Some(role.id) == selected %} selected{% endif %}>{{ role.name }}</option>{% endfor %}"#
)]
struct RoleOptions<'a> {
    roles: &'a [RoleRow],
    selected: Option<&'a RoleId>,
}

impl RowRole {
    /// The index in `row_roles` of the role with this id, added to them
    /// the first time a row holds it. A role created and given after this
    /// view's roles were read isn't among `roles`: it shows as "—" and is
    /// not acted on.
    ///
    /// The menu's options are rendered (and escaped) here, once per role
    /// rather than once per row, and only for a viewer who may change
    /// roles (`with_menu`).
    fn index_of(
        row_roles: &mut Vec<RowRole>,
        id: &RoleId,
        roles: &[RoleRow],
        grantable: &[RoleRow],
        with_menu: bool,
    ) -> Result<usize, AppError> {
        if let Some(known) = row_roles.iter().position(|r| &r.id == id) {
            return Ok(known);
        }
        let role = roles.iter().find(|r| &r.id == id);
        let is_grantable = grantable.iter().any(|r| &r.id == id);
        let options = if with_menu {
            RoleOptions {
                roles: grantable,
                selected: is_grantable.then_some(id),
            }
            .render()?
        } else {
            String::new()
        };
        row_roles.push(RowRole {
            id: id.clone(),
            name: role.map_or_else(|| "—".to_owned(), |r| r.name.clone()),
            level: role.map_or(i32::MAX, |r| r.level),
            grantable: is_grantable,
            options,
        });
        Ok(row_roles.len() - 1)
    }
}

impl<'a> MemberView<'a> {
    /// The row of `m`, whose role is the page's `row_roles[role]`, of rank
    /// `level`.
    fn of(
        m: &'a ListedMember,
        role: usize,
        level: i32,
        scope: &Scope,
        standing: &Standing,
    ) -> Self {
        MemberView {
            actionable: may_act_on(scope.user_id(), standing, &m.listing.user_id, level),
            html: &m.html,
            role,
        }
    }
}

impl InvitationView {
    fn all(rows: Vec<(InvitationRow, Option<Delivery>)>, grantable: &[RoleRow]) -> Vec<Self> {
        rows.into_iter()
            .map(|(row, delivery)| Self::of(row, grantable, delivery.as_ref()))
            .collect()
    }

    fn of(i: InvitationRow, grantable: &[RoleRow], delivery: Option<&Delivery>) -> Self {
        InvitationView {
            actionable: grantable.iter().any(|r| Some(&r.id) == i.role_id.as_ref()),
            delivery: match i.status {
                InvitationStatus::Pending => delivery_status(delivery),
                _ => String::new(),
            },
            id: i.id,
            email: i.email,
            name: i.name,
            role_name: i.role_name,
            status: i.status,
            invited_by: i.invited_by_name,
            sent: format!("{} ({}×)", format_time(&i.created_at), i.send_count),
            expires: format_time(&i.expires_at),
            resolved: match (&i.resolved_at, &i.resolved_by_name) {
                (Some(at), Some(by)) => format!("{} by {by}", format_time(at)),
                (Some(at), None) => format_time(at),
                _ => String::new(),
            },
        }
    }
}

/// How the latest email of an invitation fared, in words for the table.
fn delivery_status(delivery: Option<&Delivery>) -> String {
    match delivery {
        Some(d) if d.sent_at.is_some() => "delivered".into(),
        Some(d) if d.attempts == 0 => "not delivered yet".into(),
        Some(d) => format!(
            "failed {} time{}, retrying{}",
            d.attempts,
            if d.attempts == 1 { "" } else { "s" },
            d.last_error
                .as_deref()
                .map(|e| format!(": {e}"))
                .unwrap_or_default()
        ),
        None => "—".into(),
    }
}

/// The invite form, as typed: what the page shows again when it is
/// refused (a role id that names no role stays as it was sent, so no role
/// is shown chosen).
#[derive(Deserialize, Default)]
pub struct InviteForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    role_id: String,
}

/// Invites someone (needs `members.invite`).
pub async fn invite(
    state: web::Data<AppState>,
    _permitted: Permitted<require::MembersInvite>,
    page: Page,
    roles: WorkspaceRoles,
    session: Session,
    form: ScopedForm<InviteForm>,
) -> Result<HttpResponse, AppError> {
    let typed = form.fields;
    let input = InviteInput {
        name: typed.name.clone(),
        email: typed.email.clone(),
        role_id: RoleId::parse(&typed.role_id),
    };
    match members::invite(&state.members, &form.scope, input).await {
        Ok(_) => {
            SessionData::new(&session).flash(
                FlashLevel::Success,
                format!("An invitation was sent to {}.", typed.email.trim()),
            );
            Ok(see_other("/settings/members"))
        }
        Err(ServiceError::Invalid(errors) | ServiceError::Conflict(errors)) => {
            render(
                &state,
                page,
                roles,
                MembersQuery::default(),
                (typed, errors),
            )
            .await
        }
        Err(other) => Err(other.into()),
    }
}

/// The add-member form of a team.
#[derive(Deserialize)]
pub struct AddForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    role_id: String,
}

/// Adds a member of the organization to the active team (needs
/// `members.invite` in the team).
pub async fn add(
    state: web::Data<AppState>,
    _permitted: Permitted<require::MembersInvite>,
    page: Page,
    roles: WorkspaceRoles,
    session: Session,
    form: ScopedForm<AddForm>,
) -> Result<HttpResponse, AppError> {
    let AddForm { email, role_id } = form.fields;
    let input = AddMemberInput {
        email: email.clone(),
        role_id: RoleId::parse(&role_id),
    };
    match teams::add_member(&state.db, &form.scope, input).await {
        Ok(name) => {
            let message = format!("{name} was added to {}.", form.scope.workspace().name);
            SessionData::new(&session).flash(FlashLevel::Success, message);
            Ok(see_other("/settings/members"))
        }
        Err(ServiceError::Invalid(errors) | ServiceError::Conflict(errors)) => {
            let typed = InviteForm {
                name: String::new(),
                email,
                role_id,
            };
            render(
                &state,
                page,
                roles,
                MembersQuery::default(),
                (typed, errors),
            )
            .await
        }
        Err(other) => Err(other.into()),
    }
}

/// Resends a pending invitation with a new link.
pub async fn resend(
    state: web::Data<AppState>,
    _permitted: Permitted<require::MembersInvite>,
    session: Session,
    path: web::Path<String>,
    form: ScopedForm<EmptyForm>,
) -> Result<HttpResponse, AppError> {
    let id = invitation_id(&path)?;
    let email = members::resend(&state.members, &form.scope, id).await?;
    SessionData::new(&session).flash(
        FlashLevel::Success,
        format!("The invitation to {email} was sent again; the previous link no longer works."),
    );
    Ok(see_other("/settings/members"))
}

/// Revokes a pending invitation.
pub async fn revoke(
    state: web::Data<AppState>,
    _permitted: Permitted<require::MembersInvite>,
    session: Session,
    path: web::Path<String>,
    form: ScopedForm<EmptyForm>,
) -> Result<HttpResponse, AppError> {
    let id = invitation_id(&path)?;
    let email = members::revoke(&state.members, &form.scope, id).await?;
    SessionData::new(&session).flash(
        FlashLevel::Success,
        format!("The invitation to {email} was revoked."),
    );
    Ok(see_other("/settings/members"))
}

/// The invitation id in the URL path; a malformed one names nothing (404,
/// as an unknown one answers).
pub(crate) fn invitation_id(path: &str) -> Result<InvitationId, AppError> {
    InvitationId::parse(path).ok_or(AppError::NotFound)
}

/// The role form of a member row.
#[derive(Deserialize)]
pub struct RoleForm {
    #[serde(default)]
    role_id: String,
}

/// The id in the URL path; a malformed one names nothing (404).
pub(crate) fn member_id(path: &str) -> Result<MembershipId, AppError> {
    MembershipId::parse(path).ok_or(AppError::NotFound)
}

/// Changes a member's role (needs `members.manage`).
pub async fn change_role(
    state: web::Data<AppState>,
    _permitted: Permitted<require::MembersManage>,
    session: Session,
    path: web::Path<String>,
    form: ScopedForm<RoleForm>,
) -> Result<HttpResponse, AppError> {
    let member = member_id(&path)?;
    let role = RoleId::parse(&form.fields.role_id);
    let name = members::change_role(&state.members, &form.scope, member, role).await?;
    SessionData::new(&session).flash(FlashLevel::Success, format!("{name}'s role was changed."));
    Ok(see_other("/settings/members"))
}

/// Deactivates a member: they keep the membership but can't enter.
pub async fn deactivate(
    state: web::Data<AppState>,
    _permitted: Permitted<require::MembersManage>,
    session: Session,
    path: web::Path<String>,
    form: ScopedForm<EmptyForm>,
) -> Result<HttpResponse, AppError> {
    set_active(state, session, path, form.scope, false).await
}

/// Reactivates a member.
pub async fn reactivate(
    state: web::Data<AppState>,
    _permitted: Permitted<require::MembersManage>,
    session: Session,
    path: web::Path<String>,
    form: ScopedForm<EmptyForm>,
) -> Result<HttpResponse, AppError> {
    set_active(state, session, path, form.scope, true).await
}

async fn set_active(
    state: web::Data<AppState>,
    session: Session,
    path: web::Path<String>,
    scope: Scope,
    active: bool,
) -> Result<HttpResponse, AppError> {
    let member = member_id(&path)?;
    let name = members::set_active(&state.members, &scope, member, active).await?;
    let message = if active {
        format!("{name} was reactivated.")
    } else {
        format!(
            "{name} was deactivated and can no longer enter {}.",
            scope.workspace().name
        )
    };
    SessionData::new(&session).flash(FlashLevel::Success, message);
    Ok(see_other("/settings/members"))
}

/// Removes a member.
pub async fn remove(
    state: web::Data<AppState>,
    _permitted: Permitted<require::MembersManage>,
    session: Session,
    path: web::Path<String>,
    form: ScopedForm<EmptyForm>,
) -> Result<HttpResponse, AppError> {
    let member = member_id(&path)?;
    let name = members::remove(&state.members, &form.scope, member).await?;
    SessionData::new(&session).flash(FlashLevel::Success, format!("{name} was removed."));
    Ok(see_other("/settings/members"))
}

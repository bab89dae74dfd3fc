//! The URL table: every page and form of the product, in one list a reader
//! can scan. The same list registers the routes and is exported as
//! [`TABLE`], which the tests walk: every `Scoped` route must appear in the
//! isolation matrix, every POST must refuse a form without a CSRF token.
//! (Static files and the operations endpoints are registered in `web`.)

use actix_web::web;

use crate::web::settings::{billing, danger, general, members, resources, roles, teams, usage};
use crate::web::{
    account, agents, api, api_keys, apps, audit, auth, context, dashboard, email, invitations,
    organizations, password, projects,
};

/// Who may call a route and what data it touches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone (sign-up, sign-in).
    Public,
    /// A signed-in user, acting on their own account.
    Account,
    /// A signed-in user, acting on their active workspace's data.
    Scoped,
    /// The platform, with a project's API key (no session).
    Key,
    /// The platform or a script, with a member's API key (no session): it
    /// acts as that member in the key's workspace.
    Member,
    /// The payment provider, with a signed notification (no session).
    Provider,
}

/// One entry of the URL table.
#[derive(Debug, Clone, Copy)]
pub struct Route {
    /// `GET` or `POST`; `PUT`, `PATCH` and `DELETE` in the API only.
    pub method: &'static str,
    /// The path pattern, as actix-web matches it.
    pub path: &'static str,
    /// Who may call it.
    pub access: Access,
}

macro_rules! routes {
    ($( $method:ident $path:literal => $handler:path, $access:ident; )*) => {
        /// Every route of the table, in registration order.
        pub const TABLE: &[Route] = &[
            $( Route { method: method_name(stringify!($method)), path: $path, access: Access::$access }, )*
        ];

        /// Registers every route of the table.
        pub fn configure(cfg: &mut web::ServiceConfig) {
            $( cfg.route($path, web::$method().to($handler)); )*
        }
    };
}

const fn method_name(method: &str) -> &'static str {
    match method.as_bytes() {
        b"get" => "GET",
        b"post" => "POST",
        b"patch" => "PATCH",
        b"put" => "PUT",
        b"delete" => "DELETE",
        _ => panic!("only get, post, put, patch and delete routes are used"),
    }
}

routes! {
    get  "/signup"                        => auth::signup_form,              Public;
    post "/signup"                        => auth::signup,                   Public;
    get  "/login"                         => auth::login_form,               Public;
    post "/login"                         => auth::login,                    Public;
    post "/logout"                        => auth::logout,                   Account;
    get  "/password/forgot"               => password::forgot_form,          Public;
    post "/password/forgot"               => password::forgot,               Public;
    get  "/password/reset/{token}"        => password::reset_form,           Public;
    post "/password/reset/{token}"        => password::reset,                Public;
    get  "/email/verify/{token}"          => email::verify_form,             Public;
    post "/email/verify/{token}"          => email::verify,                  Public;
    get  "/email/change/{token}"          => email::change_form,             Public;
    post "/email/change/{token}"          => email::confirm_change,          Public;
    get  "/"                              => dashboard::show,                Scoped;
    post "/context"                       => context::switch,                Account;
    get  "/account"                       => account::show,                  Account;
    post "/account/profile"               => account::update_profile,        Account;
    post "/account/password"              => account::change_password,       Account;
    post "/account/email"                 => account::change_email,          Account;
    post "/account/verification-email"   => account::resend_verification,    Account;
    post "/account/sessions/revoke"       => account::revoke_session,        Account;
    post "/account/sessions/revoke-others" => account::revoke_other_sessions, Account;
    get  "/o/{slug}/{rest:.*}"            => context::enter,                 Account;
    get  "/organizations"                 => organizations::index,           Account;
    get  "/organizations/new"             => organizations::new_form,        Account;
    post "/organizations"                 => organizations::create,          Account;
    post "/organizations/{id}/restore"    => organizations::restore,         Account;
    get  "/avatars/{workspace_id}"        => general::avatar,               Account;
    get  "/settings/general"              => general::general,              Scoped;
    post "/settings/general"              => general::update_general,       Scoped;
    post "/settings/avatar"               => general::upload_avatar,        Scoped;
    post "/settings/avatar/remove"        => general::remove_avatar,        Scoped;
    get  "/settings/danger"               => danger::danger,               Scoped;
    post "/settings/transfer-ownership"   => danger::transfer_ownership,   Scoped;
    post "/settings/leave"                => danger::leave,                Scoped;
    post "/settings/archive"              => danger::archive,              Scoped;
    post "/settings/delete"               => danger::delete,               Scoped;
    get  "/audit"                         => audit::index,                   Scoped;
    get  "/settings/members"                      => members::index,       Scoped;
    post "/settings/members/invite"               => members::invite,      Scoped;
    post "/settings/invitations/{id}/resend"      => members::resend,      Scoped;
    post "/settings/invitations/{id}/revoke"      => members::revoke,      Scoped;
    post "/settings/members/{id}/role"            => members::change_role, Scoped;
    post "/settings/members/{id}/deactivate"      => members::deactivate,  Scoped;
    post "/settings/members/{id}/reactivate"      => members::reactivate,  Scoped;
    post "/settings/members/{id}/remove"          => members::remove,      Scoped;
    get  "/invitations/{token}"                   => invitations::show,    Public;
    post "/invitations/{token}/accept"            => invitations::accept,  Account;
    post "/invitations/{token}/decline"           => invitations::decline, Account;
    get  "/settings/roles"                        => roles::index,         Scoped;
    get  "/settings/roles/new"                    => roles::new_form,      Scoped;
    post "/settings/roles"                        => roles::create,        Scoped;
    get  "/settings/roles/{id}"                   => roles::edit_form,     Scoped;
    post "/settings/roles/{id}"                   => roles::update,        Scoped;
    post "/settings/roles/{id}/delete"            => roles::delete,        Scoped;
    get  "/settings/teams"                        => teams::index,         Scoped;
    post "/settings/teams"                        => teams::create,        Scoped;
    post "/settings/teams/{id}"                   => teams::update,        Scoped;
    post "/settings/teams/{id}/archive"           => teams::archive,       Scoped;
    post "/settings/teams/{id}/restore"           => teams::restore,       Scoped;
    post "/settings/teams/{id}/delete"            => teams::delete,        Scoped;
    post "/settings/members/add"                  => members::add,         Scoped;
    get  "/projects"                              => projects::index,      Scoped;
    post "/projects"                              => projects::create,     Scoped;
    get  "/projects/{id}"                         => projects::show,       Scoped;
    post "/projects/{id}"                         => projects::update,     Scoped;
    post "/projects/{id}/delete"                  => projects::delete,     Scoped;
    post "/projects/{id}/keys"                    => projects::create_key, Scoped;
    post "/projects/{id}/keys/{key}/revoke"       => projects::revoke_key, Scoped;
    post "/projects/{id}/transfer"                => projects::transfer,   Scoped;
    get  "/api-keys"                              => api_keys::index,      Scoped;
    post "/api-keys"                              => api_keys::create,     Scoped;
    post "/api-keys/{id}/revoke"                  => api_keys::revoke,     Scoped;
    get  "/agents"                                => agents::index,        Scoped;
    post "/agents"                                => agents::create,       Scoped;
    post "/agents/{id}/start"                     => agents::start,        Scoped;
    post "/agents/{id}/stop"                      => agents::stop,         Scoped;
    post "/agents/{id}/delete"                    => agents::delete,       Scoped;
    post "/agents/{id}/transfer"                  => agents::transfer,     Scoped;
    get  "/apps"                                  => apps::index,          Scoped;
    post "/apps/{key}/install"                    => apps::install,        Scoped;
    post "/apps/instances/{id}/start"             => apps::start,          Scoped;
    post "/apps/instances/{id}/stop"              => apps::stop,           Scoped;
    post "/apps/instances/{id}/remove"            => apps::uninstall,      Scoped;
    get  "/settings/resources"                    => resources::index,     Scoped;
    post "/settings/resources/limits"             => resources::set_limits, Scoped;
    get  "/settings/billing"                      => billing::index,       Scoped;
    get  "/billing"                               => billing::index,       Scoped;
    get  "/settings/usage"                        => usage::index,         Scoped;
    get  "/usage"                                 => usage::index,         Scoped;
    post "/billing/top-up"                        => billing::top_up,      Scoped;
    post "/billing/controls"                      => billing::set_controls, Scoped;
    post "/billing/coupon"                        => billing::redeem_coupon, Scoped;
    post "/billing/transfer"                      => billing::transfer,    Scoped;
    post "/billing/plan"                          => billing::change_plan, Scoped;
    get  "/billing/receipts/{id}"                 => crate::web::billing::receipt, Scoped;
    get  "/billing/history.csv"                   => crate::web::billing::export, Scoped;
    get  "/api/v1/key"                            => api::key::key,        Key;
    post "/api/v1/usage/charges"                  => api::charges::create, Key;
    get  "/api/v1/wallet"                         => api::wallet::show,    Key;
    post "/api/v1/agents/{id}/activity"           => api::agents::activity, Key;
    post "/api/v1/apps/{id}/activity"             => api::agents::app_activity, Key;
    post "/api/v1/payments/notifications"         => api::payments::notify, Provider;
    post "/api/v1/authorize"                      => api::authorize::authorize, Member;
    get    "/api/v1/organizations"                 => api::organizations::list,    Member;
    post   "/api/v1/organizations"                 => api::organizations::create,  Member;
    get    "/api/v1/organizations/{org_id}"        => api::organizations::show,    Member;
    patch  "/api/v1/organizations/{org_id}"        => api::organizations::update,  Member;
    delete "/api/v1/organizations/{org_id}"        => api::organizations::archive, Member;
    post   "/api/v1/organizations/{org_id}/restore" => api::organizations::restore, Member;
    get    "/api/v1/organizations/{org_id}/members" => api::members::list,        Member;
    patch  "/api/v1/organizations/{org_id}/members/{member_id}" => api::members::update, Member;
    delete "/api/v1/organizations/{org_id}/members/{member_id}" => api::members::remove, Member;
    get    "/api/v1/organizations/{org_id}/invitations" => api::invitations::list, Member;
    post   "/api/v1/organizations/{org_id}/invitations" => api::invitations::create, Member;
    post   "/api/v1/organizations/{org_id}/invitations/{invitation_id}/resend" => api::invitations::resend, Member;
    delete "/api/v1/organizations/{org_id}/invitations/{invitation_id}" => api::invitations::revoke, Member;
    get    "/api/v1/organizations/{org_id}/roles"   => api::roles::list,          Member;
    post   "/api/v1/organizations/{org_id}/roles"   => api::roles::create,        Member;
    patch  "/api/v1/organizations/{org_id}/roles/{role_id}" => api::roles::update, Member;
    delete "/api/v1/organizations/{org_id}/roles/{role_id}" => api::roles::delete, Member;
    get    "/api/v1/organizations/{org_id}/teams"   => api::teams::list,          Member;
    post   "/api/v1/organizations/{org_id}/teams"   => api::teams::create,        Member;
    patch  "/api/v1/organizations/{org_id}/teams/{team_id}" => api::teams::update, Member;
    delete "/api/v1/organizations/{org_id}/teams/{team_id}" => api::teams::archive, Member;
    post   "/api/v1/organizations/{org_id}/teams/{team_id}/restore" => api::teams::restore, Member;
    get    "/api/v1/organizations/{org_id}/projects" => api::resources::projects, Member;
    post   "/api/v1/organizations/{org_id}/projects" => api::resources::create_project, Member;
    get    "/api/v1/organizations/{org_id}/projects/{project_id}" => api::resources::show_project, Member;
    patch  "/api/v1/organizations/{org_id}/projects/{project_id}" => api::resources::update_project, Member;
    delete "/api/v1/organizations/{org_id}/projects/{project_id}" => api::resources::delete_project, Member;
    get    "/api/v1/organizations/{org_id}/agents"  => api::resources::agents,    Member;
    post   "/api/v1/organizations/{org_id}/agents"  => api::resources::create_agent, Member;
    post   "/api/v1/organizations/{org_id}/agents/{agent_id}/start" => api::resources::start_agent, Member;
    post   "/api/v1/organizations/{org_id}/agents/{agent_id}/stop" => api::resources::stop_agent, Member;
    delete "/api/v1/organizations/{org_id}/agents/{agent_id}" => api::resources::delete_agent, Member;
    get    "/api/v1/organizations/{org_id}/limits"  => api::resources::limits,    Member;
    put    "/api/v1/organizations/{org_id}/limits/{workspace_id}" => api::resources::set_limits, Member;
    get    "/api/v1/organizations/{org_id}/wallet"  => api::wallet::member_wallet, Member;
    get    "/api/v1/organizations/{org_id}/transactions" => api::wallet::transactions, Member;
    get  "/api/v1/openapi.json"                   => api::openapi::document, Public;
}

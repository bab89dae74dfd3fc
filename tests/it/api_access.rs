//! Every route a member's key calls, from the URL table: no key, an
//! unknown, revoked or expired key is 401 (and changes nothing); a live
//! key naming another workspace in the path is 404.

use reqwest::{Method, StatusCode};
use serde_json::json;
use tenantry::web::routes::{Access, TABLE};

use crate::api_keys::{call, key_in};
use crate::on_both_backends;
use crate::support::TestApp;

on_both_backends!(
    every_member_route_refuses_dead_keys_and_other_workspaces,
    every_member_route_needs_its_permission_in_the_role_and_the_key,
);

/// The permission each member route needs (`None`: any live key of the
/// workspace, or rules other than a permission). A route missing here
/// fails the test, so a new endpoint gets a row.
const NEEDS: &[(&str, &str, Option<&str>)] = &[
    ("POST", "/api/v1/authorize", Some("members.read")),
    ("GET", "/api/v1/organizations", None),
    ("POST", "/api/v1/organizations", None),
    ("GET", "/api/v1/organizations/{org_id}", None),
    (
        "PATCH",
        "/api/v1/organizations/{org_id}",
        Some("org.update"),
    ),
    (
        "DELETE",
        "/api/v1/organizations/{org_id}",
        Some("org.delete"),
    ),
    ("POST", "/api/v1/organizations/{org_id}/restore", None),
    (
        "GET",
        "/api/v1/organizations/{org_id}/members",
        Some("members.read"),
    ),
    (
        "PATCH",
        "/api/v1/organizations/{org_id}/members/{member_id}",
        Some("members.manage"),
    ),
    (
        "DELETE",
        "/api/v1/organizations/{org_id}/members/{member_id}",
        Some("members.manage"),
    ),
    (
        "GET",
        "/api/v1/organizations/{org_id}/invitations",
        Some("members.invite"),
    ),
    (
        "POST",
        "/api/v1/organizations/{org_id}/invitations",
        Some("members.invite"),
    ),
    (
        "POST",
        "/api/v1/organizations/{org_id}/invitations/{invitation_id}/resend",
        Some("members.invite"),
    ),
    (
        "DELETE",
        "/api/v1/organizations/{org_id}/invitations/{invitation_id}",
        Some("members.invite"),
    ),
    (
        "GET",
        "/api/v1/organizations/{org_id}/roles",
        Some("members.read"),
    ),
    (
        "POST",
        "/api/v1/organizations/{org_id}/roles",
        Some("roles.manage"),
    ),
    (
        "PATCH",
        "/api/v1/organizations/{org_id}/roles/{role_id}",
        Some("roles.manage"),
    ),
    (
        "DELETE",
        "/api/v1/organizations/{org_id}/roles/{role_id}",
        Some("roles.manage"),
    ),
    (
        "GET",
        "/api/v1/organizations/{org_id}/teams",
        Some("teams.manage"),
    ),
    (
        "POST",
        "/api/v1/organizations/{org_id}/teams",
        Some("teams.manage"),
    ),
    (
        "PATCH",
        "/api/v1/organizations/{org_id}/teams/{team_id}",
        Some("teams.manage"),
    ),
    (
        "DELETE",
        "/api/v1/organizations/{org_id}/teams/{team_id}",
        Some("teams.manage"),
    ),
    (
        "POST",
        "/api/v1/organizations/{org_id}/teams/{team_id}/restore",
        Some("teams.manage"),
    ),
    (
        "GET",
        "/api/v1/organizations/{org_id}/projects",
        Some("resources.read"),
    ),
    (
        "POST",
        "/api/v1/organizations/{org_id}/projects",
        Some("projects.manage"),
    ),
    (
        "GET",
        "/api/v1/organizations/{org_id}/projects/{project_id}",
        Some("resources.read"),
    ),
    (
        "PATCH",
        "/api/v1/organizations/{org_id}/projects/{project_id}",
        Some("projects.manage"),
    ),
    (
        "DELETE",
        "/api/v1/organizations/{org_id}/projects/{project_id}",
        Some("projects.manage"),
    ),
    (
        "GET",
        "/api/v1/organizations/{org_id}/agents",
        Some("resources.read"),
    ),
    (
        "POST",
        "/api/v1/organizations/{org_id}/agents",
        Some("resources.write"),
    ),
    (
        "POST",
        "/api/v1/organizations/{org_id}/agents/{agent_id}/start",
        Some("resources.write"),
    ),
    (
        "POST",
        "/api/v1/organizations/{org_id}/agents/{agent_id}/stop",
        Some("resources.write"),
    ),
    (
        "DELETE",
        "/api/v1/organizations/{org_id}/agents/{agent_id}",
        Some("resources.write"),
    ),
    (
        "GET",
        "/api/v1/organizations/{org_id}/limits",
        Some("resources.read"),
    ),
    (
        "PUT",
        "/api/v1/organizations/{org_id}/limits/{workspace_id}",
        Some("resources.manage"),
    ),
    (
        "GET",
        "/api/v1/organizations/{org_id}/wallet",
        Some("billing.read"),
    ),
    (
        "GET",
        "/api/v1/organizations/{org_id}/transactions",
        Some("billing.read"),
    ),
];

/// What the member system role holds.
const MEMBER_ROLE: &[&str] = &["members.read", "resources.read", "resources.write"];

/// A body every write endpoint can read (unknown fields are ignored), so
/// a refusal is about the key or the path, never the body.
fn any_body() -> serde_json::Value {
    json!({
        "name": "Probe", "email": "probe@example.com", "role_id": "r", "project_id": "p",
        "permission": "members.read"
    })
}

/// The route's path with `org` for `{org_id}` and made-up ids elsewhere.
fn concrete(path: &str, org: &str) -> String {
    let mut out = String::new();
    for segment in path.split('/').skip(1) {
        out.push('/');
        out.push_str(match segment {
            "{org_id}" => org,
            s if s.starts_with('{') => "0b5e7c7e-0000-4000-8000-000000000000",
            s => s,
        });
    }
    out
}

async fn every_member_route_refuses_dead_keys_and_other_workspaces(app: TestApp) {
    let app = app
        .with_acme()
        .await
        .with_user("Bob", "bob@example.com")
        .await
        .with_org("bob@example.com", "Bob Co", "bobco")
        .await;
    let (acme, bobco) = (
        app.workspace_id("acme").await,
        app.workspace_id("bobco").await,
    );
    let live = key_in(&app, "ann@example.com", &acme, &[("name", "live")]).await;
    let revoked = key_in(&app, "ann@example.com", &acme, &[("name", "revoked")]).await;
    let expired = key_in(&app, "ann@example.com", &acme, &[("name", "expired")]).await;
    app.execute("UPDATE api_keys SET revoked_at = created_at WHERE name = 'revoked'")
        .await;
    app.execute("UPDATE api_keys SET expires_at = created_at WHERE name = 'expired'")
        .await;
    let unknown = format!("tkm_{}", "0".repeat(40));
    let audit_before = app.count("audit_entries").await;

    let routes: Vec<_> = TABLE
        .iter()
        .filter(|r| r.access == Access::Member)
        .collect();
    assert!(routes.len() >= 30, "the member API: {}", routes.len());
    for route in routes {
        let method = Method::from_bytes(route.method.as_bytes()).expect("a method");
        let body = (method != Method::GET && method != Method::DELETE).then(any_body);
        let own = concrete(route.path, &acme);
        for (name, key) in [
            ("no", ""),
            ("unknown", unknown.as_str()),
            ("revoked", &revoked),
            ("expired", &expired),
        ] {
            let (status, answer) = call(&app, key, method.clone(), &own, body.clone()).await;
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "{} {own} with {name} key: {answer}",
                route.method
            );
            assert_eq!(answer["error"]["code"], "unauthorized");
        }
        // Restoring names an archived organization, not the key's own
        // (tested in api_organizations).
        if route.path.contains("{org_id}") && route.path != "/api/v1/organizations/{org_id}/restore"
        {
            let other = concrete(route.path, &bobco);
            let (status, answer) = call(&app, &live, method.clone(), &other, body.clone()).await;
            assert_eq!(
                status,
                StatusCode::NOT_FOUND,
                "{} {other}, another workspace: {answer}",
                route.method
            );
        }
    }
    assert_eq!(
        app.count("audit_entries").await,
        audit_before,
        "nothing changed"
    );
    assert_eq!(app.count("workspaces WHERE status = 'archived'").await, 0);
}

async fn every_member_route_needs_its_permission_in_the_role_and_the_key(app: TestApp) {
    let app = app
        .with_acme()
        .await
        .with_member("acme", "Dave", "dave@example.com", "member")
        .await;
    let acme = app.workspace_id("acme").await;
    // The owner's key limited to a permission no endpoint needs, and a
    // member's key following their role.
    let narrow = key_in(
        &app,
        "ann@example.com",
        &acme,
        &[
            ("name", "narrow"),
            ("scope", "chosen"),
            ("permissions", "audit.read"),
        ],
    )
    .await;
    let dave = key_in(&app, "dave@example.com", &acme, &[("name", "dave")]).await;
    let audit_before = app.count("audit_entries").await;
    for route in TABLE.iter().filter(|r| r.access == Access::Member) {
        let needs = NEEDS
            .iter()
            .find(|(method, path, _)| *method == route.method && *path == route.path)
            .unwrap_or_else(|| panic!("{} {} has no row in NEEDS", route.method, route.path))
            .2;
        let Some(permission) = needs else {
            continue;
        };
        let method = Method::from_bytes(route.method.as_bytes()).expect("a method");
        let body = (method != Method::GET && method != Method::DELETE).then(any_body);
        let path = concrete(route.path, &acme);
        let (status, answer) = call(&app, &narrow, method.clone(), &path, body.clone()).await;
        assert_eq!(
            status,
            StatusCode::FORBIDDEN,
            "{} {path} with audit.read only: {answer}",
            route.method
        );
        assert!(
            answer["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains(permission)),
            "the refusal names {permission}: {answer}"
        );
        let (status, answer) = call(&app, &dave, method, &path, body).await;
        if MEMBER_ROLE.contains(&permission) {
            assert_ne!(
                status,
                StatusCode::FORBIDDEN,
                "{} {path} as a member: {answer}",
                route.method
            );
        } else {
            assert_eq!(
                status,
                StatusCode::FORBIDDEN,
                "{} {path} as a member: {answer}",
                route.method
            );
        }
    }
    assert_eq!(
        app.count("audit_entries").await,
        audit_before,
        "nothing changed"
    );
}

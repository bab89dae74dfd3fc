//! Changing members, invitations and roles with members' keys: the same
//! hierarchy as the pages, the key's scope on top of its member's role,
//! 404 for another workspace's rows, and keys that die with their
//! member's removal, deactivation or demotion.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::api_keys::{call, key_in};
use crate::on_both_backends;
use crate::support::TestApp;

on_both_backends!(
    members_change_within_the_hierarchy_and_their_keys_follow,
    a_narrow_key_gives_no_role_beyond_its_scope,
    invitations_are_created_listed_resent_and_revoked,
    custom_roles_are_created_updated_and_deleted,
    write_endpoints_refuse_another_workspaces_rows,
);

/// Acme with Erin (admin) and Dave (member); Erin's key follows her role.
async fn acme_with_admin(app: TestApp) -> (TestApp, String, String) {
    let app = app
        .with_acme()
        .await
        .with_member("acme", "Erin", "erin@example.com", "admin")
        .await
        .with_member("acme", "Dave", "dave@example.com", "member")
        .await;
    let acme = app.workspace_id("acme").await;
    let erin = key_in(&app, "erin@example.com", &acme, &[("name", "erin")]).await;
    (app, acme, erin)
}

async fn members_change_within_the_hierarchy_and_their_keys_follow(app: TestApp) {
    let (app, acme, erin) = acme_with_admin(app).await;
    let app = app
        .with_role("acme", "Auditor", 20, &["audit.read", "members.read"])
        .await;
    let auditor = app.role_of("acme", "Auditor").await;
    let admin_role = app.role_of("acme", "admin").await;
    let dave_key = key_in(&app, "dave@example.com", &acme, &[("name", "dave")]).await;
    let dave = app.membership_of("acme", "dave@example.com").await;
    let ann = app.membership_of("acme", "ann@example.com").await;
    let member = |id: &str| format!("/api/v1/organizations/{acme}/members/{id}");

    // Dave (member) may not manage members.
    let (status, _) = call(
        &app,
        &dave_key,
        Method::PATCH,
        &member(&ann),
        Some(json!({"status": "inactive"})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Erin gives Dave the Auditor role: audited, answered with the member.
    let (status, body) = call(
        &app,
        &erin,
        Method::PATCH,
        &member(&dave),
        Some(json!({"role_id": auditor})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["role_name"], "Auditor");
    assert_eq!(
        app.count_with(
            "audit_entries WHERE workspace_id = ? AND action = 'membership.role.change'",
            &[&acme]
        )
        .await,
        1
    );
    // Not the owner, not a role at her own rank, not both fields at once.
    let (status, body) = call(
        &app,
        &erin,
        Method::PATCH,
        &member(&ann),
        Some(json!({"status": "inactive"})),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (status, _) = call(
        &app,
        &erin,
        Method::PATCH,
        &member(&dave),
        Some(json!({"role_id": admin_role})),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, body) = call(
        &app,
        &erin,
        Method::PATCH,
        &member(&dave),
        Some(json!({"role_id": auditor, "status": "active"})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) = call(
        &app,
        &erin,
        Method::PATCH,
        &member(&dave),
        Some(json!({"status": "gone"})),
    )
    .await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("status"))
    );

    // Deactivated, Dave's key stops at once; reactivated, it works again.
    let (status, _) = call(
        &app,
        &erin,
        Method::PATCH,
        &member(&dave),
        Some(json!({"status": "inactive"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let members = format!("/api/v1/organizations/{acme}/members");
    let (status, _) = call(&app, &dave_key, Method::GET, &members, None).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "a deactivated member's key"
    );
    let (status, _) = call(
        &app,
        &erin,
        Method::PATCH,
        &member(&dave),
        Some(json!({"status": "active"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = call(&app, &dave_key, Method::GET, &members, None).await;
    assert_eq!(status, StatusCode::OK, "reactivated");

    // Removed, his membership and keys are gone.
    let (status, body) = call(&app, &erin, Method::DELETE, &member(&dave), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(
        app.count_with("memberships WHERE id = ?", &[&dave]).await,
        0
    );
    let (status, _) = call(&app, &dave_key, Method::GET, &members, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a removed member's key");
    let (status, _) = call(&app, &erin, Method::DELETE, &member(&dave), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "gone already");
}

async fn a_narrow_key_gives_no_role_beyond_its_scope(app: TestApp) {
    let (app, acme, _) = acme_with_admin(app).await;
    let app = app.with_role("acme", "Biller", 20, &["billing.read"]).await;
    let biller = app.role_of("acme", "Biller").await;
    let narrow = key_in(
        &app,
        "erin@example.com",
        &acme,
        &[
            ("name", "narrow"),
            ("scope", "chosen"),
            ("permissions", "members.manage"),
        ],
    )
    .await;
    let dave = app.membership_of("acme", "dave@example.com").await;
    let path = format!("/api/v1/organizations/{acme}/members/{dave}");
    let (status, body) = call(
        &app,
        &narrow,
        Method::PATCH,
        &path,
        Some(json!({"role_id": biller})),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "a role holding billing.read, which the key lacks: {body}"
    );
    assert_eq!(
        app.count_with(
            "memberships WHERE id = ? AND role_id = ?",
            &[&dave, &biller]
        )
        .await,
        0
    );

    // Erin demoted to member: her role-following key loses members.manage,
    // her chosen-scope key dies.
    let follows = key_in(&app, "erin@example.com", &acme, &[("name", "follows")]).await;
    let ann = key_in(&app, "ann@example.com", &acme, &[("name", "ann")]).await;
    let member_role = app.role_of("acme", "member").await;
    let erin = app.membership_of("acme", "erin@example.com").await;
    let erin_path = format!("/api/v1/organizations/{acme}/members/{erin}");
    let (status, body) = call(
        &app,
        &ann,
        Method::PATCH,
        &erin_path,
        Some(json!({"role_id": member_role})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = call(&app, &follows, Method::DELETE, &path, None).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "the demoted admin's key follows her role"
    );
    let (status, _) = call(&app, &narrow, Method::DELETE, &path, None).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "a scope the role no longer covers"
    );
    assert_eq!(
        app.count_with("memberships WHERE id = ?", &[&dave]).await,
        1
    );
}

async fn invitations_are_created_listed_resent_and_revoked(app: TestApp) {
    let (app, acme, erin) = acme_with_admin(app).await;
    let member_role = app.role_of("acme", "member").await;
    let invitations = format!("/api/v1/organizations/{acme}/invitations");
    let invite = json!({"name": "Fay", "email": "fay@example.com", "role_id": member_role});
    let (status, body) = call(
        &app,
        &erin,
        Method::POST,
        &invitations,
        Some(invite.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        (body["status"].as_str(), body["role_name"].as_str()),
        (Some("pending"), Some("Member"))
    );
    let id = body["id"].as_str().expect("an id").to_owned();
    app.wait_for_mail_delivery().await;
    assert_eq!(
        app.emails_to("fay@example.com").await.len(),
        1,
        "the invitation email"
    );

    let (status, body) = call(&app, &erin, Method::POST, &invitations, Some(invite)).await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("email"))
    );
    let bad = json!({"name": "Gus", "email": "not an email", "role_id": member_role});
    let (status, body) = call(&app, &erin, Method::POST, &invitations, Some(bad)).await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("email"))
    );

    let (status, body) = call(&app, &erin, Method::GET, &invitations, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let pending: Vec<&serde_json::Value> = body
        .as_array()
        .expect("a list")
        .iter()
        .filter(|i| i["status"] == "pending")
        .collect();
    assert_eq!(pending.len(), 1, "{body}");
    assert_eq!(pending[0]["email"], "fay@example.com");
    assert!(
        body.as_array()
            .expect("a list")
            .iter()
            .any(|i| i["email"] == "dave@example.com" && i["status"] == "accepted"),
        "ended ones follow: {body}"
    );

    // Ids that are not ids: an invitation id answers like an unknown one
    // (404), a role id like a role the caller can't give.
    for id in ["not-an-id", "0b5e7c7e-0000-4000-8000-000000000000"] {
        for (method, path) in [
            (Method::POST, format!("{invitations}/{id}/resend")),
            (Method::DELETE, format!("{invitations}/{id}")),
        ] {
            let (status, body) = call(&app, &erin, method, &path, None).await;
            assert_eq!(
                (status, body["error"]["code"].as_str()),
                (StatusCode::NOT_FOUND, Some("not_found")),
                "{path}: {body}"
            );
        }
    }
    let unnamed = json!({"name": "Hal", "email": "hal@example.com", "role_id": "not-a-role"});
    let (status, body) = call(&app, &erin, Method::POST, &invitations, Some(unnamed)).await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("role_id")),
        "{body}"
    );
    let dave_member = app.membership_of("acme", "dave@example.com").await;
    let (status, body) = call(
        &app,
        &erin,
        Method::PATCH,
        &format!("/api/v1/organizations/{acme}/members/{dave_member}"),
        Some(json!({"role_id": "not-a-role"})),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");

    // Resent at most once a minute.
    let (status, body) = call(
        &app,
        &erin,
        Method::POST,
        &format!("{invitations}/{id}/resend"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");

    let dave = key_in(&app, "dave@example.com", &acme, &[("name", "dave")]).await;
    let (status, _) = call(&app, &dave, Method::GET, &invitations, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "members.invite");
    let (status, _) = call(
        &app,
        &dave,
        Method::DELETE,
        &format!("{invitations}/{id}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let (status, body) = call(
        &app,
        &erin,
        Method::DELETE,
        &format!("{invitations}/{id}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(
        app.count_with("invitations WHERE id = ? AND status = 'revoked'", &[&id])
            .await,
        1
    );
    let (status, _) = call(
        &app,
        &erin,
        Method::DELETE,
        &format!("{invitations}/{id}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "no longer pending");
}

async fn custom_roles_are_created_updated_and_deleted(app: TestApp) {
    let (app, acme, erin) = acme_with_admin(app).await;
    let roles = format!("/api/v1/organizations/{acme}/roles");
    let new = json!({"name": "Developer", "description": "Builds", "permissions": ["resources.read"], "inherits_from": "member"});
    let (status, body) = call(&app, &erin, Method::POST, &roles, Some(new.clone())).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["is_system"], false);
    assert_eq!(
        body["level"], 20,
        "ten above the member role it inherits: {body}"
    );
    assert!(body["inherits_from"].is_string(), "{body}");
    let id = body["id"].as_str().expect("an id").to_owned();
    let (status, body) = call(&app, &erin, Method::POST, &roles, Some(new)).await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("name"))
    );
    let (status, body) = call(
        &app,
        &erin,
        Method::POST,
        &roles,
        Some(json!({"name": "Boss", "level": 90})),
    )
    .await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("level"))
    );

    let path = format!("{roles}/{id}");
    let (status, body) = call(
        &app,
        &erin,
        Method::PATCH,
        &path,
        Some(json!({"description": "Ships"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (body["name"].as_str(), body["description"].as_str()),
        (Some("Developer"), Some("Ships"))
    );
    assert!(
        body["permissions"]
            .as_array()
            .is_some_and(|p| p.contains(&json!("resources.read"))),
        "its own permissions kept: {body}"
    );
    let admin = app.role_of("acme", "admin").await;
    let (status, _) = call(
        &app,
        &erin,
        Method::PATCH,
        &format!("{roles}/{admin}"),
        Some(json!({"description": "x"})),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "system roles can't be edited");
    let (status, _) = call(
        &app,
        &erin,
        Method::DELETE,
        &format!("{roles}/{admin}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "nor deleted");

    let dave = key_in(&app, "dave@example.com", &acme, &[("name", "dave")]).await;
    let (status, _) = call(&app, &dave, Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "roles.manage");

    let (status, body) = call(&app, &erin, Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(app.count_with("roles WHERE id = ?", &[&id]).await, 0);
    assert_eq!(
        app.count_with(
            "audit_entries WHERE workspace_id = ? AND action LIKE 'role.%'",
            &[&acme]
        )
        .await,
        3,
        "create, update, delete"
    );
}

async fn write_endpoints_refuse_another_workspaces_rows(app: TestApp) {
    let app = app
        .with_acme()
        .await
        .with_user("Bob", "bob@example.com")
        .await
        .with_org("bob@example.com", "Bob Co", "bobco")
        .await
        .with_member("bobco", "Cat", "cat@example.com", "member")
        .await
        .with_role("bobco", "Bobs", 20, &["audit.read"])
        .await;
    let (acme, bobco) = (
        app.workspace_id("acme").await,
        app.workspace_id("bobco").await,
    );
    let ann = key_in(&app, "ann@example.com", &acme, &[("name", "ann")]).await;
    let cat = app.membership_of("bobco", "cat@example.com").await;
    let bobs = app.role_of("bobco", "Bobs").await;
    // Bob's rows through Acme's path, and through Bob Co's path.
    for org in [&acme, &bobco] {
        let base = format!("/api/v1/organizations/{org}");
        for (method, path, body) in [
            (
                Method::PATCH,
                format!("{base}/members/{cat}"),
                Some(json!({"status": "inactive"})),
            ),
            (Method::DELETE, format!("{base}/members/{cat}"), None),
            (
                Method::PATCH,
                format!("{base}/roles/{bobs}"),
                Some(json!({"name": "Mine"})),
            ),
            (Method::DELETE, format!("{base}/roles/{bobs}"), None),
            (Method::GET, format!("{base}/invitations"), None),
            (
                Method::POST,
                format!("{base}/roles"),
                Some(json!({"name": "Planted"})),
            ),
        ] {
            let (status, answer) = call(&app, &ann, method.clone(), &path, body).await;
            if org == &bobco || path.contains(&cat) || path.contains(&bobs) {
                assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {answer}");
            }
        }
    }
    assert_eq!(
        app.count_with("memberships WHERE id = ? AND status = 'active'", &[&cat])
            .await,
        1
    );
    assert_eq!(
        app.count_with("roles WHERE id = ? AND name = 'Bobs'", &[&bobs])
            .await,
        1
    );
    assert_eq!(
        app.count_with(
            "roles WHERE workspace_id = ? AND name = 'Planted'",
            &[&bobco]
        )
        .await,
        0
    );
}

//! `/api/v1/organizations…` with members' keys: a personal key creates,
//! lists and restores; an organization's key sees and changes only its
//! own organization, as far as its role and scope allow; another
//! workspace's id is 404; an archived organization's keys stop working.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::api_keys::{call, key_in};
use crate::on_both_backends;
use crate::support::TestApp;

on_both_backends!(
    a_personal_key_creates_lists_and_restores_organizations,
    an_organization_key_sees_and_changes_only_its_own,
    organization_changes_follow_the_role_and_the_keys_scope,
);

async fn a_personal_key_creates_lists_and_restores_organizations(app: TestApp) {
    let app = app.with_acme().await;
    let personal = app.personal_workspace_of("ann@example.com").await;
    let key = key_in(&app, "ann@example.com", &personal, &[("name", "cli")]).await;

    let new = json!({"name": "Zeta Labs", "description": "Research", "billing_email": "Bills@Zeta.example"});
    let (status, body) = call(&app, &key, Method::POST, "/api/v1/organizations", Some(new)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["slug"], "zeta-labs");
    assert_eq!(body["role"], "owner");
    assert_eq!(body["kind"], "organization");
    assert_eq!(body["description"], "Research");
    assert_eq!(body["billing_email"], "bills@zeta.example");
    assert_eq!(body["is_active"], true);
    let zeta = body["id"].as_str().expect("an id").to_owned();
    assert_eq!(
        body["owner_id"].as_str(),
        Some(
            app.text_value_with(
                "SELECT id AS value FROM users WHERE email = ?",
                &["ann@example.com"]
            )
            .await
            .as_str()
        )
    );
    assert_eq!(
        app.count_with(
            "audit_entries WHERE workspace_id = ? AND action = 'organization.create'",
            &[&zeta]
        )
        .await,
        1
    );

    // Bad input: 422 naming the field, nothing created.
    let taken = json!({"name": "Other", "slug": "acme"});
    let (status, body) = call(
        &app,
        &key,
        Method::POST,
        "/api/v1/organizations",
        Some(taken),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["field"], "slug");
    let (status, body) = call(
        &app,
        &key,
        Method::POST,
        "/api/v1/organizations",
        Some(json!({"name": " "})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["field"], "name");
    assert_eq!(app.count("workspaces WHERE kind = 'organization'").await, 2);

    let (status, body) = call(&app, &key, Method::GET, "/api/v1/organizations", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut names: Vec<&str> = body
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|o| o["name"].as_str())
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["Acme Corp", "Zeta Labs"]);
    assert!(
        body.as_array()
            .expect("a list")
            .iter()
            .all(|o| o["role"] == "owner"),
        "{body}"
    );

    // Archived with Zeta's own key, which then stops working; restored
    // with the personal key.
    let zeta_key = key_in(&app, "ann@example.com", &zeta, &[("name", "zeta")]).await;
    let path = format!("/api/v1/organizations/{zeta}");
    let (status, body) = call(&app, &zeta_key, Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, _) = call(&app, &zeta_key, Method::GET, &path, None).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "an archived organization's key"
    );
    let restore = format!("{path}/restore");
    let (status, body) = call(&app, &key, Method::POST, &restore, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "active");
    let (status, _) = call(&app, &key, Method::POST, &restore, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "not archived any more");
}

async fn an_organization_key_sees_and_changes_only_its_own(app: TestApp) {
    let app = app
        .with_acme()
        .await
        .with_org("ann@example.com", "Beta Works", "beta")
        .await
        .with_user("Bob", "bob@example.com")
        .await
        .with_org("bob@example.com", "Bob Co", "bobco")
        .await;
    let (acme, beta, bobco) = (
        app.workspace_id("acme").await,
        app.workspace_id("beta").await,
        app.workspace_id("bobco").await,
    );
    let key = key_in(&app, "ann@example.com", &acme, &[("name", "acme")]).await;

    let (status, body) = call(&app, &key, Method::GET, "/api/v1/organizations", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body.as_array().map(Vec::len),
        Some(1),
        "only the key's own: {body}"
    );
    assert_eq!(body[0]["id"], acme.as_str());

    let (status, body) = call(
        &app,
        &key,
        Method::GET,
        &format!("/api/v1/organizations/{acme}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["name"], "Acme Corp");

    // Ann's other organization and a stranger's are 404 for this key,
    // whatever the method; nothing changes.
    for other in [&beta, &bobco] {
        let path = format!("/api/v1/organizations/{other}");
        for (method, body) in [
            (Method::GET, None),
            (Method::PATCH, Some(json!({"name": "Taken Over"}))),
            (Method::DELETE, None),
        ] {
            let (status, answer) = call(&app, &key, method.clone(), &path, body).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {answer}");
            assert_eq!(answer["error"]["code"], "not_found");
        }
        let (status, _) = call(&app, &key, Method::POST, &format!("{path}/restore"), None).await;
        assert_ne!(status, StatusCode::OK);
    }
    assert_eq!(app.count("workspaces WHERE name = 'Taken Over'").await, 0);
    assert_eq!(app.count("workspaces WHERE status = 'archived'").await, 0);

    // An organization's key doesn't create organizations.
    let (status, body) = call(
        &app,
        &key,
        Method::POST,
        "/api/v1/organizations",
        Some(json!({"name": "Via Acme"})),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(app.count("workspaces WHERE name = 'Via Acme'").await, 0);
}

async fn organization_changes_follow_the_role_and_the_keys_scope(app: TestApp) {
    let app = app
        .with_acme()
        .await
        .with_member("acme", "Erin", "erin@example.com", "admin")
        .await
        .with_member("acme", "Dave", "dave@example.com", "member")
        .await;
    let acme = app.workspace_id("acme").await;
    let path = format!("/api/v1/organizations/{acme}");
    let erin = key_in(&app, "erin@example.com", &acme, &[("name", "erin")]).await;
    let dave = key_in(&app, "dave@example.com", &acme, &[("name", "dave")]).await;
    let ann_read_only = key_in(
        &app,
        "ann@example.com",
        &acme,
        &[
            ("name", "ro"),
            ("scope", "chosen"),
            ("permissions", "members.read"),
        ],
    )
    .await;

    // Dave (member) reads but may not change or archive.
    let (status, body) = call(&app, &dave, Method::GET, &path, None).await;
    assert_eq!(
        (status, body["role"].as_str()),
        (StatusCode::OK, Some("member")),
        "{body}"
    );
    let (status, body) = call(
        &app,
        &dave,
        Method::PATCH,
        &path,
        Some(json!({"name": "Dave's"})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "forbidden");
    // The owner's key limited to members.read may not either.
    let (status, _) = call(
        &app,
        &ann_read_only,
        Method::PATCH,
        &path,
        Some(json!({"name": "RO"})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = call(&app, &ann_read_only, Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Erin (admin) changes what she names; the rest stays; audited.
    let patch = json!({"name": "Acme Inc", "billing_email": "ap@acme.example"});
    let (status, body) = call(&app, &erin, Method::PATCH, &path, Some(patch)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["name"], "Acme Inc");
    assert_eq!(body["slug"], "acme");
    assert_eq!(body["billing_email"], "ap@acme.example");
    assert_eq!(
        app.count_with(
            "audit_entries WHERE workspace_id = ? AND action = 'organization.update'",
            &[&acme]
        )
        .await,
        1
    );
    let (status, body) = call(
        &app,
        &erin,
        Method::PATCH,
        &path,
        Some(json!({"billing_email": "nope"})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["field"], "billing_email");
    // A NUL byte (which PostgreSQL can't store) is the field's error, not
    // a server error; found by schemathesis.
    for field in ["description", "billing_address"] {
        let patch = json!({ field: "line\u{0}break" });
        let (status, body) = call(&app, &erin, Method::PATCH, &path, Some(patch)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["error"]["field"], field);
    }
    // Archiving is the owner's.
    let (status, _) = call(&app, &erin, Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(app.count("workspaces WHERE status = 'archived'").await, 0);
}

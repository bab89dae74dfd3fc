//! `/projects` and `/projects/{id}`: a workspace's projects and their API
//! keys — shown once, stored as a hash, resolving their project and
//! workspace on `GET /api/v1/key`, dead once revoked — and who may do what.

use reqwest::StatusCode;
use sha2::{Digest, Sha256};

use crate::on_both_backends;
use crate::support::TestApp;

on_both_backends!(
    projects_are_created_edited_and_deleted,
    keys_are_shown_once_and_resolve_their_workspace_until_revoked,
    members_see_projects_and_admins_manage_them,
);

/// `GET /api/v1/key` with `key` as a bearer token: status and JSON body.
async fn ask_with_key(app: &TestApp, key: &str) -> (StatusCode, serde_json::Value) {
    let res = reqwest::Client::new()
        .get(format!("{}/api/v1/key", app.base))
        .bearer_auth(key)
        .send()
        .await
        .expect("API call");
    let status = res.status();
    (status, res.json().await.expect("a JSON body"))
}

async fn projects_are_created_edited_and_deleted(app: TestApp) {
    let app = app.with_acme().await;
    let ann = app.browser("ann@example.com");
    let res = ann
        .submit(
            "/projects",
            "/projects",
            &[("name", "Search"), ("description", "Finds things")],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let id = app.project_id("acme", "Search").await;
    assert_eq!(res.location(), format!("/projects/{id}"));
    let list = ann.get("/projects").await;
    let row = list
        .text_of("tr[data-project=\"Search\"]")
        .unwrap_or_default();
    assert!(row.contains("Finds things"), "{row}");

    // Names are unique within the workspace whatever their case.
    let res = ann
        .submit(
            "/projects",
            "/projects",
            &[("name", "SEARCH"), ("description", "x")],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        res.text_of("#name-error")
            .unwrap_or_default()
            .contains("already has a project of that name")
    );
    assert_eq!(res.attr_of("#name", "value").as_deref(), Some("SEARCH"));
    assert_eq!(res.attr_of("#description", "value").as_deref(), Some("x"));
    let res = ann
        .submit("/projects", "/projects", &[("name", "  ")])
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);

    // Another workspace may have the same name.
    let personal = app.personal_workspace_of("ann@example.com").await;
    assert_eq!(ann.switch_to(&personal).await.status, StatusCode::SEE_OTHER);
    let res = ann
        .submit("/projects", "/projects", &[("name", "Search")])
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert_eq!(
        ann.get(&format!("/projects/{id}")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        ann.switch_to(&app.workspace_id("acme").await).await.status,
        StatusCode::SEE_OTHER
    );

    let page = format!("/projects/{id}");
    let res = ann
        .submit(&page, &page, &[("name", "Lookup"), ("description", "")])
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert_eq!(
        ann.get(&page).await.text_of("h1").as_deref(),
        Some("Lookup")
    );
    let key = app.add_project_key("acme", "Lookup", "ci").await;
    let res = ann.submit(&page, &format!("{page}/delete"), &[]).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert_eq!(ann.get(&page).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        app.count_with("project_keys WHERE project_id = ?", &[&id])
            .await,
        0
    );
    assert_eq!(ask_with_key(&app, &key).await.0, StatusCode::UNAUTHORIZED);
    let acme = app.workspace_id("acme").await;
    for action in [
        "project.create",
        "project.update",
        "project.key.create",
        "project.delete",
    ] {
        assert_eq!(
            app.count_with(
                "audit_entries WHERE workspace_id = ? AND action = ?",
                &[&acme, action]
            )
            .await,
            1,
            "{action}"
        );
    }
}

async fn keys_are_shown_once_and_resolve_their_workspace_until_revoked(app: TestApp) {
    let app = app.with_acme().await.with_project("acme", "Search").await;
    let ann = app.browser("ann@example.com");
    let id = app.project_id("acme", "Search").await;
    let page = format!("/projects/{id}");
    let res = ann
        .submit(&page, &format!("{page}/keys"), &[("key_name", " ")])
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text_of("#key_name-error").is_some());

    let res = ann
        .submit(
            &page,
            &format!("{page}/keys"),
            &[("key_name", "production")],
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let key = res.text_of("#new-key-value").expect("the key, shown once");
    assert!(key.starts_with("tk_"), "{key}");
    assert!(
        res.text_of("#curl-example")
            .unwrap_or_default()
            .contains(&key)
    );
    // Stored as a hash: the key itself is nowhere in the database.
    let stored = app
        .text_value_with(
            "SELECT secret_hash AS value FROM project_keys WHERE name = ?",
            &["production"],
        )
        .await;
    assert_eq!(stored, hex::encode(Sha256::digest(key.as_bytes())));
    assert_eq!(
        app.count_with(
            "audit_entries WHERE details LIKE ?",
            &[&format!("%{}%", &key[20..])]
        )
        .await,
        0,
        "the secret part is not in the audit log"
    );
    // Shown once: the page doesn't show it again.
    let again = ann.get(&page).await;
    assert!(again.text_of("#new-key-value").is_none());
    assert!(!again.body.contains(&key));
    assert!(
        again
            .text_of("tr[data-key=\"production\"]")
            .unwrap_or_default()
            .contains("never"),
        "not used yet"
    );

    let (status, body) = ask_with_key(&app, &key).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["project"]["id"], id.as_str());
    assert_eq!(body["project"]["name"], "Search");
    assert_eq!(
        body["workspace"]["id"],
        app.workspace_id("acme").await.as_str()
    );
    assert_eq!(body["workspace"]["name"], "Acme Corp");
    assert_eq!(body["workspace_kind"], "organization");
    assert!(
        !ann.get(&page)
            .await
            .text_of("tr[data-key=\"production\"]")
            .unwrap_or_default()
            .contains("never"),
        "last used is recorded"
    );
    // A real prefix with a wrong secret, a malformed key, no key: 401.
    let forged = format!("{}{}", &key[..key.len() - 4], "0000");
    for presented in [forged.as_str(), "tk_nope", ""] {
        let (status, body) = ask_with_key(&app, presented).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{presented}");
        assert_eq!(body["error"]["code"], "unauthorized");
    }

    // Revoked: dead at once, listed as revoked.
    let key_id = app
        .text_value_with(
            "SELECT id AS value FROM project_keys WHERE name = ?",
            &["production"],
        )
        .await;
    let revoke = format!("{page}/keys/{key_id}/revoke");
    let res = ann.submit(&page, &revoke, &[]).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert_eq!(ask_with_key(&app, &key).await.0, StatusCode::UNAUTHORIZED);
    assert!(
        ann.get(&page)
            .await
            .text_of("tr[data-key=\"production\"] .status")
            .unwrap_or_default()
            .starts_with("revoked")
    );
    // Revoking twice: nothing to revoke.
    let hidden = crate::support::hidden_fields(&ann.get(&page).await.body, &format!("{page}/keys"));
    assert_eq!(
        ann.post_form(&revoke, &hidden, &[]).await.status,
        StatusCode::NOT_FOUND
    );
}

async fn members_see_projects_and_admins_manage_them(app: TestApp) {
    let app = app
        .with_acme()
        .await
        .with_member("acme", "Dave", "dave@example.com", "member")
        .await
        .with_role("acme", "Auditor", 20, &["audit.read"])
        .await
        .with_member("acme", "Olga", "olga@example.com", "Auditor")
        .await
        .with_project("acme", "Search")
        .await;
    let acme = app.workspace_id("acme").await;
    let dave = app.sign_in("dave@example.com").await;
    assert_eq!(dave.switch_to(&acme).await.status, StatusCode::SEE_OTHER);
    let page = format!("/projects/{}", app.project_id("acme", "Search").await);
    let shown = dave.get(&page).await;
    assert_eq!(shown.status, StatusCode::OK);
    assert!(
        shown.attr_of("#create-key", "type").is_none(),
        "no key form for a member"
    );
    let list = dave.get("/projects").await;
    assert!(
        list.text_of("#new-project").is_none(),
        "no project form for a member"
    );
    let forged = dave.forged_scoped_fields(&acme).await;
    let res = dave
        .post_form("/projects", &forged, &[("name", "Dave's")])
        .await;
    assert_eq!(
        res.status,
        StatusCode::FORBIDDEN,
        "projects need projects.manage"
    );
    assert_eq!(app.count("projects").await, 1);
    let res = dave
        .post_form(&format!("{page}/keys"), &forged, &[("key_name", "mine")])
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "keys need keys.manage");
    assert_eq!(app.count("project_keys").await, 0);

    let olga = app.sign_in("olga@example.com").await;
    assert_eq!(olga.switch_to(&acme).await.status, StatusCode::SEE_OTHER);
    assert_eq!(olga.get("/projects").await.status, StatusCode::FORBIDDEN);
    assert_eq!(olga.get(&page).await.status, StatusCode::FORBIDDEN);
    assert!(
        olga.get("/")
            .await
            .attr_of("#nav-projects", "href")
            .is_none(),
        "no Projects link without resources.read"
    );
}

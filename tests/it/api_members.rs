//! `GET /api/v1/organizations/{org_id}/members` and `…/roles` with a
//! member's API key: the key's workspace only (another's id is 404), the
//! key's permissions only (403), pages by cursor in the `Link` header.

use reqwest::StatusCode;

use crate::api_keys::create_key;
use crate::on_both_backends;
use crate::support::TestApp;

on_both_backends!(
    a_key_lists_its_workspaces_members_and_roles,
    a_key_reads_nothing_of_another_workspace_or_beyond_its_scope,
);

/// `GET path` with `key`: status, `Link` header and JSON body.
async fn get(
    app: &TestApp,
    key: &str,
    path: &str,
) -> (StatusCode, Option<String>, serde_json::Value) {
    let res = reqwest::Client::new()
        .get(format!("{}{path}", app.base))
        .bearer_auth(key)
        .send()
        .await
        .expect("API call");
    let status = res.status();
    let link = res
        .headers()
        .get("link")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (status, link, res.json().await.expect("a JSON body"))
}

async fn a_key_lists_its_workspaces_members_and_roles(app: TestApp) {
    let app = app
        .with_acme()
        .await
        .with_member("acme", "Dave", "dave@example.com", "member")
        .await
        .with_member("acme", "Erin", "erin@example.com", "admin")
        .await
        .with_role("acme", "Auditor", 20, &["audit.read"])
        .await;
    let acme = app.workspace_id("acme").await;
    let key = create_key(&app.browser("ann@example.com"), &[("name", "sync")]).await;
    let members = format!("/api/v1/organizations/{acme}/members");
    let (status, link, body) = get(&app, &key, &members).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(link.is_none(), "one page");
    let emails: Vec<&str> = body
        .as_array()
        .expect("an array")
        .iter()
        .filter_map(|m| m["email"].as_str())
        .collect();
    assert_eq!(emails.len(), 3, "{body}");
    let dave = body
        .as_array()
        .and_then(|all| all.iter().find(|m| m["email"] == "dave@example.com"))
        .expect("Dave");
    assert_eq!(dave["role_name"], "member");
    assert_eq!(dave["organization_id"], acme.as_str());
    assert_eq!(dave["status"], "active");
    assert_eq!(
        dave["id"],
        app.membership_of("acme", "dave@example.com").await.as_str()
    );

    // Pages of one, by the Link header, reach everyone once.
    let mut seen = Vec::new();
    let mut next = Some(format!("{members}?limit=1"));
    while let Some(path) = next {
        let (status, link, body) = get(&app, &key, &path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        seen.extend(
            body.as_array()
                .expect("an array")
                .iter()
                .map(|m| m["email"].clone()),
        );
        next = link.map(|l| {
            l.trim_start_matches('<')
                .split('>')
                .next()
                .unwrap_or_default()
                .to_owned()
        });
        assert!(seen.len() <= 3, "pages end");
    }
    assert_eq!(seen.len(), 3);
    let (_, _, found) = get(&app, &key, &format!("{members}?q=ERIN")).await;
    assert_eq!(found.as_array().map(Vec::len), Some(1), "{found}");
    assert_eq!(found[0]["email"], "erin@example.com");

    let roles = format!("/api/v1/organizations/{acme}/roles");
    let (status, _, body) = get(&app, &key, &roles).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let names: Vec<&str> = body
        .as_array()
        .expect("an array")
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert_eq!(names, ["owner", "admin", "Auditor", "member"], "{body}");
    let (_, _, custom) = get(&app, &key, &format!("{roles}?include_system=false")).await;
    assert_eq!(custom.as_array().map(Vec::len), Some(1), "{custom}");
    assert_eq!(custom[0]["permissions"], serde_json::json!(["audit.read"]));
    assert_eq!(custom[0]["is_system"], false);
}

async fn a_key_reads_nothing_of_another_workspace_or_beyond_its_scope(app: TestApp) {
    let app = app
        .with_acme()
        .await
        .with_org("ann@example.com", "Beta Works", "beta")
        .await;
    let (acme, beta) = (
        app.workspace_id("acme").await,
        app.workspace_id("beta").await,
    );
    let ann = app.browser("ann@example.com");
    let beta_key = create_key(&ann, &[("name", "beta")]).await;
    assert_eq!(ann.switch_to(&acme).await.status, StatusCode::SEE_OTHER);
    let narrow = create_key(
        &ann,
        &[
            ("name", "billing"),
            ("scope", "chosen"),
            ("permissions", "billing.read"),
        ],
    )
    .await;
    for path in ["members", "roles"] {
        let (status, _, body) = get(
            &app,
            &beta_key,
            &format!("/api/v1/organizations/{acme}/{path}"),
        )
        .await;
        assert_eq!(
            status,
            StatusCode::NOT_FOUND,
            "Beta's key on Acme's {path}: {body}"
        );
        assert!(!body.to_string().contains("ann@example.com"));
        let (status, _, body) = get(
            &app,
            &narrow,
            &format!("/api/v1/organizations/{acme}/{path}"),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {body}");
        assert_eq!(body["error"]["code"], "forbidden");
        let (status, _, _) = get(&app, "", &format!("/api/v1/organizations/{beta}/{path}")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (status, _, _) = get(
        &app,
        &beta_key,
        &format!("/api/v1/organizations/{beta}/members"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}

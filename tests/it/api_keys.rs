//! `/api-keys` and `POST /api/v1/authorize`: a member's API keys — shown
//! once, stored as a hash, acting as their holder in one workspace and
//! never beyond the holder's role, dead when revoked, expired, or when the
//! holder leaves or is demoted below the key's scope (within a second) —
//! and who sees and revokes whose.

use std::time::Duration;

use reqwest::StatusCode;
use sha2::{Digest, Sha256};

use crate::on_both_backends;
use crate::support::{Client, TestApp, hidden_fields};

on_both_backends!(
    keys_are_shown_once_and_authorize_until_revoked,
    the_key_form_keeps_what_was_typed_and_says_what_is_wrong,
    a_key_does_no_more_than_its_scope_and_its_holders_role,
    a_key_dies_with_its_holders_access,
    expired_keys_and_suspended_workspaces_are_refused,
    authorize_knows_only_the_keys_workspaces_resources,
    key_managers_see_and_revoke_every_members_keys,
    a_key_revoked_on_one_instance_is_refused_by_another_within_a_second,
);

/// Creates a key on `/api-keys` in the browser's active workspace:
/// `fields` over a standard key with every permission that never expires.
/// Returns the key, shown once.
pub async fn create_key(browser: &Client, fields: &[(&str, &str)]) -> String {
    let res = browser
        .submit("/api-keys", "/api-keys", &with_defaults(fields))
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    res.text_of("#new-key-value").expect("the key, shown once")
}

fn with_defaults<'a>(fields: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut all = fields.to_vec();
    for default in [("kind", "standard"), ("scope", "all"), ("expires", "never")] {
        if !fields.iter().any(|(name, _)| *name == default.0) {
            all.push(default);
        }
    }
    all
}

/// `POST /api/v1/authorize` for `permission` with `key`: status and body.
pub async fn authorize(
    app: &TestApp,
    key: &str,
    permission: &str,
) -> (StatusCode, serde_json::Value) {
    ask(app, key, serde_json::json!({ "permission": permission })).await
}

async fn ask(app: &TestApp, key: &str, body: serde_json::Value) -> (StatusCode, serde_json::Value) {
    ask_at(&app.base, key, body).await
}

/// The question asked of the instance at `base`.
async fn ask_at(base: &str, key: &str, body: serde_json::Value) -> (StatusCode, serde_json::Value) {
    let res = reqwest::Client::new()
        .post(format!("{base}/api/v1/authorize"))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .expect("API call");
    let status = res.status();
    (status, res.json().await.expect("a JSON body"))
}

/// Longer than an answer is reused: a change must show by then.
async fn a_second_later() {
    tokio::time::sleep(Duration::from_millis(1_000)).await;
}

async fn keys_are_shown_once_and_authorize_until_revoked(app: TestApp) {
    let app = app.with_acme().await.with_funds("acme", "12").await;
    let ann = app.browser("ann@example.com");
    let key = create_key(
        &ann,
        &[
            ("name", "CI"),
            ("description", "Deploys"),
            ("kind", "ai_agent"),
        ],
    )
    .await;
    assert!(key.starts_with("tkm_"), "{key}");
    let page = ann.get("/api-keys").await;
    assert!(!page.body.contains(&key), "shown once");
    let row = page.text_of("tr[data-key=\"CI\"]").unwrap_or_default();
    assert!(row.contains("AI agent") && row.contains("Deploys"), "{row}");
    assert!(row.contains("never"), "not used yet: {row}");
    let stored = app
        .text_value_with(
            "SELECT secret_hash AS value FROM api_keys WHERE name = ?",
            &["CI"],
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
        "the secret is not in the audit log"
    );
    assert_eq!(
        app.count("audit_entries WHERE action = 'api_key.create'")
            .await,
        1
    );

    let (status, body) = authorize(&app, &key, "members.invite").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["allowed"], true);
    assert_eq!(body["permission"], "members.invite");
    assert_eq!(body["key"]["kind"], "ai_agent");
    assert_eq!(body["member"]["email"], "ann@example.com");
    assert_eq!(
        body["workspace"]["id"],
        app.workspace_id("acme").await.as_str()
    );
    assert_eq!(body["workspace"]["name"], "Acme Corp");
    assert_eq!(body["workspace"]["status"], "active");
    assert_eq!(body["wallet"]["balance"], 12_000_000);
    assert_eq!(body["wallet"]["remaining"], 12_000_000);
    assert_eq!(
        app.count("api_keys WHERE name = 'CI' AND last_used_at IS NOT NULL")
            .await,
        1
    );

    // Unknown permission: 422 naming the field; no key, a forged or a
    // project's key shape: 401.
    let (status, body) = authorize(&app, &key, "everything").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["field"], "permission");
    let forged = format!("{}{}", &key[..key.len() - 4], "0000");
    for presented in [forged.as_str(), "tkm_nope", "tk_abc"] {
        let (status, body) = authorize(&app, presented, "members.read").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{presented}");
        assert_eq!(body["error"]["code"], "unauthorized");
        assert!(body["error"].get("field").is_none(), "no field: {body}");
    }
    let res = reqwest::Client::new()
        .post(format!("{}/api/v1/authorize", app.base))
        .body("permission=members.read")
        .bearer_auth(&key)
        .send()
        .await
        .expect("API call");
    assert_eq!(res.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    // Revoked: refused within a second, for good.
    let id = app
        .text_value_with("SELECT id AS value FROM api_keys WHERE name = ?", &["CI"])
        .await;
    let revoke = format!("/api-keys/{id}/revoke");
    let res = ann.submit("/api-keys", &revoke, &[]).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    a_second_later().await;
    assert_eq!(
        authorize(&app, &key, "members.read").await.0,
        StatusCode::UNAUTHORIZED
    );
    let status = ann
        .get("/api-keys")
        .await
        .text_of("tr[data-key=\"CI\"] .status")
        .unwrap_or_default();
    assert!(status.starts_with("revoked"), "{status}");
    let hidden = hidden_fields(&ann.get("/api-keys").await.body, "/api-keys");
    assert_eq!(
        ann.post_form(&revoke, &hidden, &[]).await.status,
        StatusCode::CONFLICT
    );
    assert_eq!(
        app.count("audit_entries WHERE action = 'api_key.revoke'")
            .await,
        1
    );
}

async fn the_key_form_keeps_what_was_typed_and_says_what_is_wrong(app: TestApp) {
    let app = app.with_acme().await;
    let ann = app.browser("ann@example.com");
    let res = ann
        .submit(
            "/api-keys",
            "/api-keys",
            &[
                ("name", " "),
                ("description", "Nightly"),
                ("kind", "ai_agent"),
                ("scope", "chosen"),
                ("expires", "date"),
                ("expires_on", "2001-01-01"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);
    assert!(res.text_of("#name-error").is_some());
    assert!(
        res.text_of("#permissions-error")
            .unwrap_or_default()
            .contains("at least one")
    );
    assert!(
        res.text_of("#expires_on-error")
            .unwrap_or_default()
            .contains("after today")
    );
    assert_eq!(
        res.attr_of("#description", "value").as_deref(),
        Some("Nightly")
    );
    assert_eq!(
        res.attr_of("#expires_on", "value").as_deref(),
        Some("2001-01-01")
    );
    assert!(
        res.attr_of("input[name=kind][value=ai_agent]", "checked")
            .is_some(),
        "the type chosen stays chosen"
    );
    assert!(
        res.attr_of("input[name=scope][value=chosen]", "checked")
            .is_some()
    );
    let res = ann
        .submit(
            "/api-keys",
            "/api-keys",
            &with_defaults(&[
                ("name", "x"),
                ("scope", "chosen"),
                ("permissions", "members.read"),
                ("permissions", "made.up"),
                ("kind", "root"),
            ]),
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text_of("#kind-error").is_some());
    assert!(res.text_of("#permissions-error").is_some());
    assert!(
        res.attr_of("input[name=permissions][value=\"members.read\"]", "checked")
            .is_some(),
        "ticked boxes stay ticked"
    );
    assert_eq!(app.count("api_keys").await, 0, "nothing half-written");
}

async fn a_key_does_no_more_than_its_scope_and_its_holders_role(app: TestApp) {
    let app = app
        .with_acme()
        .await
        .with_member("acme", "Dave", "dave@example.com", "member")
        .await;
    let dave = app.browser("dave@example.com");
    assert_eq!(
        dave.switch_to(&app.workspace_id("acme").await).await.status,
        StatusCode::SEE_OTHER
    );
    // A member can't give a key what their role doesn't have.
    let res = dave
        .submit(
            "/api-keys",
            "/api-keys",
            &with_defaults(&[
                ("name", "sneaky"),
                ("scope", "chosen"),
                ("permissions", "members.manage"),
            ]),
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        res.text_of("#permissions-error")
            .unwrap_or_default()
            .contains("more than your role")
    );
    let narrow = create_key(
        &dave,
        &[
            ("name", "read"),
            ("scope", "chosen"),
            ("permissions", "resources.read"),
        ],
    )
    .await;
    let (status, body) = authorize(&app, &narrow, "resources.read").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["member"]["email"], "dave@example.com");
    let (status, body) = authorize(&app, &narrow, "members.read").await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "outside the key's scope: {body}"
    );
    assert_eq!(body["error"]["code"], "forbidden");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("key's scope"),
        "the message speaks of the key, not only the role: {body}"
    );
    // A key with everything: what the member's role allows, no more.
    let broad = create_key(&dave, &[("name", "all")]).await;
    assert_eq!(
        authorize(&app, &broad, "members.read").await.0,
        StatusCode::OK
    );
    assert_eq!(
        authorize(&app, &broad, "members.invite").await.0,
        StatusCode::FORBIDDEN
    );
    // The key is Acme's: Dave's personal workspace has its own keys.
    let personal = app.personal_workspace_of("dave@example.com").await;
    assert_eq!(
        dave.switch_to(&personal).await.status,
        StatusCode::SEE_OTHER
    );
    let page = dave.get("/api-keys").await;
    assert!(page.text_of("#no-keys").is_some(), "{}", page.body);
    let own = create_key(&dave, &[("name", "mine")]).await;
    let (_, body) = authorize(&app, &own, "members.read").await;
    assert_eq!(body["workspace"]["id"], personal.as_str());
    assert_eq!(body["workspace"]["kind"], "personal");
}

async fn a_key_dies_with_its_holders_access(app: TestApp) {
    let app = app
        .with_acme()
        .await
        .with_member("acme", "Dave", "dave@example.com", "admin")
        .await
        .with_member("acme", "Erin", "erin@example.com", "member")
        .await;
    let acme = app.workspace_id("acme").await;
    let (dave, erin) = (
        app.browser("dave@example.com"),
        app.browser("erin@example.com"),
    );
    for browser in [&dave, &erin] {
        assert_eq!(browser.switch_to(&acme).await.status, StatusCode::SEE_OTHER);
    }
    let inviting = create_key(
        &dave,
        &[
            ("name", "invites"),
            ("scope", "chosen"),
            ("permissions", "members.invite"),
        ],
    )
    .await;
    let following = create_key(&dave, &[("name", "all")]).await;
    let erins = create_key(&erin, &[("name", "erin")]).await;
    assert_eq!(
        authorize(&app, &inviting, "members.invite").await.0,
        StatusCode::OK
    );
    assert_eq!(
        authorize(&app, &following, "members.invite").await.0,
        StatusCode::OK
    );

    // Demoted below the key's scope: that key dies; the key that follows
    // the role loses what the role lost.
    app.set_member_role("acme", "dave@example.com", "member")
        .await;
    a_second_later().await;
    assert_eq!(
        authorize(&app, &inviting, "members.invite").await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        authorize(&app, &following, "members.invite").await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        authorize(&app, &following, "members.read").await.0,
        StatusCode::OK
    );

    // Deactivated: every key of theirs stops; removed: gone.
    app.deactivate_member("acme", "erin@example.com").await;
    app.remove_member("acme", "dave@example.com").await;
    a_second_later().await;
    for key in [&inviting, &following, &erins] {
        assert_eq!(
            authorize(&app, key, "members.read").await.0,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        app.count_with(
            "api_keys WHERE workspace_id = ? AND name IN ('invites', 'all')",
            &[&acme]
        )
        .await,
        0,
        "a removed member's keys go with the membership"
    );
}

async fn expired_keys_and_suspended_workspaces_are_refused(app: TestApp) {
    let app = app.with_acme().await;
    let ann = app.browser("ann@example.com");
    let tomorrow = (chrono::Utc::now() + chrono::Duration::days(1))
        .format("%Y-%m-%d")
        .to_string();
    let key = create_key(
        &ann,
        &[
            ("name", "short"),
            ("expires", "date"),
            ("expires_on", &tomorrow),
        ],
    )
    .await;
    let row = ann
        .get("/api-keys")
        .await
        .text_of("tr[data-key=\"short\"]")
        .unwrap_or_default();
    assert!(row.contains(&tomorrow) || row.contains("UTC"), "{row}");
    let thirty = create_key(&ann, &[("name", "month"), ("expires", "30")]).await;
    assert_eq!(
        app.count("api_keys WHERE name = 'month' AND expires_at IS NOT NULL")
            .await,
        1
    );
    assert_eq!(
        authorize(&app, &key, "members.read").await.0,
        StatusCode::OK
    );
    app.execute("UPDATE api_keys SET expires_at = '2001-01-01 00:00:00' WHERE name = 'short'")
        .await;
    a_second_later().await;
    assert_eq!(
        authorize(&app, &key, "members.read").await.0,
        StatusCode::UNAUTHORIZED
    );
    let status = ann
        .get("/api-keys")
        .await
        .text_of("tr[data-key=\"short\"] .status")
        .unwrap_or_default();
    assert_eq!(status, "expired");

    app.execute("UPDATE workspaces SET status = 'suspended' WHERE slug = 'acme'")
        .await;
    a_second_later().await;
    let (status, body) = authorize(&app, &thirty, "members.read").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "workspace_suspended");
}

async fn authorize_knows_only_the_keys_workspaces_resources(app: TestApp) {
    let app = app
        .with_acme()
        .await
        .with_project("acme", "Search")
        .await
        .with_org("ann@example.com", "Beta Works", "beta")
        .await
        .with_project("beta", "Beta Project")
        .await;
    let ann = app.browser("ann@example.com");
    assert_eq!(
        ann.switch_to(&app.workspace_id("acme").await).await.status,
        StatusCode::SEE_OTHER
    );
    let key = create_key(&ann, &[("name", "acme")]).await;
    let ours = app.project_id("acme", "Search").await;
    let theirs = app.project_id("beta", "Beta Project").await;
    let on = |id: &str| serde_json::json!({ "permission": "resources.read", "resource": { "type": "project", "id": id } });
    let (status, body) = ask(&app, &key, on(&ours)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = ask(&app, &key, on(&theirs)).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "another workspace's project: {body}"
    );
    assert_eq!(body["error"]["code"], "not_found");
    let (status, body) = ask(
        &app,
        &key,
        serde_json::json!({ "permission": "resources.read", "resource": { "type": "planet", "id": ours } }),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["field"], "resource");
}

async fn key_managers_see_and_revoke_every_members_keys(app: TestApp) {
    let app = app
        .with_acme()
        .await
        .with_member("acme", "Dave", "dave@example.com", "member")
        .await;
    let acme = app.workspace_id("acme").await;
    let (ann, dave) = (
        app.browser("ann@example.com"),
        app.browser("dave@example.com"),
    );
    assert_eq!(dave.switch_to(&acme).await.status, StatusCode::SEE_OTHER);
    create_key(&ann, &[("name", "ann's")]).await;
    let daves = create_key(&dave, &[("name", "dave's")]).await;
    let page = dave.get("/api-keys").await;
    assert!(page.text_of("tr[data-key=\"dave's\"]").is_some());
    assert!(
        page.text_of("tr[data-key=\"ann's\"]").is_none(),
        "a member sees their own"
    );
    let page = ann.get("/api-keys").await;
    let row = page.text_of("tr[data-key=\"dave's\"]").unwrap_or_default();
    assert!(
        row.contains("dave@example.com"),
        "the owner sees every key: {row}"
    );

    // Dave can't revoke Ann's key; Ann can revoke Dave's.
    let anns_id = app
        .text_value_with(
            "SELECT id AS value FROM api_keys WHERE name = ?",
            &["ann's"],
        )
        .await;
    let daves_id = app
        .text_value_with(
            "SELECT id AS value FROM api_keys WHERE name = ?",
            &["dave's"],
        )
        .await;
    let hidden = hidden_fields(&dave.get("/api-keys").await.body, "/api-keys");
    let res = dave
        .post_form(&format!("/api-keys/{anns_id}/revoke"), &hidden, &[])
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert_eq!(app.count("api_keys WHERE revoked_at IS NOT NULL").await, 0);
    let res = ann
        .submit("/api-keys", &format!("/api-keys/{daves_id}/revoke"), &[])
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    a_second_later().await;
    assert_eq!(
        authorize(&app, &daves, "members.read").await.0,
        StatusCode::UNAUTHORIZED
    );
    let by = app
        .text_value_with(
            "SELECT u.email AS value FROM api_keys k JOIN users u ON u.id = k.revoked_by WHERE k.name = ?",
            &["dave's"],
        )
        .await;
    assert_eq!(by, "ann@example.com");
}

/// Two instances on one database: the second has just answered for the
/// key (so it remembers the answer) when the first revokes it; the second
/// refuses it within a second.
async fn a_key_revoked_on_one_instance_is_refused_by_another_within_a_second(app: TestApp) {
    let app = app.with_acme().await;
    let ann = app.browser("ann@example.com");
    let key = create_key(&ann, &[("name", "shared")]).await;
    let other = app.another_instance();
    let question = || serde_json::json!({ "permission": "members.read" });
    let (status, body) = ask_at(&other.base, &key, question()).await;
    assert_eq!(status, StatusCode::OK, "the other instance answers: {body}");
    let id = app
        .text_value_with(
            "SELECT id AS value FROM api_keys WHERE name = ?",
            &["shared"],
        )
        .await;
    let res = ann
        .submit("/api-keys", &format!("/api-keys/{id}/revoke"), &[])
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let revoked_at = std::time::Instant::now();
    assert_eq!(
        authorize(&app, &key, "members.read").await.0,
        StatusCode::UNAUTHORIZED,
        "refused at once where it was revoked"
    );
    loop {
        let (status, _) = ask_at(&other.base, &key, question()).await;
        if status == StatusCode::UNAUTHORIZED {
            break;
        }
        assert_eq!(status, StatusCode::OK);
        assert!(
            revoked_at.elapsed() < Duration::from_secs(1),
            "the other instance still accepts the key a second after its revocation"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A key of `email`'s in `workspace` (they switch to it first), created
/// on the API keys page with `fields` (defaults: standard, everything the
/// role allows, never expiring).
pub async fn key_in(
    app: &TestApp,
    email: &str,
    workspace: &str,
    fields: &[(&str, &str)],
) -> String {
    let browser = app.browser(email);
    let res = browser.switch_to(workspace).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "switch to {workspace}");
    create_key(&browser, fields).await
}

/// One API call at `base` with `key`: status, `Retry-After` header and the
/// JSON body (null when there is none, as for 204).
pub async fn call_at(
    base: &str,
    key: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> (StatusCode, Option<String>, serde_json::Value) {
    let mut request = reqwest::Client::new()
        .request(method, format!("{base}{path}"))
        .bearer_auth(key);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let res = request.send().await.expect("API call");
    let status = res.status();
    let retry_after = res
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let text = res.text().await.expect("a body");
    let json = if text.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
    };
    (status, retry_after, json)
}

/// [`call_at`] on the test app: status and JSON body.
pub async fn call(
    app: &TestApp,
    key: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> (StatusCode, serde_json::Value) {
    let (status, _, json) = call_at(&app.base, key, method, path, body).await;
    (status, json)
}

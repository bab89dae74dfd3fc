//! The context switcher (`POST /context`) and context links
//! (`/o/{slug}/{path}`): moving between the personal workspace and
//! organizations, and forms rendered before a switch.

use reqwest::StatusCode;

use crate::on_both_backends;
use crate::support::{TestApp, hidden_fields};

on_both_backends!(
    switcher_moves_between_personal_and_organizations,
    context_links_switch_and_continue,
    form_from_before_a_switch_is_refused,
);

async fn switcher_moves_between_personal_and_organizations(app: TestApp) {
    let app = app.with_acme().await;
    let ann = app.browser("ann@example.com");
    let acme = app.workspace_id("acme").await;
    let personal = app
        .text_value("SELECT w.id AS value FROM workspaces w JOIN users u ON u.id = w.personal_owner_id WHERE u.email = 'ann@example.com'")
        .await;
    let res = ann.switch_to(&personal).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(
        ann.get("/").await.text_of("#workspace-title").as_deref(),
        Some("Personal workspace")
    );
    // The switcher returns to the page it was used on.
    let account = ann.get("/account").await;
    let mut form = hidden_fields(&account.body, "/context");
    form.retain(|(name, _)| name != "workspace_id");
    assert!(form.contains(&("return_to".to_owned(), "/account".to_owned())));
    let res = ann
        .post_form("/context", &form, &[("workspace_id", &acme)])
        .await;
    assert_eq!(res.location(), "/account");
    assert_eq!(
        ann.get("/").await.text_of("#workspace-title").as_deref(),
        Some("Acme Corp")
    );
    // An outside return_to is ignored.
    let res = ann
        .post_form(
            "/context",
            &form,
            &[
                ("workspace_id", &personal),
                ("return_to", "https://evil.test/"),
            ],
        )
        .await;
    assert_eq!(res.location(), "/");
}

async fn context_links_switch_and_continue(app: TestApp) {
    let app = app.with_acme().await;
    let ann = app.browser("ann@example.com");
    let personal = app
        .text_value("SELECT w.id AS value FROM workspaces w JOIN users u ON u.id = w.personal_owner_id WHERE u.email = 'ann@example.com'")
        .await;
    ann.switch_to(&personal).await;
    let res = ann.get("/o/acme/audit?action=organization.create").await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(res.location(), "/audit?action=organization.create");
    assert_eq!(
        ann.get("/").await.text_of("#workspace-title").as_deref(),
        Some("Acme Corp")
    );
    assert_eq!(
        ann.get("/o/nope/settings/general").await.status,
        StatusCode::NOT_FOUND
    );
    let stranger = app.client();
    assert!(
        stranger
            .get("/o/acme/settings/general")
            .await
            .location()
            .starts_with("/login?next=")
    );
}

async fn form_from_before_a_switch_is_refused(app: TestApp) {
    let app = app.with_acme().await;
    let ann = app.browser("ann@example.com");
    let tab_one = ann.get("/settings/general").await;
    let stale = hidden_fields(&tab_one.body, "/settings/general");
    let personal = app
        .text_value("SELECT w.id AS value FROM workspaces w JOIN users u ON u.id = w.personal_owner_id WHERE u.email = 'ann@example.com'")
        .await;
    ann.switch_to(&personal).await;
    let res = ann
        .post_form(
            "/settings/general",
            &stale,
            &[("name", "Renamed"), ("slug", "renamed")],
        )
        .await;
    assert_eq!(res.status, StatusCode::CONFLICT);
    assert_eq!(res.text_of("h1").as_deref(), Some("You switched workspace"));
    let message = res.text_of("#error-message").expect("message");
    assert!(
        message.contains("“Acme Corp”")
            && message.contains("“Personal”")
            && message.contains("Nothing was changed"),
        "{message}"
    );
    assert_eq!(
        app.count("workspaces WHERE name = 'Acme Corp' AND slug = 'acme'")
            .await,
        1
    );
}

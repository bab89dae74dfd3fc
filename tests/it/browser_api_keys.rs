//! Browser journey in headless Chromium: a member's API key, from the user
//! menu to a working key and its revocation. Screenshots: `api-key-created-…`,
//! `api-key-revoked-…`.

use std::path::Path;

use fantoccini::Locator;

use crate::browser_support::*;
use crate::support::TestApp;

#[actix_web::test]
async fn create_use_and_revoke_a_key_on_sqlite() {
    let Some(chromedriver) = chromedriver_or_skip() else {
        return;
    };
    let app = TestApp::sqlite().await;
    create_use_and_revoke_a_key(&app, &chromedriver).await;
}

#[actix_web::test]
async fn create_use_and_revoke_a_key_on_postgres() {
    let Some(chromedriver) = chromedriver_or_skip() else {
        return;
    };
    let Some(app) = TestApp::postgres().await else {
        return;
    };
    create_use_and_revoke_a_key(&app, &chromedriver).await;
}

/// `POST /api/v1/authorize` for `members.read` with `key`: the status.
async fn authorize(app: &TestApp, key: &str) -> reqwest::StatusCode {
    reqwest::Client::new()
        .post(format!("{}/api/v1/authorize", app.base))
        .bearer_auth(key)
        .json(&serde_json::json!({"permission": "members.read"}))
        .send()
        .await
        .expect("API call")
        .status()
}

/// Ann creates an organization, opens API keys from the user menu, first
/// forgets the name (the message is beside the field and her description
/// stays), then creates a key limited to seeing members, expiring in 30
/// days → it is shown once with a copy button and a curl example, and
/// works → she revokes it → the list says so and the key is refused.
async fn create_use_and_revoke_a_key(app: &TestApp, chromedriver: &Path) {
    let browser = Browser::start(chromedriver).await;
    let ann = &browser.client;
    sign_up(ann, app, "Ann Example", "ann@example.com").await;
    create_organization(ann, "Acme Corp").await;
    open_user_menu(ann).await;
    let link = ann
        .find(Locator::Css("#nav-api-keys"))
        .await
        .expect("API keys in the user menu");
    click_element_and_wait_for_next_page(ann, &link, "the user menu's API keys link").await;
    expect_path(ann, "/api-keys").await;
    expect_text(ann, "h1", "API keys").await;
    find(ann, "#no-keys").await;

    type_into(ann, "#description", "Nightly member sync").await;
    click_and_wait_for_next_page(ann, "#create-key").await;
    find(ann, "#name-error").await;
    assert_eq!(value_of(ann, "#description").await, "Nightly member sync");

    type_into(ann, "#name", "sync").await;
    find(ann, "input[name=scope][value=chosen]")
        .await
        .click()
        .await
        .expect("choose permissions");
    // The permissions are grouped as in the role editor; she opens Members.
    let group = "details:has(input[value='members.read']) > summary";
    scroll_to(ann, group).await;
    find(ann, group)
        .await
        .click()
        .await
        .expect("open the Members group");
    let tick = "label:has(input[name=permissions][value='members.read'])";
    let label = serde_json::to_value(find(ann, tick).await).expect("an element");
    ann.execute(
        "arguments[0].scrollIntoView({ block: 'center', behavior: 'instant' });",
        vec![label],
    )
    .await
    .expect("scroll to members.read");
    find(ann, tick)
        .await
        .click()
        .await
        .expect("tick members.read");
    assert!(
        find(ann, "input[name=permissions][value='members.read']")
            .await
            .is_selected()
            .await
            .expect("read the checkbox"),
        "members.read is ticked"
    );
    find(ann, "input[name=expires][value='30']")
        .await
        .click()
        .await
        .expect("30 days");
    click_and_wait_for_next_page(ann, "#create-key").await;
    let key = text_of(ann, "#new-key-value").await;
    assert!(key.starts_with("tkm_"), "{key}");
    let curl = text_of(ann, "#curl-example").await;
    assert!(
        curl.contains(&key) && curl.contains("/api/v1/authorize"),
        "{curl}"
    );
    let row = text_of(ann, "#keys-table tr[data-key='sync']").await;
    for shown in ["Nightly member sync", "Standard", "members.read", "active"] {
        assert!(
            row.contains(shown),
            "the key's row shows {shown:?}: {row:?}"
        );
    }
    assert!(!row.contains(&key), "the list shows the prefix only: {row}");
    save_screenshot(ann, app.backend, "api-key-created").await;

    // The copy button answers (the clipboard may be refused headless; the
    // button then says how to copy by hand).
    find(ann, "#copy-key")
        .await
        .click()
        .await
        .expect("click Copy");
    let mut label = String::from("Copy");
    for _ in 0..40 {
        label = text_of(ann, "#copy-key").await;
        if label != "Copy" {
            break;
        }
        tokio::time::sleep(POLL).await;
    }
    assert!(
        label == "Copied" || label == "Select the key and copy it",
        "{label}"
    );

    assert_eq!(authorize(app, &key).await, reqwest::StatusCode::OK);

    click_and_wait_for_next_page(ann, "#keys-table tr[data-key='sync'] button[type=submit]").await;
    expect_path(ann, "/api-keys").await;
    let status = text_of(ann, "#keys-table tr[data-key='sync'] .status").await;
    assert!(status.starts_with("revoked"), "{status}");
    assert_absent(ann, "#new-key-value").await;
    save_screenshot(ann, app.backend, "api-key-revoked").await;
    assert_eq!(
        authorize(app, &key).await,
        reqwest::StatusCode::UNAUTHORIZED
    );
    browser.close().await;
}

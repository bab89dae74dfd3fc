//! Browser journey in headless Chromium: create an organization, switch
//! between it and the personal workspace, rename it in General settings.
//! Screenshots: `org-switcher-…`, `org-general-…`.

use std::path::Path;
use std::time::Instant;

use fantoccini::Locator;

use crate::browser_contrast::assert_menus_readable;
use crate::browser_support::*;
use crate::support::TestApp;

#[actix_web::test]
async fn create_switch_rename_organization_on_sqlite() {
    let Some(chromedriver) = chromedriver_or_skip() else {
        return;
    };
    let app = TestApp::sqlite().await;
    create_switch_rename_organization(&app, &chromedriver).await;
}

#[actix_web::test]
async fn create_switch_rename_organization_on_postgres() {
    let Some(chromedriver) = chromedriver_or_skip() else {
        return;
    };
    let Some(app) = TestApp::postgres().await else {
        return;
    };
    create_switch_rename_organization(&app, &chromedriver).await;
}

/// Create an organization from the switcher → switch to Personal and back →
/// rename the organization in General settings, asserting what the user sees
/// (and, on the way, that the dropdown menus' entries are readable).
async fn create_switch_rename_organization(app: &TestApp, chromedriver: &Path) {
    let started = Instant::now();
    let browser = Browser::start(chromedriver).await;
    let c = &browser.client;
    let launched = started.elapsed();
    sign_up(c, app, "Olga Owner", "olga@example.com").await;

    // Create an organization from the switcher, leaving the slug to be
    // derived from the name.
    open_switcher(c).await;
    assert_eq!(switcher_names(c).await, ["Personal"]);
    click_and_wait_for_next_page(c, "#switcher-create").await;
    expect_path(c, "/organizations/new").await;
    expect_text(c, "h1", "New organization").await;
    type_into(c, "#name", "Acme Corp").await;
    assert_eq!(value_of(c, "#slug").await, "", "the slug starts empty");
    click_and_wait_for_next_page(c, "#create-organization").await;

    // Its dashboard: the new organization is the active workspace.
    expect_path(c, "/").await;
    expect_text(c, "#workspace-title", "Acme Corp").await;
    expect_text(c, "#flash", "Acme Corp was created. You are its owner.").await;
    expect_text(c, "#switcher summary .switcher-label", "Acme Corp").await;
    let acme = app.workspace_id("acme-corp").await;
    assert_eq!(
        current_switcher_entry(c).await,
        acme,
        "the switcher marks acme-corp as the current workspace"
    );
    open_switcher(c).await;
    assert_eq!(switcher_names(c).await, ["Personal", "Acme Corp"]);
    save_screenshot(c, app.backend, "org-switcher").await;

    // Every entry of both dropdowns can be read.
    assert_menus_readable(c).await;

    // To Personal and back, with the switcher's buttons.
    switch_to(c, "Personal").await;
    expect_path(c, "/").await;
    expect_text(c, "#workspace-title", "Personal workspace").await;
    expect_text(c, "#switcher summary .switcher-label", "Personal").await;
    assert_absent(c, "#switcher-settings").await;
    switch_to(c, "Acme Corp").await;
    expect_path(c, "/").await;
    expect_text(c, "#workspace-title", "Acme Corp").await;
    expect_text(c, "#switcher summary .switcher-label", "Acme Corp").await;
    assert_eq!(current_switcher_entry(c).await, acme);

    // Rename it in General settings, opened from the top bar.
    let settings = c
        .find(Locator::LinkText("Settings"))
        .await
        .expect("a Settings link in the top bar of an organization");
    click_element_and_wait_for_next_page(c, &settings, "the top bar's Settings link").await;
    expect_path(c, "/settings/general").await;
    expect_text(c, "h1", "Acme Corp settings").await;
    assert_eq!(value_of(c, "#name").await, "Acme Corp");
    assert_eq!(value_of(c, "#slug").await, "acme-corp");
    type_into(c, "#name", "Acme Industries").await;
    click_and_wait_for_next_page(c, "#save-general").await;

    // Saved: the page, the top bar and the switcher show the new name.
    expect_path(c, "/settings/general").await;
    expect_text(c, "#flash", "Organization settings were saved.").await;
    expect_text(c, "h1", "Acme Industries settings").await;
    assert_eq!(value_of(c, "#name").await, "Acme Industries");
    assert_eq!(value_of(c, "#slug").await, "acme-corp", "the slug is kept");
    expect_text(c, "#switcher summary .switcher-label", "Acme Industries").await;
    save_screenshot(c, app.backend, "org-general").await;
    open_switcher(c).await;
    assert_eq!(switcher_names(c).await, ["Personal", "Acme Industries"]);

    assert_eq!(
        app.count(
            "workspaces WHERE kind = 'organization' AND name = 'Acme Industries' \
             AND slug = 'acme-corp'"
        )
        .await,
        1
    );
    assert_eq!(
        app.count("audit_entries WHERE action = 'organization.update'")
            .await,
        1,
        "one audit entry for the rename"
    );
    assert_eq!(
        app.count_with(
            "audit_entries WHERE action = 'organization.update' AND workspace_id = ? \
             AND target_label = 'Acme Industries'",
            &[&acme],
        )
        .await,
        1,
        "the audit entry is the organization's, under its new name"
    );

    browser.close().await;
    println!(
        "organization journey on {:?}: {launched:?} to launch Chromium, {:?} in all",
        app.backend,
        started.elapsed()
    );
}

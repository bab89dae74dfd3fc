//! Browser journey on a 390 px phone in headless Chromium: every page of the
//! app fits the width (never scrolls sideways). Screenshots:
//! `phone-dashboard-…`, `phone-members-…`, `phone-user-menu-…`.

use std::path::Path;

use crate::browser_support::*;
use crate::support::TestApp;

#[actix_web::test]
async fn phone_journey_never_scrolls_sideways_on_sqlite() {
    let Some(chromedriver) = chromedriver_or_skip() else {
        return;
    };
    let app = TestApp::sqlite().await;
    phone_journey_never_scrolls_sideways(&app, &chromedriver).await;
}

#[actix_web::test]
async fn phone_journey_never_scrolls_sideways_on_postgres() {
    let Some(chromedriver) = chromedriver_or_skip() else {
        return;
    };
    let Some(app) = TestApp::postgres().await else {
        return;
    };
    phone_journey_never_scrolls_sideways(&app, &chromedriver).await;
}

/// On a 390 px phone: sign up, create an organization, then every page of
/// the app, none of which may scroll sideways.
async fn phone_journey_never_scrolls_sideways(app: &TestApp, chromedriver: &Path) {
    let browser = Browser::start_as(chromedriver, Device::Phone).await;
    let c = &browser.client;
    sign_up(c, app, "Philippa Phone-Owner", "phone@example.com").await;
    assert_fits_the_width(c, "/ (personal)").await;
    open_page(c, app, "/organizations/new").await;
    assert_fits_the_width(c, "/organizations/new").await;
    type_into(c, "#name", "Pocket Enterprises International").await;
    click_and_wait_for_next_page(c, "#create-organization").await;
    expect_path(c, "/").await;
    expect_text(c, "#workspace-title", "Pocket Enterprises International").await;
    assert_fits_the_width(c, "/ (organization)").await;
    save_screenshot(c, app.backend, "phone-dashboard").await;
    for path in [
        "/organizations",
        "/organizations/new",
        "/account",
        "/audit",
        "/settings/general",
        "/settings/members",
        "/settings/roles",
        "/settings/roles/new",
        "/settings/danger",
    ] {
        open_page(c, app, path).await;
        assert_fits_the_width(c, path).await;
        if path == "/settings/members" {
            save_screenshot(c, app.backend, "phone-members").await;
        }
    }
    // The user menu is on screen and usable.
    open_user_menu(c).await;
    assert_fits_the_width(c, "/settings/danger with the user menu open").await;
    save_screenshot(c, app.backend, "phone-user-menu").await;
    browser.close().await;
}

//! Browser journey in headless Chromium: sign up, sign out, "Forgot your
//! password?" → the link from the outbox `.eml` → a new password → signed
//! in on the dashboard; then sign out and sign in with the new password.

use std::path::Path;

use crate::browser_support::{
    Browser, Device, assert_fits_the_width, chromedriver_or_skip, click_and_wait_for_next_page,
    expect_path, expect_text, find, open_page, sign_up, type_into, wait_until_displayed,
};
use crate::support::TestApp;

const NEW_PASSWORD: &str = "a brand new passphrase 7";

#[actix_web::test]
async fn forgot_password_journey_on_sqlite() {
    let Some(chromedriver) = chromedriver_or_skip() else {
        return;
    };
    let app = TestApp::sqlite().await;
    forgot_password_journey(&app, &chromedriver).await;
}

#[actix_web::test]
async fn forgot_password_journey_on_postgres() {
    let Some(chromedriver) = chromedriver_or_skip() else {
        return;
    };
    let Some(app) = TestApp::postgres().await else {
        return;
    };
    forgot_password_journey(&app, &chromedriver).await;
}

async fn sign_out(c: &fantoccini::Client) {
    find(c, "#user-menu")
        .await
        .click()
        .await
        .expect("click the user menu");
    wait_until_displayed(c, "#sign-out").await;
    click_and_wait_for_next_page(c, "#sign-out").await;
    expect_path(c, "/login?signed_out=1").await;
}

async fn forgot_password_journey(app: &TestApp, chromedriver: &Path) {
    // On a phone: every page of the journey must fit its width.
    let browser = Browser::start_as(chromedriver, Device::Phone).await;
    let c = &browser.client;
    sign_up(c, app, "Ann Example", "ann@example.com").await;
    sign_out(c).await;
    assert_fits_the_width(c, "/login").await;

    click_and_wait_for_next_page(c, "#forgot-link").await;
    expect_path(c, "/password/forgot").await;
    assert_fits_the_width(c, "/password/forgot").await;
    type_into(c, "#email", "ann@example.com").await;
    click_and_wait_for_next_page(c, "#forgot-submit").await;
    expect_path(c, "/password/forgot?sent=1").await;
    wait_until_displayed(c, "#notice").await;
    assert_fits_the_width(c, "/password/forgot?sent=1").await;

    let link = app
        .link_in_latest_email("ann@example.com", "/password/reset/")
        .await;
    open_page(c, app, &link).await;
    assert_fits_the_width(c, "/password/reset/{token}").await;
    type_into(c, "#password", NEW_PASSWORD).await;
    click_and_wait_for_next_page(c, "#reset-submit").await;
    expect_path(c, "/").await;
    expect_text(c, "#user-menu", "Ann Example").await;
    assert_fits_the_width(c, "/ after the reset").await;

    sign_out(c).await;
    type_into(c, "#email", "ann@example.com").await;
    type_into(c, "#password", NEW_PASSWORD).await;
    click_and_wait_for_next_page(c, "#login-submit").await;
    expect_path(c, "/").await;
    expect_text(c, "#workspace-title", "Personal workspace").await;
    browser.close().await;
}

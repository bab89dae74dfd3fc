//! Browser journey in headless Chromium: sign up, sign out, sign in; one
//! live session, the user agent recorded. Screenshot: `dashboard-…`.

use std::path::Path;
use std::time::Instant;

use crate::browser_support::*;
use crate::support::{PASSWORD, TestApp};

#[actix_web::test]
async fn sign_up_sign_out_sign_in_on_sqlite() {
    let Some(chromedriver) = chromedriver_or_skip() else {
        return;
    };
    let app = TestApp::sqlite().await;
    sign_up_sign_out_sign_in(&app, &chromedriver).await;
}

#[actix_web::test]
async fn sign_up_sign_out_sign_in_on_postgres() {
    let Some(chromedriver) = chromedriver_or_skip() else {
        return;
    };
    let Some(app) = TestApp::postgres().await else {
        return;
    };
    sign_up_sign_out_sign_in(&app, &chromedriver).await;
}

/// Sign up → dashboard → sign out → wrong password → sign in, asserting what
/// the user sees after each step.
async fn sign_up_sign_out_sign_in(app: &TestApp, chromedriver: &Path) {
    let started = Instant::now();
    let browser = Browser::start(chromedriver).await;
    let c = &browser.client;
    let launched = started.elapsed();

    // Sign up: the personal dashboard, with the welcome shown once.
    sign_up(c, app, "Ann Example", "Ann@Example.com").await;
    expect_text(
        c,
        "#flash",
        "Welcome to Tenantry! This is your personal workspace.",
    )
    .await;
    expect_text(c, "#switcher summary .switcher-label", "Personal").await;
    expect_text(c, "#user-menu", "Ann Example").await;
    let signed_in_as = text_of(c, "hgroup p").await;
    assert!(
        signed_in_as.starts_with("Signed in as ann@example.com"),
        "the email is shown normalised: {signed_in_as:?}"
    );
    save_screenshot(c, app.backend, "dashboard").await;

    // Sign out: the button lives in the user menu, hidden until it's opened.
    let sign_out = find(c, "#sign-out").await;
    assert!(
        !sign_out
            .is_displayed()
            .await
            .expect("is #sign-out displayed"),
        "the sign-out button shows before the user menu is opened"
    );
    find(c, "#user-menu")
        .await
        .click()
        .await
        .expect("click the user menu");
    wait_until_displayed(c, "#sign-out").await;
    click_and_wait_for_next_page(c, "#sign-out").await;
    expect_path(c, "/login?signed_out=1").await;
    expect_text(c, "#notice", "You have been signed out.").await;
    assert_eq!(
        app.count("sessions WHERE user_id IS NOT NULL").await,
        0,
        "signing out deleted the session row"
    );

    // A wrong password: the error, and the email kept.
    type_into(c, "#email", "ann@example.com").await;
    type_into(c, "#password", "not the password 42").await;
    click_and_wait_for_next_page(c, "#login-submit").await;
    expect_path(c, "/login").await;
    expect_text(c, "#login-error", "Wrong email or password.").await;
    assert_eq!(value_of(c, "#email").await, "ann@example.com");
    assert_eq!(
        value_of(c, "#password").await,
        "",
        "the password is not echoed"
    );
    assert_absent(c, "#notice").await;

    // The right password: back on the dashboard, without the welcome.
    type_into(c, "#password", PASSWORD).await;
    click_and_wait_for_next_page(c, "#login-submit").await;
    expect_path(c, "/").await;
    expect_text(c, "#workspace-title", "Personal workspace").await;
    expect_text(c, "#user-menu", "Ann Example").await;
    assert_absent(c, "#flash").await;

    assert_eq!(app.count("sessions").await, 1, "one live session");
    assert_eq!(
        app.count("sessions WHERE user_id IS NOT NULL AND user_agent LIKE '%HeadlessChrome%'")
            .await,
        1,
        "the session is the browser's, signed in"
    );
    assert_eq!(app.count("users WHERE last_login_at IS NOT NULL").await, 1);

    browser.close().await;
    println!(
        "browser journey on {:?}: {launched:?} to launch Chromium, {:?} in all",
        app.backend,
        started.elapsed()
    );
}

//! Browser journey in headless Chromium through an organization's wallet:
//! the owner tops it up with the sandbox's paying card from the Billing tab
//! and lands on the receipt, a declined card shows the form again with the
//! reason and the amount kept (the balance untouched), a member whose role
//! may only read billing sees the balance without the top-up and controls
//! forms, and a charge the platform makes with a project's key shows on the
//! Billing tab as the new balance and in the spend chart under the
//! project's name. Screenshot: `billing-…`.

use std::path::Path;

use fantoccini::Client;
use reqwest::StatusCode;
use serde_json::json;

use crate::api_charges::charge;
use crate::browser_support::*;
use crate::support::{PASSWORD, TestApp};

#[actix_web::test]
async fn top_up_decline_read_and_charge_on_sqlite() {
    let Some(chromedriver) = chromedriver_or_skip() else {
        return;
    };
    let app = TestApp::sqlite().await;
    top_up_decline_read_and_charge(app, &chromedriver).await;
}

#[actix_web::test]
async fn top_up_decline_read_and_charge_on_postgres() {
    let Some(chromedriver) = chromedriver_or_skip() else {
        return;
    };
    let Some(app) = TestApp::postgres().await else {
        return;
    };
    top_up_decline_read_and_charge(app, &chromedriver).await;
}

/// Olga creates Acme Corp and tops its wallet up by 25 → a declined card
/// changes nothing → Carl, an Accountant (`billing.read` only), sees the
/// balance but no forms → the platform charges 1.50 with the Search
/// project's key → the Billing tab shows 23.50 and Search in the spend chart.
async fn top_up_decline_read_and_charge(app: TestApp, chromedriver: &Path) {
    let olga_browser = Browser::start(chromedriver).await;
    let olga = &olga_browser.client;
    sign_up(olga, &app, "Olga Owner", "olga@example.com").await;
    create_organization(olga, "Acme Corp").await;
    owner_tops_up(olga, &app).await;
    declined_card_changes_nothing(olga, &app).await;
    olga_browser.close().await;

    // Carl: a member whose custom role may read billing, not manage it.
    let app = app
        .with_role("acme-corp", "Accountant", 20, &["billing.read"])
        .await
        .with_member("acme-corp", "Carl", "carl@example.com", "Accountant")
        .await;
    let carl_browser = Browser::start(chromedriver).await;
    let carl = &carl_browser.client;
    sign_in(carl, &app, "carl@example.com").await;
    switch_to(carl, "Acme Corp").await;
    expect_text(carl, "#switcher summary .switcher-label", "Acme Corp").await;
    expect_text(carl, "#switcher summary .switcher-role", "Accountant").await;
    reader_sees_numbers_without_forms(carl, &app).await;

    // The platform charges 1.50 credits with a key of the project Search.
    let app = app.with_project("acme-corp", "Search").await;
    let key = app.add_project_key("acme-corp", "Search", "platform").await;
    let body = json!({"model": "gpt-4o", "amount": 1_500_000, "description": "chat"});
    let (status, _, answer) = charge(&app, &key, "idem-1", body).await;
    assert_eq!(status, StatusCode::CREATED, "the charge: {answer}");
    assert_eq!(answer["balance"], 23_500_000, "{answer}");

    // Carl reloads the Billing tab: the new balance, then the spend chart.
    open_page(carl, &app, "/settings/billing").await;
    expect_text(carl, "#balance", "23.50").await;
    find(carl, "#transactions-table tr[data-kind='charge']").await;
    save_screenshot(carl, app.backend, "billing").await;
    // The Usage tab, reached by its link, holds the spend chart. The
    // screenshot comes before the chart's assertions, so a missing chart
    // still leaves the picture of the page behind.
    click_and_wait_for_next_page(carl, "#usage-link").await;
    expect_path(carl, "/settings/usage").await;
    expect_text(carl, "#settings-tabs a[aria-current='page']", "Usage").await;
    save_screenshot(carl, app.backend, "usage").await;
    spend_chart_shows(carl, "Search").await;

    carl_browser.close().await;
}

/// From the Billing tab, 25 credits with the sandbox's paying card: the
/// receipt, then the new balance and its top-up row on the tab.
async fn owner_tops_up(c: &Client, app: &TestApp) {
    open_page(c, app, "/settings/general").await;
    click_and_wait_for_next_page(c, "#settings-tabs a[href='/settings/billing']").await;
    expect_path(c, "/settings/billing").await;
    expect_text(c, "h1", "Acme Corp settings").await;
    expect_text(c, "#settings-tabs a[aria-current='page']", "Billing").await;
    expect_text(c, "#balance", "0.00").await;
    expect_text(c, "#no-transactions", "No transactions yet.").await;

    type_into(c, "#amount", "25").await;
    type_into(c, "#card_number", "4242 4242 4242 4242").await;
    click_and_wait_for_next_page(c, "#top-up-button").await;
    let receipt = current_path(c).await;
    assert!(
        receipt.starts_with("/billing/receipts/"),
        "the top-up lands on its receipt, not {receipt}"
    );
    expect_text(
        c,
        "#flash",
        "Payment received: the credits are in the wallet.",
    )
    .await;
    expect_text(c, "#receipt-amount", "25.00").await;
    expect_text(c, "#receipt-status", "succeeded").await;
    expect_text(c, "#receipt-workspace", "Acme Corp").await;

    // Back to the Billing tab with the receipt's link.
    click_and_wait_for_next_page(c, "p.no-print a").await;
    expect_path(c, "/settings/billing").await;
    expect_text(c, "#balance", "25.00").await;
    let row = text_of(c, "#transactions-table tr[data-kind='top_up']").await;
    assert!(
        row.contains("25.00") && row.contains("4242"),
        "the top-up's row shows its amount and card: {row:?}"
    );
    assert_eq!(app.balance_of("acme-corp").await, 25_000_000);
}

/// A declined card: the form again, with the reason under the card number
/// and the amount kept; the balance unchanged.
async fn declined_card_changes_nothing(c: &Client, app: &TestApp) {
    type_into(c, "#amount", "10").await;
    type_into(c, "#card_number", "4000 0000 0000 0002").await;
    click_and_wait_for_next_page(c, "#top-up-button").await;
    expect_text(c, "#card_number-error", "Your card was declined.").await;
    assert_eq!(value_of(c, "#amount").await, "10", "the amount is kept");
    assert_eq!(
        value_of(c, "#card_number").await,
        "",
        "the card number is not echoed"
    );
    expect_text(c, "#balance", "25.00").await;
    assert_absent(c, "#flash").await;
    assert_eq!(app.balance_of("acme-corp").await, 25_000_000);
    assert_eq!(
        app.count("top_ups WHERE status = 'declined'").await,
        1,
        "the declined attempt is recorded"
    );
}

/// A billing reader follows the top bar's Billing link to the Billing tab:
/// the balance and the ledger, but neither the top-up form nor the spend
/// controls.
async fn reader_sees_numbers_without_forms(c: &Client, app: &TestApp) {
    open_page(c, app, "/").await;
    click_and_wait_for_next_page(c, "#nav-billing").await;
    expect_path(c, "/settings/billing").await;
    expect_text(c, "h1", "Acme Corp settings").await;
    expect_text(c, "#settings-tabs a[aria-current='page']", "Billing").await;
    expect_text(c, "#balance", "25.00").await;
    find(c, "#transactions-table tr[data-kind='top_up']").await;
    assert_absent(c, "#top-up").await;
    assert_absent(c, "#controls-form").await;
    assert_absent(c, "#top-up-button").await;
}

/// The spend chart: a figure with an inline SVG whose legend names
/// `project`.
async fn spend_chart_shows(c: &Client, project: &str) {
    find(c, "figure#spend-chart").await;
    find(c, "#spend-chart svg").await;
    let chart = text_of(c, "#spend-chart").await;
    assert!(
        chart.contains(project),
        "the spend chart names the project {project:?}: {chart:?}"
    );
}

/// Signs `email` in through the sign-in form (the password every test user
/// has); the browser ends on the dashboard.
async fn sign_in(c: &Client, app: &TestApp, email: &str) {
    open_page(c, app, "/login").await;
    type_into(c, "#email", email).await;
    type_into(c, "#password", PASSWORD).await;
    click_and_wait_for_next_page(c, "#login-submit").await;
    expect_path(c, "/").await;
}

//! `/settings/billing`, `/billing` and `/billing/receipts/{id}`: top-ups
//! through the sandbox (credited only by its signed notification, once),
//! declined cards, spend controls, the ledger's pages, and who sees what;
//! `POST /api/v1/payments/notifications`, the provider's webhook. The money
//! forms (coupons, transfers, plans) are in `settings_billing_funds`, the
//! charge history and its export in `billing_history`.

use futures::future::join;
use reqwest::StatusCode;
use serde_json::json;
use tenantry::services::payments;

use crate::api_charges::charge;
use crate::support::{Client, Response, TestApp, WEBHOOK_SECRET};
use crate::{on_both_backends, on_both_backends_with};

on_both_backends!(
    the_owner_tops_up_and_gets_a_receipt,
    a_declined_card_or_bad_amount_changes_nothing,
    a_notification_credits_once_even_when_repeated_at_once,
    spend_controls_are_saved_or_shown_again_with_what_was_typed,
    billing_readers_see_numbers_without_forms,
    the_personal_wallet_is_at_billing,
    transactions_page_by_cursor,
    who_may_do_what_on_the_billing_pages,
);

on_both_backends_with!(prepaid; a_prepaid_organization_is_suspended_until_its_first_top_up);

fn prepaid(settings: &mut tenantry::config::Settings) {
    settings.require_prepaid = true;
}

async fn the_owner_tops_up_and_gets_a_receipt(app: TestApp) {
    let app = app.with_acme().await;
    let ann = app.browser("ann@example.com");
    let page = ann.get("/settings/billing").await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.text_of("#balance").as_deref(), Some("0.00"));
    assert!(page.text_of("#no-transactions").is_some());
    assert!(
        page.text_of("#settings-tabs")
            .unwrap_or_default()
            .contains("Billing")
    );

    let res = top_up(&ann, "25.5", "4242 4242 4242 4242").await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert!(
        res.location().starts_with("/billing/receipts/"),
        "{}",
        res.location()
    );
    let receipt = ann.get(res.location()).await;
    assert_eq!(receipt.status, StatusCode::OK);
    assert_eq!(receipt.text_of("#receipt-amount").as_deref(), Some("25.50"));
    assert_eq!(
        receipt.text_of("#receipt-status").as_deref(),
        Some("succeeded")
    );
    assert_eq!(
        receipt.text_of("#receipt-workspace").as_deref(),
        Some("Acme Corp")
    );

    let page = ann.get("/settings/billing").await;
    assert_eq!(page.text_of("#balance").as_deref(), Some("25.50"));
    let row = page
        .text_of("#transactions-table tr[data-kind=\"top_up\"]")
        .unwrap_or_default();
    assert!(
        row.contains("card ending 4242") && row.contains("25.50"),
        "{row}"
    );
    assert_eq!(app.balance_of("acme").await, 25_500_000);
    let audit = ann.get("/audit").await.body;
    assert!(audit.contains("wallet.top_up"), "the top-up is audited");

    // Another organization's receipt is not found.
    let app = app
        .with_user("Bob", "bob@example.com")
        .await
        .with_org("bob@example.com", "Beta Works", "beta")
        .await;
    let bob = app.browser("bob@example.com");
    assert_eq!(bob.get(res.location()).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        bob.get("/billing/receipts/not-an-id").await.status,
        StatusCode::NOT_FOUND
    );
}

async fn a_declined_card_or_bad_amount_changes_nothing(app: TestApp) {
    let app = app.with_acme().await;
    let ann = app.browser("ann@example.com");
    let res = top_up(&ann, "40", "4000 0000 0000 0002").await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        res.text_of("#card_number-error").as_deref(),
        Some("Your card was declined.")
    );
    assert_eq!(
        res.attr_of("#amount", "value").as_deref(),
        Some("40"),
        "the amount is kept"
    );
    assert_eq!(app.count("top_ups WHERE status = 'declined'").await, 1);

    let res = top_up(&ann, "40", "4000 0000 0000 9995").await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        res.text_of("#card_number-error")
            .unwrap_or_default()
            .contains("insufficient funds")
    );

    for (amount, card, field, message) in [
        (
            "abc",
            "4242424242424242",
            "amount",
            "Enter an amount in credits",
        ),
        ("0", "4242424242424242", "amount", "above 0"),
        ("100000.01", "4242424242424242", "amount", "at most"),
        ("5", "4242 4242 4242 4241", "card_number", "typo"),
    ] {
        let res = top_up(&ann, amount, card).await;
        assert_eq!(
            res.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{amount} {card}"
        );
        let shown = res.text_of(&format!("#{field}-error")).unwrap_or_default();
        assert!(shown.contains(message), "{amount} {card}: {shown}");
        assert_eq!(res.attr_of("#amount", "value").as_deref(), Some(amount));
    }
    assert_eq!(app.count("top_ups").await, 2, "invalid forms save nothing");
    assert_eq!(app.count("ledger_entries").await, 0);
    assert_eq!(app.balance_of("acme").await, 0);
}

/// Tops up the active workspace's wallet through the billing page's form.
pub async fn top_up(browser: &Client, amount: &str, card: &str) -> Response {
    browser
        .submit(
            "/settings/billing",
            "/billing/top-up",
            &[("amount", amount), ("card_number", card)],
        )
        .await
}

/// Posts a signed notification to the webhook.
async fn notify(app: &TestApp, body: &serde_json::Value, secret: &str) -> StatusCode {
    let signed = payments::sign(
        secret.as_bytes(),
        serde_json::to_vec(body).expect("json"),
        chrono::Utc::now().timestamp(),
    );
    reqwest::Client::new()
        .post(format!("{}/api/v1/payments/notifications", app.base))
        .header("Tenantry-Signature", signed.signature)
        .header("Content-Type", "application/json")
        .body(signed.body)
        .send()
        .await
        .expect("webhook call")
        .status()
}

async fn a_notification_credits_once_even_when_repeated_at_once(app: TestApp) {
    let app = app.with_acme().await.with_funds("acme", "1").await;
    let acme = app.workspace_id("acme").await;
    // A top-up the provider hasn't answered yet.
    let id = uuid::Uuid::now_v7().to_string();
    app.execute(&format!(
        "INSERT INTO top_ups (id, workspace_id, amount, status, card_last4, created_at) \
         VALUES ('{id}', '{acme}', 7000000, 'pending', '4242', CURRENT_TIMESTAMP)"
    ))
    .await;
    let paid = json!({"top_up": id, "amount": 7_000_000, "declined": null});

    assert_eq!(
        notify(&app, &paid, "not-the-secret").await,
        StatusCode::UNAUTHORIZED
    );
    let wrong_amount = json!({"top_up": id, "amount": 70_000_000, "declined": null});
    assert_eq!(
        notify(&app, &wrong_amount, WEBHOOK_SECRET).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.balance_of("acme").await,
        1_000_000,
        "nothing credited yet"
    );

    let (first, second) = join(
        notify(&app, &paid, WEBHOOK_SECRET),
        notify(&app, &paid, WEBHOOK_SECRET),
    )
    .await;
    assert_eq!((first, second), (StatusCode::OK, StatusCode::OK));
    assert_eq!(notify(&app, &paid, WEBHOOK_SECRET).await, StatusCode::OK);
    assert_eq!(app.balance_of("acme").await, 8_000_000, "credited once");
    assert_eq!(
        app.count_with(
            "ledger_entries WHERE idempotency_key = ?",
            &[&format!("top_up:{id}")]
        )
        .await,
        1
    );
    assert_eq!(
        app.count_with("top_ups WHERE id = ? AND status = 'succeeded'", &[&id])
            .await,
        1
    );

    let res = reqwest::Client::new()
        .post(format!("{}/api/v1/payments/notifications", app.base))
        .body(serde_json::to_vec(&paid).expect("json"))
        .send()
        .await
        .expect("call");
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "no signature");
}

async fn spend_controls_are_saved_or_shown_again_with_what_was_typed(app: TestApp) {
    let app = app.with_acme().await;
    let ann = app.browser("ann@example.com");
    let res = ann
        .submit(
            "/settings/billing",
            "/billing/controls",
            &[("monthly_limit", "-3"), ("allowed_models", "gpt-4o")],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text_of("#monthly_limit-error").is_some());
    assert_eq!(
        res.attr_of("#monthly_limit", "value").as_deref(),
        Some("-3")
    );
    assert_eq!(res.text_of("#allowed_models").as_deref(), Some("gpt-4o"));
    let res = ann
        .submit(
            "/settings/billing",
            "/billing/controls",
            &[("monthly_limit", "5"), ("allowed_models", "gpt 4o")],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        res.text_of("#allowed_models-error")
            .unwrap_or_default()
            .contains("gpt 4o")
    );
    assert_eq!(
        app.count("wallets WHERE monthly_spend_limit IS NOT NULL")
            .await,
        0
    );

    let res = ann
        .submit(
            "/settings/billing",
            "/billing/controls",
            &[
                ("monthly_limit", "50"),
                ("allowed_models", "gpt-4o, claude-3\nclaude-3"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let page = ann.get("/settings/billing").await;
    assert_eq!(page.text_of("#monthly-limit").as_deref(), Some("50.00"));
    let models = page.text_of("#allowed-models").unwrap_or_default();
    assert!(
        models.find("claude-3") < models.find("gpt-4o") && models.contains("gpt-4o"),
        "both models, by name: {models}"
    );
    assert_eq!(app.count("wallet_models").await, 2);
    assert!(ann.get("/audit").await.body.contains("wallet.controls"));

    // Emptied, every model and any amount are allowed again.
    let res = ann
        .submit(
            "/settings/billing",
            "/billing/controls",
            &[("monthly_limit", ""), ("allowed_models", "")],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(app.count("wallet_models").await, 0);
    assert_eq!(
        app.count("wallets WHERE monthly_spend_limit IS NOT NULL OR models_restricted")
            .await,
        0
    );
}

async fn billing_readers_see_numbers_without_forms(app: TestApp) {
    let app = app
        .with_acme()
        .await
        .with_role("acme", "Accountant", 20, &["billing.read"])
        .await
        .with_member("acme", "Carl", "carl@example.com", "Accountant")
        .await
        .with_member("acme", "Dave", "dave@example.com", "member")
        .await
        .with_funds("acme", "12")
        .await;
    let acme = app.workspace_id("acme").await;
    let carl = app.browser("carl@example.com");
    assert_eq!(carl.switch_to(&acme).await.status, StatusCode::SEE_OTHER);
    let page = carl.get("/settings/billing").await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.text_of("#balance").as_deref(), Some("12.00"));
    assert!(page.text_of("#top-up").is_none(), "no top-up form");
    assert!(page.text_of("#controls-form").is_none(), "no controls form");
    let forged = carl.forged_scoped_fields(&acme).await;
    let res = carl
        .post_form(
            "/billing/top-up",
            &forged,
            &[("amount", "5"), ("card_number", "4242424242424242")],
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);

    let dave = app.browser("dave@example.com");
    assert_eq!(dave.switch_to(&acme).await.status, StatusCode::SEE_OTHER);
    assert_eq!(
        dave.get("/settings/billing").await.status,
        StatusCode::FORBIDDEN
    );
    let tabs = dave
        .get("/settings/general")
        .await
        .text_of("#settings-tabs")
        .unwrap_or_default();
    assert!(
        !tabs.contains("Billing") && !tabs.contains("Usage"),
        "{tabs}"
    );
    assert_eq!(app.balance_of("acme").await, 12_000_000);
}

async fn the_personal_wallet_is_at_billing(app: TestApp) {
    let app = app.with_user("Ann", "ann@example.com").await;
    let ann = app.browser("ann@example.com");
    let page = ann.get("/billing").await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.text_of("h1").as_deref(), Some("Billing"));
    let res = ann
        .submit(
            "/billing",
            "/billing/top-up",
            &[("amount", "3"), ("card_number", "4242424242424242")],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let personal = app.personal_workspace_of("ann@example.com").await;
    let balance = app
        .text_value_with(
            "SELECT CAST(balance AS TEXT) AS value FROM wallets WHERE workspace_id = ?",
            &[&personal],
        )
        .await;
    assert_eq!(balance, "3000000");
}

async fn transactions_page_by_cursor(app: TestApp) {
    let app = app
        .with_acme()
        .await
        .with_project("acme", "Search")
        .await
        .with_funds("acme", "1")
        .await;
    let key = app.add_project_key("acme", "Search", "platform").await;
    for i in 0..54 {
        let (status, _, _) = charge(
            &app,
            &key,
            &format!("page-{i}"),
            json!({"model": "m", "amount": 1000, "description": format!("call {i}")}),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let ann = app.browser("ann@example.com");
    let first = ann.get("/settings/billing").await;
    assert_eq!(first.body.matches("<tr data-entry=").count(), 50);
    assert!(first.body.contains("call 53"), "newest first");
    let older = first
        .attr_of("#older", "href")
        .expect("a link to older entries");
    let second = ann.get(&older).await;
    assert_eq!(second.body.matches("<tr data-entry=").count(), 5);
    assert!(second.body.contains("call 0") && second.body.contains("Top-up"));
    assert!(second.text_of("#older").is_none());
}

async fn a_prepaid_organization_is_suspended_until_its_first_top_up(app: TestApp) {
    let app = app
        .with_acme()
        .await
        .with_project("acme", "Search")
        .await
        .with_agent("acme", "Search", "crawler")
        .await;
    assert_eq!(
        app.count("workspaces WHERE slug = 'acme' AND status = 'suspended'")
            .await,
        1
    );
    let key = app.add_project_key("acme", "Search", "platform").await;
    let ann = app.browser("ann@example.com");
    let banner = ann
        .get("/")
        .await
        .text_of(".banner-error")
        .unwrap_or_default();
    assert!(banner.contains("suspended"), "{banner}");

    let (status, _, refused) =
        charge(&app, &key, "early", json!({"model": "m", "amount": 1})).await;
    assert_eq!(status, StatusCode::PAYMENT_REQUIRED, "{refused}");
    assert_eq!(refused["error"]["code"], "workspace_suspended");
    let crawler = app
        .text_value_with(
            "SELECT id AS value FROM agents WHERE name = ?",
            &["crawler"],
        )
        .await;
    let start = format!("/agents/{crawler}/start");
    let res = ann.submit("/agents", &start, &[]).await;
    assert_eq!(res.status, StatusCode::CONFLICT);
    assert!(res.body.contains("suspended"), "the refusal says why");
    let res = ann.submit("/apps", "/apps/notebook/install", &[]).await;
    assert_eq!(res.status, StatusCode::CONFLICT);
    assert_eq!(app.count("app_instances").await, 0);
    assert_eq!(app.count("agents WHERE status = 'running'").await, 0);

    let res = top_up(&ann, "5", "4242424242424242").await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert_eq!(
        app.count("workspaces WHERE slug = 'acme' AND status = 'active'")
            .await,
        1
    );
    assert!(ann.get("/").await.text_of(".banner-error").is_none());
    assert!(
        ann.get("/audit")
            .await
            .body
            .contains("workspace.reactivate")
    );
    let (status, _, _) = charge(&app, &key, "funded", json!({"model": "m", "amount": 1})).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(
        ann.submit("/agents", &start, &[]).await.status,
        StatusCode::SEE_OTHER
    );
}

/// A form of the permission table: its action, fields and the status
/// each actor gets.
type FormRow<'a> = (&'a str, Vec<(&'a str, &'a str)>, [StatusCode; 5]);

/// The permission table of the billing pages and forms: owner, admin, a
/// custom role with `billing.read` and `billing.manage`, one with only
/// `billing.read`, and a member, each on every route.
async fn who_may_do_what_on_the_billing_pages(app: TestApp) {
    let app = app
        .with_acme()
        .await
        .with_team("acme", "Platform")
        .await
        .with_role("acme", "Treasurer", 30, &["billing.read", "billing.manage"])
        .await
        .with_role("acme", "Accountant", 20, &["billing.read"])
        .await
        .with_member("acme", "Adam", "adam@example.com", "admin")
        .await
        .with_member("acme", "Tess", "tess@example.com", "Treasurer")
        .await
        .with_member("acme", "Carl", "carl@example.com", "Accountant")
        .await
        .with_member("acme", "Dave", "dave@example.com", "member")
        .await
        .with_funds("acme", "50")
        .await;
    let acme = app.workspace_id("acme").await;
    let platform = app.team_id("acme", "Platform").await;
    let receipt = format!(
        "/billing/receipts/{}",
        app.text_value("SELECT id AS value FROM top_ups").await
    );
    use StatusCode as S;
    const OK: S = S::OK;
    const MOVED: S = S::SEE_OTHER;
    const NO: S = S::FORBIDDEN;
    const BAD: S = S::UNPROCESSABLE_ENTITY;
    // owner, admin, treasurer, accountant, member
    let gets: [(&str, [S; 5]); 4] = [
        ("/settings/billing", [OK, OK, OK, OK, NO]),
        ("/settings/usage", [OK, OK, OK, OK, NO]),
        ("/billing/history.csv", [OK, OK, OK, OK, NO]),
        (&receipt, [OK, OK, OK, OK, NO]),
    ];
    let posts: [FormRow; 5] = [
        (
            "/billing/top-up",
            vec![("amount", "1"), ("card_number", "4242424242424242")],
            [MOVED, MOVED, MOVED, NO, NO],
        ),
        (
            "/billing/controls",
            vec![("monthly_limit", "40")],
            [MOVED, MOVED, MOVED, NO, NO],
        ),
        (
            "/billing/coupon",
            vec![("code", "NO-SUCH-CODE")],
            [BAD, BAD, BAD, NO, NO],
        ),
        (
            "/billing/plan",
            vec![("plan", "free")],
            [MOVED, MOVED, MOVED, NO, NO],
        ),
        // Only the owner is in the team (as its owner); the others may not
        // manage its billing, so the team isn't theirs to fund.
        (
            "/billing/transfer",
            vec![
                ("team_id", platform.as_str()),
                ("transfer_amount", "1"),
                ("transfer_key", "0190d9a0-0000-7000-8000-000000000001"),
            ],
            [MOVED, BAD, BAD, NO, NO],
        ),
    ];
    let people = [
        "ann@example.com",
        "adam@example.com",
        "tess@example.com",
        "carl@example.com",
        "dave@example.com",
    ];
    for (column, email) in people.into_iter().enumerate() {
        let browser = app.browser(email);
        assert_eq!(browser.switch_to(&acme).await.status, MOVED);
        for (path, expected) in &gets {
            assert_eq!(
                browser.get(path).await.status,
                expected[column],
                "{email}: GET {path}"
            );
        }
        let fields = browser.forged_scoped_fields(&acme).await;
        for (path, form, expected) in &posts {
            let res = browser.post_form(path, &fields, form).await;
            assert_eq!(
                res.status, expected[column],
                "{email}: POST {path}: {}",
                res.body
            );
        }
    }
    // Three top-ups of 1 and one move of 1 to the team: 50 + 3 - 1.
    assert_eq!(app.balance_of("acme").await, 52_000_000);
}

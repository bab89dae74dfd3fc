//! The billing page's money forms: coupons (`POST /billing/coupon`), moving
//! funds from an organization to its teams (`POST /billing/transfer`), plan
//! changes (`POST /billing/plan`) and the monthly plan-fee job behind them.

use reqwest::StatusCode;

use crate::on_both_backends;
use crate::settings_billing::top_up;
use crate::support::{Response, TestApp};

on_both_backends!(
    coupons_are_redeemed_once_per_workspace_within_their_rules,
    an_organization_moves_funds_to_its_teams_and_no_further,
    a_plan_change_charges_its_fee_once_a_month_and_sets_its_limits,
    the_fee_job_charges_once_and_suspends_wallets_that_cannot_pay,
);

/// Creates a coupon as `tenantry coupon create` does.
async fn coupon(app: &TestApp, code: &str, credits: &str, expires: Option<&str>, max: Option<i32>) {
    let mut conn = app.db.connection().expect("connection");
    let coupon = tenantry::services::billing::NewCoupon {
        code,
        credits,
        expires,
        max_redemptions: max,
    };
    tenantry::services::billing::create_coupon(&mut conn, &coupon).expect("coupon");
}

async fn redeem(app: &TestApp, email: &str, code: &str) -> Response {
    app.browser(email)
        .submit("/settings/billing", "/billing/coupon", &[("code", code)])
        .await
}

async fn coupons_are_redeemed_once_per_workspace_within_their_rules(app: TestApp) {
    let app = app
        .with_acme()
        .await
        .with_user("Bob", "bob@example.com")
        .await
        .with_org("bob@example.com", "Beta Works", "beta")
        .await
        .with_user("Carol", "carol@example.com")
        .await
        .with_org("carol@example.com", "Gamma", "gamma")
        .await;
    coupon(&app, "spring-50", "50", None, Some(2)).await;
    let yesterday = (chrono::Utc::now().date_naive() - chrono::Days::new(1)).to_string();
    coupon(&app, "OLD", "5", Some(&yesterday), None).await;

    let res = redeem(&app, "ann@example.com", " spring-50 ").await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert_eq!(app.balance_of("acme").await, 50_000_000);
    let page = app
        .browser("ann@example.com")
        .get("/settings/billing")
        .await;
    assert!(page.text_of("#flash").unwrap_or_default().contains("50.00"));
    assert!(
        page.text_of("#transactions-table tr[data-kind=\"coupon\"]")
            .is_some()
    );

    let res = redeem(&app, "ann@example.com", "SPRING-50").await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        res.text_of("#code-error")
            .unwrap_or_default()
            .contains("already redeemed")
    );
    assert_eq!(res.attr_of("#code", "value").as_deref(), Some("SPRING-50"));
    assert_eq!(
        app.balance_of("acme").await,
        50_000_000,
        "once per workspace"
    );

    assert_eq!(
        redeem(&app, "bob@example.com", "SPRING-50").await.status,
        StatusCode::SEE_OTHER
    );
    let res = redeem(&app, "carol@example.com", "SPRING-50").await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        res.text_of("#code-error")
            .unwrap_or_default()
            .contains("as often as it may be")
    );
    for (code, message) in [("OLD", "expired"), ("NOPE", "No coupon"), ("x", "3 to 40")] {
        let res = redeem(&app, "carol@example.com", code).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{code}");
        let shown = res.text_of("#code-error").unwrap_or_default();
        assert!(shown.contains(message), "{code}: {shown}");
    }
    assert_eq!(app.balance_of("gamma").await, 0);
    assert_eq!(
        app.count("coupons WHERE code = 'SPRING-50' AND redemptions = 2")
            .await,
        1
    );
    assert!(
        app.browser("ann@example.com")
            .get("/audit")
            .await
            .body
            .contains("wallet.coupon")
    );
}

async fn an_organization_moves_funds_to_its_teams_and_no_further(app: TestApp) {
    let app = app
        .with_acme()
        .await
        .with_team("acme", "Platform")
        .await
        .with_funds("acme", "20")
        .await;
    let platform = app.team_id("acme", "Platform").await;
    let ann = app.browser("ann@example.com");
    let page = ann.get("/settings/billing").await;
    let form = crate::support::hidden_fields(&page.body, "/billing/transfer");
    let fields = [("team_id", platform.as_str()), ("transfer_amount", "5")];
    let res = ann.post_form("/billing/transfer", &form, &fields).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    // The same form sent again (a double click) moves nothing more.
    let res = ann.post_form("/billing/transfer", &form, &fields).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(app.balance_of("acme").await, 15_000_000);
    let team_balance = app
        .text_value_with(
            "SELECT CAST(balance AS TEXT) AS value FROM wallets WHERE workspace_id = ?",
            &[&platform],
        )
        .await;
    assert_eq!(team_balance, "5000000");
    assert_eq!(
        app.count_with(
            "audit_entries WHERE action = 'wallet.transfer' AND workspace_id = ?",
            &[&platform]
        )
        .await,
        1
    );

    let res = ann
        .submit(
            "/settings/billing",
            "/billing/transfer",
            &[("team_id", platform.as_str()), ("transfer_amount", "100")],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        res.text_of("#transfer_amount-error")
            .unwrap_or_default()
            .contains("15.00")
    );
    assert_eq!(
        res.attr_of("#transfer_amount", "value").as_deref(),
        Some("100")
    );

    // From the personal wallet, money goes nowhere.
    let personal = app.personal_workspace_of("ann@example.com").await;
    assert_eq!(ann.switch_to(&personal).await.status, StatusCode::SEE_OTHER);
    let res = ann
        .submit(
            "/billing",
            "/billing/top-up",
            &[("amount", "3"), ("card_number", "4242424242424242")],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let forged = ann.forged_scoped_fields(&personal).await;
    let res = ann
        .post_form(
            "/billing/transfer",
            &forged,
            &[
                ("team_id", platform.as_str()),
                ("transfer_amount", "1"),
                ("transfer_key", &uuid::Uuid::new_v4().to_string()),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::CONFLICT);
    assert!(
        res.body.contains("never out of a personal"),
        "the refusal says why"
    );
    assert_eq!(
        app.count("ledger_entries WHERE kind IN ('transfer_in', 'transfer_out')")
            .await,
        2,
        "only the organization's one move"
    );
}

async fn choose_plan(app: &TestApp, plan: &str) -> Response {
    app.browser("ann@example.com")
        .submit("/settings/billing", "/billing/plan", &[("plan", plan)])
        .await
}

async fn a_plan_change_charges_its_fee_once_a_month_and_sets_its_limits(app: TestApp) {
    let app = app.with_acme().await.with_funds("acme", "30").await;
    let res = choose_plan(&app, "team").await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert_eq!(
        app.balance_of("acme").await,
        10_000_000,
        "the Team fee, 20 credits"
    );
    assert_eq!(
        app.count(
            "workspaces WHERE slug = 'acme' AND max_running_agents = 10 AND max_app_instances = 5"
        )
        .await,
        1,
        "the plan's limits"
    );
    let page = app
        .browser("ann@example.com")
        .get("/settings/billing")
        .await;
    assert!(
        page.text_of("#current-plan")
            .unwrap_or_default()
            .contains("Team")
    );

    let res = choose_plan(&app, "business").await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        res.text_of("#plan-error")
            .unwrap_or_default()
            .contains("100.00 credits a month")
    );
    assert_eq!(
        app.count("wallets WHERE plan = 'team'").await,
        1,
        "still on Team"
    );

    assert_eq!(
        choose_plan(&app, "free").await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        choose_plan(&app, "team").await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        app.balance_of("acme").await,
        10_000_000,
        "Team's fee once this month"
    );
    assert_eq!(app.count("ledger_entries WHERE kind = 'plan_fee'").await, 1);
    assert_eq!(
        choose_plan(&app, "gold").await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert!(
        app.browser("ann@example.com")
            .get("/audit")
            .await
            .body
            .contains("wallet.plan")
    );
}

async fn the_fee_job_charges_once_and_suspends_wallets_that_cannot_pay(app: TestApp) {
    let app = app
        .with_acme()
        .await
        .with_funds("acme", "25")
        .await
        .with_user("Bob", "bob@example.com")
        .await
        .with_org("bob@example.com", "Beta Works", "beta")
        .await;
    app.execute(
        "UPDATE wallets SET plan = 'team' WHERE workspace_id IN \
         (SELECT id FROM workspaces WHERE slug IN ('acme', 'beta'))",
    )
    .await;
    let plans = tenantry::config::Settings::default().plans;
    let charged = tenantry::services::billing::charge_plan_fees(&app.db, &plans)
        .await
        .expect("fee job");
    assert_eq!(charged, 1);
    let again = tenantry::services::billing::charge_plan_fees(&app.db, &plans)
        .await
        .expect("fee job");
    assert_eq!(again, 0, "once a month");
    assert_eq!(app.balance_of("acme").await, 5_000_000);
    assert_eq!(
        app.count("workspaces WHERE slug = 'beta' AND status = 'suspended'")
            .await,
        1
    );
    let bob = app.browser("bob@example.com");
    assert!(bob.get("/audit").await.body.contains("workspace.suspend"));
    assert!(bob.get("/").await.text_of(".banner-error").is_some());

    // Funded, it comes back by itself, and the next run charges the fee.
    let res = top_up(&bob, "30", "4242424242424242").await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(
        app.count("workspaces WHERE slug = 'beta' AND status = 'active'")
            .await,
        1
    );
    let charged = tenantry::services::billing::charge_plan_fees(&app.db, &plans)
        .await
        .expect("fee job");
    assert_eq!(charged, 1);
    assert_eq!(app.balance_of("beta").await, 10_000_000);
    assert_eq!(
        app.count("workspaces WHERE slug = 'beta' AND status = 'active'")
            .await,
        1
    );
}

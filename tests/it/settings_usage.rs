//! `/settings/usage` and `/usage`: the daily spend charts by project and
//! by model, and this month by project, linking to each project's charges
//! on the billing page; a project deleted since keeps its spend under a
//! name that says so. Who may see it is in `settings_billing`'s matrix.

use reqwest::StatusCode;

use crate::api_charges::charge_each;
use crate::on_both_backends;
use crate::support::TestApp;

on_both_backends!(
    the_usage_tab_charts_spend_by_project_and_model,
    the_personal_usage_page_starts_empty,
);

async fn the_usage_tab_charts_spend_by_project_and_model(app: TestApp) {
    let app = app
        .with_acme()
        .await
        .with_project("acme", "Search")
        .await
        .with_project("acme", "Crawl")
        .await
        .with_funds("acme", "10")
        .await;
    let search = app.add_project_key("acme", "Search", "platform").await;
    let crawl = app.add_project_key("acme", "Crawl", "platform").await;
    charge_each(
        &app,
        &[
            (&search, "gpt-4o", 2_000_000),
            (&crawl, "claude-3", 500_000),
            (&crawl, "gpt-4o", 250_000),
        ],
    )
    .await;
    let ann = app.browser("ann@example.com");
    let billing = ann.get("/settings/billing").await;
    assert_eq!(
        billing.attr_of("#usage-link", "href").as_deref(),
        Some("/settings/usage")
    );

    let page = ann.get("/settings/usage").await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(
        page.text_of("#settings-tabs a[aria-current='page']")
            .as_deref(),
        Some("Usage")
    );
    let by_project = page.text_of("#spend-chart .legend").unwrap_or_default();
    assert!(
        by_project.contains("Search 2.00") && by_project.contains("Crawl 0.75"),
        "{by_project}"
    );
    let by_model = page.text_of("#spend-by-model .legend").unwrap_or_default();
    assert!(
        by_model.contains("gpt-4o 2.25") && by_model.contains("claude-3 0.50"),
        "{by_model}"
    );
    let month = page.text_of("#month-by-project tbody").unwrap_or_default();
    assert!(month.find("Search") < month.find("Crawl"), "{month}");

    // Crawl is deleted: its spend stays, under a name that says so, and
    // without a link (the history can't filter by a project not here).
    let crawl_id = app.project_id("acme", "Crawl").await;
    let project_page = format!("/projects/{crawl_id}");
    let res = ann
        .submit(&project_page, &format!("{project_page}/delete"), &[])
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let page = ann.get("/settings/usage").await;
    let by_project = page.text_of("#spend-chart .legend").unwrap_or_default();
    assert!(
        by_project.contains("A deleted or moved project 0.75") && !by_project.contains("Crawl"),
        "{by_project}"
    );
    let month = page.text_of("#month-by-project tbody").unwrap_or_default();
    assert!(month.contains("A deleted or moved project"), "{month}");
    assert_eq!(
        page.body
            .matches("<a href=\"/settings/billing?project=")
            .count(),
        1,
        "only Search links to its charges"
    );
    let billing = ann.get("/settings/billing").await;
    let menu = billing.text_of("#project").unwrap_or_default();
    assert!(menu.contains("Search") && !menu.contains("Crawl"), "{menu}");
}

async fn the_personal_usage_page_starts_empty(app: TestApp) {
    let app = app.with_user("Ann", "ann@example.com").await;
    let ann = app.browser("ann@example.com");
    let billing = ann.get("/billing").await;
    assert_eq!(
        billing.attr_of("#usage-link", "href").as_deref(),
        Some("/usage")
    );
    let page = ann.get("/usage").await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.text_of("h1").as_deref(), Some("Usage"));
    assert!(page.text_of("#settings-tabs").is_none(), "no settings tabs");
    assert_eq!(
        page.attr_of("#billing-link", "href").as_deref(),
        Some("/billing")
    );
    assert!(
        page.text_of("#spend-chart")
            .unwrap_or_default()
            .contains("No charges in these 30 days.")
    );
    assert_eq!(
        page.text_of("#no-project-spend").as_deref(),
        Some("No charges this month.")
    );
}

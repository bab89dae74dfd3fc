//! Charge history: the billing page's filters (project, model, member,
//! dates), the month's sums (by team there, by project on the Usage page)
//! and `GET /billing/history.csv`.

use reqwest::StatusCode;

use crate::api_charges::charge_each;
use crate::on_both_backends;
use crate::support::{Response, TestApp};

on_both_backends!(the_history_filters_exports_and_sums_the_month);

async fn the_history_filters_exports_and_sums_the_month(app: TestApp) {
    let app = app
        .with_acme()
        .await
        .with_project("acme", "Search")
        .await
        .with_project("acme", "Crawl")
        .await
        .with_team("acme", "Platform")
        .await
        .with_funds("acme", "10")
        .await;
    let search = app.add_project_key("acme", "Search", "platform").await;
    let crawl = app.add_project_key("acme", "Crawl", "platform").await;
    charge_each(
        &app,
        &[
            (&search, "gpt-4o", 1_000_000),
            (&search, "gpt-4o", 500_000),
            (&crawl, "claude-3", 250_000),
        ],
    )
    .await;
    let ann = app.browser("ann@example.com");
    let rows = |page: &Response| page.body.matches("<tr data-entry=").count();
    let crawl_id = app.project_id("acme", "Crawl").await;
    let page = ann
        .get(&format!("/settings/billing?project={crawl_id}"))
        .await;
    assert_eq!(rows(&page), 1, "Crawl's one charge");
    let page = ann.get("/settings/billing?model=gpt-4o").await;
    assert_eq!(rows(&page), 2);
    let page = ann.get("/settings/billing?member=ann%40example.com").await;
    assert_eq!(rows(&page), 1, "the top-up Ann made");
    let tomorrow = (chrono::Utc::now().date_naive() + chrono::Days::new(1)).to_string();
    let page = ann.get(&format!("/settings/billing?from={tomorrow}")).await;
    assert_eq!(rows(&page), 0);
    assert!(
        page.text_of("#no-transactions")
            .unwrap_or_default()
            .contains("match")
    );
    let today = chrono::Utc::now().date_naive().to_string();
    let page = ann.get(&format!("/settings/billing?to={today}")).await;
    assert_eq!(rows(&page), 4);
    let page = ann.get("/settings/billing?from=2026-13-01").await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(
        page.text_of("#from-error").as_deref(),
        Some("Use YYYY-MM-DD.")
    );
    assert_eq!(
        page.attr_of("#from", "value").as_deref(),
        Some("2026-13-01")
    );

    // A project id that names no project is a message under the menu.
    let page = ann.get("/settings/billing?project=nope").await;
    assert_eq!(
        page.text_of("#project-error").as_deref(),
        Some("Choose a project from the list.")
    );
    assert_eq!(rows(&page), 0);

    // The month at a glance: by team on the billing page, by project
    // (largest first, each linking to its charges) on the Usage page.
    let usage = ann.get("/settings/usage").await;
    let month = usage.text_of("#month-by-project").unwrap_or_default();
    assert!(
        month.find("Search") < month.find("Crawl") && month.contains("1.50"),
        "{month}"
    );
    let search_id = app.project_id("acme", "Search").await;
    let href = usage
        .attr_of("#month-by-project a", "href")
        .expect("Search links to its charges");
    assert_eq!(
        href,
        format!("/settings/billing?project={search_id}#transactions")
    );
    let page_of_search = ann.get(href.trim_end_matches("#transactions")).await;
    assert_eq!(rows(&page_of_search), 2, "Search's two charges");
    assert!(
        page.text_of("#month-by-team tr[data-team=\"Platform\"]")
            .unwrap_or_default()
            .contains("0.00")
    );

    // The export carries the page's filters.
    let page = ann.get("/settings/billing?model=gpt-4o").await;
    let href = page.attr_of("#export-csv", "href").expect("an export link");
    assert_eq!(href, "/billing/history.csv?model=gpt-4o");
    let csv = ann.get(&href).await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(
        csv.headers["content-type"]
            .to_str()
            .unwrap_or("")
            .starts_with("text/csv")
    );
    let lines: Vec<&str> = csv.body.lines().collect();
    assert_eq!(lines.len(), 3, "{}", csv.body);
    assert!(lines[0].starts_with("time_utc,kind,amount_credits"));
    assert!(
        lines[1].contains(",charge,-0.50,")
            && lines[1].contains(",Search,gpt-4o,\"call 1, with a comma\","),
        "{}",
        lines[1]
    );
    let bad = ann.get("/billing/history.csv?to=tomorrow").await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
}

//! `/audit`: the audit log records every change, filters by actor and
//! action, and pages.

use reqwest::StatusCode;

use crate::on_both_backends;
use crate::support::TestApp;

on_both_backends!(audit_log_records_filters_and_pages,);

async fn audit_log_records_filters_and_pages(app: TestApp) {
    // Bob joins the way people do, by invitation: Ann's `invitation.create`
    // and Bob's `invitation.accept` are in the log too.
    let app = app
        .with_acme()
        .await
        .with_member("acme", "Bob", "bob@example.com", "admin")
        .await;
    let (ann, bob) = (
        app.browser("ann@example.com"),
        app.browser("bob@example.com"),
    );
    bob.switch_to(&app.workspace_id("acme").await).await;
    for n in 0..55 {
        let name = format!("Acme {n}");
        let res = ann
            .submit(
                "/settings/general",
                "/settings/general",
                &[("name", name.as_str()), ("slug", "acme")],
            )
            .await;
        assert_eq!(res.status, StatusCode::SEE_OTHER);
    }
    bob.submit(
        "/settings/general",
        "/settings/general",
        &[("name", "Bob's Acme"), ("slug", "acme")],
    )
    .await;
    let page = ann.get("/audit").await;
    assert_eq!(page.status, StatusCode::OK);
    let rows = page.body.matches("<tr><td>").count();
    assert_eq!(rows, 50, "first page");
    let first_row = page.text_of("#audit-table tbody tr").expect("a row");
    assert!(
        first_row.contains("Bob")
            && first_row.contains("organization.update")
            && first_row.contains("127.0.0.1"),
        "{first_row}"
    );
    let older = page.attr_of("#older", "href").expect("older link");
    let second = ann.get(&older).await;
    assert_eq!(
        second.body.matches("<tr><td>").count(),
        9,
        "55 + 1 updates + the creation + the invitation and its acceptance = 59"
    );
    assert!(second.attr_of("#older", "href").is_none());
    let bob_id = app
        .text_value("SELECT id AS value FROM users WHERE email = 'bob@example.com'")
        .await;
    let filtered = ann.get(&format!("/audit?actor={bob_id}")).await;
    assert_eq!(
        filtered.body.matches("<tr><td>").count(),
        2,
        "Bob's acceptance and his update"
    );
    let created = ann.get("/audit?action=organization.create").await;
    assert_eq!(created.body.matches("<tr><td>").count(), 1);
    assert!(
        created
            .text_of("#audit-table")
            .unwrap_or_default()
            .contains("slug: acme")
    );
}

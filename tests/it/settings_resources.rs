//! `/settings/resources`: usage against limits for an organization and its
//! teams, the limits and quotas set there (a team's within the
//! organization's), and starts refused by an hours limit.

use chrono::{Datelike, Duration, NaiveDate, Utc};
use reqwest::StatusCode;

use crate::on_both_backends;
use crate::support::{Client, Response, TestApp, hidden_fields};

on_both_backends!(
    limits_and_quotas_are_set_on_the_resources_tab,
    an_hours_limit_refuses_starts,
    the_tab_shows_what_the_viewer_may_see,
);

/// Posts the limits form of the row of `workspace` on the Resources tab.
pub(crate) async fn set_limits(
    browser: &Client,
    workspace: &str,
    agents: &str,
    hours: &str,
) -> Response {
    let page = browser.get("/settings/resources").await;
    let hidden = hidden_fields(&page.body, "/settings/resources/limits");
    let mut fields: Vec<(&str, &str)> =
        vec![("max_running_agents", agents), ("max_agent_hours", hours)];
    fields.push(("workspace_id", workspace));
    browser
        .post_form("/settings/resources/limits", &hidden, &fields)
        .await
}

fn cell(page: &Response, workspace: &str, column: &str) -> String {
    page.text_of(&format!("tr[data-usage=\"{workspace}\"] .{column} .figure"))
        .unwrap_or_default()
}

async fn limits_and_quotas_are_set_on_the_resources_tab(app: TestApp) {
    let app = app
        .with_acme()
        .await
        .with_team("acme", "Platform")
        .await
        .with_project("acme", "Search")
        .await
        .with_agent("acme", "Search", "crawler")
        .await
        .with_user("Bea", "bea@example.com")
        .await
        .with_org("bea@example.com", "Beta", "beta")
        .await;
    let ann = app.browser("ann@example.com");
    let (acme, team) = (
        app.workspace_id("acme").await,
        app.team_id("acme", "Platform").await,
    );
    let page = ann.get("/settings/resources").await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(cell(&page, "Acme Corp", "agents"), "0");
    assert_eq!(cell(&page, "Platform", "hours"), "0.0");

    let res = set_limits(&ann, &acme, "3", "10").await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    // A team's quota within the organization's limit only.
    let res = set_limits(&ann, &team, "5", "").await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    let row = "tr[data-usage=\"Platform\"]";
    assert!(
        res.text_of(&format!("{row} .field-error"))
            .unwrap_or_default()
            .contains("can't exceed the organization's limit")
    );
    assert_eq!(
        res.attr_of(&format!("{row} input[name=max_running_agents]"), "value")
            .as_deref(),
        Some("5"),
        "the typed value is kept"
    );
    let res = set_limits(&ann, &team, "2", "4").await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    // The organization's limit can't go below a team's quota.
    let res = set_limits(&ann, &acme, "1", "10").await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        res.text_of("tr[data-usage=\"Acme Corp\"] .field-error")
            .unwrap_or_default()
            .contains("quota is higher")
    );
    // A member's quota within the organization's limit.
    let page = ann.get("/settings/resources").await;
    let hidden = hidden_fields(&page.body, "/settings/resources/limits");
    let res = ann
        .post_form(
            "/settings/resources/limits",
            &hidden,
            &[
                ("workspace_id", acme.as_str()),
                ("max_running_agents", "3"),
                ("max_agent_hours", "10"),
                ("max_agents_per_member", "4"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        res.text_of("tr[data-usage=\"Acme Corp\"] .field-error")
            .unwrap_or_default()
            .contains("A member's quota can't exceed")
    );
    for bad in ["-1", "abc", "1.5"] {
        let res = set_limits(&ann, &acme, bad, "").await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    }
    assert_eq!(
        app.count_with(
            "workspaces WHERE id = ? AND max_running_agents = 3 AND max_agent_hours = 10",
            &[&acme]
        )
        .await,
        1
    );
    assert_eq!(
        app.count_with(
            "audit_entries WHERE workspace_id = ? AND action = 'resources.limits.update'",
            &[&acme]
        )
        .await,
        2
    );
    // Usage against them: one agent running in the organization.
    let crawler = app
        .text_value_with(
            "SELECT id AS value FROM agents WHERE name = ?",
            &["crawler"],
        )
        .await;
    let res = ann
        .submit("/agents", &format!("/agents/{crawler}/start"), &[])
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let page = ann.get("/settings/resources").await;
    assert_eq!(cell(&page, "Acme Corp", "agents"), "1 / 3");
    assert_eq!(cell(&page, "Acme Corp", "hours"), "0.0 / 10");
    assert_eq!(cell(&page, "Platform", "agents"), "0 / 2");
    assert_eq!(
        page.attr_of("tr[data-usage=\"Acme Corp\"] progress", "value")
            .as_deref(),
        Some("33")
    );
    // Another organization's team from Beta: not found, nothing changed.
    let bea = app.browser("bea@example.com");
    let res = set_limits(&bea, &team, "1", "1").await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert_eq!(
        app.count_with(
            "workspaces WHERE id = ? AND max_running_agents = 2",
            &[&team]
        )
        .await,
        1
    );
}

async fn an_hours_limit_refuses_starts(app: TestApp) {
    let app = app
        .with_acme()
        .await
        .with_project("acme", "Search")
        .await
        .with_agent("acme", "Search", "crawler")
        .await;
    let ann = app.browser("ann@example.com");
    let acme = app.workspace_id("acme").await;
    let crawler = app
        .text_value_with(
            "SELECT id AS value FROM agents WHERE name = ?",
            &["crawler"],
        )
        .await;
    let start = format!("/agents/{crawler}/start");
    let stop = format!("/agents/{crawler}/stop");
    // Two hours run this month (or as much of it as has passed).
    assert_eq!(
        ann.submit("/agents", &start, &[]).await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        ann.submit("/agents", &stop, &[]).await.status,
        StatusCode::SEE_OTHER
    );
    let now = Utc::now().naive_utc();
    let month_start = NaiveDate::from_ymd_opt(now.year(), now.month(), 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .expect("a date");
    let ran = Duration::hours(2).min(now - month_start);
    let stamp = |at: chrono::NaiveDateTime| at.format("%Y-%m-%d %H:%M:%S").to_string();
    app.execute(&format!(
        "UPDATE agent_runs SET started_at = '{}', stopped_at = '{}'",
        stamp(month_start),
        stamp(month_start + ran)
    ))
    .await;
    // A limit of the hours used (rounded down) refuses the next start.
    let limit = (ran.num_seconds() / 3600).to_string();
    let res = set_limits(&ann, &acme, "", &limit).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let res = ann.submit("/agents", &start, &[]).await;
    assert_eq!(res.status, StatusCode::CONFLICT, "{}", res.body);
    assert!(
        res.body
            .contains(&format!("of the {limit} hours allowed this month"))
    );
    assert_eq!(app.count("agents WHERE status = 'running'").await, 0);
    // Raised: it starts.
    let raised = (ran.num_seconds() / 3600 + 1).to_string();
    assert_eq!(
        set_limits(&ann, &acme, "", &raised).await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        ann.submit("/agents", &start, &[]).await.status,
        StatusCode::SEE_OTHER
    );
}

async fn the_tab_shows_what_the_viewer_may_see(app: TestApp) {
    let app = app
        .with_acme()
        .await
        .with_member("acme", "Dave", "dave@example.com", "member")
        .await
        .with_role("acme", "Auditor", 20, &["audit.read"])
        .await
        .with_member("acme", "Olga", "olga@example.com", "Auditor")
        .await
        .with_team("acme", "Platform")
        .await
        .with_team_member("acme", "Platform", "dave@example.com", "member")
        .await;
    let acme = app.workspace_id("acme").await;
    let team = app.team_id("acme", "Platform").await;
    // A member sees the usage, without forms.
    let dave = app.sign_in("dave@example.com").await;
    assert_eq!(dave.switch_to(&acme).await.status, StatusCode::SEE_OTHER);
    let page = dave.get("/settings/resources").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text_of("tr[data-usage=\"Platform\"]").is_some());
    assert!(page.attr_of("form.limits-form", "action").is_none());
    // In the team: the team's own row only; its quota is the organization's to set.
    assert_eq!(dave.switch_to(&team).await.status, StatusCode::SEE_OTHER);
    let page = dave.get("/settings/resources").await;
    assert_eq!(page.body.matches("<tr data-usage=").count(), 1);
    assert!(
        page.text_of("#resources")
            .unwrap_or_default()
            .contains("set by its organization")
    );
    // Without resources.read: no tab, no page.
    let olga = app.sign_in("olga@example.com").await;
    assert_eq!(olga.switch_to(&acme).await.status, StatusCode::SEE_OTHER);
    assert_eq!(
        olga.get("/settings/resources").await.status,
        StatusCode::FORBIDDEN
    );
    assert!(
        !olga
            .get("/settings/general")
            .await
            .text_of("#settings-tabs")
            .unwrap_or_default()
            .contains("Resources")
    );
}

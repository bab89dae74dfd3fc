//! `/`: the active workspace at a glance — members, running agents against
//! the limit, the latest activity for those who may read the log, quick
//! actions fitting the viewer's role — and `/organizations` cards with
//! their team and project counts. The latest activity is kept in memory by
//! the workspace's audit version (`web::cache::LatestActivityCache`),
//! which every entry moves, whoever records it.

use reqwest::StatusCode;

use crate::on_both_backends;
use crate::settings_resources::set_limits;
use crate::support::{Response, TestApp};

on_both_backends!(
    the_dashboard_shows_agents_activity_and_allowed_actions,
    organization_cards_count_teams_and_projects,
    latest_activity_follows_entries_recorded_elsewhere,
);

async fn the_dashboard_shows_agents_activity_and_allowed_actions(app: TestApp) {
    let app = app
        .with_acme()
        .await
        .with_member("acme", "Dave", "dave@example.com", "member")
        .await
        .with_project("acme", "Search")
        .await
        .with_agent("acme", "Search", "crawler")
        .await;
    let ann = app.browser("ann@example.com");
    let acme = app.workspace_id("acme").await;
    assert_eq!(
        set_limits(&ann, &acme, "3", "").await.status,
        StatusCode::SEE_OTHER
    );
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
    let page = ann.get("/").await;
    assert_eq!(page.text_of("#member-count").as_deref(), Some("2"));
    assert_eq!(page.text_of("#running-agents").as_deref(), Some("1 / 3"));
    assert_eq!(page.text_of("#app-instances").as_deref(), Some("0"));
    let activity = page.text_of("#recent-activity").unwrap_or_default();
    assert!(
        activity.contains("agent.start") && activity.contains("crawler"),
        "{activity}"
    );
    let logged = app
        .count_with("audit_entries WHERE workspace_id = ?", &[&acme])
        .await;
    assert_eq!(
        page.body.matches("<li><small class=\"muted\">").count() as i64,
        logged.min(10),
        "the latest entries, at most ten"
    );
    let actions = page.text_of("#quick-actions").unwrap_or_default();
    for action in [
        "Invite a member",
        "Create a project",
        "Create a team",
        "See usage",
    ] {
        assert!(actions.contains(action), "{action}: {actions}");
    }
    // A member: no log, and only the actions their role allows.
    let dave = app.sign_in("dave@example.com").await;
    assert_eq!(dave.switch_to(&acme).await.status, StatusCode::SEE_OTHER);
    let page = dave.get("/").await;
    assert!(page.text_of("#recent-activity").is_none());
    let actions = page.text_of("#quick-actions").unwrap_or_default();
    assert!(actions.contains("Create or start an agent"), "{actions}");
    for action in ["Invite a member", "Create a project", "Create a team"] {
        assert!(!actions.contains(action), "{action}: {actions}");
    }
}

async fn organization_cards_count_teams_and_projects(app: TestApp) {
    let app = app
        .with_acme()
        .await
        .with_team("acme", "Platform")
        .await
        .with_team("acme", "Web")
        .await
        .with_project("acme", "Search")
        .await;
    let ann = app.browser("ann@example.com");
    let page = ann.get("/organizations").await;
    let card = "article.org-card[data-slug=\"acme\"]";
    assert_eq!(
        page.text_of(&format!("{card} .team-count")).as_deref(),
        Some("2")
    );
    assert_eq!(
        page.text_of(&format!("{card} .project-count")).as_deref(),
        Some("1")
    );
}

/// The text of the dashboard's latest activity.
fn activity(page: &Response) -> String {
    page.text_of("#recent-activity").unwrap_or_default()
}

const ACME_VERSION: &str = "SELECT CAST(version AS TEXT) AS value FROM audit_versions \
     WHERE workspace_id = (SELECT id FROM workspaces WHERE slug = 'acme')";

/// Records an entry in Acme straight in the database (a script, or
/// another instance of Tenantry), with `id`.
async fn record_elsewhere(app: &TestApp, id: &str, label: &str) {
    app.execute(&format!(
        "INSERT INTO audit_entries (id, workspace_id, actor_name, action, target_type, \
         target_id, target_label, details, ip, created_at) \
         SELECT '{id}', id, 'Script', 'project.create', 'project', 'p', '{label}', '', '', \
         created_at FROM workspaces WHERE slug = 'acme'"
    ))
    .await;
}

/// Ann's dashboard shows what is kept while nothing is recorded in Acme,
/// and each entry on the next view, however it was recorded: through the
/// app, or by SQL from elsewhere. One with an older id than the newest,
/// committed after it (ids are taken before their transaction commits),
/// shows too: the version is a count of entries, not the newest id.
async fn latest_activity_follows_entries_recorded_elsewhere(app: TestApp) {
    let app = app.with_acme().await;
    let ann = app.browser("ann@example.com");
    let first = activity(&ann.get("/").await);
    assert!(first.contains("organization.create"), "{first}");
    let version = app.text_value(ACME_VERSION).await;
    assert_eq!(activity(&ann.get("/").await), first);
    assert_eq!(app.text_value(ACME_VERSION).await, version, "nothing new");

    let res = ann
        .submit("/projects", "/projects", &[("name", "Search")])
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert_ne!(app.text_value(ACME_VERSION).await, version, "an entry");
    let shown = activity(&ann.get("/").await);
    assert!(
        shown.contains("Search"),
        "recorded through the app: {shown}"
    );

    record_elsewhere(&app, "ffffffff-ffff-7fff-bfff-ffffffffffff", "Newest").await;
    let shown = activity(&ann.get("/").await);
    assert!(shown.contains("Newest"), "recorded elsewhere: {shown}");

    record_elsewhere(&app, "00000000-0000-7000-8000-000000000001", "Late").await;
    let shown = activity(&ann.get("/").await);
    assert!(
        shown.contains("Late") && shown.contains("Newest"),
        "an older id committed later: {shown}"
    );
}

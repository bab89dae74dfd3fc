//! `/`: the active workspace at a glance — members, running agents against
//! the limit, the latest activity for those who may read the log, quick
//! actions fitting the viewer's role — and `/organizations` cards with
//! their team and project counts. The latest activity is kept in memory by
//! the workspace's audit version (`web::cache::LatestActivityCache`),
//! which every entry moves, whoever records it.

use reqwest::StatusCode;

use crate::on_both_backends;
use crate::settings_resources::set_limits;
use crate::support::{Client, Response, TestApp, hidden_fields};

on_both_backends!(
    the_dashboard_shows_agents_activity_and_allowed_actions,
    organization_cards_count_teams_and_projects,
    latest_activity_follows_entries_recorded_elsewhere,
    opposite_transfers_race_without_deadlock,
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

/// Two transfers in opposite directions at once: one moves a project from
/// Acme to its team while another moves one from the team to Acme. Each
/// records an entry in both workspaces, which locks both workspaces' audit
/// versions (on PostgreSQL) until it commits; both take them in the order
/// of the workspaces' ids, so neither waits for the other in a cycle (a
/// deadlock: one of them would fail).
async fn opposite_transfers_race_without_deadlock(app: TestApp) {
    let app = app
        .with_acme()
        .await
        .with_team("acme", "Platform")
        .await
        .with_project("acme", "Search")
        .await
        .with_project("acme", "Index")
        .await;
    let (acme, team) = (
        app.workspace_id("acme").await,
        app.team_id("acme", "Platform").await,
    );
    let projects = [
        app.project_id("acme", "Search").await,
        app.project_id("acme", "Index").await,
    ];
    let in_acme = app.browser("ann@example.com");
    let in_team = app.sign_in("ann@example.com").await;
    assert_eq!(in_team.switch_to(&team).await.status, StatusCode::SEE_OTHER);
    let moved = transfer(&in_acme, &projects[1], &team).await;
    assert_eq!(moved.status, StatusCode::SEE_OTHER, "{}", moved.body);
    for round in 0..8 {
        let (to_team, to_acme) = (&projects[round % 2], &projects[(round + 1) % 2]);
        let (there_form, back_form) = (
            transfer_form(&in_acme, to_team).await,
            transfer_form(&in_team, to_acme).await,
        );
        let (to_team_field, to_acme_field) = (
            [("to_workspace_id", team.as_str())],
            [("to_workspace_id", acme.as_str())],
        );
        let (there, back) = futures::join!(
            in_acme.post_form(&there_form.0, &there_form.1, &to_team_field),
            in_team.post_form(&back_form.0, &back_form.1, &to_acme_field),
        );
        assert_eq!(there.status, StatusCode::SEE_OTHER, "{}", there.body);
        assert_eq!(back.status, StatusCode::SEE_OTHER, "{}", back.body);
    }
    for workspace in [&acme, &team] {
        assert_eq!(
            app.count_with(
                "audit_entries WHERE workspace_id = ? AND action = 'project.transfer'",
                &[workspace]
            )
            .await,
            17,
            "every move recorded on both sides"
        );
    }
}

/// Posts a project's transfer form, from its page, to `to`.
async fn transfer(browser: &Client, project: &str, to: &str) -> Response {
    let (action, hidden) = transfer_form(browser, project).await;
    browser
        .post_form(&action, &hidden, &[("to_workspace_id", to)])
        .await
}

/// A project's transfer form as its page offers it: where it posts and
/// its hidden fields.
async fn transfer_form(browser: &Client, project: &str) -> (String, Vec<(String, String)>) {
    let page = browser.get(&format!("/projects/{project}")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let action = format!("/projects/{project}/transfer");
    let hidden = hidden_fields(&page.body, &action);
    (action, hidden)
}

//! `/agents`: agents created on a project of their own workspace, started
//! and stopped within the running-agent limits (exactly the limit under
//! concurrent starts, on both databases; a team's agents count against
//! its organization's limit too), and their runtime this month counted
//! from their runs across restarts and the month boundary.

use chrono::{Datelike, Duration, NaiveDate, Utc};
use reqwest::StatusCode;

use crate::on_both_backends;
use crate::settings_resources::set_limits;
use crate::support::{Client, Response, TestApp};

crate::on_both_backends_with!(
    look_for_idle_agents_every_second;
    idle_agents_are_stopped_and_start_again_as_they_were,
);

fn look_for_idle_agents_every_second(settings: &mut tenantry::config::Settings) {
    settings.idle_check_seconds = 1;
}

on_both_backends!(
    agents_are_created_started_stopped_and_deleted,
    runtime_counts_this_month_across_restarts,
    concurrent_starts_stop_at_the_limit,
    a_teams_agents_count_against_its_organization,
    a_members_quota_holds_under_concurrent_starts_in_a_team,
    an_idle_stopped_agent_runs_again_when_the_platform_uses_it,
);

/// Creates an agent `name` on `project` (a project id) with the form.
async fn create_agent(browser: &Client, name: &str, project: &str) -> Response {
    browser
        .submit(
            "/agents",
            "/agents",
            &[("name", name), ("project_id", project)],
        )
        .await
}

async fn agent_id(app: &TestApp, name: &str) -> String {
    app.text_value_with("SELECT id AS value FROM agents WHERE name = ?", &[name])
        .await
}

/// Posts an agent action (`start`, `stop`, `delete`) from the agents page.
async fn act(browser: &Client, app: &TestApp, name: &str, action: &str) -> Response {
    let id = agent_id(app, name).await;
    browser
        .submit("/agents", &format!("/agents/{id}/{action}"), &[])
        .await
}

async fn agents_are_created_started_stopped_and_deleted(app: TestApp) {
    let app = app
        .with_acme()
        .await
        .with_project("acme", "Search")
        .await
        .with_user("Bea", "bea@example.com")
        .await
        .with_org("bea@example.com", "Beta", "beta")
        .await
        .with_project("beta", "Beta Project")
        .await;
    let ann = app.browser("ann@example.com");
    let search = app.project_id("acme", "Search").await;
    let res = create_agent(&ann, "crawler", &search).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let page = ann.get("/agents").await;
    let row = page
        .text_of("tr[data-agent=\"crawler\"]")
        .unwrap_or_default();
    assert!(row.contains("Search") && row.contains("stopped"), "{row}");

    // Another workspace's project, a taken name: the form again, kept.
    let beta_project = app.project_id("beta", "Beta Project").await;
    let res = create_agent(&ann, "thief", &beta_project).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text_of("#project_id-error").is_some());
    assert_eq!(res.attr_of("#name", "value").as_deref(), Some("thief"));
    assert_eq!(app.count("agents WHERE name = 'thief'").await, 0);
    let res = create_agent(&ann, "CRAWLER", &search).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        res.text_of("#name-error")
            .unwrap_or_default()
            .contains("already has an agent")
    );

    let page_before_start = ann.get("/agents").await;
    let res = act(&ann, &app, "crawler", "start").await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let row = ann
        .get("/agents")
        .await
        .text_of("tr[data-agent=\"crawler\"] .status");
    assert_eq!(row.as_deref(), Some("running"));
    assert_eq!(app.count("agent_runs WHERE stopped_at IS NULL").await, 1);
    // The start button of a page loaded before: refused, nothing doubled.
    let id = agent_id(&app, "crawler").await;
    let start = format!("/agents/{id}/start");
    let stale = crate::support::hidden_fields(&page_before_start.body, &start);
    let res = ann.post_form(&start, &stale, &[]).await;
    assert_eq!(res.status, StatusCode::CONFLICT);
    assert!(res.body.contains("already running"));
    assert_eq!(app.count("agent_runs").await, 1);
    let acme = app.workspace_id("acme").await;
    assert_eq!(
        app.count_with("workspaces WHERE id = ? AND running_agents = 1", &[&acme])
            .await,
        1
    );

    // Running: it can't be deleted, nor its project.
    let stop = format!("/agents/{id}/stop");
    let hidden = crate::support::hidden_fields(&ann.get("/agents").await.body, &stop);
    let res = ann
        .post_form(&format!("/agents/{id}/delete"), &hidden, &[])
        .await;
    assert_eq!(res.status, StatusCode::CONFLICT);
    assert!(res.body.contains("Stop the agent before deleting it"));
    let project_page = format!("/projects/{search}");
    let res = ann
        .submit(&project_page, &format!("{project_page}/delete"), &[])
        .await;
    assert_eq!(res.status, StatusCode::CONFLICT);
    assert!(res.body.contains("Agents use this project"));

    let res = ann.post_form(&stop, &hidden, &[]).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert_eq!(app.count("agent_runs WHERE stopped_at IS NULL").await, 0);
    assert_eq!(
        app.count_with("workspaces WHERE id = ? AND running_agents = 0", &[&acme])
            .await,
        1
    );
    let res = act(&ann, &app, "crawler", "delete").await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert_eq!(app.count("agents").await, 0);
    assert_eq!(app.count("agent_runs").await, 0);
    for action in ["agent.create", "agent.start", "agent.stop", "agent.delete"] {
        assert_eq!(
            app.count_with(
                "audit_entries WHERE workspace_id = ? AND action = ?",
                &[&acme, action]
            )
            .await,
            1,
            "{action}"
        );
    }
}

async fn runtime_counts_this_month_across_restarts(app: TestApp) {
    let app = app.with_acme().await.with_project("acme", "Search").await;
    let ann = app.browser("ann@example.com");
    create_agent(&ann, "crawler", &app.project_id("acme", "Search").await).await;
    // Three runs: one last month, one across the month boundary, one open.
    for _ in 0..3 {
        act(&ann, &app, "crawler", "start").await;
        act(&ann, &app, "crawler", "stop").await;
    }
    act(&ann, &app, "crawler", "start").await;
    let now = Utc::now().naive_utc();
    let month_start = NaiveDate::from_ymd_opt(now.year(), now.month(), 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .expect("a date");
    let elapsed = now - month_start;
    let across = Duration::hours(1).min(elapsed / 4);
    let open = Duration::minutes(30).min(elapsed / 4);
    let stamp = |at: chrono::NaiveDateTime| at.format("%Y-%m-%d %H:%M:%S").to_string();
    let runs = app
        .text_values_with(
            "SELECT id AS value FROM agent_runs WHERE stopped_at IS NOT NULL ORDER BY started_at",
            &[],
        )
        .await;
    let spans = [
        (
            month_start - Duration::hours(3),
            month_start - Duration::hours(1),
        ),
        (month_start - Duration::hours(1), month_start + across),
        (
            month_start - Duration::hours(9),
            month_start - Duration::hours(8),
        ),
    ];
    for (run, (from, to)) in runs.iter().zip(spans) {
        app.execute(&format!(
            "UPDATE agent_runs SET started_at = '{}', stopped_at = '{}' WHERE id = '{run}'",
            stamp(from),
            stamp(to)
        ))
        .await;
    }
    app.execute(&format!(
        "UPDATE agent_runs SET started_at = '{}' WHERE stopped_at IS NULL",
        stamp(now - open)
    ))
    .await;
    let hours = ann
        .get("/agents")
        .await
        .text_of("tr[data-agent=\"crawler\"] .hours")
        .unwrap_or_default();
    let expected = (across + open).num_seconds() as f64 / 3600.0;
    assert_eq!(
        hours,
        format!("{expected:.1}"),
        "last month's runs don't count; the boundary run counts from the 1st"
    );
}

async fn concurrent_starts_stop_at_the_limit(app: TestApp) {
    let app = app.with_acme().await.with_project("acme", "Search").await;
    let ann = app.browser("ann@example.com");
    let acme = app.workspace_id("acme").await;
    app.execute(&format!(
        "UPDATE workspaces SET max_running_agents = 5 WHERE id = '{acme}'"
    ))
    .await;
    let search = app.project_id("acme", "Search").await;
    for n in 0..10 {
        create_agent(&ann, &format!("agent-{n}"), &search).await;
    }
    let page = ann.get("/agents").await;
    let mut posts = Vec::new();
    for n in 0..10 {
        let id = agent_id(&app, &format!("agent-{n}")).await;
        let action = format!("/agents/{id}/start");
        let hidden = crate::support::hidden_fields(&page.body, &action);
        let ann = ann.clone();
        posts.push(async move { ann.post_form(&action, &hidden, &[]).await });
    }
    let results = futures::future::join_all(posts).await;
    let started = results
        .iter()
        .filter(|r| r.status == StatusCode::SEE_OTHER)
        .count();
    let refused: Vec<_> = results
        .iter()
        .filter(|r| r.status == StatusCode::CONFLICT)
        .collect();
    assert_eq!(
        (started, refused.len()),
        (5, 5),
        "{:?}",
        results.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    assert!(
        refused[0].body.contains("5 of 5 agents"),
        "the message names the limit"
    );
    assert!(
        refused[0].body.contains("Resources tab"),
        "and where it is raised"
    );
    assert_eq!(app.count("agents WHERE status = 'running'").await, 5);
    assert_eq!(app.count("agent_runs WHERE stopped_at IS NULL").await, 5);
    assert_eq!(
        app.count_with("workspaces WHERE id = ? AND running_agents = 5", &[&acme])
            .await,
        1
    );
    assert!(
        ann.get("/agents")
            .await
            .text_of("#running-agents")
            .unwrap_or_default()
            .contains("5 / 5")
    );
}

async fn a_teams_agents_count_against_its_organization(app: TestApp) {
    let app = app.with_acme().await.with_team("acme", "Platform").await;
    let ann = app.browser("ann@example.com");
    let (acme, team) = (
        app.workspace_id("acme").await,
        app.team_id("acme", "Platform").await,
    );
    assert_eq!(
        set_limits(&ann, &acme, "3", "").await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        set_limits(&ann, &team, "2", "").await.status,
        StatusCode::SEE_OTHER
    );
    // Three agents in the team: its quota lets two run.
    assert_eq!(ann.switch_to(&team).await.status, StatusCode::SEE_OTHER);
    let res = ann
        .submit("/projects", "/projects", &[("name", "Team Project")])
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let team_project = app
        .text_value_with(
            "SELECT id AS value FROM projects WHERE name = ?",
            &["Team Project"],
        )
        .await;
    for n in 0..3 {
        create_agent(&ann, &format!("team-{n}"), &team_project).await;
    }
    let statuses = [
        act(&ann, &app, "team-0", "start").await.status,
        act(&ann, &app, "team-1", "start").await.status,
        act(&ann, &app, "team-2", "start").await.status,
    ];
    assert_eq!(
        statuses,
        [
            StatusCode::SEE_OTHER,
            StatusCode::SEE_OTHER,
            StatusCode::CONFLICT
        ]
    );
    // In the organization: its limit of 3 already holds the team's 2.
    assert_eq!(ann.switch_to(&acme).await.status, StatusCode::SEE_OTHER);
    let res = ann
        .submit("/projects", "/projects", &[("name", "Org Project")])
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let org_project = app
        .text_value_with(
            "SELECT id AS value FROM projects WHERE name = ?",
            &["Org Project"],
        )
        .await;
    create_agent(&ann, "org-0", &org_project).await;
    create_agent(&ann, "org-1", &org_project).await;
    assert_eq!(
        act(&ann, &app, "org-0", "start").await.status,
        StatusCode::SEE_OTHER
    );
    let res = act(&ann, &app, "org-1", "start").await;
    assert_eq!(res.status, StatusCode::CONFLICT);
    assert!(res.body.contains("3 of 3 agents"), "{}", res.body);
    assert_eq!(
        app.count_with("workspaces WHERE id = ? AND running_agents = 3", &[&acme])
            .await,
        1
    );
    assert_eq!(
        app.count_with("workspaces WHERE id = ? AND running_agents = 2", &[&team])
            .await,
        1
    );
    // A team agent stopping frees a slot of the organization too.
    assert_eq!(ann.switch_to(&team).await.status, StatusCode::SEE_OTHER);
    let id = agent_id(&app, "team-0").await;
    let hidden = crate::support::hidden_fields(
        &ann.get("/agents").await.body,
        &format!("/agents/{id}/stop"),
    );
    assert_eq!(
        ann.post_form(&format!("/agents/{id}/stop"), &hidden, &[])
            .await
            .status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(ann.switch_to(&acme).await.status, StatusCode::SEE_OTHER);
    assert_eq!(
        act(&ann, &app, "org-1", "start").await.status,
        StatusCode::SEE_OTHER
    );
}

/// The idle job (every second here, with the default 12 idle hours) stops
/// an agent whose last activity is 13 hours old, releases its slot and
/// logs it as Tenantry's doing; one active an hour ago runs on; the
/// stopped one starts again with its history.
async fn idle_agents_are_stopped_and_start_again_as_they_were(app: TestApp) {
    let app = app
        .with_acme()
        .await
        .with_project("acme", "Search")
        .await
        .with_agent("acme", "Search", "sleepy")
        .await
        .with_agent("acme", "Search", "busy")
        .await;
    let ann = app.browser("ann@example.com");
    let acme = app.workspace_id("acme").await;
    for name in ["sleepy", "busy"] {
        assert_eq!(
            act(&ann, &app, name, "start").await.status,
            StatusCode::SEE_OTHER
        );
    }
    let ago = |hours: i64| {
        (Utc::now().naive_utc() - Duration::hours(hours))
            .format("%Y-%m-%d %H:%M:%S")
            .to_string()
    };
    app.execute(&format!(
        "UPDATE agents SET last_active_at = '{}' WHERE name = 'sleepy'",
        ago(13)
    ))
    .await;
    app.execute(&format!(
        "UPDATE agents SET last_active_at = '{}' WHERE name = 'busy'",
        ago(1)
    ))
    .await;
    let mut stopped = false;
    for _ in 0..100 {
        if app
            .count("agents WHERE name = 'sleepy' AND status = 'stopped'")
            .await
            == 1
        {
            stopped = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(stopped, "the idle job stopped the idle agent within 10 s");
    assert_eq!(
        app.count("agents WHERE name = 'busy' AND status = 'running'")
            .await,
        1
    );
    assert_eq!(
        app.count_with("workspaces WHERE id = ? AND running_agents = 1", &[&acme])
            .await,
        1
    );
    assert_eq!(
        app.count(
            "audit_entries WHERE action = 'agent.idle_stop' AND actor_name = 'Tenantry' \
             AND actor_user_id IS NULL AND target_label = 'sleepy'"
        )
        .await,
        1
    );
    let row = ann
        .get("/agents")
        .await
        .text_of("tr[data-agent=\"sleepy\"] .status");
    assert_eq!(row.as_deref(), Some("stopped"));
    assert_eq!(
        act(&ann, &app, "sleepy", "start").await.status,
        StatusCode::SEE_OTHER
    );
    let sleepy = agent_id(&app, "sleepy").await;
    assert_eq!(
        app.count_with("agent_runs WHERE agent_id = ?", &[&sleepy])
            .await,
        2,
        "its history kept"
    );
}

/// The organization's per-member quota of 5, 10 concurrent starts by one
/// member in a team: exactly 5 run; another member still may start one.
async fn a_members_quota_holds_under_concurrent_starts_in_a_team(app: TestApp) {
    let app = app
        .with_acme()
        .await
        .with_member("acme", "Bob", "bob@example.com", "member")
        .await
        .with_team("acme", "Platform")
        .await
        .with_team_member("acme", "Platform", "bob@example.com", "member")
        .await;
    let ann = app.browser("ann@example.com");
    let (acme, team) = (
        app.workspace_id("acme").await,
        app.team_id("acme", "Platform").await,
    );
    let page = ann.get("/settings/resources").await;
    let hidden = crate::support::hidden_fields(&page.body, "/settings/resources/limits");
    let res = ann
        .post_form(
            "/settings/resources/limits",
            &hidden,
            &[
                ("workspace_id", acme.as_str()),
                ("max_agents_per_member", "5"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert_eq!(ann.switch_to(&team).await.status, StatusCode::SEE_OTHER);
    ann.submit("/projects", "/projects", &[("name", "Team Project")])
        .await;
    let project = app
        .text_value_with(
            "SELECT id AS value FROM projects WHERE name = ?",
            &["Team Project"],
        )
        .await;
    for n in 0..11 {
        create_agent(&ann, &format!("agent-{n}"), &project).await;
    }
    let page = ann.get("/agents").await;
    let mut posts = Vec::new();
    for n in 0..10 {
        let action = format!(
            "/agents/{}/start",
            agent_id(&app, &format!("agent-{n}")).await
        );
        let hidden = crate::support::hidden_fields(&page.body, &action);
        let ann = ann.clone();
        posts.push(async move { ann.post_form(&action, &hidden, &[]).await });
    }
    let results = futures::future::join_all(posts).await;
    let started = results
        .iter()
        .filter(|r| r.status == StatusCode::SEE_OTHER)
        .count();
    let refused: Vec<_> = results
        .iter()
        .filter(|r| r.status == StatusCode::CONFLICT)
        .collect();
    assert_eq!((started, refused.len()), (5, 5));
    assert!(
        refused[0].body.contains("the most each member may have"),
        "{}",
        refused[0].body
    );
    assert_eq!(app.count("agents WHERE status = 'running'").await, 5);
    // Bob has his own quota.
    let bob = app.sign_in("bob@example.com").await;
    assert_eq!(bob.switch_to(&team).await.status, StatusCode::SEE_OTHER);
    let res = act(&bob, &app, "agent-10", "start").await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    // The organization's tab lists both with their counts.
    assert_eq!(ann.switch_to(&acme).await.status, StatusCode::SEE_OTHER);
    let usage = ann.get("/settings/resources").await;
    assert_eq!(
        usage
            .text_of("tr[data-member-usage=\"ann@example.com\"] .figure")
            .as_deref(),
        Some("5 / 5")
    );
    assert_eq!(
        usage
            .text_of("tr[data-member-usage=\"bob@example.com\"] .figure")
            .as_deref(),
        Some("1 / 5")
    );
}

/// `POST /api/v1/agents/{id}/activity` with a project key: status and body.
async fn report_use(app: &TestApp, key: &str, agent: &str) -> (StatusCode, serde_json::Value) {
    let res = reqwest::Client::new()
        .post(format!("{}/api/v1/agents/{agent}/activity", app.base))
        .bearer_auth(key)
        .send()
        .await
        .expect("activity call");
    let status = res.status();
    (status, res.json().await.expect("a JSON body"))
}

/// The idle job stops an agent; the platform's next report of its use
/// starts it again (a new run, counted, audited as Tenantry's), within the
/// limits; one a person stopped stays stopped; another workspace's key
/// finds nothing.
async fn an_idle_stopped_agent_runs_again_when_the_platform_uses_it(app: TestApp) {
    let app = app
        .with_acme()
        .await
        .with_project("acme", "Search")
        .await
        .with_agent("acme", "Search", "sleepy")
        .await
        .with_agent("acme", "Search", "other")
        .await;
    let key = app.add_project_key("acme", "Search", "platform").await;
    let ann = app.browser("ann@example.com");
    assert_eq!(
        act(&ann, &app, "sleepy", "start").await.status,
        StatusCode::SEE_OTHER
    );
    let sleepy = agent_id(&app, "sleepy").await;
    let (status, body) = report_use(&app, &key, &sleepy).await;
    assert_eq!(
        (status, body["resumed"].as_bool()),
        (StatusCode::OK, Some(false))
    );

    let long_ago = (Utc::now().naive_utc() - Duration::hours(13)).format("%Y-%m-%d %H:%M:%S");
    app.execute(&format!(
        "UPDATE agents SET last_active_at = '{long_ago}' WHERE name = 'sleepy'"
    ))
    .await;
    let stopped = tenantry::services::agents::stop_idle(&app.db, Duration::hours(12))
        .await
        .expect("idle job");
    assert_eq!(stopped, 1);
    let (status, body) = report_use(&app, &key, &sleepy).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["resumed"], true);
    assert_eq!(
        app.count("agents WHERE name = 'sleepy' AND status = 'running'")
            .await,
        1
    );
    assert_eq!(
        app.count_with("agent_runs WHERE agent_id = ?", &[&sleepy])
            .await,
        2
    );
    assert_eq!(
        app.count("audit_entries WHERE action = 'agent.resume' AND actor_name = 'Tenantry'")
            .await,
        1
    );

    // Stopped by a person: use doesn't start it.
    assert_eq!(
        act(&ann, &app, "sleepy", "stop").await.status,
        StatusCode::SEE_OTHER
    );
    let (status, body) = report_use(&app, &key, &sleepy).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(
        app.count("agents WHERE name = 'sleepy' AND status = 'stopped'")
            .await,
        1
    );

    // Idle-stopped again, but the limit is full: refused, naming it.
    assert_eq!(
        act(&ann, &app, "sleepy", "start").await.status,
        StatusCode::SEE_OTHER
    );
    app.execute(&format!(
        "UPDATE agents SET last_active_at = '{long_ago}' WHERE name = 'sleepy'"
    ))
    .await;
    tenantry::services::agents::stop_idle(&app.db, Duration::hours(12))
        .await
        .expect("idle job");
    let acme = app.workspace_id("acme").await;
    assert_eq!(
        set_limits(&ann, &acme, "1", "").await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        act(&ann, &app, "other", "start").await.status,
        StatusCode::SEE_OTHER
    );
    let (status, body) = report_use(&app, &key, &sleepy).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "limit_reached");

    // Another workspace's key doesn't find it.
    let app = app
        .with_user("Bob", "bob@example.com")
        .await
        .with_org("bob@example.com", "Beta Works", "beta")
        .await
        .with_project("beta", "Crawl")
        .await;
    let beta_key = app.add_project_key("beta", "Crawl", "platform").await;
    let (status, _) = report_use(&app, &beta_key, &sleepy).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

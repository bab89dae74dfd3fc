//! `/apps`: the catalogue from configuration, instances installed within
//! the instance limit (exactly the limit under concurrent installs),
//! stopped, started and removed, and idle ones stopped by the idle job.

use chrono::{Duration, Utc};
use reqwest::StatusCode;

use crate::on_both_backends;
use crate::support::{Client, Response, TestApp, hidden_fields};

on_both_backends!(
    apps_are_installed_stopped_started_and_removed,
    concurrent_installs_stop_at_the_limit,
    an_idle_stopped_app_runs_again_when_the_platform_uses_it,
);

crate::on_both_backends_with!(
    look_for_idle_apps_every_second;
    idle_apps_are_stopped,
);

fn look_for_idle_apps_every_second(settings: &mut tenantry::config::Settings) {
    settings.idle_check_seconds = 1;
}

async fn install(browser: &Client, key: &str) -> Response {
    browser
        .submit("/apps", &format!("/apps/{key}/install"), &[])
        .await
}

/// Sets the organization's app-instance limit on the Resources tab.
async fn limit_instances(browser: &Client, workspace: &str, limit: &str) {
    let page = browser.get("/settings/resources").await;
    let hidden = hidden_fields(&page.body, "/settings/resources/limits");
    let res = browser
        .post_form(
            "/settings/resources/limits",
            &hidden,
            &[("workspace_id", workspace), ("max_app_instances", limit)],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
}

async fn instance_id(app: &TestApp) -> String {
    app.text_value("SELECT id AS value FROM app_instances")
        .await
}

async fn apps_are_installed_stopped_started_and_removed(app: TestApp) {
    let app = app.with_acme().await;
    let ann = app.browser("ann@example.com");
    let acme = app.workspace_id("acme").await;
    let page = ann.get("/apps").await;
    assert_eq!(page.status, StatusCode::OK);
    let notebook = page
        .text_of("article[data-app=\"notebook\"]")
        .unwrap_or_default();
    assert!(
        notebook.contains("Notebook") && notebook.contains("$9.00 a month"),
        "{notebook}"
    );
    assert_eq!(page.body.matches("<article data-app=").count(), 3);

    let res = install(&ann, "notebook").await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let row = "tr[data-instance=\"Notebook\"] .status";
    assert_eq!(
        ann.get("/apps").await.text_of(row).as_deref(),
        Some("running")
    );
    assert_eq!(
        app.count_with("workspaces WHERE id = ? AND app_instances = 1", &[&acme])
            .await,
        1
    );
    let id = instance_id(&app).await;
    let res = ann
        .submit("/apps", &format!("/apps/instances/{id}/stop"), &[])
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(
        ann.get("/apps").await.text_of(row).as_deref(),
        Some("stopped")
    );
    let res = ann
        .submit("/apps", &format!("/apps/instances/{id}/start"), &[])
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(
        ann.get("/apps").await.text_of(row).as_deref(),
        Some("running")
    );
    let res = ann
        .submit("/apps", &format!("/apps/instances/{id}/remove"), &[])
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(app.count("app_instances").await, 0);
    assert_eq!(
        app.count_with("workspaces WHERE id = ? AND app_instances = 0", &[&acme])
            .await,
        1
    );
    for action in ["app.install", "app.stop", "app.start", "app.uninstall"] {
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
    // An app the catalogue doesn't have.
    let hidden = hidden_fields(&ann.get("/apps").await.body, "/apps/notebook/install");
    let res = ann.post_form("/apps/nope/install", &hidden, &[]).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
}

async fn concurrent_installs_stop_at_the_limit(app: TestApp) {
    let app = app.with_acme().await;
    let ann = app.browser("ann@example.com");
    let acme = app.workspace_id("acme").await;
    limit_instances(&ann, &acme, "2").await;
    let page = ann.get("/apps").await;
    let hidden = hidden_fields(&page.body, "/apps/chat-ui/install");
    let installs = (0..6).map(|_| {
        let (ann, hidden) = (ann.clone(), hidden.clone());
        async move { ann.post_form("/apps/chat-ui/install", &hidden, &[]).await }
    });
    let results = futures::future::join_all(installs).await;
    let installed = results
        .iter()
        .filter(|r| r.status == StatusCode::SEE_OTHER)
        .count();
    let refused: Vec<_> = results
        .iter()
        .filter(|r| r.status == StatusCode::CONFLICT)
        .collect();
    assert_eq!((installed, refused.len()), (2, 4));
    assert!(
        refused[0].body.contains("2 of the 2 app instances"),
        "{}",
        refused[0].body
    );
    assert_eq!(app.count("app_instances").await, 2);
    let usage = ann.get("/settings/resources").await;
    assert_eq!(
        usage
            .text_of("tr[data-usage=\"Acme Corp\"] .apps .figure")
            .as_deref(),
        Some("2 / 2")
    );
}

async fn idle_apps_are_stopped(app: TestApp) {
    let app = app.with_acme().await;
    let ann = app.browser("ann@example.com");
    assert_eq!(
        install(&ann, "notebook").await.status,
        StatusCode::SEE_OTHER
    );
    let stale = (Utc::now().naive_utc() - Duration::hours(13))
        .format("%Y-%m-%d %H:%M:%S")
        .to_string();
    app.execute(&format!(
        "UPDATE app_instances SET last_active_at = '{stale}'"
    ))
    .await;
    let mut stopped = false;
    for _ in 0..100 {
        if app.count("app_instances WHERE status = 'stopped'").await == 1 {
            stopped = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(stopped, "the idle job stopped the idle app within 10 s");
    assert_eq!(
        app.count("audit_entries WHERE action = 'app.idle_stop' AND actor_name = 'Tenantry'")
            .await,
        1
    );
    let id = instance_id(&app).await;
    let res = ann
        .submit("/apps", &format!("/apps/instances/{id}/start"), &[])
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "it starts again");
}

/// The idle job stops an instance; the platform's next report of its use
/// runs it again (audited as Tenantry's); one a person stopped stays
/// stopped; another workspace's key finds nothing.
async fn an_idle_stopped_app_runs_again_when_the_platform_uses_it(app: TestApp) {
    let app = app
        .with_acme()
        .await
        .with_project("acme", "Search")
        .await
        .with_app("acme", "notebook")
        .await;
    let key = app.add_project_key("acme", "Search", "platform").await;
    let instance = app
        .text_value("SELECT id AS value FROM app_instances")
        .await;
    let url = format!("{}/api/v1/apps/{instance}/activity", app.base);
    let report = |key: String| {
        let url = url.clone();
        async move {
            let res = reqwest::Client::new()
                .post(url)
                .bearer_auth(key)
                .send()
                .await
                .expect("activity call");
            let status = res.status();
            (status, res.json::<serde_json::Value>().await.expect("JSON"))
        }
    };
    let long_ago = (Utc::now().naive_utc() - Duration::hours(13)).format("%Y-%m-%d %H:%M:%S");
    app.execute(&format!(
        "UPDATE app_instances SET last_active_at = '{long_ago}'"
    ))
    .await;
    let catalogue = tenantry::config::Settings::default().apps;
    let stopped = tenantry::services::apps::stop_idle(&app.db, &catalogue, Duration::hours(12))
        .await
        .expect("idle job");
    assert_eq!(stopped, 1);
    let (status, body) = report(key.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["resumed"], true);
    assert_eq!(app.count("app_instances WHERE status = 'running'").await, 1);
    assert_eq!(
        app.count("audit_entries WHERE action = 'app.resume' AND actor_name = 'Tenantry'")
            .await,
        1
    );
    let (status, body) = report(key.clone()).await;
    assert_eq!(
        (status, body["resumed"].as_bool()),
        (StatusCode::OK, Some(false))
    );

    let ann = app.browser("ann@example.com");
    let res = ann
        .submit("/apps", &format!("/apps/instances/{instance}/stop"), &[])
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let (status, _) = report(key).await;
    assert_eq!(status, StatusCode::CONFLICT, "a person's stop holds");
    assert_eq!(app.count("app_instances WHERE status = 'stopped'").await, 1);

    let app = app
        .with_user("Bob", "bob@example.com")
        .await
        .with_org("bob@example.com", "Beta Works", "beta")
        .await
        .with_project("beta", "Crawl")
        .await;
    let beta_key = app.add_project_key("beta", "Crawl", "platform").await;
    let (status, _) = report(beta_key).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

//! What a page view costs: no writes when nothing changed, the member
//! counter kept in step with every membership change, the search index kept
//! in step with names and emails, the statements each page runs, and a
//! killed PostgreSQL connection that the next request survives.

use reqwest::StatusCode;

use crate::support::{Client, PASSWORD, TestApp, TestBackend};
use crate::{on_both_backends, on_both_backends_with};

on_both_backends!(
    viewing_pages_writes_nothing,
    member_counter_follows_every_membership_change,
    search_follows_name_and_email_changes,
);

on_both_backends_with!(expose_statements; statements_per_page_view);
on_both_backends_with!(expose_statements; statements_per_resource_page_view);

fn expose_statements(settings: &mut tenantry::config::Settings) {
    settings.expose_db_statements = true;
}

/// Ann owns Acme; returns her browser, with Acme active.
async fn acme(app: &TestApp) -> Client {
    let ann = app.signed_up("Ann", "ann@example.com").await;
    assert_eq!(
        app.create_org(&ann, "Acme Corp", "acme").await.status,
        StatusCode::SEE_OTHER
    );
    ann
}

/// Everything a page view could write to a session row.
async fn session_row(app: &TestApp) -> String {
    app.text_value(
        "SELECT state || '|' || CAST(expires_at AS TEXT) || '|' || CAST(last_seen_at AS TEXT) \
         || '|' || ip || '|' || user_agent AS value FROM sessions WHERE user_id IS NOT NULL",
    )
    .await
}

async fn viewing_pages_writes_nothing(app: TestApp) {
    let ann = acme(&app).await;
    // The first view consumes the flash and records the client's IP.
    assert_eq!(ann.get("/").await.status, StatusCode::OK);
    let before = session_row(&app).await;
    for path in [
        "/",
        "/settings/members",
        "/settings/general",
        "/audit",
        "/account",
        "/",
    ] {
        assert_eq!(ann.get(path).await.status, StatusCode::OK, "{path}");
    }
    assert_eq!(
        session_row(&app).await,
        before,
        "page views within a minute leave the session row as it was"
    );
}

/// The counter on the workspace row, the members counted, and the number
/// the dashboard shows, for the active workspace of `browser`.
async fn assert_counter(app: &TestApp, browser: &Client, slug: &str, expected: i64) {
    let workspace = app.workspace_id(slug).await;
    let counted = app
        .count(&format!(
            "memberships WHERE workspace_id = '{workspace}' AND status = 'active'"
        ))
        .await;
    let counter = app
        .count(&format!(
            "workspaces WHERE id = '{workspace}' AND member_count = {expected}"
        ))
        .await;
    assert_eq!(counted, expected, "active members of {slug}");
    assert_eq!(counter, 1, "member_count of {slug} is {expected}");
    let shown = browser.get("/").await.text_of("#member-count");
    assert_eq!(shown, Some(expected.to_string()), "the dashboard's count");
}

async fn member_counter_follows_every_membership_change(app: TestApp) {
    let ann = acme(&app).await;
    assert_counter(&app, &ann, "acme", 1).await;
    // Invitation accepted by an existing user.
    let bob = app.signed_up("Bob", "bob@example.com").await;
    let member_role = app
        .text_value(&format!(
            "SELECT id AS value FROM roles WHERE workspace_id = '{}' AND system_key = 'member'",
            app.workspace_id("acme").await
        ))
        .await;
    let res = ann
        .submit(
            "/settings/members",
            "/settings/members/invite",
            &[
                ("name", "Bob"),
                ("email", "bob@example.com"),
                ("role_id", &member_role),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let link = app.invitation_link("bob@example.com").await;
    let res = bob.submit(&link, &format!("{link}/accept"), &[]).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_counter(&app, &ann, "acme", 2).await;
    // Inserted behind the app's back (an operator, a bulk load).
    app.signed_up("Carol", "carol@example.com").await;
    app.add_member("acme", "carol@example.com", "member").await;
    assert_counter(&app, &ann, "acme", 3).await;

    let row = r#"tr[data-member="bob@example.com"]"#;
    let page = ann.get("/settings/members").await;
    let deactivate = page
        .attr_of(
            &format!("{row} button[formaction$=\"/deactivate\"]"),
            "formaction",
        )
        .expect("deactivate");
    ann.submit("/settings/members", &deactivate, &[]).await;
    assert_counter(&app, &ann, "acme", 2).await;
    let page = ann.get("/settings/members").await;
    let reactivate = page
        .attr_of(
            &format!("{row} button[formaction$=\"/reactivate\"]"),
            "formaction",
        )
        .expect("reactivate");
    ann.submit("/settings/members", &reactivate, &[]).await;
    assert_counter(&app, &ann, "acme", 3).await;
    let page = ann.get("/settings/members").await;
    let remove = page
        .attr_of(
            &format!("{row} button[formaction$=\"/remove\"]"),
            "formaction",
        )
        .expect("remove");
    ann.submit("/settings/members", &remove, &[]).await;
    assert_counter(&app, &ann, "acme", 2).await;
    // Carol leaves by herself.
    let carol = app.client();
    carol
        .submit(
            "/login",
            "/login",
            &[("email", "carol@example.com"), ("password", PASSWORD)],
        )
        .await;
    carol.switch_to(&app.workspace_id("acme").await).await;
    let res = carol
        .submit("/settings/danger", "/settings/leave", &[])
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert_counter(&app, &ann, "acme", 1).await;
    // Personal workspaces count their owner.
    assert_eq!(
        app.count("workspaces WHERE kind = 'personal' AND member_count = 1")
            .await,
        3
    );
}

/// The emails in the members table for a search.
async fn search(browser: &Client, q: &str) -> Vec<String> {
    let path = format!(
        "/settings/members?{}",
        serde_urlencoded::to_string([("q", q)]).expect("query")
    );
    let page = browser.get(&path).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let html = scraper::Html::parse_document(&page.body);
    let rows = scraper::Selector::parse("#members-table tr[data-member]").expect("selector");
    html.select(&rows)
        .filter_map(|r| r.value().attr("data-member").map(str::to_owned))
        .collect()
}

async fn search_follows_name_and_email_changes(app: TestApp) {
    let ann = acme(&app).await;
    let bob = app.signed_up("Bob Builder", "bob@example.com").await;
    app.add_member("acme", "bob@example.com", "member").await;
    assert_eq!(search(&ann, "builder").await, ["bob@example.com"]);
    assert_eq!(search(&ann, "BUILD").await, ["bob@example.com"]);
    assert_eq!(search(&ann, "bo").await, ["bob@example.com"], "short");
    assert!(search(&ann, "b%b").await.is_empty(), "% is a character");

    let res = bob
        .submit("/account", "/account/profile", &[("name", "Robert Mason")])
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert!(search(&ann, "builder").await.is_empty(), "the old name");
    assert_eq!(search(&ann, "mason").await, ["bob@example.com"]);

    let res = bob
        .submit(
            "/account",
            "/account/email",
            &[
                ("new_email", "robert@example.org"),
                ("email_current_password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let link = app
        .link_in_latest_email("robert@example.org", "/email/change/")
        .await;
    assert_eq!(bob.submit(&link, &link, &[]).await.status, StatusCode::OK);
    assert_eq!(search(&ann, "robert@").await, ["robert@example.org"]);
    assert!(search(&ann, "bob@ex").await.is_empty(), "the old email");
    assert_eq!(search(&ann, "example.org").await, ["robert@example.org"]);
}

/// `X-Db-Statements` of a GET, after checking it succeeded and that it
/// checked out one pool connection (`X-Db-Checkouts`) if it ran any
/// statement: the session load's, which then serves the page's own data.
async fn statements(browser: &Client, path: &str) -> u64 {
    let res = browser.get(path).await;
    assert_eq!(res.status, StatusCode::OK, "{path}: {}", res.body);
    let header = |name: &str| -> u64 {
        res.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{path}: no {name} header"))
    };
    let (statements, checkouts) = (header("x-db-statements"), header("x-db-checkouts"));
    assert_eq!(
        checkouts,
        u64::from(statements > 0),
        "{path}: {checkouts} pool checkouts for {statements} statement(s)"
    );
    statements
}

async fn statements_per_page_view(app: TestApp) {
    let ann = acme(&app).await;
    ann.get("/").await;
    ann.get("/").await;
    // The session, the user, their workspaces, role and permissions: one
    // statement (without the workspace's roles: only the members page asks
    // for those); the dashboard's counts come with it; its latest activity
    // (for those who may read the log) was read once and is kept in memory
    // until an entry is recorded.
    assert_eq!(statements(&ann, "/").await, 1, "dashboard");
    app.execute("UPDATE audit_versions SET version = version + 1")
        .await;
    assert_eq!(statements(&ann, "/").await, 2, "dashboard after an entry");
    assert_eq!(statements(&ann, "/").await, 1, "dashboard, again");
    assert_eq!(statements(&ann, "/settings/general").await, 2, "general");
    // Members (as owner): the session and nothing else. The first page of
    // members, the roles for the menus and the invitations with their
    // deliveries are read once, then kept in memory until their versions
    // move.
    assert_eq!(
        statements(&ann, "/settings/members").await,
        4,
        "members, first view"
    );
    assert_eq!(statements(&ann, "/settings/members").await, 1, "members");
    app.execute("UPDATE roles SET level = level WHERE system_key = 'member'")
        .await;
    assert_eq!(
        statements(&ann, "/settings/members").await,
        2,
        "members after a role change"
    );
    app.execute("UPDATE workspaces SET invitations_version = invitations_version + 1")
        .await;
    assert_eq!(
        statements(&ann, "/settings/members").await,
        2,
        "members after an invitation changed"
    );
    app.execute("UPDATE memberships SET status = status").await;
    assert_eq!(
        statements(&ann, "/settings/members").await,
        2,
        "members after a membership changed"
    );
    assert_eq!(
        statements(&ann, "/settings/members").await,
        1,
        "members, again"
    );
    // A later page is read on every view.
    assert_eq!(
        statements(
            &ann,
            "/settings/members?after=00000000-0000-0000-0000-000000000000"
        )
        .await,
        2,
        "a later page"
    );
    // A search: on SQLite the FTS5 index is asked in the same statement.
    assert_eq!(
        statements(&ann, "/settings/members?q=ann").await,
        2,
        "search"
    );
    assert_eq!(
        statements(&ann, "/settings/members?q=no").await,
        2,
        "short search"
    );
    // The audit log: a page of entries and the filter menus.
    assert_eq!(statements(&ann, "/audit").await, 3, "audit");
    assert_eq!(statements(&ann, "/settings/roles").await, 2, "roles");
    // The cards with their counters and owners, and the archived
    // organizations the viewer may restore.
    assert_eq!(statements(&ann, "/organizations").await, 3, "organizations");
    assert_eq!(statements(&ann, "/healthz").await, 0, "healthz");
    // A page view after a minute records the activity: one write more.
    app.execute(&format!(
        "UPDATE sessions SET last_seen_at = {}",
        match app.backend {
            TestBackend::Sqlite => "datetime(last_seen_at, '-2 minutes')",
            TestBackend::Postgres => "last_seen_at - INTERVAL '2 minutes'",
        }
    ))
    .await;
    assert_eq!(statements(&ann, "/").await, 2, "dashboard with activity");
    assert_eq!(statements(&ann, "/").await, 1, "and then none");
    // When it falls due under concurrent views of one session, one of them
    // writes it; the others don't queue on the row behind it. (Three
    // minutes: SQLite's datetime() drops the fraction, so two minutes would
    // give the very value seen a moment ago.)
    app.execute(&format!(
        "UPDATE sessions SET last_seen_at = {}",
        match app.backend {
            TestBackend::Sqlite => "datetime(last_seen_at, '-3 minutes')",
            TestBackend::Postgres => "last_seen_at - INTERVAL '3 minutes'",
        }
    ))
    .await;
    let views = futures::future::join_all((0..16).map(|_| statements(&ann, "/"))).await;
    assert_eq!(
        views.iter().sum::<u64>(),
        16 + 1,
        "one activity write among 16 concurrent views: {views:?}"
    );
}

/// The resource and billing pages: the session load and the page's own
/// data, whatever number of keys, agents, runs or teams they show.
async fn statements_per_resource_page_view(app: TestApp) {
    let app = app
        .with_acme()
        .await
        .with_team("acme", "Core")
        .await
        .with_team("acme", "Edge")
        .await
        .with_project("acme", "Search")
        .await
        .with_project("acme", "Crawl")
        .await
        .with_agent("acme", "Search", "Crawler")
        .await
        .with_agent("acme", "Search", "Indexer")
        .await;
    let ann = app.browser("ann@example.com");
    let project = app.project_id("acme", "Search").await;
    let page = format!("/projects/{project}");
    for name in ["ci", "deploy"] {
        let res = ann
            .submit(&page, &format!("{page}/keys"), &[("key_name", name)])
            .await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    }
    let crawler = app
        .text_value_with(
            "SELECT id AS value FROM agents WHERE name = ?",
            &["Crawler"],
        )
        .await;
    for action in ["start", "stop", "start"] {
        let res = ann
            .submit("/agents", &format!("/agents/{crawler}/{action}"), &[])
            .await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "{action}: {}", res.body);
    }
    // (The view that shows a step's message writes the session once.)
    ann.get("/agents").await;
    // The agents with their runtime this month (two runs of one agent
    // among them), and the projects for the menus.
    assert_eq!(statements(&ann, "/agents").await, 3, "agents");
    // The project with its two keys, and the agents on it.
    assert_eq!(statements(&ann, &page).await, 3, "a project");
    assert_eq!(
        statements(&ann, "/settings/resources").await,
        3,
        "resources"
    );
    // The wallet with its allowed models, its projects (the filter menu)
    // and its teams' wallets; and a page of the ledger.
    assert_eq!(statements(&ann, "/settings/billing").await, 3, "billing");
    let res = ann
        .submit(
            "/settings/billing",
            "/billing/controls",
            &[("monthly_limit", ""), ("allowed_models", "gpt-4o\nclaude")],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    ann.get("/settings/billing").await;
    assert_eq!(
        statements(&ann, "/settings/billing").await,
        3,
        "billing with allowed models"
    );
    // Two models and two projects in one statement: each listed once.
    let page = ann.get("/settings/billing").await;
    assert_eq!(
        page.text_of("#allowed-models").as_deref(),
        Some("Only these models may be charged: claude , gpt-4o .")
    );
    let menu = page.text_of("#project").unwrap_or_default();
    assert_eq!(menu.matches("Search").count(), 1, "{menu}");
    assert_eq!(menu.matches("Crawl").count(), 1, "{menu}");
    assert!(menu.find("Crawl") < menu.find("Search"), "by name: {menu}");
    assert_eq!(
        statements(&ann, "/settings/billing?member=ann%40example.com").await,
        3,
        "billing filtered by member"
    );
    // The daily spend with its projects' names.
    assert_eq!(statements(&ann, "/settings/usage").await, 2, "usage");
}

/// PostgreSQL only: the app's database connections are killed under it
/// (`pg_terminate_backend`, as a server restart or a proxy would). Without
/// a probe on check-out, the next query on each finds its connection
/// closed; the session load that starts every signed-in request retries on
/// another connection, so the next page view still succeeds, and the dead
/// connections are discarded.
#[actix_web::test]
async fn killed_postgres_connections_are_replaced() {
    let name = format!("tenantry_kill_{}", uuid::Uuid::new_v4().simple());
    let app_name = name.clone();
    let Some(mut app) = TestApp::start(TestBackend::Postgres, move |settings| {
        if let Some(url) = settings.database_url.as_mut() {
            url.push_str(&format!("&application_name={app_name}"));
        }
    })
    .await
    else {
        // Counted as a skip (and a failure under TENANTRY_REQUIRE_POSTGRES=1)
        // by TestApp::start.
        return;
    };
    // The inspector pool shares the URL, so it loses connections too.
    app.skip_invariants();
    let ann = app.signed_up("Ann", "ann@example.com").await;
    assert_eq!(ann.get("/").await.status, StatusCode::OK);
    let kill = format!(
        "SELECT COUNT(pg_terminate_backend(pid)) AS n FROM pg_stat_activity \
         WHERE application_name = '{name}' AND pid <> pg_backend_pid()"
    );
    for round in 0..3 {
        let killed = app
            .text_value(&format!(
                "SELECT CAST(n AS TEXT) AS value FROM ({kill}) AS k"
            ))
            .await;
        assert!(
            killed.parse::<i64>().unwrap_or(0) >= 1,
            "round {round}: {killed}"
        );
        // Give the backends a moment to exit.
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        for path in ["/", "/settings/general", "/account", "/"] {
            let res = ann.get(path).await;
            assert_eq!(
                res.status,
                StatusCode::OK,
                "round {round} {path}: {}",
                res.body
            );
        }
        assert_eq!(app.client().get("/readyz").await.status, StatusCode::OK);
    }
}

/// SQLite is built as `.cargo/config.toml` says: with the query planner
/// stability guarantee (without it, every execution of a cached statement
/// that binds its `LIMIT`, or a value an ANALYZE sample was consulted for,
/// was planned anew) and in multi-thread mode (no per-connection mutex
/// around every call; the concurrency tests on SQLite run on this build).
#[actix_web::test]
async fn sqlite_plans_cached_statements_once() {
    let Some(app) = TestApp::start(TestBackend::Sqlite, |_| {}).await else {
        panic!("SQLite always runs");
    };
    for option in ["ENABLE_QPSG", "THREADSAFE=2"] {
        assert_eq!(
            app.text_value(&format!(
                "SELECT CAST(sqlite_compileoption_used('{option}') AS TEXT) AS value"
            ))
            .await,
            "1",
            "{option}: LIBSQLITE3_FLAGS from .cargo/config.toml did not reach the SQLite build"
        );
    }
}

//! Cross-tenant isolation. Every workspace-scoped route of the URL table is
//! in the matrix below; the test fails when one is missing. Each is called by
//! a member of organization B with organization A's ids and forms, and must
//! answer 404 / refuse, and change nothing in A.

use reqwest::StatusCode;
use tenantry::web::routes::{Access, TABLE};

use crate::on_both_backends;
use crate::security::PNG_1X1;
use crate::support::{TestApp, hidden_fields};

/// How the isolation test attacks each scoped route.
#[derive(Debug, Clone, Copy)]
enum Probe {
    /// A page of the active workspace: B's page must not show A's data.
    Page,
    /// A form: posted by B with A's rendered-for workspace id → refused, A unchanged.
    Form(&'static [(&'static str, &'static str)]),
    /// A multipart form, same rule.
    Upload,
    /// A form acting on a row by id: Alpha's id posted from Beta → 404;
    /// Alpha's stale form → 409. Either way Alpha is unchanged.
    Row(Target, &'static [(&'static str, &'static str)]),
    /// A page of one row by id: Alpha's id from Beta → 404.
    RowPage(Target),
    /// A CSV export of the active workspace: Beta's holds none of Alpha's rows.
    Export,
}

/// Which of Alpha's rows a `Probe::Row` aims at.
#[derive(Debug, Clone, Copy)]
enum Target {
    Membership,
    Invitation,
    Role,
    Team,
    Project,
    Agent,
    AppInstance,
    TopUp,
    ApiKey,
}

/// Every workspace-scoped route and its probe.
const MATRIX: &[(&str, &str, Probe)] = &[
    ("GET", "/", Probe::Page),
    ("GET", "/settings/general", Probe::Page),
    (
        "POST",
        "/settings/general",
        Probe::Form(&[("name", "Hacked"), ("slug", "hacked")]),
    ),
    ("POST", "/settings/avatar", Probe::Upload),
    ("POST", "/settings/avatar/remove", Probe::Form(&[])),
    ("GET", "/settings/danger", Probe::Page),
    (
        "POST",
        "/settings/transfer-ownership",
        Probe::Form(&[("new_owner_email", "bob@example.com")]),
    ),
    ("POST", "/settings/leave", Probe::Form(&[])),
    ("POST", "/settings/archive", Probe::Form(&[])),
    (
        "POST",
        "/settings/delete",
        Probe::Form(&[("confirm_name", "Alpha Labs")]),
    ),
    ("GET", "/audit", Probe::Page),
    ("GET", "/settings/members", Probe::Page),
    (
        "POST",
        "/settings/members/invite",
        Probe::Form(&[("name", "X"), ("email", "x@example.com")]),
    ),
    (
        "POST",
        "/settings/invitations/{id}/resend",
        Probe::Row(Target::Invitation, &[]),
    ),
    (
        "POST",
        "/settings/invitations/{id}/revoke",
        Probe::Row(Target::Invitation, &[]),
    ),
    (
        "POST",
        "/settings/members/{id}/role",
        Probe::Row(Target::Membership, &[]),
    ),
    (
        "POST",
        "/settings/members/{id}/deactivate",
        Probe::Row(Target::Membership, &[]),
    ),
    (
        "POST",
        "/settings/members/{id}/reactivate",
        Probe::Row(Target::Membership, &[]),
    ),
    (
        "POST",
        "/settings/members/{id}/remove",
        Probe::Row(Target::Membership, &[]),
    ),
    ("GET", "/settings/roles", Probe::Page),
    ("GET", "/settings/roles/new", Probe::Page),
    (
        "POST",
        "/settings/roles",
        Probe::Form(&[("name", "Hacker"), ("level", "5")]),
    ),
    ("GET", "/settings/roles/{id}", Probe::RowPage(Target::Role)),
    (
        "POST",
        "/settings/roles/{id}",
        Probe::Row(Target::Role, &[("name", "Hacked"), ("level", "5")]),
    ),
    (
        "POST",
        "/settings/roles/{id}/delete",
        Probe::Row(Target::Role, &[]),
    ),
    ("GET", "/settings/teams", Probe::Page),
    (
        "POST",
        "/settings/teams",
        Probe::Form(&[("name", "Hacked")]),
    ),
    (
        "POST",
        "/settings/teams/{id}",
        Probe::Row(Target::Team, &[("name", "Hacked")]),
    ),
    (
        "POST",
        "/settings/teams/{id}/archive",
        Probe::Row(Target::Team, &[]),
    ),
    (
        "POST",
        "/settings/teams/{id}/restore",
        Probe::Row(Target::Team, &[]),
    ),
    (
        "POST",
        "/settings/teams/{id}/delete",
        Probe::Row(Target::Team, &[("confirm_name", "Alpha Team")]),
    ),
    (
        "POST",
        "/settings/members/add",
        Probe::Form(&[("email", "dave@example.com")]),
    ),
    ("GET", "/projects", Probe::Page),
    ("POST", "/projects", Probe::Form(&[("name", "Hacked")])),
    ("GET", "/projects/{id}", Probe::RowPage(Target::Project)),
    (
        "POST",
        "/projects/{id}",
        Probe::Row(Target::Project, &[("name", "Hacked")]),
    ),
    (
        "POST",
        "/projects/{id}/delete",
        Probe::Row(Target::Project, &[]),
    ),
    (
        "POST",
        "/projects/{id}/keys",
        Probe::Row(Target::Project, &[("key_name", "stolen")]),
    ),
    (
        "POST",
        "/projects/{id}/keys/{key}/revoke",
        Probe::Row(Target::Project, &[]),
    ),
    (
        "POST",
        "/projects/{id}/transfer",
        Probe::Row(Target::Project, &[("move_agents", "yes")]),
    ),
    (
        "POST",
        "/agents/{id}/transfer",
        Probe::Row(Target::Agent, &[]),
    ),
    ("GET", "/apps", Probe::Page),
    ("POST", "/apps/{key}/install", Probe::Form(&[])),
    (
        "POST",
        "/apps/instances/{id}/start",
        Probe::Row(Target::AppInstance, &[]),
    ),
    (
        "POST",
        "/apps/instances/{id}/stop",
        Probe::Row(Target::AppInstance, &[]),
    ),
    (
        "POST",
        "/apps/instances/{id}/remove",
        Probe::Row(Target::AppInstance, &[]),
    ),
    ("GET", "/settings/resources", Probe::Page),
    (
        "POST",
        "/settings/resources/limits",
        Probe::Form(&[("max_running_agents", "0")]),
    ),
    ("GET", "/agents", Probe::Page),
    (
        "POST",
        "/agents",
        Probe::Form(&[("name", "Hacked"), ("project_id", "")]),
    ),
    ("GET", "/settings/billing", Probe::Page),
    ("GET", "/billing", Probe::Page),
    ("GET", "/settings/usage", Probe::Page),
    ("GET", "/usage", Probe::Page),
    (
        "POST",
        "/billing/top-up",
        Probe::Form(&[("amount", "5"), ("card_number", "4242424242424242")]),
    ),
    (
        "POST",
        "/billing/controls",
        Probe::Form(&[("monthly_limit", "1"), ("allowed_models", "x")]),
    ),
    (
        "GET",
        "/billing/receipts/{id}",
        Probe::RowPage(Target::TopUp),
    ),
    (
        "POST",
        "/billing/coupon",
        Probe::Form(&[("code", "SPRING-50")]),
    ),
    ("GET", "/billing/history.csv", Probe::Export),
    ("POST", "/billing/plan", Probe::Form(&[("plan", "team")])),
    (
        "POST",
        "/billing/transfer",
        Probe::Form(&[("team_id", ""), ("transfer_amount", "1")]),
    ),
    ("GET", "/api-keys", Probe::Page),
    (
        "POST",
        "/api-keys",
        Probe::Form(&[
            ("name", "Hacked"),
            ("kind", "standard"),
            ("scope", "all"),
            ("expires", "never"),
        ]),
    ),
    (
        "POST",
        "/api-keys/{id}/revoke",
        Probe::Row(Target::ApiKey, &[]),
    ),
    ("POST", "/agents/{id}/start", Probe::Row(Target::Agent, &[])),
    ("POST", "/agents/{id}/stop", Probe::Row(Target::Agent, &[])),
    (
        "POST",
        "/agents/{id}/delete",
        Probe::Row(Target::Agent, &[]),
    ),
];

on_both_backends!(
    every_scoped_route_is_in_the_matrix,
    another_workspaces_ids_and_forms_are_refused,
    a_teams_rows_are_closed_to_another_team,
);

async fn every_scoped_route_is_in_the_matrix(_app: TestApp) {
    for route in TABLE.iter().filter(|r| r.access == Access::Scoped) {
        assert!(
            MATRIX
                .iter()
                .any(|(method, path, _)| *method == route.method && *path == route.path),
            "{} {} is workspace-scoped but missing from the isolation matrix",
            route.method,
            route.path
        );
    }
}

/// Ann owns Alpha Labs; Bob owns Beta Works and is also a member of Alpha
/// (so he holds forms rendered for Alpha); Carol owns only Gamma.
async fn another_workspaces_ids_and_forms_are_refused(app: TestApp) {
    let app = app
        .with_user("Ann", "ann@example.com")
        .await
        .with_user("Bob", "bob@example.com")
        .await
        .with_user("Carol", "carol@example.com")
        .await
        .with_org("ann@example.com", "Alpha Labs", "alpha")
        .await
        .with_org("bob@example.com", "Beta Works", "beta")
        .await
        .with_org("carol@example.com", "Gamma", "gamma")
        .await
        .with_member("alpha", "Bob", "bob@example.com", "admin")
        .await
        .with_member("alpha", "Dave", "dave@example.com", "member")
        .await
        .with_role("alpha", "Alpha Custom", 20, &["audit.read"])
        .await
        .with_team("alpha", "Alpha Team")
        .await
        .with_project("alpha", "Alpha Project")
        .await
        .with_agent("alpha", "Alpha Project", "Alpha Agent")
        .await
        .with_app("alpha", "notebook")
        .await
        .with_funds("alpha", "5")
        .await;
    let (ann, bob, carol) = (
        app.browser("ann@example.com"),
        app.browser("bob@example.com"),
        app.browser("carol@example.com"),
    );
    let alpha = app.workspace_id("alpha").await;
    let beta = app.workspace_id("beta").await;
    let alpha_membership = app.membership_of("alpha", "dave@example.com").await;
    let alpha_member_role = app.role_of("alpha", "member").await;
    let alpha_role = app.role_of("alpha", "Alpha Custom").await;
    let alpha_team = app.team_id("alpha", "Alpha Team").await;
    let alpha_project = app.project_id("alpha", "Alpha Project").await;
    let alpha_instance = app
        .text_value("SELECT id AS value FROM app_instances")
        .await;
    let alpha_agent = app
        .text_value_with(
            "SELECT id AS value FROM agents WHERE name = ?",
            &["Alpha Agent"],
        )
        .await;
    let alpha_top_up = app.text_value("SELECT id AS value FROM top_ups").await;
    let alpha_api_key = crate::api_keys::create_key(&ann, &[("name", "Alpha script")]).await;
    let alpha_api_key_id = app
        .text_value_with(
            "SELECT id AS value FROM api_keys WHERE name = ?",
            &["Alpha script"],
        )
        .await;
    let alpha_key = app
        .add_project_key("alpha", "Alpha Project", "alpha ci")
        .await;
    let alpha_key_id = app
        .text_value_with(
            "SELECT id AS value FROM project_keys WHERE name = ?",
            &["alpha ci"],
        )
        .await;
    // A charge, so Alpha's daily spend names its project: the Usage page
    // in Beta must not.
    let (status, _, answer) = crate::api_charges::charge(
        &app,
        &alpha_key,
        "alpha-spend",
        serde_json::json!({"model": "alpha-model", "amount": 1_000_000}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    let res = ann
        .submit(
            "/settings/members",
            "/settings/members/invite",
            &[
                ("name", "Eve"),
                ("email", "eve@example.com"),
                ("role_id", alpha_member_role.as_str()),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let alpha_invitation = app
        .text_value_with(
            "SELECT id AS value FROM invitations WHERE email = ?",
            &["eve@example.com"],
        )
        .await;
    let before = snapshot(&app).await;

    // Bob opens every Alpha form in one tab, then switches to Beta in another.
    assert_eq!(bob.switch_to(&alpha).await.status, StatusCode::SEE_OTHER);
    let alpha_general = bob.get("/settings/general").await;
    // Every scoped form carries the same hidden fields: token and rendered-for workspace.
    let alpha_form = hidden_fields(&alpha_general.body, "/settings/general");
    assert!(alpha_form.contains(&("active_workspace_id".to_owned(), alpha.clone())));
    assert_eq!(bob.switch_to(&beta).await.status, StatusCode::SEE_OTHER);
    let beta_form = hidden_fields(
        &bob.get("/settings/general").await.body,
        "/settings/general",
    );

    for (method, path, probe) in MATRIX {
        match probe {
            Probe::Page => {
                let page = bob.get(path).await;
                assert_eq!(page.status, StatusCode::OK, "{method} {path}");
                let content = page.text_of("main").unwrap_or_default();
                assert!(
                    content.contains("Beta Works"),
                    "{path} shows the active workspace: {content}"
                );
                assert!(
                    !content.contains("Alpha"),
                    "{path} shows Alpha's data in Beta: {content}"
                );
                let carol_page = carol.get(path).await;
                assert!(
                    !carol_page.body.contains("Alpha"),
                    "{path} shows Alpha to an outsider"
                );
            }
            Probe::Form(fields) => {
                let res = bob.post_form(path, &alpha_form, fields).await;
                assert_eq!(
                    res.status,
                    StatusCode::CONFLICT,
                    "{path} posted with Alpha's form while in Beta"
                );
                assert!(
                    res.body.contains("Alpha Labs") && res.body.contains("Beta Works"),
                    "{path}: the page names both"
                );
            }
            Probe::Row(target, fields) => {
                let id = match target {
                    Target::Membership => &alpha_membership,
                    Target::Invitation => &alpha_invitation,
                    Target::Role => &alpha_role,
                    Target::Team => &alpha_team,
                    Target::Project => &alpha_project,
                    Target::Agent => &alpha_agent,
                    Target::AppInstance => &alpha_instance,
                    Target::TopUp => &alpha_top_up,
                    Target::ApiKey => &alpha_api_key_id,
                };
                let url = path.replace("{id}", id).replace("{key}", &alpha_key_id);
                let mut fields = fields.to_vec();
                fields.push(("role_id", alpha_member_role.as_str()));
                let res = bob.post_form(&url, &beta_form, &fields).await;
                assert_eq!(
                    res.status,
                    StatusCode::NOT_FOUND,
                    "{path} with Alpha's id from Beta"
                );
                let res = bob.post_form(&url, &alpha_form, &fields).await;
                assert_eq!(
                    res.status,
                    StatusCode::CONFLICT,
                    "{path} with Alpha's stale form"
                );
            }
            Probe::RowPage(target) => {
                let id = match target {
                    Target::Membership => &alpha_membership,
                    Target::Invitation => &alpha_invitation,
                    Target::Role => &alpha_role,
                    Target::Team => &alpha_team,
                    Target::Project => &alpha_project,
                    Target::Agent => &alpha_agent,
                    Target::AppInstance => &alpha_instance,
                    Target::TopUp => &alpha_top_up,
                    Target::ApiKey => &alpha_api_key_id,
                };
                let url = path.replace("{id}", id);
                assert_eq!(
                    bob.get(&url).await.status,
                    StatusCode::NOT_FOUND,
                    "{path} with Alpha's id from Beta"
                );
                assert_eq!(
                    carol.get(&url).await.status,
                    StatusCode::NOT_FOUND,
                    "{path} with Alpha's id from outside"
                );
            }
            Probe::Export => {
                let export = bob.get(path).await;
                assert_eq!(export.status, StatusCode::OK, "{path}");
                assert_eq!(
                    export.body.lines().count(),
                    1,
                    "{path}: Beta's has no entries: {}",
                    export.body
                );
                assert!(
                    !carol.get(path).await.body.contains("card ending"),
                    "{path} from outside"
                );
            }
            Probe::Upload => {
                let res = bob
                    .post_multipart(path, &alpha_form, ("avatar", PNG_1X1.to_vec()))
                    .await;
                assert_eq!(
                    res.status,
                    StatusCode::CONFLICT,
                    "{path} uploaded with Alpha's form while in Beta"
                );
            }
        }
    }
    // Ids of a workspace one doesn't belong to: not found, session unchanged.
    assert_eq!(
        carol.get(&format!("/avatars/{alpha}")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        carol.get("/o/alpha/settings/general").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(carol.switch_to(&alpha).await.status, StatusCode::NOT_FOUND);
    let carol_token = hidden_fields(&carol.get("/organizations").await.body, "/context");
    let res = carol
        .post_form(
            &format!("/organizations/{alpha}/restore"),
            &carol_token,
            &[],
        )
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert!(
        carol.get("/").await.body.contains("Gamma"),
        "Carol is still in her own workspace"
    );
    assert_eq!(snapshot(&app).await, before, "nothing changed anywhere");
    // Alpha's key still opens Alpha's project, and nothing else was keyed.
    let res = reqwest::Client::new()
        .get(format!("{}/api/v1/key", app.base))
        .bearer_auth(&alpha_key)
        .send()
        .await
        .expect("API call");
    assert_eq!(res.status(), StatusCode::OK);
    // So does Alpha's member key, for Alpha.
    let (status, body) = crate::api_keys::authorize(&app, &alpha_api_key, "members.read").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["workspace"]["id"], alpha.as_str());
}

/// Everything the probes could have changed.
async fn snapshot(app: &TestApp) -> (i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64) {
    (
        app.count("invitations WHERE status = 'pending'").await,
        app.count("roles WHERE name = 'Alpha Custom' AND level = 20")
            .await,
        app.count("memberships WHERE status = 'active'").await,
        app.count(
            "workspaces WHERE status = 'active' AND name IN ('Alpha Labs', 'Beta Works', 'Gamma')",
        )
        .await,
        app.count("workspaces WHERE slug IN ('alpha', 'beta', 'gamma') AND avatar_version = 0")
            .await,
        app.count("memberships").await,
        app.count("memberships m JOIN roles r ON r.id = m.role_id WHERE r.system_key = 'owner'")
            .await,
        app.count("workspace_avatars").await,
        app.count("workspaces WHERE kind = 'team' AND name = 'Alpha Team' AND status = 'active'")
            .await,
        app.count("projects WHERE name = 'Alpha Project'").await * 100
            + app.count("project_keys WHERE revoked_at IS NULL").await,
        app.count("ledger_entries").await * 100
            + app
                .count("wallets WHERE monthly_spend_limit IS NOT NULL")
                .await,
        app.count("api_keys WHERE revoked_at IS NULL").await,
    )
}

/// Teams are covered like organizations: Bob, an admin of team Web inside
/// Acme, posts every row route of the matrix with ids of team Platform
/// (its member, role, project, key, agent, app) from Web: all 404, nothing
/// changed. Ann, in both, posts a form of Platform after switching to Web
/// in another tab: 409.
async fn a_teams_rows_are_closed_to_another_team(app: TestApp) {
    let app = app
        .with_acme()
        .await
        .with_member("acme", "Bob", "bob@example.com", "admin")
        .await
        .with_team("acme", "Platform")
        .await
        .with_team("acme", "Web")
        .await
        .with_team_member("acme", "Web", "bob@example.com", "admin")
        .await;
    let ann = app.browser("ann@example.com");
    let (platform, web) = (
        app.team_id("acme", "Platform").await,
        app.team_id("acme", "Web").await,
    );
    // Platform's rows, made by Ann inside it.
    assert_eq!(ann.switch_to(&platform).await.status, StatusCode::SEE_OTHER);
    let res = ann
        .submit("/projects", "/projects", &[("name", "Platform Project")])
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let project = app
        .text_value_with(
            "SELECT id AS value FROM projects WHERE name = ?",
            &["Platform Project"],
        )
        .await;
    let page = format!("/projects/{project}");
    let res = ann
        .submit(&page, &format!("{page}/keys"), &[("key_name", "pk")])
        .await;
    assert_eq!(res.status, StatusCode::CREATED);
    let res = ann
        .submit(
            "/agents",
            "/agents",
            &[("name", "platform-agent"), ("project_id", &project)],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let res = ann.submit("/apps", "/apps/notebook/install", &[]).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let res = ann
        .submit(
            "/settings/billing",
            "/billing/top-up",
            &[("amount", "2"), ("card_number", "4242424242424242")],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    crate::api_keys::create_key(&ann, &[("name", "platform script")]).await;
    let platform_page = ann.get("/settings/general").await;
    let platform_form = hidden_fields(&platform_page.body, "/settings/general");
    let value = |sql: &'static str| {
        let (app, platform) = (&app, platform.clone());
        async move { app.text_value_with(sql, &[&platform]).await }
    };
    let ids = [
        (
            Target::Membership,
            value("SELECT id AS value FROM memberships WHERE workspace_id = ?").await,
        ),
        (
            Target::Role,
            value("SELECT id AS value FROM roles WHERE workspace_id = ? AND system_key = 'member'")
                .await,
        ),
        (Target::Project, project.clone()),
        (
            Target::Agent,
            value("SELECT id AS value FROM agents WHERE workspace_id = ?").await,
        ),
        (
            Target::AppInstance,
            value("SELECT id AS value FROM app_instances WHERE workspace_id = ?").await,
        ),
        (
            Target::TopUp,
            value("SELECT id AS value FROM top_ups WHERE workspace_id = ?").await,
        ),
        (
            Target::ApiKey,
            value("SELECT id AS value FROM api_keys WHERE workspace_id = ?").await,
        ),
    ];
    let key = value("SELECT id AS value FROM project_keys WHERE workspace_id = ?").await;
    let before = snapshot(&app).await;

    let bob = app.sign_in("bob@example.com").await;
    assert_eq!(
        bob.switch_to(&platform).await.status,
        StatusCode::NOT_FOUND,
        "not his team"
    );
    assert_eq!(bob.switch_to(&web).await.status, StatusCode::SEE_OTHER);
    let web_form = hidden_fields(
        &bob.get("/settings/general").await.body,
        "/settings/general",
    );
    for (method, path, probe) in MATRIX {
        let (target, fields) = match probe {
            Probe::Row(target, fields) => (target, *fields),
            Probe::RowPage(target) => (target, &[][..]),
            _ => continue,
        };
        let Some((_, id)) = ids
            .iter()
            .find(|(t, _)| std::mem::discriminant(t) == std::mem::discriminant(target))
        else {
            continue;
        };
        let url = path.replace("{id}", id).replace("{key}", &key);
        let status = if *method == "GET" {
            bob.get(&url).await.status
        } else {
            bob.post_form(&url, &web_form, fields).await.status
        };
        assert_eq!(
            status,
            StatusCode::NOT_FOUND,
            "{method} {path} with Platform's id from Web"
        );
    }
    // A Platform form posted after switching to Web in another tab.
    assert_eq!(ann.switch_to(&web).await.status, StatusCode::SEE_OTHER);
    let res = ann
        .post_form("/settings/general", &platform_form, &[("name", "Hacked")])
        .await;
    assert_eq!(res.status, StatusCode::CONFLICT);
    assert_eq!(snapshot(&app).await, before, "nothing changed");
    assert_eq!(app.count("workspaces WHERE name = 'Hacked'").await, 0);
}

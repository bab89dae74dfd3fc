//! `/projects/{id}/transfer` and `/agents/{id}/transfer`: projects move
//! between workspaces with their keys (which then resolve the new
//! workspace) and, once agreed, their agents and runs; agents move onto a
//! project of their new workspace; a move needs `resources.transfer` on
//! both sides, and one that fails half-way leaves both sides as they were;
//! two in opposite directions at once both succeed (no deadlock).

use reqwest::StatusCode;

use crate::on_both_backends;
use crate::support::{Client, Response, TestApp, hidden_fields};

on_both_backends!(
    a_project_moves_with_its_keys_and_agents,
    a_failed_move_leaves_both_sides_as_they_were,
    an_agent_moves_onto_a_project_of_another_workspace,
    moving_needs_the_right_on_both_sides,
    the_transfer_permission_table,
    opposite_transfers_race_without_deadlock,
);

/// The workspace a key opens, by `GET /api/v1/key`.
async fn key_workspace(app: &TestApp, key: &str) -> (StatusCode, String) {
    let res = reqwest::Client::new()
        .get(format!("{}/api/v1/key", app.base))
        .bearer_auth(key)
        .send()
        .await
        .expect("API call");
    let status = res.status();
    let body: serde_json::Value = res.json().await.expect("JSON");
    (
        status,
        body["workspace"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}

/// Posts the project's transfer form (from its page) to `to`.
async fn move_project(browser: &Client, project: &str, to: &str, move_agents: bool) -> Response {
    let (action, hidden) = transfer_form(browser, project).await;
    let mut fields = vec![("to_workspace_id", to)];
    if move_agents {
        fields.push(("move_agents", "yes"));
    }
    browser.post_form(&action, &hidden, &fields).await
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

async fn workspace_of_project(app: &TestApp, project: &str) -> String {
    app.text_value_with(
        "SELECT workspace_id AS value FROM projects WHERE id = ?",
        &[project],
    )
    .await
}

async fn a_project_moves_with_its_keys_and_agents(app: TestApp) {
    let app = app
        .with_acme()
        .await
        .with_team("acme", "Platform")
        .await
        .with_project("acme", "Search")
        .await
        .with_agent("acme", "Search", "crawler")
        .await;
    let ann = app.browser("ann@example.com");
    let (acme, team) = (
        app.workspace_id("acme").await,
        app.team_id("acme", "Platform").await,
    );
    let project = app.project_id("acme", "Search").await;
    let key = app.add_project_key("acme", "Search", "ci").await;
    let crawler = app
        .text_value_with(
            "SELECT id AS value FROM agents WHERE name = ?",
            &["crawler"],
        )
        .await;
    assert_eq!(
        key_workspace(&app, &key).await,
        (StatusCode::OK, "Acme Corp".to_owned())
    );

    // Agents use it: the form lists them and asks to move them along.
    let page = ann.get(&format!("/projects/{project}")).await;
    assert!(
        page.text_of("#transfer-project")
            .unwrap_or_default()
            .contains("crawler")
    );
    let res = move_project(&ann, &project, &team, false).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        res.text_of("#move_agents-error")
            .unwrap_or_default()
            .contains("crawler")
    );
    assert_eq!(workspace_of_project(&app, &project).await, acme);
    // A running agent must be stopped first.
    let res = ann
        .submit("/agents", &format!("/agents/{crawler}/start"), &[])
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let res = move_project(&ann, &project, &team, true).await;
    assert_eq!(res.status, StatusCode::CONFLICT);
    assert!(res.body.contains("stop them before moving it"));
    let res = ann
        .submit("/agents", &format!("/agents/{crawler}/stop"), &[])
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);

    let res = move_project(&ann, &project, &team, true).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert_eq!(workspace_of_project(&app, &project).await, team);
    assert_eq!(
        app.count_with(
            "agents WHERE id = ? AND workspace_id = ?",
            &[&crawler, &team]
        )
        .await,
        1
    );
    assert_eq!(
        app.count_with(
            "agent_runs WHERE agent_id = ? AND workspace_id = ?",
            &[&crawler, &team]
        )
        .await,
        1,
        "its runs moved too"
    );
    assert_eq!(
        app.count_with(
            "project_keys WHERE project_id = ? AND workspace_id = ?",
            &[&project, &team]
        )
        .await,
        1
    );
    assert_eq!(
        key_workspace(&app, &key).await,
        (StatusCode::OK, "Platform".to_owned()),
        "the key resolves the new workspace"
    );
    assert_eq!(
        ann.get(&format!("/projects/{project}")).await.status,
        StatusCode::NOT_FOUND,
        "gone from Acme"
    );
    for workspace in [&acme, &team] {
        assert_eq!(
            app.count_with(
                "audit_entries WHERE workspace_id = ? AND action = 'project.transfer'",
                &[workspace]
            )
            .await,
            1
        );
    }
    // Team → personal, with its agent.
    assert_eq!(ann.switch_to(&team).await.status, StatusCode::SEE_OTHER);
    let personal = app.personal_workspace_of("ann@example.com").await;
    let res = move_project(&ann, &project, &personal, true).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert_eq!(key_workspace(&app, &key).await.1, "Personal");
    assert_eq!(
        app.count_with("agents WHERE workspace_id = ?", &[&personal])
            .await,
        1
    );
}

async fn a_failed_move_leaves_both_sides_as_they_were(app: TestApp) {
    let app = app
        .with_acme()
        .await
        .with_team("acme", "Platform")
        .await
        .with_project("acme", "Search")
        .await
        .with_agent("acme", "Search", "crawler")
        .await;
    let ann = app.browser("ann@example.com");
    let (acme, team) = (
        app.workspace_id("acme").await,
        app.team_id("acme", "Platform").await,
    );
    let project = app.project_id("acme", "Search").await;
    // The team has an agent of the same name: the agent can't follow, so
    // the project doesn't move either.
    assert_eq!(ann.switch_to(&team).await.status, StatusCode::SEE_OTHER);
    ann.submit("/projects", "/projects", &[("name", "Other")])
        .await;
    let other = app
        .text_value_with(
            "SELECT id AS value FROM projects WHERE name = ?",
            &["Other"],
        )
        .await;
    let res = ann
        .submit(
            "/agents",
            "/agents",
            &[("name", "Crawler"), ("project_id", &other)],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(ann.switch_to(&acme).await.status, StatusCode::SEE_OTHER);
    let before = (
        app.count_with("projects WHERE workspace_id = ?", &[&acme])
            .await,
        app.count_with("agents WHERE workspace_id = ?", &[&acme])
            .await,
        app.count_with("projects WHERE workspace_id = ?", &[&team])
            .await,
        app.count_with("agents WHERE workspace_id = ?", &[&team])
            .await,
    );
    let res = move_project(&ann, &project, &team, true).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);
    assert!(
        res.text_of("#to_workspace_id-error")
            .unwrap_or_default()
            .contains("agent of the same name")
    );
    let after = (
        app.count_with("projects WHERE workspace_id = ?", &[&acme])
            .await,
        app.count_with("agents WHERE workspace_id = ?", &[&acme])
            .await,
        app.count_with("projects WHERE workspace_id = ?", &[&team])
            .await,
        app.count_with("agents WHERE workspace_id = ?", &[&team])
            .await,
    );
    assert_eq!(before, after);
    assert_eq!(
        app.count("audit_entries WHERE action = 'project.transfer'")
            .await,
        0
    );
    // A project of the same name there: refused on the field as well.
    assert_eq!(ann.switch_to(&team).await.status, StatusCode::SEE_OTHER);
    ann.submit("/projects", "/projects", &[("name", "search")])
        .await;
    assert_eq!(ann.switch_to(&acme).await.status, StatusCode::SEE_OTHER);
    let res = move_project(&ann, &project, &team, true).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(workspace_of_project(&app, &project).await, acme);
}

async fn an_agent_moves_onto_a_project_of_another_workspace(app: TestApp) {
    let app = app
        .with_acme()
        .await
        .with_team("acme", "Platform")
        .await
        .with_project("acme", "Search")
        .await
        .with_agent("acme", "Search", "crawler")
        .await;
    let ann = app.browser("ann@example.com");
    let team = app.team_id("acme", "Platform").await;
    assert_eq!(ann.switch_to(&team).await.status, StatusCode::SEE_OTHER);
    ann.submit("/projects", "/projects", &[("name", "Team Project")])
        .await;
    let target = app
        .text_value_with(
            "SELECT id AS value FROM projects WHERE name = ?",
            &["Team Project"],
        )
        .await;
    assert_eq!(
        ann.switch_to(&app.workspace_id("acme").await).await.status,
        StatusCode::SEE_OTHER
    );
    let crawler = app
        .text_value_with(
            "SELECT id AS value FROM agents WHERE name = ?",
            &["crawler"],
        )
        .await;
    let action = format!("/agents/{crawler}/transfer");
    let page = ann.get("/agents").await;
    assert!(
        page.body.contains("Platform — Team Project"),
        "offered in the move menu"
    );
    let res = ann
        .submit("/agents", &action, &[("to_project_id", &target)])
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert_eq!(
        app.count_with(
            "agents WHERE id = ? AND workspace_id = ? AND project_id = ?",
            &[&crawler, &team, &target]
        )
        .await,
        1
    );
    // A project of a workspace Ann isn't in: refused, nothing moves.
    let app = app
        .with_user("Bea", "bea@example.com")
        .await
        .with_org("bea@example.com", "Beta", "beta")
        .await
        .with_project("beta", "Beta Project")
        .await
        .with_agent("acme", "Search", "indexer")
        .await;
    let indexer = app
        .text_value_with(
            "SELECT id AS value FROM agents WHERE name = ?",
            &["indexer"],
        )
        .await;
    let beta_project = app.project_id("beta", "Beta Project").await;
    let hidden = hidden_fields(
        &ann.get("/agents").await.body,
        &format!("/agents/{indexer}/transfer"),
    );
    let res = ann
        .post_form(
            &format!("/agents/{indexer}/transfer"),
            &hidden,
            &[("to_project_id", &beta_project)],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        app.count_with(
            "agents WHERE id = ? AND workspace_id = ?",
            &[&indexer, &app.workspace_id("acme").await]
        )
        .await,
        1
    );
}

async fn moving_needs_the_right_on_both_sides(app: TestApp) {
    let app = app
        .with_acme()
        .await
        .with_member("acme", "Bob", "bob@example.com", "admin")
        .await
        .with_member("acme", "Dave", "dave@example.com", "member")
        .await
        .with_team("acme", "Platform")
        .await
        .with_team_member("acme", "Platform", "bob@example.com", "member")
        .await
        .with_project("acme", "Search")
        .await;
    let (acme, team) = (
        app.workspace_id("acme").await,
        app.team_id("acme", "Platform").await,
    );
    let project = app.project_id("acme", "Search").await;
    // Bob: admin of Acme, only a member of the team: not into the team.
    let bob = app.sign_in("bob@example.com").await;
    assert_eq!(bob.switch_to(&acme).await.status, StatusCode::SEE_OTHER);
    let page = bob.get(&format!("/projects/{project}")).await;
    let offered = page.text_of("#to_workspace_id").unwrap_or_default();
    assert!(!offered.contains("Platform"), "not offered: {offered}");
    let hidden = hidden_fields(&page.body, &format!("/projects/{project}/transfer"));
    let res = bob
        .post_form(
            &format!("/projects/{project}/transfer"),
            &hidden,
            &[("to_workspace_id", &team)],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        res.text_of("#to_workspace_id-error")
            .unwrap_or_default()
            .contains("doesn't allow")
    );
    // Bob may move it to his personal workspace.
    let bob_personal = app.personal_workspace_of("bob@example.com").await;
    // Dave: a member of Acme, without resources.transfer: refused at the door.
    let dave = app.sign_in("dave@example.com").await;
    assert_eq!(dave.switch_to(&acme).await.status, StatusCode::SEE_OTHER);
    let dave_page = dave.get(&format!("/projects/{project}")).await;
    assert!(dave_page.text_of("#transfer-project").is_none());
    let forged = dave.forged_scoped_fields(&acme).await;
    let res = dave
        .post_form(
            &format!("/projects/{project}/transfer"),
            &forged,
            &[("to_workspace_id", &bob_personal)],
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_eq!(workspace_of_project(&app, &project).await, acme);
    let res = bob
        .post_form(
            &format!("/projects/{project}/transfer"),
            &hidden,
            &[("to_workspace_id", &bob_personal)],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert_eq!(workspace_of_project(&app, &project).await, bob_personal);
}

/// Actor's role in the organization (source) × in the team (destination)
/// × resource kind: only `resources.transfer` on both sides moves it.
async fn the_transfer_permission_table(app: TestApp) {
    let app = app
        .with_acme()
        .await
        .with_role(
            "acme",
            "Tech",
            40,
            &[
                "resources.read",
                "resources.write",
                "projects.manage",
                "resources.transfer",
            ],
        )
        .await
        .with_member("acme", "Bob", "bob@example.com", "admin")
        .await
        .with_member("acme", "Tina", "tina@example.com", "Tech")
        .await
        .with_member("acme", "Dave", "dave@example.com", "member")
        .await
        .with_team("acme", "Platform")
        .await
        .with_team_member("acme", "Platform", "bob@example.com", "member")
        .await
        .with_team_member("acme", "Platform", "tina@example.com", "admin")
        .await
        .with_team_member("acme", "Platform", "dave@example.com", "admin")
        .await;
    let (acme, team) = (
        app.workspace_id("acme").await,
        app.team_id("acme", "Platform").await,
    );
    let ann = app.browser("ann@example.com");
    // A team project for agents to move onto.
    assert_eq!(ann.switch_to(&team).await.status, StatusCode::SEE_OTHER);
    ann.submit("/projects", "/projects", &[("name", "Landing")])
        .await;
    let landing = app
        .text_value_with(
            "SELECT id AS value FROM projects WHERE name = ?",
            &["Landing"],
        )
        .await;
    assert_eq!(ann.switch_to(&acme).await.status, StatusCode::SEE_OTHER);
    // (actor, role in Acme, role in Platform, expected status)
    let table = [
        (
            "bob@example.com",
            "admin",
            "member",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        ("tina@example.com", "Tech", "admin", StatusCode::SEE_OTHER),
        ("dave@example.com", "member", "admin", StatusCode::FORBIDDEN),
    ];
    for (email, source_role, target_role, expected) in table {
        let who = email.split('@').next().unwrap_or_default();
        let (project_name, agent_name) = (format!("p-{who}"), format!("a-{who}"));
        ann.submit("/projects", "/projects", &[("name", &project_name)])
            .await;
        let project = app
            .text_value_with(
                "SELECT id AS value FROM projects WHERE name = ?",
                &[&project_name],
            )
            .await;
        ann.submit(
            "/agents",
            "/agents",
            &[("name", &agent_name), ("project_id", &project)],
        )
        .await;
        let agent = app
            .text_value_with(
                "SELECT id AS value FROM agents WHERE name = ?",
                &[&agent_name],
            )
            .await;
        // The agent is moved alone first, onto the team's project...
        let actor = app.sign_in(email).await;
        assert_eq!(actor.switch_to(&acme).await.status, StatusCode::SEE_OTHER);
        let fields = actor.forged_scoped_fields(&acme).await;
        let res = actor
            .post_form(
                &format!("/agents/{agent}/transfer"),
                &fields,
                &[("to_project_id", &landing)],
            )
            .await;
        assert_eq!(
            res.status, expected,
            "agent by {email} ({source_role} → {target_role})"
        );
        // ...then the project (without agents now, if the move went through).
        let res = actor
            .post_form(
                &format!("/projects/{project}/transfer"),
                &fields,
                &[("to_workspace_id", &team), ("move_agents", "yes")],
            )
            .await;
        assert_eq!(
            res.status, expected,
            "project by {email} ({source_role} → {target_role})"
        );
        let moved = expected == StatusCode::SEE_OTHER;
        let expected_home = if moved { &team } else { &acme };
        assert_eq!(&workspace_of_project(&app, &project).await, expected_home);
        assert_eq!(
            app.count_with(
                "agents WHERE id = ? AND workspace_id = ?",
                &[&agent, expected_home]
            )
            .await,
            1
        );
    }
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
    let moved = move_project(&in_acme, &projects[1], &team, false).await;
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

//! Teams, projects, agents, limits, the wallet and its transactions with
//! members' keys: each as far as the key's role and scope allow, within
//! the key's workspace only (another's rows are 404, and nothing of them
//! changes).

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::api_charges::charge;
use crate::api_keys::{call, key_in};
use crate::on_both_backends;
use crate::support::TestApp;

on_both_backends!(
    projects_and_agents_are_managed_as_the_role_allows,
    teams_are_created_renamed_archived_and_restored,
    limits_are_read_and_set_within_the_organizations,
    the_wallet_and_its_transactions_page_by_cursor,
    resource_endpoints_refuse_another_workspaces_rows,
);

async fn projects_and_agents_are_managed_as_the_role_allows(app: TestApp) {
    let app = app
        .with_acme()
        .await
        .with_member("acme", "Dave", "dave@example.com", "member")
        .await;
    let acme = app.workspace_id("acme").await;
    let ann = key_in(&app, "ann@example.com", &acme, &[("name", "ann")]).await;
    let dave = key_in(&app, "dave@example.com", &acme, &[("name", "dave")]).await;
    let projects = format!("/api/v1/organizations/{acme}/projects");

    let (status, body) = call(
        &app,
        &ann,
        Method::POST,
        &projects,
        Some(json!({"name": "Search", "description": "Web"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let project = body["id"].as_str().expect("an id").to_owned();
    let (status, body) = call(
        &app,
        &ann,
        Method::POST,
        &projects,
        Some(json!({"name": "Search"})),
    )
    .await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("name"))
    );
    let nul = json!({"name": "Nul", "description": "a\u{0}b"});
    let (status, body) = call(&app, &ann, Method::POST, &projects, Some(nul)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["field"], "description");
    let (status, _) = call(
        &app,
        &dave,
        Method::POST,
        &projects,
        Some(json!({"name": "Dave's"})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "projects.manage");
    let (status, body) = call(&app, &dave, Method::GET, &projects, None).await;
    assert_eq!(status, StatusCode::OK, "members see projects: {body}");
    assert_eq!(body.as_array().map(Vec::len), Some(1));

    let one = format!("{projects}/{project}");
    let (status, body) = call(
        &app,
        &ann,
        Method::PATCH,
        &one,
        Some(json!({"description": "Everything"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (body["name"].as_str(), body["description"].as_str()),
        (Some("Search"), Some("Everything"))
    );

    // Dave (member) runs agents.
    let agents = format!("/api/v1/organizations/{acme}/agents");
    let (status, body) = call(
        &app,
        &dave,
        Method::POST,
        &agents,
        Some(json!({"name": "crawler", "project_id": project})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["status"], "stopped");
    let agent = body["id"].as_str().expect("an id").to_owned();
    let (status, body) = call(
        &app,
        &dave,
        Method::POST,
        &format!("{agents}/{agent}/start"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "running");
    let (status, _) = call(
        &app,
        &dave,
        Method::POST,
        &format!("{agents}/{agent}/start"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "running already");
    let (status, _) = call(&app, &ann, Method::DELETE, &one, None).await;
    assert_eq!(status, StatusCode::CONFLICT, "an agent uses the project");
    let (status, body) = call(
        &app,
        &dave,
        Method::POST,
        &format!("{agents}/{agent}/stop"),
        None,
    )
    .await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("stopped"))
    );
    let (status, _) = call(
        &app,
        &dave,
        Method::DELETE,
        &format!("{agents}/{agent}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = call(&app, &ann, Method::DELETE, &one, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.count_with("projects WHERE id = ?", &[&project]).await,
        0
    );
    assert_eq!(
        app.count_with(
            "audit_entries WHERE workspace_id = ? AND (action LIKE 'project.%' OR action LIKE 'agent.%')",
            &[&acme]
        )
        .await,
        7,
        "project create, update, delete; agent create, start, stop, delete"
    );

    // A key limited to resources.read reads but doesn't run agents.
    let reader = key_in(
        &app,
        "dave@example.com",
        &acme,
        &[
            ("name", "reader"),
            ("scope", "chosen"),
            ("permissions", "resources.read"),
        ],
    )
    .await;
    let (status, _) = call(&app, &reader, Method::GET, &agents, None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = call(
        &app,
        &reader,
        Method::POST,
        &agents,
        Some(json!({"name": "x", "project_id": "p"})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

async fn teams_are_created_renamed_archived_and_restored(app: TestApp) {
    let app = app
        .with_acme()
        .await
        .with_member("acme", "Erin", "erin@example.com", "admin")
        .await
        .with_member("acme", "Dave", "dave@example.com", "member")
        .await;
    let acme = app.workspace_id("acme").await;
    let erin = key_in(&app, "erin@example.com", &acme, &[("name", "erin")]).await;
    let dave = key_in(&app, "dave@example.com", &acme, &[("name", "dave")]).await;
    let teams = format!("/api/v1/organizations/{acme}/teams");

    let (status, body) = call(
        &app,
        &erin,
        Method::POST,
        &teams,
        Some(json!({"name": "Platform"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let team = body["id"].as_str().expect("an id").to_owned();
    let (status, body) = call(
        &app,
        &erin,
        Method::POST,
        &teams,
        Some(json!({"name": "platform"})),
    )
    .await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("name"))
    );
    let (status, _) = call(&app, &dave, Method::GET, &teams, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "teams.manage");

    let one = format!("{teams}/{team}");
    let (status, body) = call(
        &app,
        &erin,
        Method::PATCH,
        &one,
        Some(json!({"name": "Core Platform"})),
    )
    .await;
    assert_eq!(
        (status, body["name"].as_str()),
        (StatusCode::OK, Some("Core Platform")),
        "{body}"
    );

    // A key of the team works until the team is archived.
    let team_key = key_in(&app, "erin@example.com", &team, &[("name", "team")]).await;
    let (status, body) = call(
        &app,
        &team_key,
        Method::GET,
        &format!("/api/v1/organizations/{team}"),
        None,
    )
    .await;
    assert_eq!(
        (status, body["kind"].as_str()),
        (StatusCode::OK, Some("team")),
        "{body}"
    );
    let (status, _) = call(
        &app,
        &team_key,
        Method::GET,
        &format!("/api/v1/organizations/{team}/teams"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "a team has no teams");
    let (status, _) = call(&app, &erin, Method::DELETE, &one, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = call(
        &app,
        &team_key,
        Method::GET,
        &format!("/api/v1/organizations/{team}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "an archived team's key");
    let (status, _) = call(&app, &erin, Method::DELETE, &one, None).await;
    assert_eq!(status, StatusCode::CONFLICT, "archived already");
    let (status, body) = call(&app, &erin, Method::POST, &format!("{one}/restore"), None).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("active")),
        "{body}"
    );
    let (status, body) = call(&app, &erin, Method::GET, &teams, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body.as_array().map(Vec::len), Some(1), "{body}");
}

async fn limits_are_read_and_set_within_the_organizations(app: TestApp) {
    let app = app
        .with_acme()
        .await
        .with_team("acme", "Platform")
        .await
        .with_member("acme", "Dave", "dave@example.com", "member")
        .await;
    let acme = app.workspace_id("acme").await;
    let team = app.team_id("acme", "Platform").await;
    let ann = key_in(&app, "ann@example.com", &acme, &[("name", "ann")]).await;
    let dave = key_in(&app, "dave@example.com", &acme, &[("name", "dave")]).await;
    let limits = format!("/api/v1/organizations/{acme}/limits");

    let (status, body) = call(
        &app,
        &ann,
        Method::PUT,
        &format!("{limits}/{acme}"),
        Some(json!({"max_running_agents": 5})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body[0]["max_running_agents"], 5);
    assert_eq!(body[0]["max_agent_hours"], serde_json::Value::Null);
    let (status, body) = call(
        &app,
        &ann,
        Method::PUT,
        &format!("{limits}/{team}"),
        Some(json!({"max_running_agents": 9})),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a team's quota above the organization's: {body}"
    );
    let (status, body) = call(
        &app,
        &ann,
        Method::PUT,
        &format!("{limits}/{team}"),
        Some(json!({"max_running_agents": 3})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let team_row = body
        .as_array()
        .and_then(|rows| rows.iter().find(|r| r["workspace_id"] == team.as_str()))
        .expect("the team's row");
    assert_eq!(team_row["max_running_agents"], 3);

    let (status, body) = call(&app, &dave, Method::GET, &limits, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = call(
        &app,
        &dave,
        Method::PUT,
        &format!("{limits}/{acme}"),
        Some(json!({})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "resources.manage");
    let (status, _) = call(
        &app,
        &ann,
        Method::PUT,
        &format!("{limits}/{acme}"),
        Some(json!({"max_running_agents": -1})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "not a count");
}

async fn the_wallet_and_its_transactions_page_by_cursor(app: TestApp) {
    let app = app
        .with_acme()
        .await
        .with_project("acme", "Search")
        .await
        .with_funds("acme", "10")
        .await
        .with_member("acme", "Dave", "dave@example.com", "member")
        .await;
    let acme = app.workspace_id("acme").await;
    let project_key = app.add_project_key("acme", "Search", "platform").await;
    for n in 0..3 {
        let (status, _, body) = charge(
            &app,
            &project_key,
            &format!("c{n}"),
            json!({"model": "m1", "amount": 1000, "description": "call"}),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let ann = key_in(&app, "ann@example.com", &acme, &[("name", "ann")]).await;
    let (status, body) = call(
        &app,
        &ann,
        Method::GET,
        &format!("/api/v1/organizations/{acme}/wallet"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["balance"], 10_000_000 - 3_000);
    assert_eq!(body["month_spent"], 3_000);

    // Two pages of two, by the Link header: the three charges and the top-up.
    let path = format!("/api/v1/organizations/{acme}/transactions?limit=2");
    let res = reqwest::Client::new()
        .get(format!("{}{path}", app.base))
        .bearer_auth(&ann)
        .send()
        .await
        .expect("API call");
    let next = res
        .headers()
        .get("link")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .expect("a next page");
    let first: serde_json::Value = res.json().await.expect("JSON");
    assert_eq!(first.as_array().map(Vec::len), Some(2), "{first}");
    assert_eq!(first[0]["kind"], "charge");
    let next = next
        .trim_start_matches('<')
        .split('>')
        .next()
        .expect("a URL")
        .to_owned();
    let (status, second) = call(&app, &ann, Method::GET, &next, None).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    assert_eq!(second.as_array().map(Vec::len), Some(2), "{second}");
    assert_eq!(second[1]["kind"], "top_up");
    let (status, only_m1) = call(
        &app,
        &ann,
        Method::GET,
        &format!("/api/v1/organizations/{acme}/transactions?model=m1"),
        None,
    )
    .await;
    assert_eq!(
        (status, only_m1.as_array().map(Vec::len)),
        (StatusCode::OK, Some(3))
    );
    let (status, body) = call(
        &app,
        &ann,
        Method::GET,
        &format!("/api/v1/organizations/{acme}/transactions?from=yesterday"),
        None,
    )
    .await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("from"))
    );

    let dave = key_in(&app, "dave@example.com", &acme, &[("name", "dave")]).await;
    let (status, _) = call(
        &app,
        &dave,
        Method::GET,
        &format!("/api/v1/organizations/{acme}/transactions"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "billing.read");
}

async fn resource_endpoints_refuse_another_workspaces_rows(app: TestApp) {
    let app = app
        .with_acme()
        .await
        .with_user("Bob", "bob@example.com")
        .await
        .with_org("bob@example.com", "Bob Co", "bobco")
        .await
        .with_project("bobco", "Bobs")
        .await
        .with_agent("bobco", "Bobs", "bot")
        .await
        .with_team("bobco", "Bob Team")
        .await;
    let (acme, bobco) = (
        app.workspace_id("acme").await,
        app.workspace_id("bobco").await,
    );
    let project = app.project_id("bobco", "Bobs").await;
    let agent = app
        .text_value_with(
            "SELECT id AS value FROM agents WHERE workspace_id = ?",
            &[&bobco],
        )
        .await;
    let team = app.team_id("bobco", "Bob Team").await;
    let ann = key_in(&app, "ann@example.com", &acme, &[("name", "ann")]).await;
    for org in [&acme, &bobco] {
        let base = format!("/api/v1/organizations/{org}");
        for (method, path, body) in [
            (Method::GET, format!("{base}/projects/{project}"), None),
            (
                Method::PATCH,
                format!("{base}/projects/{project}"),
                Some(json!({"name": "Mine"})),
            ),
            (Method::DELETE, format!("{base}/projects/{project}"), None),
            (Method::POST, format!("{base}/agents/{agent}/start"), None),
            (Method::DELETE, format!("{base}/agents/{agent}"), None),
            (
                Method::PATCH,
                format!("{base}/teams/{team}"),
                Some(json!({"name": "Mine"})),
            ),
            (Method::DELETE, format!("{base}/teams/{team}"), None),
            (
                Method::PUT,
                format!("{base}/limits/{team}"),
                Some(json!({"max_running_agents": 0})),
            ),
        ] {
            let (status, answer) = call(&app, &ann, method.clone(), &path, body).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {answer}");
        }
        if org == &bobco {
            for what in [
                "projects",
                "agents",
                "teams",
                "limits",
                "wallet",
                "transactions",
            ] {
                let (status, _) =
                    call(&app, &ann, Method::GET, &format!("{base}/{what}"), None).await;
                assert_eq!(status, StatusCode::NOT_FOUND, "{what} of another workspace");
            }
        }
    }
    // Ann's project in Acme can't be used to start Bob's agent either.
    let (status, _) = call(
        &app,
        &ann,
        Method::POST,
        &format!("/api/v1/organizations/{acme}/agents"),
        Some(json!({"name": "spy", "project_id": project})),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "another workspace's project"
    );
    assert_eq!(
        app.count_with("projects WHERE id = ? AND name = 'Bobs'", &[&project])
            .await,
        1
    );
    assert_eq!(
        app.count_with("agents WHERE id = ? AND status = 'stopped'", &[&agent])
            .await,
        1
    );
    assert_eq!(
        app.count_with("workspaces WHERE id = ? AND status = 'active'", &[&team])
            .await,
        1
    );
    assert_eq!(
        app.count_with(
            "workspaces WHERE id = ? AND max_running_agents IS NULL",
            &[&team]
        )
        .await,
        1
    );
}

//! Browser journey in headless Chromium through teams and resources:
//! create a team, give it a quota, switch into it, create a project and an
//! agent, start it, see it against the quota on the Resources tab, move
//! the project (its agent along) to the personal workspace, and see the
//! team's dashboard change. Screenshots: `team-resources-…`, `team-move-…`.

use std::path::Path;

use crate::browser_support::*;
use crate::support::TestApp;

#[actix_web::test]
async fn team_project_agent_journey_on_sqlite() {
    let Some(chromedriver) = chromedriver_or_skip() else {
        return;
    };
    let app = TestApp::sqlite().await;
    team_project_agent_journey(&app, &chromedriver).await;
}

#[actix_web::test]
async fn team_project_agent_journey_on_postgres() {
    let Some(chromedriver) = chromedriver_or_skip() else {
        return;
    };
    let Some(app) = TestApp::postgres().await else {
        return;
    };
    team_project_agent_journey(&app, &chromedriver).await;
}

async fn team_project_agent_journey(app: &TestApp, chromedriver: &Path) {
    let browser = Browser::start(chromedriver).await;
    let c = &browser.client;
    sign_up(c, app, "Olga Owner", "olga@example.com").await;
    create_organization(c, "Acme Corp").await;

    // A team, from the organization's Teams tab.
    open_page(c, app, "/settings/teams").await;
    type_into(c, "#name", "Platform").await;
    click_and_wait_for_next_page(c, "#create-team").await;
    expect_text(
        c,
        "#flash",
        "Team Platform was created; the organization's owner owns it and its creator is an admin.",
    )
    .await;
    expect_text(c, "tr[data-team='Platform'] .members", "1").await;

    // Its quota of running agents, on the Resources tab.
    open_page(c, app, "/settings/resources").await;
    type_into(
        c,
        "tr[data-usage='Platform'] input[name='max_running_agents']",
        "3",
    )
    .await;
    click_and_wait_for_next_page(c, "tr[data-usage='Platform'] form button[type='submit']").await;
    expect_text(c, "#flash", "The limits of Platform were saved.").await;

    // Into the team: it sits under Acme in the switcher.
    open_switcher(c).await;
    assert_eq!(
        switcher_names(c).await,
        ["Personal", "Acme Corp", "Platform"]
    );
    switch_to(c, "Platform").await;
    expect_text(c, "#switcher summary .switcher-label", "Platform").await;
    open_page(c, app, "/").await;
    expect_text(c, "#workspace-title", "Platform").await;
    expect_text(c, "#running-agents", "0 / 3").await;

    // A project and an agent on it, started.
    open_page(c, app, "/projects").await;
    type_into(c, "#name", "Search").await;
    click_and_wait_for_next_page(c, "#create-project").await;
    expect_text(c, "h1", "Search").await;
    open_page(c, app, "/agents").await;
    type_into(c, "#name", "crawler").await;
    choose(c, "#project_id", "Search").await;
    click_and_wait_for_next_page(c, "#create-agent").await;
    click_and_wait_for_next_page(c, "tr[data-agent='crawler'] form[action$='/start'] button").await;
    expect_text(c, "tr[data-agent='crawler'] .status", "running").await;

    // 1 / 3 on the team's Resources tab.
    open_page(c, app, "/settings/resources").await;
    expect_text(c, "tr[data-usage='Platform'] .agents .figure", "1 / 3").await;
    save_screenshot(c, app.backend, "team-resources").await;

    // Move the project to Personal: stopped first, its agent goes along.
    open_page(c, app, "/agents").await;
    click_and_wait_for_next_page(c, "tr[data-agent='crawler'] form[action$='/stop'] button").await;
    open_page(c, app, "/projects").await;
    click_and_wait_for_next_page(c, "tr[data-project='Search'] a").await;
    expect_text(c, "#transfer-project p strong", "crawler").await;
    choose(c, "#to_workspace_id", "Personal").await;
    find(c, "#move_agents")
        .await
        .click()
        .await
        .expect("tick the box");
    save_screenshot(c, app.backend, "team-move").await;
    click_and_wait_for_next_page(c, "#transfer-submit").await;
    expect_path(c, "/projects").await;
    expect_text(
        c,
        "#flash",
        "Project Search was moved to a personal workspace, with its keys.",
    )
    .await;
    expect_text(c, "#no-projects", "No projects in this workspace yet.").await;

    // The team's dashboard shows the change; the agent is in Personal now.
    open_page(c, app, "/").await;
    expect_text(c, "#running-agents", "0 / 3").await;
    let activity = text_of(c, "#recent-activity").await;
    assert!(activity.contains("project.transfer"), "{activity}");
    switch_to(c, "Personal").await;
    open_page(c, app, "/agents").await;
    expect_text(c, "tr[data-agent='crawler'] .status", "stopped").await;
    browser.close().await;
}

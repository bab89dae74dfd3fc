//! `/settings/teams` (an organization's teams) and a team as a workspace:
//! created, renamed, archived, restored and deleted from the Teams tab;
//! entered from the switcher, where it sits under its organization; its
//! members added from the organization's, and taken along when they leave
//! it, are removed, deactivated or made owner there.

use reqwest::StatusCode;

use crate::on_both_backends;
use crate::support::{Client, TestApp, hidden_fields};

on_both_backends!(
    teams_are_created_renamed_archived_restored_and_deleted,
    team_members_come_from_the_organization,
    leaving_the_organization_closes_its_teams,
    the_organizations_owner_owns_every_team,
    only_teams_managers_see_the_teams_tab,
);

/// The names in a browser's switcher, in order (teams marked with `↳`).
async fn switcher(browser: &Client) -> Vec<String> {
    let page = browser.get("/").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    page.body
        .split("<li")
        .skip(1)
        .filter_map(|item| {
            let name = item
                .split("class=\"switcher-name\">")
                .nth(1)?
                .split('<')
                .next()?;
            let team = item.starts_with(" class=\"switcher-team\"");
            Some(format!("{}{name}", if team { "↳ " } else { "" }))
        })
        .collect()
}

async fn teams_are_created_renamed_archived_restored_and_deleted(app: TestApp) {
    let app = app.with_acme().await;
    let ann = app.browser("ann@example.com");
    let res = ann
        .submit(
            "/settings/teams",
            "/settings/teams",
            &[("name", "Platform"), ("description", "Runs the agents")],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let page = ann.get("/settings/teams").await;
    assert!(
        page.text_of("#flash")
            .unwrap_or_default()
            .contains("Team Platform was created")
    );
    let row = page
        .text_of("tr[data-team=\"Platform\"]")
        .unwrap_or_default();
    assert!(
        row.contains("Runs the agents") && row.contains("active"),
        "{row}"
    );
    assert_eq!(
        page.text_of("tr[data-team=\"Platform\"] .members")
            .as_deref(),
        Some("1")
    );
    let team = app.team_id("acme", "Platform").await;
    assert_eq!(
        app.count_with(
            "roles WHERE workspace_id = ? AND system_key IN ('owner', 'admin', 'member')",
            &[&team]
        )
        .await,
        3,
        "a team has owner, admin and member roles"
    );
    assert_eq!(
        app.count_with(
            "audit_entries WHERE action = 'team.create' AND target_id = ?",
            &[&team]
        )
        .await,
        2,
        "recorded in the organization's log and the team's"
    );

    // Another team of that name, in any case: refused on the name field.
    let res = ann
        .submit(
            "/settings/teams",
            "/settings/teams",
            &[("name", "PLATFORM"), ("description", "again")],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        res.text_of("#name-error")
            .unwrap_or_default()
            .contains("already has a team of that name")
    );
    assert_eq!(
        res.attr_of("#name", "value").as_deref(),
        Some("PLATFORM"),
        "typed value kept"
    );
    assert_eq!(
        res.attr_of("#description", "value").as_deref(),
        Some("again")
    );
    let res = ann
        .submit("/settings/teams", "/settings/teams", &[("name", " ")])
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text_of("#name-error").is_some());

    // Renamed: the row, the audit log; a clash shows on that team's form.
    let update = format!("/settings/teams/{team}");
    let res = ann
        .submit(
            "/settings/teams",
            &update,
            &[("name", "Core"), ("description", "")],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert!(
        ann.get("/settings/teams")
            .await
            .text_of("tr[data-team=\"Core\"]")
            .is_some()
    );
    ann.submit("/settings/teams", "/settings/teams", &[("name", "Web")])
        .await;
    let res = ann
        .submit(
            "/settings/teams",
            &update,
            &[("name", "web"), ("description", "x")],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    let row = "tr[data-team=\"Core\"]";
    assert!(
        res.attr_of(&format!("{row} details"), "open").is_some(),
        "the refused form is open"
    );
    assert_eq!(
        res.attr_of(&format!("{row} input[name=name]"), "value")
            .as_deref(),
        Some("web")
    );
    assert!(
        res.text_of(&format!("{row} .field-error"))
            .unwrap_or_default()
            .contains("already has")
    );

    // Archived: out of the switcher and closed; restored: back.
    assert!(switcher(&ann).await.contains(&"↳ Core".to_owned()));
    let res = ann
        .submit("/settings/teams", &format!("{update}/archive"), &[])
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert!(!switcher(&ann).await.contains(&"↳ Core".to_owned()));
    assert_eq!(ann.switch_to(&team).await.status, StatusCode::NOT_FOUND);
    let res = ann
        .submit("/settings/teams", &format!("{update}/restore"), &[])
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert_eq!(ann.switch_to(&team).await.status, StatusCode::SEE_OTHER);
    assert_eq!(
        ann.switch_to(&app.workspace_id("acme").await).await.status,
        StatusCode::SEE_OTHER
    );

    // Deleted once its name is typed: with its memberships and roles.
    let delete = format!("{update}/delete");
    let res = ann
        .submit("/settings/teams", &delete, &[("confirm_name", "core")])
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        res.attr_of(&format!("{row} input[name=confirm_name]"), "value")
            .as_deref(),
        Some("core")
    );
    assert_eq!(app.count_with("workspaces WHERE id = ?", &[&team]).await, 1);
    let res = ann
        .submit("/settings/teams", &delete, &[("confirm_name", "Core")])
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert_eq!(app.count_with("workspaces WHERE id = ?", &[&team]).await, 0);
    assert_eq!(
        app.count_with("memberships WHERE workspace_id = ?", &[&team])
            .await,
        0
    );
    assert_eq!(
        app.count_with("roles WHERE workspace_id = ?", &[&team])
            .await,
        0
    );
    let acme = app.workspace_id("acme").await;
    for action in ["team.update", "team.archive", "team.restore", "team.delete"] {
        assert_eq!(
            app.count_with(
                "audit_entries WHERE workspace_id = ? AND action = ?",
                &[&acme, action]
            )
            .await,
            1,
            "{action} in the organization's log"
        );
    }
}

async fn team_members_come_from_the_organization(app: TestApp) {
    let app = app
        .with_acme()
        .await
        .with_member("acme", "Bob", "bob@example.com", "member")
        .await
        .with_user("Stranger", "stranger@example.com")
        .await
        .with_team("acme", "Platform")
        .await;
    let (ann, bob) = (
        app.browser("ann@example.com"),
        app.browser("bob@example.com"),
    );
    let team = app.team_id("acme", "Platform").await;
    assert_eq!(
        switcher(&bob).await,
        ["Personal", "Acme Corp"],
        "not in the team yet"
    );
    assert_eq!(bob.switch_to(&team).await.status, StatusCode::NOT_FOUND);

    assert_eq!(ann.switch_to(&team).await.status, StatusCode::SEE_OTHER);
    let page = ann.get("/settings/members").await;
    assert!(
        page.text_of("#add-member").is_some(),
        "teams add, not invite"
    );
    assert!(page.text_of("#invite").is_none() && page.text_of("#pending-invitations").is_none());
    let member_role = app
        .text_value_with(
            "SELECT id AS value FROM roles WHERE workspace_id = ? AND system_key = 'member'",
            &[&team],
        )
        .await;
    let add = |email: &'static str| {
        let (ann, role) = (ann.clone(), member_role.clone());
        async move {
            ann.submit(
                "/settings/members",
                "/settings/members/add",
                &[("email", email), ("role_id", &role)],
            )
            .await
        }
    };
    let res = add("stranger@example.com").await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        res.text_of("#email-error")
            .unwrap_or_default()
            .contains("active member of the organization")
    );
    assert_eq!(
        res.attr_of("#email", "value").as_deref(),
        Some("stranger@example.com")
    );
    // A role id that is not an id: refused like a role the actor can't give.
    let res = ann
        .submit(
            "/settings/members",
            "/settings/members/add",
            &[("email", "bob@example.com"), ("role_id", "not-a-role")],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);
    assert_eq!(
        res.text_of("#role_id-error").as_deref(),
        Some("Choose a role ranked below your own.")
    );
    let res = add("bob@example.com").await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let res = add("bob@example.com").await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        res.text_of("#email-error")
            .unwrap_or_default()
            .contains("already a member")
    );
    assert_eq!(
        app.count_with(
            "audit_entries WHERE workspace_id = ? AND action = 'membership.add'",
            &[&team]
        )
        .await,
        1
    );

    // Bob sees the team under its organization and enters it as a member.
    assert_eq!(
        switcher(&bob).await,
        ["Personal", "Acme Corp", "↳ Platform"]
    );
    assert_eq!(bob.switch_to(&team).await.status, StatusCode::SEE_OTHER);
    let members = bob.get("/settings/members").await;
    assert_eq!(members.status, StatusCode::OK);
    assert_eq!(
        members.body.matches("<tr data-member=").count(),
        2,
        "Ann and Bob"
    );
    assert!(bob.get("/settings/teams").await.status == StatusCode::FORBIDDEN);

    // Deactivated in the organization: the team closes with it.
    let acme = app.workspace_id("acme").await;
    assert_eq!(ann.switch_to(&acme).await.status, StatusCode::SEE_OTHER);
    let bob_membership = app.membership_of("acme", "bob@example.com").await;
    let deactivate = format!("/settings/members/{bob_membership}/deactivate");
    let res = ann.submit("/settings/members", &deactivate, &[]).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert_eq!(
        switcher(&bob).await,
        ["Personal"],
        "Acme and its team are closed"
    );
    assert_eq!(bob.switch_to(&team).await.status, StatusCode::NOT_FOUND);
    let reactivate = format!("/settings/members/{bob_membership}/reactivate");
    ann.submit("/settings/members", &reactivate, &[]).await;
    assert_eq!(bob.switch_to(&team).await.status, StatusCode::SEE_OTHER);

    // Removed from the organization: from its teams too, in one change.
    let remove = format!("/settings/members/{bob_membership}/remove");
    let res = ann.submit("/settings/members", &remove, &[]).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let bob_id = app
        .text_value_with(
            "SELECT id AS value FROM users WHERE email = ?",
            &["bob@example.com"],
        )
        .await;
    assert_eq!(
        app.count_with(
            "memberships WHERE user_id = ? AND workspace_id = ?",
            &[&bob_id, &team]
        )
        .await,
        0
    );
    assert_eq!(bob.switch_to(&team).await.status, StatusCode::NOT_FOUND);
    assert_eq!(switcher(&bob).await, ["Personal"]);
}

async fn leaving_the_organization_closes_its_teams(app: TestApp) {
    let app = app
        .with_acme()
        .await
        .with_member("acme", "Bob", "bob@example.com", "member")
        .await
        .with_team("acme", "Platform")
        .await
        .with_team_member("acme", "Platform", "bob@example.com", "member")
        .await;
    let bob = app.browser("bob@example.com");
    let team = app.team_id("acme", "Platform").await;
    // Bob leaves the team itself first, then comes back and leaves Acme.
    assert_eq!(bob.switch_to(&team).await.status, StatusCode::SEE_OTHER);
    let res = bob.submit("/settings/danger", "/settings/leave", &[]).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert_eq!(bob.switch_to(&team).await.status, StatusCode::NOT_FOUND);
    let app = app
        .with_team_member("acme", "Platform", "bob@example.com", "member")
        .await;
    assert_eq!(
        bob.switch_to(&app.workspace_id("acme").await).await.status,
        StatusCode::SEE_OTHER
    );
    let res = bob.submit("/settings/danger", "/settings/leave", &[]).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let bob_id = app
        .text_value_with(
            "SELECT id AS value FROM users WHERE email = ?",
            &["bob@example.com"],
        )
        .await;
    assert_eq!(
        app.count_with("memberships WHERE user_id = ?", &[&bob_id])
            .await,
        1,
        "only Personal is left"
    );
}

async fn the_organizations_owner_owns_every_team(app: TestApp) {
    let app = app
        .with_acme()
        .await
        .with_member("acme", "Bob", "bob@example.com", "admin")
        .await
        .with_team("acme", "Platform")
        .await;
    let ann = app.browser("ann@example.com");
    let team = app.team_id("acme", "Platform").await;
    // The owner can't leave a team: no form offers it, and a forged one is
    // refused.
    assert_eq!(ann.switch_to(&team).await.status, StatusCode::SEE_OTHER);
    let danger = ann.get("/settings/danger").await;
    assert!(
        danger
            .text_of("#team-danger")
            .unwrap_or_default()
            .contains("can't leave one")
    );
    assert!(danger.text_of("#leave").is_none() && danger.text_of("#archive").is_none());
    let res = ann
        .post_form(
            "/settings/leave",
            &ann.forged_scoped_fields(&team).await,
            &[],
        )
        .await;
    assert_eq!(res.status, StatusCode::CONFLICT, "{}", res.body);
    assert!(res.body.contains("owns every team"));
    // A team created by an admin: the organization's owner owns it, its
    // creator is its admin.
    let bob = app.browser("bob@example.com");
    assert_eq!(
        bob.switch_to(&app.workspace_id("acme").await).await.status,
        StatusCode::SEE_OTHER
    );
    let res = bob
        .submit("/settings/teams", "/settings/teams", &[("name", "Web")])
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let web = app.team_id("acme", "Web").await;
    assert_eq!(
        app.count_with(
            "memberships m JOIN roles r ON r.id = m.role_id JOIN users u ON u.id = m.user_id \
             WHERE m.workspace_id = ? AND r.system_key || ':' || u.email IN \
             ('owner:ann@example.com', 'admin:bob@example.com')",
            &[&web]
        )
        .await,
        2
    );
    // Handing Acme to Bob makes him the owner of every team (Platform
    // too), and Ann an admin there.
    assert_eq!(
        ann.switch_to(&app.workspace_id("acme").await).await.status,
        StatusCode::SEE_OTHER
    );
    let res = ann
        .submit(
            "/settings/danger",
            "/settings/transfer-ownership",
            &[("new_owner_email", "bob@example.com")],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert_eq!(
        app.count_with(
            "memberships m JOIN roles r ON r.id = m.role_id JOIN users u ON u.id = m.user_id \
             WHERE m.workspace_id = ? AND r.system_key || ':' || u.email IN \
             ('owner:bob@example.com', 'admin:ann@example.com')",
            &[&team]
        )
        .await,
        2
    );
    assert_eq!(bob.switch_to(&team).await.status, StatusCode::SEE_OTHER);
}

async fn only_teams_managers_see_the_teams_tab(app: TestApp) {
    let app = app
        .with_acme()
        .await
        .with_member("acme", "Dave", "dave@example.com", "member")
        .await
        .with_team("acme", "Platform")
        .await;
    let (ann, dave) = (
        app.browser("ann@example.com"),
        app.browser("dave@example.com"),
    );
    let acme = app.workspace_id("acme").await;
    assert_eq!(dave.switch_to(&acme).await.status, StatusCode::SEE_OTHER);
    assert!(
        ann.get("/settings/general")
            .await
            .text_of("#settings-tabs")
            .unwrap_or_default()
            .contains("Teams")
    );
    assert!(
        !dave
            .get("/settings/general")
            .await
            .text_of("#settings-tabs")
            .unwrap_or_default()
            .contains("Teams")
    );
    assert_eq!(
        dave.get("/settings/teams").await.status,
        StatusCode::FORBIDDEN
    );
    let ann_form = hidden_fields(&ann.get("/settings/teams").await.body, "/settings/teams");
    // Dave has no scoped form that posts here: his token, Acme's id.
    let dave_form = dave.forged_scoped_fields(&acme).await;
    let res = dave
        .post_form("/settings/teams", &dave_form, &[("name", "Mine")])
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert!(!ann_form.is_empty());
    // In a personal workspace there are no teams to manage.
    let ann_personal = app.personal_workspace_of("ann@example.com").await;
    assert_eq!(
        ann.switch_to(&ann_personal).await.status,
        StatusCode::SEE_OTHER
    );
    let personal_form = ann.forged_scoped_fields(&ann_personal).await;
    assert_eq!(
        ann.get("/settings/teams").await.status,
        StatusCode::NOT_FOUND,
        "no Teams tab in a personal workspace"
    );
    let res = ann
        .post_form("/settings/teams", &personal_form, &[("name", "Solo")])
        .await;
    assert_eq!(res.status, StatusCode::CONFLICT, "{}", res.body);
    assert!(res.body.contains("inside an organization"));
    assert_eq!(app.count("workspaces WHERE kind = 'team'").await, 1);
}

//! The hierarchy tables of `/settings/members`, `/settings/invitations` and
//! `/settings/roles`: every kind of actor (owner, admin, custom roles above
//! and below admin, member, inactive, removed, outsider) against every
//! member, invitation and role route, with the status each must get.

use reqwest::StatusCode;

use crate::on_both_backends;
use crate::support::{TestApp, hidden_fields};

on_both_backends!(hierarchy_rules,);

/// The permissions of the "Team lead" role of the hierarchy tables.
const TEAM_LEAD_PERMISSIONS: &str =
    "members.read members.invite members.manage resources.read resources.write";

/// Who tries: each kind of actor of the hierarchy table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Actor {
    Owner,
    Admin,
    /// "Team lead": a custom role ranked above Admin (90) that may read,
    /// invite and manage members and work with resources, nothing else.
    TeamLead,
    Custom,
    Member,
    Inactive,
    Removed,
    Outsider,
}

async fn hierarchy_rules(app: TestApp) {
    let app = app.with_acme().await;
    let ann = app.browser("ann@example.com");
    let acme_id = app.workspace_id("acme").await;
    // A custom "Inviter" role ranked between member and admin that may read
    // members and invite, but not manage them.
    app.add_role(
        "acme",
        "Inviter",
        50,
        &[
            "members.read",
            "members.invite",
            "resources.read",
            "resources.write",
        ],
    )
    .await;
    let team_lead: Vec<&str> = TEAM_LEAD_PERMISSIONS.split_whitespace().collect();
    app.add_role("acme", "Team lead", 90, &team_lead).await;
    let people = [
        (Actor::Admin, "admin@example.com", "admin"),
        (Actor::Custom, "custom@example.com", "custom"),
        (Actor::Member, "member@example.com", "member"),
        (Actor::Inactive, "inactive@example.com", "member"),
        (Actor::Removed, "removed@example.com", "member"),
        (Actor::Outsider, "outsider@example.com", ""),
        (Actor::TeamLead, "lead@example.com", "team-lead"),
    ];
    app.signed_up("Target", "target@example.com").await;
    app.add_member("acme", "target@example.com", "member").await;
    let mut browsers = Vec::new();
    for (actor, email, role) in people {
        let browser = app.signed_up(email, email).await;
        match role {
            "" => {}
            "custom" => app.add_member("acme", email, "Inviter").await,
            "team-lead" => app.add_member("acme", email, "Team lead").await,
            system => app.add_member("acme", email, system).await,
        }
        if actor != Actor::Outsider {
            browser.switch_to(&acme_id).await;
        }
        browsers.push((actor, browser));
    }
    app.deactivate_member("acme", "inactive@example.com").await;
    app.remove_member("acme", "removed@example.com").await;
    browsers.push((Actor::Owner, ann));

    let target = app
        .text_value_with(
"SELECT m.id AS value FROM memberships m JOIN users u ON u.id = m.user_id WHERE u.email = 'target@example.com' AND m.workspace_id = ?",
&[&acme_id],
)
        .await;
    let admin_membership = app
        .text_value_with(
"SELECT m.id AS value FROM memberships m JOIN users u ON u.id = m.user_id WHERE u.email = 'admin@example.com' AND m.workspace_id = ?",
&[&acme_id],
)
        .await;
    let admin_role = app.role_of("acme", "admin").await;
    let member_role = app.role_of("acme", "member").await;
    let owner_role = app.role_of("acme", "owner").await;

    for (actor, browser) in &browsers {
        // Forms are taken from the actor's own page (Acme for members,
        // their personal workspace for the others).
        let mut scoped: Vec<(String, String)> =
            hidden_fields(&browser.get("/account").await.body, "/account/profile");
        let in_acme = matches!(
            actor,
            Actor::Owner | Actor::Admin | Actor::TeamLead | Actor::Custom | Actor::Member
        );
        let email = browser
            .get("/account")
            .await
            .attr_of(r#"input[type="email"][disabled]"#, "value")
            .expect("own email");
        let active = if in_acme {
            acme_id.clone()
        } else {
            // Inactive, removed and outside: back in their personal workspace.
            app.text_value_with(
"SELECT w.id AS value FROM workspaces w JOIN users u ON u.id = w.personal_owner_id WHERE u.email = ?",
&[&email],
)
            .await
        };
        scoped.push(("active_workspace_id".into(), active));
        let members_page = browser.get("/settings/members").await.status;
        let expected_page = match actor {
            Actor::Owner | Actor::Admin | Actor::TeamLead | Actor::Custom | Actor::Member => {
                StatusCode::OK
            }
            // Outside Acme their active workspace is personal, where they own everything.
            _ => StatusCode::OK,
        };
        assert_eq!(members_page, expected_page, "{actor:?} members page");
        let invite_as_member = browser
            .post_form(
                "/settings/members/invite",
                &scoped,
                &[
                    ("name", "N"),
                    ("email", "new@example.com"),
                    ("role_id", &member_role),
                ],
            )
            .await
            .status;
        let invite_as_admin = browser
            .post_form(
                "/settings/members/invite",
                &scoped,
                &[
                    ("name", "N"),
                    ("email", "new2@example.com"),
                    ("role_id", &admin_role),
                ],
            )
            .await
            .status;
        let promote_to_owner = browser
            .post_form(
                &format!("/settings/members/{target}/role"),
                &scoped,
                &[("role_id", &owner_role)],
            )
            .await
            .status;
        let demote_admin = browser
            .post_form(
                &format!("/settings/members/{admin_membership}/role"),
                &scoped,
                &[("role_id", &member_role)],
            )
            .await
            .status;
        let deactivate_target = browser
            .post_form(
                &format!("/settings/members/{target}/deactivate"),
                &scoped,
                &[],
            )
            .await
            .status;
        let expected = match actor {
            // The owner may invite any role below owner, may not make owners
            // here, may demote the admin, may deactivate the member.
            Actor::Owner => [
                StatusCode::SEE_OTHER,
                StatusCode::SEE_OTHER,
                StatusCode::CONFLICT,
                StatusCode::SEE_OTHER,
                StatusCode::SEE_OTHER,
            ],
            // Admins invite below their rank only, never act on an equal.
            Actor::Admin => [
                StatusCode::SEE_OTHER,
                StatusCode::UNPROCESSABLE_ENTITY,
                StatusCode::CONFLICT,
                StatusCode::CONFLICT,
                StatusCode::SEE_OTHER,
            ],
            // Ranked above Admin but without Admin's permissions: may
            // invite members and act on the admin below it, but may not
            // hand out Admin, which holds what it lacks.
            Actor::TeamLead => [
                StatusCode::SEE_OTHER,
                StatusCode::UNPROCESSABLE_ENTITY,
                StatusCode::CONFLICT,
                StatusCode::SEE_OTHER,
                StatusCode::SEE_OTHER,
            ],
            // The custom role may invite members but not manage anyone.
            Actor::Custom => [
                StatusCode::SEE_OTHER,
                StatusCode::UNPROCESSABLE_ENTITY,
                StatusCode::FORBIDDEN,
                StatusCode::FORBIDDEN,
                StatusCode::FORBIDDEN,
            ],
            Actor::Member => [StatusCode::FORBIDDEN; 5],
            // Not in Acme: their personal workspace takes no invitations,
            // and Acme's ids are not found from it.
            Actor::Inactive | Actor::Removed | Actor::Outsider => [
                StatusCode::CONFLICT,
                StatusCode::CONFLICT,
                StatusCode::NOT_FOUND,
                StatusCode::NOT_FOUND,
                StatusCode::NOT_FOUND,
            ],
        };
        assert_eq!(
            [
                invite_as_member,
                invite_as_admin,
                promote_to_owner,
                demote_admin,
                deactivate_target
            ],
            expected,
            "{actor:?} (in Acme: {in_acme})"
        );
        // Reset what the allowed actions changed, so every actor starts alike.
        app.execute("UPDATE memberships SET status = 'active' WHERE status = 'inactive' AND user_id <> (SELECT id FROM users WHERE email = 'inactive@example.com')").await;
        app.execute(&format!(
            "UPDATE memberships SET role_id = '{admin_role}' WHERE id = '{admin_membership}'"
        ))
        .await;
        app.execute("DELETE FROM outbox_emails").await;
        app.execute("DELETE FROM invitations").await;
    }
    // Nobody acts on themselves.
    let ann = &browsers
        .iter()
        .find(|(a, _)| *a == Actor::Owner)
        .expect("owner")
        .1;
    let own = app
        .text_value("SELECT m.id AS value FROM memberships m JOIN users u ON u.id = m.user_id JOIN workspaces w ON w.id = m.workspace_id WHERE u.email = 'ann@example.com' AND w.slug = 'acme'")
        .await;
    let form = hidden_fields(
        &ann.get("/settings/members").await.body,
        "/settings/members/invite",
    );
    let res = ann
        .post_form(&format!("/settings/members/{own}/remove"), &form, &[])
        .await;
    assert_eq!(res.status, StatusCode::CONFLICT);
}

on_both_backends!(hierarchy_matrix_over_member_invitation_and_role_routes);

/// Every remaining members / invitations / roles route, called by each kind
/// of actor, with the status each must get. Rows of Acme are "not found"
/// from anywhere else; permissions and ranks decide the rest.
async fn hierarchy_matrix_over_member_invitation_and_role_routes(app: TestApp) {
    const OK: StatusCode = StatusCode::OK;
    const SEE: StatusCode = StatusCode::SEE_OTHER;
    const NO: StatusCode = StatusCode::FORBIDDEN;
    const NF: StatusCode = StatusCode::NOT_FOUND;
    const RULE: StatusCode = StatusCode::CONFLICT;
    let app = app.with_acme().await;
    let ann = app.browser("ann@example.com");
    let acme_id = app.workspace_id("acme").await;
    app.add_role(
        "acme",
        "Inviter",
        50,
        &[
            "members.read",
            "members.invite",
            "resources.read",
            "resources.write",
        ],
    )
    .await;
    let team_lead: Vec<&str> = TEAM_LEAD_PERMISSIONS.split_whitespace().collect();
    app.add_role("acme", "Team lead", 90, &team_lead).await;
    let mut custom_role = app.add_role("acme", "Editable", 20, &["audit.read"]).await;
    let mut actors = vec![(Actor::Owner, ann)];
    for (actor, email, role) in [
        (Actor::Admin, "admin@example.com", "admin"),
        (Actor::Custom, "custom@example.com", "custom"),
        (Actor::Member, "member@example.com", "member"),
        (Actor::Inactive, "inactive@example.com", "member"),
        (Actor::Removed, "removed@example.com", "member"),
        (Actor::Outsider, "outsider@example.com", ""),
        (Actor::TeamLead, "lead@example.com", "custom"),
    ] {
        let browser = app.signed_up(email, email).await;
        if !role.is_empty() {
            let role = match actor {
                Actor::Custom => "Inviter",
                Actor::TeamLead => "Team lead",
                _ => role,
            };
            app.add_member("acme", email, role).await;
            browser.switch_to(&acme_id).await;
        }
        match actor {
            Actor::Inactive => app.deactivate_member("acme", email).await,
            Actor::Removed => app.remove_member("acme", email).await,
            _ => {}
        }
        actors.push((actor, browser));
    }
    app.signed_up("Target", "target@example.com").await;
    app.add_member("acme", "target@example.com", "member").await;
    let target_of = "(SELECT id FROM users WHERE email = 'target@example.com')";

    for (actor, browser) in &actors {
        // Fresh rows for every actor: a pending invitation (just sent, so
        // too soon to resend) and an inactive target.
        app.execute("DELETE FROM outbox_emails").await;
        app.execute("DELETE FROM invitations").await;
        app.add_invitation("acme", "New", "new@example.com", "member")
            .await;
        let invitation = app
            .text_value_with(
                "SELECT id AS value FROM invitations WHERE email = ? AND status = 'pending'",
                &["new@example.com"],
            )
            .await;
        if app
            .count(&format!(
                "memberships WHERE workspace_id = '{acme_id}' AND user_id = {target_of}"
            ))
            .await
            == 0
        {
            app.add_member("acme", "target@example.com", "member").await;
        }
        app.execute(&format!("UPDATE memberships SET status = 'inactive' WHERE workspace_id = '{acme_id}' AND user_id = {target_of}")).await;
        let target = app
            .text_value(&format!("SELECT id AS value FROM memberships WHERE workspace_id = '{acme_id}' AND user_id = {target_of}"))
            .await;
        let in_acme = matches!(
            actor,
            Actor::Owner | Actor::Admin | Actor::TeamLead | Actor::Custom | Actor::Member
        );
        let mut form: Vec<(String, String)> =
            hidden_fields(&browser.get("/account").await.body, "/account/profile");
        let active = if in_acme {
            acme_id.clone()
        } else {
            let email = browser
                .get("/account")
                .await
                .attr_of(r#"input[type="email"][disabled]"#, "value")
                .expect("email");
            app.text_value_with(
"SELECT w.id AS value FROM workspaces w JOIN users u ON u.id = w.personal_owner_id WHERE u.email = ?",
&[&email],
)
            .await
        };
        form.push(("active_workspace_id".into(), active));
        let post = |path: String, fields: Vec<(&'static str, String)>| {
            let form = form.clone();
            async move {
                let fields: Vec<(&str, &str)> =
                    fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
                browser.post_form(&path, &form, &fields).await.status
            }
        };
        let got = [
            browser.get("/settings/members").await.status,
            post(format!("/settings/invitations/{invitation}/resend"), vec![]).await,
            post(format!("/settings/invitations/{invitation}/revoke"), vec![]).await,
            post(format!("/settings/members/{target}/reactivate"), vec![]).await,
            post(format!("/settings/members/{target}/remove"), vec![]).await,
            browser.get("/settings/roles").await.status,
            browser
                .get(&format!("/settings/roles/{custom_role}"))
                .await
                .status,
            post(
                format!("/settings/roles/{custom_role}"),
                vec![("name", "Edited".into()), ("level", "20".into())],
            )
            .await,
            post(format!("/settings/roles/{custom_role}/delete"), vec![]).await,
        ];
        let expected = match actor {
            Actor::Owner | Actor::Admin => [OK, RULE, SEE, SEE, SEE, OK, OK, SEE, SEE],
            Actor::TeamLead => [OK, RULE, SEE, SEE, SEE, NO, NO, NO, NO],
            Actor::Custom => [OK, RULE, SEE, NO, NO, NO, NO, NO, NO],
            Actor::Member => [OK, NO, NO, NO, NO, NO, NO, NO, NO],
            // In their personal workspace they may do anything, but Acme's rows are not found there.
            Actor::Inactive | Actor::Removed | Actor::Outsider => {
                [OK, NF, NF, NF, NF, OK, NF, NF, NF]
            }
        };
        assert_eq!(
            got, expected,
            "{actor:?}: [members page, resend, revoke, reactivate, remove, roles page, role page, role update, role delete]"
        );
        // Put the custom role back for the next actor.
        if app
            .count_with("roles WHERE id = ?", &[custom_role.as_str()])
            .await
            == 0
        {
            custom_role = app.add_role("acme", "Editable", 20, &["audit.read"]).await;
        }
    }
}

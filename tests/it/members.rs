//! Members, invitations and their emails: the invite → email → link → sign
//! up → accept journey, real SMTP (and SMTP down), races, resend / revoke,
//! member actions taking effect mid-session, and the hierarchy rules.

use reqwest::StatusCode;

use crate::smtp::{decode_quoted_printable, free_port, start_smtp_server, wait_for_messages};
use crate::support::{Client, PASSWORD, TestApp, TestBackend, hidden_fields};
use crate::{on_both_backends, on_both_backends_with};

/// Ann owns Acme; returns her browser.
async fn acme(app: &TestApp) -> Client {
    let ann = app.signed_up("Ann", "ann@example.com").await;
    assert_eq!(
        app.create_org(&ann, "Acme Corp", "acme").await.status,
        StatusCode::SEE_OTHER
    );
    ann
}

async fn role_id(app: &TestApp, key: &str) -> String {
    let acme = app.workspace_id("acme").await;
    app.text_value(&format!(
        "SELECT id AS value FROM roles WHERE workspace_id = '{acme}' AND system_key = '{key}'"
    ))
    .await
}

async fn invite(
    app: &TestApp,
    by: &Client,
    name: &str,
    email: &str,
    role: &str,
) -> crate::support::Response {
    let role = role_id(app, role).await;
    by.submit(
        "/settings/members",
        "/settings/members/invite",
        &[("name", name), ("email", email), ("role_id", &role)],
    )
    .await
}

on_both_backends!(
    invite_sign_up_and_accept,
    existing_user_accepts_and_email_must_match,
    invalid_links_all_look_the_same,
    resend_replaces_the_link_and_is_rate_limited,
    concurrent_accepts_make_one_membership,
    concurrent_invitations_make_one_pending,
    member_changes_apply_on_the_next_request,
    hierarchy_rules,
    members_table_searches_and_pages,
);

async fn invite_sign_up_and_accept(app: TestApp) {
    let ann = acme(&app).await;
    let res = invite(&app, &ann, "Bob Builder", "Bob@Example.com", "member").await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert_eq!(
        ann.get("/settings/members")
            .await
            .text_of("#flash")
            .as_deref(),
        Some("An invitation was sent to Bob@Example.com.")
    );
    app.wait_for_mail_delivery().await;
    // No SMTP configured: the email is a file in data/outbox/.
    assert_eq!(app.emails_to("bob@example.com").await.len(), 1);
    let link = app.invitation_link("bob@example.com").await;
    let email = app
        .email_titled(
            "bob@example.com",
            "Ann invited you to Acme Corp on Tenantry",
        )
        .await;
    assert!(
        email.contains("Subject: Ann invited you to Acme Corp on Tenantry")
            && email.contains("Accept or decline"),
        "{email}"
    );
    assert_eq!(
        app.count("outbox_emails WHERE subject = 'Ann invited you to Acme Corp on Tenantry' AND sent_at IS NOT NULL").await,
        1
    );
    let page = ann.get("/settings/members").await;
    let ann_row = page
        .text_of(r#"tr[data-email="ann@example.com"]"#)
        .expect("Ann's row");
    assert!(
        !ann_row.contains("never"),
        "signing up counts as signing in: {ann_row}"
    );
    let pending = page.text_of("#pending-table").expect("pending invitations");
    assert!(
        pending.contains("bob@example.com")
            && pending.contains("Member")
            && pending.contains("delivered"),
        "{pending}"
    );

    let bob = app.client();
    let invitation = bob.get(&link).await;
    assert_eq!(invitation.status, StatusCode::OK);
    let summary = invitation
        .text_of("#invitation-summary")
        .unwrap_or_default();
    assert!(
        summary.starts_with("Ann invited bob@example.com to join Acme Corp as Member"),
        "{summary}"
    );
    let signup_href = invitation
        .attr_of("#sign-up-to-accept", "href")
        .expect("sign-up link");
    let signup = bob.get(&signup_href).await;
    assert_eq!(
        signup.attr_of("#email", "value").as_deref(),
        Some("bob@example.com")
    );
    assert!(signup.body.contains("readonly"));
    // A tampered email field is ignored: the account is for the invited address.
    let res = bob
        .submit(
            &signup_href,
            "/signup",
            &[
                ("name", "Bob Builder"),
                ("email", "mallory@example.com"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert_eq!(res.location(), link);
    assert_eq!(
        app.count("users WHERE email = 'bob@example.com' AND email_verified_at IS NOT NULL")
            .await,
        1
    );
    assert_eq!(
        app.count("users WHERE email = 'mallory@example.com'").await,
        0
    );
    let res = bob.submit(&link, &format!("{link}/accept"), &[]).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let home = bob.get("/").await;
    assert_eq!(
        home.text_of("#flash").as_deref(),
        Some("Welcome to Acme Corp!")
    );
    assert_eq!(
        home.text_of("#workspace-title").as_deref(),
        Some("Acme Corp")
    );
    assert_eq!(
        home.text_of("#switcher summary .switcher-role").as_deref(),
        Some("Member")
    );
    // Used: the link is dead, and the history says who accepted.
    assert_eq!(bob.get(&link).await.status, StatusCode::NOT_FOUND);
    let history = ann
        .get("/settings/members")
        .await
        .text_of("#history-table")
        .expect("history");
    assert!(
        history.contains("bob@example.com")
            && history.contains("accepted")
            && history.contains("by Bob Builder"),
        "{history}"
    );
    assert_eq!(
        app.count("audit_entries WHERE action IN ('invitation.create', 'invitation.accept')")
            .await,
        2
    );
}

async fn existing_user_accepts_and_email_must_match(app: TestApp) {
    let ann = acme(&app).await;
    let bob = app.signed_up("Bob", "bob@example.com").await;
    let carol = app.signed_up("Carol", "carol@example.com").await;
    invite(&app, &ann, "Bob", "bob@example.com", "admin").await;
    let link = app.invitation_link("bob@example.com").await;
    let page = carol.get(&link).await;
    assert!(
        page.text_of("#wrong-account")
            .unwrap_or_default()
            .contains("This invitation is for bob@example.com")
    );
    let token = hidden_fields(&carol.get("/account").await.body, "/account/profile");
    let res = carol
        .post_form(&format!("{link}/accept"), &token, &[])
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(res.location(), link, "refused: back to the invitation page");
    assert_eq!(
        app.count(
            "memberships m JOIN users u ON u.id = m.user_id WHERE u.email = 'carol@example.com'"
        )
        .await,
        1
    );
    let res = bob.submit(&link, &format!("{link}/accept"), &[]).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(
        bob.get("/")
            .await
            .text_of("#switcher summary .switcher-role")
            .as_deref(),
        Some("Admin")
    );
}

async fn invalid_links_all_look_the_same(app: TestApp) {
    let ann = acme(&app).await;
    for email in [
        "used@example.com",
        "revoked@example.com",
        "expired@example.com",
    ] {
        invite(&app, &ann, "X", email, "member").await;
    }
    let used = app.invitation_link("used@example.com").await;
    let revoked = app.invitation_link("revoked@example.com").await;
    let expired = app.invitation_link("expired@example.com").await;
    let user = app.signed_up("Used", "used@example.com").await;
    user.submit(&used, &format!("{used}/accept"), &[]).await;
    let page = ann.get("/settings/members").await;
    let revoke_action = page
        .attr_of(
            r#"tr[data-email="revoked@example.com"] form[action$="/revoke"]"#,
            "action",
        )
        .expect("revoke button");
    assert_eq!(
        ann.submit("/settings/members", &revoke_action, &[])
            .await
            .status,
        StatusCode::SEE_OTHER
    );
    app.execute("UPDATE invitations SET expires_at = '2000-01-01 00:00:00' WHERE email = 'expired@example.com'").await;
    let unknown = format!("/invitations/{}", "ab".repeat(32));
    let mut texts = Vec::new();
    for link in [&used, &revoked, &expired, &unknown] {
        let res = app.client().get(link).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{link}");
        texts.push(res.text_of("main").expect("page"));
    }
    texts.dedup();
    assert_eq!(texts.len(), 1, "one and the same message: {texts:?}");
    let history = ann
        .get("/settings/members")
        .await
        .text_of("#history-table")
        .expect("history");
    assert!(
        history.contains("revoked") && history.contains("expired") && history.contains("accepted"),
        "{history}"
    );
}

async fn resend_replaces_the_link_and_is_rate_limited(app: TestApp) {
    let ann = acme(&app).await;
    invite(&app, &ann, "Bob", "bob@example.com", "member").await;
    let first = app.invitation_link("bob@example.com").await;
    let page = ann.get("/settings/members").await;
    let resend = page
        .attr_of(r#"form[action$="/resend"]"#, "action")
        .expect("resend");
    // Just sent: refused for a minute.
    let res = ann.submit("/settings/members", &resend, &[]).await;
    assert_eq!(res.status, StatusCode::CONFLICT);
    assert!(
        res.text_of("#error-message")
            .unwrap_or_default()
            .contains("Wait a minute")
    );
    app.execute("UPDATE invitations SET last_sent_at = '2000-01-01 00:00:00'")
        .await;
    let res = ann.submit("/settings/members", &resend, &[]).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let second = app.invitation_link("bob@example.com").await;
    assert_ne!(first, second);
    assert_eq!(
        app.client().get(&first).await.status,
        StatusCode::NOT_FOUND,
        "the old link stopped working"
    );
    assert_eq!(app.client().get(&second).await.status, StatusCode::OK);
    assert_eq!(
        app.count("outbox_emails WHERE to_address = 'bob@example.com'")
            .await,
        2
    );
    assert_eq!(app.count("invitations WHERE send_count = 2").await, 1);
}

async fn concurrent_accepts_make_one_membership(app: TestApp) {
    let ann = acme(&app).await;
    app.signed_up("Bob", "bob@example.com").await;
    invite(&app, &ann, "Bob", "bob@example.com", "member").await;
    let link = app.invitation_link("bob@example.com").await;
    let mut tabs = Vec::new();
    for _ in 0..4 {
        let browser = app.client();
        browser
            .submit(
                "/login",
                "/login",
                &[("email", "bob@example.com"), ("password", PASSWORD)],
            )
            .await;
        let form = hidden_fields(&browser.get(&link).await.body, &format!("{link}/accept"));
        tabs.push((browser, form));
    }
    let action = format!("{link}/accept");
    let results =
        futures::future::join_all(tabs.iter().map(|(b, form)| b.post_form(&action, form, &[])))
            .await;
    let joined = results
        .iter()
        .filter(|r| r.status == StatusCode::SEE_OTHER && r.location() == "/")
        .count();
    assert_eq!(
        joined,
        1,
        "{:?}",
        results.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    assert_eq!(
        app.count(
            "memberships m JOIN users u ON u.id = m.user_id WHERE u.email = 'bob@example.com'"
        )
        .await,
        2
    );
}

async fn concurrent_invitations_make_one_pending(app: TestApp) {
    let ann = acme(&app).await;
    app.signed_up("Dee", "dee@example.com").await;
    app.add_member("acme", "dee@example.com", "admin").await;
    let dee = app.client();
    dee.submit(
        "/login",
        "/login",
        &[("email", "dee@example.com"), ("password", PASSWORD)],
    )
    .await;
    dee.switch_to(&app.workspace_id("acme").await).await;
    let role = role_id(&app, "member").await;
    let fields = [
        ("name", "Bob"),
        ("email", "bob@example.com"),
        ("role_id", role.as_str()),
    ];
    let ann_form = hidden_fields(
        &ann.get("/settings/members").await.body,
        "/settings/members/invite",
    );
    let dee_form = hidden_fields(
        &dee.get("/settings/members").await.body,
        "/settings/members/invite",
    );
    let (a, b) = futures::join!(
        ann.post_form("/settings/members/invite", &ann_form, &fields),
        dee.post_form("/settings/members/invite", &dee_form, &fields),
    );
    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert_eq!(
        statuses,
        [StatusCode::SEE_OTHER, StatusCode::UNPROCESSABLE_ENTITY]
    );
    let loser = if a.status == StatusCode::SEE_OTHER {
        &b
    } else {
        &a
    };
    assert_eq!(
        loser.text_of("#email-error").as_deref(),
        Some("This email already has a pending invitation. Resend it instead.")
    );
    assert_eq!(
        loser.attr_of("#name", "value").as_deref(),
        Some("Bob"),
        "the form keeps what was typed"
    );
    assert_eq!(app.count("invitations WHERE status = 'pending'").await, 1);
    assert_eq!(
        app.count("outbox_emails WHERE to_address = 'bob@example.com'")
            .await,
        1,
        "no email without its invitation"
    );
    // Inviting a member says so.
    let res = invite(&app, &ann, "Dee", "dee@example.com", "member").await;
    assert_eq!(
        res.text_of("#email-error").as_deref(),
        Some("This person is already a member.")
    );
}

async fn member_changes_apply_on_the_next_request(app: TestApp) {
    let ann = acme(&app).await;
    let bob = app.signed_up("Bob", "bob@example.com").await;
    app.add_member("acme", "bob@example.com", "admin").await;
    bob.switch_to(&app.workspace_id("acme").await).await;
    assert_eq!(
        bob.get("/audit").await.status,
        StatusCode::OK,
        "admins read the audit log"
    );
    let page = ann.get("/settings/members").await;
    let row = r#"tr[data-email="bob@example.com"]"#;
    let role_action = page
        .attr_of(&format!("{row} form[action$=\"/role\"]"), "action")
        .expect("role form");
    let member_role = role_id(&app, "member").await;
    assert_eq!(
        ann.submit(
            "/settings/members",
            &role_action,
            &[("role_id", &member_role)]
        )
        .await
        .status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        bob.get("/audit").await.status,
        StatusCode::FORBIDDEN,
        "now a member, mid-session"
    );
    assert_eq!(
        bob.get("/")
            .await
            .text_of("#switcher summary .switcher-role")
            .as_deref(),
        Some("Member")
    );

    let deactivate = page
        .attr_of(&format!("{row} form[action$=\"/deactivate\"]"), "action")
        .expect("deactivate");
    ann.submit("/settings/members", &deactivate, &[]).await;
    let home = bob.get("/").await;
    assert_eq!(
        home.text_of("#workspace-title").as_deref(),
        Some("Personal workspace")
    );
    assert!(
        !home
            .text_of("#switcher")
            .unwrap_or_default()
            .contains("Acme")
    );
    let members = ann.get("/settings/members").await;
    assert!(
        members
            .text_of(row)
            .unwrap_or_default()
            .contains("inactive")
    );
    let reactivate = members
        .attr_of(&format!("{row} form[action$=\"/reactivate\"]"), "action")
        .expect("reactivate");
    ann.submit("/settings/members", &reactivate, &[]).await;
    assert!(
        bob.get("/")
            .await
            .text_of("#switcher")
            .unwrap_or_default()
            .contains("Acme")
    );

    let remove = members
        .attr_of(&format!("{row} form[action$=\"/remove\"]"), "action")
        .expect("remove");
    ann.submit("/settings/members", &remove, &[]).await;
    assert!(
        !bob.get("/")
            .await
            .text_of("#switcher")
            .unwrap_or_default()
            .contains("Acme")
    );
    assert_eq!(
        app.count(
            "memberships m JOIN users u ON u.id = m.user_id WHERE u.email = 'bob@example.com'"
        )
        .await,
        1
    );
    let actions = [
        "membership.role.change",
        "membership.deactivate",
        "membership.reactivate",
        "membership.remove",
    ];
    for action in actions {
        assert_eq!(
            app.count(&format!("audit_entries WHERE action = '{action}'"))
                .await,
            1,
            "{action}"
        );
    }
}

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
    let ann = acme(&app).await;
    let acme_id = app.workspace_id("acme").await;
    // A custom "Inviter" role ranked between member and admin that may read
    // members and invite, but not manage them.
    let custom_role = uuid::Uuid::now_v7().to_string();
    app.execute(&format!(
        "INSERT INTO roles (id, workspace_id, system_key, name, description, level, permissions, created_at, updated_at) \
         VALUES ('{custom_role}', '{acme_id}', NULL, 'Inviter', '', 50, 'members.read members.invite resources.read resources.write', '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
    ))
    .await;
    let team_lead_role = uuid::Uuid::now_v7().to_string();
    app.execute(&format!(
        "INSERT INTO roles (id, workspace_id, system_key, name, description, level, permissions, created_at, updated_at) \
         VALUES ('{team_lead_role}', '{acme_id}', NULL, 'Team lead', '', 90, '{TEAM_LEAD_PERMISSIONS}', '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
    ))
    .await;
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
            "custom" | "team-lead" => {
                app.add_member("acme", email, "member").await;
                let role = if role == "custom" {
                    &custom_role
                } else {
                    &team_lead_role
                };
                app.execute(&format!(
                    "UPDATE memberships SET role_id = '{role}' WHERE workspace_id = '{acme_id}' AND user_id = (SELECT id FROM users WHERE email = '{email}')"
                ))
                .await;
            }
            system => app.add_member("acme", email, system).await,
        }
        if actor != Actor::Outsider {
            browser.switch_to(&acme_id).await;
        }
        browsers.push((actor, browser));
    }
    app.execute(&format!(
        "UPDATE memberships SET status = 'inactive' WHERE workspace_id = '{acme_id}' AND user_id = (SELECT id FROM users WHERE email = 'inactive@example.com')"
    ))
    .await;
    app.execute(&format!(
        "DELETE FROM memberships WHERE workspace_id = '{acme_id}' AND user_id = (SELECT id FROM users WHERE email = 'removed@example.com')"
    ))
    .await;
    browsers.push((Actor::Owner, ann));

    let target = app
        .text_value(&format!(
            "SELECT m.id AS value FROM memberships m JOIN users u ON u.id = m.user_id WHERE u.email = 'target@example.com' AND m.workspace_id = '{acme_id}'"
        ))
        .await;
    let admin_membership = app
        .text_value(&format!(
            "SELECT m.id AS value FROM memberships m JOIN users u ON u.id = m.user_id WHERE u.email = 'admin@example.com' AND m.workspace_id = '{acme_id}'"
        ))
        .await;
    let admin_role = role_id(&app, "admin").await;
    let member_role = role_id(&app, "member").await;
    let owner_role = role_id(&app, "owner").await;

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
            app.text_value(&format!(
                "SELECT w.id AS value FROM workspaces w JOIN users u ON u.id = w.personal_owner_id WHERE u.email = '{email}'"
            ))
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

async fn members_table_searches_and_pages(app: TestApp) {
    let ann = acme(&app).await;
    let acme_id = app.workspace_id("acme").await;
    let member_role = role_id(&app, "member").await;
    for n in 0..60 {
        let user = uuid::Uuid::now_v7();
        app.execute(&format!(
            "INSERT INTO users (id, email, name, password_hash, status, created_at, updated_at) \
             VALUES ('{user}', 'person{n}@example.com', 'Person {n}', 'x', 'active', '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
        ))
        .await;
        app.execute(&format!(
            "INSERT INTO memberships (id, workspace_id, user_id, role_id, status, joined_at, updated_at) \
             VALUES ('{}', '{acme_id}', '{user}', '{member_role}', 'active', '2026-01-01 00:00:00', '2026-01-01 00:00:00')",
            uuid::Uuid::now_v7()
        ))
        .await;
    }
    let first = ann.get("/settings/members").await;
    assert_eq!(first.body.matches("<tr data-email=").count(), 50);
    let next = first.attr_of("#next-members", "href").expect("next page");
    let second = ann.get(&next).await;
    assert_eq!(second.body.matches("<tr data-email=").count(), 11);
    assert!(second.attr_of("#next-members", "href").is_none());
    let found = ann.get("/settings/members?q=PERSON%2042").await;
    assert_eq!(found.body.matches("<tr data-email=").count(), 1);
    assert!(
        found
            .text_of("#members-table")
            .unwrap_or_default()
            .contains("person42@example.com")
    );
    let by_email = ann.get("/settings/members?q=person5").await;
    assert_eq!(
        by_email.body.matches("<tr data-email=").count(),
        11,
        "person5 and person50–59"
    );
    let wildcard = ann.get("/settings/members?q=%25").await;
    assert_eq!(
        wildcard.body.matches("<tr data-email=").count(),
        0,
        "% is a character, not a wildcard"
    );
}

on_both_backends_with!(no_adjustment; smtp_round_trip, smtp_outage_delays_but_never_loses);

fn no_adjustment(_: &mut tenantry::config::Settings) {}

async fn smtp_round_trip(_app: TestApp) {
    let port = free_port();
    let inbox = start_smtp_server(port);
    let Some(app) = smtp_app(_app.backend, port).await else {
        return;
    };
    let ann = acme(&app).await;
    invite(&app, &ann, "Bob", "bob@example.com", "member").await;
    // Ann's sign-up sent her a verification email; Bob's invitation is the other.
    let messages = wait_for_messages(&inbox, 2).await;
    let message = messages
        .iter()
        .map(|m| decode_quoted_printable(m))
        .find(|m| m.contains("To: bob@example.com"))
        .expect("the invitation email");
    assert!(
        message.contains("Subject: Ann invited you to Acme Corp on Tenantry"),
        "{message}"
    );
    assert!(
        message.contains("text/plain") && message.contains("text/html"),
        "both parts"
    );
    let start = message
        .find(&app.base)
        .expect("a link built from the base URL");
    let link: String = message[start + app.base.len()..]
        .chars()
        .take_while(|c| !c.is_whitespace() && *c != '"' && *c != '<')
        .collect();
    let bob = app.client();
    assert_eq!(
        bob.get(&link).await.status,
        StatusCode::OK,
        "the link in the email works: {link}"
    );
    app.wait_for_mail_delivery().await;
}

async fn smtp_outage_delays_but_never_loses(_app: TestApp) {
    let port = free_port();
    let Some(app) = smtp_app(_app.backend, port).await else {
        return;
    };
    let ann = acme(&app).await;
    assert_eq!(
        invite(&app, &ann, "Bob", "bob@example.com", "member")
            .await
            .status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        app.count("invitations WHERE status = 'pending'").await,
        1,
        "the invitation exists"
    );
    for _ in 0..100 {
        if app
            .count(
                "outbox_emails WHERE attempts > 0 AND sent_at IS NULL AND last_error IS NOT NULL",
            )
            .await
            > 0
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let delivery = ann
        .get("/settings/members")
        .await
        .text_of("#pending-table .delivery")
        .unwrap_or_default();
    assert!(
        delivery.starts_with("failed"),
        "admins see the failure: {delivery}"
    );
    let inbox = start_smtp_server(port);
    // Ann's verification email and Bob's invitation, each sent once.
    let messages = wait_for_messages(&inbox, 2).await;
    assert_eq!(messages.len(), 2);
    app.wait_for_mail_delivery().await;
    assert_eq!(
        ann.get("/settings/members")
            .await
            .text_of("#pending-table .delivery")
            .as_deref(),
        Some("delivered")
    );
}

async fn smtp_app(backend: TestBackend, port: u16) -> Option<TestApp> {
    TestApp::start(backend, |s| {
        s.smtp_url = Some(format!("smtp://127.0.0.1:{port}"))
    })
    .await
}

on_both_backends!(several_instances_send_each_email_once);

/// Two delivery workers (two instances) on one database: every queued email
/// goes out exactly once.
async fn several_instances_send_each_email_once(app: TestApp) {
    {
        let mut conn = app.db.connection().expect("connection");
        for n in 0..20 {
            let to = format!("user{n}@example.com");
            let email = tenantry::db::outbox::NewEmail {
                to: &to,
                subject: "Hello",
                text: "text",
                html: "<p>html</p>",
                invitation_id: None,
            };
            tenantry::db::outbox::enqueue(&mut conn, &email).expect("enqueue");
        }
    }
    let dirs = [
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    ];
    let workers: Vec<tenantry::mail::Outbox> = dirs
        .iter()
        .map(|dir| tenantry::mail::Outbox {
            db: app.db.clone(),
            transport: tenantry::mail::Transport::from_config(None, dir.path()).expect("transport"),
            from: "Tenantry <no-reply@example.com>".parse().expect("mailbox"),
            kick: std::sync::Arc::new(tokio::sync::Notify::new()),
            retry_base: std::time::Duration::from_secs(1),
            poll: std::time::Duration::from_secs(1),
        })
        .collect();
    let drain = |outbox: tenantry::mail::Outbox| async move {
        let mut sent = 0;
        while tenantry::mail::deliver_next(&outbox)
            .await
            .expect("deliver")
        {
            sent += 1;
        }
        sent
    };
    // The app's own worker is a third instance and takes its share too.
    let (a, b) = futures::join!(drain(workers[0].clone()), drain(workers[1].clone()));
    app.wait_for_mail_delivery().await;
    let by_app = std::fs::read_dir(app.outbox_dir())
        .expect("app outbox")
        .count();
    let files: usize = dirs
        .iter()
        .map(|d| {
            std::fs::read_dir(d.path().join("outbox"))
                .expect("outbox")
                .count()
        })
        .sum();
    assert_eq!(
        (a + b, files + by_app),
        (files, 20),
        "every message sent exactly once: {a} + {b} + {by_app}"
    );
    assert_eq!(
        app.count("outbox_emails WHERE sent_at IS NOT NULL AND attempts = 1")
            .await,
        20
    );
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
    let ann = acme(&app).await;
    let acme_id = app.workspace_id("acme").await;
    let member_role = role_id(&app, "member").await;
    let inviter_role = uuid::Uuid::now_v7().to_string();
    let team_lead_role = uuid::Uuid::now_v7().to_string();
    let custom_role = uuid::Uuid::now_v7().to_string();
    for (id, name, level, permissions) in [
        (
            &inviter_role,
            "Inviter",
            50,
            "members.read members.invite resources.read resources.write",
        ),
        (&team_lead_role, "Team lead", 90, TEAM_LEAD_PERMISSIONS),
        (&custom_role, "Editable", 20, "audit.read"),
    ] {
        app.execute(&format!(
            "INSERT INTO roles (id, workspace_id, system_key, name, description, level, permissions, own_permissions, created_at, updated_at) \
             VALUES ('{id}', '{acme_id}', NULL, '{name}', '', {level}, '{permissions}', '{permissions}', '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
        ))
        .await;
    }
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
            app.add_member(
                "acme",
                email,
                if role == "custom" { "member" } else { role },
            )
            .await;
            browser.switch_to(&acme_id).await;
        }
        let user = format!("(SELECT id FROM users WHERE email = '{email}')");
        match actor {
            Actor::Custom => {
                app.execute(&format!("UPDATE memberships SET role_id = '{inviter_role}' WHERE workspace_id = '{acme_id}' AND user_id = {user}"))
                    .await
            }
            Actor::TeamLead => {
                app.execute(&format!("UPDATE memberships SET role_id = '{team_lead_role}' WHERE workspace_id = '{acme_id}' AND user_id = {user}"))
                    .await
            }
            Actor::Inactive => {
                app.execute(&format!("UPDATE memberships SET status = 'inactive' WHERE workspace_id = '{acme_id}' AND user_id = {user}"))
                    .await
            }
            Actor::Removed => app.execute(&format!("DELETE FROM memberships WHERE workspace_id = '{acme_id}' AND user_id = {user}")).await,
            _ => {}
        }
        actors.push((actor, browser));
    }
    app.signed_up("Target", "target@example.com").await;
    app.add_member("acme", "target@example.com", "member").await;
    let target_of = "(SELECT id FROM users WHERE email = 'target@example.com')";

    for (actor, browser) in &actors {
        // Fresh rows for every actor: a pending invitation (just sent) and an inactive target.
        app.execute("DELETE FROM outbox_emails").await;
        app.execute("DELETE FROM invitations").await;
        let invitation = uuid::Uuid::now_v7().to_string();
        app.execute(&format!(
            "INSERT INTO invitations (id, workspace_id, email, name, role_id, token_hash, status, invited_by_name, created_at, expires_at, send_count, last_sent_at) \
             VALUES ('{invitation}', '{acme_id}', 'new@example.com', 'New', '{member_role}', '{}', 'pending', 'Ann', '2026-01-01 00:00:00', '2100-01-01 00:00:00', 1, '2100-01-01 00:00:00')",
            uuid::Uuid::new_v4().simple()
        ))
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
            app.text_value(&format!(
                "SELECT w.id AS value FROM workspaces w JOIN users u ON u.id = w.personal_owner_id WHERE u.email = '{email}'"
            ))
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
            .count(&format!("roles WHERE id = '{custom_role}'"))
            .await
            == 0
        {
            app.execute(&format!(
                "INSERT INTO roles (id, workspace_id, system_key, name, description, level, permissions, own_permissions, created_at, updated_at) \
                 VALUES ('{custom_role}', '{acme_id}', NULL, 'Editable', '', 20, 'audit.read', 'audit.read', '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
            ))
            .await;
        }
    }
}

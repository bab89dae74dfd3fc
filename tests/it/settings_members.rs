//! `/settings/members` (and `/settings/invitations/{id}/…`): invitations
//! sent, resent and raced for, member actions taking effect mid-session,
//! and the role menus. The members table's search and paging are in
//! `settings_members_table.rs`, the hierarchy rules in
//! `settings_members_hierarchy.rs` and `settings_members_matrix.rs`.

use reqwest::StatusCode;

use crate::on_both_backends;
use crate::support::{Client, PASSWORD, TestApp, TestBackend, hidden_fields};

/// Ann (or whoever `by` is) invites someone to Acme with a system role,
/// through the members page.
pub(crate) async fn invite(
    app: &TestApp,
    by: &Client,
    name: &str,
    email: &str,
    role: &str,
) -> crate::support::Response {
    let role = app.role_of("acme", role).await;
    by.submit(
        "/settings/members",
        "/settings/members/invite",
        &[("name", name), ("email", email), ("role_id", &role)],
    )
    .await
}

on_both_backends!(
    resend_replaces_the_link_and_is_rate_limited,
    concurrent_invitations_make_one_pending,
    member_changes_apply_on_the_next_request,
    role_menus_list_roles_by_rank_then_name,
    a_refused_invite_redraws_the_role_menus,
    role_menus_follow_role_changes_made_elsewhere,
    invitation_lists_follow_changes_made_elsewhere,
    invitation_changes_and_role_changes_race_without_deadlock,
    ids_that_name_nothing_answer_as_unknown_ones,
);

/// An invitation id in the URL that is not an id answers 404, like an
/// unknown one, and changes nothing; a role id in a form that is not an
/// id is refused like a role the actor can't give: the invite form comes
/// back (422) with the role menu's message, the role change is refused.
async fn ids_that_name_nothing_answer_as_unknown_ones(app: TestApp) {
    let app = app
        .with_acme()
        .await
        .with_member("acme", "Bob", "bob@example.com", "member")
        .await;
    let ann = app.browser("ann@example.com");
    let res = invite(&app, &ann, "Cy", "cy@example.com", "member").await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let page = ann.get("/settings/members").await;
    let hidden = hidden_fields(&page.body, "/settings/members/invite");
    let audit_before = app.count("audit_entries").await;
    for id in [
        "not-an-id",
        "1%20OR%201=1",
        "0b5e7c7e-0000-4000-8000-000000000000",
    ] {
        for action in ["resend", "revoke"] {
            let path = format!("/settings/invitations/{id}/{action}");
            let res = ann.post_form(&path, &hidden, &[]).await;
            assert_eq!(res.status, StatusCode::NOT_FOUND, "{path}: {}", res.body);
        }
    }
    assert_eq!(app.count("invitations WHERE status = 'pending'").await, 1);
    assert_eq!(app.count("audit_entries").await, audit_before);

    let res = ann
        .submit(
            "/settings/members",
            "/settings/members/invite",
            &[
                ("name", "Dee"),
                ("email", "dee@example.com"),
                ("role_id", "not-a-role"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);
    assert_eq!(
        res.text_of("#role_id-error").as_deref(),
        Some("Choose a role you are allowed to give.")
    );
    assert_eq!(
        res.attr_of("#invite #role_id option[selected]", "value"),
        None,
        "no role is chosen for a value that names none"
    );
    assert_eq!(
        res.attr_of("#email", "value").as_deref(),
        Some("dee@example.com")
    );

    let bob = app.membership_of("acme", "bob@example.com").await;
    let role = format!("/settings/members/{bob}/role");
    let res = ann
        .submit("/settings/members", &role, &[("role_id", "not-a-role")])
        .await;
    assert_eq!(res.status, StatusCode::CONFLICT, "{}", res.body);
    assert_eq!(
        app.count_with(
            "memberships WHERE id = ? AND role_id = ?",
            &[&bob, &app.role_of("acme", "member").await],
        )
        .await,
        1
    );
    assert_eq!(app.count("audit_entries").await, audit_before);
}

/// Revoking an invitation moves the workspace's invitations version (a
/// trigger updating the workspace row) while a change to the role it
/// offers locks that row first and then renames the role on its pending
/// invitations. Both take the workspace row first, so when they race
/// neither waits for the other in a cycle (on PostgreSQL, a deadlock: one
/// of them would fail).
async fn invitation_changes_and_role_changes_race_without_deadlock(app: TestApp) {
    let app = app.with_acme().await;
    let ops = app.add_role("acme", "Ops", 50, &["members.read"]).await;
    let ann = app.browser("ann@example.com");
    let role_action = format!("/settings/roles/{ops}");
    let role_form = hidden_fields(&ann.get(&role_action).await.body, &role_action);
    for round in 0..8 {
        let email = format!("x{round}@example.com");
        let res = ann
            .submit(
                "/settings/members",
                "/settings/members/invite",
                &[("name", "X"), ("email", &email), ("role_id", &ops)],
            )
            .await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
        let invitation = app
            .text_value_with(
                "SELECT id AS value FROM invitations WHERE email = ?",
                &[&email],
            )
            .await;
        let revoke = format!("/settings/invitations/{invitation}/revoke");
        let revoke_form = hidden_fields(&ann.get("/settings/members").await.body, &revoke);
        let name = format!("Ops {round}");
        let role_fields = [
            ("name", name.as_str()),
            ("level", "50"),
            ("permissions", "members.read"),
        ];
        let (revoked, renamed) = futures::join!(
            ann.post_form(&revoke, &revoke_form, &[]),
            ann.post_form(&role_action, &role_form, &role_fields),
        );
        assert_eq!(revoked.status, StatusCode::SEE_OTHER, "{}", revoked.body);
        assert_eq!(renamed.status, StatusCode::SEE_OTHER, "{}", renamed.body);
    }
    assert_eq!(
        app.count("invitations WHERE status = 'revoked'").await,
        8,
        "every revocation took"
    );
    assert_eq!(app.count("roles WHERE name = 'Ops 7'").await, 1);
}

/// The members page keeps each workspace's invitations in memory
/// (`web::cache::InvitationCache`), current by
/// `workspaces.invitations_version`, which triggers move with every change
/// the page shows: an invitation sent, accepted, or changed by a script or
/// another instance, and its email's delivery. One that merely runs past
/// its expiry moves nothing; the page still shows it as expired.
async fn invitation_lists_follow_changes_made_elsewhere(app: TestApp) {
    let app = app.with_acme().await;
    let ann = app.browser("ann@example.com");
    let pending = |page: &crate::support::Response, email: &str| {
        page.text_of(&format!(r#"#pending-table tr[data-invitation="{email}"]"#))
    };
    let ended = |page: &crate::support::Response, email: &str| {
        page.text_of(&format!(
            r#"#history-table tr[data-invitation="{email}"] td.status"#
        ))
    };
    assert!(ann.get("/settings/members").await.body.contains("None."));
    let res = invite(&app, &ann, "Bob", "bob@example.com", "member").await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let res = invite(&app, &ann, "Cy", "cy@example.com", "member").await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    app.wait_for_mail_delivery().await;
    let page = ann.get("/settings/members").await;
    let shown = pending(&page, "bob@example.com").expect("Bob's invitation is pending");
    assert!(shown.contains("delivered"), "{shown}");

    // A delivery that failed (as another instance's mail worker records
    // it; not due again, so this one's worker leaves it).
    app.execute(&format!(
        "UPDATE outbox_emails SET sent_at = NULL, attempts = 2, last_error = 'mailbox full', \
         next_attempt_at = {} WHERE to_address = 'bob@example.com'",
        match app.backend {
            TestBackend::Sqlite => "datetime('now', '+1 day')",
            TestBackend::Postgres => "(now() AT TIME ZONE 'UTC') + INTERVAL '1 day'",
        }
    ))
    .await;
    let shown = pending(&ann.get("/settings/members").await, "bob@example.com").expect("pending");
    assert!(
        shown.contains("failed 2 times, retrying: mailbox full"),
        "{shown}"
    );
    app.execute(
        "UPDATE outbox_emails SET sent_at = next_attempt_at, attempts = 3, last_error = NULL \
         WHERE to_address = 'bob@example.com'",
    )
    .await;
    let shown = pending(&ann.get("/settings/members").await, "bob@example.com").expect("pending");
    assert!(shown.contains("delivered"), "{shown}");

    // Revoked by a script.
    app.execute(
        "UPDATE invitations SET status = 'revoked', resolved_at = created_at, \
         resolved_by_name = 'A script' WHERE email = 'bob@example.com'",
    )
    .await;
    let page = ann.get("/settings/members").await;
    assert_eq!(pending(&page, "bob@example.com"), None);
    assert_eq!(ended(&page, "bob@example.com").as_deref(), Some("revoked"));

    // Accepted through the emailed link.
    let cy = app.signed_up("Cy", "cy@example.com").await;
    let link = app.invitation_link("cy@example.com").await;
    let res = cy.submit(&link, &format!("{link}/accept"), &[]).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let page = ann.get("/settings/members").await;
    assert_eq!(pending(&page, "cy@example.com"), None);
    assert_eq!(ended(&page, "cy@example.com").as_deref(), Some("accepted"));

    // Running out: nothing is written, and the next view shows it ended.
    let res = invite(&app, &ann, "Di", "di@example.com", "member").await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    app.execute(&format!(
        "UPDATE invitations SET expires_at = {} WHERE email = 'di@example.com'",
        match app.backend {
            TestBackend::Sqlite => "strftime('%Y-%m-%d %H:%M:%f', 'now', '+2 seconds')",
            TestBackend::Postgres => "(now() AT TIME ZONE 'UTC') + INTERVAL '2 seconds'",
        }
    ))
    .await;
    app.wait_for_mail_delivery().await;
    let version =
        "SELECT CAST(invitations_version AS TEXT) AS value FROM workspaces WHERE slug = 'acme'";
    let before = app.text_value(version).await;
    let page = ann.get("/settings/members").await;
    assert!(pending(&page, "di@example.com").is_some(), "{}", page.body);
    tokio::time::sleep(std::time::Duration::from_millis(2_500)).await;
    let page = ann.get("/settings/members").await;
    assert_eq!(pending(&page, "di@example.com"), None);
    assert_eq!(ended(&page, "di@example.com").as_deref(), Some("expired"));
    assert_eq!(
        app.text_value(version).await,
        before,
        "the same version: the list kept in memory was shown"
    );
}

/// The members page keeps each workspace's roles in memory
/// (`web::cache::RoleCache`), current by `workspaces.roles_version`, which
/// a trigger moves with every change to them: a role added, renamed or
/// deleted anywhere (another instance, a script) shows on the next view.
/// A member joining changes a role's member count, not the version.
async fn role_menus_follow_role_changes_made_elsewhere(app: TestApp) {
    let app = app
        .with_acme()
        .await
        .with_member("acme", "Bob", "bob@example.com", "member")
        .await;
    let ann = app.browser("ann@example.com");
    let menu = |page: crate::support::Response| page.text_of("select#role_id").expect("menu");
    assert!(!menu(ann.get("/settings/members").await).contains("Ops"));
    app.add_role("acme", "Ops", 50, &["members.read"]).await;
    assert!(menu(ann.get("/settings/members").await).contains("Ops"));
    app.execute("UPDATE roles SET name = 'Operations' WHERE name = 'Ops'")
        .await;
    let renamed = menu(ann.get("/settings/members").await);
    assert!(renamed.contains("Operations"), "{renamed}");
    app.execute("UPDATE memberships SET role_id = (SELECT id FROM roles WHERE name = 'Operations') WHERE user_email = 'bob@example.com' AND workspace_id = (SELECT id FROM workspaces WHERE slug = 'acme')")
        .await;
    assert_eq!(
        ann.get("/settings/members")
            .await
            .text_of(r#"tr[data-member="bob@example.com"] td.role"#)
            .as_deref(),
        Some("Operations")
    );
    app.execute("UPDATE memberships SET role_id = (SELECT id FROM roles WHERE system_key = 'member' AND workspace_id = memberships.workspace_id) WHERE user_email = 'bob@example.com' AND workspace_id = (SELECT id FROM workspaces WHERE slug = 'acme')")
        .await;
    app.execute("DELETE FROM roles WHERE name = 'Operations'")
        .await;
    assert!(!menu(ann.get("/settings/members").await).contains("Operations"));
    let version = "SELECT CAST(roles_version AS TEXT) AS value FROM workspaces WHERE slug = 'acme'";
    let before = app.text_value(version).await;
    let app = app
        .with_member("acme", "Cy", "cy@example.com", "member")
        .await;
    assert_eq!(app.text_value(version).await, before);
    assert_eq!(
        app.count("roles WHERE member_count = 2 AND system_key = 'member'")
            .await,
        1,
        "the member count moved"
    );
}

/// An invite refused with 422 redraws the members page from a form post,
/// through its own handler: its menus must offer the same roles as the
/// page's own view and name each member's.
async fn a_refused_invite_redraws_the_role_menus(app: TestApp) {
    let app = app
        .with_acme()
        .await
        .with_member("acme", "Bob", "bob@example.com", "member")
        .await;
    let ann = app.browser("ann@example.com");
    let shown = ann.get("/settings/members").await;
    let admin = app.role_of("acme", "admin").await;
    let res = ann
        .submit(
            "/settings/members",
            "/settings/members/invite",
            &[
                ("name", "Cy"),
                ("email", "not an address"),
                ("role_id", &admin),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);
    assert!(res.text_of("#email-error").is_some(), "{}", res.body);
    assert_eq!(
        res.attr_of("#role_id option[selected]", "value").as_deref(),
        Some(admin.as_str()),
        "the invite form keeps the role chosen"
    );
    assert_eq!(
        res.text_of(r#"tr[data-member="bob@example.com"] td.role"#)
            .as_deref(),
        Some("Member")
    );
    assert_eq!(
        res.body.matches("<option").count(),
        shown.body.matches("<option").count(),
        "the same menus as the page's own view"
    );
    assert_eq!(
        res.body.matches(" selected").count(),
        shown.body.matches(" selected").count()
    );
}

async fn resend_replaces_the_link_and_is_rate_limited(app: TestApp) {
    let app = app.with_acme().await;
    let ann = app.browser("ann@example.com");
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

async fn concurrent_invitations_make_one_pending(app: TestApp) {
    let app = app.with_acme().await;
    let ann = app.browser("ann@example.com");
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
    let role = app.role_of("acme", "member").await;
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
    let app = app.with_acme().await;
    let ann = app.browser("ann@example.com");
    let bob = app.signed_up("Bob", "bob@example.com").await;
    app.add_member("acme", "bob@example.com", "admin").await;
    bob.switch_to(&app.workspace_id("acme").await).await;
    assert_eq!(
        bob.get("/audit").await.status,
        StatusCode::OK,
        "admins read the audit log"
    );
    let page = ann.get("/settings/members").await;
    let row = r#"tr[data-member="bob@example.com"]"#;
    let role_action = page
        .attr_of(&format!("{row} form[action$=\"/role\"]"), "action")
        .expect("role form");
    let member_role = app.role_of("acme", "member").await;
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
        .attr_of(
            &format!("{row} button[formaction$=\"/deactivate\"]"),
            "formaction",
        )
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
        .attr_of(
            &format!("{row} button[formaction$=\"/reactivate\"]"),
            "formaction",
        )
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
        .attr_of(
            &format!("{row} button[formaction$=\"/remove\"]"),
            "formaction",
        )
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
            app.count_with("audit_entries WHERE action = ?", &[action])
                .await,
            1,
            "{action}"
        );
    }
}

/// The role menus list the workspace's roles highest rank first, and
/// roles of one rank by name, whatever order they were created in (the
/// session load reads them unordered and sorts them).
async fn role_menus_list_roles_by_rank_then_name(app: TestApp) {
    let app = app.with_acme().await;
    for (name, level) in [("Zeta", 50), ("Alpha", 50), ("Beta", 60)] {
        app.add_role("acme", name, level, &["members.read"]).await;
    }
    let menu = app
        .browser("ann@example.com")
        .get("/settings/members")
        .await
        .text_of("select#role_id")
        .expect("the invite form's role menu");
    let order = ["Admin", "Beta", "Alpha", "Zeta", "Member"];
    let positions: Vec<usize> = order
        .iter()
        .map(|role| {
            menu.find(role)
                .unwrap_or_else(|| panic!("{role} in {menu}"))
        })
        .collect();
    assert!(
        positions.windows(2).all(|pair| pair[0] < pair[1]),
        "expected {order:?}, got {menu}"
    );
}

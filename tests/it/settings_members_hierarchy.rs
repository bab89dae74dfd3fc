//! The hierarchy holes the hardening review found, each shown from outside:
//! resend and revoke of invitations to roles the actor couldn't give,
//! expired invitations that were never marked, invitations outliving their
//! sender's right to send them, the members page's role menu, and the
//! "exactly one owner" invariant under concurrent member changes.

use reqwest::StatusCode;

use crate::on_both_backends;
use crate::support::{Client, TestApp, hidden_fields};

on_both_backends!(
    resend_and_revoke_follow_the_hierarchy,
    expired_invitations_are_expired_whether_marked_or_not,
    invitations_die_with_their_senders_right_to_send_them,
    role_menu_shows_a_current_role_the_viewer_cannot_give,
    each_rows_role_menu_selects_that_members_role,
    transfer_races_remove_and_demote_without_losing_the_owner,
);

/// A member of Acme with a role (a system role key or a custom role's
/// name), signed in and switched to Acme.
async fn member(app: &TestApp, name: &str, email: &str, role: &str) -> Client {
    let browser = app.signed_up(name, email).await;
    app.add_member("acme", email, role).await;
    browser.switch_to(&app.workspace_id("acme").await).await;
    browser
}

async fn invite(by: &Client, email: &str, role_id: &str) -> crate::support::Response {
    by.submit(
        "/settings/members",
        "/settings/members/invite",
        &[("name", "Invitee"), ("email", email), ("role_id", role_id)],
    )
    .await
}

async fn invitation_id(app: &TestApp, email: &str) -> String {
    app.text_value_with(
        "SELECT id AS value FROM invitations WHERE email = ? ORDER BY created_at DESC LIMIT 1",
        &[email],
    )
    .await
}

async fn invitation_status(app: &TestApp, email: &str) -> String {
    app.text_value_with(
        "SELECT status AS value FROM invitations WHERE email = ? ORDER BY created_at DESC LIMIT 1",
        &[email],
    )
    .await
}

/// Posts a form of the members page (its CSRF token and workspace id).
async fn post_from_members_page(browser: &Client, action: &str) -> crate::support::Response {
    let page = browser.get("/settings/members").await;
    let hidden = hidden_fields(&page.body, "/settings/members/invite");
    browser.post_form(action, &hidden, &[]).await
}

async fn resend_and_revoke_follow_the_hierarchy(app: TestApp) {
    let app = app.with_acme().await;
    let ann = app.browser("ann@example.com");
    let admin_role = app.role_of("acme", "admin").await;
    assert_eq!(
        invite(&ann, "new-admin@example.com", &admin_role)
            .await
            .status,
        StatusCode::SEE_OTHER
    );
    let invitation = invitation_id(&app, "new-admin@example.com").await;
    // Let the resend interval pass, so only the hierarchy can refuse.
    app.execute("UPDATE invitations SET last_sent_at = '2026-01-01 00:00:00'")
        .await;
    let bob = member(&app, "Bob", "bob@example.com", "admin").await;
    let page = bob.get("/settings/members").await;
    assert!(
        page.text_of("#pending-table")
            .unwrap_or_default()
            .contains("new-admin@example.com")
            && !page
                .body
                .contains(&format!("/settings/invitations/{invitation}/")),
        "listed, without buttons Bob can't use: {}",
        page.body
    );
    assert!(
        ann.get("/settings/members")
            .await
            .body
            .contains(&format!("/settings/invitations/{invitation}/revoke")),
        "the owner gets them"
    );
    for action in ["resend", "revoke"] {
        let res = post_from_members_page(
            &bob,
            &format!("/settings/invitations/{invitation}/{action}"),
        )
        .await;
        assert_eq!(res.status, StatusCode::CONFLICT, "{action}: {}", res.body);
        assert!(
            res.text_of("#error-message")
                .unwrap_or_default()
                .contains("roles you could give yourself"),
            "{action}: {}",
            res.body
        );
    }
    assert_eq!(
        invitation_status(&app, "new-admin@example.com").await,
        "pending"
    );
    assert_eq!(
        app.count_with(
            "invitations WHERE id = ? AND send_count = 1",
            &[&invitation],
        )
        .await,
        1,
        "not resent"
    );
    // The owner, who could give Admin, may do both.
    let res =
        post_from_members_page(&ann, &format!("/settings/invitations/{invitation}/revoke")).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert_eq!(
        invitation_status(&app, "new-admin@example.com").await,
        "revoked"
    );
}

async fn expired_invitations_are_expired_whether_marked_or_not(app: TestApp) {
    let app = app.with_acme().await;
    let ann = app.browser("ann@example.com");
    let member_role = app.role_of("acme", "member").await;
    assert_eq!(
        invite(&ann, "late@example.com", &member_role).await.status,
        StatusCode::SEE_OTHER
    );
    let invitation = invitation_id(&app, "late@example.com").await;
    // Past its expiry, but nothing has marked it: still 'pending' in the row.
    app.execute(&format!(
        "UPDATE invitations SET expires_at = '2026-01-01 00:00:00', last_sent_at = '2026-01-01 00:00:00' WHERE id = '{invitation}'"
    ))
    .await;
    let page = ann.get("/settings/members").await;
    assert!(
        page.text_of("#pending-table").is_none(),
        "not pending: {}",
        page.body
    );
    let history = page.text_of("#history-table").expect("history");
    assert!(
        history.contains("late@example.com") && history.contains("expired"),
        "{history}"
    );
    assert_eq!(
        app.count_with(
            "invitations WHERE id = ? AND status = 'pending'",
            &[&invitation],
        )
        .await,
        1,
        "showing the page wrote nothing"
    );
    let resend =
        post_from_members_page(&ann, &format!("/settings/invitations/{invitation}/resend")).await;
    assert_eq!(resend.status, StatusCode::CONFLICT, "{}", resend.body);
    assert!(
        resend
            .text_of("#error-message")
            .unwrap_or_default()
            .contains("expired"),
        "{}",
        resend.body
    );
    assert_eq!(
        app.count_with(
            "invitations WHERE id = ? AND send_count = 1",
            &[&invitation],
        )
        .await,
        1
    );
    assert_eq!(
        app.count("outbox_emails WHERE to_address = 'late@example.com'")
            .await,
        1,
        "no second email"
    );
    // A new invitation to the same address is the way forward.
    assert_eq!(
        invite(&ann, "late@example.com", &member_role).await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        app.count("invitations WHERE email = 'late@example.com' AND status = 'pending'")
            .await,
        1
    );
}

async fn invitations_die_with_their_senders_right_to_send_them(app: TestApp) {
    let app = app.with_acme().await;
    let ann = app.browser("ann@example.com");
    let member_role = app.role_of("acme", "member").await;
    let admin_role = app.role_of("acme", "admin").await;
    let bob = member(&app, "Bob", "bob@example.com", "admin").await;
    let carl = member(&app, "Carl", "carl@example.com", "admin").await;
    let dora = member(&app, "Dora", "dora@example.com", "admin").await;
    for (by, email) in [
        (&bob, "from-bob@example.com"),
        (&carl, "from-carl@example.com"),
        (&dora, "from-dora@example.com"),
        (&ann, "from-ann@example.com"),
    ] {
        assert_eq!(
            invite(by, email, &member_role).await.status,
            StatusCode::SEE_OTHER
        );
    }
    // Demoted to Member, Bob can no longer give Member (not ranked above it).
    let bob_membership = app.membership_of("acme", "bob@example.com").await;
    let res = ann
        .submit(
            "/settings/members",
            &format!("/settings/members/{bob_membership}/role"),
            &[("role_id", &member_role)],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert_eq!(
        invitation_status(&app, "from-bob@example.com").await,
        "revoked"
    );
    assert_eq!(
        invitation_status(&app, "from-carl@example.com").await,
        "pending"
    );
    // Deactivated, Carl sends nothing any more; removed, neither does Dora.
    let carl_membership = app.membership_of("acme", "carl@example.com").await;
    let res = ann
        .submit(
            "/settings/members",
            &format!("/settings/members/{carl_membership}/deactivate"),
            &[],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert_eq!(
        invitation_status(&app, "from-carl@example.com").await,
        "revoked"
    );
    let dora_membership = app.membership_of("acme", "dora@example.com").await;
    let res = ann
        .submit(
            "/settings/members",
            &format!("/settings/members/{dora_membership}/remove"),
            &[],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert_eq!(
        invitation_status(&app, "from-dora@example.com").await,
        "revoked"
    );
    assert_eq!(
        invitation_status(&app, "from-ann@example.com").await,
        "pending"
    );
    let reasons = app
        .count(
            "audit_entries WHERE action = 'invitation.revoke' AND details LIKE 'automatically:%'",
        )
        .await;
    assert_eq!(
        reasons, 3,
        "each automatic revocation is audited with its reason"
    );
    assert_eq!(
        app.count("audit_entries WHERE action = 'invitation.revoke' AND details LIKE '%Bob can no longer give the role Member%'")
            .await,
        1
    );
    // Handing the organization over makes Ann an admin: her invitation to
    // Admin goes, her invitation to Member stays.
    assert_eq!(
        invite(&ann, "admin-from-ann@example.com", &admin_role)
            .await
            .status,
        StatusCode::SEE_OTHER
    );
    let _eve = member(&app, "Eve", "eve@example.com", "admin").await;
    let res = ann
        .submit(
            "/settings/danger",
            "/settings/transfer-ownership",
            &[("new_owner_email", "eve@example.com")],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert_eq!(
        invitation_status(&app, "admin-from-ann@example.com").await,
        "revoked"
    );
    assert_eq!(
        invitation_status(&app, "from-ann@example.com").await,
        "pending"
    );
}

async fn each_rows_role_menu_selects_that_members_role(app: TestApp) {
    let app = app.with_acme().await;
    app.add_role("acme", "Ops", 50, &["audit.read"]).await;
    member(&app, "Ada", "ada@example.com", "admin").await;
    member(&app, "Oli", "oli@example.com", "Ops").await;
    member(&app, "Max", "max@example.com", "member").await;
    let page = app
        .browser("ann@example.com")
        .get("/settings/members")
        .await;
    assert_eq!(page.status, StatusCode::OK);
    // The menus are rendered once per page for each role they can have
    // selected: every row still offers the same roles, its own selected.
    let menu_of = |email: &str| {
        page.text_of(&format!(r#"tr[data-member="{email}"] select"#))
            .expect("a role menu")
    };
    let selected_in = |email: &str| {
        page.text_of(&format!(
            r#"tr[data-member="{email}"] select option[selected]"#
        ))
        .expect("a selected option")
    };
    for (email, role) in [
        ("ada@example.com", "Admin"),
        ("oli@example.com", "Ops"),
        ("max@example.com", "Member"),
    ] {
        assert_eq!(selected_in(email), role, "{email}'s menu");
        assert_eq!(menu_of(email), menu_of("max@example.com"), "{email}'s menu");
    }
    let table = &page.body[page.body.find(r#"id="members-table""#).expect("table")..];
    let table = &table[..table.find("</table>").expect("end of table")];
    assert_eq!(
        table.matches(" selected>").count(),
        3,
        "one selected option per row (the owner's own row has no menu): {table}"
    );
    for role in ["Admin", "Ops", "Member"] {
        assert!(menu_of("ada@example.com").contains(role), "{role} offered");
    }
}

async fn role_menu_shows_a_current_role_the_viewer_cannot_give(app: TestApp) {
    let app = app.with_acme().await;
    // "Ops" (rank 50) holds audit.read, which an admin holds; "Finance"
    // (rank 40) holds billing.manage — so does an admin — but "Lead" below
    // holds neither, so Lead can give Ops' rank but not Finance's set.
    app.add_role(
        "acme",
        "Lead",
        60,
        &[
            "members.read",
            "members.manage",
            "resources.read",
            "resources.write",
        ],
    )
    .await;
    app.add_role("acme", "Finance", 40, &["billing.read", "billing.manage"])
        .await;
    let lead = member(&app, "Lena", "lena@example.com", "Lead").await;
    let _fay = member(&app, "Fay", "fay@example.com", "Finance").await;
    let page = lead.get("/settings/members").await;
    assert_eq!(page.status, StatusCode::OK);
    let selected = page
        .text_of(r#"tr[data-member="fay@example.com"] select option[selected]"#)
        .expect("a selected option");
    assert_eq!(selected, "Finance (current)");
    assert!(
        page.body
            .contains(r#"<option value="" selected disabled>Finance (current)</option>"#),
        "{}",
        page.body
    );
    // Submitting the row as it stands changes nothing.
    let fay_membership = app.membership_of("acme", "fay@example.com").await;
    let hidden = hidden_fields(
        &page.body,
        &format!("/settings/members/{fay_membership}/role"),
    );
    let res = lead
        .post_form(
            &format!("/settings/members/{fay_membership}/role"),
            &hidden,
            &[("role_id", "")],
        )
        .await;
    assert_eq!(res.status, StatusCode::CONFLICT);
    assert_eq!(
        app.count_with(
            "memberships WHERE id = ? AND role_id = (SELECT id FROM roles WHERE name = 'Finance')",
            &[&fay_membership],
        )
        .await,
        1
    );
}

/// What a round of the race does to the member about to become owner.
#[derive(Debug, Clone, Copy)]
enum Rival {
    Remove,
    Demote,
}

async fn transfer_races_remove_and_demote_without_losing_the_owner(app: TestApp) {
    const ROUNDS: usize = 50;
    let ann = app.signed_up("Ann", "ann@example.com").await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    app.signed_up("Xavier", "xavier@example.com").await;
    let mut outcomes = std::collections::BTreeMap::new();
    for round in 0..ROUNDS * 2 {
        let rival = if round % 2 == 0 {
            Rival::Remove
        } else {
            Rival::Demote
        };
        let slug = format!("race-{round}");
        assert_eq!(
            app.create_org(&ann, &format!("Race {round}"), &slug)
                .await
                .status,
            StatusCode::SEE_OTHER
        );
        app.add_member(&slug, "ada@example.com", "admin").await;
        app.add_member(&slug, "xavier@example.com", "member").await;
        let workspace = app.workspace_id(&slug).await;
        ada.switch_to(&workspace).await;
        let xavier = app.membership_of(&slug, "xavier@example.com").await;
        // The demotion target: a custom role below Member that the admin may give.
        let junior_role = app.add_role(&slug, "Junior", 5, &["resources.read"]).await;
        // Both forms are loaded first, then posted at the same moment.
        let transfer_form = hidden_fields(
            &ann.get("/settings/danger").await.body,
            "/settings/transfer-ownership",
        );
        let rival_action = match rival {
            Rival::Remove => format!("/settings/members/{xavier}/remove"),
            Rival::Demote => format!("/settings/members/{xavier}/role"),
        };
        let rival_form = hidden_fields(&ada.get("/settings/members").await.body, &rival_action);
        let rival_fields: Vec<(&str, &str)> = match rival {
            Rival::Remove => vec![],
            Rival::Demote => vec![("role_id", &junior_role)],
        };
        let (transfer, rival_res) = futures::join!(
            ann.post_form(
                "/settings/transfer-ownership",
                &transfer_form,
                &[("new_owner_email", "xavier@example.com")],
            ),
            ada.post_form(&rival_action, &rival_form, &rival_fields),
        );
        let owners = app
            .count_with(
"memberships m JOIN roles r ON r.id = m.role_id WHERE m.workspace_id = ? AND r.system_key = 'owner'",
&[&workspace],
)
            .await;
        assert_eq!(
            owners, 1,
            "round {round} ({rival:?}): transfer {} / rival {}",
            transfer.status, rival_res.status
        );
        *outcomes
            .entry((
                format!("{rival:?}"),
                transfer.status.as_u16(),
                rival_res.status.as_u16(),
            ))
            .or_insert(0) += 1;
    }
    // Every round ended one way or the other, never with both winning in a
    // way that broke the invariant (checked above); the mix is printed.
    eprintln!("transfer race outcomes on {:?}: {outcomes:?}", app.backend);
    for (_, transfer, rival) in outcomes.keys() {
        assert!(
            *transfer == 303 || *rival == 303,
            "someone won each round: {outcomes:?}"
        );
    }
}

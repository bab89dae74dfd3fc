//! Browser journey in headless Chromium: invite by email, accept through the
//! link, change the new member's role, the audit log as the new Admin sees
//! it, and deactivating him from his row. Screenshots: `members-invited-…`,
//! `members-role-changed-…`, `invitation-…`, `audit-admin-…`.

use std::path::Path;
use std::time::Instant;

use fantoccini::elements::Element;
use fantoccini::{Client, Locator};

use crate::browser_support::*;
use crate::support::{PASSWORD, TestApp};

#[actix_web::test]
async fn invite_accept_change_role_on_sqlite() {
    let Some(chromedriver) = chromedriver_or_skip() else {
        return;
    };
    let app = TestApp::sqlite().await;
    invite_accept_change_role(&app, &chromedriver).await;
}

#[actix_web::test]
async fn invite_accept_change_role_on_postgres() {
    let Some(chromedriver) = chromedriver_or_skip() else {
        return;
    };
    let Some(app) = TestApp::postgres().await else {
        return;
    };
    invite_accept_change_role(&app, &chromedriver).await;
}

/// Two people, two browsers: Ann creates an organization and invites Bob as
/// a Member → the test reads the link from the outbox → Bob follows it,
/// signs up and accepts → he is in the organization as a Member, without
/// the audit log → Ann makes him an Admin → his next pages show the audit
/// log.
async fn invite_accept_change_role(app: &TestApp, chromedriver: &Path) {
    let started = Instant::now();
    // Both Chromiums start at once: each has its own profile, so its own
    // cookies and session.
    let (ann_browser, bob_browser) =
        futures::join!(Browser::start(chromedriver), Browser::start(chromedriver));
    let (ann, bob) = (&ann_browser.client, &bob_browser.client);
    let launched = started.elapsed();

    // Ann: sign up, create Acme Corp, open Settings → Members.
    sign_up(ann, app, "Ann Example", "ann@example.com").await;
    create_organization(ann, "Acme Corp").await;
    expect_text(ann, "#switcher summary .switcher-role", "Owner").await;
    expect_text(ann, ".topbar a[href='/audit']", "Audit log").await;
    let settings = ann
        .find(Locator::LinkText("Settings"))
        .await
        .expect("a Settings link in the top bar of an organization");
    click_element_and_wait_for_next_page(ann, &settings, "the top bar's Settings link").await;
    expect_path(ann, "/settings/general").await;
    click_and_wait_for_next_page(ann, "#settings-tabs a[href='/settings/members']").await;
    expect_path(ann, "/settings/members").await;
    expect_text(ann, "h1", "Acme Corp settings").await;
    expect_text(ann, "#settings-tabs a[aria-current='page']", "Members").await;

    // Invite Bob as a Member.
    type_into(ann, "#name", "Bob Builder").await;
    type_into(ann, "#email", "bob@example.com").await;
    choose(ann, "#role_id", "Member").await;
    click_and_wait_for_next_page(ann, "#invite-submit").await;
    expect_path(ann, "/settings/members").await;
    expect_text(ann, "#flash", "An invitation was sent to bob@example.com.").await;
    let pending = text_of(ann, "#pending-table tr[data-invitation='bob@example.com']").await;
    for shown in ["bob@example.com", "Bob Builder", "Member", "Ann Example"] {
        assert!(
            pending.contains(shown),
            "the pending invitation shows {shown:?}: {pending:?}"
        );
    }
    assert_eq!(
        value_of(ann, "#email").await,
        "",
        "the invite form is reset"
    );
    scroll_to(ann, "#members").await;
    save_screenshot(ann, app.backend, "members-invited").await;

    // The email, as the outbox worker delivered it.
    app.wait_for_mail_delivery().await;
    let link = app.invitation_link("bob@example.com").await;
    let token = link
        .strip_prefix("/invitations/")
        .unwrap_or_else(|| panic!("an invitation path: {link:?}"));

    // Bob: the invitation, then sign-up with the invited email.
    bob.goto(&format!("{}{link}", app.base))
        .await
        .expect("open the invitation link");
    expect_text(bob, "h1", "Join Acme Corp").await;
    expect_text(
        bob,
        "#invitation-summary",
        "Ann Example invited bob@example.com to join Acme Corp as Member.",
    )
    .await;
    save_screenshot(bob, app.backend, "invitation").await;
    click_and_wait_for_next_page(bob, "#sign-up-to-accept").await;
    expect_path(bob, &format!("/signup?invitation={token}")).await;
    expect_text(bob, "h1", "Create your account").await;
    expect_text(
        bob,
        "#invitation-notice",
        "Create your account to join Acme Corp. The invitation is for the email below.",
    )
    .await;
    assert_eq!(value_of(bob, "#email").await, "bob@example.com");
    assert!(
        find(bob, "#email")
            .await
            .attr("readonly")
            .await
            .expect("the readonly attribute of #email")
            .is_some(),
        "the invited email can't be edited"
    );
    type_into(bob, "#name", "Bob Builder").await;
    type_into(bob, "#password", PASSWORD).await;
    click_and_wait_for_next_page(bob, "#signup-submit").await;

    // Back on the invitation, signed in: accept.
    expect_path(bob, &link).await;
    expect_text(bob, "h1", "Join Acme Corp").await;
    click_and_wait_for_next_page(bob, "#accept-invitation").await;

    // In Acme Corp as a Member: no audit log.
    expect_path(bob, "/").await;
    expect_text(bob, "#workspace-title", "Acme Corp").await;
    expect_text(bob, "#flash", "Welcome to Acme Corp!").await;
    expect_text(bob, "#switcher summary .switcher-label", "Acme Corp").await;
    expect_text(bob, "#switcher summary .switcher-role", "Member").await;
    expect_text(bob, "#user-menu", "Bob Builder").await;
    assert_absent(bob, ".topbar a[href='/audit']").await;
    open_page(bob, app, "/audit").await;
    expect_text(bob, "h1", "Not allowed").await;
    // Members may see the members, but neither invite nor manage them.
    open_page(bob, app, "/settings/members").await;
    expect_text(bob, "h1", "Acme Corp settings").await;
    find(bob, "#members-table tr[data-member='ann@example.com']").await;
    assert_absent(bob, "#invite").await;
    assert_absent(bob, "#members-table form").await;

    // Ann: Bob is a member now; make him an Admin from his row.
    open_page(ann, app, "/settings/members").await;
    let bob_row = "#members-table tr[data-member='bob@example.com']";
    expect_text(ann, &format!("{bob_row} td.role"), "Member").await;
    choose(ann, &format!("{bob_row} select[name='role_id']"), "Admin").await;
    let change_role = member_row_button(ann, "bob@example.com", "Change role").await;
    click_element_and_wait_for_next_page(ann, &change_role, "Bob's Change role button").await;
    expect_path(ann, "/settings/members").await;
    expect_text(ann, "#flash", "Bob Builder's role was changed.").await;
    expect_text(ann, &format!("{bob_row} td.role"), "Admin").await;
    scroll_to(ann, "#members").await;
    save_screenshot(ann, app.backend, "members-role-changed").await;

    // Bob's next pages: an Admin's, with the audit log.
    open_page(bob, app, "/").await;
    expect_text(bob, "#workspace-title", "Acme Corp").await;
    expect_text(bob, "#switcher summary .switcher-role", "Admin").await;
    let audit = find(bob, ".topbar a[href='/audit']").await;
    assert_eq!(
        audit.text().await.expect("the audit link's text"),
        "Audit log"
    );
    click_element_and_wait_for_next_page(bob, &audit, "the top bar's Audit log link").await;
    expect_path(bob, "/audit").await;
    expect_text(bob, "h1", "Audit log").await;
    let role_change = texts_of(bob, "#audit-table tbody tr")
        .await
        .into_iter()
        .find(|row| row.contains("membership.role.change"))
        .unwrap_or_else(|| panic!("no membership.role.change in Bob's audit log"));
    for shown in ["Ann Example", "bob@example.com", "Member → Admin"] {
        assert!(
            role_change.contains(shown),
            "the role change's audit row shows {shown:?}: {role_change:?}"
        );
    }
    save_screenshot(bob, app.backend, "audit-admin").await;
    // And he may invite now.
    open_page(bob, app, "/settings/members").await;
    find(bob, "#invite").await;

    assert_eq!(
        app.count(
            "memberships m JOIN users u ON u.id = m.user_id \
             JOIN workspaces w ON w.id = m.workspace_id JOIN roles r ON r.id = m.role_id \
             WHERE u.email = 'bob@example.com' AND w.slug = 'acme-corp' \
             AND r.system_key = 'admin'"
        )
        .await,
        1,
        "Bob is an Admin of acme-corp"
    );
    assert_eq!(
        app.count("invitations WHERE email = 'bob@example.com' AND status = 'accepted'")
            .await,
        1,
        "the invitation is used"
    );
    assert_eq!(
        app.count("audit_entries WHERE action = 'membership.role.change'")
            .await,
        1
    );

    // The row's other buttons post its one form to their own actions.
    open_page(ann, app, "/settings/members").await;
    let deactivate = member_row_button(ann, "bob@example.com", "Deactivate").await;
    click_element_and_wait_for_next_page(ann, &deactivate, "Bob's Deactivate button").await;
    expect_path(ann, "/settings/members").await;
    expect_text(
        ann,
        "#flash",
        "Bob Builder was deactivated and can no longer enter Acme Corp.",
    )
    .await;
    expect_text(ann, &format!("{bob_row} .badge"), "inactive").await;
    expect_text(ann, &format!("{bob_row} td.role"), "Admin").await;
    assert_eq!(
        app.count(
            "memberships m JOIN users u ON u.id = m.user_id \
             WHERE u.email = 'bob@example.com' AND m.status = 'inactive'"
        )
        .await,
        1,
        "Bob's membership is inactive, his role kept"
    );

    futures::join!(ann_browser.close(), bob_browser.close());
    println!(
        "invitation journey on {:?}: {launched:?} to launch two Chromiums, {:?} in all",
        app.backend,
        started.elapsed()
    );
}

/// The button labelled `label` in the members table's row of `email`.
async fn member_row_button(c: &Client, email: &str, label: &str) -> Element {
    c.find(Locator::XPath(&format!(
        "//tr[@data-member='{email}']//button[normalize-space()='{label}']"
    )))
    .await
    .unwrap_or_else(|_| panic!("a {label} button in the row of {email}"))
}

//! Browser journeys in headless Chromium, driven through `chromedriver` with
//! fantoccini: the pages as a person gets them, with the real stylesheet,
//! cookies, redirects and form submissions (the HTTP-level tests in
//! `accounts.rs` can't tell that a button is hidden in a closed menu, or
//! that a click really navigates).
//!
//! Needs Debian's `chromium` and `chromium-driver`. When `chromedriver` is
//! not on `PATH` the tests say so loudly and pass, unless
//! `TENANTRY_REQUIRE_BROWSER=1` (CI sets it), which makes them fail instead:
//! a browser test that silently stops running is worse than none.
//!
//! Set `TENANTRY_BROWSER_SCREENSHOTS=<dir>` to keep screenshots, one per
//! page and backend: the personal dashboard (`dashboard-sqlite.png`), the
//! organization dashboard with the switcher open (`org-switcher-…`), the
//! organization's General settings (`org-general-…`), and from the
//! invitation journey the Members settings after the invitation
//! (`members-invited-…`) and after the role change (`members-role-changed-…`),
//! the invitation as the invited person sees it (`invitation-…`) and the
//! audit log as a new Admin sees it (`audit-admin-…`); from the phone journey
//! (390 px) the organization dashboard (`phone-dashboard-…`), the Members
//! settings (`phone-members-…`) and the open user menu (`phone-user-menu-…`).

use std::fs::File;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use actix_web::rt::time::sleep;
use fantoccini::elements::Element;
use fantoccini::error::NewSessionError;
use fantoccini::{Client, ClientBuilder, Locator};

use crate::support::{PASSWORD, TestApp, TestBackend};

/// Where Debian's `chromium` package puts the browser.
const CHROMIUM: &str = "/usr/bin/chromium";
/// How long a page may take to appear after a click.
const PAGE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long `chromedriver` may take to listen and launch the browser.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How often the waits look again.
const POLL: Duration = Duration::from_millis(50);
/// The least contrast between a menu entry's text and the dropdown behind
/// it: WCAG AA for normal text. (A link button once drew its text in the
/// button's white on the white dropdown, 1:1.)
const MIN_CONTRAST: f64 = 4.5;

#[actix_web::test]
async fn sign_up_sign_out_sign_in_on_sqlite() {
    let Some(chromedriver) = chromedriver_or_skip() else {
        return;
    };
    let app = TestApp::sqlite().await;
    sign_up_sign_out_sign_in(&app, &chromedriver).await;
}

#[actix_web::test]
async fn sign_up_sign_out_sign_in_on_postgres() {
    let Some(chromedriver) = chromedriver_or_skip() else {
        return;
    };
    let Some(app) = TestApp::postgres().await else {
        return;
    };
    sign_up_sign_out_sign_in(&app, &chromedriver).await;
}

#[actix_web::test]
async fn create_switch_rename_organization_on_sqlite() {
    let Some(chromedriver) = chromedriver_or_skip() else {
        return;
    };
    let app = TestApp::sqlite().await;
    create_switch_rename_organization(&app, &chromedriver).await;
}

#[actix_web::test]
async fn create_switch_rename_organization_on_postgres() {
    let Some(chromedriver) = chromedriver_or_skip() else {
        return;
    };
    let Some(app) = TestApp::postgres().await else {
        return;
    };
    create_switch_rename_organization(&app, &chromedriver).await;
}

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

#[actix_web::test]
async fn phone_journey_never_scrolls_sideways_on_sqlite() {
    let Some(chromedriver) = chromedriver_or_skip() else {
        return;
    };
    let app = TestApp::sqlite().await;
    phone_journey_never_scrolls_sideways(&app, &chromedriver).await;
}

#[actix_web::test]
async fn phone_journey_never_scrolls_sideways_on_postgres() {
    let Some(chromedriver) = chromedriver_or_skip() else {
        return;
    };
    let Some(app) = TestApp::postgres().await else {
        return;
    };
    phone_journey_never_scrolls_sideways(&app, &chromedriver).await;
}

/// On a 390 px phone: sign up, create an organization, then every page of
/// the app, none of which may scroll sideways.
async fn phone_journey_never_scrolls_sideways(app: &TestApp, chromedriver: &Path) {
    let browser = Browser::start_as(chromedriver, Device::Phone).await;
    let c = &browser.client;
    sign_up(c, app, "Philippa Phone-Owner", "phone@example.com").await;
    assert_fits_the_width(c, "/ (personal)").await;
    open_page(c, app, "/organizations/new").await;
    assert_fits_the_width(c, "/organizations/new").await;
    type_into(c, "#name", "Pocket Enterprises International").await;
    click_and_wait_for_next_page(c, "#create-organization").await;
    expect_path(c, "/").await;
    expect_text(c, "#workspace-title", "Pocket Enterprises International").await;
    assert_fits_the_width(c, "/ (organization)").await;
    save_screenshot(c, app.backend, "phone-dashboard").await;
    for path in [
        "/organizations",
        "/organizations/new",
        "/account",
        "/audit",
        "/settings/general",
        "/settings/members",
        "/settings/roles",
        "/settings/roles/new",
        "/settings/danger",
    ] {
        open_page(c, app, path).await;
        assert_fits_the_width(c, path).await;
        if path == "/settings/members" {
            save_screenshot(c, app.backend, "phone-members").await;
        }
    }
    // The user menu is on screen and usable.
    open_user_menu(c).await;
    assert_fits_the_width(c, "/settings/danger with the user menu open").await;
    save_screenshot(c, app.backend, "phone-user-menu").await;
    browser.close().await;
}

/// Fails when the page is wider than the viewport (it would scroll
/// sideways). Under mobile emulation `window.innerWidth` grows with the
/// page, so the yardstick is the root element's client width.
pub(crate) async fn assert_fits_the_width(c: &Client, page: &str) {
    let widths = c
        .execute(
            "const root = document.documentElement; return [root.scrollWidth, root.clientWidth];",
            vec![],
        )
        .await
        .unwrap_or_else(|e| panic!("measure {page}: {e}"));
    let widths: Vec<u64> = serde_json::from_value(widths).expect("two widths");
    let (scroll, client) = (widths[0], widths[1]);
    assert!(
        scroll <= client,
        "{page} scrolls sideways: {scroll} px of content in a {client} px wide viewport"
    );
}

/// Sign up → dashboard → sign out → wrong password → sign in, asserting what
/// the user sees after each step.
async fn sign_up_sign_out_sign_in(app: &TestApp, chromedriver: &Path) {
    let started = Instant::now();
    let browser = Browser::start(chromedriver).await;
    let c = &browser.client;
    let launched = started.elapsed();

    // Sign up: the personal dashboard, with the welcome shown once.
    sign_up(c, app, "Ann Example", "Ann@Example.com").await;
    expect_text(
        c,
        "#flash",
        "Welcome to Tenantry! This is your personal workspace.",
    )
    .await;
    expect_text(c, "#switcher summary .switcher-label", "Personal").await;
    expect_text(c, "#user-menu", "Ann Example").await;
    let signed_in_as = text_of(c, "hgroup p").await;
    assert!(
        signed_in_as.starts_with("Signed in as ann@example.com"),
        "the email is shown normalised: {signed_in_as:?}"
    );
    save_screenshot(c, app.backend, "dashboard").await;

    // Sign out: the button lives in the user menu, hidden until it's opened.
    let sign_out = find(c, "#sign-out").await;
    assert!(
        !sign_out
            .is_displayed()
            .await
            .expect("is #sign-out displayed"),
        "the sign-out button shows before the user menu is opened"
    );
    find(c, "#user-menu")
        .await
        .click()
        .await
        .expect("click the user menu");
    wait_until_displayed(c, "#sign-out").await;
    click_and_wait_for_next_page(c, "#sign-out").await;
    expect_path(c, "/login?signed_out=1").await;
    expect_text(c, "#notice", "You have been signed out.").await;
    assert_eq!(
        app.count("sessions WHERE user_id IS NOT NULL").await,
        0,
        "signing out deleted the session row"
    );

    // A wrong password: the error, and the email kept.
    type_into(c, "#email", "ann@example.com").await;
    type_into(c, "#password", "not the password 42").await;
    click_and_wait_for_next_page(c, "#login-submit").await;
    expect_path(c, "/login").await;
    expect_text(c, "#login-error", "Wrong email or password.").await;
    assert_eq!(value_of(c, "#email").await, "ann@example.com");
    assert_eq!(
        value_of(c, "#password").await,
        "",
        "the password is not echoed"
    );
    assert_absent(c, "#notice").await;

    // The right password: back on the dashboard, without the welcome.
    type_into(c, "#password", PASSWORD).await;
    click_and_wait_for_next_page(c, "#login-submit").await;
    expect_path(c, "/").await;
    expect_text(c, "#workspace-title", "Personal workspace").await;
    expect_text(c, "#user-menu", "Ann Example").await;
    assert_absent(c, "#flash").await;

    assert_eq!(app.count("sessions").await, 1, "one live session");
    assert_eq!(
        app.count("sessions WHERE user_id IS NOT NULL AND user_agent LIKE '%HeadlessChrome%'")
            .await,
        1,
        "the session is the browser's, signed in"
    );
    assert_eq!(app.count("users WHERE last_login_at IS NOT NULL").await, 1);

    browser.close().await;
    println!(
        "browser journey on {:?}: {launched:?} to launch Chromium, {:?} in all",
        app.backend,
        started.elapsed()
    );
}

/// Create an organization from the switcher → switch to Personal and back →
/// rename the organization in General settings, asserting what the user sees
/// (and, on the way, that the dropdown menus' entries are readable).
async fn create_switch_rename_organization(app: &TestApp, chromedriver: &Path) {
    let started = Instant::now();
    let browser = Browser::start(chromedriver).await;
    let c = &browser.client;
    let launched = started.elapsed();
    sign_up(c, app, "Olga Owner", "olga@example.com").await;

    // Create an organization from the switcher, leaving the slug to be
    // derived from the name.
    open_switcher(c).await;
    assert_eq!(switcher_names(c).await, ["Personal"]);
    click_and_wait_for_next_page(c, "#switcher-create").await;
    expect_path(c, "/organizations/new").await;
    expect_text(c, "h1", "New organization").await;
    type_into(c, "#name", "Acme Corp").await;
    assert_eq!(value_of(c, "#slug").await, "", "the slug starts empty");
    click_and_wait_for_next_page(c, "#create-organization").await;

    // Its dashboard: the new organization is the active workspace.
    expect_path(c, "/").await;
    expect_text(c, "#workspace-title", "Acme Corp").await;
    expect_text(c, "#flash", "Acme Corp was created. You are its owner.").await;
    expect_text(c, "#switcher summary .switcher-label", "Acme Corp").await;
    let acme = app.workspace_id("acme-corp").await;
    assert_eq!(
        current_switcher_entry(c).await,
        acme,
        "the switcher marks acme-corp as the current workspace"
    );
    open_switcher(c).await;
    assert_eq!(switcher_names(c).await, ["Personal", "Acme Corp"]);
    save_screenshot(c, app.backend, "org-switcher").await;

    // Every entry of both dropdowns can be read.
    assert_menus_readable(c).await;

    // To Personal and back, with the switcher's buttons.
    switch_to(c, "Personal").await;
    expect_path(c, "/").await;
    expect_text(c, "#workspace-title", "Personal workspace").await;
    expect_text(c, "#switcher summary .switcher-label", "Personal").await;
    assert_absent(c, "#switcher-settings").await;
    switch_to(c, "Acme Corp").await;
    expect_path(c, "/").await;
    expect_text(c, "#workspace-title", "Acme Corp").await;
    expect_text(c, "#switcher summary .switcher-label", "Acme Corp").await;
    assert_eq!(current_switcher_entry(c).await, acme);

    // Rename it in General settings, opened from the top bar.
    let settings = c
        .find(Locator::LinkText("Settings"))
        .await
        .expect("a Settings link in the top bar of an organization");
    click_element_and_wait_for_next_page(c, &settings, "the top bar's Settings link").await;
    expect_path(c, "/settings/general").await;
    expect_text(c, "h1", "Acme Corp settings").await;
    assert_eq!(value_of(c, "#name").await, "Acme Corp");
    assert_eq!(value_of(c, "#slug").await, "acme-corp");
    type_into(c, "#name", "Acme Industries").await;
    click_and_wait_for_next_page(c, "#save-general").await;

    // Saved: the page, the top bar and the switcher show the new name.
    expect_path(c, "/settings/general").await;
    expect_text(c, "#flash", "Organization settings were saved.").await;
    expect_text(c, "h1", "Acme Industries settings").await;
    assert_eq!(value_of(c, "#name").await, "Acme Industries");
    assert_eq!(value_of(c, "#slug").await, "acme-corp", "the slug is kept");
    expect_text(c, "#switcher summary .switcher-label", "Acme Industries").await;
    save_screenshot(c, app.backend, "org-general").await;
    open_switcher(c).await;
    assert_eq!(switcher_names(c).await, ["Personal", "Acme Industries"]);

    assert_eq!(
        app.count(
            "workspaces WHERE kind = 'organization' AND name = 'Acme Industries' \
             AND slug = 'acme-corp'"
        )
        .await,
        1
    );
    assert_eq!(
        app.count("audit_entries WHERE action = 'organization.update'")
            .await,
        1,
        "one audit entry for the rename"
    );
    assert_eq!(
        app.count(&format!(
            "audit_entries WHERE action = 'organization.update' AND workspace_id = '{acme}' \
             AND target_label = 'Acme Industries'"
        ))
        .await,
        1,
        "the audit entry is the organization's, under its new name"
    );

    browser.close().await;
    println!(
        "organization journey on {:?}: {launched:?} to launch Chromium, {:?} in all",
        app.backend,
        started.elapsed()
    );
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
    let pending = text_of(ann, "#pending-table tr[data-email='bob@example.com']").await;
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
    find(bob, "#members-table tr[data-email='ann@example.com']").await;
    assert_absent(bob, "#invite").await;
    assert_absent(bob, "#members-table form").await;

    // Ann: Bob is a member now; make him an Admin from his row.
    open_page(ann, app, "/settings/members").await;
    let bob_row = "#members-table tr[data-email='bob@example.com']";
    expect_text(ann, &format!("{bob_row} td.role"), "Member").await;
    choose(ann, &format!("{bob_row} select[name='role_id']"), "Admin").await;
    let change_role = ann
        .find(Locator::XPath(
            "//tr[@data-email='bob@example.com']//button[normalize-space()='Change role']",
        ))
        .await
        .expect("a Change role button in Bob's row");
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

    futures::join!(ann_browser.close(), bob_browser.close());
    println!(
        "invitation journey on {:?}: {launched:?} to launch two Chromiums, {:?} in all",
        app.backend,
        started.elapsed()
    );
}

/// Creates an organization from the switcher, leaving the slug to be
/// derived from the name; the browser ends on its dashboard.
async fn create_organization(c: &Client, name: &str) {
    open_switcher(c).await;
    click_and_wait_for_next_page(c, "#switcher-create").await;
    expect_path(c, "/organizations/new").await;
    type_into(c, "#name", name).await;
    click_and_wait_for_next_page(c, "#create-organization").await;
    expect_path(c, "/").await;
    expect_text(c, "#workspace-title", name).await;
    expect_text(c, "#switcher summary .switcher-label", name).await;
}

/// Opens `path` of the app (a reload when the browser is there already).
pub(crate) async fn open_page(c: &Client, app: &TestApp, path: &str) {
    c.goto(&format!("{}{path}", app.base))
        .await
        .unwrap_or_else(|e| panic!("open {path}: {e}"));
    expect_path(c, path).await;
}

/// Picks the option shown as `label` in the select `css`, and checks that it
/// is the one selected.
async fn choose(c: &Client, css: &str, label: &str) {
    find(c, css)
        .await
        .select_by_label(label)
        .await
        .unwrap_or_else(|e| panic!("choose {label:?} in {css}: {e}"));
    expect_text(c, &format!("{css} option:checked"), label).await;
}

/// Scrolls the page so that `css` is at the top of the window (for a
/// screenshot of what lies below the fold).
async fn scroll_to(c: &Client, css: &str) {
    let element =
        serde_json::to_value(find(c, css).await).expect("an element as a script argument");
    c.execute(
        "arguments[0].scrollIntoView({ block: 'start', behavior: 'instant' });",
        vec![element],
    )
    .await
    .unwrap_or_else(|e| panic!("scroll to {css}: {e}"));
}

/// The text of every element matching `css` (the page is already loaded).
async fn texts_of(c: &Client, css: &str) -> Vec<String> {
    let rows = c
        .find_all(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("look for {css}: {e}"));
    let mut texts = Vec::new();
    for row in rows {
        texts.push(
            row.text()
                .await
                .unwrap_or_else(|e| panic!("text of {css}: {e}")),
        );
    }
    texts
}

/// Signs a new user up through the page; the browser ends on their personal
/// dashboard.
pub(crate) async fn sign_up(c: &Client, app: &TestApp, name: &str, email: &str) {
    c.goto(&format!("{}/signup", app.base))
        .await
        .expect("open /signup");
    expect_text(c, "h1", "Create your account").await;
    type_into(c, "#name", name).await;
    type_into(c, "#email", email).await;
    type_into(c, "#password", PASSWORD).await;
    click_and_wait_for_next_page(c, "#signup-submit").await;
    expect_path(c, "/").await;
    expect_text(c, "#workspace-title", "Personal workspace").await;
}

/// Opens the `<details>` menu whose summary is `summary` (unless it is open),
/// waiting until `inside` shows and Pico's fade-in has ended (a screenshot
/// taken earlier shows the page through the half-transparent menu).
async fn open_menu(c: &Client, summary: &str, inside: &str) {
    let open = find(c, inside).await.is_displayed().await.unwrap_or(false);
    if !open {
        find(c, summary)
            .await
            .click()
            .await
            .unwrap_or_else(|e| panic!("click {summary}: {e}"));
    }
    wait_until_displayed(c, inside).await;
    wait_for_animations(c).await;
}

/// Waits until no CSS animation or transition is running on the page.
async fn wait_for_animations(c: &Client) {
    const RUNNING: &str =
        "return document.getAnimations().filter((a) => a.playState === 'running').length;";
    let deadline = Instant::now() + PAGE_TIMEOUT;
    loop {
        let running = c
            .execute(RUNNING, Vec::new())
            .await
            .unwrap_or_else(|e| panic!("count the running animations: {e}"));
        if running == 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{running} animations still running after {PAGE_TIMEOUT:?}"
        );
        sleep(POLL).await;
    }
}

/// Closes the `<details>` menu whose summary is `summary` (when open),
/// waiting until `inside` is hidden. While a Pico dropdown is open, its
/// summary's `::before` covers the page, so a click anywhere closes it.
async fn close_menu(c: &Client, summary: &str, inside: &str) {
    if find(c, inside).await.is_displayed().await.unwrap_or(false) {
        find(c, summary)
            .await
            .click()
            .await
            .unwrap_or_else(|e| panic!("click {summary}: {e}"));
    }
    let deadline = Instant::now() + PAGE_TIMEOUT;
    while find(c, inside).await.is_displayed().await.unwrap_or(true) {
        assert!(
            Instant::now() < deadline,
            "{inside} still visible {PAGE_TIMEOUT:?} after closing {summary}"
        );
        sleep(POLL).await;
    }
}

/// Opens the workspace switcher.
async fn open_switcher(c: &Client) {
    open_menu(c, "#switcher summary", "#switcher-create").await;
}

/// Closes the workspace switcher.
async fn close_switcher(c: &Client) {
    close_menu(c, "#switcher summary", "#switcher-create").await;
}

/// Opens the user menu.
async fn open_user_menu(c: &Client) {
    open_menu(c, "#user-menu", "#sign-out").await;
}

/// Closes the user menu.
async fn close_user_menu(c: &Client) {
    close_menu(c, "#user-menu", "#sign-out").await;
}

/// The switcher's entries: each a submit button in a form posting to
/// `/context`, with the workspace's name.
async fn switcher_entries(c: &Client) -> Vec<(String, Element)> {
    let buttons = c
        .find_all(Locator::Css("#switcher form[action='/context'] button"))
        .await
        .expect("look for the switcher's entries");
    let mut entries = Vec::new();
    for button in buttons {
        let name = button
            .find(Locator::Css(".switcher-name"))
            .await
            .expect("a switcher entry's .switcher-name")
            .text()
            .await
            .expect("a switcher entry's name");
        entries.push((name, button));
    }
    entries
}

/// The names the switcher lists, in order.
async fn switcher_names(c: &Client) -> Vec<String> {
    switcher_entries(c)
        .await
        .into_iter()
        .map(|(name, _)| name)
        .collect()
}

/// The workspace id of the switcher entry marked current.
async fn current_switcher_entry(c: &Client) -> String {
    value_of(
        c,
        "#switcher form:has(button[aria-current='true']) input[name='workspace_id']",
    )
    .await
}

/// Switches to the workspace called `name` with the switcher.
async fn switch_to(c: &Client, name: &str) {
    open_switcher(c).await;
    let entries = switcher_entries(c).await;
    let names: Vec<_> = entries.iter().map(|(n, _)| n.clone()).collect();
    let Some((_, entry)) = entries.into_iter().find(|(n, _)| n == name) else {
        panic!("the switcher has no {name:?}, only {names:?}");
    };
    click_element_and_wait_for_next_page(c, &entry, &format!("the switcher's {name:?}")).await;
}

/// Opens the switcher, then the user menu (one at a time, as Pico allows),
/// and asserts that every entry, button or link, can be read: its text
/// colour against what it is drawn on. Leaves both closed.
async fn assert_menus_readable(c: &Client) {
    open_switcher(c).await;
    let entries = switcher_entries(c).await;
    assert!(!entries.is_empty(), "the switcher has entries");
    for (name, button) in &entries {
        assert_readable(c, button, &format!("the switcher's {name:?} button")).await;
    }
    assert_links_readable(c, "#switcher ul a").await;
    close_switcher(c).await;

    open_user_menu(c).await;
    let sign_out = find(c, "#sign-out").await;
    assert_readable(c, &sign_out, "#sign-out").await;
    assert_links_readable(c, ".user-menu ul a").await;
    close_user_menu(c).await;
}

/// [`assert_readable`] for every link matching `css`.
async fn assert_links_readable(c: &Client, css: &str) {
    let links = c
        .find_all(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("look for {css}: {e}"));
    assert!(!links.is_empty(), "no {css}");
    for link in &links {
        let text = link.text().await.expect("a link's text");
        assert_readable(c, link, &format!("the link {text:?} ({css})")).await;
    }
}

/// Asserts that `element` (called `what`) is shown and that its computed
/// text `color` stands out from the first non-transparent `background-color`
/// from it up: for a menu entry, the dropdown list's.
async fn assert_readable(c: &Client, element: &Element, what: &str) {
    assert!(
        element.is_displayed().await.unwrap_or(false),
        "{what} is not visible"
    );
    let color = element
        .css_value("color")
        .await
        .unwrap_or_else(|e| panic!("the colour of {what}: {e}"));
    let (background, painted_by) = background_behind(c, element, what).await;
    let text = Rgba::parse(&color).over(Rgba::parse(&background));
    let ratio = text.contrast_with(Rgba::parse(&background));
    assert!(
        color != background && ratio >= MIN_CONTRAST,
        "{what} is hard to read: text {color} on {background} (the background of \
         {painted_by}), contrast {ratio:.2}:1 < {MIN_CONTRAST}:1"
    );
}

/// The first non-transparent computed `background-color` from `element` up
/// through its ancestors, and which element has it.
async fn background_behind(c: &Client, element: &Element, what: &str) -> (String, String) {
    const LAYERS: &str = "
        const layers = [];
        for (let el = arguments[0]; el; el = el.parentElement) {
            const name = el.tagName.toLowerCase()
                + (el.id ? '#' + el.id : '')
                + [...el.classList].map((c) => '.' + c).join('');
            layers.push([getComputedStyle(el).backgroundColor, name]);
        }
        return layers;";
    let element = serde_json::to_value(element).expect("an element as a script argument");
    let layers = c
        .execute(LAYERS, vec![element])
        .await
        .unwrap_or_else(|e| panic!("the backgrounds behind {what}: {e}"));
    let layers: Vec<(String, String)> =
        serde_json::from_value(layers).expect("[background, element] pairs");
    layers
        .iter()
        .find(|(background, _)| Rgba::parse(background).a > 0.0)
        .cloned()
        .unwrap_or_else(|| panic!("nothing behind {what} has a background: {layers:?}"))
}

/// A computed CSS colour: channels 0–255, alpha 0–1.
#[derive(Debug, Clone, Copy)]
struct Rgba {
    r: f64,
    g: f64,
    b: f64,
    a: f64,
}

impl Rgba {
    /// Parses a computed colour, `rgb(r, g, b)` or `rgba(r, g, b, a)`.
    fn parse(css: &str) -> Self {
        let channels = css
            .strip_prefix("rgba(")
            .or_else(|| css.strip_prefix("rgb("))
            .and_then(|rest| rest.strip_suffix(')'))
            .map(|list| {
                list.split(',')
                    .map(|n| n.trim().parse::<f64>())
                    .collect::<Result<Vec<_>, _>>()
            });
        match channels {
            Some(Ok(c)) if c.len() == 3 => Self {
                r: c[0],
                g: c[1],
                b: c[2],
                a: 1.0,
            },
            Some(Ok(c)) if c.len() == 4 => Self {
                r: c[0],
                g: c[1],
                b: c[2],
                a: c[3],
            },
            _ => panic!("not an rgb()/rgba() colour: {css:?}"),
        }
    }

    /// This colour drawn over the opaque `background`.
    fn over(self, background: Self) -> Self {
        let mix = |fg: f64, bg: f64| fg * self.a + bg * (1.0 - self.a);
        Self {
            r: mix(self.r, background.r),
            g: mix(self.g, background.g),
            b: mix(self.b, background.b),
            a: 1.0,
        }
    }

    /// WCAG relative luminance.
    fn luminance(self) -> f64 {
        let linear = |channel: f64| {
            let c = channel / 255.0;
            if c <= 0.04045 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * linear(self.r) + 0.7152 * linear(self.g) + 0.0722 * linear(self.b)
    }

    /// WCAG contrast ratio, 1 (none) to 21 (black on white).
    fn contrast_with(self, other: Self) -> f64 {
        let (a, b) = (self.luminance(), other.luminance());
        (a.max(b) + 0.05) / (a.min(b) + 0.05)
    }
}

/// The `chromedriver` to run, or `None` after a loud notice when this
/// machine has no browser and `TENANTRY_REQUIRE_BROWSER=1` is not set.
pub(crate) fn chromedriver_or_skip() -> Option<PathBuf> {
    let chromedriver = find_on_path("chromedriver");
    let missing = match &chromedriver {
        None => "`chromedriver` is not on PATH",
        Some(_) if !Path::new(CHROMIUM).is_file() => "/usr/bin/chromium is missing",
        Some(_) => return chromedriver,
    };
    if std::env::var("TENANTRY_REQUIRE_BROWSER").is_ok_and(|v| v == "1") {
        panic!(
            "TENANTRY_REQUIRE_BROWSER=1 but {missing}: install Debian's chromium and chromium-driver"
        );
    }
    // Straight to the process's stderr: `eprintln!` would be captured by the
    // test harness and only shown if the test failed.
    let _ = writeln!(
        std::io::stderr(),
        "\n!!!!!!!! SKIPPED browser test: {missing}; install chromium and \
         chromium-driver, or set TENANTRY_REQUIRE_BROWSER=1 to make this a failure !!!!!!!!\n"
    );
    None
}

/// The first executable file called `name` in a `PATH` directory.
fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| {
            candidate
                .metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// A WebDriver session in a headless Chromium of its own (fresh profile).
pub(crate) struct Browser {
    pub(crate) client: Client,
    driver: Driver,
}

/// What the browser pretends to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Device {
    /// A 1280×900 desktop window.
    Desktop,
    /// A 390×844 phone (Chrome's device metrics, mobile viewport).
    Phone,
}

impl Browser {
    /// Starts `chromedriver` on a free port and opens a desktop session.
    pub(crate) async fn start(chromedriver: &Path) -> Self {
        Self::start_as(chromedriver, Device::Desktop).await
    }

    /// Starts `chromedriver` on a free port and opens a session as `device`.
    pub(crate) async fn start_as(chromedriver: &Path, device: Device) -> Self {
        let dir = tempfile::tempdir().expect("temp dir for the browser");
        let log_path = dir.path().join("chromedriver.log");
        let log = File::create(&log_path).expect("create chromedriver.log");
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .and_then(|listener| listener.local_addr())
            .expect("pick a free port for chromedriver")
            .port();
        let child = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone the log file"))
            .stderr(log)
            // Its own process group, so `Driver::drop` can end chromedriver
            // and every browser process it started in one go.
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", chromedriver.display()));
        let mut driver = Driver {
            child,
            port,
            session_id: None,
            log_path,
            dir,
        };

        let profile = driver.dir.path().join("profile");
        let capabilities = serde_json::json!({
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--no-first-run",
                    "--disable-quic",
                    format!("--user-data-dir={}", profile.display()),
                ],
            }
        });
        let mut capabilities = capabilities;
        if device == Device::Phone {
            capabilities["goog:chromeOptions"]["mobileEmulation"] = serde_json::json!({
                "deviceMetrics": { "width": 390, "height": 844, "pixelRatio": 3.0, "mobile": true },
            });
        }
        let serde_json::Value::Object(capabilities) = capabilities else {
            unreachable!("a JSON object literal")
        };
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + START_TIMEOUT;
        let client = loop {
            match ClientBuilder::native()
                .capabilities(capabilities.clone())
                .connect(&url)
                .await
            {
                Ok(client) => break client,
                Err(NewSessionError::SessionNotCreated(e)) => {
                    panic!(
                        "chromedriver could not start Chromium: {e}\n{}",
                        driver.log()
                    )
                }
                Err(e) => {
                    // Not listening yet, most likely.
                    if let Ok(Some(status)) = driver.child.try_wait() {
                        panic!("chromedriver exited ({status}):\n{}", driver.log());
                    }
                    assert!(
                        Instant::now() < deadline,
                        "no WebDriver session within {START_TIMEOUT:?}: {e}\n{}",
                        driver.log()
                    );
                    sleep(Duration::from_millis(100)).await;
                }
            }
        };
        driver.session_id = client.session_id().await.expect("WebDriver session id");
        assert!(driver.session_id.is_some(), "a new session has an id");
        // A fixed desktop size, so screenshots and layout don't vary.
        if device == Device::Desktop {
            client
                .set_window_size(1280, 900)
                .await
                .expect("set the window size");
        }
        Self { client, driver }
    }

    /// Ends the session (the browser quits), then `Driver::drop` stops
    /// chromedriver.
    pub(crate) async fn close(self) {
        let Self { client, mut driver } = self;
        client.close().await.expect("end the WebDriver session");
        driver.session_id = None;
    }
}

/// The `chromedriver` process group, ended on drop even when the test fails
/// (killing chromedriver alone would leave its browser running).
struct Driver {
    child: Child,
    port: u16,
    /// Still open, so to be ended on drop.
    session_id: Option<String>,
    log_path: PathBuf,
    /// The browser profile and the log; removed after the processes are.
    dir: tempfile::TempDir,
}

impl Driver {
    /// What chromedriver logged, for failure messages.
    fn log(&self) -> String {
        let log = std::fs::read_to_string(&self.log_path).unwrap_or_default();
        format!("chromedriver log:\n{log}")
    }

    /// Ends the session with a plain blocking HTTP request: `drop` can't
    /// await fantoccini, whose connection task needs the test's runtime.
    fn end_session(&self, session_id: &str) {
        let address = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        let Ok(mut stream) = TcpStream::connect_timeout(&address, Duration::from_secs(2)) else {
            return;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
        let _ = stream.set_write_timeout(Some(Duration::from_secs(2)));
        let request = format!(
            "DELETE /session/{session_id} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n\
             Content-Length: 0\r\nConnection: close\r\n\r\n",
            self.port
        );
        if stream.write_all(request.as_bytes()).is_ok() {
            // chromedriver answers once the browser has quit.
            let _ = stream.read_to_end(&mut Vec::new());
        }
    }

    /// Sends `signal` to the whole process group; false when none is left.
    fn signal_group(&self, signal: &str) -> bool {
        Command::new("kill")
            .args([signal, "--", &format!("-{}", self.child.id())])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        if let Some(session_id) = self.session_id.take() {
            self.end_session(&session_id);
        }
        self.signal_group("-TERM");
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            // Reap chromedriver, or its zombie would keep the group "alive".
            let _ = self.child.try_wait();
            if !self.signal_group("-0") {
                break;
            }
            if Instant::now() >= deadline {
                self.signal_group("-KILL");
                let _ = self.child.wait();
                break;
            }
            std::thread::sleep(POLL);
        }
    }
}

/// Clicks `css` and waits until the browser has left the current page
/// (its `<html>` element went stale), so nothing is read from the old page.
pub(crate) async fn click_and_wait_for_next_page(c: &Client, css: &str) {
    let element = find(c, css).await;
    click_element_and_wait_for_next_page(c, &element, css).await;
}

/// Clicks `element` (called `what` in messages) and waits until the browser
/// has left the current page.
async fn click_element_and_wait_for_next_page(c: &Client, element: &Element, what: &str) {
    let old_page = find(c, "html").await;
    element
        .click()
        .await
        .unwrap_or_else(|e| panic!("click {what}: {e}"));
    let deadline = Instant::now() + PAGE_TIMEOUT;
    loop {
        match old_page.tag_name().await {
            Err(e) if e.is_stale_element_reference() => return,
            result => assert!(
                Instant::now() < deadline,
                "clicking {what} did not load a new page within {PAGE_TIMEOUT:?} \
                 (still {}: {result:?})",
                current_path(c).await
            ),
        }
        sleep(POLL).await;
    }
}

/// The element matching `css`, waiting for it to appear.
pub(crate) async fn find(c: &Client, css: &str) -> Element {
    let deadline = Instant::now() + PAGE_TIMEOUT;
    loop {
        match c.find(Locator::Css(css)).await {
            Ok(element) => return element,
            Err(e) => assert!(
                Instant::now() < deadline,
                "no {css} on {} within {PAGE_TIMEOUT:?}: {e}",
                current_path(c).await
            ),
        }
        sleep(POLL).await;
    }
}

/// The visible text of `css`.
async fn text_of(c: &Client, css: &str) -> String {
    find(c, css)
        .await
        .text()
        .await
        .unwrap_or_else(|e| panic!("text of {css}: {e}"))
}

/// Waits until `css` shows exactly `expected` (whitespace collapsed).
pub(crate) async fn expect_text(c: &Client, css: &str, expected: &str) {
    let deadline = Instant::now() + PAGE_TIMEOUT;
    loop {
        let shown = match c.find(Locator::Css(css)).await {
            Ok(element) => element.text().await.ok(),
            Err(_) => None,
        };
        let shown = shown.map(|text| text.split_whitespace().collect::<Vec<_>>().join(" "));
        if shown.as_deref() == Some(expected) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{css} on {} shows {shown:?}, expected {expected:?}",
            current_path(c).await
        );
        sleep(POLL).await;
    }
}

/// Waits until `css` is visible (so it can be clicked).
pub(crate) async fn wait_until_displayed(c: &Client, css: &str) {
    let deadline = Instant::now() + PAGE_TIMEOUT;
    while !find(c, css).await.is_displayed().await.unwrap_or(false) {
        assert!(
            Instant::now() < deadline,
            "{css} not visible within {PAGE_TIMEOUT:?}"
        );
        sleep(POLL).await;
    }
}

/// Asserts the current page has no `css` (the page is already loaded).
async fn assert_absent(c: &Client, css: &str) {
    let found = c
        .find_all(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("look for {css}: {e}"));
    assert!(
        found.is_empty(),
        "{css} is shown on {}",
        current_path(c).await
    );
}

/// Replaces what's typed in the input `css`.
pub(crate) async fn type_into(c: &Client, css: &str, text: &str) {
    let input = find(c, css).await;
    input
        .clear()
        .await
        .unwrap_or_else(|e| panic!("clear {css}: {e}"));
    input
        .send_keys(text)
        .await
        .unwrap_or_else(|e| panic!("type into {css}: {e}"));
}

/// The current value of the input `css`.
async fn value_of(c: &Client, css: &str) -> String {
    find(c, css)
        .await
        .prop("value")
        .await
        .unwrap_or_else(|e| panic!("value of {css}: {e}"))
        .unwrap_or_default()
}

/// Waits until the browser is at `expected` (path and query).
pub(crate) async fn expect_path(c: &Client, expected: &str) {
    let deadline = Instant::now() + PAGE_TIMEOUT;
    loop {
        let path = current_path(c).await;
        if path == expected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the browser is at {path}, expected {expected}"
        );
        sleep(POLL).await;
    }
}

/// The path and query the browser is at, for messages.
async fn current_path(c: &Client) -> String {
    match c.current_url().await {
        Ok(url) => match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_owned(),
        },
        Err(e) => format!("<unknown URL: {e}>"),
    }
}

/// Saves a screenshot as `<dir>/<page>-<backend>.png` when
/// `TENANTRY_BROWSER_SCREENSHOTS` names a directory.
async fn save_screenshot(c: &Client, backend: TestBackend, page: &str) {
    let Some(dir) = std::env::var_os("TENANTRY_BROWSER_SCREENSHOTS") else {
        return;
    };
    let png = c.screenshot().await.expect("take a screenshot");
    let backend = match backend {
        TestBackend::Sqlite => "sqlite",
        TestBackend::Postgres => "postgres",
    };
    let path = Path::new(&dir).join(format!("{page}-{backend}.png"));
    std::fs::write(&path, png).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

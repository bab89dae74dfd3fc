//! `/settings/members` as kept in memory: the first page of members is
//! read once and shown from memory (`web::cache::MemberPageCache`) while
//! `workspaces.members_version` stays where it was; triggers move it with
//! every change the table shows, whoever makes it, and a sign-in moves it
//! without a deadlock against member changes.

use reqwest::StatusCode;

use crate::on_both_backends;
use crate::support::{PASSWORD, Response, TestApp, hidden_fields};

on_both_backends!(
    member_page_follows_changes_made_elsewhere,
    sign_ins_and_member_changes_race_without_deadlock,
);

const VERSION: &str =
    "SELECT CAST(members_version AS TEXT) AS value FROM workspaces WHERE slug = 'acme'";

/// The text of `email`'s row of the members table, if it is listed.
fn row(page: &Response, email: &str) -> Option<String> {
    page.text_of(&format!(r#"#members-table tr[data-member="{email}"]"#))
}

/// Bob's membership of Acme, changed by a script or another instance (SQL
/// straight to the database, nothing through this process), shows on
/// Ann's next view of the first page; with nothing changed, the version
/// stays and the page kept in memory is what she sees.
async fn member_page_follows_changes_made_elsewhere(app: TestApp) {
    let app = app.with_acme().await;
    let ann = app.browser("ann@example.com");
    app.signed_up("Bob", "bob@example.com").await;
    let bob_in_acme = "user_id = (SELECT id FROM users WHERE email = 'bob@example.com') \
         AND workspace_id = (SELECT id FROM workspaces WHERE slug = 'acme')";

    let before = app.text_value(VERSION).await;
    assert_eq!(
        row(&ann.get("/settings/members").await, "bob@example.com"),
        None
    );
    assert_eq!(
        row(&ann.get("/settings/members").await, "bob@example.com"),
        None
    );
    assert_eq!(app.text_value(VERSION).await, before, "nothing changed");

    app.add_member("acme", "bob@example.com", "member").await;
    assert_ne!(app.text_value(VERSION).await, before, "a member joined");
    let text = row(&ann.get("/settings/members").await, "bob@example.com").expect("Bob listed");
    assert!(
        text.contains("Member") && text.contains("active") && text.contains("Deactivate"),
        "{text}"
    );

    app.execute(&format!(
        "UPDATE memberships SET role_id = (SELECT id FROM roles WHERE system_key = 'admin' \
         AND workspace_id = memberships.workspace_id) WHERE {bob_in_acme}"
    ))
    .await;
    let text = row(&ann.get("/settings/members").await, "bob@example.com").expect("Bob listed");
    assert!(text.contains("Admin"), "the new role: {text}");

    app.execute(&format!(
        "UPDATE memberships SET status = 'inactive' WHERE {bob_in_acme}"
    ))
    .await;
    let text = row(&ann.get("/settings/members").await, "bob@example.com").expect("Bob listed");
    assert!(
        text.contains("inactive") && text.contains("Reactivate") && !text.contains("Deactivate"),
        "deactivated: {text}"
    );

    app.execute("UPDATE users SET name = 'Robert' WHERE email = 'bob@example.com'")
        .await;
    let text = row(&ann.get("/settings/members").await, "bob@example.com").expect("Bob listed");
    assert!(text.contains("Robert"), "renamed: {text}");

    // A sign-in through the form, in another browser.
    app.execute("UPDATE users SET last_login_at = NULL WHERE email = 'bob@example.com'")
        .await;
    let text = row(&ann.get("/settings/members").await, "bob@example.com").expect("Bob listed");
    assert!(text.contains("never"), "{text}");
    app.execute(&format!(
        "UPDATE memberships SET status = 'active' WHERE {bob_in_acme}"
    ))
    .await;
    app.sign_in("bob@example.com").await;
    let text = row(&ann.get("/settings/members").await, "bob@example.com").expect("Bob listed");
    assert!(!text.contains("never"), "signed in just now: {text}");

    app.execute(&format!("DELETE FROM memberships WHERE {bob_in_acme}"))
        .await;
    assert_eq!(
        row(&ann.get("/settings/members").await, "bob@example.com"),
        None,
        "removed"
    );
}

/// A sign-in writes the user's last sign-in to each of their memberships,
/// which moves each of those workspaces' members version (a trigger
/// updating the workspace row), while a change to a member locks the
/// workspace row first and then the membership. The sign-in locks the
/// user's workspaces before their memberships too, so when the two race
/// neither waits for the other in a cycle (on PostgreSQL, a deadlock: one
/// of them would fail).
async fn sign_ins_and_member_changes_race_without_deadlock(app: TestApp) {
    let app = app.with_acme().await;
    app.signed_up("Bob", "bob@example.com").await;
    app.add_member("acme", "bob@example.com", "member").await;
    let ann = app.browser("ann@example.com");
    let membership = app
        .text_value(
            "SELECT m.id AS value FROM memberships m JOIN users u ON u.id = m.user_id \
             JOIN workspaces w ON w.id = m.workspace_id \
             WHERE u.email = 'bob@example.com' AND w.slug = 'acme'",
        )
        .await;
    let action = format!("/settings/members/{membership}/role");
    let form = hidden_fields(&ann.get("/settings/members").await.body, &action);
    let roles = [
        app.role_of("acme", "admin").await,
        app.role_of("acme", "member").await,
    ];
    for round in 0..6 {
        let bob = app.client();
        let sign_in_form = hidden_fields(&bob.get("/login").await.body, "/login");
        let credentials = [("email", "bob@example.com"), ("password", PASSWORD)];
        let role = [("role_id", roles[round % 2].as_str())];
        let (signed_in, changed) = futures::join!(
            bob.post_form("/login", &sign_in_form, &credentials),
            ann.post_form(&action, &form, &role),
        );
        assert_eq!(
            signed_in.status,
            StatusCode::SEE_OTHER,
            "{}",
            signed_in.body
        );
        assert_eq!(changed.status, StatusCode::SEE_OTHER, "{}", changed.body);
    }
    let text = row(&ann.get("/settings/members").await, "bob@example.com").expect("Bob listed");
    assert!(text.contains("Member") && !text.contains("never"), "{text}");
}

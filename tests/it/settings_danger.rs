//! `/settings/danger`: archive, restore (`/organizations/{id}/restore`),
//! delete forever, ownership transfer and leaving; archived organizations
//! expire after the retention period.

use reqwest::StatusCode;

use crate::on_both_backends;
use crate::support::{TestApp, hidden_fields};

on_both_backends!(
    archive_restore_and_delete,
    ownership_transfer_and_leaving,
    owner_can_hand_over_and_leave_in_one_step,
);

async fn archive_restore_and_delete(app: TestApp) {
    let app = app
        .with_acme()
        .await
        .with_member("acme", "Bob", "bob@example.com", "admin")
        .await;
    let (ann, bob) = (
        app.browser("ann@example.com"),
        app.browser("bob@example.com"),
    );
    let acme = app.workspace_id("acme").await;
    bob.switch_to(&acme).await;
    assert_eq!(
        bob.get("/").await.text_of("#workspace-title").as_deref(),
        Some("Acme Corp")
    );

    let res = ann
        .submit("/settings/danger", "/settings/archive", &[])
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert!(
        ann.get("/")
            .await
            .text_of("#flash")
            .unwrap_or_default()
            .starts_with("Acme Corp was archived.")
    );
    // Bob, mid-session, is back in his personal workspace on his next request.
    let bobs = bob.get("/").await;
    assert_eq!(
        bobs.text_of("#workspace-title").as_deref(),
        Some("Personal workspace")
    );
    assert!(
        !bobs
            .text_of("#switcher")
            .unwrap_or_default()
            .contains("Acme")
    );
    assert_eq!(
        bob.get("/organizations").await.text_of("#archived"),
        None,
        "only the owner sees it to restore"
    );
    let list = ann.get("/organizations").await;
    assert!(
        list.text_of("#archived")
            .unwrap_or_default()
            .contains("Acme Corp")
    );
    // Bob can't restore it; Ann can.
    let bob_token = hidden_fields(&bob.get("/organizations").await.body, "/context");
    let res = bob
        .post_form(&format!("/organizations/{acme}/restore"), &bob_token, &[])
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    let res = ann
        .submit(
            "/organizations",
            &format!("/organizations/{acme}/restore"),
            &[],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert!(
        bob.get("/")
            .await
            .text_of("#switcher")
            .unwrap_or_default()
            .contains("Acme Corp"),
        "back for Bob"
    );

    // Deleting needs the exact name.
    let res = ann
        .submit(
            "/settings/danger",
            "/settings/delete",
            &[("confirm_name", "acme corp")],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        res.text_of("#confirm_name-error").as_deref(),
        Some("Type the organization's name exactly to confirm.")
    );
    let res = ann
        .submit(
            "/settings/danger",
            "/settings/delete",
            &[("confirm_name", "Acme Corp")],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(
        app.count_with("workspaces WHERE id = ?", &[&acme],).await,
        0
    );
    assert_eq!(
        app.count_with("memberships WHERE workspace_id = ?", &[&acme],)
            .await,
        0
    );
    assert_eq!(
        app.count_with("roles WHERE workspace_id = ?", &[&acme],)
            .await,
        0
    );
    assert_eq!(
        app.count("audit_entries WHERE action = 'organization.delete'")
            .await,
        1,
        "kept in Ann's personal log"
    );
    assert_eq!(
        bob.get("/").await.text_of("#workspace-title").as_deref(),
        Some("Personal workspace")
    );
}

async fn ownership_transfer_and_leaving(app: TestApp) {
    let app = app
        .with_acme()
        .await
        .with_member("acme", "Bob", "bob@example.com", "member")
        .await
        .with_user("Carol", "carol@example.com")
        .await;
    let (ann, bob) = (
        app.browser("ann@example.com"),
        app.browser("bob@example.com"),
    );
    // The owner can't leave.
    let danger = ann.get("/settings/danger").await;
    assert!(
        danger.text_of("#leave").is_none(),
        "no leave button for the owner"
    );
    let form = hidden_fields(&danger.body, "/settings/transfer-ownership");
    let res = ann.post_form("/settings/leave", &form, &[]).await;
    assert_eq!(res.status, StatusCode::CONFLICT);
    assert!(
        res.text_of("#error-message")
            .unwrap_or_default()
            .starts_with("The owner can't leave.")
    );
    // Only a member can become owner.
    for (email, message) in [
        (
            "carol@example.com",
            "No active member of this organization has that email.",
        ),
        ("ann@example.com", "You already own this organization."),
        (
            "nobody",
            "Enter the email of a member of this organization.",
        ),
    ] {
        let res = ann
            .post_form(
                "/settings/transfer-ownership",
                &form,
                &[("new_owner_email", email)],
            )
            .await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{email}");
        assert_eq!(
            res.text_of("#new_owner_email-error").as_deref(),
            Some(message),
            "{email}"
        );
    }
    let res = ann
        .post_form(
            "/settings/transfer-ownership",
            &form,
            &[("new_owner_email", "bob@example.com")],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(
        ann.get("/settings/danger")
            .await
            .text_of("#flash")
            .as_deref(),
        Some("Bob now owns Acme Corp. You are an admin.")
    );
    assert_eq!(
        ann.get("/")
            .await
            .text_of("#switcher summary .switcher-role")
            .as_deref(),
        Some("Admin")
    );
    bob.switch_to(&app.workspace_id("acme").await).await;
    assert_eq!(
        bob.get("/")
            .await
            .text_of("#switcher summary .switcher-role")
            .as_deref(),
        Some("Owner")
    );
    app.assert_invariants();
    // Ann, now an admin, can leave.
    let res = ann.submit("/settings/danger", "/settings/leave", &[]).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let home = ann.get("/").await;
    assert_eq!(
        home.text_of("#flash").as_deref(),
        Some("You left Acme Corp.")
    );
    assert!(
        !home
            .text_of("#switcher")
            .unwrap_or_default()
            .contains("Acme")
    );
    assert_eq!(
        app.count(
            "memberships m JOIN users u ON u.id = m.user_id WHERE u.email = 'ann@example.com'"
        )
        .await,
        1
    );
    assert_eq!(
        app.count(
            "audit_entries WHERE action IN ('organization.ownership.transfer', 'membership.leave')"
        )
        .await,
        2
    );
}

async fn owner_can_hand_over_and_leave_in_one_step(app: TestApp) {
    let app = app
        .with_acme()
        .await
        .with_member("acme", "Bob", "bob@example.com", "admin")
        .await;
    let ann = app.browser("ann@example.com");
    let res = ann
        .submit(
            "/settings/danger",
            "/settings/transfer-ownership",
            &[("new_owner_email", "bob@example.com"), ("leave", "on")],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let home = ann.get("/").await;
    assert_eq!(
        home.text_of("#flash").as_deref(),
        Some("Bob now owns Acme Corp, and you have left it.")
    );
    assert_eq!(
        home.text_of("#workspace-title").as_deref(),
        Some("Personal workspace")
    );
    let owner = app
        .text_value(
            "SELECT u.email AS value FROM memberships m JOIN roles r ON r.id = m.role_id JOIN users u ON u.id = m.user_id \
             JOIN workspaces w ON w.id = m.workspace_id WHERE w.slug = 'acme' AND r.system_key = 'owner'",
        )
        .await;
    assert_eq!(owner, "bob@example.com");
    assert_eq!(
        app.count("memberships m JOIN workspaces w ON w.id = m.workspace_id WHERE w.slug = 'acme'")
            .await,
        1
    );
}

on_both_backends!(archived_organizations_expire_after_the_retention_period);

async fn archived_organizations_expire_after_the_retention_period(app: TestApp) {
    let ann = app.signed_up("Ann", "ann@example.com").await;
    app.create_org(&ann, "Old Co", "old-co").await;
    app.create_org(&ann, "Recent Co", "recent-co").await;
    let old = app.workspace_id("old-co").await;
    ann.switch_to(&old).await;
    ann.submit("/settings/danger", "/settings/archive", &[])
        .await;
    ann.switch_to(&app.workspace_id("recent-co").await).await;
    ann.submit("/settings/danger", "/settings/archive", &[])
        .await;
    app.execute(&format!(
        "UPDATE workspaces SET archived_at = '2000-01-01 00:00:00' WHERE id = '{old}'"
    ))
    .await;
    // Past retention: no longer offered, and restoring it is "not found".
    let list = ann.get("/organizations").await;
    let archived = list.text_of("#archived").unwrap_or_default();
    assert!(
        archived.contains("Recent Co") && !archived.contains("Old Co"),
        "{archived}"
    );
    let token = hidden_fields(&list.body, "/context");
    let res = ann
        .post_form(&format!("/organizations/{old}/restore"), &token, &[])
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    let retention = tenantry::services::maintenance::Retention {
        idle: chrono::Duration::minutes(30),
        lifetime: chrono::Duration::hours(12),
        throttle_window: chrono::Duration::minutes(15),
        archived_organizations: chrono::Duration::days(30),
        outbox_files: None,
    };
    let purged = tenantry::services::maintenance::run_once(&app.db, retention)
        .await
        .expect("clean-up");
    assert_eq!(purged.organizations, 1);
    assert_eq!(app.count_with("workspaces WHERE id = ?", &[&old],).await, 0);
    assert_eq!(
        app.count("workspaces WHERE slug = 'recent-co' AND status = 'archived'")
            .await,
        1
    );
}

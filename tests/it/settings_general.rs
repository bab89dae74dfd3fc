//! `/settings/general` (and `/settings/avatar`): an organization's name,
//! slug, description, billing details and avatar; read-only without
//! `org.update`.

use reqwest::StatusCode;

use crate::on_both_backends;
use crate::security::PNG_1X1;
use crate::support::{TestApp, hidden_fields};

on_both_backends!(
    general_settings_save_and_validate,
    members_without_org_update_see_settings_read_only,
    avatar_upload_is_sniffed_and_bounded,
);

async fn general_settings_save_and_validate(app: TestApp) {
    let app = app.with_acme().await;
    let ann = app.browser("ann@example.com");
    let page = ann.get("/settings/general").await;
    assert_eq!(page.attr_of("#name", "value").as_deref(), Some("Acme Corp"));
    assert!(
        page.text_of("#slug-warning")
            .unwrap_or_default()
            .contains("changes this organization's links")
    );
    let res = ann
        .submit(
            "/settings/general",
            "/settings/general",
            &[
                ("name", "Acme Industries"),
                ("slug", "Bad Slug"),
                ("description", "Makers of things"),
                ("billing_email", "not-an-email"),
                ("billing_address", "1 Main St"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text_of("#slug-error").is_some());
    assert_eq!(
        res.text_of("#billing_email-error").as_deref(),
        Some("Enter an email address like name@example.com.")
    );
    assert_eq!(
        res.attr_of("#name", "value").as_deref(),
        Some("Acme Industries"),
        "typed values kept"
    );
    assert_eq!(
        res.text_of("#description").as_deref(),
        Some("Makers of things")
    );
    assert_eq!(
        app.count("workspaces WHERE name = 'Acme Corp'").await,
        1,
        "nothing saved"
    );
    let res = ann
        .submit(
            "/settings/general",
            "/settings/general",
            &[
                ("name", "Acme Industries"),
                ("slug", "acme-industries"),
                ("description", "Makers of things"),
                ("billing_email", "Billing@Acme.test"),
                ("billing_address", "1 Main St\r\nSpringfield"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let page = ann.get("/settings/general").await;
    assert_eq!(
        page.text_of("#flash").as_deref(),
        Some("Organization settings were saved.")
    );
    assert_eq!(
        page.text_of("#switcher summary .switcher-label").as_deref(),
        Some("Acme Industries")
    );
    assert_eq!(
        app.count("workspaces WHERE slug = 'acme-industries' AND billing_email = 'billing@acme.test' AND description = 'Makers of things'").await,
        1
    );
    let details = app
        .text_value(
            "SELECT details AS value FROM audit_entries WHERE action = 'organization.update'",
        )
        .await;
    assert!(
        details.contains("name: Acme Corp → Acme Industries")
            && details.contains("slug: acme → acme-industries"),
        "{details}"
    );
}

async fn members_without_org_update_see_settings_read_only(app: TestApp) {
    let app = app
        .with_acme()
        .await
        .with_member("acme", "Bob", "bob@example.com", "member")
        .await;
    let bob = app.browser("bob@example.com");
    bob.switch_to(&app.workspace_id("acme").await).await;
    let page = bob.get("/settings/general").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text_of("#read-only").is_some());
    assert!(page.body.contains("<fieldset disabled"));
    assert!(page.text_of("#save-general").is_none());
    let form = hidden_fields(&page.body, "/settings/general");
    let res = bob
        .post_form(
            "/settings/general",
            &form,
            &[("name", "Bob's now"), ("slug", "bobs")],
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    for path in [
        "/settings/archive",
        "/settings/delete",
        "/settings/transfer-ownership",
        "/settings/avatar/remove",
    ] {
        let res = bob
            .post_form(
                path,
                &form,
                &[
                    ("confirm_name", "Acme Corp"),
                    ("new_owner_email", "bob@example.com"),
                ],
            )
            .await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{path}");
    }
    assert_eq!(
        bob.get("/audit").await.status,
        StatusCode::FORBIDDEN,
        "members don't read the audit log"
    );
    let danger = bob.get("/settings/danger").await;
    assert!(
        danger.text_of("#leave").is_some()
            && danger.text_of("#archive").is_none()
            && danger.text_of("#transfer").is_none()
    );
    assert_eq!(
        app.count("workspaces WHERE name = 'Acme Corp' AND status = 'active'")
            .await,
        1
    );
}

async fn avatar_upload_is_sniffed_and_bounded(app: TestApp) {
    let ann = app.signed_up("Ann", "ann@example.com").await;
    let bob = app.signed_up("Bob", "bob@example.com").await;
    app.create_org(&ann, "Acme Corp", "acme").await;
    let acme = app.workspace_id("acme").await;
    let form = hidden_fields(&ann.get("/settings/general").await.body, "/settings/avatar");
    let res = ann
        .post_multipart(
            "/settings/avatar",
            &form,
            ("avatar", b"<svg onload=alert(1)>".to_vec()),
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(
        ann.get("/settings/general")
            .await
            .text_of("#flash")
            .as_deref(),
        Some("Use a PNG, JPEG or WebP image.")
    );
    let mut big = PNG_1X1.to_vec();
    big.resize(1024 * 1024 + 1, 0);
    ann.post_multipart("/settings/avatar", &form, ("avatar", big))
        .await;
    assert_eq!(
        ann.get("/settings/general")
            .await
            .text_of("#flash")
            .as_deref(),
        Some("The image is larger than 1 MB.")
    );
    assert_eq!(app.count("workspace_avatars").await, 0);
    ann.post_multipart("/settings/avatar", &form, ("avatar", PNG_1X1.to_vec()))
        .await;
    let page = ann.get("/").await;
    let src = page
        .attr_of("#switcher summary img", "src")
        .expect("avatar in the switcher");
    assert_eq!(src, format!("/avatars/{acme}?v=1"));
    let image = ann.get(&src).await;
    assert_eq!(image.status, StatusCode::OK);
    assert_eq!(
        image
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("image/png")
    );
    assert_eq!(
        bob.get(&src).await.status,
        StatusCode::NOT_FOUND,
        "not a member: not found"
    );
    assert_eq!(
        app.count("audit_entries WHERE action = 'organization.avatar.update'")
            .await,
        1
    );
}

on_both_backends!(avatars_of_a_few_megabytes_get_the_size_message);

async fn avatars_of_a_few_megabytes_get_the_size_message(app: TestApp) {
    let app = app.with_acme().await;
    let ann = app.browser("ann@example.com");
    let form = hidden_fields(&ann.get("/settings/general").await.body, "/settings/avatar");
    // 1.5 MB was always refused with the message; 3 and 4.9 MB got a bare 400.
    for megabytes in [1.5, 3.0, 4.9] {
        let mut big = PNG_1X1.to_vec();
        big.resize((megabytes * 1024.0 * 1024.0) as usize, 0);
        let res = ann
            .post_multipart("/settings/avatar", &form, ("avatar", big))
            .await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "{megabytes} MB");
        assert_eq!(res.location(), "/settings/general", "{megabytes} MB");
        let page = ann.get("/settings/general").await;
        assert_eq!(
            page.text_of("#flash").as_deref(),
            Some("The image is larger than 1 MB."),
            "{megabytes} MB"
        );
        assert!(
            page.attr_of("#name", "value").is_some(),
            "the General form is shown"
        );
    }
    assert_eq!(app.count("workspace_avatars").await, 0);
}

//! Email verification and email change: a link mailed at sign-up (none for
//! sign-ups from an invitation link), a banner until it is followed, a
//! rate-limited resend, invitations accepted through their own link proving
//! the address, and an email change that needs the current password and
//! applies only when the link sent to the new address is followed.

use reqwest::StatusCode;

use crate::on_both_backends;
use crate::support::{PASSWORD, TestApp};

on_both_backends!(
    sign_up_mails_a_link_and_the_banner_stays_until_it_is_followed,
    resending_the_link_is_rate_limited,
    accepting_an_invitation_through_its_link_verifies_the_address,
    changing_the_email_needs_the_password_and_the_new_inbox,
);

async fn sign_up_mails_a_link_and_the_banner_stays_until_it_is_followed(app: TestApp) {
    let ann = app.signed_up("Ann", "ann@example.com").await;
    let home = ann.get("/").await;
    assert!(
        home.text_of("#verify-banner")
            .unwrap_or_default()
            .contains("ann@example.com"),
        "{}",
        home.body
    );
    let email = app
        .email_titled("ann@example.com", "Confirm your email address for Tenantry")
        .await;
    assert!(email.contains("Subject: Confirm your email address for Tenantry"));
    let link = app
        .link_in_latest_email("ann@example.com", "/email/verify/")
        .await;
    assert!(
        email.contains(&format!("{}{link}", app.base)),
        "built from the base URL"
    );
    // Opening the link shows a button; it changes nothing by itself.
    let page = ann.get(&link).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(ann.get("/").await.text_of("#verify-banner").is_some());
    // Following it works from any browser (the token identifies the account).
    let res = app.client().submit(&link, &link, &[]).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert!(ann.get("/").await.text_of("#verify-banner").is_none());
    assert_eq!(
        app.count("users WHERE email_verified_at IS NOT NULL").await,
        1
    );
    assert_eq!(app.client().get(&link).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        app.count("audit_entries WHERE action = 'account.email.verify'")
            .await,
        1
    );
    // A verification token can't reset a password.
    let token = link.trim_start_matches("/email/verify/");
    assert_eq!(
        app.client()
            .get(&format!("/password/reset/{token}"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

async fn resending_the_link_is_rate_limited(app: TestApp) {
    let ann = app.signed_up("Ann", "ann@example.com").await;
    let res = ann
        .submit("/account", "/account/verification-email", &[])
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let flash = ann
        .get("/account")
        .await
        .text_of("#flash")
        .unwrap_or_default();
    assert!(flash.contains("Wait a minute"), "{flash}");
    app.wait_for_mail_delivery().await;
    assert_eq!(app.emails_to("ann@example.com").await.len(), 1);
    app.execute("UPDATE account_tokens SET created_at = '2000-01-01 00:00:00'")
        .await;
    ann.submit("/account", "/account/verification-email", &[])
        .await;
    let flash = ann
        .get("/account")
        .await
        .text_of("#flash")
        .unwrap_or_default();
    assert!(flash.contains("We sent a new confirmation link"), "{flash}");
    assert_eq!(app.emails_to("ann@example.com").await.len(), 2);
    // Both links work until used.
    let link = app
        .link_in_latest_email("ann@example.com", "/email/verify/")
        .await;
    assert_eq!(
        app.client().submit(&link, &link, &[]).await.status,
        StatusCode::OK
    );
}

async fn accepting_an_invitation_through_its_link_verifies_the_address(app: TestApp) {
    let app = app.with_acme().await;
    let ann = app.browser("ann@example.com");
    let bob = app.signed_up("Bob", "bob@example.com").await;
    let role = app.role_of("acme", "member").await;
    ann.submit(
        "/settings/members",
        "/settings/members/invite",
        &[
            ("name", "Bob"),
            ("email", "bob@example.com"),
            ("role_id", &role),
        ],
    )
    .await;
    assert_eq!(
        app.count("users WHERE email = 'bob@example.com' AND email_verified_at IS NULL")
            .await,
        1
    );
    let link = app.invitation_link("bob@example.com").await;
    let res = bob.submit(&link, &format!("{link}/accept"), &[]).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert_eq!(
        app.count("users WHERE email = 'bob@example.com' AND email_verified_at IS NOT NULL")
            .await,
        1,
        "the invitation's own link proved the inbox"
    );
    assert!(bob.get("/").await.text_of("#verify-banner").is_none());
    // Signing up from an invitation link sends no verification email.
    ann.submit(
        "/settings/members",
        "/settings/members/invite",
        &[
            ("name", "Cy"),
            ("email", "cy@example.com"),
            ("role_id", &role),
        ],
    )
    .await;
    let link = app.invitation_link("cy@example.com").await;
    let token = link.trim_start_matches("/invitations/");
    let cy = app.client();
    let res = cy
        .submit(
            &format!("/signup?invitation={token}"),
            "/signup",
            &[("name", "Cy"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    app.wait_for_mail_delivery().await;
    assert_eq!(
        app.emails_to("cy@example.com").await.len(),
        1,
        "only the invitation"
    );
    assert!(cy.get("/").await.text_of("#verify-banner").is_none());
}

async fn changing_the_email_needs_the_password_and_the_new_inbox(app: TestApp) {
    let ann = app.signed_up("Ann", "ann@example.com").await;
    app.signed_up("Taken", "taken@example.com").await;
    let change = |email: &'static str, password: &'static str| {
        let ann = &ann;
        async move {
            ann.submit(
                "/account",
                "/account/email",
                &[("new_email", email), ("email_current_password", password)],
            )
            .await
        }
    };
    let res = change("ann.new@example.com", "not my password").await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        res.text_of("#email_current_password-error")
            .unwrap_or_default()
            .contains("not your current password")
    );
    assert_eq!(
        res.attr_of("#new_email", "value").as_deref(),
        Some("ann.new@example.com")
    );
    let res = change("taken@example.com", PASSWORD).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text_of("#new_email-error").is_some());
    assert_eq!(
        app.count("outbox_emails WHERE to_address = 'ann.new@example.com'")
            .await,
        0
    );
    let res = change("ann.new@example.com", PASSWORD).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let notice = app
        .email_titled(
            "ann@example.com",
            "Your Tenantry email address is about to change",
        )
        .await;
    assert!(notice.contains("about to change"), "{notice}");
    let link = app
        .link_in_latest_email("ann.new@example.com", "/email/change/")
        .await;
    assert_eq!(
        app.count("users WHERE email = 'ann@example.com'").await,
        1,
        "nothing changes until the link is followed"
    );
    let res = ann.submit(&link, &link, &[]).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(
        app.count("users WHERE email = 'ann.new@example.com' AND email_verified_at IS NOT NULL")
            .await,
        1
    );
    assert_eq!(ann.get(&link).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        app.count(
            "audit_entries WHERE action IN ('account.email.change_request', 'account.email.change')"
        )
        .await,
        2
    );
    let browser = app.client();
    let res = browser
        .submit(
            "/login",
            "/login",
            &[("email", "ann.new@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
}

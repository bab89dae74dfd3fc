//! `/invitations/{token}`: the invite → email → link → sign up → accept
//! journey, existing users accepting (with the invited email only), invalid
//! links that all look the same, and concurrent accepts.

use reqwest::StatusCode;

use crate::on_both_backends;
use crate::settings_members::invite;
use crate::support::{PASSWORD, TestApp, hidden_fields};

on_both_backends!(
    invite_sign_up_and_accept,
    existing_user_accepts_and_email_must_match,
    invalid_links_all_look_the_same,
    concurrent_accepts_make_one_membership,
);

async fn invite_sign_up_and_accept(app: TestApp) {
    let app = app.with_acme().await;
    let ann = app.browser("ann@example.com");
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
        .text_of(r#"tr[data-member="ann@example.com"]"#)
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
    let app = app.with_acme().await;
    let ann = app.browser("ann@example.com");
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
    let app = app.with_acme().await;
    let ann = app.browser("ann@example.com");
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
            r#"tr[data-invitation="revoked@example.com"] form[action$="/revoke"]"#,
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

async fn concurrent_accepts_make_one_membership(app: TestApp) {
    let app = app
        .with_acme()
        .await
        .with_user("Bob", "bob@example.com")
        .await
        .with_invitation("acme", "Bob", "bob@example.com", "member")
        .await;
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

//! Password reset by email: the same answer for known and unknown
//! addresses, single-use links that expire after an hour and serve no other
//! purpose, every session signed out, rate limits per address and per IP,
//! and no live link left in the database once the email is sent.

use std::time::{Duration, SystemTime};

use reqwest::StatusCode;

use crate::support::{Client, PASSWORD, TestApp};
use crate::{on_both_backends, on_both_backends_with};

on_both_backends!(
    forgot_answers_the_same_for_known_and_unknown_emails,
    reset_link_is_single_use_signs_out_every_session_and_signs_in,
    reset_link_expires_and_serves_no_other_purpose,
    sent_emails_keep_no_link_and_old_outbox_files_are_deleted,
);

on_both_backends_with!(small_reset_limits; reset_requests_are_limited_per_email_and_per_ip);

const NEW_PASSWORD: &str = "a brand new passphrase 7";

fn small_reset_limits(settings: &mut tenantry::config::Settings) {
    settings.password_reset_max_per_email = 3;
    settings.password_reset_max_per_ip = 5;
}

async fn ask_for_reset(app: &TestApp, browser: &Client, email: &str) -> crate::support::Response {
    let _ = app;
    browser
        .submit("/password/forgot", "/password/forgot", &[("email", email)])
        .await
}

async fn sign_in(app: &TestApp, email: &str, password: &str) -> (Client, StatusCode) {
    let browser = app.client();
    let res = browser
        .submit(
            "/login",
            "/login",
            &[("email", email), ("password", password)],
        )
        .await;
    (browser, res.status)
}

async fn forgot_answers_the_same_for_known_and_unknown_emails(app: TestApp) {
    app.signed_up("Ann", "ann@example.com").await;
    let login = app.client().get("/login").await;
    assert_eq!(
        login.attr_of("#forgot-link", "href").as_deref(),
        Some("/password/forgot"),
        "the sign-in page links to the reset page"
    );
    let visitor = app.client();
    let known = ask_for_reset(&app, &visitor, "ann@example.com").await;
    let unknown = ask_for_reset(&app, &visitor, "nobody@example.com").await;
    assert_eq!(known.status, StatusCode::SEE_OTHER);
    assert_eq!(
        (known.status, known.location()),
        (unknown.status, unknown.location())
    );
    let page = visitor.get(known.location()).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.text_of("#notice")
            .unwrap_or_default()
            .contains("If an account uses that address"),
        "{}",
        page.body
    );
    // Each address got one email with the same subject; only the account's
    // carries a reset link.
    let to_ann = app
        .email_titled("ann@example.com", "Reset your Tenantry password")
        .await;
    let to_nobody = app
        .email_titled("nobody@example.com", "Reset your Tenantry password")
        .await;
    assert!(to_ann.contains("Subject: Reset your Tenantry password"));
    assert!(to_nobody.contains("Subject: Reset your Tenantry password"));
    assert!(to_ann.contains("/password/reset/"));
    assert!(!to_nobody.contains("/password/reset/"), "{to_nobody}");
    // Bad input: the form again, with what was typed and a message.
    let res = ask_for_reset(&app, &visitor, "not an email").await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text_of("#email-error").is_some(), "{}", res.body);
    assert_eq!(
        res.attr_of("#email", "value").as_deref(),
        Some("not an email")
    );
}

async fn reset_link_is_single_use_signs_out_every_session_and_signs_in(app: TestApp) {
    // Someone registered Ann's address first and is still signed in.
    let squatter = app.signed_up("Ann", "ann@example.com").await;
    assert_eq!(squatter.get("/").await.status, StatusCode::OK);
    let ann = app.client();
    ask_for_reset(&app, &ann, "ann@example.com").await;
    let link = app
        .link_in_latest_email("ann@example.com", "/password/reset/")
        .await;
    let token = link.trim_start_matches("/password/reset/").to_owned();
    assert_eq!(
        app.count_with("account_tokens WHERE token_hash = ?", &[&token],)
            .await,
        0,
        "only the hash is stored"
    );
    let form = ann.get(&link).await;
    assert_eq!(form.status, StatusCode::OK);
    // Too weak: refused like at sign-up, nothing changes, the link still works.
    let res = ann.submit(&link, &link, &[("password", "password")]).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text_of("#password-error").is_some(), "{}", res.body);
    let res = ann
        .submit(&link, &link, &[("password", NEW_PASSWORD)])
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert_eq!(res.location(), "/");
    let home = ann.get("/").await;
    assert_eq!(home.status, StatusCode::OK, "signed in");
    assert!(
        home.text_of("#flash")
            .unwrap_or_default()
            .contains("password was changed")
    );
    assert!(
        home.text_of("#verify-banner").is_none(),
        "the link proved the address"
    );
    // The other session is gone.
    let old = squatter.get("/").await;
    assert_eq!(old.status, StatusCode::SEE_OTHER);
    assert!(old.location().starts_with("/login"), "{}", old.location());
    // Single use.
    let again = app.client().get(&link).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    assert!(again.text_of("#link-invalid").is_some());
    // The new password works, the old one doesn't.
    assert_eq!(
        sign_in(&app, "ann@example.com", PASSWORD).await.1,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        sign_in(&app, "ann@example.com", NEW_PASSWORD).await.1,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        app.count("audit_entries WHERE action = 'account.password.reset'")
            .await,
        1
    );
}

async fn reset_link_expires_and_serves_no_other_purpose(app: TestApp) {
    app.signed_up("Ann", "ann@example.com").await;
    let visitor = app.client();
    ask_for_reset(&app, &visitor, "ann@example.com").await;
    let link = app
        .link_in_latest_email("ann@example.com", "/password/reset/")
        .await;
    let token = link.trim_start_matches("/password/reset/");
    // A reset token can't verify the address or change it.
    for other in [
        format!("/email/verify/{token}"),
        format!("/email/change/{token}"),
    ] {
        assert_eq!(visitor.get(&other).await.status, StatusCode::NOT_FOUND);
    }
    let unknown = visitor
        .get(&format!("/password/reset/{}", "ab".repeat(32)))
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    // Open the form, then let the hour pass.
    let form = visitor.get(&link).await;
    assert_eq!(form.status, StatusCode::OK);
    app.execute("UPDATE account_tokens SET expires_at = '2000-01-01 00:00:00' WHERE purpose = 'password_reset'")
        .await;
    let expired = visitor.get(&link).await;
    assert_eq!(expired.status, StatusCode::NOT_FOUND);
    assert_eq!(
        expired.text_of("#link-invalid"),
        unknown.text_of("#link-invalid"),
        "one and the same message"
    );
    let hidden = crate::support::hidden_fields(&form.body, &link);
    let res = visitor
        .post_form(&link, &hidden, &[("password", NEW_PASSWORD)])
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert_eq!(
        sign_in(&app, "ann@example.com", PASSWORD).await.1,
        StatusCode::SEE_OTHER,
        "the password did not change"
    );
}

async fn reset_requests_are_limited_per_email_and_per_ip(app: TestApp) {
    app.signed_up("Ann", "ann@example.com").await;
    let visitor = app.client();
    for _ in 0..3 {
        assert_eq!(
            ask_for_reset(&app, &visitor, "ann@example.com")
                .await
                .status,
            StatusCode::SEE_OTHER
        );
    }
    let res = ask_for_reset(&app, &visitor, "ann@example.com").await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        res.text_of("#forgot-error")
            .unwrap_or_default()
            .contains("Too many")
    );
    app.wait_for_mail_delivery().await;
    assert_eq!(
        app.count("outbox_emails WHERE to_address = 'ann@example.com' AND subject = 'Reset your Tenantry password'")
            .await,
        3
    );
    // The same client IP asking for other addresses: 5 in all, then refused.
    for n in 0..2 {
        let email = format!("other{n}@example.com");
        assert_eq!(
            ask_for_reset(&app, &visitor, &email).await.status,
            StatusCode::SEE_OTHER
        );
    }
    assert_eq!(
        ask_for_reset(&app, &visitor, "other9@example.com")
            .await
            .status,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        app.count("outbox_emails WHERE to_address = 'other9@example.com'")
            .await,
        0
    );
}

async fn sent_emails_keep_no_link_and_old_outbox_files_are_deleted(app: TestApp) {
    app.signed_up("Ann", "ann@example.com").await;
    ask_for_reset(&app, &app.client(), "ann@example.com").await;
    let link = app
        .link_in_latest_email("ann@example.com", "/password/reset/")
        .await;
    let token = link.trim_start_matches("/password/reset/");
    assert!(app.count("outbox_emails").await >= 2);
    assert_eq!(
        app.count(&format!(
            "outbox_emails WHERE text_body LIKE '%{token}%' OR html_body LIKE '%{token}%'"
        ))
        .await,
        0,
        "the link is gone from the database"
    );
    assert_eq!(
        app.count(
            "outbox_emails WHERE sent_at IS NOT NULL AND (text_body <> '' OR html_body <> '')"
        )
        .await,
        0,
        "sent bodies are blank"
    );
    assert_eq!(
        app.count("outbox_emails WHERE sent_at IS NOT NULL AND to_address = 'ann@example.com' AND subject = 'Reset your Tenantry password'")
            .await,
        1,
        "recipient, subject and status stay"
    );
    // One file is older than the invitation lifetime; it goes, the others stay.
    let mut files: Vec<_> = std::fs::read_dir(app.outbox_dir())
        .expect("outbox")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect();
    files.sort();
    assert!(files.len() >= 2);
    let old = &files[0];
    std::fs::File::options()
        .write(true)
        .open(old)
        .expect("open")
        .set_modified(SystemTime::now() - Duration::from_secs(8 * 24 * 3600))
        .expect("age the file");
    let retention = tenantry::services::maintenance::Retention {
        idle: chrono::Duration::minutes(30),
        lifetime: chrono::Duration::hours(12),
        throttle_window: chrono::Duration::minutes(15),
        archived_organizations: chrono::Duration::days(30),
        outbox_files: Some((app.outbox_dir(), chrono::Duration::days(7))),
    };
    let purged = tenantry::services::maintenance::run_once(&app.db, retention)
        .await
        .expect("clean-up");
    assert_eq!(purged.outbox_files, 1);
    assert!(!old.exists());
    assert!(files[1..].iter().all(|f| f.exists()));
}

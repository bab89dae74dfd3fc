//! Sign-up, sign-in, sign-out and the account page, as a user sees them.

use reqwest::StatusCode;

use crate::on_both_backends;
use crate::support::{PASSWORD, TestApp};

on_both_backends!(
    sign_up_lands_on_the_personal_dashboard,
    sign_up_validation_keeps_what_was_typed,
    sign_up_refuses_a_taken_email_in_any_case,
    sign_in_and_sign_out,
    wrong_password_and_unknown_email_look_the_same,
    sign_in_validation_messages,
    sign_in_is_throttled_per_account,
    rename_on_the_account_page,
    change_password_needs_the_current_one,
);

async fn sign_up_lands_on_the_personal_dashboard(app: TestApp) {
    let browser = app.client();
    let res = browser
        .submit(
            "/signup",
            "/signup",
            &[
                ("name", "Ann Example"),
                ("email", "Ann@Example.com"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(res.location(), "/");
    let dashboard = browser.get("/").await;
    assert_eq!(dashboard.status, StatusCode::OK);
    assert_eq!(
        dashboard.text_of("#workspace-title").as_deref(),
        Some("Personal workspace")
    );
    assert!(
        dashboard.body.contains("ann@example.com"),
        "email normalised and shown"
    );
    assert_eq!(
        dashboard
            .text_of("#switcher summary .switcher-label")
            .as_deref(),
        Some("Personal")
    );
    assert_eq!(
        dashboard.text_of("#user-menu").as_deref(),
        Some("Ann Example")
    );
    assert_eq!(
        dashboard.text_of("#flash").as_deref(),
        Some("Welcome to Tenantry! This is your personal workspace.")
    );
    // The flash is shown once.
    assert_eq!(browser.get("/").await.text_of("#flash"), None);
    assert_eq!(app.count("users WHERE email = 'ann@example.com'").await, 1);
    assert_eq!(app.count("workspaces WHERE kind = 'personal'").await, 1);
    assert_eq!(app.count("memberships").await, 1);
    let hash_is_argon2id = app
        .count("users WHERE password_hash LIKE '$argon2id$%'")
        .await;
    assert_eq!(hash_is_argon2id, 1);
}

async fn sign_up_validation_keeps_what_was_typed(app: TestApp) {
    let browser = app.client();
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);
    let cases: &[Case] = &[
        (
            &[
                ("name", ""),
                ("email", "ann@example.com"),
                ("password", PASSWORD),
            ],
            "#name-error",
            "Enter a name.",
        ),
        (
            &[("name", "Ann"), ("email", ""), ("password", PASSWORD)],
            "#email-error",
            "Enter your email address.",
        ),
        (
            &[
                ("name", "Ann"),
                ("email", "ann.example.com"),
                ("password", PASSWORD),
            ],
            "#email-error",
            "Enter an email address like name@example.com.",
        ),
        (
            &[
                ("name", "Ann"),
                ("email", "ann@example.com"),
                ("password", "short"),
            ],
            "#password-error",
            "Use at least 8 characters.",
        ),
        (
            &[
                ("name", "Ann"),
                ("email", "ann@example.com"),
                ("password", "password1"),
            ],
            "#password-error",
            "This password is too common; choose one that is harder to guess.",
        ),
    ];
    for (fields, selector, message) in cases {
        let res = browser.submit("/signup", "/signup", fields).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{fields:?}");
        assert_eq!(
            res.text_of(selector).as_deref(),
            Some(*message),
            "{fields:?}"
        );
        for (name, value) in fields.iter().filter(|(n, _)| *n != "password") {
            assert_eq!(
                res.attr_of(&format!("#{name}"), "value").as_deref(),
                Some(*value),
                "{name} kept"
            );
        }
        assert!(!res.body.contains(PASSWORD), "the password is never echoed");
        assert_eq!(
            res.attr_of("#password", "value"),
            None,
            "password field left empty"
        );
    }
    // A megabyte-long password is refused before hashing, with the same care.
    let huge = "x".repeat(1024 * 1024);
    let res = browser
        .submit(
            "/signup",
            "/signup",
            &[
                ("name", "Ann"),
                ("email", "ann@example.com"),
                ("password", &huge),
            ],
        )
        .await;
    assert!(
        res.status == StatusCode::UNPROCESSABLE_ENTITY || res.status == StatusCode::BAD_REQUEST,
        "status {}",
        res.status
    );
    assert!(!res.body.contains(&huge[..2048]));
    let long_but_fine = "correct horse battery staple ".repeat(36);
    let res = browser
        .submit(
            "/signup",
            "/signup",
            &[
                ("name", "Ann"),
                ("email", "ann@example.com"),
                ("password", &long_but_fine[..1024]),
            ],
        )
        .await;
    assert_eq!(
        res.status,
        StatusCode::SEE_OTHER,
        "1024 characters is allowed: {}",
        res.body
    );
    assert_eq!(
        app.count("users").await,
        1,
        "only the valid sign-up created an account"
    );
}

async fn sign_up_refuses_a_taken_email_in_any_case(app: TestApp) {
    app.signed_up("Ann", "ann@example.com").await;
    let res = app
        .client()
        .submit(
            "/signup",
            "/signup",
            &[
                ("name", "Impostor"),
                ("email", " ANN@example.COM "),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        res.text_of("#email-error").as_deref(),
        Some("An account with this email already exists. Sign in instead?")
    );
    assert_eq!(res.attr_of("#name", "value").as_deref(), Some("Impostor"));
    assert_eq!(app.count("users").await, 1);
}

async fn sign_in_and_sign_out(app: TestApp) {
    app.signed_up("Ann", "ann@example.com").await;
    let browser = app.client();
    assert_eq!(browser.get("/").await.location(), "/login");
    assert_eq!(
        browser.get("/account").await.location(),
        "/login?next=%2Faccount"
    );
    let res = browser
        .submit(
            "/login?next=%2Faccount",
            "/login",
            &[("email", "ann@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(res.location(), "/account", "back where the user was going");
    let account = browser.get("/account").await;
    assert_eq!(account.status, StatusCode::OK);
    assert_eq!(account.attr_of("#name", "value").as_deref(), Some("Ann"));
    assert_eq!(app.count("users WHERE last_login_at IS NOT NULL").await, 1);

    let res = browser.submit("/", "/logout", &[]).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(res.location(), "/login?signed_out=1");
    let login = browser.get("/login?signed_out=1").await;
    assert_eq!(
        login.text_of("#notice").as_deref(),
        Some("You have been signed out.")
    );
    assert_eq!(browser.get("/").await.location(), "/login");
}

async fn wrong_password_and_unknown_email_look_the_same(app: TestApp) {
    app.signed_up("Ann", "ann@example.com").await;
    let browser = app.client();
    let wrong = browser
        .submit(
            "/login",
            "/login",
            &[
                ("email", "ann@example.com"),
                ("password", "not the password"),
            ],
        )
        .await;
    let unknown = browser
        .submit(
            "/login",
            "/login",
            &[
                ("email", "nobody@example.com"),
                ("password", "not the password"),
            ],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(unknown.status, wrong.status);
    assert_eq!(
        wrong.text_of("#login-error").as_deref(),
        Some("Wrong email or password.")
    );
    assert_eq!(
        unknown.text_of("#login-error"),
        wrong.text_of("#login-error")
    );
    assert_eq!(
        wrong.attr_of("#email", "value").as_deref(),
        Some("ann@example.com"),
        "email kept"
    );
    assert_eq!(
        wrong.attr_of("#password", "value"),
        None,
        "password never echoed"
    );
    assert_eq!(
        browser.get("/").await.status,
        StatusCode::SEE_OTHER,
        "still signed out"
    );
}

async fn sign_in_validation_messages(app: TestApp) {
    let browser = app.client();
    let res = browser
        .submit("/login", "/login", &[("email", ""), ("password", "")])
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        res.text_of("#email-error").as_deref(),
        Some("Enter your email address.")
    );
    assert_eq!(
        res.text_of("#password-error").as_deref(),
        Some("Enter your password.")
    );
    let res = browser
        .submit(
            "/login",
            "/login",
            &[("email", "ann-at-example"), ("password", "x")],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        res.attr_of("#email", "value").as_deref(),
        Some("ann-at-example")
    );
}

async fn sign_in_is_throttled_per_account(app: TestApp) {
    app.signed_up("Ann", "ann@example.com").await;
    let attacker = app.client();
    for _ in 0..10 {
        let res = attacker
            .submit(
                "/login",
                "/login",
                &[("email", "ann@example.com"), ("password", "guess guess")],
            )
            .await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    }
    // Now even the right password is refused, from any browser, until the window passes.
    let owner = app.client();
    let res = owner
        .submit(
            "/login",
            "/login",
            &[("email", "ann@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        res.text_of("#login-error")
            .unwrap_or_default()
            .starts_with("Too many failed sign-ins.")
    );
    assert_eq!(
        owner.get("/").await.status,
        StatusCode::SEE_OTHER,
        "not signed in"
    );
    // When the failures age out of the window, sign-in works again.
    app.execute("UPDATE throttle_events SET attempted_at = '2000-01-01 00:00:00'")
        .await;
    let res = owner
        .submit(
            "/login",
            "/login",
            &[("email", "ann@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(
        app.count("throttle_events WHERE throttle_key = 'account:ann@example.com'")
            .await,
        0,
        "cleared on success"
    );
}

async fn rename_on_the_account_page(app: TestApp) {
    let browser = app.signed_up("Ann", "ann@example.com").await;
    let res = browser
        .submit("/account", "/account/profile", &[("name", "   ")])
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(res.text_of("#name-error").as_deref(), Some("Enter a name."));
    let res = browser
        .submit("/account", "/account/profile", &[("name", "Ann Bright")])
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let account = browser.get("/account").await;
    assert_eq!(
        account.text_of("#flash").as_deref(),
        Some("Your profile was saved.")
    );
    assert_eq!(account.text_of("#user-menu").as_deref(), Some("Ann Bright"));
    assert_eq!(app.count("users WHERE name = 'Ann Bright'").await, 1);
}

async fn change_password_needs_the_current_one(app: TestApp) {
    let browser = app.signed_up("Ann", "ann@example.com").await;
    let new_password = "a different long phrase 7";
    let res = browser
        .submit(
            "/account",
            "/account/password",
            &[
                ("current_password", "wrong wrong"),
                ("new_password", new_password),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        res.text_of("#current_password-error").as_deref(),
        Some("That is not your current password.")
    );
    let res = browser
        .submit(
            "/account",
            "/account/password",
            &[("current_password", PASSWORD), ("new_password", "short")],
        )
        .await;
    assert_eq!(
        res.text_of("#new_password-error").as_deref(),
        Some("Use at least 8 characters.")
    );
    let res = browser
        .submit(
            "/account",
            "/account/password",
            &[
                ("current_password", PASSWORD),
                ("new_password", new_password),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(
        browser.get("/account").await.text_of("#flash").as_deref(),
        Some("Your password was changed.")
    );
    let other = app.client();
    let old = other
        .submit(
            "/login",
            "/login",
            &[("email", "ann@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(
        old.status,
        StatusCode::UNAUTHORIZED,
        "the old password no longer works"
    );
    let new = other
        .submit(
            "/login",
            "/login",
            &[("email", "ann@example.com"), ("password", new_password)],
        )
        .await;
    assert_eq!(new.status, StatusCode::SEE_OTHER);
}

crate::on_both_backends_with!(low_ip_limit; sign_in_is_throttled_per_ip);

fn low_ip_limit(settings: &mut tenantry::config::Settings) {
    settings.login_max_failures_per_ip = 4;
}

async fn sign_in_is_throttled_per_ip(app: TestApp) {
    app.signed_up("Ann", "ann@example.com").await;
    let sprayer = app.client();
    // One guess each at many accounts: no single account reaches its limit,
    // but the client does.
    for n in 0..4 {
        let email = format!("user{n}@example.com");
        let res = sprayer
            .submit(
                "/login",
                "/login",
                &[("email", &email), ("password", "guess guess")],
            )
            .await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    }
    let res = sprayer
        .submit(
            "/login",
            "/login",
            &[("email", "ann@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        app.count("throttle_events WHERE throttle_key = 'ip:127.0.0.1'")
            .await,
        4
    );
}

on_both_backends!(concurrent_sign_ups_of_one_email_create_one_account);

async fn concurrent_sign_ups_of_one_email_create_one_account(app: TestApp) {
    let browsers: Vec<_> = (0..4).map(|_| app.client()).collect();
    let mut forms = Vec::new();
    for browser in &browsers {
        forms.push(crate::support::hidden_fields(
            &browser.get("/signup").await.body,
            "/signup",
        ));
    }
    let attempts = browsers.iter().zip(&forms).map(|(browser, hidden)| {
        browser.post_form(
            "/signup",
            hidden,
            &[
                ("name", "Ann"),
                ("email", "race@example.com"),
                ("password", PASSWORD),
            ],
        )
    });
    let results = futures::future::join_all(attempts).await;
    let created = results
        .iter()
        .filter(|r| r.status == StatusCode::SEE_OTHER)
        .count();
    let refused = results
        .iter()
        .filter(|r| {
            r.status == StatusCode::UNPROCESSABLE_ENTITY
                && r.text_of("#email-error").as_deref()
                    == Some("An account with this email already exists. Sign in instead?")
        })
        .count();
    assert_eq!(
        (created, refused),
        (1, 3),
        "{:?}",
        results.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    assert_eq!(app.count("users").await, 1);
    assert_eq!(
        app.count("workspaces").await,
        1,
        "no orphaned personal workspace"
    );
}

on_both_backends!(account_changes_are_in_the_personal_audit_log);

async fn account_changes_are_in_the_personal_audit_log(app: TestApp) {
    let ann = app.signed_up("Ann", "ann@example.com").await;
    let other = app.client();
    other
        .submit(
            "/login",
            "/login",
            &[("email", "ann@example.com"), ("password", PASSWORD)],
        )
        .await;
    ann.submit("/account", "/account/profile", &[("name", "Ann B")])
        .await;
    ann.submit(
        "/account",
        "/account/password",
        &[
            ("current_password", PASSWORD),
            ("new_password", "a different long phrase 7"),
            ("sign_out_others", "on"),
        ],
    )
    .await;
    let log = ann.get("/audit").await;
    assert_eq!(log.status, StatusCode::OK);
    let table = log.text_of("#audit-table").expect("audit table");
    for action in [
        "account.create",
        "account.sign_in",
        "account.profile.update",
        "account.password.change",
    ] {
        assert!(table.contains(action), "{action} missing: {table}");
    }
    assert!(table.contains("name: Ann → Ann B"), "{table}");
    assert!(table.contains("1 other session(s) signed out"), "{table}");
    assert_eq!(app.count("audit_entries").await, 4);
}

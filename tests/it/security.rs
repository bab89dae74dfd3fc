//! Attacks a user would never try: forged forms, missing tokens, hostile
//! input, and the headers every response carries. Also the URL table checks
//! that keep new routes honest.

use reqwest::StatusCode;
use tenantry::web::routes::{Access, TABLE};

use crate::on_both_backends;
use crate::support::{PASSWORD, TestApp};

on_both_backends!(
    every_post_without_a_csrf_token_is_refused,
    a_token_from_another_browser_is_refused,
    signed_out_visitors_are_sent_to_sign_in,
    security_headers_on_every_kind_of_response,
    user_input_is_escaped,
    member_rows_escape_what_members_typed,
    unknown_pages_are_404_pages,
    open_redirects_are_refused,
    switching_to_a_workspace_of_someone_else_changes_nothing,
);

/// Routes that take `multipart/form-data` (file uploads).
pub const MULTIPART_ROUTES: &[&str] = &["/settings/avatar"];

/// The smallest valid PNG: one transparent pixel.
pub const PNG_1X1: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4,
    0x89, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0x00, 0x01, 0x00, 0x00,
    0x05, 0x00, 0x01, 0x0D, 0x0A, 0x2D, 0xB4, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE,
    0x42, 0x60, 0x82,
];

/// A value that makes each POST route do something if it were accepted.
fn plausible_fields(path: &str) -> Vec<(&'static str, String)> {
    match path {
        "/signup" => vec![
            ("name", "Eve".into()),
            ("email", "eve@example.com".into()),
            ("password", PASSWORD.into()),
        ],
        "/login" => vec![
            ("email", "ann@example.com".into()),
            ("password", PASSWORD.into()),
        ],
        "/account/profile" => vec![("name", "Pwned".into())],
        "/account/password" => vec![
            ("current_password", PASSWORD.into()),
            ("new_password", "pwned pwned pwned".into()),
        ],
        _ => vec![],
    }
}

async fn every_post_without_a_csrf_token_is_refused(app: TestApp) {
    let browser = app.signed_up("Ann", "ann@example.com").await;
    let users_before = app.count("users").await;
    // The API and the provider's webhook authenticate each call by a
    // bearer key or a signature, never by a cookie: nothing to forge.
    for route in TABLE.iter().filter(|r| {
        r.method == "POST" && !matches!(r.access, Access::Key | Access::Member | Access::Provider)
    }) {
        if MULTIPART_ROUTES.contains(&route.path) {
            let res = browser
                .post_multipart(route.path, &[], ("avatar", PNG_1X1.to_vec()))
                .await;
            assert_eq!(
                res.status,
                StatusCode::FORBIDDEN,
                "multipart POST {} without a token",
                route.path
            );
            let forged = [("csrf_token".to_owned(), "00ff".to_owned())];
            let res = browser
                .post_multipart(route.path, &forged, ("avatar", PNG_1X1.to_vec()))
                .await;
            assert_eq!(
                res.status,
                StatusCode::FORBIDDEN,
                "multipart POST {} with a forged token",
                route.path
            );
            continue;
        }
        let fields = plausible_fields(route.path);
        let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let res = browser.post_raw(route.path, &pairs).await;
        assert_eq!(
            res.status,
            StatusCode::FORBIDDEN,
            "POST {} without a token",
            route.path
        );
        assert_eq!(
            res.text_of("h1").as_deref(),
            Some("This form has expired"),
            "POST {}",
            route.path
        );
        let mut with_bad_token = pairs.clone();
        with_bad_token.push(("csrf_token", "00ff"));
        let res = browser.post_raw(route.path, &with_bad_token).await;
        assert_eq!(
            res.status,
            StatusCode::FORBIDDEN,
            "POST {} with a forged token",
            route.path
        );
    }
    assert_eq!(app.count("users").await, users_before);
    assert_eq!(app.count("users WHERE name = 'Pwned'").await, 0);
    assert_eq!(
        browser.get("/").await.status,
        StatusCode::OK,
        "still signed in: logout was refused too"
    );
}

async fn a_token_from_another_browser_is_refused(app: TestApp) {
    let victim = app.signed_up("Ann", "ann@example.com").await;
    let attacker = app.signed_up("Eve", "eve@example.com").await;
    // The attacker's own valid token, replayed from a page that makes the
    // victim's browser submit it.
    let attacker_fields =
        crate::support::hidden_fields(&attacker.get("/account").await.body, "/account/profile");
    let res = victim
        .post_form("/account/profile", &attacker_fields, &[("name", "Pwned")])
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_eq!(app.count("users WHERE name = 'Pwned'").await, 0);
}

async fn signed_out_visitors_are_sent_to_sign_in(app: TestApp) {
    let browser = app.client();
    for route in TABLE
        .iter()
        .filter(|r| matches!(r.access, Access::Account | Access::Scoped) && r.method == "GET")
    {
        let res = browser.get(route.path).await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "GET {}", route.path);
        assert!(
            res.location().starts_with("/login"),
            "GET {} → {}",
            route.path,
            res.location()
        );
    }
    // A forged POST from a signed-out browser changes nothing either.
    let token = crate::support::hidden_fields(&browser.get("/login").await.body, "/login");
    for route in TABLE
        .iter()
        .filter(|r| matches!(r.access, Access::Account | Access::Scoped) && r.method == "POST")
    {
        let res = browser.post_form(route.path, &token, &[]).await;
        assert!(
            res.status == StatusCode::SEE_OTHER || res.status == StatusCode::FORBIDDEN,
            "POST {} → {}",
            route.path,
            res.status
        );
    }
}

async fn security_headers_on_every_kind_of_response(app: TestApp) {
    let browser = app.signed_up("Ann", "ann@example.com").await;
    for path in ["/", "/login", "/nope", "/static/app.css", "/healthz"] {
        let res = browser.get(path).await;
        let header = |name: &str| {
            res.headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned()
        };
        let csp = header("content-security-policy");
        for directive in [
            "default-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
            "form-action 'self'",
        ] {
            assert!(
                csp.contains(directive),
                "{path}: CSP {csp:?} lacks {directive}"
            );
        }
        assert_eq!(header("x-content-type-options"), "nosniff", "{path}");
        assert!(!header("referrer-policy").is_empty(), "{path}");
        assert_eq!(header("x-frame-options"), "DENY", "{path}");
        assert_eq!(header("x-request-id").len(), 36, "{path}: request id");
        assert!(
            header("strict-transport-security").is_empty(),
            "{path}: no HSTS over plain http"
        );
    }
    let cookie_headers: Vec<String> = app
        .client()
        .get("/login")
        .await
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap_or("").to_owned())
        .collect();
    assert!(
        cookie_headers
            .iter()
            .all(|c| c.contains("HttpOnly") && c.contains("SameSite=Lax")),
        "{cookie_headers:?}"
    );
}

async fn user_input_is_escaped(app: TestApp) {
    let browser = app
        .signed_up("<script>alert(1)</script>", "ann@example.com")
        .await;
    let page = browser.get("/").await;
    assert!(!page.body.contains("<script>alert(1)</script>"));
    assert!(
        page.body
            .contains("&#60;script&#62;alert(1)&#60;/script&#62;")
            || page.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;")
    );
    assert_eq!(
        page.text_of("#user-menu").as_deref(),
        Some("<script>alert(1)</script>")
    );
}

/// The members table's rows are rendered once when a page of members is
/// read and then written into each view as they are: a member's name must
/// come out escaped in its cell and in the role menu's label, on the view
/// that read the page and on the one that found it kept in memory.
async fn member_rows_escape_what_members_typed(app: TestApp) {
    let app = app.with_acme().await;
    let hostile = r#"<img src=x onerror="alert(1)">&"#;
    app.signed_up(hostile, "bob@example.com").await;
    app.add_member("acme", "bob@example.com", "member").await;
    let ann = app.browser("ann@example.com");
    for view in ["read", "kept"] {
        let page = ann.get("/settings/members").await;
        assert!(!page.body.contains("<img src=x"), "{view}: raw markup");
        let row = r#"#members-table tr[data-member="bob@example.com"]"#;
        assert_eq!(
            page.text_of(&format!("{row} td")).as_deref(),
            Some(hostile),
            "{view}: the name cell"
        );
        assert_eq!(
            page.attr_of(&format!("{row} select"), "aria-label"),
            Some(format!("Role of {hostile}")),
            "{view}: the role menu's label"
        );
    }
}

async fn unknown_pages_are_404_pages(app: TestApp) {
    let res = app.client().get("/definitely/not/here").await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert_eq!(res.text_of("h1").as_deref(), Some("Page not found"));
    assert_eq!(
        res.text_of("#request-id"),
        None,
        "request ids are for 500 pages"
    );
}

async fn open_redirects_are_refused(app: TestApp) {
    app.signed_up("Ann", "ann@example.com").await;
    for next in ["https://evil.test/", "//evil.test/", "/\\evil.test"] {
        let browser = app.client();
        let page = format!(
            "/login?next={}",
            next.replace('/', "%2F")
                .replace('\\', "%5C")
                .replace(':', "%3A")
        );
        let res = browser
            .submit(
                &page,
                "/login",
                &[
                    ("email", "ann@example.com"),
                    ("password", PASSWORD),
                    ("next", next),
                ],
            )
            .await;
        assert_eq!(res.status, StatusCode::SEE_OTHER);
        assert_eq!(res.location(), "/", "next={next}");
    }
}

async fn switching_to_a_workspace_of_someone_else_changes_nothing(app: TestApp) {
    let ann = app.signed_up("Ann", "ann@example.com").await;
    app.signed_up("Bob", "bob@example.com").await;
    let bobs_workspace = {
        let mut conn = app.db.connection().expect("connection");
        use diesel::prelude::*;
        #[derive(QueryableByName)]
        struct Row {
            #[diesel(sql_type = diesel::sql_types::Text)]
            id: String,
        }
        diesel::sql_query(
            "SELECT w.id AS id FROM workspaces w JOIN users u ON u.id = w.personal_owner_id WHERE u.email = 'bob@example.com'",
        )
        .get_result::<Row>(&mut *conn)
        .expect("bob's workspace")
        .id
    };
    let dashboard = ann.get("/").await;
    let token = crate::support::hidden_fields(&dashboard.body, "/context");
    let token: Vec<_> = token
        .into_iter()
        .filter(|(name, _)| name == "csrf_token")
        .collect();
    for target in [
        bobs_workspace.as_str(),
        "not-a-uuid",
        "00000000-0000-7000-8000-000000000000",
    ] {
        let res = ann
            .post_form("/context", &token, &[("workspace_id", target)])
            .await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "switch to {target}");
    }
    let after = ann.get("/").await;
    assert_eq!(
        after.text_of("#workspace-title").as_deref(),
        Some("Personal workspace")
    );
    assert!(after.body.contains("ann@example.com"));
    // And switching to one's own workspace works.
    let own = crate::support::hidden_fields(&after.body, "/context");
    let res = ann.post_form("/context", &own, &[]).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
}

crate::on_both_backends_with!(
    five_per_account;
    parallel_wrong_passwords_get_no_more_checks_than_the_account_limit
);

fn five_per_account(settings: &mut tenantry::config::Settings) {
    settings.login_max_failures_per_account = 5;
}

/// The responses' statuses, counted: (401 wrong password, 429 throttled, other).
fn sign_in_outcomes(results: &[crate::support::Response]) -> (usize, usize, Vec<StatusCode>) {
    let wrong = results
        .iter()
        .filter(|r| {
            r.status == StatusCode::UNAUTHORIZED
                && r.text_of("#login-error").as_deref() == Some("Wrong email or password.")
        })
        .count();
    let throttled = results
        .iter()
        .filter(|r| {
            r.status == StatusCode::TOO_MANY_REQUESTS
                && r.text_of("#login-error")
                    .is_some_and(|t| t.starts_with("Too many failed sign-ins. Try again in"))
        })
        .count();
    let statuses = results.iter().map(|r| r.status).collect();
    (wrong, throttled, statuses)
}

/// Opens the sign-in form in `n` separate browsers, then submits all `n`
/// forms at once with the emails `email_of(i)` and a wrong password.
async fn parallel_wrong_sign_ins(
    app: &TestApp,
    n: usize,
    email_of: impl Fn(usize) -> String,
) -> Vec<crate::support::Response> {
    let browsers: Vec<_> = (0..n).map(|_| app.client()).collect();
    let mut forms = Vec::new();
    for browser in &browsers {
        forms.push(crate::support::hidden_fields(
            &browser.get("/login").await.body,
            "/login",
        ));
    }
    let emails: Vec<String> = (0..n).map(email_of).collect();
    let attempts =
        browsers
            .iter()
            .zip(&forms)
            .zip(&emails)
            .map(|((browser, hidden), email)| async move {
                browser
                    .post_form(
                        "/login",
                        hidden,
                        &[("email", email.as_str()), ("password", "guess guess guess")],
                    )
                    .await
            });
    futures::future::join_all(attempts).await
}

async fn parallel_wrong_passwords_get_no_more_checks_than_the_account_limit(app: TestApp) {
    app.signed_up("Ann", "ann@example.com").await;
    let results = parallel_wrong_sign_ins(&app, 40, |_| "ann@example.com".into()).await;
    let (wrong, throttled, statuses) = sign_in_outcomes(&results);
    // Exactly the limit of passwords were checked; the rest were refused
    // before hashing.
    assert_eq!((wrong, throttled), (5, 35), "{statuses:?}");
    assert_eq!(
        app.count("throttle_events WHERE throttle_key = 'account:ann@example.com'")
            .await,
        5
    );
    assert_eq!(
        app.count("throttle_events WHERE throttle_key = 'ip:127.0.0.1'")
            .await,
        5
    );
    // The owner is locked out too until the window passes.
    let res = app
        .client()
        .submit(
            "/login",
            "/login",
            &[("email", "ann@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS);
}

crate::on_both_backends_with!(
    five_per_ip;
    parallel_guesses_from_one_ip_get_no_more_checks_than_the_ip_limit
);

fn five_per_ip(settings: &mut tenantry::config::Settings) {
    settings.login_max_failures_per_ip = 5;
}

async fn parallel_guesses_from_one_ip_get_no_more_checks_than_the_ip_limit(app: TestApp) {
    app.signed_up("Ann", "ann@example.com").await;
    // One guess each at 40 accounts: no account reaches its limit.
    let results = parallel_wrong_sign_ins(&app, 40, |n| format!("user{n}@example.com")).await;
    let (wrong, throttled, statuses) = sign_in_outcomes(&results);
    assert_eq!((wrong, throttled), (5, 35), "{statuses:?}");
    assert_eq!(
        app.count("throttle_events WHERE throttle_key = 'ip:127.0.0.1'")
            .await,
        5
    );
    assert_eq!(
        app.count("throttle_events WHERE throttle_key LIKE 'account:%'")
            .await,
        5,
        "only the checked attempts count against their accounts"
    );
}

crate::on_both_backends_with!(
    behind_one_proxy;
    the_client_ip_is_the_one_the_proxy_appended
);

fn behind_one_proxy(settings: &mut tenantry::config::Settings) {
    settings.trust_proxy_headers = true;
    settings.login_max_failures_per_ip = 50;
}

async fn the_client_ip_is_the_one_the_proxy_appended(app: TestApp) {
    let sprayer = app.client();
    let form = crate::support::hidden_fields(&sprayer.get("/login").await.body, "/login");
    let mut statuses = Vec::new();
    // The client rotates the left-most X-Forwarded-For value; the proxy
    // appends the address it saw, 10.0.0.7.
    for n in 0..60 {
        let email = format!("user{n}@example.com");
        let forwarded = format!("6.6.6.{n}, 10.0.0.7");
        let res = sprayer
            .post_form_with_headers(
                "/login",
                &form,
                &[("email", &email), ("password", "guess guess guess")],
                &[("X-Forwarded-For", &forwarded)],
            )
            .await;
        statuses.push(res.status);
    }
    let wrong = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    let throttled = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!((wrong, throttled), (50, 10), "{statuses:?}");
    assert_eq!(
        app.count("throttle_events WHERE throttle_key = 'ip:10.0.0.7'")
            .await,
        50
    );
    assert_eq!(
        app.count("throttle_events WHERE throttle_key LIKE 'ip:6.6.6.%'")
            .await,
        0
    );
    // Another client behind the same proxy is not throttled.
    let res = sprayer
        .post_form_with_headers(
            "/login",
            &form,
            &[
                ("email", "user0@example.com"),
                ("password", "guess guess guess"),
            ],
            &[("X-Forwarded-For", "6.6.6.6, 10.0.0.8")],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
}

crate::on_both_backends_with!(
    three_sign_ups_per_ip;
    parallel_sign_ups_from_one_ip_stop_at_the_limit
);

fn three_sign_ups_per_ip(settings: &mut tenantry::config::Settings) {
    settings.signup_max_per_ip = 3;
}

async fn parallel_sign_ups_from_one_ip_stop_at_the_limit(app: TestApp) {
    let browsers: Vec<_> = (0..10).map(|_| app.client()).collect();
    let mut forms = Vec::new();
    for browser in &browsers {
        forms.push(crate::support::hidden_fields(
            &browser.get("/signup").await.body,
            "/signup",
        ));
    }
    let emails: Vec<String> = (0..10).map(|n| format!("user{n}@example.com")).collect();
    let attempts =
        browsers
            .iter()
            .zip(&forms)
            .zip(&emails)
            .map(|((browser, hidden), email)| async move {
                browser
                    .post_form(
                        "/signup",
                        hidden,
                        &[
                            ("name", "Squatter"),
                            ("email", email.as_str()),
                            ("password", PASSWORD),
                        ],
                    )
                    .await
            });
    let results = futures::future::join_all(attempts).await;
    let created = results
        .iter()
        .filter(|r| r.status == StatusCode::SEE_OTHER)
        .count();
    let refused: Vec<_> = results
        .iter()
        .filter(|r| r.status == StatusCode::TOO_MANY_REQUESTS)
        .collect();
    assert_eq!(
        (created, refused.len()),
        (3, 7),
        "{:?}",
        results.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    assert_eq!(app.count("users").await, 3);
    for res in refused {
        assert!(
            res.text_of("#form-error")
                .is_some_and(|t| t.starts_with("Too many sign-ups from your network. Try again in")),
            "{}",
            res.body
        );
        assert_eq!(res.attr_of("#name", "value").as_deref(), Some("Squatter"));
        let email = res.attr_of("#email", "value").unwrap_or_default();
        assert!(
            emails.contains(&email),
            "the email typed is kept: {email:?}"
        );
    }
}

crate::on_both_backends_with!(
    two_organizations_per_ip;
    parallel_organization_creations_from_one_ip_stop_at_the_limit
);

fn two_organizations_per_ip(settings: &mut tenantry::config::Settings) {
    settings.org_create_max_per_ip = 2;
}

async fn parallel_organization_creations_from_one_ip_stop_at_the_limit(app: TestApp) {
    let ann = app.signed_up("Ann", "ann@example.com").await;
    assert_eq!(
        app.create_org(&ann, "Acme", "acme").await.status,
        StatusCode::SEE_OTHER
    );
    // A creation refused for its slug doesn't count.
    assert_eq!(
        app.create_org(&ann, "Acme again", "acme").await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let mut browsers = Vec::new();
    for n in 0..6 {
        browsers.push(
            app.signed_up("Squatter", &format!("squatter{n}@example.com"))
                .await,
        );
    }
    let mut forms = Vec::new();
    for browser in &browsers {
        forms.push(crate::support::hidden_fields(
            &browser.get("/organizations/new").await.body,
            "/organizations",
        ));
    }
    let slugs: Vec<String> = (0..6).map(|n| format!("squat-{n}")).collect();
    let attempts =
        browsers
            .iter()
            .zip(&forms)
            .zip(&slugs)
            .map(|((browser, hidden), slug)| async move {
                browser
                    .post_form(
                        "/organizations",
                        hidden,
                        &[("name", "Squat"), ("slug", slug.as_str())],
                    )
                    .await
            });
    let results = futures::future::join_all(attempts).await;
    let created = results
        .iter()
        .filter(|r| r.status == StatusCode::SEE_OTHER)
        .count();
    let refused: Vec<_> = results
        .iter()
        .filter(|r| r.status == StatusCode::TOO_MANY_REQUESTS)
        .collect();
    assert_eq!(
        (created, refused.len()),
        (1, 5),
        "{:?}",
        results.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    assert_eq!(app.count("workspaces WHERE kind <> 'personal'").await, 2);
    for res in refused {
        assert!(
            res.text_of("#form-error").is_some_and(|t| t.starts_with(
                "Too many organizations were created from your network. Try again in"
            )),
            "{}",
            res.body
        );
        assert_eq!(res.attr_of("#name", "value").as_deref(), Some("Squat"));
        let slug = res.attr_of("#slug", "value").unwrap_or_default();
        assert!(slugs.contains(&slug), "the slug typed is kept: {slug:?}");
    }
}

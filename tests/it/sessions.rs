//! Server-side sessions: rotation at sign-in, death at sign-out, the
//! sessions list, signing out other sessions, timeouts.

use reqwest::StatusCode;

use crate::on_both_backends;
use crate::support::{PASSWORD, TestApp};

const SESSION_COOKIE: &str = "tenantry_session";

on_both_backends!(
    session_id_changes_at_sign_in,
    cookie_replayed_after_sign_out_is_refused,
    deleting_the_row_ends_the_session,
    only_a_hash_of_the_session_key_is_stored,
    account_page_lists_sessions_with_device_and_ip,
    sign_out_one_other_session,
    sign_out_all_other_sessions,
    password_change_can_sign_out_other_sessions,
    idle_sessions_expire,
    session_of_a_disabled_account_ends,
);

async fn sign_in(app: &TestApp, agent: &str) -> crate::support::Client {
    let browser = app.client_with_agent(agent);
    let res = browser
        .submit(
            "/login",
            "/login",
            &[("email", "ann@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    browser
}

async fn session_id_changes_at_sign_in(app: TestApp) {
    let browser = app.signed_up("Ann", "ann@example.com").await;
    let first = browser
        .cookie(SESSION_COOKIE)
        .expect("session cookie after sign-up");
    // Signing in again from the same browser (e.g. a planted cookie) gets a fresh id.
    let res = browser
        .post_form(
            "/login",
            &crate::support::hidden_fields(&app.client().get("/login").await.body, "/login"),
            &[("email", "ann@example.com"), ("password", PASSWORD)],
        )
        .await;
    // That form's token was issued to another browser: refused.
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    let planted = app.client();
    planted.set_cookie(SESSION_COOKIE, &first);
    assert_eq!(
        planted.get("/").await.status,
        StatusCode::OK,
        "the planted cookie is a live session"
    );
    let res = planted
        .post_form(
            "/login",
            &crate::support::hidden_fields(
                &planted.get("/account").await.body,
                "/account/password",
            ),
            &[("email", "ann@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let second = planted
        .cookie(SESSION_COOKIE)
        .expect("session cookie after sign-in");
    assert_ne!(first, second, "sign-in issues a new session id");
    let replay = app.client();
    replay.set_cookie(SESSION_COOKIE, &first);
    assert_eq!(
        replay.get("/").await.location(),
        "/login",
        "the pre-sign-in id is dead"
    );
    assert_eq!(planted.get("/").await.status, StatusCode::OK);
}

async fn cookie_replayed_after_sign_out_is_refused(app: TestApp) {
    let browser = app.signed_up("Ann", "ann@example.com").await;
    let stolen = browser.cookie(SESSION_COOKIE).expect("session cookie");
    assert_eq!(
        browser.submit("/", "/logout", &[]).await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(app.count("sessions").await, 0, "the row is gone");
    let replay = app.client();
    replay.set_cookie(SESSION_COOKIE, &stolen);
    let res = replay.get("/").await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(res.location(), "/login");
    assert_eq!(app.count("sessions").await, 0, "replaying created nothing");
}

async fn deleting_the_row_ends_the_session(app: TestApp) {
    let browser = app.signed_up("Ann", "ann@example.com").await;
    assert_eq!(browser.get("/").await.status, StatusCode::OK);
    app.execute("DELETE FROM sessions").await;
    assert_eq!(browser.get("/").await.location(), "/login");
}

async fn only_a_hash_of_the_session_key_is_stored(app: TestApp) {
    let browser = app.signed_up("Ann", "ann@example.com").await;
    let cookie = browser.cookie(SESSION_COOKIE).expect("session cookie");
    assert_eq!(app.count("sessions").await, 1);
    assert_eq!(
        app.count(&format!(
            "sessions WHERE id_hash = '{}' OR state LIKE '%{}%'",
            cookie.replace('\'', ""),
            &cookie[..20]
        ))
        .await,
        0
    );
    assert_eq!(app.count("sessions WHERE LENGTH(id_hash) = 64").await, 1);
    let cookie_header = browser.get("/account").await;
    assert_eq!(cookie_header.status, StatusCode::OK);
}

async fn account_page_lists_sessions_with_device_and_ip(app: TestApp) {
    app.signed_up("Ann", "ann@example.com").await;
    let laptop = sign_in(
        &app,
        "Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/130.0",
    )
    .await;
    let _phone = sign_in(
        &app,
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Version/17.0 Mobile Safari/604.1",
    )
    .await;
    // Each session records its device on its first request.
    _phone.get("/").await;
    let page = laptop.get("/account").await;
    assert_eq!(page.status, StatusCode::OK);
    let table = page.text_of("#sessions-table").expect("sessions table");
    assert!(table.contains("Firefox on Linux this session"), "{table}");
    assert!(table.contains("Safari on iOS"), "{table}");
    assert!(table.contains("127.0.0.1"), "{table}");
    assert_eq!(app.count("sessions WHERE user_id IS NOT NULL").await, 3);
}

async fn sign_out_one_other_session(app: TestApp) {
    let first = app.signed_up("Ann", "ann@example.com").await;
    let second = sign_in(&app, "Mozilla/5.0 (Windows NT 10.0) Chrome/120.0").await;
    second.get("/").await;
    let page = first.get("/account").await;
    let target = page
        .attr_of(
            r#"form[action="/account/sessions/revoke"] input[name="session_id"]"#,
            "value",
        )
        .expect("a sign-out button for the other session");
    let res = first
        .submit(
            "/account",
            "/account/sessions/revoke",
            &[("session_id", &target)],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(
        second.get("/").await.location(),
        "/login",
        "the other session ended"
    );
    assert_eq!(
        first.get("/").await.status,
        StatusCode::OK,
        "this one lives on"
    );
    // This session's own id, in a form the page doesn't offer: refused
    // with a pointer to signing out, and the session lives on.
    let own = app
        .text_value_with(
            "SELECT s.public_id AS value FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE u.email = ?",
            &["ann@example.com"],
        )
        .await;
    let hidden =
        crate::support::hidden_fields(&first.get("/account").await.body, "/account/password");
    let res = first
        .post_form("/account/sessions/revoke", &hidden, &[("session_id", &own)])
        .await;
    assert_eq!(res.status, StatusCode::CONFLICT);
    assert!(
        res.body
            .contains("This is the session you are using: sign out to end it."),
        "{}",
        res.body
    );
    assert_eq!(first.get("/").await.status, StatusCode::OK);
    // Someone else's session id is "not found" and nothing is deleted.
    let mallory = app.signed_up("Mallory", "mallory@example.com").await;
    let victim = sign_in(&app, "Victim/1.0").await;
    victim.get("/").await;
    let victim_session = first
        .get("/account")
        .await
        .attr_of(
            r#"form[action="/account/sessions/revoke"] input[name="session_id"]"#,
            "value",
        )
        .expect("victim session listed for its owner");
    let hidden =
        crate::support::hidden_fields(&mallory.get("/account").await.body, "/account/password");
    let res = mallory
        .post_form(
            "/account/sessions/revoke",
            &hidden,
            &[("session_id", &victim_session)],
        )
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert_eq!(
        victim.get("/").await.status,
        StatusCode::OK,
        "the victim's session survives"
    );
}

async fn sign_out_all_other_sessions(app: TestApp) {
    let first = app.signed_up("Ann", "ann@example.com").await;
    let second = sign_in(&app, "Second/1.0").await;
    let third = sign_in(&app, "Third/1.0").await;
    let res = first
        .submit("/account", "/account/sessions/revoke-others", &[])
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(
        first.get("/account").await.text_of("#flash").as_deref(),
        Some("2 other sessions were signed out.")
    );
    assert_eq!(second.get("/").await.location(), "/login");
    assert_eq!(third.get("/").await.location(), "/login");
    assert_eq!(app.count("sessions").await, 1);
}

async fn password_change_can_sign_out_other_sessions(app: TestApp) {
    let first = app.signed_up("Ann", "ann@example.com").await;
    let second = sign_in(&app, "Second/1.0").await;
    let before = first.cookie(SESSION_COOKIE).expect("cookie");
    let res = first
        .submit(
            "/account",
            "/account/password",
            &[
                ("current_password", PASSWORD),
                ("new_password", "a different long phrase 7"),
                ("sign_out_others", "on"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert_eq!(
        first.get("/account").await.text_of("#flash").as_deref(),
        Some("Your password was changed and your other session was signed out.")
    );
    assert_eq!(
        second.get("/").await.location(),
        "/login",
        "the other session ended"
    );
    assert_ne!(
        first.cookie(SESSION_COOKIE).expect("cookie"),
        before,
        "this session got a new id"
    );
    let replay = app.client();
    replay.set_cookie(SESSION_COOKIE, &before);
    assert_eq!(
        replay.get("/").await.location(),
        "/login",
        "the old id of this session is dead"
    );
}

async fn idle_sessions_expire(app: TestApp) {
    let browser = app.signed_up("Ann", "ann@example.com").await;
    assert_eq!(browser.get("/").await.status, StatusCode::OK);
    // 31 minutes without a request (the default idle timeout is 30).
    app.execute("UPDATE sessions SET last_seen_at = '2000-01-01 00:00:00'")
        .await;
    assert_eq!(browser.get("/").await.location(), "/login");
    let fresh = app.signed_up("Bob", "bob@example.com").await;
    // 13 hours after sign-in, however active (the absolute lifetime is 12 h).
    app.execute("UPDATE sessions SET created_at = '2000-01-01 00:00:00'")
        .await;
    assert_eq!(fresh.get("/").await.location(), "/login");
}

async fn session_of_a_disabled_account_ends(app: TestApp) {
    let browser = app.signed_up("Ann", "ann@example.com").await;
    app.execute("UPDATE users SET status = 'disabled'").await;
    assert_eq!(browser.get("/").await.location(), "/login");
    let res = app
        .client()
        .submit(
            "/login",
            "/login",
            &[("email", "ann@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(
        res.status,
        StatusCode::UNAUTHORIZED,
        "a disabled account can't sign in"
    );
}

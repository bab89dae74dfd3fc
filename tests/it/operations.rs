//! Operations: probes, metrics, request ids on failures, configuration and
//! the command line.

use std::process::Command;

use reqwest::StatusCode;

use crate::on_both_backends;
use crate::support::TestApp;

on_both_backends!(
    health_and_readiness,
    metrics_in_prometheus_text,
    failures_show_a_request_id,
    an_unreadable_session_gets_an_error_page_and_keeps_its_cookie,
    stalled_form_posts_hold_no_database_connection
);

/// A form post whose body never finishes arriving (a slow or hostile
/// client) must not hold a database connection while its handler waits for
/// the body: a few more of them than the pool has connections, and every
/// other request would fail when its wait for a connection ran out.
async fn stalled_form_posts_hold_no_database_connection(app: TestApp) {
    use std::io::Write;

    let owner = app.signed_up("Ada Lovelace", "ada@example.com").await;
    let session = owner
        .cookie("tenantry_session")
        .expect("a signed-in session cookie");
    let address = app.base.trim_start_matches("http://");
    let pool_size = crate::support::test_settings().db_pool_size;
    let mut stalled = Vec::new();
    for _ in 0..pool_size + 2 {
        let mut stream = std::net::TcpStream::connect(address).expect("connect");
        write!(
            stream,
            "POST /settings/general HTTP/1.1\r\nHost: {address}\r\n\
             Cookie: tenantry_session={session}\r\n\
             Content-Type: application/x-www-form-urlencoded\r\n\
             Content-Length: 1000\r\n\r\nname=Stalled"
        )
        .expect("send the start of a post");
        stalled.push(stream);
    }
    // Let the server read each post's headers and load its session (a few
    // milliseconds each, even with the rest of the suite running).
    tokio::time::sleep(std::time::Duration::from_millis(1_500)).await;

    let res = owner.get("/").await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert!(res.body.contains("Ada Lovelace"), "{}", res.body);
    drop(stalled);
}

async fn health_and_readiness(app: TestApp) {
    let res = app.client().get("/healthz").await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.body, r#"{"status":"ok"}"#);
    let res = app.client().get("/readyz").await;
    assert_eq!(res.status, StatusCode::OK);
    let expected = match app.backend {
        crate::support::TestBackend::Sqlite => "sqlite",
        crate::support::TestBackend::Postgres => "postgres",
    };
    assert!(
        res.body.contains(&format!(r#""database":"{expected}""#)),
        "{}",
        res.body
    );
}

async fn metrics_in_prometheus_text(app: TestApp) {
    app.client().get("/login").await;
    let res = app.client().get("/metrics").await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(
        res.body
            .contains("# TYPE tenantry_http_requests_total counter"),
        "{}",
        res.body
    );
    assert!(res.body.contains(r#"endpoint="/login""#), "{}", res.body);
}

async fn failures_show_a_request_id(mut app: TestApp) {
    app.skip_invariants();
    let browser = app.signed_up("Ann", "ann@example.com").await;
    // Break the database under the running app.
    app.execute("ALTER TABLE memberships RENAME TO memberships_gone")
        .await;
    let res = browser.get("/").await;
    assert_eq!(res.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(res.text_of("h1").as_deref(), Some("Something went wrong"));
    let shown = res.text_of("#request-id").expect("request id on the page");
    let header = res
        .headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .expect("request id header");
    assert_eq!(shown, header);
    assert!(
        !res.body.contains("memberships"),
        "no internals on the page"
    );
}

/// The session itself can't be read (here its table is gone; on
/// PostgreSQL `outage` does it by cutting the connection): the request gets
/// the error page with its request id, as any other failure does, instead
/// of actix-session's bare 500 or being served as a signed-out visitor, and
/// the browser's session cookie is not replaced.
async fn an_unreadable_session_gets_an_error_page_and_keeps_its_cookie(mut app: TestApp) {
    app.skip_invariants();
    let browser = app.signed_up("Ann", "ann@example.com").await;
    let cookie = browser.cookie("tenantry_session");
    app.execute("ALTER TABLE sessions RENAME TO sessions_gone")
        .await;
    for res in [browser.get("/").await, browser.get("/login").await] {
        assert_eq!(
            res.status,
            StatusCode::INTERNAL_SERVER_ERROR,
            "{}",
            res.body
        );
        assert_eq!(res.text_of("h1").as_deref(), Some("Something went wrong"));
        let shown = res.text_of("#request-id").expect("request id on the page");
        assert_eq!(
            res.headers
                .get("x-request-id")
                .and_then(|v| v.to_str().ok()),
            Some(shown.as_str())
        );
        assert!(
            res.headers.contains_key("content-security-policy"),
            "the error page has the security headers: {:?}",
            res.headers
        );
        assert!(!res.body.contains("sessions"), "no internals on the page");
    }
    assert_eq!(browser.cookie("tenantry_session"), cookie);
}

#[test]
fn the_secret_is_generated_once_and_kept() {
    let dir = tempfile::tempdir().expect("dir");
    let settings = || tenantry::config::Settings {
        data_dir: dir.path().to_path_buf(),
        ..crate::support::test_settings()
    };
    let first = tenantry::config::Config::resolve(settings()).expect("first start");
    let second = tenantry::config::Config::resolve(settings()).expect("restart");
    assert_eq!(
        first.secret_key, second.secret_key,
        "sign-ins survive a restart"
    );
    assert!(first.secret_key.len() >= 64);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("secret.key"))
            .expect("secret file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    assert!(first.database_url.ends_with("tenantry.db"));
    assert_eq!(first.base_url, "http://127.0.0.1:8080");
}

fn tenantry(data_dir: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tenantry"));
    command
        .env("TENANTRY_DATA_DIR", data_dir)
        .env("TENANTRY_ARGON2_MEMORY_KIB", "256")
        .env("TENANTRY_ARGON2_ITERATIONS", "1")
        .env_remove("DATABASE_URL")
        .env_remove("TENANTRY_DATABASE_URL");
    command
}

#[test]
fn cli_migrates_and_creates_users() {
    let dir = tempfile::tempdir().expect("dir");
    let help = tenantry(dir.path())
        .arg("--help")
        .output()
        .expect("run --help");
    let help = String::from_utf8_lossy(&help.stdout);
    for subcommand in ["serve", "migrate", "user"] {
        assert!(help.contains(subcommand), "{help}");
    }
    let user_help = tenantry(dir.path())
        .args(["user", "create", "--help"])
        .output()
        .expect("run");
    assert!(String::from_utf8_lossy(&user_help.stdout).contains("--email"));

    let migrate = tenantry(dir.path())
        .arg("migrate")
        .output()
        .expect("run migrate");
    assert!(
        migrate.status.success(),
        "{}",
        String::from_utf8_lossy(&migrate.stderr)
    );
    let first = String::from_utf8_lossy(&migrate.stdout).into_owned();
    assert!(
        first.starts_with("sqlite database: ") && !first.contains(": 0 migration"),
        "{first}"
    );
    assert!(dir.path().join("tenantry.db").exists());
    let again = tenantry(dir.path())
        .arg("migrate")
        .output()
        .expect("run migrate again");
    assert_eq!(
        String::from_utf8_lossy(&again.stdout),
        "sqlite database: 0 migration(s) applied\n"
    );

    let created = tenantry(dir.path())
        .args([
            "user",
            "create",
            "--email",
            "Ops@Example.com",
            "--name",
            "Ops",
        ])
        .output()
        .expect("run user create");
    let stdout = String::from_utf8_lossy(&created.stdout);
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    assert!(
        stdout.contains("created user Ops <ops@example.com>"),
        "{stdout}"
    );
    assert!(
        stdout.contains("password: "),
        "a generated password is printed once"
    );

    let again = tenantry(dir.path())
        .args([
            "user",
            "create",
            "--email",
            "ops@example.com",
            "--name",
            "Ops",
        ])
        .output()
        .expect("run user create again");
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));

    let bad = tenantry(dir.path())
        .args(["user", "create", "--email", "not-an-email", "--name", "Ops"])
        .output()
        .expect("run");
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--email"));
}

on_both_backends!(styles_are_served_from_the_binary);

async fn styles_are_served_from_the_binary(app: TestApp) {
    let page = app.client().get("/login").await;
    for href in ["/static/vendor/pico/pico.min.css", "/static/app.css"] {
        assert!(page.body.contains(href), "the page links {href}");
        let res = app.client().get(href).await;
        assert_eq!(res.status, StatusCode::OK, "{href}");
        assert_eq!(
            res.headers
                .get("content-type")
                .and_then(|v| v.to_str().ok()),
            Some("text/css; charset=utf-8")
        );
        assert!(res.body.len() > 500, "{href} has content");
    }
    assert_eq!(
        app.client().get("/static/../Cargo.toml").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.client().get("/static/nope.css").await.status,
        StatusCode::NOT_FOUND
    );
}

/// The per-request log line names the client Tenantry believes in, not a
/// `X-Forwarded-For` value the client wrote (no proxy is trusted here).
#[test]
fn the_request_log_does_not_take_the_client_ip_from_the_client() {
    let dir = tempfile::tempdir().expect("dir");
    let (answered, log) = with_logged_server(dir.path(), "info", async |base| {
        reqwest::Client::new()
            .get(format!("{base}/login"))
            .header("X-Forwarded-For", "6.6.6.6")
            .send()
            .await
            .map(|r| r.status().as_u16())
            .ok()
    });
    assert_eq!(answered, Some(200), "{log}");
    let line = log
        .lines()
        .find(|l| l.contains("http.route=/login"))
        .unwrap_or_else(|| panic!("no request line for /login in:\n{log}"));
    assert!(line.contains("http.client_ip=127.0.0.1"), "{line}");
    assert!(!line.contains("6.6.6.6"), "{line}");
}

#[test]
fn cli_creates_and_lists_coupons() {
    let dir = tempfile::tempdir().expect("dir");
    let create = tenantry(dir.path())
        .args(["coupon", "create", "--code", "spring-50", "--credits", "50"])
        .args(["--expires", "2099-03-31", "--max-redemptions", "100"])
        .output()
        .expect("run coupon create");
    assert!(
        create.status.success(),
        "{}",
        String::from_utf8_lossy(&create.stderr)
    );
    assert!(String::from_utf8_lossy(&create.stdout).contains("created coupon SPRING-50"));
    let again = tenantry(dir.path())
        .args(["coupon", "create", "--code", "SPRING-50", "--credits", "5"])
        .output()
        .expect("run");
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("A coupon has this code"));
    let bad = tenantry(dir.path())
        .args(["coupon", "create", "--code", "x", "--credits", "-1"])
        .output()
        .expect("run");
    assert!(!bad.status.success());
    let message = String::from_utf8_lossy(&bad.stderr);
    assert!(
        message.contains("--code") && message.contains("--credits"),
        "{message}"
    );
    let list = tenantry(dir.path())
        .args(["coupon", "list"])
        .output()
        .expect("run coupon list");
    let listed = String::from_utf8_lossy(&list.stdout);
    assert!(
        listed
            .contains("SPRING-50\t50.00 credits\t0 of 100 redeemed\texpires 2099-04-01 00:00 UTC"),
        "{listed}"
    );
}

/// Neither a member's API key nor a wrong one shows up in the server's
/// log, at its most talkative level: only the public prefix may.
#[test]
fn api_keys_never_reach_the_log() {
    use diesel::prelude::*;
    let dir = tempfile::tempdir().expect("dir");
    let created = tenantry(dir.path())
        .args([
            "user",
            "create",
            "--email",
            "ops@example.com",
            "--name",
            "Ops",
        ])
        .output()
        .expect("run user create");
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let secret = "5ec7e7".repeat(10) + "abcd";
    let key = format!("tkm_0123456789ab_{secret}");
    let forged = format!("tkm_0123456789ab_{}", "f0".repeat(32));
    let digest = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(key.as_bytes()));
    let mut conn =
        diesel::SqliteConnection::establish(dir.path().join("tenantry.db").to_str().expect("path"))
            .expect("open the database");
    diesel::sql_query(format!(
        "INSERT INTO api_keys (id, workspace_id, user_id, name, kind, prefix, secret_hash, created_at) \
         SELECT 'k1', m.workspace_id, m.user_id, 'ops', 'standard', 'tkm_0123456789ab', '{digest}', CURRENT_TIMESTAMP \
         FROM memberships m"
    ))
    .execute(&mut conn)
    .expect("a key for the user's personal workspace");
    drop(conn);

    let (answers, log) = with_logged_server(dir.path(), "trace", async |base| {
        let client = reqwest::Client::new();
        let mut answers = Vec::new();
        for presented in [&key, &forged] {
            let res = client
                .post(format!("{base}/api/v1/authorize"))
                .bearer_auth(presented)
                .json(&serde_json::json!({ "permission": "members.read" }))
                .send()
                .await
                .map(|r| r.status().as_u16())
                .ok();
            answers.push(res);
        }
        answers
    });
    assert_eq!(answers, [Some(200), Some(401)], "{log}");
    assert!(
        log.contains("/api/v1/authorize"),
        "the calls were logged: {log}"
    );
    assert!(!log.contains(&secret), "the key's secret is in the log");
    assert!(
        !log.contains(&"f0".repeat(32)),
        "a wrong key's secret is in the log"
    );
    assert!(!log.contains(&digest), "the key's hash is in the log");
}

/// Runs `tenantry serve` on `dir` with text logs at `level`, makes `calls`
/// (given its base URL) once it answers, stops it, and returns what the
/// calls returned and the whole log.
fn with_logged_server<T>(
    dir: &std::path::Path,
    level: &str,
    calls: impl AsyncFnOnce(String) -> T,
) -> (T, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("free port")
        .local_addr()
        .expect("addr")
        .port();
    let log_path = dir.join("server.log");
    let log = std::fs::File::create(&log_path).expect("log file");
    let mut server = tenantry(dir)
        .env("TENANTRY_BIND", format!("127.0.0.1:{port}"))
        .env("TENANTRY_LOG_FORMAT", "text")
        .env("NO_COLOR", "1")
        .env("RUST_LOG", level)
        .arg("serve")
        .stderr(log)
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("start tenantry serve");
    let base = format!("http://127.0.0.1:{port}");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let answer = runtime.block_on(async {
        let client = reqwest::Client::new();
        for _ in 0..300 {
            if client.get(format!("{base}/healthz")).send().await.is_ok() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        calls(base.clone()).await
    });
    std::thread::sleep(std::time::Duration::from_millis(300));
    let _ = server.kill();
    let _ = server.wait();
    (
        answer,
        std::fs::read_to_string(&log_path).expect("read log"),
    )
}

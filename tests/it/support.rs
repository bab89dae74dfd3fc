//! The test harness: [`TestApp`] starts the real application (all
//! middleware, real sessions, real database) on a loopback port, on a fresh
//! SQLite file or a fresh PostgreSQL schema, and [`Client`] drives it like a
//! browser (cookie jar, forms with their CSRF token).

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use std::collections::HashMap;
use std::sync::Mutex;

use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use diesel::sqlite::Sqlite;
use reqwest::StatusCode;
use reqwest::cookie::{CookieStore, Jar};
use scraper::{Html, Selector};
use tenantry::config::{Config, Settings};
use tenantry::db::{AnyConnection, Db};
use tenantry::web::{self, AppState};

use crate::skips::{self, Skip};

/// Runs each named scenario `async fn name(app: TestApp)` twice: on SQLite,
/// and on PostgreSQL when `TENANTRY_TEST_POSTGRES_URL` is set (CI sets it).
/// Without it the PostgreSQL twin is skipped, counted and reported at exit
/// (see [`crate::skips`]), or fails under `TENANTRY_REQUIRE_POSTGRES=1`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[actix_web::test]
            async fn sqlite() {
                super::$name($crate::support::TestApp::sqlite().await).await;
            }
            #[actix_web::test]
            async fn postgres() {
                // `None` only without TENANTRY_TEST_POSTGRES_URL: the skip
                // is counted and reported when the test binary exits.
                if let Some(app) = $crate::support::TestApp::postgres().await {
                    super::$name(app).await;
                }
            }
        }
    )*};
}

/// Like [`on_both_backends!`], with settings adjusted by `$adjust: fn(&mut Settings)`.
#[macro_export]
macro_rules! on_both_backends_with {
    ($adjust:ident; $($name:ident),* $(,)?) => {$(
        mod $name {
            use $crate::support::{TestApp, TestBackend};
            #[actix_web::test]
            async fn sqlite() {
                let app = TestApp::start(TestBackend::Sqlite, super::$adjust).await.expect("sqlite");
                super::$name(app).await;
            }
            #[actix_web::test]
            async fn postgres() {
                if let Some(app) = TestApp::start(TestBackend::Postgres, super::$adjust).await {
                    super::$name(app).await;
                }
            }
        }
    )*};
}

/// `TENANTRY_TEST_POSTGRES_URL`, or `None` after recording a skip; panics
/// without it under `TENANTRY_REQUIRE_POSTGRES=1`.
fn postgres_url() -> Option<String> {
    let url = std::env::var("TENANTRY_TEST_POSTGRES_URL")
        .ok()
        .filter(|url| !url.trim().is_empty());
    if url.is_none() {
        assert!(
            !skips::required("TENANTRY_REQUIRE_POSTGRES"),
            "TENANTRY_REQUIRE_POSTGRES=1 but TENANTRY_TEST_POSTGRES_URL is not set: \
             point it at a PostgreSQL server (e.g. postgres://postgres@127.0.0.1/test)"
        );
        skips::record(Skip::Postgres);
    }
    url
}

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestBackend {
    /// A fresh SQLite file.
    Sqlite,
    /// A fresh schema in the PostgreSQL of `TENANTRY_TEST_POSTGRES_URL`.
    Postgres,
}

/// A running Tenantry with its own database.
pub struct TestApp {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// A separate pool on the same database, to look at rows.
    pub db: Db,
    /// Which backend this is.
    pub backend: TestBackend,
    server: Option<actix_web::dev::ServerHandle>,
    thread: Option<std::thread::JoinHandle<()>>,
    pg_schema: Option<(String, String)>,
    check_invariants: bool,
    /// The browser each user signed up with (see [`TestApp::browser`]).
    browsers: Mutex<HashMap<String, Client>>,
    /// The settings it was started with (a second instance shares them).
    settings: Settings,
    _data_dir: tempfile::TempDir,
}

/// Another instance of the app on the same database, as a second server
/// behind a load balancer would be; stopped when dropped.
pub struct Instance {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    server: Option<actix_web::dev::ServerHandle>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Instance {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            futures::executor::block_on(server.stop(false));
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Serves `settings` on its own thread and actix system, so stopping it
/// from `Drop` can block without deadlocking the test's runtime.
fn serve(
    settings: Settings,
) -> (
    String,
    actix_web::dev::ServerHandle,
    std::thread::JoinHandle<()>,
    Db,
) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let mut settings = settings;
    settings.bind = format!("127.0.0.1:{port}");
    let config = Config::resolve(settings).expect("config");
    let db = Db::connect(&config.database_url, config.db_pool_size)
        .expect("connect")
        .with_reads_on_workers(config.db_reads_on_workers);
    db.migrate().expect("migrate");
    let inspect = Db::connect(&config.database_url, 2).expect("connect inspector");
    let state = AppState::new(config, db).expect("state");
    let (handle_tx, handle_rx) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let server = web::run(listener, state, Some(1)).expect("server");
            handle_tx.send(server.handle()).expect("send handle");
            server.await.expect("server ran");
        });
    });
    let server = handle_rx
        .recv_timeout(Duration::from_secs(30))
        .expect("server started");
    (format!("http://127.0.0.1:{port}"), server, thread, inspect)
}

/// The secret test payment notifications are signed with.
pub const WEBHOOK_SECRET: &str = "test-webhook-secret";

/// Settings for tests: cheap argon2 (explicitly, never the default), no
/// practical per-IP limit on sign-ups and organization creations (every
/// test user comes from 127.0.0.1; the throttling tests lower them), the
/// rest as in production.
pub fn test_settings() -> Settings {
    Settings {
        argon2_memory_kib: 256,
        argon2_iterations: 1,
        signup_max_per_ip: 100_000,
        org_create_max_per_ip: 100_000,
        // Fuzzing and concurrency tests call faster than a real client may;
        // the rate-limit test lowers these.
        api_key_calls_per_minute: 1_000_000,
        ai_agent_key_calls_per_minute: 1_000_000,
        db_pool_size: 4,
        mail_retry_base_seconds: 1,
        mail_poll_seconds: 1,
        payment_webhook_secret: Some(WEBHOOK_SECRET.to_owned()),
        ..Settings::default()
    }
}

impl TestApp {
    /// On a fresh SQLite file.
    pub async fn sqlite() -> Self {
        Self::start(TestBackend::Sqlite, |_| {})
            .await
            .expect("sqlite backend")
    }

    /// On a fresh PostgreSQL schema, or `None` (a recorded skip) when no
    /// server is configured; panics then under `TENANTRY_REQUIRE_POSTGRES=1`.
    pub async fn postgres() -> Option<Self> {
        Self::start(TestBackend::Postgres, |_| {}).await
    }

    /// Starts the app on `backend` with adjusted settings; `None` only for
    /// PostgreSQL without `TENANTRY_TEST_POSTGRES_URL`, which is recorded as
    /// a skip, or a failure under `TENANTRY_REQUIRE_POSTGRES=1`.
    pub async fn start(backend: TestBackend, adjust: impl FnOnce(&mut Settings)) -> Option<Self> {
        let data_dir = tempfile::tempdir().expect("temp dir");
        let mut settings = test_settings();
        settings.data_dir = data_dir.path().to_path_buf();
        let mut pg_schema = None;
        match backend {
            TestBackend::Sqlite => {
                settings.database_url = Some(format!(
                    "sqlite://{}",
                    data_dir.path().join("tenantry.db").display()
                ));
            }
            TestBackend::Postgres => {
                let admin_url = postgres_url()?;
                let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
                let mut admin = diesel::PgConnection::establish(&admin_url)
                    .expect("connect to TENANTRY_TEST_POSTGRES_URL");
                diesel::sql_query(format!("CREATE SCHEMA {schema}"))
                    .execute(&mut admin)
                    .expect("create schema");
                let separator = if admin_url.contains('?') { '&' } else { '?' };
                settings.database_url = Some(format!(
                    "{admin_url}{separator}options=-csearch_path%3D{schema}"
                ));
                pg_schema = Some((admin_url, schema));
            }
        }
        adjust(&mut settings);
        let (base, server, thread, inspect) = serve(settings.clone());
        Some(Self {
            base,
            db: inspect,
            backend,
            server: Some(server),
            thread: Some(thread),
            pg_schema,
            check_invariants: true,
            browsers: Mutex::new(HashMap::new()),
            settings,
            _data_dir: data_dir,
        })
    }

    /// A second instance of the app on this one's database and settings.
    pub fn another_instance(&self) -> Instance {
        let (base, server, thread, _) = serve(self.settings.clone());
        Instance {
            base,
            server: Some(server),
            thread: Some(thread),
        }
    }

    /// A new browser: empty cookie jar.
    pub fn client(&self) -> Client {
        Client::new(&self.base, None)
    }

    /// A new browser with a custom `User-Agent`.
    pub fn client_with_agent(&self, agent: &str) -> Client {
        Client::new(&self.base, Some(agent))
    }

    /// Signs a new user up through the form; returns their signed-in
    /// browser, which [`TestApp::browser`] returns again later.
    pub async fn signed_up(&self, name: &str, email: &str) -> Client {
        let client = self.client();
        let res = client
            .submit(
                "/signup",
                "/signup",
                &[("name", name), ("email", email), ("password", PASSWORD)],
            )
            .await;
        assert_eq!(
            res.status,
            StatusCode::SEE_OTHER,
            "sign-up of {email} failed: {}",
            res.body
        );
        self.browsers
            .lock()
            .expect("browsers")
            .insert(email.to_lowercase(), client.clone());
        client
    }

    /// Whether `email` signed up through [`TestApp::signed_up`] in this test.
    pub fn has_browser(&self, email: &str) -> bool {
        self.browsers
            .lock()
            .expect("browsers")
            .contains_key(&email.to_lowercase())
    }

    /// The browser `email` signed up with through [`TestApp::signed_up`]
    /// (or a builder step): the same cookie jar, so the same session.
    pub fn browser(&self, email: &str) -> Client {
        self.browsers
            .lock()
            .expect("browsers")
            .get(&email.to_lowercase())
            .cloned()
            .unwrap_or_else(|| panic!("{email} has not signed up in this test"))
    }

    /// Runs `SELECT COUNT(*) FROM <from_where>` on the app's database.
    /// `from_where` is the test's own SQL; values that come from elsewhere
    /// go through [`TestApp::count_with`] as bound parameters.
    pub async fn count(&self, from_where: &str) -> i64 {
        self.count_with(from_where, &[]).await
    }

    /// Like [`TestApp::count`], with each `?` in `from_where` bound to the
    /// next of `values` (as text), never spliced into the SQL.
    pub async fn count_with(&self, from_where: &str, values: &[&str]) -> i64 {
        #[derive(QueryableByName)]
        struct Count {
            #[diesel(sql_type = BigInt)]
            n: i64,
        }
        let sql = format!("SELECT COUNT(*) AS n FROM {from_where}");
        let rows: Vec<Count> = self.load(&sql, values);
        rows.first().map_or(0, |row| row.n)
    }

    /// Runs an inspection query (`?` placeholders bound to `values` as
    /// text) and returns its rows as `Row`s, on either backend.
    fn load<Row>(&self, sql: &str, values: &[&str]) -> Vec<Row>
    where
        Row: QueryableByName<Pg> + QueryableByName<Sqlite> + 'static,
    {
        let mut conn = self.db.connection().expect("inspector connection");
        let rows = match &mut *conn {
            AnyConnection::Postgresql(pg) => {
                let mut query = diesel::sql_query(numbered_placeholders(sql)).into_boxed::<Pg>();
                for value in values {
                    query = query.bind::<Text, _>(value.to_string());
                }
                query.load::<Row>(pg)
            }
            AnyConnection::Sqlite(sqlite) => {
                let mut query = diesel::sql_query(sql).into_boxed::<Sqlite>();
                for value in values {
                    query = query.bind::<Text, _>(value.to_string());
                }
                query.load::<Row>(sqlite)
            }
        };
        rows.unwrap_or_else(|e| panic!("{sql} with {values:?}: {e}"))
    }

    /// For tests that break the database on purpose: skip the invariant check.
    pub fn skip_invariants(&mut self) {
        self.check_invariants = false;
    }

    /// The invariants of SECURITY.md that must hold after every scenario:
    /// every workspace has exactly one owner, and the owner of an
    /// organization owns each of its teams, whose members are all members
    /// of the organization; nobody is a member twice; every
    /// workspace's member, team and project counters match what they count.
    pub fn assert_invariants(&self) {
        let mut conn = self.db.connection().expect("inspector connection");
        for (workspace, owners) in
            tenantry::db::organizations::owner_counts(&mut conn).expect("owner counts")
        {
            assert_eq!(owners, 1, "workspace {workspace} has {owners} owners");
        }
        drop(conn);
        let duplicates = futures::executor::block_on(self.count(
            "(SELECT workspace_id, user_id FROM memberships GROUP BY workspace_id, user_id HAVING COUNT(*) > 1) AS d",
        ));
        assert_eq!(duplicates, 0, "duplicate memberships");
        let miscounted = futures::executor::block_on(self.count(
            "workspaces w WHERE w.member_count <> (SELECT COUNT(*) FROM memberships m \
             WHERE m.workspace_id = w.id AND m.status = 'active')",
        ));
        assert_eq!(miscounted, 0, "workspaces whose member_count is off");
        let miscounted = futures::executor::block_on(self.count(
            "workspaces w WHERE w.team_count <> (SELECT COUNT(*) FROM workspaces t \
             WHERE t.parent_id = w.id AND t.kind = 'team') \
             OR w.project_count <> (SELECT COUNT(*) FROM projects p WHERE p.workspace_id = w.id)",
        ));
        assert_eq!(
            miscounted, 0,
            "workspaces whose team_count or project_count is off"
        );
        let misnamed = futures::executor::block_on(self.count(
            "workspaces w WHERE w.owner_user_id IS DISTINCT FROM (SELECT m.user_id \
             FROM memberships m JOIN roles r ON r.id = m.role_id \
             WHERE r.workspace_id = w.id AND r.system_key = 'owner')",
        ));
        assert_eq!(misnamed, 0, "workspaces whose owner_user_id is off");
        let miscounted = futures::executor::block_on(self.count(
            "roles r WHERE r.member_count <> (SELECT COUNT(*) FROM memberships m \
             WHERE m.role_id = r.id)",
        ));
        assert_eq!(miscounted, 0, "roles whose member_count is off");
        let stale = futures::executor::block_on(self.count(
            "invitations i WHERE i.last_email_id IS DISTINCT FROM (SELECT o.id FROM outbox_emails o \
             WHERE o.invitation_id = i.id ORDER BY o.created_at DESC, o.id DESC LIMIT 1)",
        ));
        assert_eq!(stale, 0, "invitations not pointing at their latest email");
        let unlisted = futures::executor::block_on(self.count(
            "(SELECT DISTINCT workspace_id, action FROM audit_entries) AS e WHERE NOT EXISTS \
             (SELECT 1 FROM audit_facets f WHERE f.workspace_id = e.workspace_id \
              AND f.kind = 'action' AND f.value = e.action)",
        ));
        assert_eq!(unlisted, 0, "audited actions missing from the log's filter");
        let ownerless = futures::executor::block_on(self.count(
            "workspaces t WHERE t.kind = 'team' AND NOT EXISTS (SELECT 1 FROM memberships om \
             JOIN roles o ON o.id = om.role_id JOIN memberships tm ON tm.user_id = om.user_id \
             JOIN roles a ON a.id = tm.role_id WHERE om.workspace_id = t.parent_id \
             AND o.system_key = 'owner' AND tm.workspace_id = t.id AND a.system_key = 'owner')",
        ));
        assert_eq!(
            ownerless, 0,
            "teams not owned by their organization's owner"
        );
        let strays = futures::executor::block_on(self.count(
            "memberships tm JOIN workspaces t ON t.id = tm.workspace_id WHERE t.kind = 'team' \
             AND NOT EXISTS (SELECT 1 FROM memberships om WHERE om.workspace_id = t.parent_id \
             AND om.user_id = tm.user_id)",
        ));
        assert_eq!(
            strays, 0,
            "team members who are not members of the organization"
        );
        let miscounted = futures::executor::block_on(self.count(
            "workspaces w WHERE w.running_agents <> (SELECT COUNT(*) FROM agents a \
             JOIN workspaces aw ON aw.id = a.workspace_id WHERE a.status = 'running' \
             AND (aw.id = w.id OR aw.parent_id = w.id)) \
             OR (w.max_running_agents IS NOT NULL AND w.running_agents > w.max_running_agents)",
        ));
        assert_eq!(
            miscounted, 0,
            "workspaces whose running-agent counter is off or over its limit"
        );
        let open_runs = futures::executor::block_on(self.count(
            "agents a WHERE (a.status = 'running') <> EXISTS (SELECT 1 FROM agent_runs r \
             WHERE r.agent_id = a.id AND r.stopped_at IS NULL)",
        ));
        assert_eq!(open_runs, 0, "agents whose status and open run disagree");
        let miscounted = futures::executor::block_on(self.count(
            "workspaces w WHERE w.app_instances <> (SELECT COUNT(*) FROM app_instances i \
             JOIN workspaces iw ON iw.id = i.workspace_id WHERE iw.id = w.id OR iw.parent_id = w.id) \
             OR (w.max_app_instances IS NOT NULL AND w.app_instances > w.max_app_instances)",
        ));
        assert_eq!(
            miscounted, 0,
            "workspaces whose app-instance counter is off or over its limit"
        );
        let miscounted = futures::executor::block_on(self.count(
            "member_agent_counts c JOIN workspaces o ON o.id = c.organization_id \
             WHERE c.running_agents <> (SELECT COUNT(*) FROM agents a JOIN workspaces aw \
             ON aw.id = a.workspace_id WHERE a.status = 'running' AND a.started_by = c.user_id \
             AND (aw.id = o.id OR aw.parent_id = o.id)) \
             OR (o.max_agents_per_member IS NOT NULL AND c.running_agents > o.max_agents_per_member)",
        ));
        assert_eq!(
            miscounted, 0,
            "members whose running-agent count is off or over the quota"
        );
        let unbalanced = futures::executor::block_on(self.count(
            "wallets w WHERE w.balance < 0 OR w.balance <> COALESCE((SELECT SUM(e.amount) \
             FROM ledger_entries e WHERE e.workspace_id = w.workspace_id), 0)",
        ));
        assert_eq!(
            unbalanced, 0,
            "wallets whose balance is negative or not the sum of their ledger"
        );
        let off_the_books = futures::executor::block_on(self.count(
            "wallets w WHERE COALESCE((SELECT SUM(d.amount) FROM daily_spend d \
             WHERE d.workspace_id = w.workspace_id), 0) <> COALESCE((SELECT -SUM(e.amount) \
             FROM ledger_entries e WHERE e.workspace_id = w.workspace_id AND e.kind = 'charge'), 0)",
        ));
        assert_eq!(
            off_the_books, 0,
            "wallets whose daily spend is not the sum of their charges"
        );
        let off_the_books = futures::executor::block_on(self.count(
            "wallets w WHERE COALESCE((SELECT SUM(m.spent) FROM member_spend m \
             WHERE m.workspace_id = w.workspace_id), 0) <> COALESCE((SELECT -SUM(e.amount) \
             FROM ledger_entries e WHERE e.workspace_id = w.workspace_id AND e.kind = 'charge' \
             AND e.user_id IS NOT NULL), 0)",
        ));
        assert_eq!(
            off_the_books, 0,
            "wallets whose members' spend is not the sum of their charges"
        );
        let walletless = futures::executor::block_on(self.count(
            "workspaces s WHERE NOT EXISTS (SELECT 1 FROM wallets w WHERE w.workspace_id = s.id)",
        ));
        assert_eq!(walletless, 0, "workspaces without a wallet");
    }

    /// Where the app writes emails when no SMTP server is configured.
    pub fn outbox_dir(&self) -> std::path::PathBuf {
        self._data_dir.path().join("outbox")
    }

    /// Waits (up to 15 s) until every queued email was delivered.
    pub async fn wait_for_mail_delivery(&self) {
        for _ in 0..150 {
            if self.count("outbox_emails WHERE sent_at IS NULL").await == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("emails still undelivered after 15 s");
    }

    /// Every email delivered to `address` (decoded text of the `.eml` files
    /// the app wrote, oldest first), after waiting for delivery. The
    /// database blanks a message's bodies once it is sent, so the delivered
    /// file is the only place left to read a link from.
    pub async fn emails_to(&self, address: &str) -> Vec<String> {
        self.wait_for_mail_delivery().await;
        let wanted = address.to_lowercase();
        let mut found: Vec<(std::time::SystemTime, String)> = std::fs::read_dir(self.outbox_dir())
            .map(|entries| entries.filter_map(Result::ok).collect::<Vec<_>>())
            .unwrap_or_default()
            .into_iter()
            .filter(|entry| entry.path().extension().is_some_and(|e| e == "eml"))
            .filter_map(|entry| {
                let raw = std::fs::read_to_string(entry.path()).ok()?;
                let to_line = raw
                    .lines()
                    .take_while(|line| !line.is_empty())
                    .find(|line| line.to_ascii_lowercase().starts_with("to:"))?
                    .to_lowercase();
                let modified = entry.metadata().ok()?.modified().ok()?;
                to_line
                    .contains(&wanted)
                    .then(|| (modified, crate::smtp::decode_quoted_printable(&raw)))
            })
            .collect();
        found.sort_by_key(|(modified, _)| *modified);
        found.into_iter().map(|(_, text)| text).collect()
    }

    /// The newest email delivered to `address` with this subject. Emails
    /// are picked by subject, not by arrival: a sign-up's verification mail
    /// and the mail a test is about may be delivered in either order.
    pub async fn email_titled(&self, address: &str, subject: &str) -> String {
        let header = format!("Subject: {subject}");
        let emails = self.emails_to(address).await;
        emails
            .iter()
            .rev()
            .find(|email| email.lines().any(|line| line == header))
            .cloned()
            .unwrap_or_else(|| panic!("no email titled {subject:?} to {address}: {emails:?}"))
    }

    /// The path of the first link starting with `prefix` (e.g.
    /// `/password/reset/`) in the newest email delivered to `address` that
    /// has such a link (other emails, like the verification mail of a
    /// sign-up, may arrive around the same time).
    pub async fn link_in_latest_email(&self, address: &str, prefix: &str) -> String {
        let emails = self.emails_to(address).await;
        let body = emails
            .iter()
            .rev()
            .find(|body| body.contains(prefix))
            .unwrap_or_else(|| panic!("no {prefix} link in the emails to {address}: {emails:?}"));
        let start = body.find(prefix).unwrap_or_default();
        body[start..]
            .chars()
            .take_while(|c| !c.is_whitespace() && *c != '"' && *c != '<')
            .collect()
    }

    /// The invitation link in the newest email to `email`.
    pub async fn invitation_link(&self, email: &str) -> String {
        self.link_in_latest_email(email, "/invitations/").await
    }

    /// The id of `email`'s personal workspace.
    pub async fn personal_workspace_of(&self, email: &str) -> String {
        self.text_value_with(
            "SELECT w.id AS value FROM workspaces w JOIN users u ON u.id = w.personal_owner_id \
             WHERE u.email = ?",
            &[email],
        )
        .await
    }

    /// The id of the workspace with this slug.
    pub async fn workspace_id(&self, slug: &str) -> String {
        self.text_value_with("SELECT id AS value FROM workspaces WHERE slug = ?", &[slug])
            .await
    }

    /// Runs a query returning one text column named `value`.
    pub async fn text_value(&self, sql: &str) -> String {
        self.text_value_with(sql, &[]).await
    }

    /// Like [`TestApp::text_value`], with each `?` bound to the next of
    /// `values`; panics unless there is a row.
    pub async fn text_value_with(&self, sql: &str, values: &[&str]) -> String {
        self.text_values_with(sql, values)
            .await
            .into_iter()
            .next()
            .unwrap_or_else(|| panic!("{sql} with {values:?}: no row"))
    }

    /// Every row's `value` of a query with bound `values`.
    pub async fn text_values_with(&self, sql: &str, values: &[&str]) -> Vec<String> {
        #[derive(QueryableByName)]
        struct Value {
            #[diesel(sql_type = Text)]
            value: String,
        }
        self.load::<Value>(sql, values)
            .into_iter()
            .map(|row| row.value)
            .collect()
    }

    /// Creates an organization through the form; returns the response.
    pub async fn create_org(&self, browser: &Client, name: &str, slug: &str) -> Response {
        browser
            .submit(
                "/organizations/new",
                "/organizations",
                &[("name", name), ("slug", slug)],
            )
            .await
    }

    /// Runs a statement directly on the app's database (to simulate what
    /// another process or an operator did).
    pub async fn execute(&self, sql: &str) {
        let mut conn = self.db.connection().expect("inspector connection");
        diesel::sql_query(sql)
            .execute(&mut *conn)
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if self.check_invariants && !std::thread::panicking() {
            self.assert_invariants();
        }
        if let Some(server) = self.server.take() {
            futures::executor::block_on(server.stop(false));
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        if let Some((admin_url, schema)) = self.pg_schema.take()
            && let Ok(mut admin) = diesel::PgConnection::establish(&admin_url)
        {
            let _ = diesel::sql_query(format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                .execute(&mut admin);
        }
    }
}

/// The password every test user signs up with.
pub const PASSWORD: &str = "violet staple orbit 42";

/// A response, read whole.
#[derive(Debug)]
pub struct Response {
    /// Status code.
    pub status: StatusCode,
    /// Headers.
    pub headers: reqwest::header::HeaderMap,
    /// Body text.
    pub body: String,
}

impl Response {
    /// The `Location` header of a redirect.
    pub fn location(&self) -> &str {
        self.headers
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| {
                panic!(
                    "no Location header; status {} body {}",
                    self.status, self.body
                )
            })
    }

    /// The text of the first element matching a CSS selector.
    pub fn text_of(&self, selector: &str) -> Option<String> {
        let html = Html::parse_document(&self.body);
        let selector = Selector::parse(selector).expect("selector");
        html.select(&selector).next().map(|e| {
            e.text()
                .collect::<Vec<_>>()
                .join(" ")
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        })
    }

    /// An attribute of the first element matching a CSS selector.
    pub fn attr_of(&self, selector: &str, attribute: &str) -> Option<String> {
        let html = Html::parse_document(&self.body);
        let selector = Selector::parse(selector).expect("selector");
        html.select(&selector)
            .next()
            .and_then(|e| e.value().attr(attribute))
            .map(str::to_owned)
    }
}

/// A browser-like client: keeps cookies, doesn't follow redirects. A clone
/// shares the cookie jar: the same browser, not a new one.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    jar: Arc<Jar>,
    base: String,
}

impl Client {
    fn new(base: &str, agent: Option<&str>) -> Self {
        let jar = Arc::new(Jar::default());
        let http = reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(
                agent.unwrap_or("Mozilla/5.0 (X11; Linux x86_64) TenantryTest/1.0 Firefox/130.0"),
            )
            .build()
            .expect("client");
        Self {
            http,
            jar,
            base: base.to_owned(),
        }
    }

    async fn read(res: reqwest::Response) -> Response {
        let status = res.status();
        let headers = res.headers().clone();
        let body = res.text().await.expect("body");
        Response {
            status,
            headers,
            body,
        }
    }

    /// GET a path.
    pub async fn get(&self, path: &str) -> Response {
        Self::read(
            self.http
                .get(format!("{}{path}", self.base))
                .send()
                .await
                .expect("GET"),
        )
        .await
    }

    /// POST a URL-encoded form exactly as given (no token added).
    pub async fn post_raw(&self, path: &str, fields: &[(&str, &str)]) -> Response {
        Self::read(
            self.http
                .post(format!("{}{path}", self.base))
                .form(fields)
                .send()
                .await
                .expect("POST"),
        )
        .await
    }

    /// Like a person: opens `page`, fills the form whose action is `action`
    /// (its hidden fields, CSRF token included, are kept) and submits it.
    pub async fn submit(&self, page: &str, action: &str, fields: &[(&str, &str)]) -> Response {
        let form_page = self.get(page).await;
        assert!(
            form_page.status.is_success(),
            "GET {page}: {} {}",
            form_page.status,
            form_page.body
        );
        let hidden = hidden_fields(&form_page.body, action);
        self.post_form(action, &hidden, fields).await
    }

    /// Posts `fields` with hidden fields taken from an already-loaded page
    /// (a form kept open in a tab).
    pub async fn post_form(
        &self,
        action: &str,
        hidden: &[(String, String)],
        fields: &[(&str, &str)],
    ) -> Response {
        let mut all: Vec<(String, String)> = hidden
            .iter()
            .filter(|(name, _)| !fields.iter().any(|(f, _)| f == name))
            .cloned()
            .collect();
        all.extend(fields.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        Self::read(
            self.http
                .post(format!("{}{action}", self.base))
                .form(&all)
                .send()
                .await
                .expect("POST"),
        )
        .await
    }

    /// Like [`Client::post_form`], with extra request headers (what a proxy
    /// in front of the app, or a client, adds).
    pub async fn post_form_with_headers(
        &self,
        action: &str,
        hidden: &[(String, String)],
        fields: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Response {
        let mut all: Vec<(String, String)> = hidden.to_vec();
        all.extend(fields.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let mut request = self.http.post(format!("{}{action}", self.base)).form(&all);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        Self::read(request.send().await.expect("POST")).await
    }

    /// Switches the active workspace with the switcher.
    pub async fn switch_to(&self, workspace_id: &str) -> Response {
        let page = self.get("/").await;
        let hidden: Vec<_> = hidden_fields(&page.body, "/context")
            .into_iter()
            .filter(|(name, _)| name == "csrf_token")
            .collect();
        self.post_form(
            "/context",
            &hidden,
            &[("workspace_id", workspace_id), ("return_to", "/")],
        )
        .await
    }

    /// The hidden fields of a form scoped to `workspace` as this browser
    /// would forge them where its pages offer no such form: its own token
    /// (from the switcher) and the workspace's id.
    pub async fn forged_scoped_fields(&self, workspace: &str) -> Vec<(String, String)> {
        let mut fields: Vec<(String, String)> =
            hidden_fields(&self.get("/").await.body, "/context")
                .into_iter()
                .filter(|(name, _)| name == "csrf_token")
                .collect();
        fields.push(("active_workspace_id".to_owned(), workspace.to_owned()));
        fields
    }

    /// POSTs a multipart form (file uploads) with the given text fields and one file.
    pub async fn post_multipart(
        &self,
        action: &str,
        fields: &[(String, String)],
        file: (&str, Vec<u8>),
    ) -> Response {
        let mut form = reqwest::multipart::Form::new();
        for (name, value) in fields {
            form = form.text(name.clone(), value.clone());
        }
        form = form.part(
            file.0.to_owned(),
            reqwest::multipart::Part::bytes(file.1).file_name("upload.bin"),
        );
        Self::read(
            self.http
                .post(format!("{}{action}", self.base))
                .multipart(form)
                .send()
                .await
                .expect("POST multipart"),
        )
        .await
    }

    /// The value of a cookie this browser holds.
    pub fn cookie(&self, name: &str) -> Option<String> {
        let url = self.base.parse().expect("url");
        let header = self.jar.cookies(&url)?;
        header
            .to_str()
            .ok()?
            .split("; ")
            .find_map(|pair| pair.strip_prefix(&format!("{name}=")).map(str::to_owned))
    }

    /// Copies a cookie into another browser (a stolen or replayed cookie).
    pub fn set_cookie(&self, name: &str, value: &str) {
        let url = self.base.parse().expect("url");
        self.jar
            .add_cookie_str(&format!("{name}={value}; Path=/"), &url);
    }
}

/// `sql` with its `?` placeholders numbered `$1`, `$2`, … for PostgreSQL.
fn numbered_placeholders(sql: &str) -> String {
    let mut numbered = String::with_capacity(sql.len() + 8);
    let mut n = 0;
    for c in sql.chars() {
        if c == '?' {
            n += 1;
            numbered.push_str(&format!("${n}"));
        } else {
            numbered.push(c);
        }
    }
    numbered
}

/// The hidden inputs of the first form that posts to `action` on a page:
/// its own action, or a submit button's `formaction`.
pub fn hidden_fields(body: &str, action: &str) -> Vec<(String, String)> {
    let html = Html::parse_document(body);
    let form_selector = Selector::parse(&format!(r#"form[action="{action}"]"#)).expect("selector");
    let button_selector =
        Selector::parse(&format!(r#"form button[formaction="{action}"]"#)).expect("selector");
    let hidden = Selector::parse(r#"input[type="hidden"]"#).expect("selector");
    let form = html
        .select(&form_selector)
        .next()
        .or_else(|| {
            let button = html.select(&button_selector).next()?;
            button
                .ancestors()
                .filter_map(scraper::ElementRef::wrap)
                .find(|element| element.value().name() == "form")
        })
        .unwrap_or_else(|| panic!("no form posting to {action} on the page:\n{body}"));
    let fields: Vec<_> = form
        .select(&hidden)
        .filter_map(|input| {
            Some((
                input.value().attr("name")?.to_owned(),
                input.value().attr("value").unwrap_or("").to_owned(),
            ))
        })
        .collect();
    assert!(
        fields.iter().any(|(name, _)| name == "csrf_token"),
        "the form with action {action} has no CSRF token:\n{body}"
    );
    fields
}

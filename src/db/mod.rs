//! The repository layer: every diesel query lives under `db`, and `schema`
//! is private to it, so code outside can reach tables only through the
//! functions here. Workspace data is reached only with a
//! [`Scope`](crate::db::scope::Scope)'s workspace id.
//!
//! One binary serves SQLite and PostgreSQL through diesel's
//! `MultiConnection`; the backend is chosen from the URL's scheme (diesel's
//! own probing swallows connection errors). Queries are blocking, so they
//! run on the blocking thread pool through [`Db::run`].
//!
//! Errors: repository functions return [`DbError`]; the web layer maps it
//! once, in `web::error`.
//!
//! Connections are not probed when checked out (that was a `SELECT 1` per
//! `Db::run`). A connection is known broken from the error its query got
//! (diesel reports a dead PostgreSQL connection as `ClosedConnection`): the
//! pool then discards it instead of taking it back. Reads that may simply
//! be repeated ([`Db::run_idempotent`], e.g. the session load that starts
//! every signed-in request) are retried on another connection.
//!
//! Every statement is counted (see [`Tally`]), so tests and the
//! benchmark can see how many a request ran.

mod schema;

pub mod scope;

pub mod account_tokens;
pub mod agents;
pub mod api_keys;
pub mod apps;
pub mod audit;
pub mod billing;
mod charge_queue;
mod charge_statement;
mod checkpoint;
mod fixed_limit;
pub mod invitations;
mod ledger_statements;
pub mod members;
pub mod organizations;
pub mod outbox;
pub mod projects;
pub mod roles;
pub mod sessions;
mod stamps;

pub(crate) use fixed_limit::fixed_limit;
pub mod teams;
pub mod throttle;
pub mod users;
pub mod workspaces;

use std::cell::Cell;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::Timelike;

use diesel::connection::{
    AnsiTransactionManager, Instrumentation, InstrumentationEvent, SimpleConnection,
    TransactionManager,
};
use diesel::prelude::*;
use diesel::r2d2::{
    ConnectionManager, CustomizeConnection, ManageConnection, Pool, PooledConnection,
};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

/// Runs `$body` with `$native` bound to the backend's own connection
/// instead of the `MultiConnection` wrapper. The wrapper renders a query's
/// SQL text anew on every execution (its statement cache is keyed by that
/// text) and converts every value through its own raw type; the backend's
/// own connection caches a query of static shape by its type and skips
/// both. For the queries every page view runs: the `body` is compiled once
/// per backend, so it must be valid on both.
macro_rules! natively {
    ($conn:expr, |$native:ident| $body:expr) => {
        match $conn {
            $crate::db::AnyConnection::Postgresql($native) => $body,
            $crate::db::AnyConnection::Sqlite($native) => $body,
        }
    };
}
pub(crate) use natively;

/// A connection to whichever backend the URL named. `Postgresql` comes first
/// because `establish` tries variants in order.
#[derive(diesel::MultiConnection)]
pub enum AnyConnection {
    /// PostgreSQL, for several instances sharing one database.
    Postgresql(diesel::PgConnection),
    /// Embedded SQLite, the zero-setup default.
    Sqlite(diesel::SqliteConnection),
}

/// The connection pool shared by the whole process.
pub type DbPool = Pool<Manager>;

/// diesel's r2d2 manager, which also discards a connection whose last query
/// found it closed (diesel's own check looks only at transaction state).
#[derive(Debug)]
pub struct Manager(ConnectionManager<AnyConnection>);

impl ManageConnection for Manager {
    type Connection = AnyConnection;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<AnyConnection, Self::Error> {
        self.0.connect()
    }

    fn is_valid(&self, conn: &mut AnyConnection) -> Result<(), Self::Error> {
        self.0.is_valid(conn)
    }

    fn has_broken(&self, conn: &mut AnyConnection) -> bool {
        // The pool takes a connection back on the thread that used it.
        CONNECTION_CLOSED.take() || self.0.has_broken(conn)
    }
}

thread_local! {
    /// Set when a query on this thread found its connection closed; read
    /// (and cleared) when that connection goes back to the pool.
    static CONNECTION_CLOSED: Cell<bool> = const { Cell::new(false) };
    /// Where statements run on this thread are counted, besides the pool's total.
    static STATEMENT_SINK: std::cell::RefCell<Option<Tally>> = const { std::cell::RefCell::new(None) };
}

tokio::task_local! {
    /// What the request being served shares across its `Db::run` calls.
    static REQUEST: RequestDb;
}

/// A shared count: of SQL statements (each `BEGIN`/`COMMIT` counts too),
/// or of pool checkouts.
#[derive(Debug, Clone, Default)]
pub struct Tally(Arc<AtomicU64>);

impl Tally {
    /// How many so far.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    fn add(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

/// The database side of one request: where its statements and pool
/// checkouts are counted (tests and benchmarks read them), and the
/// connection the session load hands on to the request's next `Db::run`
/// ([`Db::read_handing_on`]), so a page view checks out one
/// connection, not one for its session and another for its data.
///
/// Only that one hand-over is made: the connection waits from the session
/// load to the page's first query (or to the end of a view that has none),
/// and every `Db::run` returns its connection to the pool. Holding one
/// connection for all of a view, through its rendering and later queries,
/// was tried and let a pool of 10 collapse under 64 concurrent page views
/// on PostgreSQL (benches/README.md).
///
/// A request with a body to read (a form post) hands nothing on: its
/// handler reads the body first, at the client's pace, and a connection
/// held meanwhile is one a slow or stalled client takes from everyone
/// else (a dozen such posts held a pool of 10 and every other request
/// failed when its wait for a connection ran out).
#[derive(Clone, Default)]
pub struct RequestDb {
    statements: Option<Tally>,
    checkouts: Option<Tally>,
    hands_on: bool,
    handed_on: Arc<std::sync::Mutex<Option<PooledConnection<Manager>>>>,
}

impl RequestDb {
    /// Counts the request's statements and pool checkouts into these.
    pub fn counting_into(statements: Tally, checkouts: Tally) -> Self {
        Self {
            statements: Some(statements),
            checkouts: Some(checkouts),
            ..Self::default()
        }
    }

    /// Lets the session load hand its connection on to the page's first
    /// query: for requests without a body to wait for (`GET`, `HEAD`).
    pub fn handing_on(self, hands_on: bool) -> Self {
        Self { hands_on, ..self }
    }

    /// Serves `request` with this. A connection still handed on when the
    /// request's response is ready goes back to the pool then.
    pub async fn serve<F: std::future::Future>(self, request: F) -> F::Output {
        let handed_on = self.handed_on.clone();
        let output = REQUEST.scope(self, request).await;
        drop(Self::take(&handed_on));
        output
    }

    fn current() -> Self {
        REQUEST.try_with(Self::clone).unwrap_or_default()
    }

    fn take(
        slot: &std::sync::Mutex<Option<PooledConnection<Manager>>>,
    ) -> Option<PooledConnection<Manager>> {
        slot.lock().ok().and_then(|mut held| held.take())
    }

    /// The connection handed on to this request if there is one, else one
    /// from the pool (counted).
    fn connection(&self, pool: &DbPool) -> Result<PooledConnection<Manager>, DbError> {
        if let Some(conn) = Self::take(&self.handed_on) {
            return Ok(conn);
        }
        self.count_checkout();
        pool.get().map_err(|e| DbError::Unavailable(e.to_string()))
    }

    fn count_checkout(&self) {
        if let Some(checkouts) = &self.checkouts {
            checkouts.add();
        }
    }

    /// The connection handed on to this request if there is one, else one
    /// the pool has free right now (counted); `None` rather than waiting.
    fn free_connection(&self, pool: &DbPool) -> Option<PooledConnection<Manager>> {
        if let Some(conn) = Self::take(&self.handed_on) {
            return Some(conn);
        }
        let conn = pool.try_get()?;
        self.count_checkout();
        Some(conn)
    }

    /// Gives the connection the session load handed on back to the pool
    /// now: for a view that turned out to need no query of its own (its
    /// data was kept in memory), so the connection isn't held through its
    /// rendering.
    pub fn give_back() {
        drop(Self::take(&Self::current().handed_on));
    }

    /// Keeps `conn` for the request's next `Db::run`, when this request
    /// may hold one; otherwise it goes back to the pool.
    fn hand_on(&self, conn: PooledConnection<Manager>) {
        if !self.hands_on {
            return;
        }
        if let Ok(mut held) = self.handed_on.lock() {
            *held = Some(conn);
        }
    }
}

/// Watches every statement on one connection: counts it, and notes a
/// connection the database closed.
struct Observer {
    total: Tally,
}

impl Instrumentation for Observer {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        match event {
            InstrumentationEvent::StartQuery { .. } => {
                self.total.add();
                STATEMENT_SINK.with_borrow(|sink| {
                    if let Some(sink) = sink {
                        sink.add();
                    }
                });
            }
            InstrumentationEvent::FinishQuery {
                error:
                    Some(DieselError::DatabaseError(
                        DatabaseErrorKind::ClosedConnection
                        | DatabaseErrorKind::UnableToSendCommand,
                        _,
                    )),
                ..
            } => CONNECTION_CLOSED.set(true),
            _ => {}
        }
    }
}

const PG_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");
const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");

/// SQLite waits this long for a competing writer before giving up.
const SQLITE_BUSY_TIMEOUT_MS: u64 = 5_000;

/// How much of the SQLite file each connection reads through a memory map
/// instead of `read` calls into its own 2 MB page cache. Ten connections
/// each caching their own pages of a 100 MB database mostly missed: a page
/// view of random members read its pages again with a system call each.
/// Mapped, every connection shares the kernel's page cache without a copy.
/// (Address space, not memory: a file smaller than this maps what it has.)
const SQLITE_MMAP_BYTES: u64 = 1 << 30;

/// Which database engine serves this process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// PostgreSQL.
    Postgres,
    /// SQLite.
    Sqlite,
}

impl Backend {
    /// Chooses the backend from the URL's scheme.
    pub fn from_url(url: &str) -> anyhow::Result<Self> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else if url.starts_with("sqlite://") || url.starts_with("file:") {
            Ok(Backend::Sqlite)
        } else {
            anyhow::bail!("DATABASE_URL must start with postgres:// or sqlite:// (got {url:?})")
        }
    }

    /// Name for logs and `/readyz`.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Postgres => "postgres",
            Backend::Sqlite => "sqlite",
        }
    }
}

/// Whether a PostgreSQL URL names a server on this host: a Unix socket
/// (a host that is a path, `%2F…` in the URL or `?host=/…`, or no host at
/// all, libpq's default) or a loopback address. There a round trip is a few
/// microseconds of the server's own CPU, less than handing the work to a
/// blocking thread costs, so short reads run on the worker thread
/// ([`Db::read`]); across hosts the worker would sit idle for the network.
pub fn is_colocated_postgres(url: &str) -> bool {
    let Some((_, rest)) = url.split_once("://") else {
        return false;
    };
    let (authority_and_path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let host_param = query.split('&').find_map(|pair| pair.strip_prefix("host="));
    if let Some(host) = host_param {
        return is_local_host(host);
    }
    let authority = authority_and_path
        .split_once('/')
        .map_or(authority_and_path, |(authority, _)| authority);
    let host_and_port = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    let host = if let Some(bracketed) = host_and_port.strip_prefix('[') {
        bracketed
            .split_once(']')
            .map_or(bracketed, |(host, _)| host)
    } else {
        host_and_port
            .split_once(':')
            .map_or(host_and_port, |(host, _)| host)
    };
    is_local_host(host)
}

fn is_local_host(host: &str) -> bool {
    let lower = host.to_ascii_lowercase();
    lower.is_empty()
        || lower.starts_with('/')
        || lower.starts_with("%2f")
        || lower == "localhost"
        || lower
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Errors of the repository layer.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The row asked for does not exist (or is not in the caller's scope).
    #[error("not found")]
    NotFound,
    /// A unique constraint refused the write: someone else took the value
    /// first. The key says which, so the caller can name the field.
    #[error("unique constraint violated: {0:?}")]
    Conflict(UniqueKey),
    /// No connection could be had (database down or pool exhausted).
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// Any other query failure.
    #[error(transparent)]
    Query(DieselError),
}

impl From<DieselError> for DbError {
    fn from(error: DieselError) -> Self {
        match error {
            DieselError::NotFound => DbError::NotFound,
            DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
                DbError::Conflict(UniqueKey::of_violation(
                    info.constraint_name(),
                    info.message(),
                ))
            }
            DieselError::DatabaseError(DatabaseErrorKind::ClosedConnection, info) => {
                DbError::Unavailable(info.message().to_owned())
            }
            other => DbError::Query(other),
        }
    }
}

/// The unique constraints a user can run into, recognised the same way on
/// both backends: PostgreSQL names the constraint, SQLite lists the columns
/// ("UNIQUE constraint failed: users.email"). One table here, so no caller
/// matches on error text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UniqueKey {
    /// An account already uses this email address.
    UserEmail,
    /// A workspace already has this slug.
    WorkspaceSlug,
    /// The workspace already has a role with this name.
    RoleName,
    /// The person is already a member of the workspace.
    Membership,
    /// The address already has a pending invitation to the workspace.
    PendingInvitation,
    /// The organization already has a team of this name (in any case).
    TeamName,
    /// The workspace already has a project of this name (in any case).
    ProjectName,
    /// The workspace already has an agent of this name (in any case).
    AgentName,
    /// The wallet already has an entry made under this idempotency key.
    LedgerIdempotencyKey,
    /// A coupon already has this code.
    CouponCode,
    /// Another constraint (a bug or a race on a key no form shows); kept
    /// with the database's own words for the log.
    Other(String),
}

impl UniqueKey {
    /// Recognises the constraint from PostgreSQL's name or SQLite's message.
    fn of_violation(constraint: Option<&str>, message: &str) -> Self {
        const KNOWN: &[(&str, &str, UniqueKey)] = &[
            ("users_email_key", "users.email", UniqueKey::UserEmail),
            (
                "workspaces_slug_key",
                "workspaces.slug",
                UniqueKey::WorkspaceSlug,
            ),
            (
                "roles_workspace_id_name_key",
                "roles.workspace_id, roles.name",
                UniqueKey::RoleName,
            ),
            (
                "memberships_workspace_id_user_id_key",
                "memberships.workspace_id, memberships.user_id",
                UniqueKey::Membership,
            ),
            (
                "invitations_pending_key",
                "invitations.workspace_id, invitations.email",
                UniqueKey::PendingInvitation,
            ),
            (
                "workspaces_team_name_key",
                "index 'workspaces_team_name_key'",
                UniqueKey::TeamName,
            ),
            (
                "projects_workspace_name_key",
                "index 'projects_workspace_name_key'",
                UniqueKey::ProjectName,
            ),
            (
                "agents_workspace_name_key",
                "index 'agents_workspace_name_key'",
                UniqueKey::AgentName,
            ),
            (
                "ledger_entries_workspace_id_idempotency_key_key",
                "ledger_entries.workspace_id, ledger_entries.idempotency_key",
                UniqueKey::LedgerIdempotencyKey,
            ),
            ("coupons_pkey", "coupons.code", UniqueKey::CouponCode),
        ];
        KNOWN
            .iter()
            .find(|(pg_name, sqlite_columns, _)| match constraint {
                Some(name) => name == *pg_name,
                None => message.ends_with(sqlite_columns),
            })
            .map(|(_, _, key)| key.clone())
            .unwrap_or_else(|| UniqueKey::Other(constraint.unwrap_or(message).to_owned()))
    }
}

/// Turns the row count of an update or delete addressed to one row into
/// the answer: no row means it isn't there, or isn't in the caller's
/// workspace, or no longer in the state the statement expected.
pub(crate) fn expect_one(changed: usize) -> Result<(), DbError> {
    if changed == 0 {
        Err(DbError::NotFound)
    } else {
        Ok(())
    }
}

/// Handle to the database: the pool plus the backend it talks to.
#[derive(Clone)]
pub struct Db {
    pool: DbPool,
    backend: Backend,
    statements: Tally,
    reads_on_workers: bool,
    charges: std::sync::Arc<charge_queue::ChargeQueue>,
    /// Keeps SQLite's checkpoint thread running while any clone of this
    /// handle lives (see [`checkpoint`]); `None` on PostgreSQL.
    _checkpoints: Option<std::sync::Arc<checkpoint::Checkpointer>>,
}

/// Sets up each new connection: SQLite pragmas, and the [`Observer`].
#[derive(Debug, Clone)]
struct Customizer {
    statements: Tally,
    /// SQLite's `wal_autocheckpoint` when a checkpoint thread runs (see
    /// [`checkpoint`]); SQLite's default otherwise.
    checkpoint_at_pages: Option<u32>,
}

impl CustomizeConnection<AnyConnection, diesel::r2d2::Error> for Customizer {
    fn on_acquire(&self, conn: &mut AnyConnection) -> Result<(), diesel::r2d2::Error> {
        conn.set_instrumentation(Observer {
            total: self.statements.clone(),
        });
        if let AnyConnection::Sqlite(sqlite) = conn {
            sqlite
                .batch_execute(&format!(
                    "PRAGMA foreign_keys = ON; PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}; \
                     PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                     PRAGMA mmap_size = {SQLITE_MMAP_BYTES};"
                ))
                .map_err(diesel::r2d2::Error::QueryError)?;
            if let Some(pages) = self.checkpoint_at_pages {
                sqlite
                    .batch_execute(&format!("PRAGMA wal_autocheckpoint = {pages};"))
                    .map_err(diesel::r2d2::Error::QueryError)?;
            }
        }
        Ok(())
    }
}

impl Db {
    /// Connects, checks the connection for real (so a wrong password is
    /// reported as such), and builds the pool. Does not migrate.
    pub fn connect(url: &str, pool_size: u32) -> anyhow::Result<Self> {
        let backend = Backend::from_url(url)?;
        let connection_url = match backend {
            Backend::Postgres => url.to_owned(),
            Backend::Sqlite => sqlite_path(url),
        };
        if backend == Backend::Sqlite
            && let Some(parent) = std::path::Path::new(&connection_url).parent()
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent)?;
        }
        // Establish once directly: r2d2 would hide the real error behind a timeout.
        match backend {
            Backend::Postgres => drop(
                diesel::PgConnection::establish(&connection_url)
                    .map_err(|e| anyhow::anyhow!("cannot connect to PostgreSQL: {e}"))?,
            ),
            Backend::Sqlite => drop(
                diesel::SqliteConnection::establish(&connection_url).map_err(|e| {
                    anyhow::anyhow!("cannot open SQLite database {connection_url}: {e}")
                })?,
            ),
        }
        let statements = Tally::default();
        let checkpoints = match backend {
            Backend::Sqlite => checkpoint::Checkpointer::start(&connection_url),
            Backend::Postgres => None,
        };
        let pool = Pool::builder()
            .max_size(pool_size)
            // No `SELECT 1` before each use: a PostgreSQL connection that
            // died under the pool (a restart, a killed backend) is found by
            // the error of its next query and discarded (`Manager`).
            .test_on_check_out(false)
            // Longer than SQLite's busy timeout, so a waiting writer fails on
            // the lock (a clear error) before the pool gives up.
            .connection_timeout(Duration::from_millis(SQLITE_BUSY_TIMEOUT_MS + 3_000))
            .connection_customizer(Box::new(Customizer {
                statements: statements.clone(),
                checkpoint_at_pages: checkpoints
                    .as_ref()
                    .map(|_| checkpoint::WRITERS_CHECKPOINT_AT_PAGES),
            }))
            .build(Manager(ConnectionManager::<AnyConnection>::new(
                connection_url,
            )))?;
        Ok(Self {
            pool,
            backend,
            statements,
            reads_on_workers: backend == Backend::Sqlite || is_colocated_postgres(url),
            charges: std::sync::Arc::default(),
            _checkpoints: checkpoints.map(std::sync::Arc::new),
        })
    }

    /// Overrides where short reads run (see [`Db::read`]): `Some(false)`
    /// keeps every query off the worker threads, `Some(true)` runs short
    /// reads there even for a PostgreSQL on another host; `None` keeps the
    /// default (SQLite, or a PostgreSQL on this host).
    pub fn with_reads_on_workers(self, choice: Option<bool>) -> Self {
        Self {
            reads_on_workers: choice.unwrap_or(self.reads_on_workers),
            ..self
        }
    }

    /// Whether short reads run on the calling worker thread when a
    /// connection is free (see [`Db::read`]).
    pub fn reads_on_workers(&self) -> bool {
        self.reads_on_workers
    }

    /// Every statement this pool's connections have run (tests compare it
    /// before and after a request; background work counts too).
    pub fn statements(&self) -> u64 {
        self.statements.get()
    }

    /// Applies pending embedded migrations for this backend; returns how many ran.
    pub fn migrate(&self) -> anyhow::Result<usize> {
        let mut conn = self.pool.get()?;
        let applied = match &mut *conn {
            AnyConnection::Postgresql(pg) => {
                pg.run_pending_migrations(PG_MIGRATIONS).map(|v| v.len())
            }
            AnyConnection::Sqlite(sqlite) => sqlite
                .run_pending_migrations(SQLITE_MIGRATIONS)
                .map(|v| v.len()),
        }
        .map_err(|e| anyhow::anyhow!("migrations failed: {e}"))?;
        Ok(applied)
    }

    /// On PostgreSQL, a sentence saying member search has no trigram index
    /// (migration 000007 skips it where `pg_trgm` can't be created), or
    /// `None` when it is there (and always on SQLite, whose index is FTS5).
    pub fn missing_search_index(&self) -> Option<String> {
        #[derive(QueryableByName)]
        struct Found {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let mut conn = self.pool.get().ok()?;
        let AnyConnection::Postgresql(pg) = &mut *conn else {
            return None;
        };
        let found = diesel::sql_query(
            "SELECT COUNT(*) AS n FROM pg_indexes \
             WHERE schemaname = current_schema() AND indexname = 'users_name_trgm'",
        )
        .get_result::<Found>(pg)
        .ok()?;
        (found.n == 0).then(|| {
            "member search has no trigram index: the pg_trgm extension could not be created \
             (see migration 000007); searches scan the members. Run CREATE EXTENSION pg_trgm \
             as a superuser and create the indexes users_name_trgm and users_email_trgm."
                .to_owned()
        })
    }

    /// Which backend this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A connection for start-up and command-line work (not for request handlers).
    pub fn connection(&self) -> Result<PooledConnection<Manager>, DbError> {
        self.pool
            .get()
            .map_err(|e| DbError::Unavailable(e.to_string()))
    }

    /// Enters a charge (see [`billing::enter_charge`]) with the other
    /// charges waiting for its wallet's writer, in one transaction
    /// ([`charge_queue`]).
    pub async fn enter_charge(&self, charge: billing::NewCharge) -> billing::ChargeOutcome {
        self.charges.enter(&self.pool, self.backend, charge).await
    }

    /// Runs blocking repository work on the blocking pool with a pooled connection.
    pub async fn run<T, E, F>(&self, work: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
        F: FnOnce(&mut AnyConnection) -> Result<T, E> + Send + 'static,
    {
        self.run_then(work, false).await
    }

    /// Like [`Db::run`], and then, when it succeeded, the connection is
    /// handed on to the request's next `Db::run` (see [`RequestDb`]): for
    /// work the request's extractors do before its handler reads its page
    /// (recording a session's activity).
    pub async fn run_handing_on<T, E, F>(&self, work: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
        F: FnOnce(&mut AnyConnection) -> Result<T, E> + Send + 'static,
    {
        self.run_then(work, true).await
    }

    async fn run_then<T, E, F>(&self, work: F, hand_on: bool) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
        F: FnOnce(&mut AnyConnection) -> Result<T, E> + Send + 'static,
    {
        let pool = self.pool.clone();
        let request = RequestDb::current();
        tokio::task::spawn_blocking(move || {
            let _counting = SinkGuard::set(request.statements.clone());
            let mut conn = request.connection(&pool)?;
            CONNECTION_CLOSED.set(false);
            let outcome = work(&mut conn);
            if hand_on && outcome.is_ok() {
                request.hand_on(conn);
            }
            outcome
        })
        .await
        .map_err(|e| E::from(DbError::Unavailable(format!("blocking pool: {e}"))))?
    }

    /// Like [`Db::run`] for a short read: a page's rows, a session. It may
    /// run again without harm, so when its connection turns out closed
    /// (PostgreSQL restarted, the backend was killed) that connection is
    /// discarded and the read runs again on another, up to once per pooled
    /// connection plus one.
    ///
    /// On SQLite, and on a PostgreSQL on this host
    /// ([`is_colocated_postgres`]), when a connection is free at once the
    /// read runs right here on the calling worker thread: it is tens of
    /// microseconds of this host's CPU, less than handing it to a blocking
    /// thread and waking the worker again costs (the SQLite dashboard
    /// served 38 % more views a second; on PostgreSQL about 40 % more, with
    /// half the p99, benches/README.md). It never waits for a
    /// connection there: a busy pool sends it to the blocking pool as
    /// before. On SQLite in WAL mode a reader doesn't wait for writers; on
    /// PostgreSQL a plain read waits only for a lock that DDL takes. So
    /// `work` must not write (a write could wait for a lock) and must stay
    /// short (an export or a scan belongs in [`Db::read_long_if`] or
    /// [`Db::run`]): the worker serves nothing else meanwhile.
    /// `db_reads_on_workers` in the settings overrides the choice.
    pub async fn read<T, E, F>(&self, work: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
        F: Fn(&mut AnyConnection) -> Result<T, E> + Send + 'static,
    {
        self.idempotent(work, false, true).await
    }

    /// Like [`Db::read`], except that when `long` (a search that may walk
    /// many rows) it never runs on the calling worker thread, only on the
    /// blocking pool.
    pub async fn read_long_if<T, E, F>(&self, long: bool, work: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
        F: Fn(&mut AnyConnection) -> Result<T, E> + Send + 'static,
    {
        self.idempotent(work, false, !long).await
    }

    /// Like [`Db::read`], and then, when it succeeded, the connection is
    /// handed on to the request's next `Db::run` instead of going back to
    /// the pool: for the session load, which every signed-in page view
    /// follows with its own data (see [`RequestDb`]).
    pub async fn read_handing_on<T, E, F>(&self, work: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
        F: Fn(&mut AnyConnection) -> Result<T, E> + Send + 'static,
    {
        self.idempotent(work, true, true).await
    }

    async fn idempotent<T, E, F>(&self, work: F, hand_on: bool, inline: bool) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
        F: Fn(&mut AnyConnection) -> Result<T, E> + Send + 'static,
    {
        let request = RequestDb::current();
        if inline
            && self.reads_on_workers
            && let Some(mut conn) = request.free_connection(&self.pool)
        {
            let counting = SinkGuard::set(request.statements.clone());
            CONNECTION_CLOSED.set(false);
            let outcome = work(&mut conn);
            if outcome.is_err() && CONNECTION_CLOSED.get() {
                // Discarded on drop (`Manager::has_broken`); the retries
                // below run on the blocking pool, where waiting for a new
                // connection holds no worker.
                tracing::warn!("database connection was closed; retrying on another");
                drop(conn);
                drop(counting);
            } else {
                if hand_on && outcome.is_ok() {
                    request.hand_on(conn);
                }
                return outcome;
            }
        }
        let pool = self.pool.clone();
        tokio::task::spawn_blocking(move || {
            let _counting = SinkGuard::set(request.statements.clone());
            let attempts = pool.max_size() + 1;
            let mut attempt = 0;
            loop {
                attempt += 1;
                let mut conn = request.connection(&pool)?;
                CONNECTION_CLOSED.set(false);
                let outcome = work(&mut conn);
                if outcome.is_err() && CONNECTION_CLOSED.get() && attempt < attempts {
                    tracing::warn!(
                        attempt,
                        "database connection was closed; retrying on another"
                    );
                    // Dropping it here hands it to `Manager::has_broken`,
                    // which sees the flag and discards it.
                    drop(conn);
                    continue;
                }
                if hand_on && outcome.is_ok() {
                    request.hand_on(conn);
                }
                return outcome;
            }
        })
        .await
        .map_err(|e| E::from(DbError::Unavailable(format!("blocking pool: {e}"))))?
    }

    /// Checks that a query round-trips, for `/readyz`.
    pub async fn ping(&self) -> Result<(), DbError> {
        self.read(|conn| {
            conn.batch_execute("SELECT 1")?;
            Ok::<_, DbError>(())
        })
        .await
    }
}

/// Points this thread's statement sink at a request's counter while a
/// `Db::run` works, and clears it afterwards.
struct SinkGuard;

impl SinkGuard {
    fn set(sink: Option<Tally>) -> Self {
        STATEMENT_SINK.set(sink);
        SinkGuard
    }
}

impl Drop for SinkGuard {
    fn drop(&mut self) {
        STATEMENT_SINK.set(None);
    }
}

fn sqlite_path(url: &str) -> String {
    url.strip_prefix("sqlite://").unwrap_or(url).to_owned()
}

/// SQLite takes one writer at a time. Writers of this process queue here
/// before `BEGIN IMMEDIATE`, and the next is woken the moment the last
/// commits; left to SQLite's busy handler they would poll with sleeps of
/// up to 100 ms, which made a burst of charges wait up to half a second.
/// (One gate per process: a process serves one SQLite database; the tests,
/// which run many, only queue their writes a little longer.)
static SQLITE_WRITER: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Runs `work` in one write transaction. On SQLite the transaction begins
/// IMMEDIATE (a deferred one that later upgrades to a write fails at once
/// with SQLITE_BUSY instead of waiting for `busy_timeout`), after the
/// process's other writers (see [`SQLITE_WRITER`]).
pub fn write_transaction<T, E, F>(conn: &mut AnyConnection, work: F) -> Result<T, E>
where
    E: From<DbError>,
    F: FnOnce(&mut AnyConnection) -> Result<T, E>,
{
    let AnyConnection::Sqlite(sqlite) = conn else {
        return conn
            .transaction(|conn| work(conn).map_err(TxError::Work))
            .map_err(TxError::into_inner);
    };
    let depth = <AnsiTransactionManager as TransactionManager<diesel::SqliteConnection>>::transaction_manager_status_mut(sqlite)
        .transaction_depth()
        .map_err(|e| E::from(e.into()))?;
    if depth.is_some() {
        // Already inside a write transaction: nest as a savepoint.
        return conn
            .transaction(|conn| work(conn).map_err(TxError::Work))
            .map_err(TxError::into_inner);
    }
    let _writer = SQLITE_WRITER
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    AnsiTransactionManager::begin_transaction_sql(sqlite, "BEGIN IMMEDIATE")
        .map_err(|e| E::from(e.into()))?;
    let outcome = work(conn);
    let AnyConnection::Sqlite(sqlite) = conn else {
        unreachable!("the connection's backend cannot change within a transaction")
    };
    match outcome {
        Ok(value) => {
            <AnsiTransactionManager as TransactionManager<diesel::SqliteConnection>>::commit_transaction(sqlite)
                .map_err(|e| E::from(e.into()))?;
            Ok(value)
        }
        Err(error) => {
            <AnsiTransactionManager as TransactionManager<diesel::SqliteConnection>>::rollback_transaction(sqlite)
                .map_err(|e| E::from(e.into()))?;
            Err(error)
        }
    }
}

/// Lets a caller's error type pass through diesel's `transaction`, which
/// wants an error it can build from `diesel::result::Error`.
enum TxError<E> {
    Work(E),
    Diesel(DieselError),
}

impl<E> From<DieselError> for TxError<E> {
    fn from(error: DieselError) -> Self {
        TxError::Diesel(error)
    }
}

impl<E: From<DbError>> TxError<E> {
    fn into_inner(self) -> E {
        match self {
            TxError::Work(error) => error,
            TxError::Diesel(error) => E::from(error.into()),
        }
    }
}

/// The current time as stored: UTC without zone, truncated to microseconds
/// (what both backends keep), so a value read back equals the one written.
pub fn now() -> chrono::NaiveDateTime {
    let now = chrono::Utc::now().naive_utc();
    now.with_nanosecond((now.nanosecond() / 1_000) * 1_000)
        .unwrap_or(now)
}

/// `TENANTRY_TEST_POSTGRES_URL` for a unit test of `what` on PostgreSQL,
/// or `None` after saying the test was skipped (a failure under
/// `TENANTRY_REQUIRE_POSTGRES`, as CI sets it).
#[cfg(test)]
pub(crate) fn test_postgres_url(what: &str) -> Option<String> {
    let Ok(url) = std::env::var("TENANTRY_TEST_POSTGRES_URL") else {
        assert!(
            std::env::var_os("TENANTRY_REQUIRE_POSTGRES").is_none(),
            "TENANTRY_REQUIRE_POSTGRES is set but TENANTRY_TEST_POSTGRES_URL is not"
        );
        eprintln!("SKIPPED (no TENANTRY_TEST_POSTGRES_URL): {what}");
        return None;
    };
    Some(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sqlite_db(dir: &tempfile::TempDir, pool_size: u32) -> Db {
        let url = format!("sqlite://{}/reads.db", dir.path().display());
        Db::connect(&url, pool_size).expect("open SQLite")
    }

    fn read_thread(conn: &mut AnyConnection) -> Result<std::thread::ThreadId, DbError> {
        conn.batch_execute("SELECT 1")?;
        Ok(std::thread::current().id())
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_sqlite_read_with_a_free_connection_runs_on_the_calling_thread() {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = sqlite_db(&dir, 2);
        let ran_on = db.read(read_thread).await.expect("read");
        assert_eq!(ran_on, std::thread::current().id());
    }

    /// With every connection taken, the read must wait on the blocking pool,
    /// not on the worker thread: a worker blocked in `pool.get()` can't run
    /// the task that gives the connection back until the pool's own wait
    /// (`SQLITE_BUSY_TIMEOUT_MS` + 3 s) has run out, and meanwhile serves
    /// nobody. The connection comes back after 200 ms here.
    #[tokio::test(flavor = "current_thread")]
    async fn a_sqlite_read_waits_for_a_busy_pool_off_the_calling_thread() {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = sqlite_db(&dir, 1);
        let held = db.connection().expect("the only connection");
        let give_back = async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            drop(held);
        };
        let started = std::time::Instant::now();
        let (ran_on, ()) = tokio::join!(db.read(read_thread), give_back);
        let waited = started.elapsed();
        let ran_on = ran_on.expect("the read ran once the connection came back");
        assert_ne!(ran_on, std::thread::current().id());
        assert!(
            waited < Duration::from_millis(SQLITE_BUSY_TIMEOUT_MS),
            "the worker thread was blocked waiting for the pool ({waited:?})"
        );
    }

    #[test]
    fn postgres_on_this_host_is_told_from_its_url() {
        for local in [
            "postgres://postgres@127.0.0.1/test",
            "postgres://postgres@127.0.0.1:5432/test?sslmode=disable",
            "postgresql://app:secret@localhost/tenantry",
            "postgres://app@[::1]:5432/tenantry",
            "postgres://postgres@%2Fvar%2Frun%2Fpostgresql/postgres",
            "postgres:///tenantry",
            "postgres://app@db.internal/tenantry?host=/var/run/postgresql",
        ] {
            assert!(is_colocated_postgres(local), "{local} is on this host");
        }
        for remote in [
            "postgres://app:secret@db.internal:5432/tenantry",
            "postgres://app@10.0.0.7/tenantry",
            "postgres://app@[2001:db8::1]:5432/tenantry",
            "postgres://app@localhost.example.com/tenantry",
            "postgres://app@127.0.0.1/tenantry?host=db.internal",
        ] {
            assert!(
                !is_colocated_postgres(remote),
                "{remote} is across the network"
            );
        }
    }

    /// The PostgreSQL of `TENANTRY_TEST_POSTGRES_URL` (on this host in CI),
    /// or `None` after saying so (a failure under `TENANTRY_REQUIRE_POSTGRES`).
    fn test_postgres(pool_size: u32) -> Option<Db> {
        let url = test_postgres_url("PostgreSQL read placement")?;
        Some(Db::connect(&url, pool_size).expect("connect to the test PostgreSQL"))
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_postgres_read_runs_where_the_setting_says() {
        let Some(db) = test_postgres(2) else {
            return;
        };
        let db = db.with_reads_on_workers(Some(true));
        let ran_on = db.read(read_thread).await.expect("read");
        assert_eq!(ran_on, std::thread::current().id(), "on the worker");
        let db = db.with_reads_on_workers(Some(false));
        let ran_on = db.read(read_thread).await.expect("read");
        assert_ne!(ran_on, std::thread::current().id(), "on the blocking pool");
    }

    /// A pooled connection the server closed (a restart, a killed backend)
    /// fails the read on the worker; the read runs again on another
    /// connection, off the worker, and succeeds.
    #[tokio::test(flavor = "current_thread")]
    async fn a_postgres_read_on_the_worker_survives_a_killed_connection() {
        let Some(db) = test_postgres(1) else {
            return;
        };
        let db = db.with_reads_on_workers(Some(true));
        let pid = db
            .read(|conn| {
                #[derive(QueryableByName)]
                struct Pid {
                    #[diesel(sql_type = diesel::sql_types::Integer)]
                    pid: i32,
                }
                let row: Pid =
                    diesel::sql_query("SELECT pg_backend_pid() AS pid").get_result(conn)?;
                Ok::<_, DbError>(row.pid)
            })
            .await
            .expect("pid");
        let url = std::env::var("TENANTRY_TEST_POSTGRES_URL").expect("url");
        let mut admin = diesel::PgConnection::establish(&url).expect("admin connection");
        diesel::sql_query(format!("SELECT pg_terminate_backend({pid})"))
            .execute(&mut admin)
            .expect("terminate");
        tokio::time::sleep(Duration::from_millis(200)).await;
        let ran_on = db.read(read_thread).await.expect("read after the kill");
        assert_ne!(
            ran_on,
            std::thread::current().id(),
            "retried off the worker"
        );
    }
}

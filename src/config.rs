//! Configuration: defaults, then an optional `tenantry.toml`, then the
//! environment (`TENANTRY_*` and `DATABASE_URL`), resolved once at start-up
//! into a [`Config`] that the rest of the program reads and never re-parses.
//! Tests build a `Config` directly instead of touching the environment.

use std::path::{Path, PathBuf};

use anyhow::Context;
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// Raw settings as an operator writes them; see the README for each key.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// `sqlite://path` or `postgres://…`; defaults to a SQLite file in the data dir.
    pub database_url: Option<String>,
    /// Address the HTTP server listens on.
    pub bind: String,
    /// Where the SQLite file, the generated secret and outbox files live.
    pub data_dir: PathBuf,
    /// The public URL; links in emails are built from it, never from `Host`.
    pub base_url: Option<String>,
    /// 64+ bytes as hex that sign cookies and CSRF tokens; generated when unset.
    pub secret_key: Option<String>,
    /// SMTP server for outgoing mail; unset writes mail to `data/outbox/`.
    pub smtp_url: Option<String>,
    /// `text` for people, `json` for log shippers.
    pub log_format: LogFormat,
    /// Minutes of inactivity after which a session ends.
    pub session_idle_minutes: u32,
    /// Hours after sign-in after which a session ends however active it is.
    pub session_lifetime_hours: u32,
    /// Failed sign-ins per account within the window before it is throttled.
    pub login_max_failures_per_account: u32,
    /// Failed sign-ins per client IP within the window before it is throttled.
    pub login_max_failures_per_ip: u32,
    /// The sign-in throttling window in minutes.
    pub login_window_minutes: u32,
    /// Sign-ups per client IP within `signup_window_minutes` (each costs an argon2 hash).
    pub signup_max_per_ip: u32,
    /// The sign-up throttling window in minutes.
    pub signup_window_minutes: u32,
    /// Organizations created per client IP within `org_create_window_minutes`
    /// (against slug squatting).
    pub org_create_max_per_ip: u32,
    /// The organization-creation throttling window in minutes.
    pub org_create_window_minutes: u32,
    /// Calls per minute a standard member API key may make, across all
    /// instances.
    pub api_key_calls_per_minute: u32,
    /// Calls per minute an AI-agent API key may make, across all instances.
    pub ai_agent_key_calls_per_minute: u32,
    /// Take the client IP from `X-Forwarded-For` (only behind a proxy you run).
    pub trust_proxy_headers: bool,
    /// How many proxies you run in front of Tenantry, each appending to
    /// `X-Forwarded-For`: the client IP is that many entries from the right.
    pub trusted_proxy_hops: u32,
    /// Size of the database connection pool.
    pub db_pool_size: u32,
    /// Whether short reads (a session, a page's rows) run on the HTTP
    /// worker thread when a connection is free, instead of a blocking
    /// thread: unset chooses yes for SQLite and for a PostgreSQL on this
    /// host, no for one across the network.
    pub db_reads_on_workers: Option<bool>,
    /// HTTP worker threads; unset is one per CPU, or two per CPU when
    /// PostgreSQL reads run on the workers (one waits for the database
    /// while the other serves).
    pub workers: Option<usize>,
    /// Send `X-Db-Statements` (SQL statements the request ran) on every
    /// response: for tests and benchmarks, not for production.
    pub expose_db_statements: bool,
    /// Argon2id memory cost in KiB (OWASP: 19456).
    pub argon2_memory_kib: u32,
    /// Argon2id iterations (OWASP: 2).
    pub argon2_iterations: u32,
    /// Days an archived organization can be restored before it is deleted.
    pub archive_retention_days: u32,
    /// New organizations start suspended at 0 credit and become active by
    /// themselves on their first top-up.
    pub require_prepaid: bool,
    /// The sender of outgoing mail.
    pub mail_from: String,
    /// Days an invitation link stays valid.
    pub invitation_ttl_days: u32,
    /// Seconds before the first retry of a failed email (doubles per attempt, capped at an hour).
    pub mail_retry_base_seconds: u32,
    /// Seconds between looks at the outbox when nothing wakes the worker.
    pub mail_poll_seconds: u32,
    /// Password-reset requests per email address within the sign-in window.
    pub password_reset_max_per_email: u32,
    /// Password-reset requests per client IP within the sign-in window.
    pub password_reset_max_per_ip: u32,
    /// Hours a running agent or app may go without activity before it is stopped.
    pub agent_idle_hours: u32,
    /// Seconds between looks for idle agents and apps.
    pub idle_check_seconds: u32,
    /// The apps workspaces can install (`[[apps]]` in `tenantry.toml`).
    pub apps: Vec<AppSpec>,
    /// Percentages of a monthly spend limit at which the members who can
    /// read billing get an email, once per threshold and month.
    pub budget_alert_thresholds: Vec<u32>,
    /// The plans workspaces choose from (`[[plans]]` in `tenantry.toml`).
    pub plans: Vec<PlanSpec>,
    /// Seconds between runs of the plan-fee job.
    pub plan_fee_check_seconds: u32,
    /// The secret the payment provider signs its notifications with
    /// (unset: derived from the secret key, which the built-in sandbox uses).
    pub payment_webhook_secret: Option<String>,
}

/// One plan: its monthly fee and the limits it includes (set on the
/// workspace when it moves to the plan).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PlanSpec {
    /// Stable key, stored on each wallet (`free` is every wallet's first).
    pub key: String,
    /// Name shown on the billing page.
    pub name: String,
    /// Whole credits charged at the start of each month.
    pub monthly_credits: u32,
    /// Agents running at once (none: no limit).
    pub max_running_agents: Option<i32>,
    /// Agent hours per month (none: no limit).
    pub max_agent_hours: Option<i32>,
    /// App instances (none: no limit).
    pub max_app_instances: Option<i32>,
}

/// The plans when the configuration names none.
fn default_plans() -> Vec<PlanSpec> {
    let plan = |key: &str, name: &str, credits: u32, limits: [Option<i32>; 3]| PlanSpec {
        key: key.into(),
        name: name.into(),
        monthly_credits: credits,
        max_running_agents: limits[0],
        max_agent_hours: limits[1],
        max_app_instances: limits[2],
    };
    vec![
        plan("free", "Free", 0, [Some(2), Some(20), Some(1)]),
        plan("team", "Team", 20, [Some(10), Some(200), Some(5)]),
        plan("business", "Business", 100, [None, None, None]),
    ]
}

/// One app of the catalogue.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AppSpec {
    /// Stable key, stored with each instance (letters, digits, hyphens).
    pub key: String,
    /// Name shown in the catalogue.
    pub name: String,
    /// Category it is listed under.
    pub category: String,
    /// What it does.
    pub description: String,
    /// Monthly price in cents, per instance.
    pub monthly_price_cents: u32,
}

/// The catalogue when the configuration names none.
fn default_apps() -> Vec<AppSpec> {
    let app = |key: &str, name: &str, category: &str, description: &str, cents: u32| AppSpec {
        key: key.into(),
        name: name.into(),
        category: category.into(),
        description: description.into(),
        monthly_price_cents: cents,
    };
    vec![
        app(
            "notebook",
            "Notebook",
            "Data",
            "Jupyter-style notebooks next to your projects.",
            900,
        ),
        app(
            "vector-db",
            "Vector database",
            "Data",
            "Embeddings storage and similarity search.",
            2_500,
        ),
        app(
            "chat-ui",
            "Chat UI",
            "Interface",
            "A web chat in front of your agents.",
            500,
        ),
    ]
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            database_url: None,
            bind: "127.0.0.1:8080".into(),
            data_dir: PathBuf::from("data"),
            base_url: None,
            secret_key: None,
            smtp_url: None,
            log_format: LogFormat::Text,
            session_idle_minutes: 30,
            session_lifetime_hours: 12,
            login_max_failures_per_account: 10,
            login_max_failures_per_ip: 50,
            login_window_minutes: 15,
            signup_max_per_ip: 20,
            signup_window_minutes: 60,
            org_create_max_per_ip: 20,
            org_create_window_minutes: 60,
            api_key_calls_per_minute: 6_000,
            ai_agent_key_calls_per_minute: 1_200,
            trust_proxy_headers: false,
            trusted_proxy_hops: 1,
            db_pool_size: 10,
            db_reads_on_workers: None,
            workers: None,
            expose_db_statements: false,
            argon2_memory_kib: 19_456,
            argon2_iterations: 2,
            archive_retention_days: 30,
            require_prepaid: false,
            mail_from: "Tenantry <no-reply@tenantry.localhost>".into(),
            invitation_ttl_days: 7,
            mail_retry_base_seconds: 30,
            mail_poll_seconds: 5,
            password_reset_max_per_email: 3,
            password_reset_max_per_ip: 20,
            agent_idle_hours: 12,
            idle_check_seconds: 300,
            apps: default_apps(),
            payment_webhook_secret: None,
            budget_alert_thresholds: vec![50, 80, 100],
            plans: default_plans(),
            plan_fee_check_seconds: 300,
        }
    }
}

impl Settings {
    /// Reads defaults, `tenantry.toml` (or the file named by
    /// `TENANTRY_CONFIG`) and the environment, in that order of precedence.
    pub fn load() -> anyhow::Result<Self> {
        let file = std::env::var("TENANTRY_CONFIG").unwrap_or_else(|_| "tenantry.toml".into());
        Figment::from(Serialized::defaults(Settings::default()))
            .merge(Toml::file(&file))
            .merge(Env::prefixed("TENANTRY_"))
            .merge(Env::raw().only(&["DATABASE_URL"]))
            .extract()
            .context("invalid configuration")
    }
}

/// Configuration after defaults are derived and the secret is loaded.
#[derive(Clone)]
pub struct Config {
    /// Database URL with the backend chosen by its scheme.
    pub database_url: String,
    /// Address to listen on.
    pub bind: String,
    /// Data directory (created if missing).
    pub data_dir: PathBuf,
    /// Public base URL without a trailing slash.
    pub base_url: String,
    /// Secret key material (at least 64 bytes).
    pub secret_key: Vec<u8>,
    /// SMTP URL, if mail goes out over SMTP.
    pub smtp_url: Option<String>,
    /// Log line format.
    pub log_format: LogFormat,
    /// Session idle timeout.
    pub session_idle: chrono::Duration,
    /// Session absolute lifetime.
    pub session_lifetime: chrono::Duration,
    /// Sign-in throttling.
    pub login_throttle: LoginThrottle,
    /// Sign-ups per client IP.
    pub signup_throttle: RateLimit,
    /// Organization creations per client IP.
    pub org_create_throttle: RateLimit,
    /// Calls per minute for members' API keys, by kind.
    pub key_rate_limits: crate::services::rate_limits::KeyRateLimits,
    /// Proxies trusted to append the client IP to `X-Forwarded-For`; `None`
    /// when the socket peer is the client.
    pub trusted_proxy_hops: Option<std::num::NonZeroU32>,
    /// Connection pool size.
    pub db_pool_size: u32,
    /// Where short reads run; `None` lets the database choose by backend
    /// and host.
    pub db_reads_on_workers: Option<bool>,
    /// HTTP worker threads, if set.
    pub workers: Option<usize>,
    /// Whether responses carry `X-Db-Statements`.
    pub expose_db_statements: bool,
    /// Argon2id cost parameters.
    pub argon2: Argon2Cost,
    /// Days an archived organization stays restorable.
    pub archive_retention_days: u32,
    /// New organizations start suspended until their first top-up.
    pub require_prepaid: bool,
    /// The sender of outgoing mail.
    pub mail_from: String,
    /// How long an invitation link stays valid.
    pub invitation_ttl: chrono::Duration,
    /// First retry delay of a failed email.
    pub mail_retry_base: std::time::Duration,
    /// Outbox poll interval.
    pub mail_poll: std::time::Duration,
    /// Limits of password-reset requests (counted like sign-in failures, in
    /// the database, within the sign-in window).
    pub reset_throttle: LoginThrottle,
    /// How long a running agent may go without activity before the idle
    /// job stops it.
    pub agent_idle: chrono::Duration,
    /// How often the idle job looks.
    pub idle_check: std::time::Duration,
    /// The apps workspaces can install.
    pub apps: Vec<AppSpec>,
    /// Budget alert thresholds, percentages of the monthly limit.
    pub budget_alert_thresholds: Vec<u32>,
    /// The plans workspaces choose from.
    pub plans: Vec<PlanSpec>,
    /// How often the plan-fee job runs.
    pub plan_fee_check: std::time::Duration,
    /// The payment provider's webhook secret, if configured.
    pub payment_webhook_secret: Option<String>,
}

/// Limits of failed sign-ins before further attempts are refused.
#[derive(Debug, Clone, Copy)]
pub struct LoginThrottle {
    /// Failures per account within the window.
    pub per_account: u32,
    /// Failures per client IP within the window.
    pub per_ip: u32,
    /// The window.
    pub window: chrono::Duration,
}

/// At most `max` events per key within a sliding `window`.
#[derive(Debug, Clone, Copy)]
pub struct RateLimit {
    /// Events allowed within the window.
    pub max: u32,
    /// The window.
    pub window: chrono::Duration,
}

impl RateLimit {
    fn minutes(max: u32, window_minutes: u32) -> Self {
        Self {
            max,
            window: chrono::Duration::minutes(window_minutes.into()),
        }
    }
}

/// Argon2id cost; tests pass a cheap one explicitly, production keeps OWASP's.
#[derive(Debug, Clone, Copy)]
pub struct Argon2Cost {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Iterations.
    pub iterations: u32,
}

impl Config {
    /// Derives the defaults that depend on other settings and loads or
    /// generates the secret key. Creates the data directory.
    pub fn resolve(settings: Settings) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&settings.data_dir)
            .with_context(|| format!("cannot create data dir {}", settings.data_dir.display()))?;
        let database_url = settings.database_url.clone().unwrap_or_else(|| {
            format!(
                "sqlite://{}",
                settings.data_dir.join("tenantry.db").display()
            )
        });
        let base_url = settings
            .base_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", settings.bind))
            .trim_end_matches('/')
            .to_owned();
        let secret_key = match &settings.secret_key {
            Some(hex_key) => decode_secret(hex_key).context("TENANTRY_SECRET_KEY")?,
            None => load_or_generate_secret(&settings.data_dir)?,
        };
        Ok(Self {
            database_url,
            bind: settings.bind,
            data_dir: settings.data_dir,
            base_url,
            secret_key,
            smtp_url: settings.smtp_url,
            log_format: settings.log_format,
            session_idle: chrono::Duration::minutes(settings.session_idle_minutes.into()),
            session_lifetime: chrono::Duration::hours(settings.session_lifetime_hours.into()),
            login_throttle: LoginThrottle {
                per_account: settings.login_max_failures_per_account,
                per_ip: settings.login_max_failures_per_ip,
                window: chrono::Duration::minutes(settings.login_window_minutes.into()),
            },
            signup_throttle: RateLimit::minutes(
                settings.signup_max_per_ip,
                settings.signup_window_minutes,
            ),
            org_create_throttle: RateLimit::minutes(
                settings.org_create_max_per_ip,
                settings.org_create_window_minutes,
            ),
            key_rate_limits: crate::services::rate_limits::KeyRateLimits {
                standard_per_minute: settings.api_key_calls_per_minute.max(1),
                ai_agent_per_minute: settings.ai_agent_key_calls_per_minute.max(1),
            },
            trusted_proxy_hops: if settings.trust_proxy_headers {
                Some(
                    std::num::NonZeroU32::new(settings.trusted_proxy_hops).context(
                        "TENANTRY_TRUSTED_PROXY_HOPS must be at least 1 when proxy headers are trusted",
                    )?,
                )
            } else {
                None
            },
            db_pool_size: settings.db_pool_size.max(1),
            db_reads_on_workers: settings.db_reads_on_workers,
            workers: settings.workers.map(|workers| workers.max(1)),
            expose_db_statements: settings.expose_db_statements,
            argon2: Argon2Cost {
                memory_kib: settings.argon2_memory_kib,
                iterations: settings.argon2_iterations,
            },
            archive_retention_days: settings.archive_retention_days,
            require_prepaid: settings.require_prepaid,
            mail_from: settings.mail_from,
            invitation_ttl: chrono::Duration::days(settings.invitation_ttl_days.into()),
            mail_retry_base: std::time::Duration::from_secs(
                settings.mail_retry_base_seconds.max(1).into(),
            ),
            mail_poll: std::time::Duration::from_secs(settings.mail_poll_seconds.max(1).into()),
            reset_throttle: LoginThrottle {
                per_account: settings.password_reset_max_per_email,
                per_ip: settings.password_reset_max_per_ip,
                window: chrono::Duration::minutes(settings.login_window_minutes.into()),
            },
            agent_idle: chrono::Duration::hours(settings.agent_idle_hours.max(1).into()),
            idle_check: std::time::Duration::from_secs(settings.idle_check_seconds.max(1).into()),
            apps: settings.apps,
            payment_webhook_secret: settings.payment_webhook_secret,
            budget_alert_thresholds: settings.budget_alert_thresholds,
            plans: settings.plans,
            plan_fee_check: std::time::Duration::from_secs(
                settings.plan_fee_check_seconds.max(1).into(),
            ),
        })
    }

    /// The longest throttling window: older throttle events can be purged.
    pub fn longest_throttle_window(&self) -> chrono::Duration {
        self.login_throttle
            .window
            .max(self.signup_throttle.window)
            .max(self.org_create_throttle.window)
    }

    /// Whether the public URL is HTTPS: cookies are `Secure` and HSTS is sent then.
    pub fn is_https(&self) -> bool {
        self.base_url.starts_with("https://")
    }
}

const SECRET_FILE: &str = "secret.key";
const SECRET_BYTES: usize = 64;

fn decode_secret(hex_key: &str) -> anyhow::Result<Vec<u8>> {
    let bytes = hex::decode(hex_key.trim()).context("the secret key must be hex")?;
    anyhow::ensure!(
        bytes.len() >= SECRET_BYTES,
        "the secret key must be at least {SECRET_BYTES} bytes (128 hex characters)"
    );
    Ok(bytes)
}

/// The secret survives restarts (so do sign-ins) because it is kept in the
/// data dir, readable by the owner only.
fn load_or_generate_secret(data_dir: &Path) -> anyhow::Result<Vec<u8>> {
    let path = data_dir.join(SECRET_FILE);
    if path.exists() {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        return decode_secret(&text).with_context(|| format!("bad secret in {}", path.display()));
    }
    let bytes: [u8; SECRET_BYTES] = rand::random();
    write_private(&path, &hex::encode(bytes))?;
    tracing::info!(path = %path.display(), "generated a new secret key");
    Ok(bytes.to_vec())
}

fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(contents.as_bytes())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_apps_table_replaces_the_built_in_catalogue() {
        let settings: Settings = Figment::from(Serialized::defaults(Settings::default()))
            .merge(Toml::string(
                "[[apps]]\nkey = \"grafana\"\nname = \"Grafana\"\ncategory = \"Monitoring\"\n\
                 description = \"Dashboards.\"\nmonthly_price_cents = 1200\n",
            ))
            .extract()
            .expect("valid settings");
        assert_eq!(settings.apps.len(), 1);
        assert_eq!(settings.apps[0].key, "grafana");
        assert_eq!(Settings::default().apps.len(), 3, "three built in");
    }
}

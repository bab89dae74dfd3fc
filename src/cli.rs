//! The command line: `tenantry serve` (the default), `tenantry migrate` and
//! `tenantry user create` for scripted setups. Configuration comes from the
//! environment and `tenantry.toml` (see the README), not from flags, so the
//! same settings drive every subcommand.

use std::io::Read;
use std::net::TcpListener;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::{Config, Settings};
use crate::db::{self, Db};
use crate::domain::{Email, Password, PersonName};
use crate::web::{self, AppState};

/// Tenantry: workspaces, organizations, members and wallets.
#[derive(Parser)]
#[command(name = "tenantry", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the web server (migrates the database first). The default.
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage accounts.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Manage coupons, which workspaces redeem on their billing page.
    Coupon {
        #[command(subcommand)]
        command: CouponCommand,
    },
}

#[derive(Subcommand)]
enum CouponCommand {
    /// Create a coupon; each workspace may redeem it once.
    Create {
        /// The code people type (letters, digits, hyphens; stored in capitals).
        #[arg(long)]
        code: String,
        /// Credits it adds, e.g. 50 or 12.5.
        #[arg(long)]
        credits: String,
        /// Last day it may be redeemed, YYYY-MM-DD (UTC); none by default.
        #[arg(long)]
        expires: Option<String>,
        /// How many workspaces may redeem it; any number by default.
        #[arg(long)]
        max_redemptions: Option<i32>,
    },
    /// List coupons with their redemptions.
    List,
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create an account with its personal workspace.
    Create {
        /// Email address (must be unused).
        #[arg(long)]
        email: String,
        /// Display name.
        #[arg(long)]
        name: String,
        /// Read the password from standard input instead of generating one.
        #[arg(long)]
        password_stdin: bool,
    },
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = Settings::load()?;
    crate::telemetry::init(settings.log_format);
    let config = Config::resolve(settings)?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => actix_web::rt::System::new().block_on(serve(config)),
        Command::Migrate => {
            let db = Db::connect(&config.database_url, 1)?;
            let applied = db.migrate()?;
            println!(
                "{} database: {applied} migration(s) applied",
                db.backend().name()
            );
            Ok(())
        }
        Command::User {
            command:
                UserCommand::Create {
                    email,
                    name,
                    password_stdin,
                },
        } => create_user(config, &email, &name, password_stdin),
        Command::Coupon { command } => coupon(&config, command),
    }
}

fn coupon(config: &Config, command: CouponCommand) -> anyhow::Result<()> {
    let db = Db::connect(&config.database_url, 1)?;
    db.migrate()?;
    let mut conn = db.connection()?;
    match command {
        CouponCommand::Create {
            code,
            credits,
            expires,
            max_redemptions,
        } => {
            let coupon = crate::services::billing::NewCoupon {
                code: &code,
                credits: &credits,
                expires: expires.as_deref(),
                max_redemptions,
            };
            let code = crate::services::billing::create_coupon(&mut conn, &coupon).map_err(
                |e| match e {
                    crate::services::ServiceError::Invalid(errors) => anyhow::anyhow!(
                        "{}",
                        errors
                            .iter()
                            .map(|(field, message)| format!("--{field}: {message}"))
                            .collect::<Vec<_>>()
                            .join("; ")
                    ),
                    other => anyhow::anyhow!(other),
                },
            )?;
            println!("created coupon {code}");
        }
        CouponCommand::List => {
            for c in db::billing::coupons(&mut conn)? {
                println!(
                    "{}\t{} credits\t{} of {} redeemed\texpires {}",
                    c.code,
                    crate::domain::Money::from_micros(c.amount),
                    c.redemptions,
                    c.max_redemptions
                        .map_or("unlimited".to_owned(), |n| n.to_string()),
                    c.expires_at
                        .map_or("never".to_owned(), |at| crate::domain::time::format_time(
                            &at
                        )),
                );
            }
        }
    }
    Ok(())
}

/// Migrates, then serves until interrupted.
pub async fn serve(config: Config) -> anyhow::Result<()> {
    let db = Db::connect(&config.database_url, config.db_pool_size)?
        .with_reads_on_workers(config.db_reads_on_workers);
    let applied = db.migrate()?;
    tracing::info!(backend = db.backend().name(), applied, "database ready");
    if let Some(missing) = db.missing_search_index() {
        tracing::warn!("{missing}");
    }
    let listener = TcpListener::bind(&config.bind)
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.bind))?;
    let retention = crate::services::maintenance::Retention::from_config(&config);
    actix_web::rt::spawn(crate::services::maintenance::run_forever(
        db.clone(),
        retention,
    ));
    let base_url = config.base_url.clone();
    let reads_on_workers = db.reads_on_workers();
    let workers = config
        .workers
        .unwrap_or_else(|| default_workers(db.backend(), reads_on_workers));
    let state = AppState::new(config, db)?;
    tracing::info!(%base_url, workers, reads_on_workers, "Tenantry is listening");
    web::run(listener, state, Some(workers))?.await?;
    Ok(())
}

/// One worker per CPU, as actix-web chooses; two when PostgreSQL reads
/// run on the workers, so a core isn't idle while its worker waits for the
/// database's answer (benches/README.md: about a quarter more dashboard
/// views a second than one per CPU, at the same p99).
fn default_workers(backend: db::Backend, reads_on_workers: bool) -> usize {
    let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    if backend == db::Backend::Postgres && reads_on_workers {
        2 * cpus
    } else {
        cpus
    }
}

fn create_user(
    config: Config,
    email: &str,
    name: &str,
    password_stdin: bool,
) -> anyhow::Result<()> {
    let email = Email::parse(email).map_err(|e| anyhow::anyhow!("--email: {e}"))?;
    let name = PersonName::parse(name).map_err(|e| anyhow::anyhow!("--name: {e}"))?;
    let (password, generated) = if password_stdin {
        let mut input = String::new();
        std::io::stdin().read_to_string(&mut input)?;
        let input = input
            .strip_suffix('\n')
            .unwrap_or(&input)
            .trim_end_matches('\r')
            .to_owned();
        (input, false)
    } else {
        (hex::encode(rand::random::<[u8; 12]>()), true)
    };
    let password = Password::parse_new(&password, &[email.as_str(), name.as_str()])
        .map_err(|e| anyhow::anyhow!("password: {e}"))?;
    let db = Db::connect(&config.database_url, 1)?;
    db.migrate()?;
    let hasher = crate::services::accounts::passwords::PasswordHasher::new(config.argon2)?;
    let secret = password.clone();
    let hash = actix_web::rt::System::new().block_on(async move { hasher.hash(secret).await })?;
    let mut conn = db.connection()?;
    let created = db::write_transaction(&mut conn, |conn| {
        let (user, personal) = db::users::create(conn, &email, &name, &hash)?;
        let actor = crate::db::audit::Actor {
            user_id: user.id.clone(),
            name: user.name.clone(),
            ip: "command line".into(),
        };
        crate::services::accounts::record_account_event(
            conn,
            &personal,
            &actor,
            crate::db::audit::Event::account_create,
            String::new(),
        )?;
        Ok::<_, db::DbError>(user)
    });
    let user = created.map_err(|e| {
        if matches!(e, db::DbError::Conflict(db::UniqueKey::UserEmail)) {
            anyhow::anyhow!("an account with {email} already exists")
        } else {
            anyhow::anyhow!(e)
        }
    })?;
    println!(
        "created user {} <{}> (id {})",
        user.name, user.email, user.id
    );
    if generated {
        println!("password: {}", password.expose());
    }
    Ok(())
}

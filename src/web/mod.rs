//! The HTTP side: application state, the middleware stack and the server.
//! Each area's handlers live with the askama structs they render
//! (`web::account` ↔ `templates/account/`); the URL table is `routes.rs`.

pub mod account;
pub mod agents;
pub mod api;
pub mod api_keys;
pub mod apps;
pub mod assets;
pub mod audit;
pub mod auth;
pub mod billing;
pub mod cache;
pub mod charts;
pub mod context;
pub mod csrf;
pub mod dashboard;
pub mod email;
pub mod error;
pub mod invitations;
pub mod ops;
pub mod organizations;
pub mod page;
pub mod password;
pub mod projects;
pub mod request_span;
pub mod routes;
pub mod scope;
pub mod session;
pub mod settings;

use std::net::TcpListener;
use std::sync::Arc;

use actix_session::SessionMiddleware;
use actix_session::config::{PersistentSession, TtlExtensionPolicy};
use actix_web::body::MessageBody;
use actix_web::cookie::{Key, SameSite, time::Duration as CookieDuration};
use actix_web::dev::{Server, ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::{DefaultHeaders, ErrorHandlers, Next, from_fn};
use actix_web::{App, HttpMessage, HttpRequest, HttpServer, web};
use actix_web_prom::{PrometheusMetrics, PrometheusMetricsBuilder};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tracing_actix_web::{RequestId, TracingLogger};

use crate::config::Config;
use crate::db::{Db, RequestDb, Tally};
use crate::services::accounts::AccountService;
use crate::services::accounts::passwords::PasswordHasher;
use crate::services::mail::Notifier;
use crate::services::members::MemberService;
use crate::services::organizations::OrganizationService;
use crate::services::payments::{PaymentProvider, Sandbox};
use crate::web::session::store::DbSessionStore;

/// Shared by every request: configuration, database, hasher and keys.
pub struct AppState {
    /// Resolved configuration.
    pub config: Arc<Config>,
    /// The database.
    pub db: Db,
    /// Accounts: sign-up, sign-in, passwords, email addresses, sessions.
    pub accounts: AccountService,
    /// Organizations: creation, settings, archive, transfer, leave.
    pub organizations: OrganizationService,
    /// Members and invitations.
    pub members: MemberService,
    /// Key of the CSRF token MAC (derived from the secret key).
    pub csrf_key: Vec<u8>,
    /// The email outbox's delivery settings; `mail.kick` wakes its worker.
    pub mail: crate::services::mail::Outbox,
    /// Budget alert thresholds and the base URL their emails link to.
    pub budget_alerts: crate::services::billing::AlertSettings,
    /// The payment provider (the sandbox) and the secret its
    /// notifications are signed with.
    pub payments: Payments,
    /// Which sessions' due activity writes a request of this process is
    /// already making (see `scope::ActivityClaims`).
    pub activity_claims: scope::ActivityClaims,
    /// Each workspace's roles as last read, for role menus.
    pub role_cache: cache::RoleCache,
    /// Each workspace's invitations as last listed, for the members page.
    pub invitation_cache: cache::InvitationCache,
    /// Each workspace's first page of members, by its members version.
    pub member_page_cache: cache::MemberPageCache,
    /// Each workspace's latest activity, by its audit version.
    pub latest_activity_cache: cache::LatestActivityCache,
    /// Members' API keys checked less than a second ago, and this
    /// instance's share of their per-minute rate limits.
    pub api_keys: crate::services::authorization::KeyCheck,
    /// Project keys the charge endpoint found less than a second ago.
    pub project_keys: crate::services::projects::ProjectKeys,
    session_key: Key,
}

/// The services that take their settings from configuration, each with its
/// handle on the database (and the mail outbox, for those that write mail).
fn services(
    config: &Config,
    db: &Db,
    mail: &crate::services::mail::Outbox,
) -> anyhow::Result<(AccountService, OrganizationService, MemberService)> {
    let notifier = Notifier::new(&config.base_url, mail);
    let accounts = AccountService {
        db: db.clone(),
        hasher: PasswordHasher::new(config.argon2)?,
        mail: notifier.clone(),
        login_throttle: config.login_throttle,
        signup_throttle: config.signup_throttle,
        reset_throttle: config.reset_throttle,
    };
    let organizations = OrganizationService {
        db: db.clone(),
        org_create_throttle: config.org_create_throttle,
        archive_retention_days: config.archive_retention_days,
        require_prepaid: config.require_prepaid,
    };
    let members = MemberService {
        db: db.clone(),
        mail: notifier,
        invitation_ttl: config.invitation_ttl,
    };
    Ok((accounts, organizations, members))
}

/// The payment provider (the sandbox) and the secret its notifications are
/// signed with: configured, or derived from the app's secret.
fn payments(config: &Config) -> Payments {
    let webhook_secret = config
        .payment_webhook_secret
        .clone()
        .map(String::into_bytes)
        .unwrap_or_else(|| derive_key(&config.secret_key, b"tenantry payments webhook v1"));
    Payments {
        provider: Arc::new(Sandbox::new(webhook_secret.clone())),
        webhook_secret,
    }
}

impl AppState {
    /// Builds the state; derives the per-purpose keys from the secret.
    pub fn new(config: Config, db: Db) -> anyhow::Result<Self> {
        let csrf_key = derive_key(&config.secret_key, b"tenantry csrf v1");
        let session_key = Key::derive_from(&derive_key(
            &config.secret_key,
            b"tenantry session cookie v1",
        ));
        let budget_alerts = crate::services::billing::AlertSettings {
            thresholds: config.budget_alert_thresholds.clone(),
            base_url: config.base_url.clone(),
        };
        let payments = payments(&config);
        let mail = mail_outbox(&config, &db)?;
        let (accounts, organizations, members) = services(&config, &db, &mail)?;
        let key_rate_limits = config.key_rate_limits;
        Ok(Self {
            config: Arc::new(config),
            db,
            accounts,
            organizations,
            members,
            csrf_key,
            mail,
            activity_claims: scope::ActivityClaims::default(),
            role_cache: cache::RoleCache::default(),
            invitation_cache: cache::InvitationCache::default(),
            member_page_cache: cache::MemberPageCache::default(),
            latest_activity_cache: cache::LatestActivityCache::default(),
            api_keys: crate::services::authorization::KeyCheck {
                cache: crate::services::authorization::KeyCache::default(),
                limiter: crate::services::rate_limits::KeyRateLimiter::new(key_rate_limits),
            },
            project_keys: crate::services::projects::ProjectKeys::default(),
            payments,
            budget_alerts,
            session_key,
        })
    }

    /// The client's IP: the socket peer, or, behind `trusted_proxy_hops`
    /// proxies of your own, the address the outermost of them appended to
    /// `X-Forwarded-For`. Entries left of it were sent by the client and are
    /// ignored (actix's `realip_remote_addr` takes the left-most one, which
    /// the client controls, so it is not used).
    pub fn client_ip(&self, req: &HttpRequest) -> String {
        let peer = req.peer_addr().map(|addr| addr.ip());
        let forwarded = self
            .config
            .trusted_proxy_hops
            .and_then(|hops| forwarded_client(req.headers(), hops.get()));
        match forwarded.or(peer) {
            Some(ip) => ip.to_string(),
            None => "unknown".into(),
        }
    }
}

/// The payment provider and the secret that proves its notifications.
pub struct Payments {
    /// Asks cards for money (the built-in sandbox).
    pub provider: Arc<dyn PaymentProvider>,
    /// HMAC key of the provider's notifications.
    pub webhook_secret: Vec<u8>,
}

/// The email outbox as configured: SMTP or `.eml` files, the sender, and
/// the worker's retry and poll intervals.
fn mail_outbox(config: &Config, db: &Db) -> anyhow::Result<crate::services::mail::Outbox> {
    Ok(crate::services::mail::Outbox {
        transport: crate::services::mail::Transport::from_config(
            config.smtp_url.as_deref(),
            &config.data_dir,
        )?,
        from: config
            .mail_from
            .parse()
            .map_err(|e| anyhow::anyhow!("TENANTRY_MAIL_FROM {:?}: {e}", config.mail_from))?,
        kick: Arc::new(tokio::sync::Notify::new()),
        retry_base: config.mail_retry_base,
        poll: config.mail_poll,
        db: db.clone(),
    })
}

/// The `hops`-th `X-Forwarded-For` entry from the right (several header
/// lines count as one list, in order); with fewer entries, the left-most.
/// `None` without the header or when that entry is not an IP address.
fn forwarded_client(headers: &header::HeaderMap, hops: u32) -> Option<std::net::IpAddr> {
    let mut entries = Vec::new();
    for value in headers.get_all(header::X_FORWARDED_FOR) {
        entries.extend(value.to_str().ok()?.split(',').map(str::trim));
    }
    let from_right = usize::try_from(hops).unwrap_or(usize::MAX);
    let entry = entries.get(entries.len().saturating_sub(from_right))?;
    parse_forwarded_ip(entry)
}

/// An address as proxies write it: `192.0.2.1`, `2001:db8::1`, `192.0.2.1:4711`, `[2001:db8::1]:4711`.
fn parse_forwarded_ip(entry: &str) -> Option<std::net::IpAddr> {
    entry
        .parse()
        .ok()
        .or_else(|| entry.parse::<std::net::SocketAddr>().ok().map(|a| a.ip()))
}

/// One secret, several keys: a leak of one derived key reveals nothing of the others.
fn derive_key(secret: &[u8], purpose: &[u8]) -> Vec<u8> {
    let mut first =
        <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("HMAC accepts keys of any length");
    first.update(purpose);
    first.update(b"/1");
    let mut second =
        <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("HMAC accepts keys of any length");
    second.update(purpose);
    second.update(b"/2");
    let mut key = first.finalize().into_bytes().to_vec();
    key.extend_from_slice(&second.finalize().into_bytes());
    key
}

/// Name of the session cookie over plain HTTP.
pub const SESSION_COOKIE: &str = "tenantry_session";
/// Name of the session cookie over HTTPS.
pub const SECURE_SESSION_COOKIE: &str = "__Host-tenantry_session";

/// The application with its full middleware stack, for the server and tests.
pub fn build_app(
    state: web::Data<AppState>,
    metrics: PrometheusMetrics,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let https = state.config.is_https();
    let sessions = session_middleware(&state, https);
    App::new()
        .app_data(state.clone())
        .app_data(web::FormConfig::default().limit(64 * 1024))
        .app_data(api::json_config())
        .app_data(api::query_config())
        .app_data(settings::general::avatar_upload_config())
        .configure(assets::configure)
        .configure(ops::configure)
        .service(
            web::scope("")
                .wrap(from_fn(csrf::ensure_binding_cookie))
                .wrap(from_fn(session::answer_failed_load))
                .wrap(sessions)
                .configure(routes::configure),
        )
        .default_service(web::to(ops::not_found))
        .wrap(ErrorHandlers::new().default_handler(error::render_error))
        .wrap(security_headers(https))
        .wrap(from_fn(echo_request_id))
        .wrap(from_fn(request_db))
        .wrap(metrics)
        .wrap(TracingLogger::<request_span::RequestSpan>::new())
}

/// Sessions in the database behind an HTTP-only, SameSite=Lax cookie
/// (`Secure` and `__Host-` named over HTTPS) that lives as long as a session
/// may, its expiry moved only when the session state changes.
fn session_middleware(state: &AppState, https: bool) -> SessionMiddleware<DbSessionStore> {
    let config = &state.config;
    let store = DbSessionStore::new(
        state.db.clone(),
        config.session_idle,
        config.session_lifetime,
    );
    SessionMiddleware::builder(store, state.session_key.clone())
        .cookie_name(
            if https {
                SECURE_SESSION_COOKIE
            } else {
                SESSION_COOKIE
            }
            .to_owned(),
        )
        .cookie_secure(https)
        .cookie_http_only(true)
        .cookie_same_site(SameSite::Lax)
        .cookie_path("/".into())
        .session_lifecycle(
            PersistentSession::default()
                .session_ttl(CookieDuration::seconds(
                    config.session_lifetime.num_seconds(),
                ))
                .session_ttl_extension_policy(TtlExtensionPolicy::OnStateChanges),
        )
        .build()
}

/// The headers of SECURITY.md on every response.
fn security_headers(https: bool) -> DefaultHeaders {
    let headers = DefaultHeaders::new()
        .add((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
        ))
        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .add((header::REFERRER_POLICY, "strict-origin-when-cross-origin"))
        .add((header::X_FRAME_OPTIONS, "DENY"))
        .add(("Permissions-Policy", "camera=(), microphone=(), geolocation=()"))
        .add(("Cross-Origin-Opener-Policy", "same-origin"));
    if https {
        headers.add((
            header::STRICT_TRANSPORT_SECURITY,
            "max-age=31536000; includeSubDomains",
        ))
    } else {
        headers
    }
}

/// Gives each request a slot for what the session store reads with the
/// session (see `session::with_preload_slot`), its `RequestDb` (so the
/// session load's connection serves the page's data too) and, when
/// `expose_db_statements` is on, counts the SQL statements it ran (session
/// load and write-back included) into `X-Db-Statements` and its pool
/// checkouts into `X-Db-Checkouts`.
async fn request_db(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let expose = req
        .app_data::<web::Data<AppState>>()
        .is_some_and(|state| state.config.expose_db_statements);
    let hands_on = req.method().is_safe();
    let request = session::with_preload_slot(next.call(req));
    if !expose {
        return RequestDb::default()
            .handing_on(hands_on)
            .serve(request)
            .await;
    }
    let (statements, checkouts) = (Tally::default(), Tally::default());
    let mut res = RequestDb::counting_into(statements.clone(), checkouts.clone())
        .handing_on(hands_on)
        .serve(request)
        .await?;
    let headers = res.headers_mut();
    for (name, tally) in [
        ("x-db-statements", statements),
        ("x-db-checkouts", checkouts),
    ] {
        headers.insert(
            header::HeaderName::from_static(name),
            HeaderValue::from(tally.get()),
        );
    }
    Ok(res)
}

/// Puts the request id (also in the logs and on 500 pages) on every response.
async fn echo_request_id(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let request_id = req.extensions().get::<RequestId>().map(|id| id.to_string());
    let mut res = next.call(req).await?;
    if let Some(value) = request_id.and_then(|id| HeaderValue::from_str(&id).ok()) {
        res.headers_mut()
            .insert(header::HeaderName::from_static("x-request-id"), value);
    }
    Ok(res)
}

/// The Prometheus registry and middleware (one per process, shared by workers).
pub fn metrics() -> anyhow::Result<PrometheusMetrics> {
    PrometheusMetricsBuilder::new("tenantry")
        .endpoint("/metrics")
        .mask_unmatched_patterns("UNKNOWN")
        .build()
        .map_err(|e| anyhow::anyhow!("metrics: {e}"))
}

/// Starts serving on `listener`, with the email delivery worker, the
/// idle-agent job and the plan-fee job beside it; the returned server runs when awaited. Call from within an actix system.
pub fn run(
    listener: TcpListener,
    state: AppState,
    workers: Option<usize>,
) -> anyhow::Result<Server> {
    actix_web::rt::spawn(crate::services::mail::run_worker(state.mail.clone()));
    actix_web::rt::spawn(crate::services::agents::stop_idle_forever(
        state.db.clone(),
        state.config.apps.clone(),
        state.config.agent_idle,
        state.config.idle_check,
    ));
    actix_web::rt::spawn(crate::services::billing::charge_plan_fees_forever(
        state.db.clone(),
        state.config.plans.clone(),
        state.config.plan_fee_check,
    ));
    let state = web::Data::new(state);
    let metrics = metrics()?;
    let mut server =
        HttpServer::new(move || build_app(state.clone(), metrics.clone())).listen(listener)?;
    if let Some(workers) = workers {
        server = server.workers(workers);
    }
    Ok(server.run())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(lines: &[&str]) -> header::HeaderMap {
        let mut map = header::HeaderMap::new();
        for line in lines {
            map.append(
                header::X_FORWARDED_FOR,
                HeaderValue::from_str(line).unwrap(),
            );
        }
        map
    }

    fn client(lines: &[&str], hops: u32) -> Option<String> {
        forwarded_client(&headers(lines), hops).map(|ip| ip.to_string())
    }

    #[test]
    fn the_client_is_counted_from_the_right() {
        assert_eq!(
            client(&["6.6.6.6, 10.0.0.7"], 1).as_deref(),
            Some("10.0.0.7")
        );
        assert_eq!(
            client(&["6.6.6.6, 203.0.113.9, 10.0.0.2"], 2).as_deref(),
            Some("203.0.113.9")
        );
        // Several header lines are one list, in order.
        assert_eq!(
            client(&["6.6.6.6", "10.0.0.7"], 1).as_deref(),
            Some("10.0.0.7")
        );
        // Fewer entries than hops: the left-most, which a trusted proxy wrote.
        assert_eq!(client(&["10.0.0.7"], 2).as_deref(), Some("10.0.0.7"));
        // Ports and IPv6 as proxies write them.
        assert_eq!(
            client(&["6.6.6.6, 10.0.0.7:4711"], 1).as_deref(),
            Some("10.0.0.7")
        );
        assert_eq!(
            client(&["6.6.6.6, [2001:db8::1]:4711"], 1).as_deref(),
            Some("2001:db8::1")
        );
        // No header, or not an address: the caller falls back to the peer.
        assert_eq!(client(&[], 1), None);
        assert_eq!(client(&["6.6.6.6, unknown"], 1), None);
    }
}

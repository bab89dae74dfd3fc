//! SECURITY.md, Faults: "Database restarted: requests in flight fail with
//! 503, the pool recovers by itself, nothing half-written."
//!
//! PostgreSQL only: the app reaches it through a TCP relay the test can cut
//! (every open connection closed, new ones closed as soon as they arrive)
//! and open again, as a server restart looks from the app's side. SQLite is
//! a file in the app's own process; there is no server to lose.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::StatusCode;

use crate::support::{TestApp, TestBackend};

/// A relay between the app and PostgreSQL that can be cut and restored.
struct Relay {
    port: u16,
    open: Arc<AtomicBool>,
    upstream: Arc<Mutex<Option<String>>>,
    streams: Arc<Mutex<Vec<TcpStream>>>,
}

impl Relay {
    /// Listens on a free local port; connections are relayed to the
    /// upstream set with [`Relay::relay_url`].
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the relay");
        let relay = Relay {
            port: listener.local_addr().expect("relay address").port(),
            open: Arc::new(AtomicBool::new(true)),
            upstream: Arc::new(Mutex::new(None)),
            streams: Arc::new(Mutex::new(Vec::new())),
        };
        let (open, upstream, streams) = (
            relay.open.clone(),
            relay.upstream.clone(),
            relay.streams.clone(),
        );
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let target = upstream.lock().expect("upstream").clone();
                let (true, Some(target)) = (open.load(Ordering::SeqCst), target) else {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                };
                let Ok(server) = TcpStream::connect(&target) else {
                    continue;
                };
                let mut kept = streams.lock().expect("streams");
                for stream in [&client, &server] {
                    if let Ok(copy) = stream.try_clone() {
                        kept.push(copy);
                    }
                }
                pump(&client, &server);
                pump(&server, &client);
            }
        });
        relay
    }

    /// `url` (a `postgres://user@host[:port]/db?…` URL) pointed at the
    /// relay, which will forward to its host and port.
    fn relay_url(&self, url: &str) -> String {
        let (scheme, rest) = url.split_once("://").expect("a URL with a scheme");
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let (user, host) = match authority.rsplit_once('@') {
            Some((user, host)) => (format!("{user}@"), host),
            None => (String::new(), authority),
        };
        assert!(
            !host.is_empty(),
            "TENANTRY_TEST_POSTGRES_URL must name a TCP host for the outage test: {url}"
        );
        let target = if host.contains(':') {
            host.to_owned()
        } else {
            format!("{host}:5432")
        };
        *self.upstream.lock().expect("upstream") = Some(target);
        format!("{scheme}://{user}127.0.0.1:{}{path}", self.port)
    }

    /// The database "goes down": every relayed connection is closed and new
    /// ones are closed on arrival.
    fn cut(&self) {
        self.open.store(false, Ordering::SeqCst);
        for stream in self.streams.lock().expect("streams").drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }

    /// The database is back.
    fn restore(&self) {
        self.open.store(true, Ordering::SeqCst);
    }
}

/// Copies `from` → `to` on a thread until either side closes.
fn pump(from: &TcpStream, to: &TcpStream) {
    let (Ok(mut from), Ok(mut to)) = (from.try_clone(), to.try_clone()) else {
        return;
    };
    std::thread::spawn(move || {
        let mut buffer = [0u8; 16 * 1024];
        loop {
            match from.read(&mut buffer) {
                Ok(0) => break,
                Ok(n) => {
                    if to.write_all(&buffer[..n]).is_err() {
                        break;
                    }
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
        }
        let _ = to.shutdown(Shutdown::Both);
        let _ = from.shutdown(Shutdown::Both);
    });
}

/// While PostgreSQL is unreachable, a signed-in page view, an anonymous
/// form post and an API call each get a 503 (a page or the JSON error, with
/// a request id), the signed-in browser keeps its session cookie, and
/// nothing is written; once it is back, the same session works again
/// without a restart.
#[actix_web::test]
async fn database_outage_answers_503_and_recovers() {
    let relay = Relay::start();
    let Some(mut app) = TestApp::start(TestBackend::Postgres, |settings| {
        if let Some(url) = settings.database_url.as_mut() {
            *url = relay.relay_url(url);
        }
    })
    .await
    else {
        // Counted as a skip (a failure under TENANTRY_REQUIRE_POSTGRES=1)
        // by TestApp::start.
        return;
    };
    // The inspector pool goes through the relay too and keeps connections
    // the cut closed; what the outage might have written is checked below.
    app.skip_invariants();
    let app = app.with_acme().await;
    let ann = app.browser("ann@example.com");
    let form = ann.get("/settings/general").await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.body);
    let session = ann.cookie("tenantry_session").expect("a session cookie");
    let hidden = crate::support::hidden_fields(&form.body, "/settings/general");

    relay.cut();
    let stranger = app.client();
    let (page, post, login, api) = futures::join!(
        ann.get("/"),
        ann.post_form(
            "/settings/general",
            &hidden,
            &[("name", "Renamed in the dark")]
        ),
        stranger.submit(
            "/login",
            "/login",
            &[("email", "ann@example.com"), ("password", "wrong password")]
        ),
        reqwest::Client::new()
            .get(format!("{}/api/v1/wallet", app.base))
            .bearer_auth(format!("tk_{}_{}", "0".repeat(12), "0".repeat(64)))
            .send(),
    );
    for (what, res) in [("page", &page), ("form post", &post), ("sign-in", &login)] {
        assert_eq!(
            res.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{what}: {}",
            res.body
        );
        assert!(
            res.body.contains("Temporarily unavailable"),
            "{what}: {}",
            res.body
        );
    }
    let api = api.expect("the API answers");
    assert_eq!(api.status(), StatusCode::SERVICE_UNAVAILABLE);
    let api: serde_json::Value = api.json().await.expect("a JSON error");
    assert_eq!(api["error"]["code"], "unavailable", "{api}");
    for res in [&page, &post] {
        assert!(
            res.headers.contains_key("x-request-id"),
            "{:?}",
            res.headers
        );
        assert!(res.headers.contains_key("retry-after"), "{:?}", res.headers);
        assert!(
            !res.headers
                .get_all("set-cookie")
                .iter()
                .any(|c| c.to_str().unwrap_or("").starts_with("tenantry_session=")),
            "the session cookie is left as it was: {:?}",
            res.headers
        );
    }
    assert_eq!(ann.cookie("tenantry_session"), Some(session));

    relay.restore();
    let mut back = ann.get("/").await;
    for _ in 0..20 {
        if back.status == StatusCode::OK {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
        back = ann.get("/").await;
    }
    assert_eq!(back.status, StatusCode::OK, "{}", back.body);
    assert!(back.body.contains("Acme Corp"), "{}", back.body);
    let general = ann.get("/settings/general").await;
    assert_eq!(general.status, StatusCode::OK, "{}", general.body);
    assert!(
        !general.body.contains("Renamed in the dark"),
        "the post made during the outage changed nothing"
    );
}

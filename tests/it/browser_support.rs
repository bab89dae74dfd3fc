//! The plumbing of the browser journeys (`browser_*.rs`): headless Chromium
//! driven through `chromedriver` with fantoccini, so the journeys see the
//! pages as a person gets them, with the real stylesheet,
//! cookies, redirects and form submissions (the HTTP-level tests in
//! `accounts.rs` can't tell that a button is hidden in a closed menu, or
//! that a click really navigates).
//!
//! Needs Debian's `chromium` and `chromium-driver`. When `chromedriver` is
//! not on `PATH` the tests pass, counted in the skip summary printed when the
//! test binary exits (`skips.rs`), unless
//! `TENANTRY_REQUIRE_BROWSER=1` (CI sets it), which makes them fail instead:
//! a browser test that silently stops running is worse than none.
//!
//! Set `TENANTRY_BROWSER_SCREENSHOTS=<dir>` to keep screenshots, one per
//! page and backend: the personal dashboard (`dashboard-sqlite.png`), the
//! organization dashboard with the switcher open (`org-switcher-…`), the
//! organization's General settings (`org-general-…`), and from the
//! invitation journey the Members settings after the invitation
//! (`members-invited-…`) and after the role change (`members-role-changed-…`),
//! the invitation as the invited person sees it (`invitation-…`) and the
//! audit log as a new Admin sees it (`audit-admin-…`); from the phone journey
//! (390 px) the organization dashboard (`phone-dashboard-…`), the Members
//! settings (`phone-members-…`) and the open user menu (`phone-user-menu-…`).

use std::fs::File;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use actix_web::rt::time::sleep;
use fantoccini::elements::Element;
use fantoccini::error::NewSessionError;
use fantoccini::{Client, ClientBuilder, Locator};

use crate::skips::{self, Skip};
use crate::support::{PASSWORD, TestApp, TestBackend};

/// Where Debian's `chromium` package puts the browser.
pub(crate) const CHROMIUM: &str = "/usr/bin/chromium";

/// How long a page may take to appear after a click.
pub(crate) const PAGE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long `chromedriver` may take to listen and launch the browser.
pub(crate) const START_TIMEOUT: Duration = Duration::from_secs(30);

/// How often the waits look again.
pub(crate) const POLL: Duration = Duration::from_millis(50);

/// Fails when the page is wider than the viewport (it would scroll
/// sideways). Under mobile emulation `window.innerWidth` grows with the
/// page, so the yardstick is the root element's client width.
pub(crate) async fn assert_fits_the_width(c: &Client, page: &str) {
    let widths = c
        .execute(
            "const root = document.documentElement; return [root.scrollWidth, root.clientWidth];",
            vec![],
        )
        .await
        .unwrap_or_else(|e| panic!("measure {page}: {e}"));
    let widths: Vec<u64> = serde_json::from_value(widths).expect("two widths");
    let (scroll, client) = (widths[0], widths[1]);
    assert!(
        scroll <= client,
        "{page} scrolls sideways: {scroll} px of content in a {client} px wide viewport"
    );
}

/// Creates an organization from the switcher, leaving the slug to be
/// derived from the name; the browser ends on its dashboard.
pub(crate) async fn create_organization(c: &Client, name: &str) {
    open_switcher(c).await;
    click_and_wait_for_next_page(c, "#switcher-create").await;
    expect_path(c, "/organizations/new").await;
    type_into(c, "#name", name).await;
    click_and_wait_for_next_page(c, "#create-organization").await;
    expect_path(c, "/").await;
    expect_text(c, "#workspace-title", name).await;
    expect_text(c, "#switcher summary .switcher-label", name).await;
}

/// Opens `path` of the app (a reload when the browser is there already).
pub(crate) async fn open_page(c: &Client, app: &TestApp, path: &str) {
    c.goto(&format!("{}{path}", app.base))
        .await
        .unwrap_or_else(|e| panic!("open {path}: {e}"));
    expect_path(c, path).await;
}

/// Picks the option shown as `label` in the select `css`, and checks that it
/// is the one selected.
pub(crate) async fn choose(c: &Client, css: &str, label: &str) {
    find(c, css)
        .await
        .select_by_label(label)
        .await
        .unwrap_or_else(|e| panic!("choose {label:?} in {css}: {e}"));
    expect_text(c, &format!("{css} option:checked"), label).await;
}

/// Scrolls the page so that `css` is at the top of the window (for a
/// screenshot of what lies below the fold).
pub(crate) async fn scroll_to(c: &Client, css: &str) {
    let element =
        serde_json::to_value(find(c, css).await).expect("an element as a script argument");
    c.execute(
        "arguments[0].scrollIntoView({ block: 'start', behavior: 'instant' });",
        vec![element],
    )
    .await
    .unwrap_or_else(|e| panic!("scroll to {css}: {e}"));
}

/// The text of every element matching `css` (the page is already loaded).
pub(crate) async fn texts_of(c: &Client, css: &str) -> Vec<String> {
    let rows = c
        .find_all(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("look for {css}: {e}"));
    let mut texts = Vec::new();
    for row in rows {
        texts.push(
            row.text()
                .await
                .unwrap_or_else(|e| panic!("text of {css}: {e}")),
        );
    }
    texts
}

/// Signs a new user up through the page; the browser ends on their personal
/// dashboard.
pub(crate) async fn sign_up(c: &Client, app: &TestApp, name: &str, email: &str) {
    c.goto(&format!("{}/signup", app.base))
        .await
        .expect("open /signup");
    expect_text(c, "h1", "Create your account").await;
    type_into(c, "#name", name).await;
    type_into(c, "#email", email).await;
    type_into(c, "#password", PASSWORD).await;
    click_and_wait_for_next_page(c, "#signup-submit").await;
    expect_path(c, "/").await;
    expect_text(c, "#workspace-title", "Personal workspace").await;
}

/// Opens the `<details>` menu whose summary is `summary` (unless it is open),
/// waiting until `inside` shows and Pico's fade-in has ended (a screenshot
/// taken earlier shows the page through the half-transparent menu).
pub(crate) async fn open_menu(c: &Client, summary: &str, inside: &str) {
    let open = find(c, inside).await.is_displayed().await.unwrap_or(false);
    if !open {
        find(c, summary)
            .await
            .click()
            .await
            .unwrap_or_else(|e| panic!("click {summary}: {e}"));
    }
    wait_until_displayed(c, inside).await;
    wait_for_animations(c).await;
}

/// Waits until no CSS animation or transition is running on the page.
pub(crate) async fn wait_for_animations(c: &Client) {
    const RUNNING: &str =
        "return document.getAnimations().filter((a) => a.playState === 'running').length;";
    let deadline = Instant::now() + PAGE_TIMEOUT;
    loop {
        let running = c
            .execute(RUNNING, Vec::new())
            .await
            .unwrap_or_else(|e| panic!("count the running animations: {e}"));
        if running == 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{running} animations still running after {PAGE_TIMEOUT:?}"
        );
        sleep(POLL).await;
    }
}

/// Closes the `<details>` menu whose summary is `summary` (when open),
/// waiting until `inside` is hidden. While a Pico dropdown is open, its
/// summary's `::before` covers the page, so a click anywhere closes it.
pub(crate) async fn close_menu(c: &Client, summary: &str, inside: &str) {
    if find(c, inside).await.is_displayed().await.unwrap_or(false) {
        find(c, summary)
            .await
            .click()
            .await
            .unwrap_or_else(|e| panic!("click {summary}: {e}"));
    }
    let deadline = Instant::now() + PAGE_TIMEOUT;
    while find(c, inside).await.is_displayed().await.unwrap_or(true) {
        assert!(
            Instant::now() < deadline,
            "{inside} still visible {PAGE_TIMEOUT:?} after closing {summary}"
        );
        sleep(POLL).await;
    }
}

/// Opens the workspace switcher.
pub(crate) async fn open_switcher(c: &Client) {
    open_menu(c, "#switcher summary", "#switcher-create").await;
}

/// Closes the workspace switcher.
pub(crate) async fn close_switcher(c: &Client) {
    close_menu(c, "#switcher summary", "#switcher-create").await;
}

/// Opens the user menu.
pub(crate) async fn open_user_menu(c: &Client) {
    open_menu(c, "#user-menu", "#sign-out").await;
}

/// Closes the user menu.
pub(crate) async fn close_user_menu(c: &Client) {
    close_menu(c, "#user-menu", "#sign-out").await;
}

/// The switcher's entries: each a submit button in a form posting to
/// `/context`, with the workspace's name.
pub(crate) async fn switcher_entries(c: &Client) -> Vec<(String, Element)> {
    let buttons = c
        .find_all(Locator::Css("#switcher form[action='/context'] button"))
        .await
        .expect("look for the switcher's entries");
    let mut entries = Vec::new();
    for button in buttons {
        let name = button
            .find(Locator::Css(".switcher-name"))
            .await
            .expect("a switcher entry's .switcher-name")
            .text()
            .await
            .expect("a switcher entry's name");
        entries.push((name, button));
    }
    entries
}

/// The names the switcher lists, in order.
pub(crate) async fn switcher_names(c: &Client) -> Vec<String> {
    switcher_entries(c)
        .await
        .into_iter()
        .map(|(name, _)| name)
        .collect()
}

/// The workspace id of the switcher entry marked current.
pub(crate) async fn current_switcher_entry(c: &Client) -> String {
    value_of(
        c,
        "#switcher form:has(button[aria-current='true']) input[name='workspace_id']",
    )
    .await
}

/// Switches to the workspace called `name` with the switcher.
pub(crate) async fn switch_to(c: &Client, name: &str) {
    open_switcher(c).await;
    let entries = switcher_entries(c).await;
    let names: Vec<_> = entries.iter().map(|(n, _)| n.clone()).collect();
    let Some((_, entry)) = entries.into_iter().find(|(n, _)| n == name) else {
        panic!("the switcher has no {name:?}, only {names:?}");
    };
    click_element_and_wait_for_next_page(c, &entry, &format!("the switcher's {name:?}")).await;
}

/// The `chromedriver` to run, or `None` (a recorded skip) when this machine
/// has no browser and `TENANTRY_REQUIRE_BROWSER=1` is not set.
pub(crate) fn chromedriver_or_skip() -> Option<PathBuf> {
    let chromedriver = find_on_path("chromedriver");
    let missing = match &chromedriver {
        None => "`chromedriver` is not on PATH",
        Some(_) if !Path::new(CHROMIUM).is_file() => "/usr/bin/chromium is missing",
        Some(_) => return chromedriver,
    };
    assert!(
        !skips::required("TENANTRY_REQUIRE_BROWSER"),
        "TENANTRY_REQUIRE_BROWSER=1 but {missing}: install Debian's chromium and chromium-driver"
    );
    // Counted, and reported with the other skips when the test binary exits.
    skips::record(Skip::Browser);
    None
}

/// The first executable file called `name` in a `PATH` directory.
pub(crate) fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| {
            candidate
                .metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// A WebDriver session in a headless Chromium of its own (fresh profile).
pub(crate) struct Browser {
    pub(crate) client: Client,
    driver: Driver,
}

/// What the browser pretends to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Device {
    /// A 1280×900 desktop window.
    Desktop,
    /// A 390×844 phone (Chrome's device metrics, mobile viewport).
    Phone,
}

impl Browser {
    /// Starts `chromedriver` on a free port and opens a desktop session.
    pub(crate) async fn start(chromedriver: &Path) -> Self {
        Self::start_as(chromedriver, Device::Desktop).await
    }

    /// Starts `chromedriver` on a free port and opens a session as `device`.
    pub(crate) async fn start_as(chromedriver: &Path, device: Device) -> Self {
        let dir = tempfile::tempdir().expect("temp dir for the browser");
        let log_path = dir.path().join("chromedriver.log");
        let log = File::create(&log_path).expect("create chromedriver.log");
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .and_then(|listener| listener.local_addr())
            .expect("pick a free port for chromedriver")
            .port();
        let child = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone the log file"))
            .stderr(log)
            // Its own process group, so `Driver::drop` can end chromedriver
            // and every browser process it started in one go.
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", chromedriver.display()));
        let mut driver = Driver {
            child,
            port,
            session_id: None,
            log_path,
            dir,
        };

        let profile = driver.dir.path().join("profile");
        let capabilities = serde_json::json!({
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--no-first-run",
                    "--disable-quic",
                    format!("--user-data-dir={}", profile.display()),
                ],
            }
        });
        let mut capabilities = capabilities;
        if device == Device::Phone {
            capabilities["goog:chromeOptions"]["mobileEmulation"] = serde_json::json!({
                "deviceMetrics": { "width": 390, "height": 844, "pixelRatio": 3.0, "mobile": true },
            });
        }
        let serde_json::Value::Object(capabilities) = capabilities else {
            unreachable!("a JSON object literal")
        };
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + START_TIMEOUT;
        let client = loop {
            match ClientBuilder::native()
                .capabilities(capabilities.clone())
                .connect(&url)
                .await
            {
                Ok(client) => break client,
                Err(NewSessionError::SessionNotCreated(e)) => {
                    panic!(
                        "chromedriver could not start Chromium: {e}\n{}",
                        driver.log()
                    )
                }
                Err(e) => {
                    // Not listening yet, most likely.
                    if let Ok(Some(status)) = driver.child.try_wait() {
                        panic!("chromedriver exited ({status}):\n{}", driver.log());
                    }
                    assert!(
                        Instant::now() < deadline,
                        "no WebDriver session within {START_TIMEOUT:?}: {e}\n{}",
                        driver.log()
                    );
                    sleep(Duration::from_millis(100)).await;
                }
            }
        };
        driver.session_id = client.session_id().await.expect("WebDriver session id");
        assert!(driver.session_id.is_some(), "a new session has an id");
        // A fixed desktop size, so screenshots and layout don't vary.
        if device == Device::Desktop {
            client
                .set_window_size(1280, 900)
                .await
                .expect("set the window size");
        }
        Self { client, driver }
    }

    /// Ends the session (the browser quits), then `Driver::drop` stops
    /// chromedriver.
    pub(crate) async fn close(self) {
        let Self { client, mut driver } = self;
        client.close().await.expect("end the WebDriver session");
        driver.session_id = None;
    }
}

/// The `chromedriver` process group, ended on drop even when the test fails
/// (killing chromedriver alone would leave its browser running).
pub(crate) struct Driver {
    child: Child,
    port: u16,
    /// Still open, so to be ended on drop.
    session_id: Option<String>,
    log_path: PathBuf,
    /// The browser profile and the log; removed after the processes are.
    dir: tempfile::TempDir,
}

impl Driver {
    /// What chromedriver logged, for failure messages.
    fn log(&self) -> String {
        let log = std::fs::read_to_string(&self.log_path).unwrap_or_default();
        format!("chromedriver log:\n{log}")
    }

    /// Ends the session with a plain blocking HTTP request: `drop` can't
    /// await fantoccini, whose connection task needs the test's runtime.
    fn end_session(&self, session_id: &str) {
        let address = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        let Ok(mut stream) = TcpStream::connect_timeout(&address, Duration::from_secs(2)) else {
            return;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
        let _ = stream.set_write_timeout(Some(Duration::from_secs(2)));
        let request = format!(
            "DELETE /session/{session_id} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n\
             Content-Length: 0\r\nConnection: close\r\n\r\n",
            self.port
        );
        if stream.write_all(request.as_bytes()).is_ok() {
            // chromedriver answers once the browser has quit.
            let _ = stream.read_to_end(&mut Vec::new());
        }
    }

    /// Sends `signal` to the whole process group; false when none is left.
    fn signal_group(&self, signal: &str) -> bool {
        Command::new("kill")
            .args([signal, "--", &format!("-{}", self.child.id())])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        if let Some(session_id) = self.session_id.take() {
            self.end_session(&session_id);
        }
        self.signal_group("-TERM");
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            // Reap chromedriver, or its zombie would keep the group "alive".
            let _ = self.child.try_wait();
            if !self.signal_group("-0") {
                break;
            }
            if Instant::now() >= deadline {
                self.signal_group("-KILL");
                let _ = self.child.wait();
                break;
            }
            std::thread::sleep(POLL);
        }
    }
}

/// Clicks `css` and waits until the browser has left the current page
/// (its `<html>` element went stale), so nothing is read from the old page.
pub(crate) async fn click_and_wait_for_next_page(c: &Client, css: &str) {
    let element = find(c, css).await;
    click_element_and_wait_for_next_page(c, &element, css).await;
}

/// Clicks `element` (called `what` in messages) and waits until the browser
/// has left the current page.
pub(crate) async fn click_element_and_wait_for_next_page(
    c: &Client,
    element: &Element,
    what: &str,
) {
    let old_page = find(c, "html").await;
    element
        .click()
        .await
        .unwrap_or_else(|e| panic!("click {what}: {e}"));
    let deadline = Instant::now() + PAGE_TIMEOUT;
    loop {
        match old_page.tag_name().await {
            Err(e) if e.is_stale_element_reference() => return,
            result => assert!(
                Instant::now() < deadline,
                "clicking {what} did not load a new page within {PAGE_TIMEOUT:?} \
                 (still {}: {result:?})",
                current_path(c).await
            ),
        }
        sleep(POLL).await;
    }
}

/// The element matching `css`, waiting for it to appear.
pub(crate) async fn find(c: &Client, css: &str) -> Element {
    let deadline = Instant::now() + PAGE_TIMEOUT;
    loop {
        match c.find(Locator::Css(css)).await {
            Ok(element) => return element,
            Err(e) => assert!(
                Instant::now() < deadline,
                "no {css} on {} within {PAGE_TIMEOUT:?}: {e}",
                current_path(c).await
            ),
        }
        sleep(POLL).await;
    }
}

/// The visible text of `css`.
pub(crate) async fn text_of(c: &Client, css: &str) -> String {
    find(c, css)
        .await
        .text()
        .await
        .unwrap_or_else(|e| panic!("text of {css}: {e}"))
}

/// Waits until `css` shows exactly `expected` (whitespace collapsed).
pub(crate) async fn expect_text(c: &Client, css: &str, expected: &str) {
    let deadline = Instant::now() + PAGE_TIMEOUT;
    loop {
        let shown = match c.find(Locator::Css(css)).await {
            Ok(element) => element.text().await.ok(),
            Err(_) => None,
        };
        let shown = shown.map(|text| text.split_whitespace().collect::<Vec<_>>().join(" "));
        if shown.as_deref() == Some(expected) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{css} on {} shows {shown:?}, expected {expected:?}",
            current_path(c).await
        );
        sleep(POLL).await;
    }
}

/// Waits until `css` is visible (so it can be clicked).
pub(crate) async fn wait_until_displayed(c: &Client, css: &str) {
    let deadline = Instant::now() + PAGE_TIMEOUT;
    while !find(c, css).await.is_displayed().await.unwrap_or(false) {
        assert!(
            Instant::now() < deadline,
            "{css} not visible within {PAGE_TIMEOUT:?}"
        );
        sleep(POLL).await;
    }
}

/// Asserts the current page has no `css` (the page is already loaded).
pub(crate) async fn assert_absent(c: &Client, css: &str) {
    let found = c
        .find_all(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("look for {css}: {e}"));
    assert!(
        found.is_empty(),
        "{css} is shown on {}",
        current_path(c).await
    );
}

/// Replaces what's typed in the input `css`.
pub(crate) async fn type_into(c: &Client, css: &str, text: &str) {
    let input = find(c, css).await;
    input
        .clear()
        .await
        .unwrap_or_else(|e| panic!("clear {css}: {e}"));
    input
        .send_keys(text)
        .await
        .unwrap_or_else(|e| panic!("type into {css}: {e}"));
}

/// The current value of the input `css`.
pub(crate) async fn value_of(c: &Client, css: &str) -> String {
    find(c, css)
        .await
        .prop("value")
        .await
        .unwrap_or_else(|e| panic!("value of {css}: {e}"))
        .unwrap_or_default()
}

/// Waits until the browser is at `expected` (path and query).
pub(crate) async fn expect_path(c: &Client, expected: &str) {
    let deadline = Instant::now() + PAGE_TIMEOUT;
    loop {
        let path = current_path(c).await;
        if path == expected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the browser is at {path}, expected {expected}"
        );
        sleep(POLL).await;
    }
}

/// The path and query the browser is at, for messages.
pub(crate) async fn current_path(c: &Client) -> String {
    match c.current_url().await {
        Ok(url) => match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_owned(),
        },
        Err(e) => format!("<unknown URL: {e}>"),
    }
}

/// Saves a screenshot as `<dir>/<page>-<backend>.png` when
/// `TENANTRY_BROWSER_SCREENSHOTS` names a directory.
pub(crate) async fn save_screenshot(c: &Client, backend: TestBackend, page: &str) {
    let Some(dir) = std::env::var_os("TENANTRY_BROWSER_SCREENSHOTS") else {
        return;
    };
    let png = c.screenshot().await.expect("take a screenshot");
    let backend = match backend {
        TestBackend::Sqlite => "sqlite",
        TestBackend::Postgres => "postgres",
    };
    let path = Path::new(&dir).join(format!("{page}-{backend}.png"));
    std::fs::write(&path, png).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

//! Skipped tests are counted and reported loudly, never silently passed.
//!
//! A PostgreSQL twin without `TENANTRY_TEST_POSTGRES_URL`, or a browser
//! journey without Chromium, passes without testing anything. Each such
//! skip is recorded here, and when the test binary exits one summary with
//! the counts goes straight to the process's stderr (libtest captures the
//! output of passing tests, so a notice printed inside a test would be
//! lost), e.g.:
//!
//! ```text
//! !!! SKIPPED 146 PostgreSQL tests: TENANTRY_TEST_POSTGRES_URL is not set …
//! ```
//!
//! `TENANTRY_REQUIRE_POSTGRES=1` and `TENANTRY_REQUIRE_BROWSER=1` turn the
//! skips into failures instead; `.ci/run` sets both, so CI never passes with
//! half the suite unrun.

use std::io::Write;
use std::sync::Once;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Why a test did not run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// No `TENANTRY_TEST_POSTGRES_URL`.
    Postgres,
    /// No `chromedriver` or Chromium.
    Browser,
    /// No schemathesis (`st`).
    Schemathesis,
}

/// PostgreSQL tests skipped so far.
static POSTGRES: AtomicUsize = AtomicUsize::new(0);
/// Browser tests skipped so far.
static BROWSER: AtomicUsize = AtomicUsize::new(0);
/// Schemathesis runs skipped so far.
static SCHEMATHESIS: AtomicUsize = AtomicUsize::new(0);
/// Registers the exit summary once, at the first skip.
static AT_EXIT: Once = Once::new();

/// Whether an opt-in variable (`TENANTRY_REQUIRE_…`) is set to `1`.
pub fn required(variable: &str) -> bool {
    std::env::var(variable).is_ok_and(|v| v == "1")
}

/// Records that the running test was skipped for `reason`; the counts are
/// printed when the test binary ends.
pub fn record(reason: Skip) {
    match reason {
        Skip::Postgres => POSTGRES.fetch_add(1, Ordering::SeqCst),
        Skip::Browser => BROWSER.fetch_add(1, Ordering::SeqCst),
        Skip::Schemathesis => SCHEMATHESIS.fetch_add(1, Ordering::SeqCst),
    };
    AT_EXIT.call_once(|| {
        // SAFETY: `atexit` is the C library's; the handler is a plain
        // `extern "C" fn` that reads two atomics and writes to stderr.
        let registered = unsafe { atexit(print_summary) };
        if registered != 0 {
            let _ = writeln!(
                std::io::stderr(),
                "!!! could not register the skip summary; tests are being skipped !!!"
            );
        }
    });
}

unsafe extern "C" {
    /// C's `atexit(3)`: runs `handler` when the process exits normally
    /// (libtest returns from `main`, or calls `process::exit` after a
    /// failure).
    fn atexit(handler: extern "C" fn()) -> std::ffi::c_int;
}

/// Writes the summary straight to the process's stderr (not through
/// `eprintln!`, which libtest may capture).
extern "C" fn print_summary() {
    let postgres = POSTGRES.load(Ordering::SeqCst);
    let browser = BROWSER.load(Ordering::SeqCst);
    let schemathesis = SCHEMATHESIS.load(Ordering::SeqCst);
    let mut out = String::from("\n");
    let bar = "!".repeat(78);
    out.push_str(&bar);
    out.push('\n');
    if postgres > 0 {
        out.push_str(&format!(
            "!!! SKIPPED {postgres} PostgreSQL test(s): TENANTRY_TEST_POSTGRES_URL is not set.\n\
             !!!   Set it (e.g. postgres://postgres@127.0.0.1/test) to run them;\n\
             !!!   TENANTRY_REQUIRE_POSTGRES=1 makes a skip a failure (CI sets it).\n"
        ));
    }
    if browser > 0 {
        out.push_str(&format!(
            "!!! SKIPPED {browser} browser test(s): no chromedriver or Chromium.\n\
             !!!   Install Debian's chromium and chromium-driver to run them;\n\
             !!!   TENANTRY_REQUIRE_BROWSER=1 makes a skip a failure (CI sets it).\n"
        ));
    }
    if schemathesis > 0 {
        out.push_str(&format!(
            "!!! SKIPPED {schemathesis} schemathesis run(s): no `st` on PATH (or TENANTRY_SCHEMATHESIS).\n\
             !!!   pip install schemathesis to run them;\n\
             !!!   TENANTRY_REQUIRE_SCHEMATHESIS=1 makes a skip a failure (CI sets it).\n"
        ));
    }
    out.push_str("!!! This run did not test them; a green result says nothing about them.\n");
    out.push_str(&bar);
    out.push('\n');
    let mut stderr = std::io::stderr().lock();
    let _ = stderr.write_all(out.as_bytes());
    let _ = stderr.flush();
}

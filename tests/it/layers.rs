//! The layering rule, checked: `web` → services → `db` → values. No file
//! below the web layer may name the web layer or the HTTP framework, so a
//! service can run from a page, the JSON API, a job or the CLI alike.

use std::path::{Path, PathBuf};

/// Source trees below `web`, and what none of them may mention.
const BELOW_WEB: &[&str] = &[
    "src/services",
    "src/db",
    "src/domain",
    "src/config.rs",
    "src/telemetry.rs",
];
const WEB_ONLY: &[&str] = &["crate::web", "actix_web", "actix_session", "AppState"];

fn rust_files(path: &Path, found: &mut Vec<PathBuf>) {
    if path.is_dir() {
        for entry in std::fs::read_dir(path).expect("readable source dir") {
            rust_files(&entry.expect("dir entry").path(), found);
        }
    } else if path.extension().is_some_and(|ext| ext == "rs") {
        found.push(path.to_owned());
    }
}

#[test]
fn nothing_below_web_imports_web() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for tree in BELOW_WEB {
        rust_files(&root.join(tree), &mut files);
    }
    assert!(files.len() > 20, "the scan found the sources: {files:?}");
    let mut violations = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("readable source");
        for (number, line) in text.lines().enumerate() {
            if let Some(name) = WEB_ONLY.iter().find(|name| line.contains(*name)) {
                violations.push(format!(
                    "{}:{}: {name}: {}",
                    file.strip_prefix(root).unwrap_or(file).display(),
                    number + 1,
                    line.trim()
                ));
            }
        }
    }
    assert!(
        violations.is_empty(),
        "files below the web layer name it:\n{}",
        violations.join("\n")
    );
}

/// Longest a function under `src/web` may be, signature to closing brace:
/// a handler parses, calls one service, and renders or redirects.
const HANDLER_LINES: usize = 40;

#[test]
fn web_functions_stay_short() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src/web"), &mut files);
    assert!(files.len() > 10, "the scan found the sources: {files:?}");
    let mut long = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("readable source");
        let mut start: Option<(usize, &str)> = None;
        for (number, line) in text.lines().enumerate() {
            let opens = ["pub async fn ", "async fn ", "pub fn ", "fn "]
                .iter()
                .any(|prefix| line.starts_with(prefix));
            if opens && !line.trim_end().ends_with(';') {
                start = Some((number, line));
            } else if line == "}"
                && let Some((first, signature)) = start.take()
                && number - first + 1 > HANDLER_LINES
            {
                long.push(format!(
                    "{}:{}: {} lines: {}",
                    file.strip_prefix(root).unwrap_or(file).display(),
                    first + 1,
                    number - first + 1,
                    signature.trim()
                ));
            }
        }
    }
    assert!(
        long.is_empty(),
        "functions over {HANDLER_LINES} lines:\n{}",
        long.join("\n")
    );
}

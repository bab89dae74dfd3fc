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
/// a handler parses, calls one service, and renders or redirects; a helper
/// in an `impl` block is held to the same.
const HANDLER_LINES: usize = 40;

/// Functions allowed to be longer, each with why.
const LONG_BY_DESIGN: &[(&str, &str)] = &[(
    "fn public_text(",
    "one match arm per error kind: a table of messages, read row by row",
)];

/// Where a function starts: its indentation, when the line opens one.
fn opens_function(line: &str) -> Option<&str> {
    let body = line.trim_start();
    let indent = &line[..line.len() - body.len()];
    let opens = [
        "pub async fn ",
        "async fn ",
        "pub fn ",
        "pub(crate) fn ",
        "fn ",
    ]
    .iter()
    .any(|prefix| body.starts_with(prefix));
    (opens && !line.trim_end().ends_with(';')).then_some(indent)
}

#[test]
fn web_functions_stay_short() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src/web"), &mut files);
    assert!(files.len() > 10, "the scan found the sources: {files:?}");
    let mut long = Vec::new();
    let mut methods = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).expect("readable source");
        // Functions open at this point of the file, innermost last.
        let mut open: Vec<(usize, &str, &str)> = Vec::new();
        for (number, line) in text.lines().enumerate() {
            if let Some(indent) = opens_function(line) {
                methods += usize::from(!indent.is_empty());
                open.push((number, line, indent));
            } else if let Some(&(first, signature, indent)) = open.last()
                && line.strip_prefix(indent) == Some("}")
            {
                open.pop();
                let exempt = LONG_BY_DESIGN
                    .iter()
                    .any(|(name, _)| signature.contains(name));
                if number - first + 1 > HANDLER_LINES && !exempt {
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
    }
    assert!(
        methods > 50,
        "the scan saw functions in impl blocks: {methods}"
    );
    assert!(
        long.is_empty(),
        "functions over {HANDLER_LINES} lines:\n{}",
        long.join("\n")
    );
}

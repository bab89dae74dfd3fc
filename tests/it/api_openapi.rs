//! `GET /api/v1/openapi.json`: every `/api/v1` route of the URL table is
//! described, and schemathesis, fuzzing each operation from the document
//! with a member's and a project's key, finds no server error and no
//! answer outside the documented schemas.

use std::path::PathBuf;
use std::process::Command;

use reqwest::StatusCode;
use tenantry::domain::Permission;
use tenantry::web::routes::TABLE;

use crate::api_keys::create_key;
use crate::browser_support::find_on_path;
use crate::on_both_backends;
use crate::skips::{self, Skip};
use crate::support::TestApp;

on_both_backends!(
    the_document_describes_every_api_route,
    schemathesis_finds_no_server_error_or_undocumented_answer,
);

async fn document(app: &TestApp) -> serde_json::Value {
    let res = reqwest::get(format!("{}/api/v1/openapi.json", app.base))
        .await
        .expect("GET the document");
    assert_eq!(res.status(), StatusCode::OK);
    res.json().await.expect("JSON")
}

async fn the_document_describes_every_api_route(app: TestApp) {
    let doc = document(&app).await;
    assert!(
        doc["openapi"]
            .as_str()
            .unwrap_or_default()
            .starts_with("3."),
        "{doc}"
    );
    for route in TABLE
        .iter()
        .filter(|r| r.path.starts_with("/api/v1/") && r.path != "/api/v1/openapi.json")
    {
        let method = route.method.to_lowercase();
        assert!(
            doc["paths"][route.path][&method].is_object(),
            "{} {} is not in the OpenAPI document",
            route.method,
            route.path
        );
    }
    assert!(doc["components"]["securitySchemes"]["member_key"].is_object());
    // Member-key operations say they may be rate limited.
    let members = &doc["paths"]["/api/v1/organizations/{org_id}/members"]["get"];
    assert!(
        members["responses"]["429"]["headers"]["Retry-After"].is_object(),
        "{members}"
    );
    assert!(doc["components"]["schemas"]["ApiError"].is_object());
}

/// schemathesis's `st`, or `None` (a recorded skip) when it isn't
/// installed and `TENANTRY_REQUIRE_SCHEMATHESIS=1` is not set.
fn schemathesis_or_skip() -> Option<PathBuf> {
    let found = std::env::var_os("TENANTRY_SCHEMATHESIS")
        .map(PathBuf::from)
        .or_else(|| find_on_path("st"));
    if found.is_none() {
        assert!(
            !skips::required("TENANTRY_REQUIRE_SCHEMATHESIS"),
            "TENANTRY_REQUIRE_SCHEMATHESIS=1 but there is no `st`: pip install schemathesis"
        );
        skips::record(Skip::Schemathesis);
    }
    found
}

async fn schemathesis_finds_no_server_error_or_undocumented_answer(app: TestApp) {
    let Some(st) = schemathesis_or_skip() else {
        return;
    };
    let app = app
        .with_acme()
        .await
        .with_project("acme", "Search")
        .await
        .with_funds("acme", "50")
        .await;
    // The owner's key with everything but archiving the organization, which
    // would end the run's key; every `{org_id}` is the key's own, so the
    // fuzzing reaches the handlers' rules rather than stopping at 404.
    let mut fields = vec![("name", "fuzz"), ("scope", "chosen")];
    fields.extend(
        Permission::ALL
            .iter()
            .filter(|p| **p != Permission::OrgDelete)
            .map(|p| ("permissions", p.key())),
    );
    let member_key = create_key(&app.browser("ann@example.com"), &fields).await;
    let project_key = app.add_project_key("acme", "Search", "fuzz").await;
    let schema = format!("{}/api/v1/openapi.json", app.base);
    let config = app.outbox_dir().with_file_name("schemathesis.toml");
    let acme = app.workspace_id("acme").await;
    std::fs::write(&config, format!("[parameters]\norg_id = \"{acme}\"\n"))
        .expect("write the config");
    let config = config.display().to_string();
    let audited_before = app
        .count_with("audit_entries WHERE workspace_id = ?", &[&acme])
        .await;
    let runs = [
        ("member", &member_key, 37),
        ("platform", &project_key, 5),
        ("provider", &project_key, 1),
    ];
    for (tag, key, operations) in runs {
        let (st, schema, key, config) = (st.clone(), schema.clone(), key.clone(), config.clone());
        let output = tokio::task::spawn_blocking(move || {
            // Its cache goes to the test's data directory, not the checkout.
            let work_dir = PathBuf::from(&config)
                .parent()
                .map(PathBuf::from)
                .unwrap_or_default();
            Command::new(st)
                .current_dir(work_dir)
                .args([
                    "--config-file",
                    &config,
                    "run",
                    &schema,
                    "--include-tag",
                    tag,
                ])
                .args([
                    "--checks",
                    "not_a_server_error,response_schema_conformance,content_type_conformance",
                ])
                // The coverage phase trips over a CPython 3.11.7 bug in
                // hypothesis ("AST constructor recursion depth mismatch").
                .args(["--phases", "examples,fuzzing"])
                .args(["--max-examples", "25", "--workers", "2", "--no-color"])
                .args(["-H", &format!("Authorization: Bearer {key}")])
                .output()
        })
        .await
        .expect("join")
        .expect("run schemathesis");
        let report = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "schemathesis on the {tag} operations:\n{report}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(
            report.contains(&format!("Selected: {operations}/")),
            "the {tag} operations:\n{report}"
        );
        let tested: usize = report
            .split("Tested: ")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        // An operation with no input at all (GET /api/v1/organizations) is
        // sometimes reported as skipped, "No examples in schema".
        assert!(
            tested == operations
                || (tested + 1 == operations && report.contains("No examples in schema")),
            "every {tag} operation was exercised:\n{report}"
        );
    }
    // The fuzzing got past the door: it made changes in Acme (teams,
    // projects, roles, …), each audited.
    assert!(
        app.count_with("audit_entries WHERE workspace_id = ?", &[&acme])
            .await
            > audited_before,
        "the member operations reached their handlers"
    );
}

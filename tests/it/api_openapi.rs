//! `GET /api/v1/openapi.json`: every `/api/v1` route of the URL table is
//! described, and schemathesis, fuzzing each operation from the document
//! with a member's and a project's key, finds no server error and no
//! answer outside the documented schemas.

use std::path::PathBuf;
use std::process::Command;

use reqwest::StatusCode;
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
    let member_key = create_key(&app.browser("ann@example.com"), &[("name", "fuzz")]).await;
    let project_key = app.add_project_key("acme", "Search", "fuzz").await;
    let schema = format!("{}/api/v1/openapi.json", app.base);
    let runs = [
        ("member", &member_key, 3),
        ("platform", &project_key, 5),
        ("provider", &project_key, 1),
    ];
    for (tag, key, operations) in runs {
        let (st, schema, key) = (st.clone(), schema.clone(), key.clone());
        let output = tokio::task::spawn_blocking(move || {
            Command::new(st)
                .args(["run", &schema, "--include-tag", tag])
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
            report.contains(&format!("Tested: {operations}")),
            "every {tag} operation was exercised:\n{report}"
        );
    }
}

//! Members' keys are rate limited per minute by kind, across every
//! instance on the database: past the limit, 429 with `Retry-After`.

use reqwest::{Method, StatusCode};

use crate::api_keys::{call_at, key_in};
use crate::on_both_backends_with;
use crate::support::TestApp;

on_both_backends_with!(small_key_limits; keys_are_limited_per_minute_by_kind_across_instances);

fn small_key_limits(settings: &mut tenantry::config::Settings) {
    settings.api_key_calls_per_minute = 3;
    settings.ai_agent_key_calls_per_minute = 2;
}

/// Waits for a new minute if this one is nearly over, so the calls of one
/// scenario fall in one minute.
async fn early_in_a_minute() {
    let second = chrono::Utc::now().timestamp().rem_euclid(60);
    if second >= 45 {
        tokio::time::sleep(std::time::Duration::from_secs((61 - second) as u64)).await;
    }
}

async fn keys_are_limited_per_minute_by_kind_across_instances(app: TestApp) {
    let app = app.with_acme().await;
    let acme = app.workspace_id("acme").await;
    let standard = key_in(&app, "ann@example.com", &acme, &[("name", "std")]).await;
    let agent = key_in(
        &app,
        "ann@example.com",
        &acme,
        &[("name", "bot"), ("kind", "ai_agent")],
    )
    .await;
    let shared = key_in(&app, "ann@example.com", &acme, &[("name", "shared")]).await;
    let other = app.another_instance();
    let path = format!("/api/v1/organizations/{acme}");
    early_in_a_minute().await;

    for n in 1..=3 {
        let (status, _, body) = call_at(&app.base, &standard, Method::GET, &path, None).await;
        assert_eq!(status, StatusCode::OK, "call {n}: {body}");
    }
    let (status, retry_after, body) = call_at(&app.base, &standard, Method::GET, &path, None).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["error"]["code"], "rate_limited");
    let seconds: i64 = retry_after.expect("Retry-After").parse().expect("seconds");
    assert!((1..=60).contains(&seconds), "{seconds}");

    // The AI-agent key has its own, lower limit.
    for n in 1..=2 {
        let (status, _, body) = call_at(&app.base, &agent, Method::GET, &path, None).await;
        assert_eq!(status, StatusCode::OK, "agent call {n}: {body}");
    }
    let (status, _, _) = call_at(&app.base, &agent, Method::GET, &path, None).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);

    // Two instances share one key's minute: 2 here + 1 there, then none.
    for base in [&app.base, &app.base, &other.base] {
        let (status, _, body) = call_at(base, &shared, Method::GET, &path, None).await;
        assert_eq!(status, StatusCode::OK, "{base}: {body}");
    }
    for base in [&other.base, &app.base] {
        let (status, retry_after, _) = call_at(base, &shared, Method::GET, &path, None).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{base}");
        assert!(retry_after.is_some());
    }
    // Authorize counts against the same limit.
    let (status, _, _) = call_at(
        &other.base,
        &shared,
        Method::POST,
        "/api/v1/authorize",
        Some(serde_json::json!({"permission": "members.read"})),
    )
    .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
}

//! `POST /api/v1/usage/charges` and `GET /api/v1/wallet`: the platform
//! charges the wallet of the project whose key it presents — never more
//! than the balance however many charges arrive at once, once per
//! idempotency key, within the spend controls — and reads the balance.

use futures::StreamExt;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::on_both_backends;
use crate::support::TestApp;

on_both_backends!(
    a_charge_debits_the_keys_wallet_and_answers_the_new_balance,
    a_repeated_charge_is_answered_once_and_a_reused_key_is_refused,
    charges_are_refused_without_funds_or_outside_the_controls,
    bad_requests_get_the_json_error_shape,
    a_key_charges_only_its_own_workspace,
    concurrent_charges_never_overdraw,
    a_key_sent_many_times_at_once_charges_once_beside_other_charges,
    budget_alerts_go_to_billing_readers_once_per_threshold,
    a_members_charges_stop_at_the_limit_per_member,
);

/// A charge over HTTP: status, headers and JSON body.
pub async fn charge(
    app: &TestApp,
    key: &str,
    idempotency_key: &str,
    body: Value,
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let res = reqwest::Client::new()
        .post(format!("{}/api/v1/usage/charges", app.base))
        .bearer_auth(key)
        .header("Idempotency-Key", idempotency_key)
        .json(&body)
        .send()
        .await
        .expect("charge call");
    let (status, headers) = (res.status(), res.headers().clone());
    (status, headers, res.json().await.expect("a JSON body"))
}

/// Makes each charge in turn (a project key, a model, micro-credits),
/// described as "call {i}, with a comma" (a CSV export must quote it);
/// each must be accepted.
pub async fn charge_each(app: &TestApp, charges: &[(&str, &str, i64)]) {
    for (i, (key, model, micros)) in charges.iter().enumerate() {
        let body = json!({"model": model, "amount": micros, "description": format!("call {i}, with a comma")});
        let (status, _, answer) = charge(app, key, &format!("each-{i}"), body).await;
        assert_eq!(status, StatusCode::CREATED, "{answer}");
    }
}

async fn wallet(app: &TestApp, key: &str) -> (StatusCode, Value) {
    let res = reqwest::Client::new()
        .get(format!("{}/api/v1/wallet", app.base))
        .bearer_auth(key)
        .send()
        .await
        .expect("wallet call");
    let status = res.status();
    (status, res.json().await.expect("a JSON body"))
}

/// Acme (Ann's) with 10 credits and a key of its project Search.
async fn funded_acme(app: TestApp) -> (TestApp, String) {
    let app = app
        .with_acme()
        .await
        .with_project("acme", "Search")
        .await
        .with_funds("acme", "10")
        .await;
    let key = app.add_project_key("acme", "Search", "platform").await;
    (app, key)
}

async fn a_charge_debits_the_keys_wallet_and_answers_the_new_balance(app: TestApp) {
    let (app, key) = funded_acme(app).await;
    let body = json!({"model": "gpt-4o", "amount": 1_500_000, "description": "chat turn"});
    let (status, headers, answer) = charge(&app, &key, "turn-1", body).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    assert_eq!(headers["Idempotent-Replayed"], "false");
    assert_eq!(answer["balance"], 8_500_000);
    assert_eq!(answer["entry"]["amount"], -1_500_000);
    assert_eq!(answer["entry"]["kind"], "charge");
    assert_eq!(answer["entry"]["model"], "gpt-4o");
    assert_eq!(answer["workspace_id"], app.workspace_id("acme").await);
    assert_eq!(app.balance_of("acme").await, 8_500_000);

    let (status, answer) = wallet(&app, &key).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer["balance"], 8_500_000);
    assert_eq!(answer["month_spent"], 1_500_000);
    assert_eq!(answer["workspace"]["name"], "Acme Corp");

    // The owner sees the charge on the billing page.
    let page = app
        .browser("ann@example.com")
        .get("/settings/billing")
        .await;
    assert_eq!(page.text_of("#balance").as_deref(), Some("8.50"));
    assert_eq!(page.text_of("#month-spent").as_deref(), Some("1.50"));
    let row = page
        .text_of("#transactions-table tr[data-kind=\"charge\"]")
        .unwrap_or_default();
    assert!(
        row.contains("chat turn") && row.contains("Search") && row.contains("-1.50"),
        "{row}"
    );
    // And in today's bar of the Usage page's charts, by project and by model.
    let page = app.browser("ann@example.com").get("/settings/usage").await;
    assert_eq!(page.status, StatusCode::OK);
    let by_project = page.text_of("#spend-chart .legend").unwrap_or_default();
    assert!(
        by_project.contains("Search") && by_project.contains("1.50"),
        "{by_project}"
    );
    let by_model = page.text_of("#spend-by-model .legend").unwrap_or_default();
    assert!(by_model.contains("gpt-4o"), "{by_model}");
    assert_eq!(
        page.body.matches("<rect").count() - 2,
        2,
        "one bar in each chart"
    );
}

async fn a_repeated_charge_is_answered_once_and_a_reused_key_is_refused(app: TestApp) {
    let (app, key) = funded_acme(app).await;
    let body = json!({"model": "gpt-4o", "amount": 2_000_000});
    let (_, _, first) = charge(&app, &key, "k-1", body.clone()).await;
    let (status, headers, again) = charge(&app, &key, "k-1", body).await;
    assert_eq!(status, StatusCode::CREATED, "{again}");
    assert_eq!(headers["Idempotent-Replayed"], "true");
    assert_eq!(again, first, "a repeat answers what the first did");
    assert_eq!(app.balance_of("acme").await, 8_000_000, "charged once");

    let other = json!({"model": "gpt-4o", "amount": 3_000_000});
    let (status, _, refused) = charge(&app, &key, "k-1", other).await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");
    assert_eq!(refused["error"]["code"], "idempotency_key_reused");
    assert_eq!(app.balance_of("acme").await, 8_000_000);
    assert_eq!(app.count("ledger_entries WHERE kind = 'charge'").await, 1);
}

async fn charges_are_refused_without_funds_or_outside_the_controls(app: TestApp) {
    let (app, key) = funded_acme(app).await;
    let (status, _, refused) = charge(
        &app,
        &key,
        "big",
        json!({"model": "gpt-4o", "amount": 10_000_001}),
    )
    .await;
    assert_eq!(status, StatusCode::PAYMENT_REQUIRED, "{refused}");
    assert_eq!(refused["error"]["code"], "insufficient_funds");
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("10.00"),
        "{refused}"
    );

    // Ann limits the month to 3 credits and allows one model.
    let ann = app.browser("ann@example.com");
    let res = ann
        .submit(
            "/settings/billing",
            "/billing/controls",
            &[
                ("monthly_limit", "3"),
                ("allowed_models", "gpt-4o\nclaude-3"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let (status, _, refused) = charge(
        &app,
        &key,
        "llama",
        json!({"model": "llama-3", "amount": 1_000_000}),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");
    assert_eq!(refused["error"]["code"], "model_not_allowed");
    let (status, _, _) = charge(
        &app,
        &key,
        "two",
        json!({"model": "claude-3", "amount": 2_000_000}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _, refused) = charge(
        &app,
        &key,
        "more",
        json!({"model": "gpt-4o", "amount": 1_000_001}),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");
    assert_eq!(refused["error"]["code"], "spend_limit_reached");
    // Exactly up to the limit is allowed.
    let (status, _, _) = charge(
        &app,
        &key,
        "last",
        json!({"model": "gpt-4o", "amount": 1_000_000}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(app.balance_of("acme").await, 7_000_000);

    // A suspended workspace can't be charged.
    app.execute("UPDATE workspaces SET status = 'suspended' WHERE slug = 'acme'")
        .await;
    let (status, _, refused) = charge(
        &app,
        &key,
        "suspended",
        json!({"model": "gpt-4o", "amount": 1}),
    )
    .await;
    assert_eq!(status, StatusCode::PAYMENT_REQUIRED, "{refused}");
    assert_eq!(refused["error"]["code"], "workspace_suspended");
    assert_eq!(app.balance_of("acme").await, 7_000_000);
}

async fn bad_requests_get_the_json_error_shape(app: TestApp) {
    let (app, key) = funded_acme(app).await;
    let client = reqwest::Client::new();
    let url = format!("{}/api/v1/usage/charges", app.base);
    let body = json!({"model": "gpt-4o", "amount": 1});

    let res = client.post(&url).json(&body).send().await.expect("call");
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(res.headers()["www-authenticate"], "Bearer");
    let answer: Value = res.json().await.expect("json");
    assert_eq!(answer["error"]["code"], "unauthorized");

    let res = client
        .post(&url)
        .bearer_auth(&key)
        .json(&body)
        .send()
        .await
        .expect("call");
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let answer: Value = res.json().await.expect("json");
    assert_eq!(answer["error"]["field"], "Idempotency-Key", "{answer}");

    let (status, _, answer) =
        charge(&app, &key, "zero", json!({"model": "gpt-4o", "amount": 0})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(answer["error"]["field"], "amount", "{answer}");
    let (status, _, answer) =
        charge(&app, &key, "model", json!({"model": "<b>", "amount": 5})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(answer["error"]["field"], "model", "{answer}");

    let res = client
        .post(&url)
        .bearer_auth(&key)
        .header("Idempotency-Key", "form")
        .body("model=gpt-4o&amount=1")
        .header("Content-Type", "application/x-www-form-urlencoded")
        .send()
        .await
        .expect("call");
    assert_eq!(res.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let answer: Value = res.json().await.expect("json");
    assert_eq!(answer["error"]["code"], "unsupported_media_type");

    let res = client
        .post(&url)
        .bearer_auth(&key)
        .header("Idempotency-Key", "broken")
        .header("Content-Type", "application/json")
        .body("{\"model\":")
        .send()
        .await
        .expect("call");
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(app.count("ledger_entries WHERE kind = 'charge'").await, 0);
    assert_eq!(app.balance_of("acme").await, 10_000_000);
}

async fn a_key_charges_only_its_own_workspace(app: TestApp) {
    let (app, acme_key) = funded_acme(app).await;
    let app = app
        .with_user("Bob", "bob@example.com")
        .await
        .with_org("bob@example.com", "Beta Works", "beta")
        .await
        .with_project("beta", "Crawl")
        .await
        .with_funds("beta", "5")
        .await;
    let beta_key = app.add_project_key("beta", "Crawl", "platform").await;
    let (status, _, _) = charge(
        &app,
        &beta_key,
        "b-1",
        json!({"model": "m", "amount": 1_000_000}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(app.balance_of("beta").await, 4_000_000);
    assert_eq!(app.balance_of("acme").await, 10_000_000);
    // The same idempotency key in another wallet is another charge.
    let (status, _, answer) = charge(
        &app,
        &acme_key,
        "b-1",
        json!({"model": "m", "amount": 1_000_000}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    assert_eq!(answer["workspace_id"], app.workspace_id("acme").await);
    let (_, beta_wallet) = wallet(&app, &beta_key).await;
    assert_eq!(beta_wallet["balance"], 4_000_000);
    assert_eq!(beta_wallet["workspace"]["name"], "Beta Works");

    // A revoked key charges nothing.
    let bob = app.browser("bob@example.com");
    let project = app.project_id("beta", "Crawl").await;
    let key_id = app
        .text_value_with(
            "SELECT id AS value FROM project_keys WHERE project_id = ?",
            &[&project],
        )
        .await;
    let page = format!("/projects/{project}");
    let res = bob
        .submit(&page, &format!("{page}/keys/{key_id}/revoke"), &[])
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let (status, _, _) = charge(&app, &beta_key, "b-2", json!({"model": "m", "amount": 1})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = wallet(&app, &beta_key).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.balance_of("beta").await, 4_000_000);
}

/// 1 000 charges of 0.01 credits at once against 4 credits: exactly 400
/// succeed, the rest are refused for funds, and the balance ends at 0.
async fn concurrent_charges_never_overdraw(app: TestApp) {
    let app = app
        .with_acme()
        .await
        .with_project("acme", "Search")
        .await
        .with_funds("acme", "4")
        .await;
    let key = app.add_project_key("acme", "Search", "platform").await;
    let client = reqwest::Client::new();
    let url = format!("{}/api/v1/usage/charges", app.base);
    let statuses: Vec<StatusCode> = futures::stream::iter(0..1000)
        .map(|i| {
            let request = client
                .post(&url)
                .bearer_auth(&key)
                .header("Idempotency-Key", format!("race-{i}"))
                .json(&json!({"model": "gpt-4o", "amount": 10_000}));
            async move { request.send().await.expect("charge").status() }
        })
        .buffer_unordered(100)
        .collect()
        .await;
    let created = statuses
        .iter()
        .filter(|s| **s == StatusCode::CREATED)
        .count();
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::PAYMENT_REQUIRED)
        .count();
    assert_eq!((created, refused), (400, 600), "{statuses:?}");
    assert_eq!(app.balance_of("acme").await, 0);
    assert_eq!(app.count("ledger_entries WHERE kind = 'charge'").await, 400);
}

/// 40 copies of one charge (one idempotency key) and 40 other charges, all
/// at once: the copy is entered once and every copy answers its entry,
/// and the repeats, refused by the ledger's unique key while other charges
/// are entered beside them (on SQLite in the same transaction), take
/// nothing from the others.
async fn a_key_sent_many_times_at_once_charges_once_beside_other_charges(app: TestApp) {
    let (app, key) = funded_acme(app).await;
    let client = reqwest::Client::new();
    let url = format!("{}/api/v1/usage/charges", app.base);
    let answers: Vec<(String, StatusCode, Value)> = futures::stream::iter(0..80)
        .map(|i| {
            let idempotency_key = if i % 2 == 0 {
                "same".to_owned()
            } else {
                format!("other-{i}")
            };
            let request = client
                .post(&url)
                .bearer_auth(&key)
                .header("Idempotency-Key", &idempotency_key)
                .json(&json!({"model": "gpt-4o", "amount": 100_000}));
            async move {
                let res = request.send().await.expect("charge");
                let status = res.status();
                (
                    idempotency_key,
                    status,
                    res.json().await.expect("a JSON body"),
                )
            }
        })
        .buffer_unordered(80)
        .collect()
        .await;
    assert!(
        answers.iter().all(|(_, s, _)| *s == StatusCode::CREATED),
        "{answers:?}"
    );
    let copies: Vec<&Value> = answers
        .iter()
        .filter(|(k, _, _)| k == "same")
        .map(|(_, _, body)| &body["entry"]["id"])
        .collect();
    assert_eq!(copies.len(), 40);
    assert!(copies.iter().all(|id| *id == copies[0]), "{copies:?}");
    assert_eq!(
        app.count("ledger_entries WHERE kind = 'charge'").await,
        41,
        "the copy once, the others each"
    );
    assert_eq!(app.balance_of("acme").await, 10_000_000 - 41 * 100_000);
}

async fn budget_alerts_go_to_billing_readers_once_per_threshold(app: TestApp) {
    let app = app
        .with_acme()
        .await
        .with_role("acme", "Accountant", 20, &["billing.read"])
        .await
        .with_member("acme", "Carl", "carl@example.com", "Accountant")
        .await
        .with_member("acme", "Dave", "dave@example.com", "member")
        .await
        .with_project("acme", "Search")
        .await
        .with_funds("acme", "30")
        .await;
    let key = app.add_project_key("acme", "Search", "platform").await;
    let ann = app.browser("ann@example.com");
    let limit = |credits: &'static str| {
        let ann = ann.clone();
        async move {
            let res = ann
                .submit(
                    "/settings/billing",
                    "/billing/controls",
                    &[("monthly_limit", credits), ("allowed_models", "")],
                )
                .await;
            assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
        }
    };
    limit("10").await;
    let alerts = "outbox_emails WHERE subject LIKE '%of its monthly limit'";
    let spend = |idempotency: &'static str, micros: i64| {
        let (app, key) = (&app, key.clone());
        async move {
            charge(
                app,
                &key,
                idempotency,
                json!({"model": "m", "amount": micros}),
            )
            .await
            .0
        }
    };
    assert_eq!(spend("a", 4_000_000).await, StatusCode::CREATED);
    assert_eq!(app.count(alerts).await, 0, "40 %: no alert");
    assert_eq!(spend("b", 1_500_000).await, StatusCode::CREATED);
    let to: Vec<String> = app
        .text_values_with(
            "SELECT to_address AS value FROM outbox_emails WHERE subject LIKE ? ORDER BY to_address",
            &["%spent 50% of its monthly limit"],
        )
        .await;
    assert_eq!(
        to,
        ["ann@example.com", "carl@example.com"],
        "billing readers only"
    );
    assert_eq!(spend("c", 3_500_000).await, StatusCode::CREATED);
    assert_eq!(spend("d", 1_000_000).await, StatusCode::CREATED);
    assert_eq!(spend("e", 1).await, StatusCode::FORBIDDEN, "at the limit");
    assert_eq!(
        app.count(alerts).await,
        6,
        "50, 80 and 100 %, to two readers each"
    );
    // A raised limit starts no alert over for a threshold already passed.
    limit("20").await;
    assert_eq!(spend("f", 1_000_000).await, StatusCode::CREATED);
    assert_eq!(app.count(alerts).await, 6);
    let body = app
        .text_value_with(
            "SELECT text_body AS value FROM outbox_emails WHERE to_address = ? AND subject LIKE ?",
            &["carl@example.com", "%spent 100%"],
        )
        .await;
    assert!(
        body.contains("10.00 of its 10.00 credits") && body.contains("/o/acme/settings/billing"),
        "{body}"
    );
}

async fn a_members_charges_stop_at_the_limit_per_member(app: TestApp) {
    let (app, key) = funded_acme(app).await;
    let app = app
        .with_member("acme", "Carl", "carl@example.com", "member")
        .await;
    let ann = app.browser("ann@example.com");
    let res = ann
        .submit(
            "/settings/billing",
            "/billing/controls",
            &[
                ("monthly_limit", ""),
                ("member_limit", "2"),
                ("allowed_models", ""),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let for_member =
        |email: &'static str, micros: i64| json!({"model": "m", "amount": micros, "member": email});
    let (status, _, answer) =
        charge(&app, &key, "m-1", for_member("ann@example.com", 1_500_000)).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    let (status, _, refused) =
        charge(&app, &key, "m-2", for_member("ann@example.com", 600_000)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");
    assert_eq!(refused["error"]["code"], "member_spend_limit_reached");
    assert_eq!(
        app.balance_of("acme").await,
        8_500_000,
        "the refused charge left nothing"
    );
    let (status, _, _) = charge(&app, &key, "m-3", for_member("CARL@example.com", 2_000_000)).await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "another member has their own limit"
    );
    let (status, _, _) = charge(&app, &key, "m-4", json!({"model": "m", "amount": 500_000})).await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "a charge for no member isn't held to it"
    );
    let (status, _, refused) =
        charge(&app, &key, "m-5", for_member("stranger@example.com", 1)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(refused["error"]["field"], "member");
    // The repeat of an accepted charge still answers it.
    let (status, headers, _) =
        charge(&app, &key, "m-1", for_member("ann@example.com", 1_500_000)).await;
    assert_eq!(
        (status, &headers["Idempotent-Replayed"]),
        (StatusCode::CREATED, &"true".parse().expect("header"))
    );
    let page = ann.get("/settings/billing?member=carl%40example.com").await;
    assert_eq!(
        page.body.matches("<tr data-entry=").count(),
        1,
        "Carl's charge"
    );
    assert_eq!(app.balance_of("acme").await, 6_000_000);
}

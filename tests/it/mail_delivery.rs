//! Email delivery: invitation emails over real SMTP (and SMTP down: delayed,
//! never lost), and several instances sharing one outbox sending each email
//! once.

use reqwest::StatusCode;

use crate::settings_members::invite;
use crate::smtp::{decode_quoted_printable, free_port, start_smtp_server, wait_for_messages};
use crate::support::{TestApp, TestBackend};
use crate::{on_both_backends, on_both_backends_with};

on_both_backends_with!(no_adjustment; smtp_round_trip, smtp_outage_delays_but_never_loses);

fn no_adjustment(_: &mut tenantry::config::Settings) {}

async fn smtp_round_trip(_app: TestApp) {
    let port = free_port();
    let inbox = start_smtp_server(port);
    let Some(app) = smtp_app(_app.backend, port).await else {
        return;
    };
    let app = app.with_acme().await;
    let ann = app.browser("ann@example.com");
    invite(&app, &ann, "Bob", "bob@example.com", "member").await;
    // Ann's sign-up sent her a verification email; Bob's invitation is the other.
    let messages = wait_for_messages(&inbox, 2).await;
    let message = messages
        .iter()
        .map(|m| decode_quoted_printable(m))
        .find(|m| m.contains("To: bob@example.com"))
        .expect("the invitation email");
    assert!(
        message.contains("Subject: Ann invited you to Acme Corp on Tenantry"),
        "{message}"
    );
    assert!(
        message.contains("text/plain") && message.contains("text/html"),
        "both parts"
    );
    let start = message
        .find(&app.base)
        .expect("a link built from the base URL");
    let link: String = message[start + app.base.len()..]
        .chars()
        .take_while(|c| !c.is_whitespace() && *c != '"' && *c != '<')
        .collect();
    let bob = app.client();
    assert_eq!(
        bob.get(&link).await.status,
        StatusCode::OK,
        "the link in the email works: {link}"
    );
    app.wait_for_mail_delivery().await;
}

async fn smtp_outage_delays_but_never_loses(_app: TestApp) {
    let port = free_port();
    let Some(app) = smtp_app(_app.backend, port).await else {
        return;
    };
    let app = app.with_acme().await;
    let ann = app.browser("ann@example.com");
    assert_eq!(
        invite(&app, &ann, "Bob", "bob@example.com", "member")
            .await
            .status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        app.count("invitations WHERE status = 'pending'").await,
        1,
        "the invitation exists"
    );
    for _ in 0..100 {
        if app
            .count(
                "outbox_emails WHERE invitation_id IS NOT NULL AND attempts > 0 \
                 AND sent_at IS NULL AND last_error IS NOT NULL",
            )
            .await
            > 0
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let delivery = ann
        .get("/settings/members")
        .await
        .text_of("#pending-table .delivery")
        .unwrap_or_default();
    assert!(
        delivery.starts_with("failed"),
        "admins see the failure: {delivery}"
    );
    let inbox = start_smtp_server(port);
    // Ann's verification email and Bob's invitation, each sent once.
    let messages = wait_for_messages(&inbox, 2).await;
    assert_eq!(messages.len(), 2);
    app.wait_for_mail_delivery().await;
    assert_eq!(
        ann.get("/settings/members")
            .await
            .text_of("#pending-table .delivery")
            .as_deref(),
        Some("delivered")
    );
}

async fn smtp_app(backend: TestBackend, port: u16) -> Option<TestApp> {
    TestApp::start(backend, |s| {
        s.smtp_url = Some(format!("smtp://127.0.0.1:{port}"))
    })
    .await
}

on_both_backends!(several_instances_send_each_email_once);

/// Two delivery workers (two instances) on one database: every queued email
/// goes out exactly once.
async fn several_instances_send_each_email_once(app: TestApp) {
    {
        let mut conn = app.db.connection().expect("connection");
        for n in 0..20 {
            let to = format!("user{n}@example.com");
            let email = tenantry::db::outbox::NewEmail {
                to: &to,
                subject: "Hello",
                text: "text",
                html: "<p>html</p>",
                invitation_id: None,
            };
            tenantry::db::outbox::enqueue(&mut conn, &email).expect("enqueue");
        }
    }
    let dirs = [
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    ];
    let workers: Vec<tenantry::services::mail::Outbox> = dirs
        .iter()
        .map(|dir| tenantry::services::mail::Outbox {
            db: app.db.clone(),
            transport: tenantry::services::mail::Transport::from_config(None, dir.path())
                .expect("transport"),
            from: "Tenantry <no-reply@example.com>".parse().expect("mailbox"),
            kick: std::sync::Arc::new(tokio::sync::Notify::new()),
            retry_base: std::time::Duration::from_secs(1),
            poll: std::time::Duration::from_secs(1),
        })
        .collect();
    let drain = |outbox: tenantry::services::mail::Outbox| async move {
        let mut sent = 0;
        while tenantry::services::mail::deliver_next(&outbox)
            .await
            .expect("deliver")
        {
            sent += 1;
        }
        sent
    };
    // The app's own worker is a third instance and takes its share too.
    let (a, b) = futures::join!(drain(workers[0].clone()), drain(workers[1].clone()));
    app.wait_for_mail_delivery().await;
    let by_app = std::fs::read_dir(app.outbox_dir())
        .expect("app outbox")
        .count();
    let files: usize = dirs
        .iter()
        .map(|d| {
            std::fs::read_dir(d.path().join("outbox"))
                .expect("outbox")
                .count()
        })
        .sum();
    assert_eq!(
        (a + b, files + by_app),
        (files, 20),
        "every message sent exactly once: {a} + {b} + {by_app}"
    );
    assert_eq!(
        app.count("outbox_emails WHERE sent_at IS NOT NULL AND attempts = 1")
            .await,
        20
    );
}

//! `/organizations` and `/organizations/new`: creating organizations, their
//! slugs (generated, validated, raced for) and the list of cards.

use reqwest::StatusCode;

use crate::on_both_backends;
use crate::support::{TestApp, hidden_fields};

on_both_backends!(
    create_with_a_generated_slug_switches_into_it,
    slug_rules_and_collisions,
    concurrent_creation_of_one_slug,
    organizations_page_lists_cards,
);

async fn create_with_a_generated_slug_switches_into_it(app: TestApp) {
    let ann = app.signed_up("Ann", "ann@example.com").await;
    let res = app.create_org(&ann, "Acme Corp", "").await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(res.location(), "/");
    let dashboard = ann.get("/").await;
    assert_eq!(
        dashboard.text_of("#workspace-title").as_deref(),
        Some("Acme Corp")
    );
    assert_eq!(
        dashboard.text_of("#flash").as_deref(),
        Some("Acme Corp was created. You are its owner.")
    );
    assert_eq!(
        dashboard
            .text_of("#switcher summary .switcher-label")
            .as_deref(),
        Some("Acme Corp")
    );
    assert_eq!(
        dashboard
            .text_of("#switcher summary .switcher-role")
            .as_deref(),
        Some("Owner")
    );
    let switcher = dashboard.text_of("#switcher ul").expect("switcher list");
    assert!(
        switcher.contains("Personal Owner") && switcher.contains("Acme Corp Owner"),
        "{switcher}"
    );
    assert_eq!(
        app.count("workspaces WHERE slug = 'acme-corp' AND kind = 'organization'")
            .await,
        1
    );
    let id = app.workspace_id("acme-corp").await;
    assert_eq!(
        app.count_with(
            "roles WHERE workspace_id = ? AND system_key IS NOT NULL",
            &[&id],
        )
        .await,
        3
    );
    assert_eq!(
        app.count_with(
            "audit_entries WHERE workspace_id = ? AND action = 'organization.create'",
            &[&id],
        )
        .await,
        1
    );
}

async fn slug_rules_and_collisions(app: TestApp) {
    let ann = app.signed_up("Ann", "ann@example.com").await;
    assert_eq!(
        app.create_org(&ann, "Acme Corp", "").await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        app.create_org(&ann, "Acme  Corp!", "").await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        app.count("workspaces WHERE slug = 'acme-corp-2'").await,
        1,
        "generated slugs get a suffix"
    );
    let cases = [
        ("acme-corp", "This slug is taken; choose another."),
        ("settings", "This slug is reserved; choose another."),
        (
            "Acme",
            "Use lowercase letters, digits and single hyphens, starting and ending with a letter or digit.",
        ),
        ("ab", "Use at least 3 characters."),
    ];
    for (slug, message) in cases {
        let res = app.create_org(&ann, "Another", slug).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{slug}");
        assert_eq!(
            res.text_of("#slug-error").as_deref(),
            Some(message),
            "{slug}"
        );
        assert_eq!(
            res.attr_of("#name", "value").as_deref(),
            Some("Another"),
            "name kept"
        );
        assert_eq!(
            res.attr_of("#slug", "value").as_deref(),
            Some(slug),
            "slug kept"
        );
    }
    let res = app.create_org(&ann, "  ", "").await;
    assert_eq!(res.text_of("#name-error").as_deref(), Some("Enter a name."));
    assert_eq!(app.count("workspaces WHERE kind = 'organization'").await, 2);
}

async fn concurrent_creation_of_one_slug(app: TestApp) {
    let ann = app.signed_up("Ann", "ann@example.com").await;
    let bob = app.signed_up("Bob", "bob@example.com").await;
    let ann_form = hidden_fields(&ann.get("/organizations/new").await.body, "/organizations");
    let bob_form = hidden_fields(&bob.get("/organizations/new").await.body, "/organizations");
    let (a, b) = futures::join!(
        ann.post_form(
            "/organizations",
            &ann_form,
            &[("name", "Race A"), ("slug", "race")]
        ),
        bob.post_form(
            "/organizations",
            &bob_form,
            &[("name", "Race B"), ("slug", "race")]
        ),
    );
    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert_eq!(
        statuses,
        [StatusCode::SEE_OTHER, StatusCode::UNPROCESSABLE_ENTITY]
    );
    let loser = if a.status == StatusCode::UNPROCESSABLE_ENTITY {
        &a
    } else {
        &b
    };
    assert_eq!(
        loser.text_of("#slug-error").as_deref(),
        Some("This slug is taken; choose another.")
    );
    assert_eq!(app.count("workspaces WHERE slug = 'race'").await, 1);
    assert_eq!(
        app.count("workspaces WHERE kind = 'organization'").await,
        1,
        "nothing half-created"
    );
}

async fn organizations_page_lists_cards(app: TestApp) {
    let ann = app.signed_up("Ann", "ann@example.com").await;
    let bob = app.signed_up("Bob", "bob@example.com").await;
    let empty = ann.get("/organizations").await;
    assert!(empty.text_of("#no-organizations").is_some());
    app.create_org(&ann, "Acme Corp", "acme").await;
    app.create_org(&bob, "Beta Inc", "beta").await;
    app.add_member("beta", "ann@example.com", "member").await;
    let page = ann.get("/organizations").await;
    let acme = page
        .text_of(r#"article[data-slug="acme"]"#)
        .expect("acme card");
    assert!(acme.contains("Acme Corp active"), "{acme}");
    assert!(
        acme.contains("Your role Owner")
            && acme.contains("Owner You")
            && acme.contains("Members 1"),
        "{acme}"
    );
    let beta = page
        .text_of(r#"article[data-slug="beta"]"#)
        .expect("beta card");
    assert!(
        beta.contains("Your role Member")
            && beta.contains("Owner Bob (bob@example.com)")
            && beta.contains("Members 2"),
        "{beta}"
    );
}

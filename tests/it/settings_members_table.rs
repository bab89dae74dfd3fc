//! The members table of `/settings/members`: its search (by name or
//! email fragment, on both backends' indexes) and its cursor pages, and
//! what its rows show as members rename themselves and sign in.

use reqwest::StatusCode;

use crate::on_both_backends;
use crate::support::{Client, TestApp};

on_both_backends!(
    members_table_searches_and_pages,
    members_table_follows_renames_and_sign_ins,
    members_table_shows_markup_in_names_as_text,
    searches_page_through_rare_and_common_fragments,
);

async fn members_table_searches_and_pages(app: TestApp) {
    let app = app.with_acme().await;
    let ann = app.browser("ann@example.com");
    let acme_id = app.workspace_id("acme").await;
    let member_role = app.role_of("acme", "member").await;
    // Seeded in bulk with SQL, the one data fixture that still is: 60 joins
    // by invitation would also fill the invitation history on this page
    // (its rows are counted below with the members'), and cost 60 sign-ups.
    for n in 0..60 {
        let user = uuid::Uuid::now_v7();
        app.execute(&format!(
            "INSERT INTO users (id, email, name, password_hash, status, created_at, updated_at) \
             VALUES ('{user}', 'person{n}@example.com', 'Person {n}', 'x', 'active', '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
        ))
        .await;
        app.execute(&format!(
            "INSERT INTO memberships (id, workspace_id, user_id, role_id, status, joined_at, updated_at) \
             VALUES ('{}', '{acme_id}', '{user}', '{member_role}', 'active', '2026-01-01 00:00:00', '2026-01-01 00:00:00')",
            uuid::Uuid::now_v7()
        ))
        .await;
    }
    let first = ann.get("/settings/members").await;
    assert_eq!(first.body.matches("<tr data-member=").count(), 50);
    let next = first.attr_of("#next-members", "href").expect("next page");
    let second = ann.get(&next).await;
    assert_eq!(second.body.matches("<tr data-member=").count(), 11);
    assert!(second.attr_of("#next-members", "href").is_none());
    let found = ann.get("/settings/members?q=PERSON%2042").await;
    assert_eq!(found.body.matches("<tr data-member=").count(), 1);
    assert!(
        found
            .text_of("#members-table")
            .unwrap_or_default()
            .contains("person42@example.com")
    );
    let by_email = ann.get("/settings/members?q=person5").await;
    assert_eq!(
        by_email.body.matches("<tr data-member=").count(),
        11,
        "person5 and person50–59"
    );
    let wildcard = ann.get("/settings/members?q=%25").await;
    assert_eq!(
        wildcard.body.matches("<tr data-member=").count(),
        0,
        "% is a character, not a wildcard"
    );
}

/// The members table reads the copy of each user's name, email and last
/// sign-in that their memberships carry (migration 000025): a rename on
/// the account page, a sign-in and an operator's change in SQL all reach
/// it, in every workspace the user belongs to.
async fn members_table_follows_renames_and_sign_ins(app: TestApp) {
    let app = app.with_acme().await;
    let ann = app.browser("ann@example.com");
    app.signed_up("Bob", "bob@example.com").await;
    app.add_member("acme", "bob@example.com", "member").await;
    let text = bobs_row(&ann).await;
    assert!(text.contains("Bob"), "{text}");
    assert!(!text.contains("never"), "Bob has signed in: {text}");

    let bob = app.sign_in("bob@example.com").await;
    let res = bob
        .submit("/account", "/account/profile", &[("name", "Robert Stone")])
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let text = bobs_row(&ann).await;
    assert!(text.contains("Robert Stone"), "{text}");
    assert_eq!(
        app.count("memberships m JOIN users u ON u.id = m.user_id WHERE u.email = 'bob@example.com' AND m.user_name <> 'Robert Stone'")
            .await,
        0,
        "every membership of Bob's has the new name"
    );

    app.execute(
        "UPDATE users SET last_login_at = '2026-05-04 03:02:00' WHERE email = 'bob@example.com'",
    )
    .await;
    let text = bobs_row(&ann).await;
    assert!(text.contains("2026-05-04 03:02"), "{text}");
}

/// A name or role name holding markup is text wherever the members table
/// writes it (its cells, the role menu's label and options): never markup,
/// and escaped once, so what a browser shows is the name as typed (an
/// escape escaped again would show as `&#60;` on the page).
async fn members_table_shows_markup_in_names_as_text(app: TestApp) {
    let name = r#"<b>Bo</b> & "Co" 'x'"#;
    let app = app
        .with_acme()
        .await
        .with_member("acme", name, "bo@example.com", "member")
        .await
        .with_member("acme", "Al", "al@example.com", "admin")
        .await;
    app.execute("UPDATE roles SET name = '<i>Crew</i> & co' WHERE system_key = 'member'")
        .await;
    let acme = app.workspace_id("acme").await;
    let al = app.sign_in("al@example.com").await;
    assert_eq!(al.switch_to(&acme).await.status, StatusCode::SEE_OTHER);
    for (viewer, browser) in [("Ann", app.browser("ann@example.com")), ("Al", al.clone())] {
        let page = browser.get("/settings/members").await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(!page.body.contains("<b>Bo</b>"), "markup in the page");
        assert!(!page.body.contains("<i>Crew</i>"), "markup in the page");
        let row = r#"tr[data-member="bo@example.com"]"#;
        assert_eq!(
            page.text_of(&format!("{row} td")).as_deref(),
            Some(r#"<b>Bo</b> & "Co" 'x'"#),
            "{viewer}"
        );
        assert_eq!(
            page.text_of(&format!("{row} td.role")).as_deref(),
            Some("<i>Crew</i> & co")
        );
        assert_eq!(
            page.attr_of(&format!("{row} select"), "aria-label")
                .as_deref(),
            Some(r#"Role of <b>Bo</b> & "Co" 'x'"#),
            "{viewer}"
        );
    }
    let page = al.get("/settings/members").await;
    assert_eq!(
        page.text_of(r#"tr[data-member="bo@example.com"] select option[selected]"#)
            .as_deref(),
        Some("<i>Crew</i> & co"),
        "an admin may give the member role: it is selected in Bo's menu"
    );
}

/// The text of Bob's row in the members table as `viewer` sees it.
async fn bobs_row(viewer: &Client) -> String {
    viewer
        .get("/settings/members")
        .await
        .text_of(r#"tr[data-member="bob@example.com"]"#)
        .expect("Bob's row")
}

/// The emails in the members table for a search, over every page (the
/// "Next page" link followed to the end).
async fn search_all_pages(browser: &Client, q: &str) -> Vec<String> {
    let mut emails = Vec::new();
    let mut next = Some(format!("/settings/members?q={q}"));
    while let Some(path) = next {
        let page = browser.get(&path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        emails.extend(
            page.body
                .split("<tr data-member=\"")
                .skip(1)
                .filter_map(|row| row.split('"').next().map(str::to_owned)),
        );
        next = page.attr_of("#next-members", "href");
    }
    emails
}

/// On SQLite a fragment the search index matches for at most 2 000 users
/// is looked up from them, and a more common one is found by walking the
/// members in order (`db::members::indexed_search`). Either way every
/// page holds exactly the members a scan finds, in joining order, and the
/// cursor continues where the page ended; PostgreSQL answers the same.
async fn searches_page_through_rare_and_common_fragments(app: TestApp) {
    let app = app.with_acme().await;
    let ann = app.browser("ann@example.com");
    let acme_id = app.workspace_id("acme").await;
    let member_role = app.role_of("acme", "member").await;
    // 2 100 members, more than the index narrows: seeded in bulk with SQL.
    for chunk in (0..2100).collect::<Vec<u32>>().chunks(300) {
        let (mut users, mut memberships) = (Vec::new(), Vec::new());
        for n in chunk {
            let user = uuid::Uuid::now_v7();
            users.push(format!(
                "('{user}', 'person{n}@example.com', 'Person {n}', 'x', 'active', '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
            ));
            memberships.push(format!(
                "('{}', '{acme_id}', '{user}', '{member_role}', 'active', '2026-01-01 00:00:00', '2026-01-01 00:00:00')",
                uuid::Uuid::now_v7()
            ));
        }
        app.execute(&format!(
            "INSERT INTO users (id, email, name, password_hash, status, created_at, updated_at) VALUES {}",
            users.join(", ")
        ))
        .await;
        app.execute(&format!(
            "INSERT INTO memberships (id, workspace_id, user_id, role_id, status, joined_at, updated_at) VALUES {}",
            memberships.join(", ")
        ))
        .await;
    }
    let joined_order = |ns: &mut dyn Iterator<Item = u32>| -> Vec<String> {
        ns.map(|n| format!("person{n}@example.com")).collect()
    };
    // Rare: 1, 10–19, 100–199, 1000–1999 (1 111 users, 23 pages).
    let rare = search_all_pages(&ann, "erson%201").await;
    let expected = joined_order(&mut (0..2100).filter(|n| n.to_string().starts_with('1')));
    assert_eq!(rare, expected, "a fragment of 1 111 members");
    // Common: every member but Ann matches "person", 43 pages of 50.
    let common = search_all_pages(&ann, "PERSON").await;
    assert_eq!(
        common,
        joined_order(&mut (0..2100)),
        "a fragment of every member"
    );
    // Rare with a name that holds the fragment in another case.
    assert_eq!(
        search_all_pages(&ann, "son%202042").await,
        ["person2042@example.com"]
    );
    assert!(search_all_pages(&ann, "nobody").await.is_empty());
}

//! Custom roles: presets, validation within the hierarchy, inheritance,
//! deletion rules, and a custom role's permissions applied on every request.

use reqwest::StatusCode;

use crate::on_both_backends;
use crate::support::{Client, TestApp};

async fn acme(app: &TestApp) -> Client {
    let ann = app.signed_up("Ann", "ann@example.com").await;
    app.create_org(&ann, "Acme Corp", "acme").await;
    ann
}

async fn role_id(app: &TestApp, name: &str) -> String {
    app.text_value(&format!(
        "SELECT id AS value FROM roles WHERE name = '{name}'"
    ))
    .await
}

on_both_backends!(
    presets_create_roles_that_apply,
    role_validation_and_hierarchy,
    inheritance_and_deletion
);

async fn presets_create_roles_that_apply(app: TestApp) {
    let ann = acme(&app).await;
    let page = ann.get("/settings/roles").await;
    let table = page.text_of("#roles-table").expect("roles");
    assert!(
        table.contains("Owner system")
            && table.contains("Admin system")
            && table.contains("Member system"),
        "{table}"
    );
    let preset = ann.get("/settings/roles/new?preset=billing").await;
    assert_eq!(preset.attr_of("#name", "value").as_deref(), Some("Billing"));
    assert!(preset.body.contains(r#"value="billing.manage" checked"#));
    let res = ann
        .submit(
            "/settings/roles/new?preset=billing",
            "/settings/roles",
            &[
                ("name", "Auditor"),
                ("level", "20"),
                ("permissions", "audit.read"),
                ("permissions", "members.read"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert_eq!(app.count("roles WHERE name = 'Auditor' AND permissions = 'members.read audit.read' AND level = 20").await, 1);
    // A member given the custom role gets exactly its permissions.
    let bob = app.signed_up("Bob", "bob@example.com").await;
    app.add_member("acme", "bob@example.com", "member").await;
    bob.switch_to(&app.workspace_id("acme").await).await;
    assert_eq!(bob.get("/audit").await.status, StatusCode::FORBIDDEN);
    let auditor = role_id(&app, "Auditor").await;
    let members = ann.get("/settings/members").await;
    let action = members
        .attr_of(
            r#"tr[data-email="bob@example.com"] form[action$="/role"]"#,
            "action",
        )
        .expect("role form");
    assert_eq!(
        ann.submit("/settings/members", &action, &[("role_id", &auditor)])
            .await
            .status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        bob.get("/audit").await.status,
        StatusCode::OK,
        "the custom role's permission applies"
    );
    assert_eq!(
        bob.get("/")
            .await
            .text_of("#switcher summary .switcher-role")
            .as_deref(),
        Some("Auditor")
    );
    assert_eq!(
        app.count("audit_entries WHERE action = 'role.create'")
            .await,
        1
    );
}

async fn role_validation_and_hierarchy(app: TestApp) {
    let ann = acme(&app).await;
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);
    let cases: &[Case] = &[
        (
            &[("name", "Admin"), ("level", "10")],
            "#name-error",
            "That name belongs to a system role.",
        ),
        (
            &[("name", "Boss"), ("level", "100")],
            "#level-error",
            "Use a whole number from 1 to 99 (below your own rank).",
        ),
        (
            &[("name", "Boss"), ("level", "x")],
            "#level-error",
            "Use a whole number from 1 to 99 (below your own rank).",
        ),
        (
            &[
                ("name", "Boss"),
                ("level", "10"),
                ("permissions", "org.delete"),
            ],
            "#permissions-error",
            "Archiving, deleting and transferring the organization stay with its owner.",
        ),
    ];
    for (fields, selector, message) in cases {
        let res = ann
            .submit("/settings/roles/new", "/settings/roles", fields)
            .await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{fields:?}");
        assert_eq!(
            res.text_of(selector).as_deref(),
            Some(*message),
            "{fields:?}"
        );
        assert_eq!(
            res.attr_of("#name", "value").as_deref(),
            Some(fields[0].1),
            "typed name kept"
        );
    }
    // A role manager with few permissions can't hand out more than they hold.
    let acme_id = app.workspace_id("acme").await;
    let limited = uuid::Uuid::now_v7();
    app.execute(&format!(
        "INSERT INTO roles (id, workspace_id, system_key, name, description, level, permissions, own_permissions, created_at, updated_at) \
         VALUES ('{limited}', '{acme_id}', NULL, 'Role Keeper', '', 60, 'roles.manage members.read', 'roles.manage members.read', '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
    ))
    .await;
    let cara = app.signed_up("Cara", "cara@example.com").await;
    app.add_member("acme", "cara@example.com", "member").await;
    app.execute(&format!(
        "UPDATE memberships SET role_id = '{limited}' WHERE workspace_id = '{acme_id}' AND user_id = (SELECT id FROM users WHERE email = 'cara@example.com')"
    ))
    .await;
    cara.switch_to(&acme_id).await;
    let new_form = cara.get("/settings/roles/new").await;
    assert!(
        !new_form.body.contains(r#"value="billing.manage""#),
        "only grantable permissions are offered"
    );
    let res = cara
        .submit(
            "/settings/roles/new",
            "/settings/roles",
            &[
                ("name", "Sneaky"),
                ("level", "10"),
                ("permissions", "billing.manage"),
            ],
        )
        .await;
    assert_eq!(
        res.text_of("#permissions-error").as_deref(),
        Some("You can only give permissions you hold yourself.")
    );
    let admin_role = app.text_value(&format!("SELECT id AS value FROM roles WHERE workspace_id = '{acme_id}' AND system_key = 'admin'")).await;
    let res = cara
        .submit(
            "/settings/roles/new",
            "/settings/roles",
            &[
                ("name", "Sneaky"),
                ("level", "10"),
                ("inherits_from", &admin_role),
            ],
        )
        .await;
    assert_eq!(
        res.text_of("#permissions-error").as_deref(),
        Some("You can only give permissions you hold yourself."),
        "nor by inheritance"
    );
    let res = cara
        .submit(
            "/settings/roles/new",
            "/settings/roles",
            &[
                ("name", "Helper"),
                ("level", "10"),
                ("permissions", "members.read"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    // Roles at or above one's own rank are not editable.
    let res = cara.get(&format!("/settings/roles/{limited}")).await;
    assert_eq!(res.status, StatusCode::CONFLICT);
    assert_eq!(app.count("roles WHERE name = 'Sneaky'").await, 0);
}

async fn inheritance_and_deletion(app: TestApp) {
    let ann = acme(&app).await;
    ann.submit(
        "/settings/roles/new",
        "/settings/roles",
        &[
            ("name", "Billing"),
            ("level", "30"),
            ("permissions", "billing.read"),
        ],
    )
    .await;
    let billing = role_id(&app, "Billing").await;
    let res = ann
        .submit(
            "/settings/roles/new",
            "/settings/roles",
            &[
                ("name", "Finance Lead"),
                ("level", "35"),
                ("permissions", "audit.read"),
                ("inherits_from", &billing),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert_eq!(
        app.count("roles WHERE name = 'Finance Lead' AND permissions = 'billing.read audit.read'")
            .await,
        1
    );
    // Editing the parent reaches the child.
    let res = ann
        .submit(
            &format!("/settings/roles/{billing}"),
            &format!("/settings/roles/{billing}"),
            &[
                ("name", "Billing"),
                ("level", "30"),
                ("permissions", "billing.read"),
                ("permissions", "billing.manage"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert_eq!(app.count("roles WHERE name = 'Finance Lead' AND permissions = 'billing.read billing.manage audit.read'").await, 1);
    // A role held by a member can't be deleted until they are moved.
    app.signed_up("Bob", "bob@example.com").await;
    app.add_member("acme", "bob@example.com", "member").await;
    let acme_id = app.workspace_id("acme").await;
    app.execute(&format!(
        "UPDATE memberships SET role_id = '{billing}' WHERE workspace_id = '{acme_id}' AND user_id = (SELECT id FROM users WHERE email = 'bob@example.com')"
    ))
    .await;
    let delete = format!("/settings/roles/{billing}/delete");
    let res = ann.submit("/settings/roles", &delete, &[]).await;
    assert_eq!(res.status, StatusCode::CONFLICT);
    assert!(
        res.text_of("#error-message")
            .unwrap_or_default()
            .contains("still hold this role")
    );
    let member = app.text_value(&format!("SELECT id AS value FROM roles WHERE workspace_id = '{acme_id}' AND system_key = 'member'")).await;
    app.execute(&format!(
        "UPDATE memberships SET role_id = '{member}' WHERE role_id = '{billing}'"
    ))
    .await;
    let res = ann.submit("/settings/roles", &delete, &[]).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(app.count("roles WHERE name = 'Billing'").await, 0);
    assert_eq!(app.count("roles WHERE name = 'Finance Lead' AND inherits_from_id IS NULL AND permissions = 'audit.read'").await, 1);
    // System roles are neither editable nor deletable.
    let admin = app.text_value(&format!("SELECT id AS value FROM roles WHERE workspace_id = '{acme_id}' AND system_key = 'admin'")).await;
    let form = crate::support::hidden_fields(
        &ann.get("/settings/roles").await.body,
        &format!(
            "/settings/roles/{}/delete",
            role_id(&app, "Finance Lead").await
        ),
    );
    let res = ann
        .post_form(&format!("/settings/roles/{billing}/delete"), &form, &[])
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND, "gone");
    let res = ann
        .post_form(&format!("/settings/roles/{admin}/delete"), &form, &[])
        .await;
    assert_eq!(res.status, StatusCode::CONFLICT);
    assert_eq!(
        app.count("audit_entries WHERE action IN ('role.create', 'role.update', 'role.delete')")
            .await,
        4
    );
}

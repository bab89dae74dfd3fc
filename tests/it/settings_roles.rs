//! Custom roles: presets, validation within the hierarchy, inheritance,
//! deletion rules, and a custom role's permissions applied on every request.

use reqwest::StatusCode;

use crate::on_both_backends;
use crate::support::{Client, TestApp};

async fn role_id(app: &TestApp, name: &str) -> String {
    app.text_value_with("SELECT id AS value FROM roles WHERE name = ?", &[name])
        .await
}

on_both_backends!(
    presets_create_roles_that_apply,
    role_validation_and_hierarchy,
    inheritance_and_deletion,
    names_that_read_as_system_roles_are_refused,
    invisible_formatting_is_refused_in_every_name_field,
    inheritance_only_from_below_and_never_in_a_loop,
    edits_never_change_roles_at_or_above_the_editor,
    the_editor_keeps_permissions_they_cannot_see,
    old_invitations_do_not_block_deleting_a_role,
);

async fn presets_create_roles_that_apply(app: TestApp) {
    let app = app.with_acme().await;
    let ann = app.browser("ann@example.com");
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
            r#"tr[data-member="bob@example.com"] form[action$="/role"]"#,
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
    let app = app.with_acme().await;
    let ann = app.browser("ann@example.com");
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);
    let cases: &[Case] = &[
        (
            &[("name", "Admin"), ("level", "10")],
            "#name-error",
            "That name reads as the system role “Admin”; choose another.",
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
    let limited = app
        .add_role("acme", "Role Keeper", 60, &["roles.manage", "members.read"])
        .await;
    let cara = app.signed_up("Cara", "cara@example.com").await;
    app.add_member("acme", "cara@example.com", "Role Keeper")
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
    let admin_role = app.role_of("acme", "admin").await;
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
        res.text_of("#inherits_from-error").as_deref(),
        Some("A role can only inherit from a role ranked below it; “Admin” is ranked 80."),
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
    let app = app.with_acme().await;
    let ann = app.browser("ann@example.com");
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
    app.add_member("acme", "bob@example.com", "Billing").await;
    let delete = format!("/settings/roles/{billing}/delete");
    let res = ann.submit("/settings/roles", &delete, &[]).await;
    assert_eq!(res.status, StatusCode::CONFLICT);
    assert!(
        res.text_of("#error-message")
            .unwrap_or_default()
            .contains("still hold this role")
    );
    app.set_member_role("acme", "bob@example.com", "member")
        .await;
    let res = ann.submit("/settings/roles", &delete, &[]).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(app.count("roles WHERE name = 'Billing'").await, 0);
    assert_eq!(app.count("roles WHERE name = 'Finance Lead' AND inherits_from_id IS NULL AND permissions = 'audit.read'").await, 1);
    // System roles are neither editable nor deletable.
    let admin = app.role_of("acme", "admin").await;
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

async fn create_role(by: &Client, fields: &[(&str, &str)]) -> crate::support::Response {
    by.submit("/settings/roles/new", "/settings/roles", fields)
        .await
}

async fn edit_role(
    app: &TestApp,
    by: &Client,
    name: &str,
    fields: &[(&str, &str)],
) -> crate::support::Response {
    let id = role_id(app, name).await;
    by.submit(
        &format!("/settings/roles/{id}"),
        &format!("/settings/roles/{id}"),
        fields,
    )
    .await
}

/// Gives an existing user a role of Acme by name and switches them there.
async fn with_role(app: &TestApp, name: &str, email: &str, role: &str) -> Client {
    let browser = app.signed_up(name, email).await;
    app.add_member("acme", email, role).await;
    browser.switch_to(&app.workspace_id("acme").await).await;
    browser
}

async fn names_that_read_as_system_roles_are_refused(app: TestApp) {
    let app = app.with_acme().await;
    let ann = app.browser("ann@example.com");
    let res = create_role(&ann, &[("name", "Owner\u{200B}"), ("level", "10")]).await;
    assert_eq!(
        res.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "zero-width space"
    );
    for (name, reads_as) in [
        ("Owner\u{200D}", "Owner"),
        ("\u{039F}wner", "Owner"),
        ("ＡＤＭＩＮ", "Admin"),
        ("mEmBeR", "Member"),
        ("Adm\u{00AD}in", "Admin"),
    ] {
        let res = create_role(&ann, &[("name", name), ("level", "10")]).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{name:?}");
        assert_eq!(
            res.text_of("#name-error").as_deref(),
            Some(
                format!("That name reads as the system role “{reads_as}”; choose another.")
                    .as_str()
            ),
            "{name:?}"
        );
    }
    assert_eq!(app.count("roles WHERE system_key IS NULL").await, 0);
    // Two custom roles can't read alike either.
    assert_eq!(
        create_role(&ann, &[("name", "Billing"), ("level", "10")])
            .await
            .status,
        StatusCode::SEE_OTHER
    );
    let res = create_role(&ann, &[("name", "BILLING\u{200D}"), ("level", "10")]).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.count("roles WHERE system_key IS NULL").await, 1);
}

async fn invisible_formatting_is_refused_in_every_name_field(app: TestApp) {
    const MESSAGE: &str =
        "A name can't contain line breaks, control characters or invisible formatting characters.";
    let spoofed = "Eve\u{202E}nimda";
    // Sign-up.
    let visitor = app.client();
    let res = visitor
        .submit(
            "/signup",
            "/signup",
            &[
                ("name", spoofed),
                ("email", "eve@example.com"),
                ("password", crate::support::PASSWORD),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(res.text_of("#name-error").as_deref(), Some(MESSAGE));
    assert_eq!(app.count("users WHERE email = 'eve@example.com'").await, 0);
    let app = app.with_acme().await;
    let ann = app.browser("ann@example.com");
    // Renaming oneself.
    let res = ann
        .submit(
            "/account",
            "/account/profile",
            &[("name", "Ann\u{2028}Admin")],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(res.text_of("#name-error").as_deref(), Some(MESSAGE));
    // Organizations: on creation and rename.
    let res = app.create_org(&ann, "Acme\u{2066}Evil", "evil").await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(res.text_of("#name-error").as_deref(), Some(MESSAGE));
    let res = ann
        .submit(
            "/settings/general",
            "/settings/general",
            &[("name", "Acme\u{200B}Corp"), ("slug", "acme")],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(res.text_of("#name-error").as_deref(), Some(MESSAGE));
    // Roles.
    let res = create_role(&ann, &[("name", spoofed), ("level", "10")]).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(res.text_of("#name-error").as_deref(), Some(MESSAGE));
    // Invitees.
    let member = app
        .text_value("SELECT id AS value FROM roles WHERE system_key = 'member' AND workspace_id IN (SELECT id FROM workspaces WHERE slug = 'acme')")
        .await;
    let res = ann
        .submit(
            "/settings/members",
            "/settings/members/invite",
            &[
                ("name", spoofed),
                ("email", "eve@example.com"),
                ("role_id", &member),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(res.text_of("#name-error").as_deref(), Some(MESSAGE));
    assert_eq!(app.count("invitations").await, 0);
    assert_eq!(
        app.count("workspaces WHERE name LIKE 'Acme%' AND name <> 'Acme Corp'")
            .await,
        0
    );
}

async fn inheritance_only_from_below_and_never_in_a_loop(app: TestApp) {
    let app = app.with_acme().await;
    let ann = app.browser("ann@example.com");
    for (name, level, parent) in [
        ("Base", "20", ""),
        ("Middle", "30", "Base"),
        ("Top", "40", "Middle"),
    ] {
        let parent_id = if parent.is_empty() {
            String::new()
        } else {
            role_id(&app, parent).await
        };
        let res = create_role(
            &ann,
            &[
                ("name", name),
                ("level", level),
                ("permissions", "audit.read"),
                ("inherits_from", &parent_id),
            ],
        )
        .await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "{name}: {}", res.body);
    }
    // Inheriting from a role ranked above is refused.
    let top = role_id(&app, "Top").await;
    let res = create_role(
        &ann,
        &[("name", "Low"), ("level", "10"), ("inherits_from", &top)],
    )
    .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        res.text_of("#inherits_from-error").as_deref(),
        Some("A role can only inherit from a role ranked below it; “Top” is ranked 40.")
    );
    // Loops, short and long, are refused with the chain named.
    let middle = role_id(&app, "Middle").await;
    let res = edit_role(
        &app,
        &ann,
        "Base",
        &[
            ("name", "Base"),
            ("level", "20"),
            ("inherits_from", &middle),
        ],
    )
    .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        res.text_of("#inherits_from-error").as_deref(),
        Some("That would make a loop: Middle inherits from this role.")
    );
    let res = edit_role(
        &app,
        &ann,
        "Base",
        &[("name", "Base"), ("level", "20"), ("inherits_from", &top)],
    )
    .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        res.text_of("#inherits_from-error").as_deref(),
        Some("That would make a loop: Top → Middle inherits from this role.")
    );
    // A parent can't be moved up past the roles that inherit from it.
    let res = edit_role(&app, &ann, "Base", &[("name", "Base"), ("level", "35")]).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        res.text_of("#permissions-error").as_deref(),
        Some("“Middle” (rank 30) inherits from this role, so this role must stay ranked below it.")
    );
    assert_eq!(
        app.count("roles WHERE name = 'Base' AND level = 20 AND inherits_from_id IS NULL")
            .await,
        1
    );
}

async fn edits_never_change_roles_at_or_above_the_editor(app: TestApp) {
    let app = app.with_acme().await;
    let ann = app.browser("ann@example.com");
    assert_eq!(
        create_role(
            &ann,
            &[
                ("name", "Base"),
                ("level", "20"),
                ("permissions", "audit.read")
            ]
        )
        .await
        .status,
        StatusCode::SEE_OTHER
    );
    let base = role_id(&app, "Base").await;
    for name in ["Senior", "Role editor"] {
        let mut fields = vec![("name", name)];
        if name == "Senior" {
            fields.extend([
                ("level", "60"),
                ("permissions", "members.read"),
                ("inherits_from", &base),
            ]);
        } else {
            fields.extend([
                ("level", "50"),
                ("permissions", "roles.manage"),
                ("permissions", "audit.read"),
                ("permissions", "billing.read"),
            ]);
        }
        assert_eq!(
            create_role(&ann, &fields).await.status,
            StatusCode::SEE_OTHER,
            "{name}"
        );
    }
    let cara = with_role(&app, "Cara", "cara@example.com", "Role editor").await;
    // Adding billing.read to Base would change Senior, ranked above Cara.
    let res = edit_role(
        &app,
        &cara,
        "Base",
        &[
            ("name", "Base"),
            ("level", "20"),
            ("permissions", "audit.read"),
            ("permissions", "billing.read"),
        ],
    )
    .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);
    assert!(
        res.text_of("#permissions-error")
            .unwrap_or_default()
            .contains("“Senior” (rank 60) inherits from this role"),
        "{}",
        res.body
    );
    assert_eq!(
        app.count("roles WHERE name = 'Senior' AND permissions = 'members.read audit.read'")
            .await,
        1
    );
    // Changes that leave Senior as it is go through.
    let res = edit_role(
        &app,
        &cara,
        "Base",
        &[
            ("name", "Base role"),
            ("level", "25"),
            ("permissions", "audit.read"),
        ],
    )
    .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    // Deleting Base would strip Senior of audit.read: refused.
    let base_renamed = role_id(&app, "Base role").await;
    let res = cara
        .submit(
            "/settings/roles",
            &format!("/settings/roles/{base_renamed}/delete"),
            &[],
        )
        .await;
    assert_eq!(res.status, StatusCode::CONFLICT);
    assert_eq!(app.count("roles WHERE name = 'Base role'").await, 1);
    // The owner, ranked above Senior, may do both.
    let res = edit_role(
        &app,
        &ann,
        "Base role",
        &[
            ("name", "Base role"),
            ("level", "25"),
            ("permissions", "audit.read"),
            ("permissions", "billing.read"),
        ],
    )
    .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
}

async fn the_editor_keeps_permissions_they_cannot_see(app: TestApp) {
    let app = app.with_acme().await;
    let ann = app.browser("ann@example.com");
    assert_eq!(
        create_role(
            &ann,
            &[
                ("name", "Finance"),
                ("level", "30"),
                ("permissions", "billing.read"),
                ("permissions", "billing.manage"),
                ("permissions", "audit.read"),
            ],
        )
        .await
        .status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        create_role(
            &ann,
            &[
                ("name", "Role editor"),
                ("level", "50"),
                ("permissions", "roles.manage"),
                ("permissions", "audit.read")
            ],
        )
        .await
        .status,
        StatusCode::SEE_OTHER
    );
    let cara = with_role(&app, "Cara", "cara@example.com", "Role editor").await;
    let finance = role_id(&app, "Finance").await;
    let form = cara.get(&format!("/settings/roles/{finance}")).await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(
        !form.body.contains(r#"value="billing.manage""#),
        "not offered"
    );
    let kept = form
        .text_of("#kept-permissions")
        .expect("kept permissions named");
    assert!(
        kept.contains("Manage billing") && kept.contains("See balance and usage"),
        "{kept}"
    );
    // Saving what the form shows (a rename, audit.read still ticked).
    let res = edit_role(
        &app,
        &cara,
        "Finance",
        &[
            ("name", "Finance team"),
            ("level", "30"),
            ("permissions", "audit.read"),
        ],
    )
    .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert_eq!(
        app.count("roles WHERE name = 'Finance team' AND own_permissions = 'billing.read billing.manage audit.read' AND permissions = 'billing.read billing.manage audit.read'")
            .await,
        1,
        "billing permissions kept"
    );
    // Nor can a forged form add one the editor lacks.
    let res = edit_role(
        &app,
        &cara,
        "Finance team",
        &[
            ("name", "Finance team"),
            ("level", "30"),
            ("permissions", "members.manage"),
        ],
    )
    .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        res.text_of("#permissions-error").as_deref(),
        Some("You can only give permissions you hold yourself.")
    );
}

async fn old_invitations_do_not_block_deleting_a_role(app: TestApp) {
    let app = app.with_acme().await;
    let ann = app.browser("ann@example.com");
    assert_eq!(
        create_role(
            &ann,
            &[
                ("name", "Contractor"),
                ("level", "20"),
                ("permissions", "resources.read")
            ]
        )
        .await
        .status,
        StatusCode::SEE_OTHER
    );
    let contractor = role_id(&app, "Contractor").await;
    for email in ["one@example.com", "two@example.com"] {
        let res = ann
            .submit(
                "/settings/members",
                "/settings/members/invite",
                &[("name", "Temp"), ("email", email), ("role_id", &contractor)],
            )
            .await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    }
    let delete = format!("/settings/roles/{contractor}/delete");
    // A pending invitation still offers it.
    let res = ann.submit("/settings/roles", &delete, &[]).await;
    assert_eq!(res.status, StatusCode::CONFLICT);
    // Revoke one; let the other lapse unmarked.
    let one = app
        .text_value_with(
            "SELECT id AS value FROM invitations WHERE email = ?",
            &["one@example.com"],
        )
        .await;
    let res = ann
        .submit(
            "/settings/members",
            &format!("/settings/invitations/{one}/revoke"),
            &[],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    app.execute(
        "UPDATE invitations SET expires_at = '2026-01-01 00:00:00' WHERE email = 'two@example.com'",
    )
    .await;
    let res = ann.submit("/settings/roles", &delete, &[]).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert_eq!(app.count("roles WHERE name = 'Contractor'").await, 0);
    assert_eq!(
        app.count("invitations WHERE role_id IS NULL AND role_name = 'Contractor'")
            .await,
        2
    );
    let history = ann
        .get("/settings/members")
        .await
        .text_of("#history-table")
        .expect("history");
    assert!(
        history.contains("one@example.com Contractor")
            && history.contains("two@example.com Contractor"),
        "{history}"
    );
}

//! Unique-constraint clashes are recognised by constraint, not by error
//! text, identically on SQLite (which names columns) and PostgreSQL (which
//! names the constraint), so a race that loses shows a message on the right
//! form field instead of a 500.

use diesel::RunQueryDsl;
use tenantry::db::{DbError, UniqueKey};

use crate::on_both_backends;
use crate::support::TestApp;

on_both_backends!(each_user_facing_unique_key_is_recognised);

/// Runs a statement that must break a unique constraint; returns what the
/// repository layer made of the failure.
fn clash(app: &TestApp, sql: &str) -> UniqueKey {
    let mut conn = app.db.connection().expect("connection");
    let error = diesel::sql_query(sql)
        .execute(&mut *conn)
        .expect_err("the statement must violate a unique constraint");
    match DbError::from(error) {
        DbError::Conflict(key) => key,
        other => panic!("{sql}: not a conflict: {other:?}"),
    }
}

async fn each_user_facing_unique_key_is_recognised(app: TestApp) {
    let ann = app.signed_up("Ann", "ann@example.com").await;
    app.signed_up("Bob", "bob@example.com").await;
    app.create_org(&ann, "Acme", "acme").await;
    app.create_org(&ann, "Beta", "beta").await;
    let acme = app.workspace_id("acme").await;
    assert_eq!(
        clash(
            &app,
            "UPDATE users SET email = 'ann@example.com' WHERE email = 'bob@example.com'"
        ),
        UniqueKey::UserEmail
    );
    assert_eq!(
        clash(
            &app,
            "UPDATE workspaces SET slug = 'acme' WHERE slug = 'beta'"
        ),
        UniqueKey::WorkspaceSlug
    );
    assert_eq!(
        clash(
            &app,
            &format!(
                "UPDATE roles SET name = 'Owner' WHERE workspace_id = '{acme}' AND name = 'Admin'"
            )
        ),
        UniqueKey::RoleName
    );
    assert_eq!(
        clash(
            &app,
            &format!(
                "INSERT INTO memberships (id, workspace_id, user_id, role_id, status, joined_at, updated_at) \
                 SELECT '00000000-0000-4000-8000-000000000001', workspace_id, user_id, role_id, \
                 status, joined_at, updated_at \
                 FROM memberships WHERE workspace_id = '{acme}'"
            )
        ),
        UniqueKey::Membership
    );
    let coupon = "INSERT INTO coupons (code, amount, redemptions, created_at) \
                  VALUES ('WELCOME', 1000000, 0, CURRENT_TIMESTAMP)";
    app.execute(coupon).await;
    assert_eq!(clash(&app, coupon), UniqueKey::CouponCode);
}

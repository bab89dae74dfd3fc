//! Tenantry's integration tests: one binary, every scenario against the real
//! app on a real database (SQLite always, PostgreSQL when
//! `TENANTRY_TEST_POSTGRES_URL` is set).

mod support;

mod accounts;
mod browser;
mod browser_password_reset;
mod cost;
mod email_verification;
mod isolation;
mod members;
mod members_hierarchy;
mod operations;
mod organizations;
mod password_reset;
mod roles;
mod security;
mod sessions;
mod smtp;

//! Tenantry's integration tests: one binary, every scenario against the real
//! app on a real database (SQLite always, PostgreSQL when
//! `TENANTRY_TEST_POSTGRES_URL` is set).

mod support;

mod accounts;
mod browser;
mod isolation;
mod members;
mod operations;
mod organizations;
mod roles;
mod security;
mod sessions;
mod smtp;

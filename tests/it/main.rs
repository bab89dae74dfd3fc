//! Tenantry's integration tests: one binary, every scenario against the real
//! app on a real database (SQLite always, PostgreSQL when
//! `TENANTRY_TEST_POSTGRES_URL` is set; skips are counted and reported when
//! the binary exits, and `TENANTRY_REQUIRE_POSTGRES=1` makes them failures).

mod fixtures;
mod skips;
mod support;

mod accounts;
mod agents;
mod api_access;
mod api_charges;
mod api_keys;
mod api_members;
mod api_members_write;
mod api_openapi;
mod api_organizations;
mod api_rate_limits;
mod api_resources;
mod apps;
mod audit;
mod billing_history;
mod browser_api_keys;
mod browser_billing;
mod browser_contrast;
mod browser_invitations;
mod browser_organizations;
mod browser_password_reset;
mod browser_phone;
mod browser_sign_in;
mod browser_support;
mod browser_teams;
mod context;
mod cost;
mod dashboard;
mod email_verification;
mod invitations;
mod isolation;
mod layers;
mod mail_delivery;
mod operations;
mod organizations;
mod outage;
mod password_reset;
mod projects;
mod security;
mod sessions;
mod settings_billing;
mod settings_billing_funds;
mod settings_danger;
mod settings_general;
mod settings_members;
mod settings_members_hierarchy;
mod settings_members_kept;
mod settings_members_matrix;
mod settings_members_table;
mod settings_resources;
mod settings_roles;
mod settings_teams;
mod settings_usage;
mod smtp;
mod transfers;
mod unique_conflicts;

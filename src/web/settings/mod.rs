//! `/settings/*`: the active workspace's settings tabs, one module per tab
//! and URL: `/settings/general` → [`general`] and
//! `templates/settings/general.html`, `/settings/members` → [`members`],
//! `/settings/roles` → [`roles`], `/settings/teams` → [`teams`],
//! `/settings/billing` → [`billing`], `/settings/usage` → [`usage`],
//! `/settings/danger` → [`danger`]; each
//! tab's tests are `tests/it/settings_<tab>.rs`.

pub mod billing;
pub mod danger;
pub mod general;
pub mod members;
pub mod resources;
pub mod roles;
pub mod teams;
pub mod usage;

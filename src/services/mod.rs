//! What Tenantry does, one module per capability, independent of HTTP:
//! handlers in `web` and the CLI call these. A service takes the database
//! ([`crate::db::Db`]) and the settings it needs, never the web layer's
//! state, so it can be driven from a page, the JSON API, a job or a test.

pub mod accounts;
pub mod agents;
pub mod api_keys;
pub mod apps;
pub mod authorization;
pub mod billing;
pub mod error;
pub mod mail;
pub mod maintenance;
pub mod members;
pub mod organizations;
pub mod payments;
pub mod projects;
pub mod rate_limits;
pub mod resources;
pub mod roles;
pub mod secret_keys;
pub mod teams;
pub mod transfers;

pub use error::ServiceError;

//! Tenantry: the tenancy and billing control plane of a multi-tenant
//! platform.
//!
//! Layers point one way: [`web`] (handlers, templates, extractors, HTTP
//! errors) → [`services`] (one module per capability, taking `&Db` and the
//! settings they need) → [`db`] (queries, and [`db::scope::Scope`], the
//! only door to workspace data) → [`domain`] (values: ids, email, slug,
//! permissions). Nothing below `web` imports `web`; `tests/it/layers.rs`
//! checks it. A request flows `extractor → permission → service/repository
//! → template`.

pub mod cli;
pub mod config;
pub mod db;
pub mod domain;
pub mod services;
pub mod telemetry;
pub mod web;

//! Tenantry: the tenancy and billing control plane of a multi-tenant
//! platform. Request flow: `extractor → permission → repository →
//! template`: the [`scope::Scope`] extractor resolves who is acting where,
//! handlers in [`web`] ask it for a permission from the catalogue in
//! [`domain::permission`], call one domain or repository function in
//! [`auth`] / [`db`], and render an askama template.

pub mod auth;
pub mod cli;
pub mod config;
pub mod db;
pub mod domain;
pub mod mail;
pub mod maintenance;
pub mod members;
pub mod orgs;
pub mod roles;
pub mod routes;
pub mod scope;
pub mod session;
pub mod telemetry;
pub mod web;

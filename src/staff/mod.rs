//! Staff tools: the audit log, roles and groups, IP lookups, forbidden domains.

pub mod audit;
pub mod model;
pub mod routes;
pub mod service;
pub mod store;

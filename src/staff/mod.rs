//! Staff tools: roles and groups, IP lookups, forbidden domains.

pub mod model;
pub mod routes;
pub mod service;
pub mod store;

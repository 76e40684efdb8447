//! Staff tools: the audit log, roles and groups, IP lookups, forbidden domains.

pub mod audit;
pub mod store;

//! E-mailed single-use tokens: issued hashed, used once, expiring.

pub mod model;
pub mod routes;
pub mod service;
pub mod store;

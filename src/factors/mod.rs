//! Second factors: TOTP and recovery codes; the second step of a login.

pub mod model;
pub mod routes;
pub mod service;
pub mod store;

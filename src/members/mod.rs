//! Members: registration, accounts, profiles.

pub mod model;
pub mod routes;
pub mod service;
pub mod store;

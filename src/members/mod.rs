//! Members: registration, profiles and the directory, account settings.

pub mod account;
pub mod directory;
pub mod model;
pub mod profiles;
pub mod records;
pub mod routes;
pub mod search_counts;
pub mod service;
pub mod store;

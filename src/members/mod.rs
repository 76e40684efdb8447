//! Members: registration, profiles and the directory, account settings.

pub mod account;
pub mod broad_searches;
pub mod directory;
pub mod model;
pub mod profiles;
pub mod records;
pub mod routes;
pub mod service;
pub mod store;

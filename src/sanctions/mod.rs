//! Sanctions: the queue model, the store, status and enforcement.

pub mod model;
pub mod request;
pub mod routes;
pub mod service;
pub mod standing;
pub mod store;
pub mod writer;

//! Signed webhooks delivered from the events outbox.

pub mod model;
pub mod routes;
pub mod service;
pub mod store;

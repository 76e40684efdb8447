//! What memberd offers other services: API keys and webhooks.

pub mod model;
pub mod routes;
pub mod service;
pub mod store;
pub mod webhooks;

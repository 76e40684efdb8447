//! What memberd offers other services: API keys and webhooks.

pub mod clients;
pub mod routes;
pub mod webhooks;

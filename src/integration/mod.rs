//! What memberd offers other services: API keys, the events outbox.

pub mod clients;
pub mod events;
pub mod notify;
pub mod routes;
pub mod webhooks;

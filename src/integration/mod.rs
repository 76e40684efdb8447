//! What memberd offers other services. For now: the events outbox.

pub mod events;

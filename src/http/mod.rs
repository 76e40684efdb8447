//! What HTTP adds around the domains' routes: request metrics, CORS and the
//! request id, and the answers for paths no route takes.

pub mod cors;
pub mod fallback;
pub mod metrics;

//! What HTTP adds around the domains' routes: request metrics, CORS and the
//! request id, the answers for paths no route takes, and the wire types
//! several domains share.

pub mod cors;
pub mod fallback;
pub mod metrics;
pub mod mount;
pub mod wire;

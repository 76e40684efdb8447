//! Staff-managed lists. For now: seeding the forbidden e-mail domains.

pub mod store;

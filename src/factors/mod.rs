//! Second factors: TOTP, passkeys and recovery codes; the second step of a
//! login, and a login by passkey alone.

pub mod ceremony;
pub mod model;
pub mod passkeys;
pub mod routes;
pub mod second_step;
pub mod service;
pub mod store;

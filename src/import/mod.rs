//! Bringing a community over from other software: `memberd import zds`
//! reads Zeste de Savoir's Django dump (members with their password hashes,
//! groups, profiles, sanction history and standing, karma, banned e-mail
//! providers).

pub mod accounts;
pub mod dump;
pub mod history;
pub mod model;
pub mod report;
pub mod service;
pub mod staging;
pub mod store;

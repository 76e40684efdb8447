//! Karma notes: what staff note about a member, with a score; the member's
//! karma is the sum.

pub mod model;
pub mod routes;
pub mod service;
pub mod store;
pub mod writer;

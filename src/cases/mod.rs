//! The moderation case file: members report members, staff work the queue
//! of reports and tie each resolution to the sanction it led to, sanctioned
//! members appeal and are answered. Everything is evented and audited.

pub mod model;
pub mod routes;
pub mod service;
pub mod store;
pub mod writer;

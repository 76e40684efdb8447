//! Sanctions: the queue model, the store, status and enforcement.

pub mod model;

//! The case file's use cases.

pub mod appeals;
pub mod reports;
pub mod standing;

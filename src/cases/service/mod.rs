//! The case file's use cases.

pub mod appeals;
pub mod filing;
pub mod reports;
pub mod standing;

//! memberd's integration tests: real PostgreSQL, real HTTP, real SMTP.

mod helpers;
mod smtp;

mod errors;
mod openapi;
mod operations;
mod registration;
mod sessions;
mod tokens;

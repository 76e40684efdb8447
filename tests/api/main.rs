//! memberd's integration tests: real PostgreSQL, real HTTP, real SMTP.

// Helpers outside #[test] functions are test code too: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod helpers;
mod smtp;

mod access;
mod account;
mod appeals;
mod batch;
mod cases;
mod contract;
mod directory;
mod errors;
mod factors;
mod import;
mod integration;
mod layers;
mod openapi;
mod operations;
mod passkeys;
mod pg_proxy;
mod process;
mod profiles;
mod registration;
mod sanctions;
mod security;
mod sessions;
mod staff;
mod tokens;
mod webhooks;

//! memberd's integration tests: real PostgreSQL, real HTTP, real SMTP.

mod helpers;
mod smtp;

mod access;
mod account;
mod errors;
mod integration;
mod layers;
mod openapi;
mod operations;
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

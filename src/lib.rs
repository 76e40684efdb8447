//! memberd: membership and moderation for online communities.
#![forbid(unsafe_code)]

pub mod app;
pub mod audit;
pub mod auth;
pub mod cache;
pub mod cases;
pub mod client_ip;
pub mod clock;
pub mod config;
pub mod db;
pub mod duration;
pub mod error;
pub mod events;
pub mod factors;
pub mod geoip;
pub mod health;
pub mod http;
pub mod import;
pub mod input;
pub mod integration;
pub mod karma;
pub mod mail;
pub mod members;
pub mod metrics;
pub mod openapi;
pub mod pagination;
pub mod random;
pub mod rate_limit;
pub mod sanctions;
pub mod schema;
pub mod staff;
pub mod state;
pub mod telemetry;
pub mod tokens;

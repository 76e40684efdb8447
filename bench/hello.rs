//! The ceiling: a bare actix-web server answering a small JSON body, built
//! with the same profile and workers as memberd. Every memberd number in the
//! benchmark is printed as a ratio to this one, measured in the same run.

// A measuring harness, not the service: it may stop at the first failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use actix_web::{App, HttpResponse, HttpServer, get};

#[get("/hello")]
async fn hello() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"can_read": true, "can_write": true, "banned_until": null}))
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let bind = std::env::var("HELLO_BIND").unwrap_or_else(|_| "127.0.0.1:18090".into());
    HttpServer::new(|| App::new().service(hello)).bind(bind)?.run().await
}

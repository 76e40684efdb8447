//! Where handlers are registered. Each worker registers them into its App
//! to serve them; the OpenAPI document registers them once, to read their
//! documentation. Registering through utoipa-actix-web in every worker
//! would build the whole document per worker only to drop it (0.6 MiB
//! resident with two workers, bench/RESULTS.md).

use actix_web::dev::HttpServiceFactory;
use utoipa_actix_web::OpenApiFactory;

/// A place handlers are registered into; each domain's `configure` writes
/// its routes once, for both.
pub trait Routes {
    fn service<F>(&mut self, handler: F) -> &mut Self
    where
        F: HttpServiceFactory + OpenApiFactory + 'static;
}

/// The served App: the handlers, without their documentation.
impl Routes for actix_web::web::ServiceConfig {
    fn service<F>(&mut self, handler: F) -> &mut Self
    where
        F: HttpServiceFactory + OpenApiFactory + 'static,
    {
        actix_web::web::ServiceConfig::service(self, handler)
    }
}

/// The OpenAPI document: the handlers' paths and schemas.
impl Routes for utoipa_actix_web::service_config::ServiceConfig<'_> {
    fn service<F>(&mut self, handler: F) -> &mut Self
    where
        F: HttpServiceFactory + OpenApiFactory + 'static,
    {
        utoipa_actix_web::service_config::ServiceConfig::service(self, handler)
    }
}

//! Builds the application: start-up work, shared state, the actix App, and
//! the server. Used by `main` and by the tests, which bind port 0.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use anyhow::Context;
use tracing_actix_web::TracingLogger;
use utoipa::OpenApi;
use utoipa_actix_web::AppExt;
use utoipa_swagger_ui::SwaggerUi;

use crate::auth::TokenIssuer;
use crate::auth::keys::SigningKeys;
use crate::auth::password::PasswordHasher;
use crate::clock::Clock;
use crate::config::Config;
use crate::db::{self, Db};
use crate::error;
use crate::http::cors::{CorsPolicy, response_headers};
use crate::http::fallback::{OPENAPI_JSON, OPENAPI_PATH, RouteIndex, fallback, serve_openapi};
use crate::http::mount::Routes;
use crate::mail::Mailer;
use crate::state::AppState;

/// How the process runs, as opposed to what it is configured to serve.
#[derive(Clone)]
pub struct Options {
    pub clock: Clock,
    /// HTTP worker threads; tests use one per server.
    pub workers: usize,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            clock: Clock::system(),
            workers: std::thread::available_parallelism().map_or(2, |n| n.get()),
        }
    }
}

const SHIPPED_FORBIDDEN_DOMAINS: &str = include_str!("../data/forbidden-email-domains.txt");

/// Creates the database if missing and applies migrations, over the direct
/// connection (`MEMBERD_LISTEN_DATABASE_URL`): migrations hold a session-level
/// advisory lock, which a pooler in transaction mode would not keep.
pub fn migrate(config: &Config) -> anyhow::Result<()> {
    let url = config.listen_database_url.expose();
    db::ensure_database(url)?;
    db::migrate(&mut db::connect_once(url)?)
}

/// Creates the database if missing, applies migrations, and seeds the lists
/// that start from shipped files (once per database).
pub fn prepare_database(config: &Config, clock: &Clock) -> anyhow::Result<()> {
    migrate(config)?;
    let mut conn = db::connect_once(config.database_url.expose())?;
    let domains = match &config.forbidden_email_domains_file {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("MEMBERD_FORBIDDEN_EMAIL_DOMAINS_FILE: cannot read {}", path.display()))?,
        None => SHIPPED_FORBIDDEN_DOMAINS.to_string(),
    };
    let domains = crate::staff::store::parse_domain_list(&domains);
    let seeded = crate::staff::store::seed_forbidden_domains(&mut conn, &domains, clock.now())?;
    if seeded > 0 {
        tracing::info!(seeded, "seeded the forbidden e-mail domains");
    }
    Ok(())
}

/// Everything that must hold before serving: the database, its schema, the
/// seeded lists, and the signing key.
fn prepare(config: &Config, clock: &Clock) -> anyhow::Result<(Db, String)> {
    prepare_database(config, clock)?;
    let db = Db::connect(config.database_url.expose(), 16)?;
    let mut conn = db.pool().get().context("no database connection")?;
    let pem = match &config.jwt_key_file {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("MEMBERD_JWT_KEY_FILE: cannot read {}", path.display()))?,
        None => crate::auth::store::stored_signing_key(&mut conn, SigningKeys::generate_pem, clock.now())?,
    };
    Ok((db, pem))
}

pub struct Application {
    port: u16,
    server: Server,
    state: web::Data<AppState>,
}

impl Application {
    pub async fn build(config: Config, options: Options) -> anyhow::Result<Self> {
        let config = Arc::new(config);
        let (db, pem) = {
            let (config, clock) = (config.clone(), options.clock.clone());
            tokio::task::spawn_blocking(move || prepare(&config, &clock)).await??
        };
        let keys = SigningKeys::from_pem(&pem).context("MEMBERD_JWT_KEY_FILE: the key cannot be used")?;
        // Every replica holds the signing key, and no one else does.
        let ip_keys = crate::rate_limit::IpKeys::derive(pem.as_bytes());
        let ceremonies = crate::factors::ceremony::CeremonySeal::derive(pem.as_bytes());
        let issuer = TokenIssuer {
            keys,
            issuer: config.issuer(),
            access_ttl: config.access_ttl,
            session_max_age: config.session_max_age,
        };
        let hasher_threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        let metrics = Arc::new(crate::metrics::Metrics::new()?);
        let gauge = metrics.hash_queue.clone();
        let hasher = tokio::task::spawn_blocking(move || PasswordHasher::new(hasher_threads, Some(gauge))).await??;
        let geoip = match &config.geoip_db {
            Some(path) => Some(Arc::new(crate::geoip::CityLookup::open(path)?)),
            None => None,
        };
        let cache = Arc::new(crate::cache::MemberCache::new(metrics.cache_lookups.clone()));
        let db = db.reporting_changes_to(cache.clone());
        let notifications = crate::db::notify::start(
            config.listen_database_url.expose().clone(),
            cache.clone(),
            crate::events::head,
        );
        let sanctions = {
            let config = config.clone();
            crate::db::batch::Batcher::start(db.clone(), move |conn, jobs| {
                crate::sanctions::service::impose(conn, &config, jobs)
            })
        };
        let karma = {
            let bot_group = config.bot_group.clone();
            crate::db::batch::Batcher::start(db.clone(), move |conn, jobs| {
                crate::karma::service::note(conn, &bot_group, jobs)
            })
        };
        let reports = {
            let (bot_group, base) = (config.bot_group.clone(), config.reports_per_hour);
            crate::db::batch::Batcher::start(db.clone(), move |conn, jobs| {
                crate::cases::service::filing::file(conn, &bot_group, base, jobs)
            })
        };
        let state = web::Data::new(AppState {
            sanctions,
            karma,
            reports,
            geoip,
            notifications,
            metrics,
            cache,
            broad_searches: Arc::default(),
            mailer: Mailer::from_config(&config)?,
            config: config.clone(),
            db,
            clock: options.clock,
            issuer: Arc::new(issuer),
            hasher,
            ip_keys,
            ceremonies,
            webauthn: Arc::new(crate::factors::passkeys::relying_party(&config)?),
        });

        let listener = TcpListener::bind(config.bind)
            .with_context(|| format!("MEMBERD_BIND: cannot listen on {}", config.bind))?;
        let port = listener.local_addr()?.port();
        let routes = web::Data::new(RouteIndex::new(OPENAPI_JSON).context("openapi/openapi.json cannot be read")?);
        let cors = web::Data::new(CorsPolicy::new(&config));
        let app_state = state.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(app_state.clone())
                .app_data(routes.clone())
                .app_data(cors.clone())
                .app_data(web::PathConfig::default().error_handler(error::path_error_handler))
                .wrap(from_fn(response_headers))
                .wrap(from_fn(crate::http::metrics::record))
                .wrap(TracingLogger::<crate::telemetry::RequestSpan>::new())
                // Before the /v1 scope, which would otherwise take this path.
                .route(OPENAPI_PATH, web::get().to(serve_openapi))
                .configure(served_routes)
                .service(SwaggerUi::new("/swagger-ui/{_:.*}").config(utoipa_swagger_ui::Config::new([OPENAPI_PATH])))
                .default_service(web::to(fallback))
        })
        .workers(options.workers)
        .listen(listener)?
        .run();
        tokio::spawn(prune_ip_records_periodically(state.clone()));
        tokio::spawn(record_expiries_periodically(state.clone()));
        tokio::spawn(crate::integration::webhooks::service::run(state.clone()));
        Ok(Self { port, server, state })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn state(&self) -> web::Data<AppState> {
        self.state.clone()
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

/// Keeps IP addresses no longer than the retention period, and login
/// counters no longer than they count. Hourly is plenty for periods of days,
/// and for counters that would start again from one anyway.
async fn prune_ip_records_periodically(state: web::Data<AppState>) {
    let mut every_hour = tokio::time::interval(std::time::Duration::from_secs(3_600));
    loop {
        every_hour.tick().await;
        match crate::members::account::prune_ip_records(&state, state.clock.now()).await {
            Ok(0) => {}
            Ok(pruned) => tracing::info!(pruned, "forgot IP addresses past retention"),
            Err(error) => tracing::warn!(error = %error, "could not forget IP addresses past retention"),
        }
    }
}

/// Records `sanction.expired` for sanctions that ended with nobody asking
/// about them. Status is right without it: this only feeds the event log.
async fn record_expiries_periodically(state: web::Data<AppState>) {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(30));
    loop {
        every.tick().await;
        if let Err(error) = crate::sanctions::service::sweep_expiries(&state).await {
            tracing::warn!(error = %error, "could not record sanction expiries");
        }
    }
}

/// The routes every worker serves: `v1_routes` and `root_routes`, the same
/// lists the document is built from (`openapi_document`), once.
fn served_routes(config: &mut web::ServiceConfig) {
    config.service(web::scope(V1).configure(v1_routes));
    root_routes(config);
}

const V1: &str = "/v1";

fn v1_routes(config: &mut impl Routes) {
    // The router tries routes in this order, and each pattern with a
    // parameter before the match costs a regex search: the routes asked most
    // come first, status (other services) then the members' (`/members/me`
    // is every front end's first request). No route before another matches
    // its paths.
    crate::sanctions::routes::status::configure(config);
    crate::members::routes::configure(config);
    crate::auth::routes::configure(config);
    crate::factors::routes::configure(config);
    crate::tokens::routes::configure(config);
    crate::sanctions::routes::configure(config);
    crate::karma::routes::configure(config);
    crate::cases::routes::configure(config);
    crate::staff::routes::configure(config);
    crate::integration::routes::configure(config);
    crate::integration::webhooks::routes::configure(config);
}

fn root_routes(config: &mut impl Routes) {
    crate::auth::routes::configure_root(config);
    crate::health::configure(config);
    crate::http::metrics::configure(config);
}

/// The OpenAPI document of this build, as served at `/v1/openapi.json`.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    let mut document = App::new()
        .into_utoipa_app()
        .openapi(crate::openapi::ApiDoc::openapi())
        .configure(|root| {
            root.service(utoipa_actix_web::scope(V1).configure(|v1| v1_routes(v1)));
            root_routes(root);
        })
        .split_for_parts()
        .1;
    crate::openapi::write_text_rules(&mut document);
    document
}

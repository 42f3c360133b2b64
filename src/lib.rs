//! Panicless Library: a personal library with its own OAuth 2.1 authorization server and an MCP
//! endpoint, so that an AI assistant can reach a person's own data safely.
//!
//! `main.rs` only parses the command line; everything a test needs to build and run the real
//! application is here: [`config::Config`], [`state::AppState`] (pool, keys) and [`app`].
//!
//! A module is public only where `main.rs`, the integration tests (`tests/it`) or the fuzz
//! targets (`fuzz/`) reach into it, and so is a submodule: the rest is crate-private, so that
//! the compiler reports code nothing uses.

pub(crate) mod allocator;
pub(crate) mod api;
pub mod auth; // tests: `auth::issue`, `auth::jwt`
pub(crate) mod body;
pub mod cli; // main.rs
pub mod config;
pub mod connectors; // tests: `connectors::store`
pub mod crypto; // tests: `crypto::hash_token`, `crypto::random_token`
pub mod db;
pub mod error;
pub mod library; // fuzz: imports, ISBNs, books and readings
pub mod mcp; // fuzz: `mcp::era`, `mcp::protocol`
pub mod oauth; // tests: `oauth::purge`, `oauth::client_metadata`
pub(crate) mod rate_limit;
pub(crate) mod seed;
pub mod state;
pub(crate) mod threads;
pub(crate) mod web;

use actix_session::config::{CookieContentSecurity, PersistentSession};
use actix_session::storage::CookieSessionStore;
use actix_session::SessionMiddleware;
use actix_web::body::MessageBody;
use actix_web::cookie::{Key, SameSite};
use actix_web::dev::{Server, ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::{Condition, DefaultHeaders, Logger};
use actix_web::{web as aw, App, HttpRequest, HttpResponse, HttpServer};
use error::AppError;
use state::AppState;
use std::net::TcpListener;

/// The largest JSON body accepted by default; imports set their own limit.
pub const JSON_LIMIT: usize = 256 * 1024;
/// Form bodies (login, consent) are small.
pub const FORM_LIMIT: usize = 64 * 1024;

/// Builds the application: every route, middleware and extractor configuration.
pub fn app(
    state: AppState,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let session_key = Key::derive_from(state.config.session_secret.expose().as_bytes());
    let sessions = SessionMiddleware::builder(CookieSessionStore::default(), session_key)
        .cookie_name("panicless_session".into())
        .cookie_secure(state.config.secure_cookies())
        .cookie_http_only(true)
        .cookie_same_site(SameSite::Lax)
        .cookie_content_security(CookieContentSecurity::Private)
        // The browser may keep the cookie as long as the longest session ("keep me signed in");
        // how long a session really lasts is checked on the server (auth::session).
        .session_lifecycle(PersistentSession::default().session_ttl(
            actix_web::cookie::time::Duration::seconds(auth::session::REMEMBERED_IDLE_SECS),
        ))
        .build();
    App::new()
        .app_data(aw::Data::new(state))
        .app_data(json_config())
        .app_data(form_config())
        .app_data(query_config())
        .app_data(path_config())
        // The session, and inside it the error pages that read it, for the pages only: the
        // machine endpoints (web::layers::is_machine_path) go past both.
        .wrap(web::layers::PagesOnly(web::layers::Stack::new(
            sessions,
            actix_web::middleware::from_fn(web::error_pages_know_the_user),
        )))
        .wrap(
            DefaultHeaders::new()
                .add(("X-Content-Type-Options", "nosniff"))
                .add(("X-Frame-Options", "DENY"))
                .add(("Referrer-Policy", "same-origin"))
                .add((
                    "Content-Security-Policy",
                    // Covers are images the user's books name, wherever they are hosted.
                    "default-src 'self'; img-src 'self' https: http:; frame-ancestors 'none'",
                )),
        )
        // Method, path without the query string, status and time: never a header or a body, so
        // no password, cookie, code or token reaches the log. Left out when its lines would be
        // dropped (RUST_LOG above info): it renders every request whether or not they are
        // written, 1.5% of an introspection.
        .wrap(Condition::new(
            log::log_enabled!(target: "actix_web::middleware::logger", log::Level::Info),
            Logger::new("%{method}xi %{path}xi %s %Dms")
                .custom_request_replace("method", |req| req.method().to_string())
                .custom_request_replace("path", |req| req.path().to_string()),
        ))
        // The router tries resources in order, each dynamic one by a regex: the pages' went
        // first, 14% of an introspection. The four sets of paths are disjoint, so the order
        // decides nothing but the cost; the machine front doors come first.
        .configure(oauth::configure)
        .configure(mcp::configure)
        .configure(api::configure)
        .configure(web::configure)
        .default_service(aw::to(not_found))
}

async fn not_found(req: HttpRequest) -> Result<HttpResponse, actix_web::Error> {
    if req.path().starts_with("/api/") || req.path().starts_with("/oauth/") {
        Err(AppError::NotFound.into())
    } else {
        Err(web::PageError::App(AppError::NotFound).into())
    }
}

fn json_config() -> aw::JsonConfig {
    aw::JsonConfig::default()
        .limit(JSON_LIMIT)
        .error_handler(|error, _req| {
            let app_error = match &error {
                actix_web::error::JsonPayloadError::OverflowKnownLength { .. }
                | actix_web::error::JsonPayloadError::Overflow { .. } => AppError::PayloadTooLarge,
                actix_web::error::JsonPayloadError::ContentType => AppError::BadRequest(
                    "the body must be JSON (Content-Type: application/json)".into(),
                ),
                actix_web::error::JsonPayloadError::Deserialize(cause) => {
                    api::request_errors::malformed(cause)
                }
                other => AppError::BadRequest(format!("invalid JSON body: {other}")),
            };
            app_error.into()
        })
}

fn form_config() -> aw::FormConfig {
    aw::FormConfig::default()
        .limit(FORM_LIMIT)
        .error_handler(|error, _req| {
            let app_error = match &error {
                actix_web::error::UrlencodedError::Overflow { .. } => AppError::PayloadTooLarge,
                other => AppError::BadRequest(format!("invalid form: {other}")),
            };
            web::PageError::App(app_error).into()
        })
}

/// A query string the handler cannot read: `422` naming each parameter on the API, the error
/// page elsewhere.
fn query_config() -> aw::QueryConfig {
    aw::QueryConfig::default().error_handler(|error, req| {
        if is_api(req) {
            api::request_errors::query_error(req, &error.to_string()).into()
        } else {
            web::PageError::App(AppError::BadRequest(format!(
                "the address's query string cannot be read: {error}"
            )))
            .into()
        }
    })
}

/// A path parameter of the wrong form: `422` naming it on the API (`/api/books/abc`), not found
/// elsewhere.
fn path_config() -> aw::PathConfig {
    aw::PathConfig::default().error_handler(|_error, req| {
        if is_api(req) {
            api::request_errors::path_error(req).into()
        } else {
            web::PageError::App(AppError::NotFound).into()
        }
    })
}

fn is_api(req: &HttpRequest) -> bool {
    req.path().starts_with("/api/")
}

/// Starts the HTTP server on an already bound listener (tests bind port 0).
pub fn start(state: AppState, listener: TcpListener) -> std::io::Result<Server> {
    let workers = match state.config.workers {
        0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
        n => n,
    };
    // Actix's blocking pool runs PostgreSQL work, one pool connection each: threads beyond the
    // pool's size would only wait for a connection. SQLite work has threads of its own
    // (db::turns), and so has bcrypt (auth::password).
    let blocking = (state.config.database_pool_size as usize)
        .div_ceil(workers)
        .max(1);
    let server = HttpServer::new(move || {
        // Runs on each worker's thread as it starts.
        threads::http_worker();
        app(state.clone())
    })
    .workers(workers)
    .worker_max_blocking_threads(blocking)
    .listen(listener)?
    .run();
    Ok(server)
}

//! What every handler shares: configuration, the pool, keys. Cheap to clone.

use crate::auth::jwt::JwtKeys;
use crate::auth::password::PasswordHasher;
use crate::config::Config;
use crate::db::{self, DatabaseTarget, Pool};
use std::sync::Arc;

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub pool: Pool,
    pub jwt: JwtKeys,
    pub passwords: PasswordHasher,
    pub rate_limits: Arc<crate::rate_limit::RateLimiter>,
    pub keyring: Arc<crate::crypto::Keyring>,
    pub providers: Arc<crate::connectors::providers::Providers>,
    /// List totals and statistics, valid while the library's version is unchanged.
    pub memo: Arc<crate::library::memo::Memo>,
    /// Outbound HTTP (providers, metadata documents): one pooled client.
    pub http: reqwest::Client,
    /// Book metadata lookups (`METADATA_URL`) and their cache.
    pub metadata: Arc<crate::library::metadata::Metadata>,
    /// Per-host fetches and recent failures of client metadata documents.
    pub metadata_fetches: Arc<crate::oauth::client_metadata::FetchLimits>,
    /// One refresh in flight per connector in this process (the database lease covers several).
    /// Imports started from the `/import` page, running or done (`web::transfer`).
    pub imports: Arc<crate::web::transfer::ImportJobs>,
    pub refresh_locks:
        Arc<std::sync::Mutex<std::collections::HashMap<i64, Arc<tokio::sync::Mutex<()>>>>>,
}

impl AppState {
    /// Opens the database, applies migrations and prepares keys. Every failure is a sentence
    /// fit for the operator.
    pub fn init(config: Config) -> Result<AppState, String> {
        let target = DatabaseTarget::parse(&config.database_url)?;
        let pool = db::build_pool(&target, config.database_pool_size)?;
        let mut conn = pool
            .get()
            .map_err(|e| format!("cannot connect to {}: {e}", target.display()))?;
        let keyring =
            crate::crypto::Keyring::new(&config.encryption_key, &config.encryption_keys_old);
        db::with_startup_lock(&mut conn, |conn| {
            let applied = db::apply_migrations(conn)?;
            if applied > 0 {
                log::info!("applied {applied} migration(s) to {}", target.display());
            }
            db::optimize(conn).map_err(|e| format!("cannot refresh the table statistics: {e}"))?;
            db::note_search_index(conn).map_err(|e| format!("cannot read the indexes: {e}"))?;
            crate::oauth::clients::upsert_static(conn, &config, db::models::now())
                .map_err(|e| format!("cannot register the static OAuth client: {e}"))?;
            crate::connectors::store::ensure_canary(conn, &keyring, db::models::now())
                .map_err(|e| e.report())
        })?;
        drop(conn);
        let providers =
            crate::connectors::providers::Providers::load(config.providers_file.as_deref())?;
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(60))
            .connect_timeout(std::time::Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("panicless/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("http client: {e}"))?;
        let metadata = crate::library::metadata::Metadata::new(config.metadata_url.clone())?;
        Ok(AppState {
            metadata: Arc::new(metadata),
            providers: Arc::new(providers),
            http,
            refresh_locks: Arc::default(),
            imports: Arc::default(),
            metadata_fetches: Arc::default(),
            memo: Arc::default(),
            keyring: Arc::new(keyring),
            rate_limits: Arc::default(),
            jwt: JwtKeys::new(config.jwt_secret.expose().as_bytes(), config.issuer()),
            passwords: PasswordHasher::new(config.bcrypt_cost).queue(
                std::time::Duration::from_secs(config.password_queue_seconds),
                config.password_queue_limit,
            ),
            config: Arc::new(config),
            pool,
        })
    }

    /// What every access token is issued with.
    pub fn issuer(&self) -> crate::auth::issue::Issuer<'_> {
        crate::auth::issue::Issuer {
            jwt: &self.jwt,
            config: &self.config,
        }
    }

    /// Audience of first-party API tokens: the server itself.
    pub fn api_audience(&self) -> &str {
        self.config.issuer()
    }
}

//! Configuration from environment variables (and a `.env` file, read by `main`).
//!
//! Every setting is declared once, in `Config::from_lookup`. Development defaults let a new
//! user start with no set-up at all; `APP_ENV=production` refuses to start while any secret is
//! a default or too weak, one line per problem.

use base64::Engine;
use std::fmt;

pub const DEV_JWT_SECRET: &str = "dev-jwt-secret-change-me-in-production-0123456789";
pub const DEV_SESSION_SECRET: &str = "dev-session-secret-change-me-in-production-0123456789";
/// The static client's redirect URIs unless `OAUTH_REDIRECT_URIS` says otherwise: Claude.ai's
/// connector calls back on either of its domains.
pub const CLAUDE_REDIRECT_URIS: [&str; 2] = [
    "https://claude.ai/api/mcp/auth_callback",
    "https://claude.com/api/mcp/auth_callback",
];
pub const DEV_OAUTH_CLIENT_ID: &str = "panicless-library-dev";
pub const DEV_OAUTH_CLIENT_SECRET: &str = "dev-secret-change-in-production";
/// base64 of the 32 ASCII bytes `panicless-dev-key-not-for-prod!!`.
pub const DEV_ENCRYPTION_KEY: &str = "cGFuaWNsZXNzLWRldi1rZXktbm90LWZvci1wcm9kISE=";
pub const DEFAULT_DATABASE_URL: &str = "sqlite://panicless.db";
/// How long a password check may expect to wait for a hashing thread before it is refused.
pub const DEFAULT_PASSWORD_QUEUE_SECONDS: u64 = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    Development,
    Production,
}

/// A secret string whose `Debug` never shows the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub environment: Environment,
    pub host: String,
    pub port: u16,
    /// External base URL, no path and no trailing slash: the OAuth issuer.
    pub public_url: String,
    pub database_url: String,
    pub database_pool_size: u32,
    pub jwt_secret: Secret,
    /// Access token lifetime, seconds.
    pub jwt_access_token_expiry: i64,
    /// Refresh token lifetime, seconds.
    pub refresh_token_expiry: i64,
    pub oauth_client_id: String,
    pub oauth_client_secret: Secret,
    pub oauth_redirect_uris: Vec<String>,
    /// The 32-byte AES-256-GCM key for connector secrets.
    pub encryption_key: [u8; 32],
    /// Older keys, for reading secrets sealed before a rotation (`ENCRYPTION_KEYS`).
    pub encryption_keys_old: Vec<[u8; 32]>,
    pub session_secret: Secret,
    pub bcrypt_cost: u32,
    /// Password checks wait at most about this long for a hashing thread; past it they are
    /// refused with a 503 (`PASSWORD_QUEUE_SECONDS`, default 3).
    pub password_queue_seconds: u64,
    /// A fixed number of password checks in flight instead (`PASSWORD_QUEUE_LIMIT`; tests).
    pub password_queue_limit: Option<usize>,
    /// Whether anyone may create an account (`ALLOW_REGISTRATION`, default true).
    pub allow_registration: bool,
    /// Browser origins allowed to call `/mcp` besides `PUBLIC_URL` (`MCP_ALLOWED_ORIGINS`).
    pub mcp_allowed_origins: Vec<String>,
    /// Requests a minute per client address: sign-in, token endpoint, client registration.
    pub rate_limit_login: u32,
    /// Accounts created a minute per client address (the page and the JSON API together).
    pub rate_limit_signup: u32,
    pub rate_limit_token: u32,
    pub rate_limit_register: u32,
    /// Proxied provider calls a minute per user.
    pub rate_limit_proxy: u32,
    /// Take the client address from `X-Forwarded-For` (only behind a trusted reverse proxy).
    pub trust_proxy_headers: bool,
    /// Tests only: allow client ID metadata documents on http://127.0.0.1 (`CIMD_ALLOW_LOOPBACK`).
    pub cimd_allow_loopback: bool,
    /// Path of the AI providers file (`PROVIDERS_FILE`), if any.
    pub providers_file: Option<String>,
    /// Base URL of the book metadata source, an Open Library-compatible API (`METADATA_URL`,
    /// default `https://openlibrary.org`); `None` when set empty or to `off`.
    pub metadata_url: Option<String>,
    /// Worker threads; 0 means one per core.
    pub workers: usize,
    /// Which defaults are in use, for the start-up warning.
    pub dev_defaults_in_use: Vec<&'static str>,
}

/// Where books are looked up by ISBN or title unless `METADATA_URL` says otherwise.
pub const DEFAULT_METADATA_URL: &str = "https://openlibrary.org";

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Config, Vec<String>> {
        Config::from_lookup(|name| std::env::var(name).ok())
    }

    /// Builds the configuration from any lookup (tests pass a map). Returns every problem found,
    /// not only the first one.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, Vec<String>> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let mut problems = Vec::new();
        let mut defaults = Vec::new();

        let environment = match get("APP_ENV").as_deref() {
            None | Some("development") | Some("dev") => Environment::Development,
            Some("production") | Some("prod") => Environment::Production,
            Some(other) => {
                problems.push(format!(
                    "APP_ENV must be `development` or `production`, not `{other}`"
                ));
                Environment::Development
            }
        };

        let host = get("SERVER_HOST").unwrap_or_else(|| "127.0.0.1".into());
        let port = parse_number(&get, "SERVER_PORT", 8080u16, &mut problems);

        let public_url = match get("PUBLIC_URL") {
            Some(raw) => match normalise_public_url(&raw) {
                Ok(url) => url,
                Err(problem) => {
                    problems.push(problem);
                    String::new()
                }
            },
            None => {
                let shown_host = if host == "0.0.0.0" || host == "::" {
                    "127.0.0.1"
                } else {
                    host.as_str()
                };
                format!("http://{shown_host}:{port}")
            }
        };

        let database_url = get("DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.into());
        let database_pool_size = parse_number(&get, "DATABASE_POOL_SIZE", 16u32, &mut problems);

        let mut secret = |name: &'static str, default: &str| -> Secret {
            match get(name) {
                Some(value) => Secret::new(value),
                None => {
                    defaults.push(name);
                    Secret::new(default)
                }
            }
        };
        let jwt_secret = secret("JWT_SECRET", DEV_JWT_SECRET);
        let session_secret = secret("SESSION_SECRET", DEV_SESSION_SECRET);
        let oauth_client_secret = secret("OAUTH_CLIENT_SECRET", DEV_OAUTH_CLIENT_SECRET);
        let encryption_key_b64 = secret("ENCRYPTION_KEY", DEV_ENCRYPTION_KEY);

        let jwt_access_token_expiry =
            parse_number(&get, "JWT_ACCESS_TOKEN_EXPIRY", 3600i64, &mut problems);
        let refresh_token_expiry = parse_number(
            &get,
            "JWT_REFRESH_TOKEN_EXPIRY",
            30 * 24 * 3600i64,
            &mut problems,
        );
        if jwt_access_token_expiry <= 0 || refresh_token_expiry <= 0 {
            problems.push("token lifetimes must be positive numbers of seconds".into());
        }

        let oauth_client_id = get("OAUTH_CLIENT_ID").unwrap_or_else(|| DEV_OAUTH_CLIENT_ID.into());
        let oauth_redirect_uris = get("OAUTH_REDIRECT_URIS")
            .map(|v| {
                v.split([',', ' '])
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_else(|| CLAUDE_REDIRECT_URIS.map(String::from).to_vec());

        let encryption_key = match decode_key(encryption_key_b64.expose()) {
            Ok(key) => key,
            Err(problem) => {
                problems.push(problem);
                [0u8; 32]
            }
        };

        let mut encryption_keys_old = Vec::new();
        for (n, old) in get("ENCRYPTION_KEYS")
            .unwrap_or_default()
            .split([',', ' '])
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .enumerate()
        {
            match decode_key(old) {
                Ok(key) => encryption_keys_old.push(key),
                Err(problem) => {
                    problems.push(format!("ENCRYPTION_KEYS entry {}: {problem}", n + 1))
                }
            }
        }

        let bcrypt_cost = parse_number(&get, "BCRYPT_COST", 12u32, &mut problems);
        if !(4..=31).contains(&bcrypt_cost) {
            problems.push(format!(
                "BCRYPT_COST must be between 4 and 31, not {bcrypt_cost}"
            ));
        }
        let password_queue_seconds = parse_number(
            &get,
            "PASSWORD_QUEUE_SECONDS",
            DEFAULT_PASSWORD_QUEUE_SECONDS,
            &mut problems,
        );
        let password_queue_limit =
            match parse_number(&get, "PASSWORD_QUEUE_LIMIT", 0usize, &mut problems) {
                0 => None,
                limit => Some(limit),
            };
        let allow_registration = match get("ALLOW_REGISTRATION").as_deref() {
            None | Some("true") | Some("1") | Some("yes") => true,
            Some("false") | Some("0") | Some("no") => false,
            Some(other) => {
                problems.push(format!(
                    "ALLOW_REGISTRATION must be true or false, not `{other}`"
                ));
                true
            }
        };
        let mut mcp_allowed_origins: Vec<String> =
            vec!["https://claude.ai".into(), "https://claude.com".into()];
        if let Some(extra) = get("MCP_ALLOWED_ORIGINS") {
            mcp_allowed_origins.extend(
                extra
                    .split([',', ' '])
                    .map(|o| o.trim().trim_end_matches('/'))
                    .filter(|o| !o.is_empty())
                    .map(String::from),
            );
        }
        let rate_limit_login =
            parse_number(&get, "RATE_LIMIT_LOGIN_PER_MINUTE", 10u32, &mut problems);
        let rate_limit_signup =
            parse_number(&get, "RATE_LIMIT_SIGNUP_PER_MINUTE", 10u32, &mut problems);
        let rate_limit_token =
            parse_number(&get, "RATE_LIMIT_TOKEN_PER_MINUTE", 600u32, &mut problems);
        let rate_limit_register =
            parse_number(&get, "RATE_LIMIT_REGISTER_PER_MINUTE", 30u32, &mut problems);
        let rate_limit_proxy =
            parse_number(&get, "RATE_LIMIT_PROXY_PER_MINUTE", 120u32, &mut problems);
        let trust_proxy_headers = matches!(
            get("TRUST_PROXY_HEADERS").as_deref(),
            Some("true" | "1" | "yes")
        );
        let cimd_allow_loopback =
            matches!(get("CIMD_ALLOW_LOOPBACK").as_deref(), Some("true" | "1"));
        if cimd_allow_loopback && environment == Environment::Production {
            problems
                .push("CIMD_ALLOW_LOOPBACK is for tests and is not allowed in production".into());
        }
        let providers_file = get("PROVIDERS_FILE");
        // Absent is the default source; set but empty (or `off`) turns lookups off.
        let metadata_url = match lookup("METADATA_URL").map(|v| v.trim().to_string()) {
            None => Some(DEFAULT_METADATA_URL.to_string()),
            Some(v) if v.is_empty() || v.eq_ignore_ascii_case("off") => None,
            Some(v) => match url::Url::parse(&v) {
                Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {
                    Some(v.trim_end_matches('/').to_string())
                }
                _ => {
                    problems.push(format!(
                        "METADATA_URL must be an http or https URL, empty or `off`, not `{v}`"
                    ));
                    None
                }
            },
        };
        let workers = parse_number(&get, "SERVER_WORKERS", 0usize, &mut problems);

        // Each secret with its published development value.
        let published = [
            ("JWT_SECRET", &jwt_secret, DEV_JWT_SECRET),
            ("SESSION_SECRET", &session_secret, DEV_SESSION_SECRET),
            (
                "OAUTH_CLIENT_SECRET",
                &oauth_client_secret,
                DEV_OAUTH_CLIENT_SECRET,
            ),
            ("ENCRYPTION_KEY", &encryption_key_b64, DEV_ENCRYPTION_KEY),
        ];
        // The development secrets are published in this repository: anyone who can reach the
        // server could forge a session cookie or an access token with them. They are accepted
        // only while nobody else can connect (production refuses them everywhere, below).
        if environment == Environment::Development && !is_loopback_host(&host) {
            for (name, value, dev) in published {
                if defaults.contains(&name) || value.expose() == dev {
                    problems.push(format!(
                        "{name} is the published development default, which is not allowed while \
                         listening on {host} (not a loopback address): set it, or set SERVER_HOST=127.0.0.1"
                    ));
                }
            }
        }

        if environment == Environment::Production {
            for name in &defaults {
                problems.push(format!(
                    "{name} is not set: the development default is not allowed in production"
                ));
            }
            if jwt_secret.expose().len() < 32 && !defaults.contains(&"JWT_SECRET") {
                problems.push("JWT_SECRET must be at least 32 bytes".into());
            }
            if session_secret.expose().len() < 32 && !defaults.contains(&"SESSION_SECRET") {
                problems.push("SESSION_SECRET must be at least 32 bytes".into());
            }
            if oauth_client_secret.expose().len() < 32 && !defaults.contains(&"OAUTH_CLIENT_SECRET")
            {
                problems.push("OAUTH_CLIENT_SECRET must be at least 32 bytes".into());
            }
            if oauth_client_id == DEV_OAUTH_CLIENT_ID {
                problems.push("OAUTH_CLIENT_ID is the development default".into());
            }
            for (name, value, dev) in published {
                if value.expose() == dev && !defaults.contains(&name) {
                    problems.push(format!("{name} is set to the development default"));
                }
            }
            if !public_url.is_empty() && !public_url.starts_with("https://") {
                problems.push(format!(
                    "PUBLIC_URL must be an https URL in production, not `{public_url}`"
                ));
            }
        } else if session_secret.expose().len() < 32 {
            // actix-session derives its keys from at least 32 bytes, whatever the environment.
            problems.push("SESSION_SECRET must be at least 32 bytes".into());
        }

        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(Config {
            environment,
            host,
            port,
            public_url,
            database_url,
            database_pool_size,
            jwt_secret,
            jwt_access_token_expiry,
            refresh_token_expiry,
            oauth_client_id,
            oauth_client_secret,
            oauth_redirect_uris,
            encryption_key,
            encryption_keys_old,
            session_secret,
            bcrypt_cost,
            password_queue_seconds,
            password_queue_limit,
            allow_registration,
            mcp_allowed_origins,
            rate_limit_login,
            rate_limit_signup,
            rate_limit_token,
            rate_limit_register,
            rate_limit_proxy,
            trust_proxy_headers,
            cimd_allow_loopback,
            providers_file,
            metadata_url,
            workers,
            dev_defaults_in_use: defaults,
        })
    }

    pub fn is_production(&self) -> bool {
        self.environment == Environment::Production
    }

    /// Cookies are `Secure` in production and whenever the public URL is https.
    pub fn secure_cookies(&self) -> bool {
        self.is_production() || self.public_url.starts_with("https://")
    }

    /// The OAuth issuer: the public URL, byte for byte.
    pub fn issuer(&self) -> &str {
        &self.public_url
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.public_url, path)
    }

    pub fn bind_address(&self) -> (String, u16) {
        (self.host.clone(), self.port)
    }
}

/// Whether `host` (SERVER_HOST) accepts connections from this machine only.
fn is_loopback_host(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.eq_ignore_ascii_case("localhost")
        || bare
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn parse_number<T: std::str::FromStr + Copy + fmt::Display>(
    get: &impl Fn(&str) -> Option<String>,
    name: &str,
    default: T,
    problems: &mut Vec<String>,
) -> T {
    match get(name) {
        None => default,
        Some(raw) => raw.parse().unwrap_or_else(|_| {
            problems.push(format!("{name} must be a number, not `{raw}`"));
            default
        }),
    }
}

/// `https://example.com/` → `https://example.com`. A path, query or fragment is refused: the
/// issuer must be the bare origin.
fn normalise_public_url(raw: &str) -> Result<String, String> {
    let parsed =
        url::Url::parse(raw).map_err(|e| format!("PUBLIC_URL `{raw}` is not a URL: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(format!("PUBLIC_URL `{raw}` must be an http or https URL"));
    }
    if parsed.path() != "/" || parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(format!(
            "PUBLIC_URL `{raw}` must have no path, query or fragment (serve the app at the root)"
        ));
    }
    Ok(parsed.as_str().trim_end_matches('/').to_string())
}

/// `ENCRYPTION_KEY` is 32 bytes, base64 (standard or URL-safe alphabet).
pub fn decode_key(b64: &str) -> Result<[u8; 32], String> {
    let engines = [
        base64::engine::general_purpose::STANDARD,
        base64::engine::general_purpose::URL_SAFE,
    ];
    let bytes = engines
        .iter()
        .find_map(|engine| engine.decode(b64.trim()).ok())
        .ok_or_else(|| {
            "ENCRYPTION_KEY must be base64 (generate one with `openssl rand -base64 32`)"
                .to_string()
        })?;
    <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| {
        format!(
            "ENCRYPTION_KEY must decode to exactly 32 bytes, not {} (generate one with `openssl rand -base64 32`)",
            bytes.len()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, Vec<String>> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    /// A newcomer copies `.env.example` to `.env` and runs the server: it must stay a local
    /// development server on http://127.0.0.1:8080, not turn into books.example.com.
    #[test]
    fn the_example_env_file_copied_as_it_is_changes_nothing() {
        let file = include_str!("../.env.example");
        let vars: HashMap<String, String> = dotenvy::from_read_iter(file.as_bytes())
            .map(|item| item.unwrap())
            .collect();
        assert!(vars.is_empty(), "every line is commented: {vars:?}");
        let config = Config::from_lookup(|k| vars.get(k).cloned()).unwrap();
        assert_eq!(config.public_url, "http://127.0.0.1:8080");
        assert!(
            file.contains("# PUBLIC_URL="),
            "the example still documents PUBLIC_URL"
        );
    }

    #[test]
    fn development_defaults_work_and_are_reported() {
        let c = config(&[]).unwrap();
        assert_eq!(c.public_url, "http://127.0.0.1:8080");
        assert_eq!(c.database_url, DEFAULT_DATABASE_URL);
        assert!(c.dev_defaults_in_use.contains(&"JWT_SECRET"));
        assert!(!c.secure_cookies());
    }

    #[test]
    fn public_url_is_normalised_and_refuses_paths() {
        let c = config(&[("PUBLIC_URL", "https://books.example.com/")]).unwrap();
        assert_eq!(c.public_url, "https://books.example.com");
        assert!(c.secure_cookies());
        assert!(config(&[("PUBLIC_URL", "https://example.com/app")]).is_err());
    }

    #[test]
    fn development_secrets_are_refused_on_a_public_address() {
        for host in ["0.0.0.0", "::", "192.0.2.10", "books.example.com"] {
            let problems = config(&[("SERVER_HOST", host)]).unwrap_err();
            for name in [
                "JWT_SECRET",
                "SESSION_SECRET",
                "OAUTH_CLIENT_SECRET",
                "ENCRYPTION_KEY",
            ] {
                assert!(
                    problems.iter().any(|p| p.starts_with(name)),
                    "{host}: {name} not named in {problems:?}"
                );
            }
        }
        let real = [
            ("SERVER_HOST", "0.0.0.0"),
            ("JWT_SECRET", "another-jwt-secret-of-32-bytes-or-more"),
            ("SESSION_SECRET", "another-session-secret-of-32-bytes"),
            ("OAUTH_CLIENT_SECRET", "another-client-secret-of-32-bytes"),
            (
                "ENCRYPTION_KEY",
                "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
            ),
        ];
        // Set explicitly to the published value is the same as not set.
        let mut published = real;
        published[1] = ("JWT_SECRET", DEV_JWT_SECRET);
        let problems = config(&published).unwrap_err();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].starts_with("JWT_SECRET"), "{problems:?}");
        // Loopback keeps the zero-configuration start; real secrets may listen anywhere.
        for host in ["127.0.0.1", "127.0.0.2", "localhost", "::1", "[::1]"] {
            assert!(config(&[("SERVER_HOST", host)]).is_ok(), "{host}");
        }
        let c = config(&real).unwrap();
        assert_eq!(c.host, "0.0.0.0");
    }

    #[test]
    fn bad_encryption_key_is_an_error_even_in_development() {
        let problems = config(&[("ENCRYPTION_KEY", "c2hvcnQ=")]).unwrap_err();
        assert!(problems[0].contains("32 bytes"), "{problems:?}");
    }
}

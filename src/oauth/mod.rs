//! The OAuth 2.1 authorization server: discovery (RFC 8414, RFC 9728), dynamic client
//! registration (RFC 7591), authorization code with PKCE S256 and a consent page, refresh-token
//! rotation with reuse detection, revocation (RFC 7009) and introspection (RFC 7662).
//!
//! The rules live in plain functions over `&mut DbConn` that take `now`; handlers parse, call,
//! and answer. Every failure is an [`OAuthError`], rendered once in RFC 6749's shape.

pub(crate) mod authorize;
pub mod client_metadata;
pub(crate) mod clients;
pub(crate) mod grant_token;
pub(crate) mod grants;
pub(crate) mod metadata;
pub mod purge;
pub(crate) mod tokens;

use crate::error::AppError;
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpResponse, ResponseError};
use serde::Serialize;

/// Authorization codes live this long.
pub const CODE_LIFETIME_SECS: i64 = 600;
/// A rotated refresh token used again within this window gets the same new pair back
/// (clients refresh concurrently), as long as that pair's refresh token is unused; after it, or
/// once the new token has been used, reuse revokes the grant.
pub const REFRESH_GRACE_SECS: i64 = 30;

pub fn configure(cfg: &mut web::ServiceConfig) {
    metadata::configure(cfg);
    clients::configure(cfg);
    authorize::configure(cfg);
    tokens::configure(cfg);
}

/// RFC 6749 §5.2 (and RFC 7591, RFC 8707) errors.
#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    #[error("{0}")]
    InvalidRequest(String),
    /// `basic`: the client tried HTTP Basic, so the answer carries `WWW-Authenticate: Basic`.
    #[error("{message}")]
    InvalidClient { message: String, basic: bool },
    #[error("{0}")]
    InvalidGrant(String),
    #[error("{0}")]
    UnauthorizedClient(String),
    #[error("the grant type is not supported")]
    UnsupportedGrantType,
    #[error("{0}")]
    InvalidScope(String),
    #[error("{0}")]
    InvalidTarget(String),
    #[error("{0}")]
    InvalidRedirectUri(String),
    #[error("{0}")]
    InvalidClientMetadata(String),
    #[error("too many requests")]
    TooManyRequests { retry_after_secs: u64 },
    #[error("the server is temporarily unavailable")]
    TemporarilyUnavailable(String),
    #[error("internal server error")]
    ServerError(String),
}

impl OAuthError {
    pub fn code(&self) -> &'static str {
        match self {
            OAuthError::InvalidRequest(_) => "invalid_request",
            OAuthError::InvalidClient { .. } => "invalid_client",
            OAuthError::InvalidGrant(_) => "invalid_grant",
            OAuthError::UnauthorizedClient(_) => "unauthorized_client",
            OAuthError::UnsupportedGrantType => "unsupported_grant_type",
            OAuthError::InvalidScope(_) => "invalid_scope",
            OAuthError::InvalidTarget(_) => "invalid_target",
            OAuthError::InvalidRedirectUri(_) => "invalid_redirect_uri",
            OAuthError::InvalidClientMetadata(_) => "invalid_client_metadata",
            OAuthError::TooManyRequests { .. } => "slow_down",
            OAuthError::TemporarilyUnavailable(_) => "temporarily_unavailable",
            OAuthError::ServerError(_) => "server_error",
        }
    }

    pub fn invalid_client(message: &str, basic: bool) -> Self {
        OAuthError::InvalidClient {
            message: message.into(),
            basic,
        }
    }
}

impl From<AppError> for OAuthError {
    fn from(error: AppError) -> Self {
        match error {
            AppError::Unavailable(cause) => OAuthError::TemporarilyUnavailable(cause),
            AppError::RateLimited { retry_after_secs } => {
                OAuthError::TooManyRequests { retry_after_secs }
            }
            AppError::PayloadTooLarge => {
                OAuthError::InvalidRequest("the request body is too large".into())
            }
            AppError::BadRequest(message) => OAuthError::InvalidRequest(message),
            // The log gets the cause, not the public "internal server error".
            other => OAuthError::ServerError(other.report()),
        }
    }
}

impl From<diesel::result::Error> for OAuthError {
    fn from(error: diesel::result::Error) -> Self {
        AppError::from(error).into()
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    error_description: String,
}

impl ResponseError for OAuthError {
    fn status_code(&self) -> StatusCode {
        match self {
            OAuthError::InvalidClient { .. } => StatusCode::UNAUTHORIZED,
            OAuthError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            OAuthError::TemporarilyUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            OAuthError::ServerError(_) => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let description = match self {
            OAuthError::ServerError(cause) => {
                log::error!("oauth: {cause}");
                self.to_string()
            }
            OAuthError::TemporarilyUnavailable(cause) => {
                log::warn!("oauth: {cause}");
                self.to_string()
            }
            _ => self.to_string(),
        };
        let mut response = HttpResponse::build(self.status_code());
        response
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header((header::PRAGMA, "no-cache"));
        match self {
            OAuthError::InvalidClient { basic: true, .. } => {
                response.insert_header((header::WWW_AUTHENTICATE, "Basic realm=\"panicless\""));
            }
            OAuthError::TooManyRequests { retry_after_secs } => {
                response.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
            }
            _ => {}
        }
        response.json(ErrorBody {
            error: self.code(),
            error_description: description,
        })
    }
}

pub type OAuthResult<T> = Result<T, OAuthError>;

/// The resource a token is for, from RFC 8707 `resource`: the API (PUBLIC_URL) when absent, or
/// the MCP endpoint. One trailing slash is forgiven; anything else is `invalid_target`.
pub fn resolve_resource(public_url: &str, requested: Option<&str>) -> OAuthResult<String> {
    let Some(raw) = requested.map(str::trim).filter(|r| !r.is_empty()) else {
        return Ok(public_url.to_string());
    };
    let normalised = raw.strip_suffix('/').unwrap_or(raw);
    let mcp = format!("{public_url}/mcp");
    if normalised == public_url || normalised == mcp {
        Ok(normalised.to_string())
    } else {
        Err(OAuthError::InvalidTarget(format!(
            "`{raw}` is not a resource of this server; use {mcp} or {public_url}"
        )))
    }
}

/// What the unit tests of the authorization server's rules share: an in-memory database with a
/// user, clients registered as `POST /oauth/register` does, and a fixed clock.
#[cfg(test)]
pub(crate) mod testing {
    use super::clients;
    use crate::config::Config;
    use crate::db::models::user::{self, AdminPolicy};
    use crate::db::{self, DbConn};
    use chrono::NaiveDateTime;

    pub const PUBLIC_URL: &str = "https://books.example.org";
    /// A PKCE verifier and its S256 challenge (`tokens::pkce_challenge`, checked against Python's
    /// hashlib in that module's tests).
    pub const VERIFIER: &str = "dBjftJeZ4CVP-mJ92K6KjtyhPEgZJGJYQhH_KZuTVjo";
    pub const CHALLENGE: &str = "rrZ22EiBeebXB8OwfbVyj9Akt1ldC6miM4Tzq9F2yAA";

    pub fn now() -> NaiveDateTime {
        chrono::DateTime::from_timestamp(1_800_000_000, 0)
            .map(|t| t.naive_utc())
            .unwrap_or_default()
    }

    pub struct World {
        pub conn: DbConn,
        pub user: i64,
    }

    pub fn world() -> World {
        let mut conn = db::in_memory();
        let user = user::create(
            &mut conn,
            "reader@example.org",
            "not-a-real-hash",
            None,
            AdminPolicy::FirstUserOnly,
            now(),
        )
        .map(|u| u.id)
        .unwrap_or_else(|e| panic!("{e}"));
        World { conn, user }
    }

    pub fn config() -> Config {
        Config::from_lookup(|name| match name {
            "PUBLIC_URL" => Some(PUBLIC_URL.into()),
            "OAUTH_REDIRECT_URIS" => Some("https://app.example.org/cb".into()),
            _ => None,
        })
        .unwrap_or_else(|e| panic!("{e:?}"))
    }

    /// Registers a client the way `POST /oauth/register` does (`none`: a public client).
    pub fn register(w: &mut World, method: &str) -> String {
        register_for(w, method, "read write")
    }

    pub fn register_for(w: &mut World, method: &str, scope: &str) -> String {
        let registration = serde_json::from_value(serde_json::json!({
            "redirect_uris": ["https://claude.ai/api/mcp/auth_callback"],
            "token_endpoint_auth_method": method,
            "client_name": "Claude",
            "scope": scope,
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        clients::register_client(&mut w.conn, registration, now())
            .map(|r| r.client_id)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// The operator's own client (OAUTH_CLIENT_ID), the only one whose errors are redirected.
    pub fn operator_client(w: &mut World) -> String {
        let config = config();
        clients::upsert_static(&mut w.conn, &config, now()).unwrap_or_else(|e| panic!("{e}"));
        config.oauth_client_id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_are_this_servers_only() {
        let base = "https://books.example";
        assert_eq!(resolve_resource(base, None).unwrap(), base);
        assert_eq!(
            resolve_resource(base, Some("https://books.example/mcp/")).unwrap(),
            "https://books.example/mcp"
        );
        assert_eq!(
            resolve_resource(base, Some("https://books.example/")).unwrap(),
            base
        );
        assert!(resolve_resource(base, Some("https://evil.example/mcp")).is_err());
        assert!(resolve_resource(base, Some("https://books.example/mcp//")).is_err());
    }
}

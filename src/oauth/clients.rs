//! OAuth clients: dynamic registration (RFC 7591), the static client from the configuration,
//! client authentication, and exact redirect URI matching.

use super::{OAuthError, OAuthResult};
use crate::auth::{Scope, ScopeSet};
use crate::config::Config;
use crate::crypto::{constant_time_eq, hash_token, random_token};
use crate::db::schema::oauth_clients;
use crate::db::{self, write_transaction, DbConn};
use crate::error::AppResult;
use crate::rate_limit;
use crate::state::AppState;
use actix_web::{web, HttpRequest, HttpResponse};
use base64::Engine;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/oauth/register", web::post().to(register));
}

crate::db::models::text_enum! {
    /// How a client came to be known.
    pub enum ClientOrigin {
        /// The operator's, from the configuration (`OAUTH_CLIENT_ID`).
        Static = "static",
        /// Registered itself (RFC 7591).
        Dynamic = "dynamic",
        /// Known by its client ID metadata document.
        Metadata = "metadata",
    }
}

/// What the rules read of a client's row (its registered metadata is kept whole in the table).
#[derive(Queryable, Selectable, Clone)]
#[diesel(table_name = oauth_clients)]
pub struct Client {
    pub id: i64,
    pub client_id: String,
    pub client_secret_hash: Option<String>,
    pub client_name: String,
    pub redirect_uris: String,
    pub scope: String,
    pub origin: ClientOrigin,
    pub disabled: bool,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("client_id", &self.client_id)
            .field("client_name", &self.client_name)
            .finish_non_exhaustive()
    }
}

impl Client {
    pub fn redirect_uris(&self) -> Vec<String> {
        serde_json::from_str(&self.redirect_uris).unwrap_or_default()
    }

    pub fn scopes(&self) -> ScopeSet {
        ScopeSet::parse_lenient(&self.scope)
    }

    pub fn is_public(&self) -> bool {
        self.client_secret_hash.is_none()
    }

    /// Whether the operator configured this client (the static client), rather than the client
    /// registering itself (dynamic registration, a client ID metadata document). This is the
    /// whole allow-list: only such a client is shown as verified, and only its redirect URIs
    /// are trusted with an error before the user approved anything.
    pub fn configured_by_operator(&self) -> bool {
        self.origin == ClientOrigin::Static
    }

    /// For a client known by its metadata document: the host (and port, when not the default)
    /// that published it.
    pub fn document_host(&self) -> Option<String> {
        if self.origin != ClientOrigin::Metadata {
            return None;
        }
        let url = url::Url::parse(&self.client_id).ok()?;
        let host = url.host_str()?;
        Some(match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_string(),
        })
    }

    /// Whether `candidate` is one of the registered redirect URIs: byte for byte, except that a
    /// loopback redirect matches on any port (RFC 8252 §7.3), for native apps. A candidate with
    /// control characters or spaces never matches, even a row registered before they were
    /// refused: it could not be sent in a `Location` header.
    pub fn accepts_redirect(&self, candidate: &str) -> bool {
        !has_control_or_space(candidate)
            && self
                .redirect_uris()
                .iter()
                .any(|registered| redirect_matches(registered, candidate))
    }
}

fn has_control_or_space(text: &str) -> bool {
    text.chars().any(|c| c.is_control() || c.is_whitespace())
}

pub fn redirect_matches(registered: &str, candidate: &str) -> bool {
    if registered == candidate {
        return true;
    }
    match (url::Url::parse(registered), url::Url::parse(candidate)) {
        (Ok(r), Ok(c)) if is_loopback(&r) && is_loopback(&c) => {
            r.scheme() == c.scheme()
                && r.host_str() == c.host_str()
                && r.path() == c.path()
                && r.query() == c.query()
        }
        _ => false,
    }
}

fn is_loopback(url: &url::Url) -> bool {
    url.scheme() == "http"
        && matches!(
            url.host_str(),
            Some("127.0.0.1") | Some("localhost") | Some("[::1]")
        )
}

/// https anywhere, http only on loopback, no fragment, no control characters or spaces (the
/// URL parser drops a line break where a header would not). Returns the parsed form, which is
/// what gets stored.
pub fn validate_redirect_uri(uri: &str) -> Result<url::Url, String> {
    if has_control_or_space(uri) {
        return Err(format!(
            "`{}` contains control characters or spaces",
            uri.escape_default()
        ));
    }
    let parsed = url::Url::parse(uri).map_err(|_| format!("`{uri}` is not an absolute URL"))?;
    if parsed.fragment().is_some() {
        return Err(format!("`{uri}` has a fragment"));
    }
    match parsed.scheme() {
        "https" => Ok(parsed),
        "http" if is_loopback(&parsed) => Ok(parsed),
        "http" => Err(format!(
            "`{uri}` must use https (http is allowed only for 127.0.0.1 and localhost)"
        )),
        // Private-use schemes of native apps (RFC 8252 §7.1) contain a dot.
        scheme if scheme.contains('.') => Ok(parsed),
        scheme => Err(format!(
            "`{uri}` uses the scheme {scheme}, which is not allowed"
        )),
    }
}

pub fn find(conn: &mut DbConn, client_id: &str) -> AppResult<Option<Client>> {
    Ok(db::on_backend!(conn, c => oauth_clients::table
        .filter(oauth_clients::client_id.eq(client_id))
        .select(Client::as_select())
        .first(c)
        .optional())?)
}

pub fn list(conn: &mut DbConn) -> AppResult<Vec<Client>> {
    Ok(oauth_clients::table
        .order(oauth_clients::id.asc())
        .select(Client::as_select())
        .load(conn)?)
}

/// Client metadata, as sent to `POST /oauth/register`.
#[derive(Debug, Deserialize)]
pub struct Registration {
    #[serde(default)]
    pub redirect_uris: Option<Vec<String>>,
    pub client_name: Option<String>,
    pub grant_types: Option<Vec<String>>,
    pub response_types: Option<Vec<String>>,
    pub token_endpoint_auth_method: Option<String>,
    pub scope: Option<String>,
    pub client_uri: Option<String>,
    pub logo_uri: Option<String>,
    /// `web` (the default) or `native` (OpenID Connect Registration §2, named by MCP
    /// 2026-07-28); accepted and echoed, as clients such as Claude.ai send it.
    pub application_type: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Registered {
    pub client_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    pub client_id_issued_at: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret_expires_at: Option<i64>,
    pub client_name: String,
    pub redirect_uris: Vec<String>,
    pub grant_types: Vec<String>,
    pub response_types: Vec<String>,
    pub token_endpoint_auth_method: String,
    pub scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logo_uri: Option<String>,
    pub application_type: String,
}

/// Validates metadata and registers a client. Confidential clients get a secret, shown once.
pub fn register_client(
    conn: &mut DbConn,
    request: Registration,
    now: NaiveDateTime,
) -> OAuthResult<Registered> {
    let redirect_uris = request
        .redirect_uris
        .filter(|uris| !uris.is_empty())
        .ok_or_else(|| OAuthError::InvalidRedirectUri("redirect_uris is required".into()))?;
    if redirect_uris.len() > 20 {
        return Err(OAuthError::InvalidRedirectUri(
            "at most 20 redirect URIs".into(),
        ));
    }
    // Stored as parsed, so what was checked is what a redirect will use (RFC 7591 §3.2.1 lets
    // the answer carry the values as registered).
    let redirect_uris = redirect_uris
        .iter()
        .map(|uri| validate_redirect_uri(uri).map(String::from))
        .collect::<Result<Vec<_>, _>>()
        .map_err(OAuthError::InvalidRedirectUri)?;
    let method = request
        .token_endpoint_auth_method
        .unwrap_or_else(|| "client_secret_basic".into());
    if !["client_secret_basic", "client_secret_post", "none"].contains(&method.as_str()) {
        return Err(OAuthError::InvalidClientMetadata(format!(
            "token_endpoint_auth_method `{method}` is not supported"
        )));
    }
    let grant_types = request
        .grant_types
        .unwrap_or_else(|| vec!["authorization_code".into(), "refresh_token".into()]);
    if grant_types
        .iter()
        .any(|g| g != "authorization_code" && g != "refresh_token")
        || !grant_types.iter().any(|g| g == "authorization_code")
    {
        return Err(OAuthError::InvalidClientMetadata(
            "grant_types must be authorization_code, optionally with refresh_token".into(),
        ));
    }
    let response_types = request
        .response_types
        .unwrap_or_else(|| vec!["code".into()]);
    if response_types != ["code"] {
        return Err(OAuthError::InvalidClientMetadata(
            "response_types must be [\"code\"]".into(),
        ));
    }
    // Unknown scope names are ignored; none at all means every scope (the user still consents).
    let mut scope = ScopeSet::parse_lenient(request.scope.as_deref().unwrap_or(""));
    if scope.is_empty() {
        scope = ScopeSet::new(Scope::SUPPORTED);
    }
    let name = request
        .client_name
        .map(|n| n.trim().chars().take(100).collect::<String>())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "Unnamed application".into());
    for (field, value) in [
        ("client_uri", &request.client_uri),
        ("logo_uri", &request.logo_uri),
    ] {
        if let Some(value) = value {
            if !matches!(
                url::Url::parse(value)
                    .map(|u| u.scheme().to_string())
                    .as_deref(),
                Ok("https")
            ) {
                return Err(OAuthError::InvalidClientMetadata(format!(
                    "{field} must be an https URL"
                )));
            }
        }
    }
    let application_type = request.application_type.unwrap_or_else(|| "web".into());
    if !["web", "native"].contains(&application_type.as_str()) {
        return Err(OAuthError::InvalidClientMetadata(
            "application_type must be \"web\" or \"native\"".into(),
        ));
    }
    let client_id = random_token(16);
    let secret = (method != "none").then(|| random_token(32));
    let insert = diesel::insert_into(oauth_clients::table).values((
        oauth_clients::client_id.eq(&client_id),
        oauth_clients::client_secret_hash.eq(secret.as_deref().map(hash_token)),
        oauth_clients::client_name.eq(&name),
        oauth_clients::redirect_uris.eq(serde_json::to_string(&redirect_uris).unwrap_or_default()),
        oauth_clients::grant_types.eq(serde_json::to_string(&grant_types).unwrap_or_default()),
        oauth_clients::response_types
            .eq(serde_json::to_string(&response_types).unwrap_or_default()),
        oauth_clients::token_endpoint_auth_method.eq(&method),
        oauth_clients::scope.eq(scope.to_string()),
        oauth_clients::client_uri.eq(&request.client_uri),
        oauth_clients::logo_uri.eq(&request.logo_uri),
        oauth_clients::origin.eq(ClientOrigin::Dynamic),
        oauth_clients::disabled.eq(false),
        oauth_clients::created_at.eq(now),
    ));
    write_transaction(conn, |conn| insert.execute(&mut **conn))?;
    Ok(Registered {
        client_id,
        client_secret_expires_at: secret.as_ref().map(|_| 0),
        client_secret: secret,
        client_id_issued_at: now.and_utc().timestamp(),
        client_name: name,
        redirect_uris,
        grant_types,
        response_types,
        token_endpoint_auth_method: method,
        scope: scope.to_string(),
        client_uri: request.client_uri,
        logo_uri: request.logo_uri,
        application_type,
    })
}

async fn register(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, OAuthError> {
    rate_limit::check(&state, &req, rate_limit::Bucket::Register)?;
    let request: Registration = serde_json::from_slice(&body).map_err(|e| {
        OAuthError::InvalidClientMetadata(format!("the body must be JSON client metadata: {e}"))
    })?;
    let registered = db::run(&state.pool, move |conn| {
        Ok(register_client(conn, request, db::models::now()))
    })
    .await??;
    Ok(HttpResponse::Created()
        .insert_header(("Cache-Control", "no-store"))
        .json(registered))
}

/// Creates or updates the static confidential client of the configuration (seed 000).
pub fn upsert_static(conn: &mut DbConn, config: &Config, now: NaiveDateTime) -> AppResult<()> {
    let uris = serde_json::to_string(&config.oauth_redirect_uris).unwrap_or_else(|_| "[]".into());
    let secret_hash = hash_token(config.oauth_client_secret.expose());
    let scope = ScopeSet::new(Scope::SUPPORTED).to_string();
    write_transaction(conn, |conn| {
        match find(conn, &config.oauth_client_id)? {
            Some(existing) => {
                diesel::update(oauth_clients::table.find(existing.id))
                    .set((
                        oauth_clients::client_secret_hash.eq(Some(&secret_hash)),
                        oauth_clients::redirect_uris.eq(&uris),
                        oauth_clients::scope.eq(&scope),
                        oauth_clients::origin.eq(ClientOrigin::Static),
                        oauth_clients::token_endpoint_auth_method.eq("client_secret_basic"),
                    ))
                    .execute(&mut **conn)?;
            }
            None => {
                diesel::insert_into(oauth_clients::table)
                    .values((
                        oauth_clients::client_id.eq(&config.oauth_client_id),
                        oauth_clients::client_secret_hash.eq(Some(&secret_hash)),
                        oauth_clients::client_name.eq("Configured client"),
                        oauth_clients::redirect_uris.eq(&uris),
                        oauth_clients::grant_types.eq("[\"authorization_code\",\"refresh_token\"]"),
                        oauth_clients::response_types.eq("[\"code\"]"),
                        oauth_clients::token_endpoint_auth_method.eq("client_secret_basic"),
                        oauth_clients::scope.eq(&scope),
                        oauth_clients::origin.eq(ClientOrigin::Static),
                        oauth_clients::disabled.eq(false),
                        oauth_clients::created_at.eq(now),
                    ))
                    .execute(&mut **conn)?;
            }
        }
        Ok(())
    })
}

/// The client credentials a request presented.
#[derive(Default)]
pub struct Credentials {
    pub client_id: Option<String>,
    pub secret: Option<String>,
    pub basic: bool,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// Reads HTTP Basic (RFC 6749 §2.3.1: form-urlencoded id and secret) or body parameters.
pub fn credentials(
    req: &HttpRequest,
    body_id: Option<&str>,
    body_secret: Option<&str>,
) -> OAuthResult<Credentials> {
    if let Some(value) = req
        .headers()
        .get("Authorization")
        .and_then(|v| v.to_str().ok())
    {
        if let Some(encoded) = value
            .strip_prefix("Basic ")
            .or_else(|| value.strip_prefix("basic "))
        {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(encoded.trim())
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| OAuthError::invalid_client("malformed Basic credentials", true))?;
            let (id, secret) = decoded
                .split_once(':')
                .ok_or_else(|| OAuthError::invalid_client("malformed Basic credentials", true))?;
            let unescape = |s: &str| {
                url::form_urlencoded::parse(format!("x={s}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default()
            };
            if body_secret.is_some() {
                return Err(OAuthError::InvalidRequest(
                    "use one client authentication method, not two".into(),
                ));
            }
            return Ok(Credentials {
                client_id: Some(unescape(id)),
                secret: Some(unescape(secret)),
                basic: true,
            });
        }
    }
    Ok(Credentials {
        client_id: body_id.map(String::from),
        secret: body_secret.map(String::from),
        basic: false,
    })
}

/// A client that proved who it is, as the token, revocation and introspection endpoints know
/// it: its ids, and only the columns authentication reads. The whole row (`Client`: redirect
/// URIs, name, scope, origin) is for the authorization page; read whole on every token request
/// it was 3% of an introspection (bench/README.md, 2026-12-05, 02:30).
#[derive(Queryable, Selectable)]
#[diesel(table_name = oauth_clients)]
pub struct AuthenticatedClient {
    pub id: i64,
    pub client_id: String,
    client_secret_hash: Option<String>,
    disabled: bool,
    // Parsed directly on SQLite (db::time), not by diesel's trial of strftime formats.
    last_used_at: Option<crate::db::time::StoredTime>,
}

impl std::fmt::Debug for AuthenticatedClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthenticatedClient")
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// Authenticates the client: a confidential client must present its secret; a public client
/// only names itself. Unknown, disabled or wrong: `invalid_client`.
pub fn authenticate(
    conn: &mut DbConn,
    credentials: &Credentials,
    now: NaiveDateTime,
) -> OAuthResult<AuthenticatedClient> {
    let basic = credentials.basic;
    let id = credentials.client_id.as_deref().ok_or_else(|| {
        OAuthError::invalid_client("client authentication is required (client_id)", basic)
    })?;
    let client: Option<AuthenticatedClient> = db::on_backend!(conn, c => oauth_clients::table
        .filter(oauth_clients::client_id.eq(id))
        .select(AuthenticatedClient::as_select())
        .first(c)
        .optional())?;
    let client = client
        .filter(|c| !c.disabled)
        .ok_or_else(|| OAuthError::invalid_client("unknown client", basic))?;
    match (&client.client_secret_hash, &credentials.secret) {
        (Some(expected), Some(secret)) if constant_time_eq(expected, &hash_token(secret)) => {}
        (Some(_), _) => {
            return Err(OAuthError::invalid_client(
                "client authentication failed",
                basic,
            ))
        }
        (None, Some(_)) => {
            return Err(OAuthError::invalid_client(
                "this client is public and has no secret",
                basic,
            ))
        }
        (None, None) => {}
    }
    // Remember use, at most once a minute, for the purge of unused registrations.
    if client
        .last_used_at
        .is_none_or(|at| now - at.0 > chrono::Duration::seconds(60))
    {
        crate::db::write_transaction(conn, |c| {
            diesel::update(oauth_clients::table.find(client.id))
                .set(oauth_clients::last_used_at.eq(now))
                .execute(&mut **c)
        })?;
    }
    Ok(client)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_keep_the_words_rows_were_stored_with() {
        // Rows written before the enum (and the column's default, 'dynamic') say these.
        let words = [
            (ClientOrigin::Static, "static"),
            (ClientOrigin::Dynamic, "dynamic"),
            (ClientOrigin::Metadata, "metadata"),
        ];
        for (origin, word) in words {
            assert_eq!(origin.as_str(), word);
            assert_eq!(ClientOrigin::parse(word), Some(origin));
        }
        // The client list pads it like any text.
        assert_eq!(format!("{:<8}|", ClientOrigin::Static), "static  |");
    }

    #[test]
    fn redirect_uris_match_exactly_except_loopback_ports() {
        assert!(redirect_matches(
            "https://claude.ai/api/mcp/auth_callback",
            "https://claude.ai/api/mcp/auth_callback"
        ));
        assert!(!redirect_matches(
            "https://claude.ai/api/mcp/auth_callback",
            "https://claude.ai/api/mcp/auth_callback/"
        ));
        assert!(!redirect_matches(
            "https://claude.ai/cb",
            "https://claude.ai:444/cb"
        ));
        assert!(redirect_matches(
            "http://127.0.0.1/callback",
            "http://127.0.0.1:53123/callback"
        ));
        assert!(redirect_matches(
            "http://localhost:3000/cb",
            "http://localhost:9999/cb"
        ));
        assert!(!redirect_matches(
            "http://localhost:3000/cb",
            "http://localhost:9999/other"
        ));
        assert!(!redirect_matches(
            "http://127.0.0.1/cb",
            "http://localhost/cb"
        ));
    }

    #[test]
    fn redirect_uri_rules() {
        assert!(validate_redirect_uri("https://claude.com/api/mcp/auth_callback").is_ok());
        assert!(validate_redirect_uri("http://127.0.0.1:8765/cb").is_ok());
        assert!(validate_redirect_uri("http://example.com/cb").is_err());
        assert!(validate_redirect_uri("https://example.com/cb#frag").is_err());
        assert!(validate_redirect_uri("javascript:alert(1)").is_err());
        assert!(validate_redirect_uri("not a url").is_err());
    }
}

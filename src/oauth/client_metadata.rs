//! Client ID Metadata Documents (MCP authorization, 2025-11-25): a `client_id` that is an https
//! URL names a JSON document, published by the client, that describes it. The document is
//! fetched with a timeout and a size limit, never from a private or special-purpose address,
//! never through a proxy and without following redirects, and cached for a day as a public
//! client row. Fetches are limited per host, and a failure is remembered for a minute, so that
//! authorization requests cannot make this server fetch without end. Clients nobody uses are
//! purged (`oauth::purge`).

use super::clients::{self, validate_redirect_uri, Client, ClientOrigin};
use super::{OAuthError, OAuthResult};
use crate::auth::{Scope, ScopeSet};
use crate::db::schema::oauth_clients;
use crate::db::{self, write_transaction, DbConn};
use crate::error::AppResult;
use crate::state::AppState;
use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use futures_util::StreamExt;
use serde::Deserialize;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration as Elapsed, Instant};

/// Documents larger than this are refused.
pub const MAX_BYTES: usize = 64 * 1024;
/// How long a fetched document is trusted before it is fetched again.
pub const CACHE_HOURS: i64 = 24;
/// Documents fetched a minute from one host, at most.
pub const HOST_FETCHES_PER_MINUTE: u32 = 10;
/// How long a failed fetch is answered from memory, without fetching again.
pub const FAILURE_CACHE: Elapsed = Elapsed::from_secs(60);
const WINDOW: Elapsed = Elapsed::from_secs(60);

/// Fetches counted per host, and recent failures per document URL, in this process (each
/// instance keeps its own, like the rate limits).
#[derive(Default)]
pub struct FetchLimits {
    inner: Mutex<Limits>,
}

#[derive(Default)]
struct Limits {
    hosts: HashMap<String, (Instant, u32)>,
    failures: HashMap<String, (Instant, String)>,
}

impl FetchLimits {
    /// The refusal of a recent failed fetch of `url`, if there is one.
    fn failure(&self, url: &str, now: Instant) -> Option<String> {
        let limits = self.inner.lock().ok()?;
        let (at, message) = limits.failures.get(url)?;
        (now.duration_since(*at) < FAILURE_CACHE).then(|| message.clone())
    }

    fn remember_failure(&self, url: &str, message: String, now: Instant) {
        if let Ok(mut limits) = self.inner.lock() {
            if limits.failures.len() > 10_000 {
                limits
                    .failures
                    .retain(|_, (at, _)| now.duration_since(*at) < FAILURE_CACHE);
            }
            limits.failures.insert(url.to_string(), (now, message));
        }
    }

    /// Counts one fetch from `host`; `Err(seconds)` when its window is full.
    fn allow(&self, host: &str, now: Instant) -> Result<(), u64> {
        let Ok(mut limits) = self.inner.lock() else {
            return Ok(());
        };
        if limits.hosts.len() > 10_000 {
            limits
                .hosts
                .retain(|_, (start, _)| now.duration_since(*start) < WINDOW);
        }
        let entry = limits.hosts.entry(host.to_string()).or_insert((now, 0));
        if now.duration_since(entry.0) >= WINDOW {
            *entry = (now, 0);
        }
        if entry.1 >= HOST_FETCHES_PER_MINUTE {
            return Err(WINDOW
                .saturating_sub(now.duration_since(entry.0))
                .as_secs()
                .max(1));
        }
        entry.1 += 1;
        Ok(())
    }
}

pub fn is_metadata_client_id(client_id: &str) -> bool {
    client_id.starts_with("https://") || client_id.starts_with("http://")
}

#[derive(Debug, Deserialize)]
struct Document {
    client_id: String,
    client_name: Option<String>,
    redirect_uris: Vec<String>,
    token_endpoint_auth_method: Option<String>,
    scope: Option<String>,
    client_uri: Option<String>,
    logo_uri: Option<String>,
}

/// An address no fetch may reach: loopback, private, link-local, unspecified, multicast, and
/// the special-purpose ranges that are not the public Internet or that lead to an IPv4 address
/// by translation (NAT64, 6to4, Teredo), which could be this server's own network.
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_multicast()
                || a == 0 // "this network", 0.0.0.0/8
                || a == 100 && (64..128).contains(&b) // carrier-grade NAT, 100.64.0.0/10
                || a == 192 && b == 0 && c == 0 // IETF protocol assignments, 192.0.0.0/24
                || a == 198 && (b == 18 || b == 19) // benchmarking, 198.18.0.0/15
                || a >= 240 // reserved and broadcast, 240.0.0.0/4
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            v6.is_loopback() || v6.is_unspecified() || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local
                || (s[0] & 0xffc0) == 0xfe80 // link local
                || s[0] == 0x2002 // 6to4, 2002::/16
                || s[0] == 0x2001 && s[1] == 0 // Teredo, 2001::/32
                || s[0] == 0x64 && s[1] == 0xff9b // NAT64, 64:ff9b::/96 and 64:ff9b:1::/48
                || s[..6] == [0; 6] // IPv4-compatible ::a.b.c.d (deprecated)
                || v6.to_ipv4_mapped().is_some_and(|v4| is_private(IpAddr::V4(v4)))
        }
    }
}

/// The cached client for `client_id`, fetching (or refreshing) its document when needed.
pub async fn resolve(state: &AppState, client_id: &str) -> OAuthResult<()> {
    let id = client_id.to_string();
    let cached = db::run(&state.pool, move |conn| fetched_at(conn, &id)).await?;
    let now = db::models::now();
    if cached.is_some_and(|at| now - at < Duration::hours(CACHE_HOURS)) {
        return Ok(());
    }
    let limits = &state.metadata_fetches;
    let clock = Instant::now();
    if let Some(message) = limits.failure(client_id, clock) {
        return Err(OAuthError::InvalidClientMetadata(message));
    }
    let host = url::Url::parse(client_id)
        .ok()
        .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
        .unwrap_or_default();
    if let Err(seconds) = limits.allow(&host, clock) {
        return Err(OAuthError::InvalidClientMetadata(format!(
            "the client metadata document at {client_id} cannot be fetched now: its host was \
             asked too often, try again in {seconds} seconds"
        )));
    }
    let document = match fetch(client_id, state.config.cimd_allow_loopback).await {
        Ok(document) => document,
        Err(error @ (OAuthError::InvalidClientMetadata(_) | OAuthError::InvalidRedirectUri(_))) => {
            limits.remember_failure(client_id, error.to_string(), clock);
            return Err(error);
        }
        Err(error) => return Err(error),
    };
    let id = client_id.to_string();
    db::run(&state.pool, move |conn| store(conn, &id, document, now)).await?;
    Ok(())
}

fn fetched_at(conn: &mut DbConn, client_id: &str) -> AppResult<Option<NaiveDateTime>> {
    Ok(oauth_clients::table
        .filter(oauth_clients::client_id.eq(client_id))
        .filter(oauth_clients::origin.eq(ClientOrigin::Metadata))
        .select(oauth_clients::metadata_fetched_at)
        .first::<Option<NaiveDateTime>>(conn)
        .optional()?
        .flatten())
}

async fn fetch(client_id: &str, allow_loopback: bool) -> OAuthResult<Document> {
    let refuse = |why: &str| {
        OAuthError::InvalidClientMetadata(format!(
            "the client metadata document at {client_id} {why}"
        ))
    };
    let url = url::Url::parse(client_id).map_err(|_| refuse("is not a URL"))?;
    let loopback_test = allow_loopback
        && url.scheme() == "http"
        && matches!(url.host_str(), Some("127.0.0.1") | Some("localhost"));
    if url.scheme() != "https" && !loopback_test {
        return Err(refuse("must be https"));
    }
    if url.path() == "/"
        || url.fragment().is_some()
        || url.username() != ""
        || url.password().is_some()
    {
        return Err(refuse(
            "must be an https URL with a path and no fragment or credentials",
        ));
    }
    let host = url
        .host_str()
        .ok_or_else(|| refuse("has no host"))?
        .to_string();
    let port = url.port_or_known_default().unwrap_or(443);
    // Resolve once, check every address, and pin the connection to a checked one, so DNS
    // cannot point the fetch at this server's own network.
    let addresses: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), port))
        .await
        .map_err(|_| refuse("names a host that does not resolve"))?
        .collect();
    let Some(&address) = addresses.first() else {
        return Err(refuse("names a host that does not resolve"));
    };
    if !loopback_test && addresses.iter().any(|a| is_private(a.ip())) {
        return Err(refuse("resolves to a private address"));
    }
    // No proxy (HTTPS_PROXY and the like are ignored): a proxy would resolve the host itself
    // and undo the pinning to the address checked above.
    let http = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(5))
        .resolve(&host, address)
        .user_agent(concat!("panicless/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| OAuthError::ServerError(format!("http client: {e}")))?;
    let response = http
        .get(url.clone())
        .header("Accept", "application/json")
        .send()
        .await
        .map_err(|_| refuse("could not be fetched"))?;
    if !response.status().is_success() {
        return Err(refuse(&format!("answered {}", response.status())));
    }
    let mut body = Vec::new();
    let mut stream = response.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| refuse("could not be read"))?;
        if body.len() + chunk.len() > MAX_BYTES {
            return Err(refuse("is too large"));
        }
        body.extend_from_slice(&chunk);
    }
    let document: Document = serde_json::from_slice(&body)
        .map_err(|e| refuse(&format!("is not valid client metadata: {e}")))?;
    if document.client_id != client_id {
        return Err(refuse("names a different client_id"));
    }
    if document.redirect_uris.is_empty() {
        return Err(refuse("has no redirect_uris"));
    }
    for uri in &document.redirect_uris {
        validate_redirect_uri(uri).map_err(OAuthError::InvalidRedirectUri)?;
    }
    if document
        .token_endpoint_auth_method
        .as_deref()
        .is_some_and(|m| m != "none")
    {
        return Err(refuse(
            "asks for a client authentication this server does not support (use none)",
        ));
    }
    Ok(document)
}

fn store(
    conn: &mut DbConn,
    client_id: &str,
    document: Document,
    now: NaiveDateTime,
) -> AppResult<()> {
    let mut scope = ScopeSet::parse_lenient(document.scope.as_deref().unwrap_or(""));
    if scope.is_empty() {
        scope = ScopeSet::new(Scope::SUPPORTED);
    }
    let name = document
        .client_name
        .map(|n| n.trim().chars().take(100).collect::<String>())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| client_id.to_string());
    let uris = serde_json::to_string(&document.redirect_uris).unwrap_or_else(|_| "[]".into());
    write_transaction(conn, |conn| {
        let existing: Option<Client> = clients::find(conn, client_id)?;
        match existing {
            Some(client) => {
                diesel::update(oauth_clients::table.find(client.id))
                    .set((
                        oauth_clients::client_name.eq(&name),
                        oauth_clients::redirect_uris.eq(&uris),
                        oauth_clients::scope.eq(scope.to_string()),
                        oauth_clients::client_uri.eq(&document.client_uri),
                        oauth_clients::logo_uri.eq(&document.logo_uri),
                        oauth_clients::metadata_fetched_at.eq(now),
                    ))
                    .execute(&mut **conn)?;
            }
            None => {
                diesel::insert_into(oauth_clients::table)
                    .values((
                        oauth_clients::client_id.eq(client_id),
                        oauth_clients::client_name.eq(&name),
                        oauth_clients::redirect_uris.eq(&uris),
                        oauth_clients::grant_types.eq("[\"authorization_code\",\"refresh_token\"]"),
                        oauth_clients::response_types.eq("[\"code\"]"),
                        oauth_clients::token_endpoint_auth_method.eq("none"),
                        oauth_clients::scope.eq(scope.to_string()),
                        oauth_clients::client_uri.eq(&document.client_uri),
                        oauth_clients::logo_uri.eq(&document.logo_uri),
                        oauth_clients::origin.eq(ClientOrigin::Metadata),
                        oauth_clients::disabled.eq(false),
                        oauth_clients::created_at.eq(now),
                        oauth_clients::metadata_fetched_at.eq(now),
                    ))
                    .execute(&mut **conn)?;
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_addresses_are_recognised() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "192.168.0.1",
            "172.16.5.4",
            "169.254.169.254",
            "100.64.0.1",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:10.0.0.1",
            "0.0.0.0",
            "0.1.2.3",
            "198.18.0.1",
            "198.19.255.254",
            "240.0.0.1",
            "255.255.255.255",
            "192.0.0.8",
            "64:ff9b::a00:1",
            "64:ff9b::808:808",
            "64:ff9b:1::1",
            "2002:a00:1::1",
            "2001:0:4136:e378::1",
            "::10.0.0.1",
            "::127.0.0.1",
        ] {
            assert!(is_private(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "93.184.216.34",
            "2606:4700::1111",
            "8.8.8.8",
            "198.20.0.1",
            "192.0.1.1",
            "2001:db9::1",
            "2a00:1450::1",
        ] {
            assert!(!is_private(ip.parse().unwrap()), "{ip}");
        }
    }
}

//! The MCP endpoint (`/mcp`, Streamable HTTP): the library as tools for Claude.ai and any MCP
//! client, behind the same Bearer tokens and scopes as the REST API.
//!
//! - `transport`: HTTP: authentication, Origin, protocol-version and session headers, JSON or SSE.
//! - `protocol`: JSON-RPC 2.0 messages and method dispatch, independent of HTTP.
//! - `session`: `Mcp-Session-Id`s, kept in the database so any instance can serve a session.
//! - `tools`: the tools, thin adapters over `crate::library` (never SQL of their own).

pub mod protocol;
pub mod session;
pub mod tools;
pub mod transport;

use actix_web::web;

/// Protocol revisions this server speaks, newest first.
pub const SUPPORTED_VERSIONS: [&str; 3] = ["2025-11-25", "2025-06-18", "2025-03-26"];
/// What a request without `MCP-Protocol-Version` is taken to speak (the transport spec says so).
pub const DEFAULT_VERSION: &str = "2025-03-26";
/// The only revision that allows JSON-RPC batches.
pub const BATCH_VERSION: &str = "2025-03-26";
/// Responses stay under this many characters; longer results are paginated.
pub const MAX_RESPONSE_CHARS: usize = 150_000;

pub fn configure(cfg: &mut web::ServiceConfig) {
    transport::configure(cfg);
}

pub fn is_supported(version: &str) -> bool {
    SUPPORTED_VERSIONS.contains(&version)
}

/// The version to answer `initialize` with: the client's when we speak it, else our newest.
pub fn negotiate(requested: Option<&str>) -> &'static str {
    requested
        .and_then(|v| SUPPORTED_VERSIONS.iter().find(|s| **s == v))
        .copied()
        .unwrap_or(SUPPORTED_VERSIONS[0])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_prefers_the_clients_version_when_supported() {
        assert_eq!(negotiate(Some("2025-06-18")), "2025-06-18");
        assert_eq!(negotiate(Some("2025-03-26")), "2025-03-26");
        assert_eq!(negotiate(Some("2099-01-01")), "2025-11-25");
        assert_eq!(negotiate(None), "2025-11-25");
    }
}

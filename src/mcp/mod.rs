//! The MCP endpoint (`/mcp`, Streamable HTTP): the library as tools, resources and prompts for
//! Claude.ai and any MCP client, behind the same Bearer tokens and scopes as the REST API.
//!
//! One endpoint serves both eras of the protocol (a "dual-era" server):
//! - legacy (2025-03-26, 2025-06-18, 2025-11-25): `initialize` negotiates a version and hands
//!   out an `Mcp-Session-Id`, but no request needs it: Claude.ai never sends it back;
//! - modern (2026-07-28): every request stands alone and carries its version and capabilities
//!   in `params._meta`; no sessions, `server/discover` instead of `initialize`.
//!
//! - `era`: which era a request belongs to, and the modern envelope and header rules: plain
//!   functions returning typed outcomes, tested without HTTP.
//! - `protocol`: JSON-RPC messages, the method table, result envelopes per era.
//! - `tools`, `resources`, `prompts`, `completion`: what the server offers, each a table whose
//!   entries carry their own handler, thin adapters over `crate::library` (never SQL).
//! - `session`: legacy `Mcp-Session-Id`s, kept in the database so any instance can serve one.
//! - `transport`: the HTTP handler: authentication, Origin and Host, rendering outcomes.

pub(crate) mod completion;
pub mod era;
pub(crate) mod prompts;
pub mod protocol;
pub(crate) mod resources;
pub(crate) mod session;
pub(crate) mod tools;
pub(crate) mod transport;

use actix_web::web;

/// Legacy revisions (the `initialize` handshake), newest first.
pub const LEGACY_VERSIONS: [&str; 3] = ["2025-11-25", "2025-06-18", "2025-03-26"];
/// Modern revisions (per-request `_meta`, no sessions), newest first.
pub const MODERN_VERSIONS: [&str; 1] = ["2026-07-28"];
/// What a request without `MCP-Protocol-Version` (and without a session) is taken to speak:
/// the transport spec lets a server assume 2025-03-26.
pub const DEFAULT_VERSION: &str = "2025-03-26";
/// The only revision that allows JSON-RPC batches.
pub const BATCH_VERSION: &str = "2025-03-26";
/// Responses stay under this many characters; longer results are paginated.
pub const MAX_RESPONSE_CHARS: usize = 150_000;

pub const SERVER_NAME: &str = "panicless-library";
pub const SERVER_TITLE: &str = "Panicless Library";

/// What a model should know before it uses this server (`initialize` and `server/discover`).
pub const INSTRUCTIONS: &str = "This is the user's personal reading library. Use search_books to \
find books (by title, author, tag or shelf) before changing one, and refer to books by their id. \
Shelves are to-read, reading, read and abandoned. log_reading records a reading session or a \
finished read-through (finishing moves the book to read). reading_stats answers questions about \
how much and what the user has read; recommend_books suggests what to read next from their \
to-read shelf. The resources library://stats, library://shelf/{shelf} and library://book/{id} \
hold the same data for reading directly, and the prompts what_to_read_next, year_in_reading and \
author_reading start a conversation from the user's own data. Long lists are paginated: pass \
the returned next_cursor to get more.";

pub fn configure(cfg: &mut web::ServiceConfig) {
    transport::configure(cfg);
}

/// Every revision this server speaks, modern first: what `server/discover` and an
/// unsupported-version error list.
pub fn supported_versions() -> Vec<&'static str> {
    MODERN_VERSIONS
        .iter()
        .chain(LEGACY_VERSIONS.iter())
        .copied()
        .collect()
}

pub fn is_legacy(version: &str) -> bool {
    LEGACY_VERSIONS.contains(&version)
}

pub fn is_modern(version: &str) -> bool {
    MODERN_VERSIONS.contains(&version)
}

/// The version to answer `initialize` with: the client's when we speak it, else our newest
/// legacy one (`initialize` belongs to the legacy era).
pub fn negotiate(requested: Option<&str>) -> &'static str {
    requested
        .and_then(|v| LEGACY_VERSIONS.iter().find(|s| **s == v))
        .copied()
        .unwrap_or(LEGACY_VERSIONS[0])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_prefers_the_clients_legacy_version_when_supported() {
        assert_eq!(negotiate(Some("2025-06-18")), "2025-06-18");
        assert_eq!(negotiate(Some("2025-03-26")), "2025-03-26");
        assert_eq!(negotiate(Some("2099-01-01")), "2025-11-25");
        // `initialize` never lands a session in the modern era.
        assert_eq!(negotiate(Some("2026-07-28")), "2025-11-25");
        assert_eq!(negotiate(None), "2025-11-25");
    }

    #[test]
    fn supported_versions_name_both_eras_modern_first() {
        assert_eq!(
            supported_versions(),
            ["2026-07-28", "2025-11-25", "2025-06-18", "2025-03-26"]
        );
    }
}

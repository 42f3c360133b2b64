//! One integration-test binary (one link), one module per feature. Every test drives the real
//! application over HTTP on a fresh database: SQLite always, PostgreSQL when
//! `PANICLESS_TEST_POSTGRES_URL` is set.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod account_control;
mod accounts;
mod api_errors;
mod books_pages;
mod browser;
mod browser_books;
mod browser_import;
mod browser_stats;
mod claude;
mod client_metadata;
mod cluster;
mod common;
mod connectors;
mod connectors_oauth;
mod contract;
mod goals;
mod guard;
mod import;
mod library;
mod login_queue;
mod mcp;
mod mcp_modern;
mod mcp_sdk;
mod oauth;
mod oauth_attacks;
mod oauth_client;
mod resilience;
mod scopes;
mod stats_pages;
mod storage;

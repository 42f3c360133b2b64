//! Provider connectors: a user's credentials for AI providers, sealed at rest (AES-256-GCM),
//! never shown back in clear.

pub mod binding;
pub mod oauth_flow;
pub mod providers;
pub mod proxy;
pub mod refresh;
pub mod store;

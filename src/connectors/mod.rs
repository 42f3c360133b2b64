//! Provider connectors: a user's credentials for AI providers, sealed at rest (AES-256-GCM),
//! never shown back in clear.

pub(crate) mod binding;
pub(crate) mod oauth_flow;
pub(crate) mod providers;
pub(crate) mod proxy;
pub(crate) mod refresh;
pub mod store;

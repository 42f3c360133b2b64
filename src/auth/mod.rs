//! Who is calling: passwords, browser sessions with CSRF tokens, signed JWTs and scopes.

pub(crate) mod account;
pub(crate) mod csrf;
pub(crate) mod guard;
pub mod issue;
pub mod jwt;
pub(crate) mod password;
pub(crate) mod scopes;
pub(crate) mod session;

pub use scopes::{Scope, ScopeSet};

//! Who is calling: passwords, browser sessions with CSRF tokens, signed JWTs and scopes.

pub mod account;
pub mod csrf;
pub mod guard;
pub mod issue;
pub mod jwt;
pub mod password;
pub mod scopes;
pub mod session;

pub use scopes::{Scope, ScopeSet};

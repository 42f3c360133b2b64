//! The JSON API. Handlers are thin: they parse, call a plain function, and answer.

pub mod auth;
pub mod health;

use actix_web::web;

pub fn configure(cfg: &mut web::ServiceConfig) {
    health::configure(cfg);
    auth::configure(cfg);
}

use crate::db;
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(super::resource("/health", "GET").route(web::get().to(health)));
}

#[derive(Serialize, ToSchema)]
pub struct Health {
    /// `ok`, or `unavailable` when a load balancer should route elsewhere.
    pub status: &'static str,
    /// `ok`, `unreachable` or `migrations_pending`.
    pub database: &'static str,
}

/// Readiness: a real database round trip, and the schema at the version this binary expects.
#[utoipa::path(get, path = "/health", tag = "health",
    responses((status = 200, body = Health), (status = 503, body = Health)))]
pub async fn health(state: web::Data<AppState>) -> HttpResponse {
    let checked = db::run(&state.pool, |conn| {
        db::ping(conn)?;
        db::migrations_current(conn).map_err(crate::error::AppError::internal)
    })
    .await;
    let (status, database) = match checked {
        Ok(true) => ("ok", "ok"),
        Ok(false) => ("unavailable", "migrations_pending"),
        Err(error) => {
            log::warn!("health check failed: {error}");
            ("unavailable", "unreachable")
        }
    };
    let mut response = if status == "ok" {
        HttpResponse::Ok()
    } else {
        HttpResponse::ServiceUnavailable()
    };
    response
        .insert_header(("Cache-Control", "no-store"))
        .json(Health { status, database })
}

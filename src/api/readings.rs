//! `/api/readings` and `/api/readings/stats`: thin handlers over `crate::library`.

use crate::api::{resource, JsonBody};
use crate::auth::guard::{Authorized, Read, Verified, Write};
use crate::db::{self, models::now};
use crate::error::{AppResult, Problem};
use crate::library::readings::{self, NewReading, Reading, ReadingPatch, ReadingQuery};
use crate::library::stats::{self, ReadingStats};
use crate::library::Page;
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use utoipa::IntoParams;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/api/readings/stats", "GET").route(web::get().to(statistics)))
        .service(
            resource("/api/readings", "GET, POST")
                .route(web::get().to(list))
                .route(web::post().to(create)),
        )
        .service(
            resource("/api/readings/{id}", "GET, PATCH, DELETE")
                .route(web::get().to(get))
                .route(web::patch().to(update))
                .route(web::delete().to(delete)),
        );
}

/// Reading sessions and read-throughs, most recent first.
#[utoipa::path(get, path = "/api/readings", tag = "readings", params(ReadingQuery),
    security(("bearer" = ["read"]), ("oauth2" = ["read"])),
    responses((status = 200, body = Page<Reading>), (status = 401, body = Problem),
              (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn list(
    state: web::Data<AppState>,
    auth: Verified<Read>,
    query: web::Query<ReadingQuery>,
) -> AppResult<web::Json<Page<Reading>>> {
    let query = query.into_inner();
    Ok(web::Json(
        auth.run(&state, move |c, user| readings::list(c, user, &query))
            .await?,
    ))
}

#[utoipa::path(get, path = "/api/readings/{id}", tag = "readings", params(("id" = i64, Path)),
    security(("bearer" = ["read"]), ("oauth2" = ["read"])),
    responses((status = 200, body = Reading), (status = 401, body = Problem),
              (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn get(
    state: web::Data<AppState>,
    auth: Authorized<Read>,
    id: web::Path<i64>,
) -> AppResult<web::Json<Reading>> {
    let (user, id) = (auth.user_id, id.into_inner());
    Ok(web::Json(
        db::run(&state.pool, move |c| readings::get(c, user, id)).await?,
    ))
}

/// Records a reading. A finished one moves the book to the `read` shelf.
#[utoipa::path(post, path = "/api/readings", tag = "readings", request_body = NewReading,
    security(("bearer" = ["write"]), ("oauth2" = ["write"])),
    responses((status = 201, body = Reading), (status = 400, body = Problem), (status = 401, body = Problem),
              (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    state: web::Data<AppState>,
    auth: Authorized<Write>,
    body: JsonBody<NewReading>,
) -> AppResult<HttpResponse> {
    let (user, body) = (auth.user_id, body.into_inner()?);
    let reading = db::run(&state.pool, move |c| readings::create(c, user, body, now())).await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/api/readings/{}", reading.id)))
        .json(reading))
}

#[utoipa::path(patch, path = "/api/readings/{id}", tag = "readings", params(("id" = i64, Path)),
    request_body = ReadingPatch, security(("bearer" = ["write"]), ("oauth2" = ["write"])),
    responses((status = 200, body = Reading), (status = 400, body = Problem), (status = 401, body = Problem),
              (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn update(
    state: web::Data<AppState>,
    auth: Authorized<Write>,
    id: web::Path<i64>,
    body: JsonBody<ReadingPatch>,
) -> AppResult<web::Json<Reading>> {
    let (user, id, body) = (auth.user_id, id.into_inner(), body.into_inner()?);
    Ok(web::Json(
        db::run(&state.pool, move |c| {
            readings::update(c, user, id, body, now())
        })
        .await?,
    ))
}

#[utoipa::path(delete, path = "/api/readings/{id}", tag = "readings", params(("id" = i64, Path)),
    security(("bearer" = ["write"]), ("oauth2" = ["write"])),
    responses((status = 204), (status = 401, body = Problem),
              (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn delete(
    state: web::Data<AppState>,
    auth: Authorized<Write>,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let (user, id) = (auth.user_id, id.into_inner());
    db::run(&state.pool, move |c| readings::delete(c, user, id)).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatsQuery {
    /// The year for the per-year figures (default: this year).
    pub year: Option<i32>,
}

/// Reading statistics: totals, per year and month, extremes, favourites, pace and streaks.
#[utoipa::path(get, path = "/api/readings/stats", tag = "readings", params(StatsQuery),
    security(("bearer" = ["read"]), ("oauth2" = ["read"])),
    responses((status = 200, body = ReadingStats), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn statistics(
    state: web::Data<AppState>,
    auth: Verified<Read>,
    query: web::Query<StatsQuery>,
) -> AppResult<web::Json<ReadingStats>> {
    let (year, memo) = (query.year, state.memo.clone());
    Ok(web::Json(
        auth.run(&state, move |c, user| {
            stats::compute_memoised(c, &memo, user, year, now().date())
        })
        .await?,
    ))
}

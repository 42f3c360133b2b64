//! `/api/goals/{year}`: the yearly reading goal, thin handlers over `crate::library::goals`.

use crate::api::{resource, JsonBody};
use crate::auth::guard::{Authorized, Read, Verified, Write};
use crate::db::{self, models::now};
use crate::error::{AppResult, Problem};
use crate::library::goals::{self, GoalInput, ReadingGoal};
use crate::state::AppState;
use actix_web::{web, HttpResponse};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/api/goals/{year}", "GET, PUT, DELETE")
            .route(web::get().to(get))
            .route(web::put().to(set))
            .route(web::delete().to(delete)),
    );
}

/// The goal for a year and the progress toward it. A year without a goal is `404`
/// (`not_found`): set one with `PUT`.
#[utoipa::path(get, path = "/api/goals/{year}", tag = "goals",
    params(("year" = i32, Path, minimum = 1900, description = "From 1900 to next year.")),
    security(("bearer" = ["read"]), ("oauth2" = ["read"])),
    responses((status = 200, body = ReadingGoal), (status = 401, body = Problem),
              (status = 403, body = Problem),
              (status = 404, description = "No goal is set for this year", body = Problem),
              (status = 422, description = "The year is out of range", body = Problem)))]
pub async fn get(
    state: web::Data<AppState>,
    auth: Verified<Read>,
    year: web::Path<i32>,
) -> AppResult<web::Json<ReadingGoal>> {
    let year = year.into_inner();
    Ok(web::Json(
        auth.run(&state, move |c, user| {
            goals::find(c, user, year, now().date())
        })
        .await?,
    ))
}

/// Sets the goal for a year (creating or replacing it): how many books to finish, 1 to 1000.
#[utoipa::path(put, path = "/api/goals/{year}", tag = "goals", request_body = GoalInput,
    params(("year" = i32, Path, minimum = 1900, description = "From 1900 to next year.")),
    security(("bearer" = ["write"]), ("oauth2" = ["write"])),
    responses((status = 200, body = ReadingGoal), (status = 401, body = Problem),
              (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn set(
    state: web::Data<AppState>,
    auth: Authorized<Write>,
    year: web::Path<i32>,
    body: JsonBody<GoalInput>,
) -> AppResult<web::Json<ReadingGoal>> {
    let (user, year, body) = (auth.user_id, year.into_inner(), body.into_inner()?);
    Ok(web::Json(
        db::run(&state.pool, move |c| {
            goals::set(c, user, year, body.books, now())
        })
        .await?,
    ))
}

/// Removes the goal for a year.
#[utoipa::path(delete, path = "/api/goals/{year}", tag = "goals",
    params(("year" = i32, Path, minimum = 1900, description = "From 1900 to next year.")),
    security(("bearer" = ["write"]), ("oauth2" = ["write"])),
    responses((status = 204), (status = 401, body = Problem),
              (status = 403, body = Problem),
              (status = 404, description = "No goal is set for this year", body = Problem)))]
pub async fn delete(
    state: web::Data<AppState>,
    auth: Authorized<Write>,
    year: web::Path<i32>,
) -> AppResult<HttpResponse> {
    let (user, year) = (auth.user_id, year.into_inner());
    db::run(&state.pool, move |c| goals::delete(c, user, year)).await?;
    Ok(HttpResponse::NoContent().finish())
}

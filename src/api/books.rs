//! `/api/books`: thin handlers over `crate::library::books` and `recommend`.

use crate::api::{resource, JsonBody};
use crate::auth::guard::{Authorized, Read, Verified, Write};
use crate::db::{self, models::now};
use crate::error::{AppResult, Problem};
use crate::library::books::{self, Book, BookPatch, BookQuery, NewBook};
use crate::library::recommend::{self, Recommendation};
use crate::library::Page;
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use utoipa::IntoParams;

pub fn configure(cfg: &mut web::ServiceConfig) {
    // The fixed path before `{id}`, which would otherwise try to read "recommendations" as an id.
    cfg.service(
        resource("/api/books/recommendations", "GET").route(web::get().to(recommendations)),
    )
    .service(
        resource("/api/books", "GET, POST")
            .route(web::get().to(list))
            .route(web::post().to(create)),
    )
    .service(
        resource("/api/books/{id}", "GET, PATCH, DELETE")
            .route(web::get().to(get))
            .route(web::patch().to(update))
            .route(web::delete().to(delete)),
    );
}

/// Lists the library, with filters, sorting and paging.
#[utoipa::path(get, path = "/api/books", tag = "books", params(BookQuery),
    security(("bearer" = ["read"]), ("oauth2" = ["read"])),
    responses((status = 200, body = Page<Book>), (status = 401, body = Problem),
              (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn list(
    state: web::Data<AppState>,
    auth: Verified<Read>,
    query: web::Query<BookQuery>,
) -> AppResult<web::Json<Page<Book>>> {
    let (query, memo) = (query.into_inner(), state.memo.clone());
    Ok(web::Json(
        auth.run(&state, move |c, user| books::list(c, &memo, user, &query))
            .await?,
    ))
}

/// One book.
#[utoipa::path(get, path = "/api/books/{id}", tag = "books", params(("id" = i64, Path)),
    security(("bearer" = ["read"]), ("oauth2" = ["read"])),
    responses((status = 200, body = Book), (status = 401, body = Problem),
              (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn get(
    state: web::Data<AppState>,
    auth: Verified<Read>,
    id: web::Path<i64>,
) -> AppResult<web::Json<Book>> {
    let id = id.into_inner();
    Ok(web::Json(
        auth.run(&state, move |c, user| books::get(c, user, id))
            .await?,
    ))
}

/// Adds a book. The same ISBN, or the same title and first author, is a 409 naming the book
/// already there.
#[utoipa::path(post, path = "/api/books", tag = "books", request_body = NewBook,
    security(("bearer" = ["write"]), ("oauth2" = ["write"])),
    responses((status = 201, body = Book), (status = 400, body = Problem), (status = 401, body = Problem),
              (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    state: web::Data<AppState>,
    auth: Authorized<Write>,
    body: JsonBody<NewBook>,
) -> AppResult<HttpResponse> {
    let (user, body) = (auth.user_id, body.into_inner()?);
    let book = db::run(&state.pool, move |c| books::create(c, user, body, now())).await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/api/books/{}", book.id)))
        .json(book))
}

/// Changes some fields of a book; `null` clears a field.
#[utoipa::path(patch, path = "/api/books/{id}", tag = "books", params(("id" = i64, Path)),
    request_body = BookPatch, security(("bearer" = ["write"]), ("oauth2" = ["write"])),
    responses((status = 200, body = Book), (status = 400, body = Problem), (status = 401, body = Problem),
              (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn update(
    state: web::Data<AppState>,
    auth: Authorized<Write>,
    id: web::Path<i64>,
    body: JsonBody<BookPatch>,
) -> AppResult<web::Json<Book>> {
    let (user, id, body) = (auth.user_id, id.into_inner(), body.into_inner()?);
    Ok(web::Json(
        db::run(&state.pool, move |c| {
            books::update(c, user, id, body, now())
        })
        .await?,
    ))
}

/// Deletes a book and its readings.
#[utoipa::path(delete, path = "/api/books/{id}", tag = "books", params(("id" = i64, Path)),
    security(("bearer" = ["write"]), ("oauth2" = ["write"])),
    responses((status = 204), (status = 401, body = Problem),
              (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn delete(
    state: web::Data<AppState>,
    auth: Authorized<Write>,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let (user, id) = (auth.user_id, id.into_inner());
    db::run(&state.pool, move |c| books::delete(c, user, id)).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RecommendationQuery {
    /// How many, 1 to 50 (default 10).
    #[param(minimum = 1, maximum = 50)]
    pub limit: Option<usize>,
}

/// The to-read books most like what the user finished and rated highly, with reasons.
#[utoipa::path(get, path = "/api/books/recommendations", tag = "books", params(RecommendationQuery),
    security(("bearer" = ["read"]), ("oauth2" = ["read"])),
    responses((status = 200, body = Vec<Recommendation>), (status = 401, body = Problem),
              (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn recommendations(
    state: web::Data<AppState>,
    auth: Authorized<Read>,
    query: web::Query<RecommendationQuery>,
) -> AppResult<web::Json<Vec<Recommendation>>> {
    let user = auth.user_id;
    // Refused, not clamped, like every other limit of the API: what the document states.
    let limit = match query.limit.unwrap_or(10) {
        limit @ 1..=50 => limit,
        _ => {
            return Err(crate::error::AppError::validation(
                "limit",
                "must be between 1 and 50",
            ))
        }
    };
    Ok(web::Json(
        db::run_long(&state.pool, move |c| recommend::recommend(c, user, limit)).await?,
    ))
}

//! `/api/import/{goodreads,storygraph}` and `/api/export`.

use crate::api::resource;
use crate::auth::guard::{Authorized, Read, Write};
use crate::db::{self, models::now};
use crate::error::{AppError, AppResult, Problem};
use crate::library::export::{self, LibraryExport};
use crate::library::import::{self, ImportReport, Source};
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use futures_util::StreamExt;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/api/import/goodreads", "POST").route(web::post().to(import_goodreads)))
        .service(
            resource("/api/import/storygraph", "POST").route(web::post().to(import_storygraph)),
        )
        .service(resource("/api/export", "GET").route(web::get().to(export_library)));
}

/// Reads the body up to the import limit; more is a 413, not a truncated import.
async fn read_body(mut payload: web::Payload) -> AppResult<Vec<u8>> {
    let mut body = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk =
            chunk.map_err(|e| AppError::BadRequest(format!("could not read the body: {e}")))?;
        if body.len() + chunk.len() > import::MAX_BYTES {
            return Err(AppError::PayloadTooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    if body.is_empty() {
        return Err(AppError::BadRequest(
            "the body is empty: send the CSV file as the request body".into(),
        ));
    }
    Ok(body)
}

async fn run_import(
    state: &AppState,
    user: i64,
    source: Source,
    payload: web::Payload,
) -> AppResult<web::Json<ImportReport>> {
    let body = read_body(payload).await?;
    Ok(web::Json(
        db::run_long(&state.pool, move |c| {
            import::import(c, user, source, &body, now())
        })
        .await?,
    ))
}

/// A Goodreads "Export Library" file. The server needs a header naming the columns `Book Id`,
/// `Title`, `Author` and `Exclusive Shelf`, in any order among others; the pattern states the order
/// Goodreads writes them in. Rows that cannot be read are reported, not refused. At most 20 MiB.
#[derive(ToSchema)]
#[schema(
    pattern = r#"^\ufeff?(?:[^\r\n,"]*,)*?Book Id,(?:[^\r\n,"]*,)*?Title,(?:[^\r\n,"]*,)*?Author,(?:[^\r\n,"]*,)*?Exclusive Shelf(?:,[^\r\n,"]*)*(?:\r?\n|$)"#
)]
pub struct GoodreadsCsv(pub String);

/// A StoryGraph library export. The server needs a header naming the columns `Title`, `Authors`
/// and `Read Status`, in any order among others; the pattern states the order StoryGraph writes
/// them in. Rows that cannot be read are reported, not refused. At most 20 MiB.
#[derive(ToSchema)]
#[schema(
    pattern = r#"^\ufeff?(?:[^\r\n,"]*,)*?Title,(?:[^\r\n,"]*,)*?Authors,(?:[^\r\n,"]*,)*?Read Status(?:,[^\r\n,"]*)*(?:\r?\n|$)"#
)]
pub struct StoryGraphCsv(pub String);

/// Imports a Goodreads "Export Library" CSV (the file as the body). Idempotent: importing the
/// same file again changes nothing. Bad rows are reported, not fatal.
#[utoipa::path(post, path = "/api/import/goodreads", tag = "import",
    request_body(content = GoodreadsCsv, content_type = "text/csv", description = "The exported CSV file"),
    security(("bearer" = ["write"]), ("oauth2" = ["write"])),
    responses((status = 200, body = ImportReport), (status = 400, body = Problem), (status = 401, body = Problem),
              (status = 403, body = Problem), (status = 413, body = Problem), (status = 422, body = Problem)))]
pub async fn import_goodreads(
    state: web::Data<AppState>,
    auth: Authorized<Write>,
    payload: web::Payload,
) -> AppResult<web::Json<ImportReport>> {
    run_import(&state, auth.user_id, Source::Goodreads, payload).await
}

/// Imports a StoryGraph library export CSV (the file as the body). Idempotent.
#[utoipa::path(post, path = "/api/import/storygraph", tag = "import",
    request_body(content = StoryGraphCsv, content_type = "text/csv", description = "The exported CSV file"),
    security(("bearer" = ["write"]), ("oauth2" = ["write"])),
    responses((status = 200, body = ImportReport), (status = 400, body = Problem), (status = 401, body = Problem),
              (status = 403, body = Problem), (status = 413, body = Problem), (status = 422, body = Problem)))]
pub async fn import_storygraph(
    state: web::Data<AppState>,
    auth: Authorized<Write>,
    payload: web::Payload,
) -> AppResult<web::Json<ImportReport>> {
    run_import(&state, auth.user_id, Source::StoryGraph, payload).await
}

#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExportFormat {
    #[default]
    Json,
    /// Goodreads-compatible CSV.
    Csv,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    pub format: Option<ExportFormat>,
}

/// The whole library: JSON (books with their readings) or a Goodreads-compatible CSV.
#[utoipa::path(get, path = "/api/export", tag = "import", params(ExportQuery),
    security(("bearer" = ["read"]), ("oauth2" = ["read"])),
    responses((status = 200, description = "The library", content(
                  (LibraryExport = "application/json"),
                  (String = "text/csv"))),
              (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn export_library(
    state: web::Data<AppState>,
    auth: Authorized<Read>,
    query: web::Query<ExportQuery>,
) -> AppResult<HttpResponse> {
    let user = auth.user_id;
    let library = db::run_long(&state.pool, move |c| export::library(c, user, now())).await?;
    Ok(match query.format.unwrap_or_default() {
        ExportFormat::Json => HttpResponse::Ok().json(library),
        ExportFormat::Csv => HttpResponse::Ok()
            .content_type("text/csv; charset=utf-8")
            .insert_header((
                "Content-Disposition",
                "attachment; filename=\"panicless_library_export.csv\"",
            ))
            .body(export::goodreads_csv(&library)?),
    })
}

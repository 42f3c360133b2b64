//! `/api/import/{goodreads,storygraph,panicless}` and `/api/export`.

use crate::api::resource;
use crate::auth::guard::{Authorized, Read, Write};
use crate::db::{self, models::now};
use crate::error::{AppError, AppResult, Problem};
use crate::library::export::{self, LibraryExport};
use crate::library::import::panicless::LibraryBackup;
use crate::library::import::{self, ImportReport, Source};
use crate::state::AppState;
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::StreamExt;
use serde::Deserialize;
use std::collections::HashMap;
use utoipa::{IntoParams, ToSchema};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/api/import/goodreads", "POST").route(web::post().to(import_goodreads)))
        .service(
            resource("/api/import/storygraph", "POST").route(web::post().to(import_storygraph)),
        )
        .service(resource("/api/import/panicless", "POST").route(web::post().to(import_panicless)))
        .service(resource("/api/export", "GET").route(web::get().to(export_library)));
}

/// An uploaded import file: the request body as it is, or the `file` field of a
/// `multipart/form-data` body (what `curl -F file=@export.csv` and browsers send), with the
/// form's other fields.
pub struct Upload {
    pub file: Vec<u8>,
    pub fields: HashMap<String, String>,
}

/// Reads an upload up to the import limit; more is a 413, not a truncated import.
pub async fn read_upload(req: &HttpRequest, payload: web::Payload) -> AppResult<Upload> {
    let multipart = req
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("multipart/form-data")
        });
    let upload = if multipart {
        read_multipart(req, payload).await?
    } else {
        Upload {
            file: read_limited(payload).await?,
            fields: HashMap::new(),
        }
    };
    if upload.file.is_empty() {
        return Err(AppError::BadRequest(
            "the file is empty: send the export as the request body, or as the `file` field of a multipart/form-data body".into(),
        ));
    }
    Ok(upload)
}

async fn read_limited(
    mut stream: impl futures_util::Stream<Item = Result<web::Bytes, impl std::fmt::Display>> + Unpin,
) -> AppResult<Vec<u8>> {
    let mut body = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk =
            chunk.map_err(|e| AppError::BadRequest(format!("could not read the body: {e}")))?;
        if body.len() + chunk.len() > import::MAX_BYTES {
            return Err(AppError::PayloadTooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The `file` field and the short text fields of a multipart body.
async fn read_multipart(req: &HttpRequest, payload: web::Payload) -> AppResult<Upload> {
    let mut parts = actix_multipart::Multipart::new(req.headers(), payload.into_inner());
    let mut file = None;
    let mut fields = HashMap::new();
    while let Some(part) = parts.next().await {
        let part = part.map_err(|e| {
            AppError::BadRequest(format!("could not read the multipart/form-data body: {e}"))
        })?;
        let name = part.name().unwrap_or_default().to_string();
        let file_name = part
            .content_disposition()
            .and_then(|d| d.get_filename())
            .map(String::from);
        let value = read_limited(part).await?;
        if name == "file" {
            if let Some(file_name) = file_name {
                fields.insert("file_name".into(), file_name);
            }
            file = Some(value);
        } else if value.len() <= 4096 {
            fields.insert(name, String::from_utf8_lossy(&value).into_owned());
        }
    }
    let file = file.ok_or_else(|| {
        AppError::validation(
            "file",
            "the multipart/form-data body has no field named `file`: send the export as `file` (curl -F file=@export.csv)",
        )
    })?;
    Ok(Upload { file, fields })
}

async fn run_import(
    state: &AppState,
    user: i64,
    source: Source,
    req: &HttpRequest,
    payload: web::Payload,
) -> AppResult<web::Json<ImportReport>> {
    let body = read_upload(req, payload).await?.file;
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
    value_type = String,
    pattern = r#"^\ufeff?(?:[^\r\n,"]*,)*?Book Id,(?:[^\r\n,"]*,)*?Title,(?:[^\r\n,"]*,)*?Author,(?:[^\r\n,"]*,)*?Exclusive Shelf(?:,[^\r\n,"]*)*(?:\r?\n|$)"#
)]
// Never built: it only describes the body, a string.
pub struct GoodreadsCsv(());

/// A StoryGraph library export. The server needs a header naming the columns `Title`, `Authors`
/// and `Read Status`, in any order among others; the pattern states the order StoryGraph writes
/// them in. Rows that cannot be read are reported, not refused. At most 20 MiB.
#[derive(ToSchema)]
#[schema(
    value_type = String,
    pattern = r#"^\ufeff?(?:[^\r\n,"]*,)*?Title,(?:[^\r\n,"]*,)*?Authors,(?:[^\r\n,"]*,)*?Read Status(?:,[^\r\n,"]*)*(?:\r?\n|$)"#
)]
// Never built: it only describes the body, a string.
pub struct StoryGraphCsv(());

/// Imports a Goodreads "Export Library" CSV, or this library's CSV export: the file as the body,
/// or as the `file` field of a `multipart/form-data` body. Idempotent: importing the same file
/// again changes nothing. The report accounts for every row; a value or row that could not be
/// taken is named with its line and why, and the rest of the file is imported.
#[utoipa::path(post, path = "/api/import/goodreads", tag = "import",
    request_body(content = GoodreadsCsv, content_type = "text/csv", description = "The exported CSV file"),
    security(("bearer" = ["write"]), ("oauth2" = ["write"])),
    responses((status = 200, body = ImportReport), (status = 400, body = Problem), (status = 401, body = Problem),
              (status = 403, body = Problem), (status = 413, body = Problem), (status = 422, body = Problem)))]
pub async fn import_goodreads(
    state: web::Data<AppState>,
    auth: Authorized<Write>,
    req: HttpRequest,
    payload: web::Payload,
) -> AppResult<web::Json<ImportReport>> {
    run_import(&state, auth.user_id, Source::Goodreads, &req, payload).await
}

/// Imports a StoryGraph library export CSV: the file as the body, or as the `file` field of a
/// `multipart/form-data` body. Idempotent; reported as the Goodreads import is.
#[utoipa::path(post, path = "/api/import/storygraph", tag = "import",
    request_body(content = StoryGraphCsv, content_type = "text/csv", description = "The exported CSV file"),
    security(("bearer" = ["write"]), ("oauth2" = ["write"])),
    responses((status = 200, body = ImportReport), (status = 400, body = Problem), (status = 401, body = Problem),
              (status = 403, body = Problem), (status = 413, body = Problem), (status = 422, body = Problem)))]
pub async fn import_storygraph(
    state: web::Data<AppState>,
    auth: Authorized<Write>,
    req: HttpRequest,
    payload: web::Payload,
) -> AppResult<web::Json<ImportReport>> {
    run_import(&state, auth.user_id, Source::StoryGraph, &req, payload).await
}

/// Restores this library's JSON export (`GET /api/export`): the body as it is, or the `file`
/// field of a `multipart/form-data` body. Into an empty library it gives back every book with
/// its identity, shelf, ratings, readings, tags and added date; into a library with books it
/// merges as the other imports do (a book already here, found by its `uid`, Goodreads id, ISBN
/// or title and author, gains only what it lacks; a reading already here is not added again).
/// In the report, a row's `line` is the book's position in `books`, from 1.
#[utoipa::path(post, path = "/api/import/panicless", tag = "import",
    request_body(content = LibraryBackup, content_type = "application/json", description = "The JSON export (only `books` is needed)"),
    security(("bearer" = ["write"]), ("oauth2" = ["write"])),
    responses((status = 200, body = ImportReport), (status = 400, body = Problem), (status = 401, body = Problem),
              (status = 403, body = Problem), (status = 413, body = Problem), (status = 422, body = Problem)))]
pub async fn import_panicless(
    state: web::Data<AppState>,
    auth: Authorized<Write>,
    req: HttpRequest,
    payload: web::Payload,
) -> AppResult<web::Json<ImportReport>> {
    run_import(&state, auth.user_id, Source::Panicless, &req, payload).await
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

/// The whole library: JSON (books with their readings; `POST /api/import/panicless` restores
/// it) or a Goodreads-compatible CSV whose last columns, "Panicless Id" and "Panicless Data",
/// let this server's Goodreads import read each row back exactly.
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
        ExportFormat::Json => HttpResponse::Ok()
            .insert_header((
                "Content-Disposition",
                "attachment; filename=\"panicless_library_export.json\"",
            ))
            .json(library),
        ExportFormat::Csv => HttpResponse::Ok()
            .content_type("text/csv; charset=utf-8")
            .insert_header((
                "Content-Disposition",
                "attachment; filename=\"panicless_library_export.csv\"",
            ))
            .body(export::goodreads_csv(&library)?),
    })
}

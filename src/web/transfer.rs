//! `/import` and `/export`: upload a Goodreads, StoryGraph or Panicless export and read the
//! report; download the library as JSON or Goodreads CSV.
//!
//! An import runs in the background: the form answers at once with a redirect to the report
//! page, which shows how far the import got and reloads itself (a `<meta http-equiv=refresh>`,
//! no JavaScript) until the report is there. The import is the API's (`library::import`); jobs
//! live in this process's memory for an hour (`ImportJobs`).

use super::{redirect, render, Nav, PageError, SignedIn};
use crate::api::transfer::read_upload;
use crate::auth::csrf;
use crate::crypto;
use crate::db::{self, models::now};
use crate::error::AppError;
use crate::library::export;
use crate::library::import::{self, ImportReport, RowOutcome, Source};
use crate::state::AppState;
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/import", web::get().to(form))
        .route("/import", web::post().to(start))
        .route("/import/{job}", web::get().to(report))
        .route("/export", web::get().to(export_page))
        .route("/export/library.json", web::get().to(download_json))
        .route("/export/library.csv", web::get().to(download_csv));
}

type PageResult = Result<HttpResponse, PageError>;

/// How long a finished import's report stays to be read.
const KEPT: Duration = Duration::from_secs(3600);

/// One import started from the page.
pub struct ImportJob {
    user_id: i64,
    file_name: String,
    source: Source,
    started: Instant,
    /// Data rows in the file, once it is read.
    total: AtomicUsize,
    /// Rows done so far.
    done: AtomicUsize,
    outcome: Mutex<Option<Result<ImportReport, String>>>,
}

/// The imports of this process, by their random id.
#[derive(Default)]
pub struct ImportJobs {
    jobs: Mutex<HashMap<String, Arc<ImportJob>>>,
}

impl ImportJobs {
    fn add(&self, job: ImportJob) -> String {
        let id = crypto::random_token(16);
        if let Ok(mut jobs) = self.jobs.lock() {
            jobs.retain(|_, j| j.started.elapsed() < KEPT);
            jobs.insert(id.clone(), Arc::new(job));
        }
        id
    }

    /// The user's job `id`; another user's is as unknown as one that does not exist.
    fn get(&self, id: &str, user_id: i64) -> Option<Arc<ImportJob>> {
        self.jobs
            .lock()
            .ok()?
            .get(id)
            .filter(|j| j.user_id == user_id)
            .cloned()
    }
}

/// The choices of the form's format field: "detect" and each format.
fn formats() -> Vec<(&'static str, &'static str)> {
    vec![
        ("detect", "Tell from the file"),
        (
            "goodreads",
            "Goodreads export (CSV), or this library's CSV export",
        ),
        ("storygraph", "StoryGraph export (CSV)"),
        ("panicless", "This library's JSON export"),
    ]
}

#[derive(Template)]
#[template(path = "import.html")]
struct ImportPage {
    nav: Nav,
    error: Option<String>,
    formats: Vec<(&'static str, &'static str)>,
    chosen: String,
}

async fn form(me: SignedIn) -> PageResult {
    show_form(&me, None, "detect".into(), StatusCode::OK)
}

fn show_form(
    me: &SignedIn,
    error: Option<String>,
    chosen: String,
    status: StatusCode,
) -> PageResult {
    render(
        status,
        &ImportPage {
            nav: me.nav()?.at("import"),
            error,
            formats: formats(),
            chosen,
        },
    )
}

/// The name the browser gave the file, from the multipart body (for the report's title).
fn file_name(fields: &HashMap<String, String>) -> String {
    fields
        .get("file_name")
        .cloned()
        .unwrap_or_else(|| "your file".into())
}

async fn start(
    req: HttpRequest,
    state: web::Data<AppState>,
    me: SignedIn,
    payload: web::Payload,
) -> PageResult {
    let upload = match read_upload(&req, payload).await {
        Ok(upload) => upload,
        Err(AppError::BadRequest(_)) | Err(AppError::Validation(_)) => {
            // The CSRF token is in the same body: without the file it cannot be checked, and
            // nothing is done.
            return show_form(
                &me,
                Some("Choose a file to import.".into()),
                "detect".into(),
                StatusCode::UNPROCESSABLE_ENTITY,
            );
        }
        Err(other) => return Err(other.into()),
    };
    csrf::verify(
        &me.session,
        upload.fields.get("csrf_token").map_or("", String::as_str),
    )?;
    let chosen = upload
        .fields
        .get("format")
        .cloned()
        .unwrap_or_else(|| "detect".into());
    let source = match Source::parse(&chosen).or_else(|| import::detect(&upload.file)) {
        Some(source) => source,
        None => {
            return show_form(
                &me,
                Some(
                    "This file is not a Goodreads, StoryGraph or Panicless export that could be \
                     recognised: its first line names none of their columns. Choose its format, \
                     or check that it is the export file."
                        .into(),
                ),
                chosen,
                StatusCode::UNPROCESSABLE_ENTITY,
            );
        }
    };
    let job_id = state.imports.add(ImportJob {
        user_id: me.user.id,
        file_name: file_name(&upload.fields),
        source,
        started: Instant::now(),
        total: AtomicUsize::new(0),
        done: AtomicUsize::new(0),
        outcome: Mutex::new(None),
    });
    if let Some(job) = state.imports.get(&job_id, me.user.id) {
        let pool = state.pool.clone();
        let bytes = upload.file;
        actix_web::rt::spawn(async move {
            let worker = job.clone();
            let result = db::run_long(&pool, move |conn| {
                let at = now();
                let parsed = import::parse(worker.source, &bytes, at)?;
                worker.total.store(parsed.len(), Ordering::Relaxed);
                let progress = |done: usize| worker.done.store(done, Ordering::Relaxed);
                import::import_parsed(conn, worker.user_id, worker.source, parsed, at, &progress)
            })
            .await;
            let outcome = result.map_err(|e| match e {
                AppError::Validation(problems) => problems
                    .iter()
                    .map(|p| super::capitalise(&p.message))
                    .collect::<Vec<_>>()
                    .join(" "),
                other => super::capitalise(&other.public_message()),
            });
            if let Ok(mut slot) = job.outcome.lock() {
                *slot = Some(outcome);
            }
        });
    }
    Ok(redirect(&format!("/import/{job_id}")))
}

/// A report's problem, as the page lists it.
struct ProblemLine {
    line: u64,
    field: String,
    value: String,
    outcome: &'static str,
    reason: String,
}

fn outcome_text(outcome: RowOutcome) -> &'static str {
    match outcome {
        RowOutcome::Skipped => "not imported",
        RowOutcome::ValueDropped => "imported without this value",
        RowOutcome::RepeatedHeader => "header line again, skipped",
        RowOutcome::MergedWithEarlierRow => "merged with an earlier row",
    }
}

#[derive(Template)]
#[template(path = "import_report.html")]
struct ReportPage {
    nav: Nav,
    file_name: String,
    format: &'static str,
    /// Still running: rows done and in all (0 while the file is read).
    running: Option<(usize, usize)>,
    error: Option<String>,
    report: Option<ImportReport>,
    problems: Vec<ProblemLine>,
}

async fn report(state: web::Data<AppState>, me: SignedIn, job: web::Path<String>) -> PageResult {
    let job = state
        .imports
        .get(&job.into_inner(), me.user.id)
        .ok_or(AppError::NotFound)?;
    let outcome = job.outcome.lock().ok().and_then(|o| o.clone());
    let mut page = ReportPage {
        nav: me.nav()?.at("import"),
        file_name: job.file_name.clone(),
        format: job.source.describe(),
        running: None,
        error: None,
        report: None,
        problems: Vec::new(),
    };
    match outcome {
        None => {
            page.running = Some((
                job.done.load(Ordering::Relaxed),
                job.total.load(Ordering::Relaxed),
            ))
        }
        Some(Err(message)) => page.error = Some(message),
        Some(Ok(report)) => {
            page.problems = report
                .problems
                .iter()
                .map(|p| ProblemLine {
                    line: p.line,
                    field: p.field.clone().unwrap_or_default(),
                    value: p.value.clone().unwrap_or_default(),
                    outcome: outcome_text(p.outcome),
                    reason: super::capitalise(&p.reason),
                })
                .collect();
            page.report = Some(report);
        }
    }
    let status = if page.error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let running = page.running.is_some();
    let mut response = render(status, &page)?;
    if running {
        // Browsers reload a page that says `Refresh`: the progress moves on without JavaScript.
        response.headers_mut().insert(
            header::HeaderName::from_static("refresh"),
            header::HeaderValue::from_static("1"),
        );
    }
    Ok(response)
}

#[derive(Template)]
#[template(path = "export.html")]
struct ExportPage {
    nav: Nav,
}

async fn export_page(me: SignedIn) -> PageResult {
    render(
        StatusCode::OK,
        &ExportPage {
            nav: me.nav()?.at("import"),
        },
    )
}

async fn library_of(state: &AppState, me: &SignedIn) -> Result<export::LibraryExport, AppError> {
    let user = me.user.id;
    db::run_long(&state.pool, move |c| export::library(c, user, now())).await
}

fn attachment(content_type: &str, name: &str, body: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{name}\""),
        ))
        .body(body)
}

async fn download_json(state: web::Data<AppState>, me: SignedIn) -> PageResult {
    let library = library_of(&state, &me).await?;
    let body = serde_json::to_string_pretty(&library).map_err(AppError::internal)?;
    Ok(attachment(
        "application/json",
        "panicless_library_export.json",
        body,
    ))
}

async fn download_csv(state: web::Data<AppState>, me: SignedIn) -> PageResult {
    let library = library_of(&state, &me).await?;
    Ok(attachment(
        "text/csv; charset=utf-8",
        "panicless_library_export.csv",
        export::goodreads_csv(&library)?,
    ))
}

//! This library's own export, read back: the JSON export (a whole-library backup), and the
//! "Panicless Data" column of its CSV export, which holds each book the same way. A book
//! carries our identity (`uid`), so importing an export into the library it came from finds
//! every book again, and its readings are matched by content, so nothing is added twice.

use super::{FieldProblem, ImportedBook, ImportedReading, Parsed, ParsedRow, Source};
use crate::error::{AppError, AppResult};
use crate::library::books::{self, BookData, Origin};
use crate::library::readings::ReadingData;
use crate::library::{isbn, nullable, ReadingStatus, Shelf};
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde::Deserialize;

/// A book as the export writes it (`export::ExportedBook`); what the import does not need (ids,
/// creation times) is ignored.
#[derive(Debug, Deserialize)]
struct BackupBook {
    title: String,
    #[serde(default)]
    authors: Vec<String>,
    #[serde(default)]
    isbn10: Option<String>,
    #[serde(default)]
    isbn13: Option<String>,
    #[serde(default)]
    pages: Option<i32>,
    #[serde(default)]
    published_year: Option<i32>,
    #[serde(default)]
    publisher: Option<String>,
    #[serde(default)]
    language: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    cover_url: Option<String>,
    #[serde(default)]
    shelf: Shelf,
    #[serde(default)]
    series: Option<String>,
    /// The book's rating as shown (its latest rated reading's, else its own).
    #[serde(default)]
    rating: Option<f64>,
    /// The rating given to the book itself; exports before it existed had only `rating`.
    #[serde(default, deserialize_with = "nullable")]
    book_rating: Option<Option<f64>>,
    #[serde(default)]
    binding: Option<String>,
    #[serde(default)]
    uid: Option<String>,
    #[serde(default)]
    goodreads_id: Option<String>,
    #[serde(default)]
    added_at: Option<DateTime<Utc>>,
    #[serde(default)]
    source_key: Option<String>,
    #[serde(default)]
    readings: Vec<BackupReading>,
}

#[derive(Debug, Deserialize)]
struct BackupReading {
    status: ReadingStatus,
    #[serde(default)]
    started_on: Option<NaiveDate>,
    #[serde(default)]
    finished_on: Option<NaiveDate>,
    #[serde(default)]
    pages_read: Option<i32>,
    #[serde(default)]
    progress: Option<f64>,
    #[serde(default)]
    rating: Option<f64>,
    #[serde(default)]
    review: Option<String>,
    #[serde(default)]
    notes: Option<String>,
    #[serde(default)]
    source_key: Option<String>,
}

/// A whole-library backup as `POST /api/import/panicless` reads it: the JSON export
/// (`export::LibraryExport`). Only `books` is needed; `format` and `version`, when given, must
/// be this library's; anything else (`exported_at`) is ignored. Each book is read on its own, so
/// one that cannot be read is reported in the answer and the others imported.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct LibraryBackup {
    /// `panicless-library`, when given.
    #[schema(value_type = Option<String>, pattern = "^panicless-library$")]
    #[serde(default)]
    format: Option<serde_json::Value>,
    /// 1, when given.
    #[schema(value_type = Option<u32>, minimum = 1, maximum = 1)]
    #[serde(default)]
    version: Option<serde_json::Value>,
    /// The books, as `GET /api/export` writes them (`ExportedBook`).
    #[schema(value_type = Vec<Object>)]
    books: Vec<serde_json::Value>,
}

impl LibraryBackup {
    /// What makes the file not this library's backup at all, by field. Each book is checked on
    /// its own later (a book that cannot be read is a row problem, not a refusal).
    fn problems(&self) -> Vec<crate::error::FieldError> {
        use crate::error::FieldError;
        let mut problems = Vec::new();
        match &self.format {
            None | Some(serde_json::Value::Null) => {}
            Some(serde_json::Value::String(f)) if f == crate::library::export::FORMAT => {}
            Some(_) => problems.push(FieldError::new(
                "format",
                format!("must be \"{}\"", crate::library::export::FORMAT),
            )),
        }
        match &self.version {
            None | Some(serde_json::Value::Null) => {}
            Some(v) if v.as_f64() == Some(1.0) => {}
            Some(_) => problems.push(FieldError::new(
                "version",
                "must be 1: this server reads version 1 of the export",
            )),
        }
        for (i, book) in self.books.iter().enumerate() {
            if !book.is_object() {
                problems.push(FieldError::new(
                    format!("books[{i}]"),
                    "must be an object: a book as the export writes it",
                ));
            }
        }
        problems
    }
}

/// The books of a JSON export, each numbered by its position in `books` (from 1). A book that
/// cannot be read is reported, and the others imported.
pub fn parse(bytes: &[u8], _now: NaiveDateTime) -> AppResult<Parsed> {
    let file: LibraryBackup = serde_json::from_slice(bytes).map_err(|e| {
        if e.is_data() {
            AppError::validation(
                "file",
                format!(
                    "expected {}, a JSON object with a \"books\" array: {e}",
                    Source::Panicless.describe()
                ),
            )
        } else {
            super::not_the_format(Source::Panicless, bytes)
        }
    })?;
    let problems = file.problems();
    if !problems.is_empty() {
        return Err(AppError::Validation(problems));
    }
    Ok(file
        .books
        .into_iter()
        .enumerate()
        .map(|(i, value)| {
            let row = match serde_json::from_value::<BackupBook>(value) {
                Ok(book) => ParsedRow::Book(Box::new(imported(book))),
                Err(e) => {
                    ParsedRow::Unreadable(format!("not a book of this library's export: {e}"))
                }
            };
            (i as u64 + 1, row)
        })
        .collect())
}

/// One book written as JSON in the "Panicless Data" column of our CSV export.
pub fn book_from_json(text: &str) -> Result<ImportedBook, String> {
    serde_json::from_str::<BackupBook>(text)
        .map(imported)
        .map_err(|e| {
            format!("the Panicless Data column is not a book of this library's export: {e}")
        })
}

fn imported(book: BackupBook) -> ImportedBook {
    let mut problems = Vec::new();
    let given = book.isbn13.as_deref().or(book.isbn10.as_deref());
    let parsed_isbn = given.and_then(|raw| match isbn::parse(raw) {
        Ok(parsed) => Some(parsed),
        Err(reason) => {
            problems.push(FieldProblem::new("isbn13", raw, reason));
            None
        }
    });
    let uid = book.uid.filter(|uid| {
        let ok = books::is_uid(uid);
        if !ok {
            problems.push(FieldProblem::new(
                "uid",
                uid,
                "is not an id this library wrote (a UUID): the book gets a new one",
            ));
        }
        ok
    });
    let readings = book
        .readings
        .into_iter()
        .map(|r| ImportedReading {
            key: r.source_key,
            data: ReadingData {
                status: r.status,
                started_on: r.started_on,
                finished_on: r.finished_on,
                pages_read: r.pages_read,
                progress: r.progress,
                rating: r.rating,
                review: r.review,
                notes: r.notes,
            },
        })
        .collect();
    ImportedBook {
        key: book.source_key,
        origin: Origin {
            uid,
            import_key: None,
            goodreads_id: book.goodreads_id.filter(|g| !g.is_empty()),
            added_at: book.added_at.map(|t| t.naive_utc()),
        },
        data: BookData {
            title: book.title,
            authors: book.authors,
            isbn10: parsed_isbn.as_ref().and_then(|i| i.isbn10.clone()),
            isbn13: parsed_isbn.map(|i| i.isbn13),
            pages: book.pages,
            published_year: book.published_year,
            publisher: book.publisher,
            language: book.language,
            tags: book.tags,
            description: book.description,
            cover_url: book.cover_url,
            shelf: book.shelf,
            series: book.series,
            rating: book.book_rating.unwrap_or(book.rating),
            binding: book.binding,
        },
        readings,
        exact: true,
        problems,
    }
}

//! Importing a reading history from Goodreads or StoryGraph exports.
//!
//! Each source turns its CSV rows into [`ImportedBook`]s; this module writes them, in one
//! transaction per file, idempotently: a row already imported (same import key, or the same book
//! by ISBN or title and author) is merged, never duplicated, so importing a file twice changes
//! nothing. A bad row is reported and skipped; it never aborts the file.

pub mod goodreads;
pub mod storygraph;

use super::books::{self, BookData};
use super::readings::{self, ReadingData};
use super::{fold, Shelf};
use crate::db::schema::{books as books_t, readings as readings_t};
use crate::db::{write_transaction, DbConn};
use crate::error::{AppError, AppResult};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

/// The largest file accepted.
pub const MAX_BYTES: usize = 20 * 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Goodreads,
    StoryGraph,
}

/// One book of an export, with its readings.
#[derive(Debug, Clone)]
pub struct ImportedBook {
    /// Stable identity of the row in its source, for idempotent re-imports.
    pub key: String,
    pub data: BookData,
    pub readings: Vec<ImportedReading>,
}

#[derive(Debug, Clone)]
pub struct ImportedReading {
    pub key: String,
    pub data: ReadingData,
}

#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
pub struct RowError {
    /// Line of the file (the header is line 1).
    pub line: u64,
    pub message: String,
}

#[derive(Debug, Clone, Default, Serialize, ToSchema, PartialEq, Eq)]
pub struct ImportReport {
    /// Data rows read.
    pub rows: usize,
    /// Rows that added a book.
    pub created: usize,
    /// Rows merged into a book already here (new readings, tags or missing details).
    pub updated: usize,
    /// Rows already imported, with nothing new.
    pub skipped: usize,
    pub readings_created: usize,
    /// Rows that could not be read; the rest of the file was imported.
    pub errors: Vec<RowError>,
}

/// Parses and imports one file for `user_id`.
pub fn import(
    conn: &mut DbConn,
    user_id: i64,
    source: Source,
    bytes: &[u8],
    now: NaiveDateTime,
) -> AppResult<ImportReport> {
    if bytes.len() > MAX_BYTES {
        return Err(AppError::PayloadTooLarge);
    }
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let parsed = match source {
        Source::Goodreads => goodreads::parse(bytes, now)?,
        Source::StoryGraph => storygraph::parse(bytes, now)?,
    };
    let mut report = ImportReport {
        rows: parsed.len(),
        ..Default::default()
    };
    write_transaction(conn, |conn| {
        for (line, row) in parsed {
            match row {
                Ok(book) => match write_book(conn, user_id, book, now) {
                    Ok((Outcome::Created, n)) => {
                        report.created += 1;
                        report.readings_created += n;
                    }
                    Ok((Outcome::Updated, n)) => {
                        report.updated += 1;
                        report.readings_created += n;
                    }
                    Ok((Outcome::Unchanged, _)) => report.skipped += 1,
                    // Validation runs before anything of the row is written.
                    Err(AppError::Validation(problems)) => report.errors.push(RowError {
                        line,
                        message: problems
                            .iter()
                            .map(|p| format!("{} {}", p.field, p.message))
                            .collect::<Vec<_>>()
                            .join("; "),
                    }),
                    Err(other) => return Err(other),
                },
                Err(message) => report.errors.push(RowError { line, message }),
            }
        }
        Ok::<_, AppError>(())
    })?;
    Ok(report)
}

enum Outcome {
    Created,
    Updated,
    Unchanged,
}

fn write_book(
    conn: &mut DbConn,
    user_id: i64,
    book: ImportedBook,
    now: NaiveDateTime,
) -> AppResult<(Outcome, usize)> {
    let data = match books::validate(book.data.clone(), now) {
        Ok(data) => data,
        // An odd field (a year in the future, an enormous page count) is dropped, not the book.
        Err(_) => books::validate(
            BookData {
                pages: None,
                published_year: None,
                rating: None,
                cover_url: None,
                ..book.data
            },
            now,
        )?,
    };
    let existing: Option<i64> = books_t::table
        .filter(books_t::user_id.eq(user_id))
        .filter(books_t::import_key.eq(&book.key))
        .select(books_t::id)
        .first(conn)
        .optional()?;
    let existing = match existing {
        Some(id) => Some(id),
        None => books::find_duplicate(conn, user_id, &data, None)?,
    };
    let (book_id, mut outcome) = match existing {
        Some(id) => {
            let changed = merge(conn, user_id, id, &data, now)?;
            (
                id,
                if changed {
                    Outcome::Updated
                } else {
                    Outcome::Unchanged
                },
            )
        }
        None => (
            books::insert(conn, user_id, &data, Some(&book.key), now)?,
            Outcome::Created,
        ),
    };
    let mut created = 0;
    for reading in &book.readings {
        let exists: i64 = readings_t::table
            .filter(readings_t::user_id.eq(user_id))
            .filter(readings_t::import_key.eq(&reading.key))
            .count()
            .get_result(conn)?;
        if exists == 0 {
            let data = match readings::validate(reading.data.clone(), now.date()) {
                Ok(data) => data,
                Err(_) => ReadingData {
                    rating: None,
                    pages_read: None,
                    progress: None,
                    ..reading.data.clone()
                },
            };
            readings::insert(conn, user_id, book_id, &data, Some(&reading.key), now)?;
            created += 1;
        }
    }
    if created > 0 {
        readings::reshelve(conn, user_id, book_id, now)?;
        if matches!(outcome, Outcome::Unchanged) {
            outcome = Outcome::Updated;
        }
    }
    Ok((outcome, created))
}

/// Fills what the existing book lacks, adds tags, and moves the shelf forward (never back).
/// Returns whether anything changed.
fn merge(
    conn: &mut DbConn,
    user_id: i64,
    id: i64,
    incoming: &BookData,
    now: NaiveDateTime,
) -> AppResult<bool> {
    let current = books::get(conn, user_id, id)?;
    let mut data = BookData {
        title: current.title.clone(),
        authors: current.authors.clone(),
        isbn10: current.isbn10.clone(),
        isbn13: current.isbn13.clone(),
        pages: current.pages,
        published_year: current.published_year,
        publisher: current.publisher.clone(),
        language: current.language.clone(),
        tags: current.tags.clone(),
        description: current.description.clone(),
        cover_url: current.cover_url.clone(),
        shelf: current.shelf,
        series: current.series.clone(),
        rating: current.rating,
    };
    let before = data.clone();
    if data.isbn13.is_none() && incoming.isbn13.is_some() {
        // Only when no other book of the user has that ISBN already.
        let taken: i64 = books_t::table
            .filter(books_t::user_id.eq(user_id))
            .filter(books_t::isbn13.eq(&incoming.isbn13))
            .count()
            .get_result(conn)?;
        if taken == 0 {
            data.isbn13 = incoming.isbn13.clone();
            data.isbn10 = incoming.isbn10.clone();
        }
    }
    data.pages = data.pages.or(incoming.pages);
    data.published_year = data.published_year.or(incoming.published_year);
    data.publisher = data.publisher.or(incoming.publisher.clone());
    data.series = data.series.or(incoming.series.clone());
    data.rating = data.rating.or(incoming.rating);
    data.description = data.description.or(incoming.description.clone());
    for tag in &incoming.tags {
        if !data.tags.contains(tag) {
            data.tags.push(tag.clone());
        }
    }
    if rank(incoming.shelf) > rank(data.shelf) {
        data.shelf = incoming.shelf;
    }
    if data == before {
        return Ok(false);
    }
    books::write(conn, user_id, id, &data, now)?;
    Ok(true)
}

fn rank(shelf: Shelf) -> u8 {
    match shelf {
        Shelf::ToRead => 0,
        Shelf::Abandoned => 1,
        Shelf::Reading => 2,
        Shelf::Read => 3,
    }
}

/// Splits `Title (Series, #2)` into the title and the series.
pub fn split_series(title: &str) -> (String, Option<String>) {
    let title = title.trim();
    if let Some(open) = title.rfind(" (") {
        if let Some(inner) = title.get(open + 2..).and_then(|r| r.strip_suffix(')')) {
            if inner.contains('#') {
                return (
                    title[..open].trim().to_string(),
                    Some(inner.trim().to_string()),
                );
            }
        }
    }
    (title.to_string(), None)
}

/// A date written `YYYY/MM/DD` (both exports), or `None`.
pub fn parse_date(text: &str) -> Option<chrono::NaiveDate> {
    chrono::NaiveDate::parse_from_str(text.trim(), "%Y/%m/%d").ok()
}

/// A stable key from title and first author, for rows without an id.
pub fn title_key(title: &str, author: &str) -> String {
    format!("{}|{}", fold(title), fold(author))
}

/// Column positions found by header name, so exports with more or fewer columns all work.
pub struct Columns {
    names: Vec<String>,
}

impl Columns {
    pub fn new(header: &csv::StringRecord) -> Self {
        Columns {
            names: header.iter().map(|h| h.trim().to_string()).collect(),
        }
    }

    pub fn require(&self, names: &[&str]) -> AppResult<()> {
        let missing: Vec<&str> = names
            .iter()
            .copied()
            .filter(|n| !self.names.iter().any(|h| h == n))
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(AppError::validation(
                "file",
                format!(
                    "this does not look like the expected export: no column {}",
                    missing.join(", ")
                ),
            ))
        }
    }

    /// The trimmed value of column `name` in `row`, or "" when the column or value is absent.
    pub fn get<'r>(&self, row: &'r csv::StringRecord, name: &str) -> &'r str {
        self.names
            .iter()
            .position(|h| h == name)
            .and_then(|i| row.get(i))
            .map(str::trim)
            .unwrap_or("")
    }
}

/// A row of a file with its line number: the value, or why it could not be read.
pub type Numbered<T> = (u64, Result<T, String>);

/// Reads every record; a record that cannot be read becomes an error for its line.
pub fn records(bytes: &[u8]) -> AppResult<(Columns, Vec<Numbered<csv::StringRecord>>)> {
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(bytes);
    let header = reader
        .headers()
        .map_err(|e| AppError::validation("file", format!("cannot read the CSV header: {e}")))?
        .clone();
    let columns = Columns::new(&header);
    let rows = reader
        .records()
        .enumerate()
        .map(|(i, record)| match record {
            Ok(r) => (r.position().map_or(i as u64 + 2, |p| p.line()), Ok(r)),
            Err(e) => (
                e.position().map_or(i as u64 + 2, |p| p.line()),
                Err(format!("unreadable row: {e}")),
            ),
        })
        .collect();
    Ok((columns, rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_is_split_from_titles() {
        assert_eq!(
            split_series("Leviathan Wakes (The Expanse, #1)"),
            (
                "Leviathan Wakes".to_string(),
                Some("The Expanse, #1".to_string())
            )
        );
        assert_eq!(
            split_series("Gay New York (1994)"),
            ("Gay New York (1994)".to_string(), None)
        );
    }
}

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

/// Reads one file into its rows, each a book or why its line could not be read. No database:
/// this is the part that sees untrusted bytes (and what `fuzz/` exercises).
pub fn parse(
    source: Source,
    bytes: &[u8],
    now: NaiveDateTime,
) -> AppResult<Vec<Numbered<ImportedBook>>> {
    if bytes.len() > MAX_BYTES {
        return Err(AppError::PayloadTooLarge);
    }
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    match source {
        Source::Goodreads => goodreads::parse(bytes, now),
        Source::StoryGraph => storygraph::parse(bytes, now),
    }
}

/// Parses and imports one file for `user_id`.
pub fn import(
    conn: &mut DbConn,
    user_id: i64,
    source: Source,
    bytes: &[u8],
    now: NaiveDateTime,
) -> AppResult<ImportReport> {
    let parsed = parse(source, bytes, now)?;
    let mut report = ImportReport {
        rows: parsed.len(),
        ..Default::default()
    };
    write_transaction(conn, |conn| {
        for (line, row) in parsed {
            match row {
                Ok(book) => {
                    match check(book, now).and_then(|b| write_book(conn, user_id, b, now)) {
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
                    }
                }
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

/// Checks a row as the API checks a book and its readings, before anything of it is written:
/// an odd field is dropped, a row that stays invalid is an error for its line.
pub fn check(book: ImportedBook, now: NaiveDateTime) -> AppResult<ImportedBook> {
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
    let today = now.date();
    let readings = book
        .readings
        .into_iter()
        .map(|reading| {
            let data = match readings::validate(reading.data.clone(), today) {
                Ok(data) => data,
                // As for the book, an odd field is dropped; what is still wrong (a review longer
                // than the API takes) fails the row. Written unchecked, it broke the rules every
                // other reading keeps (found by fuzz/, import_goodreads).
                Err(_) => readings::validate(without_odd_fields(reading.data, today), today)?,
            };
            Ok(ImportedReading {
                key: reading.key,
                data,
            })
        })
        .collect::<AppResult<Vec<_>>>()?;
    Ok(ImportedBook {
        key: book.key,
        data,
        readings,
    })
}

/// A reading without what an export can hold but the library cannot: a rating, pages or progress
/// out of range, a date after [`readings::latest_date`], a start after the finish.
fn without_odd_fields(data: ReadingData, today: chrono::NaiveDate) -> ReadingData {
    let possible =
        |date: Option<chrono::NaiveDate>| date.filter(|d| *d <= readings::latest_date(today));
    let finished_on = possible(data.finished_on);
    let started_on =
        possible(data.started_on).filter(|start| finished_on.is_none_or(|end| *start <= end));
    ReadingData {
        rating: None,
        pages_read: None,
        progress: None,
        started_on,
        finished_on,
        ..data
    }
}

/// Writes a row that passed [`check`].
fn write_book(
    conn: &mut DbConn,
    user_id: i64,
    book: ImportedBook,
    now: NaiveDateTime,
) -> AppResult<(Outcome, usize)> {
    let data = book.data;
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
            readings::insert(
                conn,
                user_id,
                book_id,
                &reading.data,
                Some(&reading.key),
                now,
            )?;
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

    fn at(date: &str) -> NaiveDateTime {
        chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d")
            .unwrap()
            .and_hms_opt(12, 0, 0)
            .unwrap()
    }

    /// Found by `fuzz/` (import_goodreads): a reading the import writes must pass the API's own
    /// validation. A read date in the future, or a finish before the start, was written as it
    /// was, since only rating, pages and progress were dropped when a reading did not validate.
    #[test]
    fn every_reading_written_passes_validation() {
        let now = at("2026-06-15");
        let goodreads = "Book Id,Title,Author,Exclusive Shelf,Date Read,My Rating\n\
                         1,Later,Someone,read,2026/06/23,4\n\
                         2,Abandoned Later,Someone,did-not-finish,2031/01/01,9\n";
        let storygraph = "Title,Authors,Read Status,Dates Read,Review\n\
                          Backwards,Someone,read,2024/05/10-2024/05/01,fine\n\
                          Tomorrow,Someone,read,2026/06/16,\n";
        let mut checked = Vec::new();
        for (source, file) in [
            (Source::Goodreads, goodreads),
            (Source::StoryGraph, storygraph),
        ] {
            for (line, row) in parse(source, file.as_bytes(), now).unwrap() {
                checked.push(check(row.unwrap(), now).unwrap_or_else(|e| panic!("{line}: {e:?}")));
            }
        }
        for book in &checked {
            for reading in &book.readings {
                assert!(
                    readings::validate(reading.data.clone(), now.date()).is_ok(),
                    "{}: {:?}",
                    book.data.title,
                    reading.data
                );
            }
        }
        let dates = |title: &str| {
            let book = checked.iter().find(|b| b.data.title == title).unwrap();
            let data = &book.readings[0].data;
            (data.started_on, data.finished_on)
        };
        // What cannot be true is dropped; the rest of the reading is kept.
        assert_eq!(dates("Later"), (None, None));
        assert_eq!(dates("Backwards"), (None, Some(at("2024-05-01").date())));
        assert_eq!(dates("Tomorrow"), (None, Some(at("2026-06-16").date())));
        let review = |title: &str| {
            let book = checked.iter().find(|b| b.data.title == title).unwrap();
            book.readings[0].data.review.clone()
        };
        assert_eq!(review("Backwards").as_deref(), Some("fine"));
    }

    /// A reading that stays invalid once its odd fields are dropped (a review longer than any
    /// the API accepts) makes its row an error, before anything of the row is written.
    #[test]
    fn a_reading_that_cannot_be_made_valid_is_a_row_error() {
        let now = at("2026-06-15");
        let file = format!(
            "Title,Authors,Read Status,Review\nLong,Someone,read,{}\n",
            "x".repeat(50_001)
        );
        let rows = parse(Source::StoryGraph, file.as_bytes(), now).unwrap();
        let (_, row) = rows.into_iter().next().unwrap();
        assert!(matches!(
            check(row.unwrap(), now),
            Err(AppError::Validation(_))
        ));
    }

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

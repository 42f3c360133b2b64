//! Export: the whole library as JSON (a backup that `POST /api/import/panicless` restores), or
//! as a Goodreads-compatible CSV that Goodreads and this server's own importer accept back.
//!
//! Both carry every book's own identity (`uid`, the CSV's "Panicless Id"), never mistaken for a
//! Goodreads id: the CSV's "Book Id" holds only the Goodreads id the book came from. The CSV's
//! last column, "Panicless Data", holds the book and its readings as the JSON has them, so that
//! our importer reads the row back exactly (Goodreads' columns hold one date and one rating per
//! book); a file without that column is read from Goodreads' columns.

use super::books::{Book, BookRow};
use super::import::goodreads::{PANICLESS_DATA, PANICLESS_ID};
use super::readings::{Reading, ReadingRow};
use super::{ReadingStatus, Shelf};
use crate::db::schema::{books, readings};
use crate::db::DbConn;
use crate::error::{AppError, AppResult};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use std::collections::HashMap;
use utoipa::ToSchema;

/// What the JSON export's `format` says.
pub const FORMAT: &str = "panicless-library";

#[derive(Debug, Serialize, ToSchema)]
pub struct LibraryExport {
    /// Always `panicless-library`.
    pub format: &'static str,
    /// The version of this layout (1).
    pub version: u32,
    pub exported_at: DateTime<Utc>,
    pub books: Vec<ExportedBook>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ExportedBook {
    #[serde(flatten)]
    pub book: Book,
    /// The rating given to the book itself, apart from its readings' (`rating` shows the latest
    /// rated reading's when there is one).
    pub book_rating: Option<f64>,
    /// The key of the imported row the book came from (`goodreads:<Book Id>`, ...), so that
    /// importing that file again after a restore finds the book.
    pub source_key: Option<String>,
    pub readings: Vec<ExportedReading>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ExportedReading {
    #[serde(flatten)]
    pub reading: Reading,
    /// The key of the imported row the reading came from, if any.
    pub source_key: Option<String>,
}

pub fn library(
    conn: &mut DbConn,
    user_id: i64,
    now: chrono::NaiveDateTime,
) -> AppResult<LibraryExport> {
    let rows: Vec<BookRow> = books::table
        .filter(books::user_id.eq(user_id))
        .order(books::id.asc())
        .select(BookRow::as_select())
        .load(conn)?;
    let reading_rows: Vec<ReadingRow> = readings::table
        .filter(readings::user_id.eq(user_id))
        .order((readings::book_id.asc(), readings::id.asc()))
        .select(ReadingRow::as_select())
        .load(conn)?;
    let mut by_book: HashMap<i64, Vec<ReadingRow>> = HashMap::new();
    for r in reading_rows {
        by_book.entry(r.book_id).or_default().push(r);
    }
    let books = rows
        .into_iter()
        .map(|row| {
            let book_rating = row.rating;
            let source_key = row.import_key.clone();
            let book = Book::from(row);
            let readings = by_book
                .remove(&book.id)
                .unwrap_or_default()
                .into_iter()
                .map(|r| ExportedReading {
                    source_key: r.import_key.clone(),
                    reading: super::readings::view_of(r, book.title.clone()),
                })
                .collect();
            ExportedBook {
                book,
                book_rating,
                source_key,
                readings,
            }
        })
        .collect();
    Ok(LibraryExport {
        format: FORMAT,
        version: 1,
        exported_at: now.and_utc(),
        books,
    })
}

/// The 24 columns of a current Goodreads export, then ours.
const HEADER: [&str; 26] = [
    "Book Id",
    "Title",
    "Author",
    "Author l-f",
    "Additional Authors",
    "ISBN",
    "ISBN13",
    "My Rating",
    "Average Rating",
    "Publisher",
    "Binding",
    "Number of Pages",
    "Year Published",
    "Original Publication Year",
    "Date Read",
    "Date Added",
    "Bookshelves",
    "Bookshelves with positions",
    "Exclusive Shelf",
    "My Review",
    "Spoiler",
    "Private Notes",
    "Read Count",
    "Owned Copies",
    PANICLESS_ID,
    PANICLESS_DATA,
];

/// "Ursula K. Le Guin" → "Le Guin, Ursula K." is beyond a simple rule; Goodreads' own rule is
/// last word first, which this follows.
fn last_first(name: &str) -> String {
    match name.rsplit_once(' ') {
        Some((first, last)) => format!("{last}, {first}"),
        None => name.to_string(),
    }
}

pub fn goodreads_csv(export: &LibraryExport) -> AppResult<String> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(HEADER).map_err(AppError::internal)?;
    for exported in &export.books {
        let book = &exported.book;
        let readings: Vec<&Reading> = exported.readings.iter().map(|r| &r.reading).collect();
        let finished: Vec<&&Reading> = readings
            .iter()
            .filter(|r| r.status == ReadingStatus::Finished)
            .collect();
        let last_read = finished.iter().filter_map(|r| r.finished_on).max();
        // Goodreads has whole stars only.
        let rating = book.rating.map_or(0, |r| r.round() as i64);
        let first_with = |pick: fn(&Reading) -> Option<String>| {
            readings.iter().find_map(|r| pick(r)).unwrap_or_default()
        };
        let review = first_with(|r| r.review.clone());
        let notes = first_with(|r| r.notes.clone());
        let exclusive = match book.shelf {
            Shelf::Read => "read",
            Shelf::Reading => "currently-reading",
            Shelf::ToRead => "to-read",
            Shelf::Abandoned => "did-not-finish",
        };
        let title = match &book.series {
            Some(series) => format!("{} ({series})", book.title),
            None => book.title.clone(),
        };
        let author = book.authors.first().cloned().unwrap_or_default();
        let shelves = book.tags.join(", ");
        let data = serde_json::to_string(exported).map_err(AppError::internal)?;
        let record = [
            book.goodreads_id.clone().unwrap_or_default(),
            title,
            author.clone(),
            last_first(&author),
            book.authors
                .iter()
                .skip(1)
                .cloned()
                .collect::<Vec<_>>()
                .join(", "),
            format!("=\"{}\"", book.isbn10.clone().unwrap_or_default()),
            format!("=\"{}\"", book.isbn13.clone().unwrap_or_default()),
            rating.to_string(),
            String::new(),
            book.publisher.clone().unwrap_or_default(),
            book.binding.clone().unwrap_or_default(),
            book.pages.map(|p| p.to_string()).unwrap_or_default(),
            book.published_year
                .map(|y| y.to_string())
                .unwrap_or_default(),
            book.published_year
                .map(|y| y.to_string())
                .unwrap_or_default(),
            last_read
                .map(|d| d.format("%Y/%m/%d").to_string())
                .unwrap_or_default(),
            book.added_at.format("%Y/%m/%d").to_string(),
            shelves.clone(),
            shelves,
            exclusive.to_string(),
            review.replace('\n', "<br/>"),
            String::new(),
            notes,
            finished.len().to_string(),
            "0".to_string(),
            book.uid.clone(),
            data,
        ];
        writer.write_record(&record).map_err(AppError::internal)?;
    }
    let bytes = writer.into_inner().map_err(AppError::internal)?;
    String::from_utf8(bytes).map_err(AppError::internal)
}

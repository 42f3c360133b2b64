//! Export: the whole library as JSON, or as a Goodreads-compatible CSV that Goodreads and this
//! server's own importer accept back.

use super::books::{Book, BookRow};
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

#[derive(Debug, Serialize, ToSchema)]
pub struct LibraryExport {
    pub exported_at: DateTime<Utc>,
    pub books: Vec<ExportedBook>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ExportedBook {
    #[serde(flatten)]
    pub book: Book,
    pub readings: Vec<Reading>,
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
            let book = Book::from(row);
            let readings = by_book
                .remove(&book.id)
                .unwrap_or_default()
                .into_iter()
                .map(|r| super::readings::view_of(r, book.title.clone()))
                .collect();
            ExportedBook { book, readings }
        })
        .collect();
    Ok(LibraryExport {
        exported_at: now.and_utc(),
        books,
    })
}

/// The 24 columns of a current Goodreads export.
const HEADER: [&str; 24] = [
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
    for ExportedBook { book, readings } in &export.books {
        let finished: Vec<&Reading> = readings
            .iter()
            .filter(|r| r.status == ReadingStatus::Finished)
            .collect();
        let last_read = finished.iter().filter_map(|r| r.finished_on).max();
        // Goodreads has whole stars only.
        let rating = finished
            .iter()
            .rev()
            .find_map(|r| r.rating)
            .or(book.rating)
            .map_or(0, |r| r.round() as i64);
        let review = finished
            .iter()
            .find_map(|r| r.review.clone())
            .unwrap_or_default();
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
        let record = [
            book.id.to_string(),
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
            String::new(),
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
            book.created_at.format("%Y/%m/%d").to_string(),
            shelves.clone(),
            shelves,
            exclusive.to_string(),
            review.replace('\n', "<br/>"),
            String::new(),
            String::new(),
            finished.len().to_string(),
            "0".to_string(),
        ];
        writer.write_record(&record).map_err(AppError::internal)?;
    }
    let bytes = writer.into_inner().map_err(AppError::internal)?;
    String::from_utf8(bytes).map_err(AppError::internal)
}

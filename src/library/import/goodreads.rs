//! Goodreads "Export Library" CSV. Columns are found by name: exports from 2016 to 2026 have 31,
//! 24 or 23 columns.

use super::{parse_date, records, split_series, ImportedBook, ImportedReading, Numbered};
use crate::error::AppResult;
use crate::library::books::BookData;
use crate::library::readings::ReadingData;
use crate::library::{isbn, ReadingStatus, Shelf};
use chrono::NaiveDateTime;

/// Goodreads' own exclusive shelves; other exclusive shelves are the user's.
const BUILT_IN: [&str; 3] = ["read", "to-read", "currently-reading"];

/// Custom exclusive shelves that mean "stopped reading".
fn means_abandoned(shelf: &str) -> bool {
    let s = shelf.to_lowercase();
    s.contains("did-not-finish")
        || s.contains("dnf")
        || s.contains("abandon")
        || s.contains("wont-finish")
        || s.contains("won-t-finish")
}

pub fn parse(bytes: &[u8], _now: NaiveDateTime) -> AppResult<Vec<Numbered<ImportedBook>>> {
    let (columns, rows) = records(bytes)?;
    columns.require(&["Book Id", "Title", "Author", "Exclusive Shelf"])?;
    Ok(rows
        .into_iter()
        .map(|(line, record)| {
            let book = record.and_then(|row| {
                let col = |name: &str| columns.get(&row, name);
                let id = col("Book Id");
                let raw_title = col("Title");
                if raw_title.is_empty() {
                    return Err("the row has no title".to_string());
                }
                let key_id = if id.is_empty() {
                    super::title_key(raw_title, col("Author"))
                } else {
                    id.to_string()
                };
                let key = format!("goodreads:{key_id}");
                let (title, series) = split_series(raw_title);
                let mut authors: Vec<String> = Vec::new();
                if !col("Author").is_empty() {
                    authors.push(col("Author").to_string());
                }
                authors.extend(
                    col("Additional Authors")
                        .split(',')
                        .map(str::trim)
                        .filter(|a| !a.is_empty())
                        .map(String::from),
                );
                authors.truncate(crate::library::books::MAX_AUTHORS);
                // ISBN13 first; a bad or truncated ISBN is dropped, not the book.
                let parsed_isbn = [col("ISBN13"), col("ISBN")]
                    .into_iter()
                    .find_map(|raw| isbn::parse(raw).ok());
                let exclusive = col("Exclusive Shelf").to_string();
                // Our names and Goodreads' (`Shelf::parse`), then the user's own shelves.
                let shelf = Shelf::parse(&exclusive).unwrap_or(if means_abandoned(&exclusive) {
                    Shelf::Abandoned
                } else {
                    Shelf::ToRead
                });
                let mut tags: Vec<String> = col("Bookshelves")
                    .split(',')
                    .map(str::trim)
                    .filter(|t| !t.is_empty() && !BUILT_IN.contains(t))
                    .map(String::from)
                    .collect();
                if !BUILT_IN.contains(&exclusive.as_str())
                    && !exclusive.is_empty()
                    && !tags.contains(&exclusive)
                {
                    tags.push(exclusive.clone());
                }
                let rating = col("My Rating").parse::<f64>().ok().filter(|r| *r > 0.0);
                let year = col("Original Publication Year")
                    .parse::<i32>()
                    .ok()
                    .or_else(|| col("Year Published").parse().ok());
                let review = Some(
                    col("My Review")
                        .replace("<br/>", "\n")
                        .replace("<br />", "\n"),
                )
                .filter(|r| !r.trim().is_empty());
                let notes = Some(col("Private Notes").to_string()).filter(|n| !n.is_empty());
                let date_read = parse_date(col("Date Read"));

                let mut readings = Vec::new();
                let reading =
                    |status, finished_on, rating, review: Option<String>, notes: Option<String>| {
                        ReadingData {
                            status,
                            started_on: None,
                            finished_on,
                            pages_read: None,
                            progress: None,
                            rating,
                            review,
                            notes,
                        }
                    };
                match shelf {
                    Shelf::Read => {
                        // Read Count above 1 means re-reads; Goodreads keeps only one date.
                        let count = col("Read Count").parse::<usize>().unwrap_or(1).clamp(1, 50);
                        for n in 1..=count {
                            let first = n == 1;
                            readings.push(ImportedReading {
                                key: format!("{key}:read:{n}"),
                                data: reading(
                                    ReadingStatus::Finished,
                                    if first { date_read } else { None },
                                    if first { rating } else { None },
                                    if first { review.clone() } else { None },
                                    if first { notes.clone() } else { None },
                                ),
                            });
                        }
                    }
                    Shelf::Reading => readings.push(ImportedReading {
                        key: format!("{key}:current"),
                        data: reading(
                            ReadingStatus::Reading,
                            None,
                            None,
                            review.clone(),
                            notes.clone(),
                        ),
                    }),
                    Shelf::Abandoned => readings.push(ImportedReading {
                        key: format!("{key}:abandoned"),
                        data: reading(
                            ReadingStatus::Abandoned,
                            date_read,
                            rating,
                            review.clone(),
                            notes.clone(),
                        ),
                    }),
                    Shelf::ToRead => {}
                }
                // A rating without a finished reading stays on the book.
                let book_rating = if matches!(shelf, Shelf::Read | Shelf::Abandoned) {
                    None
                } else {
                    rating
                };
                Ok(ImportedBook {
                    key,
                    data: BookData {
                        title,
                        authors,
                        isbn10: parsed_isbn.as_ref().and_then(|i| i.isbn10.clone()),
                        isbn13: parsed_isbn.map(|i| i.isbn13),
                        pages: col("Number of Pages").parse().ok().filter(|p| *p > 0),
                        published_year: year,
                        publisher: Some(col("Publisher").to_string()).filter(|p| !p.is_empty()),
                        language: None,
                        tags,
                        description: None,
                        cover_url: None,
                        shelf,
                        series,
                        rating: book_rating,
                    },
                    readings,
                })
            });
            (line, book)
        })
        .collect())
}

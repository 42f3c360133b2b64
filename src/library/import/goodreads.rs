//! Goodreads "Export Library" CSV. Columns are found by name: exports from 2016 to 2026 have 31,
//! 24 or 23 columns. This library's own CSV export is one too, with two more columns: "Panicless
//! Id" (our identity of the book) and "Panicless Data" (the whole book and its readings as our
//! JSON export has them), which, when present, is what the row is read from: exactly.

use super::{
    date_in, number_in, panicless, records, rows_of, split_series, FieldProblem, ImportedBook,
    ImportedReading, Parsed, Source,
};
use crate::error::AppResult;
use crate::library::books::{self, BookData, Origin};
use crate::library::readings::ReadingData;
use crate::library::{isbn, ReadingStatus, Shelf};
use chrono::NaiveDateTime;

/// Goodreads' own exclusive shelves; other exclusive shelves are the user's.
const BUILT_IN: [&str; 3] = ["read", "to-read", "currently-reading"];

/// The columns this library's CSV export adds after Goodreads' own.
pub const PANICLESS_ID: &str = "Panicless Id";
pub const PANICLESS_DATA: &str = "Panicless Data";

/// Custom exclusive shelves that mean "stopped reading".
fn means_abandoned(shelf: &str) -> bool {
    let s = shelf.to_lowercase();
    s.contains("did-not-finish")
        || s.contains("dnf")
        || s.contains("abandon")
        || s.contains("wont-finish")
        || s.contains("won-t-finish")
}

pub fn parse(bytes: &[u8], _now: NaiveDateTime) -> AppResult<Parsed> {
    let (columns, rows) = records(Source::Goodreads, bytes)?;
    columns.require(
        Source::Goodreads,
        bytes,
        &["Book Id", "Title", "Author", "Exclusive Shelf"],
    )?;
    Ok(rows_of(rows, |row| {
        let col = |name: &str| columns.get(row, name);
        let ours = col(PANICLESS_DATA);
        if !ours.is_empty() {
            return panicless::book_from_json(ours);
        }
        let mut problems = Vec::new();
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
        let goodreads_id = if id.is_empty() {
            None
        } else if id.bytes().all(|b| b.is_ascii_digit()) {
            Some(id.to_string())
        } else {
            problems.push(FieldProblem::new(
                "Book Id",
                id,
                "is not a Goodreads id (a number): kept only to recognise the row again",
            ));
            None
        };
        let uid = Some(col(PANICLESS_ID)).filter(|u| !u.is_empty());
        if let Some(uid) = uid.filter(|u| !books::is_uid(u)) {
            problems.push(FieldProblem::new(
                PANICLESS_ID,
                uid,
                "is not an id this library wrote (a UUID)",
            ));
        }
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
        authors.truncate(books::MAX_AUTHORS);
        // ISBN13 first; one column wrong is no problem when the other holds the ISBN.
        let given: Vec<(&str, &str)> = [("ISBN13", col("ISBN13")), ("ISBN", col("ISBN"))]
            .into_iter()
            .filter(|(_, raw)| !is_blank_isbn(raw))
            .collect();
        let parsed_isbn = given.iter().find_map(|(_, raw)| isbn::parse(raw).ok());
        if parsed_isbn.is_none() {
            for (column, raw) in &given {
                if let Err(reason) = isbn::parse(raw) {
                    problems.push(FieldProblem::new(column, raw, reason));
                }
            }
        }
        let exclusive = col("Exclusive Shelf").to_string();
        let shelf = match exclusive.as_str() {
            "read" => Shelf::Read,
            "currently-reading" => Shelf::Reading,
            "to-read" | "" => Shelf::ToRead,
            other if means_abandoned(other) => Shelf::Abandoned,
            _ => Shelf::ToRead,
        };
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
        // 0 is Goodreads' "not rated"; anything else is checked as a rating is.
        let rating = number_in::<f64>("My Rating", col("My Rating"), "a number", &mut problems)
            .filter(|r| *r != 0.0);
        let year = |column: &str, problems: &mut Vec<FieldProblem>| {
            number_in::<i32>(column, col(column), "a year", problems)
        };
        let original = year("Original Publication Year", &mut problems);
        let published = year("Year Published", &mut problems);
        // 0 is Goodreads' "no page count".
        let pages = number_in::<i32>(
            "Number of Pages",
            col("Number of Pages"),
            "a whole number",
            &mut problems,
        )
        .filter(|p| *p != 0);
        let review = Some(
            col("My Review")
                .replace("<br/>", "\n")
                .replace("<br />", "\n"),
        )
        .filter(|r| !r.trim().is_empty());
        let notes = Some(col("Private Notes").to_string()).filter(|n| !n.is_empty());
        let date_read = date_in("Date Read", col("Date Read"), &mut problems);
        let added = date_in("Date Added", col("Date Added"), &mut problems);
        let read_count =
            number_in::<usize>("Read Count", col("Read Count"), "a number", &mut problems);

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
                let count = read_count.unwrap_or(1).clamp(1, 50);
                for n in 1..=count {
                    let first = n == 1;
                    readings.push(ImportedReading {
                        key: Some(format!("{key}:read:{n}")),
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
                key: Some(format!("{key}:current")),
                data: reading(
                    ReadingStatus::Reading,
                    None,
                    None,
                    review.clone(),
                    notes.clone(),
                ),
            }),
            Shelf::Abandoned => readings.push(ImportedReading {
                key: Some(format!("{key}:abandoned")),
                data: reading(
                    ReadingStatus::Abandoned,
                    date_read,
                    rating,
                    review.clone(),
                    notes.clone(),
                ),
            }),
            Shelf::ToRead => {
                for (column, text) in [("My Review", &review), ("Private Notes", &notes)] {
                    if let Some(text) = text {
                        problems.push(FieldProblem::new(
                            column,
                            text,
                            "a book on to-read has no reading to keep it on",
                        ));
                    }
                }
                if let Some(date) = date_read {
                    problems.push(FieldProblem::new(
                        "Date Read",
                        &date.format("%Y/%m/%d").to_string(),
                        "the book is on to-read, with no reading to keep the date on",
                    ));
                }
            }
        }
        // A rating without a finished reading stays on the book.
        let book_rating = if matches!(shelf, Shelf::Read | Shelf::Abandoned) {
            None
        } else {
            rating
        };
        Ok(ImportedBook {
            key: Some(key),
            origin: Origin {
                uid: uid.filter(|u| books::is_uid(u)).map(String::from),
                import_key: None,
                goodreads_id,
                added_at: added.and_then(|d| d.and_hms_opt(0, 0, 0)),
            },
            data: BookData {
                title,
                authors,
                isbn10: parsed_isbn.as_ref().and_then(|i| i.isbn10.clone()),
                isbn13: parsed_isbn.map(|i| i.isbn13),
                pages,
                published_year: original.or(published),
                publisher: Some(col("Publisher").to_string()).filter(|p| !p.is_empty()),
                language: None,
                tags,
                description: None,
                cover_url: None,
                shelf,
                series,
                rating: book_rating,
                binding: Some(col("Binding").to_string()).filter(|b| !b.is_empty()),
            },
            readings,
            exact: false,
            problems,
        })
    }))
}

/// Goodreads writes a missing ISBN as `=""`.
fn is_blank_isbn(raw: &str) -> bool {
    matches!(raw.trim(), "" | "=\"\"")
}

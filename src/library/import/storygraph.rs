//! StoryGraph "Export StoryGraph Library" CSV: quarter-star ratings, read dates that may be
//! ranges (`2023/05/23-2023/06/07`), CRLF line ends, several authors in one field.

use super::{
    date_in, number_in, parse_date, records, rows_of, title_key, FieldProblem, ImportedBook,
    ImportedReading, Parsed, Source,
};
use crate::error::AppResult;
use crate::library::books::{BookData, Origin};
use crate::library::readings::ReadingData;
use crate::library::{isbn, ReadingStatus, Shelf};
use chrono::{NaiveDate, NaiveDateTime};

/// `2023/05/23-2023/06/07` → (start, end); `2023/05/23` → (None, date); or why it is not a
/// date or a range of dates.
pub fn date_range(text: &str) -> Result<(Option<NaiveDate>, Option<NaiveDate>), String> {
    match text.split_once('-') {
        Some((start, end)) => Ok((parse_date(start)?, parse_date(end)?)),
        None => Ok((None, parse_date(text)?)),
    }
}

/// An Amazon id (ASIN) such as `B0084FWN26`: StoryGraph's UID for an edition without an ISBN.
fn is_asin(text: &str) -> bool {
    text.len() == 10
        && text.starts_with('B')
        && text
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

fn split_commas(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(String::from)
}

pub fn parse(bytes: &[u8], _now: NaiveDateTime) -> AppResult<Parsed> {
    let (columns, rows) = records(Source::StoryGraph, bytes)?;
    columns.require(
        Source::StoryGraph,
        bytes,
        &["Title", "Authors", "Read Status"],
    )?;
    Ok(rows_of(rows, |row| {
        let col = |name: &str| columns.get(row, name);
        let mut problems = Vec::new();
        let title = col("Title").to_string();
        if title.is_empty() {
            return Err("the row has no title".to_string());
        }
        let authors: Vec<String> = split_commas(col("Authors"))
            .take(crate::library::books::MAX_AUTHORS)
            .collect();
        let uid = col("ISBN/UID");
        let parsed_isbn = match isbn::parse(uid) {
            Ok(parsed) => Some(parsed),
            Err(_) if uid.is_empty() || is_asin(uid) => None,
            Err(reason) => {
                problems.push(FieldProblem::new("ISBN/UID", uid, reason));
                None
            }
        };
        let key = format!(
            "storygraph:{}",
            match &parsed_isbn {
                Some(i) => i.isbn13.clone(),
                None => title_key(&title, authors.first().map_or("", String::as_str)),
            }
        );
        let status = col("Read Status");
        let shelf = match status {
            "read" => Shelf::Read,
            "currently-reading" => Shelf::Reading,
            "did-not-finish" => Shelf::Abandoned,
            _ => Shelf::ToRead,
        };
        let mut tags: Vec<String> = split_commas(col("Tags")).collect();
        tags.extend(split_commas(col("Moods")).map(|m| format!("mood: {m}")));
        if !col("Pace").is_empty() {
            tags.push(format!("pace: {}", col("Pace")));
        }
        let rating = number_in::<f64>("Star Rating", col("Star Rating"), "a number", &mut problems);
        let review = Some(col("Review").to_string()).filter(|r| !r.is_empty());
        // Dates Read holds one entry per read-through, comma-separated.
        let mut dates: Vec<(Option<NaiveDate>, Option<NaiveDate>)> = col("Dates Read")
            .split(',')
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .filter_map(|d| match date_range(d) {
                Ok(range) => Some(range),
                Err(reason) => {
                    problems.push(FieldProblem::new("Dates Read", d, reason));
                    None
                }
            })
            .collect();
        let last = date_in("Last Date Read", col("Last Date Read"), &mut problems);
        if dates.is_empty() {
            if let Some(last) = last {
                dates.push((None, Some(last)));
            }
        }
        let added = date_in("Date Added", col("Date Added"), &mut problems);
        let read_count =
            number_in::<usize>("Read Count", col("Read Count"), "a number", &mut problems);
        let mut readings = Vec::new();
        let new = |status,
                   (started_on, finished_on): (Option<NaiveDate>, Option<NaiveDate>),
                   first: bool| ReadingData {
            status,
            started_on,
            finished_on,
            pages_read: None,
            progress: None,
            rating: if first { rating } else { None },
            review: if first { review.clone() } else { None },
            notes: None,
        };
        match shelf {
            Shelf::Read => {
                let count = read_count.unwrap_or(1).clamp(1, 50).max(dates.len());
                for n in 0..count {
                    let range = dates.get(n).copied().unwrap_or((None, None));
                    readings.push(ImportedReading {
                        key: Some(format!("{key}:read:{}", n + 1)),
                        data: new(ReadingStatus::Finished, range, n == 0),
                    });
                }
            }
            Shelf::Reading => readings.push(ImportedReading {
                key: Some(format!("{key}:current")),
                data: new(
                    ReadingStatus::Reading,
                    dates
                        .first()
                        .copied()
                        .map_or((None, None), |(s, e)| (s.or(e), None)),
                    true,
                ),
            }),
            Shelf::Abandoned => readings.push(ImportedReading {
                key: Some(format!("{key}:abandoned")),
                data: new(
                    ReadingStatus::Abandoned,
                    dates.first().copied().unwrap_or((None, None)),
                    true,
                ),
            }),
            Shelf::ToRead => {
                if let Some(review) = &review {
                    problems.push(FieldProblem::new(
                        "Review",
                        review,
                        "a book on to-read has no reading to keep it on",
                    ));
                }
            }
        }
        Ok(ImportedBook {
            key: Some(key),
            origin: Origin {
                added_at: added.and_then(|d| d.and_hms_opt(0, 0, 0)),
                ..Origin::default()
            },
            data: BookData {
                title,
                authors,
                isbn10: parsed_isbn.as_ref().and_then(|i| i.isbn10.clone()),
                isbn13: parsed_isbn.map(|i| i.isbn13),
                pages: None,
                published_year: None,
                publisher: None,
                language: None,
                tags,
                description: None,
                cover_url: None,
                shelf,
                series: None,
                rating: if shelf == Shelf::ToRead { rating } else { None },
                binding: Some(col("Format").to_string()).filter(|f| !f.is_empty()),
            },
            readings,
            exact: false,
            problems,
        })
    }))
}

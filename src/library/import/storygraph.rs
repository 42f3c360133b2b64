//! StoryGraph "Export StoryGraph Library" CSV: quarter-star ratings, read dates that may be
//! ranges (`2023/05/23-2023/06/07`), CRLF line ends, several authors in one field.

use super::{parse_date, records, title_key, ImportedBook, ImportedReading, Numbered};
use crate::error::AppResult;
use crate::library::books::BookData;
use crate::library::readings::ReadingData;
use crate::library::{isbn, ReadingStatus, Shelf};
use chrono::{NaiveDate, NaiveDateTime};

/// `2023/05/23-2023/06/07` → (start, end); `2023/05/23` → (None, date).
pub fn date_range(text: &str) -> (Option<NaiveDate>, Option<NaiveDate>) {
    match text.split_once('-') {
        Some((start, end)) => (parse_date(start), parse_date(end)),
        None => (None, parse_date(text)),
    }
}

fn split_commas(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(String::from)
}

pub fn parse(bytes: &[u8], _now: NaiveDateTime) -> AppResult<Vec<Numbered<ImportedBook>>> {
    let (columns, rows) = records(bytes)?;
    columns.require(&["Title", "Authors", "Read Status"])?;
    Ok(rows
        .into_iter()
        .map(|(line, record)| {
            let book = record.and_then(|row| {
                let col = |name: &str| columns.get(&row, name);
                let title = col("Title").to_string();
                if title.is_empty() {
                    return Err("the row has no title".to_string());
                }
                let authors: Vec<String> = split_commas(col("Authors"))
                    .take(crate::library::books::MAX_AUTHORS)
                    .collect();
                let parsed_isbn = isbn::parse(col("ISBN/UID")).ok();
                let key = format!(
                    "storygraph:{}",
                    match &parsed_isbn {
                        Some(i) => i.isbn13.clone(),
                        None => title_key(&title, authors.first().map_or("", String::as_str)),
                    }
                );
                let status = col("Read Status");
                let shelf = Shelf::parse(status).unwrap_or_default();
                let mut tags: Vec<String> = split_commas(col("Tags")).collect();
                tags.extend(split_commas(col("Moods")).map(|m| format!("mood: {m}")));
                if !col("Pace").is_empty() {
                    tags.push(format!("pace: {}", col("Pace")));
                }
                let rating = col("Star Rating").parse::<f64>().ok().filter(|r| *r > 0.0);
                let review = Some(col("Review").to_string()).filter(|r| !r.is_empty());
                // Dates Read holds one entry per read-through, comma-separated.
                let mut dates: Vec<(Option<NaiveDate>, Option<NaiveDate>)> = col("Dates Read")
                    .split(',')
                    .map(str::trim)
                    .filter(|d| !d.is_empty())
                    .map(date_range)
                    .collect();
                if dates.is_empty() {
                    if let Some(last) = parse_date(col("Last Date Read")) {
                        dates.push((None, Some(last)));
                    }
                }
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
                        let count = col("Read Count")
                            .parse::<usize>()
                            .unwrap_or(1)
                            .clamp(1, 50)
                            .max(dates.len());
                        for n in 0..count {
                            let range = dates.get(n).copied().unwrap_or((None, None));
                            readings.push(ImportedReading {
                                key: format!("{key}:read:{}", n + 1),
                                data: new(ReadingStatus::Finished, range, n == 0),
                            });
                        }
                    }
                    Shelf::Reading => readings.push(ImportedReading {
                        key: format!("{key}:current"),
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
                        key: format!("{key}:abandoned"),
                        data: new(
                            ReadingStatus::Abandoned,
                            dates.first().copied().unwrap_or((None, None)),
                            true,
                        ),
                    }),
                    Shelf::ToRead => {}
                }
                Ok(ImportedBook {
                    key,
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
                    },
                    readings,
                })
            });
            (line, book)
        })
        .collect())
}

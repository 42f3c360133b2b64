//! Recommendations: the user's to-read books ranked by affinity to what they finished and rated
//! highly (authors, tags, length), each with the reasons in plain words.

use super::books::{Book, BookRow};
use crate::db::schema::{book_tags, books, readings};
use crate::db::DbConn;
use crate::error::AppResult;
use diesel::dsl::{avg, count_star};
use diesel::prelude::*;
use serde::Serialize;
use std::collections::HashMap;
use utoipa::ToSchema;

#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct Recommendation {
    pub book: Book,
    /// Higher is a better match; comparable within one answer only.
    pub score: f64,
    /// Why, in plain words, strongest first.
    pub reasons: Vec<String>,
}

/// A neutral rating: books rated above it pull similar books up, below it push them down.
const NEUTRAL: f64 = 3.0;
/// How many to-read books are considered.
const CANDIDATES: i64 = 2000;

struct Affinity {
    average: f64,
    count: i64,
}

impl Affinity {
    /// Positive for liked, negative for disliked, growing (slowly) with the number of books.
    fn weight(&self) -> f64 {
        (self.average - NEUTRAL) * (1.0 + self.count as f64).ln()
    }
}

fn stars(value: f64) -> String {
    let rounded = (value * 4.0).round() / 4.0;
    if rounded.fract() == 0.0 {
        format!("{rounded:.0}")
    } else {
        format!("{rounded}")
    }
}

pub fn recommend(conn: &mut DbConn, user_id: i64, limit: usize) -> AppResult<Vec<Recommendation>> {
    let finished = readings::table
        .inner_join(books::table)
        .filter(readings::user_id.eq(user_id))
        .filter(readings::status.eq("finished"));
    // A reading's rating, or the book's own when the reading has none.
    let rating = diesel::dsl::sql::<diesel::sql_types::Nullable<diesel::sql_types::Double>>(
        "COALESCE(readings.rating, books.rating)",
    );

    let authors: HashMap<String, Affinity> = finished
        .filter(books::primary_author.ne(""))
        .group_by(books::primary_author)
        .select((books::primary_author, avg(rating.clone()), count_star()))
        .load::<(String, Option<f64>, i64)>(conn)?
        .into_iter()
        .map(|(name, average, count)| {
            (
                name,
                Affinity {
                    average: average.unwrap_or(NEUTRAL),
                    count,
                },
            )
        })
        .collect();
    let tags: HashMap<String, Affinity> = finished
        .inner_join(book_tags::table.on(book_tags::book_id.eq(books::id)))
        .group_by(book_tags::tag)
        .select((book_tags::tag, avg(rating), count_star()))
        .load::<(String, Option<f64>, i64)>(conn)?
        .into_iter()
        .map(|(tag, average, count)| {
            (
                tag,
                Affinity {
                    average: average.unwrap_or(NEUTRAL),
                    count,
                },
            )
        })
        .collect();
    let usual_pages: Option<f64> = finished
        .filter(books::pages.is_not_null())
        .select(diesel::dsl::sql::<
            diesel::sql_types::Nullable<diesel::sql_types::Double>,
        >("AVG(CAST(books.pages AS DOUBLE PRECISION))"))
        .first::<Option<f64>>(conn)?;

    let candidates: Vec<BookRow> = books::table
        .filter(books::user_id.eq(user_id))
        .filter(books::shelf.eq("to-read"))
        .order(books::id.desc())
        .limit(CANDIDATES)
        .select(BookRow::as_select())
        .load(conn)?;

    let mut ranked: Vec<Recommendation> = candidates
        .into_iter()
        .map(|row| {
            let book = Book::from(row);
            let mut parts: Vec<(f64, String)> = Vec::new();
            if let Some(author) = book.authors.first() {
                if let Some(a) = authors.get(author) {
                    let noun = if a.count == 1 { "book" } else { "books" };
                    parts.push((
                        2.0 * a.weight(),
                        format!("you rated {} {noun} by {author} {} on average", a.count, stars(a.average)),
                    ));
                }
            }
            let mut tag_parts: Vec<(f64, String)> = book
                .tags
                .iter()
                .filter_map(|t| tags.get(t).map(|a| (a, t)))
                .map(|(a, t)| {
                    (
                        a.weight(),
                        format!("you read {} books tagged \u{201c}{t}\u{201d} and rated them {} on average", a.count, stars(a.average)),
                    )
                })
                .collect();
            tag_parts.sort_by(|a, b| b.0.total_cmp(&a.0));
            parts.extend(tag_parts.into_iter().take(3));
            if let (Some(pages), Some(usual)) = (book.pages, usual_pages) {
                let distance = ((f64::from(pages) - usual) / usual).abs();
                if distance <= 0.25 {
                    parts.push((0.5, format!("about the length you usually read ({pages} pages; you average {usual:.0})")));
                } else {
                    parts.push((-0.5 * distance.min(3.0), String::new()));
                }
            }
            let score = parts.iter().map(|(w, _)| w).sum::<f64>();
            parts.sort_by(|a, b| b.0.total_cmp(&a.0));
            let reasons: Vec<String> = parts
                .into_iter()
                .filter(|(w, text)| *w > 0.0 && !text.is_empty())
                .map(|(_, text)| text)
                .collect();
            Recommendation {
                book,
                score: (score * 100.0).round() / 100.0,
                reasons: if reasons.is_empty() {
                    vec!["on your to-read shelf; nothing you finished is much like it yet".into()]
                } else {
                    reasons
                },
            }
        })
        .collect();
    ranked.sort_by(|a, b| b.score.total_cmp(&a.score).then(b.book.id.cmp(&a.book.id)));
    ranked.truncate(limit);
    Ok(ranked)
}

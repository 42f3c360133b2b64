//! Reading statistics. The sums by month, author, tag, day and rating are kept by triggers as
//! readings, books and tags change (migrations `*_reading_tallies`, `*_reading_ratings`), so a
//! request reads a few small rows instead of aggregating every reading; the same queries serve
//! both backends.

use crate::db::schema::{
    books, reading_authors, reading_days, reading_months, reading_ratings, reading_tags, readings,
};
use crate::db::time::StoredDate;
use crate::db::DbConn;
use crate::error::AppResult;
use chrono::{Datelike, Duration, NaiveDate};
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct ReadingStats {
    /// The year the per-year figures are about (the `year` asked for, or the current one).
    pub year: i32,
    /// Finished readings of all time (re-reads count again).
    pub books_read_total: i64,
    pub books_read_in_year: i64,
    pub pages_read_total: i64,
    pub pages_read_in_year: i64,
    /// Finished readings by the year of their finish date, oldest year first.
    pub by_year: Vec<YearCount>,
    /// Finished readings without a finish date (an import's "read" with no date): `by_year`
    /// plus this add up to `books_read_total` and `pages_read_total`.
    pub undated: UndatedCount,
    /// Months of `year`, January first; months with nothing read are included as zero.
    pub by_month: Vec<MonthCount>,
    pub longest_book: Option<BookRef>,
    pub shortest_book: Option<BookRef>,
    /// Mean of the ratings given to finished readings.
    pub average_rating: Option<f64>,
    /// Finished readings by their rating rounded to the nearest whole star (a half rounds up),
    /// 1 to 5 stars, each present (zero when none).
    pub ratings: Vec<RatingCount>,
    pub top_authors: Vec<NameCount>,
    pub top_tags: Vec<NameCount>,
    /// Mean days from start to finish, for readings with both dates.
    pub average_days_to_finish: Option<f64>,
    /// Readings in progress now.
    pub in_progress: i64,
    pub currently_reading: Vec<BookRef>,
    /// Consecutive days up to today (or yesterday) with reading activity (a reading started or
    /// finished that day).
    pub current_streak_days: i64,
    pub longest_streak_days: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct YearCount {
    pub year: i32,
    pub books: i64,
    pub pages: i64,
}

#[derive(Debug, Clone, Copy, Default, Serialize, ToSchema, PartialEq)]
pub struct UndatedCount {
    pub books: i64,
    pub pages: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct MonthCount {
    pub month: i32,
    pub books: i64,
    pub pages: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct BookRef {
    pub id: i64,
    pub title: String,
    pub pages: Option<i32>,
}

#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct RatingCount {
    /// 1 to 5.
    pub stars: i32,
    /// Finished readings rated that many stars (after rounding).
    pub readings: i64,
}

/// One day with reading activity.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct DayActivity {
    pub day: NaiveDate,
    /// Readings started or finished that day.
    pub events: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct NameCount {
    pub name: String,
    pub books: i64,
}

/// `compute`, kept while the library does not change.
pub fn compute_memoised(
    conn: &mut DbConn,
    memo: &super::memo::Memo,
    user_id: i64,
    year: Option<i32>,
    today: NaiveDate,
) -> AppResult<ReadingStats> {
    // A few milliseconds for a large library, fifty times a page of books: other requests run
    // meanwhile instead of waiting for this one's turn.
    memo.stats(conn, user_id, year, today, |conn| {
        crate::db::turns::off_turn(|| compute(conn, user_id, year, today))
    })
}

/// One month's row of `reading_months`: finished readings whose finish date falls in `month`
/// (`YYYY-MM`, or `""` for readings finished without a date).
#[derive(Queryable)]
struct MonthTally {
    month: String,
    books: i64,
    pages: i64,
    rating_sum: f64,
    rated: i64,
    days_sum: i64,
    timed: i64,
}

impl MonthTally {
    /// Year and month of a dated row.
    fn year_month(&self) -> Option<(i32, i32)> {
        let (year, month) = self.month.split_once('-')?;
        Some((year.parse().ok()?, month.parse().ok()?))
    }
}

/// The statistics, read from the tallies that triggers keep (migration 000700) plus a few
/// indexed lookups: a handful of small queries whatever the size of the library.
pub fn compute(
    conn: &mut DbConn,
    user_id: i64,
    year: Option<i32>,
    today: NaiveDate,
) -> AppResult<ReadingStats> {
    let year = year.unwrap_or(today.year());

    let months: Vec<MonthTally> = reading_months::table
        .filter(reading_months::user_id.eq(user_id))
        .filter(reading_months::books.gt(0))
        .select((
            reading_months::month,
            reading_months::books,
            reading_months::pages,
            reading_months::rating_sum,
            reading_months::rated,
            reading_months::days_sum,
            reading_months::timed,
        ))
        .load(conn)?;
    let mut by_year: Vec<YearCount> = Vec::new();
    let mut by_month: Vec<MonthCount> = (1..=12)
        .map(|month| MonthCount {
            month,
            books: 0,
            pages: 0,
        })
        .collect();
    let mut undated = UndatedCount::default();
    for tally in &months {
        let Some((y, m)) = tally.year_month() else {
            undated.books += tally.books;
            undated.pages += tally.pages;
            continue;
        };
        match by_year.iter_mut().find(|c| c.year == y) {
            Some(count) => {
                count.books += tally.books;
                count.pages += tally.pages;
            }
            None => by_year.push(YearCount {
                year: y,
                books: tally.books,
                pages: tally.pages,
            }),
        }
        if y == year {
            if let Some(count) = by_month.iter_mut().find(|c| c.month == m) {
                count.books += tally.books;
                count.pages += tally.pages;
            }
        }
    }
    by_year.sort_by_key(|c| c.year);
    let in_year = by_year.iter().find(|y| y.year == year);
    let sum = |field: fn(&MonthTally) -> i64| months.iter().map(field).sum::<i64>();
    let rated = sum(|t| t.rated);
    let timed = sum(|t| t.timed);
    let rating_sum: f64 = months.iter().map(|t| t.rating_sum).sum();
    let average_rating = (rated > 0).then(|| rating_sum / rated as f64);
    let average_days_to_finish = (timed > 0).then(|| sum(|t| t.days_sum) as f64 / timed as f64);

    let extreme = |conn: &mut DbConn, longest: bool| -> AppResult<Option<BookRef>> {
        let read = readings::table
            .filter(readings::book_id.eq(books::id))
            .filter(readings::user_id.eq(user_id))
            .filter(readings::status.eq("finished"));
        let query = books::table
            .filter(books::user_id.eq(user_id))
            .filter(books::pages.is_not_null())
            .filter(diesel::dsl::exists(read))
            .select((books::id, books::title, books::pages))
            .into_boxed::<super::Db>();
        let query = if longest {
            query.order((books::pages.desc(), books::id.asc()))
        } else {
            query.order((books::pages.asc(), books::id.asc()))
        };
        Ok(query
            .first::<(i64, String, Option<i32>)>(conn)
            .optional()?
            .map(|(id, title, pages)| BookRef { id, title, pages }))
    };
    let longest_book = extreme(conn, true)?;
    let shortest_book = extreme(conn, false)?;

    let top_authors = reading_authors::table
        .filter(reading_authors::user_id.eq(user_id))
        .filter(reading_authors::books.gt(0))
        .select((reading_authors::author, reading_authors::books))
        .order((reading_authors::books.desc(), reading_authors::author.asc()))
        .limit(10)
        .load::<(String, i64)>(conn)?
        .into_iter()
        .map(|(name, books)| NameCount { name, books })
        .collect();
    let top_tags = reading_tags::table
        .filter(reading_tags::user_id.eq(user_id))
        .filter(reading_tags::books.gt(0))
        .select((reading_tags::tag, reading_tags::books))
        .order((reading_tags::books.desc(), reading_tags::tag.asc()))
        .limit(10)
        .load::<(String, i64)>(conn)?
        .into_iter()
        .map(|(name, books)| NameCount { name, books })
        .collect();

    let reading_now = readings::table
        .filter(readings::user_id.eq(user_id))
        .filter(readings::status.eq("reading"));
    let in_progress: i64 = reading_now.count().get_result(conn)?;
    let currently_reading = reading_now
        .inner_join(books::table)
        .select((books::id, books::title, books::pages))
        .order(readings::id.desc())
        .limit(20)
        .load::<(i64, String, Option<i32>)>(conn)?
        .into_iter()
        .map(|(id, title, pages)| BookRef { id, title, pages })
        .collect();

    // Thousands of days for a large library: read with the direct date parser.
    let days: Vec<NaiveDate> = reading_days::table
        .filter(reading_days::user_id.eq(user_id))
        .filter(reading_days::events.gt(0))
        .select(reading_days::day)
        .order(reading_days::day.asc())
        .load::<StoredDate>(conn)?
        .into_iter()
        .map(|d| d.0)
        .collect();
    let (current_streak_days, longest_streak_days) = streaks(&days, today);

    let rated_readings: Vec<(f64, i64)> = reading_ratings::table
        .filter(reading_ratings::user_id.eq(user_id))
        .filter(reading_ratings::readings.gt(0))
        .select((reading_ratings::rating, reading_ratings::readings))
        .load(conn)?;
    let ratings = by_stars(&rated_readings);

    Ok(ReadingStats {
        year,
        books_read_total: sum(|t| t.books),
        books_read_in_year: in_year.map_or(0, |y| y.books),
        pages_read_total: sum(|t| t.pages),
        pages_read_in_year: in_year.map_or(0, |y| y.pages),
        by_year,
        undated,
        by_month,
        longest_book,
        shortest_book,
        average_rating: average_rating.map(|r| (r * 100.0).round() / 100.0),
        ratings,
        top_authors,
        top_tags,
        average_days_to_finish: average_days_to_finish.map(|d| (d * 10.0).round() / 10.0),
        in_progress,
        currently_reading,
        current_streak_days,
        longest_streak_days,
    })
}

/// Ratings (0.25 to 5) and how many readings carry each, as counts per whole star.
pub fn by_stars(rated: &[(f64, i64)]) -> Vec<RatingCount> {
    let mut counts: Vec<RatingCount> = (1..=5)
        .map(|stars| RatingCount { stars, readings: 0 })
        .collect();
    for &(rating, readings) in rated {
        // Half up: 4.5 is five stars, 4.25 four; 0.25 is still one.
        let stars = ((rating + 0.5).floor() as i32).clamp(1, 5);
        if let Some(count) = counts.iter_mut().find(|c| c.stars == stars) {
            count.readings += readings;
        }
    }
    counts
}

/// The days of `year` with reading activity (a reading started or finished), in order.
pub fn activity(conn: &mut DbConn, user_id: i64, year: i32) -> AppResult<Vec<DayActivity>> {
    let (Some(first), Some(last)) = (
        NaiveDate::from_ymd_opt(year, 1, 1),
        NaiveDate::from_ymd_opt(year, 12, 31),
    ) else {
        return Ok(Vec::new());
    };
    Ok(reading_days::table
        .filter(reading_days::user_id.eq(user_id))
        .filter(reading_days::day.between(first, last))
        .filter(reading_days::events.gt(0))
        .select((reading_days::day, reading_days::events))
        .order(reading_days::day.asc())
        .load::<(StoredDate, i64)>(conn)?
        .into_iter()
        .map(|(day, events)| DayActivity { day: day.0, events })
        .collect())
}

/// The authors of the user's finished readings, most read first (from the tallies).
pub fn authors_read(conn: &mut DbConn, user_id: i64) -> AppResult<Vec<String>> {
    Ok(reading_authors::table
        .filter(reading_authors::user_id.eq(user_id))
        .filter(reading_authors::books.gt(0))
        .order((reading_authors::books.desc(), reading_authors::author.asc()))
        .select(reading_authors::author)
        .load(conn)?)
}

/// Current and longest runs of consecutive days in `days` (sorted, distinct). The current run
/// counts if it reaches today or yesterday.
pub fn streaks(days: &[NaiveDate], today: NaiveDate) -> (i64, i64) {
    let mut longest = 0;
    let mut run = 0;
    let mut previous: Option<NaiveDate> = None;
    for &day in days {
        run = match previous {
            Some(p) if day - p == Duration::days(1) => run + 1,
            Some(p) if day == p => run,
            _ => 1,
        };
        longest = longest.max(run);
        previous = Some(day);
    }
    let current = match previous {
        Some(last) if today - last <= Duration::days(1) && last <= today => run,
        _ => 0,
    };
    (current, longest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn streaks_count_consecutive_days() {
        let days = [
            d("2026-01-01"),
            d("2026-01-02"),
            d("2026-01-03"),
            d("2026-02-10"),
            d("2026-02-11"),
        ];
        assert_eq!(streaks(&days, d("2026-02-12")), (2, 3));
        assert_eq!(streaks(&days, d("2026-02-20")), (0, 3));
        assert_eq!(streaks(&[], d("2026-02-20")), (0, 0));
    }

    #[test]
    fn ratings_are_counted_by_the_nearest_star() {
        let counts = by_stars(&[(0.25, 1), (1.0, 2), (4.25, 3), (4.5, 4), (5.0, 5)]);
        let readings: Vec<i64> = counts.iter().map(|c| c.readings).collect();
        assert_eq!(readings, [3, 0, 0, 3, 9]);
        assert_eq!(
            counts.iter().map(|c| c.stars).collect::<Vec<_>>(),
            [1, 2, 3, 4, 5]
        );
        assert!(by_stars(&[]).iter().all(|c| c.readings == 0));
    }
}

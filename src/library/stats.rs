//! Reading statistics, computed in the database with aggregate queries. Where the two backends
//! spell a date function differently, each query has one SQLite and one PostgreSQL text, side by
//! side; everything else is one Diesel query for both.

use crate::db::schema::{book_tags, books, readings};
use crate::db::DbConn;
use crate::error::AppResult;
use chrono::{Datelike, Duration, NaiveDate};
use diesel::dsl::count_star;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Date, Double, Integer, Nullable};
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
    pub by_year: Vec<YearCount>,
    /// Months of `year`, January first; months with nothing read are included as zero.
    pub by_month: Vec<MonthCount>,
    pub longest_book: Option<BookRef>,
    pub shortest_book: Option<BookRef>,
    /// Mean of the ratings given to finished readings.
    pub average_rating: Option<f64>,
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

#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, QueryableByName)]
pub struct YearCount {
    #[diesel(sql_type = Integer)]
    pub year: i32,
    #[diesel(sql_type = BigInt)]
    pub books: i64,
    #[diesel(sql_type = BigInt)]
    pub pages: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, QueryableByName)]
pub struct MonthCount {
    #[diesel(sql_type = Integer)]
    pub month: i32,
    #[diesel(sql_type = BigInt)]
    pub books: i64,
    #[diesel(sql_type = BigInt)]
    pub pages: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct BookRef {
    pub id: i64,
    pub title: String,
    pub pages: Option<i32>,
}

#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct NameCount {
    pub name: String,
    pub books: i64,
}

#[derive(QueryableByName)]
struct Average {
    #[diesel(sql_type = Nullable<Double>)]
    value: Option<f64>,
}

#[derive(QueryableByName)]
struct Day {
    #[diesel(sql_type = Date)]
    day: NaiveDate,
}

/// Runs one of two SQL texts, by backend, with the user id as the only bind.
fn by_backend<T>(
    conn: &mut DbConn,
    sqlite: &str,
    postgres: &str,
    user_id: i64,
) -> QueryResult<Vec<T>>
where
    T: QueryableByName<diesel::sqlite::Sqlite> + QueryableByName<diesel::pg::Pg> + 'static,
{
    match conn {
        DbConn::Sqlite(c) => diesel::sql_query(sqlite).bind::<BigInt, _>(user_id).load(c),
        DbConn::Pg(c) => diesel::sql_query(postgres)
            .bind::<BigInt, _>(user_id)
            .load(c),
    }
}

/// Pages of a finished reading: the book's length, else what the reading recorded.
const PAGES: &str = "COALESCE(b.pages, r.pages_read, 0)";
const FINISHED: &str = "FROM readings r JOIN books b ON b.id = r.book_id \
                        WHERE r.status = 'finished' AND r.finished_on IS NOT NULL";

/// `compute`, kept while the library does not change.
pub fn compute_memoised(
    conn: &mut DbConn,
    memo: &super::memo::Memo,
    user_id: i64,
    year: Option<i32>,
    today: NaiveDate,
) -> AppResult<ReadingStats> {
    // Long work (a tenth of a second and more for a large library): other requests run
    // meanwhile instead of waiting for this one's CPU turn.
    memo.stats(conn, user_id, year, today, |conn| {
        crate::db::turns::off_turn(|| compute(conn, user_id, year, today))
    })
}

pub fn compute(
    conn: &mut DbConn,
    user_id: i64,
    year: Option<i32>,
    today: NaiveDate,
) -> AppResult<ReadingStats> {
    let year = year.unwrap_or(today.year());
    let finished = readings::table
        .filter(readings::user_id.eq(user_id))
        .filter(readings::status.eq("finished"));

    let books_read_total: i64 = finished.count().get_result(conn)?;
    let pages_read_total: Option<i64> = finished
        .inner_join(books::table)
        .select(diesel::dsl::sum(books::pages))
        .first(conn)?;
    let unpaged_pages: Option<i64> = finished
        .inner_join(books::table)
        .filter(books::pages.is_null())
        .select(diesel::dsl::sum(readings::pages_read))
        .first(conn)?;
    let average_rating: Option<f64> = finished
        .filter(readings::rating.is_not_null())
        .select(diesel::dsl::avg(readings::rating))
        .first(conn)?;

    let by_year: Vec<YearCount> = by_backend(
        conn,
        &format!("SELECT CAST(strftime('%Y', r.finished_on) AS INTEGER) AS year, COUNT(*) AS books, \
                  SUM({PAGES}) AS pages {FINISHED} AND r.user_id = ? GROUP BY 1 ORDER BY 1"),
        &format!("SELECT CAST(EXTRACT(YEAR FROM r.finished_on) AS INTEGER) AS year, COUNT(*) AS books, \
                  CAST(SUM({PAGES}) AS BIGINT) AS pages {FINISHED} AND r.user_id = $1 GROUP BY 1 ORDER BY 1"),
        user_id,
    )?;
    let months: Vec<MonthCount> = by_backend(
        conn,
        &format!("SELECT CAST(strftime('%m', r.finished_on) AS INTEGER) AS month, COUNT(*) AS books, \
                  SUM({PAGES}) AS pages {FINISHED} AND r.user_id = ? \
                  AND r.finished_on >= '{year:04}-01-01' AND r.finished_on <= '{year:04}-12-31' GROUP BY 1 ORDER BY 1"),
        &format!("SELECT CAST(EXTRACT(MONTH FROM r.finished_on) AS INTEGER) AS month, COUNT(*) AS books, \
                  CAST(SUM({PAGES}) AS BIGINT) AS pages {FINISHED} AND r.user_id = $1 \
                  AND r.finished_on >= DATE '{year:04}-01-01' AND r.finished_on <= DATE '{year:04}-12-31' GROUP BY 1 ORDER BY 1"),
        user_id,
    )?;
    let by_month: Vec<MonthCount> = (1..=12)
        .map(|m| {
            months
                .iter()
                .find(|c| c.month == m)
                .cloned()
                .unwrap_or(MonthCount {
                    month: m,
                    books: 0,
                    pages: 0,
                })
        })
        .collect();
    let in_year = by_year.iter().find(|y| y.year == year);

    let extreme = |conn: &mut DbConn, longest: bool| -> AppResult<Option<BookRef>> {
        let query = finished
            .inner_join(books::table)
            .filter(books::pages.is_not_null())
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

    let top_authors = finished
        .inner_join(books::table)
        .filter(books::primary_author.ne(""))
        .group_by(books::primary_author)
        .select((books::primary_author, count_star()))
        .order((count_star().desc(), books::primary_author.asc()))
        .limit(10)
        .load::<(String, i64)>(conn)?
        .into_iter()
        .map(|(name, books)| NameCount { name, books })
        .collect();
    let top_tags = finished
        .inner_join(book_tags::table.on(book_tags::book_id.eq(readings::book_id)))
        .group_by(book_tags::tag)
        .select((book_tags::tag, count_star()))
        .order((count_star().desc(), book_tags::tag.asc()))
        .limit(10)
        .load::<(String, i64)>(conn)?
        .into_iter()
        .map(|(name, books)| NameCount { name, books })
        .collect();

    let average_days_to_finish = by_backend::<Average>(
        conn,
        "SELECT AVG(julianday(finished_on) - julianday(started_on)) AS value FROM readings \
         WHERE user_id = ? AND status = 'finished' AND started_on IS NOT NULL AND finished_on IS NOT NULL",
        "SELECT CAST(AVG(finished_on - started_on) AS DOUBLE PRECISION) AS value FROM readings \
         WHERE user_id = $1 AND status = 'finished' AND started_on IS NOT NULL AND finished_on IS NOT NULL",
        user_id,
    )?
    .pop()
    .and_then(|a| a.value);

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

    let days: Vec<NaiveDate> = by_backend::<Day>(
        conn,
        "SELECT finished_on AS day FROM readings WHERE user_id = ?1 AND finished_on IS NOT NULL \
         UNION SELECT started_on AS day FROM readings WHERE user_id = ?1 AND started_on IS NOT NULL ORDER BY 1",
        "SELECT finished_on AS day FROM readings WHERE user_id = $1 AND finished_on IS NOT NULL \
         UNION SELECT started_on AS day FROM readings WHERE user_id = $1 AND started_on IS NOT NULL ORDER BY 1",
        user_id,
    )?
    .into_iter()
    .map(|d| d.day)
    .collect();
    let (current_streak_days, longest_streak_days) = streaks(&days, today);

    Ok(ReadingStats {
        year,
        books_read_total,
        books_read_in_year: in_year.map_or(0, |y| y.books),
        pages_read_total: pages_read_total.unwrap_or(0) + unpaged_pages.unwrap_or(0),
        pages_read_in_year: in_year.map_or(0, |y| y.pages),
        by_year,
        by_month,
        longest_book,
        shortest_book,
        average_rating: average_rating.map(|r| (r * 100.0).round() / 100.0),
        top_authors,
        top_tags,
        average_days_to_finish: average_days_to_finish.map(|d| (d * 10.0).round() / 10.0),
        in_progress,
        currently_reading,
        current_streak_days,
        longest_streak_days,
    })
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
}

//! The yearly reading goal: how many books a user means to finish in a year, and how far they
//! are. The target is stored (`reading_goals`); what has been read is counted from the reading
//! tallies, the same figure as `books_read_in_year` of [`super::stats`], so the goal, the
//! statistics, the API and MCP never disagree.
//!
//! The REST API (`/api/goals/{year}`), the pages (`/stats`, `/`) and the MCP `reading_stats`
//! tool all call these functions.

use super::integer;
use crate::db::schema::{reading_goals, reading_months};
use crate::db::{on_backend, write_transaction, DbConn};
use crate::error::{AppError, AppResult, FieldError};
use chrono::{Datelike, NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The smallest goal: one book.
pub const MIN_BOOKS: i64 = 1;
/// The largest goal: three books a day is already more than anyone reads.
pub const MAX_BOOKS: i64 = 1000;
/// The earliest year a goal may be set for.
pub const MIN_YEAR: i32 = 1900;

/// The latest year a goal may be set for: next year, to plan ahead.
pub fn max_year(today: NaiveDate) -> i32 {
    today.year() + 1
}

/// The body of `PUT /api/goals/{year}`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GoalInput {
    /// How many books to finish in the year.
    #[serde(deserialize_with = "integer")]
    #[schema(minimum = 1, maximum = 1000)]
    pub books: i64,
}

/// Where the reader stands against the goal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GoalStatus {
    /// As many books read as the goal, or more (any year).
    Achieved,
    /// This year: more books read than a steady pace would have by today.
    Ahead,
    /// This year: exactly as many as a steady pace would have by today.
    OnTrack,
    /// This year: fewer than a steady pace would have by today.
    Behind,
    /// A past year whose goal was not reached.
    Missed,
    /// A year that has not begun.
    Upcoming,
}

/// A year's goal and the progress toward it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct ReadingGoal {
    /// The year the goal is for.
    pub year: i32,
    /// How many books the user means to finish that year.
    pub books: i32,
    /// Finished readings with a finish date in that year (a re-read counts again): the
    /// statistics' `books_read_in_year`.
    pub books_read: i64,
    /// How much of the goal is read, in percent, rounded down; above 100 once exceeded.
    pub percent: i64,
    /// Books still to finish to reach the goal (0 once reached).
    pub remaining: i64,
    pub status: GoalStatus,
    /// For the current year only: the books a steady pace (the goal spread evenly over the
    /// year's days) would have finished by the end of today.
    pub expected_by_today: Option<i64>,
    /// For the current year only: the books finished by the year's end if the pace so far holds.
    pub projected: Option<i64>,
}

impl ReadingGoal {
    /// One sentence for people: the pages and the MCP result say it the same way.
    pub fn summary(&self) -> String {
        let read = format!(
            "{} of {} {} read in {}",
            self.books_read,
            self.books,
            plural(i64::from(self.books), "book"),
            self.year
        );
        match self.status {
            GoalStatus::Achieved => format!("Goal reached: {read}."),
            GoalStatus::Missed => format!("{read} ({}%); the goal was not reached.", self.percent),
            GoalStatus::Upcoming => format!(
                "The goal for {} is {} {}.",
                self.year,
                self.books,
                plural(i64::from(self.books), "book")
            ),
            GoalStatus::OnTrack => format!("{read} ({}%): on track.", self.percent),
            GoalStatus::Ahead | GoalStatus::Behind => {
                let expected = self.expected_by_today.unwrap_or(0);
                let gap = (self.books_read - expected).abs();
                let side = if self.status == GoalStatus::Ahead {
                    "ahead of"
                } else {
                    "behind"
                };
                format!(
                    "{read} ({}%): {gap} {} {side} schedule.",
                    self.percent,
                    plural(gap, "book")
                )
            }
        }
    }

    /// The percentage for a progress bar: at most 100.
    pub fn bar_percent(&self) -> i64 {
        self.percent.clamp(0, 100)
    }
}

fn plural(n: i64, word: &str) -> String {
    if n == 1 {
        word.to_string()
    } else {
        format!("{word}s")
    }
}

/// The progress toward a goal of `books` in `year`, with `books_read` finished, as of `today`.
pub fn progress(year: i32, books: i32, books_read: i64, today: NaiveDate) -> ReadingGoal {
    let target = i64::from(books.max(1));
    // The pace, for the current year: what a steady reader would have by today, and where the
    // pace so far leads by the year's end.
    let pace = (year == today.year()).then(|| {
        let days = i64::from(days_in_year(year));
        let elapsed = i64::from(today.ordinal());
        let expected = target * elapsed / days;
        let projected = books_read.saturating_mul(days).saturating_add(elapsed / 2) / elapsed;
        (expected, projected)
    });
    let status = match pace {
        _ if books_read >= target => GoalStatus::Achieved,
        Some((expected, _)) => match books_read.cmp(&expected) {
            std::cmp::Ordering::Greater => GoalStatus::Ahead,
            std::cmp::Ordering::Equal => GoalStatus::OnTrack,
            std::cmp::Ordering::Less => GoalStatus::Behind,
        },
        None if year < today.year() => GoalStatus::Missed,
        None => GoalStatus::Upcoming,
    };
    ReadingGoal {
        year,
        books,
        books_read,
        percent: books_read.saturating_mul(100) / target,
        remaining: (target - books_read).max(0),
        status,
        expected_by_today: pace.map(|(expected, _)| expected),
        projected: pace.map(|(_, projected)| projected),
    }
}

fn days_in_year(year: i32) -> u32 {
    match NaiveDate::from_ymd_opt(year, 12, 31) {
        Some(last) => last.ordinal(),
        None => 365,
    }
}

/// Checks a year a goal may be set for.
pub fn validate_year(year: i32, today: NaiveDate) -> Result<i32, FieldError> {
    let latest = max_year(today);
    if (MIN_YEAR..=latest).contains(&year) {
        Ok(year)
    } else {
        Err(FieldError::new(
            "year",
            format!("must be between {MIN_YEAR} and {latest}"),
        ))
    }
}

/// Checks a number of books for a goal.
pub fn validate_books(books: i64) -> Result<i32, FieldError> {
    match i32::try_from(books) {
        Ok(n) if (MIN_BOOKS..=MAX_BOOKS).contains(&books) => Ok(n),
        _ => Err(FieldError::new(
            "books",
            format!("must be between {MIN_BOOKS} and {MAX_BOOKS}"),
        )),
    }
}

/// Finished readings of `year` (the tallies' months `YYYY-01` to `YYYY-12`).
pub fn books_read_in(conn: &mut DbConn, user_id: i64, year: i32) -> AppResult<i64> {
    let (first, last) = (format!("{year:04}-01"), format!("{year:04}-12"));
    let months: Vec<i64> = on_backend!(conn, c => reading_months::table
        .filter(reading_months::user_id.eq(user_id))
        .filter(reading_months::month.between(&first, &last))
        .select(reading_months::books)
        .load(c))?;
    Ok(months.into_iter().sum())
}

/// The user's goal for `year` and the progress toward it, or `None` when none is set.
pub fn get(
    conn: &mut DbConn,
    user_id: i64,
    year: i32,
    today: NaiveDate,
) -> AppResult<Option<ReadingGoal>> {
    let target: Option<i32> = on_backend!(conn, c => reading_goals::table
        .find((user_id, year))
        .select(reading_goals::books)
        .first(c)
        .optional())?;
    match target {
        Some(books) => {
            let read = books_read_in(conn, user_id, year)?;
            Ok(Some(progress(year, books, read, today)))
        }
        None => Ok(None),
    }
}

/// [`get`] for a year that is first checked like the one of [`set`]: an impossible year is a
/// validation error, a possible one without a goal is `NotFound`.
pub fn find(
    conn: &mut DbConn,
    user_id: i64,
    year: i32,
    today: NaiveDate,
) -> AppResult<ReadingGoal> {
    validate_year(year, today).map_err(|e| AppError::Validation(vec![e]))?;
    get(conn, user_id, year, today)?.ok_or(AppError::NotFound)
}

/// Sets (creates or replaces) the user's goal for `year`.
pub fn set(
    conn: &mut DbConn,
    user_id: i64,
    year: i32,
    books: i64,
    now: NaiveDateTime,
) -> AppResult<ReadingGoal> {
    let today = now.date();
    let checked = (validate_year(year, today), validate_books(books));
    let books = match checked {
        (Ok(_), Ok(books)) => books,
        (year, books) => {
            return Err(AppError::Validation(
                [year.err(), books.err()].into_iter().flatten().collect(),
            ))
        }
    };
    write_transaction(conn, |conn| {
        // One statement for both backends: diesel's multi-backend connection has no upsert,
        // each backend's own connection does.
        on_backend!(&mut **conn, c => diesel::insert_into(reading_goals::table)
            .values((
                reading_goals::user_id.eq(user_id),
                reading_goals::year.eq(year),
                reading_goals::books.eq(books),
                reading_goals::created_at.eq(now),
                reading_goals::updated_at.eq(now),
            ))
            .on_conflict((reading_goals::user_id, reading_goals::year))
            .do_update()
            .set((
                reading_goals::books.eq(books),
                reading_goals::updated_at.eq(now),
            ))
            .execute(c))?;
        let read = books_read_in(conn, user_id, year)?;
        Ok(progress(year, books, read, today))
    })
}

/// Removes the user's goal for `year`; `NotFound` when there was none.
pub fn delete(conn: &mut DbConn, user_id: i64, year: i32) -> AppResult<()> {
    let deleted = write_transaction(conn, |conn| {
        diesel::delete(reading_goals::table.find((user_id, year))).execute(&mut **conn)
    })?;
    if deleted == 0 {
        return Err(AppError::NotFound);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn a_steady_pace_is_on_track() {
        // 2026 has 365 days; 10 April is day 100: 52 * 100 / 365 = 14.2, so 14 expected.
        let today = day(2026, 4, 10);
        let on = progress(2026, 52, 14, today);
        assert_eq!(on.status, GoalStatus::OnTrack);
        assert_eq!(on.expected_by_today, Some(14));
        assert_eq!(on.percent, 26);
        assert_eq!(on.remaining, 38);
        assert_eq!(on.projected, Some(51));
        assert_eq!(progress(2026, 52, 15, today).status, GoalStatus::Ahead);
        let behind = progress(2026, 52, 11, today);
        assert_eq!(behind.status, GoalStatus::Behind);
        assert_eq!(
            behind.summary(),
            "11 of 52 books read in 2026 (21%): 3 books behind schedule."
        );
        assert_eq!(
            progress(2026, 52, 15, today).summary(),
            "15 of 52 books read in 2026 (28%): 1 book ahead of schedule."
        );
    }

    #[test]
    fn the_first_day_expects_nothing_and_the_last_everything() {
        let first = progress(2024, 12, 0, day(2024, 1, 1));
        assert_eq!(first.status, GoalStatus::OnTrack);
        assert_eq!(first.expected_by_today, Some(0));
        assert_eq!(first.projected, Some(0));
        // 2024 is a leap year: 31 December is day 366.
        let last = progress(2024, 12, 11, day(2024, 12, 31));
        assert_eq!(last.expected_by_today, Some(12));
        assert_eq!(last.status, GoalStatus::Behind);
    }

    #[test]
    fn past_and_future_years() {
        let today = day(2026, 6, 1);
        let missed = progress(2025, 20, 15, today);
        assert_eq!(missed.status, GoalStatus::Missed);
        assert_eq!(missed.expected_by_today, None);
        assert_eq!(
            missed.summary(),
            "15 of 20 books read in 2025 (75%); the goal was not reached."
        );
        let reached = progress(2025, 20, 23, today);
        assert_eq!(reached.status, GoalStatus::Achieved);
        assert_eq!((reached.percent, reached.remaining), (115, 0));
        assert_eq!(reached.bar_percent(), 100);
        assert_eq!(
            reached.summary(),
            "Goal reached: 23 of 20 books read in 2025."
        );
        let upcoming = progress(2027, 1, 0, today);
        assert_eq!(upcoming.status, GoalStatus::Upcoming);
        assert_eq!(upcoming.summary(), "The goal for 2027 is 1 book.");
    }

    #[test]
    fn reaching_the_goal_early_still_reports_the_pace() {
        let done = progress(2026, 10, 12, day(2026, 3, 1));
        assert_eq!(done.status, GoalStatus::Achieved);
        assert_eq!(done.expected_by_today, Some(1));
        assert!(done.projected.unwrap() > 12);
    }

    #[test]
    fn limits() {
        let today = day(2026, 6, 1);
        assert!(validate_books(0).is_err());
        assert!(validate_books(1001).is_err());
        assert!(validate_books(i64::MAX).is_err());
        assert_eq!(validate_books(1000), Ok(1000));
        assert_eq!(validate_year(2027, today), Ok(2027));
        assert!(validate_year(2028, today).is_err());
        assert!(validate_year(1899, today).is_err());
        // Huge counts do not overflow.
        assert_eq!(
            progress(2026, 1000, i64::MAX, today).percent,
            i64::MAX / 1000
        );
    }
}

//! `/stats`: the reading statistics as charts drawn on the server (inline SVG, geometry from
//! [`super::charts`]), each with a text alternative and its numbers in a table; a year
//! selector; and the yearly goal form (`POST /stats/goal`), also offered on the home page
//! through the `partials/goal.html` template and [`goal_card`].

use super::charts::{self, Calendar, ColumnChart, RowChart, MONTHS};
use super::{redirect, render, Nav, PageError, SignedIn};
use crate::auth::csrf;
use crate::db::{self, models::now, DbConn};
use crate::error::{AppError, AppResult};
use crate::library::goals::{self, ReadingGoal};
use crate::library::stats::{self, DayActivity, ReadingStats};
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use chrono::{Datelike, NaiveDate};
use serde::Deserialize;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/stats", web::get().to(page))
        .route("/stats/goal", web::post().to(set_goal))
        .route("/stats/goal/delete", web::post().to(delete_goal));
}

type PageResult = Result<HttpResponse, PageError>;

/// The yearly goal as a card: progress when a goal is set, and the form to set or change it.
/// `partials/goal.html` draws it, on `/stats` and on `/`.
pub struct GoalCard {
    pub year: i32,
    pub goal: Option<ReadingGoal>,
    /// Finished readings of the year, to say something when no goal is set.
    pub books_read: i64,
    /// Whether a goal may be set for this year (`goals::validate_year`).
    pub settable: bool,
    /// The current year, to word the invitation to set a goal.
    pub this_year: i32,
    /// What the field holds: what was typed when the form was refused, else the goal.
    pub input: String,
    pub error: Option<String>,
    /// Where the form sends the reader back: `home` or `stats`.
    pub from: &'static str,
    /// A short notice after a change ("Your goal for 2026 is saved.").
    pub notice: Option<String>,
}

impl GoalCard {
    /// What the card says when no goal is set.
    pub fn without_goal_text(&self) -> String {
        let read = format!(
            "{} finished in {}.",
            plural(self.books_read, "book", "books"),
            self.year
        );
        let invitation = match self.year.cmp(&self.this_year) {
            _ if !self.settable => "",
            std::cmp::Ordering::Less => " Set the goal you had to see whether you reached it.",
            std::cmp::Ordering::Equal => " Set a goal to follow your progress through the year.",
            std::cmp::Ordering::Greater => " Set a goal to plan the year.",
        };
        format!("{read}{invitation}")
    }
}

/// The goal card of `year` for `user_id`: the view model of `partials/goal.html`, read with the
/// same functions as the API (`library::goals`).
pub fn goal_card(
    conn: &mut DbConn,
    user_id: i64,
    year: i32,
    today: NaiveDate,
    from: &'static str,
) -> AppResult<GoalCard> {
    let goal = goals::get(conn, user_id, year, today)?;
    let books_read = match &goal {
        Some(goal) => goal.books_read,
        None => goals::books_read_in(conn, user_id, year)?,
    };
    Ok(GoalCard {
        year,
        input: goal
            .as_ref()
            .map(|g| g.books.to_string())
            .unwrap_or_default(),
        goal,
        books_read,
        settable: goals::validate_year(year, today).is_ok(),
        this_year: today.year(),
        error: None,
        from,
        notice: None,
    })
}

/// A row of a table under a chart: a name and one or two numbers, formatted for people.
pub struct NumberRow {
    pub name: String,
    pub first: String,
    pub second: String,
}

/// A chart and its text alternative.
pub struct Figure<T> {
    pub chart: T,
    pub alt: Alt,
}

/// A chart's accessible title and description, and its `id` prefix.
pub struct Alt {
    pub id: &'static str,
    pub title: String,
    pub desc: String,
}

#[derive(Template)]
#[template(path = "stats.html")]
struct StatsPage {
    nav: Nav,
    year: i32,
    years: Vec<i32>,
    previous: Option<i32>,
    next: Option<i32>,
    figures: Vec<(String, String)>,
    goal_card: GoalCard,
    has_finished: bool,
    per_year: Option<(Figure<ColumnChart>, Figure<ColumnChart>)>,
    year_rows: Vec<NumberRow>,
    months: Option<Figure<ColumnChart>>,
    month_rows: Vec<NumberRow>,
    ratings: Option<Figure<ColumnChart>>,
    rating_rows: Vec<NumberRow>,
    authors: Option<Figure<RowChart>>,
    author_rows: Vec<NumberRow>,
    tags: Option<Figure<RowChart>>,
    tag_rows: Vec<NumberRow>,
    calendar: Figure<Calendar>,
    active_days: i64,
    calendar_rows: Vec<NumberRow>,
}

#[derive(Deserialize)]
pub struct StatsQuery {
    year: Option<String>,
}

/// The earliest and latest years the page shows.
const FIRST_YEAR: i32 = 1000;
const LAST_YEAR: i32 = 9999;

/// The year of `?year=`: a four-digit year, or this year when absent or blank.
pub fn parse_year(text: Option<&str>, today: NaiveDate) -> Result<i32, AppError> {
    match text.map(str::trim).filter(|t| !t.is_empty()) {
        None => Ok(today.year()),
        Some(text) => text
            .parse::<i32>()
            .ok()
            .filter(|y| (FIRST_YEAR..=LAST_YEAR).contains(y))
            .ok_or_else(|| AppError::BadRequest("the year must be a year, like 2024".into())),
    }
}

async fn page(
    state: web::Data<AppState>,
    me: SignedIn,
    query: web::Query<StatsQuery>,
) -> PageResult {
    let today = now().date();
    let year = parse_year(query.year.as_deref(), today)?;
    let notice = take_notice(&me.session);
    show(&state, &me, year, StatusCode::OK, |card| {
        card.notice = notice
    })
    .await
}

/// Renders the page for `year`; `adjust` changes the goal card (a refused form's input and
/// error, or a notice).
async fn show(
    state: &AppState,
    me: &SignedIn,
    year: i32,
    status: StatusCode,
    adjust: impl FnOnce(&mut GoalCard),
) -> PageResult {
    let (user, memo, today) = (me.user.id, state.memo.clone(), now().date());
    let (stats, activity, mut card) = db::run(&state.pool, move |c| {
        let stats = stats::compute_memoised(c, &memo, user, Some(year), today)?;
        let activity = stats::activity(c, user, year)?;
        let card = goal_card(c, user, year, today, "stats")?;
        Ok((stats, activity, card))
    })
    .await?;
    adjust(&mut card);
    render(
        status,
        &StatsPage::new(me.nav()?.at("stats"), &stats, &activity, card, today),
    )
}

fn plural(n: i64, one: &str, many: &str) -> String {
    format!("{} {}", charts::grouped(n), if n == 1 { one } else { many })
}

fn month_name(month: i32) -> &'static str {
    const NAMES: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    usize::try_from(month - 1)
        .ok()
        .and_then(|i| NAMES.get(i))
        .copied()
        .unwrap_or("")
}

/// The most years the per-year charts fill in between: beyond, a stray date (a typo in an
/// imported file, years before the rest) would stretch the axis over empty decades, so only the
/// years with readings are drawn.
const MAX_YEAR_SPAN: i32 = 60;

/// The years from the first to the last with finished readings, those between as zero.
fn years_with_gaps(by_year: &[stats::YearCount]) -> Vec<stats::YearCount> {
    let (Some(first), Some(last)) = (by_year.first(), by_year.last()) else {
        return Vec::new();
    };
    if last.year - first.year >= MAX_YEAR_SPAN {
        return by_year.to_vec();
    }
    (first.year..=last.year)
        .map(|year| {
            let found = by_year.iter().find(|c| c.year == year);
            stats::YearCount {
                year,
                books: found.map_or(0, |c| c.books),
                pages: found.map_or(0, |c| c.pages),
            }
        })
        .collect()
}

/// The first few names and counts of a list, for a chart's description.
fn leaders(items: &[stats::NameCount]) -> String {
    items
        .iter()
        .take(3)
        .map(|i| format!("{} ({})", i.name, i.books))
        .collect::<Vec<_>>()
        .join(", ")
}

impl StatsPage {
    fn new(
        nav: Nav,
        stats: &ReadingStats,
        activity: &[DayActivity],
        goal_card: GoalCard,
        today: NaiveDate,
    ) -> StatsPage {
        let year = stats.year;
        let has_finished = stats.books_read_total > 0;

        let by_year = years_with_gaps(&stats.by_year);
        // Finished readings without a finish date belong to no year: counted apart.
        let (undated_books, undated_pages) = (stats.undated.books, stats.undated.pages);
        let per_year = (!by_year.is_empty()).then(|| {
            let books: Vec<(String, i64)> = by_year
                .iter()
                .map(|c| (c.year.to_string(), c.books))
                .collect();
            let pages: Vec<(String, i64)> = by_year
                .iter()
                .map(|c| (c.year.to_string(), c.pages))
                .collect();
            let span = match (by_year.first(), by_year.last()) {
                (Some(a), Some(b)) if a.year != b.year => format!("from {} to {}", a.year, b.year),
                (Some(a), _) => format!("in {}", a.year),
                _ => String::new(),
            };
            let most = |field: fn(&stats::YearCount) -> i64| {
                by_year
                    .iter()
                    .max_by_key(|c| (field(c), -c.year))
                    .map(|c| (c.year, field(c)))
                    .unwrap_or((year, 0))
            };
            let (top_year, top_books) = most(|c| c.books);
            let (page_year, top_pages) = most(|c| c.pages);
            let undated = if undated_books > 0 {
                format!(
                    " {} without a finish date are not shown.",
                    plural(undated_books, "book", "books")
                )
            } else {
                String::new()
            };
            (
                Figure {
                chart: charts::columns(&books, "books"),
                alt: Alt {
                    id: "chart-books-per-year",
                    title: "Books finished per year".into(),
                    desc: format!(
                        "Column chart of books finished each year {span}. The most: {} in {top_year}.{undated}",
                        charts::grouped(top_books)
                    ),
                },
                },
                Figure {
                chart: charts::columns(&pages, "pages"),
                alt: Alt {
                    id: "chart-pages-per-year",
                    title: "Pages read per year".into(),
                    desc: format!(
                        "Column chart of pages of the books finished each year {span}. The most: {} in {page_year}.",
                        charts::grouped(top_pages)
                    ),
                },
                },
            )
        });
        let mut year_rows: Vec<NumberRow> = by_year
            .iter()
            .rev()
            .map(|c| NumberRow {
                name: c.year.to_string(),
                first: charts::grouped(c.books),
                second: charts::grouped(c.pages),
            })
            .collect();
        if undated_books > 0 {
            year_rows.push(NumberRow {
                name: "No finish date".into(),
                first: charts::grouped(undated_books),
                second: charts::grouped(undated_pages),
            });
        }

        let months = (stats.books_read_in_year > 0).then(|| {
            let points: Vec<(String, i64)> = stats
                .by_month
                .iter()
                .map(|m| {
                    let short = usize::try_from(m.month - 1)
                        .ok()
                        .and_then(|i| MONTHS.get(i))
                        .copied()
                        .unwrap_or("");
                    (short.to_string(), m.books)
                })
                .collect();
            let top = stats
                .by_month
                .iter()
                .max_by_key(|m| (m.books, -m.month))
                .map(|m| format!("{} in {}", charts::grouped(m.books), month_name(m.month)))
                .unwrap_or_default();
            Figure {
                chart: charts::columns(&points, "books"),
                alt: Alt {
                    id: "chart-months",
                    title: format!("Books finished each month of {year}"),
                    desc: format!(
                        "Column chart of the {} finished in {year}, month by month. The most: {top}.",
                        plural(stats.books_read_in_year, "book", "books")
                    ),
                },
            }
        });
        let month_rows = stats
            .by_month
            .iter()
            .map(|m| NumberRow {
                name: month_name(m.month).to_string(),
                first: charts::grouped(m.books),
                second: charts::grouped(m.pages),
            })
            .collect();

        let rated: i64 = stats.ratings.iter().map(|r| r.readings).sum();
        let ratings = (rated > 0).then(|| {
            let points: Vec<(String, i64)> = stats
                .ratings
                .iter()
                .map(|r| (format!("{}★", r.stars), r.readings))
                .collect();
            let parts: Vec<String> = stats
                .ratings
                .iter()
                .map(|r| {
                    format!(
                        "{}: {}",
                        plural(i64::from(r.stars), "star", "stars"),
                        r.readings
                    )
                })
                .collect();
            Figure {
                chart: charts::columns(&points, "readings"),
                alt: Alt {
                    id: "chart-ratings",
                    title: "Ratings of finished readings".into(),
                    desc: format!(
                        "Column chart of {} by rating, rounded to whole stars: {}.",
                        plural(rated, "rated reading", "rated readings"),
                        parts.join(", ")
                    ),
                },
            }
        });
        let rating_rows = stats
            .ratings
            .iter()
            .map(|r| NumberRow {
                name: plural(i64::from(r.stars), "star", "stars"),
                first: charts::grouped(r.readings),
                second: String::new(),
            })
            .collect();

        let names = |items: &[stats::NameCount], id: &'static str, what: &str| {
            (!items.is_empty()).then(|| {
                let points: Vec<(String, i64)> =
                    items.iter().map(|i| (i.name.clone(), i.books)).collect();
                Figure {
                    chart: charts::rows(&points),
                    alt: Alt {
                        id,
                        title: format!("Top {what} by books finished"),
                        desc: format!(
                            "Bar chart of the {} {what} you finished the most books of: {}.",
                            items.len(),
                            leaders(items)
                        ),
                    },
                }
            })
        };
        let name_rows = |items: &[stats::NameCount]| {
            items
                .iter()
                .map(|i| NumberRow {
                    name: i.name.clone(),
                    first: charts::grouped(i.books),
                    second: String::new(),
                })
                .collect::<Vec<_>>()
        };

        let days: Vec<(NaiveDate, i64)> = activity.iter().map(|d| (d.day, d.events)).collect();
        let active_days = days.len() as i64;
        let calendar_rows = (1..=12u32)
            .map(|m| {
                let in_month = days.iter().filter(|(d, _)| d.month() == m);
                let (count, events) = in_month.fold((0i64, 0i64), |(c, e), (_, n)| (c + 1, e + n));
                NumberRow {
                    name: month_name(m as i32).to_string(),
                    first: charts::grouped(count),
                    second: charts::grouped(events),
                }
            })
            .collect();
        let calendar = Figure {
            chart: charts::calendar(year, &days, today),
            alt: Alt {
            id: "chart-calendar",
            title: format!("Reading days in {year}"),
            desc: format!(
                "Calendar of {year}, a square for each day, darker on days when more readings were \
                 started or finished: {} with reading activity. Current streak: {}; longest streak: {}.",
                plural(active_days, "day", "days"),
                plural(stats.current_streak_days, "day", "days"),
                plural(stats.longest_streak_days, "day", "days"),
            ),
            },
        };

        let mut figures = vec![
            (
                format!("Books finished in {year}"),
                charts::grouped(stats.books_read_in_year),
            ),
            (
                format!("Pages read in {year}"),
                charts::grouped(stats.pages_read_in_year),
            ),
            (
                "Books finished, all time".to_string(),
                charts::grouped(stats.books_read_total),
            ),
            (
                "Reading now".to_string(),
                charts::grouped(stats.in_progress),
            ),
            (
                "Current streak".to_string(),
                plural(stats.current_streak_days, "day", "days"),
            ),
            (
                "Longest streak".to_string(),
                plural(stats.longest_streak_days, "day", "days"),
            ),
        ];
        if let Some(rating) = stats.average_rating {
            figures.push((
                "Average rating, all time".to_string(),
                format!("{rating:.2} of 5"),
            ));
        }
        if let Some(days) = stats.average_days_to_finish {
            figures.push((
                "Days to finish a book, on average".to_string(),
                format!("{days:.1}"),
            ));
        }

        // Years to choose from: those with finished readings, this year and the one shown.
        let mut years: Vec<i32> = stats.by_year.iter().map(|c| c.year).collect();
        years.extend([today.year(), year]);
        years.sort_unstable_by(|a, b| b.cmp(a));
        years.dedup();
        let previous = years.iter().copied().find(|y| *y < year);
        let next = years.iter().rev().copied().find(|y| *y > year);

        StatsPage {
            nav,
            year,
            years,
            previous,
            next,
            figures,
            goal_card,
            has_finished,
            per_year,
            year_rows,
            months,
            month_rows,
            ratings,
            rating_rows,
            authors: names(&stats.top_authors, "chart-authors", "authors"),
            author_rows: name_rows(&stats.top_authors),
            tags: names(&stats.top_tags, "chart-tags", "tags"),
            tag_rows: name_rows(&stats.top_tags),
            calendar,
            active_days,
            calendar_rows,
        }
    }
}

/// The session key of the notice shown once after a goal changes.
const NOTICE_KEY: &str = "goal_notice";

/// The notice of a goal change, shown once by the page the form returned to.
pub fn take_notice(session: &actix_session::Session) -> Option<String> {
    session.remove_as::<String>(NOTICE_KEY).and_then(Result::ok)
}

#[derive(Deserialize)]
pub struct GoalForm {
    csrf_token: String,
    year: String,
    #[serde(default)]
    books: String,
    /// `home` when sent from the home page, which it then returns to.
    #[serde(default)]
    from: String,
}

/// The number typed in the goal's field, or what to say next to it.
pub fn parse_books(text: &str) -> Result<i64, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("Enter how many books you mean to read.".into());
    }
    text.parse::<i64>().map_err(|_| {
        format!(
            "Enter a whole number of books, from {} to {}.",
            goals::MIN_BOOKS,
            goals::MAX_BOOKS
        )
    })
}

/// Where a goal form returns to.
fn back_to(from: &str, year: i32) -> String {
    if from == "home" {
        "/".to_string()
    } else {
        format!("/stats?year={year}#goal")
    }
}

async fn set_goal(
    state: web::Data<AppState>,
    me: SignedIn,
    form: web::Form<GoalForm>,
) -> PageResult {
    let form = form.into_inner();
    csrf::verify(&me.session, &form.csrf_token)?;
    let year = parse_year(Some(&form.year), now().date())?;
    let refused = |message: String, books: String| {
        move |card: &mut GoalCard| {
            card.input = books;
            card.error = Some(message);
        }
    };
    let books = match parse_books(&form.books) {
        Ok(books) => books,
        Err(message) => {
            let adjust = refused(message, form.books.clone());
            return show(&state, &me, year, StatusCode::UNPROCESSABLE_ENTITY, adjust).await;
        }
    };
    let user = me.user.id;
    match db::run(&state.pool, move |c| {
        goals::set(c, user, year, books, now())
    })
    .await
    {
        Ok(goal) => {
            let _ = me.session.insert(
                NOTICE_KEY,
                format!(
                    "Your goal for {year} is saved: {}.",
                    plural(i64::from(goal.books), "book", "books")
                ),
            );
            Ok(redirect(&back_to(&form.from, year)))
        }
        Err(AppError::Validation(problems)) => {
            let message = problems
                .iter()
                .map(|p| {
                    format!(
                        "{} {}",
                        if p.field == "year" {
                            "The year"
                        } else {
                            "The number of books"
                        },
                        p.message
                    )
                })
                .map(|m| super::capitalise(&m))
                .collect::<Vec<_>>()
                .join(" ");
            let adjust = refused(message, form.books.clone());
            show(&state, &me, year, StatusCode::UNPROCESSABLE_ENTITY, adjust).await
        }
        Err(other) => Err(other.into()),
    }
}

#[derive(Deserialize)]
pub struct DeleteGoalForm {
    csrf_token: String,
    year: String,
}

async fn delete_goal(
    state: web::Data<AppState>,
    me: SignedIn,
    form: web::Form<DeleteGoalForm>,
) -> PageResult {
    let form = form.into_inner();
    csrf::verify(&me.session, &form.csrf_token)?;
    let year = parse_year(Some(&form.year), now().date())?;
    let user = me.user.id;
    match db::run(&state.pool, move |c| goals::delete(c, user, year)).await {
        // Already gone (another tab): the page shows it gone either way.
        Ok(()) | Err(AppError::NotFound) => {
            let _ = me
                .session
                .insert(NOTICE_KEY, format!("Your goal for {year} is removed."));
            Ok(redirect(&back_to("stats", year)))
        }
        Err(other) => Err(other.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn years_and_books_from_forms() {
        let today = NaiveDate::from_ymd_opt(2026, 5, 1).unwrap();
        assert_eq!(parse_year(None, today).unwrap(), 2026);
        assert_eq!(parse_year(Some(" "), today).unwrap(), 2026);
        assert_eq!(parse_year(Some("2019"), today).unwrap(), 2019);
        assert!(parse_year(Some("20x9"), today).is_err());
        assert!(parse_year(Some("99999"), today).is_err());
        assert_eq!(parse_books(" 24 "), Ok(24));
        assert!(parse_books("").is_err());
        assert!(parse_books("twelve").is_err());
        assert!(parse_books("2.5").is_err());
        assert_eq!(back_to("home", 2026), "/");
        assert_eq!(back_to("anything", 2026), "/stats?year=2026#goal");
    }

    #[test]
    fn years_between_are_zero_unless_the_span_is_absurd() {
        let count = |year, books| stats::YearCount {
            year,
            books,
            pages: books * 100,
        };
        let filled = years_with_gaps(&[count(2020, 3), count(2023, 1)]);
        assert_eq!(
            filled.iter().map(|c| (c.year, c.books)).collect::<Vec<_>>(),
            [(2020, 3), (2021, 0), (2022, 0), (2023, 1)]
        );
        assert!(years_with_gaps(&[]).is_empty());
        let stray = years_with_gaps(&[count(1026, 1), count(2025, 4)]);
        assert_eq!(stray.len(), 2);
    }

    #[test]
    fn a_card_without_a_goal_invites_one_fitting_the_year() {
        let card = |year, books_read, settable| GoalCard {
            year,
            goal: None,
            books_read,
            settable,
            this_year: 2026,
            input: String::new(),
            error: None,
            from: "stats",
            notice: None,
        };
        assert_eq!(
            card(2026, 1, true).without_goal_text(),
            "1 book finished in 2026. Set a goal to follow your progress through the year."
        );
        assert_eq!(
            card(2024, 1200, true).without_goal_text(),
            "1,200 books finished in 2024. Set the goal you had to see whether you reached it."
        );
        assert_eq!(
            card(2027, 0, true).without_goal_text(),
            "0 books finished in 2027. Set a goal to plan the year."
        );
        assert_eq!(
            card(1850, 0, false).without_goal_text(),
            "0 books finished in 1850."
        );
    }
}

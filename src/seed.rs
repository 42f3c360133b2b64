//! `panicless seed`: a realistic library for benchmarks and demos: one reader with many books
//! and readings over the years, and other users with small libraries.

use crate::db::models::user;
use crate::db::{write_transaction, Backend, DbConn};
use crate::error::AppResult;
use crate::library::books::{insert_many as insert_books, BookData, NewRow, Origin};
use crate::library::readings::{insert_many as insert_readings, latest_rating, ReadingData};
use crate::library::{ReadingStatus, Shelf};
use chrono::{Duration, NaiveDate, NaiveDateTime};
use diesel::connection::SimpleConnection;

const AUTHORS: [&str; 12] = [
    "Ursula K. Le Guin",
    "Octavia E. Butler",
    "Gabriel García Márquez",
    "Toni Morrison",
    "Susanna Clarke",
    "Kazuo Ishiguro",
    "Chimamanda Ngozi Adichie",
    "Italo Calvino",
    "N. K. Jemisin",
    "Haruki Murakami",
    "Hilary Mantel",
    "Ted Chiang",
];
const TAGS: [&str; 10] = [
    "fantasy",
    "science fiction",
    "literary fiction",
    "history",
    "essays",
    "poetry",
    "mystery",
    "magic realism",
    "biography",
    "philosophy",
];
const WORDS: [&str; 16] = [
    "Left",
    "Hand",
    "Darkness",
    "Kindred",
    "Solitude",
    "Beloved",
    "House",
    "Remains",
    "Day",
    "Invisible",
    "Cities",
    "Fifth",
    "Season",
    "Wolf",
    "Stories",
    "Life",
];

/// Order written, finished, started and rating of a reading (`readings::latest_rating`).
type RatedReading = (i64, Option<NaiveDate>, Option<NaiveDate>, Option<f64>);

/// A small deterministic generator: the same seed gives the same library.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items
            .get((self.next() as usize) % items.len().max(1))
            .copied()
            .unwrap_or("")
    }
}

/// Creates `email` (if needed) with `books` books and `readings` readings, and `others` other
/// users with ten books each. Returns the reader's id.
pub fn seed(
    conn: &mut DbConn,
    email: &str,
    password_hash: &str,
    books: usize,
    readings: usize,
    others: usize,
    now: NaiveDateTime,
) -> AppResult<i64> {
    let mut rng = Lcg(42);
    if conn.backend() == Backend::Sqlite {
        // One transaction of 60,000 rows across a dozen indexes and the statistics' tallies:
        // with SQLite's default 2 MB page cache it spends most of its time re-reading pages it
        // just wrote (21 s instead of 7). This connection is the command's only one.
        conn.batch_execute("PRAGMA cache_size = -65536")?;
    }
    let reader = match user::find_by_email(conn, email)? {
        Some(u) => u.id,
        None => {
            user::create(
                conn,
                email,
                password_hash,
                Some("Bench Reader"),
                user::AdminPolicy::FirstUserOnly,
                now,
            )?
            .id
        }
    };
    // Everything is drawn first, in the generator's order, then written in multi-row
    // statements: a round trip per row made the seed take 97 s on PostgreSQL.
    let mut library = Vec::with_capacity(books);
    for n in 0..books {
        let data = BookData {
            title: format!(
                "{} {} {} #{n}",
                rng.pick(&WORDS),
                rng.pick(&WORDS),
                rng.pick(&WORDS)
            ),
            authors: vec![rng.pick(&AUTHORS).to_string()],
            isbn10: None,
            isbn13: None,
            pages: Some(80 + (rng.next() % 900) as i32),
            published_year: Some(1900 + (rng.next() % 125) as i32),
            publisher: Some("Bench Press".into()),
            language: Some("en".into()),
            tags: vec![rng.pick(&TAGS).to_string(), rng.pick(&TAGS).to_string()],
            description: Some(format!(
                "A book about {} and {}.",
                rng.pick(&WORDS).to_lowercase(),
                rng.pick(&WORDS).to_lowercase()
            )),
            cover_url: None,
            shelf: if n % 3 == 0 {
                Shelf::ToRead
            } else {
                Shelf::Read
            },
            series: None,
            rating: None,
            binding: None,
        };
        library.push(BookData {
            tags: crate::library::books::normalise_tags(&data.tags),
            ..data
        });
    }
    let start = NaiveDate::from_ymd_opt(2000, 1, 1).unwrap_or_default();
    // Each reading with the position of its book in `library`.
    let mut history: Vec<(usize, ReadingData)> = Vec::with_capacity(readings);
    if !library.is_empty() {
        for n in 0..readings {
            let book = (rng.next() as usize) % library.len();
            let begun = start + Duration::days((rng.next() % 9400) as i64);
            let finished = n % 10 != 0;
            let data = ReadingData {
                status: if finished {
                    ReadingStatus::Finished
                } else {
                    ReadingStatus::Reading
                },
                started_on: Some(begun),
                finished_on: finished.then(|| begun + Duration::days(1 + (rng.next() % 40) as i64)),
                pages_read: None,
                progress: None,
                rating: finished.then(|| 0.25 * (4 + rng.next() % 17) as f64),
                review: None,
                notes: None,
            };
            history.push((book, data));
        }
    }
    // The rating each book shows: its latest rated reading's, as `readings::insert` keeps it.
    let mut rated: Vec<Vec<RatedReading>> = vec![Vec::new(); library.len()];
    for (n, (book, data)) in history.iter().enumerate() {
        if let Some(list) = rated.get_mut(*book) {
            list.push((n as i64, data.finished_on, data.started_on, data.rating));
        }
    }
    let origin = Origin::default();
    let rows: Vec<NewRow> = library
        .iter()
        .zip(rated)
        .map(|(data, rated)| NewRow {
            data,
            origin: &origin,
            reading_rating: latest_rating(rated),
        })
        .collect();
    write_transaction(conn, |conn| {
        let book_ids = insert_books(conn, reader, &rows, now)?;
        if book_ids.is_empty() {
            return Ok(());
        }
        let reading_rows: Vec<(i64, &ReadingData, Option<&str>)> = history
            .iter()
            .filter_map(|(book, data)| book_ids.get(*book).map(|id| (*id, data, None)))
            .collect();
        insert_readings(conn, reader, &reading_rows, now)?;
        for other in 0..others {
            let id = match user::find_by_email(conn, &format!("other{other}@bench.example"))? {
                Some(u) => u.id,
                None => {
                    user::create(
                        conn,
                        &format!("other{other}@bench.example"),
                        password_hash,
                        None,
                        user::AdminPolicy::FirstUserOnly,
                        now,
                    )?
                    .id
                }
            };
            let shelf: Vec<BookData> = (0..10)
                .map(|n| BookData {
                    title: format!("Other {other} book {n}"),
                    authors: vec![rng.pick(&AUTHORS).to_string()],
                    isbn10: None,
                    isbn13: None,
                    pages: Some(200),
                    published_year: None,
                    publisher: None,
                    language: None,
                    tags: vec![],
                    description: None,
                    cover_url: None,
                    shelf: Shelf::ToRead,
                    series: None,
                    rating: None,
                    binding: None,
                })
                .collect();
            let rows: Vec<NewRow> = shelf
                .iter()
                .map(|data| NewRow {
                    data,
                    origin: &origin,
                    reading_rating: None,
                })
                .collect();
            insert_books(conn, id, &rows, now)?;
        }
        Ok::<(), crate::error::AppError>(())
    })?;
    if conn.backend() == Backend::Postgres {
        // Table statistics for what was just loaded, as PostgreSQL advises after a bulk load:
        // autovacuum would gather them within a minute or so, and until then the planner
        // guesses (statistics computed afresh took 250 ms instead of 20 right after a seed).
        // SQLite's are refreshed when the server starts (`db::optimize`).
        conn.batch_execute("ANALYZE")?;
    }
    Ok(reader)
}

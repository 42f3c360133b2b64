//! Importing a reading history: Goodreads and StoryGraph exports, and this library's own export
//! (JSON, or the CSV whose rows carry a "Panicless Data" column).
//!
//! Each source turns its rows into [`ImportedBook`]s, noting every value it could not take;
//! this module checks them as the API checks a book, and writes them in one transaction per
//! file, idempotently: a row already imported (same Panicless Id, import key or Goodreads id, or
//! the same book by ISBN or title and author) is merged, never duplicated, so importing a file
//! twice changes nothing. The [`ImportReport`] accounts for every data row: created, merged,
//! unchanged or skipped, and each value or row not taken, with its line and why.

pub mod goodreads;
pub mod panicless;
pub mod storygraph;

use super::books::{self, BookData, Origin};
use super::readings::{self, ReadingData, ReadingRow};
use super::{fold, Shelf};
use crate::db::schema::{books as books_t, readings as readings_t};
use crate::db::{write_transaction, DbConn, Writer};
use crate::error::{AppError, AppResult, FieldError};
use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use utoipa::ToSchema;

/// The largest file accepted.
pub const MAX_BYTES: usize = 20 * 1024 * 1024;

/// The formats an import reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// Goodreads "Export Library" CSV (also this library's CSV export).
    Goodreads,
    /// StoryGraph "Export StoryGraph Library" CSV.
    StoryGraph,
    /// This library's JSON export: a whole-library backup.
    Panicless,
}

impl Source {
    pub const ALL: [Source; 3] = [Source::Goodreads, Source::StoryGraph, Source::Panicless];

    pub fn as_str(self) -> &'static str {
        match self {
            Source::Goodreads => "goodreads",
            Source::StoryGraph => "storygraph",
            Source::Panicless => "panicless",
        }
    }

    pub fn parse(name: &str) -> Option<Source> {
        Source::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// What the file is, for messages.
    pub fn describe(self) -> &'static str {
        match self {
            Source::Goodreads => {
                "a Goodreads \"Export Library\" CSV file (or this library's CSV export)"
            }
            Source::StoryGraph => "a StoryGraph \"Export StoryGraph Library\" CSV file",
            Source::Panicless => "this library's JSON export (GET /api/export)",
        }
    }

    /// What the file must start with, for messages.
    fn expected(self) -> &'static str {
        match self {
            Source::Goodreads => {
                "its first line names the columns Book Id, Title, Author and Exclusive Shelf"
            }
            Source::StoryGraph => "its first line names the columns Title, Authors and Read Status",
            Source::Panicless => "a JSON object with a \"books\" array",
        }
    }

    /// The column of this format that holds a field of a book or reading, for the report.
    pub fn column(self, field: &str) -> String {
        let name = match (self, field) {
            (Source::Panicless, other) => other,
            (_, "title") => "Title",
            (Source::Goodreads, "authors") => "Author",
            (Source::StoryGraph, "authors") => "Authors",
            (Source::Goodreads, "pages") => "Number of Pages",
            (Source::Goodreads, "published_year") => "Original Publication Year",
            (Source::Goodreads, "publisher") => "Publisher",
            (Source::Goodreads, "binding") => "Binding",
            (Source::StoryGraph, "binding") => "Format",
            (Source::Goodreads, "tags") => "Bookshelves",
            (Source::StoryGraph, "tags") => "Tags",
            (_, "series") => "Title",
            (Source::Goodreads, "rating") => "My Rating",
            (Source::StoryGraph, "rating") => "Star Rating",
            (Source::Goodreads, "finished_on" | "started_on") => "Date Read",
            (Source::StoryGraph, "finished_on" | "started_on") => "Dates Read",
            (Source::Goodreads, "review") => "My Review",
            (Source::StoryGraph, "review") => "Review",
            (Source::Goodreads, "notes") => "Private Notes",
            (_, other) => other,
        };
        name.to_string()
    }
}

/// The format of a file, from its first bytes: a JSON object is our export; a CSV header with
/// Goodreads' or StoryGraph's columns is theirs.
pub fn detect(bytes: &[u8]) -> Option<Source> {
    let bytes = strip_bom(bytes);
    let start = bytes.iter().position(|b| !b.is_ascii_whitespace())?;
    // A first line that names a CSV format's columns decides, even when it happens to begin
    // with `{` (a column may be named anything); otherwise `{` means our JSON export.
    let first_line = bytes.split(|b| *b == b'\n').next().unwrap_or_default();
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(first_line);
    let columns = reader
        .records()
        .next()
        .and_then(Result::ok)
        .map(|header| Columns::new(&header));
    match columns {
        Some(c) if c.has("Book Id") && c.has("Exclusive Shelf") => Some(Source::Goodreads),
        Some(c) if c.has("Read Status") && c.has("Authors") => Some(Source::StoryGraph),
        _ if bytes.get(start) == Some(&b'{') => Some(Source::Panicless),
        _ => None,
    }
}

fn strip_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes)
}

/// One book of an import, with its readings, as its source gave it.
#[derive(Debug, Clone)]
pub struct ImportedBook {
    /// Stable identity of the row in its source (`goodreads:<Book Id>`, ...), for idempotent
    /// re-imports; kept on the book as its import key.
    pub key: Option<String>,
    /// Our own identity, the Goodreads id and the date added, when the row has them.
    pub origin: Origin,
    pub data: BookData,
    pub readings: Vec<ImportedReading>,
    /// From this library's own export: its readings are matched by content, so a re-import
    /// finds every one of them, keyed or not.
    pub exact: bool,
    /// Values of the row that could not be read (a date 2020/13/45, pages "many"): the book is
    /// imported without them.
    pub problems: Vec<FieldProblem>,
}

#[derive(Debug, Clone)]
pub struct ImportedReading {
    pub key: Option<String>,
    pub data: ReadingData,
}

/// A value of a row that was not taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldProblem {
    /// The column (or JSON field).
    pub field: String,
    pub value: String,
    pub reason: String,
}

impl FieldProblem {
    pub fn new(field: &str, value: &str, reason: impl Into<String>) -> Self {
        FieldProblem {
            field: field.to_string(),
            value: value.to_string(),
            reason: reason.into(),
        }
    }
}

/// What a line of a file turned out to be.
#[derive(Debug, Clone)]
pub enum ParsedRow {
    Book(Box<ImportedBook>),
    /// A row that cannot be a book: why.
    Unreadable(String),
    /// The header line again, inside the file.
    RepeatedHeader,
}

/// The rows of a file, each with its line number (for our JSON export: the book's position in
/// `books`, from 1).
pub type Parsed = Vec<(u64, ParsedRow)>;

/// What became of a row that the report names.
#[derive(Debug, Clone, Copy, Serialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum RowOutcome {
    /// Not imported at all.
    Skipped,
    /// Imported without the value named.
    ValueDropped,
    /// A header line repeated inside the file, skipped (not a data row).
    RepeatedHeader,
    /// The same book as an earlier row of this file (same ISBN, or same title and first
    /// author): merged into the book that row created.
    MergedWithEarlierRow,
}

/// A row, or a value of a row, that was not taken as it was.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
pub struct RowProblem {
    /// Line of the file (the header is line 1); for our JSON export, the book's position in
    /// `books` (from 1).
    pub line: u64,
    /// The column (or JSON field) concerned; absent when the problem is the whole row.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The value as the file has it, shortened to 100 characters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    pub reason: String,
    pub outcome: RowOutcome,
}

/// What an import did with every data row of the file: `created + merged + unchanged + skipped`
/// is `rows`.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
pub struct ImportReport {
    /// The format the file was read as.
    pub format: Source,
    /// Data rows read (header lines, and header lines repeated inside the file, not counted).
    pub rows: usize,
    /// Rows that added a book.
    pub created: usize,
    /// Rows merged into a book already here (or created by an earlier row) that added to it:
    /// readings, tags, or details it lacked.
    pub merged: usize,
    /// Rows whose book was already here with everything they hold.
    pub unchanged: usize,
    /// Rows not imported at all (each is in `problems`).
    pub skipped: usize,
    /// Header lines found again inside the file, skipped.
    pub repeated_headers: usize,
    pub readings_created: usize,
    /// Every row not taken whole: skipped rows, dropped values, repeated headers, rows merged
    /// with an earlier row of the file. In file order.
    pub problems: Vec<RowProblem>,
}

impl ImportReport {
    pub fn new(format: Source) -> Self {
        ImportReport {
            format,
            rows: 0,
            created: 0,
            merged: 0,
            unchanged: 0,
            skipped: 0,
            repeated_headers: 0,
            readings_created: 0,
            problems: Vec::new(),
        }
    }

    /// Rows accounted for so far.
    pub fn done(&self) -> usize {
        self.created + self.merged + self.unchanged + self.skipped
    }

    fn problem(
        &mut self,
        line: u64,
        field: Option<&str>,
        value: Option<&str>,
        reason: impl Into<String>,
        outcome: RowOutcome,
    ) {
        self.problems.push(RowProblem {
            line,
            field: field.map(String::from),
            value: value.map(shorten),
            reason: reason.into(),
            outcome,
        });
    }
}

fn shorten(value: &str) -> String {
    if value.chars().count() > 100 {
        format!("{}…", value.chars().take(99).collect::<String>())
    } else {
        value.to_string()
    }
}

/// Reads one file into its rows. No database: this is the part that sees untrusted bytes (and
/// what `fuzz/` exercises). A file that is not of the format is refused, saying what was
/// expected.
pub fn parse(source: Source, bytes: &[u8], now: NaiveDateTime) -> AppResult<Parsed> {
    if bytes.len() > MAX_BYTES {
        return Err(AppError::PayloadTooLarge);
    }
    let bytes = strip_bom(bytes);
    let detected = detect(bytes);
    if detected.is_some_and(|d| d != source)
        && (source == Source::Panicless || detected == Some(Source::Panicless))
    {
        return Err(not_the_format(source, bytes));
    }
    match source {
        Source::Goodreads => goodreads::parse(bytes, now),
        Source::StoryGraph => storygraph::parse(bytes, now),
        Source::Panicless => panicless::parse(bytes, now),
    }
}

/// The refusal of a file that is not of the expected format: what was expected, what the file
/// starts with, and its real format when it is one of the others.
pub fn not_the_format(source: Source, bytes: &[u8]) -> AppError {
    let start: String = String::from_utf8_lossy(bytes.get(..bytes.len().min(300)).unwrap_or(bytes))
        .lines()
        .next()
        .unwrap_or_default()
        .chars()
        .take(80)
        .collect();
    let hint = match detect(bytes) {
        Some(other) if other != source => format!(
            " It looks like {}: import it as `{}`.",
            other.describe(),
            other.as_str()
        ),
        _ => String::new(),
    };
    AppError::Validation(vec![FieldError::new(
        "file",
        format!(
            "expected {}: {}. This file starts with {start:?}.{hint}",
            source.describe(),
            source.expected()
        ),
    )])
}

/// Parses and imports one file for `user_id`.
pub fn import(
    conn: &mut DbConn,
    user_id: i64,
    source: Source,
    bytes: &[u8],
    now: NaiveDateTime,
) -> AppResult<ImportReport> {
    let parsed = parse(source, bytes, now)?;
    import_parsed(conn, user_id, source, parsed, now, &|_| {})
}

/// Imports rows already parsed, in one transaction; `progress` is told the rows done so far
/// after each one (for a page that shows how far a large file got).
pub fn import_parsed(
    conn: &mut DbConn,
    user_id: i64,
    source: Source,
    parsed: Parsed,
    now: NaiveDateTime,
    progress: &(dyn Fn(usize) + Sync),
) -> AppResult<ImportReport> {
    let mut report = ImportReport::new(source);
    report.rows = parsed
        .iter()
        .filter(|(_, row)| !matches!(row, ParsedRow::RepeatedHeader))
        .count();
    write_transaction(conn, |conn| {
        // The line that created each book of this import, to tell a row merged with an earlier
        // row of the file from one merged into the library.
        let mut created_by: HashMap<i64, u64> = HashMap::new();
        let mut known = Known::load(conn, user_id)?;
        // New books wait here and are written together (`flush`): one round trip for many
        // rows. A row that matches one still waiting has it written first.
        let mut news: Vec<NewBook> = Vec::new();
        let mut flushed = 0;
        for (line, row) in parsed {
            let book = match row {
                ParsedRow::Book(book) => *book,
                ParsedRow::Unreadable(reason) => {
                    report.skipped += 1;
                    report.problem(line, None, None, reason, RowOutcome::Skipped);
                    progress(report.done());
                    continue;
                }
                ParsedRow::RepeatedHeader => {
                    report.repeated_headers += 1;
                    report.problem(
                        line,
                        None,
                        None,
                        "the header line again: skipped",
                        RowOutcome::RepeatedHeader,
                    );
                    continue;
                }
            };
            for p in &book.problems {
                report.problem(
                    line,
                    Some(&p.field),
                    Some(&p.value),
                    p.reason.clone(),
                    RowOutcome::ValueDropped,
                );
            }
            let (book, dropped) = match check(book, now) {
                Ok(checked) => checked,
                Err(reason) => {
                    report.skipped += 1;
                    report.problem(line, None, None, reason, RowOutcome::Skipped);
                    progress(report.done());
                    continue;
                }
            };
            for p in dropped {
                report.problem(
                    line,
                    Some(&source.column(&p.field)),
                    Some(&p.value),
                    p.reason,
                    RowOutcome::ValueDropped,
                );
            }
            let found =
                match known.find(&book) {
                    None => None,
                    Some(BookRef::Stored(id)) => Some(id),
                    Some(BookRef::New(n)) => {
                        if news.get(n).is_some_and(|new| new.id.is_none()) {
                            flush(conn, user_id, &mut news[flushed..], &mut created_by, now)?;
                            flushed = news.len();
                        }
                        Some(news.get(n).and_then(|new| new.id).ok_or_else(|| {
                            AppError::internal("an imported book was not written")
                        })?)
                    }
                };
            let Some(found) = found else {
                report.readings_created += plan_new(&mut known, &mut news, line, book);
                report.created += 1;
                progress(report.done());
                continue;
            };
            let written = write_book(conn, user_id, found, book, &mut known, now)?;
            report.readings_created += written.readings_created;
            match written.outcome {
                Outcome::Merged => report.merged += 1,
                Outcome::Unchanged => report.unchanged += 1,
            }
            if let Some(earlier) = created_by.get(&found) {
                report.problem(
                    line,
                    None,
                    None,
                    format!("the same book as line {earlier} (same ISBN, or same title and first author): merged into it"),
                    RowOutcome::MergedWithEarlierRow,
                );
            }
            progress(report.done());
        }
        flush(conn, user_id, &mut news[flushed..], &mut created_by, now)
    })?;
    Ok(report)
}

/// Checks a row as the API checks a book and its readings, before anything of it is written. A
/// value the library cannot hold (a year in the future, pages -20, a rating of 9) is dropped
/// and named; a row that stays invalid (no title) is refused with the reason.
pub fn check(
    book: ImportedBook,
    now: NaiveDateTime,
) -> Result<(ImportedBook, Vec<FieldProblem>), String> {
    let mut dropped = Vec::new();
    let data = valid_without_odd_fields(
        book.data,
        |d| books::validate(d, now),
        take_book_field,
        &mut dropped,
    )?;
    let today = now.date();
    let mut checked_readings = Vec::with_capacity(book.readings.len());
    for reading in book.readings {
        let valid = valid_without_odd_fields(
            reading.data,
            |d| readings::validate(d, today),
            take_reading_field,
            &mut dropped,
        )?;
        checked_readings.push(ImportedReading {
            key: reading.key,
            data: valid,
        });
    }
    Ok((
        ImportedBook {
            data,
            readings: checked_readings,
            ..book
        },
        dropped,
    ))
}

/// `data` validated; each field `validate` refuses is taken out with `take` and noted in
/// `dropped`, until it passes. A field that cannot be taken out refuses the row.
fn valid_without_odd_fields<T: Clone>(
    mut data: T,
    validate: impl Fn(T) -> AppResult<T>,
    take: fn(&mut T, &str) -> Option<String>,
    dropped: &mut Vec<FieldProblem>,
) -> Result<T, String> {
    // Each round takes out at least one field, and a type has few: a bound, not a budget.
    for _ in 0..20 {
        match validate(data.clone()) {
            Ok(valid) => return Ok(valid),
            Err(AppError::Validation(errors)) => {
                for error in &errors {
                    let value =
                        take(&mut data, &error.field).ok_or_else(|| row_refusal(&errors))?;
                    dropped.push(FieldProblem::new(
                        &error.field,
                        &value,
                        error.message.clone(),
                    ));
                }
            }
            Err(other) => return Err(other.to_string()),
        }
    }
    Err("the row could not be made valid".into())
}

fn row_refusal(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(|e| format!("{} {}", e.field, e.message))
        .collect::<Vec<_>>()
        .join("; ")
}

fn shown<T: std::fmt::Display>(value: Option<T>) -> String {
    value.map(|v| v.to_string()).unwrap_or_default()
}

/// Takes an invalid field out of a book: its value as text, or `None` when the book cannot go
/// without it (title, authors).
fn take_book_field(data: &mut BookData, field: &str) -> Option<String> {
    Some(match field {
        "pages" => shown(data.pages.take()),
        "published_year" => shown(data.published_year.take()),
        "rating" => shown(data.rating.take()),
        "cover_url" => shown(data.cover_url.take()),
        "publisher" => shown(data.publisher.take()),
        "language" => shown(data.language.take()),
        "description" => shown(data.description.take()),
        "series" => shown(data.series.take()),
        "binding" => shown(data.binding.take()),
        "tags" => std::mem::take(&mut data.tags).join(", "),
        _ => return None,
    })
}

/// Takes an invalid field out of a reading; `finished_on` before `started_on` loses the start.
fn take_reading_field(data: &mut ReadingData, field: &str) -> Option<String> {
    Some(match field {
        "finished_on"
            if data
                .finished_on
                .is_some_and(|end| end < data.started_on.unwrap_or(end)) =>
        {
            format!(
                "{}-{}",
                shown(data.started_on.take()),
                shown(data.finished_on)
            )
        }
        "finished_on" => shown(data.finished_on.take()),
        "started_on" => shown(data.started_on.take()),
        "pages_read" => shown(data.pages_read.take()),
        "progress" => shown(data.progress.take()),
        "rating" => shown(data.rating.take()),
        "review" => shorten(&data.review.take().unwrap_or_default()),
        "notes" => shorten(&data.notes.take().unwrap_or_default()),
        _ => return None,
    })
}

enum Outcome {
    Merged,
    Unchanged,
}

struct Written {
    outcome: Outcome,
    readings_created: usize,
}

/// A book rows are matched against: one stored, or one an earlier row of this import creates
/// (its place in the new books, written by the next `flush`).
#[derive(Debug, Clone, Copy)]
enum BookRef {
    Stored(i64),
    New(usize),
}

/// What rows are matched by, for every book of the user, loaded in two queries and kept up to
/// date as the import goes: matching a row costs no round trip (five lookups a row made a
/// 3,000-row import take 8 s on PostgreSQL). Where several books share a key, the oldest
/// answers.
struct Known {
    uid: HashMap<String, BookRef>,
    import_key: HashMap<String, BookRef>,
    goodreads_id: HashMap<String, BookRef>,
    isbn13: HashMap<String, BookRef>,
    dedup_key: HashMap<String, BookRef>,
    /// The import keys of the user's readings (unique per user).
    reading_keys: HashSet<String>,
}

/// Id, uid, import key, Goodreads id, ISBN-13 and dedup key of a stored book.
type BookKeys = (
    i64,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
);

impl Known {
    fn load(conn: &mut DbConn, user_id: i64) -> AppResult<Known> {
        let books: Vec<BookKeys> = books_t::table
            .filter(books_t::user_id.eq(user_id))
            .order(books_t::id)
            .select((
                books_t::id,
                books_t::uid,
                books_t::import_key,
                books_t::goodreads_id,
                books_t::isbn13,
                books_t::dedup_key,
            ))
            .load(conn)?;
        let reading_keys: Vec<Option<String>> = readings_t::table
            .filter(readings_t::user_id.eq(user_id))
            .filter(readings_t::import_key.is_not_null())
            .select(readings_t::import_key)
            .load(conn)?;
        let mut known = Known {
            uid: HashMap::with_capacity(books.len()),
            import_key: HashMap::new(),
            goodreads_id: HashMap::new(),
            isbn13: HashMap::with_capacity(books.len()),
            dedup_key: HashMap::with_capacity(books.len()),
            reading_keys: reading_keys.into_iter().flatten().collect(),
        };
        for (id, uid, import_key, goodreads_id, isbn13, dedup_key) in books {
            let at = BookRef::Stored(id);
            known.uid.entry(uid).or_insert(at);
            known.add(at, import_key, goodreads_id, isbn13, dedup_key);
        }
        Ok(known)
    }

    fn add(
        &mut self,
        at: BookRef,
        import_key: Option<String>,
        goodreads_id: Option<String>,
        isbn13: Option<String>,
        dedup_key: String,
    ) {
        for (map, key) in [
            (&mut self.import_key, import_key),
            (&mut self.goodreads_id, goodreads_id),
            (&mut self.isbn13, isbn13),
            (&mut self.dedup_key, Some(dedup_key)),
        ] {
            if let Some(key) = key {
                map.entry(key).or_insert(at);
            }
        }
    }

    /// The book `book` is: by our id, its import key, its Goodreads id, then by ISBN or title
    /// and first author (`books::find_duplicate`).
    fn find(&self, book: &ImportedBook) -> Option<BookRef> {
        let get = |map: &HashMap<String, BookRef>, key: Option<&String>| {
            key.and_then(|k| map.get(k)).copied()
        };
        get(&self.uid, book.origin.uid.as_ref())
            .or_else(|| get(&self.import_key, book.key.as_ref()))
            .or_else(|| get(&self.goodreads_id, book.origin.goodreads_id.as_ref()))
            .or_else(|| get(&self.isbn13, book.data.isbn13.as_ref()))
            .or_else(|| self.dedup_key.get(&book.data.dedup_key()).copied())
    }
}

/// A book of this import not written yet, with the readings it gets.
struct NewBook {
    line: u64,
    data: BookData,
    origin: Origin,
    readings: Vec<(ReadingData, Option<String>)>,
    /// Once written.
    id: Option<i64>,
}

/// Takes a row that matches no book as a new book, to be written by the next `flush`; returns
/// how many readings it gets. Its readings are taken as `write_readings` takes them for a book
/// just created (none of its own yet).
fn plan_new(known: &mut Known, news: &mut Vec<NewBook>, line: u64, book: ImportedBook) -> usize {
    let at = BookRef::New(news.len());
    let origin = Origin {
        uid: Some(book.origin.uid.clone().unwrap_or_else(books::new_uid)),
        import_key: book.key.clone(),
        ..book.origin.clone()
    };
    if let Some(uid) = &origin.uid {
        known.uid.entry(uid.clone()).or_insert(at);
    }
    known.add(
        at,
        book.key.clone(),
        book.origin.goodreads_id.clone(),
        book.data.isbn13.clone(),
        book.data.dedup_key(),
    );
    let mut readings = Vec::new();
    for reading in book.readings {
        let keyed = reading
            .key
            .as_ref()
            .is_some_and(|key| known.reading_keys.contains(key));
        if keyed && !book.exact {
            continue;
        }
        // A key another reading has is not taken twice (it is unique per user).
        let key = reading.key.filter(|_| !keyed);
        if let Some(key) = &key {
            known.reading_keys.insert(key.clone());
        }
        readings.push((reading.data, key));
    }
    let count = readings.len();
    news.push(NewBook {
        line,
        data: book.data,
        origin,
        readings,
        id: None,
    });
    count
}

/// Writes the new books waiting, their tags and their readings, in multi-row statements.
fn flush(
    conn: &mut Writer<'_>,
    user_id: i64,
    news: &mut [NewBook],
    created_by: &mut HashMap<i64, u64>,
    now: NaiveDateTime,
) -> AppResult<()> {
    if news.is_empty() {
        return Ok(());
    }
    let rows: Vec<books::NewRow> =
        news.iter()
            .map(|new| books::NewRow {
                data: &new.data,
                origin: &new.origin,
                reading_rating: readings::latest_rating(new.readings.iter().enumerate().map(
                    |(n, (data, _))| (n as i64, data.finished_on, data.started_on, data.rating),
                )),
            })
            .collect();
    let ids = books::insert_many(conn, user_id, &rows, now)?;
    let mut reading_rows = Vec::new();
    for (new, id) in news.iter_mut().zip(ids) {
        new.id = Some(id);
        created_by.insert(id, new.line);
        for (data, key) in &new.readings {
            reading_rows.push((id, data, key.as_deref()));
        }
    }
    readings::insert_many(conn, user_id, &reading_rows, now)
}

/// Writes a row that passed [`check`] into the book `book_id` it matched.
fn write_book(
    conn: &mut Writer<'_>,
    user_id: i64,
    book_id: i64,
    book: ImportedBook,
    known: &mut Known,
    now: NaiveDateTime,
) -> AppResult<Written> {
    let changed = merge(conn, user_id, book_id, &book, known, now)?;
    let mut outcome = if changed {
        Outcome::Merged
    } else {
        Outcome::Unchanged
    };
    let readings_created = write_readings(conn, user_id, book_id, &book, known, now)?;
    if readings_created > 0 {
        // A book merged into moves with its readings.
        readings::reshelve(conn, user_id, book_id, now)?;
        outcome = Outcome::Merged;
    }
    Ok(Written {
        outcome,
        readings_created,
    })
}

/// Adds the row's readings the book does not have yet. A reading is already here when a
/// reading of the user has its import key or, for a row of our own export, when the book has a
/// reading equal to it (each existing reading answers for one imported reading).
fn write_readings(
    conn: &mut Writer<'_>,
    user_id: i64,
    book_id: i64,
    book: &ImportedBook,
    known: &mut Known,
    now: NaiveDateTime,
) -> AppResult<usize> {
    let mut present: Vec<ReadingData> = if book.exact {
        readings_t::table
            .filter(readings_t::user_id.eq(user_id))
            .filter(readings_t::book_id.eq(book_id))
            .select(ReadingRow::as_select())
            .load(&mut **conn)?
            .iter()
            .map(readings::row_data)
            .collect()
    } else {
        Vec::new()
    };
    let mut created = 0;
    for reading in &book.readings {
        let keyed = reading
            .key
            .as_ref()
            .is_some_and(|key| known.reading_keys.contains(key));
        if let Some(at) = present.iter().position(|p| *p == reading.data) {
            present.swap_remove(at);
            continue;
        }
        if keyed && !book.exact {
            continue;
        }
        // A key another reading has is not taken twice (it is unique per user).
        let key = reading.key.as_deref().filter(|_| !keyed);
        readings::insert(conn, user_id, book_id, &reading.data, key, now)?;
        if let Some(key) = key {
            known.reading_keys.insert(key.to_string());
        }
        created += 1;
    }
    Ok(created)
}

/// Fills what the existing book lacks, adds tags, moves the shelf forward (never back), and
/// keeps the earlier of the two added dates. Returns whether anything changed.
fn merge(
    conn: &mut Writer<'_>,
    user_id: i64,
    id: i64,
    book: &ImportedBook,
    known: &mut Known,
    now: NaiveDateTime,
) -> AppResult<bool> {
    let incoming = &book.data;
    let row = books::find_row(conn, user_id, id)?;
    let mut data = BookData::from_row(&row);
    let before = data.clone();
    if data.isbn13.is_none() {
        // Only when no other book of the user has that ISBN already.
        if let Some(isbn13) = incoming
            .isbn13
            .as_ref()
            .filter(|isbn| !known.isbn13.contains_key(*isbn))
        {
            known.isbn13.insert(isbn13.clone(), BookRef::Stored(id));
            data.isbn13 = incoming.isbn13.clone();
            data.isbn10 = incoming.isbn10.clone();
        }
    }
    data.pages = data.pages.or(incoming.pages);
    data.published_year = data.published_year.or(incoming.published_year);
    data.publisher = data.publisher.or(incoming.publisher.clone());
    data.series = data.series.or(incoming.series.clone());
    data.rating = data.rating.or(incoming.rating);
    data.description = data.description.or(incoming.description.clone());
    data.language = data.language.or(incoming.language.clone());
    data.cover_url = data.cover_url.or(incoming.cover_url.clone());
    data.binding = data.binding.or(incoming.binding.clone());
    for tag in &incoming.tags {
        if !data.tags.contains(tag) {
            data.tags.push(tag.clone());
        }
    }
    if rank(incoming.shelf) > rank(data.shelf) {
        data.shelf = incoming.shelf;
    }
    let mut changed = false;
    if data != before {
        books::write(conn, user_id, id, &data, now)?;
        changed = true;
    }
    // The earlier added date wins: compared by day, as exports write it.
    if let Some(added) = book.origin.added_at {
        if added.date() < row.added_at.0.date() {
            diesel::update(books_t::table.find(id))
                .set(books_t::added_at.eq(added))
                .execute(&mut **conn)?;
            changed = true;
        }
    }
    if row.goodreads_id.is_none() {
        if let Some(goodreads_id) = &book.origin.goodreads_id {
            diesel::update(books_t::table.find(id))
                .set(books_t::goodreads_id.eq(goodreads_id))
                .execute(&mut **conn)?;
            known
                .goodreads_id
                .entry(goodreads_id.clone())
                .or_insert(BookRef::Stored(id));
            changed = true;
        }
    }
    Ok(changed)
}

fn rank(shelf: Shelf) -> u8 {
    match shelf {
        Shelf::ToRead => 0,
        Shelf::Abandoned => 1,
        Shelf::Reading => 2,
        Shelf::Read => 3,
    }
}

/// Splits `Title (Series, #2)` into the title and the series.
pub fn split_series(title: &str) -> (String, Option<String>) {
    let title = title.trim();
    if let Some(open) = title.rfind(" (") {
        if let Some(inner) = title.get(open + 2..).and_then(|r| r.strip_suffix(')')) {
            if inner.contains('#') {
                return (
                    title[..open].trim().to_string(),
                    Some(inner.trim().to_string()),
                );
            }
        }
    }
    (title.to_string(), None)
}

/// A date written `YYYY/MM/DD` (both exports): `None` when empty, an error when it is not a
/// date.
pub fn parse_date(text: &str) -> Result<Option<NaiveDate>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    NaiveDate::parse_from_str(text, "%Y/%m/%d")
        .or_else(|_| NaiveDate::parse_from_str(text, "%Y-%m-%d"))
        .map(Some)
        .map_err(|_| "is not a date (YYYY/MM/DD)".to_string())
}

/// A column's date; a value that is not a date is noted in `problems` and read as none.
pub fn date_in(column: &str, text: &str, problems: &mut Vec<FieldProblem>) -> Option<NaiveDate> {
    match parse_date(text) {
        Ok(date) => date,
        Err(reason) => {
            problems.push(FieldProblem::new(column, text, reason));
            None
        }
    }
}

/// A column's number; a value that is not one is noted in `problems` and read as none.
pub fn number_in<T: std::str::FromStr>(
    column: &str,
    text: &str,
    what: &str,
    problems: &mut Vec<FieldProblem>,
) -> Option<T> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    match text.parse() {
        Ok(n) => Some(n),
        Err(_) => {
            problems.push(FieldProblem::new(column, text, format!("is not {what}")));
            None
        }
    }
}

/// A stable key from title and first author, for rows without an id.
pub fn title_key(title: &str, author: &str) -> String {
    format!("{}|{}", fold(title), fold(author))
}

/// Column positions found by header name, so exports with more or fewer columns all work.
pub struct Columns {
    names: Vec<String>,
}

impl Columns {
    pub fn new(header: &csv::StringRecord) -> Self {
        Columns {
            names: header.iter().map(|h| h.trim().to_string()).collect(),
        }
    }

    pub fn has(&self, name: &str) -> bool {
        self.names.iter().any(|h| h == name)
    }

    /// Every column named, or the refusal of the file, saying what was expected.
    pub fn require(&self, source: Source, bytes: &[u8], names: &[&str]) -> AppResult<()> {
        if names.iter().all(|n| self.has(n)) {
            Ok(())
        } else {
            Err(not_the_format(source, bytes))
        }
    }

    /// The trimmed value of column `name` in `row`, or "" when the column or value is absent.
    pub fn get<'r>(&self, row: &'r csv::StringRecord, name: &str) -> &'r str {
        self.names
            .iter()
            .position(|h| h == name)
            .and_then(|i| row.get(i))
            .map(str::trim)
            .unwrap_or("")
    }

    /// Whether `row` is the header line again.
    fn is_header(&self, row: &csv::StringRecord) -> bool {
        row.len() == self.names.len() && row.iter().map(str::trim).eq(self.names.iter())
    }
}

/// A record of a CSV file, or why its line could not be read.
pub enum Record {
    Row(csv::StringRecord),
    Unreadable(String),
    RepeatedHeader,
}

/// Reads every record of a CSV file after its header. A record that cannot be read becomes an
/// error for its line; the header repeated is marked; and a quote left open, which would make
/// the rest of the file one field, is reported at its line and reading goes on from the next
/// line (a record that runs over several lines with the wrong number of fields is one).
pub fn records(source: Source, bytes: &[u8]) -> AppResult<(Columns, Vec<(u64, Record)>)> {
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(bytes);
    let header = reader
        .headers()
        .map_err(|_| not_the_format(source, bytes))?
        .clone();
    let columns = Columns::new(&header);
    let body_start = reader.position().byte() as usize;
    let mut rows = Vec::new();
    // Where the reader started, in the file: byte offset and line.
    let mut from = (body_start, reader.position().line());
    'restart: loop {
        let slice = bytes.get(from.0..).unwrap_or_default();
        let mut reader = csv::ReaderBuilder::new()
            .flexible(true)
            .has_headers(false)
            .from_reader(slice);
        let mut record = csv::StringRecord::new();
        loop {
            let start = reader.position().clone();
            let line = from.1 + start.line() - 1;
            match reader.read_record(&mut record) {
                Ok(false) => break 'restart,
                Ok(true) => {
                    // More than the record's own line end inside it: it ran over lines.
                    let end = reader.position().byte() as usize;
                    let spans = slice
                        .get(start.byte() as usize..end)
                        .is_some_and(|text| text.iter().filter(|b| **b == b'\n').count() > 1);
                    if spans && record.len() != header.len() {
                        rows.push((
                            line,
                            Record::Unreadable(
                                "a quote opened in this row is never closed, so the row runs into the next lines: skipped; the lines after it are read on their own".into(),
                            ),
                        ));
                        // Go on from the line after this record's first.
                        let at = start.byte() as usize;
                        let next = slice
                            .get(at..)
                            .and_then(|rest| rest.iter().position(|b| *b == b'\n'))
                            .map(|n| from.0 + at + n + 1);
                        match next {
                            Some(offset) if offset < bytes.len() => {
                                from = (offset, line + 1);
                                continue 'restart;
                            }
                            _ => break 'restart,
                        }
                    }
                    if columns.is_header(&record) {
                        rows.push((line, Record::RepeatedHeader));
                    } else if record.iter().all(|f| f.trim().is_empty()) {
                        // A blank line is no row.
                    } else {
                        rows.push((line, Record::Row(record.clone())));
                    }
                }
                Err(e) => {
                    let line = e.position().map_or(line, |p| from.1 + p.line() - 1);
                    rows.push((line, Record::Unreadable(format!("unreadable row: {e}"))));
                    if e.is_io_error() {
                        break 'restart;
                    }
                }
            }
        }
    }
    Ok((columns, rows))
}

/// Turns each record into a row with `read`, keeping unreadable lines and repeated headers.
pub fn rows_of(
    records: Vec<(u64, Record)>,
    mut read: impl FnMut(&csv::StringRecord) -> Result<ImportedBook, String>,
) -> Parsed {
    records
        .into_iter()
        .map(|(line, record)| {
            let row = match record {
                Record::Row(r) => match read(&r) {
                    Ok(book) => ParsedRow::Book(Box::new(book)),
                    Err(reason) => ParsedRow::Unreadable(reason),
                },
                Record::Unreadable(reason) => ParsedRow::Unreadable(reason),
                Record::RepeatedHeader => ParsedRow::RepeatedHeader,
            };
            (line, row)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(date: &str) -> NaiveDateTime {
        chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d")
            .unwrap()
            .and_hms_opt(12, 0, 0)
            .unwrap()
    }

    fn books_of(parsed: Parsed) -> Vec<(u64, ImportedBook)> {
        parsed
            .into_iter()
            .filter_map(|(line, row)| match row {
                ParsedRow::Book(b) => Some((line, *b)),
                _ => None,
            })
            .collect()
    }

    /// Found by `fuzz/` (import_goodreads): a reading the import writes must pass the API's own
    /// validation. A read date in the future, or a finish before the start, was written as it
    /// was, since only rating, pages and progress were dropped when a reading did not validate.
    #[test]
    fn every_reading_written_passes_validation() {
        let now = at("2026-06-15");
        let goodreads = "Book Id,Title,Author,Exclusive Shelf,Date Read,My Rating\n\
                         1,Later,Someone,read,2026/06/23,4\n\
                         2,Abandoned Later,Someone,did-not-finish,2031/01/01,9\n";
        let storygraph = "Title,Authors,Read Status,Dates Read,Review\n\
                          Backwards,Someone,read,2024/05/10-2024/05/01,fine\n\
                          Tomorrow,Someone,read,2026/06/16,\n";
        for (source, file) in [
            (Source::Goodreads, goodreads),
            (Source::StoryGraph, storygraph),
        ] {
            for (_, book) in books_of(parse(source, file.as_bytes(), now).unwrap()) {
                let (checked, dropped) = check(book, now).unwrap();
                for reading in &checked.readings {
                    assert!(
                        readings::validate(reading.data.clone(), now.date()).is_ok(),
                        "{:?}",
                        reading.data
                    );
                }
                let _ = dropped;
            }
        }
    }

    #[test]
    fn bad_values_are_named_not_dropped_silently() {
        let now = at("2026-06-15");
        let file = "Book Id,Title,Author,Exclusive Shelf,Date Read,My Rating,Number of Pages\n\
                    1,Odd,Someone,read,2020/13/45,9,-20\n";
        let (_, book) = books_of(parse(Source::Goodreads, file.as_bytes(), now).unwrap())
            .pop()
            .unwrap();
        let mut fields: Vec<String> = book.problems.iter().map(|p| p.field.clone()).collect();
        let (checked, dropped) = check(book, now).unwrap();
        fields.extend(dropped.iter().map(|p| Source::Goodreads.column(&p.field)));
        fields.sort();
        assert_eq!(fields, ["Date Read", "My Rating", "Number of Pages"]);
        assert_eq!(checked.data.pages, None);
    }

    #[test]
    fn an_open_quote_is_reported_and_the_next_rows_still_read() {
        let file = "Book Id,Title,Author,Exclusive Shelf\n\
                    1,Fine,Someone,read\n\
                    2,\"Broken,Someone,read\n\
                    3,After,Someone,to-read\n\
                    Book Id,Title,Author,Exclusive Shelf\n\
                    4,Last,Someone,to-read\n";
        let (_, rows) = records(Source::Goodreads, file.as_bytes()).unwrap();
        let kinds: Vec<(u64, &str)> = rows
            .iter()
            .map(|(line, r)| {
                (
                    *line,
                    match r {
                        Record::Row(_) => "row",
                        Record::Unreadable(_) => "unreadable",
                        Record::RepeatedHeader => "header",
                    },
                )
            })
            .collect();
        assert_eq!(
            kinds,
            [
                (2, "row"),
                (3, "unreadable"),
                (4, "row"),
                (5, "header"),
                (6, "row")
            ]
        );
    }

    #[test]
    fn formats_are_detected_from_the_first_line() {
        assert_eq!(
            detect(b"Book Id,Title,Author,Exclusive Shelf\n"),
            Some(Source::Goodreads)
        );
        assert_eq!(
            detect(b"\xef\xbb\xbfTitle,Authors,Contributors,ISBN/UID,Format,Read Status\r\n"),
            Some(Source::StoryGraph)
        );
        assert_eq!(detect(b"  {\"books\": []}"), Some(Source::Panicless));
        // Found by schemathesis: a CSV header whose first column's name begins with `{`.
        assert_eq!(
            detect(b"{x,Title,Authors,Read Status\r\nA,B,read\r\n"),
            Some(Source::StoryGraph)
        );
        assert_eq!(detect(b"a,b,c\n"), None);
        assert_eq!(detect(b""), None);
    }

    #[test]
    fn series_is_split_from_titles() {
        assert_eq!(
            split_series("Leviathan Wakes (The Expanse, #1)"),
            (
                "Leviathan Wakes".to_string(),
                Some("The Expanse, #1".to_string())
            )
        );
        assert_eq!(
            split_series("Gay New York (1994)"),
            ("Gay New York (1994)".to_string(), None)
        );
    }
}

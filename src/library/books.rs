//! Books: create, read, update, delete, list with filters, duplicate detection, tags.

use super::memo::Memo;
use super::{
    fold, isbn, nullable, nullable_integer, optional_integer, page_window, validate_rating, Db,
    Page, Shelf,
};
use crate::db::schema::{book_tags, books};
use crate::db::time::{serialize_utc, StoredTime};
use crate::db::{write_transaction, Backend, DbConn, Writer};
use crate::error::{AppError, AppResult, FieldError};
use chrono::{DateTime, Datelike, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = books)]
pub struct BookRow {
    pub id: i64,
    pub title: String,
    pub authors: String,
    pub isbn10: Option<String>,
    pub isbn13: Option<String>,
    pub pages: Option<i32>,
    pub published_year: Option<i32>,
    pub publisher: Option<String>,
    pub language: Option<String>,
    pub tags: String,
    pub description: Option<String>,
    pub cover_url: Option<String>,
    pub shelf: String,
    pub series: Option<String>,
    pub rating: Option<f64>,
    pub created_at: StoredTime,
    pub updated_at: StoredTime,
    pub uid: String,
    pub goodreads_id: Option<String>,
    pub binding: Option<String>,
    pub added_at: StoredTime,
    pub reading_rating: Option<f64>,
    pub import_key: Option<String>,
}

/// A book as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct Book {
    pub id: i64,
    pub title: String,
    pub authors: Vec<String>,
    pub isbn10: Option<String>,
    pub isbn13: Option<String>,
    pub pages: Option<i32>,
    pub published_year: Option<i32>,
    pub publisher: Option<String>,
    pub language: Option<String>,
    pub tags: Vec<String>,
    pub description: Option<String>,
    pub cover_url: Option<String>,
    pub shelf: Shelf,
    /// Series and number, as in "The Expanse, #2".
    pub series: Option<String>,
    /// The rating (0.25 to 5) of the book's latest rated reading; without one, the rating given
    /// to the book itself.
    pub rating: Option<f64>,
    /// How the edition is bound ("Paperback", "Kindle Edition"), as Goodreads says it.
    pub binding: Option<String>,
    /// This library's own stable identity of the book (a UUID): exports carry it, and an import
    /// that meets it again updates this book. Never a Goodreads id.
    pub uid: String,
    /// The Goodreads "Book Id" the book was imported from, if it was.
    pub goodreads_id: Option<String>,
    /// When the book was added to the library: Goodreads' or StoryGraph's "Date Added" for an
    /// imported book, else when it was created here.
    #[serde(serialize_with = "serialize_utc")]
    pub added_at: DateTime<Utc>,
    #[serde(serialize_with = "serialize_utc")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "serialize_utc")]
    pub updated_at: DateTime<Utc>,
}

impl From<BookRow> for Book {
    fn from(row: BookRow) -> Self {
        Book {
            id: row.id,
            title: row.title,
            authors: split_list(&row.authors),
            isbn10: row.isbn10,
            isbn13: row.isbn13,
            pages: row.pages,
            published_year: row.published_year,
            publisher: row.publisher,
            language: row.language,
            tags: split_list(&row.tags),
            description: row.description,
            cover_url: row.cover_url,
            shelf: Shelf::parse(&row.shelf).unwrap_or_default(),
            series: row.series,
            rating: row.reading_rating.or(row.rating),
            binding: row.binding,
            uid: row.uid,
            goodreads_id: row.goodreads_id,
            added_at: row.added_at.and_utc(),
            created_at: row.created_at.and_utc(),
            updated_at: row.updated_at.and_utc(),
        }
    }
}

/// Lists are stored as JSON arrays of strings, as `join_list` writes them. Every book of a page
/// reads two back, so a list with no escape is split directly, and any other goes through
/// serde_json (bench/README.md, "Design notes moved from the code").
pub(crate) fn split_list(stored: &str) -> Vec<String> {
    split_plain(stored).unwrap_or_else(|| serde_json::from_str(stored).unwrap_or_default())
}

/// `["a","b"]` split without a parser, or `None` when the text is anything else: an escape, a
/// space between items, or a control character where serde_json would see an error.
fn split_plain(stored: &str) -> Option<Vec<String>> {
    let mut rest = stored.strip_prefix('[')?.strip_suffix(']')?;
    let mut items = Vec::new();
    if rest.is_empty() {
        return Some(items);
    }
    loop {
        rest = rest.strip_prefix('"')?;
        // With no backslash there is no escaped quote: the next quote closes the item.
        let end = rest
            .bytes()
            .position(|b| b == b'"' || b == b'\\' || b < 0x20)?;
        if rest.as_bytes()[end] != b'"' {
            return None;
        }
        items.push(rest[..end].to_owned());
        rest = &rest[end + 1..];
        if rest.is_empty() {
            return Some(items);
        }
        rest = rest.strip_prefix(',')?;
    }
}

pub(crate) fn join_list(items: &[String]) -> String {
    serde_json::to_string(items).unwrap_or_else(|_| "[]".into())
}

/// A new book.
///
/// The schema states the server's rules. Where JSON Schema cannot say one exactly, it says a
/// little less than the server accepts, never more, and the description gives the rule: an
/// ISBN's checksum (format `isbn`), a cover URL (any http or https URL is accepted).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewBook {
    /// At most 500 characters, not blank (leading and trailing spaces are trimmed).
    #[schema(
        min_length = 1,
        max_length = 500,
        pattern = r"[^\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
    )]
    pub title: String,
    /// At most 100 authors of at most 300 characters (blank names are dropped).
    #[serde(default)]
    #[schema(max_items = 100)]
    pub authors: Vec<String>,
    /// One author, for clients that send a single name.
    #[serde(default)]
    #[schema(max_length = 300)]
    pub author: Option<String>,
    /// ISBN-10 or ISBN-13, with or without dashes; checked and normalised.
    #[serde(default)]
    #[schema(format = "isbn")]
    pub isbn: Option<String>,
    #[serde(default)]
    #[schema(format = "isbn")]
    pub isbn10: Option<String>,
    #[serde(default)]
    #[schema(format = "isbn")]
    pub isbn13: Option<String>,
    #[serde(default, deserialize_with = "optional_integer")]
    #[schema(minimum = 1, maximum = 100_000)]
    pub pages: Option<i32>,
    /// From -3000 to five years from now (the maximum is this year's + 5).
    #[serde(default, deserialize_with = "optional_integer")]
    #[schema(minimum = -3000)]
    pub published_year: Option<i32>,
    #[serde(default)]
    #[schema(max_length = 300)]
    pub publisher: Option<String>,
    #[serde(default)]
    #[schema(max_length = 50)]
    pub language: Option<String>,
    /// At most 100 tags of at most 100 characters (lower-cased, duplicates merged).
    #[serde(default)]
    #[schema(max_items = 100)]
    pub tags: Vec<String>,
    #[serde(default)]
    #[schema(max_length = 20_000)]
    pub description: Option<String>,
    /// An http or https URL of at most 2000 characters ([`COVER_URL_PATTERN`]); blank is none.
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub cover_url: Option<String>,
    #[serde(default)]
    pub shelf: Option<Shelf>,
    #[serde(default)]
    #[schema(max_length = 300)]
    pub series: Option<String>,
    /// 0.25 to 5, in steps of 0.25.
    #[serde(default)]
    #[schema(minimum = 0.25, maximum = 5, multiple_of = 0.25)]
    pub rating: Option<f64>,
}

/// Changes to a book: absent fields stay as they are; `null` clears a field. The rules are those
/// of [`NewBook`].
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BookPatch {
    #[schema(
        min_length = 1,
        max_length = 500,
        pattern = r"[^\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
    )]
    pub title: Option<String>,
    #[schema(max_items = 100)]
    pub authors: Option<Vec<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, format = "isbn")]
    pub isbn: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable_integer")]
    #[schema(value_type = Option<i32>, minimum = 1, maximum = 100_000)]
    pub pages: Option<Option<i32>>,
    #[serde(default, deserialize_with = "nullable_integer")]
    #[schema(value_type = Option<i32>, minimum = -3000)]
    pub published_year: Option<Option<i32>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, max_length = 300)]
    pub publisher: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, max_length = 50)]
    pub language: Option<Option<String>>,
    #[schema(max_items = 100)]
    pub tags: Option<Vec<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, max_length = 20_000)]
    pub description: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, max_length = 2000)]
    pub cover_url: Option<Option<String>>,
    pub shelf: Option<Shelf>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, max_length = 300)]
    pub series: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<f64>, minimum = 0.25, maximum = 5, multiple_of = 0.25)]
    pub rating: Option<Option<f64>>,
}

/// Everything a book row holds, validated and normalised, ready to write.
#[derive(Debug, Clone, PartialEq)]
pub struct BookData {
    pub title: String,
    pub authors: Vec<String>,
    pub isbn10: Option<String>,
    pub isbn13: Option<String>,
    pub pages: Option<i32>,
    pub published_year: Option<i32>,
    pub publisher: Option<String>,
    pub language: Option<String>,
    pub tags: Vec<String>,
    pub description: Option<String>,
    pub cover_url: Option<String>,
    pub shelf: Shelf,
    pub series: Option<String>,
    /// The rating given to the book itself (a reading's rating is the reading's).
    pub rating: Option<f64>,
    pub binding: Option<String>,
}

impl BookData {
    pub fn from_row(row: &BookRow) -> Self {
        BookData {
            title: row.title.clone(),
            authors: split_list(&row.authors),
            isbn10: row.isbn10.clone(),
            isbn13: row.isbn13.clone(),
            pages: row.pages,
            published_year: row.published_year,
            publisher: row.publisher.clone(),
            language: row.language.clone(),
            tags: split_list(&row.tags),
            description: row.description.clone(),
            cover_url: row.cover_url.clone(),
            shelf: Shelf::parse(&row.shelf).unwrap_or_default(),
            series: row.series.clone(),
            rating: row.rating,
            binding: row.binding.clone(),
        }
    }

    pub fn primary_author(&self) -> &str {
        self.authors.first().map(String::as_str).unwrap_or("")
    }

    /// Same book, as far as duplicates go: folded title and first author.
    pub fn dedup_key(&self) -> String {
        format!("{}|{}", fold(&self.title), fold(self.primary_author()))
    }

    fn search_text(&self) -> String {
        let mut text = fold(&self.title);
        for part in self
            .authors
            .iter()
            .chain(self.tags.iter())
            .chain(self.series.iter())
            .chain(self.description.iter())
        {
            text.push(' ');
            text.push_str(&fold(part));
        }
        text
    }
}

fn clean_text(
    value: Option<String>,
    field: &str,
    max: usize,
    errors: &mut Vec<FieldError>,
) -> Option<String> {
    let raw = value?;
    // The limit counts what was sent, spaces included: the OpenAPI document's maxLength says
    // so, and a client that checks against it must never be refused less than it allows.
    // Checked before trimming: text made only of spaces is still text that was sent.
    if sent_length(&raw) > max {
        errors.push(FieldError::new(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    Some(raw.trim().to_string()).filter(|v| !v.is_empty())
}

/// A text's length as the OpenAPI document's `maxLength` counts it: Unicode scalar values as
/// sent, before any trimming or folding of white space. A limit checked after normalising
/// would accept what a client validating against the document is told is too long.
pub fn sent_length(text: &str) -> usize {
    text.chars().count()
}

/// Tags: trimmed, lower-cased, inner spaces collapsed, no duplicates.
pub fn normalise_tags(tags: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for tag in tags {
        let tag = tag
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase();
        if !tag.is_empty() && !out.contains(&tag) {
            out.push(tag);
        }
    }
    out
}

/// What a cover URL is: http or https, a host name (letters, digits and inner hyphens; no port,
/// no IP address, no internationalised name), then any printable ASCII. The OpenAPI document
/// states this pattern, so the rule is one a client can check; the `url` crate reads every text
/// it matches (a unit test checks), and the server asks both.
pub const COVER_URL_PATTERN: &str = concat!(
    r"^https?://(?:[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*\.)*[A-Za-z]+(?:-[A-Za-z0-9]+)*",
    r"(?:[/?#][!-~]*)?$"
);

pub(crate) fn is_cover_url(url: &str) -> bool {
    static PATTERN: std::sync::LazyLock<Option<regex::Regex>> =
        std::sync::LazyLock::new(|| regex::Regex::new(COVER_URL_PATTERN).ok());
    PATTERN.as_ref().is_some_and(|p| p.is_match(url))
        && matches!(
            url::Url::parse(url).as_ref().map(url::Url::scheme),
            Ok("http" | "https")
        )
}

/// Anthologies list many contributors; more than this is not a book's authorship.
pub const MAX_AUTHORS: usize = 100;

/// Validates every field at once, so the client sees all problems in one answer.
pub fn validate(data: BookData, now: NaiveDateTime) -> Result<BookData, AppError> {
    validate_with(data, now, Vec::new())
}

/// `validate`, adding the problems already found (an ISBN that did not parse).
fn validate_with(
    data: BookData,
    now: NaiveDateTime,
    mut errors: Vec<FieldError>,
) -> Result<BookData, AppError> {
    let title = data.title.trim().to_string();
    if title.is_empty() {
        errors.push(FieldError::new("title", "is required"));
    } else if sent_length(&data.title) > 500 {
        errors.push(FieldError::new("title", "must be at most 500 characters"));
    }
    let authors: Vec<String> = data
        .authors
        .iter()
        .map(|a| a.trim().to_string())
        .filter(|a| !a.is_empty())
        .collect();
    // How many: counted on the request's `authors` as sent (`NewBook::into_data`,
    // `BookPatch::apply`), which a single `author` may join; imports keep MAX_AUTHORS.
    if data.authors.iter().any(|a| sent_length(a) > 300) {
        errors.push(FieldError::new(
            "authors",
            format!("at most {MAX_AUTHORS} authors of at most 300 characters"),
        ));
    }
    if let Some(pages) = data.pages {
        if !(1..=100_000).contains(&pages) {
            errors.push(FieldError::new("pages", "must be between 1 and 100000"));
        }
    }
    if let Some(year) = data.published_year {
        if !(-3000..=now.year() + 5).contains(&year) {
            errors.push(FieldError::new("published_year", "is not a plausible year"));
        }
    }
    let tags = normalise_tags(&data.tags);
    if data.tags.len() > 100 || data.tags.iter().any(|t| sent_length(t) > 100) {
        errors.push(FieldError::new(
            "tags",
            "at most 100 tags of at most 100 characters",
        ));
    }
    let rating = match data.rating {
        Some(r) => match validate_rating(r) {
            Ok(r) => Some(r),
            Err(message) => {
                errors.push(FieldError::new("rating", message));
                None
            }
        },
        None => None,
    };
    let cover_url = clean_text(data.cover_url, "cover_url", 2000, &mut errors);
    if cover_url.as_deref().is_some_and(|url| !is_cover_url(url)) {
        errors.push(FieldError::new(
            "cover_url",
            "must be an http or https URL with a host name (no port or address)",
        ));
    }
    let validated = BookData {
        title,
        authors,
        isbn10: data.isbn10,
        isbn13: data.isbn13,
        pages: data.pages,
        published_year: data.published_year,
        publisher: clean_text(data.publisher, "publisher", 300, &mut errors),
        language: clean_text(data.language, "language", 50, &mut errors),
        tags,
        description: clean_text(data.description, "description", 20_000, &mut errors),
        cover_url,
        shelf: data.shelf,
        series: clean_text(data.series, "series", 300, &mut errors),
        rating,
        binding: clean_text(data.binding, "binding", 100, &mut errors),
    };
    if errors.is_empty() {
        Ok(validated)
    } else {
        Err(AppError::Validation(errors))
    }
}

/// Every problem with a new book, with `found` (fields a form could not read at all): for a
/// form that saves nothing until all are fixed, and shows them all at once.
pub fn problems(input: NewBook, mut found: Vec<FieldError>, now: NaiveDateTime) -> Vec<FieldError> {
    let (data, more) = input.into_data();
    found.extend(more);
    if let Err(AppError::Validation(more)) = validate(data, now) {
        found.extend(more);
    }
    found
}

/// Resolves the ISBN fields of a request into a checked pair.
fn resolve_isbn(
    any: Option<&str>,
    isbn10: Option<&str>,
    isbn13: Option<&str>,
) -> Result<(Option<String>, Option<String>), FieldError> {
    let candidates = [("isbn", any), ("isbn13", isbn13), ("isbn10", isbn10)];
    let mut first = None;
    // Every one given is checked, not only the one used: an invalid ISBN is never silently
    // ignored because another field held a valid one.
    // A blank one is refused too: the document says an ISBN, and no ISBN is null or absent
    // (a form's empty field is the page's to leave out).
    for (field, value) in candidates {
        if let Some(raw) = value.map(str::trim) {
            if raw.is_empty() {
                return Err(FieldError::new(
                    field,
                    "is empty: leave it out, or send null, for no ISBN",
                ));
            }
            let parsed = isbn::parse(raw).map_err(|m| FieldError::new(field, m))?;
            first.get_or_insert(parsed);
        }
    }
    Ok(first.map_or((None, None), |p| (p.isbn10, Some(p.isbn13))))
}

/// More than MAX_AUTHORS in a request's `authors`, counted as sent (blanks included): the
/// document's `maxItems`.
fn too_many_authors(authors: &[String]) -> Option<FieldError> {
    (authors.len() > MAX_AUTHORS).then(|| {
        FieldError::new(
            "authors",
            format!("at most {MAX_AUTHORS} authors of at most 300 characters"),
        )
    })
}

impl NewBook {
    /// The book's data, and the problem with its ISBN if there is one.
    pub fn into_data(self) -> (BookData, Vec<FieldError>) {
        let (isbn10, isbn13, errors) = match resolve_isbn(
            self.isbn.as_deref(),
            self.isbn10.as_deref(),
            self.isbn13.as_deref(),
        ) {
            Ok((isbn10, isbn13)) => (isbn10, isbn13, Vec::new()),
            Err(error) => (None, None, vec![error]),
        };
        let mut errors = errors;
        if let Some(error) = too_many_authors(&self.authors) {
            errors.push(error);
        }
        let mut authors = self.authors;
        if let Some(author) = self.author {
            authors.insert(0, author);
        }
        let data = BookData {
            title: self.title,
            authors,
            isbn10,
            isbn13,
            pages: self.pages,
            published_year: self.published_year,
            publisher: self.publisher,
            language: self.language,
            tags: self.tags,
            description: self.description,
            cover_url: self.cover_url,
            shelf: self.shelf.unwrap_or_default(),
            series: self.series,
            rating: self.rating,
            binding: None,
        };
        (data, errors)
    }
}

impl BookPatch {
    fn apply(self, mut data: BookData) -> Result<BookData, AppError> {
        if let Some(title) = self.title {
            data.title = title;
        }
        if let Some(authors) = self.authors {
            if let Some(error) = too_many_authors(&authors) {
                return Err(AppError::Validation(vec![error]));
            }
            data.authors = authors;
        }
        if let Some(isbn) = self.isbn {
            let (isbn10, isbn13) = resolve_isbn(isbn.as_deref(), None, None)
                .map_err(|e| AppError::Validation(vec![e]))?;
            data.isbn10 = isbn10;
            data.isbn13 = isbn13;
        }
        if let Some(v) = self.pages {
            data.pages = v;
        }
        if let Some(v) = self.published_year {
            data.published_year = v;
        }
        if let Some(v) = self.publisher {
            data.publisher = v;
        }
        if let Some(v) = self.language {
            data.language = v;
        }
        if let Some(v) = self.tags {
            data.tags = v;
        }
        if let Some(v) = self.description {
            data.description = v;
        }
        if let Some(v) = self.cover_url {
            data.cover_url = v;
        }
        if let Some(v) = self.shelf {
            data.shelf = v;
        }
        if let Some(v) = self.series {
            data.series = v;
        }
        if let Some(v) = self.rating {
            data.rating = v;
        }
        Ok(data)
    }
}

pub(crate) fn find_row(conn: &mut DbConn, user_id: i64, id: i64) -> AppResult<BookRow> {
    books::table
        .filter(books::id.eq(id))
        .filter(books::user_id.eq(user_id))
        .select(BookRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(AppError::NotFound)
}

pub fn get(conn: &mut DbConn, user_id: i64, id: i64) -> AppResult<Book> {
    find_row(conn, user_id, id).map(Book::from)
}

/// The id of a book of this user that `data` duplicates: same ISBN-13, or same folded title and
/// first author.
pub fn find_duplicate(
    conn: &mut DbConn,
    user_id: i64,
    data: &BookData,
    except: Option<i64>,
) -> AppResult<Option<i64>> {
    // Two lookups, each on its own index: SQLite plans `isbn13 = ? OR dedup_key = ?` as a scan
    // of every book of the user (bench/README.md, "Design notes moved from the code").
    let candidates = || {
        let query = books::table
            .filter(books::user_id.eq(user_id))
            .select(books::id)
            .into_boxed::<Db>();
        match except {
            Some(except) => query.filter(books::id.ne(except)),
            None => query,
        }
    };
    if let Some(isbn13) = &data.isbn13 {
        let by_isbn = candidates()
            .filter(books::isbn13.eq(isbn13.clone()))
            .first(conn)
            .optional()?;
        if by_isbn.is_some() {
            return Ok(by_isbn);
        }
    }
    Ok(candidates()
        .filter(books::dedup_key.eq(data.dedup_key()))
        .first(conn)
        .optional()?)
}

fn conflict(existing_id: i64) -> AppError {
    AppError::Conflict {
        message: format!("this book is already in your library (id {existing_id})"),
        existing_id: Some(existing_id),
    }
}

/// The stored columns of a book, derived from its validated data: written the same way by
/// insert and update. `None` is written as NULL (a PATCH that clears a field clears it), and the
/// INSERT is one SQL text whatever is missing, so its prepared statement is reused.
#[derive(Insertable, AsChangeset)]
#[diesel(table_name = books, treat_none_as_null = true, treat_none_as_default_value = false)]
struct BookColumns<'a> {
    title: &'a str,
    authors: String,
    primary_author: &'a str,
    authors_folded: String,
    isbn10: Option<&'a str>,
    isbn13: Option<&'a str>,
    pages: Option<i32>,
    published_year: Option<i32>,
    publisher: Option<&'a str>,
    language: Option<&'a str>,
    tags: String,
    description: Option<&'a str>,
    cover_url: Option<&'a str>,
    shelf: &'a str,
    series: Option<&'a str>,
    rating: Option<f64>,
    binding: Option<&'a str>,
    search_text: String,
    dedup_key: String,
    updated_at: NaiveDateTime,
}

impl<'a> BookColumns<'a> {
    fn of(data: &'a BookData, now: NaiveDateTime) -> Self {
        BookColumns {
            title: &data.title,
            authors: join_list(&data.authors),
            primary_author: data.primary_author(),
            authors_folded: fold(&data.authors.join(" | ")),
            isbn10: data.isbn10.as_deref(),
            isbn13: data.isbn13.as_deref(),
            pages: data.pages,
            published_year: data.published_year,
            publisher: data.publisher.as_deref(),
            language: data.language.as_deref(),
            tags: join_list(&data.tags),
            description: data.description.as_deref(),
            cover_url: data.cover_url.as_deref(),
            shelf: data.shelf.as_str(),
            series: data.series.as_deref(),
            rating: data.rating,
            binding: data.binding.as_deref(),
            search_text: data.search_text(),
            dedup_key: data.dedup_key(),
            updated_at: now,
        }
    }
}

/// Where a new book comes from: the identities it keeps and when it was added. A book made
/// here has none of them: it gets a fresh `uid` and is added now.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Origin {
    /// Our own identity, kept from an export of this library (or another one of ours).
    pub uid: Option<String>,
    /// The import's key for the row (`goodreads:<Book Id>`, `storygraph:<isbn>`, ...).
    pub import_key: Option<String>,
    pub goodreads_id: Option<String>,
    pub added_at: Option<NaiveDateTime>,
}

/// A fresh book identity: a random (version 4) UUID.
pub fn new_uid() -> String {
    use rand::Rng;
    let mut bytes: [u8; 16] = rand::thread_rng().gen();
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// Whether `text` is a UUID as [`new_uid`] writes them (any version): what an import accepts as
/// a Panicless Id.
pub fn is_uid(text: &str) -> bool {
    text.len() == 36
        && text.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit() && !c.is_ascii_uppercase(),
        })
}

/// Inserts a validated book (no duplicate check) and its tags; returns the new id.
pub fn insert(
    conn: &mut Writer<'_>,
    user_id: i64,
    data: &BookData,
    origin: &Origin,
    now: NaiveDateTime,
) -> AppResult<i64> {
    let uid = origin.uid.clone().unwrap_or_else(new_uid);
    let id: i64 = diesel::insert_into(books::table)
        .values((
            BookColumns::of(data, now),
            books::user_id.eq(user_id),
            books::import_key.eq(origin.import_key.as_deref()),
            books::uid.eq(uid),
            books::goodreads_id.eq(origin.goodreads_id.as_deref()),
            books::added_at.eq(origin.added_at.unwrap_or(now)),
            books::created_at.eq(now),
        ))
        .returning(books::id)
        .get_result(&mut **conn)?;
    write_tags(conn, user_id, id, &data.tags)?;
    Ok(id)
}

/// A new book for [`insert_many`]: its validated data, where it comes from, and the rating of
/// the readings the caller inserts with it ([`super::readings::latest_rating`]).
pub struct NewRow<'a> {
    pub data: &'a BookData,
    pub origin: &'a Origin,
    pub reading_rating: Option<f64>,
}

/// Books per INSERT of [`insert_many`]: 28 values each, within SQLite's 32,766 bound parameters
/// (and PostgreSQL's 65,535).
const BOOKS_PER_INSERT: usize = 1_000;
/// Tags per INSERT: 3 values each.
const TAGS_PER_INSERT: usize = 5_000;

/// Inserts validated books (no duplicate check) and their tags in multi-row statements, a round
/// trip for up to a thousand books where [`insert`] takes one per book and per tag; returns
/// their ids, in the order given.
pub fn insert_many(
    conn: &mut Writer<'_>,
    user_id: i64,
    rows: &[NewRow],
    now: NaiveDateTime,
) -> AppResult<Vec<i64>> {
    let mut ids = Vec::with_capacity(rows.len());
    for chunk in rows.chunks(BOOKS_PER_INSERT) {
        let uids: Vec<String> = chunk
            .iter()
            .map(|row| row.origin.uid.clone().unwrap_or_else(new_uid))
            .collect();
        let values: Vec<_> = chunk
            .iter()
            .zip(&uids)
            .map(|(row, uid)| {
                (
                    BookColumns::of(row.data, now),
                    books::user_id.eq(user_id),
                    books::import_key.eq(row.origin.import_key.as_deref()),
                    books::uid.eq(uid.as_str()),
                    books::goodreads_id.eq(row.origin.goodreads_id.as_deref()),
                    books::added_at.eq(row.origin.added_at.unwrap_or(now)),
                    books::created_at.eq(now),
                    books::reading_rating.eq(row.reading_rating),
                )
            })
            .collect();
        // Matched back by uid (unique per user): SQL promises no order for RETURNING.
        let returned: Vec<(i64, String)> = crate::db::on_backend!(&mut **conn, c => {
            diesel::insert_into(books::table)
                .values(&values)
                .returning((books::id, books::uid))
                .get_results(c)
        })?;
        let by_uid: std::collections::HashMap<&str, i64> = returned
            .iter()
            .map(|(id, uid)| (uid.as_str(), *id))
            .collect();
        for uid in &uids {
            let id = by_uid
                .get(uid.as_str())
                .copied()
                .ok_or_else(|| AppError::internal("a book inserted was not returned"))?;
            ids.push(id);
        }
    }
    let tags: Vec<(i64, &str)> = rows
        .iter()
        .zip(&ids)
        .flat_map(|(row, id)| row.data.tags.iter().map(move |tag| (*id, tag.as_str())))
        .collect();
    insert_tags(conn, user_id, &tags)?;
    Ok(ids)
}

/// Inserts (book, tag) rows of the user in multi-row statements.
fn insert_tags(conn: &mut Writer<'_>, user_id: i64, tags: &[(i64, &str)]) -> AppResult<()> {
    for chunk in tags.chunks(TAGS_PER_INSERT) {
        let values: Vec<_> = chunk
            .iter()
            .map(|(book_id, tag)| {
                (
                    book_tags::book_id.eq(*book_id),
                    book_tags::user_id.eq(user_id),
                    book_tags::tag.eq(*tag),
                )
            })
            .collect();
        crate::db::on_backend!(&mut **conn, c => diesel::insert_into(book_tags::table)
            .values(&values)
            .execute(c))?;
    }
    Ok(())
}

/// Overwrites a book's fields with validated data.
pub fn write(
    conn: &mut Writer<'_>,
    user_id: i64,
    id: i64,
    data: &BookData,
    now: NaiveDateTime,
) -> AppResult<()> {
    diesel::update(
        books::table
            .filter(books::id.eq(id))
            .filter(books::user_id.eq(user_id)),
    )
    .set(BookColumns::of(data, now))
    .execute(&mut **conn)?;
    diesel::delete(book_tags::table.filter(book_tags::book_id.eq(id))).execute(&mut **conn)?;
    write_tags(conn, user_id, id, &data.tags)
}

fn write_tags(conn: &mut Writer<'_>, user_id: i64, book_id: i64, tags: &[String]) -> AppResult<()> {
    let rows: Vec<(i64, &str)> = tags.iter().map(|tag| (book_id, tag.as_str())).collect();
    insert_tags(conn, user_id, &rows)
}

/// Adds a book. A duplicate (same ISBN, or same title and author) is a 409 naming the
/// existing book.
pub fn create(
    conn: &mut DbConn,
    user_id: i64,
    input: NewBook,
    now: NaiveDateTime,
) -> AppResult<Book> {
    let (data, problems) = input.into_data();
    let data = validate_with(data, now, problems)?;
    write_transaction(conn, |conn| {
        if let Some(existing) = find_duplicate(conn, user_id, &data, None)? {
            return Err(conflict(existing));
        }
        let id = insert(conn, user_id, &data, &Origin::default(), now)?;
        get(conn, user_id, id)
    })
}

pub fn update(
    conn: &mut DbConn,
    user_id: i64,
    id: i64,
    patch: BookPatch,
    now: NaiveDateTime,
) -> AppResult<Book> {
    write_transaction(conn, |conn| {
        let row = find_row(conn, user_id, id)?;
        let data = validate(patch.apply(BookData::from_row(&row))?, now)?;
        if let Some(existing) = find_duplicate(conn, user_id, &data, Some(id))? {
            return Err(conflict(existing));
        }
        write(conn, user_id, id, &data, now)?;
        get(conn, user_id, id)
    })
}

pub fn set_shelf(
    conn: &mut DbConn,
    user_id: i64,
    id: i64,
    shelf: Shelf,
    now: NaiveDateTime,
) -> AppResult<Book> {
    write_transaction(conn, |conn| {
        let updated = diesel::update(
            books::table
                .filter(books::id.eq(id))
                .filter(books::user_id.eq(user_id)),
        )
        .set((books::shelf.eq(shelf.as_str()), books::updated_at.eq(now)))
        .execute(&mut **conn)?;
        if updated == 0 {
            return Err(AppError::NotFound);
        }
        get(conn, user_id, id)
    })
}

/// Deletes a book; its readings and tags go with it (foreign keys cascade).
pub fn delete(conn: &mut DbConn, user_id: i64, id: i64) -> AppResult<()> {
    let deleted = write_transaction(conn, |conn| {
        diesel::delete(
            books::table
                .filter(books::id.eq(id))
                .filter(books::user_id.eq(user_id)),
        )
        .execute(&mut **conn)
    })?;
    if deleted == 0 {
        Err(AppError::NotFound)
    } else {
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum BookSort {
    /// When the book was added (the default).
    #[default]
    Added,
    Updated,
    Title,
    Author,
    Published,
    Pages,
    /// When the book was last finished (books never finished come last, either way).
    Read,
    /// The book's rating (unrated books come last, either way).
    Rating,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SortOrder {
    Asc,
    #[default]
    Desc,
}

/// Filters, sorting and paging for a book list.
#[derive(Debug, Clone, Default, Deserialize, IntoParams, ToSchema)]
#[into_params(parameter_in = Query)]
pub struct BookQuery {
    /// Words that must all appear in the title, authors, series, description or tags
    /// (case- and accent-insensitive).
    pub q: Option<String>,
    /// Part of an author's name.
    pub author: Option<String>,
    /// A tag (exact, case-insensitive).
    pub tag: Option<String>,
    pub shelf: Option<Shelf>,
    pub sort: Option<BookSort>,
    pub order: Option<SortOrder>,
    /// 1 to 100, default 20.
    #[param(minimum = 1, maximum = 100)]
    #[schema(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    #[param(minimum = 0)]
    #[schema(minimum = 0)]
    pub offset: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl BookQuery {
    /// Every book of the user: no filter at all.
    fn is_unfiltered(&self) -> bool {
        self.q.is_none() && self.author.is_none() && self.tag.is_none() && self.shelf.is_none()
    }

    /// What selects the books (not their order or page): the key of a memoised total.
    fn filter_key(&self) -> String {
        format!(
            "{:?}|{:?}|{:?}|{:?}",
            self.shelf, self.author, self.tag, self.q
        )
    }
}

/// How `q` is matched: through the trigram index (SQLite), or by reading rows with LIKE.
#[derive(Clone, Copy, PartialEq, Eq)]
enum TextMatch {
    Indexed,
    Scan,
}

/// The user's books matching the query's filters. `matching` chooses how `q` is matched; both
/// give the same rows.
fn filtered(
    backend: Backend,
    user_id: i64,
    query: &BookQuery,
    matching: TextMatch,
) -> books::BoxedQuery<'static, Db> {
    let mut q = books::table
        .filter(books::user_id.eq(user_id))
        .into_boxed::<Db>();
    if let Some(shelf) = query.shelf {
        q = q.filter(books::shelf.eq(shelf.as_str()));
    }
    if let Some(author) = query.author.as_deref().map(fold).filter(|a| !a.is_empty()) {
        q = q.filter(
            books::authors_folded
                .like(format!("%{}%", escape_like(&author)))
                .escape('\\'),
        );
    }
    if let Some(tag) = query.tag.as_deref() {
        let tag = normalise_tags(&[tag.to_string()]).pop().unwrap_or_default();
        q = q.filter(
            books::id.eq_any(
                book_tags::table
                    .filter(book_tags::user_id.eq(user_id))
                    .filter(book_tags::tag.eq(tag))
                    .select(book_tags::book_id),
            ),
        );
    }
    if let Some(text) = query.q.as_deref() {
        let folded = fold(text);
        let terms: Vec<&str> = folded.split_whitespace().take(10).collect();
        // On SQLite, terms of three characters or more go to the trigram index (the same
        // substring match as LIKE, without reading every row); shorter ones use LIKE.
        let (indexed, scanned): (Vec<&str>, Vec<&str>) = terms.iter().partition(|term| {
            backend == Backend::Sqlite && matching == TextMatch::Indexed && term.len() >= 3
        });
        if !indexed.is_empty() {
            // Folded terms are ASCII letters and digits only; quoting makes each a phrase.
            let pattern = indexed
                .iter()
                .map(|term| format!("\"{term}\""))
                .collect::<Vec<_>>()
                .join(" ");
            q = q.filter(
                diesel::dsl::sql::<diesel::sql_types::Bool>(
                    "books.id IN (SELECT rowid FROM books_fts WHERE books_fts MATCH ",
                )
                .bind::<diesel::sql_types::Text, _>(pattern)
                .sql(")"),
            );
        }
        for term in scanned {
            q = q.filter(
                books::search_text
                    .like(format!("%{}%", escape_like(term)))
                    .escape('\\'),
            );
        }
    }
    q
}

/// An ORDER BY clause written out, for what both backends say alike in SQL but not in Diesel
/// (`NULLS LAST`).
fn sql_order(clause: &'static str) -> diesel::expression::SqlLiteral<diesel::sql_types::Bool> {
    diesel::dsl::sql::<diesel::sql_types::Bool>(clause)
}

/// How many books the user has on each shelf, and in all: the figures the library page shows
/// beside its shelf filters. Counted in one query, memoised like any list total.
pub fn shelf_counts(conn: &mut DbConn, memo: &Memo, user_id: i64) -> AppResult<ShelfCounts> {
    let counted = memo.shelves(conn, user_id, |conn| {
        Ok(books::table
            .filter(books::user_id.eq(user_id))
            .group_by(books::shelf)
            .select((books::shelf, diesel::dsl::count_star()))
            .load::<(String, i64)>(conn)?)
    })?;
    let on = |shelf: Shelf| {
        counted
            .iter()
            .filter(|(name, _)| name == shelf.as_str())
            .map(|(_, n)| n)
            .sum::<i64>()
    };
    Ok(ShelfCounts {
        shelves: Shelf::ALL.into_iter().map(|s| (s, on(s))).collect(),
        total: counted.iter().map(|(_, n)| n).sum(),
    })
}

/// What [`shelf_counts`] finds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShelfCounts {
    pub shelves: Vec<(Shelf, i64)>,
    pub total: i64,
}

fn escape_like(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// How many of the user's books match the query's filters, kept under the library's version:
/// counting reads every matching row, which for a large library costs more than the page.
fn count_matching(
    conn: &mut DbConn,
    memo: &Memo,
    user_id: i64,
    query: &BookQuery,
) -> AppResult<i64> {
    memo.count(conn, user_id, query.filter_key(), |conn| {
        Ok(filtered(conn.backend(), user_id, query, TextMatch::Indexed)
            .count()
            .get_result(conn)?)
    })
}

pub fn list(
    conn: &mut DbConn,
    memo: &Memo,
    user_id: i64,
    query: &BookQuery,
) -> AppResult<Page<Book>> {
    let (limit, offset) = page_window(query.limit, query.offset, query.cursor.as_deref())
        .map_err(|e| AppError::Validation(vec![e]))?;
    let total = count_matching(conn, memo, user_id, query)?;
    let asc = query.order == Some(SortOrder::Asc);
    let sort = query.sort.unwrap_or_default();
    // The plain listing, newest or oldest first, is what clients ask for most: a static query,
    // whose prepared statement is found by type, not by SQL rendered again (bench/README.md).
    if query.is_unfiltered() && sort == BookSort::Added {
        let rows: Vec<BookRow> = crate::db::on_backend!(conn, c => {
            let mine = books::table
                .filter(books::user_id.eq(user_id))
                .select(BookRow::as_select())
                .limit(limit)
                .offset(offset);
            if asc {
                mine.order((books::added_at.asc(), books::id.asc())).load(c)
            } else {
                mine.order((books::added_at.desc(), books::id.desc())).load(c)
            }
        })?;
        let items = rows.into_iter().map(Book::from).collect();
        return Ok(Page::new(items, total, limit, offset));
    }
    // The trigram index yields every match, to be sorted; walking the books newest first stops
    // after the page, about (offset + limit) x all / matches rows. The memoised totals tell
    // which is cheaper (bench/README.md, "Design notes moved from the code").
    let text = if query.q.is_some() && sort == BookSort::Added && total > 0 {
        let all = count_matching(conn, memo, user_id, &BookQuery::default())?;
        let expected_reads = (offset + limit).saturating_mul(all) / total;
        if expected_reads <= 2_000 {
            TextMatch::Scan
        } else {
            TextMatch::Indexed
        }
    } else {
        TextMatch::Indexed
    };
    let backend = conn.backend();
    let mut rows = filtered(backend, user_id, query, text);
    rows = match (sort, asc) {
        // The added date a book shows (an import's "Date Added"), not the order rows were
        // written in.
        (BookSort::Added, false) => rows.order((books::added_at.desc(), books::id.desc())),
        (BookSort::Added, true) => rows.order((books::added_at.asc(), books::id.asc())),
        (BookSort::Updated, false) => rows.order((books::updated_at.desc(), books::id.desc())),
        (BookSort::Updated, true) => rows.order((books::updated_at.asc(), books::id.asc())),
        // PostgreSQL's indexes hold the texts' first 200 characters (migration
        // 2026-12-06-000300): ordered by those first, the index gives the same order.
        (BookSort::Title, false) if backend == Backend::Postgres => rows.order(sql_order(
            "left(books.search_text, 200) DESC, books.search_text DESC, books.id DESC",
        )),
        (BookSort::Title, true) if backend == Backend::Postgres => rows.order(sql_order(
            "left(books.search_text, 200) ASC, books.search_text ASC, books.id ASC",
        )),
        (BookSort::Author, false) if backend == Backend::Postgres => rows.order(sql_order(
            "left(books.authors_folded, 200) DESC, books.authors_folded DESC, books.id DESC",
        )),
        (BookSort::Author, true) if backend == Backend::Postgres => rows.order(sql_order(
            "left(books.authors_folded, 200) ASC, books.authors_folded ASC, books.id ASC",
        )),
        (BookSort::Title, false) => rows.order((books::search_text.desc(), books::id.desc())),
        (BookSort::Title, true) => rows.order((books::search_text.asc(), books::id.asc())),
        (BookSort::Author, false) => rows.order((books::authors_folded.desc(), books::id.desc())),
        (BookSort::Author, true) => rows.order((books::authors_folded.asc(), books::id.asc())),
        (BookSort::Published, false) => {
            rows.order((books::published_year.desc(), books::id.desc()))
        }
        (BookSort::Published, true) => rows.order((books::published_year.asc(), books::id.asc())),
        (BookSort::Pages, false) => rows.order((books::pages.desc(), books::id.desc())),
        (BookSort::Pages, true) => rows.order((books::pages.asc(), books::id.asc())),
        // Unrated and never-read books come last either way (written out: NULL sorts first on
        // one backend and last on the other). Latest or best first, the common order, walks
        // the indexes of migration 2026-12-05-000300.
        // The rating a book shows: its latest rated reading's, else its own (`Book::rating`).
        (BookSort::Rating, false) => rows.order(sql_order(
            "COALESCE(books.reading_rating, books.rating) DESC NULLS LAST, books.id DESC",
        )),
        (BookSort::Rating, true) => rows.order(sql_order(
            "COALESCE(books.reading_rating, books.rating) ASC NULLS LAST, books.id ASC",
        )),
        (BookSort::Read, false) => rows.order(sql_order(
            "books.last_finished_on DESC NULLS LAST, books.id DESC",
        )),
        (BookSort::Read, true) => rows.order(sql_order(
            "books.last_finished_on ASC NULLS LAST, books.id ASC",
        )),
    };
    let items: Vec<Book> = rows
        .select(BookRow::as_select())
        .limit(limit)
        .offset(offset)
        .load(conn)?
        .into_iter()
        .map(Book::from)
        .collect();
    Ok(Page::new(items, total, limit, offset))
}

#[cfg(test)]
mod tests {
    use super::{is_cover_url, join_list, split_list, split_plain, COVER_URL_PATTERN};

    /// Every text the cover URL pattern (stated by the OpenAPI document) matches is a URL the
    /// `url` crate reads, so the pattern alone is the rule; and real covers pass.
    #[test]
    fn cover_urls_are_exactly_the_pattern() {
        use rand::Rng;
        let pattern = regex::Regex::new(COVER_URL_PATTERN).unwrap();
        for url in [
            "https://m.media-amazon.com/images/I/51Ga5GuElyL._SX331_BO1,204,203,200_.jpg",
            "https://covers.openlibrary.org/b/isbn/9780441013593-L.jpg?default=false",
            "http://Example.ORG",
            "https://i.gr-assets.com/images/S/compressed.photo.goodreads.com/books/1/2._SY475_.jpg",
        ] {
            assert!(is_cover_url(url), "{url}");
        }
        for url in [
            "https://3fq.e038f\t*",
            "http://1.2.3.4/x",
            "https://books.example:8080/x",
            "https://xn--a.com/",
            "ftp://books.example/x",
            "https://-a.example",
            "https://bücher.example",
            "https:///x",
        ] {
            assert!(!is_cover_url(url), "{url}");
        }
        let pieces = [
            "http://", "https://", "a", "Z", "0", "9", "-", ".", "xn--", "/", "?", "#", ":", "%",
            "\\", "@", "[", "]", "1.2", "*", " ", "\t", "é", "~", "\"", "<", "{",
        ];
        let mut rng = rand::thread_rng();
        let mut matched = 0;
        for _ in 0..200_000 {
            let mut text = String::from(["http://", "https://"][rng.gen_range(0..2)]);
            for _ in 0..rng.gen_range(1..10) {
                text.push_str(pieces[rng.gen_range(0..pieces.len())]);
            }
            if pattern.is_match(&text) {
                matched += 1;
                assert!(is_cover_url(&text), "{text:?} matches but does not parse");
            }
        }
        assert!(matched > 1000, "only {matched} random URLs matched");
    }

    /// The fast path must read exactly what serde_json reads, and step aside where it cannot.
    #[test]
    fn split_list_reads_what_serde_json_reads() {
        let lists: &[&[&str]] = &[
            &[],
            &[""],
            &["Ursula K. Le Guin"],
            &["Terry Pratchett", "Neil Gaiman"],
            &["a\",\"b", "quote \" inside", "back\\slash"],
            &["tab\tand\nnewline", "\u{7f}", "日本語", "emoji 📚"],
            &["", "", ""],
            &[",", "[", "]", "\","],
        ];
        for list in lists {
            let items: Vec<String> = list.iter().map(|s| s.to_string()).collect();
            let stored = join_list(&items);
            assert_eq!(split_list(&stored), items, "{stored}");
        }
        for stored in [
            "[]",
            "[\"a\"]",
            "[\"a\", \"b\"]",
            "[ \"a\" ]",
            "[\"a\",\"b\",\"\"]",
            "[\"a\"\"b\"]",
            "[\"a\",\"b\"",
            "[\"a\tb\"]",
            "[\"\\u00e9\"]",
            "[1,2]",
            "not json",
            "",
        ] {
            let expected: Vec<String> = serde_json::from_str(stored).unwrap_or_default();
            assert_eq!(split_list(stored), expected, "{stored:?}");
        }
        // The common case is the fast one.
        assert!(split_plain("[\"Le Guin\",\"Gaiman\"]").is_some());
        assert!(split_plain("[\"a\\\"b\"]").is_none());
    }

    /// Random texts built from the characters that matter to the split: whatever the text,
    /// `split_list` answers as serde_json does, and any list round-trips through `join_list`.
    #[test]
    fn split_list_agrees_with_serde_json_on_random_texts() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(8);
        let alphabet: Vec<char> = "ab ,[]\"\\\u{1}\té📚".chars().collect();
        for _ in 0..20_000 {
            let length = rng.gen_range(0..14);
            let text: String = (0..length)
                .map(|_| alphabet[rng.gen_range(0..alphabet.len())])
                .collect();
            for stored in [text.clone(), format!("[{text}]"), format!("[\"{text}\"]")] {
                let expected: Vec<String> = serde_json::from_str(&stored).unwrap_or_default();
                assert_eq!(split_list(&stored), expected, "{stored:?}");
            }
            let items: Vec<String> = text.split(',').map(str::to_owned).collect();
            assert_eq!(split_list(&join_list(&items)), items, "{items:?}");
        }
    }
}

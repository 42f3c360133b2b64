//! The library's pages: `/books` (shelves, search, sort, pages of results), `/books/new` (with
//! "Look it up"), `/books/{id}` (shelf, rating, readings), `/books/{id}/edit`, and deleting
//! after a confirmation page. Handlers only read forms and render: every rule is in
//! `crate::library`, which the API and MCP call too.

use super::{redirect, render, PageError, SignedIn};
use crate::auth::csrf;
use crate::db::{self, models::now};
use crate::error::{AppError, FieldError};
use crate::library::books::{self, Book, BookPatch, BookQuery, BookSort, NewBook, SortOrder};
use crate::library::metadata::{FoundBook, LookupError};
use crate::library::readings::{self, NewReading, Reading, ReadingQuery};
use crate::library::{isbn, ReadingStatus, Shelf};
use crate::state::AppState;
use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use chrono::NaiveDate;
use serde::Deserialize;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/books", web::get().to(list))
        .route("/books/new", web::get().to(new_form))
        .route("/books/new", web::post().to(create))
        .route("/books/{id}", web::get().to(show))
        .route("/books/{id}/edit", web::get().to(edit_form))
        .route("/books/{id}/edit", web::post().to(edit))
        .route("/books/{id}/shelf", web::post().to(change_shelf))
        .route("/books/{id}/rating", web::post().to(rate))
        .route("/books/{id}/readings", web::post().to(log_reading))
        .route("/books/{id}/delete", web::get().to(delete_form))
        .route("/books/{id}/delete", web::post().to(delete));
}

type PageResult = Result<HttpResponse, PageError>;

/// Books a page of the library shows.
pub const PAGE_SIZE: i64 = 20;

const FLASH_KEY: &str = "flash";

/// A message for the next page the user sees (after a redirect).
fn flash(session: &Session, message: String) {
    let _ = session.insert(FLASH_KEY, message);
}

fn take_flash(session: &Session) -> Option<String> {
    session.remove_as::<String>(FLASH_KEY).and_then(Result::ok)
}

pub fn shelf_label(shelf: Shelf) -> &'static str {
    match shelf {
        Shelf::ToRead => "To read",
        Shelf::Reading => "Reading",
        Shelf::Read => "Read",
        Shelf::Abandoned => "Abandoned",
    }
}

/// The shelves as a select's options, `current` chosen.
fn shelf_choices(current: Shelf) -> Vec<Choice> {
    Shelf::ALL
        .into_iter()
        .map(|shelf| Choice {
            value: shelf.as_str(),
            label: shelf_label(shelf),
            selected: shelf == current,
        })
        .collect()
}

fn status_label(status: ReadingStatus) -> &'static str {
    match status {
        ReadingStatus::Reading => "Reading",
        ReadingStatus::Finished => "Finished",
        ReadingStatus::Abandoned => "Abandoned",
    }
}

/// 4.0 as "4", 4.25 as "4.25".
fn number_text(value: f64) -> String {
    format!("{value}")
}

/// The problems of a form, each shown next to its field.
#[derive(Default)]
pub struct Errors(Vec<FieldError>);

impl Errors {
    pub fn get(&self, field: &str) -> Option<String> {
        let messages: Vec<String> = self
            .0
            .iter()
            .filter(|e| e.field == field)
            .map(|e| super::capitalise(&e.message))
            .collect();
        (!messages.is_empty()).then(|| messages.join(" "))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Problems whose field the form does not show, to show above it.
    fn others(&self, shown: &[&str]) -> Vec<String> {
        self.0
            .iter()
            .filter(|e| !shown.contains(&e.field.as_str()))
            .map(|e| super::capitalise(&format!("{}: {}", e.field.replace('_', " "), e.message)))
            .collect()
    }
}

/// An optional value typed in a form: blank is none; anything else must read as `parse` reads
/// it, or the field gets `message`.
fn typed<T>(
    text: &str,
    field: &str,
    problems: &mut Vec<FieldError>,
    message: &str,
    parse: impl FnOnce(&str) -> Option<T>,
) -> Option<T> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    let value = parse(text);
    if value.is_none() {
        problems.push(FieldError::new(field, message));
    }
    value
}

fn whole_number(text: &str, field: &str, problems: &mut Vec<FieldError>) -> Option<i32> {
    typed(text, field, problems, "must be a whole number", |t| {
        t.parse::<i32>().ok()
    })
}

/// A decimal comma is read as a point.
fn decimal(text: &str, field: &str, problems: &mut Vec<FieldError>) -> Option<f64> {
    typed(text, field, problems, "must be a number", |t| {
        t.replace(',', ".")
            .parse::<f64>()
            .ok()
            .filter(|n| n.is_finite())
    })
}

fn date(text: &str, field: &str, problems: &mut Vec<FieldError>) -> Option<NaiveDate> {
    typed(text, field, problems, "must be a date (YYYY-MM-DD)", |t| {
        NaiveDate::parse_from_str(t, "%Y-%m-%d").ok()
    })
}

fn optional(text: &str) -> Option<String> {
    Some(text.trim().to_string()).filter(|t| !t.is_empty())
}

// ---------------------------------------------------------------------------------------------
// /books

#[derive(Deserialize, Default)]
pub struct ListParams {
    q: Option<String>,
    shelf: Option<String>,
    sort: Option<String>,
    order: Option<String>,
    page: Option<String>,
}

const SORTS: [(&str, BookSort, &str); 5] = [
    ("added", BookSort::Added, "Date added"),
    ("title", BookSort::Title, "Title"),
    ("author", BookSort::Author, "Author"),
    ("read", BookSort::Read, "Date read"),
    ("rating", BookSort::Rating, "Rating"),
];

/// What the list shows, read leniently from the address: anything unknown is the default.
struct Listing {
    q: String,
    shelf: Option<Shelf>,
    sort: &'static str,
    order: &'static str,
    page: i64,
}

impl Listing {
    fn of(params: ListParams) -> Listing {
        let sort = SORTS
            .iter()
            .find(|(name, _, _)| Some(*name) == params.sort.as_deref())
            .map_or("added", |(name, _, _)| *name);
        // Titles and authors read A to Z by default; dates and ratings newest or best first.
        let natural = if matches!(sort, "title" | "author") {
            "asc"
        } else {
            "desc"
        };
        let order = match params.order.as_deref() {
            Some("asc") => "asc",
            Some("desc") => "desc",
            _ => natural,
        };
        Listing {
            q: params.q.unwrap_or_default().trim().to_string(),
            shelf: params.shelf.as_deref().and_then(Shelf::parse),
            sort,
            order,
            page: params
                .page
                .and_then(|p| p.trim().parse::<i64>().ok())
                .filter(|p| (1..=1_000_000).contains(p))
                .unwrap_or(1),
        }
    }

    fn query(&self) -> BookQuery {
        BookQuery {
            q: optional(&self.q),
            shelf: self.shelf,
            sort: SORTS
                .iter()
                .find(|(name, _, _)| *name == self.sort)
                .map(|(_, sort, _)| *sort),
            order: Some(if self.order == "asc" {
                SortOrder::Asc
            } else {
                SortOrder::Desc
            }),
            limit: Some(PAGE_SIZE),
            offset: Some((self.page - 1) * PAGE_SIZE),
            ..BookQuery::default()
        }
    }

    /// The address of this listing with another shelf or page.
    fn href(&self, shelf: Option<Shelf>, page: i64) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        if !self.q.is_empty() {
            query.append_pair("q", &self.q);
        }
        if let Some(shelf) = shelf {
            query.append_pair("shelf", shelf.as_str());
        }
        if self.sort != "added" || self.order != "desc" {
            query.append_pair("sort", self.sort);
            query.append_pair("order", self.order);
        }
        if page > 1 {
            query.append_pair("page", &page.to_string());
        }
        let query = query.finish();
        if query.is_empty() {
            "/books".into()
        } else {
            format!("/books?{query}")
        }
    }
}

pub struct BookItem {
    pub id: i64,
    pub title: String,
    pub authors: String,
    pub shelf: &'static str,
    pub rating: Option<String>,
    pub cover_url: Option<String>,
    pub year: Option<i32>,
}

impl From<&Book> for BookItem {
    fn from(book: &Book) -> Self {
        BookItem {
            id: book.id,
            title: book.title.clone(),
            authors: book.authors.join(", "),
            shelf: shelf_label(book.shelf),
            rating: book.rating.map(number_text),
            cover_url: book.cover_url.clone(),
            year: book.published_year,
        }
    }
}

pub struct ShelfLink {
    pub label: &'static str,
    pub count: i64,
    pub href: String,
    pub current: bool,
}

pub struct Choice {
    pub value: &'static str,
    pub label: &'static str,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "books.html")]
struct BooksPage {
    nav: super::Nav,
    flash: Option<String>,
    q: String,
    shelf_value: &'static str,
    shelves: Vec<ShelfLink>,
    sorts: Vec<Choice>,
    orders: Vec<Choice>,
    books: Vec<BookItem>,
    /// Matching books in all, and the range shown.
    matching: i64,
    first: i64,
    last: i64,
    library_total: i64,
    previous: Option<String>,
    next: Option<String>,
}

async fn list(
    state: web::Data<AppState>,
    me: SignedIn,
    params: web::Query<ListParams>,
) -> PageResult {
    let listing = Listing::of(params.into_inner());
    let (user, memo, query) = (me.user.id, state.memo.clone(), listing.query());
    let (page, counts) = db::run(&state.pool, move |c| {
        let page = books::list(c, &memo, user, &query)?;
        let counts = books::shelf_counts(c, &memo, user)?;
        Ok((page, counts))
    })
    .await?;
    let mut shelves = vec![ShelfLink {
        label: "All",
        count: counts.total,
        href: listing.href(None, 1),
        current: listing.shelf.is_none(),
    }];
    shelves.extend(counts.shelves.iter().map(|(shelf, count)| ShelfLink {
        label: shelf_label(*shelf),
        count: *count,
        href: listing.href(Some(*shelf), 1),
        current: listing.shelf == Some(*shelf),
    }));
    let shown = i64::try_from(page.items.len()).unwrap_or(0);
    let first = page.offset + 1;
    render(
        StatusCode::OK,
        &BooksPage {
            nav: me.nav()?.at("books"),
            flash: take_flash(&me.session),
            shelf_value: listing.shelf.map_or("", Shelf::as_str),
            shelves,
            sorts: SORTS
                .iter()
                .map(|(value, _, label)| Choice {
                    value,
                    label,
                    selected: *value == listing.sort,
                })
                .collect(),
            orders: [("asc", "Ascending"), ("desc", "Descending")]
                .into_iter()
                .map(|(value, label)| Choice {
                    value,
                    label,
                    selected: value == listing.order,
                })
                .collect(),
            books: page.items.iter().map(BookItem::from).collect(),
            matching: page.total,
            first,
            last: page.offset + shown,
            library_total: counts.total,
            previous: (listing.page > 1).then(|| listing.href(listing.shelf, listing.page - 1)),
            next: page
                .next_cursor
                .is_some()
                .then(|| listing.href(listing.shelf, listing.page + 1)),
            q: listing.q,
        },
    )
}

// ---------------------------------------------------------------------------------------------
// The book form: /books/new and /books/{id}/edit

/// Every field of a book as typed.
#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct BookForm {
    csrf_token: String,
    /// `lookup` for "Look it up"; anything else saves.
    action: Option<String>,
    title: String,
    /// One a line.
    authors: String,
    isbn: String,
    pages: String,
    published_year: String,
    publisher: String,
    language: String,
    series: String,
    /// Separated by commas.
    tags: String,
    description: String,
    cover_url: String,
    shelf: String,
    rating: String,
}

/// The fields the form shows, in order (the shelf is a select of its own).
const FORM_FIELDS: [&str; 13] = [
    "isbn",
    "title",
    "authors",
    "series",
    "pages",
    "published_year",
    "publisher",
    "language",
    "tags",
    "cover_url",
    "description",
    "shelf",
    "rating",
];

pub struct FieldView {
    pub id: &'static str,
    pub label: &'static str,
    /// `text`, `number`, `url`, or `textarea`.
    pub kind: &'static str,
    pub hint: &'static str,
    pub value: String,
    pub error: Option<String>,
}

impl BookForm {
    fn of(book: &Book) -> BookForm {
        BookForm {
            title: book.title.clone(),
            authors: book.authors.join("\n"),
            isbn: book
                .isbn13
                .clone()
                .or_else(|| book.isbn10.clone())
                .unwrap_or_default(),
            pages: book.pages.map(|p| p.to_string()).unwrap_or_default(),
            published_year: book
                .published_year
                .map(|y| y.to_string())
                .unwrap_or_default(),
            publisher: book.publisher.clone().unwrap_or_default(),
            language: book.language.clone().unwrap_or_default(),
            series: book.series.clone().unwrap_or_default(),
            tags: book.tags.join(", "),
            description: book.description.clone().unwrap_or_default(),
            cover_url: book.cover_url.clone().unwrap_or_default(),
            shelf: book.shelf.as_str().into(),
            rating: book.rating.map(number_text).unwrap_or_default(),
            ..BookForm::default()
        }
    }

    fn authors(&self) -> Vec<String> {
        self.authors
            .lines()
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(str::to_string)
            .collect()
    }

    fn tags(&self) -> Vec<String> {
        self.tags
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_string)
            .collect()
    }

    /// The book as `library::books` takes it, and the fields that could not be read at all.
    fn new_book(&self) -> (NewBook, Vec<FieldError>) {
        let mut problems = Vec::new();
        // A choice from a select: one of the shelves.
        let shelf = typed(
            &self.shelf,
            "shelf",
            &mut problems,
            "is not a shelf",
            Shelf::parse,
        );
        let book = NewBook {
            title: self.title.clone(),
            authors: self.authors(),
            isbn: optional(&self.isbn),
            pages: whole_number(&self.pages, "pages", &mut problems),
            published_year: whole_number(&self.published_year, "published_year", &mut problems),
            publisher: optional(&self.publisher),
            language: optional(&self.language),
            tags: self.tags(),
            description: optional(&self.description),
            cover_url: optional(&self.cover_url),
            shelf,
            series: optional(&self.series),
            rating: decimal(&self.rating, "rating", &mut problems),
            ..NewBook::default()
        };
        (book, problems)
    }

    /// Every field set as typed: blank clears.
    fn patch(&self) -> (BookPatch, Vec<FieldError>) {
        let (book, problems) = self.new_book();
        let patch = BookPatch {
            title: Some(book.title),
            authors: Some(book.authors),
            isbn: Some(book.isbn),
            pages: Some(book.pages),
            published_year: Some(book.published_year),
            publisher: Some(book.publisher),
            language: Some(book.language),
            tags: Some(book.tags),
            description: Some(book.description),
            cover_url: Some(book.cover_url),
            shelf: book.shelf,
            series: Some(book.series),
            rating: Some(book.rating),
        };
        (patch, problems)
    }

    /// What the metadata source found replaces what was typed; what it lacks stays.
    fn fill(&mut self, found: FoundBook) {
        if let Some(title) = found.title {
            self.title = title;
        }
        if !found.authors.is_empty() {
            self.authors = found.authors.join("\n");
        }
        if let Some(isbn) = found.isbn {
            self.isbn = isbn;
        }
        if let Some(pages) = found.pages {
            self.pages = pages.to_string();
        }
        if let Some(year) = found.published_year {
            self.published_year = year.to_string();
        }
        if let Some(publisher) = found.publisher {
            self.publisher = publisher;
        }
        if let Some(cover) = found.cover_url {
            self.cover_url = cover;
        }
        if !found.tags.is_empty() && self.tags.trim().is_empty() {
            self.tags = found.tags.join(", ");
        }
    }

    fn fields(&self, errors: &Errors) -> Vec<FieldView> {
        let field = |id: &'static str,
                     label: &'static str,
                     kind: &'static str,
                     hint: &'static str,
                     value: &str| FieldView {
            id,
            label,
            kind,
            hint,
            value: value.to_string(),
            error: errors.get(id),
        };
        vec![
            field("title", "Title", "text", "", &self.title),
            field(
                "authors",
                "Authors",
                "textarea",
                "One a line.",
                &self.authors,
            ),
            field(
                "series",
                "Series",
                "text",
                "With its number, like “The Expanse, #2”.",
                &self.series,
            ),
            field("pages", "Pages", "number", "", &self.pages),
            field(
                "published_year",
                "Year published",
                "number",
                "",
                &self.published_year,
            ),
            field("publisher", "Publisher", "text", "", &self.publisher),
            field("language", "Language", "text", "", &self.language),
            field("tags", "Tags", "text", "Separated by commas.", &self.tags),
            field("cover_url", "Cover image URL", "url", "", &self.cover_url),
            field(
                "description",
                "Description",
                "textarea",
                "",
                &self.description,
            ),
            field(
                "rating",
                "Your rating",
                "number",
                "0.25 to 5, in quarter steps; blank for none.",
                &self.rating,
            ),
        ]
    }

    fn shelves(&self) -> Vec<Choice> {
        let current = Shelf::parse(self.shelf.trim()).unwrap_or_default();
        shelf_choices(current)
    }
}

#[derive(Template)]
#[template(path = "book_form.html")]
struct BookFormPage {
    nav: super::Nav,
    /// `None` for a new book.
    book_id: Option<i64>,
    heading: String,
    action: String,
    submit: &'static str,
    isbn: FieldView,
    lookup_enabled: bool,
    lookup_source: String,
    fields: Vec<FieldView>,
    shelves: Vec<Choice>,
    shelf_error: Option<String>,
    /// Problems not tied to a shown field (a duplicate book), above the form.
    problems: Vec<String>,
    /// The book this one duplicates.
    existing: Option<i64>,
    /// What "Look it up" found, or why it found nothing.
    notice: Option<String>,
    /// Whether any field is marked with a problem (said once above the form).
    refused: bool,
}

impl BookFormPage {
    fn new(
        state: &AppState,
        me: &SignedIn,
        book_id: Option<i64>,
        form: &BookForm,
        errors: &Errors,
    ) -> Result<Self, AppError> {
        let (heading, action, submit, nav) = match book_id {
            Some(id) => (
                format!("Edit “{}”", form.title.trim()),
                format!("/books/{id}/edit"),
                "Save changes",
                me.nav()?,
            ),
            None => (
                "Add a book".to_string(),
                "/books/new".to_string(),
                "Add book",
                me.nav()?.at("new"),
            ),
        };
        Ok(BookFormPage {
            nav,
            book_id,
            heading,
            action,
            submit,
            isbn: FieldView {
                id: "isbn",
                label: "ISBN",
                kind: "text",
                hint: "ISBN-10 or ISBN-13, dashes allowed.",
                value: form.isbn.clone(),
                error: errors.get("isbn"),
            },
            lookup_enabled: state.metadata.enabled() && book_id.is_none(),
            lookup_source: state.metadata.source_name(),
            fields: form.fields(errors),
            shelves: form.shelves(),
            shelf_error: errors.get("shelf"),
            problems: errors.others(&FORM_FIELDS),
            existing: None,
            notice: None,
            refused: !errors.is_empty(),
        })
    }
}

async fn new_form(state: web::Data<AppState>, me: SignedIn) -> PageResult {
    let page = BookFormPage::new(&state, &me, None, &BookForm::default(), &Errors::default())?;
    render(StatusCode::OK, &page)
}

/// A form refused: shown again with what was typed and each problem next to its field.
fn refused(
    state: &AppState,
    me: &SignedIn,
    book_id: Option<i64>,
    form: &BookForm,
    error: AppError,
) -> PageResult {
    let (status, errors, existing) = match error {
        AppError::Validation(problems) => {
            (StatusCode::UNPROCESSABLE_ENTITY, Errors(problems), None)
        }
        AppError::Conflict { existing_id, .. } => {
            (StatusCode::CONFLICT, Errors::default(), existing_id)
        }
        other => return Err(other.into()),
    };
    let mut page = BookFormPage::new(state, me, book_id, form, &errors)?;
    page.existing = existing;
    render(status, &page)
}

async fn create(state: web::Data<AppState>, me: SignedIn, form: web::Form<BookForm>) -> PageResult {
    let form = form.into_inner();
    csrf::verify(&me.session, &form.csrf_token)?;
    if form.action.as_deref() == Some("lookup") {
        return look_up(&state, &me, form).await;
    }
    let (input, unread) = form.new_book();
    let user = me.user.id;
    let outcome = if unread.is_empty() {
        db::run(&state.pool, move |c| books::create(c, user, input, now())).await
    } else {
        // Nothing is saved while any field is unreadable; every problem is shown at once.
        Err(AppError::Validation(books::problems(input, unread, now())))
    };
    match outcome {
        Ok(book) => {
            flash(
                &me.session,
                format!("Added “{}” to your library.", book.title),
            );
            Ok(redirect(&format!("/books/{}", book.id)))
        }
        Err(error) => refused(&state, &me, None, &form, error),
    }
}

/// "Look it up": fills the form from the metadata source, by ISBN, or else by title.
async fn look_up(state: &AppState, me: &SignedIn, mut form: BookForm) -> PageResult {
    let source = state.metadata.source_name();
    let mut errors = Vec::new();
    let outcome = if !form.isbn.trim().is_empty() {
        match isbn::parse(form.isbn.trim()) {
            Ok(_) => Some(state.metadata.by_isbn(&form.isbn).await),
            Err(message) => {
                errors.push(FieldError::new("isbn", message));
                None
            }
        }
    } else if !form.title.trim().is_empty() {
        let authors = form.authors();
        Some(
            state
                .metadata
                .by_title(&form.title, authors.first().map(String::as_str))
                .await,
        )
    } else {
        errors.push(FieldError::new(
            "isbn",
            "type an ISBN (or a title) to look the book up",
        ));
        None
    };
    let notice = match outcome {
        Some(Ok(found)) => {
            form.fill(found);
            Some(format!(
                "Found on {source}: check the details below, then add the book."
            ))
        }
        Some(Err(LookupError::Off)) => {
            Some("Looking books up is turned off on this server: fill in the details by hand.".into())
        }
        Some(Err(LookupError::NotFound)) => Some(format!(
            "{source} does not know this book: fill in the details by hand."
        )),
        Some(Err(LookupError::Unreachable)) => Some(format!(
            "{source} could not be reached just now: fill in the details by hand, or try again in a minute."
        )),
        None => None,
    };
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let mut page = BookFormPage::new(state, me, None, &form, &Errors(errors))?;
    page.notice = notice;
    page.refused = false;
    render(status, &page)
}

async fn edit_form(state: web::Data<AppState>, me: SignedIn, id: web::Path<i64>) -> PageResult {
    let (user, id) = (me.user.id, id.into_inner());
    let book = db::run(&state.pool, move |c| books::get(c, user, id)).await?;
    let page = BookFormPage::new(
        &state,
        &me,
        Some(id),
        &BookForm::of(&book),
        &Errors::default(),
    )?;
    render(StatusCode::OK, &page)
}

async fn edit(
    state: web::Data<AppState>,
    me: SignedIn,
    id: web::Path<i64>,
    form: web::Form<BookForm>,
) -> PageResult {
    let (form, id, user) = (form.into_inner(), id.into_inner(), me.user.id);
    csrf::verify(&me.session, &form.csrf_token)?;
    let (patch, unread) = form.patch();
    let outcome = if unread.is_empty() {
        db::run(&state.pool, move |c| {
            books::update(c, user, id, patch, now())
        })
        .await
    } else {
        // The book must still be this user's before anything is said about the form.
        db::run(&state.pool, move |c| books::get(c, user, id)).await?;
        Err(AppError::Validation(books::problems(
            form.new_book().0,
            unread,
            now(),
        )))
    };
    match outcome {
        Ok(book) => {
            flash(&me.session, "Saved your changes.".into());
            Ok(redirect(&format!("/books/{}", book.id)))
        }
        Err(error) => refused(&state, &me, Some(id), &form, error),
    }
}

// ---------------------------------------------------------------------------------------------
// /books/{id}

pub struct ReadingView {
    pub status: &'static str,
    pub started_on: Option<NaiveDate>,
    pub finished_on: Option<NaiveDate>,
    pub pages_read: Option<i32>,
    pub progress: Option<String>,
    pub rating: Option<String>,
}

impl From<&Reading> for ReadingView {
    fn from(r: &Reading) -> Self {
        ReadingView {
            status: status_label(r.status),
            started_on: r.started_on,
            finished_on: r.finished_on,
            pages_read: r.pages_read,
            progress: r.progress.map(number_text),
            rating: r.rating.map(number_text),
        }
    }
}

/// The "log a reading" form as typed.
#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct ReadingForm {
    csrf_token: String,
    status: String,
    started_on: String,
    finished_on: String,
    pages_read: String,
    progress: String,
}

#[derive(Deserialize)]
pub struct ShelfForm {
    csrf_token: String,
    shelf: String,
}

#[derive(Deserialize)]
pub struct RatingForm {
    csrf_token: String,
    #[serde(default)]
    rating: String,
}

#[derive(Template)]
#[template(path = "book.html")]
struct BookPage {
    nav: super::Nav,
    flash: Option<String>,
    book: Book,
    authors: String,
    shelf: &'static str,
    rating: String,
    shelves: Vec<Choice>,
    readings: Vec<ReadingView>,
    reading: ReadingForm,
    statuses: Vec<Choice>,
    errors: Errors,
}

async fn book_page(
    state: &AppState,
    me: &SignedIn,
    id: i64,
    status: StatusCode,
    reading: ReadingForm,
    errors: Errors,
) -> PageResult {
    let user = me.user.id;
    let (book, readings) = db::run(&state.pool, move |c| {
        let book = books::get(c, user, id)?;
        let query = ReadingQuery {
            book_id: Some(id),
            limit: Some(crate::library::MAX_LIMIT),
            ..ReadingQuery::default()
        };
        Ok((book, readings::list(c, user, &query)?.items))
    })
    .await?;
    let chosen = ReadingStatus::parse(&reading.status);
    render(
        status,
        &BookPage {
            nav: me.nav()?,
            flash: take_flash(&me.session),
            authors: book.authors.join(", "),
            shelf: shelf_label(book.shelf),
            rating: book.rating.map(number_text).unwrap_or_default(),
            shelves: shelf_choices(book.shelf),
            readings: readings.iter().map(ReadingView::from).collect(),
            statuses: ReadingStatus::ALL
                .into_iter()
                .map(|s| Choice {
                    value: s.as_str(),
                    label: status_label(s),
                    selected: chosen == Some(s),
                })
                .collect(),
            reading,
            errors,
            book,
        },
    )
}

async fn show(state: web::Data<AppState>, me: SignedIn, id: web::Path<i64>) -> PageResult {
    book_page(
        &state,
        &me,
        id.into_inner(),
        StatusCode::OK,
        ReadingForm::default(),
        Errors::default(),
    )
    .await
}

async fn change_shelf(
    state: web::Data<AppState>,
    me: SignedIn,
    id: web::Path<i64>,
    form: web::Form<ShelfForm>,
) -> PageResult {
    let (form, id, user) = (form.into_inner(), id.into_inner(), me.user.id);
    csrf::verify(&me.session, &form.csrf_token)?;
    let Some(shelf) = Shelf::parse(&form.shelf) else {
        let errors = Errors(vec![FieldError::new("shelf", "is not a shelf")]);
        return book_page(
            &state,
            &me,
            id,
            StatusCode::UNPROCESSABLE_ENTITY,
            ReadingForm::default(),
            errors,
        )
        .await;
    };
    db::run(&state.pool, move |c| {
        books::set_shelf(c, user, id, shelf, now())
    })
    .await?;
    flash(&me.session, format!("Moved to {}.", shelf_label(shelf)));
    Ok(redirect(&format!("/books/{id}")))
}

async fn rate(
    state: web::Data<AppState>,
    me: SignedIn,
    id: web::Path<i64>,
    form: web::Form<RatingForm>,
) -> PageResult {
    let (form, id, user) = (form.into_inner(), id.into_inner(), me.user.id);
    csrf::verify(&me.session, &form.csrf_token)?;
    let mut problems = Vec::new();
    let rating = decimal(&form.rating, "rating", &mut problems);
    let outcome = if problems.is_empty() {
        let patch = BookPatch {
            rating: Some(rating),
            ..BookPatch::default()
        };
        db::run(&state.pool, move |c| {
            books::update(c, user, id, patch, now())
        })
        .await
    } else {
        Err(AppError::Validation(problems))
    };
    match outcome {
        Ok(book) => {
            flash(
                &me.session,
                match book.rating {
                    Some(r) => format!("Rated {} out of 5.", number_text(r)),
                    None => "Rating removed.".into(),
                },
            );
            Ok(redirect(&format!("/books/{id}")))
        }
        Err(AppError::Validation(problems)) => {
            book_page(
                &state,
                &me,
                id,
                StatusCode::UNPROCESSABLE_ENTITY,
                ReadingForm::default(),
                Errors(problems),
            )
            .await
        }
        Err(other) => Err(other.into()),
    }
}

async fn log_reading(
    state: web::Data<AppState>,
    me: SignedIn,
    id: web::Path<i64>,
    form: web::Form<ReadingForm>,
) -> PageResult {
    let (form, id, user) = (form.into_inner(), id.into_inner(), me.user.id);
    csrf::verify(&me.session, &form.csrf_token)?;
    let mut problems = Vec::new();
    let status = typed(
        &form.status,
        "status",
        &mut problems,
        "is not a reading status",
        ReadingStatus::parse,
    );
    let input = NewReading {
        book_id: id,
        status,
        started_on: date(&form.started_on, "started_on", &mut problems),
        finished_on: date(&form.finished_on, "finished_on", &mut problems),
        pages_read: whole_number(&form.pages_read, "pages_read", &mut problems),
        progress: decimal(&form.progress, "progress", &mut problems),
        ..NewReading::default()
    };
    let outcome = if problems.is_empty() {
        db::run(&state.pool, move |c| {
            readings::create(c, user, input, now())
        })
        .await
    } else {
        Err(AppError::Validation(readings::problems(
            input,
            problems,
            now(),
        )))
    };
    match outcome {
        Ok(_) => {
            flash(&me.session, "Reading logged.".into());
            Ok(redirect(&format!("/books/{id}")))
        }
        // A book that is not the user's: the page says so (404), whatever the form held.
        Err(AppError::Validation(problems)) if problems.iter().any(|p| p.field == "book_id") => {
            Err(AppError::NotFound.into())
        }
        Err(AppError::Validation(problems)) => {
            book_page(
                &state,
                &me,
                id,
                StatusCode::UNPROCESSABLE_ENTITY,
                form,
                Errors(problems),
            )
            .await
        }
        Err(other) => Err(other.into()),
    }
}

// ---------------------------------------------------------------------------------------------
// Deleting

#[derive(Template)]
#[template(path = "book_delete.html")]
struct DeletePage {
    nav: super::Nav,
    book: Book,
    readings: i64,
}

async fn delete_form(state: web::Data<AppState>, me: SignedIn, id: web::Path<i64>) -> PageResult {
    let (user, id) = (me.user.id, id.into_inner());
    let (book, readings) = db::run(&state.pool, move |c| {
        let book = books::get(c, user, id)?;
        let query = ReadingQuery {
            book_id: Some(id),
            limit: Some(1),
            ..ReadingQuery::default()
        };
        Ok((book, readings::list(c, user, &query)?.total))
    })
    .await?;
    render(
        StatusCode::OK,
        &DeletePage {
            nav: me.nav()?,
            book,
            readings,
        },
    )
}

#[derive(Deserialize)]
pub struct CsrfOnly {
    csrf_token: String,
}

async fn delete(
    state: web::Data<AppState>,
    me: SignedIn,
    id: web::Path<i64>,
    form: web::Form<CsrfOnly>,
) -> PageResult {
    let (user, id) = (me.user.id, id.into_inner());
    csrf::verify(&me.session, &form.csrf_token)?;
    let title = db::run(&state.pool, move |c| {
        let book = books::get(c, user, id)?;
        books::delete(c, user, id)?;
        Ok(book.title)
    })
    .await?;
    flash(&me.session, format!("Deleted “{title}”."));
    Ok(redirect("/books"))
}

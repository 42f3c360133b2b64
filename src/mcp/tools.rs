//! The tools. One table: each entry names a tool, describes it, says which scope it needs, and
//! carries the function that runs it. A function is a thin adapter: parse the arguments, call
//! the same `crate::library` function the REST API calls, and shape the result compactly for a
//! language model.

use super::protocol::{raw, Ctx, Dialect, Outcome, RpcError};
use super::{era, MAX_RESPONSE_CHARS};
use crate::auth::Scope;
use crate::error::{AppError, AppResult};
use crate::library::books::{self, Book, BookPatch, BookQuery, NewBook};
use crate::library::metadata::{FoundBook, Lookup, Metadata};
use crate::library::readings::{self, NewReading, Reading, ReadingQuery};
use crate::library::{goals, recommend, stats, Shelf};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};
use std::collections::HashMap;

/// What a tool's function returns: its result, written out once.
type ToolResult = AppResult<Box<RawValue>>;

pub struct Tool {
    pub name: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    pub scope: Scope,
    pub read_only: bool,
    pub destructive: bool,
    pub idempotent: bool,
    /// Long work (it reads the whole library): run off the CPU turn, so that other requests
    /// are not held up behind it.
    pub long: bool,
    pub input_schema: fn() -> Value,
    pub output_schema: fn() -> Value,
    pub run: fn(&mut Ctx<'_>, Value) -> ToolResult,
}

/// The tools, in the order `tools/list` gives them (a fixed order, as clients cache it).
pub static TOOLS: &[Tool] = &[
    Tool {
        name: "search_books",
        title: "Search books",
        description: "Find books in the user's library by words in the title, author, description or tags, \
                      or filter by author, tag or shelf. Returns compact book records with ids; use get_book \
                      for details. Results are paginated: pass next_cursor back as cursor for more.",
        scope: Scope::Read,
        read_only: true,
        destructive: false,
        idempotent: true,
        long: false,
        input_schema: search_books_input,
        output_schema: book_list_output,
        run: search_books,
    },
    Tool {
        name: "get_book",
        title: "Get a book",
        description: "All details of one book of the user's library, with its readings (dates, ratings, reviews).",
        scope: Scope::Read,
        read_only: true,
        destructive: false,
        idempotent: true,
        long: false,
        input_schema: id_input,
        output_schema: book_output,
        run: get_book,
    },
    Tool {
        name: "add_book",
        title: "Add a book",
        description: "Add a book to the user's library (to the to-read shelf unless told otherwise). Give a title, \
                      or only an ISBN: given only an ISBN, or only a title, the server looks the book up (Open \
                      Library unless configured otherwise) and fills in what was not given. If the book is already \
                      there (same ISBN, or same title and author), nothing is added and the existing book's id is \
                      returned in the error.",
        scope: Scope::Write,
        read_only: false,
        destructive: false,
        idempotent: false,
        long: false,
        input_schema: add_book_input,
        output_schema: book_output,
        run: add_book,
    },
    Tool {
        name: "update_book",
        title: "Update a book",
        description: "Change details of a book: pass its id and only the fields to change (null clears a field).",
        scope: Scope::Write,
        read_only: false,
        destructive: false,
        idempotent: true,
        long: false,
        input_schema: update_book_input,
        output_schema: book_output,
        run: update_book,
    },
    Tool {
        name: "set_shelf",
        title: "Move a book to a shelf",
        description: "Move a book to another shelf: to-read, reading, read or abandoned.",
        scope: Scope::Write,
        read_only: false,
        destructive: false,
        idempotent: true,
        long: false,
        input_schema: set_shelf_input,
        output_schema: book_output,
        run: set_shelf,
    },
    Tool {
        name: "log_reading",
        title: "Log a reading",
        description: "Record a reading session or a whole read-through of a book: dates, pages, progress, rating \
                      (0.25 to 5 in quarter steps) and review. A finished reading moves the book to the read shelf.",
        scope: Scope::Write,
        read_only: false,
        destructive: false,
        idempotent: false,
        long: false,
        input_schema: log_reading_input,
        output_schema: reading_output,
        run: log_reading,
    },
    Tool {
        name: "list_readings",
        title: "List readings",
        description: "The user's reading sessions and read-throughs, most recent first, optionally for one book, \
                      one status or a date range. Paginated with next_cursor.",
        scope: Scope::Read,
        read_only: true,
        destructive: false,
        idempotent: true,
        long: false,
        input_schema: list_readings_input,
        output_schema: reading_list_output,
        run: list_readings,
    },
    Tool {
        name: "reading_stats",
        title: "Reading statistics",
        description: "How much the user reads: books and pages read (all time, in a year, by year and month), \
                      longest and shortest book, average rating and ratings by star, favourite authors and \
                      tags, days to finish, books in progress, reading streaks, and the yearly reading goal \
                      for that year with the progress toward it (goal is null when none is set).",
        scope: Scope::Read,
        read_only: true,
        destructive: false,
        idempotent: true,
        long: false,
        input_schema: stats_input,
        output_schema: stats_output,
        run: reading_stats,
    },
    Tool {
        name: "recommend_books",
        title: "Recommend what to read next",
        description: "Books from the user's to-read shelf ranked by how much they resemble what the user finished \
                      and rated highly (authors, tags, length), each with the reasons.",
        scope: Scope::Read,
        read_only: true,
        destructive: false,
        idempotent: true,
        long: true,
        input_schema: recommend_input,
        output_schema: recommend_output,
        run: recommend_books,
    },
];

pub fn find(name: &str) -> Option<&'static Tool> {
    TOOLS.iter().find(|t| t.name == name)
}

/// The tools the caller's scopes allow, described for `tools/list`.
pub fn list(ctx: &Ctx<'_>, dialect: Dialect<'_>) -> Value {
    let tools: Vec<Value> = TOOLS
        .iter()
        .filter(|t| ctx.allows(t.scope))
        .map(|t| {
            let mut tool = json!({
                "name": t.name,
                "title": t.title,
                "description": t.description,
                "inputSchema": (t.input_schema)(),
                "annotations": {
                    "title": t.title,
                    "readOnlyHint": t.read_only,
                    "destructiveHint": t.destructive,
                    "idempotentHint": t.idempotent,
                    "openWorldHint": false,
                },
            });
            if dialect.structured() {
                tool["outputSchema"] = (t.output_schema)();
            }
            tool
        })
        .collect();
    json!({ "tools": tools })
}

/// `tools/call`: finds the tool, checks the scope, runs it. Failures the model can act on (bad
/// arguments, unknown ids, duplicates) are results with `isError: true`; internal causes are
/// logged, never shown.
///
/// The result is written out once: the same JSON is the text block and, for clients of
/// 2025-06-18 and later, `structuredContent`, embedded as it is.
pub fn call(
    ctx: &mut Ctx<'_>,
    dialect: Dialect<'_>,
    params: Value,
) -> Result<Box<RawValue>, Outcome> {
    let Value::Object(mut params) = params else {
        return Err(Outcome::Error(RpcError::invalid_params(
            "`params` must be an object",
        )));
    };
    let Some(name) = params.get("name").and_then(Value::as_str) else {
        return Err(Outcome::Error(RpcError::invalid_params(
            "tools/call needs a tool `name`",
        )));
    };
    let Some(tool) = find(name) else {
        return Err(Outcome::Error(RpcError::invalid_params(format!(
            "unknown tool: {}",
            name.chars().take(100).collect::<String>()
        ))));
    };
    if !ctx.allows(tool.scope) {
        return Err(Outcome::InsufficientScope(tool.scope));
    }
    let arguments = match params.remove("arguments") {
        None | Some(Value::Null) => json!({}),
        Some(args @ Value::Object(_)) => args,
        Some(_) => {
            return Err(Outcome::Error(RpcError::invalid_params(
                "`arguments` must be an object",
            )))
        }
    };
    let outcome = if tool.long {
        crate::db::turns::off_turn(|| (tool.run)(ctx, arguments))
    } else {
        (tool.run)(ctx, arguments)
    };
    Ok(render(outcome, dialect))
}

const TOO_LARGE: &str =
    "the result is too large; ask for fewer items (a smaller limit) or a narrower search";

/// A tool's result as `tools/call` answers it in `dialect`.
fn render(outcome: ToolResult, dialect: Dialect<'_>) -> Box<RawValue> {
    #[derive(Serialize)]
    struct Text<'a> {
        text: &'a str,
        r#type: &'static str,
    }
    #[derive(Serialize)]
    struct CallResult<'a> {
        #[serde(rename = "_meta", skip_serializing_if = "Option::is_none")]
        meta: Option<Map<String, Value>>,
        content: [Text<'a>; 1],
        #[serde(rename = "isError")]
        is_error: bool,
        #[serde(rename = "resultType", skip_serializing_if = "Option::is_none")]
        result_type: Option<&'static str>,
        #[serde(rename = "structuredContent", skip_serializing_if = "Option::is_none")]
        structured: Option<&'a RawValue>,
    }
    let modern = dialect.era == era::Era::Modern;
    let described;
    let (text, is_error, structured) = match &outcome {
        Ok(value) if value.get().len() > MAX_RESPONSE_CHARS => (TOO_LARGE, true, None),
        Ok(value) => (value.get(), false, dialect.structured().then_some(&**value)),
        Err(error) => {
            described = describe(error);
            (described.as_str(), true, None)
        }
    };
    raw(&CallResult {
        meta: modern.then(era::server_meta),
        content: [Text {
            text,
            r#type: "text",
        }],
        is_error,
        result_type: modern.then_some("complete"),
        structured,
    })
}

fn describe(error: &AppError) -> String {
    match error {
        AppError::Validation(fields) => {
            let parts: Vec<String> = fields
                .iter()
                .map(|f| format!("{}: {}", f.field, f.message))
                .collect();
            format!("invalid arguments: {}", parts.join("; "))
        }
        AppError::NotFound => {
            "no such item in the user's library; use search_books or list_readings to find ids"
                .into()
        }
        AppError::Conflict {
            message,
            existing_id,
        } => match existing_id {
            Some(id) => format!("{message}; use book id {id}"),
            None => message.clone(),
        },
        AppError::BadRequest(message) => format!("invalid arguments: {message}"),
        AppError::Internal(_) | AppError::Unavailable(_) => {
            // Logged by the error's own response path.
            let _ = actix_web::ResponseError::error_response(error);
            "the library is temporarily unavailable; try again shortly".into()
        }
        other => other.public_message(),
    }
}

fn parse<T: DeserializeOwned>(arguments: Value) -> Result<T, AppError> {
    serde_json::from_value(arguments).map_err(|e| AppError::BadRequest(e.to_string()))
}

/// Takes `key` out of the arguments as an id.
fn take_id(arguments: &mut Value, key: &str) -> Result<i64, AppError> {
    arguments
        .as_object_mut()
        .and_then(|o| o.remove(key))
        .and_then(|v| v.as_i64())
        .ok_or_else(|| AppError::validation(key, "is required: an integer id"))
}

/// A compact book for lists: what a model needs to name it and refer to it. Empty fields are
/// left out; fields are in alphabetical order, as a `Value` would write them.
#[derive(Serialize)]
pub struct CompactBook<'a> {
    authors: &'a [String],
    id: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    isbn13: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pages: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    published_year: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rating: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    series: Option<&'a str>,
    shelf: Shelf,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    tags: &'a [String],
    title: &'a str,
}

impl<'a> From<&'a Book> for CompactBook<'a> {
    fn from(book: &'a Book) -> Self {
        CompactBook {
            authors: &book.authors,
            id: book.id,
            isbn13: book.isbn13.as_deref(),
            pages: book.pages,
            published_year: book.published_year,
            rating: book.rating,
            series: book.series.as_deref(),
            shelf: book.shelf,
            tags: &book.tags,
            title: &book.title,
        }
    }
}

pub fn compact(book: &Book) -> Value {
    json!(CompactBook::from(book))
}

pub fn compact_reading(r: &Reading) -> Value {
    let mut value = json!(r);
    if let Some(object) = value.as_object_mut() {
        object.retain(|_, v| !v.is_null());
        object.remove("created_at");
        object.remove("updated_at");
        // Long reviews stay readable without crowding the answer.
        if let Some(Value::String(review)) = object.get_mut("review") {
            if review.chars().count() > 2000 {
                *review = format!("{}…", review.chars().take(2000).collect::<String>());
            }
        }
    }
    value
}

/// A book with its readings, as `get_book` and the `library://book/{id}` resource give it.
pub fn book_with_readings(ctx: &mut Ctx<'_>, id: i64) -> AppResult<Value> {
    let user = ctx.user_id();
    let book = books::get(ctx.conn, user, id)?;
    let query = ReadingQuery {
        book_id: Some(id),
        limit: Some(100),
        ..Default::default()
    };
    let readings = readings::list(ctx.conn, user, &query)?;
    let mut value = json!(book);
    value["readings"] = json!(readings
        .items
        .iter()
        .map(compact_reading)
        .collect::<Vec<_>>());
    Ok(value)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SearchArgs {
    query: Option<String>,
    author: Option<String>,
    tag: Option<String>,
    shelf: Option<Shelf>,
    sort: Option<books::BookSort>,
    limit: Option<i64>,
    cursor: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ShelfArgs {
    id: i64,
    shelf: Shelf,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StatsArgs {
    year: Option<i32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RecommendArgs {
    limit: Option<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListReadingsArgs {
    book_id: Option<i64>,
    status: Option<crate::library::ReadingStatus>,
    from: Option<chrono::NaiveDate>,
    to: Option<chrono::NaiveDate>,
    limit: Option<i64>,
    cursor: Option<String>,
}

/// A page of compact books. `search_books`, the call a model makes most, is written straight
/// from typed data.
#[derive(Serialize)]
struct FoundBooks<'a> {
    books: Vec<CompactBook<'a>>,
    next_cursor: Option<&'a str>,
    total: i64,
}

fn search_books(ctx: &mut Ctx<'_>, arguments: Value) -> ToolResult {
    let args: SearchArgs = parse(arguments)?;
    let query = BookQuery {
        q: args.query,
        author: args.author,
        tag: args.tag,
        shelf: args.shelf,
        sort: args.sort,
        order: None,
        limit: Some(args.limit.unwrap_or(20).clamp(1, 50)),
        offset: None,
        cursor: args.cursor,
    };
    let page = books::list(ctx.conn, ctx.memo, ctx.user_id(), &query)?;
    Ok(raw(&FoundBooks {
        books: page.items.iter().map(CompactBook::from).collect(),
        next_cursor: page.next_cursor.as_deref(),
        total: page.total,
    }))
}

fn get_book(ctx: &mut Ctx<'_>, mut arguments: Value) -> ToolResult {
    let id = take_id(&mut arguments, "id")?;
    Ok(raw(&json!({ "book": book_with_readings(ctx, id)? })))
}

fn add_book(ctx: &mut Ctx<'_>, mut arguments: Value) -> ToolResult {
    let mut looked_up = None;
    if let Some(wanted) = Wanted::of(&arguments) {
        match ctx.prefetched.0.get(&wanted.key()) {
            Some((source, Ok(found))) => {
                let fields = fill_from(&mut arguments, found);
                if !fields.is_empty() {
                    looked_up = Some(json!({"source": source, "fields": fields}));
                }
            }
            // Only an ISBN: without the lookup there is no title to add.
            Some((_, Err(error))) if matches!(wanted, Wanted::Isbn(_)) => {
                return Err(AppError::validation(
                    "title",
                    format!("is required, and the ISBN could not be looked up: {error}"),
                ));
            }
            // Only a title: the book is added as given.
            _ => {}
        }
    }
    let input: NewBook = parse(arguments)?;
    let book = books::create(ctx.conn, ctx.user_id(), input, ctx.now)?;
    Ok(raw(&match looked_up {
        Some(looked_up) => json!({ "book": book, "looked_up": looked_up }),
        None => json!({ "book": book }),
    }))
}

/// The lookups `add_book` calls in a request need, made before its database work so that no
/// database turn waits on the network: for each, the source's name and what it found.
#[derive(Default)]
pub struct Prefetched(HashMap<String, (String, Lookup)>);

/// What `add_book` looks up: the book of an ISBN given without a title, or the best match for a
/// title given without an author or ISBN.
enum Wanted {
    Isbn(String),
    Title(String),
}

impl Wanted {
    fn of(arguments: &Value) -> Option<Wanted> {
        let text = |field: &str| {
            arguments
                .get(field)
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_string)
        };
        let has_author = text("author").is_some()
            || arguments
                .get("authors")
                .and_then(Value::as_array)
                .is_some_and(|a| {
                    a.iter()
                        .any(|n| n.as_str().is_some_and(|n| !n.trim().is_empty()))
                });
        let isbn = text("isbn")
            .or_else(|| text("isbn13"))
            .or_else(|| text("isbn10"));
        match (text("title"), isbn) {
            (None, Some(isbn)) => Some(Wanted::Isbn(isbn)),
            (Some(title), None) if !has_author => Some(Wanted::Title(title)),
            _ => None,
        }
    }

    fn key(&self) -> String {
        match self {
            Wanted::Isbn(isbn) => format!("isbn:{isbn}"),
            Wanted::Title(title) => format!("title:{title}"),
        }
    }
}

/// Makes the lookups that the `tools/call` requests among `calls` (their `params`) need.
pub async fn prefetch<'a>(
    metadata: &Metadata,
    calls: impl Iterator<Item = &'a Value>,
) -> Prefetched {
    let mut found = Prefetched::default();
    for params in calls {
        if params.get("name").and_then(Value::as_str) != Some("add_book") {
            continue;
        }
        let Some(wanted) = params.get("arguments").and_then(Wanted::of) else {
            continue;
        };
        let key = wanted.key();
        if found.0.contains_key(&key) {
            continue;
        }
        let outcome = match &wanted {
            Wanted::Isbn(isbn) => metadata.by_isbn(isbn).await,
            Wanted::Title(title) => metadata.by_title(title, None).await,
        };
        found.0.insert(key, (metadata.source_name(), outcome));
    }
    found
}

/// Fills the arguments the caller left out from what the lookup found; what the caller gave
/// stays. Returns the names of the fields filled.
fn fill_from(arguments: &mut Value, found: &FoundBook) -> Vec<&'static str> {
    let Some(args) = arguments.as_object_mut() else {
        return Vec::new();
    };
    let mut filled = Vec::new();
    let absent = |args: &Map<String, Value>, field: &str| match args.get(field) {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.trim().is_empty(),
        Some(Value::Array(a)) => a.is_empty(),
        Some(_) => false,
    };
    let mut put = |args: &mut Map<String, Value>, field: &'static str, value: Value| {
        if absent(args, field) {
            args.insert(field.to_string(), value);
            filled.push(field);
        }
    };
    if let Some(title) = &found.title {
        put(args, "title", json!(title));
    }
    if !found.authors.is_empty() && absent(args, "author") {
        put(args, "authors", json!(found.authors));
    }
    if let Some(isbn) = &found.isbn {
        if ["isbn", "isbn10", "isbn13"].iter().all(|f| absent(args, f)) {
            put(args, "isbn", json!(isbn));
        }
    }
    if let Some(pages) = found.pages {
        put(args, "pages", json!(pages));
    }
    if let Some(year) = found.published_year {
        put(args, "published_year", json!(year));
    }
    if let Some(publisher) = &found.publisher {
        put(args, "publisher", json!(publisher));
    }
    if let Some(cover) = &found.cover_url {
        put(args, "cover_url", json!(cover));
    }
    if !found.tags.is_empty() {
        put(args, "tags", json!(found.tags));
    }
    filled
}

fn update_book(ctx: &mut Ctx<'_>, mut arguments: Value) -> ToolResult {
    let id = take_id(&mut arguments, "id")?;
    let patch: BookPatch = parse(arguments)?;
    let book = books::update(ctx.conn, ctx.user_id(), id, patch, ctx.now)?;
    Ok(raw(&json!({ "book": book })))
}

fn set_shelf(ctx: &mut Ctx<'_>, arguments: Value) -> ToolResult {
    let args: ShelfArgs = parse(arguments)?;
    let book = books::set_shelf(ctx.conn, ctx.user_id(), args.id, args.shelf, ctx.now)?;
    Ok(raw(&json!({ "book": book })))
}

fn log_reading(ctx: &mut Ctx<'_>, arguments: Value) -> ToolResult {
    let input: NewReading = parse(arguments)?;
    let reading = readings::create(ctx.conn, ctx.user_id(), input, ctx.now)?;
    Ok(raw(&json!({ "reading": compact_reading(&reading) })))
}

fn list_readings(ctx: &mut Ctx<'_>, arguments: Value) -> ToolResult {
    let args: ListReadingsArgs = parse(arguments)?;
    let query = ReadingQuery {
        book_id: args.book_id,
        status: args.status,
        from: args.from,
        to: args.to,
        limit: Some(args.limit.unwrap_or(20).clamp(1, 50)),
        offset: None,
        cursor: args.cursor,
    };
    let page = readings::list(ctx.conn, ctx.user_id(), &query)?;
    Ok(raw(&json!({
        "readings": page.items.iter().map(compact_reading).collect::<Vec<_>>(),
        "total": page.total,
        "next_cursor": page.next_cursor,
    })))
}

/// The statistics for `year` (default: this year), as `reading_stats` and the
/// `library://stats` resources give them.
pub fn statistics(ctx: &mut Ctx<'_>, year: Option<i32>) -> AppResult<stats::ReadingStats> {
    stats::compute_memoised(ctx.conn, ctx.memo, ctx.user_id(), year, ctx.now.date())
}

/// The statistics with the yearly goal of the same year and the progress toward it (`null`
/// when the user set none).
#[derive(Serialize)]
struct StatsWithGoal {
    #[serde(flatten)]
    stats: stats::ReadingStats,
    goal: Option<GoalWithSummary>,
}

#[derive(Serialize)]
struct GoalWithSummary {
    #[serde(flatten)]
    goal: goals::ReadingGoal,
    summary: String,
}

fn reading_stats(ctx: &mut Ctx<'_>, arguments: Value) -> ToolResult {
    let args: StatsArgs = parse(arguments)?;
    let stats = statistics(ctx, args.year)?;
    let goal = goals::get(ctx.conn, ctx.user_id(), stats.year, ctx.now.date())?.map(|goal| {
        GoalWithSummary {
            summary: goal.summary(),
            goal,
        }
    });
    Ok(raw(&StatsWithGoal { stats, goal }))
}

/// Recommendations as `recommend_books` and the `what_to_read_next` prompt give them.
pub fn recommendations(ctx: &mut Ctx<'_>, limit: usize) -> AppResult<Value> {
    let recs = recommend::recommend(ctx.conn, ctx.user_id(), limit)?;
    Ok(json!({
        "recommendations": recs
            .iter()
            .map(|r| json!({"book": compact(&r.book), "score": r.score, "reasons": r.reasons}))
            .collect::<Vec<_>>()
    }))
}

fn recommend_books(ctx: &mut Ctx<'_>, arguments: Value) -> ToolResult {
    let args: RecommendArgs = parse(arguments)?;
    Ok(raw(&recommendations(
        ctx,
        args.limit.unwrap_or(5).clamp(1, 20),
    )?))
}

// Schemas: plain objects (no top-level anyOf/oneOf), written for the model.

const SHELVES: [&str; 4] = ["to-read", "reading", "read", "abandoned"];

fn object(properties: Value, required: &[&str]) -> Value {
    json!({"type": "object", "properties": properties, "required": required, "additionalProperties": false})
}

fn id_input() -> Value {
    object(
        json!({"id": {"type": "integer", "description": "The book's id (from search_books)."}}),
        &["id"],
    )
}

fn book_fields() -> Map<String, Value> {
    let fields = json!({
        "title": {"type": "string"},
        "authors": {"type": "array", "items": {"type": "string"}, "description": "Author names, main author first."},
        "isbn": {"type": "string", "description": "ISBN-10 or ISBN-13, dashes allowed."},
        "pages": {"type": "integer", "minimum": 1},
        "published_year": {"type": "integer"},
        "publisher": {"type": "string"},
        "language": {"type": "string"},
        "tags": {"type": "array", "items": {"type": "string"}, "description": "Topics or genres."},
        "description": {"type": "string"},
        "cover_url": {"type": "string", "format": "uri"},
        "shelf": {"type": "string", "enum": SHELVES},
        "series": {"type": "string", "description": "Series and number, like \"The Expanse, #2\"."},
        "rating": {"type": "number", "minimum": 0.25, "maximum": 5, "multipleOf": 0.25, "description": "The user's rating of the book."}
    });
    match fields {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// `title` is not required: given only an ISBN, the book's details are looked up.
fn add_book_input() -> Value {
    object(Value::Object(book_fields()), &[])
}

fn update_book_input() -> Value {
    let mut fields = book_fields();
    fields.insert(
        "id".into(),
        json!({"type": "integer", "description": "The book to change."}),
    );
    object(Value::Object(fields), &["id"])
}

fn set_shelf_input() -> Value {
    object(
        json!({"id": {"type": "integer"}, "shelf": {"type": "string", "enum": SHELVES}}),
        &["id", "shelf"],
    )
}

fn search_books_input() -> Value {
    object(
        json!({
            "query": {"type": "string", "description": "Words to find in titles, authors, descriptions and tags (case and accents do not matter)."},
            "author": {"type": "string", "description": "Only books by this author (part of the name is enough)."},
            "tag": {"type": "string", "description": "Only books with this tag."},
            "shelf": {"type": "string", "enum": SHELVES},
            "sort": {"type": "string", "enum": ["added", "updated", "title", "author", "published", "pages", "read", "rating"], "description": "Default: most recently added first. read: by the day last finished; rating: by the book's rating."},
            "limit": {"type": "integer", "minimum": 1, "maximum": 50, "description": "Default 20."},
            "cursor": {"type": "string", "description": "next_cursor from the previous call."}
        }),
        &[],
    )
}

fn log_reading_input() -> Value {
    object(
        json!({
            "book_id": {"type": "integer"},
            "status": {"type": "string", "enum": ["reading", "finished", "abandoned"], "description": "Default: finished when finished_on is given, else reading."},
            "started_on": {"type": "string", "format": "date", "description": "YYYY-MM-DD"},
            "finished_on": {"type": "string", "format": "date", "description": "YYYY-MM-DD"},
            "pages_read": {"type": "integer", "minimum": 0},
            "progress": {"type": "number", "minimum": 0, "maximum": 100, "description": "Percent."},
            "rating": {"type": "number", "minimum": 0.25, "maximum": 5, "multipleOf": 0.25},
            "review": {"type": "string"},
            "notes": {"type": "string"}
        }),
        &["book_id"],
    )
}

fn list_readings_input() -> Value {
    object(
        json!({
            "book_id": {"type": "integer"},
            "status": {"type": "string", "enum": ["reading", "finished", "abandoned"]},
            "from": {"type": "string", "format": "date"},
            "to": {"type": "string", "format": "date"},
            "limit": {"type": "integer", "minimum": 1, "maximum": 50},
            "cursor": {"type": "string"}
        }),
        &[],
    )
}

fn stats_input() -> Value {
    object(
        json!({"year": {"type": "integer", "description": "The year for per-year figures (default: this year)."}}),
        &[],
    )
}

fn recommend_input() -> Value {
    object(
        json!({"limit": {"type": "integer", "minimum": 1, "maximum": 20, "description": "Default 5."}}),
        &[],
    )
}

fn compact_book_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "id": {"type": "integer"}, "title": {"type": "string"},
            "authors": {"type": "array", "items": {"type": "string"}},
            "shelf": {"type": "string"}, "series": {"type": "string"},
            "published_year": {"type": "integer"}, "pages": {"type": "integer"},
            "rating": {"type": "number"}, "isbn13": {"type": "string"},
            "tags": {"type": "array", "items": {"type": "string"}}
        },
        "required": ["id", "title", "authors", "shelf"]
    })
}

fn book_list_output() -> Value {
    json!({
        "type": "object",
        "properties": {
            "books": {"type": "array", "items": compact_book_schema()},
            "total": {"type": "integer"},
            "next_cursor": {"type": ["string", "null"]}
        },
        "required": ["books", "total"]
    })
}

fn book_output() -> Value {
    json!({"type": "object", "properties": {"book": {"type": "object"}}, "required": ["book"]})
}

fn reading_output() -> Value {
    json!({"type": "object", "properties": {"reading": {"type": "object"}}, "required": ["reading"]})
}

fn reading_list_output() -> Value {
    json!({
        "type": "object",
        "properties": {
            "readings": {"type": "array", "items": {"type": "object"}},
            "total": {"type": "integer"},
            "next_cursor": {"type": ["string", "null"]}
        },
        "required": ["readings", "total"]
    })
}

fn stats_output() -> Value {
    json!({
        "type": "object",
        "properties": {
            "year": {"type": "integer"},
            "books_read_total": {"type": "integer"},
            "books_read_in_year": {"type": "integer"},
            "pages_read_total": {"type": "integer"},
            "pages_read_in_year": {"type": "integer"},
            "by_year": {"type": "array", "items": {"type": "object"}},
            "undated": {"type": "object", "description": "Finished readings without a finish date; by_year plus this add up to the totals.",
                        "properties": {"books": {"type": "integer"}, "pages": {"type": "integer"}}},
            "by_month": {"type": "array", "items": {"type": "object"}},
            "average_rating": {"type": ["number", "null"]},
            "top_authors": {"type": "array", "items": {"type": "object"}},
            "top_tags": {"type": "array", "items": {"type": "object"}},
            "in_progress": {"type": "integer"},
            "current_streak_days": {"type": "integer"},
            "longest_streak_days": {"type": "integer"},
            "ratings": {"type": "array", "items": {"type": "object"}},
            "goal": {
                "type": ["object", "null"],
                "description": "The reading goal of `year` and the progress toward it; null when none is set.",
                "properties": {
                    "year": {"type": "integer"},
                    "books": {"type": "integer", "description": "Books the user means to finish that year."},
                    "books_read": {"type": "integer"},
                    "percent": {"type": "integer"},
                    "remaining": {"type": "integer"},
                    "status": {"type": "string", "enum": ["achieved", "ahead", "on_track", "behind", "missed", "upcoming"]},
                    "expected_by_today": {"type": ["integer", "null"]},
                    "projected": {"type": ["integer", "null"]},
                    "summary": {"type": "string"}
                },
                "required": ["year", "books", "books_read", "percent", "status", "summary"]
            }
        },
        "required": ["year", "books_read_total", "books_read_in_year"]
    })
}

fn recommend_output() -> Value {
    json!({
        "type": "object",
        "properties": {
            "recommendations": {"type": "array", "items": {
                "type": "object",
                "properties": {"book": compact_book_schema(), "score": {"type": "number"}, "reasons": {"type": "array", "items": {"type": "string"}}},
                "required": ["book", "reasons"]
            }}
        },
        "required": ["recommendations"]
    })
}

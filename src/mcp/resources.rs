//! Resources: the library as documents a client can read directly. Two tables: the direct
//! resources (`library://stats`, one per shelf) and the templates (`library://stats/{year}`,
//! `library://shelf/{shelf}`, `library://book/{id}`), each entry carrying the functions that
//! read it and complete its parameter. Every resource needs the `read` scope.

use super::completion::Completer;
use super::protocol::{Ctx, Failure, MethodResult, RpcError, INVALID_PARAMS};
use super::tools::{self, CompactBook};
use crate::auth::Scope;
use crate::error::{AppError, AppResult};
use crate::library::books::{self, BookQuery};
use crate::library::Shelf;
use serde_json::{json, Value};

const MIME: &str = "application/json";
/// The most books one shelf resource lists; `total` says how many there are.
const SHELF_LIMIT: i64 = 100;

/// A resource with a fixed URI.
pub struct Direct {
    pub uri: &'static str,
    pub name: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    read: fn(&mut Ctx<'_>) -> AppResult<Value>,
}

pub static DIRECT: &[Direct] = &[Direct {
    uri: "library://stats",
    name: "stats",
    title: "Reading statistics",
    description:
        "How much the user reads this year and overall: books and pages by year and month, \
                  ratings, favourite authors and tags, streaks.",
    read: |ctx| Ok(json!(tools::statistics(ctx, None)?)),
}];

/// A family of resources named by one parameter, the last segment of the URI.
pub struct Template {
    pub uri_template: &'static str,
    pub name: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    /// The parameter's name in `uri_template`.
    pub variable: &'static str,
    /// The resource for a parameter value; `None` when there is no such resource.
    read: fn(&mut Ctx<'_>, &str) -> AppResult<Option<Value>>,
    /// Values of the parameter that start with (or, for ids, match) what was typed.
    pub complete: Completer,
}

pub static TEMPLATES: &[Template] = &[
    Template {
        uri_template: "library://stats/{year}",
        name: "stats-by-year",
        title: "Reading statistics of a year",
        description: "The user's reading statistics with the per-year figures for one year.",
        variable: "year",
        read: read_stats_of_year,
        complete: complete_year,
    },
    Template {
        uri_template: "library://shelf/{shelf}",
        name: "shelf",
        title: "A shelf",
        description: "The books on one shelf (to-read, reading, read or abandoned), most recently added first.",
        variable: "shelf",
        read: read_shelf,
        complete: complete_shelf,
    },
    Template {
        uri_template: "library://book/{id}",
        name: "book",
        title: "A book",
        description: "Everything about one book of the user's library, with its readings.",
        variable: "id",
        read: read_book,
        complete: complete_book_id,
    },
];

impl Template {
    /// The parameter's value when `uri` is one of this template's resources.
    fn parameter<'u>(&self, uri: &'u str) -> Option<&'u str> {
        let prefix = self.uri_template.split('{').next().unwrap_or_default();
        uri.strip_prefix(prefix)
            .filter(|rest| !rest.is_empty() && !rest.contains('/'))
    }
}

pub fn template(uri_template: &str) -> Option<&'static Template> {
    TEMPLATES.iter().find(|t| t.uri_template == uri_template)
}

/// `resources/list`: the direct resources and the shelves (nothing without the `read` scope).
pub fn list(ctx: &Ctx<'_>) -> Value {
    if !ctx.allows(Scope::Read) {
        return json!({"resources": []});
    }
    let mut resources: Vec<Value> = DIRECT
        .iter()
        .map(|d| {
            json!({"uri": d.uri, "name": d.name, "title": d.title,
                   "description": d.description, "mimeType": MIME})
        })
        .collect();
    resources.extend(Shelf::ALL.iter().map(|shelf| {
        json!({
            "uri": format!("library://shelf/{}", shelf.as_str()),
            "name": format!("shelf-{}", shelf.as_str()),
            "title": format!("Shelf: {}", shelf.as_str()),
            "description": format!("The books on the {} shelf.", shelf.as_str()),
            "mimeType": MIME,
        })
    }));
    json!({ "resources": resources })
}

/// `resources/templates/list` (nothing without the `read` scope).
pub fn templates(ctx: &Ctx<'_>) -> Value {
    let templates: Vec<Value> = if ctx.allows(Scope::Read) {
        TEMPLATES
            .iter()
            .map(|t| {
                json!({"uriTemplate": t.uri_template, "name": t.name, "title": t.title,
                       "description": t.description, "mimeType": MIME})
            })
            .collect()
    } else {
        Vec::new()
    };
    json!({ "resourceTemplates": templates })
}

/// `resources/read`. An unknown URI, or one naming nothing in the user's library, is `-32602`
/// with the URI in `data` (never an empty `contents`).
pub fn read(ctx: &mut Ctx<'_>, params: &Value) -> MethodResult {
    let uri = super::protocol::required_str(params, "uri")?;
    if !ctx.allows(Scope::Read) {
        return Err(Failure::Scope(Scope::Read));
    }
    let found = if let Some(direct) = DIRECT.iter().find(|d| d.uri == uri) {
        Some((direct.read)(ctx)?)
    } else if let Some((template, value)) = TEMPLATES
        .iter()
        .find_map(|t| t.parameter(uri).map(|value| (t, value)))
    {
        (template.read)(ctx, value)?
    } else {
        None
    };
    let Some(document) = found else {
        return Err(not_found(uri));
    };
    Ok(json!({"contents": [{"uri": uri, "mimeType": MIME, "text": document.to_string()}]}))
}

fn not_found(uri: &str) -> Failure {
    Failure::Rpc(
        RpcError::new(INVALID_PARAMS, "Resource not found")
            .with_data(json!({"uri": uri.chars().take(2000).collect::<String>()})),
    )
}

/// A library error that means "no such thing" becomes `None`; others stay errors.
fn found<T>(result: AppResult<T>) -> AppResult<Option<T>> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(AppError::NotFound) => Ok(None),
        Err(other) => Err(other),
    }
}

fn read_stats_of_year(ctx: &mut Ctx<'_>, year: &str) -> AppResult<Option<Value>> {
    let Some(year) = parse_year(year) else {
        return Ok(None);
    };
    Ok(Some(json!(tools::statistics(ctx, Some(year))?)))
}

/// A plausible four-digit year.
pub fn parse_year(text: &str) -> Option<i32> {
    text.parse::<i32>()
        .ok()
        .filter(|y| (1000..=9999).contains(y))
}

fn read_shelf(ctx: &mut Ctx<'_>, shelf: &str) -> AppResult<Option<Value>> {
    let Some(shelf) = Shelf::parse(shelf) else {
        return Ok(None);
    };
    let query = BookQuery {
        shelf: Some(shelf),
        limit: Some(SHELF_LIMIT),
        ..Default::default()
    };
    let page = books::list(ctx.conn, ctx.memo, ctx.user_id(), &query)?;
    Ok(Some(json!({
        "shelf": shelf,
        "total": page.total,
        "books": page.items.iter().map(CompactBook::from).collect::<Vec<_>>(),
        "more": page.next_cursor.is_some(),
    })))
}

fn read_book(ctx: &mut Ctx<'_>, id: &str) -> AppResult<Option<Value>> {
    let Ok(id) = id.parse::<i64>() else {
        return Ok(None);
    };
    found(tools::book_with_readings(ctx, id))
}

/// Years with finished readings, newest first, that start with `prefix`.
pub fn complete_year(ctx: &mut Ctx<'_>, prefix: &str) -> AppResult<Vec<String>> {
    let stats = tools::statistics(ctx, None)?;
    let mut years: Vec<i32> = stats.by_year.iter().map(|y| y.year).collect();
    years.sort_unstable_by(|a, b| b.cmp(a));
    Ok(years
        .into_iter()
        .map(|y| y.to_string())
        .filter(|y| y.starts_with(prefix))
        .collect())
}

fn complete_shelf(_: &mut Ctx<'_>, prefix: &str) -> AppResult<Vec<String>> {
    Ok(Shelf::ALL
        .iter()
        .map(|s| s.as_str().to_string())
        .filter(|s| s.starts_with(prefix))
        .collect())
}

/// Ids of the books whose title, author or tags match what was typed (the same search as
/// `search_books`); an id typed whole is kept when that book exists.
fn complete_book_id(ctx: &mut Ctx<'_>, typed: &str) -> AppResult<Vec<String>> {
    let query = BookQuery {
        q: Some(typed.to_string()).filter(|t| !t.trim().is_empty()),
        limit: Some(20),
        ..Default::default()
    };
    let mut ids: Vec<String> = books::list(ctx.conn, ctx.memo, ctx.user_id(), &query)?
        .items
        .iter()
        .map(|b| b.id.to_string())
        .collect();
    if let Ok(id) = typed.parse::<i64>() {
        if found(books::get(ctx.conn, ctx.user_id(), id))?.is_some()
            && !ids.contains(&id.to_string())
        {
            ids.insert(0, id.to_string());
        }
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_take_their_parameter_from_the_last_segment() {
        let book = template("library://book/{id}").unwrap();
        assert_eq!(book.parameter("library://book/42"), Some("42"));
        assert_eq!(book.parameter("library://book/"), None);
        assert_eq!(book.parameter("library://book/4/2"), None);
        assert_eq!(book.parameter("library://shelf/read"), None);
        assert_eq!(parse_year("2024"), Some(2024));
        assert_eq!(parse_year("24"), None);
    }
}

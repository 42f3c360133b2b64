//! Prompts: conversations that start from the user's own library. One table; each entry carries
//! its arguments (with their completions) and the function that fills its messages. Every
//! prompt reads the library, so each needs the `read` scope.

use super::completion::Completer;
use super::protocol::{Ctx, Failure, MethodResult, RpcError};
use super::{resources, tools};
use crate::auth::Scope;
use crate::error::AppResult;
use crate::library::books::{self, BookQuery};
use crate::library::readings::{self, ReadingQuery};
use crate::library::{stats, ReadingStatus};
use chrono::NaiveDate;
use serde_json::{json, Map, Value};

pub struct Argument {
    pub name: &'static str,
    pub description: &'static str,
    pub required: bool,
    /// Values for `completion/complete`, from what was typed so far.
    pub complete: Option<Completer>,
}

pub struct Prompt {
    pub name: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    pub arguments: &'static [Argument],
    /// The user message's text, from the arguments (required ones are present).
    build: fn(&mut Ctx<'_>, &Map<String, Value>) -> Result<String, Failure>,
}

pub static PROMPTS: &[Prompt] = &[
    Prompt {
        name: "what_to_read_next",
        title: "What should I read next?",
        description:
            "Suggest the next book from the user's to-read shelf, from what they are reading \
                      now, what they finished and how they rated it.",
        arguments: &[Argument {
            name: "mood",
            description: "What the user is in the mood for (optional, in their words).",
            required: false,
            complete: None,
        }],
        build: what_to_read_next,
    },
    Prompt {
        name: "year_in_reading",
        title: "My year in reading",
        description:
            "A personal review of one year of reading: how much, what, the highlights and \
                      the patterns, from the user's own readings and ratings.",
        arguments: &[Argument {
            name: "year",
            description: "The year to review, like 2024.",
            required: true,
            complete: Some(resources::complete_year),
        }],
        build: year_in_reading,
    },
    Prompt {
        name: "author_reading",
        title: "My reading of an author",
        description: "Summarise what the user has read of one author: which books, when, how they \
                      rated them, and what is left on their shelves.",
        arguments: &[Argument {
            name: "author",
            description: "The author's name (part of it is enough).",
            required: true,
            complete: Some(complete_author),
        }],
        build: author_reading,
    },
];

pub fn find(name: &str) -> Option<&'static Prompt> {
    PROMPTS.iter().find(|p| p.name == name)
}

/// `prompts/list` (nothing without the `read` scope).
pub fn list(ctx: &Ctx<'_>) -> Value {
    let prompts: Vec<Value> = if ctx.allows(Scope::Read) {
        PROMPTS
            .iter()
            .map(|p| {
                json!({
                    "name": p.name,
                    "title": p.title,
                    "description": p.description,
                    "arguments": p.arguments.iter().map(|a| json!({
                        "name": a.name, "description": a.description, "required": a.required,
                    })).collect::<Vec<_>>(),
                })
            })
            .collect()
    } else {
        Vec::new()
    };
    json!({ "prompts": prompts })
}

/// `prompts/get`: the prompt's messages, filled with the user's data. An unknown prompt or a
/// missing required argument is `-32602`.
pub fn get(ctx: &mut Ctx<'_>, params: &Value) -> MethodResult {
    let name = super::protocol::required_str(params, "name")?;
    let Some(prompt) = find(name) else {
        return Err(RpcError::invalid_params(format!(
            "unknown prompt: {}",
            name.chars().take(100).collect::<String>()
        ))
        .into());
    };
    if !ctx.allows(Scope::Read) {
        return Err(Failure::Scope(Scope::Read));
    }
    let arguments = match params.get("arguments") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(arguments)) => arguments.clone(),
        Some(_) => return Err(RpcError::invalid_params("`arguments` must be an object").into()),
    };
    for argument in prompt.arguments {
        match arguments.get(argument.name) {
            Some(Value::String(value)) if !value.trim().is_empty() => {}
            None | Some(Value::Null) if !argument.required => {}
            _ => {
                return Err(RpcError::invalid_params(format!(
                    "argument `{}` is required: {}",
                    argument.name, argument.description
                ))
                .into())
            }
        }
    }
    let text = (prompt.build)(ctx, &arguments)?;
    Ok(json!({
        "description": prompt.description,
        "messages": [{"role": "user", "content": {"type": "text", "text": text}}],
    }))
}

fn argument<'a>(arguments: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    arguments
        .get(name)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

fn what_to_read_next(ctx: &mut Ctx<'_>, arguments: &Map<String, Value>) -> Result<String, Failure> {
    let recommendations = crate::db::turns::off_turn(|| tools::recommendations(ctx, 8))?;
    let stats = tools::statistics(ctx, None)?;
    let finished = readings::list(
        ctx.conn,
        ctx.user_id(),
        &ReadingQuery {
            status: Some(ReadingStatus::Finished),
            limit: Some(10),
            ..Default::default()
        },
    )?;
    let recent: Vec<Value> = finished
        .items
        .iter()
        .map(|r| json!({"title": r.book_title, "finished_on": r.finished_on, "rating": r.rating}))
        .collect();
    let mood = argument(arguments, "mood")
        .map(|m| format!("\n\nWhat I am in the mood for: {m}"))
        .unwrap_or_default();
    Ok(format!(
        "Help me choose what to read next from my to-read shelf. Pick two or three books, say \
         why each fits me, and tie each reason to something I read and liked. If nothing fits, \
         say so.{mood}\n\nCurrently reading: {}\n\nRecently finished (with my ratings): {}\n\n\
         My favourite authors and tags: {}\n\nCandidates from my to-read shelf, ranked by \
         similarity to what I rated highly: {}",
        json!(stats.currently_reading),
        json!(recent),
        json!({"authors": stats.top_authors, "tags": stats.top_tags}),
        recommendations["recommendations"],
    ))
}

fn year_in_reading(ctx: &mut Ctx<'_>, arguments: &Map<String, Value>) -> Result<String, Failure> {
    let text = argument(arguments, "year").unwrap_or_default();
    let Some(year) = resources::parse_year(text) else {
        return Err(RpcError::invalid_params("argument `year` must be a year, like 2024").into());
    };
    let stats: stats::ReadingStats = tools::statistics(ctx, Some(year))?;
    let (Some(from), Some(to)) = (
        NaiveDate::from_ymd_opt(year, 1, 1),
        NaiveDate::from_ymd_opt(year, 12, 31),
    ) else {
        return Err(RpcError::invalid_params("argument `year` must be a year, like 2024").into());
    };
    let finished = readings::list(
        ctx.conn,
        ctx.user_id(),
        &ReadingQuery {
            status: Some(ReadingStatus::Finished),
            from: Some(from),
            to: Some(to),
            limit: Some(100),
            ..Default::default()
        },
    )?;
    let books: Vec<Value> = finished
        .items
        .iter()
        .map(|r| {
            json!({"title": r.book_title, "finished_on": r.finished_on, "rating": r.rating,
                   "pages_read": r.pages_read})
        })
        .collect();
    Ok(format!(
        "Write a short, warm and specific review of my year in reading {year}: how much I read \
         (books and pages, against other years), the books I loved and the ones I did not, \
         the authors and subjects I kept coming back to, and one or two patterns I might not \
         have noticed. Use only the data below; if the year is empty, say so kindly.\n\n\
         Books finished in {year} ({} in all{}): {}\n\nMy statistics: {}",
        finished.total,
        if finished.next_cursor.is_some() {
            ", the first 100 listed"
        } else {
            ""
        },
        json!(books),
        json!({
            "books_read_in_year": stats.books_read_in_year,
            "pages_read_in_year": stats.pages_read_in_year,
            "by_month": stats.by_month,
            "by_year": stats.by_year,
            "undated": stats.undated,
            "average_rating": stats.average_rating,
            "longest_streak_days": stats.longest_streak_days,
        }),
    ))
}

fn author_reading(ctx: &mut Ctx<'_>, arguments: &Map<String, Value>) -> Result<String, Failure> {
    let author = argument(arguments, "author")
        .unwrap_or_default()
        .to_string();
    let page = books::list(
        ctx.conn,
        ctx.memo,
        ctx.user_id(),
        &BookQuery {
            author: Some(author.clone()),
            limit: Some(100),
            ..Default::default()
        },
    )?;
    let books: Vec<Value> = page.items.iter().map(tools::compact).collect();
    Ok(format!(
        "Summarise my reading of {author}: which of their books I have read and when, how I \
         rated them, how my view of them changed, and what of theirs is still on my shelves. \
         Use only the data below; if I have none of their books, say so.\n\nMy books by \
         authors matching \"{author}\" ({} in all): {}",
        page.total,
        json!(books),
    ))
}

/// Authors the user has finished books by, most read first, whose name contains what was typed
/// (case and accents do not matter).
fn complete_author(ctx: &mut Ctx<'_>, typed: &str) -> AppResult<Vec<String>> {
    let wanted = crate::library::fold(typed);
    Ok(stats::authors_read(ctx.conn, ctx.user_id())?
        .into_iter()
        .filter(|name| crate::library::fold(name).contains(&wanted))
        .collect())
}

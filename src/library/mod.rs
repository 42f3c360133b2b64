//! The library: books, readings, statistics, recommendations, import and export.
//!
//! Plain functions over `&mut DbConn`, scoped to one user, taking `now` where time matters.
//! The REST handlers (`crate::api`) and the MCP tools (`crate::mcp::tools`) both call these;
//! neither has SQL or rules of its own.

pub mod books;
pub mod export;
pub mod import;
pub mod isbn;
pub mod memo;
pub mod readings;
pub mod recommend;
pub mod stats;

use crate::db::DbConn;
use crate::error::FieldError;
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

/// The backend type of `DbConn`, for boxed queries that run on both databases.
pub type Db = <DbConn as diesel::Connection>::Backend;

/// Where a book sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Shelf {
    #[default]
    ToRead,
    Reading,
    Read,
    Abandoned,
}

impl Shelf {
    pub const ALL: [Shelf; 4] = [Shelf::ToRead, Shelf::Reading, Shelf::Read, Shelf::Abandoned];

    pub fn as_str(self) -> &'static str {
        match self {
            Shelf::ToRead => "to-read",
            Shelf::Reading => "reading",
            Shelf::Read => "read",
            Shelf::Abandoned => "abandoned",
        }
    }

    pub fn parse(text: &str) -> Option<Shelf> {
        Shelf::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// The state of one reading (a session or a read-through).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReadingStatus {
    Reading,
    Finished,
    Abandoned,
}

impl ReadingStatus {
    pub const ALL: [ReadingStatus; 3] = [
        ReadingStatus::Reading,
        ReadingStatus::Finished,
        ReadingStatus::Abandoned,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ReadingStatus::Reading => "reading",
            ReadingStatus::Finished => "finished",
            ReadingStatus::Abandoned => "abandoned",
        }
    }

    pub fn parse(text: &str) -> Option<ReadingStatus> {
        match text {
            "reading" => Some(ReadingStatus::Reading),
            "finished" => Some(ReadingStatus::Finished),
            "abandoned" => Some(ReadingStatus::Abandoned),
            _ => None,
        }
    }
}

/// Lower-case, accents removed, runs of non-alphanumerics turned into one space: the form in
/// which text is searched and compared ("Émile Zola" and "emile zola" are the same).
pub fn fold(text: &str) -> String {
    let ascii = deunicode::deunicode(text).to_lowercase();
    let mut out = String::with_capacity(ascii.len());
    let mut gap = false;
    for c in ascii.chars() {
        if c.is_ascii_alphanumeric() {
            if gap && !out.is_empty() {
                out.push(' ');
            }
            out.push(c);
            gap = false;
        } else {
            gap = true;
        }
    }
    out
}

/// A page of results.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Page<T: ToSchema> {
    pub items: Vec<T>,
    /// How many match in all.
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
    /// Pass as `cursor` (or use `offset`) for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

impl<T: ToSchema> Page<T> {
    /// A page of `items` out of `total`, with the cursor to the next one when there is one.
    pub fn new(items: Vec<T>, total: i64, limit: i64, offset: i64) -> Self {
        Page {
            items,
            total,
            limit,
            offset,
            next_cursor: next_cursor(total, limit, offset),
        }
    }
}

pub const DEFAULT_LIMIT: i64 = 20;
pub const MAX_LIMIT: i64 = 100;

/// Resolves `limit`, `offset` and an opaque `cursor` (which wins over `offset`).
pub fn page_window(
    limit: Option<i64>,
    offset: Option<i64>,
    cursor: Option<&str>,
) -> Result<(i64, i64), FieldError> {
    let limit = limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(FieldError::new(
            "limit",
            format!("must be between 1 and {MAX_LIMIT}"),
        ));
    }
    let offset = match cursor {
        Some(cursor) => decode_cursor(cursor)
            .ok_or_else(|| FieldError::new("cursor", "is not a cursor this server issued"))?,
        None => offset.unwrap_or(0),
    };
    if offset < 0 {
        return Err(FieldError::new("offset", "must not be negative"));
    }
    Ok((limit, offset))
}

pub fn next_cursor(total: i64, limit: i64, offset: i64) -> Option<String> {
    (offset + limit < total).then(|| encode_cursor(offset + limit))
}

fn encode_cursor(offset: i64) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("o:{offset}"))
}

fn decode_cursor(cursor: &str) -> Option<i64> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()?;
    String::from_utf8(bytes)
        .ok()?
        .strip_prefix("o:")?
        .parse()
        .ok()
}

/// For PATCH bodies: distinguishes a field that is absent (`None`) from one set to null
/// (`Some(None)`).
pub fn nullable<'de, T, D>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    T: Deserialize<'de>,
    D: Deserializer<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// Ratings run from 0.25 to 5 in quarter steps, so StoryGraph's quarter stars survive.
pub fn validate_rating(rating: f64) -> Result<f64, String> {
    let quarters = rating * 4.0;
    if !(1.0..=20.0).contains(&quarters) || (quarters - quarters.round()).abs() > 1e-9 {
        return Err("must be between 0.25 and 5, in steps of 0.25".into());
    }
    Ok(quarters.round() / 4.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_ignores_case_accents_and_punctuation() {
        assert_eq!(fold("Émile  Zola"), "emile zola");
        assert_eq!(fold("Cien años de soledad!"), "cien anos de soledad");
        assert_eq!(fold("L'Étranger"), "l etranger");
    }

    #[test]
    fn cursors_round_trip_and_limits_are_capped() {
        let (limit, offset) = page_window(Some(10), None, None).unwrap();
        let cursor = next_cursor(25, limit, offset).unwrap();
        assert_eq!(
            page_window(Some(10), None, Some(&cursor)).unwrap(),
            (10, 10)
        );
        assert!(next_cursor(20, 10, 10).is_none());
        assert!(page_window(Some(1000), None, None).is_err());
        assert!(page_window(None, None, Some("garbage")).is_err());
    }

    #[test]
    fn ratings_are_quarter_steps() {
        assert_eq!(validate_rating(4.25), Ok(4.25));
        assert!(validate_rating(0.0).is_err());
        assert!(validate_rating(4.3).is_err());
        assert!(validate_rating(5.25).is_err());
    }
}

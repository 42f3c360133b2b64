//! The library: books, readings, statistics, recommendations, import and export.
//!
//! Plain functions over `&mut DbConn`, scoped to one user, taking `now` where time matters.
//! The REST handlers (`crate::api`) and the MCP tools (`crate::mcp::tools`) both call these;
//! neither has SQL or rules of its own.

pub mod books;
pub(crate) mod export;
pub(crate) mod goals;
pub mod import;
pub mod isbn;
pub(crate) mod memo;
pub(crate) mod metadata;
pub mod readings;
pub(crate) mod recommend;
pub(crate) mod stats;

use crate::db::DbConn;
use crate::error::FieldError;
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

/// The backend type of `DbConn`, for boxed queries that run on both databases.
pub type Db = <DbConn as diesel::Connection>::Backend;

/// Where a book sits.
///
/// Read with [`Shelf::parse`] everywhere a shelf name comes in (the API, MCP, the pages and the
/// importers), so Goodreads' and StoryGraph's names for our shelves are accepted everywhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
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

    /// Our names, then the other services' names we read as ours (`ALIASES`).
    pub const ACCEPTED: [&'static str; 6] = [
        "to-read",
        "reading",
        "read",
        "abandoned",
        "currently-reading",
        "did-not-finish",
    ];

    /// Goodreads' and StoryGraph's names where ours differ (both export `currently-reading`;
    /// StoryGraph, and our own CSV export, `did-not-finish`).
    pub const ALIASES: [(&'static str, Shelf); 2] = [
        ("currently-reading", Shelf::Reading),
        ("did-not-finish", Shelf::Abandoned),
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Shelf::ToRead => "to-read",
            Shelf::Reading => "reading",
            Shelf::Read => "read",
            Shelf::Abandoned => "abandoned",
        }
    }

    /// A shelf by our name or an alias, ignoring case and surrounding spaces.
    pub fn parse(text: &str) -> Option<Shelf> {
        let text = text.trim();
        Shelf::ALL
            .into_iter()
            .find(|s| s.as_str().eq_ignore_ascii_case(text))
            .or_else(|| {
                Shelf::ALIASES
                    .into_iter()
                    .find(|(alias, _)| alias.eq_ignore_ascii_case(text))
                    .map(|(_, shelf)| shelf)
            })
    }

    /// What a shelf may be called, for messages.
    pub fn accepted_names() -> String {
        Shelf::ACCEPTED.join(", ")
    }
}

impl<'de> Deserialize<'de> for Shelf {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
        Shelf::parse(&text).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown shelf {text:?}: use one of {}",
                Shelf::accepted_names()
            ))
        })
    }
}

/// The schema lists every name accepted ([`Shelf::ACCEPTED`]); answers use the first four.
impl utoipa::PartialSchema for Shelf {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(Shelf::ACCEPTED))
            .description(Some(
                "A shelf: to-read, reading, read or abandoned. Goodreads' and StoryGraph's \
                 currently-reading and did-not-finish are accepted as reading and abandoned; \
                 answers always use the first four.",
            ))
            .into()
    }
}

impl ToSchema for Shelf {}

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
    // Checked even when a cursor overrides it: a request the document calls invalid is refused.
    if offset.is_some_and(|o| o < 0) {
        return Err(FieldError::new("offset", "must not be negative"));
    }
    let offset = match cursor {
        Some(cursor) => decode_cursor(cursor)
            .ok_or_else(|| FieldError::new("cursor", "is not a cursor this server issued"))?,
        None => offset.unwrap_or(0),
    };
    Ok((limit, offset))
}

pub fn next_cursor(total: i64, limit: i64, offset: i64) -> Option<String> {
    // Checked: any offset up to i64::MAX is a valid request (a page past the end, empty).
    let next = offset.checked_add(limit)?;
    (next < total).then(|| encode_cursor(next))
}

fn encode_cursor(offset: i64) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("o:{offset}"))
}

/// The most digits a cursor's offset has: any 18 digits fit an `i64`, and no library nears it.
const CURSOR_DIGITS: usize = 18;

/// Exactly the cursors [`decode_cursor`] accepts, for the OpenAPI document: the unpadded
/// base64url of `o:` and 1 to 18 decimal digits. `bzo` + one character encode `o:` and the first
/// digit; each further 4 characters encode 3 digits, and 2 or 3 characters end it on 1 or 2
/// (ASCII digits are 0x30-0x39, which pins every 6-bit group to the few characters listed).
pub const CURSOR_PATTERN: &str = concat!(
    "^bzo[w-z0-5]",
    "(?:(?:[MN][DTjz]|O[DT])[AEIMQUYcgk][w-z0-5]){0,5}",
    "(?:[MN][AQgw]|O[AQ]|(?:[MN][DTjz]|O[DT])[AEIMQUYcgk])?$"
);

/// The offset in a cursor this server issued: digits only (no sign, no spaces), so that the set
/// of accepted cursors is exactly [`CURSOR_PATTERN`] and a client can check one before sending it.
fn decode_cursor(cursor: &str) -> Option<i64> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()?;
    let digits = bytes.strip_prefix(b"o:")?;
    if digits.is_empty() || digits.len() > CURSOR_DIGITS || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
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

/// An integer field of a request body. JSON has one number type, and to JSON Schema (the OpenAPI
/// document's `integer`) `3.0` is the integer 3: it is accepted as 3, while `3.5`, or a number
/// out of the field's range, is still refused.
pub fn integer<'de, T, D>(deserializer: D) -> Result<T, D::Error>
where
    T: TryFrom<i64>,
    D: Deserializer<'de>,
{
    use serde::de::{Error, Unexpected};
    let number = serde_json::Number::deserialize(deserializer)?;
    let whole = match (number.as_i64(), number.as_f64()) {
        (Some(n), _) => Some(n),
        // Within ±2^63 an f64 with no fraction converts exactly.
        (None, Some(f)) if f.fract() == 0.0 && f.abs() < 2f64.powi(63) => Some(f as i64),
        _ => None,
    };
    let unexpected = match number.as_f64() {
        Some(f) => Unexpected::Float(f),
        None => Unexpected::Other("number"),
    };
    whole
        .and_then(|n| T::try_from(n).ok())
        .ok_or_else(|| D::Error::invalid_value(unexpected, &"an integer in the field's range"))
}

/// [`integer`] for an optional field (absent or `null` is `None`).
pub fn optional_integer<'de, T, D>(deserializer: D) -> Result<Option<T>, D::Error>
where
    T: TryFrom<i64>,
    D: Deserializer<'de>,
{
    #[derive(Deserialize)]
    struct Whole<T: TryFrom<i64>>(#[serde(deserialize_with = "integer")] T);
    Ok(Option::<Whole<T>>::deserialize(deserializer)?.map(|Whole(n)| n))
}

/// [`integer`] for a PATCH field: absent is `None`, `null` is `Some(None)`.
pub fn nullable_integer<'de, T, D>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    T: TryFrom<i64>,
    D: Deserializer<'de>,
{
    optional_integer(deserializer).map(Some)
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
        assert!(
            page_window(None, Some(-1), Some(&cursor)).is_err(),
            "a negative offset is refused even beside a cursor"
        );
    }

    /// The pattern the OpenAPI document gives for `cursor` accepts exactly what the server does:
    /// random texts over the base64url alphabet, many of them real cursors, agree both ways.
    #[test]
    fn cursor_pattern_is_exactly_the_accepted_cursors() {
        use base64::Engine;
        use rand::Rng;
        let pattern = regex::Regex::new(CURSOR_PATTERN).unwrap();
        let encode = |text: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text);
        let mut rng = rand::thread_rng();
        let alphabet: Vec<char> =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=+/ "
                .chars()
                .collect();
        let mut candidates: Vec<String> = vec![
            encode("o:0"),
            encode("o:-1"),
            encode("o:+1"),
            encode("o: 1"),
            encode("o:1 "),
            encode("o:"),
            encode(&format!("o:{}", "9".repeat(18))),
            encode(&format!("o:{}", "9".repeat(19))),
            encode(&format!("o:{}", i64::MAX)),
            format!("{}=", encode("o:12")),
        ];
        for _ in 0..20_000 {
            let digits: String = (0..rng.gen_range(0..22))
                .map(|_| char::from(b'0' + rng.gen_range(0..10u8)))
                .collect();
            let real = encode(&format!("o:{digits}"));
            // A real cursor, one with a character changed, and random text.
            let mut changed: Vec<char> = real.chars().collect();
            let at = rng.gen_range(0..changed.len());
            changed[at] = alphabet[rng.gen_range(0..alphabet.len())];
            candidates.push(real);
            candidates.push(changed.into_iter().collect());
            candidates.push(
                (0..rng.gen_range(0..12))
                    .map(|_| alphabet[rng.gen_range(0..alphabet.len())])
                    .collect(),
            );
        }
        for cursor in candidates {
            assert_eq!(
                pattern.is_match(&cursor),
                decode_cursor(&cursor).is_some_and(|o| o >= 0),
                "{cursor:?} decodes to {:?}",
                decode_cursor(&cursor)
            );
        }
    }

    #[test]
    fn integers_may_be_written_with_a_zero_fraction() {
        #[derive(Deserialize, Debug, PartialEq)]
        struct Body {
            #[serde(default, deserialize_with = "optional_integer")]
            pages: Option<i32>,
            #[serde(default, deserialize_with = "nullable_integer")]
            year: Option<Option<i32>>,
            #[serde(deserialize_with = "integer")]
            id: i64,
        }
        let parse = |json: &str| serde_json::from_str::<Body>(json);
        assert_eq!(
            parse(r#"{"pages": 112259115.0, "year": -2147483648.0, "id": 1e3}"#).unwrap(),
            Body {
                pages: Some(112_259_115),
                year: Some(Some(i32::MIN)),
                id: 1000
            }
        );
        assert_eq!(
            parse(r#"{"pages": null, "year": null, "id": 7}"#).unwrap(),
            Body {
                pages: None,
                year: Some(None),
                id: 7
            }
        );
        assert_eq!(parse(r#"{"id": 7}"#).unwrap().year, None);
        for bad in [
            r#"{"pages": 1.5, "id": 1}"#,
            r#"{"pages": 2147483648, "id": 1}"#,
            r#"{"pages": 2147483648.0, "id": 1}"#,
            r#"{"pages": "3", "id": 1}"#,
            r#"{"id": 1e300}"#,
            r#"{"id": 18446744073709551615}"#,
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_page_far_past_the_end_has_no_next_cursor() {
        assert_eq!(next_cursor(10, 100, i64::MAX - 5), None);
    }

    #[test]
    fn ratings_are_quarter_steps() {
        assert_eq!(validate_rating(4.25), Ok(4.25));
        assert!(validate_rating(0.0).is_err());
        assert!(validate_rating(4.3).is_err());
        assert!(validate_rating(5.25).is_err());
    }
}

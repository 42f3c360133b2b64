//! Book metadata from an Open Library-compatible API (`METADATA_URL`, Open Library by default):
//! a book by its ISBN (`/api/books?bibkeys=ISBN:...&jscmd=data`) or by its title
//! (`/search.json`). Used by "Look it up" on `/books/new` and by the MCP `add_book` tool when it
//! is given only an ISBN or only a title.
//!
//! Every lookup has a short timeout, and answers are kept in a bounded in-memory cache: a found
//! book or a clear "not there" for a day, a failure (timeout, refusal, an answer that is not the
//! API's) for a minute, so that a source that is down is not asked again on every keystroke.

use super::{books::is_cover_url, fold, isbn};
use serde::Deserialize;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long one lookup may take, connection included.
pub const TIMEOUT: Duration = Duration::from_secs(3);
/// How long a found book, or a clear "not there", is kept.
const FOUND_TTL: Duration = Duration::from_secs(24 * 3600);
/// How long a failure is kept: the source is not asked again meanwhile.
const FAILURE_TTL: Duration = Duration::from_secs(60);
/// Entries at most; past this the expired ones go, then the oldest.
const MAX_ENTRIES: usize = 1000;

/// What the source knows of a book, cleaned so that every field passes the library's rules.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FoundBook {
    pub title: Option<String>,
    pub authors: Vec<String>,
    /// ISBN-13 when the source gives one, else ISBN-10 (checked).
    pub isbn: Option<String>,
    pub pages: Option<i32>,
    pub published_year: Option<i32>,
    pub publisher: Option<String>,
    pub cover_url: Option<String>,
    pub tags: Vec<String>,
}

/// Why a lookup found nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    #[error("book lookups are turned off on this server")]
    Off,
    #[error("the metadata source does not know this book")]
    NotFound,
    /// The source did not answer in time, refused, or answered something else.
    #[error("the metadata source could not be reached; fill the fields by hand")]
    Unreachable,
}

pub type Lookup = Result<FoundBook, LookupError>;

/// The metadata source and its cache.
pub struct Metadata {
    base: Option<String>,
    http: reqwest::Client,
    cache: Mutex<HashMap<String, (Instant, Lookup)>>,
}

impl Metadata {
    /// `base`: the API's base URL (`https://openlibrary.org`), or `None` for no lookups.
    pub fn new(base: Option<String>) -> Result<Metadata, String> {
        let http = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .connect_timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::limited(3))
            .user_agent(concat!(
                "panicless/",
                env!("CARGO_PKG_VERSION"),
                " (self-hosted library)"
            ))
            .build()
            .map_err(|e| format!("metadata http client: {e}"))?;
        Ok(Metadata {
            base,
            http,
            cache: Mutex::new(HashMap::new()),
        })
    }

    pub fn enabled(&self) -> bool {
        self.base.is_some()
    }

    /// The source's host, to name it to the user ("openlibrary.org").
    pub fn source_name(&self) -> String {
        self.base
            .as_deref()
            .and_then(|b| url::Url::parse(b).ok())
            .and_then(|u| u.host_str().map(str::to_string))
            .unwrap_or_else(|| "the metadata source".into())
    }

    /// A book by its ISBN (any form `isbn::parse` reads).
    pub async fn by_isbn(&self, raw: &str) -> Lookup {
        let Some(base) = &self.base else {
            return Err(LookupError::Off);
        };
        let Ok(parsed) = isbn::parse(raw.trim()) else {
            return Err(LookupError::NotFound);
        };
        let isbn13 = parsed.isbn13;
        let key = format!("isbn:{isbn13}");
        if let Some(hit) = self.cached(&key) {
            return hit;
        }
        let url = format!("{base}/api/books");
        let bibkey = format!("ISBN:{isbn13}");
        let query = [
            ("bibkeys", bibkey.as_str()),
            ("format", "json"),
            ("jscmd", "data"),
        ];
        let outcome = match self.fetch(&url, &query).await {
            Ok(json) => books_api(&json, &bibkey).ok_or(LookupError::NotFound),
            Err(error) => Err(error),
        };
        // The ISBN asked for is the book's, whatever the record lists first.
        let outcome = outcome.map(|mut found| {
            found.isbn = Some(isbn13.clone());
            found
        });
        self.remember(key, outcome.clone());
        outcome
    }

    /// The best match for a title (and, when given, an author).
    pub async fn by_title(&self, title: &str, author: Option<&str>) -> Lookup {
        let Some(base) = &self.base else {
            return Err(LookupError::Off);
        };
        let author = author.map(str::trim).filter(|a| !a.is_empty());
        let key = format!("title:{}|{}", fold(title), fold(author.unwrap_or("")));
        if fold(title).is_empty() {
            return Err(LookupError::NotFound);
        }
        if let Some(hit) = self.cached(&key) {
            return hit;
        }
        let url = format!("{base}/search.json");
        let mut query = vec![
            ("title", title.trim()),
            ("limit", "1"),
            (
                "fields",
                "title,author_name,first_publish_year,isbn,number_of_pages_median,cover_i,publisher,subject",
            ),
        ];
        if let Some(author) = author {
            query.push(("author", author));
        }
        let outcome = match self.fetch(&url, &query).await {
            Ok(json) => search_api(&json).ok_or(LookupError::NotFound),
            Err(error) => Err(error),
        };
        self.remember(key, outcome.clone());
        outcome
    }

    async fn fetch(&self, url: &str, query: &[(&str, &str)]) -> Result<Value, LookupError> {
        let response = self
            .http
            .get(url)
            .query(query)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|error| {
                log::warn!("metadata lookup failed: {}", without_url(&error));
                LookupError::Unreachable
            })?;
        let status = response.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Err(LookupError::NotFound);
        }
        if !status.is_success() {
            log::warn!("metadata lookup answered {status}");
            return Err(LookupError::Unreachable);
        }
        response.json::<Value>().await.map_err(|error| {
            log::warn!("metadata lookup: not JSON: {}", without_url(&error));
            LookupError::Unreachable
        })
    }

    fn cached(&self, key: &str) -> Option<Lookup> {
        let cache = self.cache.lock().ok()?;
        let (expires, outcome) = cache.get(key)?;
        (*expires > Instant::now()).then(|| outcome.clone())
    }

    fn remember(&self, key: String, outcome: Lookup) {
        let ttl = match outcome {
            Err(LookupError::Unreachable) => FAILURE_TTL,
            _ => FOUND_TTL,
        };
        let Ok(mut cache) = self.cache.lock() else {
            return;
        };
        if cache.len() >= MAX_ENTRIES {
            let now = Instant::now();
            cache.retain(|_, (expires, _)| *expires > now);
        }
        if cache.len() >= MAX_ENTRIES {
            if let Some(oldest) = cache
                .iter()
                .min_by_key(|(_, (expires, _))| *expires)
                .map(|(k, _)| k.clone())
            {
                cache.remove(&oldest);
            }
        }
        cache.insert(key, (Instant::now() + ttl, outcome));
    }
}

/// A reqwest error without the URL it carries (the query holds what the user typed).
fn without_url(error: &reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else if error.is_decode() {
        "unreadable answer"
    } else {
        "request failed"
    };
    kind.to_string()
}

#[derive(Deserialize)]
struct Named {
    name: Option<String>,
}

/// One record of `/api/books?jscmd=data`, keyed by its bibkey.
fn books_api(json: &Value, bibkey: &str) -> Option<FoundBook> {
    let record = json.get(bibkey)?;
    let names = |field: &str| -> Vec<String> {
        record
            .get(field)
            .cloned()
            .and_then(|v| serde_json::from_value::<Vec<Named>>(v).ok())
            .unwrap_or_default()
            .into_iter()
            .filter_map(|n| n.name)
            .collect()
    };
    let identifiers = |field: &str| -> Option<String> {
        record
            .pointer(&format!("/identifiers/{field}/0"))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let cover = ["medium", "large", "small"]
        .iter()
        .find_map(|size| record.pointer(&format!("/cover/{size}")))
        .and_then(Value::as_str)
        .map(str::to_string);
    Some(clean(FoundBook {
        title: record
            .get("title")
            .and_then(Value::as_str)
            .map(str::to_string),
        authors: names("authors"),
        isbn: identifiers("isbn_13").or_else(|| identifiers("isbn_10")),
        pages: record
            .get("number_of_pages")
            .and_then(Value::as_i64)
            .and_then(|p| i32::try_from(p).ok()),
        published_year: record
            .get("publish_date")
            .and_then(Value::as_str)
            .and_then(year_in),
        publisher: names("publishers").into_iter().next(),
        cover_url: cover,
        tags: names("subjects"),
    }))
}

/// The first document of `/search.json`.
fn search_api(json: &Value) -> Option<FoundBook> {
    let doc = json.get("docs")?.get(0)?;
    let strings = |field: &str| -> Vec<String> {
        doc.get(field)
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    };
    // A book's ISBN-13 if the work lists one, else the first that parses.
    let isbns = strings("isbn");
    let isbn = isbns
        .iter()
        .filter(|i| i.len() == 13)
        .find_map(|i| isbn::parse(i).ok())
        .or_else(|| isbns.iter().find_map(|i| isbn::parse(i).ok()))
        .map(|p| p.isbn13);
    Some(clean(FoundBook {
        title: doc.get("title").and_then(Value::as_str).map(str::to_string),
        authors: strings("author_name"),
        isbn,
        pages: doc
            .get("number_of_pages_median")
            .and_then(Value::as_i64)
            .and_then(|p| i32::try_from(p).ok()),
        published_year: doc
            .get("first_publish_year")
            .and_then(Value::as_i64)
            .and_then(|y| i32::try_from(y).ok()),
        publisher: strings("publisher").into_iter().next(),
        cover_url: doc
            .get("cover_i")
            .and_then(Value::as_i64)
            .filter(|id| *id > 0)
            .map(|id| format!("https://covers.openlibrary.org/b/id/{id}-M.jpg")),
        tags: strings("subject"),
    }))
}

/// The last four-digit number in a free-form date ("May 2005", "2005-05-01", "c1965").
fn year_in(text: &str) -> Option<i32> {
    text.split(|c: char| !c.is_ascii_digit())
        .filter(|part| part.len() == 4)
        .filter_map(|part| part.parse::<i32>().ok())
        .next_back()
}

/// Keeps only what the library accepts: a source's odd values are dropped, never stored.
fn clean(found: FoundBook) -> FoundBook {
    let text = |value: Option<String>, max: usize| {
        value
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty() && v.chars().count() <= max)
    };
    let mut authors: Vec<String> = Vec::new();
    for author in found.authors {
        let author = author.trim().to_string();
        if !author.is_empty() && author.chars().count() <= 300 && !authors.contains(&author) {
            authors.push(author);
        }
    }
    authors.truncate(20);
    let tags = super::books::normalise_tags(
        &found
            .tags
            .into_iter()
            .filter(|t| t.chars().count() <= 40)
            .take(5)
            .collect::<Vec<_>>(),
    );
    FoundBook {
        title: text(found.title, 500),
        authors,
        isbn: found
            .isbn
            .and_then(|i| isbn::parse(&i).ok())
            .map(|p| p.isbn13),
        pages: found.pages.filter(|p| (1..=100_000).contains(p)),
        published_year: found.published_year.filter(|y| (-3000..=3000).contains(y)),
        publisher: text(found.publisher, 300),
        cover_url: text(found.cover_url, 2000).filter(|u| is_cover_url(u)),
        tags,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_a_books_api_record() {
        let answer = json!({"ISBN:9780441013593": {
            "title": "Dune",
            "authors": [{"name": "Frank Herbert", "url": "x"}],
            "number_of_pages": 604,
            "publishers": [{"name": "Ace Books"}],
            "publish_date": "August 2005",
            "subjects": [{"name": "Science Fiction"}, {"name": "Arrakis (Imaginary place)"}],
            "cover": {"small": "https://covers.openlibrary.org/b/id/1-S.jpg",
                      "medium": "https://covers.openlibrary.org/b/id/1-M.jpg"},
            "identifiers": {"isbn_13": ["9780441013593"]}
        }});
        let found = books_api(&answer, "ISBN:9780441013593").unwrap();
        assert_eq!(found.title.as_deref(), Some("Dune"));
        assert_eq!(found.authors, vec!["Frank Herbert"]);
        assert_eq!(found.pages, Some(604));
        assert_eq!(found.published_year, Some(2005));
        assert_eq!(found.publisher.as_deref(), Some("Ace Books"));
        assert_eq!(
            found.cover_url.as_deref(),
            Some("https://covers.openlibrary.org/b/id/1-M.jpg")
        );
        assert_eq!(
            found.tags,
            vec!["science fiction", "arrakis (imaginary place)"]
        );
        assert_eq!(books_api(&json!({}), "ISBN:9780441013593"), None);
    }

    #[test]
    fn drops_what_the_library_would_refuse() {
        let found = clean(FoundBook {
            title: Some("  ".into()),
            authors: vec!["A".into(), "A".into(), "".into()],
            isbn: Some("123".into()),
            pages: Some(0),
            published_year: Some(99_999),
            publisher: None,
            cover_url: Some("http://127.0.0.1:8080/x.jpg".into()),
            tags: vec![],
        });
        assert_eq!(
            found,
            FoundBook {
                authors: vec!["A".into()],
                ..FoundBook::default()
            }
        );
    }

    #[test]
    fn reads_the_first_search_result() {
        let answer = json!({"numFound": 2, "docs": [{
            "title": "The Left Hand of Darkness",
            "author_name": ["Ursula K. Le Guin"],
            "first_publish_year": 1969,
            "isbn": ["0441478123", "9780441478125"],
            "number_of_pages_median": 304,
            "cover_i": 8231856
        }]});
        let found = search_api(&answer).unwrap();
        assert_eq!(found.isbn.as_deref(), Some("9780441478125"));
        assert_eq!(found.published_year, Some(1969));
        assert_eq!(
            found.cover_url.as_deref(),
            Some("https://covers.openlibrary.org/b/id/8231856-M.jpg")
        );
        assert_eq!(search_api(&json!({"numFound": 0, "docs": []})), None);
    }

    #[test]
    fn years_from_free_form_dates() {
        assert_eq!(year_in("2005"), Some(2005));
        assert_eq!(year_in("May 12, 1999"), Some(1999));
        assert_eq!(year_in("c1965"), Some(1965));
        assert_eq!(year_in("n.d."), None);
    }
}

//! Requests the API cannot read, as answers a client can act on.
//!
//! A body that is not JSON at all is `400` (with where the parser stopped); a body, query or path
//! that is JSON or text of the wrong shape is `422` with `errors[]`: each field by its dotted
//! path (`shelf`, `authors[2]`) or parameter name, what is wrong with it, and what it accepts,
//! read from the OpenAPI document the server serves, so that the answer and the document cannot
//! disagree. The extractors (`JsonBody`, and actix's `Query` and `Path` through the handlers
//! configured in `crate::app`) are the only callers: no handler words these errors itself.

use crate::error::{AppError, FieldError, Position};
use actix_web::HttpRequest;
use serde_json::Value;
use std::sync::{Arc, Mutex};

/// One step into a body: an object's field or an array's item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Key(String),
    Index(usize),
}

/// `a.b[2].c`, as serde_path_to_error writes paths.
pub fn dotted(steps: &[Step]) -> String {
    let mut out = String::new();
    for step in steps {
        match step {
            Step::Key(key) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Step::Index(index) => out.push_str(&format!("[{index}]")),
        }
    }
    out
}

/// Reads a JSON body: `400` when it is not JSON or not an object, `422` naming the field when
/// it does not fit `T`.
pub fn read_json<T: serde::de::DeserializeOwned>(
    req: &HttpRequest,
    bytes: &[u8],
) -> Result<T, AppError> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| malformed(&e))?;
    if !value.is_object() {
        return Err(AppError::BadRequest(
            "invalid JSON body: expected a JSON object".into(),
        ));
    }
    serde_path_to_error::deserialize(value).map_err(|error| {
        let mut steps: Vec<Step> = error
            .path()
            .iter()
            .filter_map(|segment| match segment {
                serde_path_to_error::Segment::Map { key } => Some(Step::Key(key.clone())),
                serde_path_to_error::Segment::Seq { index } => Some(Step::Index(*index)),
                _ => None,
            })
            .collect();
        let inner = error.into_inner().to_string();
        let (problem, unknown) = match quoted_after(&inner, "missing field `") {
            Some(name) => {
                steps.push(Step::Key(name));
                ("is required".to_string(), false)
            }
            None => match quoted_after(&inner, "unknown field `") {
                Some(name) => {
                    // The path already ends on the unknown key (a missing one it cannot).
                    if steps.last() != Some(&Step::Key(name.clone())) {
                        steps.push(Step::Key(name));
                    }
                    ("is not a field of this request".to_string(), true)
                }
                None => (problem_of(&inner), false),
            },
        };
        let accepts = if unknown {
            let parent = &steps[..steps.len().saturating_sub(1)];
            body_schema(req, parent).and_then(|s| fields_of(&s))
        } else {
            body_schema(req, &steps).and_then(|s| describe(&s))
        };
        AppError::Validation(vec![field_error(dotted(&steps), problem, accepts)])
    })
}

/// `400` for a body that is not JSON: serde's message without its position, which goes to a
/// field of its own.
pub fn malformed(error: &serde_json::Error) -> AppError {
    let position = (error.line() > 0).then(|| Position {
        line: error.line(),
        column: error.column(),
    });
    let text = error.to_string();
    let suffix = format!(" at line {} column {}", error.line(), error.column());
    let reason = text.strip_suffix(&suffix).unwrap_or(&text);
    let message = match error.classify() {
        serde_json::error::Category::Eof => "the body is not valid JSON: it ends too early".into(),
        _ => format!("the body is not valid JSON: {reason}"),
    };
    AppError::MalformedJson { message, position }
}

/// The name in "missing field `name`" and the like.
fn quoted_after(text: &str, prefix: &str) -> Option<String> {
    let rest = text.strip_prefix(prefix)?;
    Some(rest.split('`').next()?.to_string())
}

/// What serde says is wrong, in the API's words.
fn problem_of(message: &str) -> String {
    if let Some(rest) = message.strip_prefix("invalid type: ") {
        let got = rest.split(", expected").next().unwrap_or(rest);
        return format!("has the wrong type ({got})");
    }
    if let Some(rest) = message.strip_prefix("invalid value: ") {
        let got = rest.split(", expected").next().unwrap_or(rest);
        return format!("is not valid ({got})");
    }
    if message.starts_with("unknown variant") {
        let got = quoted_after(message, "unknown variant `").unwrap_or_default();
        return format!("has no value {got:?}");
    }
    // chrono's date parser, and our own enums (`Shelf`), whose messages are already sentences.
    match message {
        "input is out of range" => "is not a date that exists".into(),
        "input contains invalid characters" | "premature end of input" | "trailing input" => {
            "is not a date written YYYY-MM-DD".into()
        }
        other => other.to_string(),
    }
}

fn field_error(field: String, problem: String, accepts: Option<String>) -> FieldError {
    // A message that lists the values already (`Shelf`'s) does not list them twice.
    let listed = |accepts: &str| {
        accepts
            .strip_prefix("one of: ")
            .is_some_and(|values| problem.contains(values))
    };
    let message = match &accepts {
        Some(accepts) if !listed(accepts) => format!("{problem}; expected {accepts}"),
        _ => problem,
    };
    FieldError::new(field, message).accepting(accepts)
}

/// `422` for a query string the handler's parameters cannot hold: each parameter whose value
/// does not fit its schema in the document, or the whole query string when none can be named.
pub fn query_error(req: &HttpRequest, cause: &str) -> AppError {
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(req.query_string().as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let errors = parameter_errors(req, "query", &pairs);
    if errors.is_empty() {
        return AppError::Validation(vec![FieldError::new(
            "",
            format!("the query string cannot be read: {}", problem_of(cause)),
        )]);
    }
    AppError::Validation(errors)
}

/// `422` for a path parameter of the wrong form (`/api/books/abc`).
pub fn path_error(req: &HttpRequest) -> AppError {
    let pairs: Vec<(String, String)> = req
        .match_info()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let errors = parameter_errors(req, "path", &pairs);
    if errors.is_empty() {
        return AppError::NotFound;
    }
    AppError::Validation(errors)
}

fn parameter_errors(
    req: &HttpRequest,
    location: &str,
    pairs: &[(String, String)],
) -> Vec<FieldError> {
    let Some(doc) = document() else {
        return Vec::new();
    };
    let Some(operation) = operation(&doc, req) else {
        return Vec::new();
    };
    let parameters = operation["parameters"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut errors = Vec::new();
    for parameter in parameters.iter().filter(|p| p["in"] == location) {
        let Some(name) = parameter["name"].as_str() else {
            continue;
        };
        let schema = resolve(&doc, &parameter["schema"]);
        for (_, value) in pairs.iter().filter(|(k, _)| k == name) {
            if !fits(&schema, value) {
                errors.push(field_error(
                    name.to_string(),
                    format!("{value:?} is not valid"),
                    describe(&schema),
                ));
            }
        }
    }
    errors
}

/// Whether a parameter's text can be read as its schema's type (ranges and patterns are the
/// handlers' to check, with their own messages).
fn fits(schema: &Value, text: &str) -> bool {
    if let Some(values) = schema["enum"].as_array() {
        return values.iter().any(|v| v.as_str() == Some(text))
            || (is_shelf(values) && crate::library::Shelf::parse(text).is_some());
    }
    match type_of(schema).as_deref() {
        // The format's width too: a year past i32 is refused here, by name, where the handler's
        // extractor could only fail to read it.
        Some("integer") if schema["format"] == "int32" => text.parse::<i32>().is_ok(),
        Some("integer") => text.parse::<i64>().is_ok(),
        Some("number") => text.parse::<f64>().is_ok(),
        Some("boolean") => matches!(text, "true" | "false"),
        _ => true,
    }
}

fn is_shelf(values: &[Value]) -> bool {
    values.len() == crate::library::Shelf::ACCEPTED.len()
        && values
            .iter()
            .zip(crate::library::Shelf::ACCEPTED)
            .all(|(v, name)| v == name)
}

/// The schema of the body at `steps`, from the operation the request matched.
fn body_schema(req: &HttpRequest, steps: &[Step]) -> Option<Value> {
    let doc = document()?;
    let operation = operation(&doc, req)?;
    let mut schema = resolve(
        &doc,
        &operation["requestBody"]["content"]["application/json"]["schema"],
    );
    for step in steps {
        let next = match step {
            Step::Key(key) => schema["properties"].get(key)?.clone(),
            Step::Index(_) => schema.get("items")?.clone(),
        };
        schema = resolve(&doc, &next);
    }
    Some(schema)
}

fn operation(doc: &Value, req: &HttpRequest) -> Option<Value> {
    let pattern = req.match_pattern()?;
    let method = req.method().as_str().to_ascii_lowercase();
    doc["paths"].get(&pattern)?.get(&method).cloned()
}

/// A schema with `$ref`s followed, and `oneOf`/`anyOf`/`allOf` with `null` (how utoipa writes
/// an optional field) read as the branch that is not null.
fn resolve(doc: &Value, schema: &Value) -> Value {
    let mut current = schema.clone();
    for _ in 0..8 {
        if let Some(reference) = current["$ref"].as_str() {
            let name = reference.trim_start_matches("#/components/schemas/");
            let mut target = doc["components"]["schemas"][name].clone();
            // A description beside the reference is the field's own.
            if let (Some(own), Some(object)) = (current.get("description"), target.as_object_mut())
            {
                object.insert("description".into(), own.clone());
            }
            current = target;
            continue;
        }
        let branch = ["oneOf", "anyOf", "allOf"].iter().find_map(|k| {
            current[*k]
                .as_array()
                .and_then(|branches| branches.iter().find(|b| b["type"] != "null").cloned())
        });
        match branch {
            Some(branch) => current = branch,
            None => break,
        }
    }
    current
}

/// The schema's type other than `null`.
fn type_of(schema: &Value) -> Option<String> {
    match &schema["type"] {
        Value::String(t) => Some(t.clone()),
        Value::Array(types) => types
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null")
            .map(String::from),
        _ => None,
    }
}

/// What a schema accepts, in words: the type, the allowed values, the format, the range.
pub fn describe(schema: &Value) -> Option<String> {
    if let Some(values) = schema["enum"].as_array() {
        let names: Vec<String> = values
            .iter()
            .filter(|v| !v.is_null())
            .map(|v| v.as_str().map_or_else(|| v.to_string(), String::from))
            .collect();
        return Some(format!("one of: {}", names.join(", ")));
    }
    let range = |min: &str, max: &str, unit: &str| -> String {
        match (schema.get(min), schema.get(max)) {
            (Some(lo), Some(hi)) => format!(" from {lo} to {hi}{unit}"),
            (Some(lo), None) => format!(" of at least {lo}{unit}"),
            (None, Some(hi)) => format!(" of at most {hi}{unit}"),
            (None, None) => String::new(),
        }
    };
    let text = match type_of(schema)?.as_str() {
        "integer" => format!("an integer{}", range("minimum", "maximum", "")),
        "number" => {
            let steps = schema
                .get("multipleOf")
                .map(|m| format!(", in steps of {m}"))
                .unwrap_or_default();
            format!("a number{}{steps}", range("minimum", "maximum", ""))
        }
        "boolean" => "true or false".into(),
        "string" => match schema["format"].as_str() {
            Some("date") => "a date that exists, written YYYY-MM-DD".into(),
            Some("date-time") => "a date and time (RFC 3339)".into(),
            Some("isbn") => "an ISBN-10 or ISBN-13, with or without dashes".into(),
            Some("uri") => "a URL".into(),
            _ => format!("a string{}", range("minLength", "maxLength", " characters")),
        },
        "array" => {
            let items = schema
                .get("items")
                .and_then(describe)
                .map(|d| format!(" of {d}"))
                .unwrap_or_default();
            let count = range("minItems", "maxItems", " items");
            format!("a list{count}{items}")
        }
        "object" => fields_of(schema).unwrap_or_else(|| "an object".into()),
        _ => return None,
    };
    Some(text)
}

/// "an object with the fields a, b, c" for an object schema.
fn fields_of(schema: &Value) -> Option<String> {
    let names: Vec<&str> = schema["properties"]
        .as_object()?
        .keys()
        .map(String::as_str)
        .collect();
    Some(format!("an object with the fields {}", names.join(", ")))
}

/// The document as served today, built once a day: only validation failures read it.
fn document() -> Option<Arc<Value>> {
    static CACHE: Mutex<Option<(chrono::NaiveDate, Arc<Value>)>> = Mutex::new(None);
    let today = crate::db::models::now().date();
    let mut cache = CACHE.lock().ok()?;
    if let Some((day, doc)) = cache.as_ref() {
        if *day == today {
            return Some(doc.clone());
        }
    }
    let doc = Arc::new(super::openapi::served("", today));
    *cache = Some((today, doc.clone()));
    Some(doc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn schemas_are_described_in_words() {
        assert_eq!(
            describe(&json!({"type": ["integer", "null"], "minimum": 1, "maximum": 100000})),
            Some("an integer from 1 to 100000".into())
        );
        assert_eq!(
            describe(&json!({"type": "string", "enum": ["to-read", "read"]})),
            Some("one of: to-read, read".into())
        );
        assert_eq!(
            describe(&json!({"type": "string", "format": "date"})),
            Some("a date that exists, written YYYY-MM-DD".into())
        );
        assert_eq!(
            describe(
                &json!({"type": "array", "maxItems": 100, "items": {"type": "string", "maxLength": 300}})
            ),
            Some("a list of at most 100 items of a string of at most 300 characters".into())
        );
    }

    #[test]
    fn paths_are_dotted() {
        assert_eq!(
            dotted(&[Step::Key("authors".into()), Step::Index(2)]),
            "authors[2]"
        );
        assert_eq!(
            dotted(&[Step::Key("a".into()), Step::Key("b".into())]),
            "a.b"
        );
    }
}

//! JSON-RPC 2.0 for MCP: classifying incoming messages, error objects, and the methods.

use super::tools;
use crate::auth::guard::Caller;
use crate::auth::Scope;
use crate::state::AppState;
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{json, Value};

pub const PARSE_ERROR: i64 = -32700;
pub const INVALID_REQUEST: i64 = -32600;
pub const METHOD_NOT_FOUND: i64 = -32601;
pub const INVALID_PARAMS: i64 = -32602;
pub const INTERNAL_ERROR: i64 = -32603;

#[derive(Debug, Clone, PartialEq)]
pub struct RpcError {
    pub code: i64,
    pub message: String,
}

impl RpcError {
    pub fn new(code: i64, message: impl Into<String>) -> Self {
        RpcError {
            code,
            message: message.into(),
        }
    }

    pub fn invalid_params(message: impl Into<String>) -> Self {
        RpcError::new(INVALID_PARAMS, message)
    }

    /// The response object carrying this error for request `id` (`null` when unknown).
    pub fn response(&self, id: &Value) -> Value {
        json!({"jsonrpc": "2.0", "id": id, "error": {"code": self.code, "message": self.message}})
    }
}

pub fn success(id: &Value, result: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "result": result})
}

/// One message from the client.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    Request {
        id: Value,
        method: String,
        params: Value,
    },
    Notification {
        method: String,
    },
    /// A response to a server-to-client request; this server sends none, so it is acknowledged.
    Response,
}

impl Incoming {
    pub fn is_request(&self) -> bool {
        matches!(self, Incoming::Request { .. })
    }
}

/// Classifies a parsed JSON value. An invalid message yields the error and the id to answer
/// with (`null` when the id itself is unusable).
pub fn classify(message: Value) -> Result<Incoming, (Value, RpcError)> {
    let Value::Object(mut object) = message else {
        return Err((
            Value::Null,
            RpcError::new(INVALID_REQUEST, "a JSON-RPC message must be an object"),
        ));
    };
    let id = object.remove("id");
    let id_ok = matches!(id, Some(Value::String(_)) | Some(Value::Number(_)));
    let reply_id = if id_ok {
        id.clone().unwrap_or(Value::Null)
    } else {
        Value::Null
    };
    if object.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Err((
            reply_id,
            RpcError::new(INVALID_REQUEST, "`jsonrpc` must be \"2.0\""),
        ));
    }
    match object.remove("method") {
        Some(Value::String(method)) => {
            let params = match object.remove("params") {
                None | Some(Value::Null) => Value::Object(Default::default()),
                Some(p @ Value::Object(_)) => p,
                Some(_) => {
                    return Err((
                        reply_id,
                        RpcError::invalid_params("`params` must be an object"),
                    ))
                }
            };
            match id {
                None => Ok(Incoming::Notification { method }),
                Some(_) if id_ok => Ok(Incoming::Request {
                    id: reply_id,
                    method,
                    params,
                }),
                Some(_) => Err((
                    Value::Null,
                    RpcError::new(INVALID_REQUEST, "`id` must be a string or a number"),
                )),
            }
        }
        Some(_) => Err((
            reply_id,
            RpcError::new(INVALID_REQUEST, "`method` must be a string"),
        )),
        None if id_ok && (object.contains_key("result") || object.contains_key("error")) => {
            Ok(Incoming::Response)
        }
        None => Err((
            reply_id,
            RpcError::new(INVALID_REQUEST, "a request needs a `method`"),
        )),
    }
}

/// What `initialize` answers.
pub fn initialize_result(version: &str) -> Value {
    json!({
        "protocolVersion": version,
        "capabilities": {"tools": {"listChanged": false}},
        "serverInfo": {
            "name": "panicless-library",
            "title": "Panicless Library",
            "version": env!("CARGO_PKG_VERSION"),
        },
        "instructions": "This is the user's personal reading library. Use search_books to find \
    books (by title, author, tag or shelf) before changing one, and refer to books by their id. \
    Shelves are to-read, reading, read and abandoned. log_reading records a reading session or a \
    finished read-through (finishing moves the book to read). reading_stats answers questions \
    about how much and what the user has read; recommend_books suggests what to read next from \
    their to-read shelf. Long lists are paginated: pass the returned next_cursor to get more.",
    })
}

/// One JSON-RPC response: built as a `Value`, or already written out. A tool's result is
/// written once, straight from typed data, and embedded as it is: building it as a `Value`,
/// writing it twice (the text block, then the response) and tearing the tree down was half the
/// instructions of a `search_books` call (callgrind, bench/README.md).
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Response {
    Value(Value),
    Raw(Box<RawValue>),
}

impl Response {
    /// An error response to an invalid request, which the transport answers with HTTP 400.
    pub fn is_invalid_request(&self) -> bool {
        match self {
            Response::Value(value) => value
                .get("error")
                .is_some_and(|e| e["code"] == INVALID_REQUEST),
            Response::Raw(_) => false,
        }
    }
}

impl From<Value> for Response {
    fn from(value: Value) -> Self {
        Response::Value(value)
    }
}

/// Writes `value` out once, for embedding. Serialising plain data cannot fail; should it ever,
/// the failure is logged and `null` stands in.
pub fn raw(value: &impl Serialize) -> Box<RawValue> {
    serde_json::value::to_raw_value(value).unwrap_or_else(|error| {
        log::error!("cannot serialise a response: {error}");
        RawValue::NULL.to_owned()
    })
}

/// A success response around a result already written out.
fn success_raw(id: &Value, result: &RawValue) -> Response {
    #[derive(Serialize)]
    struct Success<'a> {
        id: &'a Value,
        jsonrpc: &'static str,
        result: &'a RawValue,
    }
    Response::Raw(raw(&Success {
        id,
        jsonrpc: "2.0",
        result,
    }))
}

/// The outcome of one request.
pub enum Outcome {
    Response(Response),
    /// The token lacks a scope a tool needs: an HTTP 403 with `insufficient_scope`.
    InsufficientScope(Scope),
}

pub struct Context<'a> {
    pub state: &'a AppState,
    pub caller: &'a Caller,
    pub version: &'a str,
}

/// Answers one request (not `initialize`, which the transport handles because it creates the
/// session).
pub async fn dispatch(ctx: &Context<'_>, id: &Value, method: &str, params: Value) -> Outcome {
    let result = match method {
        "ping" => Ok(json!({})),
        "tools/list" => Ok(tools::list(ctx.caller, ctx.version)),
        "tools/call" => return call_tool(ctx, id, params).await,
        "initialize" => Err(RpcError::new(
            INVALID_REQUEST,
            "the session is already initialized",
        )),
        other => Err(RpcError::new(
            METHOD_NOT_FOUND,
            format!("method not found: {other}"),
        )),
    };
    Outcome::Response(Response::Value(match result {
        Ok(value) => success(id, value),
        Err(error) => error.response(id),
    }))
}

async fn call_tool(ctx: &Context<'_>, id: &Value, params: Value) -> Outcome {
    let Some(name) = params.get("name").and_then(Value::as_str) else {
        return Outcome::Response(
            RpcError::invalid_params("tools/call needs a tool `name`")
                .response(id)
                .into(),
        );
    };
    let Some(tool) = tools::find(name) else {
        return Outcome::Response(
            RpcError::invalid_params(format!("unknown tool: {name}"))
                .response(id)
                .into(),
        );
    };
    if !ctx.caller.scopes.allows(tool.scope) {
        return Outcome::InsufficientScope(tool.scope);
    }
    let arguments = match params.get("arguments") {
        None | Some(Value::Null) => json!({}),
        Some(args @ Value::Object(_)) => args.clone(),
        Some(_) => {
            return Outcome::Response(
                RpcError::invalid_params("`arguments` must be an object")
                    .response(id)
                    .into(),
            )
        }
    };
    let result = tools::call(ctx.state, ctx.caller, tool, arguments, ctx.version).await;
    Outcome::Response(success_raw(id, &result))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_requests_notifications_and_responses() {
        let request = classify(json!({"jsonrpc": "2.0", "id": 1, "method": "ping"})).unwrap();
        assert!(matches!(request, Incoming::Request { ref method, .. } if method == "ping"));
        let note =
            classify(json!({"jsonrpc": "2.0", "method": "notifications/initialized"})).unwrap();
        assert_eq!(
            note,
            Incoming::Notification {
                method: "notifications/initialized".into()
            }
        );
        assert_eq!(
            classify(json!({"jsonrpc": "2.0", "id": "a", "result": {}})).unwrap(),
            Incoming::Response
        );
    }

    #[test]
    fn invalid_messages_keep_a_usable_id() {
        let (id, error) =
            classify(json!({"jsonrpc": "1.0", "id": 7, "method": "ping"})).unwrap_err();
        assert_eq!((id, error.code), (json!(7), INVALID_REQUEST));
        let (id, error) =
            classify(json!({"jsonrpc": "2.0", "id": 7, "method": "x", "params": [1]})).unwrap_err();
        assert_eq!((id, error.code), (json!(7), INVALID_PARAMS));
        let (id, error) =
            classify(json!({"jsonrpc": "2.0", "id": {"x": 1}, "method": "ping"})).unwrap_err();
        assert_eq!((id, error.code), (Value::Null, INVALID_REQUEST));
        let (_, error) = classify(json!([1])).unwrap_err();
        assert_eq!(error.code, INVALID_REQUEST);
    }
}

//! JSON-RPC 2.0 for MCP: classifying incoming messages, error objects, the method table, and
//! answering one request. Answering is a plain function over a database connection (`Ctx`):
//! the transport runs it on the database threads, together with the token's liveness check, in
//! one blocking call.

use super::era::{self, Era};
use super::{completion, prompts, resources, tools};
use crate::auth::guard::Caller;
use crate::auth::Scope;
use crate::db::DbConn;
use crate::error::AppError;
use crate::library::memo::Memo;
use chrono::NaiveDateTime;
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};

pub const PARSE_ERROR: i64 = -32700;
pub const INVALID_REQUEST: i64 = -32600;
pub const METHOD_NOT_FOUND: i64 = -32601;
pub const INVALID_PARAMS: i64 = -32602;
pub const INTERNAL_ERROR: i64 = -32603;
/// Modern era: the routing headers disagree with the body.
pub const HEADER_MISMATCH: i64 = -32020;
/// Modern era: the request's protocol version is not one we speak.
pub const UNSUPPORTED_PROTOCOL_VERSION: i64 = -32022;

#[derive(Debug, Clone, PartialEq)]
pub struct RpcError {
    pub code: i64,
    pub message: String,
    pub data: Option<Value>,
}

impl RpcError {
    pub fn new(code: i64, message: impl Into<String>) -> Self {
        RpcError {
            code,
            message: message.into(),
            data: None,
        }
    }

    pub fn invalid_params(message: impl Into<String>) -> Self {
        RpcError::new(INVALID_PARAMS, message)
    }

    pub fn method_not_found(method: &str) -> Self {
        RpcError::new(
            METHOD_NOT_FOUND,
            format!(
                "method not found: {}",
                method.chars().take(100).collect::<String>()
            ),
        )
    }

    pub fn with_data(mut self, data: Value) -> Self {
        self.data = Some(data);
        self
    }

    /// The response object carrying this error for request `id` (`null` when unknown).
    pub fn response(&self, id: &Value) -> Value {
        let mut error = json!({"code": self.code, "message": self.message});
        if let Some(data) = &self.data {
            error["data"] = data.clone();
        }
        json!({"jsonrpc": "2.0", "id": id, "error": error})
    }

    /// The HTTP status of a modern error response: the table the spec and SDKs share (400 for
    /// a request the client must fix, 404 for a method we do not have, 200 otherwise).
    pub fn modern_status(&self) -> u16 {
        match self.code {
            PARSE_ERROR
            | INVALID_REQUEST
            | INVALID_PARAMS
            | HEADER_MISMATCH
            | UNSUPPORTED_PROTOCOL_VERSION => 400,
            METHOD_NOT_FOUND => 404,
            _ => 200,
        }
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

/// The methods this server answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Initialize,
    Ping,
    Discover,
    ToolsList,
    ToolsCall,
    ResourcesList,
    ResourceTemplatesList,
    ResourcesRead,
    PromptsList,
    PromptsGet,
    Complete,
    Listen,
}

/// How long a client may keep a result of a cacheable method (modern era), in milliseconds.
/// Lists of what the server offers change only with a new release; the library's own data may
/// change at any moment, so it is never fresh for long.
const CATALOG_TTL_MS: u64 = 300_000;
const DATA_TTL_MS: u64 = 0;

struct MethodEntry {
    name: &'static str,
    method: Method,
    legacy: bool,
    modern: bool,
    /// `Some(ttlMs)` for results that carry caching hints in the modern era.
    cache: Option<u64>,
}

const fn entry(
    name: &'static str,
    method: Method,
    legacy: bool,
    modern: bool,
    cache: Option<u64>,
) -> MethodEntry {
    MethodEntry {
        name,
        method,
        legacy,
        modern,
        cache,
    }
}

/// One table of methods: which era has each, and which carry caching hints. `initialize` and
/// `ping` are gone from the modern era, `server/discover` and `subscriptions/listen` are new in
/// it; `resources/subscribe` and `logging/setLevel` are not offered in either (the capabilities
/// say so), so they are unknown methods.
const METHODS: &[MethodEntry] = &[
    entry("initialize", Method::Initialize, true, false, None),
    entry("ping", Method::Ping, true, false, None),
    entry(
        "server/discover",
        Method::Discover,
        false,
        true,
        Some(CATALOG_TTL_MS),
    ),
    entry(
        "tools/list",
        Method::ToolsList,
        true,
        true,
        Some(CATALOG_TTL_MS),
    ),
    entry("tools/call", Method::ToolsCall, true, true, None),
    entry(
        "resources/list",
        Method::ResourcesList,
        true,
        true,
        Some(DATA_TTL_MS),
    ),
    entry(
        "resources/templates/list",
        Method::ResourceTemplatesList,
        true,
        true,
        Some(CATALOG_TTL_MS),
    ),
    entry(
        "resources/read",
        Method::ResourcesRead,
        true,
        true,
        Some(DATA_TTL_MS),
    ),
    entry(
        "prompts/list",
        Method::PromptsList,
        true,
        true,
        Some(CATALOG_TTL_MS),
    ),
    entry("prompts/get", Method::PromptsGet, true, true, None),
    entry("completion/complete", Method::Complete, true, true, None),
    entry("subscriptions/listen", Method::Listen, false, true, None),
];

impl Method {
    /// The method named `name`, if the era has it.
    pub fn find(name: &str, era: Era) -> Option<Method> {
        METHODS
            .iter()
            .find(|m| {
                m.name == name
                    && match era {
                        Era::Legacy => m.legacy,
                        Era::Modern => m.modern,
                    }
            })
            .map(|m| m.method)
    }

    fn cache_ttl(self) -> Option<u64> {
        METHODS
            .iter()
            .find(|m| m.method == self)
            .and_then(|m| m.cache)
    }
}

/// The capabilities both eras announce. Nothing this server offers changes while it runs, so
/// it promises no change notifications and no subscriptions.
pub fn capabilities() -> Value {
    json!({
        "tools": {"listChanged": false},
        "resources": {"subscribe": false, "listChanged": false},
        "prompts": {"listChanged": false},
        "completions": {},
    })
}

/// What `initialize` answers (legacy era).
pub fn initialize_result(version: &str) -> Value {
    json!({
        "protocolVersion": version,
        "capabilities": capabilities(),
        "serverInfo": era::server_info(),
        "instructions": super::INSTRUCTIONS,
    })
}

/// What `server/discover` answers (modern era), before the modern envelope is added.
fn discover_result() -> Value {
    json!({
        "supportedVersions": super::supported_versions(),
        "capabilities": capabilities(),
        "instructions": super::INSTRUCTIONS,
        // Older drafts of the revision had it at the top; `_meta` carries it too.
        "serverInfo": era::server_info(),
    })
}

/// One JSON-RPC response: built as a `Value`, or already written out. A tool's result is
/// written once, straight from typed data, and embedded as it is (bench/README.md, "Design
/// notes moved from the code").
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Response {
    Value(Value),
    Raw(Box<RawValue>),
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

/// The answer to one request.
pub enum Outcome {
    Result(Response),
    Error(RpcError),
    /// The token lacks a scope the method needs: an HTTP 403 with `insufficient_scope`.
    InsufficientScope(Scope),
}

/// Everything a method may use: the database, the caller's library, the clock.
pub struct Ctx<'a> {
    pub conn: &'a mut DbConn,
    pub memo: &'a Memo,
    pub caller: &'a Caller,
    pub now: NaiveDateTime,
    /// Book lookups made for this request before its database work (`tools::prefetch`).
    pub prefetched: &'a super::tools::Prefetched,
}

impl Ctx<'_> {
    pub fn user_id(&self) -> i64 {
        self.caller.user_id
    }

    pub fn allows(&self, scope: Scope) -> bool {
        self.caller.scopes.allows(scope)
    }
}

/// The era and version a request is answered in.
#[derive(Debug, Clone, Copy)]
pub struct Dialect<'a> {
    pub era: Era,
    pub version: &'a str,
}

impl Dialect<'_> {
    /// Structured tool output arrived with 2025-06-18; 2025-03-26 clients get text only.
    pub fn structured(&self) -> bool {
        self.version != super::BATCH_VERSION
    }
}

/// Answers one request (not `initialize` or `subscriptions/listen`, which the transport
/// handles: one creates a session, the other opens a stream).
pub fn answer(ctx: &mut Ctx<'_>, dialect: Dialect<'_>, method: Method, params: Value) -> Outcome {
    let result = match method {
        Method::Ping => Ok(json!({})),
        Method::Discover => Ok(discover_result()),
        Method::ToolsList => Ok(tools::list(ctx, dialect)),
        Method::ToolsCall => {
            return match tools::call(ctx, dialect, params) {
                Ok(result) => Outcome::Result(Response::Raw(result)),
                Err(outcome) => outcome,
            }
        }
        Method::ResourcesList => Ok(resources::list(ctx)),
        Method::ResourceTemplatesList => Ok(resources::templates(ctx)),
        Method::ResourcesRead => resources::read(ctx, &params),
        Method::PromptsList => Ok(prompts::list(ctx)),
        Method::PromptsGet => prompts::get(ctx, &params),
        Method::Complete => completion::complete(ctx, &params),
        Method::Initialize | Method::Listen => Err(Failure::Rpc(RpcError::new(
            INVALID_REQUEST,
            "this method cannot be sent here",
        ))),
    };
    match result {
        Ok(value) => Outcome::Result(Response::Value(envelope(dialect.era, method, value))),
        Err(Failure::Rpc(error)) => Outcome::Error(error),
        Err(Failure::Scope(scope)) => Outcome::InsufficientScope(scope),
        Err(Failure::App(error)) => Outcome::Error(internal(&error)),
    }
}

/// Legacy: answers every message of one POST (a request, or a 2025-03-26 batch), in order.
/// Notifications and responses get no answer. A lone request whose token lacks the scope it
/// needs is `Err(scope)`, for the transport's 403; inside a batch it is that message's error.
pub fn answer_legacy(
    ctx: &mut Ctx<'_>,
    dialect: Dialect<'_>,
    messages: Vec<Value>,
    batch: bool,
) -> Result<Vec<Response>, Scope> {
    let mut responses = Vec::new();
    for message in messages {
        let (id, name, params) = match classify(message) {
            Ok(Incoming::Request { id, method, params }) => (id, method, params),
            Ok(Incoming::Notification { .. }) | Ok(Incoming::Response) => continue,
            Err((id, error)) => {
                responses.push(error.response(&id).into());
                continue;
            }
        };
        // `initialize` never gets here: the transport answers it alone and refuses it in a batch.
        let outcome = match Method::find(&name, Era::Legacy) {
            Some(method) => answer(ctx, dialect, method, params),
            None => Outcome::Error(RpcError::method_not_found(&name)),
        };
        let response = match outcome {
            Outcome::Result(result) => respond(&id, result),
            Outcome::Error(error) => error.response(&id).into(),
            Outcome::InsufficientScope(scope) if !batch => return Err(scope),
            Outcome::InsufficientScope(scope) => RpcError::new(
                INVALID_REQUEST,
                format!("this needs the `{scope}` scope; reconnect and grant it"),
            )
            .response(&id)
            .into(),
        };
        responses.push(response);
    }
    Ok(responses)
}

/// Why a method did not answer with a result.
pub enum Failure {
    Rpc(RpcError),
    Scope(Scope),
    App(AppError),
}

impl From<AppError> for Failure {
    fn from(error: AppError) -> Self {
        Failure::App(error)
    }
}

impl From<RpcError> for Failure {
    fn from(error: RpcError) -> Self {
        Failure::Rpc(error)
    }
}

pub type MethodResult = Result<Value, Failure>;

/// The error a client sees for a failure of ours; the cause is logged, never sent.
pub fn internal(error: &AppError) -> RpcError {
    let _ = actix_web::ResponseError::error_response(error);
    RpcError::new(INTERNAL_ERROR, "internal error")
}

/// Adds what the modern era requires of every result: `resultType`, the server's identity in
/// `_meta`, and for cacheable methods `ttlMs` and `cacheScope`. Results depend on the token
/// (its user, its scopes), so they are private to it. Legacy results are left as they are.
pub fn envelope(era: Era, method: Method, result: Value) -> Value {
    let Value::Object(mut object) = result else {
        return result;
    };
    if era == Era::Legacy {
        return Value::Object(object);
    }
    object.insert("resultType".into(), json!("complete"));
    if let Some(ttl) = method.cache_ttl() {
        object.insert("ttlMs".into(), json!(ttl));
        object.insert("cacheScope".into(), json!("private"));
    }
    let meta = object
        .entry("_meta")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Value::Object(meta) = meta {
        meta.extend(era::server_meta());
    }
    Value::Object(object)
}

/// A success response for request `id` from an outcome's result.
pub fn respond(id: &Value, result: Response) -> Response {
    match result {
        Response::Raw(raw) => success_raw(id, &raw),
        Response::Value(value) => Response::Value(success(id, value)),
    }
}

/// A string parameter, or `-32602` naming it.
pub fn required_str<'p>(params: &'p Value, key: &str) -> Result<&'p str, Failure> {
    params.get(key).and_then(Value::as_str).ok_or_else(|| {
        Failure::Rpc(RpcError::invalid_params(format!(
            "`{key}` is required: a string"
        )))
    })
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

    #[test]
    fn each_era_has_its_own_methods() {
        assert_eq!(Method::find("ping", Era::Legacy), Some(Method::Ping));
        assert_eq!(
            Method::find("initialize", Era::Legacy),
            Some(Method::Initialize)
        );
        for removed in [
            "initialize",
            "ping",
            "logging/setLevel",
            "resources/subscribe",
        ] {
            assert_eq!(Method::find(removed, Era::Modern), None, "{removed}");
        }
        assert_eq!(
            Method::find("server/discover", Era::Modern),
            Some(Method::Discover)
        );
        assert_eq!(Method::find("server/discover", Era::Legacy), None);
        assert_eq!(Method::find("subscriptions/listen", Era::Legacy), None);
        assert_eq!(
            Method::find("tools/call", Era::Modern),
            Some(Method::ToolsCall)
        );
    }

    #[test]
    fn modern_results_carry_their_type_hints_and_server() {
        let result = envelope(Era::Modern, Method::ToolsList, json!({"tools": []}));
        assert_eq!(result["resultType"], "complete");
        assert_eq!(result["ttlMs"], CATALOG_TTL_MS);
        assert_eq!(result["cacheScope"], "private");
        assert_eq!(
            result["_meta"][era::SERVER_INFO_KEY]["name"],
            super::super::SERVER_NAME
        );
        // Not cacheable: no hints.
        let result = envelope(Era::Modern, Method::PromptsGet, json!({"messages": []}));
        assert_eq!(result["resultType"], "complete");
        assert!(result.get("ttlMs").is_none());
        // Legacy results are left alone (`ping` must answer exactly `{}`).
        assert_eq!(envelope(Era::Legacy, Method::Ping, json!({})), json!({}));
    }

    #[test]
    fn modern_errors_map_to_the_shared_status_table() {
        assert_eq!(RpcError::method_not_found("x").modern_status(), 404);
        assert_eq!(RpcError::invalid_params("x").modern_status(), 400);
        assert_eq!(RpcError::new(HEADER_MISMATCH, "x").modern_status(), 400);
        assert_eq!(RpcError::new(INTERNAL_ERROR, "x").modern_status(), 200);
    }
}

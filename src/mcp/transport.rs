//! Streamable HTTP, both eras on one endpoint: `POST /mcp` carries JSON-RPC; `DELETE /mcp`
//! ends a legacy session; `GET /mcp` is 405 (this server opens no standalone stream: modern
//! clients listen with `subscriptions/listen` instead).
//!
//! The handler only renders: the protocol's rules are in `era` and `protocol`. A request costs
//! one blocking call: the token's row (revocation), the legacy session when one is named, and
//! the method itself run together on the database threads.

use super::era::{self, Era, Headers};
use super::protocol::{self, Ctx, Dialect, Incoming, Method, Outcome, Response, RpcError};
use super::session;
use super::tools::{self, Prefetched};
use crate::auth::guard::{self, Caller};
use crate::auth::Scope;
use crate::body::Body;
use crate::db::{self, models::now};
use crate::error::AppError;
use crate::state::AppState;
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};
use std::time::Duration;

pub const SESSION_HEADER: &str = "Mcp-Session-Id";
pub const VERSION_HEADER: &str = "MCP-Protocol-Version";
pub const METHOD_HEADER: &str = "Mcp-Method";
pub const NAME_HEADER: &str = "Mcp-Name";
const METADATA_PATH: &str = "/.well-known/oauth-protected-resource/mcp";
/// The largest JSON-RPC body accepted.
pub const BODY_LIMIT: usize = 1024 * 1024;
/// A comment on an open listen stream this often keeps proxies from closing it as idle.
const KEEPALIVE: Duration = Duration::from_secs(15);

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/mcp")
            .route(web::post().to(post))
            .route(web::delete().to(delete))
            .default_service(web::to(not_allowed)),
    );
}

/// GET (and any other method): this server opens no standalone stream.
async fn not_allowed() -> HttpResponse {
    HttpResponse::MethodNotAllowed()
        .insert_header((header::ALLOW, "POST, DELETE"))
        .json(
            RpcError::new(
                protocol::INVALID_REQUEST,
                "POST JSON-RPC messages to /mcp; this server opens no standalone stream",
            )
            .response(&Value::Null),
        )
}

/// Where a request stands once it is authenticated and parsed.
struct Request<'a> {
    /// The body as sent, for the id of a refusal (read only when refusing: the common path
    /// parses the body once).
    body: &'a [u8],
    http: &'a HttpRequest,
    state: &'a AppState,
    caller: Caller,
    headers: Headers,
    /// The client accepts an event stream and not JSON.
    sse: bool,
}

async fn post(
    req: HttpRequest,
    body: Body<BODY_LIMIT>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let body = body.0;
    // Every error answer carries the request's id when it had one, refusals before any other
    // check included.
    if let Some(refusal) = refuse_host_or_origin(&req, &state, &body) {
        return refusal;
    }
    // Signature, expiry and audience now; the token's row (revocation) is read with the work.
    let caller =
        match guard::verify_signed(&state, guard::bearer_token(&req), &mcp_audience(&state)) {
            Ok(caller) => caller,
            Err(AppError::Unauthenticated { .. }) => {
                return unauthorized(&req, &state, &request_id(&body))
            }
            Err(other) => return internal(&other),
        };
    let request = Request {
        body: &body,
        http: &req,
        state: &state,
        caller,
        headers: routing_headers(&req),
        sse: wants_sse_only(&req),
    };
    let parsed: Value = match serde_json::from_slice(&body) {
        Ok(value) => value,
        Err(error) => {
            let error = RpcError::new(protocol::PARSE_ERROR, format!("parse error: {error}"));
            return request
                .early(StatusCode::BAD_REQUEST, error.response(&Value::Null))
                .await;
        }
    };
    match era::era_of(&request.headers, &parsed) {
        Era::Modern => request.modern(parsed).await,
        Era::Legacy => request.legacy(parsed).await,
    }
}

/// What one blocking call found.
enum Answered {
    /// The token's row is revoked or expired.
    NotLive,
    UnknownSession,
    Outcome(Outcome),
    /// Legacy: every response of a batch, or the one of a single request (none: all were
    /// notifications).
    Responses(Vec<Response>),
    Refused(RpcError),
    /// `initialize` created this session.
    Session(String),
}

impl Request<'_> {
    /// 2026-07-28: one request, complete in itself.
    async fn modern(self, message: Value) -> HttpResponse {
        if !message.is_object() {
            let error = RpcError::new(
                protocol::INVALID_REQUEST,
                "the body must be one JSON-RPC request or notification (no batches)",
            );
            return self
                .early(StatusCode::BAD_REQUEST, error.response(&Value::Null))
                .await;
        }
        let (id, name, params) = match protocol::classify(message) {
            Ok(Incoming::Request { id, method, params }) => (id, method, params),
            Ok(Incoming::Notification { .. }) => {
                return match era::check_modern_notification(&self.headers) {
                    Ok(()) => self.accepted().await,
                    Err(error) => {
                        self.early(StatusCode::BAD_REQUEST, error.response(&Value::Null))
                            .await
                    }
                };
            }
            Ok(Incoming::Response) => {
                let error = RpcError::new(
                    protocol::INVALID_REQUEST,
                    "this server sends no requests, so it takes no responses",
                );
                return self
                    .early(StatusCode::BAD_REQUEST, error.response(&Value::Null))
                    .await;
            }
            Err((id, error)) => return self.modern_error(&id, error).await,
        };
        let envelope = match era::check_modern(&self.headers, &name, &params) {
            Ok(envelope) => envelope,
            Err(error) => return self.modern_error(&id, error).await,
        };
        let Some(method) = Method::find(&name, Era::Modern) else {
            return self
                .modern_error(&id, RpcError::method_not_found(&name))
                .await;
        };
        if method == Method::Listen {
            return self.listen(id).await;
        }
        let version = envelope.version;
        // Only a caller that may add books makes the server look one up.
        let prefetched = if method == Method::ToolsCall && self.caller.scopes.allows(Scope::Write) {
            tools::prefetch(&self.state.metadata, std::iter::once(&params)).await
        } else {
            Prefetched::default()
        };
        let answered = self
            .run(prefetched, move |ctx| {
                let dialect = Dialect {
                    era: Era::Modern,
                    version: &version,
                };
                Ok(Answered::Outcome(protocol::answer(
                    ctx, dialect, method, params,
                )))
            })
            .await;
        match answered {
            Ok(Answered::Outcome(outcome)) => self.render(&id, Era::Modern, outcome),
            Ok(_) => unauthorized(self.http, self.state, &request_id(self.body)),
            Err(error) => internal(&error),
        }
    }

    /// 2025-03-26 to 2025-11-25: `initialize` opens a session, but no request needs one.
    async fn legacy(self, parsed: Value) -> HttpResponse {
        if parsed.get("method").and_then(Value::as_str) == Some("initialize") {
            return self.initialize(parsed).await;
        }
        let (messages, batch) = match parsed {
            Value::Array(items) if items.is_empty() => {
                let error = RpcError::new(protocol::INVALID_REQUEST, "an empty batch");
                return self
                    .early(StatusCode::BAD_REQUEST, error.response(&Value::Null))
                    .await;
            }
            Value::Array(items) => (items, true),
            single => (vec![single], false),
        };
        if batch
            && messages
                .iter()
                .any(|m| m.get("method").and_then(Value::as_str) == Some("initialize"))
        {
            let error = RpcError::new(
                protocol::INVALID_REQUEST,
                "initialize must be sent on its own",
            );
            return self
                .early(StatusCode::BAD_REQUEST, error.response(&Value::Null))
                .await;
        }
        let single_id = match messages.as_slice() {
            [only] if !batch => only.get("id").cloned().unwrap_or(Value::Null),
            _ => Value::Null,
        };
        let header_version = self.headers.version.clone();
        let session_id = self.headers.session.clone();
        let may_add = self.caller.scopes.allows(Scope::Write);
        let calls = messages
            .iter()
            .filter(|_| may_add)
            .filter(|m| m.get("method").and_then(Value::as_str) == Some("tools/call"))
            .filter_map(|m| m.get("params"));
        let prefetched = tools::prefetch(&self.state.metadata, calls).await;
        let answered = self
            .run(prefetched, move |ctx| {
                // A named session must exist (a client re-initializes on 404); its version
                // stands in for a missing header.
                let session_version = match session_id {
                    Some(id) => match session::find(ctx.conn, &id, ctx.user_id(), ctx.now)? {
                        Some(version) => Some(version),
                        None => return Ok(Answered::UnknownSession),
                    },
                    None => None,
                };
                let version = era::legacy_version(header_version, session_version);
                if batch {
                    if let Err(error) = era::check_batch(&version) {
                        return Ok(Answered::Refused(error));
                    }
                }
                let dialect = Dialect {
                    era: Era::Legacy,
                    version: &version,
                };
                let responses = match protocol::answer_legacy(ctx, dialect, messages, batch) {
                    Ok(responses) => responses,
                    Err(scope) => return Ok(Answered::Outcome(Outcome::InsufficientScope(scope))),
                };
                Ok(Answered::Responses(responses))
            })
            .await;
        match answered {
            Ok(Answered::NotLive | Answered::Session(_)) => {
                unauthorized(self.http, self.state, &request_id(self.body))
            }
            Ok(Answered::UnknownSession) => reply(
                StatusCode::NOT_FOUND,
                &RpcError::new(
                    protocol::INVALID_REQUEST,
                    "unknown or expired session: initialize a new one, or send no Mcp-Session-Id",
                )
                .response(&single_id),
                self.sse,
            ),
            Ok(Answered::Refused(error)) => reply(
                StatusCode::BAD_REQUEST,
                &error.response(&single_id),
                self.sse,
            ),
            Ok(Answered::Outcome(outcome)) => self.render(&single_id, Era::Legacy, outcome),
            Ok(Answered::Responses(mut responses)) => match (responses.len(), batch) {
                (0, _) => HttpResponse::Accepted().finish(),
                (_, true) => reply(StatusCode::OK, &responses, self.sse),
                (_, false) => {
                    let single = responses.pop().unwrap_or(Response::Value(Value::Null));
                    // A legacy request the server could not read at all is a 400; anything it
                    // could read (an unknown method, bad params) answers 200 with the error.
                    let status = match &single {
                        Response::Value(value)
                            if value.pointer("/error/code")
                                == Some(&json!(protocol::INVALID_REQUEST)) =>
                        {
                            StatusCode::BAD_REQUEST
                        }
                        _ => StatusCode::OK,
                    };
                    reply(status, &single, self.sse)
                }
            },
            Err(error) => internal(&error),
        }
    }

    /// `initialize`: negotiates a legacy version and creates a session, whose id later
    /// requests may send back (Claude.ai never does; nothing depends on it).
    async fn initialize(self, message: Value) -> HttpResponse {
        let (id, params) = match protocol::classify(message) {
            Ok(Incoming::Request { id, params, .. }) => (id, params),
            Ok(_) => {
                let error = RpcError::new(
                    protocol::INVALID_REQUEST,
                    "initialize must be a request with an id",
                );
                return self
                    .early(StatusCode::BAD_REQUEST, error.response(&Value::Null))
                    .await;
            }
            Err((id, error)) => {
                return self
                    .early(StatusCode::BAD_REQUEST, error.response(&id))
                    .await
            }
        };
        let Some(requested) = params.get("protocolVersion").and_then(Value::as_str) else {
            let error = RpcError::invalid_params("initialize needs `protocolVersion`");
            return self.early(StatusCode::OK, error.response(&id)).await;
        };
        let version = super::negotiate(Some(requested));
        let client_name = params
            .pointer("/clientInfo/name")
            .and_then(Value::as_str)
            .map(String::from);
        let created = self
            .run(Prefetched::default(), move |ctx| {
                let session_id = session::create(
                    ctx.conn,
                    ctx.user_id(),
                    version,
                    client_name.as_deref(),
                    ctx.now,
                )?;
                Ok(Answered::Session(session_id))
            })
            .await;
        let session_id = match created {
            Ok(Answered::Session(session_id)) => session_id,
            Ok(_) => return unauthorized(self.http, self.state, &request_id(self.body)),
            Err(error) => return internal(&error),
        };
        let body = protocol::success(&id, protocol::initialize_result(version));
        let mut response = reply(StatusCode::OK, &body, self.sse);
        if let Ok(value) = header::HeaderValue::from_str(&session_id) {
            response
                .headers_mut()
                .insert(header::HeaderName::from_static("mcp-session-id"), value);
        }
        response
    }

    /// `subscriptions/listen`: an event stream that starts with the acknowledgement and stays
    /// open with keep-alive comments. Nothing this server offers changes while it runs, so no
    /// notification type is honoured and no event follows; the stream ends with the listen
    /// request's result when the access token expires (the client listens again with a new one).
    async fn listen(self, id: Value) -> HttpResponse {
        if !accepts_event_stream(self.http) {
            let error = RpcError::new(
                protocol::INVALID_REQUEST,
                "subscriptions/listen answers with an event stream: accept text/event-stream",
            );
            return self
                .early(StatusCode::NOT_ACCEPTABLE, error.response(&id))
                .await;
        }
        if let Some(refusal) = self.refuse_dead_token().await {
            return refusal;
        }
        let meta = json!({era::SUBSCRIPTION_ID_KEY: id});
        let ack = json!({
            "jsonrpc": "2.0",
            "method": "notifications/subscriptions/acknowledged",
            "params": {"_meta": meta, "notifications": {}},
        });
        let mut meta = era::server_meta();
        meta.insert(era::SUBSCRIPTION_ID_KEY.into(), id.clone());
        let end = json!({
            "jsonrpc": "2.0",
            "id": id,
            "result": {"resultType": "complete", "_meta": meta},
        });
        let remaining = self.caller.claims.exp - chrono::Utc::now().timestamp();
        let deadline = tokio::time::Instant::now()
            + Duration::from_secs(u64::try_from(remaining).unwrap_or(0));
        HttpResponse::Ok()
            .content_type("text/event-stream")
            .insert_header((header::CACHE_CONTROL, "no-cache, no-transform"))
            .insert_header(("X-Accel-Buffering", "no"))
            .streaming(listen_stream(event(&ack), event(&end), deadline))
    }

    /// Runs `work` with a database connection, after checking that the token's row is live,
    /// in one blocking call.
    async fn run<F>(&self, prefetched: Prefetched, work: F) -> Result<Answered, AppError>
    where
        F: FnOnce(&mut Ctx<'_>) -> Result<Answered, AppError> + Send + 'static,
    {
        let caller = self.caller.clone();
        let memo = self.state.memo.clone();
        db::run(&self.state.pool, move |conn| {
            if !caller.is_live(conn)? {
                return Ok(Answered::NotLive);
            }
            let mut ctx = Ctx {
                conn,
                memo: &memo,
                caller: &caller,
                now: now(),
                prefetched: &prefetched,
            };
            work(&mut ctx)
        })
        .await
    }

    /// An answer decided before any work: a revoked token still gets its 401 first, as on any
    /// other request, so a client knows to authorize again.
    async fn early(&self, status: StatusCode, body: Value) -> HttpResponse {
        match self.refuse_dead_token().await {
            Some(refusal) => refusal,
            None => reply(status, &body, self.sse),
        }
    }

    /// The 401 when the token's row is revoked or expired (or the error reading it).
    async fn refuse_dead_token(&self) -> Option<HttpResponse> {
        let caller = self.caller.clone();
        match db::run(&self.state.pool, move |conn| caller.is_live(conn)).await {
            Ok(true) => None,
            Ok(false) => Some(unauthorized(self.http, self.state, &request_id(self.body))),
            Err(error) => Some(internal(&error)),
        }
    }

    async fn modern_error(&self, id: &Value, error: RpcError) -> HttpResponse {
        let status = StatusCode::from_u16(error.modern_status()).unwrap_or(StatusCode::BAD_REQUEST);
        self.early(status, error.response(id)).await
    }

    async fn accepted(&self) -> HttpResponse {
        match self.refuse_dead_token().await {
            Some(refusal) => refusal,
            None => HttpResponse::Accepted().finish(),
        }
    }

    /// The HTTP answer for one request's outcome.
    fn render(&self, id: &Value, era: Era, outcome: Outcome) -> HttpResponse {
        match outcome {
            Outcome::Result(result) => {
                reply(StatusCode::OK, &protocol::respond(id, result), self.sse)
            }
            Outcome::Error(error) => {
                let status = match era {
                    Era::Modern => error.modern_status(),
                    Era::Legacy => 200,
                };
                reply(
                    StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
                    &error.response(id),
                    self.sse,
                )
            }
            Outcome::InsufficientScope(scope) => insufficient_scope(self.state, id, scope),
        }
    }
}

/// The listen stream: the acknowledgement, keep-alive comments, and the final result at
/// `deadline`.
fn listen_stream(
    ack: String,
    end: String,
    deadline: tokio::time::Instant,
) -> impl futures_util::Stream<Item = Result<web::Bytes, actix_web::Error>> {
    enum Step {
        Ack,
        Waiting,
        Done,
    }
    futures_util::stream::unfold(Step::Ack, move |step| {
        let (ack, end) = (ack.clone(), end.clone());
        async move {
            match step {
                Step::Ack => Some((Ok(web::Bytes::from(ack)), Step::Waiting)),
                Step::Waiting => {
                    let next = tokio::time::Instant::now() + KEEPALIVE;
                    if next >= deadline {
                        tokio::time::sleep_until(deadline).await;
                        Some((Ok(web::Bytes::from(end)), Step::Done))
                    } else {
                        tokio::time::sleep_until(next).await;
                        Some((
                            Ok(web::Bytes::from_static(b": keep-alive\n\n")),
                            Step::Waiting,
                        ))
                    }
                }
                Step::Done => None,
            }
        }
    })
}

fn event(message: &Value) -> String {
    format!("event: message\ndata: {message}\n\n")
}

async fn delete(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    if let Some(refusal) = refuse_host_or_origin(&req, &state, &[]) {
        return refusal;
    }
    let Some(session_id) = routing_headers(&req).session else {
        // Nothing to end: the modern era has no sessions, and a legacy client names its own.
        return not_allowed().await;
    };
    let caller = match guard::authenticate(&state, guard::bearer_token(&req), &mcp_audience(&state))
        .await
    {
        Ok(caller) => caller,
        Err(AppError::Unauthenticated { .. }) => return unauthorized(&req, &state, &Value::Null),
        Err(other) => return internal(&other),
    };
    let user_id = caller.user_id;
    match db::run(&state.pool, move |conn| {
        session::end(conn, &session_id, user_id)
    })
    .await
    {
        Ok(true) => HttpResponse::NoContent().finish(),
        Ok(false) => HttpResponse::NotFound().json(
            RpcError::new(protocol::INVALID_REQUEST, "unknown session").response(&Value::Null),
        ),
        Err(error) => internal(&error),
    }
}

/// Tokens must be issued for this MCP resource (RFC 8707 `resource` = `<PUBLIC_URL>/mcp`), as
/// the MCP authorization spec asks: a first-party API token, or one minted without a resource,
/// is for the REST API only.
fn mcp_audience(state: &AppState) -> [String; 1] {
    [state.config.url("/mcp")]
}

/// The scopes the tools need, for the `scope` of a 401's challenge.
fn tool_scopes() -> Vec<Scope> {
    let mut scopes: Vec<Scope> = tools::TOOLS.iter().map(|t| t.scope).collect();
    scopes.sort();
    scopes.dedup();
    scopes
}

/// 401 with the MCP resource's metadata and the scopes to ask for, so that a client can find
/// the authorization server and request what the tools need.
fn unauthorized(req: &HttpRequest, state: &AppState, id: &Value) -> HttpResponse {
    let error = guard::bearer_token(req).map(|_| "invalid_token");
    HttpResponse::Unauthorized()
        .insert_header((
            header::WWW_AUTHENTICATE,
            guard::challenge_for(state, METADATA_PATH, error, &tool_scopes()),
        ))
        .json(
            RpcError::new(
                protocol::INVALID_REQUEST,
                "authentication required: a Bearer token for this server",
            )
            .response(id),
        )
}

fn insufficient_scope(state: &AppState, id: &Value, scope: Scope) -> HttpResponse {
    HttpResponse::Forbidden()
        .insert_header((
            header::WWW_AUTHENTICATE,
            guard::challenge_for(state, METADATA_PATH, Some("insufficient_scope"), &[scope]),
        ))
        .json(
            RpcError::new(
                protocol::INVALID_REQUEST,
                format!("this needs the `{scope}` scope; reconnect and grant it"),
            )
            .response(id),
        )
}

fn internal(error: &AppError) -> HttpResponse {
    let status = match error {
        AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    let rpc = protocol::internal(error);
    HttpResponse::build(status).json(rpc.response(&Value::Null))
}

/// The id of a body that is one JSON-RPC request, read without building the whole message;
/// `null` for anything else.
fn request_id(body: &[u8]) -> Value {
    #[derive(serde::Deserialize)]
    struct Id {
        id: Option<Value>,
    }
    match serde_json::from_slice::<Id>(body) {
        Ok(Id {
            id: Some(id @ (Value::String(_) | Value::Number(_))),
        }) => id,
        _ => Value::Null,
    }
}

/// The routing headers, trimmed. A routing header sent twice is noted: readers of the first
/// and of the last copy would disagree.
fn routing_headers(req: &HttpRequest) -> Headers {
    let headers = req.headers();
    let duplicated = [VERSION_HEADER, METHOD_HEADER, NAME_HEADER]
        .into_iter()
        .find(|name| headers.get_all(*name).count() > 1);
    Headers {
        version: header_value(req, VERSION_HEADER),
        method: header_value(req, METHOD_HEADER),
        name: header_value(req, NAME_HEADER),
        session: header_value(req, SESSION_HEADER),
        duplicated,
    }
}

fn header_value(req: &HttpRequest, name: &str) -> Option<String> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// DNS rebinding: a page on another site must not drive this endpoint through the user's
/// browser. The `Host` must name this server (its public host, or a loopback name, on any
/// port), and an `Origin`, when sent, must be this server's, one of `MCP_ALLOWED_ORIGINS`, or,
/// while the server itself is on loopback, a loopback origin. Requests without `Origin`
/// (servers, SDKs) pass.
fn refuse_host_or_origin(req: &HttpRequest, state: &AppState, body: &[u8]) -> Option<HttpResponse> {
    let refuse = |status: StatusCode, message: &str| {
        HttpResponse::build(status)
            .json(RpcError::new(protocol::INVALID_REQUEST, message).response(&request_id(body)))
    };
    let public = url::Url::parse(&state.config.public_url).ok();
    let public_host = public
        .as_ref()
        .and_then(|u| u.host_str().map(str::to_ascii_lowercase));
    if let Some(host) = header_value(req, "Host") {
        let name = host_name(&host);
        let allowed = is_loopback_name(&name)
            || public_host.as_deref() == Some(name.as_str())
            || state
                .config
                .mcp_allowed_origins
                .iter()
                .filter_map(|o| url::Url::parse(o).ok())
                .any(|o| {
                    o.host_str().map(str::to_ascii_lowercase).as_deref() == Some(name.as_str())
                });
        if !allowed {
            return Some(refuse(
                StatusCode::MISDIRECTED_REQUEST,
                "this Host is not served here",
            ));
        }
    }
    let origin = header_value(req, "Origin")?;
    let origin = origin.trim_end_matches('/');
    let loopback_server = public_host.as_deref().is_some_and(is_loopback_name);
    let loopback_origin = url::Url::parse(origin)
        .ok()
        .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
        .is_some_and(|h| is_loopback_name(&h));
    let allowed = origin == state.config.public_url.trim_end_matches('/')
        || state.config.mcp_allowed_origins.iter().any(|o| o == origin)
        || (loopback_server && loopback_origin);
    (!allowed).then(|| refuse(StatusCode::FORBIDDEN, "this Origin is not allowed"))
}

/// The host name of a `Host` header, without its port, lower-cased.
fn host_name(host: &str) -> String {
    let host = host.to_ascii_lowercase();
    if let Some(rest) = host.strip_prefix('[') {
        // [::1]:8080
        return format!("[{}]", rest.split(']').next().unwrap_or_default());
    }
    host.split(':').next().unwrap_or_default().to_string()
}

/// `localhost` or a loopback address: a name a rebinding attacker cannot make the browser send
/// (`127.0.0.1.evil.example` is not one: the address must parse).
fn is_loopback_name(name: &str) -> bool {
    name == "localhost"
        || name
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn accept_header(req: &HttpRequest) -> String {
    req.headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase()
}

fn accepts_event_stream(req: &HttpRequest) -> bool {
    let accept = accept_header(req);
    accept.contains("text/event-stream") || accept.contains("*/*")
}

/// SSE only when the client accepts SSE and not JSON; JSON for `*/*`, no `Accept`, or anything
/// else (be liberal: never a 406).
fn wants_sse_only(req: &HttpRequest) -> bool {
    let accept = accept_header(req);
    accept.contains("text/event-stream")
        && !accept.contains("application/json")
        && !accept.contains("*/*")
        && !accept.contains("application/*")
}

fn reply(status: StatusCode, body: &impl serde::Serialize, sse: bool) -> HttpResponse {
    // serde_json's writer rather than `Value`'s Display, which goes through `fmt` a fragment at
    // a time. A Value always serialises.
    let text = serde_json::to_string(body).unwrap_or_default();
    if sse {
        HttpResponse::build(status)
            .content_type("text/event-stream")
            .insert_header((header::CACHE_CONTROL, "no-cache"))
            .body(format!("event: message\ndata: {text}\n\n"))
    } else {
        HttpResponse::build(status)
            .content_type("application/json")
            .body(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_lose_their_port() {
        assert_eq!(host_name("127.0.0.1:8080"), "127.0.0.1");
        assert_eq!(host_name("[::1]:8080"), "[::1]");
        assert_eq!(host_name("Books.Example.com"), "books.example.com");
        assert!(is_loopback_name("localhost") && is_loopback_name("127.0.0.2"));
        assert!(is_loopback_name("[::1]"));
        assert!(!is_loopback_name("evil.example.com"));
        assert!(!is_loopback_name("127.0.0.1.evil.example"));
        assert!(!is_loopback_name("127.evil.example"));
    }

    #[test]
    fn the_challenge_asks_for_the_scopes_the_tools_need() {
        assert_eq!(tool_scopes(), [Scope::Read, Scope::Write]);
    }
}

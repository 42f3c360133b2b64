//! Streamable HTTP: `POST /mcp` carries JSON-RPC, `DELETE /mcp` ends a session, `GET /mcp` is
//! 405 (this server sends nothing unprompted, so it opens no server-to-client stream).

use super::protocol::{self, Context, Incoming, Outcome, RpcError};
use super::{session, BATCH_VERSION, DEFAULT_VERSION};
use crate::auth::guard::{self, Caller};
use crate::auth::Scope;
use crate::db;
use crate::error::AppError;
use crate::state::AppState;
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::Value;

pub const SESSION_HEADER: &str = "Mcp-Session-Id";
pub const VERSION_HEADER: &str = "MCP-Protocol-Version";
const METADATA_PATH: &str = "/.well-known/oauth-protected-resource/mcp";
/// The largest JSON-RPC body accepted.
pub const BODY_LIMIT: usize = 1024 * 1024;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/mcp")
            .app_data(web::PayloadConfig::new(BODY_LIMIT))
            .route(web::post().to(post))
            .route(web::delete().to(delete))
            .route(web::get().to(get))
            .default_service(web::to(get)),
    );
}

async fn get() -> HttpResponse {
    HttpResponse::MethodNotAllowed()
        .insert_header((header::ALLOW, "POST, DELETE"))
        .json(
            RpcError::new(
                protocol::INVALID_REQUEST,
                "this server opens no server-to-client stream; POST JSON-RPC messages to /mcp",
            )
            .response(&Value::Null),
        )
}

/// An early answer: an HTTP status with a JSON-RPC error body.
fn refuse(status: StatusCode, code: i64, message: &str) -> HttpResponse {
    HttpResponse::build(status).json(RpcError::new(code, message).response(&Value::Null))
}

/// A request refused before any message is read: small, so it can travel in a `Result`.
struct Refusal {
    status: StatusCode,
    message: String,
}

impl Refusal {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Refusal {
            status,
            message: message.into(),
        }
    }

    fn response(&self) -> HttpResponse {
        refuse(self.status, protocol::INVALID_REQUEST, &self.message)
    }
}

async fn post(req: HttpRequest, body: web::Bytes, state: web::Data<AppState>) -> HttpResponse {
    if let Err(refusal) = check_origin(&req, &state) {
        return refusal.response();
    }
    // Signature, expiry and audience now; the token's row (revocation) is read together with
    // the session's, on one blocking call.
    let caller =
        match guard::verify_signed(&state, guard::bearer_token(&req), &mcp_audiences(&state)) {
            Ok(caller) => caller,
            Err(AppError::Unauthenticated { .. }) => return unauthorized(&req, &state),
            Err(other) => return internal(other),
        };
    let version = match header_version(&req) {
        Ok(version) => version,
        Err(refusal) => return checked(&req, &state, &caller, refusal.response()).await,
    };
    let sse = wants_sse_only(&req);
    // A malformed request: 400 with a JSON-RPC error, once the token's row is known to be live
    // (a revoked token gets its 401 whatever else is wrong).
    let malformed = |code: i64, message: String| {
        let body = RpcError::new(code, message).response(&Value::Null);
        checked(
            &req,
            &state,
            &caller,
            reply(StatusCode::BAD_REQUEST, &body, sse),
        )
    };

    let parsed: Value = match serde_json::from_slice(&body) {
        Ok(value) => value,
        Err(error) => {
            return malformed(protocol::PARSE_ERROR, format!("parse error: {error}")).await;
        }
    };
    let (messages, batch) = match parsed {
        Value::Array(items) => {
            if version != BATCH_VERSION {
                return malformed(
                    protocol::INVALID_REQUEST,
                    format!("JSON-RPC batches are not allowed in protocol version {version}"),
                )
                .await;
            }
            if items.is_empty() {
                return malformed(protocol::INVALID_REQUEST, "an empty batch".into()).await;
            }
            (items, true)
        }
        single => (vec![single], false),
    };

    // `initialize` stands alone and creates the session.
    if let [only] = messages.as_slice() {
        if only.get("method").and_then(Value::as_str) == Some("initialize") && !batch {
            return initialize(&req, &state, &caller, only.clone(), sse).await;
        }
    }
    if messages
        .iter()
        .any(|m| m.get("method").and_then(Value::as_str) == Some("initialize"))
    {
        return malformed(
            protocol::INVALID_REQUEST,
            "initialize must be sent on its own".into(),
        )
        .await;
    }

    // Everything else belongs to a session.
    let Some(session_id) = header_value(&req, SESSION_HEADER) else {
        return checked(
            &req,
            &state,
            &caller,
            refuse(
                StatusCode::BAD_REQUEST,
                protocol::INVALID_REQUEST,
                "missing Mcp-Session-Id header: send initialize first",
            ),
        )
        .await;
    };
    let found = db::run(&state.pool, {
        let caller = caller.clone();
        move |conn| {
            if !caller.is_live(conn)? {
                return Ok(None);
            }
            session::find(conn, &session_id, caller.user_id, db::models::now()).map(Some)
        }
    })
    .await;
    match found {
        Ok(Some(Some(_))) => {}
        Ok(None) => return unauthorized(&req, &state),
        Ok(Some(None)) => {
            return refuse(
                StatusCode::NOT_FOUND,
                protocol::INVALID_REQUEST,
                "unknown or expired session: initialize a new one",
            )
        }
        Err(error) => return internal(error),
    }

    let ctx = Context {
        state: &state,
        caller: &caller,
        version: &version,
    };
    let mut responses = Vec::new();
    for message in messages {
        match protocol::classify(message) {
            Ok(Incoming::Request { id, method, params }) => {
                match protocol::dispatch(&ctx, &id, &method, params).await {
                    Outcome::Response(response) => responses.push(response),
                    Outcome::InsufficientScope(scope) => return insufficient_scope(&state, scope),
                }
            }
            Ok(Incoming::Notification { .. }) | Ok(Incoming::Response) => {}
            Err((id, error)) => responses.push(error.response(&id).into()),
        }
    }
    match (responses.len(), batch) {
        (0, _) => HttpResponse::Accepted().finish(),
        (_, true) => reply(StatusCode::OK, &responses, sse),
        (_, false) => {
            let single = responses
                .pop()
                .unwrap_or(protocol::Response::Value(Value::Null));
            let status = if single.is_invalid_request() {
                StatusCode::BAD_REQUEST
            } else {
                StatusCode::OK
            };
            reply(status, &single, sse)
        }
    }
}

async fn initialize(
    req: &HttpRequest,
    state: &AppState,
    caller: &Caller,
    message: Value,
    sse: bool,
) -> HttpResponse {
    let (id, params) = match protocol::classify(message) {
        Ok(Incoming::Request { id, params, .. }) => (id, params),
        Ok(_) => {
            return reply(
                StatusCode::BAD_REQUEST,
                &RpcError::new(
                    protocol::INVALID_REQUEST,
                    "initialize must be a request with an id",
                )
                .response(&Value::Null),
                sse,
            )
        }
        Err((id, error)) => return reply(StatusCode::BAD_REQUEST, &error.response(&id), sse),
    };
    let requested = params.get("protocolVersion").and_then(Value::as_str);
    if requested.is_none() {
        return reply(
            StatusCode::OK,
            &RpcError::invalid_params("initialize needs `protocolVersion`").response(&id),
            sse,
        );
    }
    let version = super::negotiate(requested);
    let client_name = params
        .pointer("/clientInfo/name")
        .and_then(Value::as_str)
        .map(String::from);
    let caller = caller.clone();
    let created = db::run(&state.pool, move |conn| {
        if !caller.is_live(conn)? {
            return Ok(None);
        }
        let now = db::models::now();
        session::create(conn, caller.user_id, version, client_name.as_deref(), now).map(Some)
    })
    .await;
    let session_id = match created {
        Ok(Some(id)) => id,
        Ok(None) => return unauthorized(req, state),
        Err(error) => return internal(error),
    };
    let body = protocol::success(&id, protocol::initialize_result(version));
    let mut response = reply(StatusCode::OK, &body, sse);
    if let Ok(value) = header::HeaderValue::from_str(&session_id) {
        response
            .headers_mut()
            .insert(header::HeaderName::from_static("mcp-session-id"), value);
    }
    response
}

async fn delete(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    if let Err(refusal) = check_origin(&req, &state) {
        return refusal.response();
    }
    let caller = match authenticate(&req, &state).await {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    let Some(session_id) = header_value(&req, SESSION_HEADER) else {
        return refuse(
            StatusCode::BAD_REQUEST,
            protocol::INVALID_REQUEST,
            "missing Mcp-Session-Id header",
        );
    };
    let user_id = caller.user_id;
    match db::run(&state.pool, move |conn| {
        session::end(conn, &session_id, user_id)
    })
    .await
    {
        Ok(true) => HttpResponse::NoContent().finish(),
        Ok(false) => refuse(
            StatusCode::NOT_FOUND,
            protocol::INVALID_REQUEST,
            "unknown session",
        ),
        Err(error) => internal(error),
    }
}

/// The token must be for this MCP resource, or for the API (tokens issued to clients that did
/// not send an RFC 8707 `resource`).
async fn authenticate(req: &HttpRequest, state: &AppState) -> Result<Caller, HttpResponse> {
    let audiences = mcp_audiences(state);
    match guard::authenticate(state, guard::bearer_token(req), &audiences).await {
        Ok(caller) => Ok(caller),
        Err(AppError::Unauthenticated { .. }) => Err(unauthorized(req, state)),
        Err(other) => Err(internal(other)),
    }
}

fn mcp_audiences(state: &AppState) -> [String; 2] {
    [state.config.url("/mcp"), state.api_audience().to_string()]
}

/// An early refusal (a malformed request, no session header): a revoked token still gets 401
/// first, as it would on any other request, so a client knows to authorize again.
async fn checked(
    req: &HttpRequest,
    state: &AppState,
    caller: &Caller,
    refusal: HttpResponse,
) -> HttpResponse {
    let caller = caller.clone();
    let live = db::run(&state.pool, move |conn| caller.is_live(conn)).await;
    match live {
        Ok(true) => refusal,
        Ok(false) => unauthorized(req, state),
        Err(error) => internal(error),
    }
}

/// 401 with the MCP resource's metadata, so that a client can find the authorization server.
fn unauthorized(req: &HttpRequest, state: &AppState) -> HttpResponse {
    let error = guard::bearer_token(req).map(|_| "invalid_token");
    HttpResponse::Unauthorized()
        .insert_header((
            header::WWW_AUTHENTICATE,
            guard::challenge_for(state, METADATA_PATH, error, None),
        ))
        .json(
            RpcError::new(
                protocol::INVALID_REQUEST,
                "authentication required: a Bearer token for this server",
            )
            .response(&Value::Null),
        )
}

fn insufficient_scope(state: &AppState, scope: Scope) -> HttpResponse {
    HttpResponse::Forbidden()
        .insert_header((
            header::WWW_AUTHENTICATE,
            guard::challenge_for(
                state,
                METADATA_PATH,
                Some("insufficient_scope"),
                Some(scope),
            ),
        ))
        .json(
            RpcError::new(
                protocol::INVALID_REQUEST,
                format!("this tool needs the `{scope}` scope; reconnect and grant it"),
            )
            .response(&Value::Null),
        )
}

fn internal(error: AppError) -> HttpResponse {
    let status = match error {
        AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    // Log the cause the same way the API does, answer without it.
    let _ = actix_web::ResponseError::error_response(&error);
    refuse(status, protocol::INTERNAL_ERROR, "internal error")
}

/// `MCP-Protocol-Version`, when present, must be one we speak; absent means 2025-03-26.
fn header_version(req: &HttpRequest) -> Result<String, Refusal> {
    match header_value(req, VERSION_HEADER) {
        None => Ok(DEFAULT_VERSION.to_string()),
        Some(version) if super::is_supported(&version) => Ok(version),
        Some(version) => Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            format!(
                "unsupported MCP-Protocol-Version `{}`; supported: {}",
                version.chars().take(40).collect::<String>(),
                super::SUPPORTED_VERSIONS.join(", ")
            ),
        )),
    }
}

/// A browser page on another site must not drive this endpoint through the user's network (DNS
/// rebinding). Requests without `Origin` (servers, SDKs) are allowed.
fn check_origin(req: &HttpRequest, state: &AppState) -> Result<(), Refusal> {
    let Some(origin) = header_value(req, "Origin") else {
        return Ok(());
    };
    let origin = origin.trim_end_matches('/');
    let allowed = origin == state.config.public_url
        || state.config.mcp_allowed_origins.iter().any(|o| o == origin);
    if allowed {
        Ok(())
    } else {
        Err(Refusal::new(
            StatusCode::FORBIDDEN,
            "this Origin is not allowed",
        ))
    }
}

fn header_value(req: &HttpRequest, name: &str) -> Option<String> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// SSE only when the client accepts SSE and not JSON; JSON for `*/*`, no `Accept`, or anything
/// else (be liberal: never a 406).
fn wants_sse_only(req: &HttpRequest) -> bool {
    let accept = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
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

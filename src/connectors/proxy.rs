//! `/api/connectors/{id}/proxy/{path}`: forwards a request to the provider's API with the
//! connector's credential injected the provider's way. The caller's own `Authorization` and
//! cookies never leave this server; the answer streams back as it arrives (SSE included).

use super::providers::AuthStyle;
use super::refresh;
use crate::auth::guard::{Authorized, Connectors};
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::StreamExt;

/// Request bodies larger than this are refused.
pub const BODY_LIMIT: usize = 10 * 1024 * 1024;

/// Headers never forwarded: credentials, cookies, hop-by-hop.
const DROPPED: [&str; 9] = [
    "authorization",
    "cookie",
    "host",
    "connection",
    "content-length",
    "transfer-encoding",
    "x-api-key",
    "forwarded",
    "x-forwarded-for",
];

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/api/connectors/{id}/proxy/{path:.*}")
            .app_data(web::PayloadConfig::new(BODY_LIMIT))
            .route(web::to(proxy)),
    );
}

async fn proxy(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Authorized<Connectors>,
    path: web::Path<(i64, String)>,
    body: web::Bytes,
) -> AppResult<HttpResponse> {
    let (id, rest) = path.into_inner();
    crate::oauth::rate_limit::check_user(&state, auth.user_id)?;
    let (row, credential) = refresh::credential(&state, auth.user_id, id).await?;
    let provider = state.providers.get(&row.provider).ok_or_else(|| {
        AppError::validation(
            "id",
            "this connector's provider is not configured (PROVIDERS_FILE)",
        )
    })?;
    let mut target = format!(
        "{}/{}",
        provider.api_base_url.trim_end_matches('/'),
        rest.trim_start_matches('/')
    );
    if let Some(query) = req.uri().query() {
        target.push('?');
        target.push_str(query);
    }
    let method = reqwest::Method::from_bytes(req.method().as_str().as_bytes())
        .map_err(|_| AppError::BadRequest("unsupported method".into()))?;
    let mut outbound = state.http.request(method, &target);
    for (name, value) in req.headers() {
        if !DROPPED.contains(&name.as_str()) {
            outbound = outbound.header(name.as_str(), value.as_bytes());
        }
    }
    for (name, value) in &provider.extra_headers {
        outbound = outbound.header(name.as_str(), value.as_str());
    }
    let style = if row.kind == "api_key" {
        provider.api_key_auth_style.unwrap_or(provider.auth_style)
    } else {
        provider.auth_style
    };
    outbound = match style {
        AuthStyle::Bearer => outbound.bearer_auth(&credential),
        AuthStyle::XApiKey => outbound.header("x-api-key", &credential),
    };
    // Streams (server-sent events) may run long; the connection itself still times out.
    let upstream = outbound
        .timeout(std::time::Duration::from_secs(600))
        .body(body)
        .send()
        .await
        .map_err(|e| {
            AppError::Unavailable(format!("provider {}: {}", row.provider, e.without_url()))
        })?;
    let mut response = HttpResponse::build(
        actix_web::http::StatusCode::from_u16(upstream.status().as_u16())
            .unwrap_or(actix_web::http::StatusCode::BAD_GATEWAY),
    );
    for (name, value) in upstream.headers() {
        let name = name.as_str();
        if ![
            "connection",
            "transfer-encoding",
            "content-length",
            "set-cookie",
        ]
        .contains(&name)
        {
            response.insert_header((name, value.as_bytes()));
        }
    }
    response.insert_header((header::CACHE_CONTROL, "no-store"));
    let stream = upstream
        .bytes_stream()
        .map(|chunk| chunk.map_err(|e| AppError::Unavailable(format!("provider stream: {e}"))));
    Ok(response.streaming(stream))
}

/// Forwards a request to the connector's provider API (`{path}` under its API base URL), with
/// the connector's credential; the answer streams back. Any method is forwarded.
#[utoipa::path(get, path = "/api/connectors/{id}/proxy/{path}", tag = "connectors",
    params(("id" = i64, Path), ("path" = String, Path, description = "Path under the provider's API base URL")),
    security(("bearer" = ["connectors"]), ("oauth2" = ["connectors"])),
    responses((status = 200, description = "The provider's answer, as it sent it"),
              (status = 401, body = crate::error::Problem), (status = 403, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem),
              (status = 409, body = crate::error::Problem, description = "The connector must be reconnected"),
              (status = 429, body = crate::error::Problem), (status = 503, body = crate::error::Problem)))]
/// The OpenAPI description of `proxy` (utoipa cannot describe its raw, forwarded body).
pub fn proxy_doc() {}

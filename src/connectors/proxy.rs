//! `/api/connectors/{id}/proxy/{path}`: forwards a request to the provider's API with the
//! connector's credential injected the provider's way. Only `{path}` under the provider's API
//! base URL can be reached; only the request headers an API call needs go out (never the
//! caller's own credentials, cookies or addresses), and only the response headers a client of
//! the API needs come back (never the provider's cookies, CORS or framing policy, which would
//! apply to this origin). The answer streams back as it arrives (SSE included).

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

/// Request headers forwarded to the provider; every other is dropped.
const REQUEST_HEADERS: [&str; 6] = [
    "accept",
    "accept-language",
    "content-type",
    "cache-control",
    "idempotency-key",
    "last-event-id",
];
/// Request header families forwarded too: the providers' API versions and options
/// (`anthropic-version`, `anthropic-beta`, `openai-organization`, ...).
const REQUEST_PREFIXES: [&str; 2] = ["anthropic-", "openai-"];

/// Response headers passed back to the caller; every other is dropped.
const RESPONSE_HEADERS: [&str; 6] = [
    "content-type",
    "content-encoding",
    "retry-after",
    "request-id",
    "x-request-id",
    "openai-processing-ms",
];
/// Response header families passed back: rate-limit state and the providers' own details.
const RESPONSE_PREFIXES: [&str; 4] = ["x-ratelimit-", "anthropic-", "openai-", "ratelimit-"];

fn allowed(name: &str, exact: &[&str], prefixes: &[&str]) -> bool {
    exact.contains(&name) || prefixes.iter().any(|p| name.starts_with(p))
}

/// Whether a path segment is `.` or `..` once decoded, however often and in whichever case its
/// dots are percent-encoded: URL parsing treats `%2e` as a dot and resolves such segments.
fn is_dot_segment(segment: &str) -> bool {
    let mut decoded = segment.to_ascii_lowercase();
    loop {
        let next = decoded.replace("%25", "%").replace("%2e", ".");
        if next == decoded {
            break;
        }
        decoded = next;
    }
    decoded == "." || decoded == ".."
}

/// The provider URL for `rest` under `base`, or `None` when it would leave `base`: a dot
/// segment anywhere (HTTP URLs take a backslash for a slash), or a joined URL that does not
/// start with the base's origin and path.
pub fn target_url(base: &str, rest: &str, query: Option<&str>) -> Option<url::Url> {
    if rest.split(['/', '\\']).any(is_dot_segment) {
        return None;
    }
    let base = url::Url::parse(base.trim_end_matches('/')).ok()?;
    let mut joined = format!(
        "{}/{}",
        base.as_str().trim_end_matches('/'),
        rest.trim_start_matches('/')
    );
    if let Some(query) = query {
        joined.push('?');
        joined.push_str(query);
    }
    let target = url::Url::parse(&joined).ok()?;
    let base_path = base.path().trim_end_matches('/');
    let under = target.path() == base_path
        || target
            .path()
            .strip_prefix(base_path)
            .is_some_and(|after| after.starts_with('/'));
    (target.origin() == base.origin() && under).then_some(target)
}

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
    crate::rate_limit::check_user(&state, auth.user_id)?;
    let (row, credential) = refresh::credential(&state, auth.user_id, id).await?;
    let provider = state.providers.get(&row.provider).ok_or_else(|| {
        AppError::validation(
            "id",
            "this connector's provider is not configured (PROVIDERS_FILE)",
        )
    })?;
    let target = target_url(&provider.api_base_url, &rest, req.uri().query()).ok_or_else(|| {
        AppError::BadRequest(
            "the path must stay under the provider's API: no `.` or `..` segments".into(),
        )
    })?;
    let method = reqwest::Method::from_bytes(req.method().as_str().as_bytes())
        .map_err(|_| AppError::BadRequest("unsupported method".into()))?;
    let mut outbound = state.http.request(method, target);
    for (name, value) in req.headers() {
        if allowed(name.as_str(), &REQUEST_HEADERS, &REQUEST_PREFIXES) {
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
        if allowed(name.as_str(), &RESPONSE_HEADERS, &RESPONSE_PREFIXES) {
            response.append_header((name.as_str(), value.as_bytes()));
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
#[expect(dead_code, reason = "utoipa reads its attribute; nothing calls it")]
pub fn proxy_doc() {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_under_the_base() {
        let base = "https://api.example/tenant-b/";
        let ok = target_url(base, "v1/models", Some("limit=2")).unwrap();
        assert_eq!(
            ok.as_str(),
            "https://api.example/tenant-b/v1/models?limit=2"
        );
        assert_eq!(
            target_url(base, "", None).unwrap().as_str(),
            "https://api.example/tenant-b/"
        );
        for escape in [
            "../tenant-a/x",
            "v1/../../tenant-a/x",
            "%2e%2e/tenant-a/x",
            "%2E%2e/tenant-a/x",
            ".%2E/tenant-a/x",
            "%252e%252e/tenant-a/x",
            "..\\tenant-a/x",
            "./x",
            "v1/.",
        ] {
            assert_eq!(target_url(base, escape, None), None, "{escape}");
        }
        // Dots inside a name are not dot segments.
        assert!(target_url(base, "v1/file..txt/.well", None).is_some());
        // Whatever the path, the origin cannot change.
        assert_eq!(
            target_url(base, "/@evil.example/x", None)
                .unwrap()
                .host_str(),
            Some("api.example")
        );
        assert_eq!(
            target_url("https://api.example/tenant-b", "x", None)
                .unwrap()
                .as_str(),
            "https://api.example/tenant-b/x"
        );
        assert_eq!(
            target_url("https://api.example", "v1/x", None)
                .unwrap()
                .as_str(),
            "https://api.example/v1/x"
        );
    }
}

//! Provider connectors: API keys sealed at rest, never shown back, keys checked and rotated.

use crate::common::{backends, hidden_field, test_config, Backend, TestApp, PASSWORD};
use reqwest::Method;
use serde_json::json;

const KEY: &str = "sk-ant-api03-very-secret-value-wxyz";
const OTHER_KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

#[actix_web::test]
async fn api_keys_are_sealed_and_never_shown_back() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let (alice_id, alice) = app.user("alice@example.org").await;
        let (_, bob) = app.user("bob@example.org").await;

        let (status, created) = app
            .api(
                Method::POST,
                "/api/connectors",
                &alice,
                Some(json!({"provider": "anthropic", "label": "Work", "api_key": KEY})),
            )
            .await;
        assert_eq!(status, 201, "{backend:?} {created}");
        assert_eq!(created["hint"], "anthropic …wxyz");
        assert_eq!(created["kind"], "api_key");
        assert_eq!(created["status"], "active");
        assert!(!created.to_string().contains("very-secret"), "{created}");
        let id = created["id"].as_i64().unwrap();

        let (_, listed) = app.api(Method::GET, "/api/connectors", &alice, None).await;
        assert_eq!(listed.as_array().unwrap().len(), 1);
        assert!(!listed.to_string().contains("very-secret"));

        // In the database: sealed, bound to the row, opened only for use.
        {
            use diesel::prelude::*;
            use panicless::db::schema::connectors;
            let mut conn = app.state.pool.get().unwrap();
            let sealed: Option<String> = connectors::table
                .find(id)
                .select(connectors::api_key_sealed)
                .first(&mut *conn)
                .unwrap();
            let sealed = sealed.unwrap();
            assert!(sealed.starts_with("v1.") && !sealed.contains("secret"));
            let opened = panicless::connectors::store::open_api_key(
                &mut conn,
                &app.state.keyring,
                alice_id,
                id,
            )
            .unwrap();
            assert_eq!(opened, KEY);
        }

        for (body, field) in [
            (
                json!({"provider": "anthropic", "api_key": "sk-wrong-prefix-123"}),
                "api_key",
            ),
            (
                json!({"provider": "openai", "api_key": "has spaces in it"}),
                "api_key",
            ),
            (
                json!({"provider": "Not A Provider!", "api_key": "abcdefghijk"}),
                "provider",
            ),
        ] {
            let (status, problem) = app
                .api(Method::POST, "/api/connectors", &alice, Some(body))
                .await;
            assert_eq!(status, 422, "{problem}");
            assert_eq!(problem["errors"][0]["field"], field);
            assert!(
                !problem.to_string().contains("abcdefghijk")
                    && !problem.to_string().contains("has spaces"),
                "no secret echoed"
            );
        }
        let (status, _) = app
            .api(
                Method::POST,
                "/api/connectors",
                &alice,
                Some(json!({"provider": "anthropic", "label": "Work", "api_key": KEY})),
            )
            .await;
        assert_eq!(status, 409, "labels are unique per user");

        // Bob sees nothing of Alice's.
        for (method, body) in [
            (Method::GET, None),
            (Method::PATCH, Some(json!({"label": "mine"}))),
            (Method::DELETE, None),
        ] {
            let (status, _) = app
                .api(method, &format!("/api/connectors/{id}"), &bob, body)
                .await;
            assert_eq!(status, 404);
        }
        let (_, bobs) = app.api(Method::GET, "/api/connectors", &bob, None).await;
        assert_eq!(bobs, json!([]));

        let (status, renamed) = app
            .api(
                Method::PATCH,
                &format!("/api/connectors/{id}"),
                &alice,
                Some(json!({"label": "Personal"})),
            )
            .await;
        assert_eq!((status, renamed["label"].as_str()), (200, Some("Personal")));
        let (status, _) = app
            .api(
                Method::DELETE,
                &format!("/api/connectors/{id}"),
                &alice,
                None,
            )
            .await;
        assert_eq!(status, 204);
        let (status, _) = app
            .api(Method::GET, &format!("/api/connectors/{id}"), &alice, None)
            .await;
        assert_eq!(status, 404);
        app.stop().await;
    }
}

#[actix_web::test]
async fn the_connectors_page_adds_and_deletes_keys() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.register_user("page@example.org").await;
    let browser = app.new_browser();
    app.sign_in(&browser, "page@example.org", PASSWORD).await;
    let page = browser
        .get(app.at("/connectors"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = hidden_field(&page, "csrf_token").unwrap();
    let forged = browser
        .post(app.at("/connectors/api-key"))
        .form(&[
            ("csrf_token", "x"),
            ("provider", "anthropic"),
            ("label", "k"),
            ("api_key", KEY),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    let bad = browser
        .post(app.at("/connectors/api-key"))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("provider", "anthropic"),
            ("label", "k"),
            ("api_key", "nope nope"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 422);
    assert!(
        !bad.text().await.unwrap().contains("nope nope"),
        "the key is not echoed"
    );
    let added = browser
        .post(app.at("/connectors/api-key"))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("provider", "anthropic"),
            ("label", "Claude API"),
            ("api_key", KEY),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), 303);
    let page = browser
        .get(app.at("/connectors"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("Claude API") && page.contains("anthropic …wxyz"),
        "{page}"
    );
    assert!(!page.contains("very-secret"));
    let id = hidden_field(&page, "id").unwrap();
    let deleted = browser
        .post(app.at("/connectors/delete"))
        .form(&[("csrf_token", csrf.as_str()), ("id", id.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 303);
    let page = browser
        .get(app.at("/connectors"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("No connectors yet"));
    app.stop().await;
}

#[actix_web::test]
async fn a_wrong_key_is_refused_at_start_and_rotation_moves_secrets_to_the_new_key() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (user_id, token) = app.user("keys@example.org").await;
    let (_, created) = app
        .api(
            Method::POST,
            "/api/connectors",
            &token,
            Some(json!({"provider": "openai", "api_key": "sk-proj-abcdefgh1234"})),
        )
        .await;
    let id = created["id"].as_i64().unwrap();
    let url = app.db.url.clone();
    let public = app.url.clone();

    // Another key alone: a clear error at start.
    let error = panicless::state::AppState::init(test_config(
        &url,
        &public,
        &[("ENCRYPTION_KEY", OTHER_KEY)],
    ))
    .err()
    .unwrap();
    assert!(error.contains("neither ENCRYPTION_KEY"), "{error}");

    // The new key with the old one listed: starts, reads, and rotation re-seals.
    let dev_key = panicless::config::DEV_ENCRYPTION_KEY;
    let both = panicless::state::AppState::init(test_config(
        &url,
        &public,
        &[("ENCRYPTION_KEY", OTHER_KEY), ("ENCRYPTION_KEYS", dev_key)],
    ))
    .unwrap();
    let mut conn = both.pool.get().unwrap();
    assert_eq!(
        panicless::connectors::store::open_api_key(&mut conn, &both.keyring, user_id, id).unwrap(),
        "sk-proj-abcdefgh1234"
    );
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_panicless"))
        .args(["keys", "rotate"])
        .env("DATABASE_URL", &url)
        .env("ENCRYPTION_KEY", OTHER_KEY)
        .env("ENCRYPTION_KEYS", dev_key)
        .env("RUST_LOG", "error")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("re-sealed 1 secret"));
    drop(conn);

    // Now the new key alone is enough, and the old key alone is refused.
    let new_only = panicless::state::AppState::init(test_config(
        &url,
        &public,
        &[("ENCRYPTION_KEY", OTHER_KEY)],
    ))
    .unwrap();
    let mut conn = new_only.pool.get().unwrap();
    assert_eq!(
        panicless::connectors::store::open_api_key(&mut conn, &new_only.keyring, user_id, id)
            .unwrap(),
        "sk-proj-abcdefgh1234"
    );
    assert!(
        panicless::state::AppState::init(test_config(&url, &public, &[])).is_err(),
        "the old key no longer opens anything"
    );

    let status = std::process::Command::new(env!("CARGO_BIN_EXE_panicless"))
        .args(["connector", "list", "--user", "keys@example.org"])
        .env("DATABASE_URL", &url)
        .env("ENCRYPTION_KEY", OTHER_KEY)
        .env("RUST_LOG", "error")
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&status.stdout);
    assert!(
        out.contains("openai …1234") && !out.contains("abcdefgh"),
        "{out}"
    );
    app.stop().await;
}

/// A provider API on 127.0.0.1 that answers every request with what it received (the raw path
/// and the request headers), and with response headers no answer on our origin may carry.
async fn echo_provider() -> (String, actix_web::dev::ServerHandle) {
    use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
    async fn echo(req: HttpRequest) -> HttpResponse {
        let headers: serde_json::Map<String, serde_json::Value> = req
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v.to_str().unwrap_or(""))))
            .collect();
        HttpResponse::Ok()
            .insert_header(("Content-Security-Policy", "default-src *"))
            .insert_header(("X-Frame-Options", "ALLOWALL"))
            .insert_header(("Access-Control-Allow-Origin", "*"))
            .insert_header(("Access-Control-Allow-Credentials", "true"))
            .insert_header(("Set-Cookie", "provider=1; Path=/"))
            .insert_header(("Strict-Transport-Security", "max-age=0"))
            .insert_header(("x-ratelimit-remaining-requests", "41"))
            .insert_header(("request-id", "req_123"))
            .json(json!({"path": req.uri().path(), "headers": headers}))
    }
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = HttpServer::new(|| App::new().default_service(web::to(echo)))
        .workers(1)
        .listen(listener)
        .unwrap()
        .run();
    let handle = server.handle();
    actix_web::rt::spawn(server);
    (url, handle)
}

/// A server whose provider `tenant` has its API under `{upstream}/tenant-b`, and an API-key
/// connector for it; returns (app, token, connector id, providers file).
async fn tenant_setup(upstream: &str) -> (TestApp, String, i64, tempfile::NamedTempFile) {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        file.path(),
        format!("[providers.tenant]\napi_base_url = \"{upstream}/tenant-b\"\n"),
    )
    .unwrap();
    let app = TestApp::spawn_with(
        Backend::Sqlite,
        &[("PROVIDERS_FILE", file.path().to_str().unwrap())],
    )
    .await;
    let (_, token) = app.user("proxy@example.org").await;
    let (status, created) = app
        .api(
            Method::POST,
            "/api/connectors",
            &token,
            Some(json!({"provider": "tenant", "api_key": "tk-tenant-b-secret"})),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    (app, token, created["id"].as_i64().unwrap(), file)
}

/// Sends `GET {path}` byte for byte (an HTTP client would resolve the dot segments first) and
/// returns the status and body.
async fn raw_get(app: &TestApp, path: &str, token: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = app.url.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer).to_string();
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

#[actix_web::test]
async fn the_proxy_never_leaves_the_providers_base_path() {
    let (upstream, provider) = echo_provider().await;
    let (app, token, id, _file) = tenant_setup(&upstream).await;
    let (status, body) = raw_get(
        &app,
        &format!("/api/connectors/{id}/proxy/v1/models"),
        &token,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(r#""path":"/tenant-b/v1/models""#), "{body}");
    for escape in [
        "../tenant-a/x",
        "v1/../../tenant-a/x",
        "%2e%2e/tenant-a/x",
        "%2E%2E/tenant-a/x",
        ".%2e/tenant-a/x",
        "%252e%252e/tenant-a/x",
        "..%5ctenant-a/x",
        "./v1/models",
    ] {
        let (status, body) = raw_get(
            &app,
            &format!("/api/connectors/{id}/proxy/{escape}"),
            &token,
        )
        .await;
        assert_eq!(status, 400, "{escape}: {body}");
        assert!(
            !body.contains("tenant-a"),
            "{escape} reached the provider: {body}"
        );
    }
    app.stop().await;
    provider.stop(false).await;
}

#[actix_web::test]
async fn the_proxy_forwards_and_returns_only_allowed_headers() {
    let (upstream, provider) = echo_provider().await;
    let (app, token, id, _file) = tenant_setup(&upstream).await;
    let response = app
        .client
        .post(app.at(&format!("/api/connectors/{id}/proxy/v1/messages")))
        .bearer_auth(&token)
        .header("Content-Type", "application/json")
        .header("Accept", "application/json")
        .header("anthropic-version", "2023-06-01")
        .header("Proxy-Authorization", "Basic cHJveHk6c2VjcmV0")
        .header("X-Forwarded-Host", "evil.example")
        .header("X-Forwarded-For", "203.0.113.9")
        .header("X-Real-IP", "203.0.113.9")
        .header("Forwarded", "for=203.0.113.9")
        .header("Origin", "https://evil.example")
        .header("Referer", "https://evil.example/page")
        .header("Cookie", "panicless_session=mine")
        .header("x-api-key", "caller-key")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    let seen: serde_json::Value = response.json().await.unwrap();
    let sent = seen["headers"].as_object().unwrap();
    assert_eq!(sent["anthropic-version"], "2023-06-01");
    assert_eq!(sent["content-type"], "application/json");
    assert_eq!(sent["authorization"], "Bearer tk-tenant-b-secret");
    for dropped in [
        "proxy-authorization",
        "x-forwarded-host",
        "x-forwarded-for",
        "x-real-ip",
        "forwarded",
        "origin",
        "referer",
        "cookie",
        "x-api-key",
    ] {
        assert!(
            !sent.contains_key(dropped),
            "{dropped} reached the provider: {sent:?}"
        );
    }
    // The provider's framing, CORS, cookie and transport policies do not speak for our origin;
    // ours stay in place.
    for dropped in [
        "access-control-allow-origin",
        "access-control-allow-credentials",
        "set-cookie",
        "strict-transport-security",
    ] {
        assert!(
            !headers.contains_key(dropped),
            "{dropped} came back: {headers:?}"
        );
    }
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(
        headers["content-security-policy"],
        "default-src 'self'; img-src 'self' https: http:; frame-ancestors 'none'"
    );
    assert_eq!(headers["x-ratelimit-remaining-requests"], "41");
    assert_eq!(headers["request-id"], "req_123");
    assert_eq!(headers["cache-control"], "no-store");
    app.stop().await;
    provider.stop(false).await;
}

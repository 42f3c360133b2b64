//! Client ID Metadata Documents, from the fetching side: fetches are limited per host, a failure
//! is remembered instead of fetched again, and clients nobody uses are purged.

use crate::common::{backends, browser, Backend, Server, TestApp, PASSWORD};
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

const REDIRECT: &str = "http://127.0.0.1:9/callback";

/// Serves client metadata documents on 127.0.0.1: `/good/NAME.json` is a valid document for its
/// own URL, `/bad/NAME.json` names another client. Returns the base URL and the request count.
async fn document_host() -> (String, Arc<AtomicUsize>) {
    use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let hits = Arc::new(AtomicUsize::new(0));
    let (server_base, server_hits) = (base.clone(), hits.clone());
    let server = HttpServer::new(move || {
        let (base, hits) = (server_base.clone(), server_hits.clone());
        App::new().default_service(web::to(move |req: HttpRequest| {
            let (base, hits) = (base.clone(), hits.clone());
            async move {
                hits.fetch_add(1, Ordering::SeqCst);
                let path = req.uri().path().to_string();
                let client_id = if path.starts_with("/good/") {
                    format!("{base}{path}")
                } else {
                    "https://someone.else/client.json".to_string()
                };
                HttpResponse::Ok().json(json!({
                    "client_id": client_id,
                    "client_name": "Document Client",
                    "redirect_uris": [REDIRECT],
                    "token_endpoint_auth_method": "none",
                }))
            }
        }))
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    actix_web::rt::spawn(server);
    (base, hits)
}

/// Asks for authorization as `client_id`; returns the status and page.
async fn authorize(app: &impl Server, browser: &reqwest::Client, client_id: &str) -> (u16, String) {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("response_type", "code")
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("state", "s")
        .append_pair("code_challenge", &"c".repeat(43))
        .append_pair("code_challenge_method", "S256")
        .finish();
    let response = browser
        .get(app.at(&format!("/oauth/authorize?{query}")))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

async fn signed_in_app() -> (TestApp, reqwest::Client) {
    signed_in_on(Backend::Sqlite).await
}

async fn signed_in_on(backend: Backend) -> (TestApp, reqwest::Client) {
    let app = TestApp::spawn_with(backend, &[("CIMD_ALLOW_LOOPBACK", "true")]).await;
    app.register_user("cimd@example.org").await;
    let browser = app.new_browser();
    app.sign_in(&browser, "cimd@example.org", PASSWORD).await;
    (app, browser)
}

#[actix_web::test]
async fn a_failed_fetch_is_remembered_rather_than_repeated() {
    let (app, browser) = signed_in_app().await;
    let (base, hits) = document_host().await;
    let liar = format!("{base}/bad/liar.json");
    for _ in 0..3 {
        let (status, page) = authorize(&app, &browser, &liar).await;
        assert_eq!(status, 400);
        // The page says it in fixed words (the cause goes to the log).
        assert!(page.contains("could not be verified"), "{page}");
    }
    assert_eq!(
        hits.load(Ordering::SeqCst),
        1,
        "fetched once, refused three times"
    );
    app.stop().await;
}

#[actix_web::test]
async fn fetches_from_one_host_are_rate_limited() {
    let (app, browser) = signed_in_app().await;
    let (base, hits) = document_host().await;
    let limit = panicless::oauth::client_metadata::HOST_FETCHES_PER_MINUTE as usize;
    for n in 0..limit {
        let (status, page) = authorize(&app, &browser, &format!("{base}/good/{n}.json")).await;
        assert_eq!(status, 200, "{n}: {page}");
    }
    let (status, page) = authorize(&app, &browser, &format!("{base}/good/one-more.json")).await;
    assert_eq!(status, 400);
    assert!(page.contains("could not be verified"), "{page}");
    assert_eq!(hits.load(Ordering::SeqCst), limit);
    // Documents already fetched are served from the database, without a fetch.
    let (status, _) = authorize(&app, &browser, &format!("{base}/good/0.json")).await;
    assert_eq!(status, 200);
    assert_eq!(hits.load(Ordering::SeqCst), limit);
    app.stop().await;
}

#[actix_web::test]
async fn metadata_clients_nobody_uses_are_purged() {
    use diesel::prelude::*;
    use panicless::db::schema::oauth_clients;
    for backend in backends() {
        let (app, browser) = signed_in_on(backend).await;
        let (base, _) = document_host().await;
        let unused = format!("{base}/good/unused.json");
        let granted = format!("{base}/good/granted.json");
        for client_id in [&unused, &granted] {
            assert_eq!(authorize(&app, &browser, client_id).await.0, 200);
        }
        let mut conn = app.state.pool.get().unwrap();
        let row = |client_id: &str, conn: &mut panicless::db::DbConn| -> Option<i64> {
            oauth_clients::table
                .filter(oauth_clients::client_id.eq(client_id))
                .select(oauth_clients::id)
                .first(conn)
                .optional()
                .unwrap()
        };
        // A grant the user made to one of them: its token outlives the purge below.
        let granted_row = row(&granted, &mut conn).unwrap();
        let now = panicless::db::models::now();
        panicless::db::write_transaction(&mut conn, |w| {
            panicless::db::models::token::insert(
                w,
                &panicless::db::models::token::NewToken {
                    kind: panicless::db::models::token::TokenKind::Refresh,
                    token_hash: &panicless::crypto::hash_token("refresh"),
                    jti: None,
                    user_id: 1,
                    client_id: Some(granted_row),
                    scope: "read",
                    audience: None,
                    grant_id: "grant",
                    parent_id: None,
                    issued_at: now,
                    expires_at: now + chrono::Duration::days(30),
                    // A row of before grant rows: opaque, found by its hash.
                    generation: 0,
                    secret_hash: None,
                },
            )
        })
        .unwrap();

        let purged = panicless::oauth::purge::purge(&mut conn, now)
            .unwrap()
            .unwrap();
        assert_eq!(purged.metadata_clients, 0, "nothing is due yet");
        let later = now + chrono::Duration::days(2);
        let purged = panicless::oauth::purge::purge(&mut conn, later)
            .unwrap()
            .unwrap();
        assert_eq!(purged.metadata_clients, 1, "{purged:?}");
        assert_eq!(row(&unused, &mut conn), None);
        assert_eq!(row(&granted, &mut conn), Some(granted_row));
        // Once its grant is long over, it goes too.
        let much_later = now + chrono::Duration::days(40);
        let purged = panicless::oauth::purge::purge(&mut conn, much_later)
            .unwrap()
            .unwrap();
        assert_eq!(purged.metadata_clients, 1, "{purged:?}");
        assert_eq!(row(&granted, &mut conn), None);
        drop(conn);
        // A purged client is fetched again when it comes back.
        assert_eq!(authorize(&app, &browser, &unused).await.0, 200);
        app.stop().await;
    }
}

/// A proxy that only counts the connections it is offered (and serves none).
async fn counting_proxy() -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let offered = Arc::new(AtomicUsize::new(0));
    let counter = offered.clone();
    actix_web::rt::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            drop(stream);
        }
    });
    (url, offered)
}

/// The real binary, with a proxy in its environment: the document is fetched directly from the
/// address that was checked, never through the proxy (which would resolve the host again).
#[actix_web::test]
async fn documents_are_never_fetched_through_a_proxy_from_the_environment() {
    use crate::cluster::{free_port, ready, start};
    let (proxy, offered) = counting_proxy().await;
    let (base, hits) = document_host().await;
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("db.sqlite").display());
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let mut settings = vec![("CIMD_ALLOW_LOOPBACK", "true")];
    for name in [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ] {
        settings.push((name, proxy.as_str()));
    }
    let mut instance = start(&database, &url, port, &settings);
    ready(&mut instance).await;
    let registered = instance
        .client()
        .post(instance.at("/api/auth/register"))
        .json(&json!({"email": "proxy@example.org", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), 201);
    let client = browser();
    crate::common::sign_in(&instance, &client, "proxy@example.org", PASSWORD).await;
    let (status, page) = authorize(&instance, &client, &format!("{base}/good/direct.json")).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    assert_eq!(
        offered.load(Ordering::SeqCst),
        0,
        "the proxy was offered the fetch"
    );
}

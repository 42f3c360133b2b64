//! The OAuth 2.1 authorization server over HTTP: discovery, registration, authorization with
//! PKCE and consent, tokens, rotation, revocation, introspection, and the pages.

use crate::common::{backends, hidden_field, jwt_claims, Backend, Server, TestApp, PASSWORD};
use base64::Engine;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

pub const REDIRECT: &str = "http://127.0.0.1:9/callback";

pub fn pkce() -> (String, String) {
    let verifier = panicless::crypto::random_token(32);
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

pub async fn register_client(app: &impl Server, metadata: Value) -> Value {
    let response = app
        .client()
        .post(app.at("/oauth/register"))
        .json(&metadata)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    response.json().await.unwrap()
}

pub async fn public_client(app: &impl Server) -> String {
    let client = register_client(app, json!({"client_name": "Test App", "redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none"})).await;
    client["client_id"].as_str().unwrap().to_string()
}

pub fn location(response: &reqwest::Response) -> String {
    response.headers()["location"].to_str().unwrap().to_string()
}

pub fn query_of(url: &str) -> std::collections::HashMap<String, String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

pub fn authorize_url(
    app: &impl Server,
    client_id: &str,
    challenge: &str,
    extra: &[(&str, &str)],
) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query
        .append_pair("response_type", "code")
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("state", "xyz-state")
        .append_pair("code_challenge", challenge)
        .append_pair("code_challenge_method", "S256");
    for (k, v) in extra {
        query.append_pair(k, v);
    }
    app.at(&format!("/oauth/authorize?{}", query.finish()))
}

/// Signs `browser` in (when needed), approves the consent page, and returns the redirect.
pub async fn approve(
    app: &impl Server,
    browser: &reqwest::Client,
    url: &str,
    email: &str,
) -> String {
    let mut response = browser.get(url).send().await.unwrap();
    if response.status() == StatusCode::SEE_OTHER && location(&response).starts_with("/login") {
        let login = app.at(&location(&response));
        let page = browser
            .get(&login)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let csrf = hidden_field(&page, "csrf_token").unwrap();
        let return_to = hidden_field(&page, "return_to").unwrap();
        let signed_in = browser
            .post(app.at("/login"))
            .form(&[
                ("csrf_token", csrf.as_str()),
                ("email", email),
                ("password", PASSWORD),
                ("return_to", return_to.as_str()),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
        assert!(
            location(&signed_in).starts_with("/oauth/authorize?"),
            "back to the request"
        );
        response = browser
            .get(app.at(&location(&signed_in)))
            .send()
            .await
            .unwrap();
    }
    if response.status() == StatusCode::SEE_OTHER {
        return location(&response); // consent remembered
    }
    let status = response.status();
    let page = response.text().await.unwrap();
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Approve") && page.contains("Deny"), "{page}");
    submit_consent(app, browser, &page, "approve").await
}

pub async fn submit_consent(
    app: &impl Server,
    browser: &reqwest::Client,
    page: &str,
    decision: &str,
) -> String {
    let mut form: Vec<(String, String)> = Vec::new();
    for name in [
        "csrf_token",
        "response_type",
        "client_id",
        "redirect_uri",
        "scope",
        "state",
        "code_challenge",
        "code_challenge_method",
        "resource",
    ] {
        if let Some(value) = hidden_field(page, name) {
            form.push((name.into(), value));
        }
    }
    form.push(("decision".into(), decision.into()));
    let response = browser
        .post(app.at("/oauth/consent"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    location(&response)
}

pub async fn token_request(app: &impl Server, form: &[(&str, &str)]) -> (u16, Value) {
    let response = app
        .client()
        .post(app.at("/oauth/token"))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    if status == 200 {
        assert_eq!(response.headers()["cache-control"], "no-store");
    }
    (status, response.json().await.unwrap())
}

/// The authorization-code exchange of a public client (PKCE, no secret).
pub async fn exchange_code(
    app: &impl Server,
    client_id: &str,
    redirect_uri: &str,
    code: &str,
    verifier: &str,
) -> (u16, Value) {
    token_request(
        app,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("code_verifier", verifier),
            ("client_id", client_id),
        ],
    )
    .await
}

/// The refresh grant of a public client.
pub async fn refresh_grant(
    app: &impl Server,
    client_id: &str,
    refresh_token: &str,
) -> (u16, Value) {
    token_request(
        app,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("client_id", client_id),
        ],
    )
    .await
}

/// The whole dance for a public client: returns the token response.
pub async fn tokens_for(app: &impl Server, email: &str, extra: &[(&str, &str)]) -> (String, Value) {
    let client_id = public_client(app).await;
    let (verifier, challenge) = pkce();
    let browser = crate::common::browser();
    let redirect = approve(
        app,
        &browser,
        &authorize_url(app, &client_id, &challenge, extra),
        email,
    )
    .await;
    let code = query_of(&redirect)["code"].clone();
    let (status, tokens) = exchange_code(app, &client_id, REDIRECT, &code, &verifier).await;
    assert_eq!(status, 200, "{tokens}");
    (client_id, tokens)
}

/// `/oauth/revoke` of `token` by a public client (RFC 7009); returns the status.
pub async fn revoke_token(app: &impl Server, token: &str, client_id: &str) -> StatusCode {
    app.client()
        .post(app.at("/oauth/revoke"))
        .form(&[("token", token), ("client_id", client_id)])
        .send()
        .await
        .unwrap()
        .status()
}

#[actix_web::test]
async fn discovery_documents_agree() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let server: Value = app
        .client
        .get(app.at("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        server["issuer"], app.url,
        "the issuer is PUBLIC_URL exactly"
    );
    assert!(!app.url.ends_with('/'));
    assert_eq!(server["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(
        server["grant_types_supported"],
        json!(["authorization_code", "refresh_token"])
    );
    assert_eq!(server["response_types_supported"], json!(["code"]));
    assert_eq!(
        server["token_endpoint_auth_methods_supported"],
        json!(["client_secret_basic", "client_secret_post", "none"])
    );
    for endpoint in [
        "authorization_endpoint",
        "token_endpoint",
        "registration_endpoint",
        "revocation_endpoint",
        "introspection_endpoint",
        "service_documentation",
    ] {
        let url = server[endpoint].as_str().unwrap();
        assert!(url.starts_with(&app.url), "{endpoint}");
    }
    let docs = app
        .client
        .get(server["service_documentation"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(docs.status(), 200);
    for (path, resource) in [
        ("/.well-known/oauth-protected-resource", app.url.clone()),
        (
            "/.well-known/oauth-protected-resource/mcp",
            format!("{}/mcp", app.url),
        ),
    ] {
        let doc: Value = app
            .client
            .get(app.at(path))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(doc["resource"], resource);
        assert_eq!(doc["authorization_servers"], json!([app.url]));
        assert_eq!(
            doc["scopes_supported"], server["scopes_supported"],
            "the same scopes everywhere"
        );
        assert_eq!(doc["bearer_methods_supported"], json!(["header"]));
    }
    let slash = app
        .client
        .get(app.at("/.well-known/oauth-authorization-server/"))
        .send()
        .await
        .unwrap();
    assert_ne!(
        slash.status().as_u16() / 100,
        3,
        "no slash-appending redirects"
    );
    app.stop().await;
}

#[actix_web::test]
async fn registration_validates_client_metadata() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let claude = register_client(&app, json!({
        "client_name": "Claude", "redirect_uris": ["https://claude.ai/api/mcp/auth_callback", "https://claude.com/api/mcp/auth_callback"],
        "token_endpoint_auth_method": "client_secret_post", "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"], "scope": "read write offline_access"
    })).await;
    assert!(claude["client_id_issued_at"].is_i64());
    assert_eq!(claude["client_secret_expires_at"], 0);
    assert!(claude["client_secret"].as_str().unwrap().len() >= 32);
    assert_eq!(claude["token_endpoint_auth_method"], "client_secret_post");
    assert_eq!(claude["scope"], "read write", "unknown scopes are ignored");
    let public = register_client(&app, json!({"redirect_uris": ["http://localhost:33418/cb"], "token_endpoint_auth_method": "none"})).await;
    assert!(public.get("client_secret").is_none());

    for (metadata, error) in [
        (json!({"client_name": "x"}), "invalid_redirect_uri"),
        (
            json!({"redirect_uris": ["http://example.com/cb"]}),
            "invalid_redirect_uri",
        ),
        (
            json!({"redirect_uris": ["https://example.com/cb#x"]}),
            "invalid_redirect_uri",
        ),
        (
            json!({"redirect_uris": ["https://example.com/cb"], "token_endpoint_auth_method": "private_key_jwt"}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": ["https://example.com/cb"], "grant_types": ["client_credentials"]}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": ["https://example.com/cb"], "response_types": ["token"]}),
            "invalid_client_metadata",
        ),
    ] {
        let response = app
            .client
            .post(app.at("/oauth/register"))
            .json(&metadata)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{metadata}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], error, "{metadata}");
        assert!(body["error_description"].is_string());
    }
    let response = app
        .client
        .post(app.at("/oauth/register"))
        .body("not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    app.stop().await;
}

#[actix_web::test]
async fn the_whole_flow_for_a_public_client() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let user_id = app.register_user("flow@example.org").await;
        let client_id = public_client(&app).await;
        let (verifier, challenge) = pkce();
        let browser = app.new_browser();
        let mcp = format!("{}/mcp", app.url);
        let url = authorize_url(
            &app,
            &client_id,
            &challenge,
            &[
                ("scope", "read write offline_access"),
                ("resource", &format!("{mcp}/")),
            ],
        );

        // Not signed in: the login page, then back to the request, then consent.
        let redirect = approve(&app, &browser, &url, "flow@example.org").await;
        assert!(redirect.starts_with(REDIRECT), "{redirect}");
        let params = query_of(&redirect);
        assert_eq!(params["state"], "xyz-state", "state returned untouched");
        assert_eq!(params["iss"], app.url);
        let code = params["code"].clone();
        assert!(code.len() >= 43, "at least 128 bits");

        // Exchange, with a wrong verifier first.
        let (status, error) = exchange_code(&app, &client_id, REDIRECT, &code, &pkce().0).await;
        assert_eq!(
            (status, error["error"].as_str()),
            (400, Some("invalid_grant"))
        );
        let (status, tokens) = exchange_code(&app, &client_id, REDIRECT, &code, &verifier).await;
        assert_eq!(status, 200, "{backend:?} {tokens}");
        assert_eq!(tokens["token_type"], "Bearer");
        assert_eq!(tokens["expires_in"], 3600);
        assert_eq!(tokens["scope"], "read write");
        assert_eq!(tokens["jwt_token"], tokens["access_token"]);
        let access = tokens["access_token"].as_str().unwrap().to_string();
        let claims = jwt_claims(&access);
        assert_eq!(claims["iss"], app.url);
        assert_eq!(
            claims["aud"], mcp,
            "the resource is the audience, trailing slash normalised"
        );
        assert_eq!(claims["sub"], user_id.to_string());
        assert_eq!(claims["client_id"], client_id);
        let header: Value = serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(access.split('.').next().unwrap())
                .unwrap(),
        )
        .unwrap();
        assert_eq!(header["typ"], "at+jwt");

        // The MCP resource accepts it.
        let response = app.client.post(app.at("/mcp")).bearer_auth(&access)
            .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-11-25"}}))
            .send().await.unwrap();
        assert_eq!(response.status(), 200);

        // Refresh rotates; the old one again within the grace window gives the same pair.
        let refresh = tokens["refresh_token"].as_str().unwrap().to_string();
        let (status, rotated) = refresh_grant(&app, &client_id, &refresh).await;
        assert_eq!(status, 200, "{rotated}");
        assert_ne!(rotated["refresh_token"], tokens["refresh_token"]);
        let (status, again) = refresh_grant(&app, &client_id, &refresh).await;
        assert_eq!(status, 200);
        assert_eq!(again, rotated, "concurrent refreshes get one answer");

        // After the window, reusing the rotated token revokes the whole grant.
        {
            use diesel::prelude::*;
            use panicless::db::schema::oauth_tokens;
            let mut conn = app.state.pool.get().unwrap();
            // The grant's one row, named by the token (`<row id>.<generation>.…`).
            let row: i64 = refresh.split('.').next().unwrap().parse().unwrap();
            diesel::update(oauth_tokens::table.find(row))
                .set(
                    oauth_tokens::rotated_at
                        .eq(panicless::db::models::now() - chrono::Duration::seconds(31)),
                )
                .execute(&mut *conn)
                .unwrap();
        }
        let (status, error) = refresh_grant(&app, &client_id, &refresh).await;
        assert_eq!(
            (status, error["error"].as_str()),
            (400, Some("invalid_grant"))
        );
        let newest = rotated["refresh_token"].as_str().unwrap();
        let (status, _) = refresh_grant(&app, &client_id, newest).await;
        assert_eq!(status, 400, "the newest refresh token died with the grant");
        let response = app
            .client
            .post(app.at("/mcp"))
            .bearer_auth(rotated["access_token"].as_str().unwrap())
            .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "and so did its access token");

        // The code cannot be used twice, and using it again revokes what it gave.
        let (status, error) = exchange_code(&app, &client_id, REDIRECT, &code, &verifier).await;
        assert_eq!(
            (status, error["error"].as_str()),
            (400, Some("invalid_grant"))
        );
        app.stop().await;
    }
}

#[actix_web::test]
async fn revocation_and_introspection() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        app.register_user("revoke@example.org").await;
        let (client_id, tokens) = tokens_for(&app, "revoke@example.org", &[]).await;
        let access = tokens["access_token"].as_str().unwrap();
        let refresh = tokens["refresh_token"].as_str().unwrap();
        let holder = app.bearer(access);
        let (status, _) = holder.get("/api/books").await;
        assert_eq!(status, 200, "no resource: the API is the audience");

        let introspect = |token: String| {
            let app = &app;
            let client_id = client_id.clone();
            async move {
                let response = app
                    .client
                    .post(app.at("/oauth/introspect"))
                    .form(&[("token", token.as_str()), ("client_id", client_id.as_str())])
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 200);
                response.json::<Value>().await.unwrap()
            }
        };
        let active = introspect(access.to_string()).await;
        assert_eq!(active["active"], true, "{active}");
        assert_eq!(active["username"], "revoke@example.org");
        assert_eq!(active["token_type"], "access_token");
        assert_eq!(introspect(refresh.to_string()).await["active"], true);
        assert_eq!(introspect("garbage".into()).await, json!({"active": false}));

        // Revoking the refresh token ends the access token too, on the very next request.
        assert_eq!(revoke_token(&app, refresh, &client_id).await, 200);
        let (status, _) = holder.get("/api/books").await;
        assert_eq!(status, 401);
        assert_eq!(introspect(access.to_string()).await["active"], false);
        assert_eq!(
            revoke_token(&app, "unknown", &client_id).await,
            200,
            "unknown tokens are not an error (RFC 7009)"
        );

        // An access token from the token endpoint has no row of its own, only its grant's:
        // revoking it ends the whole grant (RFC 7009 allows it), refresh token included, and
        // the access token is refused on the very next request.
        let (client_id, tokens) = tokens_for(&app, "revoke@example.org", &[]).await;
        let access = tokens["access_token"].as_str().unwrap();
        let refresh = tokens["refresh_token"].as_str().unwrap();
        let holder = app.bearer(access);
        assert_eq!(holder.get("/api/books").await.0, 200);
        assert_eq!(revoke_token(&app, access, &client_id).await, 200);
        assert_eq!(holder.get("/api/books").await.0, 401);
        assert_eq!(introspect(access.to_string()).await["active"], false);
        assert_eq!(introspect(refresh.to_string()).await["active"], false);
        let (status, error) = refresh_grant(&app, &client_id, refresh).await;
        assert_eq!(
            (status, error["error"].as_str()),
            (400, Some("invalid_grant"))
        );
        app.stop().await;
    }
}

#[actix_web::test]
async fn authorization_errors_never_redirect_to_unregistered_addresses() {
    let app = TestApp::spawn_with(
        Backend::Sqlite,
        &[
            ("OAUTH_CLIENT_ID", "operator-client"),
            ("OAUTH_CLIENT_SECRET", "s3cret-s3cret-s3cret-s3cret-s3cret"),
            ("OAUTH_REDIRECT_URIS", REDIRECT),
        ],
    )
    .await;
    let browser = app.with_user("errors@example.org").await;
    let client_id = public_client(&app).await;
    let (_, challenge) = pkce();

    // Unknown client, unregistered redirect: an error page, never a redirect.
    for url in [
        authorize_url(&app, "no-such-client", &challenge, &[]),
        authorize_url(&app, &client_id, &challenge, &[])
            .replace("127.0.0.1%3A9%2Fcallback", "evil.example%2Fcallback"),
        authorize_url(&app, &client_id, &challenge, &[])
            .replace("%2Fcallback", "%2Fcallback%2Fextra"),
    ] {
        let response = browser.get(&url).await;
        assert_eq!(response.status(), 400, "{url}");
        assert!(response.headers().get("location").is_none());
        assert!(response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
    }
    // Past that point, errors go back to the client with state, when the operator configured
    // it; a client that registered itself gets a page (tests/it/oauth_attacks.rs).
    let client_id = "operator-client";
    let no_pkce = authorize_url(&app, client_id, &challenge, &[]).replace(
        "&code_challenge_method=S256",
        "&code_challenge_method=plain",
    );
    for (url, error) in [
        (no_pkce, "invalid_request"),
        (
            authorize_url(&app, client_id, &challenge, &[])
                .replace("response_type=code", "response_type=token"),
            "unsupported_response_type",
        ),
        (
            authorize_url(
                &app,
                client_id,
                &challenge,
                &[("resource", "https://evil.example/mcp")],
            ),
            "invalid_target",
        ),
    ] {
        let response = browser.get(&url).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{url}");
        let target = location(&response);
        assert!(target.starts_with(REDIRECT));
        let params = query_of(&target);
        assert_eq!(params["error"], error, "{url}");
        assert_eq!(params["state"], "xyz-state");
        assert!(params.contains_key("error_description"));
    }
    // A client registered for `read` cannot ask for `write`: said on a page, as it registered
    // its own redirect URI.
    let reader = register_client(
        &app,
        json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none", "scope": "read"}),
    )
    .await;
    let response = browser
        .get(&authorize_url(
            &app,
            reader["client_id"].as_str().unwrap(),
            &challenge,
            &[("scope", "write")],
        ))
        .await;
    assert_eq!(response.status(), 400);
    assert!(response.headers().get("location").is_none());
    assert!(response
        .text()
        .await
        .unwrap()
        .contains("more access than it registered"));

    // Deny: access_denied.
    let client_id = public_client(&app).await;
    let page = browser
        .page(&authorize_url(&app, &client_id, &challenge, &[]))
        .await;
    assert!(
        page.contains("Test App") && page.contains("127.0.0.1"),
        "the consent page names the app and where it goes"
    );
    assert!(page.contains("See your books"), "scopes in plain words");
    let denied = submit_consent(&app, &browser.client, &page, "deny").await;
    assert_eq!(query_of(&denied)["error"], "access_denied");
    // The consent form needs its CSRF token.
    let forged = browser
        .post_form(
            "/oauth/consent",
            &[
                ("csrf_token", "forged"),
                ("decision", "approve"),
                ("client_id", &client_id),
            ],
        )
        .await;
    assert_eq!(forged.status(), 403);
    app.stop().await;
}

#[actix_web::test]
async fn consent_is_remembered_for_the_same_client_and_scopes() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.register_user("remember@example.org").await;
    // Only a client that authenticates at the token endpoint: a public client is asked every
    // time (tests/it/oauth_attacks.rs).
    let confidential = register_client(
        &app,
        json!({"client_name": "Test App", "redirect_uris": [REDIRECT], "token_endpoint_auth_method": "client_secret_basic"}),
    )
    .await;
    let client_id = confidential["client_id"].as_str().unwrap().to_string();
    let browser = app.anonymous();
    let (_, challenge) = pkce();
    let asking = |scope| authorize_url(&app, &client_id, &challenge, &[("scope", scope)]);
    let first = approve(
        &app,
        &browser.client,
        &asking("read"),
        "remember@example.org",
    )
    .await;
    assert!(query_of(&first).contains_key("code"));
    let response = browser.get(&asking("read")).await;
    assert_eq!(
        response.status(),
        StatusCode::SEE_OTHER,
        "no second consent page"
    );
    assert!(query_of(&location(&response)).contains_key("code"));
    let response = browser.get(&asking("read write")).await;
    assert_eq!(response.status(), 200, "more scopes: asked again");
    app.stop().await;
}

#[actix_web::test]
async fn token_endpoint_errors_follow_rfc_6749() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.register_user("tokens@example.org").await;
    let confidential = register_client(
        &app,
        json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "client_secret_basic"}),
    )
    .await;
    let id = confidential["client_id"].as_str().unwrap();
    let secret = confidential["client_secret"].as_str().unwrap();

    let response = app
        .client
        .post(app.at("/oauth/token"))
        .basic_auth(id, Some("wrong"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", "x"),
            ("code_verifier", &"a".repeat(43)),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(
        response.headers()["www-authenticate"],
        "Basic realm=\"panicless\""
    );
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client");

    let (status, body) = token_request(
        &app,
        &[
            ("grant_type", "authorization_code"),
            ("code", "x"),
            ("code_verifier", &"a".repeat(43)),
            ("client_id", "nobody"),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    let (status, body) = token_request(
        &app,
        &[
            ("grant_type", "password"),
            ("client_id", id),
            ("client_secret", secret),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("unsupported_grant_type"))
    );
    let (status, body) = token_request(&app, &[("client_id", id), ("client_secret", secret)]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );
    let (status, body) = token_request(
        &app,
        &[
            ("grant_type", "authorization_code"),
            ("code", "nope"),
            ("code_verifier", &"a".repeat(43)),
            ("client_id", id),
            ("client_secret", secret),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );

    // A confidential client by Basic, with a JSON body as the seeds send.
    let (verifier, challenge) = pkce();
    let browser = app.new_browser();
    let mut url = authorize_url(&app, id, &challenge, &[]);
    url = url.replace("&state=xyz-state", "");
    let redirect = approve(&app, &browser, &url, "tokens@example.org").await;
    let code = query_of(&redirect)["code"].clone();
    let response = app.client.post(app.at("/oauth/token")).basic_auth(id, Some(secret))
        .json(&json!({"grant_type": "authorization_code", "code": code, "redirect_uri": "http://127.0.0.1:9/other", "code_verifier": verifier}))
        .send().await.unwrap();
    assert_eq!(response.status(), 400, "redirect_uri must match");
    let response = app.client.post(app.at("/oauth/token")).basic_auth(id, Some(secret))
        .json(&json!({"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "code_verifier": verifier}))
        .send().await.unwrap();
    assert_eq!(response.status(), 200);
    app.stop().await;
}

#[actix_web::test]
async fn two_concurrent_exchanges_of_one_code_give_exactly_one_token() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        app.register_user("race@example.org").await;
        let client_id = public_client(&app).await;
        let (verifier, challenge) = pkce();
        let browser = app.new_browser();
        let redirect = approve(
            &app,
            &browser,
            &authorize_url(&app, &client_id, &challenge, &[]),
            "race@example.org",
        )
        .await;
        let code = query_of(&redirect)["code"].clone();
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier.as_str()),
            ("client_id", client_id.as_str()),
        ];
        let (a, b) = tokio::join!(token_request(&app, &form), token_request(&app, &form));
        let statuses = [a.0, b.0];
        assert_eq!(
            statuses.iter().filter(|s| **s == 200).count(),
            1,
            "{backend:?}: {a:?} {b:?}"
        );
        assert!(statuses.contains(&400));
        // The second presentation was a reuse: what the code gave is revoked too.
        let winner = if a.0 == 200 { &a.1 } else { &b.1 };
        let (status, _) = app
            .bearer(winner["access_token"].as_str().unwrap())
            .get("/api/books")
            .await;
        assert_eq!(
            status, 401,
            "{backend:?}: tokens from a reused code are revoked"
        );
        app.stop().await;
    }
}

#[actix_web::test]
async fn connections_and_admin_pages() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.register_user("admin@example.org").await; // first user: administrator
    app.register_user("reader@example.org").await;
    let (client_id, tokens) = tokens_for(&app, "reader@example.org", &[]).await;
    let app_of_reader = app.bearer(tokens["access_token"].as_str().unwrap());

    // The reader sees the app and disconnects it.
    let reader = app.signed_in("reader@example.org").await;
    let page = reader.page("/account/connections").await;
    assert!(page.contains("Test App"), "{page}");
    let grant_id = hidden_field(&page, "grant_id").unwrap();
    let forged = reader.disconnect("x", &grant_id).await;
    assert_eq!(forged.status(), 403);
    let csrf = hidden_field(&page, "csrf_token").unwrap();
    let done = reader.disconnect(&csrf, &grant_id).await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    let (status, _) = app_of_reader.get("/api/books").await;
    assert_eq!(status, 401, "disconnected on the next request");
    assert!(
        reader.get("/admin/tokens").await.status() == 403,
        "not an administrator"
    );

    // The administrator sees grants, filters, and revokes.
    let (_, second) = tokens_for(&app, "reader@example.org", &[]).await;
    let second = app.bearer(second["access_token"].as_str().unwrap());
    let admin = app.signed_in("admin@example.org").await;
    let page = admin.page("/admin/tokens?user=reader@example.org").await;
    assert!(
        page.contains("reader@example.org") && page.contains("Test App"),
        "{page}"
    );
    let empty = admin.page("/admin/tokens?user=admin@example.org").await;
    assert!(!empty.contains("reader@example.org"));
    let csrf = hidden_field(&page, "csrf_token").unwrap();
    let unconfirmed = admin
        .revoke(&csrf, "user", "reader@example.org", false)
        .await;
    assert_eq!(
        unconfirmed.status(),
        422,
        "mass revocation needs confirmation"
    );
    let (status, _) = second.get("/api/books").await;
    assert_eq!(status, 200);
    let confirmed = admin
        .revoke(&csrf, "user", "reader@example.org", true)
        .await;
    assert_eq!(confirmed.status(), StatusCode::SEE_OTHER);
    let (status, _) = second.get("/api/books").await;
    assert_eq!(status, 401);
    let revoked = admin.revoke(&csrf, "client", &client_id, true).await;
    assert_eq!(revoked.status(), StatusCode::SEE_OTHER);
    let (status, body) = refresh_grant(&app, &client_id, "x").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client")),
        "a disabled client is no client"
    );
    app.stop().await;
}

#[actix_web::test]
async fn sign_in_and_registration_are_rate_limited() {
    let app = TestApp::spawn_with(
        Backend::Sqlite,
        &[
            ("RATE_LIMIT_LOGIN_PER_MINUTE", "2"),
            ("RATE_LIMIT_REGISTER_PER_MINUTE", "1"),
        ],
    )
    .await;
    for _ in 0..2 {
        let response = app
            .client
            .post(app.at("/api/auth/login"))
            .json(&json!({"email": "a@example.org", "password": "wrong password"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401);
    }
    let response = app
        .client
        .post(app.at("/api/auth/login"))
        .json(&json!({"email": "a@example.org", "password": "wrong password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    assert!(
        response.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            >= 1
    );
    let page = app.sign_in(&app.new_browser(), "a@example.org", "x").await;
    assert_eq!(page.status(), 429);
    register_client(&app, json!({"redirect_uris": [REDIRECT]})).await;
    let response = app
        .client
        .post(app.at("/oauth/register"))
        .json(&json!({"redirect_uris": [REDIRECT]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    let body: Value = response.json().await.unwrap();
    assert!(body["error"].is_string());
    app.stop().await;
}

#[actix_web::test]
async fn the_static_client_and_first_party_authorize() {
    let app = TestApp::spawn_with(
        Backend::Sqlite,
        &[
            ("OAUTH_CLIENT_ID", "claude-static"),
            ("OAUTH_CLIENT_SECRET", "s3cret-s3cret-s3cret-s3cret-s3cret"),
            (
                "OAUTH_REDIRECT_URIS",
                "https://claude.ai/api/mcp/auth_callback",
            ),
        ],
    )
    .await;
    let token = app.user_token("first@example.org").await;
    let (verifier, challenge) = pkce();
    let response = app.client.post(app.at("/oauth/authorize")).bearer_auth(&token)
        .json(&json!({"client_id": "claude-static", "redirect_uri": "https://claude.ai/api/mcp/auth_callback", "response_type": "code", "scope": "all", "state": "s1", "code_challenge": challenge, "code_challenge_method": "S256"}))
        .send().await.unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["state"], "s1");
    let response = app.client.post(app.at("/oauth/token"))
        .json(&json!({"grant_type": "authorization_code", "code": body["code"], "client_id": "claude-static", "client_secret": "s3cret-s3cret-s3cret-s3cret-s3cret", "redirect_uri": "https://claude.ai/api/mcp/auth_callback", "code_verifier": verifier}))
        .send().await.unwrap();
    assert_eq!(response.status(), 200);
    let tokens: Value = response.json().await.unwrap();
    assert_eq!(tokens["scope"], "all");
    assert_eq!(tokens["jwt_token"], tokens["access_token"]);
    let response = app
        .client
        .post(app.at("/oauth/authorize"))
        .json(&json!({"client_id": "claude-static"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        400,
        "first-party authorize needs a token"
    );
    app.stop().await;
}

/// Serves `document` at /client.json on a free port; returns the document's URL.
pub async fn serve_client_document(
    make: impl Fn(&str) -> Value + Send + Sync + Clone + 'static,
) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/client.json", listener.local_addr().unwrap());
    let doc_url = url.clone();
    let server = actix_web::HttpServer::new(move || {
        let document = make(&doc_url);
        actix_web::App::new().route(
            "/client.json",
            actix_web::web::get().to(move || {
                let document = document.clone();
                async move { actix_web::HttpResponse::Ok().json(document) }
            }),
        )
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    actix_web::rt::spawn(server);
    url
}

#[actix_web::test]
async fn client_id_metadata_documents_identify_clients_by_url() {
    let app = TestApp::spawn_with(Backend::Sqlite, &[("CIMD_ALLOW_LOOPBACK", "true")]).await;
    app.register_user("cimd@example.org").await;
    let metadata: Value = app
        .client
        .get(app.at("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(metadata["client_id_metadata_document_supported"], true);

    let client_id = serve_client_document(|url| {
        json!({
            "client_id": url, "client_name": "Document Client", "redirect_uris": [REDIRECT],
            "token_endpoint_auth_method": "none"
        })
    })
    .await;
    let (verifier, challenge) = pkce();
    let browser = app.signed_in("cimd@example.org").await;
    let page = browser
        .page(&authorize_url(&app, &client_id, &challenge, &[]))
        .await;
    assert!(
        page.contains("Document Client") && page.contains("127.0.0.1"),
        "{page}"
    );
    let redirect = submit_consent(&app, &browser.client, &page, "approve").await;
    let code = query_of(&redirect)["code"].clone();
    let (status, tokens) = exchange_code(&app, &client_id, REDIRECT, &code, &verifier).await;
    assert_eq!(status, 200, "{tokens}");

    // A document that names another client_id is refused, on a page.
    let liar = serve_client_document(
        |_| json!({"client_id": "https://someone.else/client.json", "redirect_uris": [REDIRECT]}),
    )
    .await;
    let response = browser
        .get(&authorize_url(&app, &liar, &challenge, &[]))
        .await;
    assert_eq!(response.status(), 400);
    let page = response.text().await.unwrap();
    assert!(page.contains("could not be verified"), "{page}");
    assert!(
        !page.contains(&liar),
        "the page repeats nothing of the request"
    );
    app.stop().await;

    // Without the test switch, a document on a loopback http address is never fetched.
    let strict = TestApp::spawn(Backend::Sqlite).await;
    let browser = strict.with_user("cimd@example.org").await;
    let response = browser
        .get(&authorize_url(&strict, &client_id, &challenge, &[]))
        .await;
    assert_eq!(response.status(), 400);
    assert!(response
        .text()
        .await
        .unwrap()
        .contains("could not be verified"));
    strict.stop().await;
}

#[actix_web::test]
async fn expired_codes_are_refused_and_the_cli_lists_and_revokes_grants() {
    use diesel::prelude::*;
    use panicless::db::schema::oauth_codes;
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.register_user("late@example.org").await;
    let client_id = public_client(&app).await;
    let (verifier, challenge) = pkce();
    let browser = app.new_browser();
    let redirect = approve(
        &app,
        &browser,
        &authorize_url(&app, &client_id, &challenge, &[]),
        "late@example.org",
    )
    .await;
    let code = query_of(&redirect)["code"].clone();
    {
        let mut conn = app.state.pool.get().unwrap();
        diesel::update(oauth_codes::table)
            .set(
                oauth_codes::expires_at
                    .eq(panicless::db::models::now() - chrono::Duration::seconds(1)),
            )
            .execute(&mut *conn)
            .unwrap();
    }
    let (status, body) = exchange_code(&app, &client_id, REDIRECT, &code, &verifier).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert!(body["error_description"]
        .as_str()
        .unwrap()
        .contains("expired"));

    // The CLI sees the grant of a fresh exchange and revokes it.
    let (_, tokens) = tokens_for(&app, "late@example.org", &[]).await;
    let cli = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_panicless"))
            .args(args)
            .env("DATABASE_URL", &app.db.url)
            .env("RUST_LOG", "error")
            .output()
            .unwrap()
    };
    let listed = cli(&["token", "list"]);
    let out = String::from_utf8_lossy(&listed.stdout).to_string();
    assert!(out.contains("late@example.org"), "{out}");
    let clients = String::from_utf8_lossy(&cli(&["client", "list"]).stdout).to_string();
    assert!(
        clients.contains(&client_id) && clients.contains("public"),
        "{clients}"
    );
    let revoked = cli(&["token", "revoke", "--user", "late@example.org"]);
    assert!(
        String::from_utf8_lossy(&revoked.stdout).contains("revoked"),
        "{}",
        String::from_utf8_lossy(&revoked.stderr)
    );
    let (status, _) = app
        .bearer(tokens["access_token"].as_str().unwrap())
        .get("/api/books")
        .await;
    assert_eq!(status, 401);
    app.stop().await;
}

#[actix_web::test]
async fn the_purge_removes_what_has_expired_and_unused_registrations() {
    use diesel::prelude::*;
    use panicless::db::schema::{oauth_clients, oauth_codes, oauth_tokens};
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        app.register_user("purge@example.org").await;
        let (client_id, tokens) = tokens_for(&app, "purge@example.org", &[]).await;
        let unused = public_client(&app).await;
        let now = panicless::db::models::now();
        let mut conn = app.state.pool.get().unwrap();
        // Nothing is due yet.
        let purged = panicless::oauth::purge::purge(&mut conn, now)
            .unwrap()
            .unwrap();
        assert_eq!(
            (purged.codes, purged.tokens, purged.clients),
            (0, 0, 0),
            "{backend:?}"
        );
        // Two days later: the code and tokens expired long ago (tokens after their 30 days),
        // and the registration nobody used is gone; the used client stays.
        let later = now + chrono::Duration::days(32);
        if backend == Backend::Postgres {
            // Another instance is purging: this one skips rather than waits or purges twice.
            use diesel::connection::SimpleConnection;
            let mut other = app.state.pool.get().unwrap();
            other
                .batch_execute(&format!(
                    "BEGIN; SELECT pg_advisory_xact_lock({})",
                    panicless::db::locks::PURGE
                ))
                .unwrap();
            assert_eq!(
                panicless::oauth::purge::purge(&mut conn, later).unwrap(),
                None
            );
            other.batch_execute("COMMIT").unwrap();
        }
        let purged = panicless::oauth::purge::purge(&mut conn, later)
            .unwrap()
            .unwrap();
        // The grant is one row: its access tokens have none of their own.
        assert!(purged.codes >= 1 && purged.tokens >= 1, "{purged:?}");
        assert_eq!(purged.clients, 1);
        let left: i64 = oauth_codes::table.count().get_result(&mut *conn).unwrap();
        assert_eq!(left, 0);
        let left: i64 = oauth_tokens::table.count().get_result(&mut *conn).unwrap();
        assert_eq!(left, 0);
        let clients: Vec<String> = oauth_clients::table
            .select(oauth_clients::client_id)
            .load(&mut *conn)
            .unwrap();
        assert!(
            clients.contains(&client_id) && !clients.contains(&unused),
            "{clients:?}"
        );
        drop(conn);
        let (status, _) = app
            .bearer(tokens["access_token"].as_str().unwrap())
            .get("/api/books")
            .await;
        assert_eq!(status, 401, "a purged token is no token");
        app.stop().await;
    }
}

/// The machine endpoints read their bodies themselves (src/body.rs): a body sent in pieces is
/// read whole, and the limits are actix-web's as before: 256 KiB on the OAuth endpoints, 1 MiB
/// on `/mcp`, answered 413.
#[actix_web::test]
async fn bodies_in_pieces_and_past_the_limit() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.register_user("pieces@example.org").await;
    let (client_id, tokens) = tokens_for(&app, "pieces@example.org", &[]).await;
    let access = tokens["access_token"].as_str().unwrap();
    let form = format!("token={access}&client_id={client_id}");
    let pieces: Vec<Result<Vec<u8>, std::io::Error>> = form
        .as_bytes()
        .chunks(40)
        .map(|piece| Ok(piece.to_vec()))
        .collect();
    assert!(pieces.len() > 3);
    let response = app
        .client
        .post(app.at("/oauth/introspect"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            pieces,
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["active"], true, "{answer}");
    assert_eq!(answer["username"], "pieces@example.org");

    let too_long = format!("{form}&pad={}", "x".repeat(256 * 1024));
    let response = app
        .client
        .post(app.at("/oauth/introspect"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(too_long)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);

    // /mcp reads up to 1 MiB: past 256 KiB it still gets as far as asking for a token.
    let ping = |pad: usize| {
        json!({"jsonrpc": "2.0", "id": 1, "method": "ping", "params": {"pad": "x".repeat(pad)}})
            .to_string()
    };
    for (pad, status) in [(600 * 1024, 401), (1024 * 1024, 413)] {
        let response = app
            .client
            .post(app.at("/mcp"))
            .header("Content-Type", "application/json")
            .header("Accept", "application/json, text/event-stream")
            .body(ping(pad))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), status, "a body of {pad} bytes");
    }
    app.stop().await;
}

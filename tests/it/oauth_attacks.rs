//! The authorization server against the attacks of issue 18, each as a client or a stranger
//! would try it over HTTP: silent re-authorization of a public client, errors redirected to a
//! self-registered address before anyone signed in, replays of rotated refresh tokens, a code
//! exchanged without its redirect URI, control characters in redirect URIs, a token re-signed
//! with a wider scope, a metadata document that names itself "Claude", text smuggled onto our
//! pages through the query, and secret guessing on revocation and introspection.

use crate::common::{backends, jwt_claims, Backend, TestApp, PASSWORD};
use crate::oauth::{
    approve, authorize_url, exchange_code, location, pkce, public_client, query_of, refresh_grant,
    register_client, serve_client_document, submit_consent, token_request, tokens_for, REDIRECT,
};
use reqwest::StatusCode;
use serde_json::{json, Value};

const STATIC_ID: &str = "operator-client";
const STATIC_SECRET: &str = "s3cret-s3cret-s3cret-s3cret-s3cret";

/// A server whose operator configured a client of its own, redirecting to `REDIRECT`.
async fn with_static_client(extra: &[(&str, &str)]) -> TestApp {
    let mut vars = vec![
        ("OAUTH_CLIENT_ID", STATIC_ID),
        ("OAUTH_CLIENT_SECRET", STATIC_SECRET),
        ("OAUTH_REDIRECT_URIS", REDIRECT),
    ];
    vars.extend_from_slice(extra);
    TestApp::spawn_with(Backend::Sqlite, &vars).await
}

/// An authorization request of `client_id` for `redirect_uri`, with a fresh PKCE challenge.
fn request_for(app: &TestApp, client_id: &str, redirect_uri: &str) -> String {
    let (_, challenge) = pkce();
    authorize_url(app, client_id, &challenge, &[]).replace(
        &url::form_urlencoded::byte_serialize(REDIRECT.as_bytes()).collect::<String>(),
        &url::form_urlencoded::byte_serialize(redirect_uri.as_bytes()).collect::<String>(),
    )
}

#[actix_web::test]
async fn a_public_client_sees_the_consent_page_every_time() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.register_user("alice@example.org").await;
    let client_id = public_client(&app).await;
    let browser = app.new_browser();
    let first = approve(
        &app,
        &browser,
        &request_for(&app, &client_id, REDIRECT),
        "alice@example.org",
    )
    .await;
    assert!(query_of(&first).contains_key("code"));

    // Any local process can listen on another loopback port and present the same client_id:
    // no code without the user's word, on that port or on the approved one.
    for redirect_uri in ["http://127.0.0.1:41234/callback", REDIRECT] {
        let response = browser
            .get(request_for(&app, &client_id, redirect_uri))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{redirect_uri}: the consent page");
        assert!(response.headers().get("location").is_none());
        assert!(response.text().await.unwrap().contains("Approve"));
    }
    app.stop().await;
}

#[actix_web::test]
async fn a_remembered_consent_holds_only_for_the_redirect_uri_approved() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.register_user("carol@example.org").await;
    let other = "https://app.example/other";
    let confidential = register_client(
        &app,
        json!({"redirect_uris": [REDIRECT, other], "token_endpoint_auth_method": "client_secret_basic"}),
    )
    .await;
    let id = confidential["client_id"].as_str().unwrap();
    let browser = app.new_browser();
    approve(
        &app,
        &browser,
        &request_for(&app, id, REDIRECT),
        "carol@example.org",
    )
    .await;
    let again = browser
        .get(request_for(&app, id, REDIRECT))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::SEE_OTHER, "remembered");
    assert!(query_of(&location(&again)).contains_key("code"));
    for redirect_uri in [other, "http://127.0.0.1:41234/callback"] {
        let response = browser
            .get(request_for(&app, id, redirect_uri))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{redirect_uri}: asked again");
    }
    app.stop().await;
}

#[actix_web::test]
async fn errors_never_go_to_a_self_registered_address_before_consent() {
    let app = with_static_client(&[]).await;
    app.register_user("dave@example.org").await;
    let evil = "https://evil.example/cb";
    let registered = register_client(
        &app,
        json!({"redirect_uris": [evil], "token_endpoint_auth_method": "none"}),
    )
    .await;
    let dcr = registered["client_id"].as_str().unwrap();
    let signed_in = app.new_browser();
    app.sign_in(&signed_in, "dave@example.org", PASSWORD).await;
    for browser in [app.new_browser(), signed_in] {
        for broken in [
            request_for(&app, dcr, evil).replace("response_type=code", "response_type=token"),
            request_for(&app, dcr, evil)
                .replace("code_challenge_method=S256", "code_challenge_method=plain"),
            request_for(&app, dcr, evil) + "&resource=https%3A%2F%2Felsewhere.example%2F",
        ] {
            let response = browser.get(&broken).send().await.unwrap();
            assert_eq!(response.status(), 400, "{broken}");
            assert!(response.headers().get("location").is_none(), "{broken}");
            assert!(response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html"));
        }
    }
    // The operator's own client is trusted with its errors: back to it, with state.
    let response = app
        .new_browser()
        .get(
            request_for(&app, STATIC_ID, REDIRECT)
                .replace("response_type=code", "response_type=token"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let params = query_of(&location(&response));
    assert_eq!(params["error"], "unsupported_response_type");
    assert_eq!(params["state"], "xyz-state");
    app.stop().await;
}

/// The status of `GET /api/books` with `token`.
async fn books_status(app: &TestApp, token: &str) -> u16 {
    app.api(reqwest::Method::GET, "/api/books", token, None)
        .await
        .0
}

/// One more rotation of `refresh`: the new pair.
async fn rotate(app: &TestApp, client_id: &str, refresh: &str) -> Value {
    let (status, pair) = refresh_grant(app, client_id, refresh).await;
    assert_eq!(status, 200, "{pair}");
    pair
}

fn field<'a>(pair: &'a Value, name: &str) -> &'a str {
    pair[name].as_str().unwrap()
}

#[actix_web::test]
async fn a_rotated_refresh_token_is_honoured_only_while_its_successor_is_unused() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        app.register_user("erin@example.org").await;
        let (client_id, first) = tokens_for(&app, "erin@example.org", &[]).await;
        let rt0 = field(&first, "refresh_token").to_string();
        let second = rotate(&app, &client_id, &rt0).await;
        assert_eq!(
            rotate(&app, &client_id, &rt0).await,
            second,
            "{backend:?}: a late concurrent refresh gets the same pair"
        );
        let rt1 = field(&second, "refresh_token").to_string();
        let third = rotate(&app, &client_id, &rt1).await;
        assert_eq!(
            rotate(&app, &client_id, &rt1).await,
            third,
            "{backend:?}: RT2 is still unused, so RT1 is still in its window"
        );

        // RT1 was used: RT0 again is a replay, within the window or not, and ends the grant.
        let (status, error) = refresh_grant(&app, &client_id, &rt0).await;
        assert_eq!(
            (status, error["error"].as_str()),
            (400, Some("invalid_grant")),
            "{backend:?}: {error}"
        );
        let (status, _) = refresh_grant(&app, &client_id, field(&third, "refresh_token")).await;
        assert_eq!(
            status, 400,
            "{backend:?}: the newest refresh token died too"
        );
        let status = books_status(&app, field(&third, "access_token")).await;
        assert_eq!(status, 401, "{backend:?}: and so did its access token");
        app.stop().await;
    }
}

#[actix_web::test]
async fn four_concurrent_refreshes_with_one_token_all_get_working_tokens() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        app.register_user("frank@example.org").await;
        let (client_id, first) = tokens_for(&app, "frank@example.org", &[]).await;
        let mut refresh = field(&first, "refresh_token").to_string();
        for round in 0..3 {
            let answers = futures_util::future::join_all(
                (0..4).map(|_| refresh_grant(&app, &client_id, &refresh)),
            )
            .await;
            for (status, pair) in &answers {
                assert_eq!(*status, 200, "{backend:?} round {round}: {pair}");
                assert_eq!(pair, &answers[0].1, "{backend:?}: one pair for all");
            }
            let pair = &answers[0].1;
            let status = books_status(&app, field(pair, "access_token")).await;
            assert_eq!(
                status, 200,
                "{backend:?} round {round}: the access token works"
            );
            refresh = field(pair, "refresh_token").to_string();
        }
        rotate(&app, &client_id, &refresh).await;
        app.stop().await;
    }
}

/// The code exchange of a public client, naming no redirect URI.
async fn exchange_without_redirect_uri(
    app: &TestApp,
    client_id: &str,
    code: &str,
    verifier: &str,
) -> (u16, Value) {
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("code_verifier", verifier),
        ("client_id", client_id),
    ];
    token_request(app, &form).await
}

#[actix_web::test]
async fn a_code_issued_for_a_redirect_uri_needs_it_at_the_token_endpoint() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.register_user("grace@example.org").await;
    let client_id = public_client(&app).await;
    let browser = app.new_browser();
    let (verifier, challenge) = pkce();
    let redirect = approve(
        &app,
        &browser,
        &authorize_url(&app, &client_id, &challenge, &[]),
        "grace@example.org",
    )
    .await;
    let code = query_of(&redirect)["code"].clone();
    let (status, error) = exchange_without_redirect_uri(&app, &client_id, &code, &verifier).await;
    assert_eq!(
        (status, error["error"].as_str()),
        (400, Some("invalid_grant")),
        "{error}"
    );
    let (status, tokens) = exchange_code(&app, &client_id, REDIRECT, &code, &verifier).await;
    assert_eq!(status, 200, "{tokens}");

    // A request that named no redirect URI (the client has one) needs none at the exchange.
    let (verifier, challenge) = pkce();
    let url = authorize_url(&app, &client_id, &challenge, &[]).replace(
        &format!(
            "&redirect_uri={}",
            url::form_urlencoded::byte_serialize(REDIRECT.as_bytes()).collect::<String>()
        ),
        "",
    );
    assert!(!url.contains("redirect_uri"));
    let page = browser
        .get(&url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let redirect = submit_consent(&app, &browser, &page, "approve").await;
    let code = query_of(&redirect)["code"].clone();
    let (status, tokens) = exchange_without_redirect_uri(&app, &client_id, &code, &verifier).await;
    assert_eq!(status, 200, "{tokens}");
    app.stop().await;
}

#[actix_web::test]
async fn redirect_uris_with_control_characters_are_refused() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.register_user("heidi@example.org").await;
    for uri in [
        "https://a.example/cb\r\nX: 1",
        "https://a.example/cb\n",
        "https://a.example/c\tb",
        "https://a.example/cb x",
        "https://a.example/cb\u{7f}",
    ] {
        let response = app
            .client
            .post(app.at("/oauth/register"))
            .json(&json!({"redirect_uris": [uri], "token_endpoint_auth_method": "none"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{uri:?}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "invalid_redirect_uri", "{uri:?}");
    }
    // What is stored, and answered, is the parsed form.
    let registered = register_client(
        &app,
        json!({"redirect_uris": ["HTTPS://A.Example/cb"], "token_endpoint_auth_method": "none"}),
    )
    .await;
    assert_eq!(registered["redirect_uris"], json!(["https://a.example/cb"]));

    // A row registered before the rule is refused on a page, not a 500.
    {
        use diesel::prelude::*;
        use panicless::db::schema::oauth_clients;
        diesel::update(
            oauth_clients::table
                .filter(oauth_clients::client_id.eq(registered["client_id"].as_str().unwrap())),
        )
        .set(oauth_clients::redirect_uris.eq(r#"["https://a.example/cb\r\nX: 1"]"#))
        .execute(&mut *app.state.pool.get().unwrap())
        .unwrap();
    }
    let browser = app.new_browser();
    app.sign_in(&browser, "heidi@example.org", PASSWORD).await;
    let response = browser
        .get(request_for(
            &app,
            registered["client_id"].as_str().unwrap(),
            "https://a.example/cb\r\nX: 1",
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert!(response.headers().get("location").is_none());
    app.stop().await;
}

#[actix_web::test]
async fn a_token_is_worth_what_its_row_says_not_what_it_claims() {
    use panicless::auth::jwt::Claims;
    let app = TestApp::spawn(Backend::Sqlite).await;
    let user_id = app.register_user("ivan@example.org").await;
    let read = app.scoped_token(user_id, "read");
    let status = books_status(&app, &read).await;
    assert_eq!(status, 200);
    let claims: Claims = serde_json::from_value(jwt_claims(&read)).unwrap();
    // Re-signed (with the signing key, as a leaked or default secret allows): a wider scope, a
    // client the row does not name, another audience's row.
    let widened = Claims {
        scope: "all".into(),
        ..claims.clone()
    };
    let other_client = Claims {
        client_id: Some("someone-else".into()),
        ..claims.clone()
    };
    let mcp_row = app.token_for_audience(user_id, "read", &app.at("/mcp"));
    let moved = Claims {
        aud: app.url.clone(),
        ..serde_json::from_value(jwt_claims(&mcp_row)).unwrap()
    };
    for (what, forged, path) in [
        ("scope", widened, "/api/connectors"),
        ("client", other_client, "/api/books"),
        ("audience", moved, "/api/books"),
    ] {
        let token = app.state.jwt.sign(&forged).unwrap();
        let (status, _) = app.api(reqwest::Method::GET, path, &token, None).await;
        assert_eq!(status, 401, "a token re-signed with another {what}");
    }
    app.stop().await;
}

#[actix_web::test]
async fn the_consent_page_names_the_host_of_a_metadata_document_and_verifies_nobody_else() {
    let app = with_static_client(&[("CIMD_ALLOW_LOOPBACK", "true")]).await;
    app.register_user("judy@example.org").await;
    let browser = app.new_browser();
    app.sign_in(&browser, "judy@example.org", PASSWORD).await;
    let page = |url: String| {
        let browser = browser.clone();
        async move {
            let response = browser.get(&url).send().await.unwrap();
            assert_eq!(response.status(), 200);
            response.text().await.unwrap()
        }
    };

    let document = serve_client_document(|url| {
        json!({
            "client_id": url, "client_name": "Claude", "redirect_uris": [REDIRECT],
            "token_endpoint_auth_method": "none"
        })
    })
    .await;
    let host = url::Url::parse(&document).unwrap();
    let host = format!("{}:{}", host.host_str().unwrap(), host.port().unwrap());
    let shown = page(request_for(&app, &document, REDIRECT)).await;
    assert!(
        shown.contains(&format!("<em>Claude</em> from <strong>{host}</strong>")),
        "the document's host, next to the name it chose: {shown}"
    );
    assert!(shown.contains("Unverified application"), "{shown}");

    let dcr = public_client(&app).await;
    let shown = page(request_for(&app, &dcr, REDIRECT)).await;
    assert!(shown.contains("Unverified application"), "{shown}");

    let shown = page(request_for(&app, STATIC_ID, REDIRECT)).await;
    assert!(
        !shown.contains("Unverified application"),
        "the operator's client is the one verified: {shown}"
    );
    app.stop().await;
}

/// Text someone could put in a link to one of our pages, to speak in this server's voice.
const SPOOF: &str = "Your account is locked, call 555 0100";

#[actix_web::test]
async fn notices_are_chosen_by_a_code_never_taken_from_the_query() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let admin = app.with_user("admin@example.org").await;
    let encoded: String = url::form_urlencoded::byte_serialize(SPOOF.as_bytes()).collect();
    for path in [
        format!("/admin/tokens?done={encoded}"),
        format!("/account/connections?done={encoded}"),
    ] {
        let page = admin.page(&path).await;
        assert!(!page.contains("account is locked"), "{path}: {page}");
    }
    // What a page did is said by a code, with the code's own words.
    let (_, tokens) = tokens_for(&app, "admin@example.org", &[]).await;
    let grants = admin.page("/admin/tokens").await;
    let csrf = crate::common::hidden_field(&grants, "csrf_token").unwrap();
    let grant_id = crate::common::hidden_field(&grants, "value").unwrap();
    let revoked = admin.revoke(&csrf, "grant", &grant_id, false).await;
    assert_eq!(location(&revoked), "/admin/tokens?done=grant");
    let page = admin.page(&location(&revoked)).await;
    assert!(page.contains("The grant was revoked."), "{page}");
    let status = books_status(&app, field(&tokens, "access_token")).await;
    assert_eq!(status, 401);
    app.stop().await;
}

/// Loads `url`, a request our page refuses: 400, with `ours` and nothing of `SPOOF`.
async fn refused_in_our_words(browser: &reqwest::Client, url: &str, ours: &str) {
    let response = browser.get(url).send().await.unwrap();
    assert_eq!(response.status(), 400, "{url}");
    let page = response.text().await.unwrap();
    assert!(!page.contains("account is locked"), "{url}: {page}");
    assert!(page.contains(ours), "{url}: {page}");
}

#[actix_web::test]
async fn a_providers_error_is_told_in_our_words() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.register_user("kim@example.org").await;
    let browser = app.new_browser();
    app.sign_in(&browser, "kim@example.org", PASSWORD).await;
    let encoded: String = url::form_urlencoded::byte_serialize(SPOOF.as_bytes()).collect();
    for query in [
        format!("error=access_denied&error_description={encoded}"),
        format!("error={encoded}"),
    ] {
        let url = app.at(&format!("/connectors/oauth/callback?{query}"));
        refused_in_our_words(&browser, &url, "did not connect the account").await;
    }
    app.stop().await;
}

#[actix_web::test]
async fn the_error_page_never_repeats_a_crafted_client_id() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    // A client_id that reads like a message (a metadata document URL that cannot be https).
    let crafted = format!("http://x.example/ {SPOOF}");
    let url = request_for(&app, &crafted, REDIRECT);
    refused_in_our_words(&app.new_browser(), &url, "could not be verified").await;
    app.stop().await;
}

#[actix_web::test]
async fn revocation_and_introspection_share_the_token_endpoints_rate_limit() {
    let app = with_static_client(&[("RATE_LIMIT_TOKEN_PER_MINUTE", "3")]).await;
    // Guessing a secret: every answer is `invalid_client` until the budget is spent.
    let form = [
        ("token", "guess"),
        ("client_id", STATIC_ID),
        ("client_secret", "guess"),
    ];
    for (path, expected) in [
        ("/oauth/revoke", 401),
        ("/oauth/introspect", 401),
        ("/oauth/token", 400),
        ("/oauth/revoke", 429),
        ("/oauth/introspect", 429),
    ] {
        let response = app
            .client
            .post(app.at(path))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), expected, "{path}");
        let body: Value = response.json().await.unwrap();
        assert!(body["error"].is_string(), "{path}: {body}");
        if expected == 429 {
            assert_eq!(body["error"], "slow_down");
        }
    }
    app.stop().await;
}

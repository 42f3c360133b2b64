//! Outbound OAuth for connectors, against a real authorization server: another instance of this
//! very server plays the AI provider (callback and paste modes), then refresh with rotation,
//! proxied calls, and one refresh for twenty concurrent requests.

use crate::common::{csrf_from, hidden_field, Backend, TestApp, PASSWORD};
use crate::oauth::{approve, register_client};
use diesel::prelude::*;
use panicless::db::schema::{connector_attempts, connectors, oauth_tokens};
use reqwest::Method;
use serde_json::{json, Value};

const CALLBACK: &str = "http://127.0.0.1/connectors/oauth/callback";
const PASTE: &str = "https://provider.example/oauth/code";

struct Setup {
    provider: TestApp,
    consumer: TestApp,
    _file: tempfile::NamedTempFile,
    browser: reqwest::Client,
    user_token: String,
    user_id: i64,
}

async fn setup() -> Setup {
    setup_with(&[]).await
}

async fn setup_with(extra: &[(&str, &str)]) -> Setup {
    let provider = TestApp::spawn(Backend::Sqlite).await;
    provider.register_user("owner@provider.example").await;
    let callback = register_client(&provider, json!({"client_name": "Panicless connector", "redirect_uris": [CALLBACK], "token_endpoint_auth_method": "none"})).await;
    let paste = register_client(&provider, json!({"client_name": "Paste client", "redirect_uris": [PASTE], "token_endpoint_auth_method": "none"})).await;
    let file = tempfile::NamedTempFile::new().unwrap();
    let base = &provider.url;
    std::fs::write(
        file.path(),
        format!(
            r#"
[providers.remote]
display_name = "Remote library"
authorization_url = "{base}/oauth/authorize"
token_url = "{base}/oauth/token"
client_id = "{}"
scopes = ["read", "write"]
api_base_url = "{base}"
api_key_prefix = "rk-"

[providers.pasty]
display_name = "Paste provider"
authorization_url = "{base}/oauth/authorize"
token_url = "{base}/oauth/token"
client_id = "{}"
scopes = ["read"]
api_base_url = "{base}"
redirect_mode = "paste"
paste_redirect_uri = "{PASTE}"
"#,
            callback["client_id"].as_str().unwrap(),
            paste["client_id"].as_str().unwrap()
        ),
    )
    .unwrap();
    let mut settings = vec![("PROVIDERS_FILE", file.path().to_str().unwrap())];
    settings.extend_from_slice(extra);
    let consumer = TestApp::spawn_with(Backend::Sqlite, &settings).await;
    let (user_id, user_token) = consumer.user("me@consumer.example").await;
    let browser = consumer.new_browser();
    consumer
        .sign_in(&browser, "me@consumer.example", PASSWORD)
        .await;
    Setup {
        provider,
        consumer,
        _file: file,
        browser,
        user_token,
        user_id,
    }
}

/// Starts a connection on the consumer and returns the provider URL it sends the user to.
async fn start(s: &Setup, provider: &str, label: &str) -> String {
    let page = s
        .browser
        .get(s.consumer.at("/connectors"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Remote library"), "{page}");
    let csrf = hidden_field(&page, "csrf_token").unwrap();
    let response = s
        .browser
        .post(s.consumer.at("/connectors/oauth/start"))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("provider", provider),
            ("label", label),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    let location = response.headers()["location"].to_str().unwrap().to_string();
    assert!(location.starts_with(&s.provider.url), "{location}");
    let query: std::collections::HashMap<String, String> = url::Url::parse(&location)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    assert_eq!(query["code_challenge_method"], "S256");
    location
}

async fn connect(s: &Setup) -> i64 {
    let location = start(s, "remote", "Remote").await;
    let at_provider = s.provider.new_browser();
    let back = approve(
        &s.provider,
        &at_provider,
        &location,
        "owner@provider.example",
    )
    .await;
    assert!(back.contains("/connectors/oauth/callback?"), "{back}");
    let done = s.browser.get(&back).send().await.unwrap();
    let status = done.status();
    assert_eq!(status, 303, "{}", done.text().await.unwrap());
    let (_, list) = s
        .consumer
        .api(Method::GET, "/api/connectors", &s.user_token, None)
        .await;
    let connector = list
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["label"] == "Remote")
        .cloned()
        .unwrap();
    assert_eq!(connector["kind"], "oauth");
    assert_eq!(connector["status"], "active");
    assert!(connector["expires_at"].is_string());
    connector["id"].as_i64().unwrap()
}

fn expire(s: &Setup, id: i64) {
    let mut conn = s.consumer.state.pool.get().unwrap();
    diesel::update(connectors::table.find(id))
        .set(connectors::expires_at.eq(Some(
            panicless::db::models::now() - chrono::Duration::seconds(5),
        )))
        .execute(&mut *conn)
        .unwrap();
}

/// Rotations the provider made: a grant's row starts at generation 1 and each rotation moves
/// it on by one, in place.
fn rotations(s: &Setup) -> i64 {
    let mut conn = s.provider.state.pool.get().unwrap();
    let generations: Vec<i64> = oauth_tokens::table
        .filter(oauth_tokens::kind.eq(panicless::db::models::token::TokenKind::Refresh))
        .select(oauth_tokens::generation)
        .load(&mut *conn)
        .unwrap();
    generations.iter().map(|g| (g - 1).max(0)).sum()
}

#[actix_web::test]
async fn connect_refresh_and_proxy_against_a_real_authorization_server() {
    let s = setup().await;
    let id = connect(&s).await;

    // The provider's API, through the proxy, with the connector's token (and never ours).
    let (_, provider_token) = {
        let (uid, token) = (0, s.provider.login_token("owner@provider.example").await);
        (uid, token)
    };
    let (status, _) = s
        .provider
        .api(
            Method::POST,
            "/api/books",
            &provider_token,
            Some(json!({"title": "On the provider"})),
        )
        .await;
    assert_eq!(status, 201);
    let (status, body) = s
        .consumer
        .api(
            Method::GET,
            &format!("/api/connectors/{id}/proxy/api/books?limit=5"),
            &s.user_token,
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["items"][0]["title"], "On the provider");
    let (status, _) = s
        .consumer
        .api(
            Method::POST,
            &format!("/api/connectors/{id}/proxy/api/books"),
            &s.user_token,
            Some(json!({"title": "Written through the proxy"})),
        )
        .await;
    assert_eq!(status, 201);

    // The provider sees the connector's credential, not the caller's token.
    let (status, me) = s
        .consumer
        .api(
            Method::GET,
            &format!("/api/connectors/{id}/proxy/api/auth/me"),
            &s.user_token,
            None,
        )
        .await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["email"], "owner@provider.example");
    assert_eq!(me["scope"], "read write");

    // The provider's refusals come back. Its /mcp takes only tokens issued for the MCP
    // resource, and the connector's token is for its API: the caller gets the 401, without the
    // provider's challenge (it is not ours to send: response headers are allow-listed).
    let response = s
        .consumer
        .client
        .post(s.consumer.at(&format!("/api/connectors/{id}/proxy/mcp")))
        .bearer_auth(&s.user_token)
        .header("Accept", "application/json, text/event-stream")
        .header("Cookie", "panicless_session=must-not-travel")
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-11-25"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert!(response.headers().get("www-authenticate").is_none());

    // Twenty concurrent calls with an expired token: exactly one refresh, and all succeed.
    expire(&s, id);
    let before = rotations(&s);
    let path = format!("/api/connectors/{id}/proxy/api/books");
    let calls = (0..20).map(|_| s.consumer.api(Method::GET, &path, &s.user_token, None));
    let results = futures_util::future::join_all(calls).await;
    assert!(
        results.iter().all(|(status, _)| *status == 200),
        "{:?}",
        results.iter().map(|r| r.0).collect::<Vec<_>>()
    );
    assert_eq!(rotations(&s) - before, 1, "one refresh for twenty requests");
    let (_, connector) = s
        .consumer
        .api(
            Method::GET,
            &format!("/api/connectors/{id}"),
            &s.user_token,
            None,
        )
        .await;
    assert!(connector["last_refreshed_at"].is_string());

    // The provider revokes the grant: the next refresh is refused and the connector asks for
    // reconnection, with the reason.
    {
        let mut conn = s.provider.state.pool.get().unwrap();
        diesel::update(oauth_tokens::table)
            .set(oauth_tokens::revoked_at.eq(panicless::db::models::now()))
            .execute(&mut *conn)
            .unwrap();
    }
    expire(&s, id);
    let (status, problem) = s
        .consumer
        .api(
            Method::GET,
            &format!("/api/connectors/{id}/proxy/api/books"),
            &s.user_token,
            None,
        )
        .await;
    assert_eq!(status, 409, "{problem}");
    let (_, connector) = s
        .consumer
        .api(
            Method::GET,
            &format!("/api/connectors/{id}"),
            &s.user_token,
            None,
        )
        .await;
    assert_eq!(connector["status"], "needs_reauth");
    assert!(
        connector["status_reason"]
            .as_str()
            .unwrap()
            .contains("invalid_grant"),
        "{connector}"
    );
    let page = s
        .browser
        .get(s.consumer.at("/connectors"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("needs_reauth"));

    // Reconnecting with the same name makes it active again.
    let again = connect(&s).await;
    assert_eq!(again, id);
}

#[actix_web::test]
async fn paste_mode_and_failed_attempts() {
    let s = setup().await;
    // The providers file names the API key format of a provider.
    let (status, problem) = s
        .consumer
        .api(
            Method::POST,
            "/api/connectors",
            &s.user_token,
            Some(json!({"provider": "remote", "api_key": "nope-12345678"})),
        )
        .await;
    assert_eq!(status, 422);
    assert!(
        problem["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("rk-"),
        "{problem}"
    );
    let (status, _) = s
        .consumer
        .api(
            Method::POST,
            "/api/connectors",
            &s.user_token,
            Some(json!({"provider": "remote", "label": "Key", "api_key": "rk-12345678"})),
        )
        .await;
    assert_eq!(status, 201);
    // Paste: the provider shows code#state; the user pastes it.
    let location = start(&s, "pasty", "Pasted").await;
    let at_provider = s.provider.new_browser();
    let shown = approve(
        &s.provider,
        &at_provider,
        &location,
        "owner@provider.example",
    )
    .await;
    assert!(shown.starts_with(PASTE));
    let query: std::collections::HashMap<String, String> = url::Url::parse(&shown)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    let page = s
        .browser
        .get(s.consumer.at("/connectors"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Paste the code"));
    let csrf = hidden_field(&page, "csrf_token").unwrap();
    let pasted = format!("{}#{}", query["code"], query["state"]);
    let done = s
        .browser
        .post(s.consumer.at("/connectors/oauth/paste"))
        .form(&[("csrf_token", csrf.as_str()), ("pasted", pasted.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 303);
    let (_, list) = s
        .consumer
        .api(Method::GET, "/api/connectors", &s.user_token, None)
        .await;
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .any(|c| c["label"] == "Pasted" && c["status"] == "active"),
        "{list}"
    );
    // Pasting the same code again: the attempt was used.
    let reused = s
        .browser
        .post(s.consumer.at("/connectors/oauth/paste"))
        .form(&[("csrf_token", csrf.as_str()), ("pasted", pasted.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(reused.status(), 400);
    let garbage = s
        .browser
        .post(s.consumer.at("/connectors/oauth/paste"))
        .form(&[("csrf_token", csrf.as_str()), ("pasted", "no hash here")])
        .send()
        .await
        .unwrap();
    assert!(garbage.text().await.unwrap().contains("code#state"));

    // A state that is not ours, from another browser, or a provider error: clear pages.
    let bogus = s
        .browser
        .get(
            s.consumer
                .at("/connectors/oauth/callback?code=x&state=made-up"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(bogus.status(), 400);
    assert!(bogus
        .text()
        .await
        .unwrap()
        .contains("unknown or belongs to another browser session"));
    let location = start(&s, "remote", "Other").await;
    let state = url::Url::parse(&location)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    let stranger = s.consumer.new_browser();
    s.consumer
        .sign_in(&stranger, "me@consumer.example", PASSWORD)
        .await;
    let other_session = stranger
        .get(
            s.consumer
                .at(&format!("/connectors/oauth/callback?code=x&state={state}")),
        )
        .send()
        .await
        .unwrap();
    assert!(other_session
        .text()
        .await
        .unwrap()
        .contains("another browser session"));
    let refused = s
        .browser
        .get(s.consumer.at(
            "/connectors/oauth/callback?error=access_denied&error_description=the+user+said+no",
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
    assert!(refused.text().await.unwrap().contains("access_denied"));
    // An expired attempt.
    let location = start(&s, "remote", "Late").await;
    let state = url::Url::parse(&location)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    {
        let mut conn = s.consumer.state.pool.get().unwrap();
        diesel::update(connector_attempts::table)
            .set(
                connector_attempts::expires_at
                    .eq(panicless::db::models::now() - chrono::Duration::seconds(1)),
            )
            .execute(&mut *conn)
            .unwrap();
    }
    let late = s
        .browser
        .get(
            s.consumer
                .at(&format!("/connectors/oauth/callback?code=x&state={state}")),
        )
        .send()
        .await
        .unwrap();
    assert!(late.text().await.unwrap().contains("expired"));
    let _ = s.user_id;
    let _: Value = json!(null);
}

#[actix_web::test]
async fn proxied_calls_are_rate_limited_per_user() {
    let s = setup_with(&[("RATE_LIMIT_PROXY_PER_MINUTE", "3")]).await;
    let id = connect(&s).await;
    let path = format!("/api/connectors/{id}/proxy/health");
    for _ in 0..3 {
        let (status, _) = s
            .consumer
            .api(Method::GET, &path, &s.user_token, None)
            .await;
        assert_eq!(status, 200);
    }
    let (status, problem) = s
        .consumer
        .api(Method::GET, &path, &s.user_token, None)
        .await;
    assert_eq!(status, 429, "{problem}");
}

/// The consumer's connector labelled `label`, as the API shows it.
async fn by_label(s: &Setup, label: &str) -> Value {
    let (_, list) = s
        .consumer
        .api(Method::GET, "/api/connectors", &s.user_token, None)
        .await;
    list.as_array()
        .unwrap()
        .iter()
        .find(|c| c["label"] == label)
        .cloned()
        .unwrap_or(Value::Null)
}

#[actix_web::test]
async fn an_oauth_connection_never_takes_over_another_providers_connector() {
    let s = setup().await;
    let key =
        json!({"provider": "anthropic", "label": "Work", "api_key": "sk-ant-api03-work-key-abcd"});
    let (status, _) = s
        .consumer
        .api(Method::POST, "/api/connectors", &s.user_token, Some(key))
        .await;
    assert_eq!(status, 201);

    // Starting under that label is refused at once, with the reason.
    let csrf = csrf_from(&s.browser, &s.consumer.at("/connectors")).await;
    let refused = s
        .browser
        .post(s.consumer.at("/connectors/oauth/start"))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("provider", "remote"),
            ("label", "Work"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 409);
    assert!(refused.text().await.unwrap().contains("for anthropic"));

    // A label taken by another provider while the user was at this one: the tokens are not
    // stored on that connector either.
    let location = start(&s, "remote", "Clash").await;
    let key = json!({"provider": "anthropic", "label": "Clash", "api_key": "sk-ant-api03-clash-key-wxyz"});
    let (status, _) = s
        .consumer
        .api(Method::POST, "/api/connectors", &s.user_token, Some(key))
        .await;
    assert_eq!(status, 201);
    let at_provider = s.provider.new_browser();
    let back = approve(
        &s.provider,
        &at_provider,
        &location,
        "owner@provider.example",
    )
    .await;
    let done = s.browser.get(&back).send().await.unwrap();
    assert_eq!(done.status(), 409);
    for label in ["Work", "Clash"] {
        let connector = by_label(&s, label).await;
        assert_eq!(connector["kind"], "api_key", "{connector}");
        assert_eq!(connector["provider"], "anthropic", "{connector}");
        assert!(
            connector["hint"]
                .as_str()
                .unwrap()
                .starts_with("anthropic …"),
            "{connector}"
        );
    }

    // Reconnecting under the same provider's own label still replaces its tokens.
    let id = connect(&s).await;
    connect(&s).await;
    assert_eq!(by_label(&s, "Remote").await["id"], id);
}

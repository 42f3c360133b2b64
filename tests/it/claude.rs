//! Claude.ai's connector, replayed: an unauthenticated probe, discovery from the 401,
//! registration with Claude's callback, sign-in and consent, `server/discover` first, then the
//! legacy handshake and every later request without `Mcp-Session-Id`, and refreshes of one
//! refresh token from several nodes at once.

use crate::common::{backends, TestApp};
use crate::mcp_modern::{meta, MODERN};
use crate::oauth::{approve, pkce, query_of, token_request};
use serde_json::{json, Value};

const CALLBACK: &str = "https://claude.ai/api/mcp/auth_callback";

/// The value of `name="..."` in a `WWW-Authenticate` challenge.
fn challenge_param(challenge: &str, name: &str) -> Option<String> {
    let start = challenge.find(&format!("{name}=\""))? + name.len() + 2;
    let end = challenge[start..].find('"')? + start;
    Some(challenge[start..end].to_string())
}

#[actix_web::test]
async fn claude_ai_connects_as_it_really_does() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        app.register_user("claude-user@example.org").await;
        let mcp_url = app.at("/mcp");

        // 1. The probe: no token. The 401 says where the metadata is and what to ask for.
        let response = app
            .client
            .post(&mcp_url)
            .header("MCP-Protocol-Version", MODERN)
            .header("Mcp-Method", "server/discover")
            .json(&json!({"jsonrpc": "2.0", "id": 0, "method": "server/discover", "params": {"_meta": meta()}}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401);
        let challenge = response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .to_string();
        let metadata_url = challenge_param(&challenge, "resource_metadata").unwrap();
        let scope = challenge_param(&challenge, "scope").unwrap();
        assert_eq!(scope, "read write");

        // 2. Discovery.
        let resource: Value = app
            .client
            .get(&metadata_url)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(resource["resource"], mcp_url);
        let issuer = resource["authorization_servers"][0].as_str().unwrap();
        let server: Value = app
            .client
            .get(format!("{issuer}/.well-known/oauth-authorization-server"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            server["authorization_response_iss_parameter_supported"],
            true
        );

        // 3. Registration, as Claude sends it.
        let response = app
            .client
            .post(server["registration_endpoint"].as_str().unwrap())
            .json(&json!({
                "client_name": "Claude",
                "redirect_uris": [CALLBACK],
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"],
                "token_endpoint_auth_method": "client_secret_post",
                "application_type": "web",
                "scope": scope,
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        let client: Value = response.json().await.unwrap();
        assert_eq!(client["application_type"], "web");
        let client_id = client["client_id"].as_str().unwrap().to_string();
        let secret = client["client_secret"].as_str().unwrap().to_string();

        // 4. Sign-in and consent in the user's browser, back to Claude's callback with `iss`.
        let (verifier, code_challenge) = pkce();
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        query
            .append_pair("response_type", "code")
            .append_pair("client_id", &client_id)
            .append_pair("redirect_uri", CALLBACK)
            .append_pair("state", "claude-state")
            .append_pair("scope", &scope)
            .append_pair("resource", &mcp_url)
            .append_pair("code_challenge", &code_challenge)
            .append_pair("code_challenge_method", "S256");
        let authorize = format!(
            "{}?{}",
            server["authorization_endpoint"].as_str().unwrap(),
            query.finish()
        );
        let browser = crate::common::browser();
        let back = approve(&app, &browser, &authorize, "claude-user@example.org").await;
        assert!(back.starts_with(CALLBACK), "{back}");
        let returned = query_of(&back);
        assert_eq!(returned["state"], "claude-state");
        assert_eq!(returned["iss"], issuer);

        // 5. The exchange.
        let (status, tokens) = token_request(
            &app,
            &[
                ("grant_type", "authorization_code"),
                ("code", &returned["code"]),
                ("redirect_uri", CALLBACK),
                ("code_verifier", &verifier),
                ("client_id", &client_id),
                ("client_secret", &secret),
                ("resource", &mcp_url),
            ],
        )
        .await;
        assert_eq!(status, 200, "{tokens}");
        let access = tokens["access_token"].as_str().unwrap().to_string();
        let refresh = tokens["refresh_token"].as_str().unwrap().to_string();

        // 6. The 2026-07-28 probe first.
        let client = crate::mcp_modern::Modern::new(&app, &access);
        let (status, discovered) = client.rpc("server/discover", json!({})).await;
        assert_eq!(status, 200, "{discovered}");
        assert!(discovered["result"]["supportedVersions"]
            .as_array()
            .unwrap()
            .contains(&json!("2025-11-25")));

        // 7. The legacy handshake; the session id it hands out is never sent back.
        let post = |body: Value, version: Option<&str>| {
            let mut request = app
                .client
                .post(&mcp_url)
                .bearer_auth(&access)
                .header("Accept", "application/json, text/event-stream");
            if let Some(version) = version {
                request = request.header("MCP-Protocol-Version", version);
            }
            request.json(&body).send()
        };
        let response = post(
            json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
                "protocolVersion": "2025-11-25", "capabilities": {},
                "clientInfo": {"name": "claude-ai", "version": "0.1.0"}}}),
            None,
        )
        .await
        .unwrap();
        assert_eq!(response.status(), 200);
        assert!(response.headers().get("mcp-session-id").is_some());
        let response = post(
            json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
            Some("2025-11-25"),
        )
        .await
        .unwrap();
        assert_eq!(response.status(), 202);
        let listed: Value = post(
            json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
            Some("2025-11-25"),
        )
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
        assert!(listed["result"]["tools"].as_array().unwrap().len() >= 9);
        let called = post(
            json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
                "name": "add_book", "arguments": {"title": "Klara and the Sun", "authors": ["Kazuo Ishiguro"]}}}),
            Some("2025-11-25"),
        )
        .await
        .unwrap();
        assert_eq!(called.status(), 200);
        let called: Value = called.json().await.unwrap();
        assert_eq!(called["result"]["isError"], false, "{called}");

        // 8. One refresh token refreshed from four nodes at the same instant: every answer
        // is 200 with tokens that work.
        let form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh.as_str()),
            ("client_id", client_id.as_str()),
            ("client_secret", secret.as_str()),
        ];
        let refreshes = (0..4).map(|_| token_request(&app, &form));
        for (status, body) in futures_util::future::join_all(refreshes).await {
            assert_eq!(status, 200, "{body}");
            let fresh =
                crate::mcp_modern::Modern::new(&app, body["access_token"].as_str().unwrap());
            let found = fresh.call("search_books", json!({"query": "klara"})).await;
            assert_eq!(found["structuredContent"]["total"], 1, "{found}");
        }

        // 9. An unknown client is 401 invalid_client: Claude registers again on it.
        let (status, body) = token_request(
            &app,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &refresh),
                ("client_id", "no-such-client"),
                ("client_secret", "whatever"),
            ],
        )
        .await;
        assert_eq!((status, &body["error"]), (401, &json!("invalid_client")));
        app.stop().await;
    }
}

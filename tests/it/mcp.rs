//! The MCP endpoint over HTTP: transport, sessions, versions, errors, authorization.

use crate::common::{backends, Backend, TestApp};
use serde_json::{json, Value};

const SUPPORTED: [&str; 3] = ["2025-11-25", "2025-06-18", "2025-03-26"];

/// A minimal MCP client over reqwest.
pub struct Mcp<'a> {
    pub app: &'a TestApp,
    pub token: String,
    pub session: Option<String>,
    pub version: Option<&'static str>,
    pub accept: &'static str,
}

impl<'a> Mcp<'a> {
    pub fn new(app: &'a TestApp, token: &str) -> Self {
        Mcp {
            app,
            token: token.to_string(),
            session: None,
            version: None,
            accept: "application/json, text/event-stream",
        }
    }

    pub fn request(&self) -> reqwest::RequestBuilder {
        let mut request = self
            .app
            .client
            .post(self.app.at("/mcp"))
            .bearer_auth(&self.token)
            .header("Accept", self.accept);
        if let Some(session) = &self.session {
            request = request.header("Mcp-Session-Id", session);
        }
        if let Some(version) = self.version {
            request = request.header("MCP-Protocol-Version", version);
        }
        request
    }

    pub async fn initialize(&mut self, version: &'static str) -> Value {
        let response = self
            .request()
            .json(
                &json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
                "protocolVersion": version, "capabilities": {},
                "clientInfo": {"name": "test-client", "version": "1"}}}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        self.session = Some(
            response.headers()["mcp-session-id"]
                .to_str()
                .unwrap()
                .to_string(),
        );
        let body: Value = response.json().await.unwrap();
        // Later requests carry the negotiated version, as real clients do.
        self.version = SUPPORTED
            .iter()
            .copied()
            .find(|v| *v == body["result"]["protocolVersion"]);
        let initialized = self
            .request()
            .json(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .send()
            .await
            .unwrap();
        assert_eq!(initialized.status(), 202);
        body
    }

    pub async fn rpc(&self, method: &str, params: Value) -> (u16, Value) {
        let response = self
            .request()
            .json(&json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    #[allow(dead_code)] // used once the tools are wired
    pub async fn call(&self, tool: &str, arguments: Value) -> Value {
        let (status, body) = self
            .rpc("tools/call", json!({"name": tool, "arguments": arguments}))
            .await;
        assert_eq!(status, 200, "{body}");
        body["result"].clone()
    }
}

#[actix_web::test]
async fn requests_without_a_valid_token_get_401_with_resource_metadata() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let response = app
        .client
        .post(app.at("/mcp"))
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let challenge = response.headers()["www-authenticate"].to_str().unwrap();
    assert!(
        challenge.contains(&format!(
            "resource_metadata=\"{}/.well-known/oauth-protected-resource/mcp\"",
            app.url
        )),
        "{challenge}"
    );
    let response = app
        .client
        .post(app.at("/mcp"))
        .bearer_auth("not-a-token")
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert!(response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .contains("error=\"invalid_token\""));
    app.stop().await;
}

#[actix_web::test]
async fn initialize_negotiates_the_version_and_issues_a_session() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let token = app.user_token("mcp@example.org").await;
        for (offered, expected) in [
            ("2025-11-25", "2025-11-25"),
            ("2025-06-18", "2025-06-18"),
            ("2025-03-26", "2025-03-26"),
            ("2024-11-05", "2025-11-25"),
        ] {
            let mut mcp = Mcp::new(&app, &token);
            let body = mcp.initialize(offered).await;
            let result = &body["result"];
            assert_eq!(
                result["protocolVersion"], expected,
                "{backend:?} offered {offered}"
            );
            assert_eq!(result["serverInfo"]["name"], "panicless-library");
            assert!(result["capabilities"]["tools"].is_object());
            assert!(result["instructions"]
                .as_str()
                .unwrap()
                .contains("search_books"));
            assert!(mcp.session.as_ref().unwrap().len() >= 32);
        }

        // The session works, then ends with DELETE, then is unknown.
        let mut mcp = Mcp::new(&app, &token);
        mcp.initialize("2025-06-18").await;
        let (status, body) = mcp.rpc("ping", json!({})).await;
        assert_eq!((status, &body["result"]), (200, &json!({})));
        let deleted = app
            .client
            .delete(app.at("/mcp"))
            .bearer_auth(&token)
            .header("Mcp-Session-Id", mcp.session.clone().unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(deleted.status(), 204);
        let (status, _) = mcp.rpc("ping", json!({})).await;
        assert_eq!(status, 404, "an ended session is unknown");
        app.stop().await;
    }
}

#[actix_web::test]
async fn sessions_are_checked_and_bound_to_their_user() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let alice = app.user_token("alice@example.org").await;
    let bob = app.user_token("bob@example.org").await;
    let mut mcp = Mcp::new(&app, &alice);
    mcp.initialize("2025-11-25").await;

    let mut no_session = Mcp::new(&app, &alice);
    no_session.version = Some("2025-11-25");
    let (status, body) = no_session.rpc("ping", json!({})).await;
    assert_eq!(status, 400, "{body}");

    let mut unknown = Mcp::new(&app, &alice);
    unknown.session = Some("made-up".into());
    let (status, _) = unknown.rpc("ping", json!({})).await;
    assert_eq!(status, 404);

    let mut stolen = Mcp::new(&app, &bob);
    stolen.session = mcp.session.clone();
    let (status, _) = stolen.rpc("ping", json!({})).await;
    assert_eq!(status, 404, "another user's session is unknown to bob");
    app.stop().await;
}

#[actix_web::test]
async fn protocol_version_header_is_checked() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let token = app.user_token("v@example.org").await;
    let mut mcp = Mcp::new(&app, &token);
    mcp.initialize("2025-11-25").await;
    for bad in ["1900-01-01", "not-a-version"] {
        mcp.version = None;
        let response = mcp
            .request()
            .header("MCP-Protocol-Version", bad)
            .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{bad}");
    }
    app.stop().await;
}

#[actix_web::test]
async fn json_rpc_errors_carry_the_request_id() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let token = app.user_token("errors@example.org").await;
    let mut mcp = Mcp::new(&app, &token);
    mcp.initialize("2025-06-18").await;

    let response = mcp
        .request()
        .body("{not json")
        .header("Content-Type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], -32700);
    assert_eq!(body["id"], Value::Null);

    let (_, body) = mcp.rpc("no/such/method", json!({})).await;
    assert_eq!(
        (body["error"]["code"].as_i64(), &body["id"]),
        (Some(-32601), &json!(1))
    );

    let (_, body) = mcp
        .rpc(
            "tools/call",
            json!({"name": "no_such_tool", "arguments": {}}),
        )
        .await;
    assert_eq!(body["error"]["code"], -32602);
    let (_, body) = mcp.rpc("tools/call", json!({})).await;
    assert_eq!(body["error"]["code"], -32602);

    let response = mcp
        .request()
        .json(&json!({"jsonrpc": "2.0", "id": 5, "method": "tools/list", "params": "oops"}))
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        (body["error"]["code"].as_i64(), &body["id"]),
        (Some(-32602), &json!(5))
    );

    let response = mcp
        .request()
        .json(&json!({"jsonrpc": "1.0", "id": 6, "method": "ping"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        (body["error"]["code"].as_i64(), &body["id"]),
        (Some(-32600), &json!(6))
    );

    // A response sent by the client is acknowledged like a notification.
    let response = mcp
        .request()
        .json(&json!({"jsonrpc": "2.0", "id": "server-1", "result": {}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    app.stop().await;
}

#[actix_web::test]
async fn batches_are_accepted_only_under_2025_03_26() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let token = app.user_token("batch@example.org").await;
    let batch = json!([
        {"jsonrpc": "2.0", "id": 1, "method": "ping"},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}
    ]);

    // No version header means 2025-03-26: batches work.
    let mut old = Mcp::new(&app, &token);
    old.initialize("2025-03-26").await;
    old.version = None;
    let response = old.request().json(&batch).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let replies = body.as_array().unwrap();
    assert_eq!(replies.len(), 2, "the notification gets no reply: {body}");
    assert_eq!(replies[0]["id"], 1);
    assert!(replies[1]["result"]["tools"].is_array());

    let mut new = Mcp::new(&app, &token);
    new.initialize("2025-06-18").await;
    let response = new.request().json(&batch).send().await.unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], -32600);
    app.stop().await;
}

#[actix_web::test]
async fn transport_is_liberal_in_accept_and_strict_on_origin() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let token = app.user_token("accept@example.org").await;
    let mut mcp = Mcp::new(&app, &token);
    mcp.initialize("2025-11-25").await;
    let ping = json!({"jsonrpc": "2.0", "id": 9, "method": "ping"});

    for accept in [
        "*/*",
        "application/json",
        "application/json, text/event-stream",
    ] {
        mcp.accept = accept;
        let response = mcp.request().json(&ping).send().await.unwrap();
        assert_eq!(response.status(), 200, "{accept}");
        assert_eq!(response.headers()["content-type"], "application/json");
    }
    mcp.accept = "text/event-stream";
    let response = mcp.request().json(&ping).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let text = response.text().await.unwrap();
    let data = text.lines().find_map(|l| l.strip_prefix("data: ")).unwrap();
    assert_eq!(serde_json::from_str::<Value>(data).unwrap()["id"], 9);

    mcp.accept = "*/*";
    let foreign = mcp
        .request()
        .header("Origin", "https://evil.example")
        .json(&ping)
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), 403);
    let own = mcp
        .request()
        .header("Origin", app.url.clone())
        .json(&ping)
        .send()
        .await
        .unwrap();
    assert_eq!(own.status(), 200);
    let claude = mcp
        .request()
        .header("Origin", "https://claude.ai")
        .json(&ping)
        .send()
        .await
        .unwrap();
    assert_eq!(claude.status(), 200);

    let get = app
        .client
        .get(app.at("/mcp"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), 405);
    app.stop().await;
}

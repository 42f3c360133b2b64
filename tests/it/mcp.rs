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

/// Registers `email` and returns a token issued for the MCP resource (scope `all`), as the OAuth
/// flow gives a client that names the resource.
pub async fn mcp_token(app: &TestApp, email: &str) -> String {
    let user = app.register_user(email).await;
    app.token_for_audience(user, "all", &format!("{}/mcp", app.url))
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

    // A revoked token is refused on its next request, within a session and for a new one.
    let token = mcp_token(&app, "revoked@example.org").await;
    let mut mcp = Mcp::new(&app, &token);
    mcp.initialize("2025-11-25").await;
    assert_eq!(mcp.rpc("tools/list", json!({})).await.0, 200);
    app.revoke_access_token(&token);
    let response = mcp
        .request()
        .json(&json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let challenge = response.headers()["www-authenticate"].to_str().unwrap();
    assert!(
        challenge.contains("invalid_token") && challenge.contains("oauth-protected-resource/mcp"),
        "{challenge}"
    );
    let again = Mcp::new(&app, &token)
        .request()
        .json(
            &json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "test-client", "version": "1"}}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 401);
    app.stop().await;
}

#[actix_web::test]
async fn initialize_negotiates_the_version_and_issues_a_session() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let token = mcp_token(&app, "mcp@example.org").await;
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
    let alice = mcp_token(&app, "alice@example.org").await;
    let bob = mcp_token(&app, "bob@example.org").await;
    let mut mcp = Mcp::new(&app, &alice);
    mcp.initialize("2025-11-25").await;

    // No request needs the session (Claude.ai never sends it back).
    let mut no_session = Mcp::new(&app, &alice);
    no_session.version = Some("2025-11-25");
    let (status, body) = no_session.rpc("ping", json!({})).await;
    assert_eq!((status, &body["result"]), (200, &json!({})), "{body}");

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
    let token = mcp_token(&app, "v@example.org").await;
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
    let token = mcp_token(&app, "errors@example.org").await;
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
    let token = mcp_token(&app, "batch@example.org").await;
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
    let token = mcp_token(&app, "accept@example.org").await;
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

#[actix_web::test]
async fn tools_read_and_write_the_library() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let token = mcp_token(&app, "tools@example.org").await;
        let mut mcp = Mcp::new(&app, &token);
        mcp.initialize("2025-11-25").await;

        let (_, listed) = mcp.rpc("tools/list", json!({})).await;
        let tools = listed["result"]["tools"].as_array().unwrap();
        let names: Vec<&str> = tools.iter().map(|t| t["name"].as_str().unwrap()).collect();
        for expected in [
            "search_books",
            "get_book",
            "add_book",
            "update_book",
            "set_shelf",
            "log_reading",
            "list_readings",
            "reading_stats",
            "recommend_books",
        ] {
            assert!(names.contains(&expected), "{expected} missing: {names:?}");
        }
        for tool in tools {
            let name = tool["name"].as_str().unwrap();
            assert!(
                name.len() <= 64
                    && name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            );
            assert!(tool["title"].is_string() && tool["description"].as_str().unwrap().len() > 20);
            assert_eq!(tool["inputSchema"]["type"], "object", "{name}");
            assert!(
                tool["inputSchema"].get("anyOf").is_none()
                    && tool["inputSchema"].get("oneOf").is_none()
            );
            assert_eq!(tool["outputSchema"]["type"], "object", "{name}");
            assert!(tool["annotations"]["readOnlyHint"].is_boolean());
        }

        let added = mcp.call("add_book", json!({"title": "Piranesi", "authors": ["Susanna Clarke"], "pages": 272, "tags": ["fantasy"]})).await;
        assert_eq!(added["isError"], false, "{backend:?} {added}");
        let id = added["structuredContent"]["book"]["id"].as_i64().unwrap();
        let text: Value =
            serde_json::from_str(added["content"][0]["text"].as_str().unwrap()).unwrap();
        assert_eq!(
            text, added["structuredContent"],
            "the text block carries the same JSON"
        );

        let duplicate = mcp
            .call(
                "add_book",
                json!({"title": "piranesi", "authors": ["Susanna Clarke"]}),
            )
            .await;
        assert_eq!(duplicate["isError"], true);
        assert!(
            duplicate["content"][0]["text"]
                .as_str()
                .unwrap()
                .contains(&format!("use book id {id}")),
            "{duplicate}"
        );

        let found = mcp.call("search_books", json!({"query": "PIRANESI"})).await;
        assert_eq!(found["structuredContent"]["total"], 1);
        assert_eq!(found["structuredContent"]["books"][0]["id"], id);

        let shelved = mcp
            .call("set_shelf", json!({"id": id, "shelf": "reading"}))
            .await;
        assert_eq!(shelved["structuredContent"]["book"]["shelf"], "reading");
        let updated = mcp
            .call("update_book", json!({"id": id, "published_year": 2020}))
            .await;
        assert_eq!(
            updated["structuredContent"]["book"]["published_year"], 2020,
            "{updated}"
        );

        let logged = mcp.call("log_reading", json!({"book_id": id, "started_on": "2025-01-01", "finished_on": "2025-01-09", "rating": 4.5})).await;
        assert_eq!(logged["isError"], false, "{logged}");
        let book = mcp.call("get_book", json!({"id": id})).await;
        assert_eq!(book["structuredContent"]["book"]["shelf"], "read");
        assert_eq!(
            book["structuredContent"]["book"]["readings"][0]["rating"],
            4.5
        );
        let readings = mcp.call("list_readings", json!({"book_id": id})).await;
        assert_eq!(readings["structuredContent"]["total"], 1);
        let stats = mcp.call("reading_stats", json!({"year": 2025})).await;
        assert_eq!(stats["structuredContent"]["books_read_in_year"], 1);
        mcp.call("add_book", json!({"title": "Jonathan Strange & Mr Norrell", "authors": ["Susanna Clarke"], "tags": ["fantasy"]})).await;
        let recs = mcp.call("recommend_books", json!({})).await;
        assert_eq!(
            recs["structuredContent"]["recommendations"][0]["book"]["title"],
            "Jonathan Strange & Mr Norrell"
        );

        // Mistakes come back as tool errors the model can act on.
        for (tool, args, needle) in [
            ("get_book", json!({"id": 999999}), "no such item"),
            ("get_book", json!({}), "id"),
            ("log_reading", json!({"book_id": id, "rating": 9}), "rating"),
            (
                "search_books",
                json!({"shelf": "attic"}),
                "invalid arguments",
            ),
            (
                "add_book",
                json!({"title": "x", "colour": "red"}),
                "invalid arguments",
            ),
        ] {
            let result = mcp.call(tool, args).await;
            assert_eq!(result["isError"], true, "{tool}: {result}");
            let message = result["content"][0]["text"].as_str().unwrap();
            assert!(message.contains(needle), "{tool}: {message}");
        }
        app.stop().await;
    }
}

#[actix_web::test]
async fn scopes_limit_the_tools_and_audiences_are_checked() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let user = app.register_user("readonly@example.org").await;
    let mcp_audience = format!("{}/mcp", app.url);
    let read_only = app.token_for_audience(user, "read", &mcp_audience);
    let mut mcp = Mcp::new(&app, &read_only);
    mcp.initialize("2025-06-18").await;
    let (_, listed) = mcp.rpc("tools/list", json!({})).await;
    let names: Vec<&str> = listed["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"search_books") && !names.contains(&"add_book"),
        "{names:?}"
    );
    let response = mcp
        .request()
        .json(&json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "add_book", "arguments": {"title": "x"}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let challenge = response.headers()["www-authenticate"].to_str().unwrap();
    assert!(
        challenge.contains("insufficient_scope") && challenge.contains("scope=\"write\""),
        "{challenge}"
    );

    // A token for the MCP resource is not accepted by the REST API, and one for another
    // resource is not accepted here.
    let (status, _) = app
        .api(reqwest::Method::GET, "/api/books", &read_only, None)
        .await;
    assert_eq!(status, 401);
    let elsewhere = app.token_for_audience(user, "all", "https://other.example/mcp");
    let response = app
        .client
        .post(app.at("/mcp"))
        .bearer_auth(&elsewhere)
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);

    // Under 2025-03-26 results carry the text block only.
    let mut old = Mcp::new(&app, &read_only);
    old.initialize("2025-03-26").await;
    let (_, listed) = old.rpc("tools/list", json!({})).await;
    assert!(listed["result"]["tools"][0].get("outputSchema").is_none());
    let result = old.call("reading_stats", json!({})).await;
    assert!(result.get("structuredContent").is_none());
    assert!(result["content"][0]["text"]
        .as_str()
        .unwrap()
        .contains("books_read_total"));
    app.stop().await;
}

//! MCP as Claude.ai and the 2026-07-28 revision use it: no sessions, per-request `_meta`,
//! `server/discover`, header checks, caching hints; and resources, prompts and completion in
//! both eras.

use crate::common::{backends, Backend, TestApp};
use crate::mcp::{mcp_token, Mcp};
use serde_json::{json, Value};

pub const MODERN: &str = "2026-07-28";

/// A 2026-07-28 request as the SDKs send it: version, method and name headers, `_meta`.
pub struct Modern<'a> {
    pub app: &'a TestApp,
    pub token: String,
}

pub fn meta() -> Value {
    json!({
        "io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "test-client", "version": "1"},
    })
}

impl<'a> Modern<'a> {
    pub fn new(app: &'a TestApp, token: &str) -> Self {
        Modern {
            app,
            token: token.to_string(),
        }
    }

    /// The request with every header right for `method` and `params` (which get `_meta`).
    pub fn request(&self, method: &str, mut params: Value) -> reqwest::RequestBuilder {
        params["_meta"] = meta();
        let mut request = self
            .app
            .client
            .post(self.app.at("/mcp"))
            .bearer_auth(&self.token)
            .header("Accept", "application/json, text/event-stream")
            .header("MCP-Protocol-Version", MODERN)
            .header("Mcp-Method", method);
        let name = params
            .get("name")
            .or_else(|| params.get("uri"))
            .and_then(Value::as_str);
        if let (Some(name), true) = (
            name,
            matches!(method, "tools/call" | "prompts/get" | "resources/read"),
        ) {
            request = request.header("Mcp-Name", name);
        }
        request.json(&json!({"jsonrpc": "2.0", "id": 7, "method": method, "params": params}))
    }

    pub async fn rpc(&self, method: &str, params: Value) -> (u16, Value) {
        let response = self.request(method, params).send().await.unwrap();
        assert!(
            response.headers().get("mcp-session-id").is_none(),
            "the modern era hands out no sessions"
        );
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

/// Sends `body` with exactly `headers` (plus the token and a JSON content type).
async fn raw(app: &TestApp, token: &str, headers: &[(&str, &str)], body: Value) -> (u16, Value) {
    let mut request = app.client.post(app.at("/mcp")).bearer_auth(token);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.json(&body).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[actix_web::test]
async fn server_discover_names_both_eras_and_what_the_server_offers() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let token = mcp_token(&app, "discover@example.org").await;
        let client = Modern::new(&app, &token);
        let (status, body) = client.rpc("server/discover", json!({})).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["id"], 7);
        let result = &body["result"];
        assert_eq!(result["resultType"], "complete");
        assert_eq!(
            result["supportedVersions"],
            json!(["2026-07-28", "2025-11-25", "2025-06-18", "2025-03-26"])
        );
        for capability in ["tools", "resources", "prompts", "completions"] {
            assert!(
                result["capabilities"][capability].is_object(),
                "{capability}"
            );
        }
        assert!(result["instructions"]
            .as_str()
            .unwrap()
            .contains("search_books"));
        assert!(result["ttlMs"].as_u64().is_some());
        assert_eq!(result["cacheScope"], "private");
        assert_eq!(
            result["_meta"]["io.modelcontextprotocol/serverInfo"]["name"],
            "panicless-library"
        );
        app.stop().await;
    }
}

#[actix_web::test]
async fn stateless_requests_read_and_write_without_any_session() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let token = mcp_token(&app, "stateless@example.org").await;
        let client = Modern::new(&app, &token);

        let (status, listed) = client.rpc("tools/list", json!({})).await;
        assert_eq!(status, 200, "{listed}");
        let result = &listed["result"];
        assert_eq!(result["resultType"], "complete");
        assert_eq!(result["cacheScope"], "private");
        assert!(result["ttlMs"].as_u64().is_some());
        let names: Vec<&str> = result["tools"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap())
            .collect();
        assert_eq!(names[0], "search_books", "a fixed order, search first");
        let (_, again) = client.rpc("tools/list", json!({})).await;
        assert_eq!(again["result"]["tools"], result["tools"]);

        let added = client
            .call(
                "add_book",
                json!({"title": "The Dispossessed", "authors": ["Ursula K. Le Guin"]}),
            )
            .await;
        assert_eq!(added["isError"], false, "{added}");
        assert_eq!(added["resultType"], "complete");
        assert!(added["_meta"]["io.modelcontextprotocol/serverInfo"].is_object());
        let id = added["structuredContent"]["book"]["id"].as_i64().unwrap();
        let found = client
            .call("search_books", json!({"query": "dispossessed"}))
            .await;
        assert_eq!(found["structuredContent"]["books"][0]["id"], id);
        // The model's mistakes are tool results, not protocol errors.
        let missing = client.call("get_book", json!({"id": 999_999})).await;
        assert_eq!(missing["isError"], true);
        // An empty argument object is a valid search (the conformance suite calls the first
        // tool that way).
        let everything = client.call("search_books", json!({})).await;
        assert_eq!(everything["isError"], false);

        // A notification is accepted and dropped.
        let response = app
            .client
            .post(app.at("/mcp"))
            .bearer_auth(&token)
            .header("MCP-Protocol-Version", MODERN)
            .header("Mcp-Method", "notifications/cancelled")
            .json(&json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 1}}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 202);
        app.stop().await;
    }
}

#[actix_web::test]
async fn modern_envelope_and_header_rules_answer_in_the_protocols_words() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let token = mcp_token(&app, "rules@example.org").await;
    let modern = [
        ("Accept", "application/json, text/event-stream"),
        ("MCP-Protocol-Version", MODERN),
    ];
    let request = |method: &str, params: Value| json!({"jsonrpc": "2.0", "id": 41, "method": method, "params": params});

    // No _meta, or half of it: -32602 and 400.
    for params in [
        json!({}),
        json!({"_meta": {"io.modelcontextprotocol/clientCapabilities": {}}}),
        json!({"_meta": {"io.modelcontextprotocol/protocolVersion": MODERN}}),
    ] {
        let headers = [modern[0], modern[1], ("Mcp-Method", "server/discover")];
        let (status, body) = raw(&app, &token, &headers, request("server/discover", params)).await;
        assert_eq!(
            (status, body["error"]["code"].as_i64()),
            (400, Some(-32602)),
            "{body}"
        );
        assert_eq!(body["id"], 41, "the error carries the request's id");
    }

    // Headers that disagree with the body: -32020 and 400.
    let discover = request("server/discover", json!({"_meta": meta()}));
    for method_header in [None, Some("tools/list"), Some("SERVER/DISCOVER")] {
        let mut headers = modern.to_vec();
        if let Some(value) = method_header {
            headers.push(("Mcp-Method", value));
        }
        let (status, body) = raw(&app, &token, &headers, discover.clone()).await;
        assert_eq!(
            (status, body["error"]["code"].as_i64()),
            (400, Some(-32020)),
            "{method_header:?} {body}"
        );
        assert_eq!(body["id"], 41);
    }
    let call = request(
        "tools/call",
        json!({"name": "search_books", "arguments": {}, "_meta": meta()}),
    );
    for name in [None, Some("get_book")] {
        let mut headers = vec![modern[0], modern[1], ("Mcp-Method", "tools/call")];
        if let Some(value) = name {
            headers.push(("Mcp-Name", value));
        }
        let (status, body) = raw(&app, &token, &headers, call.clone()).await;
        assert_eq!(
            (status, body["error"]["code"].as_i64()),
            (400, Some(-32020)),
            "{body}"
        );
    }
    // Header names are case-insensitive, surrounding spaces do not count.
    let headers = [
        modern[0],
        modern[1],
        ("mcp-method", "tools/call"),
        ("MCP-NAME", "  search_books  "),
    ];
    let (status, body) = raw(&app, &token, &headers, call.clone()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["isError"], false);

    // The version header must equal the envelope's; an unknown version names ours.
    let mut other = meta();
    other["io.modelcontextprotocol/protocolVersion"] = json!("v999.0.0");
    let headers = [modern[0], modern[1], ("Mcp-Method", "server/discover")];
    let (status, body) = raw(
        &app,
        &token,
        &headers,
        request("server/discover", json!({"_meta": other.clone()})),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_i64()),
        (400, Some(-32020)),
        "{body}"
    );
    let headers = [
        modern[0],
        ("MCP-Protocol-Version", "v999.0.0"),
        ("Mcp-Method", "server/discover"),
    ];
    let (status, body) = raw(
        &app,
        &token,
        &headers,
        request("server/discover", json!({"_meta": other})),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_i64()),
        (400, Some(-32022)),
        "{body}"
    );
    assert_eq!(body["error"]["data"]["requested"], "v999.0.0");
    assert_eq!(body["error"]["data"]["supported"][0], MODERN);
    assert_eq!(body["id"], 41);

    // Methods the revision removed, and unknown ones: 404 with -32601.
    for method in [
        "initialize",
        "ping",
        "logging/setLevel",
        "resources/subscribe",
        "resources/unsubscribe",
        "unknown/method",
    ] {
        let headers = [modern[0], modern[1], ("Mcp-Method", method)];
        let (status, body) = raw(
            &app,
            &token,
            &headers,
            request(method, json!({"_meta": meta()})),
        )
        .await;
        assert_eq!(
            (status, body["error"]["code"].as_i64()),
            (404, Some(-32601)),
            "{method}: {body}"
        );
        assert_eq!(body["id"], 41);
    }

    // A batch is not a modern request.
    let headers = [modern[0], modern[1], ("Mcp-Method", "tools/list")];
    let (status, body) = raw(
        &app,
        &token,
        &headers,
        json!([request("tools/list", json!({"_meta": meta()}))]),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_i64()),
        (400, Some(-32600)),
        "{body}"
    );
    app.stop().await;
}

#[actix_web::test]
async fn legacy_clients_work_with_or_without_their_session() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let token = mcp_token(&app, "legacy@example.org").await;
    // Claude.ai's sequence: initialize, then every request without Mcp-Session-Id, each
    // possibly to another instance.
    let mut mcp = Mcp::new(&app, &token);
    let init = mcp.initialize("2025-11-25").await;
    assert_eq!(init["result"]["protocolVersion"], "2025-11-25");
    assert!(init["result"]["capabilities"]["resources"].is_object());
    assert!(init["result"]["capabilities"]["prompts"].is_object());
    let session = mcp.session.take().unwrap();
    let response = mcp
        .request()
        .json(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let (status, listed) = mcp.rpc("tools/list", json!({})).await;
    assert_eq!(status, 200);
    assert!(
        listed["result"].get("resultType").is_none(),
        "legacy results are left as they were"
    );
    assert!(listed["result"]["tools"][0]["outputSchema"].is_object());
    let result = mcp.call("search_books", json!({})).await;
    assert_eq!(result["isError"], false);

    // No header and no session: 2025-03-26, text only.
    mcp.version = None;
    let result = mcp.call("reading_stats", json!({})).await;
    assert!(result.get("structuredContent").is_none());

    // With its session and no header, the session's version applies.
    mcp.session = Some(session);
    let result = mcp.call("reading_stats", json!({})).await;
    assert!(result["structuredContent"].is_object(), "{result}");

    // An unknown session is still 404, so that a client that sends one re-initializes.
    mcp.session = Some("ended-or-made-up".into());
    let (status, body) = mcp.rpc("tools/list", json!({})).await;
    assert_eq!((status, &body["id"]), (404, &json!(1)), "{body}");
    app.stop().await;
}

#[actix_web::test]
async fn resources_prompts_and_completion_serve_the_library_in_both_eras() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let token = mcp_token(&app, "resources@example.org").await;
        let modern = Modern::new(&app, &token);
        let added = modern
            .call("add_book", json!({"title": "Station Eleven", "authors": ["Emily St. John Mandel"], "tags": ["fiction"], "pages": 333}))
            .await;
        let id = added["structuredContent"]["book"]["id"].as_i64().unwrap();
        let logged = modern
            .call("log_reading", json!({"book_id": id, "started_on": "2024-03-01", "finished_on": "2024-03-20", "rating": 5}))
            .await;
        assert_eq!(logged["isError"], false, "{logged}");

        // Modern: lists with caching hints.
        let (status, listed) = modern.rpc("resources/list", json!({})).await;
        assert_eq!(status, 200, "{listed}");
        let uris: Vec<&str> = listed["result"]["resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["uri"].as_str().unwrap())
            .collect();
        assert!(
            uris.contains(&"library://stats") && uris.contains(&"library://shelf/read"),
            "{uris:?}"
        );
        assert!(listed["result"]["ttlMs"].as_u64().is_some());
        let (_, templates) = modern.rpc("resources/templates/list", json!({})).await;
        let patterns: Vec<&str> = templates["result"]["resourceTemplates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["uriTemplate"].as_str().unwrap())
            .collect();
        assert_eq!(
            patterns,
            [
                "library://stats/{year}",
                "library://shelf/{shelf}",
                "library://book/{id}"
            ]
        );
        assert_eq!(templates["result"]["cacheScope"], "private");

        let (status, read) = modern
            .rpc(
                "resources/read",
                json!({"uri": format!("library://book/{id}")}),
            )
            .await;
        assert_eq!(status, 200, "{read}");
        let content = &read["result"]["contents"][0];
        assert_eq!(content["mimeType"], "application/json");
        let book: Value = serde_json::from_str(content["text"].as_str().unwrap()).unwrap();
        assert_eq!(book["title"], "Station Eleven");
        assert_eq!(book["readings"][0]["rating"], 5.0);
        assert!(read["result"]["ttlMs"].as_u64().is_some());
        let (_, shelf) = modern
            .rpc("resources/read", json!({"uri": "library://shelf/read"}))
            .await;
        let shelf: Value =
            serde_json::from_str(shelf["result"]["contents"][0]["text"].as_str().unwrap()).unwrap();
        assert_eq!(
            (shelf["total"].as_i64(), &shelf["books"][0]["id"]),
            (Some(1), &json!(id))
        );
        let (_, stats) = modern
            .rpc("resources/read", json!({"uri": "library://stats/2024"}))
            .await;
        let stats: Value =
            serde_json::from_str(stats["result"]["contents"][0]["text"].as_str().unwrap()).unwrap();
        assert_eq!(stats["books_read_in_year"], 1);

        // Unknown resources are -32602 with the URI, never empty contents.
        for uri in [
            "library://book/999999",
            "library://shelf/attic",
            "library://nothing",
            "test://nonexistent-resource-for-conformance-testing",
        ] {
            let (status, body) = modern.rpc("resources/read", json!({"uri": uri})).await;
            assert_eq!(
                (status, body["error"]["code"].as_i64()),
                (400, Some(-32602)),
                "{uri}: {body}"
            );
            assert_eq!(body["error"]["data"]["uri"], uri);
        }

        // Prompts, filled with the user's own data.
        let (_, prompts) = modern.rpc("prompts/list", json!({})).await;
        let names: Vec<&str> = prompts["result"]["prompts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            ["what_to_read_next", "year_in_reading", "author_reading"]
        );
        assert!(prompts["result"]["ttlMs"].as_u64().is_some());
        let (status, year) = modern
            .rpc(
                "prompts/get",
                json!({"name": "year_in_reading", "arguments": {"year": "2024"}}),
            )
            .await;
        assert_eq!(status, 200, "{year}");
        let text = year["result"]["messages"][0]["content"]["text"]
            .as_str()
            .unwrap();
        assert!(
            text.contains("Station Eleven") && text.contains("2024"),
            "{text}"
        );
        assert_eq!(year["result"]["resultType"], "complete");
        let (_, author) = modern
            .rpc(
                "prompts/get",
                json!({"name": "author_reading", "arguments": {"author": "mandel"}}),
            )
            .await;
        let text = author["result"]["messages"][0]["content"]["text"]
            .as_str()
            .unwrap();
        assert!(text.contains("Station Eleven"), "{text}");
        let (_, next) = modern
            .rpc("prompts/get", json!({"name": "what_to_read_next"}))
            .await;
        assert_eq!(next["result"]["messages"][0]["role"], "user", "{next}");
        for (params, what) in [
            (json!({"name": "year_in_reading"}), "missing argument"),
            (
                json!({"name": "year_in_reading", "arguments": {"year": "last"}}),
                "bad year",
            ),
            (json!({"name": "no_such_prompt"}), "unknown prompt"),
        ] {
            let (status, body) = modern.rpc("prompts/get", params).await;
            assert_eq!(
                (status, body["error"]["code"].as_i64()),
                (400, Some(-32602)),
                "{what}: {body}"
            );
        }

        // Completion for prompt arguments and template parameters.
        for (reference, name, typed, expected) in [
            (
                json!({"type": "ref/prompt", "name": "year_in_reading"}),
                "year",
                "20",
                json!(["2024"]),
            ),
            (
                json!({"type": "ref/prompt", "name": "author_reading"}),
                "author",
                "emi",
                json!(["Emily St. John Mandel"]),
            ),
            (
                json!({"type": "ref/resource", "uri": "library://shelf/{shelf}"}),
                "shelf",
                "re",
                json!(["reading", "read"]),
            ),
            (
                json!({"type": "ref/resource", "uri": "library://book/{id}"}),
                "id",
                "station",
                json!([id.to_string()]),
            ),
        ] {
            let params = json!({"ref": reference, "argument": {"name": name, "value": typed}});
            let (status, body) = modern.rpc("completion/complete", params).await;
            assert_eq!(status, 200, "{body}");
            assert_eq!(
                body["result"]["completion"]["values"], expected,
                "{name}: {body}"
            );
        }
        let unknown = json!({"ref": {"type": "ref/prompt", "name": "nope"}, "argument": {"name": "x", "value": ""}});
        let (status, _) = modern.rpc("completion/complete", unknown).await;
        assert_eq!(status, 400);

        // The same through the legacy era, without a session.
        let mut legacy = Mcp::new(&app, &token);
        legacy.version = Some("2025-11-25");
        let (status, read) = legacy
            .rpc(
                "resources/read",
                json!({"uri": format!("library://book/{id}")}),
            )
            .await;
        assert_eq!(status, 200, "{read}");
        assert!(read["result"].get("resultType").is_none());
        let (_, missing) = legacy
            .rpc("resources/read", json!({"uri": "library://book/0"}))
            .await;
        assert_eq!(missing["error"]["code"], -32602);
        assert_eq!(missing["error"]["data"]["uri"], "library://book/0");
        let (_, prompt) = legacy
            .rpc(
                "prompts/get",
                json!({"name": "author_reading", "arguments": {"author": "Mandel"}}),
            )
            .await;
        assert!(prompt["result"]["messages"][0]["content"]["text"]
            .as_str()
            .unwrap()
            .contains("Station Eleven"));
        app.stop().await;
    }
}

#[actix_web::test]
async fn resources_and_prompts_follow_the_tokens_scope() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let user = app.register_user("writer@example.org").await;
    let write_only = app.token_for_audience(user, "write", &format!("{}/mcp", app.url));
    let client = Modern::new(&app, &write_only);
    for (method, key) in [
        ("resources/list", "resources"),
        ("resources/templates/list", "resourceTemplates"),
        ("prompts/list", "prompts"),
    ] {
        let (status, body) = client.rpc(method, json!({})).await;
        assert_eq!(status, 200);
        assert_eq!(body["result"][key], json!([]), "{method}");
    }
    for (method, params) in [
        ("resources/read", json!({"uri": "library://stats"})),
        ("prompts/get", json!({"name": "what_to_read_next"})),
    ] {
        let response = client.request(method, params).send().await.unwrap();
        assert_eq!(response.status(), 403, "{method}");
        let challenge = response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(challenge.contains("scope=\"read\""), "{challenge}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["id"], 7);
    }
    app.stop().await;
}

#[actix_web::test]
async fn subscriptions_listen_opens_a_stream_that_starts_with_its_acknowledgement() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let token = mcp_token(&app, "listen@example.org").await;
    let client = Modern::new(&app, &token);
    let mut response = client
        .request(
            "subscriptions/listen",
            json!({"notifications": {"toolsListChanged": true}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let first = response.chunk().await.unwrap().unwrap();
    let first = String::from_utf8_lossy(&first);
    let data = first
        .lines()
        .find_map(|l| l.strip_prefix("data: "))
        .unwrap();
    let ack: Value = serde_json::from_str(data).unwrap();
    assert_eq!(ack["method"], "notifications/subscriptions/acknowledged");
    assert_eq!(
        ack["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"],
        7
    );
    // Nothing here changes while the server runs: nothing is honoured, nothing sent.
    assert_eq!(ack["params"]["notifications"], json!({}));
    drop(response);

    // Without an event stream in Accept there is nothing to listen on.
    let response = app
        .client
        .post(app.at("/mcp"))
        .bearer_auth(&token)
        .header("Accept", "application/json")
        .header("MCP-Protocol-Version", MODERN)
        .header("Mcp-Method", "subscriptions/listen")
        .json(&json!({"jsonrpc": "2.0", "id": 8, "method": "subscriptions/listen", "params": {"notifications": {}, "_meta": meta()}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 406);
    app.stop().await;
}

#[actix_web::test]
async fn only_tokens_for_the_mcp_resource_open_it() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    // A first-party API token (login) is for the REST API only.
    let api_token = app.user_token("firstparty@example.org").await;
    let response = Mcp::new(&app, &api_token)
        .request()
        .json(&json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {"protocolVersion": "2025-11-25"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);

    // The 401 names the metadata and the scopes the tools need.
    let response = app
        .client
        .post(app.at("/mcp"))
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "server/discover"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let challenge = response.headers()["www-authenticate"].to_str().unwrap();
    assert!(challenge.contains("scope=\"read write\""), "{challenge}");
    assert!(
        challenge.contains("oauth-protected-resource/mcp"),
        "{challenge}"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["id"], 1, "even the 401 carries the request's id");
    app.stop().await;
}

#[actix_web::test]
async fn a_page_on_another_host_cannot_drive_the_endpoint() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let token = mcp_token(&app, "rebinding@example.org").await;
    let discover = |host: &str, origin: &str| {
        let client = Modern::new(&app, &token);
        client
            .request("server/discover", json!({}))
            .header("Host", host.to_string())
            .header("Origin", origin.to_string())
    };
    let response = discover("evil.example.com", "http://evil.example.com")
        .send()
        .await
        .unwrap();
    assert!(response.status().is_client_error(), "{}", response.status());
    let response = discover("evil.example.com", "").send().await.unwrap();
    assert_eq!(response.status(), 421, "a rebound name in Host");
    let response = discover("127.0.0.1.evil.example:80", "")
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        421,
        "a name that only starts like a loopback address"
    );
    // Any loopback name and port is this server while it runs on loopback.
    let response = discover("127.0.0.1:18081", "http://127.0.0.1:18081")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let response = discover("localhost:3000", "http://evil.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403, "a foreign Origin");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["id"], 7);
    app.stop().await;
}

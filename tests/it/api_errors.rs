//! Issue 21: every validation error of the API is `422 application/problem+json` with `errors[]`
//! naming each field and what it accepts; a body that is not JSON is `400` with a message and
//! its position apart; Goodreads' shelf names are aliases of ours.

use crate::common::{backends, TestApp};
use reqwest::Method;
use serde_json::{json, Value};

/// Sends `body` as it is, and returns the status, the Content-Type and the parsed body.
async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    body: Option<&str>,
) -> (u16, String, Value) {
    let mut request = app.client.request(method, app.at(path)).bearer_auth(token);
    if let Some(body) = body {
        request = request
            .header("Content-Type", "application/json")
            .body(body.to_string());
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let text = response.text().await.unwrap();
    (
        status,
        content_type,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// A 422 problem whose only error is on `field`; returns that error.
fn the_error(status: u16, content_type: &str, problem: &Value, field: &str) -> Value {
    assert_eq!(status, 422, "{problem}");
    assert_eq!(content_type, "application/problem+json", "{problem}");
    for key in ["type", "title", "status", "detail"] {
        assert!(problem.get(key).is_some(), "{key} missing: {problem}");
    }
    assert_eq!(problem["status"], 422);
    let errors = problem["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{problem}");
    assert_eq!(errors[0]["field"], field, "{problem}");
    errors[0].clone()
}

#[actix_web::test]
async fn field_errors_name_the_field_and_what_it_accepts() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let (_, token) = app.user("fields@example.org").await;
        let post = |body: &'static str| send(&app, Method::POST, "/api/books", &token, Some(body));

        // The issue's case: an unknown shelf was a 400 with serde's "unknown variant ... at line 1".
        let (status, kind, problem) = post(r#"{"title": "Dune", "shelf": "wishlist"}"#).await;
        let error = the_error(status, &kind, &problem, "shelf");
        let message = error["message"].as_str().unwrap();
        for name in [
            "to-read",
            "reading",
            "read",
            "abandoned",
            "currently-reading",
        ] {
            assert!(message.contains(name), "{name} not offered: {error}");
            assert!(error["accepts"].as_str().unwrap().contains(name), "{error}");
        }
        assert!(!problem.to_string().contains("line 1"), "{problem}");
        assert!(!problem.to_string().contains("variant"), "{problem}");

        // A missing field, by name.
        let (status, kind, problem) = post(r#"{"shelf": "read"}"#).await;
        let error = the_error(status, &kind, &problem, "title");
        assert!(
            error["message"].as_str().unwrap().contains("required"),
            "{error}"
        );
        assert!(
            error["accepts"].as_str().unwrap().starts_with("a string"),
            "{error}"
        );

        // A wrong type, with the range the field accepts.
        let (status, kind, problem) = post(r#"{"title": "Dune", "pages": "many"}"#).await;
        let error = the_error(status, &kind, &problem, "pages");
        assert_eq!(error["accepts"], "an integer from 1 to 100000", "{error}");
        assert!(
            error["message"].as_str().unwrap().contains("wrong type"),
            "{error}"
        );

        // Inside a list: the item's path.
        let (status, kind, problem) = post(r#"{"title": "Dune", "authors": ["Frank", 7]}"#).await;
        the_error(status, &kind, &problem, "authors[1]");

        // An unknown field says which fields there are.
        let (status, kind, problem) = post(r#"{"title": "Dune", "colour": "blue"}"#).await;
        let error = the_error(status, &kind, &problem, "colour");
        assert!(
            error["accepts"]
                .as_str()
                .unwrap()
                .contains("published_year"),
            "{error}"
        );

        // Out of range after reading: the library's own rules, same shape.
        let (status, kind, problem) = post(r#"{"title": "Dune", "pages": 0}"#).await;
        the_error(status, &kind, &problem, "pages");

        // An impossible date is named by its field, with the format.
        let (_, book) = app
            .api(
                Method::POST,
                "/api/books",
                &token,
                Some(json!({"title": "Dated"})),
            )
            .await;
        let body = format!(
            r#"{{"book_id": {}, "finished_on": "2023-02-30"}}"#,
            book["id"]
        );
        let (status, kind, problem) =
            send(&app, Method::POST, "/api/readings", &token, Some(&body)).await;
        let error = the_error(status, &kind, &problem, "finished_on");
        assert!(
            error["accepts"].as_str().unwrap().contains("YYYY-MM-DD"),
            "{error}"
        );
        assert!(
            error["message"].as_str().unwrap().contains("exist"),
            "{error}"
        );
        let body = format!(r#"{{"book_id": {}, "status": "done"}}"#, book["id"]);
        let (status, kind, problem) =
            send(&app, Method::POST, "/api/readings", &token, Some(&body)).await;
        let error = the_error(status, &kind, &problem, "status");
        assert_eq!(
            error["accepts"], "one of: reading, finished, abandoned",
            "{error}"
        );
        app.stop().await;
    }
}

#[actix_web::test]
async fn a_body_that_is_not_json_stays_400_with_its_position_apart() {
    let app = TestApp::spawn(crate::common::Backend::Sqlite).await;
    let (_, token) = app.user("malformed@example.org").await;
    let (status, kind, problem) = send(
        &app,
        Method::POST,
        "/api/books",
        &token,
        Some(r#"{"title": "Dune", "shelf": }"#),
    )
    .await;
    assert_eq!(status, 400, "{problem}");
    assert_eq!(kind, "application/problem+json");
    assert_eq!(problem["code"], "malformed_json");
    let detail = problem["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("the body is not valid JSON"),
        "{problem}"
    );
    assert!(!detail.contains("line 1 column"), "{problem}");
    assert_eq!(
        problem["position"],
        json!({"line": 1, "column": 28}),
        "{problem}"
    );
    let (status, _, problem) = send(
        &app,
        Method::POST,
        "/api/books",
        &token,
        Some(r#"{"title": "#),
    )
    .await;
    assert_eq!(status, 400, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("ends too early"),
        "{problem}"
    );
    app.stop().await;
}

#[actix_web::test]
async fn query_and_path_errors_name_the_parameter() {
    let app = TestApp::spawn(crate::common::Backend::Sqlite).await;
    let (_, token) = app.user("params@example.org").await;
    let (status, kind, problem) =
        send(&app, Method::GET, "/api/books?shelf=wishlist", &token, None).await;
    let error = the_error(status, &kind, &problem, "shelf");
    assert!(
        error["accepts"].as_str().unwrap().contains("to-read"),
        "{error}"
    );
    let (status, kind, problem) =
        send(&app, Method::GET, "/api/books?sort=colour", &token, None).await;
    let error = the_error(status, &kind, &problem, "sort");
    assert!(
        error["accepts"].as_str().unwrap().contains("title"),
        "{error}"
    );
    let (status, kind, problem) =
        send(&app, Method::GET, "/api/readings?limit=ten", &token, None).await;
    let error = the_error(status, &kind, &problem, "limit");
    assert_eq!(error["accepts"], "an integer from 1 to 100", "{error}");
    let (status, kind, problem) = send(&app, Method::GET, "/api/books/abc", &token, None).await;
    let error = the_error(status, &kind, &problem, "id");
    assert!(
        error["accepts"].as_str().unwrap().starts_with("an integer"),
        "{error}"
    );
    app.stop().await;
}

#[actix_web::test]
async fn goodreads_shelf_names_are_aliases_of_ours() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let (_, token) = app.user("aliases@example.org").await;
        for (sent, kept) in [
            ("currently-reading", "reading"),
            ("did-not-finish", "abandoned"),
            ("to-read", "to-read"),
        ] {
            let (status, book) = app
                .api(
                    Method::POST,
                    "/api/books",
                    &token,
                    Some(json!({"title": format!("On {sent}"), "shelf": sent})),
                )
                .await;
            assert_eq!(status, 201, "{sent}: {book}");
            assert_eq!(book["shelf"], kept, "{book}");
            let (status, page) = app
                .api(
                    Method::GET,
                    &format!("/api/books?shelf={sent}"),
                    &token,
                    None,
                )
                .await;
            assert_eq!(status, 200, "{page}");
            assert_eq!(page["items"][0]["title"], format!("On {sent}"), "{page}");
        }
        // MCP reads shelves the same way (`Shelf::parse` behind serde).
        let token = crate::mcp::mcp_token(&app, "aliases-mcp@example.org").await;
        let mut mcp = crate::mcp::Mcp::new(&app, &token);
        mcp.initialize("2025-11-25").await;
        let added = mcp.call("add_book", json!({"title": "Via MCP"})).await;
        let id = added["structuredContent"]["book"]["id"].clone();
        let moved = mcp
            .call("set_shelf", json!({"id": id, "shelf": "currently-reading"}))
            .await;
        assert_ne!(moved["isError"], true, "{moved}");
        assert_eq!(
            moved["structuredContent"]["book"]["shelf"], "reading",
            "{moved}"
        );
        app.stop().await;
    }
}

#[actix_web::test]
async fn the_document_states_the_problems() {
    let app = TestApp::spawn(crate::common::Backend::Sqlite).await;
    let (status, doc) = app.api(Method::GET, "/openapi.json", "", None).await;
    assert_eq!(status, 200);
    for (path, method) in [
        ("/api/books", "post"),
        ("/api/books", "get"),
        ("/api/books/{id}", "get"),
        ("/api/account/password", "post"),
        ("/api/account", "delete"),
    ] {
        let responses = &doc["paths"][path][method]["responses"];
        for status in ["400", "422"] {
            assert!(
                responses[status]["content"]["application/problem+json"].is_object(),
                "{method} {path} {status}: {responses}"
            );
        }
    }
    let shelf = &doc["components"]["schemas"]["Shelf"];
    assert!(shelf["enum"]
        .as_array()
        .unwrap()
        .contains(&json!("currently-reading")));
    let problem = &doc["components"]["schemas"]["Problem"]["properties"];
    assert!(problem["position"].is_object(), "{problem}");
    let field = &doc["components"]["schemas"]["FieldError"]["properties"];
    assert!(field["accepts"].is_object(), "{field}");
    app.stop().await;
}

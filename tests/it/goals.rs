//! The yearly reading goal through the API (`/api/goals/{year}`) and through MCP's
//! `reading_stats`, on both backends.

use crate::common::{backends, TestApp};
use crate::mcp::Mcp;
use chrono::Datelike;
use reqwest::Method;
use serde_json::{json, Value};

pub fn this_year() -> i32 {
    chrono::Utc::now().year()
}

/// Adds a book and, when `finished_on` is given, a finished reading of it; returns the book id.
pub async fn finished_book(
    app: &TestApp,
    token: &str,
    book: Value,
    finished_on: Option<&str>,
    rating: Option<f64>,
) -> i64 {
    let (status, created) = app.api(Method::POST, "/api/books", token, Some(book)).await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_i64().unwrap();
    if let Some(day) = finished_on {
        let mut reading = json!({"book_id": id, "status": "finished", "finished_on": day});
        if let Some(rating) = rating {
            reading["rating"] = json!(rating);
        }
        let (status, reading) = app
            .api(Method::POST, "/api/readings", token, Some(reading))
            .await;
        assert_eq!(status, 201, "{reading}");
    }
    id
}

#[actix_web::test]
async fn a_goal_is_set_read_changed_and_removed_per_user() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let year = this_year();
        let path = format!("/api/goals/{year}");
        let (me, token) = app.user("goal@example.org").await;

        // None yet: 404 in the API's problem format.
        let (status, problem) = app.api(Method::GET, &path, &token, None).await;
        assert_eq!(status, 404, "{backend:?} {problem}");
        assert_eq!(problem["code"], "not_found");

        let (status, goal) = app
            .api(Method::PUT, &path, &token, Some(json!({"books": 12})))
            .await;
        assert_eq!(status, 200, "{backend:?} {goal}");
        assert_eq!(goal["year"], year);
        assert_eq!(goal["books"], 12);
        assert_eq!(goal["books_read"], 0);
        assert_eq!(goal["remaining"], 12);
        assert!(
            goal["expected_by_today"].is_i64(),
            "the current year has a pace"
        );

        // Two books finished this year (1 January is never in the future), one last year, and
        // one still being read: the goal counts the two.
        let first_day = format!("{year}-01-01");
        let last_year = format!("{}-06-01", year - 1);
        finished_book(
            &app,
            &token,
            json!({"title": "Kindred", "authors": ["Octavia E. Butler"]}),
            Some(&first_day),
            Some(5.0),
        )
        .await;
        finished_book(
            &app,
            &token,
            json!({"title": "Dawn", "authors": ["Octavia E. Butler"]}),
            Some(&first_day),
            None,
        )
        .await;
        finished_book(
            &app,
            &token,
            json!({"title": "Beloved", "authors": ["Toni Morrison"]}),
            Some(&last_year),
            None,
        )
        .await;
        let reading =
            finished_book(&app, &token, json!({"title": "Middlemarch"}), None, None).await;
        let (status, _) = app
            .api(
                Method::POST,
                "/api/readings",
                &token,
                Some(json!({"book_id": reading, "status": "reading"})),
            )
            .await;
        assert_eq!(status, 201);

        let (status, goal) = app.api(Method::GET, &path, &token, None).await;
        assert_eq!(status, 200, "{goal}");
        assert_eq!(goal["books_read"], 2, "{backend:?} {goal}");
        assert_eq!(goal["percent"], 16);
        assert_eq!(goal["remaining"], 10);
        let (_, stats) = app
            .api(
                Method::GET,
                &format!("/api/readings/stats?year={year}"),
                &token,
                None,
            )
            .await;
        assert_eq!(
            goal["books_read"], stats["books_read_in_year"],
            "one figure"
        );
        assert_eq!(stats["ratings"][4], json!({"stars": 5, "readings": 1}));

        // Changing it replaces it; last year's goal is its own, reached with one book.
        let (status, goal) = app
            .api(Method::PUT, &path, &token, Some(json!({"books": 2.0})))
            .await;
        assert_eq!(status, 200, "{goal}");
        assert_eq!(
            (goal["books"].as_i64(), goal["status"].as_str()),
            (Some(2), Some("achieved"))
        );
        let (status, past) = app
            .api(
                Method::PUT,
                &format!("/api/goals/{}", year - 1),
                &token,
                Some(json!({"books": 5})),
            )
            .await;
        assert_eq!(status, 200, "{past}");
        assert_eq!(past["status"], "missed");
        assert_eq!(past["books_read"], 1);
        assert_eq!(past["expected_by_today"], Value::Null);
        let (_, goal) = app.api(Method::GET, &path, &token, None).await;
        assert_eq!(goal["books"], 2);

        // Another user sees none of it and cannot touch it.
        let (_, other) = app.user("other@example.org").await;
        let (status, _) = app.api(Method::GET, &path, &other, None).await;
        assert_eq!(status, 404, "another user's goal is not found");
        let (status, _) = app.api(Method::DELETE, &path, &other, None).await;
        assert_eq!(status, 404);
        let (status, theirs) = app
            .api(Method::PUT, &path, &other, Some(json!({"books": 40})))
            .await;
        assert_eq!(status, 200);
        assert_eq!(theirs["books_read"], 0, "their own readings only");
        let (_, mine) = app.api(Method::GET, &path, &token, None).await;
        assert_eq!(mine["books"], 2, "mine unchanged");

        // Read scope reads, write scope writes.
        let read = app.scoped_token(me, "read");
        let (status, _) = app.api(Method::GET, &path, &read, None).await;
        assert_eq!(status, 200);
        let (status, problem) = app
            .api(Method::PUT, &path, &read, Some(json!({"books": 3})))
            .await;
        assert_eq!(status, 403);
        assert_eq!(problem["code"], "insufficient_scope");
        let write = app.scoped_token(me, "write");
        let (status, _) = app
            .api(Method::PUT, &path, &write, Some(json!({"books": 3})))
            .await;
        assert_eq!(status, 200);

        // Removed: gone, and a second removal is 404.
        let (status, _) = app.api(Method::DELETE, &path, &token, None).await;
        assert_eq!(status, 204);
        let (status, _) = app.api(Method::GET, &path, &token, None).await;
        assert_eq!(status, 404);
        let (status, _) = app.api(Method::DELETE, &path, &token, None).await;
        assert_eq!(status, 404);
        app.stop().await;
    }
}

#[actix_web::test]
async fn bad_goals_are_refused_and_nothing_is_saved() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let (_, token) = app.user("strict@example.org").await;
        let year = this_year();
        let path = format!("/api/goals/{year}");
        for (body, field) in [
            (json!({"books": 0}), "books"),
            (json!({"books": -4}), "books"),
            (json!({"books": 1001}), "books"),
            (json!({"books": 10_000_000_000i64}), "books"),
        ] {
            let (status, problem) = app
                .api(Method::PUT, &path, &token, Some(body.clone()))
                .await;
            assert_eq!(status, 422, "{backend:?} {body}: {problem}");
            assert_eq!(problem["code"], "validation_failed");
            assert_eq!(problem["errors"][0]["field"], field, "{problem}");
        }
        // Years out of range are refused by field, both together with the books.
        for bad_year in [1899, year + 2] {
            let (status, problem) = app
                .api(
                    Method::PUT,
                    &format!("/api/goals/{bad_year}"),
                    &token,
                    Some(json!({"books": 0})),
                )
                .await;
            assert_eq!(status, 422, "{problem}");
            let fields: Vec<&str> = problem["errors"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["field"].as_str().unwrap())
                .collect();
            assert_eq!(fields, ["year", "books"]);
            let (status, _) = app
                .api(Method::GET, &format!("/api/goals/{bad_year}"), &token, None)
                .await;
            assert_eq!(status, 422);
        }
        // Next year may be planned.
        let (status, planned) = app
            .api(
                Method::PUT,
                &format!("/api/goals/{}", year + 1),
                &token,
                Some(json!({"books": 30})),
            )
            .await;
        assert_eq!(status, 200, "{planned}");
        assert_eq!(planned["status"], "upcoming");
        // JSON that is not the documented body: 422 naming what is wrong, like every other
        // body of the API (only text that is not JSON is a 400).
        for body in [
            json!({"books": "12"}),
            json!({"books": 2.5}),
            json!({}),
            json!({"books": 12, "pages": 4000}),
        ] {
            let (status, problem) = app
                .api(Method::PUT, &path, &token, Some(body.clone()))
                .await;
            assert_eq!(status, 422, "{body}: {problem}");
            assert!(
                problem["errors"].as_array().is_some_and(|e| !e.is_empty()),
                "{body}: {problem}"
            );
        }
        // A body that is not an object at all is a 400, as everywhere (`contract.rs`).
        let (status, problem) = app.api(Method::PUT, &path, &token, Some(json!([12]))).await;
        assert_eq!(status, 400, "{problem}");
        let (status, _) = app
            .api(Method::GET, "/api/goals/twenty", &token, None)
            .await;
        assert_eq!(
            status, 422,
            "a year that is not a number names the path parameter"
        );
        let (status, _) = app.api(Method::GET, &path, &token, None).await;
        assert_eq!(status, 404, "nothing was saved");
        let (status, _) = app
            .api(Method::POST, &path, &token, Some(json!({"books": 3})))
            .await;
        assert_eq!(status, 405);
        app.stop().await;
    }
}

#[actix_web::test]
async fn the_openapi_document_describes_the_goal_routes() {
    let app = TestApp::spawn(crate::common::Backend::Sqlite).await;
    let (_, token) = app.user("doc@example.org").await;
    let (status, doc) = app.api(Method::GET, "/openapi.json", &token, None).await;
    assert_eq!(status, 200);
    let item = &doc["paths"]["/api/goals/{year}"];
    for method in ["get", "put", "delete"] {
        assert!(item[method].is_object(), "{method} missing: {item}");
    }
    assert_eq!(item["get"]["security"][0]["bearer"], json!(["read"]));
    assert_eq!(item["put"]["security"][0]["bearer"], json!(["write"]));
    assert!(item["get"]["responses"]["404"].is_object());
    assert!(item["put"]["responses"]["422"]["content"]["application/problem+json"].is_object());
    let year = &item["get"]["parameters"][0]["schema"];
    assert_eq!(year["minimum"], 1900);
    assert_eq!(year["maximum"], this_year() + 1);
    let schemas = &doc["components"]["schemas"];
    let books = &schemas["GoalInput"]["properties"]["books"];
    assert_eq!(
        (books["minimum"].as_i64(), books["maximum"].as_i64()),
        (Some(1), Some(1000))
    );
    assert!(schemas["ReadingGoal"]["properties"]["status"].is_object());
    assert!(schemas["ReadingStats"]["properties"]["ratings"].is_object());
    app.stop().await;
}

#[actix_web::test]
async fn mcp_reading_stats_carries_the_goal_of_the_year_asked() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let user = app.register_user("claude-goal@example.org").await;
        let rest = app.scoped_token(user, "all");
        let mcp_token = app.token_for_audience(user, "read", &format!("{}/mcp", app.url));
        let year = this_year();
        finished_book(
            &app,
            &rest,
            json!({"title": "Piranesi", "authors": ["Susanna Clarke"]}),
            Some(&format!("{year}-01-01")),
            Some(4.5),
        )
        .await;
        let (status, _) = app
            .api(
                Method::PUT,
                &format!("/api/goals/{year}"),
                &rest,
                Some(json!({"books": 4})),
            )
            .await;
        assert_eq!(status, 200);

        let mut mcp = Mcp::new(&app, &mcp_token);
        mcp.initialize("2025-06-18").await;
        let result = mcp.call("reading_stats", json!({"year": year})).await;
        assert_eq!(result["isError"], false, "{backend:?} {result}");
        let stats = &result["structuredContent"];
        assert_eq!(stats["books_read_in_year"], 1);
        let goal = &stats["goal"];
        assert_eq!(goal["year"], year, "{stats}");
        assert_eq!(goal["books"], 4);
        assert_eq!(goal["books_read"], 1);
        assert_eq!(goal["percent"], 25);
        assert!(
            goal["summary"]
                .as_str()
                .unwrap()
                .starts_with(&format!("1 of 4 books read in {year}")),
            "{goal}"
        );
        assert_eq!(
            stats["ratings"][4]["readings"], 1,
            "4.5 rounds to five stars"
        );
        // The same through the default year, and no goal for a year without one.
        let default = mcp.call("reading_stats", json!({})).await;
        assert_eq!(default["structuredContent"]["goal"]["books"], 4);
        let earlier = mcp.call("reading_stats", json!({"year": year - 3})).await;
        assert_eq!(earlier["structuredContent"]["goal"], Value::Null);
        // The tool says so, and its output schema allows it.
        let (_, listed) = mcp.rpc("tools/list", json!({})).await;
        let tool = listed["result"]["tools"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == "reading_stats")
            .unwrap()
            .clone();
        assert!(tool["description"].as_str().unwrap().contains("goal"));
        assert!(tool["outputSchema"]["properties"]["goal"].is_object());
        app.stop().await;
    }
}

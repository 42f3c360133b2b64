//! Importing the real Goodreads and StoryGraph exports in ../shared/data/imports, and exporting.

use crate::common::{backends, Backend, TestApp};
use reqwest::Method;
use serde_json::Value;

fn data(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data/imports")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

async fn import(app: &TestApp, token: &str, source: &str, body: Vec<u8>) -> (u16, Value) {
    let response = app
        .client
        .post(app.at(&format!("/api/import/{source}")))
        .bearer_auth(token)
        .header("Content-Type", "text/csv")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// (file, data rows) for every export in the shared data set.
const FILES: [(&str, &str, u64); 8] = [
    ("goodreads-1.csv", "goodreads", 829),
    ("goodreads-2.csv", "goodreads", 315),
    ("goodreads-3.csv", "goodreads", 112),
    ("goodreads-4.csv", "goodreads", 358),
    ("goodreads-5.csv", "goodreads", 978),
    ("goodreads-6.csv", "goodreads", 1197),
    ("storygraph-1.csv", "storygraph", 193),
    ("storygraph-2.csv", "storygraph", 124),
];

#[actix_web::test]
async fn every_real_export_imports_without_losing_a_row_and_twice_changes_nothing() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        for (file, source, rows) in FILES {
            // Each file into its own account, as its owner would.
            let (_, token) = app.user(&format!("{file}@example.org")).await;
            let (status, report) = import(&app, &token, source, data(file)).await;
            assert_eq!(status, 200, "{file}: {report}");
            assert_eq!(report["rows"], rows, "{file}");
            assert_eq!(
                report["errors"],
                Value::Array(vec![]),
                "{backend:?} {file}: {report}"
            );
            let accounted = report["created"].as_u64().unwrap()
                + report["updated"].as_u64().unwrap()
                + report["skipped"].as_u64().unwrap();
            assert_eq!(
                accounted, rows,
                "{file}: every row is accounted for: {report}"
            );

            let (_, books) = app
                .api(Method::GET, "/api/books?limit=1", &token, None)
                .await;
            let (_, stats) = app
                .api(Method::GET, "/api/readings/stats", &token, None)
                .await;

            let (status, again) = import(&app, &token, source, data(file)).await;
            assert_eq!(status, 200);
            assert_eq!(
                (
                    again["created"].as_u64(),
                    again["updated"].as_u64(),
                    again["readings_created"].as_u64()
                ),
                (Some(0), Some(0), Some(0)),
                "{file}: second import: {again}"
            );
            assert_eq!(again["skipped"], rows);
            let (_, books_after) = app
                .api(Method::GET, "/api/books?limit=1", &token, None)
                .await;
            let (_, stats_after) = app
                .api(Method::GET, "/api/readings/stats", &token, None)
                .await;
            assert_eq!(books["total"], books_after["total"], "{file}");
            assert_eq!(stats, stats_after, "{file}");
        }
        app.stop().await;
    }
}

#[actix_web::test]
async fn goodreads_quirks_are_understood() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (_, token) = app.user("quirks@example.org").await;
    let (_, report) = import(&app, &token, "goodreads", data("goodreads-5.csv")).await;
    assert_eq!(report["errors"], Value::Array(vec![]));
    // Series split from the title; ISBN unwrapped from ="..."; shelves as tags; custom exclusive shelf.
    let (_, page) = app
        .api(
            Method::GET,
            "/api/books?q=ocean%20of%20storms",
            &token,
            None,
        )
        .await;
    let book = &page["items"][0];
    assert_eq!(book["isbn13"], "9781503938779", "{book}");
    assert_eq!(
        book["authors"],
        serde_json::json!(["Christopher Mari", "Jeremy K. Brown"])
    );
    assert!(
        book["tags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t == "g-post-apocalyptic"),
        "{book}"
    );
    let (_, series) = app
        .api(Method::GET, "/api/books?limit=100", &token, None)
        .await;
    assert!(series["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|b| b["series"].is_string() && !b["title"].as_str().unwrap().contains('#')));
    let (_, dnf) = app
        .api(
            Method::GET,
            "/api/books?shelf=abandoned&limit=1",
            &token,
            None,
        )
        .await;
    assert_eq!(dnf["total"], 20, "did-not-finish is the abandoned shelf");
    let (_, stats) = app
        .api(Method::GET, "/api/readings/stats", &token, None)
        .await;
    assert!(stats["books_read_total"].as_i64().unwrap() > 0);
    app.stop().await;
}

#[actix_web::test]
async fn storygraph_ranges_quarter_stars_and_rereads() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (_, token) = app.user("sg@example.org").await;
    let (_, report) = import(&app, &token, "storygraph", data("storygraph-1.csv")).await;
    assert_eq!(report["errors"], Value::Array(vec![]));
    let (_, readings) = app
        .api(
            Method::GET,
            "/api/readings?limit=100&status=finished",
            &token,
            None,
        )
        .await;
    let items = readings["items"].as_array().unwrap();
    assert!(
        items
            .iter()
            .any(|r| r["started_on"] == "2023/05/23".replace('/', "-")
                && r["finished_on"] == "2023-06-07"),
        "ranges become start and finish"
    );
    assert!(
        items.iter().any(|r| r["rating"] == 3.75),
        "quarter stars survive"
    );
    app.stop().await;
}

#[actix_web::test]
async fn the_same_reader_on_both_services_is_merged_not_duplicated() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (_, token) = app.user("both@example.org").await;
    let (_, goodreads) = import(&app, &token, "goodreads", data("goodreads-4.csv")).await;
    let (_, before) = app
        .api(Method::GET, "/api/books?limit=1", &token, None)
        .await;
    let (_, storygraph) = import(&app, &token, "storygraph", data("storygraph-1.csv")).await;
    let (_, after) = app
        .api(Method::GET, "/api/books?limit=1", &token, None)
        .await;
    let merged = storygraph["updated"].as_i64().unwrap() + storygraph["skipped"].as_i64().unwrap();
    assert!(
        merged > 100,
        "most StoryGraph rows are books already imported from Goodreads: {storygraph}"
    );
    assert_eq!(
        after["total"].as_i64().unwrap() - before["total"].as_i64().unwrap(),
        storygraph["created"].as_i64().unwrap()
    );
    assert!(goodreads["created"].as_i64().unwrap() > 300);
    app.stop().await;
}

#[actix_web::test]
async fn export_round_trips_through_the_importer() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let (_, token) = app.user("export@example.org").await;
        import(&app, &token, "goodreads", data("goodreads-2.csv")).await;
        let (status, json) = app.api(Method::GET, "/api/export", &token, None).await;
        assert_eq!(status, 200);
        let books = json["books"].as_array().unwrap();
        assert!(books.len() > 300);
        assert!(books
            .iter()
            .any(|b| !b["readings"].as_array().unwrap().is_empty()));

        let response = app
            .client
            .get(app.at("/api/export?format=csv"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert!(response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv"));
        let csv = response.bytes().await.unwrap().to_vec();
        assert!(String::from_utf8_lossy(&csv).starts_with("Book Id,Title,Author,Author l-f"));

        // Into a fresh account: the same books and reads come back.
        let (_, fresh) = app.user("fresh@example.org").await;
        let (status, report) = import(&app, &fresh, "goodreads", csv.clone()).await;
        assert_eq!(status, 200, "{report}");
        assert_eq!(report["errors"], Value::Array(vec![]));
        assert_eq!(
            report["created"].as_u64().unwrap() as usize,
            books.len(),
            "{report}"
        );
        let (_, original) = app
            .api(Method::GET, "/api/readings/stats", &token, None)
            .await;
        let (_, copy) = app
            .api(Method::GET, "/api/readings/stats", &fresh, None)
            .await;
        assert_eq!(original["books_read_total"], copy["books_read_total"]);
        assert_eq!(original["by_year"], copy["by_year"]);
        // And into the same account: nothing changes.
        let (_, again) = import(&app, &token, "goodreads", csv).await;
        assert_eq!(again["created"], 0, "{again}");
        app.stop().await;
    }
}

#[actix_web::test]
async fn bad_files_get_clear_errors() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (_, token) = app.user("bad@example.org").await;
    let (status, problem) = import(
        &app,
        &token,
        "goodreads",
        b"just,some,columns\n1,2,3\n".to_vec(),
    )
    .await;
    assert_eq!(status, 422);
    assert!(
        problem["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("Book Id"),
        "{problem}"
    );
    let (status, _) = import(&app, &token, "goodreads", Vec::new()).await;
    assert_eq!(status, 400);
    let big = vec![b'a'; 21 * 1024 * 1024];
    let (status, problem) = import(&app, &token, "storygraph", big).await;
    assert_eq!(status, 413);
    assert_eq!(problem["code"], "payload_too_large");
    // A row without a title is reported; the others are imported.
    let file =
        "Book Id,Title,Author,Exclusive Shelf\n1,,Someone,read\n2,Real Book,Someone,to-read\n";
    let (status, report) = import(&app, &token, "goodreads", file.as_bytes().to_vec()).await;
    assert_eq!(status, 200);
    assert_eq!(report["created"], 1);
    assert_eq!(report["errors"][0]["line"], 2, "{report}");
    app.stop().await;
}

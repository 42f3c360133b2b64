//! Importing the real Goodreads and StoryGraph exports in ../shared/data/imports, exporting, and
//! the round trips between them: every real export goes through import, export (CSV and JSON),
//! import into the same library (nothing changes) and into a fresh one (everything the same).

use crate::common::{backends, Backend, TestApp};
use reqwest::Method;
use serde_json::{json, Value};

pub fn data(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data/imports")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

async fn send(
    app: &TestApp,
    token: &str,
    source: &str,
    content_type: &str,
    body: Vec<u8>,
) -> (u16, Value) {
    let response = app
        .client
        .post(app.at(&format!("/api/import/{source}")))
        .bearer_auth(token)
        .header("Content-Type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

async fn import(app: &TestApp, token: &str, source: &str, body: Vec<u8>) -> (u16, Value) {
    let content_type = if source == "panicless" {
        "application/json"
    } else {
        "text/csv"
    };
    send(app, token, source, content_type, body).await
}

/// The body `curl -F file=@NAME` sends (with one more text field, as a browser form has).
fn multipart(field: &str, name: &str, file: &[u8]) -> (String, Vec<u8>) {
    let boundary = "------------------------d74496d66958873e";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhello\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{name}\"\r\n\
         Content-Type: text/csv\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn export(app: &TestApp, token: &str, format: &str) -> Vec<u8> {
    let response = app
        .client
        .get(app.at(&format!("/api/export?format={format}")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment"));
    response.bytes().await.unwrap().to_vec()
}

fn count(report: &Value, field: &str) -> u64 {
    report[field]
        .as_u64()
        .unwrap_or_else(|| panic!("{field} in {report}"))
}

/// Every data row is accounted for once.
fn assert_accounted(report: &Value, rows: u64, what: &str) {
    assert_eq!(count(report, "rows"), rows, "{what}: {report}");
    assert_eq!(
        count(report, "created")
            + count(report, "merged")
            + count(report, "unchanged")
            + count(report, "skipped"),
        rows,
        "{what}: every row is accounted for: {report}"
    );
}

/// Nothing created and nothing changed.
fn assert_nothing_changed(report: &Value, rows: u64, what: &str) {
    assert_accounted(report, rows, what);
    assert_eq!(
        (
            count(report, "created"),
            count(report, "merged"),
            count(report, "readings_created")
        ),
        (0, 0, 0),
        "{what}: {report}"
    );
}

fn without_keys(value: &mut Value, keys: &[&str]) {
    match value {
        Value::Object(map) => {
            for key in keys {
                map.remove(*key);
            }
            for v in map.values_mut() {
                without_keys(v, keys);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| without_keys(v, keys)),
        _ => {}
    }
}

/// Everything a library holds, as its JSON export shows it, without what differs between two
/// copies of it (row ids, creation times): books in `uid` order, each book's readings sorted.
pub async fn snapshot(app: &TestApp, token: &str) -> Value {
    let mut library: Value = serde_json::from_slice(&export(app, token, "json").await).unwrap();
    without_keys(
        &mut library,
        &["id", "book_id", "created_at", "updated_at", "exported_at"],
    );
    let books = library["books"].as_array_mut().unwrap();
    for book in books.iter_mut() {
        book["readings"]
            .as_array_mut()
            .unwrap()
            .sort_by_key(|r| r.to_string());
    }
    books.sort_by_key(|b| b["uid"].as_str().unwrap().to_string());
    let (_, mut stats) = app
        .api(Method::GET, "/api/readings/stats", token, None)
        .await;
    without_keys(&mut stats, &["id"]);
    json!({"books": library["books"], "stats": stats})
}

/// (file, format, data rows) for every export in the shared data set.
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

/// Issue 21: every real export imports without a row lost; importing it again, or importing our
/// own export of it (CSV or JSON) into the same library, changes nothing; and our exports
/// imported into a fresh library give the same books, shelves, ratings, readings with their
/// dates, notes, tags, added dates and statistics.
#[actix_web::test]
async fn every_real_export_round_trips_exactly() {
    for backend in backends() {
        // Three accounts a file.
        let app = TestApp::spawn_with(backend, &[("RATE_LIMIT_SIGNUP_PER_MINUTE", "100")]).await;
        for (file, source, rows) in FILES {
            let what = format!("{backend:?} {file}");
            let (_, token) = app.user(&format!("{file}@example.org")).await;
            let (status, report) = import(&app, &token, source, data(file)).await;
            assert_eq!(status, 200, "{what}: {report}");
            assert_accounted(&report, rows, &what);
            assert_eq!(count(&report, "skipped"), 0, "{what}: {report}");
            // Into an empty library a row is created, or merged with an earlier row of the
            // file, and then the report says so.
            let with_earlier = report["problems"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|p| p["outcome"] == "merged_with_earlier_row")
                .count() as u64;
            assert_eq!(
                with_earlier,
                count(&report, "merged") + count(&report, "unchanged"),
                "{what}: {report}"
            );
            let original = snapshot(&app, &token).await;

            let (_, again) = import(&app, &token, source, data(file)).await;
            assert_nothing_changed(&again, rows, &format!("{what} again"));

            let csv = export(&app, &token, "csv").await;
            let json = export(&app, &token, "json").await;
            let books = original["books"].as_array().unwrap().len() as u64;
            check_book_ids(&csv, &original);

            let (_, same) = import(&app, &token, "goodreads", csv.clone()).await;
            assert_nothing_changed(
                &same,
                books,
                &format!("{what}: our CSV into the same library"),
            );
            let (_, same) = import(&app, &token, "panicless", json.clone()).await;
            assert_nothing_changed(
                &same,
                books,
                &format!("{what}: our JSON into the same library"),
            );
            assert_eq!(snapshot(&app, &token).await, original, "{what}");

            for (format, body) in [("goodreads", csv), ("panicless", json)] {
                let (_, fresh) = app.user(&format!("{format}-{file}@example.org")).await;
                let (status, report) = import(&app, &fresh, format, body.clone()).await;
                assert_eq!(status, 200, "{what} {format}: {report}");
                assert_accounted(&report, books, &what);
                assert_eq!(
                    count(&report, "created"),
                    books,
                    "{what} {format}: {report}"
                );
                assert_eq!(report["problems"], json!([]), "{what} {format}");
                let copy = snapshot(&app, &fresh).await;
                assert_eq!(
                    copy, original,
                    "{what}: our {format} export into an empty library"
                );
                let (_, again) = import(&app, &fresh, format, body).await;
                assert_nothing_changed(&again, books, &format!("{what} {format} again"));
            }

            // The years and the undated readings add up to the totals.
            let stats = &original["stats"];
            let by_year = stats["by_year"].as_array().unwrap();
            for (field, total) in [("books", "books_read_total"), ("pages", "pages_read_total")] {
                let sum: i64 = by_year
                    .iter()
                    .map(|y| y[field].as_i64().unwrap())
                    .sum::<i64>()
                    + stats["undated"][field].as_i64().unwrap();
                assert_eq!(sum, stats[total].as_i64().unwrap(), "{what}: {field}");
            }
        }
        app.stop().await;
    }
}

/// "Book Id" carries only the Goodreads id a book came from: our own ids (which collide with
/// real Goodreads ids, goodreads-6 has 3, 11 and 24) never.
fn check_book_ids(csv: &[u8], library: &Value) {
    let mut reader = csv::Reader::from_reader(csv);
    let header = reader.headers().unwrap().clone();
    let at = |name: &str| header.iter().position(|h| h == name).unwrap();
    let (id, ours) = (at("Book Id"), at("Panicless Id"));
    let books = library["books"].as_array().unwrap();
    for row in reader.records() {
        let row = row.unwrap();
        let book = books
            .iter()
            .find(|b| b["uid"] == row[ours])
            .unwrap_or_else(|| panic!("no book {}", &row[ours]));
        assert_eq!(
            book["goodreads_id"].as_str().unwrap_or(""),
            &row[id],
            "{book}"
        );
    }
}

#[actix_web::test]
async fn books_keep_their_added_date_binding_and_latest_rating() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let (_, token) = app.user("genji@example.org").await;
        import(&app, &token, "goodreads", data("goodreads-1.csv")).await;
        let (_, page) = app
            .api(Method::GET, "/api/books?q=tale%20of%20genji", &token, None)
            .await;
        let genji = &page["items"][0];
        assert_eq!(genji["added_at"], "2018-11-18T00:00:00Z", "{genji}");
        assert_eq!(genji["binding"], "Paperback");
        assert_eq!(genji["goodreads_id"], "7042");
        assert_eq!(genji["rating"], 2.0, "the rating of its reading");
        let csv = String::from_utf8(export(&app, &token, "csv").await).unwrap();
        let line = csv
            .lines()
            .find(|l| l.contains("The Tale of Genji"))
            .unwrap();
        assert!(line.starts_with("7042,"), "{line}");
        assert!(
            line.contains(",Paperback,") && line.contains(",2018/11/18,"),
            "{line}"
        );

        // The latest rated reading's rating is the book's; without one, the book's own.
        let id = genji["id"].as_i64().unwrap();
        let (_, later) = app
            .api(
                Method::POST,
                "/api/readings",
                &token,
                Some(json!({"book_id": id, "finished_on": "2024-03-01", "rating": 4.5})),
            )
            .await;
        let (_, book) = app
            .api(Method::GET, &format!("/api/books/{id}"), &token, None)
            .await;
        assert_eq!(book["rating"], 4.5);
        app.api(
            Method::DELETE,
            &format!("/api/readings/{}", later["id"]),
            &token,
            None,
        )
        .await;
        let (_, book) = app
            .api(Method::GET, &format!("/api/books/{id}"), &token, None)
            .await;
        assert_eq!(book["rating"], 2.0);

        // A book added by hand is added now.
        let (status, added) = app
            .api(
                Method::POST,
                "/api/books",
                &token,
                Some(json!({"title": "Piranesi", "author": "Susanna Clarke", "rating": 4})),
            )
            .await;
        assert_eq!(status, 201);
        assert_eq!(added["added_at"], added["created_at"]);
        assert_eq!(added["rating"], 4.0);
        assert_eq!(added["uid"].as_str().unwrap().len(), 36);
        app.stop().await;
    }
}

/// The cases of issue 21, one file: bad values reported with their line and column, a repeated
/// header skipped, an open quote reported at its line with the rows after it imported, sent as
/// `curl -F file=@...` sends it.
#[actix_web::test]
async fn every_row_not_taken_whole_is_reported_with_its_line_field_and_reason() {
    let file = "Book Id,Title,Author,Exclusive Shelf,Number of Pages,My Rating,Date Read,Date Added\n\
                1,Good Book,Someone,read,200,4,2020/01/02,2019/12/01\n\
                2,Negative Pages,Someone,to-read,-20,0,,2019/12/01\n\
                3,Nine Stars,Someone,read,100,9,2020/03/04,2019/12/01\n\
                4,Impossible Date,Someone,read,100,3,2020/13/45,2019/12/01\n\
                Book Id,Title,Author,Exclusive Shelf,Number of Pages,My Rating,Date Read,Date Added\n\
                5,\"Broken Quote,Someone,to-read,100,0,,2019/12/01\n\
                6,After The Quote,Someone,to-read,100,0,,2019/12/01\n\
                7,,Nobody,to-read,,0,,\n\
                8,Last Book,Someone,read,50,5,2021/05/06,2019/12/01\n";
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let (_, token) = app.user("cases@example.org").await;
        let (content_type, body) =
            multipart("file", "goodreads_library_export.csv", file.as_bytes());
        let (status, report) = send(&app, &token, "goodreads", &content_type, body).await;
        assert_eq!(status, 200, "{report}");
        assert_eq!(report["format"], "goodreads");
        assert_accounted(&report, 8, "cases");
        assert_eq!(
            (
                count(&report, "created"),
                count(&report, "skipped"),
                count(&report, "repeated_headers")
            ),
            (6, 2, 1),
            "{report}"
        );
        let problems: Vec<(u64, String, String, String)> = report["problems"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["line"].as_u64().unwrap(),
                    p["field"].as_str().unwrap_or("").to_string(),
                    p["value"].as_str().unwrap_or("").to_string(),
                    p["outcome"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        let expected: Vec<(u64, &str, &str, &str)> = vec![
            (3, "Number of Pages", "-20", "value_dropped"),
            (4, "My Rating", "9", "value_dropped"),
            (5, "Date Read", "2020/13/45", "value_dropped"),
            (6, "", "", "repeated_header"),
            (7, "", "", "skipped"),
            (9, "", "", "skipped"),
        ];
        assert_eq!(
            problems,
            expected
                .iter()
                .map(|(l, f, v, o)| (*l, f.to_string(), v.to_string(), o.to_string()))
                .collect::<Vec<_>>(),
            "{report}"
        );
        let reasons = report["problems"].to_string();
        assert!(reasons.contains("never closed"), "{reasons}");
        assert!(
            reasons.contains("must be between 1 and 100000"),
            "{reasons}"
        );
        let (_, books) = app
            .api(
                Method::GET,
                "/api/books?limit=100&sort=title&order=asc",
                &token,
                None,
            )
            .await;
        let titles: Vec<&str> = books["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["title"].as_str().unwrap())
            .collect();
        assert_eq!(
            titles,
            [
                "After The Quote",
                "Good Book",
                "Impossible Date",
                "Last Book",
                "Negative Pages",
                "Nine Stars"
            ]
        );
        app.stop().await;
    }
}

#[actix_web::test]
async fn a_body_that_is_not_the_format_is_refused_saying_what_was_expected() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (_, token) = app.user("bad@example.org").await;
    let message = |problem: &Value| {
        problem["errors"][0]["message"]
            .as_str()
            .unwrap()
            .to_string()
    };

    let (status, problem) = import(
        &app,
        &token,
        "goodreads",
        b"just,some,columns\n1,2,3\n".to_vec(),
    )
    .await;
    assert_eq!(status, 422);
    assert!(
        message(&problem).contains("Book Id, Title, Author and Exclusive Shelf"),
        "{problem}"
    );

    let (status, problem) = import(&app, &token, "goodreads", br#"{"books": []}"#.to_vec()).await;
    assert_eq!(status, 422);
    assert!(
        message(&problem).contains("import it as `panicless`"),
        "{problem}"
    );

    let (status, problem) = import(&app, &token, "storygraph", data("goodreads-3.csv")).await;
    assert_eq!(status, 422);
    assert!(
        message(&problem).contains("import it as `goodreads`"),
        "{problem}"
    );

    let (status, problem) = import(&app, &token, "panicless", data("goodreads-3.csv")).await;
    assert_eq!(status, 422);
    assert!(message(&problem).contains("JSON"), "{problem}");

    let (status, problem) = import(
        &app,
        &token,
        "goodreads",
        vec![0x89, b'P', b'N', b'G', 0, 0xff, 0xfe, b'\n', 1, 2],
    )
    .await;
    assert_eq!(status, 422, "{problem}");
    assert!(
        message(&problem).contains("expected a Goodreads"),
        "{problem}"
    );

    let (content_type, body) =
        multipart("upload", "x.csv", b"Book Id,Title,Author,Exclusive Shelf\n");
    let (status, problem) = send(&app, &token, "goodreads", &content_type, body).await;
    assert_eq!(status, 422);
    assert!(
        message(&problem).contains("no field named `file`"),
        "{problem}"
    );

    let (status, _) = import(&app, &token, "goodreads", Vec::new()).await;
    assert_eq!(status, 400);
    let big = vec![b'a'; 21 * 1024 * 1024];
    let (status, problem) = import(&app, &token, "storygraph", big).await;
    assert_eq!(status, 413);
    assert_eq!(problem["code"], "payload_too_large");
    app.stop().await;
}

#[actix_web::test]
async fn goodreads_quirks_are_understood() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (_, token) = app.user("quirks@example.org").await;
    let (_, report) = import(&app, &token, "goodreads", data("goodreads-5.csv")).await;
    assert_eq!(report["skipped"], 0, "{report}");
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
    // ISBNs failing their checksum are named, not dropped silently.
    assert!(
        report["problems"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["field"] == "ISBN" || p["field"] == "ISBN13"),
        "{report}"
    );
    app.stop().await;
}

#[actix_web::test]
async fn storygraph_ranges_quarter_stars_and_rereads() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (_, token) = app.user("sg@example.org").await;
    let (_, report) = import(&app, &token, "storygraph", data("storygraph-1.csv")).await;
    assert_eq!(report["skipped"], 0, "{report}");
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
            .any(|r| r["started_on"] == "2023-05-23" && r["finished_on"] == "2023-06-07"),
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
    let merged = count(&storygraph, "merged") + count(&storygraph, "unchanged");
    assert!(
        merged > 100,
        "most StoryGraph rows are books already imported from Goodreads: {storygraph}"
    );
    assert_eq!(
        after["total"].as_u64().unwrap() - before["total"].as_u64().unwrap(),
        count(&storygraph, "created")
    );
    assert!(count(&goodreads, "created") > 300);
    app.stop().await;
}

/// `panicless export` and `panicless import` share the API's functions: a library exported
/// from the command line and imported into another account is the same library.
#[actix_web::test]
async fn the_command_line_exports_and_imports() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (_, token) = app.user("cli@example.org").await;
    let (_, fresh) = app.user("cli-copy@example.org").await;
    import(&app, &token, "storygraph", data("storygraph-2.csv")).await;
    let dir = tempfile::tempdir().unwrap();
    let cli = |args: &[&str]| {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_panicless"))
            .args(args)
            .env("DATABASE_URL", &app.db.url)
            .env("RUST_LOG", "error")
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    };
    for format in ["json", "csv"] {
        let file = dir.path().join(format!("library.{format}"));
        let file = file.to_str().unwrap();
        cli(&[
            "export",
            "--user",
            "cli@example.org",
            "--format",
            format,
            "--output",
            file,
        ]);
        let said = cli(&["import", "--user", "cli-copy@example.org", file]);
        let read_as = if format == "json" {
            "panicless"
        } else {
            "goodreads"
        };
        assert!(said.contains(&format!("rows read as {read_as}")), "{said}");
    }
    let stdout = cli(&["export", "--user", "cli@example.org"]);
    assert!(stdout.starts_with('{'), "JSON on standard output");
    assert_eq!(snapshot(&app, &fresh).await, snapshot(&app, &token).await);
    app.stop().await;
}

/// New books are written a thousand at a time, and rows are matched against what is known in
/// memory: a file longer than one batch, whose rows repeat books of earlier rows (near and a
/// batch or two back, by another Goodreads id or the same one), is reported row by row as one
/// row at a time would be, and leaves the statistics' tallies, each book's rating and last
/// finish day what its readings say.
#[actix_web::test]
async fn a_long_file_that_repeats_its_books_is_written_in_batches_as_row_by_row() {
    const BOOKS: usize = 2_300;
    let mut file =
        String::from("Book Id,Title,Author,Exclusive Shelf,My Rating,Date Read,Bookshelves\n");
    let row = |id: usize, book: usize, year: usize, rating: usize| {
        format!(
            "{id},Book {book},Author {},read,{rating},{year}/0{}/1{},shelf-{}\n",
            book % 40,
            1 + book % 9,
            book % 10,
            book % 7
        )
    };
    // (line, line of the book's first row) for each repeat of a book under another id.
    let mut repeats: Vec<(u64, u64)> = Vec::new();
    let mut same_id: Vec<u64> = Vec::new();
    let mut first_line: Vec<u64> = Vec::new();
    let mut line = 1;
    for book in 0..BOOKS {
        line += 1;
        first_line.push(line);
        file.push_str(&row(book + 1, book, 2001 + book % 20, 1 + book % 5));
        if book % 97 == 96 {
            // Another edition of a book a few rows back, read again later.
            let earlier = book - 3;
            line += 1;
            file.push_str(&row(100_000 + book, earlier, 2023, 5));
            repeats.push((line, first_line[earlier]));
        }
        if book == 2_100 {
            // The same row as the first book's, a batch or two after it.
            line += 1;
            file.push_str(&row(1, 0, 2001, 1));
            same_id.push(line);
        }
    }
    let rows = line - 1;
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let (user_id, token) = app.user("batches@example.org").await;
        let (status, report) = import(&app, &token, "goodreads", file.clone().into_bytes()).await;
        assert_eq!(status, 200, "{backend:?}: {report}");
        assert_accounted(&report, rows, "batches");
        assert_eq!(
            (
                count(&report, "created"),
                count(&report, "merged"),
                count(&report, "unchanged"),
                count(&report, "readings_created")
            ),
            (
                BOOKS as u64,
                repeats.len() as u64,
                same_id.len() as u64,
                (BOOKS + repeats.len()) as u64
            ),
            "{backend:?}: {report}"
        );
        let merged: Vec<(u64, String)> = report["problems"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["line"].as_u64().unwrap(),
                    p["reason"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        let expected: Vec<(u64, String)> = repeats
            .iter()
            .copied()
            .chain(same_id.iter().map(|line| (*line, 2)))
            .map(|(line, first)| {
                (
                    line,
                    format!("the same book as line {first} (same ISBN, or same title and first author): merged into it"),
                )
            })
            .collect::<std::collections::BTreeMap<_, _>>()
            .into_iter()
            .collect();
        assert_eq!(merged, expected, "{backend:?}");
        let (_, page) = app
            .api(Method::GET, "/api/books?limit=1", &token, None)
            .await;
        assert_eq!(page["total"], BOOKS, "{backend:?}");
        // A book read twice shows the later reading's rating, and the later day.
        let (_, found) = app
            .api(Method::GET, "/api/books?q=book%20287&limit=5", &token, None)
            .await;
        let twice = found["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["title"] == "Book 287")
            .unwrap_or_else(|| panic!("{found}"));
        assert_eq!(twice["rating"], 5.0, "{backend:?}: {twice}");
        assert_eq!(twice["shelf"], "read");
        {
            use diesel::prelude::*;
            use panicless::db::schema::{books, readings};
            let mut conn = app.state.pool.get().unwrap();
            assert_eq!(
                crate::library::kept_tallies(&mut conn, user_id),
                crate::library::tallies_from_rows(&mut conn, user_id),
                "{backend:?}"
            );
            let kept: Vec<(i64, Option<chrono::NaiveDate>)> = books::table
                .filter(books::user_id.eq(user_id))
                .select((books::id, books::last_finished_on))
                .load(&mut conn)
                .unwrap();
            let finished: Vec<(i64, Option<chrono::NaiveDate>)> = readings::table
                .filter(readings::user_id.eq(user_id))
                .select((readings::book_id, readings::finished_on))
                .load(&mut conn)
                .unwrap();
            for (id, last) in kept {
                let latest = finished
                    .iter()
                    .filter(|(book, _)| *book == id)
                    .filter_map(|(_, day)| *day)
                    .max();
                assert_eq!(last, latest, "{backend:?}: book {id}");
            }
        }
        let (status, again) = import(&app, &token, "goodreads", file.clone().into_bytes()).await;
        assert_eq!(status, 200, "{again}");
        assert_nothing_changed(&again, rows, "batches again");
        app.stop().await;
    }
}

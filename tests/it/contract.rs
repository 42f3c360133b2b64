//! The API keeps the contract /openapi.json states (issue 18): requests the document calls
//! valid are accepted, requests it calls invalid are refused, and the document states the rules.
//! tests/schemathesis/run.sh checks the same at random; these are the cases it found.

use crate::common::{backends, Backend, TestApp};
use reqwest::Method;
use serde_json::{json, Value};

async fn raw(app: &TestApp, method: Method, path: &str, token: &str, body: &str) -> (u16, Value) {
    let response = app
        .client
        .request(method, app.at(path))
        .bearer_auth(token)
        .header("Content-Type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[actix_web::test]
async fn a_page_far_past_the_end_is_empty_not_an_error() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let (_, token) = app.user("offset@example.org").await;
        for path in ["/api/books", "/api/readings"] {
            let (status, page) = app
                .api(
                    Method::GET,
                    &format!("{path}?offset=9223372036854775800"),
                    &token,
                    None,
                )
                .await;
            assert_eq!(status, 200, "{backend:?} {path}: {page}");
            assert_eq!(page["items"], json!([]), "{page}");
            assert!(page.get("next_cursor").is_none(), "{page}");
        }
    }
}

#[actix_web::test]
async fn out_of_range_and_ill_formed_paging_is_refused() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (_, token) = app.user("paging@example.org").await;
    // "o:+1" and "o: 1" decoded to an offset before; the document's pattern refuses them.
    for (query, field) in [
        ("/api/books/recommendations?limit=0", "limit"),
        ("/api/books/recommendations?limit=51", "limit"),
        ("/api/books?cursor=bzorMQ", "cursor"),
        ("/api/books?cursor=bzogMQ", "cursor"),
        ("/api/readings?offset=-1&cursor=bzow", "offset"),
        ("/api/books?offset=-1&cursor=bzow", "offset"),
    ] {
        let (status, problem) = app.api(Method::GET, query, &token, None).await;
        assert_eq!(status, 422, "{query}: {problem}");
        assert_eq!(problem["errors"][0]["field"], field, "{query}: {problem}");
    }
    let (status, _) = app
        .api(
            Method::GET,
            "/api/books/recommendations?limit=50",
            &token,
            None,
        )
        .await;
    assert_eq!(status, 200);
}

#[actix_web::test]
async fn a_body_must_be_an_object() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (_, token) = app.user("arrays@example.org").await;
    let (status, book) = raw(
        &app,
        Method::POST,
        "/api/books",
        &token,
        r#" {"title": "Kept"}"#,
    )
    .await;
    assert_eq!(
        status, 201,
        "leading space before an object is fine: {book}"
    );
    let reading = app
        .api(
            Method::POST,
            "/api/readings",
            &token,
            Some(json!({"book_id": book["id"]})),
        )
        .await
        .1;
    // serde reads a struct from an array of its fields: [null, null] was a valid PATCH.
    for (method, path) in [
        (Method::PATCH, format!("/api/readings/{}", reading["id"])),
        (Method::PATCH, format!("/api/books/{}", book["id"])),
        (Method::POST, "/api/books".to_string()),
        (Method::POST, "/api/auth/register".to_string()),
        (Method::POST, "/api/auth/login".to_string()),
    ] {
        let body = if path.starts_with("/api/auth") {
            r#"["someone@example.org", "a long password"]"#
        } else {
            r#"[null, null]"#
        };
        let (status, problem) = raw(&app, method.clone(), &path, &token, body).await;
        assert_eq!(status, 400, "{method} {path}: {problem}");
        assert!(
            problem["detail"]
                .as_str()
                .unwrap()
                .contains("expected a JSON object"),
            "{problem}"
        );
    }
}

#[actix_web::test]
async fn integers_may_carry_a_zero_fraction_and_every_isbn_given_is_checked() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (_, token) = app.user("numbers@example.org").await;
    // JSON Schema's `integer` includes 300.0; serde refused it as "expected i32".
    let (status, book) = raw(
        &app,
        Method::POST,
        "/api/books",
        &token,
        r#"{"title": "Whole", "pages": 300.0, "published_year": 1969.0}"#,
    )
    .await;
    assert_eq!(status, 201, "{book}");
    assert_eq!(
        (book["pages"].clone(), book["published_year"].clone()),
        (json!(300), json!(1969))
    );
    let (status, reading) = raw(
        &app,
        Method::POST,
        "/api/readings",
        &token,
        &format!(r#"{{"book_id": {}.0, "pages_read": 12.0}}"#, book["id"]),
    )
    .await;
    assert_eq!(status, 201, "{reading}");
    assert_eq!(reading["pages_read"], 12);
    let (status, _) = raw(
        &app,
        Method::POST,
        "/api/books",
        &token,
        r#"{"title": "Half", "pages": 300.5}"#,
    )
    .await;
    assert_eq!(
        status, 422,
        "a fraction is a wrong value, named by its field"
    );

    // 101 tags that merge into one, or 101 blank authors, were accepted against the stated 100
    // items; a cover URL the document's pattern refuses was accepted; a valid `isbn` hid an
    // invalid `isbn10` beside it.
    for (body, field) in [
        (
            json!({"title": "Tagged", "tags": vec!["same"; 101]}),
            "tags",
        ),
        (
            json!({"title": "Blanks", "authors": vec![" "; 101]}),
            "authors",
        ),
        // The url crate drops the tab and reads "*" into the host; the pattern refuses it.
        (
            json!({"title": "Odd cover", "cover_url": "https://3fq.e038f\t*"}),
            "cover_url",
        ),
        (
            json!({"title": "Two ISBNs", "isbn": "9780441013593", "isbn10": "not an isbn"}),
            "isbn10",
        ),
    ] {
        let (status, problem) = app
            .api(Method::POST, "/api/books", &token, Some(body))
            .await;
        assert_eq!(status, 422, "{problem}");
        assert_eq!(problem["errors"][0]["field"], field, "{problem}");
    }
    // `author` may join a full `authors`.
    let hundred: Vec<String> = (0..100).map(|n| format!("Author {n}")).collect();
    let (status, book) = app
        .api(
            Method::POST,
            "/api/books",
            &token,
            Some(json!({"title": "Anthology", "author": "Editor", "authors": hundred})),
        )
        .await;
    assert_eq!(status, 201, "{book}");
}

#[actix_web::test]
async fn the_document_states_the_rules() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (_, token) = app.user("document@example.org").await;
    let (status, doc) = app.api(Method::GET, "/openapi.json", &token, None).await;
    assert_eq!(status, 200);
    let schemas = &doc["components"]["schemas"];
    let password = &schemas["RegisterRequest"]["properties"]["password"];
    assert_eq!(
        (password["minLength"].clone(), password["maxLength"].clone()),
        (json!(8), json!(72))
    );
    assert!(schemas["RegisterRequest"]["properties"]["email"]["pattern"].is_string());
    let reading = &schemas["NewReading"]["properties"];
    assert!(reading["finished_on"]["pattern"]
        .as_str()
        .unwrap()
        .starts_with("^(?:"));
    assert_eq!(reading["rating"]["multipleOf"], 0.25);
    let import = &doc["paths"]["/api/import/goodreads"]["post"]["requestBody"]["content"]
        ["text/csv"]["schema"];
    let import = if let Some(name) = import["$ref"].as_str() {
        &schemas[name.trim_start_matches("#/components/schemas/")]
    } else {
        import
    };
    assert!(
        import["pattern"]
            .as_str()
            .unwrap()
            .contains("Exclusive Shelf"),
        "{import}"
    );
    let cursor = doc["paths"]["/api/books"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "cursor")
        .unwrap();
    assert!(cursor["schema"]["pattern"]
        .as_str()
        .unwrap()
        .starts_with("^bzo"));
    assert!(doc["paths"]["/api/books"]["post"]["responses"]["413"].is_object());
}

#[actix_web::test]
async fn lengths_and_patterns_count_what_was_sent_not_what_was_trimmed() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (_, token) = app.user("sent@example.org").await;
    // Found by schemathesis: a description at the limit plus spaces was trimmed and accepted,
    // though the document's maxLength counts the spaces. (A cover URL may have spaces around
    // it: the document's pattern says so, and they are trimmed.)
    let long = format!("{} ", "x".repeat(20_000));
    // Later finds: a tag or a title whose inner line breaks fold to spaces, a description made
    // only of white space (once returned as "none" before its length was looked at), notes
    // over the limit by their trailing spaces.
    let folded_tag = format!("a\n\n\u{2028}\r\nb{}", "*".repeat(95));
    let blank = "\u{85}".repeat(20_001);
    let title = format!("{}\u{85}", "t".repeat(500));
    for (body, field) in [
        (json!({"title": "Long", "description": long}), "description"),
        (json!({"title": "Tag", "tags": [folded_tag]}), "tags"),
        (
            json!({"title": "Blank", "description": blank}),
            "description",
        ),
        (json!({"title": title}), "title"),
        (
            json!({"title": "A", "authors": [format!(" {}", "a".repeat(300))]}),
            "authors",
        ),
    ] {
        let (status, problem) = app
            .api(Method::POST, "/api/books", &token, Some(body))
            .await;
        assert_eq!(status, 422, "{field}: {problem}");
        assert!(problem.to_string().contains(field), "{problem}");
    }
    let (status, book) = app
        .api(
            Method::POST,
            "/api/books",
            &token,
            Some(json!({"title": "Patched"})),
        )
        .await;
    assert_eq!(status, 201, "{book}");
    let path = format!("/api/books/{}", book["id"]);
    let (status, problem) = app
        .api(
            Method::PATCH,
            &path,
            &token,
            Some(json!({"description": blank})),
        )
        .await;
    assert_eq!(status, 422, "{problem}");
    let (status, problem) = app
        .api(
            Method::POST,
            "/api/readings",
            &token,
            Some(json!({"book_id": book["id"], "notes": format!("{} ", "n".repeat(50_000))})),
        )
        .await;
    assert_eq!(status, 422, "{problem}");
    // A number just over a maximum is over it: JSON numbers are read exactly.
    let (status, problem) = raw(
        &app,
        Method::POST,
        "/api/readings",
        &token,
        &format!(
            r#"{{"book_id": {}, "progress": 100.00000000000001}}"#,
            book["id"]
        ),
    )
    .await;
    assert_eq!(status, 422, "{problem}");
    assert!(problem.to_string().contains("progress"), "{problem}");
    // A connector's label, the same way.
    let (status, problem) = app
        .api(
            Method::POST,
            "/api/connectors",
            &token,
            Some(json!({"provider": "anthropic", "api_key": "sk-ant-test-0123456789abcdef", "label": format!("\u{85}{}", "l".repeat(100))})),
        )
        .await;
    assert_eq!(status, 422, "{problem}");
    assert!(problem.to_string().contains("label"), "{problem}");
    // Blank is still none, and the limit itself is accepted.
    let (status, book) = app
        .api(
            Method::POST,
            "/api/books",
            &token,
            Some(json!({"title": "Fine", "cover_url": " https://covers.example.org/a.jpg\n", "description": "y".repeat(20_000)})),
        )
        .await;
    assert_eq!(status, 201, "{book}");
    assert_eq!(book["cover_url"], "https://covers.example.org/a.jpg");
    app.stop().await;
}

#[actix_web::test]
async fn a_blank_isbn_and_a_year_past_i32_are_refused_by_name() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (_, token) = app.user("blank@example.org").await;
    // Found by schemathesis: "" was taken as "no ISBN", though the document says an ISBN.
    for field in ["isbn", "isbn10", "isbn13"] {
        let (status, problem) = app
            .api(
                Method::POST,
                "/api/books",
                &token,
                Some(json!({"title": "Blank", field: " "})),
            )
            .await;
        assert_eq!(status, 422, "{field}: {problem}");
        assert_eq!(problem["errors"][0]["field"], field, "{problem}");
    }
    // null is how to say none.
    let (status, book) = app
        .api(
            Method::POST,
            "/api/books",
            &token,
            Some(json!({"title": "None", "isbn13": null})),
        )
        .await;
    assert_eq!(status, 201, "{book}");
    // A year that no i32 holds was a 404 (the extractor could not read it): the document's
    // int32 says it is invalid, so it is a 422 naming the parameter.
    let (status, problem) = app
        .api(
            Method::PUT,
            "/api/goals/1932772239025118",
            &token,
            Some(json!({"books": 8})),
        )
        .await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["errors"][0]["field"], "year", "{problem}");
    app.stop().await;
}

#[actix_web::test]
async fn a_csv_whose_first_column_begins_with_a_brace_is_still_csv() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (_, token) = app.user("brace@example.org").await;
    // Found by schemathesis: the document's pattern allows any first column; the server took
    // a leading `{` for our JSON export and refused the file.
    let response = app
        .client
        .post(app.at("/api/import/storygraph"))
        .bearer_auth(&token)
        .header("Content-Type", "text/csv")
        .body("\u{feff}{x,Title,Authors,Read Status\r\n,Piranesi,Susanna Clarke,read\r\n")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let report: Value = response.json().await.unwrap();
    assert_eq!(report["created"], 1, "{report}");
    app.stop().await;
}

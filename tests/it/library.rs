//! Books, readings, statistics and recommendations over HTTP, on both backends.

use crate::common::{backends, Backend, TestApp};
use reqwest::Method;
use serde_json::{json, Value};

async fn add(app: &TestApp, token: &str, body: Value) -> Value {
    let (status, book) = app.api(Method::POST, "/api/books", token, Some(body)).await;
    assert_eq!(status, 201, "{book}");
    book
}

#[actix_web::test]
async fn books_crud_with_validation_and_duplicates() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let (_, token) = app.user("books@example.org").await;

        let book = add(
            &app,
            &token,
            json!({
                "title": "The Left Hand of Darkness", "authors": ["Ursula K. Le Guin"],
                "isbn": "0-441-47812-3", "pages": 304, "published_year": 1969,
                "tags": ["Science Fiction", "classics", "science fiction"], "shelf": "to-read"
            }),
        )
        .await;
        assert_eq!(book["isbn13"], "9780441478125", "{backend:?}: normalised");
        assert_eq!(book["isbn10"], "0441478123");
        assert_eq!(book["tags"], json!(["science fiction", "classics"]));
        let id = book["id"].as_i64().unwrap();

        // Same ISBN, or same title and author in another case and accent: 409 with the id.
        for duplicate in [
            json!({"title": "Another title", "isbn": "9780441478125"}),
            json!({"title": "the left hand of darkness", "author": "Ursula K. le Guin"}),
        ] {
            let (status, problem) = app
                .api(Method::POST, "/api/books", &token, Some(duplicate))
                .await;
            assert_eq!(status, 409, "{problem}");
            assert_eq!(problem["existing_id"], id);
        }

        // Every invalid field is reported at once.
        let (status, problem) = app
            .api(
                Method::POST,
                "/api/books",
                &token,
                Some(json!({"title": " ", "isbn": "0441478124", "rating": 4.3, "pages": 0})),
            )
            .await;
        assert_eq!(status, 422);
        let fields: Vec<&str> = problem["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        for field in ["title", "isbn", "rating", "pages"] {
            assert!(fields.contains(&field), "{field} missing from {problem}");
        }
        let (status, _) = app
            .api(
                Method::POST,
                "/api/books",
                &token,
                Some(json!({"title": "x", "bogus": 1})),
            )
            .await;
        assert_eq!(status, 422, "unknown fields are refused");

        // PATCH changes what is sent; null clears.
        let (status, patched) = app
            .api(
                Method::PATCH,
                &format!("/api/books/{id}"),
                &token,
                Some(json!({"pages": null, "shelf": "reading", "series": "Hainish Cycle, #4"})),
            )
            .await;
        assert_eq!(status, 200, "{patched}");
        assert_eq!(patched["pages"], Value::Null);
        assert_eq!(patched["shelf"], "reading");
        assert_eq!(patched["title"], "The Left Hand of Darkness");

        let (status, fetched) = app
            .api(Method::GET, &format!("/api/books/{id}"), &token, None)
            .await;
        assert_eq!(
            (status, &fetched["series"]),
            (200, &json!("Hainish Cycle, #4"))
        );

        let (status, _) = app
            .api(Method::DELETE, &format!("/api/books/{id}"), &token, None)
            .await;
        assert_eq!(status, 204);
        let (status, problem) = app
            .api(Method::GET, &format!("/api/books/{id}"), &token, None)
            .await;
        assert_eq!(status, 404);
        assert_eq!(problem["code"], "not_found");
        app.stop().await;
    }
}

#[actix_web::test]
async fn listing_filters_sorts_and_pages() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let (_, token) = app.user("list@example.org").await;
        add(&app, &token, json!({"title": "Cien años de soledad", "authors": ["Gabriel García Márquez"], "tags": ["magic realism"], "shelf": "read", "published_year": 1967})).await;
        add(&app, &token, json!({"title": "Piranesi", "authors": ["Susanna Clarke"], "tags": ["fantasy"], "description": "A house of endless halls", "published_year": 2020})).await;
        add(&app, &token, json!({"title": "Jonathan Strange & Mr Norrell", "authors": ["Susanna Clarke"], "tags": ["fantasy", "magic realism"], "published_year": 2004})).await;
        for n in 0..25 {
            add(
                &app,
                &token,
                json!({"title": format!("Filler {n:02}"), "authors": ["Nobody"]}),
            )
            .await;
        }

        let get = |path: String| {
            let token = token.clone();
            let app = &app;
            async move { app.api(Method::GET, &path, &token, None).await }
        };
        // Accent- and case-insensitive search over title, author, description and tags.
        let (_, page) = get("/api/books?q=ANOS%20soledad".into()).await;
        assert_eq!(page["total"], 1, "{backend:?} {page}");
        let (_, page) = get("/api/books?q=garcia".into()).await;
        assert_eq!(page["total"], 1);
        let (_, page) = get("/api/books?q=endless%20halls".into()).await;
        assert_eq!(page["items"][0]["title"], "Piranesi");
        let (_, page) = get("/api/books?author=clarke&sort=published&order=asc".into()).await;
        let titles: Vec<&str> = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["title"].as_str().unwrap())
            .collect();
        assert_eq!(titles, ["Jonathan Strange & Mr Norrell", "Piranesi"]);
        let (_, page) = get("/api/books?tag=Magic%20Realism".into()).await;
        assert_eq!(page["total"], 2);
        let (_, page) = get("/api/books?shelf=read".into()).await;
        assert_eq!(page["total"], 1);
        let (_, page) = get("/api/books?q=100%25".into()).await;
        assert_eq!(page["total"], 0, "LIKE wildcards in input are literal");

        // Paging: total, limit, cursor.
        let (_, first) = get("/api/books?limit=10".into()).await;
        assert_eq!(
            (
                first["total"].as_i64(),
                first["items"].as_array().unwrap().len()
            ),
            (Some(28), 10)
        );
        let cursor = first["next_cursor"].as_str().unwrap().to_string();
        let (_, second) = get(format!("/api/books?limit=10&cursor={cursor}")).await;
        assert_eq!(second["offset"], 10);
        assert_ne!(first["items"][0]["id"], second["items"][0]["id"]);
        let (_, last) = get("/api/books?limit=10&offset=20".into()).await;
        assert_eq!(last["items"].as_array().unwrap().len(), 8);
        assert!(last.get("next_cursor").is_none());
        let (status, problem) = get("/api/books?limit=1000".into()).await;
        assert_eq!(status, 422, "{problem}");
        let (status, problem) = get("/api/books?shelf=nowhere".into()).await;
        assert_eq!(status, 422, "{problem}");
        assert_eq!(problem["errors"][0]["field"], "shelf", "{problem}");
        app.stop().await;
    }
}

#[actix_web::test]
async fn readings_move_books_between_shelves() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let (_, token) = app.user("readings@example.org").await;
        let book = add(
            &app,
            &token,
            json!({"title": "Piranesi", "authors": ["Susanna Clarke"], "pages": 272}),
        )
        .await;
        let book_id = book["id"].as_i64().unwrap();

        let (status, reading) = app
            .api(
                Method::POST,
                "/api/readings",
                &token,
                Some(json!({"book_id": book_id, "started_on": "2025-03-01", "pages_read": 40})),
            )
            .await;
        assert_eq!(status, 201, "{reading}");
        assert_eq!(reading["status"], "reading");
        let (_, book) = app
            .api(Method::GET, &format!("/api/books/{book_id}"), &token, None)
            .await;
        assert_eq!(book["shelf"], "reading");

        let id = reading["id"].as_i64().unwrap();
        let (status, reading) = app
            .api(
                Method::PATCH,
                &format!("/api/readings/{id}"),
                &token,
                Some(json!({"status": "finished", "finished_on": "2025-03-09", "rating": 4.75})),
            )
            .await;
        assert_eq!(status, 200, "{reading}");
        assert_eq!(reading["rating"], 4.75);
        let (_, book) = app
            .api(Method::GET, &format!("/api/books/{book_id}"), &token, None)
            .await;
        assert_eq!(book["shelf"], "read", "finishing moves the book to read");

        for bad in [
            json!({"book_id": book_id, "rating": 5.5}),
            json!({"book_id": book_id, "started_on": "2025-03-10", "finished_on": "2025-03-01"}),
            json!({"book_id": book_id, "progress": 120}),
            json!({"book_id": 999999}),
        ] {
            let (status, problem) = app
                .api(Method::POST, "/api/readings", &token, Some(bad.clone()))
                .await;
            assert_eq!(status, 422, "{bad} → {problem}");
        }

        let (_, list) = app
            .api(
                Method::GET,
                &format!(
                    "/api/readings?book_id={book_id}&status=finished&from=2025-01-01&to=2025-12-31"
                ),
                &token,
                None,
            )
            .await;
        assert_eq!(list["total"], 1, "{list}");
        assert_eq!(list["items"][0]["book_title"], "Piranesi");
        let (_, list) = app
            .api(Method::GET, "/api/readings?from=2026-01-01", &token, None)
            .await;
        assert_eq!(list["total"], 0);

        // Deleting the book deletes its readings.
        app.api(
            Method::DELETE,
            &format!("/api/books/{book_id}"),
            &token,
            None,
        )
        .await;
        let (status, _) = app
            .api(Method::GET, &format!("/api/readings/{id}"), &token, None)
            .await;
        assert_eq!(status, 404);
        app.stop().await;
    }
}

#[actix_web::test]
async fn statistics_are_computed_on_both_backends() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let (_, token) = app.user("stats@example.org").await;
        let mut ids = Vec::new();
        for (title, author, pages, tags) in [
            (
                "A Wizard of Earthsea",
                "Ursula K. Le Guin",
                183,
                vec!["fantasy"],
            ),
            (
                "The Dispossessed",
                "Ursula K. Le Guin",
                387,
                vec!["science fiction"],
            ),
            ("Piranesi", "Susanna Clarke", 272, vec!["fantasy"]),
        ] {
            let book = add(
                &app,
                &token,
                json!({"title": title, "authors": [author], "pages": pages, "tags": tags}),
            )
            .await;
            ids.push(book["id"].as_i64().unwrap());
        }
        let readings = [
            json!({"book_id": ids[0], "started_on": "2024-12-28", "finished_on": "2025-01-02", "rating": 4.5}),
            json!({"book_id": ids[1], "started_on": "2025-01-03", "finished_on": "2025-01-13", "rating": 4.0}),
            json!({"book_id": ids[0], "started_on": "2025-06-01", "finished_on": "2025-06-03", "rating": 5.0}),
            json!({"book_id": ids[2], "started_on": "2025-07-01"}),
        ];
        for reading in readings {
            let (status, body) = app
                .api(Method::POST, "/api/readings", &token, Some(reading))
                .await;
            assert_eq!(status, 201, "{body}");
        }
        let (status, stats) = app
            .api(Method::GET, "/api/readings/stats?year=2025", &token, None)
            .await;
        assert_eq!(status, 200, "{stats}");
        assert_eq!(
            stats["books_read_total"], 3,
            "{backend:?}: the re-read counts: {stats}"
        );
        assert_eq!(stats["books_read_in_year"], 3);
        assert_eq!(stats["pages_read_total"], 183 * 2 + 387);
        assert_eq!(
            stats["by_year"],
            json!([{"year": 2025, "books": 3, "pages": 753}])
        );
        assert_eq!(
            stats["by_month"][0],
            json!({"month": 1, "books": 2, "pages": 570})
        );
        assert_eq!(
            stats["by_month"][5],
            json!({"month": 6, "books": 1, "pages": 183})
        );
        assert_eq!(stats["longest_book"]["title"], "The Dispossessed");
        assert_eq!(stats["shortest_book"]["title"], "A Wizard of Earthsea");
        assert_eq!(stats["average_rating"], 4.5);
        assert_eq!(
            stats["top_authors"][0],
            json!({"name": "Ursula K. Le Guin", "books": 3})
        );
        assert_eq!(stats["top_tags"][0], json!({"name": "fantasy", "books": 2}));
        assert_eq!(stats["average_days_to_finish"], 5.7);
        assert_eq!(stats["in_progress"], 1);
        assert_eq!(stats["currently_reading"][0]["title"], "Piranesi");
        // Activity days 2024-12-28, 2025-01-02, -03, -13, 06-01, 06-03, 07-01: longest run 2.
        assert_eq!(stats["longest_streak_days"], 2);
        let (_, other_year) = app
            .api(Method::GET, "/api/readings/stats?year=2020", &token, None)
            .await;
        assert_eq!(other_year["books_read_in_year"], 0);
        assert_eq!(other_year["books_read_total"], 3);
        app.stop().await;
    }
}

#[actix_web::test]
async fn recommendations_follow_what_the_user_liked() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (_, token) = app.user("recs@example.org").await;
    let liked = add(&app, &token, json!({"title": "The Dispossessed", "authors": ["Ursula K. Le Guin"], "pages": 387, "tags": ["science fiction"]})).await;
    let disliked = add(&app, &token, json!({"title": "Dull Book", "authors": ["Dull Author"], "pages": 900, "tags": ["romance"]})).await;
    for (book, rating) in [(&liked, 5.0), (&disliked, 1.0)] {
        app.api(
            Method::POST,
            "/api/readings",
            &token,
            Some(json!({"book_id": book["id"], "finished_on": "2025-01-01", "rating": rating})),
        )
        .await;
    }
    add(&app, &token, json!({"title": "Another Dull Book", "authors": ["Dull Author"], "pages": 950, "tags": ["romance"]})).await;
    add(&app, &token, json!({"title": "The Lathe of Heaven", "authors": ["Ursula K. Le Guin"], "pages": 380, "tags": ["science fiction"]})).await;
    let (status, recs) = app
        .api(
            Method::GET,
            "/api/books/recommendations?limit=5",
            &token,
            None,
        )
        .await;
    assert_eq!(status, 200, "{recs}");
    assert_eq!(recs[0]["book"]["title"], "The Lathe of Heaven", "{recs}");
    let reasons = recs[0]["reasons"].to_string();
    assert!(
        reasons.contains("you rated 1 book by Ursula K. Le Guin 5 on average"),
        "{reasons}"
    );
    assert_eq!(
        recs.as_array().unwrap().len(),
        2,
        "only to-read books are recommended"
    );
    assert_eq!(recs[1]["book"]["title"], "Another Dull Book");
    app.stop().await;
}

#[actix_web::test]
async fn another_users_rows_are_not_found() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let (_, alice) = app.user("alice@example.org").await;
        let (_, bob) = app.user("bob@example.org").await;
        let book = add(
            &app,
            &alice,
            json!({"title": "Alice's book", "isbn": "9780441478125"}),
        )
        .await;
        let id = book["id"].as_i64().unwrap();
        let (_, reading) = app
            .api(
                Method::POST,
                "/api/readings",
                &alice,
                Some(json!({"book_id": id})),
            )
            .await;
        let rid = reading["id"].as_i64().unwrap();

        for (method, path, body) in [
            (Method::GET, format!("/api/books/{id}"), None),
            (
                Method::PATCH,
                format!("/api/books/{id}"),
                Some(json!({"title": "mine now"})),
            ),
            (Method::DELETE, format!("/api/books/{id}"), None),
            (Method::GET, format!("/api/readings/{rid}"), None),
            (
                Method::PATCH,
                format!("/api/readings/{rid}"),
                Some(json!({"rating": 1})),
            ),
            (Method::DELETE, format!("/api/readings/{rid}"), None),
        ] {
            let (status, _) = app.api(method.clone(), &path, &bob, body).await;
            assert_eq!(status, 404, "{backend:?} {method} {path}");
        }
        let (status, _) = app
            .api(
                Method::POST,
                "/api/readings",
                &bob,
                Some(json!({"book_id": id})),
            )
            .await;
        assert_eq!(status, 422, "bob cannot log a reading on alice's book");
        // Bob may own the same ISBN: duplicates are per user.
        add(
            &app,
            &bob,
            json!({"title": "Bob's copy", "isbn": "9780441478125"}),
        )
        .await;
        let (_, page) = app.api(Method::GET, "/api/books", &bob, None).await;
        assert_eq!(page["total"], 1);
        let (_, stats) = app
            .api(Method::GET, "/api/readings/stats", &bob, None)
            .await;
        assert_eq!(stats["in_progress"], 0);
        let (_, alice_book) = app
            .api(Method::GET, &format!("/api/books/{id}"), &alice, None)
            .await;
        assert_eq!(alice_book["title"], "Alice's book");
        app.stop().await;
    }
}

/// `q` is answered by the trigram index or by reading rows, whichever the totals say is cheaper
/// (SQLite); both must find the same books, in the same order, on both backends.
#[actix_web::test]
async fn search_gives_the_same_books_whichever_plan_serves_it() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let (_, token) = app.user("search@example.org").await;
        add(
            &app,
            &token,
            json!({"title": "The Left Hand of Darkness", "authors": ["Ursula K. Le Guin"]}),
        )
        .await;
        for n in 0..150 {
            add(
                &app,
                &token,
                json!({"title": format!("Filler volume {n}"), "authors": ["Anon Ymous"]}),
            )
            .await;
        }
        add(
            &app,
            &token,
            json!({"title": "Darkness Visible", "authors": ["William Styron"]}),
        )
        .await;
        let titles = |page: &Value| -> Vec<String> {
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|b| b["title"].as_str().unwrap().to_string())
                .collect()
        };
        // Rare: 2 of 152 books, a page of 20 would read every book; the index serves it.
        let (status, rare) = app
            .api(Method::GET, "/api/books?q=DARKNESS", &token, None)
            .await;
        assert_eq!(status, 200, "{rare}");
        assert_eq!(rare["total"], 2, "{backend:?}");
        assert_eq!(
            titles(&rare),
            ["Darkness Visible", "The Left Hand of Darkness"],
            "{backend:?}: newest first"
        );
        // Frequent: 150 of 152; reading the newest rows finds a page at once.
        let (_, frequent) = app
            .api(
                Method::GET,
                "/api/books?q=filler%20volume&limit=3&offset=1",
                &token,
                None,
            )
            .await;
        assert_eq!(frequent["total"], 150, "{backend:?}");
        assert_eq!(
            titles(&frequent),
            [
                "Filler volume 148",
                "Filler volume 147",
                "Filler volume 146"
            ],
            "{backend:?}"
        );
        // Another order always goes through the index; a two-letter term always reads rows.
        let (_, by_title) = app
            .api(
                Method::GET,
                "/api/books?q=volume%2014&sort=title&order=asc&limit=3",
                &token,
                None,
            )
            .await;
        // Terms match separately: "14" is in 14, 114 and 140 to 149.
        assert_eq!(by_title["total"], 12, "{backend:?}");
        assert_eq!(
            titles(&by_title),
            ["Filler volume 114", "Filler volume 14", "Filler volume 140"],
            "{backend:?}"
        );
        // A write changes the totals at once.
        add(
            &app,
            &token,
            json!({"title": "Heart of Darkness", "authors": ["Joseph Conrad"]}),
        )
        .await;
        let (_, after) = app
            .api(Method::GET, "/api/books?q=darkness", &token, None)
            .await;
        assert_eq!(after["total"], 3, "{backend:?}");
        assert_eq!(titles(&after)[0], "Heart of Darkness");
    }
}

/// Figures of one user's library, as the tallies hold them or as the rows imply them.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Tallies {
    /// month → (books, pages, rating sum in hundredths, rated, days, timed)
    months: std::collections::BTreeMap<String, (i64, i64, i64, i64, i64, i64)>,
    authors: std::collections::BTreeMap<String, i64>,
    tags: std::collections::BTreeMap<String, i64>,
    days: std::collections::BTreeMap<chrono::NaiveDate, i64>,
    /// rating in hundredths → finished readings
    ratings: std::collections::BTreeMap<i64, i64>,
}

/// What the triggers keep, read back (rows at zero are what is left of a key that emptied).
pub(crate) fn kept_tallies(conn: &mut panicless::db::DbConn, user_id: i64) -> Tallies {
    use diesel::prelude::*;
    use panicless::db::schema::{
        reading_authors, reading_days, reading_months, reading_ratings, reading_tags,
    };
    let mut kept = Tallies::default();
    let months: Vec<(String, i64, i64, f64, i64, i64, i64)> = reading_months::table
        .filter(reading_months::user_id.eq(user_id))
        .select((
            reading_months::month,
            reading_months::books,
            reading_months::pages,
            reading_months::rating_sum,
            reading_months::rated,
            reading_months::days_sum,
            reading_months::timed,
        ))
        .load(conn)
        .unwrap();
    for (month, books, pages, rating_sum, rated, days, timed) in months {
        assert!(books >= 0 && rated >= 0 && timed >= 0, "{month}: {books}");
        if books > 0 {
            let hundredths = (rating_sum * 100.0).round() as i64;
            kept.months
                .insert(month, (books, pages, hundredths, rated, days, timed));
        } else {
            assert_eq!((pages, rated, days, timed), (0, 0, 0, 0), "{month}");
        }
    }
    let counts = |rows: Vec<(String, i64)>| {
        rows.into_iter()
            .inspect(|(key, n)| assert!(*n >= 0, "{key}: {n}"))
            .filter(|(_, n)| *n > 0)
            .collect()
    };
    kept.authors = counts(
        reading_authors::table
            .filter(reading_authors::user_id.eq(user_id))
            .select((reading_authors::author, reading_authors::books))
            .load(conn)
            .unwrap(),
    );
    kept.tags = counts(
        reading_tags::table
            .filter(reading_tags::user_id.eq(user_id))
            .select((reading_tags::tag, reading_tags::books))
            .load(conn)
            .unwrap(),
    );
    kept.days = reading_days::table
        .filter(reading_days::user_id.eq(user_id))
        .filter(reading_days::events.ne(0))
        .select((reading_days::day, reading_days::events))
        .load(conn)
        .unwrap()
        .into_iter()
        .collect();
    kept.ratings = reading_ratings::table
        .filter(reading_ratings::user_id.eq(user_id))
        .select((reading_ratings::rating, reading_ratings::readings))
        .load::<(f64, i64)>(conn)
        .unwrap()
        .into_iter()
        .inspect(|(rating, n)| assert!(*n >= 0, "{rating}: {n}"))
        .filter(|(_, n)| *n > 0)
        .map(|(rating, n)| ((rating * 100.0).round() as i64, n))
        .collect();
    kept
}

/// The same figures computed here from the user's books, tags and readings.
pub(crate) fn tallies_from_rows(conn: &mut panicless::db::DbConn, user_id: i64) -> Tallies {
    use chrono::NaiveDate;
    use diesel::prelude::*;
    use panicless::db::schema::{book_tags, books, readings};
    type Row = (
        i64,
        String,
        Option<NaiveDate>,
        Option<NaiveDate>,
        Option<i32>,
        Option<f64>,
    );
    let rows: Vec<Row> = readings::table
        .filter(readings::user_id.eq(user_id))
        .select((
            readings::book_id,
            readings::status,
            readings::started_on,
            readings::finished_on,
            readings::pages_read,
            readings::rating,
        ))
        .load(conn)
        .unwrap();
    let book_rows: std::collections::HashMap<i64, (Option<i32>, String)> = books::table
        .filter(books::user_id.eq(user_id))
        .select((books::id, (books::pages, books::primary_author)))
        .load(conn)
        .unwrap()
        .into_iter()
        .collect();
    let tag_rows: Vec<(i64, String)> = book_tags::table
        .filter(book_tags::user_id.eq(user_id))
        .select((book_tags::book_id, book_tags::tag))
        .load(conn)
        .unwrap();
    let mut expected = Tallies::default();
    for (book_id, status, started, finished, pages_read, rating) in rows {
        for day in [started, finished].into_iter().flatten() {
            *expected.days.entry(day).or_default() += 1;
        }
        if status != "finished" {
            continue;
        }
        if let Some(rating) = rating {
            *expected
                .ratings
                .entry((rating * 100.0).round() as i64)
                .or_default() += 1;
        }
        let (pages, author) = &book_rows[&book_id];
        let month = finished.map_or(String::new(), |d| d.format("%Y-%m").to_string());
        let entry = expected.months.entry(month).or_default();
        entry.0 += 1;
        entry.1 += i64::from(pages.or(pages_read).unwrap_or(0));
        entry.2 += (rating.unwrap_or(0.0) * 100.0).round() as i64;
        entry.3 += i64::from(rating.is_some());
        if let (Some(s), Some(f)) = (started, finished) {
            entry.4 += (f - s).num_days();
            entry.5 += 1;
        }
        if !author.is_empty() {
            *expected.authors.entry(author.clone()).or_default() += 1;
        }
        for (_, tag) in tag_rows.iter().filter(|(b, _)| *b == book_id) {
            *expected.tags.entry(tag.clone()).or_default() += 1;
        }
    }
    expected
}

/// The statistics' tallies are kept by triggers on both backends. Whatever happens to readings,
/// books (pages, author, tags, deletion) and users, they must stay what the rows imply: a few
/// hundred random changes through the API, checked against a count from the rows.
#[actix_web::test]
async fn statistics_tallies_follow_every_change() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let (alice, token) = app.user("tallies@example.org").await;
        let (bob, bob_token) = app.user("other@example.org").await;
        // A small deterministic generator: the same run every time, failures reproduce.
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let authors = ["Ursula K. Le Guin", "Susanna Clarke", "Ted Chiang"];
        let tags = ["fantasy", "science fiction", "essays", "short stories"];
        let date = |n: u64| {
            json!(chrono::NaiveDate::from_ymd_opt(2024, 11, 1)
                .unwrap()
                .checked_add_days(chrono::Days::new(n))
                .unwrap())
        };
        let mut book_ids: Vec<i64> = Vec::new();
        let mut reading_ids: Vec<i64> = Vec::new();
        let mut applied = 0;
        for step in 0..400 {
            let op = if book_ids.len() < 4 { 0 } else { next(20) };
            let (status, body) = match op {
                0 | 1 => {
                    let mut book = json!({"title": format!("Book {step}")});
                    if next(4) > 0 {
                        book["pages"] = json!(50 + next(600));
                    }
                    if next(5) > 0 {
                        book["authors"] = json!([authors[next(3) as usize]]);
                    }
                    book["tags"] = json!(tags.iter().filter(|_| next(3) == 0).collect::<Vec<_>>());
                    let (status, body) = app
                        .api(Method::POST, "/api/books", &token, Some(book))
                        .await;
                    if status == 201 {
                        book_ids.push(body["id"].as_i64().unwrap());
                    }
                    (status, body)
                }
                2..=9 => {
                    let mut reading = json!({
                        "book_id": book_ids[next(book_ids.len() as u64) as usize],
                        "status": (["finished", "finished", "reading", "abandoned"][next(4) as usize]),
                    });
                    let start = next(60);
                    if next(3) > 0 {
                        reading["started_on"] = date(start);
                    }
                    if next(4) > 0 {
                        reading["finished_on"] = date(start + next(30));
                    }
                    if next(2) == 0 {
                        reading["rating"] = json!(next(11) as f64 / 2.0);
                    }
                    if next(3) == 0 {
                        reading["pages_read"] = json!(next(300));
                    }
                    let (status, body) = app
                        .api(Method::POST, "/api/readings", &token, Some(reading))
                        .await;
                    if status == 201 {
                        reading_ids.push(body["id"].as_i64().unwrap());
                    }
                    (status, body)
                }
                10..=12 if !reading_ids.is_empty() => {
                    let id = reading_ids[next(reading_ids.len() as u64) as usize];
                    let patch = match next(5) {
                        0 => {
                            json!({"status": (["finished", "reading", "abandoned"][next(3) as usize])})
                        }
                        1 => {
                            json!({"finished_on": if next(3) == 0 { Value::Null } else { date(next(90)) }})
                        }
                        2 => {
                            json!({"started_on": if next(3) == 0 { Value::Null } else { date(next(60)) }})
                        }
                        3 => {
                            json!({"rating": if next(3) == 0 { Value::Null } else { json!(next(11) as f64 / 2.0) }})
                        }
                        _ => {
                            json!({"pages_read": next(300), "notes": "only the notes and pages read"})
                        }
                    };
                    app.api(
                        Method::PATCH,
                        &format!("/api/readings/{id}"),
                        &token,
                        Some(patch),
                    )
                    .await
                }
                13 if !reading_ids.is_empty() => {
                    let id = reading_ids.swap_remove(next(reading_ids.len() as u64) as usize);
                    app.api(Method::DELETE, &format!("/api/readings/{id}"), &token, None)
                        .await
                }
                14..=17 => {
                    let id = book_ids[next(book_ids.len() as u64) as usize];
                    let patch = match next(3) {
                        0 => {
                            json!({"pages": if next(4) == 0 { Value::Null } else { json!(50 + next(600)) }})
                        }
                        1 => {
                            json!({"authors": if next(4) == 0 { json!([]) } else { json!([authors[next(3) as usize]]) }})
                        }
                        _ => {
                            json!({"tags": tags.iter().filter(|_| next(2) == 0).collect::<Vec<_>>()})
                        }
                    };
                    app.api(
                        Method::PATCH,
                        &format!("/api/books/{id}"),
                        &token,
                        Some(patch),
                    )
                    .await
                }
                18 => {
                    // The other user's library changes too, and must not move this one's figures.
                    let book = json!({"title": format!("Bob's {step}"), "pages": 100, "authors": [authors[0]], "tags": [tags[0]]});
                    let (_, body) = app
                        .api(Method::POST, "/api/books", &bob_token, Some(book))
                        .await;
                    let reading = json!({"book_id": body["id"], "status": "finished", "finished_on": date(10)});
                    app.api(Method::POST, "/api/readings", &bob_token, Some(reading))
                        .await
                }
                _ => {
                    let id = book_ids.swap_remove(next(book_ids.len() as u64) as usize);
                    app.api(Method::DELETE, &format!("/api/books/{id}"), &token, None)
                        .await
                }
            };
            if status < 300 {
                applied += 1;
            }
            // Rows of deleted books take their readings with them.
            if op >= 19 {
                let mut conn = app.state.pool.get().unwrap();
                let live: Vec<i64> = {
                    use diesel::prelude::*;
                    use panicless::db::schema::readings;
                    readings::table
                        .filter(readings::user_id.eq(alice))
                        .select(readings::id)
                        .load(&mut conn)
                        .unwrap()
                };
                reading_ids.retain(|id| live.contains(id));
            }
            let _ = body;
            if step % 50 == 49 {
                let mut conn = app.state.pool.get().unwrap();
                assert_eq!(
                    kept_tallies(&mut conn, alice),
                    tallies_from_rows(&mut conn, alice),
                    "{backend:?}, step {step}"
                );
            }
        }
        assert!(
            applied > 300,
            "{backend:?}: most changes are valid ({applied})"
        );
        let mut conn = app.state.pool.get().unwrap();
        let expected = tallies_from_rows(&mut conn, alice);
        assert!(
            expected.months.len() > 3 && !expected.tags.is_empty(),
            "{expected:?}"
        );
        assert_eq!(kept_tallies(&mut conn, alice), expected, "{backend:?}");
        assert_eq!(
            kept_tallies(&mut conn, bob),
            tallies_from_rows(&mut conn, bob)
        );
        drop(conn);

        // The statistics read them: totals over all months.
        let (status, stats) = app
            .api(Method::GET, "/api/readings/stats", &token, None)
            .await;
        assert_eq!(status, 200, "{stats}");
        let total: i64 = expected.months.values().map(|m| m.0).sum();
        assert_eq!(stats["books_read_total"], total, "{backend:?}");

        // A user's deletion takes every tally row with it, and leaves the other user's alone.
        {
            use diesel::prelude::*;
            use panicless::db::schema::users;
            let mut conn = app.state.pool.get().unwrap();
            diesel::delete(users::table.find(alice))
                .execute(&mut conn)
                .unwrap();
            assert_eq!(kept_tallies(&mut conn, alice), Tallies::default());
            assert_eq!(
                kept_tallies(&mut conn, bob),
                tallies_from_rows(&mut conn, bob)
            );
        }
        app.stop().await;
    }
}

/// The "date added" and "rating" orders follow what each book shows: an import's "Date Added"
/// (not the order its rows were written in) and the rating of the latest rated reading. They
/// once followed the row id and the book's own rating, which an import leaves empty.
#[actix_web::test]
async fn added_and_rating_orders_follow_what_the_books_show() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let (_, token) = app.user("orders@example.org").await;
        let csv = "Book Id,Title,Author,Exclusive Shelf,My Rating,Date Added,Date Read\n\
                   1,Middle,A,read,3,2019/05/01,2019/06/01\n\
                   2,Newest,B,read,5,2024/01/10,2024/02/01\n\
                   3,Oldest,C,read,1,2011/03/03,2011/04/04\n\
                   4,Unrated,D,to-read,0,2015/07/07,\n";
        let response = app
            .client
            .post(app.at("/api/import/goodreads"))
            .bearer_auth(&token)
            .header("Content-Type", "text/csv")
            .body(csv)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
        let titles = |page: Value| -> Vec<String> {
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|b| b["title"].as_str().unwrap().to_string())
                .collect()
        };
        for (query, expected) in [
            ("", vec!["Newest", "Middle", "Unrated", "Oldest"]),
            ("?order=asc", vec!["Oldest", "Unrated", "Middle", "Newest"]),
            (
                "?q=e&sort=added",
                vec!["Newest", "Middle", "Unrated", "Oldest"],
            ),
            (
                "?sort=rating",
                vec!["Newest", "Middle", "Oldest", "Unrated"],
            ),
            (
                "?sort=rating&order=asc",
                vec!["Oldest", "Middle", "Newest", "Unrated"],
            ),
        ] {
            let (status, page) = app
                .api(Method::GET, &format!("/api/books{query}"), &token, None)
                .await;
            assert_eq!(status, 200, "{page}");
            assert_eq!(titles(page), expected, "{backend:?} /api/books{query}");
        }
        app.stop().await;
    }
}

//! The library's pages over HTTP, as a browser without JavaScript uses them: `/books`,
//! `/books/new` with "Look it up" against a local fake of the Open Library API, `/books/{id}`
//! and its forms, editing, deleting after confirmation, and the MCP `add_book` lookup.

use crate::common::{backends, csrf_from, Backend, TestApp, PASSWORD};
use crate::mcp::{mcp_token, Mcp};
use reqwest::Method;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// A local stand-in for Open Library's `/api/books` and `/search.json`: nothing in the tests
/// reaches the internet.
pub struct FakeOpenLibrary {
    pub url: String,
    pub hits: Arc<AtomicUsize>,
    handle: actix_web::dev::ServerHandle,
}

impl FakeOpenLibrary {
    /// Knows Dune by its ISBN and Piranesi by its title. `covers`: whether records name a cover
    /// (the browser, with no network, would show it broken).
    pub async fn start(covers: bool) -> FakeOpenLibrary {
        use actix_web::{web, App, HttpResponse, HttpServer};
        let hits = Arc::new(AtomicUsize::new(0));
        let counted = hits.clone();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let server = HttpServer::new(move || {
            let counted = counted.clone();
            App::new()
                .app_data(web::Data::new(counted))
                .route(
                    "/api/books",
                    web::get().to(
                        move |hits: web::Data<Arc<AtomicUsize>>,
                              query: web::Query<std::collections::HashMap<String, String>>| async move {
                            hits.fetch_add(1, Ordering::SeqCst);
                            let key = query.get("bibkeys").cloned().unwrap_or_default();
                            let body = if key == "ISBN:9780441013593" && query.get("jscmd").map(String::as_str) == Some("data") {
                                let mut record = json!({
                                    "title": "Dune",
                                    "authors": [{"name": "Frank Herbert", "url": "https://openlibrary.org/authors/OL79034A"}],
                                    "number_of_pages": 604,
                                    "publishers": [{"name": "Ace Books"}],
                                    "publish_date": "August 2005",
                                    "subjects": [{"name": "Science fiction"}],
                                    "identifiers": {"isbn_13": ["9780441013593"], "isbn_10": ["0441013597"]}
                                });
                                if covers {
                                    record["cover"] = json!({"medium": "https://covers.openlibrary.org/b/id/1-M.jpg"});
                                }
                                json!({ key: record })
                            } else {
                                json!({})
                            };
                            HttpResponse::Ok().json(body)
                        },
                    ),
                )
                .route(
                    "/search.json",
                    web::get().to(
                        |hits: web::Data<Arc<AtomicUsize>>,
                         query: web::Query<std::collections::HashMap<String, String>>| async move {
                            hits.fetch_add(1, Ordering::SeqCst);
                            let title = query.get("title").cloned().unwrap_or_default().to_lowercase();
                            let docs = if title.contains("piranesi") {
                                json!([{
                                    "title": "Piranesi",
                                    "author_name": ["Susanna Clarke"],
                                    "first_publish_year": 2020,
                                    "isbn": ["1635575637", "9781635575637"],
                                    "number_of_pages_median": 272
                                }])
                            } else {
                                json!([])
                            };
                            HttpResponse::Ok().json(json!({"numFound": docs.as_array().map_or(0, Vec::len), "docs": docs}))
                        },
                    ),
                )
        })
        .workers(1)
        .listen(listener)
        .unwrap()
        .run();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        FakeOpenLibrary { url, hits, handle }
    }

    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    pub async fn stop(self) {
        self.handle.stop(false).await;
    }
}

/// A client signed in through the login form as a new user `email`.
async fn signed_in(app: &TestApp, email: &str) -> reqwest::Client {
    app.register_user(email).await;
    let client = app.new_browser();
    let response = app.sign_in(&client, email, PASSWORD).await;
    assert_eq!(response.status(), 303);
    client
}

async fn page(client: &reqwest::Client, url: &str) -> (u16, String) {
    let response = client.get(url).send().await.unwrap();
    (
        response.status().as_u16(),
        response.text().await.unwrap_or_default(),
    )
}

async fn post_form(
    client: &reqwest::Client,
    url: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    client.post(url).form(form).send().await.unwrap()
}

fn location(response: &reqwest::Response) -> String {
    response.headers()["location"].to_str().unwrap().to_string()
}

/// The ids of the books a `/books` page lists, in order.
fn listed_ids(html: &str) -> Vec<i64> {
    html.split("<h2><a href=\"/books/")
        .skip(1)
        .map(|rest| rest[..rest.find('"').unwrap()].parse().unwrap())
        .collect()
}

async fn api_get(app: &TestApp, token: &str, id: i64) -> Value {
    app.api(Method::GET, &format!("/api/books/{id}"), token, None)
        .await
        .1
}

async fn api_book(app: &TestApp, token: &str, body: Value) -> i64 {
    let (status, book) = app.api(Method::POST, "/api/books", token, Some(body)).await;
    assert_eq!(status, 201, "{book}");
    book["id"].as_i64().unwrap()
}

#[actix_web::test]
async fn library_pages_send_visitors_to_sign_in_and_back() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        app.register_user("reader@example.org").await;
        let visitor = app.new_browser();
        for path in [
            "/books",
            "/books?q=le%20guin&shelf=read",
            "/books/new",
            "/books/1",
            "/books/1/edit",
            "/books/1/delete",
        ] {
            let response = visitor.get(app.at(path)).send().await.unwrap();
            assert_eq!(response.status(), 303, "{path}");
            let expected = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("return_to", path)
                .finish();
            assert_eq!(location(&response), format!("/login?{expected}"), "{path}");
        }
        // A form posted without a session saves nothing and asks to sign in.
        let response = post_form(
            &visitor,
            &app.at("/books/new"),
            &[("csrf_token", "x"), ("title", "Sneaky")],
        )
        .await;
        assert_eq!(response.status(), 303);
        assert!(location(&response).starts_with("/login?return_to="));

        // Signing in goes back to the page asked for, query and all.
        let csrf = csrf_from(
            &visitor,
            &app.at("/login?return_to=%2Fbooks%3Fq%3Dle%2520guin"),
        )
        .await;
        let response = post_form(
            &visitor,
            &app.at("/login"),
            &[
                ("csrf_token", csrf.as_str()),
                ("email", "reader@example.org"),
                ("password", PASSWORD),
                ("return_to", "/books?q=le%20guin"),
            ],
        )
        .await;
        assert_eq!(location(&response), "/books?q=le%20guin");
        // ... but never to another site.
        for evil in [
            "//evil.example/books",
            "https://evil.example/",
            "/\\evil.example",
        ] {
            let other = app.new_browser();
            let csrf = csrf_from(&other, &app.at("/login")).await;
            let response = post_form(
                &other,
                &app.at("/login"),
                &[
                    ("csrf_token", csrf.as_str()),
                    ("email", "reader@example.org"),
                    ("password", PASSWORD),
                    ("return_to", evil),
                ],
            )
            .await;
            assert_eq!(location(&response), "/", "{evil}");
        }
        app.stop().await;
    }
}

#[actix_web::test]
async fn the_library_page_filters_by_shelf_searches_sorts_and_pages() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let (_, token) = app.user("shelves@example.org").await;
        for n in 0..24 {
            api_book(
                &app,
                &token,
                json!({"title": format!("Volume {n:02}"), "authors": ["A. Writer"]}),
            )
            .await;
        }
        let emile = api_book(
            &app,
            &token,
            json!({"title": "Émile und die Detektive", "authors": ["Erich Kästner"], "shelf": "read", "rating": 4.5,
                   "cover_url": "https://covers.openlibrary.org/b/id/1-M.jpg"}),
        )
        .await;
        let reading = api_book(
            &app,
            &token,
            json!({"title": "A Wizard of Earthsea", "authors": ["Ursula K. Le Guin"], "shelf": "reading", "rating": 3}),
        )
        .await;
        app.api(
            Method::POST,
            "/api/readings",
            &token,
            Some(json!({"book_id": emile, "finished_on": "2024-03-01"})),
        )
        .await;
        let browser = app.new_browser();
        app.sign_in(&browser, "shelves@example.org", PASSWORD).await;

        let (status, html) = page(&browser, &app.at("/books")).await;
        assert_eq!(status, 200);
        for needle in [
            "All <span class=\"count\">(26)</span>",
            "To read <span class=\"count\">(24)</span>",
            "Reading <span class=\"count\">(1)</span>",
            "Read <span class=\"count\">(1)</span>",
            "Abandoned <span class=\"count\">(0)</span>",
            "1–20 of 26 books",
            "href=\"/books?page=2\" rel=\"next\"",
            "src=\"https://covers.openlibrary.org/b/id/1-M.jpg\"",
            "rated 4.5 of 5",
            "aria-current=\"page\">Library</a>",
        ] {
            assert!(
                html.contains(needle),
                "{backend:?}: no `{needle}` in {html}"
            );
        }
        assert_eq!(listed_ids(&html).len(), 20);
        assert_eq!(listed_ids(&html)[0], reading, "newest first");
        let (_, second) = page(&browser, &app.at("/books?page=2")).await;
        assert!(second.contains("21–26 of 26 books"), "{second}");
        assert!(second.contains("rel=\"prev\"") && !second.contains("rel=\"next\""));
        let mut all = listed_ids(&html);
        all.extend(listed_ids(&second));
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 26, "every book on one page or the other");

        // The API's search: case and accents do not matter, and the page finds what it finds.
        for q in ["emile", "KASTNER", "détektive"] {
            let (_, html) = page(&browser, &app.at(&format!("/books?q={q}"))).await;
            let (_, api) = app
                .api(Method::GET, &format!("/api/books?q={q}"), &token, None)
                .await;
            let api_ids: Vec<i64> = api["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|b| b["id"].as_i64().unwrap())
                .collect();
            assert_eq!(listed_ids(&html), vec![emile], "{backend:?} {q}");
            assert_eq!(listed_ids(&html), api_ids, "{q}");
            assert!(html.contains(&format!("matching “{q}”")), "{html}");
        }
        let (_, none) = page(&browser, &app.at("/books?q=zzzz")).await;
        assert!(none.contains("No book matches “zzzz”"), "{none}");

        // Shelves filter, and the search box keeps the shelf.
        let (_, read) = page(&browser, &app.at("/books?shelf=read")).await;
        assert_eq!(listed_ids(&read), vec![emile]);
        assert!(read.contains("<input type=\"hidden\" name=\"shelf\" value=\"read\">"));
        assert!(read.contains("href=\"/books?shelf=read\" aria-current=\"page\""));

        // Sorts: title A to Z, rating best first, date read latest first (never-read last).
        let (_, by_title) = page(&browser, &app.at("/books?sort=title")).await;
        assert_eq!(listed_ids(&by_title)[0], reading, "“A Wizard” first");
        let (_, by_title_desc) = page(&browser, &app.at("/books?sort=title&order=desc")).await;
        let at = |title: &str| by_title_desc.find(title).unwrap();
        assert!(at("Volume 23") < at("Volume 22") && at("Volume 05") < at("Volume 04"));
        assert!(
            !by_title_desc.contains("Earthsea"),
            "Z to A: “A Wizard” is on the last page"
        );
        let (_, by_rating) = page(&browser, &app.at("/books?sort=rating")).await;
        assert_eq!(listed_ids(&by_rating)[..2], [emile, reading]);
        let (_, by_rating_asc) = page(&browser, &app.at("/books?sort=rating&order=asc")).await;
        assert_eq!(
            listed_ids(&by_rating_asc)[..2],
            [reading, emile],
            "unrated last"
        );
        let (_, by_read) = page(&browser, &app.at("/books?sort=read")).await;
        assert_eq!(listed_ids(&by_read)[0], emile);
        assert!(by_read.contains("<option value=\"read\" selected>Date read</option>"));
        // The order follows the readings as they are logged, changed and deleted.
        let (_, later) = app
            .api(
                Method::POST,
                "/api/readings",
                &token,
                Some(json!({"book_id": reading, "finished_on": "2025-01-01"})),
            )
            .await;
        let first_by_read =
            || async { listed_ids(&page(&browser, &app.at("/books?sort=read")).await.1)[0] };
        assert_eq!(first_by_read().await, reading);
        let later_id = later["id"].as_i64().unwrap();
        app.api(
            Method::PATCH,
            &format!("/api/readings/{later_id}"),
            &token,
            Some(json!({"finished_on": "2023-01-01"})),
        )
        .await;
        assert_eq!(first_by_read().await, emile);
        app.api(
            Method::PATCH,
            &format!("/api/readings/{later_id}"),
            &token,
            Some(json!({"finished_on": "2025-06-01"})),
        )
        .await;
        assert_eq!(first_by_read().await, reading);
        app.api(
            Method::DELETE,
            &format!("/api/readings/{later_id}"),
            &token,
            None,
        )
        .await;
        assert_eq!(first_by_read().await, emile);
        // The API sorts the same way.
        let (_, api) = app
            .api(
                Method::GET,
                "/api/books?sort=rating&order=asc",
                &token,
                None,
            )
            .await;
        assert_eq!(api["items"][0]["id"], reading);
        // Nonsense in the address is the default listing, not an error.
        let (status, _) = page(
            &browser,
            &app.at("/books?sort=nope&order=up&page=-3&shelf=x"),
        )
        .await;
        assert_eq!(status, 200);
        app.stop().await;
    }
}

#[actix_web::test]
async fn adding_a_book_keeps_what_was_typed_and_saves_nothing_refused() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let browser = signed_in(&app, "adder@example.org").await;
        let token = app.login_token("adder@example.org").await;
        let (status, form) = page(&browser, &app.at("/books/new")).await;
        assert_eq!(status, 200);
        assert!(
            !form.contains("Look it up"),
            "no lookup button when lookups are off"
        );
        let csrf = crate::common::hidden_field(&form, "csrf_token").unwrap();
        let response = post_form(
            &browser,
            &app.at("/books/new"),
            &[
                ("csrf_token", &csrf),
                ("title", "  "),
                ("authors", "Frank Herbert\n"),
                ("pages", "many"),
                ("published_year", "1965"),
                ("isbn", "978-0-441-01359-4"),
                ("rating", "4.3"),
                ("description", "A desert <planet>."),
            ],
        )
        .await;
        assert_eq!(response.status(), 422);
        let html = response.text().await.unwrap();
        for needle in [
            "id=\"title-error\">Is required.",
            "id=\"pages-error\">Must be a whole number.",
            "id=\"isbn-error\"",
            "id=\"rating-error\"",
            "value=\"1965\"",
            "value=\"many\"",
            ">Frank Herbert\n</textarea>",
            "A desert ",
        ] {
            assert!(
                html.contains(needle),
                "{backend:?}: no `{needle}` in {html}"
            );
        }
        assert!(!html.contains("<planet>"), "what was typed is escaped");
        let (_, list) = app.api(Method::GET, "/api/books", &token, None).await;
        assert_eq!(list["total"], 0, "nothing saved");

        // Without the form's CSRF token nothing is saved either.
        let response = post_form(
            &browser,
            &app.at("/books/new"),
            &[("csrf_token", "forged"), ("title", "Dune")],
        )
        .await;
        assert_eq!(response.status(), 403);
        let (_, list) = app.api(Method::GET, "/api/books", &token, None).await;
        assert_eq!(list["total"], 0);

        let fields = [
            ("csrf_token", csrf.as_str()),
            ("title", "Dune"),
            ("authors", "Frank Herbert"),
            ("isbn", "978-0-441-01359-3"),
            ("pages", "604"),
            ("published_year", "1965"),
            ("tags", "Science Fiction, classics"),
            ("shelf", "reading"),
            ("rating", "4.5"),
        ];
        let response = post_form(&browser, &app.at("/books/new"), &fields).await;
        assert_eq!(response.status(), 303);
        let at = location(&response);
        let id: i64 = at.trim_start_matches("/books/").parse().unwrap();
        let (status, book) = app
            .api(Method::GET, &format!("/api/books/{id}"), &token, None)
            .await;
        assert_eq!(status, 200);
        assert_eq!(book["isbn13"], "9780441013593");
        assert_eq!(book["tags"], json!(["science fiction", "classics"]));
        assert_eq!(book["shelf"], "reading");
        assert_eq!(book["rating"], 4.5);
        let (_, shown) = page(&browser, &app.at(&at)).await;
        assert!(shown.contains("Added “Dune” to your library."), "{shown}");
        let (_, again) = page(&browser, &app.at(&at)).await;
        assert!(!again.contains("Added “Dune”"), "the message is shown once");

        // The same book again is refused, naming the one there.
        let response = post_form(&browser, &app.at("/books/new"), &fields).await;
        assert_eq!(response.status(), 409);
        let html = response.text().await.unwrap();
        assert!(
            html.contains(&format!("href=\"/books/{id}\">see it</a>")),
            "{html}"
        );
        assert!(html.contains("value=\"Dune\""));
        let (_, list) = app.api(Method::GET, "/api/books", &token, None).await;
        assert_eq!(list["total"], 1);
        app.stop().await;
    }
}

#[actix_web::test]
async fn a_book_page_moves_rates_logs_edits_and_deletes_after_confirmation() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let browser = signed_in(&app, "owner@example.org").await;
        let token = app.login_token("owner@example.org").await;
        let id = api_book(
            &app,
            &token,
            json!({"title": "The Dispossessed", "authors": ["Ursula K. Le Guin"], "pages": 387}),
        )
        .await;
        let url = app.at(&format!("/books/{id}"));
        let (status, html) = page(&browser, &url).await;
        assert_eq!(status, 200);
        assert!(html.contains("<h1 id=\"book-title\">The Dispossessed</h1>"));
        assert!(html.contains("No reading logged yet."));
        let csrf = crate::common::hidden_field(&html, "csrf_token").unwrap();

        let response = post_form(
            &browser,
            &format!("{url}/shelf"),
            &[("csrf_token", &csrf), ("shelf", "reading")],
        )
        .await;
        assert_eq!(response.status(), 303);
        assert_eq!(location(&response), format!("/books/{id}"));
        assert_eq!(api_get(&app, &token, id).await["shelf"], "reading");

        let response = post_form(
            &browser,
            &format!("{url}/rating"),
            &[("csrf_token", &csrf), ("rating", "4.25")],
        )
        .await;
        assert_eq!(response.status(), 303);
        assert_eq!(api_get(&app, &token, id).await["rating"], 4.25);
        let response = post_form(
            &browser,
            &format!("{url}/rating"),
            &[("csrf_token", &csrf), ("rating", "7")],
        )
        .await;
        assert_eq!(response.status(), 422);
        let html = response.text().await.unwrap();
        assert!(html.contains("id=\"rating-error\""), "{html}");
        assert_eq!(
            api_get(&app, &token, id).await["rating"],
            4.25,
            "nothing saved"
        );

        // A reading finished before it started: refused, what was typed kept, nothing saved.
        let response = post_form(
            &browser,
            &format!("{url}/readings"),
            &[
                ("csrf_token", &csrf),
                ("status", "finished"),
                ("started_on", "2024-05-10"),
                ("finished_on", "2024-05-01"),
                ("pages_read", "387"),
            ],
        )
        .await;
        assert_eq!(response.status(), 422);
        let html = response.text().await.unwrap();
        assert!(
            html.contains("id=\"finished_on-error\">Is before started_on."),
            "{html}"
        );
        assert!(html.contains("value=\"2024-05-10\"") && html.contains("value=\"387\""));
        assert!(html.contains("<option value=\"finished\" selected>"));
        let (_, readings) = app
            .api(
                Method::GET,
                &format!("/api/readings?book_id={id}"),
                &token,
                None,
            )
            .await;
        assert_eq!(readings["total"], 0);
        let response = post_form(
            &browser,
            &format!("{url}/readings"),
            &[
                ("csrf_token", &csrf),
                ("started_on", "soon"),
                ("progress", "half"),
            ],
        )
        .await;
        assert_eq!(response.status(), 422);
        let html = response.text().await.unwrap();
        assert!(html.contains("id=\"started_on-error\"") && html.contains("id=\"progress-error\""));

        let response = post_form(
            &browser,
            &format!("{url}/readings"),
            &[
                ("csrf_token", &csrf),
                ("started_on", "2024-05-01"),
                ("finished_on", "2024-05-10"),
                ("pages_read", "387"),
            ],
        )
        .await;
        assert_eq!(response.status(), 303);
        assert_eq!(
            api_get(&app, &token, id).await["shelf"],
            "read",
            "finishing moves it to Read"
        );
        let (_, html) = page(&browser, &url).await;
        assert!(
            html.contains("Reading logged.") && html.contains("<td>2024-05-10</td>"),
            "{html}"
        );

        // Edit: every field; a refusal saves nothing.
        let (_, edit) = page(&browser, &format!("{url}/edit")).await;
        assert!(edit.contains("value=\"The Dispossessed\"") && edit.contains("value=\"387\""));
        assert!(edit.contains(">Ursula K. Le Guin</textarea>"));
        let response = post_form(
            &browser,
            &format!("{url}/edit"),
            &[
                ("csrf_token", &csrf),
                ("title", "The Dispossessed: An Ambiguous Utopia"),
                ("authors", "Ursula K. Le Guin"),
                ("pages", "-1"),
                ("shelf", "read"),
            ],
        )
        .await;
        assert_eq!(response.status(), 422);
        let html = response.text().await.unwrap();
        assert!(html.contains("id=\"pages-error\""), "{html}");
        assert!(html.contains("value=\"The Dispossessed: An Ambiguous Utopia\""));
        assert_eq!(api_get(&app, &token, id).await["title"], "The Dispossessed");
        let response = post_form(
            &browser,
            &format!("{url}/edit"),
            &[
                ("csrf_token", &csrf),
                ("title", "The Dispossessed: An Ambiguous Utopia"),
                ("authors", "Ursula K. Le Guin"),
                ("pages", "400"),
                ("series", "Hainish Cycle, #6"),
                ("shelf", "read"),
                ("rating", "5"),
            ],
        )
        .await;
        assert_eq!(response.status(), 303);
        let saved = api_get(&app, &token, id).await;
        assert_eq!(saved["title"], "The Dispossessed: An Ambiguous Utopia");
        assert_eq!(saved["pages"], 400);
        assert_eq!(saved["series"], "Hainish Cycle, #6");
        assert_eq!(saved["rating"], 5.0);

        // Another user sees nothing of it and can change nothing.
        let stranger = signed_in(&app, "stranger@example.org").await;
        let stranger_csrf = csrf_from(&stranger, &app.at("/books/new")).await;
        for path in ["", "/edit", "/delete"] {
            let (status, _) = page(&stranger, &format!("{url}{path}")).await;
            assert_eq!(status, 404, "{path}");
        }
        for (path, form) in [
            ("/delete", vec![("csrf_token", stranger_csrf.as_str())]),
            (
                "/shelf",
                vec![
                    ("csrf_token", stranger_csrf.as_str()),
                    ("shelf", "abandoned"),
                ],
            ),
            (
                "/rating",
                vec![("csrf_token", stranger_csrf.as_str()), ("rating", "1")],
            ),
            (
                "/readings",
                vec![
                    ("csrf_token", stranger_csrf.as_str()),
                    ("finished_on", "2024-01-01"),
                ],
            ),
            (
                "/edit",
                vec![
                    ("csrf_token", stranger_csrf.as_str()),
                    ("title", "Mine now"),
                ],
            ),
        ] {
            let response = post_form(&stranger, &format!("{url}{path}"), &form).await;
            assert_eq!(response.status(), 404, "{path}");
        }
        assert_eq!(
            api_get(&app, &token, id).await["title"],
            "The Dispossessed: An Ambiguous Utopia"
        );
        assert_eq!(api_get(&app, &token, id).await["shelf"], "read");

        // Delete asks first; only the confirmation's POST deletes.
        let (status, confirm) = page(&browser, &format!("{url}/delete")).await;
        assert_eq!(status, 200);
        assert!(
            confirm.contains("with its 1 reading.") && confirm.contains("Delete this book"),
            "{confirm}"
        );
        assert_eq!(
            app.api(Method::GET, &format!("/api/books/{id}"), &token, None)
                .await
                .0,
            200
        );
        let response = post_form(
            &browser,
            &format!("{url}/delete"),
            &[("csrf_token", "forged")],
        )
        .await;
        assert_eq!(response.status(), 403);
        let response =
            post_form(&browser, &format!("{url}/delete"), &[("csrf_token", &csrf)]).await;
        assert_eq!(response.status(), 303);
        assert_eq!(location(&response), "/books");
        assert_eq!(
            app.api(Method::GET, &format!("/api/books/{id}"), &token, None)
                .await
                .0,
            404
        );
        let (_, list) = page(&browser, &app.at("/books")).await;
        assert!(
            list.contains("Deleted “The Dispossessed: An Ambiguous Utopia”."),
            "{list}"
        );
        app.stop().await;
    }
}

#[actix_web::test]
async fn the_home_page_shows_reading_and_finished_books_and_the_mcp_url() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let browser = signed_in(&app, "home@example.org").await;
        let token = app.login_token("home@example.org").await;
        let (_, empty) = page(&browser, &app.at("/")).await;
        assert!(empty.contains("Nothing on the Reading shelf"), "{empty}");
        assert!(empty.contains(&app.at("/mcp")));
        let current = api_book(
            &app,
            &token,
            json!({"title": "Middlemarch", "authors": ["George Eliot"], "shelf": "reading"}),
        )
        .await;
        let done = api_book(
            &app,
            &token,
            json!({"title": "Kindred", "authors": ["Octavia E. Butler"]}),
        )
        .await;
        app.api(
            Method::POST,
            "/api/readings",
            &token,
            Some(json!({"book_id": done, "finished_on": "2024-02-02", "rating": 5})),
        )
        .await;
        let (status, home) = page(&browser, &app.at("/")).await;
        assert_eq!(status, 200);
        assert!(
            home.contains(&format!("<a href=\"/books/{current}\">Middlemarch</a>")),
            "{home}"
        );
        assert!(
            home.contains(&format!(
                "<a href=\"/books/{done}\">Kindred</a>, 2024-02-02"
            )),
            "{home}"
        );
        assert!(
            !home.contains("reading goal"),
            "no goal block until the goal exists"
        );
        // Signed out: the landing page.
        let (_, landing) = page(&app.new_browser(), &app.at("/")).await;
        assert!(landing.contains("Your library, for you and your AI assistant"));
        app.stop().await;
    }
}

#[actix_web::test]
async fn look_it_up_fills_the_form_from_the_metadata_source() {
    let fake = FakeOpenLibrary::start(true).await;
    for backend in backends() {
        let app = TestApp::spawn_with(backend, &[("METADATA_URL", &fake.url)]).await;
        let browser = signed_in(&app, "lookup@example.org").await;
        let token = app.login_token("lookup@example.org").await;
        let (_, form) = page(&browser, &app.at("/books/new")).await;
        assert!(form.contains("value=\"lookup\""), "{form}");
        assert!(form.contains("fills the form from 127.0.0.1"), "{form}");
        let csrf = crate::common::hidden_field(&form, "csrf_token").unwrap();
        let before = fake.hits();
        let lookup = |isbn: &'static str, title: &'static str| {
            let (browser, csrf, url) = (browser.clone(), csrf.clone(), app.at("/books/new"));
            async move {
                let response = post_form(
                    &browser,
                    &url,
                    &[
                        ("csrf_token", csrf.as_str()),
                        ("action", "lookup"),
                        ("isbn", isbn),
                        ("title", title),
                        ("shelf", "read"),
                    ],
                )
                .await;
                (response.status().as_u16(), response.text().await.unwrap())
            }
        };
        let (status, html) = lookup("978-0-441-01359-3", "typed title").await;
        assert_eq!(status, 200);
        for needle in [
            "Found on 127.0.0.1",
            "value=\"Dune\"",
            ">Frank Herbert</textarea>",
            "value=\"604\"",
            "value=\"2005\"",
            "value=\"Ace Books\"",
            "value=\"9780441013593\"",
            "value=\"https://covers.openlibrary.org/b/id/1-M.jpg\"",
            "<option value=\"read\" selected>",
        ] {
            assert!(
                html.contains(needle),
                "{backend:?}: no `{needle}` in {html}"
            );
        }
        assert_eq!(fake.hits(), before + 1);
        // Asked again: answered from the cache, the source is not asked.
        let (_, again) = lookup("9780441013593", "").await;
        assert!(again.contains("value=\"Dune\""));
        assert_eq!(fake.hits(), before + 1, "cached");
        // Nothing was saved by looking up.
        let (_, list) = app.api(Method::GET, "/api/books", &token, None).await;
        assert_eq!(list["total"], 0);

        // By title when there is no ISBN.
        let (_, by_title) = lookup("", "piranesi").await;
        assert!(
            by_title.contains(">Susanna Clarke</textarea>")
                && by_title.contains("value=\"9781635575637\""),
            "{by_title}"
        );
        let (_, unknown) = lookup("978-0-00-000000-2", "").await;
        assert!(
            unknown.contains("127.0.0.1 does not know this book"),
            "{unknown}"
        );
        let (status, invalid) = lookup("12345", "").await;
        assert_eq!(status, 422);
        assert!(invalid.contains("id=\"isbn-error\""), "{invalid}");
        app.stop().await;
    }

    // A source that does not answer: a clear message, then the failure is remembered briefly.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let app = TestApp::spawn_with(Backend::Sqlite, &[("METADATA_URL", &closed)]).await;
    let browser = signed_in(&app, "offline@example.org").await;
    let csrf = csrf_from(&browser, &app.at("/books/new")).await;
    let started = std::time::Instant::now();
    let response = post_form(
        &browser,
        &app.at("/books/new"),
        &[
            ("csrf_token", &csrf),
            ("action", "lookup"),
            ("isbn", "9780441013593"),
            ("title", "Kept"),
        ],
    )
    .await;
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    assert!(html.contains("could not be reached just now"), "{html}");
    assert!(html.contains("value=\"Kept\""), "what was typed stays");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    app.stop().await;
    fake.stop().await;
}

/// A tool result's JSON, from its text block (every protocol version has it).
fn text_of(result: &Value) -> Value {
    serde_json::from_str(result["content"][0]["text"].as_str().unwrap()).unwrap()
}

#[actix_web::test]
async fn mcp_add_book_looks_up_an_isbn_or_a_title() {
    let fake = FakeOpenLibrary::start(false).await;
    for backend in backends() {
        let app = TestApp::spawn_with(backend, &[("METADATA_URL", &fake.url)]).await;
        let token = mcp_token(&app, "claude@example.org").await;
        let mcp = Mcp::new(&app, &token);
        let added = mcp.call("add_book", json!({"isbn": "0441013597"})).await;
        assert_eq!(added["isError"], false, "{backend:?} {added}");
        let book = &text_of(&added)["book"];
        assert_eq!(book["title"], "Dune");
        assert_eq!(book["authors"], json!(["Frank Herbert"]));
        assert_eq!(book["pages"], 604);
        assert_eq!(book["isbn13"], "9780441013593");
        assert_eq!(text_of(&added)["looked_up"]["source"], "127.0.0.1");

        // Only a title: the rest is filled in, the title given is kept.
        let added = mcp
            .call("add_book", json!({"title": "Piranesi", "shelf": "reading"}))
            .await;
        assert_eq!(added["isError"], false, "{added}");
        let book = &text_of(&added)["book"];
        assert_eq!(book["authors"], json!(["Susanna Clarke"]));
        assert_eq!(book["isbn13"], "9781635575637");
        assert_eq!(book["shelf"], "reading");

        // A title with its author is added as given, without a lookup.
        let hits = fake.hits();
        let added = mcp
            .call(
                "add_book",
                json!({"title": "Unknown Book", "authors": ["Nobody"]}),
            )
            .await;
        assert_eq!(added["isError"], false);
        assert_eq!(fake.hits(), hits);
        assert!(text_of(&added).get("looked_up").is_none());
        // An unknown title alone is still added.
        let added = mcp
            .call("add_book", json!({"title": "Obscure Pamphlet"}))
            .await;
        assert_eq!(added["isError"], false, "{added}");
        // An ISBN the source does not know, alone, cannot be added: there is no title.
        let refused = mcp.call("add_book", json!({"isbn": "9780000000002"})).await;
        assert_eq!(refused["isError"], true);
        assert!(
            refused["content"][0]["text"]
                .as_str()
                .unwrap()
                .contains("does not know this book"),
            "{refused}"
        );
        // A token that may only read never makes the server look anything up.
        let reader = app.register_user("read-only@example.org").await;
        let read_only = app.token_for_audience(reader, "read", &format!("{}/mcp", app.url));
        let hits = fake.hits();
        let (_, refused) = Mcp::new(&app, &read_only)
            .rpc(
                "tools/call",
                json!({"name": "add_book", "arguments": {"isbn": "9781635575637"}}),
            )
            .await;
        assert!(
            refused.get("result").is_none() || refused["result"]["isError"] == true,
            "{refused}"
        );
        assert_eq!(fake.hits(), hits);
        let all = mcp.call("search_books", json!({})).await;
        assert_eq!(text_of(&all)["total"], 4, "{all}");
        app.stop().await;
    }
    fake.stop().await;
}

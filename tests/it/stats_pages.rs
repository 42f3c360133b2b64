//! `/stats` and the goal form over HTTP, as a browser without JavaScript uses them, on both
//! backends.

use crate::common::{backends, csrf_from, hidden_field, TestApp, PASSWORD};
use crate::goals::{finished_book, this_year};
use reqwest::Method;
use serde_json::json;

fn location(response: &reqwest::Response) -> String {
    response.headers()["location"].to_str().unwrap().to_string()
}

/// Signs up `email` through the API and returns (a signed-in browser, an API token).
async fn reader(app: &TestApp, email: &str) -> (reqwest::Client, String) {
    let (_, token) = app.user(email).await;
    let browser = app.new_browser();
    let response = app.sign_in(&browser, email, PASSWORD).await;
    assert_eq!(response.status(), 303);
    (browser, token)
}

/// Every field a person fills in (input, select) has a `<label for>` naming its id.
fn assert_fields_labelled(html: &str) {
    for tag_name in ["<input", "<select"] {
        let mut rest = html;
        while let Some(at) = rest.find(tag_name) {
            let tag = &rest[at..at + rest[at..].find('>').unwrap()];
            rest = &rest[at + tag.len()..];
            if tag.contains("type=\"hidden\"") {
                continue;
            }
            let id = tag
                .split(" id=\"")
                .nth(1)
                .and_then(|t| t.split('"').next())
                .unwrap_or_else(|| panic!("no id: {tag}"));
            assert!(
                html.contains(&format!("<label for=\"{id}\"")),
                "no label for {tag}>"
            );
        }
    }
}

async fn page(browser: &reqwest::Client, url: &str) -> (u16, String) {
    let response = browser.get(url).send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[actix_web::test]
async fn signed_out_visitors_are_sent_to_sign_in_and_back() {
    let app = TestApp::spawn(crate::common::Backend::Sqlite).await;
    let anonymous = app.new_browser();
    let response = anonymous
        .get(app.at("/stats?year=2025"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(
        location(&response),
        "/login?return_to=%2Fstats%3Fyear%3D2025"
    );
    let response = anonymous
        .post(app.at("/stats/goal"))
        .form(&[("csrf_token", "x"), ("year", "2025"), ("books", "3")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    assert!(location(&response).starts_with("/login?return_to="));
    app.stop().await;
}

#[actix_web::test]
async fn the_page_draws_every_chart_with_its_text_and_numbers() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let (browser, token) = reader(&app, "charts@example.org").await;

        // An empty library: a page that says so, a calendar, and no empty charts.
        let (status, empty) = page(&browser, &app.at("/stats")).await;
        assert_eq!(status, 200, "{backend:?}");
        assert!(empty.contains("Nothing finished yet"), "{empty}");
        assert!(empty.contains("No reading started or finished in"));
        assert!(!empty.contains("<table"), "no tables of zeros");
        assert_eq!(
            empty.matches("role=\"img\"").count(),
            1,
            "only the calendar"
        );

        let year = this_year();
        let jan = format!("{year}-01-01");
        let older = format!("{}-03-15", year - 2);
        finished_book(&app, &token, json!({"title": "The Dispossessed", "authors": ["Ursula K. Le Guin"], "pages": 387, "tags": ["science fiction"]}), Some(&jan), Some(5.0)).await;
        finished_book(&app, &token, json!({"title": "The Lathe of Heaven", "authors": ["Ursula K. Le Guin"], "pages": 184, "tags": ["science fiction"]}), Some(&jan), Some(3.75)).await;
        finished_book(&app, &token, json!({"title": "Wolf Hall <i>", "authors": ["Hilary Mantel"], "pages": 653, "tags": ["historical"]}), Some(&older), Some(4.0)).await;

        let (status, html) = page(&browser, &app.at(&format!("/stats?year={year}"))).await;
        assert_eq!(status, 200);
        assert!(!html.contains("<script"), "no JavaScript");
        assert_fields_labelled(&html);
        assert!(
            !html.contains("style=\""),
            "no inline styles (the CSP forbids them)"
        );
        // Six charts, each an image named by its title and description.
        assert_eq!(html.matches("role=\"img\"").count(), 7, "{html}");
        for id in [
            "chart-months",
            "chart-calendar",
            "chart-books-per-year",
            "chart-pages-per-year",
            "chart-ratings",
            "chart-authors",
            "chart-tags",
        ] {
            assert!(
                html.contains(&format!("aria-labelledby=\"{id}-title {id}-desc\"")),
                "{id}"
            );
            assert!(html.contains(&format!("<title id=\"{id}-title\">")), "{id}");
            assert!(html.contains(&format!("<desc id=\"{id}-desc\">")), "{id}");
        }
        assert!(html.contains(&format!("Column chart of the 2 books finished in {year}, month by month. The most: 2 in January.")), "{html}");
        assert!(
            html.contains("Bar chart of the 2 authors you finished the most books of: Ursula K. Le Guin (2), Hilary Mantel (1)."),
            "{html}"
        );
        // Their numbers, in tables.
        assert!(html.contains("<caption>Books finished and pages read per year</caption>"));
        assert!(
            html.contains(&format!(
                "<tr><th scope=\"row\">{year}</th><td>2</td><td>571</td></tr>"
            )),
            "{html}"
        );
        assert!(
            html.contains(&format!(
                "<tr><th scope=\"row\">{}</th><td>0</td><td>0</td></tr>",
                year - 1
            )),
            "a year without books is a zero, not a gap"
        );
        assert!(html.contains("<tr><th scope=\"row\">January</th><td>2</td><td>571</td></tr>"));
        assert!(html.contains("<tr><th scope=\"row\">Ursula K. Le Guin</th><td>2</td></tr>"));
        assert!(html.contains("<tr><th scope=\"row\">5 stars</th><td>1</td></tr>"));
        assert!(
            html.contains("<tr><th scope=\"row\">4 stars</th><td>2</td></tr>"),
            "3.75 rounds to four stars"
        );
        assert!(
            html.contains("<tr><th scope=\"row\">January</th><td>1</td><td>2</td></tr>"),
            "one day, two readings finished: {html}"
        );
        // The calendar has a square for each day of the year.
        let days = if chrono::NaiveDate::from_ymd_opt(year, 2, 29).is_some() {
            366
        } else {
            365
        };
        use chrono::Datelike;
        let past = chrono::Utc::now().date_naive().ordinal() as usize;
        assert_eq!(html.matches("class=\"day ").count(), days);
        assert_eq!(
            html.matches("class=\"day future\"").count(),
            days - past,
            "days to come are outlined"
        );
        assert_eq!(html.matches("class=\"day lvl2\"").count(), 1, "{html}");
        assert_eq!(html.matches("class=\"day lvl0\"").count(), past - 1);

        // Another year: its own months, the same all-time charts, and a selector with the years.
        let (status, other) = page(&browser, &app.at(&format!("/stats?year={}", year - 2))).await;
        assert_eq!(status, 200);
        assert!(other.contains(&format!(
            "<h1 id=\"stats-heading\">Statistics for {}</h1>",
            year - 2
        )));
        assert!(other.contains("<tr><th scope=\"row\">March</th><td>1</td><td>653</td></tr>"));
        assert!(other.contains(&format!("<option value=\"{}\" selected>", year - 2)));
        assert!(other.contains(&format!("<option value=\"{year}\">")));
        assert!(other.contains(&format!("href=\"/stats?year={year}\" rel=\"next\"")));
        assert!(
            !html.contains("Wolf Hall <i>") && !other.contains("<i>"),
            "names are escaped"
        );

        // A year that is not one: a page saying so.
        let (status, bad) = page(&browser, &app.at("/stats?year=twenty")).await;
        assert_eq!(status, 400);
        assert!(bad.contains("year"), "{bad}");

        // Another reader sees only their own figures.
        let (stranger, _) = reader(&app, "stranger@example.org").await;
        let (_, theirs) = page(&stranger, &app.at(&format!("/stats?year={year}"))).await;
        assert!(theirs.contains("Nothing finished yet"));
        assert!(!theirs.contains("Le Guin"));
        app.stop().await;
    }
}

#[actix_web::test]
async fn the_goal_form_saves_refuses_and_returns() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let (browser, token) = reader(&app, "former@example.org").await;
        let year = this_year();
        let stats_url = app.at(&format!("/stats?year={year}"));
        let csrf = csrf_from(&browser, &stats_url).await;
        let post = |fields: Vec<(&'static str, String)>| {
            let browser = browser.clone();
            let url = app.at("/stats/goal");
            async move { browser.post(url).form(&fields).send().await.unwrap() }
        };

        // Without the CSRF token: refused, nothing saved.
        let response = post(vec![
            ("csrf_token", "forged".into()),
            ("year", year.to_string()),
            ("books", "10".into()),
        ])
        .await;
        assert_eq!(response.status(), 403, "{backend:?}");

        // Refused input: shown again with the error next to the field, nothing saved.
        for (typed, message) in [
            ("abc", "Enter a whole number of books, from 1 to 1000."),
            ("", "Enter how many books you mean to read."),
            ("0", "The number of books must be between 1 and 1000."),
            ("5000", "The number of books must be between 1 and 1000."),
        ] {
            let response = post(vec![
                ("csrf_token", csrf.clone()),
                ("year", year.to_string()),
                ("books", typed.into()),
            ])
            .await;
            assert_eq!(response.status(), 422, "{typed}");
            let html = response.text().await.unwrap();
            let error =
                format!("<p class=\"field-error\" id=\"goal-books-error-{year}\">{message}</p>");
            assert!(html.contains(&error), "{typed}: {html}");
            assert!(html.contains(&format!("value=\"{typed}\" aria-invalid=\"true\" aria-describedby=\"goal-books-error-{year}\"")), "{typed}: what was typed is kept");
        }
        let (status, _) = app
            .api(Method::GET, &format!("/api/goals/{year}"), &token, None)
            .await;
        assert_eq!(status, 404, "nothing half-saved");

        // Accepted: POST, redirect, GET, with a notice once.
        let response = post(vec![
            ("csrf_token", csrf.clone()),
            ("year", year.to_string()),
            ("books", " 24 ".into()),
        ])
        .await;
        assert_eq!(response.status(), 303);
        assert_eq!(location(&response), format!("/stats?year={year}#goal"));
        let (_, html) = page(&browser, &stats_url).await;
        assert!(
            html.contains(&format!("Your goal for {year} is saved: 24 books.")),
            "{html}"
        );
        assert!(
            html.contains(&format!("0 of 24 books read in {year} (0%)")),
            "{html}"
        );
        assert!(html.contains("<progress class=\"goal-bar\" max=\"100\" value=\"0\""));
        assert!(html.contains(&format!("id=\"goal-books-{year}\" name=\"books\" type=\"number\" inputmode=\"numeric\" min=\"1\" max=\"1000\" step=\"1\" value=\"24\"")));
        let (_, again) = page(&browser, &stats_url).await;
        assert!(!again.contains("is saved"), "the notice is shown once");
        let (_, goal) = app
            .api(Method::GET, &format!("/api/goals/{year}"), &token, None)
            .await;
        assert_eq!(goal["books"], 24, "the API sees what the page saved");

        // From the home page: back to the home page, which shows the progress.
        let (_, home) = page(&browser, &app.at("/")).await;
        assert!(home.contains(&format!("Reading goal for {year}")), "{home}");
        assert_fields_labelled(&home);
        assert!(home.contains("name=\"from\" value=\"home\""));
        finished_book(
            &app,
            &token,
            json!({"title": "Emma"}),
            Some(&format!("{year}-01-01")),
            None,
        )
        .await;
        let response = post(vec![
            ("csrf_token", csrf.clone()),
            ("year", year.to_string()),
            ("books", "2".into()),
            ("from", "home".into()),
        ])
        .await;
        assert_eq!(response.status(), 303);
        assert_eq!(location(&response), "/");
        let (_, home) = page(&browser, &app.at("/")).await;
        assert!(
            home.contains(&format!("Your goal for {year} is saved: 2 books.")),
            "{home}"
        );
        assert!(
            home.contains(&format!("1 of 2 books read in {year} (50%)")),
            "{home}"
        );
        assert!(home.contains("value=\"50\""));

        // Removed from /stats.
        let (_, html) = page(&browser, &stats_url).await;
        let remove_csrf = hidden_field(
            &html[html.find("/stats/goal/delete").unwrap()..],
            "csrf_token",
        )
        .unwrap();
        let response = browser
            .post(app.at("/stats/goal/delete"))
            .form(&[
                ("csrf_token", remove_csrf.as_str()),
                ("year", &year.to_string()),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 303);
        let (status, _) = app
            .api(Method::GET, &format!("/api/goals/{year}"), &token, None)
            .await;
        assert_eq!(status, 404);
        let (_, html) = page(&browser, &stats_url).await;
        assert!(html.contains(&format!("Your goal for {year} is removed.")));
        assert!(
            html.contains(&format!(
                "1 book finished in {year}. Set a goal to follow your progress through the year."
            )),
            "{html}"
        );

        // A year too far ahead has no form; one's own goal is not another's.
        let (_, far) = page(&browser, &app.at(&format!("/stats?year={}", year + 5))).await;
        assert!(!far.contains("action=\"/stats/goal\""));
        let response = post(vec![
            ("csrf_token", csrf.clone()),
            ("year", (year + 5).to_string()),
            ("books", "3".into()),
        ])
        .await;
        assert_eq!(response.status(), 422);
        assert!(response
            .text()
            .await
            .unwrap()
            .contains("The year must be between"));
        app.stop().await;
    }
}

/// Every real export of the shared data set (dates missing, centuries apart, quarter-star
/// ratings) draws a page for each of its years, whose tables add up to the API's statistics.
#[actix_web::test]
async fn real_exports_draw_a_page_for_every_year() {
    let files = [
        ("goodreads-1.csv", "goodreads"),
        ("goodreads-5.csv", "goodreads"),
        ("goodreads-6.csv", "goodreads"),
        ("storygraph-1.csv", "storygraph"),
    ];
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        for (file, source) in files {
            let email = format!("{file}@example.org");
            let (browser, token) = reader(&app, &email).await;
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../shared/data/imports")
                .join(file);
            let response = app
                .client
                .post(app.at(&format!("/api/import/{source}")))
                .bearer_auth(&token)
                .header("Content-Type", "text/csv")
                .body(std::fs::read(path).unwrap())
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200, "{file}");
            let (_, stats) = app
                .api(Method::GET, "/api/readings/stats", &token, None)
                .await;
            let (status, html) = page(&browser, &app.at("/stats")).await;
            assert_eq!(status, 200, "{backend:?} {file}");
            let by_year = stats["by_year"].as_array().unwrap();
            let mut dated = 0;
            for year in by_year {
                let (y, books) = (
                    year["year"].as_i64().unwrap(),
                    year["books"].as_i64().unwrap(),
                );
                dated += books;
                let row = format!("<tr><th scope=\"row\">{y}</th><td>{books}</td>");
                assert!(html.contains(&row), "{file}: {row}");
                let (status, year_page) =
                    page(&browser, &app.at(&format!("/stats?year={y}"))).await;
                assert_eq!(status, 200, "{file} {y}");
                assert!(year_page.contains(&format!("Statistics for {y}</h1>")));
            }
            let undated = stats["books_read_total"].as_i64().unwrap() - dated;
            if undated > 0 {
                assert!(
                    html.contains(&format!(
                        "<tr><th scope=\"row\">No finish date</th><td>{undated}</td>"
                    )),
                    "{file}: {undated} undated"
                );
                let books = if undated == 1 { "book" } else { "books" };
                assert!(
                    html.contains(&format!(
                        "{undated} {books} without a finish date are not shown"
                    )),
                    "{file}: the chart's description says so"
                );
            }
            let rated: i64 = stats["ratings"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["readings"].as_i64().unwrap())
                .sum();
            assert_eq!(
                rated > 0,
                html.contains("id=\"chart-ratings-title\""),
                "{file}"
            );
        }
        app.stop().await;
    }
}

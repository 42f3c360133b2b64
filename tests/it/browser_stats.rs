//! The statistics page and the reading goal in real Chromium: sign up, a library added through
//! the API, a goal set with the form, the charts seen, another year chosen; screenshots of the
//! whole page at a phone's width (375 px) and a desktop's, in the light and the dark scheme,
//! into `target/browser-screenshots/`.

use crate::browser::{
    fill, in_browser, in_browser_with, press, screenshot_folder, wait_for_text, wait_for_url,
};
use crate::common::{Backend, TestApp};
use chrono::{Datelike, Duration, NaiveDate};
use fantoccini::{Client, Locator};
use reqwest::Method;
use serde_json::json;

/// Saves a screenshot of the whole page at `width` CSS pixels as `<name>.png`.
async fn screenshot(c: &Client, name: &str, width: u32) {
    c.set_window_size(width, 900).await.unwrap();
    let height = c
        .execute("return document.documentElement.scrollHeight", vec![])
        .await
        .unwrap()
        .as_u64()
        .unwrap_or(900);
    // The window's outer size includes what is not the page: grow it until the page fits.
    let mut outer = height + 140;
    for _ in 0..3 {
        let outer_height = u32::try_from(outer).unwrap_or(900).clamp(600, 12_000);
        c.set_window_size(width, outer_height).await.unwrap();
        let short = c
            .execute(
                "return document.documentElement.scrollHeight - innerHeight",
                vec![],
            )
            .await
            .unwrap()
            .as_i64()
            .unwrap_or(0);
        if short <= 0 {
            break;
        }
        outer += u64::try_from(short).unwrap_or(0) + 20;
    }
    c.execute("window.scrollTo(0, 0)", vec![]).await.unwrap();
    let png = c.screenshot().await.unwrap();
    let file = screenshot_folder().join(format!("{name}.png"));
    std::fs::write(&file, png).unwrap();
    // Nothing may stick out sideways at this width: the calendar scrolls inside its own box.
    let overflow = c
        .execute(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        overflow.as_i64(),
        Some(0),
        "{name}: the page scrolls sideways"
    );
}

const RATINGS: [f64; 6] = [5.0, 4.0, 4.5, 3.0, 3.5, 2.0];

/// A library with readings over the last years: authors, tags, ratings, pages, and a few days in
/// a row up to today (a current streak).
async fn add_a_library(app: &TestApp, token: &str, today: NaiveDate) {
    let authors = [
        "Ursula K. Le Guin",
        "Octavia E. Butler",
        "Terry Pratchett",
        "Hilary Mantel",
        "Kazuo Ishiguro",
        "N. K. Jemisin",
        "Gabriel García Márquez",
    ];
    let tags = [
        "science fiction",
        "fantasy",
        "historical",
        "literary",
        "classics",
    ];
    let mut days: Vec<NaiveDate> = (0..36)
        .map(|i| today - Duration::days(i * 10 + i % 4))
        .collect();
    days.extend((1..4).map(|i| today - Duration::days(i)));
    days.extend([
        today - Duration::days(800),
        today - Duration::days(820),
        today - Duration::days(1200),
    ]);
    for (i, finished) in days.iter().enumerate() {
        let (status, book) = app
            .api(
                Method::POST,
                "/api/books",
                token,
                Some(json!({
                    "title": format!("Book number {i}"),
                    "authors": [authors[i % authors.len()]],
                    "pages": 120 + (i * 37) % 700,
                    "tags": [tags[i % tags.len()], tags[(i + 2) % tags.len()]],
                })),
            )
            .await;
        assert_eq!(status, 201, "{book}");
        let started = *finished - Duration::days(3 + (i as i64) % 9);
        let (status, reading) = app
            .api(
                Method::POST,
                "/api/readings",
                token,
                Some(json!({
                    "book_id": book["id"],
                    "status": "finished",
                    "started_on": started.to_string(),
                    "finished_on": finished.to_string(),
                    "rating": RATINGS[i % RATINGS.len()],
                })),
            )
            .await;
        assert_eq!(status, 201, "{reading}");
    }
}

#[actix_web::test]
async fn set_a_goal_and_read_the_charts_at_both_widths() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let app = &app;
    in_browser("stats_goal_and_charts", |c| async move {
        let today = chrono::Utc::now().date_naive();
        let year = today.year();

        // Sign up in the browser; the library arrives through the API.
        crate::browser::sign_up(&c, app, "charts@example.org").await;
        let token = app.login_token("charts@example.org").await;
        add_a_library(app, &token, today).await;

        // /stats opens on this year.
        c.goto(&app.at("/stats")).await.unwrap();
        let source = wait_for_text(&c, "Statistics for").await;
        assert!(source.contains(&format!(
            "<h1 id=\"stats-heading\">Statistics for {year}</h1>"
        )));

        // A refused goal keeps what was typed, with the error by the field.
        let label = format!("Books to read in {year}");
        fill(&c, &label, "1001").await;
        press(&c, "Set the goal").await;
        wait_for_text(&c, "must be between 1 and 1000").await;
        let field = c
            .find(Locator::Id(&format!("goal-books-{year}")))
            .await
            .unwrap();
        assert_eq!(field.prop("value").await.unwrap().as_deref(), Some("1001"));
        assert_eq!(
            field.attr("aria-invalid").await.unwrap().as_deref(),
            Some("true")
        );
        field.clear().await.unwrap();
        fill(&c, &label, "52").await;
        press(&c, "Set the goal").await;
        let source = wait_for_text(&c, "is saved: 52 books").await;
        assert!(c
            .current_url()
            .await
            .unwrap()
            .as_str()
            .ends_with(&format!("/stats?year={year}#goal")));
        assert!(
            source.contains(&format!("of 52 books read in {year}")),
            "{source}"
        );

        // Every chart is drawn, with its title, and its table.
        let charts = c.find_all(Locator::Css("svg[role=img]")).await.unwrap();
        assert_eq!(charts.len(), 7);
        for chart in &charts {
            let labelled = chart.attr("aria-labelledby").await.unwrap().unwrap();
            assert!(labelled.ends_with("-desc"), "{labelled}");
        }
        let bars = c
            .find_all(Locator::Css("svg.chart rect.bar"))
            .await
            .unwrap();
        assert!(bars.len() > 20, "{} bars", bars.len());
        let busy_days = c
            .find_all(Locator::Css("svg.calendar rect.day:not(.lvl0)"))
            .await
            .unwrap();
        assert!(busy_days.len() >= 10, "{} days", busy_days.len());
        assert!(source.contains("Current streak"));
        let tables = c.find_all(Locator::Css("table.numbers")).await.unwrap();
        assert_eq!(tables.len(), 6);

        screenshot(&c, "stats-desktop", 1280).await;
        screenshot(&c, "stats-375", 375).await;
        crate::browser::axe_check(&c, "stats").await;

        // The home page shows the same progress.
        c.goto(&app.at("/")).await.unwrap();
        wait_for_text(&c, &format!("Reading goal for {year}")).await;
        let progress = c.find(Locator::Css("progress.goal-bar")).await.unwrap();
        assert!(progress.attr("value").await.unwrap().is_some());
        screenshot(&c, "home-goal-375", 375).await;
        crate::browser::axe_check(&c, "home with a goal").await;

        // Another year, chosen with the selector.
        c.set_window_size(1280, 900).await.unwrap();
        c.goto(&app.at("/stats")).await.unwrap();
        let previous = (year - 1).to_string();
        c.find(Locator::Css("#year-select"))
            .await
            .unwrap()
            .select_by_value(&previous)
            .await
            .unwrap();
        press(&c, "Show").await;
        wait_for_url(&c, &app.at(&format!("/stats?year={previous}"))).await;
        let source = wait_for_text(&c, &format!("Statistics for {previous}")).await;
        assert!(source.contains(&format!("Reading goal for {previous}")));
        assert!(!source.contains("is saved"), "the notice was shown once");
        screenshot(&c, "stats-previous-year-desktop", 1280).await;
        crate::browser::axe_check(&c, "stats, previous year").await;
    })
    .await;
}

/// The same page in the dark scheme (`prefers-color-scheme: dark`), for the screenshots.
#[actix_web::test]
async fn the_charts_in_the_dark_scheme() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let app = &app;
    in_browser_with("stats_dark", &["--force-dark-mode"], |c| async move {
        let today = chrono::Utc::now().date_naive();
        let (user, token) = app.user("dark@example.org").await;
        let _ = user;
        add_a_library(app, &token, today).await;
        crate::browser::sign_in(&c, app, "dark@example.org").await;
        c.goto(&app.at("/stats")).await.unwrap();
        wait_for_text(&c, "Statistics for").await;
        let dark = c
            .execute(
                "return matchMedia('(prefers-color-scheme: dark)').matches",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(
            dark.as_bool(),
            Some(true),
            "Chromium runs in the dark scheme"
        );
        screenshot(&c, "stats-dark-desktop", 1280).await;
        screenshot(&c, "stats-dark-375", 375).await;
        crate::browser::axe_check(&c, "stats (dark)").await;
    })
    .await;
}

/// A real Goodreads export (decades of readings, many without a date) on the page, for the
/// screenshots: the per-year charts label only some years when there are many.
#[actix_web::test]
async fn a_real_export_on_the_page() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let app = &app;
    in_browser("stats_real_export", |c| async move {
        let (_, token) = app.user("goodreads@example.org").await;
        let csv = std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../shared/data/imports/goodreads-5.csv"),
        )
        .unwrap();
        let response = app
            .client
            .post(app.at("/api/import/goodreads"))
            .bearer_auth(&token)
            .header("Content-Type", "text/csv")
            .body(csv)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        crate::browser::sign_in(&c, app, "goodreads@example.org").await;
        c.goto(&app.at("/stats")).await.unwrap();
        let source = wait_for_text(&c, "Statistics for").await;
        assert!(source.contains("No finish date"));
        screenshot(&c, "stats-goodreads-desktop", 1280).await;
        screenshot(&c, "stats-goodreads-375", 375).await;
        crate::browser::axe_check(&c, "stats of a Goodreads export").await;
    })
    .await;
}

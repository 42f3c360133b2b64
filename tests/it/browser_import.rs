//! `/import` and `/export`: in a real browser (sign up, import the real goodreads-1.csv through
//! the form, read the report, download the export; axe-core on each page and screenshots at
//! 375 px and 1280 px, and the account page checked the same way),
//! and over plain HTTP on both backends (sign-in, CSRF, progress, another user's report).

use crate::browser::{check_page, fill, in_browser, press, wait_for_text};
use crate::common::{backends, csrf_from, Backend, TestApp, PASSWORD};
use crate::import::{data, snapshot};
use fantoccini::{Client, Locator};
use std::time::{Duration, Instant};

/// Waits (the import runs in the background; the page reloads itself) for `needle`.
async fn wait_long_for(c: &Client, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let source = c.source().await.unwrap();
        if source.contains(needle) {
            return source;
        }
        assert!(
            Instant::now() < deadline,
            "`{needle}` never appeared:\n{source}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[actix_web::test]
async fn import_goodreads_through_the_form_read_the_report_and_download_the_export() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let app = &app;
    in_browser("import_export", |c| async move {
        crate::browser::sign_up(&c, app, "importer@example.org").await;

        c.goto(&app.at("/import")).await.unwrap();
        wait_for_text(&c, "Import your library").await;
        check_page(&c, "import", "import-form").await;
        let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../shared/data/imports/goodreads-1.csv")
            .canonicalize()
            .unwrap();
        fill(&c, "Export file", file.to_str().unwrap()).await;
        press(&c, "Import").await;
        let report = wait_long_for(&c, "every row of the file is accounted for").await;
        assert!(report.contains("Importing goodreads-1.csv"), "{report}");
        assert!(
            report.contains("<th scope=\"row\">Rows read</th><td>829</td>"),
            "{report}"
        );
        assert!(report.contains("merged with an earlier row"), "{report}");
        check_page(&c, "import", "import-report").await;
        c.execute(
            "document.querySelector('.problems').scrollIntoView()",
            vec![],
        )
        .await
        .unwrap();
        check_page(&c, "import", "import-report-problems").await;

        c.goto(&app.at("/export")).await.unwrap();
        wait_for_text(&c, "Export your library").await;
        check_page(&c, "import", "export").await;
        // The download, with the browser's own session.
        let link = c
            .find(Locator::LinkText("Download a Goodreads CSV"))
            .await
            .unwrap();
        let href = link.attr("href").await.unwrap().unwrap();
        let cookies = c.get_all_cookies().await.unwrap();
        let cookie_header = cookies
            .iter()
            .map(|k| format!("{}={}", k.name(), k.value()))
            .collect::<Vec<_>>()
            .join("; ");
        let response = reqwest::Client::new()
            .get(app.at(&href))
            .header("Cookie", cookie_header)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers()["content-disposition"],
            "attachment; filename=\"panicless_library_export.csv\""
        );
        let csv = response.text().await.unwrap();
        assert!(csv.starts_with("Book Id,Title,Author"));
        assert!(csv.contains("The Tale of Genji"));
        // The account page (password change, deletion) beside the library's.
        c.goto(&app.at("/account")).await.unwrap();
        wait_for_text(&c, "Change your password").await;
        check_page(&c, "import", "account").await;
    })
    .await;
}

/// The pages over HTTP: signed out they send to the sign-in page; the form needs its CSRF token;
/// the report is its owner's alone; the downloads are attachments that import back unchanged.
#[actix_web::test]
async fn the_import_pages_over_http() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let signed_out = crate::common::browser();
        let response = signed_out.get(app.at("/import")).send().await.unwrap();
        assert_eq!(response.status(), 303);
        assert_eq!(response.headers()["location"], "/login?return_to=%2Fimport");

        app.register_user("page@example.org").await;
        let browser = crate::common::browser();
        app.sign_in(&browser, "page@example.org", PASSWORD).await;
        let form = browser
            .get(app.at("/import"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(!form.contains("<script"), "no JavaScript");
        for field in ["file", "format"] {
            assert!(
                form.contains(&format!("<label for=\"{field}\">"))
                    && form.contains(&format!("id=\"{field}\"")),
                "{field} has a label: {form}"
            );
        }
        assert!(form.contains("enctype=\"multipart/form-data\""));
        let csrf = csrf_from(&browser, &app.at("/import")).await;
        let upload = |csrf: &str, format: &str, file: Vec<u8>| {
            let boundary = "----panicless-test-boundary";
            let mut body = Vec::new();
            for (name, value) in [("csrf_token", csrf), ("format", format)] {
                body.extend_from_slice(
                    format!(
                        "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
                    )
                    .as_bytes(),
                );
            }
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"goodreads-3.csv\"\r\nContent-Type: text/csv\r\n\r\n"
                )
                .as_bytes(),
            );
            body.extend_from_slice(&file);
            body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
            browser
                .post(app.at("/import"))
                .header(
                    "Content-Type",
                    format!("multipart/form-data; boundary={boundary}"),
                )
                .body(body)
                .send()
        };
        let refused = upload("not-the-token", "detect", data("goodreads-3.csv"))
            .await
            .unwrap();
        assert_eq!(refused.status(), 403, "no CSRF token, no import");
        let unknown = upload(&csrf, "detect", b"a,b,c\n1,2,3\n".to_vec())
            .await
            .unwrap();
        assert_eq!(unknown.status(), 422);
        assert!(unknown.text().await.unwrap().contains("Choose its format"));

        let started = upload(&csrf, "detect", data("goodreads-3.csv"))
            .await
            .unwrap();
        assert_eq!(started.status(), 303);
        let report_url = started.headers()["location"].to_str().unwrap().to_string();
        assert!(report_url.starts_with("/import/"));
        let deadline = Instant::now() + Duration::from_secs(60);
        let page = loop {
            let response = browser.get(app.at(&report_url)).send().await.unwrap();
            assert_eq!(response.status(), 200);
            let refresh = response.headers().get("refresh").is_some();
            let page = response.text().await.unwrap();
            if page.contains("every row of the file is accounted for") {
                assert!(!refresh, "a finished report stays still");
                break page;
            }
            assert!(refresh, "a running import's page reloads itself: {page}");
            assert!(page.contains("<progress"), "{page}");
            assert!(Instant::now() < deadline, "{page}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert!(
            page.contains("<th scope=\"row\">Rows read</th><td>112</td>"),
            "{page}"
        );

        // Another user cannot see the report.
        app.register_user("other@example.org").await;
        let other = crate::common::browser();
        app.sign_in(&other, "other@example.org", PASSWORD).await;
        let response = other.get(app.at(&report_url)).send().await.unwrap();
        assert_eq!(response.status(), 404);

        // The downloads are attachments; the JSON one restores the same library elsewhere.
        let json = browser
            .get(app.at("/export/library.json"))
            .send()
            .await
            .unwrap();
        assert_eq!(
            json.headers()["content-disposition"],
            "attachment; filename=\"panicless_library_export.json\""
        );
        let json = json.bytes().await.unwrap().to_vec();
        let (_, token) = app.user("restored@example.org").await;
        let response = app
            .client
            .post(app.at("/api/import/panicless"))
            .bearer_auth(&token)
            .header("Content-Type", "application/json")
            .body(json)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let owner = app.login_token("page@example.org").await;
        assert_eq!(snapshot(&app, &token).await, snapshot(&app, &owner).await);
        app.stop().await;
    }
}

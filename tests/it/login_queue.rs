//! Issue 22: logins never pile up. bcrypt is slow on purpose; when more password checks wait
//! than can finish within a few seconds, the next one is refused at once with a 503 and
//! `Retry-After`, on every door that checks a password, while reads beside them go on.

use crate::common::{backends, TestApp, PASSWORD};
use futures_util::future::{join, join3, join4, join_all};
use reqwest::StatusCode;
use serde_json::json;

/// A 503 that says when to come back.
fn retry_after(response: &reqwest::Response) -> u64 {
    let value = response
        .headers()
        .get("retry-after")
        .unwrap_or_else(|| panic!("no Retry-After on {}", response.url()))
        .to_str()
        .unwrap();
    let seconds: u64 = value.parse().unwrap();
    assert!((1..=60).contains(&seconds), "Retry-After {seconds}");
    seconds
}

async fn api_login(app: &TestApp, email: &str, password: &str) -> reqwest::Response {
    app.new_browser()
        .post(app.at("/api/auth/login"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap()
}

/// Waits (without asserting any time) until no password check is in flight.
async fn drained(app: &TestApp) {
    while app.state.passwords.in_flight() > 0 {
        actix_web::rt::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[actix_web::test]
async fn a_burst_of_sign_ins_is_answered_at_once_and_reads_go_on() {
    for backend in backends() {
        // Cost 12: each check takes a good part of a second, so the burst cannot drain while
        // it arrives. Two checks in flight at most.
        let app = TestApp::spawn_with(
            backend,
            &[
                ("BCRYPT_COST", "12"),
                ("PASSWORD_QUEUE_LIMIT", "2"),
                ("RATE_LIMIT_LOGIN_PER_MINUTE", "1000"),
            ],
        )
        .await;
        let token = app.user_token("burst@example.org").await;
        drained(&app).await;

        let logins = join_all((0..10).map(|n| {
            let password = if n % 2 == 0 {
                PASSWORD
            } else {
                "not the password"
            };
            let app = &app;
            async move {
                (
                    password,
                    api_login(app, "burst@example.org", password).await,
                )
            }
        }));
        let read = async {
            app.client
                .get(app.at("/api/books?limit=20"))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap()
                .status()
        };
        let (answers, read_status) = join(logins, read).await;
        assert_eq!(
            read_status,
            StatusCode::OK,
            "{backend:?}: a read beside them"
        );

        let mut refused = 0;
        for (password, response) in answers {
            let status = response.status();
            if status == StatusCode::SERVICE_UNAVAILABLE {
                refused += 1;
                retry_after(&response);
                assert_eq!(
                    response.headers()["content-type"],
                    "application/problem+json"
                );
                let problem: serde_json::Value = response.json().await.unwrap();
                assert_eq!(problem["code"], "busy", "{problem}");
                assert_eq!(problem["status"], 503);
            } else if password == PASSWORD {
                assert_eq!(
                    status,
                    StatusCode::OK,
                    "{backend:?}: admitted, right password"
                );
                let body: serde_json::Value = response.json().await.unwrap();
                assert!(body["access_token"].is_string());
            } else {
                assert_eq!(
                    status,
                    StatusCode::UNAUTHORIZED,
                    "{backend:?}: wrong password"
                );
            }
        }
        assert!(refused >= 1, "{backend:?}: ten at once, two admitted");
        assert!(refused <= 8, "{backend:?}: the first two are checked");

        // Once the queue has drained, the door is open again.
        drained(&app).await;
        let response = api_login(&app, "burst@example.org", PASSWORD).await;
        assert_eq!(response.status(), StatusCode::OK, "{backend:?}");
        app.stop().await;
    }
}

/// Fills the queue (two checks, its limit) with checks against a slow hash, and returns them
/// running.
async fn fill_queue(
    app: &TestApp,
    slow_hash: &str,
) -> Vec<tokio::task::JoinHandle<Result<bool, panicless::error::AppError>>> {
    let fillers: Vec<_> = (0..2)
        .map(|_| {
            let hasher = app.state.passwords.clone();
            let hash = slow_hash.to_string();
            actix_web::rt::spawn(async move { hasher.verify("filler".into(), Some(hash)).await })
        })
        .collect();
    while app.state.passwords.in_flight() < 2 {
        actix_web::rt::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    fillers
}

#[actix_web::test]
async fn every_door_that_checks_a_password_says_busy_while_the_queue_is_full() {
    // Verifying takes as long as the stored hash's cost, whatever the server's: two checks
    // against a cost-14 hash keep the queue full for a second or more.
    let slow_hash = actix_web::rt::task::spawn_blocking(|| bcrypt::hash("filler", 14).unwrap())
        .await
        .unwrap();
    for backend in backends() {
        let app = TestApp::spawn_with(
            backend,
            &[
                ("PASSWORD_QUEUE_LIMIT", "2"),
                ("RATE_LIMIT_LOGIN_PER_MINUTE", "1000"),
            ],
        )
        .await;
        // The first account is the administrator, who may not delete theirs: another one.
        app.register_user("admin@example.org").await;
        let email = "full@example.org";
        let token = app.user_token(email).await;
        let browser = app.signed_in(email).await;
        let account_csrf = browser.csrf("/account").await;
        // Another browser, signed out, on the sign-in and sign-up forms (the OAuth flow signs
        // in on the same form, with `return_to` back to /oauth/authorize).
        let visitor = app.anonymous();
        let login_csrf = visitor.csrf("/login").await;
        let register_csrf = visitor.csrf("/register").await;
        drained(&app).await;

        let fillers = fill_queue(&app, &slow_hash).await;
        let login_form = visitor
            .client
            .post(app.at("/login"))
            .form(&[
                ("csrf_token", login_csrf.as_str()),
                ("email", email),
                ("password", PASSWORD),
                ("return_to", "/oauth/authorize?client_id=x"),
            ])
            .send();
        let register_form = visitor
            .client
            .post(app.at("/register"))
            .form(&[
                ("csrf_token", register_csrf.as_str()),
                ("email", "new@example.org"),
                ("password", PASSWORD),
                ("password_confirm", PASSWORD),
            ])
            .send();
        let password_form = browser
            .client
            .post(app.at("/account/password"))
            .form(&[
                ("csrf_token", account_csrf.as_str()),
                ("current_password", PASSWORD),
                ("new_password", "another good password"),
                ("new_password_confirm", "another good password"),
            ])
            .send();
        let delete_form = browser
            .client
            .post(app.at("/account/delete"))
            .form(&[
                ("csrf_token", account_csrf.as_str()),
                ("password", PASSWORD),
                ("confirm", "yes"),
            ])
            .send();
        let api = app.new_browser();
        let api_login = api
            .post(app.at("/api/auth/login"))
            .json(&json!({"email": email, "password": PASSWORD}))
            .send();
        let api_register = api
            .post(app.at("/api/auth/register"))
            .json(&json!({"email": "other@example.org", "password": PASSWORD}))
            .send();
        let api_password = api
            .post(app.at("/api/account/password"))
            .bearer_auth(&token)
            .json(&json!({"current_password": PASSWORD, "new_password": "another good password"}))
            .send();
        let api_delete = api
            .delete(app.at("/api/account"))
            .bearer_auth(&token)
            .json(&json!({"password": PASSWORD}))
            .send();
        let read = api
            .get(app.at("/api/books?limit=20"))
            .bearer_auth(&token)
            .send();
        let page = browser.client.get(app.at("/books")).send();
        let (pages, apis, reads) = join3(
            join4(login_form, register_form, password_form, delete_form),
            join4(api_login, api_register, api_password, api_delete),
            join(read, page),
        )
        .await;
        // Every answer came while the fillers still held the queue: the test saw a full one.
        assert!(
            fillers.iter().all(|f| !f.is_finished()),
            "{backend:?}: the slow checks ended before the requests were answered"
        );

        let (reads, page) = reads;
        assert_eq!(
            reads.unwrap().status(),
            StatusCode::OK,
            "{backend:?}: API read"
        );
        assert_eq!(
            page.unwrap().status(),
            StatusCode::OK,
            "{backend:?}: page read"
        );

        let (login, register, password, delete) = pages;
        for (name, response) in [
            ("login form", login.unwrap()),
            ("register form", register.unwrap()),
        ] {
            assert_eq!(response.status(), 503, "{backend:?}: {name}");
            retry_after(&response);
            let html = response.text().await.unwrap();
            assert!(
                html.contains("Many people are signing in right now"),
                "{name}: {html}"
            );
            assert!(html.contains("please try again in"), "{name}: {html}");
            assert!(
                html.contains(r#"name="password""#),
                "{name}: the form is shown again"
            );
        }
        for (name, response) in [
            ("password form", password.unwrap()),
            ("delete form", delete.unwrap()),
        ] {
            assert_eq!(response.status(), 503, "{backend:?}: {name}");
            retry_after(&response);
            let html = response.text().await.unwrap();
            assert!(
                html.contains("busy checking other passwords"),
                "{name}: {html}"
            );
        }
        let (login, register, password, delete) = apis;
        for (name, response) in [
            ("API login", login.unwrap()),
            ("API register", register.unwrap()),
            ("API password change", password.unwrap()),
            ("API account deletion", delete.unwrap()),
        ] {
            assert_eq!(response.status(), 503, "{backend:?}: {name}");
            retry_after(&response);
            let problem: serde_json::Value = response.json().await.unwrap();
            assert_eq!(problem["code"], "busy", "{name}: {problem}");
        }

        // Nothing was changed by the refused requests, and the doors open again.
        for filler in fillers {
            assert!(
                filler.await.unwrap().unwrap(),
                "the slow checks were answered too"
            );
        }
        drained(&app).await;
        let response = api
            .post(app.at("/api/auth/login"))
            .json(&json!({"email": email, "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "{backend:?}: the same password"
        );
        let response = api
            .post(app.at("/api/auth/login"))
            .json(&json!({"email": "other@example.org", "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "{backend:?}: no account made"
        );
        app.stop().await;
    }
}

#[actix_web::test]
async fn the_document_states_the_503_and_its_retry_after() {
    let app = TestApp::spawn(crate::common::Backend::Sqlite).await;
    let doc: serde_json::Value = app
        .client
        .get(app.at("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for (path, method) in [
        ("/api/auth/login", "post"),
        ("/api/auth/register", "post"),
        ("/api/account/password", "post"),
        ("/api/account", "delete"),
    ] {
        let busy = &doc["paths"][path][method]["responses"]["503"];
        assert!(
            busy["headers"]["Retry-After"].is_object(),
            "{method} {path}: {busy}"
        );
        assert!(busy["description"].as_str().unwrap().contains("busy"));
    }
    app.stop().await;
}

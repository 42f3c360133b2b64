//! Accounts: pages with sessions and CSRF, JSON login, health, production refusal.

use crate::common::{backends, csrf_from, hidden_field, jwt_claims, Backend, TestApp, PASSWORD};
use reqwest::StatusCode;

fn location(response: &reqwest::Response) -> String {
    response.headers()["location"].to_str().unwrap().to_string()
}

#[actix_web::test]
async fn register_login_logout_through_the_pages() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let browser = app.new_browser();

        // Register through the form: signed in at once, sent home.
        let csrf = csrf_from(&browser, &app.at("/register")).await;
        let response = browser
            .post(app.at("/register"))
            .form(&[
                ("csrf_token", csrf.as_str()),
                ("email", "Reader@Example.org"),
                ("display_name", "Ada"),
                ("password", PASSWORD),
                ("password_confirm", PASSWORD),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{backend:?}");
        assert_eq!(location(&response), "/");
        let cookie = response.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(cookie.contains("HttpOnly"), "{cookie}");
        assert!(cookie.contains("SameSite=Lax"), "{cookie}");
        assert!(!cookie.contains("Secure"), "plain http in tests: {cookie}");

        let home = browser
            .get(app.at("/"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            home.contains("reader@example.org"),
            "home says who you are: {home}"
        );
        assert!(
            home.contains("an administrator"),
            "the first user is an admin"
        );

        // Sign out with the CSRF token of the page.
        let csrf = hidden_field(&home, "csrf_token").unwrap();
        let response = browser
            .post(app.at("/logout"))
            .form(&[("csrf_token", csrf.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let landing = browser
            .get(app.at("/"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(!landing.contains("reader@example.org"));

        // Sign in again, with the email in another case.
        let response = app.sign_in(&browser, "READER@example.org", PASSWORD).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let home = browser
            .get(app.at("/"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(home.contains("Welcome, Ada"), "{home}");

        // A second account is not an administrator.
        let second = app.anonymous();
        second
            .register("second@example.org", PASSWORD, PASSWORD)
            .await;
        let home = second.page("/").await;
        assert!(home.contains("second@example.org"));
        assert!(!home.contains("an administrator"));
        app.stop().await;
    }
}

#[actix_web::test]
async fn login_errors_do_not_reveal_whether_the_email_exists() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.register_user("known@example.org").await;

    let wrong_password = app
        .sign_in(&app.new_browser(), "known@example.org", "not the password")
        .await;
    let unknown_email = app
        .sign_in(&app.new_browser(), "nobody@example.org", "not the password")
        .await;
    assert_eq!(wrong_password.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(unknown_email.status(), StatusCode::UNAUTHORIZED);
    let a = wrong_password.text().await.unwrap();
    let b = unknown_email.text().await.unwrap();
    assert!(a.contains("The email or password is incorrect."));
    assert!(b.contains("The email or password is incorrect."));
    assert!(
        !a.contains("not the password"),
        "the password is never echoed"
    );

    // The JSON API answers the same for both.
    for email in ["known@example.org", "nobody@example.org"] {
        let response = app
            .client
            .post(app.at("/api/auth/login"))
            .json(&serde_json::json!({"email": email, "password": "not the password"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401);
        assert!(response.headers().contains_key("www-authenticate"));
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["code"], "invalid_credentials");
    }
    app.stop().await;
}

#[actix_web::test]
async fn registration_rejects_duplicates_and_bad_passwords() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        app.register_user("dup@example.org").await;

        let response = app
            .client
            .post(app.at("/api/auth/register"))
            .json(&serde_json::json!({"email": "DUP@example.org", "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            409,
            "{backend:?}: emails are case-insensitive"
        );
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
        let body: serde_json::Value = response.json().await.unwrap();
        assert!(
            body.get("existing_id").is_none(),
            "{backend:?}: a duplicate names no account: {body}"
        );

        for (password, needle) in [("short", "at least 8"), (&*"x".repeat(73), "72 bytes")] {
            let response = app
                .client
                .post(app.at("/api/auth/register"))
                .json(&serde_json::json!({"email": "new@example.org", "password": password}))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 422);
            let body: serde_json::Value = response.json().await.unwrap();
            assert_eq!(body["errors"][0]["field"], "password");
            assert!(
                body["errors"][0]["message"]
                    .as_str()
                    .unwrap()
                    .contains(needle),
                "{body}"
            );
        }

        // The page says it plainly too.
        let browser = app.anonymous();
        let response = browser
            .register("dup@example.org", PASSWORD, PASSWORD)
            .await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(response.text().await.unwrap().contains("already exists"));

        let response = browser
            .register("other@example.org", PASSWORD, "something else")
            .await;
        assert!(response.text().await.unwrap().contains("do not match"));
        app.stop().await;
    }
}

#[actix_web::test]
async fn forms_without_the_csrf_token_are_refused() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.register_user("csrf@example.org").await;
    let browser = app.new_browser();
    // A session exists (the page was loaded) but the token is missing or wrong.
    let _ = csrf_from(&browser, &app.at("/login")).await;
    for token in ["", "forged-token"] {
        let response = browser
            .post(app.at("/login"))
            .form(&[
                ("csrf_token", token),
                ("email", "csrf@example.org"),
                ("password", PASSWORD),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "token {token:?}");
    }
    // A cross-site POST carries no session at all.
    let stranger = app.new_browser();
    let response = stranger
        .post(app.at("/register"))
        .form(&[
            ("csrf_token", "x"),
            ("email", "new@example.org"),
            ("password", PASSWORD),
            ("password_confirm", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    // Logging out needs the token too.
    app.sign_in(&browser, "csrf@example.org", PASSWORD).await;
    let response = browser
        .post(app.at("/logout"))
        .form(&[("csrf_token", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let home = browser
        .get(app.at("/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(home.contains("csrf@example.org"), "still signed in");
    app.stop().await;
}

#[actix_web::test]
async fn return_to_is_honoured_only_for_local_paths() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.register_user("nav@example.org").await;
    for (return_to, expected) in [
        (
            "/oauth/authorize?client_id=a&state=b",
            "/oauth/authorize?client_id=a&state=b",
        ),
        ("https://evil.example/steal", "/"),
        ("//evil.example/steal", "/"),
        ("/\\evil.example", "/"),
    ] {
        let browser = app.new_browser();
        let login_url = format!(
            "{}?{}",
            app.at("/login"),
            url::form_urlencoded::Serializer::new(String::new())
                .append_pair("return_to", return_to)
                .finish()
        );
        let page = browser
            .get(&login_url)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let csrf = hidden_field(&page, "csrf_token").unwrap();
        let response = browser
            .post(app.at("/login"))
            .form(&[
                ("csrf_token", csrf.as_str()),
                ("email", "nav@example.org"),
                ("password", PASSWORD),
                ("return_to", return_to),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(location(&response), expected, "return_to {return_to}");
    }
    app.stop().await;
}

#[actix_web::test]
async fn json_login_returns_a_signed_jwt_with_the_documented_claims() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let id = app.register_user("jwt@example.org").await;
        let response = app
            .client
            .post(app.at("/api/auth/login"))
            .json(&serde_json::json!({"email": "jwt@example.org", "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["cache-control"], "no-store");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["expires_in"], 3600);
        assert_eq!(body["scope"], "all");
        let claims = jwt_claims(body["access_token"].as_str().unwrap());
        assert_eq!(claims["sub"], id.to_string());
        assert_eq!(claims["email"], "jwt@example.org");
        assert_eq!(claims["scope"], "all");
        assert_eq!(claims["iss"], app.url);
        assert_eq!(
            claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
            3600
        );
        assert!(claims["jti"].as_str().unwrap().len() >= 16);
        // The server accepts its own token and refuses a tampered one.
        let token = body["access_token"].as_str().unwrap();
        assert!(app.state.jwt.verify(token, &[&app.url]).is_some());
        let tampered = format!("{}x", token);
        assert!(app.state.jwt.verify(&tampered, &[&app.url]).is_none());
        app.stop().await;
    }
}

#[actix_web::test]
async fn health_reports_the_database() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let response = app.client.get(app.at("/health")).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body, serde_json::json!({"status": "ok", "database": "ok"}));
        app.stop().await;
    }
}

#[actix_web::test]
async fn health_and_the_api_answer_503_when_the_database_is_down() {
    use panicless::db::{ConnectionManager, DatabaseTarget};
    let db = crate::common::TestDb::new(Backend::Sqlite);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let mut state =
        panicless::state::AppState::init(crate::common::test_config(&db.url, &url, &[])).unwrap();
    // Nothing listens on port 1: every checkout fails after the timeout.
    state.pool = panicless::db::Pool::new(
        r2d2::Pool::builder()
            .connection_timeout(std::time::Duration::from_millis(300))
            .build_unchecked(ConnectionManager::new(
                DatabaseTarget::parse("postgres://nobody@127.0.0.1:1/none?connect_timeout=1")
                    .unwrap(),
            )),
        panicless::db::Backend::Postgres,
    );
    let app = TestApp::serve(state, listener, db, Backend::Sqlite);
    let response = app.client.get(app.at("/health")).send().await.unwrap();
    assert_eq!(response.status(), 503);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["database"], "unreachable");

    let response = app
        .client
        .post(app.at("/api/auth/login"))
        .json(&serde_json::json!({"email": "a@example.org", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["code"], "service_unavailable");
    assert!(
        !body.to_string().contains("127.0.0.1:1"),
        "no internal detail: {body}"
    );
    app.stop().await;
}

#[test]
fn production_mode_refuses_default_and_weak_secrets() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_panicless"))
        .arg("migrate")
        .env_clear()
        .env("APP_ENV", "production")
        .env("PUBLIC_URL", "http://books.example.com")
        .env("JWT_SECRET", "too-short")
        .env("DATABASE_URL", "sqlite://never-created.db")
        .current_dir(tempfile::tempdir().unwrap().path())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    for needle in [
        "JWT_SECRET must be at least 32 bytes",
        "SESSION_SECRET is not set",
        "OAUTH_CLIENT_SECRET is not set",
        "ENCRYPTION_KEY is not set",
        "PUBLIC_URL must be an https URL",
    ] {
        assert!(stderr.contains(needle), "missing `{needle}` in:\n{stderr}");
    }
    assert!(!stderr.contains("too-short"), "secrets are never printed");

    // With strong secrets it gets past configuration.
    let dir = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_panicless"))
        .arg("migrate")
        .env_clear()
        .env("APP_ENV", "production")
        .env("PUBLIC_URL", "https://books.example.com")
        .env("JWT_SECRET", "a".repeat(40))
        .env("SESSION_SECRET", "b".repeat(40))
        .env("OAUTH_CLIENT_ID", "claude-connector")
        .env("OAUTH_CLIENT_SECRET", "c".repeat(40))
        .env(
            "ENCRYPTION_KEY",
            "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
        )
        .env(
            "DATABASE_URL",
            format!("sqlite://{}", dir.path().join("p.db").display()),
        )
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn production_config_marks_cookies_secure() {
    let config = crate::common::test_config(
        "sqlite://x.db",
        "https://books.example.com",
        &[
            ("APP_ENV", "production"),
            ("JWT_SECRET", &"a".repeat(40)),
            ("SESSION_SECRET", &"b".repeat(40)),
            ("OAUTH_CLIENT_ID", "claude-connector"),
            ("OAUTH_CLIENT_SECRET", &"c".repeat(40)),
            (
                "ENCRYPTION_KEY",
                "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
            ),
        ],
    );
    assert!(config.secure_cookies());
}

/// Runs the binary's command line on database `db`, with `stdin` as its input.
fn run_cli(db: &str, args: &[&str], stdin: &str) -> std::process::Output {
    use std::io::Write;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_panicless"))
        .args(args)
        .env("DATABASE_URL", db)
        .env("BCRYPT_COST", "4")
        .env("RUST_LOG", "error")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn cli_creates_and_lists_users_with_the_password_from_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("cli.db").display());
    let run = |args: &[&str], stdin: &str| run_cli(&db, args, stdin);
    let created = run(
        &["user", "create", "--email", "Admin@Example.org", "--admin"],
        "a long password\n",
    );
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    assert!(String::from_utf8_lossy(&created.stdout).contains("administrator"));
    let weak = run(&["user", "create", "--email", "b@example.org"], "short\n");
    assert!(!weak.status.success());
    let listed = run(&["user", "list"], "");
    let out = String::from_utf8_lossy(&listed.stdout);
    assert!(out.contains("admin@example.org"), "{out}");
    assert!(!out.contains("b@example.org"));
}

#[actix_web::test]
async fn first_party_tokens_are_recorded_for_revocation() {
    use diesel::prelude::*;
    use panicless::db::models::token::TokenKind;
    use panicless::db::schema::oauth_tokens;
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let token = app.user_token("rows@example.org").await;
        let jti = jwt_claims(&token)["jti"].as_str().unwrap().to_string();
        let mut conn = app.state.pool.get().unwrap();
        let (kind, stored_hash): (TokenKind, String) = oauth_tokens::table
            .filter(oauth_tokens::jti.eq(&jti))
            .select((oauth_tokens::kind, oauth_tokens::token_hash))
            .first(&mut *conn)
            .unwrap();
        assert_eq!(kind, TokenKind::Access);
        assert_eq!(stored_hash, panicless::crypto::hash_token(&jti));
        app.stop().await;
    }
}

/// Registers through the page in a browser of its own; returns the status.
async fn register_by_page(app: &TestApp, email: &str) -> StatusCode {
    app.anonymous()
        .register(email, PASSWORD, PASSWORD)
        .await
        .status()
}

async fn register_by_api(app: &TestApp, email: &str) -> reqwest::Response {
    app.client
        .post(app.at("/api/auth/register"))
        .json(&serde_json::json!({"email": email, "password": PASSWORD}))
        .send()
        .await
        .unwrap()
}

#[actix_web::test]
async fn account_creation_is_rate_limited_on_the_page_and_the_api_together() {
    let app = TestApp::spawn_with(Backend::Sqlite, &[("RATE_LIMIT_SIGNUP_PER_MINUTE", "2")]).await;
    assert_eq!(register_by_api(&app, "one@example.org").await.status(), 201);
    assert_eq!(
        register_by_page(&app, "two@example.org").await,
        StatusCode::SEE_OTHER
    );
    // Both routes count against one window per address, and both refuse once it is full.
    assert_eq!(
        register_by_page(&app, "three@example.org").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    let refused = register_by_api(&app, "four@example.org").await;
    assert_eq!(refused.status(), 429);
    assert!(
        refused.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            >= 1
    );
    // Sign-in has a window of its own.
    app.login_token("one@example.org").await;
    app.stop().await;
}

async fn me_status(app: &TestApp, token: &str) -> u16 {
    app.api(reqwest::Method::GET, "/api/auth/me", token, None)
        .await
        .0
}

#[actix_web::test]
async fn api_logout_revokes_the_token_it_is_called_with() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let token = app.user_token("logout@example.org").await;
        let other = app.login_token("logout@example.org").await;
        assert_eq!(me_status(&app, &token).await, 200);
        let response = app
            .client
            .post(app.at("/api/auth/logout"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 204, "{backend:?}");
        assert_eq!(me_status(&app, &token).await, 401, "{backend:?}");
        // Only that token: another sign-in of the same account goes on working.
        assert_eq!(me_status(&app, &other).await, 200, "{backend:?}");
        let again = app
            .client
            .post(app.at("/api/auth/logout"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 401);
        app.stop().await;
    }
}

/// Registers a public OAuth client; returns its client_id and row id.
async fn public_client(app: &TestApp) -> (String, i64) {
    use diesel::prelude::*;
    use panicless::db::schema::oauth_clients;
    let client_id = crate::oauth::public_client(app).await;
    let row: i64 = oauth_clients::table
        .filter(oauth_clients::client_id.eq(&client_id))
        .select(oauth_clients::id)
        .first(&mut *app.state.pool.get().unwrap())
        .unwrap();
    (client_id, row)
}

/// An access token for the API issued to the client whose row is `client_row`: recorded like
/// one from the token endpoint, whose row names the client.
fn client_token(app: &TestApp, user_id: i64, client: (i64, &str)) -> String {
    app.token_for_client(user_id, "read", &app.url, Some(client))
}

#[actix_web::test]
async fn oauth_revoke_ends_a_first_party_token_and_refuses_another_clients() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let user = app.register_user("revoke@example.org").await;
        let first_party = app.login_token("revoke@example.org").await;
        let (a, _) = public_client(&app).await;
        let (b, b_row) = public_client(&app).await;
        let of_b = client_token(&app, user, (b_row, &b));
        let revoke = |token: &str, client_id: &str| {
            app.client
                .post(app.at("/oauth/revoke"))
                .form(&[("token", token), ("client_id", client_id)])
                .send()
        };

        let response = revoke(&first_party, &a).await.unwrap();
        assert_eq!(response.status(), 200, "{backend:?}");
        assert_eq!(
            me_status(&app, &first_party).await,
            401,
            "{backend:?}: a 200 from /oauth/revoke means the token no longer works"
        );

        // Client A cannot revoke B's token, and is told so rather than answered 200.
        assert_eq!(me_status(&app, &of_b).await, 200);
        let response = revoke(&of_b, &a).await.unwrap();
        assert_eq!(response.status(), 400, "{backend:?}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["error"], "unauthorized_client", "{body}");
        assert_eq!(me_status(&app, &of_b).await, 200, "{backend:?}");
        let response = revoke(&of_b, &b).await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(me_status(&app, &of_b).await, 401, "{backend:?}");
        app.stop().await;
    }
}

/// A browser whose cookie jar the test can read.
fn browser_with_jar() -> (reqwest::Client, std::sync::Arc<reqwest::cookie::Jar>) {
    let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
    let client = reqwest::Client::builder()
        .cookie_provider(jar.clone())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    (client, jar)
}

/// `/connectors` with exactly this `Cookie` header: 200 when it signs in, 303 when it does not.
async fn status_with_cookie(app: &TestApp, cookie: &str) -> u16 {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(app.at("/connectors"))
        .header("Cookie", cookie)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[actix_web::test]
async fn signing_out_ends_the_session_everywhere_even_for_a_saved_cookie() {
    use reqwest::cookie::CookieStore;
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        app.register_user("saved@example.org").await;
        let (browser, jar) = browser_with_jar();
        let signed_in = app.sign_in(&browser, "saved@example.org", PASSWORD).await;
        assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
        let url: reqwest::Url = app.url.parse().unwrap();
        let saved = jar.cookies(&url).unwrap().to_str().unwrap().to_string();
        assert_eq!(status_with_cookie(&app, &saved).await, 200);
        let other = app.new_browser();
        app.sign_in(&other, "saved@example.org", PASSWORD).await;

        let csrf = csrf_from(&browser, &app.at("/logout")).await;
        let out = browser
            .post(app.at("/logout"))
            .form(&[("csrf_token", csrf.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(location(&out), "/login");

        assert_eq!(
            status_with_cookie(&app, &saved).await,
            303,
            "{backend:?}: a cookie saved before signing out no longer signs in"
        );
        let elsewhere = other.get(app.at("/connectors")).send().await.unwrap();
        assert_eq!(
            elsewhere.status(),
            303,
            "{backend:?}: nor another browser's"
        );
        // Signing in again works, with a session of the new generation.
        app.sign_in(&other, "saved@example.org", PASSWORD).await;
        let back = other.get(app.at("/connectors")).send().await.unwrap();
        assert_eq!(back.status(), 200, "{backend:?}");
        app.stop().await;
    }
}

/// A session cookie as this server would have issued it, with these entries (each value JSON).
fn session_cookie(app: &TestApp, entries: &[(&str, String)]) -> String {
    use actix_web::cookie::{Cookie, CookieJar, Key};
    let key = Key::derive_from(app.state.config.session_secret.expose().as_bytes());
    let state: std::collections::HashMap<&str, &String> =
        entries.iter().map(|(k, v)| (*k, v)).collect();
    let mut jar = CookieJar::new();
    jar.private_mut(&key).add(Cookie::new(
        "panicless_session",
        serde_json::to_string(&state).unwrap(),
    ));
    format!(
        "panicless_session={}",
        jar.get("panicless_session").unwrap().value()
    )
}

/// The entries of a session cookie the server set.
fn session_entries(app: &TestApp, cookie: &str) -> serde_json::Value {
    use actix_web::cookie::{Cookie, CookieJar, Key};
    let key = Key::derive_from(app.state.config.session_secret.expose().as_bytes());
    let sent = cookie
        .split("; ")
        .find(|c| c.starts_with("panicless_session="))
        .unwrap();
    let mut jar = CookieJar::new();
    // The server percent-encodes the value it sets.
    jar.add_original(Cookie::parse_encoded(sent.to_string()).unwrap());
    let opened = jar.private(&key).get("panicless_session").unwrap();
    serde_json::from_str(opened.value()).unwrap()
}

#[actix_web::test]
async fn a_session_unused_for_a_day_is_over_unless_kept_signed_in() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let id = app.register_user("idle@example.org").await;
    let now = chrono::Utc::now().timestamp();
    let cookie = |seen: i64, remember: bool| {
        session_cookie(
            &app,
            &[
                ("uid", id.to_string()),
                ("gen", "0".into()),
                ("seen", seen.to_string()),
                ("remember", remember.to_string()),
            ],
        )
    };
    assert_eq!(
        status_with_cookie(&app, &cookie(now - 60, false)).await,
        200
    );
    let two_days = now - 2 * 24 * 3600;
    assert_eq!(
        status_with_cookie(&app, &cookie(two_days, false)).await,
        303
    );
    assert_eq!(status_with_cookie(&app, &cookie(two_days, true)).await, 200);
    let long_ago = now - 31 * 24 * 3600;
    assert_eq!(status_with_cookie(&app, &cookie(long_ago, true)).await, 303);
    // A cookie that names only a user (as every cookie did before sessions had a generation and
    // a last use) signs nobody in.
    let bare = session_cookie(&app, &[("uid", id.to_string())]);
    assert_eq!(status_with_cookie(&app, &bare).await, 303);

    // The sign-in form offers "keep me signed in", and the session remembers the choice.
    use reqwest::cookie::CookieStore;
    let url: reqwest::Url = app.url.parse().unwrap();
    for (ticked, expected) in [(false, false), (true, true)] {
        let (browser, jar) = browser_with_jar();
        let page = browser
            .get(app.at("/login"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(page.contains("name=\"remember\""), "{page}");
        let csrf = hidden_field(&page, "csrf_token").unwrap();
        let mut form = vec![
            ("csrf_token", csrf.as_str()),
            ("email", "idle@example.org"),
            ("password", PASSWORD),
        ];
        if ticked {
            form.push(("remember", "yes"));
        }
        let response = browser
            .post(app.at("/login"))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let cookie = jar.cookies(&url).unwrap().to_str().unwrap().to_string();
        let entries = session_entries(&app, &cookie);
        assert_eq!(entries["remember"], expected.to_string(), "{entries}");
    }
    app.stop().await;
}

#[actix_web::test]
async fn a_new_password_signs_the_account_out_of_every_browser() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.register_user("changed@example.org").await;
    let browser = app.new_browser();
    app.sign_in(&browser, "changed@example.org", PASSWORD).await;
    let before = browser.get(app.at("/connectors")).send().await.unwrap();
    assert_eq!(before.status(), 200);

    let done = run_cli(
        &app.db.url,
        &["user", "password", "--email", "changed@example.org"],
        "a brand new password\n",
    );
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );

    let after = browser.get(app.at("/connectors")).send().await.unwrap();
    assert_eq!(after.status(), 303, "the old session is over");
    let old = app
        .sign_in(&app.new_browser(), "changed@example.org", PASSWORD)
        .await;
    assert_eq!(old.status(), StatusCode::UNAUTHORIZED);
    let new = app
        .sign_in(
            &app.new_browser(),
            "changed@example.org",
            "a brand new password",
        )
        .await;
    assert_eq!(new.status(), StatusCode::SEE_OTHER);
    app.stop().await;
}

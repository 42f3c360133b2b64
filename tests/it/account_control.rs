//! Issue 21: a person controls their account. `POST /api/account/password` and
//! `DELETE /api/account`, the `/account` page's two forms, the last administrator, and the
//! signed-in header on error pages.

use crate::common::{backends, csrf_from, Backend, TestApp, PASSWORD};
use reqwest::Method;
use serde_json::json;

const NEW_PASSWORD: &str = "a brand new passphrase";

async fn bearer_status(app: &TestApp, token: &str) -> u16 {
    app.api(Method::GET, "/api/auth/me", token, None).await.0
}

async fn page_status(app: &TestApp, client: &reqwest::Client, path: &str) -> u16 {
    client
        .get(app.at(path))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn login_status(app: &TestApp, email: &str, password: &str) -> u16 {
    app.client
        .post(app.at("/api/auth/login"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// A token of a connected app (an OAuth client) for `user_id`, with every scope.
async fn app_token(app: &TestApp, user_id: i64) -> String {
    use diesel::prelude::*;
    use panicless::db::schema::oauth_clients;
    let client_id = crate::oauth::public_client(app).await;
    let row: i64 = oauth_clients::table
        .filter(oauth_clients::client_id.eq(&client_id))
        .select(oauth_clients::id)
        .first(&mut *app.state.pool.get().unwrap())
        .unwrap();
    app.token_for_client(user_id, "all", &app.url, Some((row, &client_id)))
}

#[actix_web::test]
async fn changing_the_password_ends_other_sessions_and_first_party_tokens() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let email = "changer@example.org";
        let id = app.register_user(email).await;
        let caller = app.login_token(email).await;
        let other = app.login_token(email).await;
        let connected = app_token(&app, id).await;
        let browser = app.new_browser();
        app.sign_in(&browser, email, PASSWORD).await;
        assert_eq!(page_status(&app, &browser, "/account").await, 200);

        // A connected app's token cannot change the password, whatever its scope.
        let body = json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD});
        let (status, problem) = app
            .api(
                Method::POST,
                "/api/account/password",
                &connected,
                Some(body.clone()),
            )
            .await;
        assert_eq!(status, 403, "{problem}");
        // The wrong current password, and a new one that breaks the sign-up rules, by field.
        let (status, problem) = app
            .api(
                Method::POST,
                "/api/account/password",
                &caller,
                Some(json!({"current_password": "not it at all", "new_password": NEW_PASSWORD})),
            )
            .await;
        // A well-formed request from a caller who does not know the password: refused, 403.
        assert_eq!(status, 403, "{problem}");
        assert_eq!(problem["code"], "wrong_password");
        assert_eq!(problem["errors"][0]["field"], "current_password");
        let (status, problem) = app
            .api(
                Method::POST,
                "/api/account/password",
                &caller,
                Some(json!({"current_password": PASSWORD, "new_password": "short"})),
            )
            .await;
        assert_eq!(status, 422, "{problem}");
        assert_eq!(problem["errors"][0]["field"], "new_password");
        assert_eq!(
            bearer_status(&app, &other).await,
            200,
            "nothing changed yet"
        );

        let (status, answer) = app
            .api(Method::POST, "/api/account/password", &caller, Some(body))
            .await;
        assert_eq!(status, 204, "{answer}");
        assert_eq!(
            bearer_status(&app, &caller).await,
            200,
            "the caller's token is kept"
        );
        assert_eq!(
            bearer_status(&app, &other).await,
            401,
            "other first-party tokens end"
        );
        assert_eq!(
            bearer_status(&app, &connected).await,
            200,
            "connected apps stay"
        );
        assert_eq!(
            page_status(&app, &browser, "/account").await,
            303,
            "the browser session ended"
        );
        assert_eq!(login_status(&app, email, PASSWORD).await, 401);
        assert_eq!(login_status(&app, email, NEW_PASSWORD).await, 200);
        app.stop().await;
    }
}

/// Rows of `user_id` left in every table that holds a user's data.
fn rows_left(app: &TestApp, user_id: i64) -> i64 {
    use diesel::prelude::*;
    use panicless::db::schema::*;
    let conn = &mut *app.state.pool.get().unwrap();
    macro_rules! count {
        ($table:ident, $column:ident) => {
            $table::table
                .filter($table::$column.eq(user_id))
                .count()
                .get_result::<i64>(conn)
                .unwrap()
        };
    }
    count!(books, user_id)
        + count!(readings, user_id)
        + count!(book_tags, user_id)
        + count!(oauth_tokens, user_id)
        + count!(oauth_consents, user_id)
        + count!(connectors, user_id)
        + count!(reading_months, user_id)
        + count!(reading_authors, user_id)
        + count!(library_versions, user_id)
        + count!(users, id)
}

#[actix_web::test]
async fn deleting_the_account_takes_everything_and_keeps_the_last_administrator() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        // The first account is the administrator.
        let admin = app.user_token("admin@example.org").await;
        let email = "leaver@example.org";
        let id = app.register_user(email).await;
        let token = app.login_token(email).await;
        let connected = app_token(&app, id).await;
        let (_, book) = app
            .api(
                Method::POST,
                "/api/books",
                &token,
                Some(json!({"title": "Mine", "tags": ["kept"]})),
            )
            .await;
        app.api(
            Method::POST,
            "/api/readings",
            &token,
            Some(json!({"book_id": book["id"], "finished_on": "2024-05-01", "rating": 4})),
        )
        .await;
        let (status, _) = app
            .api(
                Method::POST,
                "/api/connectors",
                &token,
                Some(json!({"provider": "anthropic", "api_key": "sk-ant-0123456789abcdef"})),
            )
            .await;
        assert_eq!(status, 201);
        assert!(rows_left(&app, id) > 5);

        let (status, problem) = app
            .api(
                Method::DELETE,
                "/api/account",
                &connected,
                Some(json!({"password": PASSWORD})),
            )
            .await;
        assert_eq!(status, 403, "a connected app cannot: {problem}");
        let (status, problem) = app
            .api(
                Method::DELETE,
                "/api/account",
                &token,
                Some(json!({"password": "wrong one!"})),
            )
            .await;
        assert_eq!(status, 403, "{problem}");
        assert_eq!(problem["code"], "wrong_password");
        assert_eq!(problem["errors"][0]["field"], "password");
        let (status, problem) = app
            .api(Method::DELETE, "/api/account", &token, Some(json!({})))
            .await;
        assert_eq!(status, 422, "{problem}");
        assert_eq!(problem["errors"][0]["field"], "password");

        let (status, answer) = app
            .api(
                Method::DELETE,
                "/api/account",
                &token,
                Some(json!({"password": PASSWORD})),
            )
            .await;
        assert_eq!(status, 204, "{answer}");
        assert_eq!(
            rows_left(&app, id),
            0,
            "{backend:?}: every row of the user is gone"
        );
        assert_eq!(bearer_status(&app, &token).await, 401);
        assert_eq!(bearer_status(&app, &connected).await, 401);
        assert_eq!(login_status(&app, email, PASSWORD).await, 401);
        // The email is free again, for an empty library.
        let token = app.user_token(email).await;
        let (_, page) = app.api(Method::GET, "/api/books", &token, None).await;
        assert_eq!(page["total"], 0, "{page}");

        // The only administrator cannot leave: said clearly, nothing deleted.
        let (status, problem) = app
            .api(
                Method::DELETE,
                "/api/account",
                &admin,
                Some(json!({"password": PASSWORD})),
            )
            .await;
        assert_eq!(status, 409, "{problem}");
        assert!(
            problem["detail"]
                .as_str()
                .unwrap()
                .contains("only administrator"),
            "{problem}"
        );
        assert_eq!(bearer_status(&app, &admin).await, 200);
        app.stop().await;
    }
}

#[actix_web::test]
async fn the_account_page_changes_the_password_and_deletes_with_errors_by_the_fields() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.register_user("first-admin@example.org").await;
    let email = "pages@example.org";
    app.register_user(email).await;
    let token = app.login_token(email).await;
    let browser = app.new_browser();
    app.sign_in(&browser, email, PASSWORD).await;
    let other_browser = app.new_browser();
    app.sign_in(&other_browser, email, PASSWORD).await;

    let page = browser.get(app.at("/account")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let text = page.text().await.unwrap();
    assert!(text.contains("Change your password") && text.contains("Delete your account"));
    assert!(
        text.contains(r#"href="/account""#),
        "the header links the page"
    );

    // Without the CSRF token: refused.
    let refused = browser
        .post(app.at("/account/password"))
        .form(&[
            ("csrf_token", "forged"),
            ("current_password", PASSWORD),
            ("new_password", NEW_PASSWORD),
            ("new_password_confirm", NEW_PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);

    let post = |path: &'static str, fields: Vec<(&'static str, &'static str)>| {
        let browser = browser.clone();
        let url = app.at(path);
        let account = app.at("/account");
        async move {
            let csrf = csrf_from(&browser, &account).await;
            let mut form = vec![("csrf_token", csrf.as_str())];
            form.extend(fields.iter().copied());
            let response = browser.post(url).form(&form).send().await.unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        }
    };
    let (status, text) = post(
        "/account/password",
        vec![
            ("current_password", "not my password"),
            ("new_password", NEW_PASSWORD),
            ("new_password_confirm", NEW_PASSWORD),
        ],
    )
    .await;
    assert_eq!(status, 422);
    assert!(text.contains(r#"id="current_password-error""#), "{text}");
    assert!(
        !text.contains(NEW_PASSWORD),
        "passwords are never written back"
    );
    let (status, text) = post(
        "/account/password",
        vec![
            ("current_password", PASSWORD),
            ("new_password", NEW_PASSWORD),
            ("new_password_confirm", "something else"),
        ],
    )
    .await;
    assert_eq!(status, 422);
    assert!(
        text.contains(r#"id="new_password_confirm-error""#),
        "{text}"
    );
    let (status, text) = post(
        "/account/password",
        vec![
            ("current_password", PASSWORD),
            ("new_password", NEW_PASSWORD),
            ("new_password_confirm", NEW_PASSWORD),
        ],
    )
    .await;
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("Your password is changed"), "{text}");
    assert_eq!(
        page_status(&app, &browser, "/account").await,
        200,
        "this browser stays"
    );
    assert_eq!(
        page_status(&app, &other_browser, "/account").await,
        303,
        "others end"
    );
    assert_eq!(
        bearer_status(&app, &token).await,
        401,
        "first-party tokens end"
    );

    // Deleting: the box must be ticked, and the password right; the box stays ticked.
    let (status, text) = post("/account/delete", vec![("password", NEW_PASSWORD)]).await;
    assert_eq!(status, 422);
    assert!(text.contains(r#"id="confirm-error""#), "{text}");
    let (status, text) = post(
        "/account/delete",
        vec![("password", PASSWORD), ("confirm", "yes")],
    )
    .await;
    assert_eq!(status, 422);
    assert!(text.contains(r#"id="delete_password-error""#), "{text}");
    assert!(text.contains("checked"), "the box stays ticked: {text}");
    let (status, text) = post(
        "/account/delete",
        vec![("password", NEW_PASSWORD), ("confirm", "yes")],
    )
    .await;
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("Your account is deleted"), "{text}");
    assert_eq!(page_status(&app, &browser, "/account").await, 303);
    assert_eq!(login_status(&app, email, NEW_PASSWORD).await, 401);
    app.stop().await;
}

#[actix_web::test]
async fn the_last_administrator_is_told_on_the_page() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let email = "only-admin@example.org";
    app.register_user(email).await;
    let browser = app.new_browser();
    app.sign_in(&browser, email, PASSWORD).await;
    let text = browser
        .get(app.at("/account"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("only administrator"), "{text}");
    let csrf = csrf_from(&browser, &app.at("/account")).await;
    let response = browser
        .post(app.at("/account/delete"))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("password", PASSWORD),
            ("confirm", "yes"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 409);
    assert_eq!(
        login_status(&app, email, PASSWORD).await,
        200,
        "nothing deleted"
    );
    app.stop().await;
}

#[actix_web::test]
async fn error_pages_show_the_signed_in_header() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.register_user("admin-first@example.org").await;
    let email = "reader@example.org";
    app.register_user(email).await;
    let browser = app.new_browser();
    app.sign_in(&browser, email, PASSWORD).await;
    for (path, status) in [("/no/such/page", 404), ("/admin/tokens", 403)] {
        let response = browser.get(app.at(path)).send().await.unwrap();
        assert_eq!(response.status(), status, "{path}");
        let text = response.text().await.unwrap();
        assert!(
            text.contains(email),
            "{path}: the user's name in the header: {text}"
        );
        assert!(text.contains("Sign out"), "{path}: {text}");
        assert!(!text.contains(r#"href="/login""#), "{path}: {text}");
    }
    // Signed out, the same pages offer to sign in.
    let anonymous = app.new_browser();
    let text = anonymous
        .get(app.at("/no/such/page"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains(r#"href="/login""#), "{text}");
    assert!(!text.contains("Sign out"), "{text}");
    app.stop().await;
}

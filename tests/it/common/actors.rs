//! Who calls the server in a test, as types (after crates.io's `TestApp::init().with_user()`):
//! an anonymous or signed-in [`Browser`] with the pages' forms as methods, and a [`Bearer`] of
//! a token with the API's calls. A test says who acts; the requests are written once, here.
#![allow(dead_code)] // each test module uses the actors and calls it needs

use super::{browser, csrf_from, TestApp, PASSWORD};
use reqwest::{Method, Response, StatusCode};
use serde_json::Value;

/// A browser: its own cookie jar (its session), no automatic redirects.
pub struct Browser<'a> {
    app: &'a TestApp,
    pub client: reqwest::Client,
}

/// A holder of an access token.
pub struct Bearer<'a> {
    app: &'a TestApp,
    pub token: String,
}

impl TestApp {
    /// A fresh browser with no session.
    pub fn anonymous(&self) -> Browser<'_> {
        Browser {
            app: self,
            client: browser(),
        }
    }

    /// A fresh browser signed in through the login form as `email`, who must exist.
    pub async fn signed_in(&self, email: &str) -> Browser<'_> {
        let actor = self.anonymous();
        let response = self.sign_in(&actor.client, email, PASSWORD).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "sign in {email}");
        actor
    }

    /// Registers `email`, then signs a fresh browser in as them.
    pub async fn with_user(&self, email: &str) -> Browser<'_> {
        self.register_user(email).await;
        self.signed_in(email).await
    }

    /// The holder of `token`.
    pub fn bearer(&self, token: &str) -> Bearer<'_> {
        Bearer {
            app: self,
            token: token.to_string(),
        }
    }

    /// The holder of a token for `user_id` with exactly `scope`, recorded like any token.
    pub fn token(&self, user_id: i64, scope: &str) -> Bearer<'_> {
        let token = self.scoped_token(user_id, scope);
        Bearer { app: self, token }
    }
}

impl Browser<'_> {
    /// A path on the server, or a whole URL (an authorization request, a redirect).
    fn url(&self, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            path.to_string()
        } else {
            self.app.at(path)
        }
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    /// The text of the page at `path`, whatever its status.
    pub async fn page(&self, path: &str) -> String {
        self.get(path).await.text().await.unwrap()
    }

    pub async fn post_form(&self, path: &str, form: &[(&str, &str)]) -> Response {
        self.client
            .post(self.url(path))
            .form(form)
            .send()
            .await
            .unwrap()
    }

    /// The CSRF token of the first form at `path`.
    pub async fn csrf(&self, path: &str) -> String {
        csrf_from(&self.client, &self.url(path)).await
    }

    /// The sign-up form, with the page's CSRF token (`confirm` is the password typed again).
    pub async fn register(&self, email: &str, password: &str, confirm: &str) -> Response {
        let csrf = self.csrf("/register").await;
        self.post_form(
            "/register",
            &[
                ("csrf_token", csrf.as_str()),
                ("email", email),
                ("password", password),
                ("password_confirm", confirm),
            ],
        )
        .await
    }

    /// `/account/connections/disconnect`: ends one grant of mine.
    pub async fn disconnect(&self, csrf: &str, grant_id: &str) -> Response {
        self.post_form(
            "/account/connections/disconnect",
            &[("csrf_token", csrf), ("grant_id", grant_id)],
        )
        .await
    }

    /// `/admin/tokens/revoke`: `target` is `grant`, `client` or `user`; `confirm` ticks the box
    /// a mass revocation needs.
    pub async fn revoke(&self, csrf: &str, target: &str, value: &str, confirm: bool) -> Response {
        let mut form = vec![("csrf_token", csrf), ("target", target), ("value", value)];
        if confirm {
            form.push(("confirm", "yes"));
        }
        self.post_form("/admin/tokens/revoke", &form).await
    }
}

impl Bearer<'_> {
    /// Any call with the token: the status and the body (JSON, or the text as a string).
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        self.app.api(method, path, &self.token, body).await
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(Method::POST, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(Method::PATCH, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> (u16, Value) {
        self.call(Method::DELETE, path, None).await
    }
}

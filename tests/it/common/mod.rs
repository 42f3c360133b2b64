//! The test harness: a real server on a free port over a fresh database, and an HTTP client
//! with a cookie jar.

use panicless::config::Config;
use panicless::state::AppState;
use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::Once;

pub mod actors;
pub mod skips;

pub const PASSWORD: &str = "correct horse battery";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The backends to run storage tests on. PostgreSQL joins when `PANICLESS_TEST_POSTGRES_URL` is
/// set; when `PANICLESS_REQUIRE_POSTGRES=1` (CI) its absence fails the run instead of skipping.
pub fn backends() -> Vec<Backend> {
    skips::run_started();
    if postgres_url().is_some() {
        vec![Backend::Sqlite, Backend::Postgres]
    } else {
        if std::env::var("PANICLESS_REQUIRE_POSTGRES").as_deref() == Ok("1") {
            panic!("PANICLESS_REQUIRE_POSTGRES=1 but PANICLESS_TEST_POSTGRES_URL is not set");
        }
        static REASON: Once = Once::new();
        REASON.call_once(|| {
            skips::skipped(
                "PostgreSQL",
                "PANICLESS_TEST_POSTGRES_URL is not set (for example \
                 postgres://postgres@127.0.0.1:5432/test): every test ran on SQLite only, and the \
                 cluster and resilience tests did not run",
            );
        });
        vec![Backend::Sqlite]
    }
}

pub fn postgres_url() -> Option<String> {
    std::env::var("PANICLESS_TEST_POSTGRES_URL")
        .ok()
        .filter(|v| !v.trim().is_empty())
}

/// A database that exists for one test: a SQLite file in a temporary folder, or a PostgreSQL
/// schema of its own, dropped at the end.
pub struct TestDb {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    pg_schema: Option<(String, String)>,
}

impl TestDb {
    pub fn new(backend: Backend) -> TestDb {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let url = format!("sqlite://{}", dir.path().join("test.db").display());
                TestDb {
                    url,
                    _dir: Some(dir),
                    pg_schema: None,
                }
            }
            Backend::Postgres => {
                use diesel::connection::SimpleConnection;
                use diesel::Connection;
                let base = postgres_url().expect("PANICLESS_TEST_POSTGRES_URL");
                let schema = format!(
                    "test_{}",
                    panicless::crypto::random_token(9)
                        .to_lowercase()
                        .replace(['-', '_'], "x")
                );
                let mut conn = diesel::PgConnection::establish(&base).unwrap();
                conn.batch_execute(&format!("CREATE SCHEMA {schema}"))
                    .unwrap();
                let separator = if base.contains('?') { '&' } else { '?' };
                let url = format!("{base}{separator}options=-csearch_path%3D{schema}");
                TestDb {
                    url,
                    _dir: None,
                    pg_schema: Some((base, schema)),
                }
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((base, schema)) = &self.pg_schema {
            use diesel::connection::SimpleConnection;
            use diesel::Connection;
            if let Ok(mut conn) = diesel::PgConnection::establish(base) {
                let _ = conn.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
            }
        }
    }
}

/// Configuration for a test server: fast bcrypt, the given database, the given public URL.
pub fn test_config(database_url: &str, public_url: &str, extra: &[(&str, &str)]) -> Config {
    let mut vars: HashMap<String, String> = HashMap::from([
        ("DATABASE_URL".into(), database_url.to_string()),
        ("PUBLIC_URL".into(), public_url.to_string()),
        ("BCRYPT_COST".into(), "4".into()),
        ("SERVER_WORKERS".into(), "2".into()),
        ("DATABASE_POOL_SIZE".into(), "8".into()),
        // Nothing in the tests reaches the internet: book lookups are off unless a test points
        // them at its own fake of the Open Library API (tests/it/books_pages.rs).
        ("METADATA_URL".into(), "off".into()),
    ]);
    for (k, v) in extra {
        vars.insert(k.to_string(), v.to_string());
    }
    Config::from_lookup(|k| vars.get(k).cloned()).expect("test configuration")
}

/// A running server.
#[allow(dead_code)] // each test module uses the parts it needs
pub struct TestApp {
    pub url: String,
    pub backend: Backend,
    pub state: AppState,
    /// A browser-like client: cookie jar, no automatic redirects (tests look at them).
    pub client: reqwest::Client,
    pub db: TestDb,
    handle: actix_web::dev::ServerHandle,
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> TestApp {
        TestApp::spawn_with(backend, &[]).await
    }

    pub async fn spawn_with(backend: Backend, extra: &[(&str, &str)]) -> TestApp {
        skips::run_started();
        let db = TestDb::new(backend);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let config = test_config(&db.url, &url, extra);
        let state = AppState::init(config).unwrap();
        TestApp::serve(state, listener, db, backend)
    }

    /// Serves an already built state (tests that tamper with it first).
    pub fn serve(state: AppState, listener: TcpListener, db: TestDb, backend: Backend) -> TestApp {
        let url = format!("http://{}", listener.local_addr().unwrap());
        let server = panicless::start(state.clone(), listener).unwrap();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        TestApp {
            url,
            backend,
            state,
            client: browser(),
            db,
            handle,
        }
    }

    pub fn at(&self, path: &str) -> String {
        format!("{}{}", self.url, path)
    }

    /// A fresh client with its own cookie jar (another browser).
    pub fn new_browser(&self) -> reqwest::Client {
        browser()
    }

    /// Registers through the JSON API and returns the user id.
    pub async fn register_user(&self, email: &str) -> i64 {
        let response = self
            .client
            .post(self.at("/api/auth/register"))
            .json(&serde_json::json!({"email": email, "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "register {email}");
        response.json::<serde_json::Value>().await.unwrap()["id"]
            .as_i64()
            .unwrap()
    }

    /// Registers and returns a first-party access token (scope `all`).
    pub async fn user_token(&self, email: &str) -> String {
        self.register_user(email).await;
        self.login_token(email).await
    }

    pub async fn login_token(&self, email: &str) -> String {
        let response = self
            .client
            .post(self.at("/api/auth/login"))
            .json(&serde_json::json!({"email": email, "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.json::<serde_json::Value>().await.unwrap()["access_token"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// Signs `client` in through the login form (it must have no session yet).
    pub async fn sign_in(
        &self,
        client: &reqwest::Client,
        email: &str,
        password: &str,
    ) -> reqwest::Response {
        sign_in(self, client, email, password).await
    }

    pub async fn stop(self) {
        self.handle.stop(false).await;
    }
}

/// A server the tests talk to over HTTP: one started inside the test process, or a real
/// binary in a process of its own (tests/it/cluster.rs).
pub trait Server {
    fn at(&self, path: &str) -> String;
    /// A client without cookies, for API calls.
    fn client(&self) -> &reqwest::Client;
}

impl Server for TestApp {
    fn at(&self, path: &str) -> String {
        TestApp::at(self, path)
    }
    fn client(&self) -> &reqwest::Client {
        &self.client
    }
}

/// Signs `client` in on `server` through the login form (it must have no session yet).
pub async fn sign_in(
    server: &impl Server,
    client: &reqwest::Client,
    email: &str,
    password: &str,
) -> reqwest::Response {
    let csrf = csrf_from(client, &server.at("/login")).await;
    client
        .post(server.at("/login"))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("email", email),
            ("password", password),
        ])
        .send()
        .await
        .unwrap()
}

pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Loads a page and returns the CSRF token of its first form.
pub async fn csrf_from(client: &reqwest::Client, url: &str) -> String {
    let page = client.get(url).send().await.unwrap().text().await.unwrap();
    hidden_field(&page, "csrf_token").unwrap_or_else(|| panic!("no csrf_token on {url}: {page}"))
}

/// The value of `<input type="hidden" name="NAME" value="...">` in a page.
pub fn hidden_field(page: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page.find(&marker)? + marker.len();
    let end = page[start..].find('"')?;
    Some(unescape_html(&page[start..start + end]))
}

/// Undoes the HTML escaping of an attribute value.
pub fn unescape_html(text: &str) -> String {
    text.replace("&#38;", "&")
        .replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&#60;", "<")
        .replace("&#62;", ">")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The claims of a JWT, without checking its signature (the server checks it).
pub fn jwt_claims(token: &str) -> serde_json::Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

impl TestApp {
    /// A token for `user_id` with exactly `scope` (for example `read`), recorded like any token.
    pub fn scoped_token(&self, user_id: i64, scope: &str) -> String {
        self.token_for_audience(user_id, scope, &self.url.clone())
    }

    pub fn token_for_audience(&self, user_id: i64, scope: &str, audience: &str) -> String {
        self.token_for_client(user_id, scope, audience, None)
    }

    /// A token issued to an OAuth client (its row id and public `client_id`) by the server's
    /// own issuer, claims and row agreeing as the token endpoint writes them.
    pub fn token_for_client(
        &self,
        user_id: i64,
        scope: &str,
        audience: &str,
        client: Option<(i64, &str)>,
    ) -> String {
        use panicless::auth::issue::{Access, ClientRef};
        let access = Access {
            user_id,
            scope,
            audience,
            client: client.map(|(id, client_id)| ClientRef { id, client_id }),
            grant_id: None,
            parent_id: None,
        };
        let mut conn = self.state.pool.get().unwrap();
        panicless::db::write_transaction(&mut conn, |conn| {
            self.state
                .issuer()
                .access_token(conn, &access, panicless::db::models::now())
        })
        .unwrap()
        .token
    }

    /// Marks the row of access token `token` revoked, as an administrator's revocation would.
    pub fn revoke_access_token(&self, token: &str) {
        use diesel::prelude::*;
        use panicless::db::schema::oauth_tokens;
        let jti = jwt_claims(token)["jti"].as_str().unwrap().to_string();
        let revoked = diesel::update(oauth_tokens::table.filter(oauth_tokens::jti.eq(&jti)))
            .set(oauth_tokens::revoked_at.eq(panicless::db::models::now()))
            .execute(&mut *self.state.pool.get().unwrap())
            .unwrap();
        assert_eq!(revoked, 1, "no row for that token");
    }

    /// Registers a user and returns (id, token with scope `all`).
    pub async fn user(&self, email: &str) -> (i64, String) {
        let id = self.register_user(email).await;
        (id, self.scoped_token(id, "all"))
    }

    pub async fn api(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let mut request = self
            .client
            .request(method, self.at(path))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
        )
    }
}

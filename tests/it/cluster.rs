//! Several instances of the real binary on one PostgreSQL database, as behind a load balancer:
//! whatever one instance does (a code issued, a token rotated or revoked, a grant shown) every
//! other sees on its very next request. Also: SIGTERM lets in-flight requests finish.

use crate::common::{backends, browser, Backend, Server, TestDb, PASSWORD};
use crate::oauth::{
    approve, authorize_url, exchange_code, pkce, public_client, query_of, refresh_grant, REDIRECT,
};
use diesel::prelude::*;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// One `panicless serve` process.
pub struct Instance {
    url: String,
    client: reqwest::Client,
    child: Child,
    log: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Server for Instance {
    fn at(&self, path: &str) -> String {
        format!("{}{}", self.url, path)
    }
    fn client(&self) -> &reqwest::Client {
        &self.client
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts the binary. Every instance gets the same public URL (the load balancer's, in
/// production) and the same secrets; only the port differs.
pub fn start(database_url: &str, public_url: &str, port: u16, extra: &[(&str, &str)]) -> Instance {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("server.log");
    let log_file = std::fs::File::create(&log).unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_panicless"));
    command
        .arg("serve")
        .env_clear()
        .env("DATABASE_URL", database_url)
        .env("PUBLIC_URL", public_url)
        .env("SERVER_HOST", "127.0.0.1")
        .env("SERVER_PORT", port.to_string())
        .env("SERVER_WORKERS", "2")
        .env("BCRYPT_COST", "4")
        .env("METADATA_URL", "off")
        .env("RUST_LOG", "warn")
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(log_file.try_clone().unwrap())
        .stderr(log_file);
    for (key, value) in extra {
        command.env(key, value);
    }
    Instance {
        url: format!("http://127.0.0.1:{port}"),
        client: reqwest::Client::new(),
        child: command.spawn().unwrap(),
        log,
        _dir: dir,
    }
}

/// Waits until `/health` says ready.
pub async fn ready(instance: &mut Instance) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(response) = instance.client.get(instance.at("/health")).send().await {
            if response.status() == 200 {
                return;
            }
        }
        if let Ok(Some(status)) = instance.child.try_wait() {
            panic!(
                "instance exited with {status}:\n{}",
                std::fs::read_to_string(&instance.log).unwrap_or_default()
            );
        }
        assert!(
            Instant::now() < deadline,
            "instance not ready in 60 s:\n{}",
            std::fs::read_to_string(&instance.log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// PostgreSQL is what several instances share; without it there is nothing to test here.
fn postgres() -> Option<TestDb> {
    backends()
        .contains(&Backend::Postgres)
        .then(|| TestDb::new(Backend::Postgres))
}

async fn bearer_status(instance: &Instance, token: &str) -> u16 {
    instance
        .client
        .get(instance.at("/api/books"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Signs a fresh browser in on `instance` and returns the grant ids `/admin/tokens` lists.
async fn admin_grants(instance: &Instance, email: &str) -> Vec<String> {
    let browser = browser();
    let signed_in = crate::common::sign_in(instance, &browser, email, PASSWORD).await;
    assert_eq!(signed_in.status(), 303);
    let page = browser
        .get(instance.at("/admin/tokens"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Tokens and grants"), "{page}");
    let marker = "name=\"value\" value=\"";
    let mut grants: Vec<String> = page
        .match_indices(marker)
        .map(|(at, _)| {
            let rest = &page[at + marker.len()..];
            rest[..rest.find('"').unwrap()].to_string()
        })
        .collect();
    grants.sort();
    grants
}

/// Count of refresh rows in the database: one a grant (a rotation moves its row on in place).
fn refresh_rows(database_url: &str) -> i64 {
    use panicless::db::schema::oauth_tokens;
    let mut conn = diesel::PgConnection::establish(database_url).unwrap();
    oauth_tokens::table
        .filter(oauth_tokens::kind.eq(panicless::db::models::token::TokenKind::Refresh))
        .count()
        .get_result(&mut conn)
        .unwrap()
}

/// Count of token rows of every kind (a grant's access tokens have none).
fn token_rows(database_url: &str) -> i64 {
    use panicless::db::schema::oauth_tokens;
    let mut conn = diesel::PgConnection::establish(database_url).unwrap();
    oauth_tokens::table.count().get_result(&mut conn).unwrap()
}

/// Sum of the grant rows' generations: each rotation adds one, wherever it ran.
fn generations(database_url: &str) -> i64 {
    use panicless::db::schema::oauth_tokens;
    let mut conn = diesel::PgConnection::establish(database_url).unwrap();
    let all: Vec<i64> = oauth_tokens::table
        .filter(oauth_tokens::kind.eq(panicless::db::models::token::TokenKind::Refresh))
        .select(oauth_tokens::generation)
        .load(&mut conn)
        .unwrap();
    all.iter().sum()
}

#[actix_web::test]
async fn two_instances_share_one_postgresql_database() {
    let Some(db) = postgres() else { return };
    // Both start at once on an empty database: migrations run once, under the lock, and both
    // come up.
    let (port_a, port_b) = (free_port(), free_port());
    let public = format!("http://127.0.0.1:{port_a}");
    let mut a = start(&db.url, &public, port_a, &[]);
    let mut b = start(&db.url, &public, port_b, &[]);
    ready(&mut a).await;
    ready(&mut b).await;
    let mut conn = diesel::PgConnection::establish(&db.url).unwrap();
    let applied: i64 = diesel::dsl::sql::<diesel::sql_types::BigInt>(
        "SELECT count(*) FROM __diesel_schema_migrations",
    )
    .get_result(&mut conn)
    .unwrap();
    let shipped = std::fs::read_dir("migrations/postgres").unwrap().count() as i64;
    assert_eq!(applied, shipped, "each migration recorded once");

    // The first account (the administrator) registers on A.
    let email = "cluster@example.org";
    let registered = a
        .client
        .post(a.at("/api/auth/register"))
        .json(&serde_json::json!({"email": email, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), 201);

    // Sign in and consent on A, exchange the code on B.
    let client_id = public_client(&a).await;
    let (verifier, challenge) = pkce();
    let redirect = approve(
        &a,
        &browser(),
        &authorize_url(&a, &client_id, &challenge, &[]),
        email,
    )
    .await;
    let code = query_of(&redirect)["code"].clone();
    let (status, tokens) = exchange_code(&b, &client_id, REDIRECT, &code, &verifier).await;
    assert_eq!(status, 200, "{tokens}");
    // The code was used on B: A refuses it on the next request.
    let (status, error) = exchange_code(&a, &client_id, REDIRECT, &code, &verifier).await;
    assert_eq!(
        (status, error["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    // Reuse revoked the grant: start another one, this time signing in on B.
    let (verifier, challenge) = pkce();
    let redirect = approve(
        &b,
        &browser(),
        &authorize_url(&b, &client_id, &challenge, &[]),
        email,
    )
    .await;
    let code = query_of(&redirect)["code"].clone();
    let (status, tokens) = exchange_code(&a, &client_id, REDIRECT, &code, &verifier).await;
    assert_eq!(status, 200, "{tokens}");
    let access = tokens["access_token"].as_str().unwrap().to_string();
    assert_eq!(bearer_status(&a, &access).await, 200);
    assert_eq!(bearer_status(&b, &access).await, 200);

    // Totals and statistics are kept in memory per instance, under the library's version: a
    // book added on B shows in A's very next answer.
    // A field of a GET answer, with this grant's token.
    let field = |instance: &Instance, path: &str, name: &'static str| {
        let request = instance
            .client
            .get(instance.at(path))
            .bearer_auth(&access)
            .send();
        async move {
            request
                .await
                .unwrap()
                .json::<serde_json::Value>()
                .await
                .unwrap()[name]
                .clone()
        }
    };
    let total = |instance| field(instance, "/api/books", "total");
    let finished_total = |instance| field(instance, "/api/readings/stats", "books_read_total");
    assert_eq!(total(&a).await, 0);
    assert_eq!(finished_total(&a).await, 0);
    let added = b
        .client
        .post(b.at("/api/books"))
        .bearer_auth(&access)
        .json(&serde_json::json!({"title": "Piranesi", "authors": ["Susanna Clarke"], "shelf": "read"}))
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), 201);
    let book: serde_json::Value = added.json().await.unwrap();
    let logged = b
        .client
        .post(b.at("/api/readings"))
        .bearer_auth(&access)
        .json(&serde_json::json!({"book_id": book["id"], "status": "finished", "finished_on": "2026-11-20"}))
        .send()
        .await
        .unwrap();
    assert_eq!(logged.status(), 201, "{}", logged.text().await.unwrap());
    assert_eq!(total(&a).await, 1);
    assert_eq!(finished_total(&a).await, 1);

    // The same refresh token on A and B at the same moment, several times: one rotation each
    // time, and both callers get the same new pair (whichever instance rotated).
    let mut refresh = tokens["refresh_token"].as_str().unwrap().to_string();
    for round in 0..5 {
        let before = refresh_rows(&db.url);
        let rows_before = token_rows(&db.url);
        let generations_before = generations(&db.url);
        let ((status_a, on_a), (status_b, on_b)) = tokio::join!(
            refresh_grant(&a, &client_id, &refresh),
            refresh_grant(&b, &client_id, &refresh)
        );
        assert_eq!(
            (status_a, status_b),
            (200, 200),
            "round {round}: {on_a} {on_b}"
        );
        assert_eq!(on_a["access_token"], on_b["access_token"], "round {round}");
        assert_eq!(
            on_a["refresh_token"], on_b["refresh_token"],
            "round {round}"
        );
        // Exactly one rotation, whichever instance made it: the grant's row moved on one
        // generation, so no second chain can live beside the first.
        assert_eq!(
            generations(&db.url),
            generations_before + 1,
            "round {round}: one rotation"
        );
        // A rotation adds no row: the grant's row moves on in place, and its access tokens
        // have none of their own.
        assert_eq!(
            (refresh_rows(&db.url), token_rows(&db.url)),
            (before, rows_before),
            "round {round}: no row added"
        );
        refresh = on_a["refresh_token"].as_str().unwrap().to_string();
    }
    let (_, latest) = refresh_grant(&b, &client_id, &refresh).await;
    let access = latest["access_token"].as_str().unwrap().to_string();
    let refresh = latest["refresh_token"].as_str().unwrap().to_string();

    // The administrator sees the same grants on either instance.
    let on_a = admin_grants(&a, email).await;
    let on_b = admin_grants(&b, email).await;
    assert_eq!(on_a.len(), 1, "{on_a:?}");
    assert_eq!(on_a, on_b);

    // Revoked on B, refused on A at once: the refresh token ends the grant and its access tokens.
    let revoked = b
        .client
        .post(b.at("/oauth/revoke"))
        .form(&[
            ("token", refresh.as_str()),
            ("client_id", client_id.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 200);
    assert_eq!(bearer_status(&a, &access).await, 401);
    let (status, error) = refresh_grant(&a, &client_id, &refresh).await;
    assert_eq!(
        (status, error["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert!(admin_grants(&a, email).await.is_empty());
    assert!(admin_grants(&b, email).await.is_empty());
}

/// `SIGTERM` stops accepting connections but lets requests in flight finish.
#[actix_web::test]
async fn sigterm_drains_requests_in_flight() {
    for backend in backends() {
        let db = TestDb::new(backend);
        let port = free_port();
        let url = format!("http://127.0.0.1:{port}");
        // bcrypt at cost 13 makes a sign-in take a few hundred milliseconds: a request that is
        // surely still running when the signal arrives.
        let mut server = start(&db.url, &url, port, &[("BCRYPT_COST", "13")]);
        ready(&mut server).await;
        let body = serde_json::json!({"email": "drain@example.org", "password": PASSWORD});
        let register = server
            .client
            .post(server.at("/api/auth/register"))
            .json(&body);
        let in_flight = tokio::spawn(register.send());
        tokio::time::sleep(Duration::from_millis(100)).await;
        let pid = server.child.id().to_string();
        let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(killed.success());
        let response = in_flight.await.unwrap().unwrap();
        assert_eq!(response.status(), 201, "{backend:?}: the request finished");
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(status) = server.child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "{backend:?}: still running");
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert!(status.success(), "{backend:?}: exited with {status}");
        let log = std::fs::read_to_string(&server.log).unwrap();
        assert!(!log.contains("panicked"), "{log}");
        // The account was committed.
        let target = panicless::db::DatabaseTarget::parse(&db.url).unwrap();
        let pool = panicless::db::build_pool(&target, 1).unwrap();
        let users = panicless::db::models::user::list(&mut pool.get().unwrap()).unwrap();
        assert_eq!(users.len(), 1, "{backend:?}");
    }
}

/// `panicless serve` runs with two malloc arenas (src/allocator.rs: it re-executes itself with
/// `MALLOC_ARENA_MAX=2`), the same process, and keeps a value the operator set.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[actix_web::test]
async fn the_server_runs_with_two_malloc_arenas_unless_told_otherwise() {
    for (extra, expected) in [(&[][..], "2"), (&[("MALLOC_ARENA_MAX", "4")][..], "4")] {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("arenas.db").display());
        let port = free_port();
        let mut instance = start(&url, &format!("http://127.0.0.1:{port}"), port, extra);
        ready(&mut instance).await;
        // The process that answers is the one spawned: exec keeps its id.
        let environ = std::fs::read(format!("/proc/{}/environ", instance.child.id())).unwrap();
        let arenas: Vec<&[u8]> = environ
            .split(|&b| b == 0)
            .filter(|var| var.starts_with(b"MALLOC_ARENA_MAX="))
            .collect();
        assert_eq!(
            arenas,
            [format!("MALLOC_ARENA_MAX={expected}").as_bytes()],
            "{extra:?}"
        );
    }
}

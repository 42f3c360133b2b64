//! Behaviour under load that must hold (tests, not timings): many writers at once on SQLite, and
//! a PostgreSQL database that goes away for a moment and comes back.

use crate::common::{backends, Backend, TestApp, TestDb};
use reqwest::Method;
use serde_json::json;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};

#[actix_web::test]
async fn fifty_concurrent_writers_on_sqlite_all_succeed() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (_, token) = app.user("writers@example.org").await;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()
        .unwrap();
    let writes = (0..50).map(|n| {
        let request = client
            .post(app.at("/api/books"))
            .bearer_auth(&token)
            .json(&json!({"title": format!("Concurrent book {n}"), "authors": ["Writer"], "tags": ["load"]}))
            .send();
        async move {
            let response = request.await.unwrap();
            let status = response.status().as_u16();
            (status, response.text().await.unwrap())
        }
    });
    let answers = futures_util::future::join_all(writes).await;
    for (status, body) in &answers {
        assert_eq!(*status, 201, "{body}");
        assert!(!body.contains("locked"), "{body}");
    }
    let (_, page) = app
        .api(Method::GET, "/api/books?tag=load&limit=1", &token, None)
        .await;
    assert_eq!(page["total"], 50);
}

/// A TCP relay to PostgreSQL that can be cut: while it is down it closes every relayed
/// connection and refuses new ones, as a stopped database server would. It runs on a thread and
/// runtime of its own: the test thread makes blocking database calls through it.
struct Relay {
    port: u16,
    up: Arc<AtomicBool>,
    connections: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Relay {
    fn start(target: String) -> Relay {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        std_listener.set_nonblocking(true).unwrap();
        let port = std_listener.local_addr().unwrap().port();
        let up = Arc::new(AtomicBool::new(true));
        let connections: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>> = Arc::default();
        let (flag, tasks) = (up.clone(), connections.clone());
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        std::thread::spawn(move || {
            runtime.block_on(async move {
                let listener = TcpListener::from_std(std_listener).unwrap();
                while let Ok((mut inbound, _)) = listener.accept().await {
                    if !flag.load(Ordering::SeqCst) {
                        continue; // dropped: connection closed at once
                    }
                    let target = target.clone();
                    let task = tokio::spawn(async move {
                        if let Ok(mut outbound) = TcpStream::connect(&target).await {
                            let _ =
                                tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                        }
                    });
                    tasks.lock().unwrap().push(task);
                }
            })
        });
        Relay {
            port,
            up,
            connections,
        }
    }

    fn down(&self) {
        self.up.store(false, Ordering::SeqCst);
        for task in self.connections.lock().unwrap().drain(..) {
            task.abort();
        }
    }

    fn back(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

#[actix_web::test]
async fn postgresql_down_for_a_moment_gives_503_then_recovers_without_losing_rows() {
    if !backends().contains(&Backend::Postgres) {
        return;
    }
    let db = TestDb::new(Backend::Postgres);
    let direct = url::Url::parse(&db.url).unwrap();
    let target = format!(
        "{}:{}",
        direct.host_str().unwrap(),
        direct.port().unwrap_or(5432)
    );
    let relay = Relay::start(target);
    let mut relayed = direct.clone();
    relayed.set_host(Some("127.0.0.1")).unwrap();
    relayed.set_port(Some(relay.port)).unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let public = format!("http://{}", listener.local_addr().unwrap());
    let config = crate::common::test_config(relayed.as_str(), &public, &[]);
    let state = panicless::state::AppState::init(config).unwrap();
    let app = TestApp::serve(state, listener, db, Backend::Postgres);
    let (_, token) = app.user("outage@example.org").await;

    let committed = Arc::new(Mutex::new(Vec::new()));
    let statuses = Arc::new(Mutex::new(Vec::new()));
    let write = |n: usize| {
        let request = app
            .client
            .post(app.at("/api/books"))
            .bearer_auth(&token)
            .json(&json!({"title": format!("Outage book {n}"), "authors": ["Writer"]}))
            .timeout(Duration::from_secs(20))
            .send();
        let (committed, statuses) = (committed.clone(), statuses.clone());
        async move {
            let response = request.await.unwrap();
            let status = response.status().as_u16();
            let body: serde_json::Value = response.json().await.unwrap();
            if status == 201 {
                committed.lock().unwrap().push(format!("Outage book {n}"));
            } else {
                assert_eq!(status, 503, "only 503 while the database is away: {body}");
                assert_eq!(body["code"], "service_unavailable", "{body}");
            }
            statuses.lock().unwrap().push(status);
            status
        }
    };
    let mut n = 0;
    for _ in 0..20 {
        assert_eq!(write(n).await, 201);
        n += 1;
    }
    relay.down();
    // Writes while it is down: every one is refused with a 503, none hangs.
    let batch: Vec<_> = (n..n + 8).map(&write).collect();
    n += 8;
    let answers = futures_util::future::join_all(batch).await;
    assert!(answers.iter().all(|s| *s == 503), "{answers:?}");
    let (status, _) = app.api(Method::GET, "/api/books", &token, None).await;
    assert_eq!(status, 503);
    relay.back();
    // Back: the server recovers by itself, without a restart.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let status = write(n).await;
        n += 1;
        if status == 201 {
            break;
        }
        assert!(Instant::now() < deadline, "never recovered");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for _ in 0..10 {
        assert_eq!(write(n).await, 201, "healthy again");
        n += 1;
    }
    // Every write that was answered 201 is there.
    let (status, page) = app
        .api(Method::GET, "/api/books?limit=100", &token, None)
        .await;
    assert_eq!(status, 200);
    let stored: Vec<String> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["title"].as_str().unwrap().to_string())
        .collect();
    for title in committed.lock().unwrap().iter() {
        assert!(stored.contains(title), "lost a committed row: {title}");
    }
}

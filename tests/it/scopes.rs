//! Every protected route, with the scope it needs: no token is a 401, a token without the scope
//! is a 403. A route in /openapi.json that is missing here fails the test, so a new route cannot
//! ship without a declared scope.

use crate::common::{Backend, TestApp};
use reqwest::Method;
use std::collections::BTreeSet;

/// (method, path as in the OpenAPI document, a concrete path, required scope).
const ROUTES: &[(&str, &str, &str, &str)] = &[
    ("get", "/api/auth/me", "/api/auth/me", "read"),
    (
        "post",
        "/api/account/password",
        "/api/account/password",
        "all",
    ),
    ("delete", "/api/account", "/api/account", "all"),
    ("get", "/api/books", "/api/books", "read"),
    ("post", "/api/books", "/api/books", "write"),
    ("get", "/api/books/{id}", "/api/books/1", "read"),
    ("patch", "/api/books/{id}", "/api/books/1", "write"),
    ("delete", "/api/books/{id}", "/api/books/1", "write"),
    (
        "get",
        "/api/books/recommendations",
        "/api/books/recommendations",
        "read",
    ),
    ("get", "/api/readings", "/api/readings", "read"),
    ("post", "/api/readings", "/api/readings", "write"),
    ("get", "/api/readings/{id}", "/api/readings/1", "read"),
    ("patch", "/api/readings/{id}", "/api/readings/1", "write"),
    ("delete", "/api/readings/{id}", "/api/readings/1", "write"),
    ("get", "/api/readings/stats", "/api/readings/stats", "read"),
    ("get", "/api/goals/{year}", "/api/goals/2026", "read"),
    ("put", "/api/goals/{year}", "/api/goals/2026", "write"),
    ("delete", "/api/goals/{year}", "/api/goals/2026", "write"),
    (
        "post",
        "/api/import/goodreads",
        "/api/import/goodreads",
        "write",
    ),
    (
        "post",
        "/api/import/storygraph",
        "/api/import/storygraph",
        "write",
    ),
    (
        "post",
        "/api/import/panicless",
        "/api/import/panicless",
        "write",
    ),
    ("get", "/api/export", "/api/export", "read"),
    ("get", "/api/connectors", "/api/connectors", "connectors"),
    ("post", "/api/connectors", "/api/connectors", "connectors"),
    (
        "get",
        "/api/connectors/{id}",
        "/api/connectors/1",
        "connectors",
    ),
    (
        "patch",
        "/api/connectors/{id}",
        "/api/connectors/1",
        "connectors",
    ),
    (
        "delete",
        "/api/connectors/{id}",
        "/api/connectors/1",
        "connectors",
    ),
    (
        "get",
        "/api/connectors/{id}/proxy/{path}",
        "/api/connectors/1/proxy/v1/models",
        "connectors",
    ),
];

/// Routes that are public on purpose.
const PUBLIC: &[(&str, &str)] = &[
    ("get", "/health"),
    ("post", "/api/auth/register"),
    ("post", "/api/auth/login"),
];

/// Routes that need a token, of any scope: signing out must work with whatever token one holds.
const ANY_SCOPE: &[(&str, &str)] = &[("post", "/api/auth/logout")];

/// A scope that does not include `needed`.
fn other_scope(needed: &str) -> &'static str {
    match needed {
        "read" => "write",
        _ => "read",
    }
}

#[actix_web::test]
async fn every_route_declares_and_enforces_its_scope() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let user = app.register_user("scopes@example.org").await;
    for &(method, _, path, scope) in ROUTES {
        let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let response = app
            .client
            .request(method.clone(), app.at(path))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{method} {path} without a token");
        assert!(response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("resource_metadata="));

        let wrong = app.scoped_token(user, other_scope(scope));
        let response = app
            .client
            .request(method.clone(), app.at(path))
            .bearer_auth(&wrong)
            .header("Content-Type", "application/json")
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            403,
            "{method} {path} with a token lacking `{scope}`"
        );
        let challenge = response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(
            challenge.contains("error=\"insufficient_scope\""),
            "{challenge}"
        );
        assert!(
            challenge.contains(&format!("scope=\"{scope}\"")),
            "{challenge}"
        );

        // The right scope (and `all`) gets past the guard.
        for good in [scope, "all"] {
            let token = app.scoped_token(user, good);
            let response = app
                .client
                .request(method.clone(), app.at(path))
                .bearer_auth(&token)
                .header("Content-Type", "application/json")
                .body("{}")
                .send()
                .await
                .unwrap();
            assert!(
                ![401, 403].contains(&response.status().as_u16()),
                "{method} {path} with `{good}`: {}",
                response.status()
            );
        }
    }
    for &(method, path) in ANY_SCOPE {
        let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let response = app
            .client
            .request(method.clone(), app.at(path))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{method} {path} without a token");
        for scope in ["read", "write", "connectors"] {
            let token = app.scoped_token(user, scope);
            let response = app
                .client
                .request(method.clone(), app.at(path))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap();
            assert!(
                response.status().is_success(),
                "{method} {path} with `{scope}`: {}",
                response.status()
            );
        }
    }
    // `read-only` is the seed's name for `read`.
    let token = app.scoped_token(user, "read-only");
    let (status, _) = app.api(Method::GET, "/api/books", &token, None).await;
    assert_eq!(status, 200);
    let (status, _) = app
        .api(
            Method::POST,
            "/api/books",
            &token,
            Some(serde_json::json!({"title": "x"})),
        )
        .await;
    assert_eq!(status, 403);
    app.stop().await;
}

#[actix_web::test]
async fn the_route_table_covers_every_documented_operation() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let response = app
        .client
        .get(app.at("/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "the document is public");
    let doc: serde_json::Value = response.json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            documented.insert((method.clone(), path.clone()));
        }
    }
    let mut known: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(m, p, _, _)| (m.to_string(), p.to_string()))
        .collect();
    known.extend(
        PUBLIC
            .iter()
            .chain(ANY_SCOPE)
            .map(|(m, p)| (m.to_string(), p.to_string())),
    );
    let missing: Vec<_> = documented.difference(&known).collect();
    assert!(
        missing.is_empty(),
        "documented routes without a declared scope in this table: {missing:?}"
    );
    let undocumented: Vec<_> = known.difference(&documented).collect();
    assert!(
        undocumented.is_empty(),
        "routes missing from /openapi.json: {undocumented:?}"
    );
    // Protected operations say so in the document, with the scope.
    for &(method, path, _, scope) in ROUTES {
        let security = &doc["paths"][path][method]["security"];
        assert!(
            security.to_string().contains(scope),
            "{method} {path}: {security}"
        );
    }
    let oauth = &doc["components"]["securitySchemes"]["oauth2"]["flows"]["authorizationCode"];
    assert_eq!(
        oauth["authorizationUrl"],
        format!("{}/oauth/authorize", app.url)
    );
    assert_eq!(oauth["tokenUrl"], format!("{}/oauth/token", app.url));
    app.stop().await;
}

#[actix_web::test]
async fn wrong_methods_are_405_with_allow() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    for (method, path, allow) in [
        ("PUT", "/api/books", "GET, POST"),
        ("POST", "/api/books/1", "GET, PATCH, DELETE"),
        ("DELETE", "/health", "GET"),
    ] {
        let response = app
            .client
            .request(Method::from_bytes(method.as_bytes()).unwrap(), app.at(path))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 405, "{method} {path}");
        assert_eq!(response.headers()["allow"], allow);
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
    }
    app.stop().await;
}

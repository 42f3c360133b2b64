//! The authorization server against the attacks of issue 18, each tried over HTTP as a client
//! or a stranger would.

use crate::common::{backends, jwt_claims, Backend, TestApp, PASSWORD};
use crate::oauth::{location, refresh_grant, tokens_for, REDIRECT};
use serde_json::Value;

const STATIC_ID: &str = "operator-client";
const STATIC_SECRET: &str = "s3cret-s3cret-s3cret-s3cret-s3cret";

/// A server whose operator configured a client of its own, redirecting to `REDIRECT`.
async fn with_static_client(extra: &[(&str, &str)]) -> TestApp {
    let mut vars = vec![
        ("OAUTH_CLIENT_ID", STATIC_ID),
        ("OAUTH_CLIENT_SECRET", STATIC_SECRET),
        ("OAUTH_REDIRECT_URIS", REDIRECT),
    ];
    vars.extend_from_slice(extra);
    TestApp::spawn_with(Backend::Sqlite, &vars).await
}

/// One more rotation of `refresh`: the new pair.
async fn rotate(app: &TestApp, client_id: &str, refresh: &str) -> Value {
    let (status, pair) = refresh_grant(app, client_id, refresh).await;
    assert_eq!(status, 200, "{pair}");
    pair
}

fn field<'a>(pair: &'a Value, name: &str) -> &'a str {
    pair[name].as_str().unwrap()
}

#[actix_web::test]
async fn a_rotated_refresh_token_is_honoured_only_while_its_successor_is_unused() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        app.register_user("erin@example.org").await;
        let (client_id, first) = tokens_for(&app, "erin@example.org", &[]).await;
        let rt0 = field(&first, "refresh_token").to_string();
        let second = rotate(&app, &client_id, &rt0).await;
        assert_eq!(
            rotate(&app, &client_id, &rt0).await,
            second,
            "{backend:?}: a late concurrent refresh gets the same pair"
        );
        let rt1 = field(&second, "refresh_token").to_string();
        let third = rotate(&app, &client_id, &rt1).await;
        assert_eq!(
            rotate(&app, &client_id, &rt1).await,
            third,
            "{backend:?}: RT2 is still unused, so RT1 is still in its window"
        );

        // RT1 was used: RT0 again is a replay, within the window or not, and ends the grant.
        let (status, error) = refresh_grant(&app, &client_id, &rt0).await;
        assert_eq!(
            (status, error["error"].as_str()),
            (400, Some("invalid_grant")),
            "{backend:?}: {error}"
        );
        let (status, _) = refresh_grant(&app, &client_id, field(&third, "refresh_token")).await;
        assert_eq!(
            status, 400,
            "{backend:?}: the newest refresh token died too"
        );
        let (status, _) = app
            .api(
                reqwest::Method::GET,
                "/api/books",
                field(&third, "access_token"),
                None,
            )
            .await;
        assert_eq!(status, 401, "{backend:?}: and so did its access token");
        app.stop().await;
    }
}

#[actix_web::test]
async fn four_concurrent_refreshes_with_one_token_all_get_working_tokens() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        app.register_user("frank@example.org").await;
        let (client_id, first) = tokens_for(&app, "frank@example.org", &[]).await;
        let mut refresh = field(&first, "refresh_token").to_string();
        for round in 0..3 {
            let answers = futures_util::future::join_all(
                (0..4).map(|_| refresh_grant(&app, &client_id, &refresh)),
            )
            .await;
            for (status, pair) in &answers {
                assert_eq!(*status, 200, "{backend:?} round {round}: {pair}");
                assert_eq!(pair, &answers[0].1, "{backend:?}: one pair for all");
            }
            let pair = &answers[0].1;
            let (status, _) = app
                .api(
                    reqwest::Method::GET,
                    "/api/books",
                    field(pair, "access_token"),
                    None,
                )
                .await;
            assert_eq!(
                status, 200,
                "{backend:?} round {round}: the access token works"
            );
            refresh = field(pair, "refresh_token").to_string();
        }
        rotate(&app, &client_id, &refresh).await;
        app.stop().await;
    }
}

#[actix_web::test]
async fn a_token_is_worth_what_its_row_says_not_what_it_claims() {
    use panicless::auth::jwt::Claims;
    let app = TestApp::spawn(Backend::Sqlite).await;
    let user_id = app.register_user("ivan@example.org").await;
    let read = app.scoped_token(user_id, "read");
    let (status, _) = app
        .api(reqwest::Method::GET, "/api/books", &read, None)
        .await;
    assert_eq!(status, 200);
    let claims: Claims = serde_json::from_value(jwt_claims(&read)).unwrap();
    // Re-signed (with the signing key, as a leaked or default secret allows): a wider scope, a
    // client the row does not name, another audience's row.
    let widened = Claims {
        scope: "all".into(),
        ..claims.clone()
    };
    let other_client = Claims {
        client_id: Some("someone-else".into()),
        ..claims.clone()
    };
    let mcp_row = app.token_for_audience(user_id, "read", &app.at("/mcp"));
    let moved = Claims {
        aud: app.url.clone(),
        ..serde_json::from_value(jwt_claims(&mcp_row)).unwrap()
    };
    for (what, forged, path) in [
        ("scope", widened, "/api/connectors"),
        ("client", other_client, "/api/books"),
        ("audience", moved, "/api/books"),
    ] {
        let token = app.state.jwt.sign(&forged).unwrap();
        let (status, _) = app.api(reqwest::Method::GET, path, &token, None).await;
        assert_eq!(status, 401, "a token re-signed with another {what}");
    }
    app.stop().await;
}

/// Text someone could put in a link to one of our pages, to speak in this server's voice.
const SPOOF: &str = "Your account is locked, call 555 0100";

#[actix_web::test]
async fn notices_are_chosen_by_a_code_never_taken_from_the_query() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.register_user("admin@example.org").await;
    let admin = app.new_browser();
    app.sign_in(&admin, "admin@example.org", PASSWORD).await;
    let encoded: String = url::form_urlencoded::byte_serialize(SPOOF.as_bytes()).collect();
    for path in [
        format!("/admin/tokens?done={encoded}"),
        format!("/account/connections?done={encoded}"),
    ] {
        let page = admin
            .get(app.at(&path))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(!page.contains("account is locked"), "{path}: {page}");
    }
    // What a page did is said by a code, with the code's own words.
    let (_, tokens) = tokens_for(&app, "admin@example.org", &[]).await;
    let grants = admin
        .get(app.at("/admin/tokens"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = crate::common::hidden_field(&grants, "csrf_token").unwrap();
    let grant_id = crate::common::hidden_field(&grants, "value").unwrap();
    let revoked = admin
        .post(app.at("/admin/tokens/revoke"))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("target", "grant"),
            ("value", grant_id.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&revoked), "/admin/tokens?done=grant");
    let page = admin
        .get(app.at(&location(&revoked)))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("The grant was revoked."), "{page}");
    let (status, _) = app
        .api(
            reqwest::Method::GET,
            "/api/books",
            field(&tokens, "access_token"),
            None,
        )
        .await;
    assert_eq!(status, 401);
    app.stop().await;
}

#[actix_web::test]
async fn revocation_and_introspection_share_the_token_endpoints_rate_limit() {
    let app = with_static_client(&[("RATE_LIMIT_TOKEN_PER_MINUTE", "3")]).await;
    // Guessing a secret: every answer is `invalid_client` until the budget is spent.
    let form = [
        ("token", "guess"),
        ("client_id", STATIC_ID),
        ("client_secret", "guess"),
    ];
    for (path, expected) in [
        ("/oauth/revoke", 401),
        ("/oauth/introspect", 401),
        ("/oauth/token", 400),
        ("/oauth/revoke", 429),
        ("/oauth/introspect", 429),
    ] {
        let response = app
            .client
            .post(app.at(path))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), expected, "{path}");
        let body: Value = response.json().await.unwrap();
        assert!(body["error"].is_string(), "{path}: {body}");
        if expected == 429 {
            assert_eq!(body["error"], "slow_down");
        }
    }
    app.stop().await;
}

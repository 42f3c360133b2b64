//! The authorization server against the attacks of issue 18, each tried over HTTP as a client
//! or a stranger would.

use crate::common::{jwt_claims, Backend, TestApp};

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

//! A real OAuth client library (the `oauth2` crate) completes authorization code + PKCE and a
//! refresh against the server, as a public and as a confidential client.

use crate::common::{backends, TestApp};
use crate::oauth::{approve, register_client, REDIRECT};
use oauth2::basic::BasicClient;
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, PkceCodeChallenge, RedirectUrl,
    Scope, TokenResponse, TokenUrl,
};
use serde_json::json;

async fn run(app: &TestApp, email: &str, client_id: &str, secret: Option<&str>) {
    let mut client = BasicClient::new(ClientId::new(client_id.to_string()))
        .set_auth_uri(AuthUrl::new(app.at("/oauth/authorize")).unwrap())
        .set_token_uri(TokenUrl::new(app.at("/oauth/token")).unwrap())
        .set_redirect_uri(RedirectUrl::new(REDIRECT.to_string()).unwrap());
    if let Some(secret) = secret {
        client = client.set_client_secret(ClientSecret::new(secret.to_string()));
    }
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, csrf) = client
        .authorize_url(CsrfToken::new_random)
        .add_scope(Scope::new("read".into()))
        .add_scope(Scope::new("write".into()))
        .set_pkce_challenge(challenge)
        .url();
    let browser = app.new_browser();
    let redirect = approve(app, &browser, url.as_str(), email).await;
    let params: std::collections::HashMap<String, String> = url::Url::parse(&redirect)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    assert_eq!(&params["state"], csrf.secret());

    let http = oauth2::reqwest::Client::builder()
        .redirect(oauth2::reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let token = client
        .exchange_code(AuthorizationCode::new(params["code"].clone()))
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .unwrap_or_else(|e| panic!("code exchange: {e:?}"));
    let scopes: Vec<String> = token
        .scopes()
        .unwrap()
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(scopes, ["read", "write"]);
    let (status, _) = app
        .api(
            reqwest::Method::GET,
            "/api/books",
            token.access_token().secret(),
            None,
        )
        .await;
    assert_eq!(status, 200);

    let refreshed = client
        .exchange_refresh_token(token.refresh_token().unwrap())
        .request_async(&http)
        .await
        .unwrap_or_else(|e| panic!("refresh: {e:?}"));
    assert_ne!(
        refreshed.refresh_token().unwrap().secret(),
        token.refresh_token().unwrap().secret()
    );
    let (status, _) = app
        .api(
            reqwest::Method::POST,
            "/api/books",
            refreshed.access_token().secret(),
            Some(json!({"title": format!("Written with a refreshed token by {client_id}")})),
        )
        .await;
    assert_eq!(status, 201);
}

#[actix_web::test]
async fn the_oauth2_crate_completes_the_flow_as_public_and_confidential_client() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        app.register_user("lib@example.org").await;
        let public = register_client(
            &app,
            json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none"}),
        )
        .await;
        run(
            &app,
            "lib@example.org",
            public["client_id"].as_str().unwrap(),
            None,
        )
        .await;
        let confidential = register_client(&app, json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "client_secret_basic"})).await;
        run(
            &app,
            "lib@example.org",
            confidential["client_id"].as_str().unwrap(),
            confidential["client_secret"].as_str(),
        )
        .await;
        app.stop().await;
    }
}

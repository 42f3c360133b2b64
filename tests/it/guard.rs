//! The Bearer guard shared by every protected route.

use crate::common::{backends, TestApp};

#[actix_web::test]
async fn bearer_tokens_are_checked_on_every_request() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let token = app.user_token("guard@example.org").await;
        let me = app.at("/api/auth/me");

        let ok = app
            .client
            .get(&me)
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(ok.status(), 200, "{backend:?}");
        let body: serde_json::Value = ok.json().await.unwrap();
        assert_eq!(body["email"], "guard@example.org");
        assert_eq!(body["scope"], "all");

        // No token: 401 with a challenge that leads to the resource metadata.
        let none = app.client.get(&me).send().await.unwrap();
        assert_eq!(none.status(), 401);
        let challenge = none.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(
            challenge.starts_with("Bearer realm=\"panicless\""),
            "{challenge}"
        );
        assert!(
            challenge.contains(&format!(
                "resource_metadata=\"{}/.well-known/oauth-protected-resource\"",
                app.url
            )),
            "{challenge}"
        );

        // A tampered token, a token in the query string, a token for another audience.
        // Change one character of the payload (the claims), keeping the signature.
        let dot = token.find('.').unwrap() + 5;
        let replacement = if &token[dot..dot + 1] == "A" {
            "B"
        } else {
            "A"
        };
        let tampered = format!("{}{replacement}{}", &token[..dot], &token[dot + 1..]);
        for request in [
            app.client.get(&me).bearer_auth(&tampered),
            app.client.get(format!("{me}?access_token={token}")),
            app.client
                .get(&me)
                .header("Authorization", format!("Basic {token}")),
        ] {
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 401);
            assert_eq!(
                response.headers()["content-type"],
                "application/problem+json"
            );
        }
        let bad = app
            .client
            .get(&me)
            .bearer_auth(&tampered)
            .send()
            .await
            .unwrap();
        assert!(bad.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("error=\"invalid_token\""));

        // The read routes that check the token's row on the handler's own database call.
        let read_routes = [
            "/api/books",
            "/api/books/1",
            "/api/readings",
            "/api/readings/stats",
        ];
        let read = |path: &'static str| app.client.get(app.at(path)).bearer_auth(&token).send();
        for path in read_routes {
            let response = read(path).await.unwrap();
            assert_ne!(response.status(), 401, "{path} before revocation");
        }

        // Revoking the row takes effect on the very next request.
        app.revoke_access_token(&token);
        let revoked = app
            .client
            .get(&me)
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(revoked.status(), 401);
        for path in read_routes {
            let response = read(path).await.unwrap();
            assert_eq!(response.status(), 401, "{path} after revocation");
            assert!(response.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .contains("error=\"invalid_token\""));
        }
        app.stop().await;
    }
}

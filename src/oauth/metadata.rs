//! Discovery: authorization server metadata (RFC 8414) and protected resource metadata
//! (RFC 9728). Never behind authentication; every URL derives from `PUBLIC_URL`.

use crate::auth::Scope;
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use serde_json::json;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/.well-known/oauth-authorization-server",
        web::get().to(authorization_server),
    )
    // Some clients look for OpenID discovery first; the same document answers.
    .route(
        "/.well-known/openid-configuration",
        web::get().to(authorization_server),
    )
    .route(
        "/.well-known/oauth-protected-resource",
        web::get().to(api_resource),
    )
    .route(
        "/.well-known/oauth-protected-resource/mcp",
        web::get().to(mcp_resource),
    );
}

pub fn scopes_supported() -> Vec<&'static str> {
    Scope::SUPPORTED.iter().map(|s| s.as_str()).collect()
}

pub fn authorization_server_document(state: &AppState) -> serde_json::Value {
    let c = &state.config;
    json!({
        "issuer": c.issuer(),
        "authorization_endpoint": c.url("/oauth/authorize"),
        "token_endpoint": c.url("/oauth/token"),
        "registration_endpoint": c.url("/oauth/register"),
        "revocation_endpoint": c.url("/oauth/revoke"),
        "introspection_endpoint": c.url("/oauth/introspect"),
        "scopes_supported": scopes_supported(),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "authorization_response_iss_parameter_supported": true,
        "client_id_metadata_document_supported": true,
        "service_documentation": c.url("/docs"),
    })
}

async fn authorization_server(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .json(authorization_server_document(&state))
}

fn resource_document(state: &AppState, resource: String) -> serde_json::Value {
    json!({
        "resource": resource,
        "authorization_servers": [state.config.issuer()],
        "scopes_supported": scopes_supported(),
        "bearer_methods_supported": ["header"],
        "resource_name": "Panicless Library",
        "resource_documentation": state.config.url("/docs"),
    })
}

async fn api_resource(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .json(resource_document(&state, state.config.public_url.clone()))
}

async fn mcp_resource(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .json(resource_document(&state, state.config.url("/mcp")))
}

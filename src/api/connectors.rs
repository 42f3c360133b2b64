//! `/api/connectors`: AI-provider credentials (scope `connectors`, which `all` includes).
//! Secrets go in, never come out: responses carry a hint.

use crate::api::{resource, JsonBody};
use crate::auth::guard::{Authorized, Connectors};
use crate::connectors::store::{self, Connector, ConnectorPatch, NewApiKeyConnector};
use crate::db::{self, models::now};
use crate::error::{AppResult, Problem};
use crate::state::AppState;
use actix_web::{web, HttpResponse};

pub fn configure(cfg: &mut web::ServiceConfig) {
    crate::connectors::proxy::configure(cfg);
    cfg.service(
        resource("/api/connectors", "GET, POST")
            .route(web::get().to(list))
            .route(web::post().to(create)),
    )
    .service(
        resource("/api/connectors/{id}", "GET, PATCH, DELETE")
            .route(web::get().to(get))
            .route(web::patch().to(rename))
            .route(web::delete().to(delete)),
    );
}

/// The user's connectors.
#[utoipa::path(get, path = "/api/connectors", tag = "connectors",
    security(("bearer" = ["connectors"]), ("oauth2" = ["connectors"])),
    responses((status = 200, body = Vec<Connector>), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn list(
    state: web::Data<AppState>,
    auth: Authorized<Connectors>,
) -> AppResult<web::Json<Vec<Connector>>> {
    let user = auth.user_id;
    Ok(web::Json(
        db::run(&state.pool, move |c| store::list(c, user)).await?,
    ))
}

#[utoipa::path(get, path = "/api/connectors/{id}", tag = "connectors", params(("id" = i64, Path)),
    security(("bearer" = ["connectors"]), ("oauth2" = ["connectors"])),
    responses((status = 200, body = Connector), (status = 401, body = Problem),
              (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn get(
    state: web::Data<AppState>,
    auth: Authorized<Connectors>,
    id: web::Path<i64>,
) -> AppResult<web::Json<Connector>> {
    let (user, id) = (auth.user_id, id.into_inner());
    Ok(web::Json(
        db::run(&state.pool, move |c| store::get(c, user, id)).await?,
    ))
}

/// Stores an API key for a provider, sealed with AES-256-GCM. The key is checked against the
/// provider's format and never shown again.
#[utoipa::path(post, path = "/api/connectors", tag = "connectors", request_body = NewApiKeyConnector,
    security(("bearer" = ["connectors"]), ("oauth2" = ["connectors"])),
    responses((status = 201, body = Connector), (status = 401, body = Problem), (status = 403, body = Problem),
              (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    state: web::Data<AppState>,
    auth: Authorized<Connectors>,
    body: JsonBody<NewApiKeyConnector>,
) -> AppResult<HttpResponse> {
    let (user, body) = (auth.user_id, body.into_inner()?);
    let (keyring, providers) = (state.keyring.clone(), state.providers.clone());
    let connector = db::run(&state.pool, move |c| {
        store::create_api_key(c, &keyring, &providers, user, body, now())
    })
    .await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/api/connectors/{}", connector.id)))
        .json(connector))
}

/// Renames a connector.
#[utoipa::path(patch, path = "/api/connectors/{id}", tag = "connectors", params(("id" = i64, Path)),
    request_body = ConnectorPatch, security(("bearer" = ["connectors"]), ("oauth2" = ["connectors"])),
    responses((status = 200, body = Connector), (status = 401, body = Problem), (status = 403, body = Problem),
              (status = 404, body = Problem),
              (status = 409, body = Problem, description = "Another connector of yours has that label"),
              (status = 422, body = Problem)))]
pub async fn rename(
    state: web::Data<AppState>,
    auth: Authorized<Connectors>,
    id: web::Path<i64>,
    body: JsonBody<ConnectorPatch>,
) -> AppResult<web::Json<Connector>> {
    let (user, id, body) = (auth.user_id, id.into_inner(), body.into_inner()?);
    Ok(web::Json(
        db::run(&state.pool, move |c| {
            store::rename(c, user, id, &body.label, now())
        })
        .await?,
    ))
}

/// Deletes a connector and its sealed secrets.
#[utoipa::path(delete, path = "/api/connectors/{id}", tag = "connectors", params(("id" = i64, Path)),
    security(("bearer" = ["connectors"]), ("oauth2" = ["connectors"])),
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn delete(
    state: web::Data<AppState>,
    auth: Authorized<Connectors>,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let (user, id) = (auth.user_id, id.into_inner());
    db::run(&state.pool, move |c| store::delete(c, user, id)).await?;
    Ok(HttpResponse::NoContent().finish())
}

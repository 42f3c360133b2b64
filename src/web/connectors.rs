//! `/connectors`: a signed-in user's AI-provider connectors: list, add an API key, rename,
//! delete. Every form is CSRF-protected; a secret is never shown back.

use super::{redirect, render, Nav, PageError, SignedIn};
use crate::auth::csrf;
use crate::connectors::store::{self, Connector, NewApiKeyConnector};
use crate::db::{self, models::now};
use crate::error::AppError;
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/connectors", web::get().to(page))
        .route("/connectors/api-key", web::post().to(add_api_key))
        .route("/connectors/rename", web::post().to(rename))
        .route("/connectors/delete", web::post().to(delete));
}

#[derive(Template)]
#[template(path = "connectors.html")]
struct ConnectorsPage {
    nav: Nav,
    connectors: Vec<Connector>,
    error: Option<String>,
    provider: String,
    label: String,
}

async fn show(
    state: &AppState,
    me: &SignedIn,
    error: Option<String>,
    provider: String,
    label: String,
    status: StatusCode,
) -> Result<HttpResponse, PageError> {
    let user = me.user.id;
    let connectors = db::run(&state.pool, move |c| store::list(c, user)).await?;
    render(
        status,
        &ConnectorsPage {
            nav: me.nav()?,
            connectors,
            error,
            provider,
            label,
        },
    )
}

async fn page(state: web::Data<AppState>, me: SignedIn) -> Result<HttpResponse, PageError> {
    show(
        &state,
        &me,
        None,
        String::new(),
        String::new(),
        StatusCode::OK,
    )
    .await
}

#[derive(Deserialize)]
pub struct ApiKeyForm {
    csrf_token: String,
    provider: String,
    label: String,
    api_key: String,
}

async fn add_api_key(
    state: web::Data<AppState>,
    me: SignedIn,
    form: web::Form<ApiKeyForm>,
) -> Result<HttpResponse, PageError> {
    let form = form.into_inner();
    csrf::verify(&me.session, &form.csrf_token)?;
    let (provider, label) = (form.provider.clone(), form.label.clone());
    let input = NewApiKeyConnector {
        provider: form.provider,
        label: Some(form.label),
        api_key: form.api_key,
    };
    let (user, keyring) = (me.user.id, state.keyring.clone());
    match db::run(&state.pool, move |c| {
        store::create_api_key(c, &keyring, user, input, now())
    })
    .await
    {
        Ok(_) => Ok(redirect("/connectors")),
        Err(AppError::Validation(problems)) => {
            let message = problems
                .iter()
                .map(|p| super::capitalise(&p.message))
                .collect::<Vec<_>>()
                .join(" ");
            show(
                &state,
                &me,
                Some(message),
                provider,
                label,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(AppError::Conflict { message, .. }) => {
            show(
                &state,
                &me,
                Some(super::capitalise(&message)),
                provider,
                label,
                StatusCode::CONFLICT,
            )
            .await
        }
        Err(other) => Err(other.into()),
    }
}

#[derive(Deserialize)]
pub struct RenameForm {
    csrf_token: String,
    id: i64,
    label: String,
}

async fn rename(
    state: web::Data<AppState>,
    me: SignedIn,
    form: web::Form<RenameForm>,
) -> Result<HttpResponse, PageError> {
    let form = form.into_inner();
    csrf::verify(&me.session, &form.csrf_token)?;
    let user = me.user.id;
    db::run(&state.pool, move |c| {
        store::rename(c, user, form.id, &form.label, now())
    })
    .await?;
    Ok(redirect("/connectors"))
}

#[derive(Deserialize)]
pub struct DeleteForm {
    csrf_token: String,
    id: i64,
}

async fn delete(
    state: web::Data<AppState>,
    me: SignedIn,
    form: web::Form<DeleteForm>,
) -> Result<HttpResponse, PageError> {
    let form = form.into_inner();
    csrf::verify(&me.session, &form.csrf_token)?;
    let user = me.user.id;
    db::run(&state.pool, move |c| store::delete(c, user, form.id)).await?;
    Ok(redirect("/connectors"))
}

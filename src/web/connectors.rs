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
    cfg.route("/connectors/oauth/start", web::post().to(oauth_start))
        .route("/connectors/oauth/callback", web::get().to(oauth_callback))
        .route("/connectors/oauth/paste", web::post().to(oauth_paste))
        .route("/connectors", web::get().to(page))
        .route("/connectors/api-key", web::post().to(add_api_key))
        .route("/connectors/rename", web::post().to(rename))
        .route("/connectors/delete", web::post().to(delete));
}

#[derive(Template)]
#[template(path = "connectors.html")]
struct ConnectorsPage {
    nav: Nav,
    connectors: Vec<Connector>,
    oauth_providers: Vec<(String, String)>,
    paste_pending: bool,
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
    let oauth_providers = state
        .providers
        .oauth()
        .map(|p| (p.name.clone(), p.title().to_string()))
        .collect();
    let paste_pending = me.session.get::<String>(PASTE_KEY).ok().flatten().is_some();
    render(
        status,
        &ConnectorsPage {
            nav: me.nav()?.at("connectors"),
            connectors,
            oauth_providers,
            paste_pending,
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
    let (user, keyring, providers) = (me.user.id, state.keyring.clone(), state.providers.clone());
    match db::run(&state.pool, move |c| {
        store::create_api_key(c, &keyring, &providers, user, input, now())
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

/// Session keys: the secret an attempt is bound to, and whether a paste is awaited.
const ATTEMPT_KEY: &str = "connector_attempt";
const PASTE_KEY: &str = "connector_paste";

#[derive(Deserialize)]
pub struct StartForm {
    csrf_token: String,
    provider: String,
    label: String,
}

async fn oauth_start(
    state: web::Data<AppState>,
    me: SignedIn,
    form: web::Form<StartForm>,
) -> Result<HttpResponse, PageError> {
    let form = form.into_inner();
    csrf::verify(&me.session, &form.csrf_token)?;
    let provider = state
        .providers
        .get(&form.provider)
        .filter(|p| p.supports_oauth())
        .cloned()
        .ok_or_else(|| {
            AppError::BadRequest("this provider cannot be connected with OAuth".into())
        })?;
    let label = Some(form.label.trim().to_string())
        .filter(|l| !l.is_empty())
        .unwrap_or_else(|| provider.title().to_string());
    let secret = crate::crypto::random_token(32);
    me.session
        .insert(ATTEMPT_KEY, &secret)
        .map_err(|e| AppError::internal(format!("session: {e}")))?;
    let (keyring, public_url, user) = (
        state.keyring.clone(),
        state.config.public_url.clone(),
        me.user.id,
    );
    let started = db::run(&state.pool, move |c| {
        crate::connectors::oauth_flow::start(
            c,
            &keyring,
            &provider,
            &public_url,
            user,
            &label,
            &secret,
            now(),
        )
    })
    .await?;
    if started.mode == crate::connectors::providers::RedirectMode::Paste {
        me.session
            .insert(PASTE_KEY, "1")
            .map_err(|e| AppError::internal(format!("session: {e}")))?;
    }
    Ok(redirect(&started.authorization_url))
}

#[derive(Deserialize)]
pub struct Callback {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

async fn finish(
    state: &AppState,
    me: &SignedIn,
    code: &str,
    attempt_state: &str,
) -> Result<HttpResponse, PageError> {
    use crate::connectors::oauth_flow::{self, FlowError};
    let secret = me.session.get::<String>(ATTEMPT_KEY).ok().flatten();
    let (keyring, attempt_state_owned) = (state.keyring.clone(), attempt_state.to_string());
    let claimed = db::run(&state.pool, move |c| {
        Ok(oauth_flow::claim(
            c,
            &keyring,
            &attempt_state_owned,
            secret.as_deref(),
            now(),
        ))
    })
    .await?;
    let outcome = match claimed {
        Ok(claimed) if claimed.user_id == me.user.id => {
            match state.providers.get(&claimed.provider).cloned() {
                Some(provider) => {
                    let form = [
                        ("grant_type", "authorization_code"),
                        ("code", code),
                        ("redirect_uri", claimed.redirect_uri.as_str()),
                        ("code_verifier", claimed.verifier.as_str()),
                    ];
                    match oauth_flow::token_request(&state.http, &provider, &form).await {
                        Ok(tokens) => {
                            let keyring = state.keyring.clone();
                            db::run(&state.pool, move |c| {
                                oauth_flow::save_tokens(c, &keyring, &claimed, &tokens, now())
                            })
                            .await?;
                            Ok(())
                        }
                        Err(error) => Err(error),
                    }
                }
                None => Err(FlowError::Provider(
                    "the provider is no longer configured".into(),
                )),
            }
        }
        Ok(_) => Err(FlowError::StateMismatch),
        Err(error) => Err(error),
    };
    me.session.remove(ATTEMPT_KEY);
    me.session.remove(PASTE_KEY);
    match outcome {
        Ok(()) => Ok(redirect("/connectors")),
        Err(FlowError::App(error)) => Err(error.into()),
        Err(error) => Err(AppError::BadRequest(format!("The connection failed: {error}")).into()),
    }
}

async fn oauth_callback(
    state: web::Data<AppState>,
    me: SignedIn,
    query: web::Query<Callback>,
) -> Result<HttpResponse, PageError> {
    let query = query.into_inner();
    if let Some(error) = query.error {
        me.session.remove(ATTEMPT_KEY);
        // Anyone can send a link to this page: the error picks one of these fixed messages, and
        // the provider's error_description, free text, is never shown.
        let message = match error.as_str() {
            "access_denied" => {
                "The provider did not connect the account: access_denied (the request was refused)."
            }
            "invalid_scope" => "The provider did not connect the account: invalid_scope.",
            "server_error" | "temporarily_unavailable" => {
                "The provider did not connect the account: it could not answer; try again later."
            }
            _ => "The provider did not connect the account: it answered with an error.",
        };
        return Err(AppError::BadRequest(message.into()).into());
    }
    let (Some(code), Some(attempt_state)) = (query.code, query.state) else {
        return Err(
            AppError::BadRequest("The provider's answer has no code or state.".into()).into(),
        );
    };
    finish(&state, &me, &code, &attempt_state).await
}

#[derive(Deserialize)]
pub struct PasteForm {
    csrf_token: String,
    pasted: String,
}

async fn oauth_paste(
    state: web::Data<AppState>,
    me: SignedIn,
    form: web::Form<PasteForm>,
) -> Result<HttpResponse, PageError> {
    let form = form.into_inner();
    csrf::verify(&me.session, &form.csrf_token)?;
    let Some((code, attempt_state)) = form
        .pasted
        .trim()
        .split_once('#')
        .filter(|(c, s)| !c.is_empty() && !s.is_empty())
    else {
        return Err(AppError::BadRequest(format!(
            "The connection failed: {}",
            crate::connectors::oauth_flow::FlowError::BadPaste
        ))
        .into());
    };
    finish(&state, &me, code, attempt_state).await
}

//! `GET /oauth/authorize` (sign-in, then the consent page), `POST /oauth/consent` (the user's
//! answer) and `POST /oauth/authorize` (first-party JSON, seed 000). Codes are random, stored
//! hashed, valid ten minutes, bound to client, redirect URI, PKCE challenge, scope, resource
//! and user.

use super::clients::{self, Client};
use super::{resolve_resource, OAuthError, CODE_LIFETIME_SECS};
use crate::auth::guard;
use crate::auth::secret::{hash_token, random_token};
use crate::auth::{csrf, Scope, ScopeSet};
use crate::db::schema::{oauth_codes, oauth_consents};
use crate::db::{self, write_transaction, DbConn};
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::web::{current_user, redirect, render, Nav, PageError};
use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/oauth/authorize", web::get().to(authorize))
        .route("/oauth/authorize", web::post().to(authorize_json))
        .route("/oauth/consent", web::post().to(consent));
}

/// The parameters of an authorization request.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct AuthorizeParams {
    pub response_type: Option<String>,
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub scope: Option<String>,
    pub state: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub resource: Option<String>,
}

/// A request that passed every check.
#[derive(Debug, Clone)]
pub struct ValidRequest {
    pub client: Client,
    pub redirect_uri: String,
    /// Whether the request named `redirect_uri` (rather than taking the one registered): then
    /// the token request must name it too.
    pub redirect_uri_sent: bool,
    pub scope: ScopeSet,
    pub state: Option<String>,
    pub code_challenge: String,
    pub resource: String,
}

/// Why an authorization request is refused, as one of a fixed set of messages: a page of this
/// server never repeats text from the request, which could otherwise speak in its voice (a
/// crafted `client_id` that reads like a warning, say).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    NoClientId,
    UnknownClient,
    /// A client ID metadata document that could not be fetched or used.
    UnusableDocument,
    UnregisteredRedirect,
    NoRedirectUri,
    ResponseType,
    NoChallenge,
    ChallengeMethod,
    MalformedChallenge,
    ScopeNotAllowed,
    UnknownResource,
}

impl Problem {
    /// What the page says.
    pub fn message(self) -> &'static str {
        match self {
            Problem::NoClientId => {
                "The request does not say which application is asking (no client_id)."
            }
            Problem::UnknownClient => {
                "The application asking for access is not registered with this server."
            }
            Problem::UnusableDocument => {
                "This application could not be verified: its client metadata document could not be fetched, or does not describe it."
            }
            Problem::UnregisteredRedirect => {
                "The application asked to send you to an address it did not register. For your safety, you are not being sent there."
            }
            Problem::NoRedirectUri => "The request has no redirect_uri.",
            Problem::ResponseType => "The application asked for a response type other than code.",
            Problem::NoChallenge => {
                "The application did not protect its request with PKCE (code_challenge is required)."
            }
            Problem::ChallengeMethod => "The application must use PKCE with S256.",
            Problem::MalformedChallenge => {
                "The application's code_challenge is not the base64url SHA-256 of a verifier."
            }
            Problem::ScopeNotAllowed => {
                "The application asked for more access than it registered for."
            }
            Problem::UnknownResource => {
                "The application asked for access to a resource that is not on this server."
            }
        }
    }

    /// The RFC 6749 §4.1.2.1 error code, when the client is told.
    fn error(self) -> &'static str {
        match self {
            Problem::ResponseType => "unsupported_response_type",
            Problem::ScopeNotAllowed => "invalid_scope",
            Problem::UnknownResource => "invalid_target",
            _ => "invalid_request",
        }
    }
}

/// Why a request cannot go on. Before the client and redirect URI are trusted, only a page may
/// say so; after, the answer goes back to the client, if its redirect URIs are the operator's
/// (RFC 9700 §4.11.2: an error sent to a URI anyone registered makes this server an open
/// redirector, before anyone signed in).
#[derive(Debug)]
pub enum Refusal {
    Page(Problem),
    Redirect(String),
}

/// The client's redirect URI with the response parameters added (and RFC 9207 `iss`).
pub fn redirect_with(redirect_uri: &str, params: &[(&str, &str)], issuer: &str) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        query.append_pair(k, v);
    }
    query.append_pair("iss", issuer);
    let separator = if redirect_uri.contains('?') { '&' } else { '?' };
    format!("{redirect_uri}{separator}{}", query.finish())
}

fn error_redirect(
    redirect_uri: &str,
    error: &str,
    description: &str,
    state: Option<&str>,
    issuer: &str,
) -> String {
    let mut params = vec![("error", error), ("error_description", description)];
    if let Some(state) = state {
        params.push(("state", state));
    }
    redirect_with(redirect_uri, &params, issuer)
}

/// Checks an authorization request, in the order RFC 6749 §4.1.2.1 sets.
pub fn validate(
    conn: &mut DbConn,
    public_url: &str,
    params: &AuthorizeParams,
) -> AppResult<Result<ValidRequest, Refusal>> {
    let Some(client_id) = params.client_id.as_deref().filter(|c| !c.is_empty()) else {
        return Ok(Err(Refusal::Page(Problem::NoClientId)));
    };
    let Some(client) = clients::find(conn, client_id)?.filter(|c| !c.disabled) else {
        return Ok(Err(Refusal::Page(Problem::UnknownClient)));
    };
    let registered = client.redirect_uris();
    let redirect_uri = match params.redirect_uri.as_deref() {
        Some(uri) if client.accepts_redirect(uri) => uri.to_string(),
        Some(_) => return Ok(Err(Refusal::Page(Problem::UnregisteredRedirect))),
        None if registered.len() == 1 => registered[0].clone(),
        None => return Ok(Err(Refusal::Page(Problem::NoRedirectUri))),
    };
    let state = params.state.as_deref();
    let trusted = client.configured_by_operator();
    let fail = |problem: Problem, description: &str| {
        Ok(Err(if trusted {
            Refusal::Redirect(error_redirect(
                &redirect_uri,
                problem.error(),
                description,
                state,
                public_url,
            ))
        } else {
            Refusal::Page(problem)
        }))
    };
    if params.response_type.as_deref() != Some("code") {
        return fail(Problem::ResponseType, "response_type must be code");
    }
    let Some(challenge) = params.code_challenge.as_deref().filter(|c| !c.is_empty()) else {
        return fail(
            Problem::NoChallenge,
            "code_challenge is required (PKCE with S256)",
        );
    };
    if params.code_challenge_method.as_deref() != Some("S256") {
        return fail(
            Problem::ChallengeMethod,
            "code_challenge_method must be S256",
        );
    }
    if challenge.len() != 43
        || !challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return fail(
            Problem::MalformedChallenge,
            "code_challenge must be the base64url SHA-256 of the verifier (43 characters)",
        );
    }
    // Unknown scope names (offline_access, ...) are ignored; none means what the client registered.
    let allowed = client.scopes();
    let requested = ScopeSet::parse_lenient(params.scope.as_deref().unwrap_or(""));
    let scope = if requested.is_empty() {
        allowed.clone()
    } else {
        requested
    };
    if !scope.is_subset_of(&allowed) {
        return fail(
            Problem::ScopeNotAllowed,
            &format!("this client may ask only for: {allowed}"),
        );
    }
    let resource = match resolve_resource(public_url, params.resource.as_deref()) {
        Ok(resource) => resource,
        Err(error) => return fail(Problem::UnknownResource, &error.to_string()),
    };
    Ok(Ok(ValidRequest {
        client,
        redirect_uri_sent: params.redirect_uri.is_some(),
        redirect_uri,
        scope,
        state: params.state.clone(),
        code_challenge: challenge.to_string(),
        resource,
    }))
}

/// Issues a code for an approved request.
pub fn issue_code(
    conn: &mut DbConn,
    request: &ValidRequest,
    user_id: i64,
    now: NaiveDateTime,
) -> AppResult<String> {
    let code = random_token(32);
    diesel::insert_into(oauth_codes::table)
        .values((
            oauth_codes::code_hash.eq(hash_token(&code)),
            oauth_codes::client_id.eq(request.client.id),
            oauth_codes::user_id.eq(user_id),
            oauth_codes::redirect_uri.eq(&request.redirect_uri),
            oauth_codes::redirect_uri_sent.eq(request.redirect_uri_sent),
            oauth_codes::code_challenge.eq(&request.code_challenge),
            oauth_codes::code_challenge_method.eq("S256"),
            oauth_codes::scope.eq(request.scope.to_string()),
            oauth_codes::resource.eq(&request.resource),
            oauth_codes::grant_id.eq(random_token(16)),
            oauth_codes::created_at.eq(now),
            oauth_codes::expires_at.eq(now + Duration::seconds(CODE_LIFETIME_SECS)),
        ))
        .execute(conn)?;
    Ok(code)
}

/// Whether the consent page may be skipped: the user already approved this client for (at
/// least) these scopes and this exact redirect URI, and the client authenticates at the token
/// endpoint. A public client is asked every time: anyone can present its client_id (any local
/// process can listen on a loopback port), so a remembered consent would hand a stranger a code
/// without a word to the user (RFC 8252 §8.6, RFC 9700 §4.11).
pub fn consented(conn: &mut DbConn, user_id: i64, request: &ValidRequest) -> AppResult<bool> {
    if request.client.is_public() {
        return Ok(false);
    }
    let granted: Option<(String, Option<String>)> = oauth_consents::table
        .filter(oauth_consents::user_id.eq(user_id))
        .filter(oauth_consents::client_id.eq(request.client.id))
        .select((oauth_consents::scope, oauth_consents::redirect_uri))
        .first(conn)
        .optional()?;
    Ok(granted.is_some_and(|(scope, redirect_uri)| {
        redirect_uri.as_deref() == Some(request.redirect_uri.as_str())
            && request.scope.is_subset_of(&ScopeSet::parse_lenient(&scope))
    }))
}

/// Remembers an approval, for the scopes and the redirect URI approved (see `consented`).
pub fn remember_consent(
    conn: &mut DbConn,
    user_id: i64,
    request: &ValidRequest,
    now: NaiveDateTime,
) -> AppResult<()> {
    write_transaction(conn, |conn| {
        diesel::delete(
            oauth_consents::table
                .filter(oauth_consents::user_id.eq(user_id))
                .filter(oauth_consents::client_id.eq(request.client.id)),
        )
        .execute(conn)?;
        diesel::insert_into(oauth_consents::table)
            .values((
                oauth_consents::user_id.eq(user_id),
                oauth_consents::client_id.eq(request.client.id),
                oauth_consents::scope.eq(request.scope.to_string()),
                oauth_consents::redirect_uri.eq(&request.redirect_uri),
                oauth_consents::created_at.eq(now),
            ))
            .execute(conn)?;
        Ok(())
    })
}

#[derive(Template)]
#[template(path = "consent.html")]
struct ConsentPage {
    nav: Nav,
    client_name: String,
    /// For a client ID metadata document: the host that published it, the one thing about the
    /// client this server has checked (the name is the document's own claim).
    published_at: Option<String>,
    redirect_host: String,
    /// Only the operator's own client is shown as verified; every other names itself.
    verified: bool,
    scopes: Vec<(&'static str, &'static str)>,
    params: Vec<(&'static str, String)>,
    access_minutes: i64,
    refresh_days: i64,
}

fn hidden_params(params: &AuthorizeParams) -> Vec<(&'static str, String)> {
    [
        ("response_type", &params.response_type),
        ("client_id", &params.client_id),
        ("redirect_uri", &params.redirect_uri),
        ("scope", &params.scope),
        ("state", &params.state),
        ("code_challenge", &params.code_challenge),
        ("code_challenge_method", &params.code_challenge_method),
        ("resource", &params.resource),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.clone().map(|v| (k, v)))
    .collect()
}

fn refusal_page(problem: Problem) -> PageError {
    PageError::App(AppError::BadRequest(problem.message().into()))
}

async fn validated(
    state: &AppState,
    params: AuthorizeParams,
) -> Result<Result<ValidRequest, Refusal>, AppError> {
    if let Some(client_id) = params
        .client_id
        .as_deref()
        .filter(|c| super::client_metadata::is_metadata_client_id(c))
    {
        // Fetch (or refresh) the client's metadata document; a failure is shown, never followed.
        // The reason is logged, not shown: it names the client_id, which is the request's text.
        if let Err(error) = super::client_metadata::resolve(state, client_id).await {
            log::info!("client metadata document refused: {:?}", error.to_string());
            return Ok(Err(Refusal::Page(Problem::UnusableDocument)));
        }
    }
    let public_url = state.config.public_url.clone();
    db::run(&state.pool, move |conn| {
        validate(conn, &public_url, &params)
    })
    .await
}

async fn authorize(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: Session,
    params: web::Query<AuthorizeParams>,
) -> Result<HttpResponse, PageError> {
    let params = params.into_inner();
    let request = match validated(&state, params.clone()).await? {
        Ok(request) => request,
        Err(Refusal::Page(problem)) => return Err(refusal_page(problem)),
        Err(Refusal::Redirect(location)) => return Ok(redirect(&location)),
    };
    let Some(user) = current_user(&state, &session).await? else {
        let here = req
            .uri()
            .path_and_query()
            .map_or("/oauth/authorize".to_string(), |pq| pq.to_string());
        return Err(PageError::SignInRequired { return_to: here });
    };
    let (user_id, check) = (user.id, request.clone());
    let remembered = db::run(&state.pool, move |conn| consented(conn, user_id, &check)).await?;
    if remembered {
        return Ok(redirect(&approve(&state, request, user.id, false).await?));
    }
    let redirect_host = url::Url::parse(&request.redirect_uri)
        .ok()
        .and_then(|u| u.host_str().map(String::from))
        .unwrap_or_default();
    render(
        StatusCode::OK,
        &ConsentPage {
            nav: Nav::for_user(&user, &session)?,
            client_name: request.client.client_name.clone(),
            published_at: request.client.document_host(),
            redirect_host,
            verified: request.client.configured_by_operator(),
            scopes: request
                .scope
                .iter()
                .map(|s: Scope| (s.as_str(), s.describe()))
                .collect(),
            params: hidden_params(&params),
            access_minutes: state.config.jwt_access_token_expiry / 60,
            refresh_days: state.config.refresh_token_expiry / 86_400,
        },
    )
}

/// Issues the code (remembering consent when the user just gave it) and returns where to go.
async fn approve(
    state: &AppState,
    request: ValidRequest,
    user_id: i64,
    remember: bool,
) -> Result<String, AppError> {
    let issuer = state.config.issuer().to_string();
    db::run(&state.pool, move |conn| {
        let now = db::models::now();
        // Only a confidential client's consent is ever skipped (see `consented`).
        if remember && !request.client.is_public() {
            remember_consent(conn, user_id, &request, now)?;
        }
        let code = issue_code(conn, &request, user_id, now)?;
        let mut params = vec![("code", code.as_str())];
        if let Some(state) = request.state.as_deref() {
            params.push(("state", state));
        }
        Ok(redirect_with(&request.redirect_uri, &params, &issuer))
    })
    .await
}

#[derive(Deserialize)]
pub struct ConsentForm {
    csrf_token: String,
    decision: String,
    #[serde(flatten)]
    params: AuthorizeParams,
}

async fn consent(
    state: web::Data<AppState>,
    session: Session,
    form: web::Form<ConsentForm>,
) -> Result<HttpResponse, PageError> {
    let form = form.into_inner();
    csrf::verify(&session, &form.csrf_token)?;
    let Some(user) = current_user(&state, &session).await? else {
        return Err(PageError::SignInRequired {
            return_to: "/".into(),
        });
    };
    let request = match validated(&state, form.params).await? {
        Ok(request) => request,
        Err(Refusal::Page(problem)) => return Err(refusal_page(problem)),
        Err(Refusal::Redirect(location)) => return Ok(redirect(&location)),
    };
    match form.decision.as_str() {
        "approve" => Ok(redirect(&approve(&state, request, user.id, true).await?)),
        // The signed-in user chose to deny: telling the client is no open redirect.
        _ => Ok(redirect(&error_redirect(
            &request.redirect_uri,
            "access_denied",
            "the user denied the request",
            request.state.as_deref(),
            state.config.issuer(),
        ))),
    }
}

#[derive(Serialize)]
struct CodeResponse {
    code: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    state: Option<String>,
}

/// First-party JSON authorization (seed 000): a user signed in with a first-party Bearer token
/// gets a code directly.
async fn authorize_json(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, OAuthError> {
    let audiences = [state.api_audience().to_string()];
    let caller = guard::authenticate(&state, guard::bearer_token(&req), &audiences)
        .await
        .map_err(|_| {
            OAuthError::InvalidRequest(
                "a first-party Bearer token (from /api/auth/login) is required".into(),
            )
        })?;
    if caller.claims.client_id.is_some() {
        return Err(OAuthError::InvalidRequest(
            "only first-party tokens may authorize directly".into(),
        ));
    }
    let params: AuthorizeParams = serde_json::from_slice(&body)
        .map_err(|e| OAuthError::InvalidRequest(format!("the body must be JSON: {e}")))?;
    let request = match validated(&state, params).await? {
        Ok(request) => request,
        Err(Refusal::Page(problem)) => {
            return Err(OAuthError::InvalidRequest(problem.message().into()))
        }
        Err(Refusal::Redirect(location)) => {
            let error = url::Url::parse(&location)
                .ok()
                .and_then(|u| {
                    u.query_pairs()
                        .find(|(k, _)| k == "error_description")
                        .map(|(_, v)| v.into_owned())
                })
                .unwrap_or_default();
            return Err(OAuthError::InvalidRequest(error));
        }
    };
    let (user_id, state_param, issue) = (caller.user_id, request.state.clone(), request);
    let code = db::run(&state.pool, move |conn| {
        issue_code(conn, &issue, user_id, db::models::now())
    })
    .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(CodeResponse {
            code,
            state: state_param,
        }))
}

//! `GET /oauth/authorize` (sign-in, then the consent page), `POST /oauth/consent` (the user's
//! answer) and `POST /oauth/authorize` (first-party JSON, seed 000). Codes are random, stored
//! hashed, valid ten minutes, bound to client, redirect URI, PKCE challenge, scope, resource
//! and user.

use super::clients::{self, Client};
use super::{resolve_resource, OAuthError, CODE_LIFETIME_SECS};
use crate::auth::guard;
use crate::auth::{csrf, Scope, ScopeSet};
use crate::crypto::{hash_token, random_token};
use crate::db::schema::{oauth_codes, oauth_consents};
use crate::db::{self, write_transaction, DbConn, Writer};
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    Page(Problem),
    ToClient(ClientError),
}

/// An RFC 6749 §4.1.2.1 error response, to be sent to the client's redirect URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientError {
    pub redirect_uri: String,
    pub error: &'static str,
    pub description: String,
    pub state: Option<String>,
}

impl ClientError {
    /// Where the user agent goes: the redirect URI with the error and RFC 9207 `iss`.
    pub fn location(&self, issuer: &str) -> String {
        let mut params = vec![
            ("error", self.error),
            ("error_description", self.description.as_str()),
        ];
        if let Some(state) = self.state.as_deref() {
            params.push(("state", state));
        }
        redirect_with(&self.redirect_uri, &params, issuer)
    }
}

/// A code issued for an approved request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Approved {
    pub redirect_uri: String,
    pub code: String,
    pub state: Option<String>,
}

impl Approved {
    /// Where the user agent goes: the redirect URI with the code, `state` and `iss`.
    pub fn location(&self, issuer: &str) -> String {
        let mut params = vec![("code", self.code.as_str())];
        if let Some(state) = self.state.as_deref() {
            params.push(("state", state));
        }
        redirect_with(&self.redirect_uri, &params, issuer)
    }
}

/// What an authorization request comes to. The rules decide it (`decide`); the handlers only
/// render it.
#[derive(Debug)]
pub enum Outcome {
    /// Nobody is signed in: sign in, then ask again.
    SignInNeeded,
    /// The user must be asked (the consent page).
    ConsentNeeded(Box<ValidRequest>),
    /// A code was issued.
    Approved(Approved),
    Refused(Refusal),
}

/// The user's answer on the consent page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Approve,
    Deny,
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
    let trusted = client.configured_by_operator();
    let fail = |problem: Problem, description: &str| {
        Ok(Err(if trusted {
            Refusal::ToClient(ClientError {
                redirect_uri: redirect_uri.clone(),
                error: problem.error(),
                description: description.to_string(),
                state: params.state.clone(),
            })
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

/// `GET /oauth/authorize`: a valid request from a signed-in user is approved at once when the
/// user already consented (see `consented`), and otherwise needs consent.
pub fn decide(
    conn: &mut DbConn,
    public_url: &str,
    params: &AuthorizeParams,
    user_id: Option<i64>,
    now: NaiveDateTime,
) -> AppResult<Outcome> {
    let request = match validate(conn, public_url, params)? {
        Ok(request) => request,
        Err(refusal) => return Ok(Outcome::Refused(refusal)),
    };
    let Some(user_id) = user_id else {
        return Ok(Outcome::SignInNeeded);
    };
    if consented(conn, user_id, &request)? {
        return Ok(Outcome::Approved(approve(
            conn, &request, user_id, false, now,
        )?));
    }
    Ok(Outcome::ConsentNeeded(Box::new(request)))
}

/// `POST /oauth/consent`: the signed-in user's answer to the request, checked again (the form
/// carries it back, and anything may have changed since the page was shown). An answer is
/// never asked again: a code, or a refusal.
pub fn answer(
    conn: &mut DbConn,
    public_url: &str,
    params: &AuthorizeParams,
    user_id: i64,
    decision: Decision,
    now: NaiveDateTime,
) -> AppResult<Result<Approved, Refusal>> {
    let request = match validate(conn, public_url, params)? {
        Ok(request) => request,
        Err(refusal) => return Ok(Err(refusal)),
    };
    Ok(match decision {
        Decision::Approve => Ok(approve(conn, &request, user_id, true, now)?),
        // The signed-in user chose to deny: telling the client is no open redirect.
        Decision::Deny => Err(Refusal::ToClient(ClientError {
            redirect_uri: request.redirect_uri,
            error: "access_denied",
            description: "the user denied the request".into(),
            state: request.state,
        })),
    })
}

/// `POST /oauth/authorize` (first-party JSON): the token's user approves directly.
pub fn authorize_directly(
    conn: &mut DbConn,
    public_url: &str,
    params: &AuthorizeParams,
    user_id: i64,
    now: NaiveDateTime,
) -> AppResult<Result<Approved, Refusal>> {
    Ok(match validate(conn, public_url, params)? {
        Ok(request) => Ok(approve(conn, &request, user_id, false, now)?),
        Err(refusal) => Err(refusal),
    })
}

/// Issues the code, remembering consent when the user just gave it (only a confidential
/// client's consent is ever skipped: see `consented`).
fn approve(
    conn: &mut DbConn,
    request: &ValidRequest,
    user_id: i64,
    remember: bool,
    now: NaiveDateTime,
) -> AppResult<Approved> {
    if remember && !request.client.is_public() {
        remember_consent(conn, user_id, request, now)?;
    }
    Ok(Approved {
        redirect_uri: request.redirect_uri.clone(),
        code: write_transaction(conn, |conn| issue_code(conn, request, user_id, now))?,
        state: request.state.clone(),
    })
}

/// Issues a code for an approved request.
fn issue_code(
    conn: &mut Writer<'_>,
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
        .execute(&mut **conn)?;
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
        .execute(&mut **conn)?;
        diesel::insert_into(oauth_consents::table)
            .values((
                oauth_consents::user_id.eq(user_id),
                oauth_consents::client_id.eq(request.client.id),
                oauth_consents::scope.eq(request.scope.to_string()),
                oauth_consents::redirect_uri.eq(&request.redirect_uri),
                oauth_consents::created_at.eq(now),
            ))
            .execute(&mut **conn)?;
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

/// Renders a refusal: this server's page, or the error sent back to the client.
fn refused(state: &AppState, refusal: Refusal) -> Result<HttpResponse, PageError> {
    match refusal {
        Refusal::Page(problem) => Err(PageError::App(AppError::BadRequest(
            problem.message().into(),
        ))),
        Refusal::ToClient(error) => Ok(redirect(&error.location(state.config.issuer()))),
    }
}

/// Fetches (or refreshes) the document of a client named by its metadata URL before the rules
/// run: a failure is shown, never followed. The reason is logged, not shown: it names the
/// client_id, which is the request's text.
async fn client_document_refusal(state: &AppState, params: &AuthorizeParams) -> Option<Refusal> {
    let client_id = params
        .client_id
        .as_deref()
        .filter(|c| super::client_metadata::is_metadata_client_id(c))?;
    match super::client_metadata::resolve(state, client_id).await {
        Ok(_) => None,
        Err(error) => {
            log::info!("client metadata document refused: {:?}", error.to_string());
            Some(Refusal::Page(Problem::UnusableDocument))
        }
    }
}

async fn authorize(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: Session,
    params: web::Query<AuthorizeParams>,
) -> Result<HttpResponse, PageError> {
    let params = params.into_inner();
    if let Some(refusal) = client_document_refusal(&state, &params).await {
        return refused(&state, refusal);
    }
    let user = current_user(&state, &session).await?;
    let (public_url, user_id, asked) = (
        state.config.public_url.clone(),
        user.as_ref().map(|u| u.id),
        params.clone(),
    );
    let outcome = db::run(&state.pool, move |conn| {
        decide(conn, &public_url, &asked, user_id, db::models::now())
    })
    .await?;
    let request = match (outcome, user) {
        (Outcome::ConsentNeeded(request), Some(user)) => (request, user),
        (Outcome::Approved(approved), _) => {
            return Ok(redirect(&approved.location(state.config.issuer())))
        }
        (Outcome::Refused(refusal), _) => return refused(&state, refusal),
        (Outcome::SignInNeeded | Outcome::ConsentNeeded(_), _) => {
            let here = req
                .uri()
                .path_and_query()
                .map_or("/oauth/authorize".to_string(), |pq| pq.to_string());
            return Err(PageError::SignInRequired { return_to: here });
        }
    };
    let (request, user) = request;
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
    if let Some(refusal) = client_document_refusal(&state, &form.params).await {
        return refused(&state, refusal);
    }
    // Anything but an explicit approval is a denial.
    let decision = match form.decision.as_str() {
        "approve" => Decision::Approve,
        _ => Decision::Deny,
    };
    let (public_url, params) = (state.config.public_url.clone(), form.params);
    let outcome = db::run(&state.pool, move |conn| {
        answer(
            conn,
            &public_url,
            &params,
            user.id,
            decision,
            db::models::now(),
        )
    })
    .await?;
    match outcome {
        Ok(approved) => Ok(redirect(&approved.location(state.config.issuer()))),
        Err(refusal) => refused(&state, refusal),
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
    if let Some(Refusal::Page(problem)) = client_document_refusal(&state, &params).await {
        return Err(OAuthError::InvalidRequest(problem.message().into()));
    }
    let (public_url, user_id) = (state.config.public_url.clone(), caller.user_id);
    let approved = db::run(&state.pool, move |conn| {
        authorize_directly(conn, &public_url, &params, user_id, db::models::now())
    })
    .await?;
    match approved {
        Ok(approved) => Ok(HttpResponse::Ok()
            .insert_header(("Cache-Control", "no-store"))
            .json(CodeResponse {
                code: approved.code,
                state: approved.state,
            })),
        Err(Refusal::Page(problem)) => Err(OAuthError::InvalidRequest(problem.message().into())),
        Err(Refusal::ToClient(error)) => Err(OAuthError::InvalidRequest(error.description)),
    }
}

/// The authorization endpoint's rules, over a database and a clock, without HTTP: one rule a
/// test.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::schema::oauth_codes;

    use crate::oauth::testing::{
        now, operator_client, register, register_for, world, World, CHALLENGE, PUBLIC_URL,
    };

    fn params(client_id: &str, redirect_uri: &str) -> AuthorizeParams {
        AuthorizeParams {
            response_type: Some("code".into()),
            client_id: Some(client_id.into()),
            redirect_uri: Some(redirect_uri.into()),
            scope: Some("read".into()),
            state: Some("xyz".into()),
            code_challenge: Some(CHALLENGE.into()),
            code_challenge_method: Some("S256".into()),
            resource: None,
        }
    }

    fn claude(client_id: &str) -> AuthorizeParams {
        params(client_id, "https://claude.ai/api/mcp/auth_callback")
    }

    /// `decide`, for the world's user when `signed_in`.
    fn decided(w: &mut World, params: &AuthorizeParams, signed_in: bool) -> Outcome {
        let user = signed_in.then_some(w.user);
        decide(&mut w.conn, PUBLIC_URL, params, user, now()).unwrap_or_else(|e| panic!("{e}"))
    }

    fn refusal(outcome: Outcome) -> Refusal {
        match outcome {
            Outcome::Refused(refusal) => refusal,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn an_unknown_client_is_refused_on_this_servers_page() {
        let mut w = world();
        let outcome = decided(&mut w, &claude("nobody"), true);
        assert_eq!(refusal(outcome), Refusal::Page(Problem::UnknownClient));
    }

    #[test]
    fn a_redirect_uri_not_registered_exactly_is_never_followed() {
        let mut w = world();
        let id = register(&mut w, "none");
        for uri in [
            "https://claude.ai/api/mcp/auth_callback/",
            "https://claude.ai/api/mcp/auth_callback?x=1",
            "https://evil.example/cb",
        ] {
            let outcome = decided(&mut w, &params(&id, uri), true);
            assert_eq!(
                refusal(outcome),
                Refusal::Page(Problem::UnregisteredRedirect),
                "{uri}"
            );
        }
    }

    #[test]
    fn pkce_s256_is_required() {
        let mut w = world();
        let id = register(&mut w, "none");
        let mut plain = claude(&id);
        plain.code_challenge_method = Some("plain".into());
        let mut missing = claude(&id);
        missing.code_challenge = None;
        let mut short = claude(&id);
        short.code_challenge = Some("abc".into());
        for (asked, problem) in [
            (plain, Problem::ChallengeMethod),
            (missing, Problem::NoChallenge),
            (short, Problem::MalformedChallenge),
        ] {
            assert_eq!(
                refusal(decided(&mut w, &asked, true)),
                Refusal::Page(problem)
            );
        }
    }

    #[test]
    fn only_the_operators_client_is_told_of_errors_at_its_redirect_uri() {
        let mut w = world();
        let operator = operator_client(&mut w);
        let mut asked = params(&operator, "https://app.example.org/cb");
        asked.response_type = Some("token".into());
        let Refusal::ToClient(error) = refusal(decided(&mut w, &asked, false)) else {
            panic!("the operator's client is told")
        };
        assert_eq!(error.error, "unsupported_response_type");
        assert_eq!(error.state.as_deref(), Some("xyz"));
        assert_eq!(
            error.location("https://books.example.org"),
            "https://app.example.org/cb?error=unsupported_response_type&error_description=response_type+must+be+code&state=xyz&iss=https%3A%2F%2Fbooks.example.org"
        );
        // A registered client with the same mistake gets this server's page, no redirect.
        let id = register(&mut w, "none");
        let mut asked = claude(&id);
        asked.response_type = Some("token".into());
        assert_eq!(
            refusal(decided(&mut w, &asked, false)),
            Refusal::Page(Problem::ResponseType)
        );
    }

    #[test]
    fn scope_may_narrow_but_never_widen_what_the_client_registered() {
        let mut w = world();
        let id = register_for(&mut w, "none", "read");
        let mut wider = claude(&id);
        wider.scope = Some("read write".into());
        assert_eq!(
            refusal(decided(&mut w, &wider, true)),
            Refusal::Page(Problem::ScopeNotAllowed)
        );
        let mut none = claude(&id);
        none.scope = None;
        let Outcome::ConsentNeeded(request) = decided(&mut w, &none, true) else {
            panic!("no scope asks for what was registered")
        };
        assert_eq!(request.scope.to_string(), "read");
        // Names this server does not know (offline_access, say) are ignored, not refused.
        let mut unknown = claude(&id);
        unknown.scope = Some("read offline_access".into());
        assert!(matches!(
            decided(&mut w, &unknown, true),
            Outcome::ConsentNeeded(_)
        ));
    }

    #[test]
    fn a_valid_request_without_a_user_needs_sign_in_first() {
        let mut w = world();
        let id = register(&mut w, "none");
        assert!(matches!(
            decided(&mut w, &claude(&id), false),
            Outcome::SignInNeeded
        ));
    }

    #[test]
    fn a_public_client_is_asked_every_time() {
        let mut w = world();
        let id = register(&mut w, "none");
        let asked = claude(&id);
        assert!(matches!(
            decided(&mut w, &asked, true),
            Outcome::ConsentNeeded(_)
        ));
        let answered = answer(
            &mut w.conn,
            PUBLIC_URL,
            &asked,
            w.user,
            Decision::Approve,
            now(),
        );
        assert!(matches!(answered, Ok(Ok(_))));
        assert!(matches!(
            decided(&mut w, &asked, true),
            Outcome::ConsentNeeded(_)
        ));
    }

    #[test]
    fn a_confidential_clients_consent_is_remembered_for_those_scopes_only() {
        let mut w = world();
        let id = register(&mut w, "client_secret_basic");
        let asked = claude(&id);
        let answered = answer(
            &mut w.conn,
            PUBLIC_URL,
            &asked,
            w.user,
            Decision::Approve,
            now(),
        );
        assert!(matches!(answered, Ok(Ok(_))));
        let Outcome::Approved(approved) = decided(&mut w, &asked, true) else {
            panic!("remembered consent is not asked again")
        };
        assert_eq!(approved.state.as_deref(), Some("xyz"));
        let mut more = claude(&id);
        more.scope = Some("read write".into());
        assert!(matches!(
            decided(&mut w, &more, true),
            Outcome::ConsentNeeded(_)
        ));
    }

    #[test]
    fn a_denial_is_sent_to_the_client_with_its_state() {
        let mut w = world();
        let id = register(&mut w, "none");
        let answered = answer(
            &mut w.conn,
            PUBLIC_URL,
            &claude(&id),
            w.user,
            Decision::Deny,
            now(),
        );
        let Ok(Err(Refusal::ToClient(error))) = answered else {
            panic!("a denial goes back to the client: {answered:?}")
        };
        assert_eq!(error.error, "access_denied");
        assert_eq!(error.state.as_deref(), Some("xyz"));
        let count: i64 = oauth_codes::table
            .count()
            .get_result(&mut w.conn)
            .unwrap_or(-1);
        assert_eq!(count, 0, "no code for a denial");
    }

    #[test]
    fn a_code_is_stored_only_as_its_hash_bound_to_the_request_for_ten_minutes() {
        let mut w = world();
        let id = register(&mut w, "none");
        let approved = authorize_directly(&mut w.conn, PUBLIC_URL, &claude(&id), w.user, now())
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|r| panic!("{r:?}"));
        let (hash, challenge, redirect_uri, expires_at): (String, String, String, NaiveDateTime) =
            oauth_codes::table
                .select((
                    oauth_codes::code_hash,
                    oauth_codes::code_challenge,
                    oauth_codes::redirect_uri,
                    oauth_codes::expires_at,
                ))
                .first(&mut w.conn)
                .unwrap_or_else(|e| panic!("{e}"));
        assert_ne!(hash, approved.code);
        assert_eq!(hash, hash_token(&approved.code));
        assert_eq!(challenge, CHALLENGE);
        assert_eq!(redirect_uri, "https://claude.ai/api/mcp/auth_callback");
        assert_eq!(expires_at, now() + Duration::seconds(CODE_LIFETIME_SECS));
        assert!(approved
            .location(PUBLIC_URL)
            .starts_with("https://claude.ai/api/mcp/auth_callback?code="));
    }
}

//! The Bearer guard: one mechanism for every protected route.
//!
//! A handler declares the scope it needs in its signature, `Authorized<Read>`, `Authorized<Write>`
//! or `Authorized<Connectors>`; the extractor checks the `Authorization: Bearer` header (never the
//! query string), the JWT signature, `exp`, `iss` and audience, and that the token's row in
//! `oauth_tokens` is neither revoked nor expired, so a revocation takes effect on the very next
//! request, and records the scope, audience and client the token claims.

use crate::auth::jwt::Claims;
use crate::auth::{Scope, ScopeSet};
use crate::crypto::hash_token;
use crate::db::models::token::TokenKind;
use crate::db::schema::{oauth_clients, oauth_tokens};
use crate::db::time::StoredTime;
use crate::db::{self, DbConn};
use crate::error::{AppError, AppResult};
use crate::oauth::grant_token::row_of_jti;
use crate::state::AppState;
use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use futures_util::future::LocalBoxFuture;
use std::marker::PhantomData;

/// A verified caller: who, with which scopes, through which token.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user_id: i64,
    pub scopes: ScopeSet,
    pub claims: Claims,
}

impl Caller {
    /// Whether the token's row is still live (not revoked, not expired) and matches the token
    /// (scope, audience, client). The signature was checked when the caller was built; this is
    /// the part that needs the database.
    pub fn is_live(&self, conn: &mut DbConn) -> AppResult<bool> {
        token_is_live(conn, &self.claims, self.user_id, db::models::now())
    }

    /// Fails with 403 `insufficient_scope` unless the token holds `needed` (or `all`).
    pub fn require(&self, needed: Scope, state: &AppState) -> AppResult<()> {
        if self.scopes.allows(needed) {
            Ok(())
        } else {
            Err(AppError::InsufficientScope {
                challenge: challenge(state, Some("insufficient_scope"), Some(needed)),
                scope: needed.as_str().to_string(),
            })
        }
    }
}

/// A scope a route can require, as a type.
pub trait RequiredScope {
    const SCOPE: Scope;
}

pub struct Read;
pub struct Write;
pub struct Connectors;
/// Scope `all` itself: what a first-party token from `POST /api/auth/login` holds.
pub struct All;

impl RequiredScope for Read {
    const SCOPE: Scope = Scope::Read;
}
impl RequiredScope for Write {
    const SCOPE: Scope = Scope::Write;
}
impl RequiredScope for Connectors {
    const SCOPE: Scope = Scope::Connectors;
}
impl RequiredScope for All {
    const SCOPE: Scope = Scope::All;
}

/// A caller whose token holds scope `S`.
pub struct Authorized<S: RequiredScope> {
    pub caller: Caller,
    _scope: PhantomData<S>,
}

impl<S: RequiredScope> std::ops::Deref for Authorized<S> {
    type Target = Caller;
    fn deref(&self) -> &Caller {
        &self.caller
    }
}

impl<S: RequiredScope + 'static> FromRequest for Authorized<S> {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let token = bearer_token(req);
        Box::pin(async move {
            let state = state.ok_or_else(|| AppError::internal("no app state"))?;
            let audiences = [state.api_audience().to_string()];
            let caller = authenticate(&state, token, &audiences).await?;
            caller.require(S::SCOPE, &state)?;
            Ok(Authorized {
                caller,
                _scope: PhantomData,
            })
        })
    }
}

/// A caller whose token's signature, expiry, issuer, audience and scope `S` are verified, but
/// whose row in `oauth_tokens` (revocation) has not been read yet. `run` reads it on the same
/// blocking call and connection as the handler's own work, saving one hop to the blocking pool
/// on the busiest read routes. The user id is only handed out inside `run`, after that check, so
/// a handler cannot act for a revoked token by mistake.
pub struct Verified<S: RequiredScope> {
    caller: Caller,
    _scope: PhantomData<S>,
}

impl<S: RequiredScope + 'static> FromRequest for Verified<S> {
    type Error = AppError;
    type Future = std::future::Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let verified = (|| {
            let state = req
                .app_data::<web::Data<AppState>>()
                .ok_or_else(|| AppError::internal("no app state"))?;
            let audiences = [state.api_audience().to_string()];
            let caller = verify_signed(state, bearer_token(req), &audiences)?;
            caller.require(S::SCOPE, state)?;
            Ok(Verified {
                caller,
                _scope: PhantomData,
            })
        })();
        std::future::ready(verified)
    }
}

impl<S: RequiredScope> Verified<S> {
    /// Checks that the token is still live, then runs `work` for its user, in one blocking call.
    pub async fn run<T, F>(self, state: &AppState, work: F) -> AppResult<T>
    where
        F: FnOnce(&mut DbConn, i64) -> AppResult<T> + Send + 'static,
        T: Send + 'static,
    {
        let caller = self.caller;
        // The refusal is written only for a refused token, not ahead of every request.
        db::run(&state.pool, move |conn| {
            if !caller.is_live(conn)? {
                return Ok(None);
            }
            work(conn, caller.user_id).map(Some)
        })
        .await?
        .ok_or_else(|| invalid_token(state))
    }
}

/// The token of `Authorization: Bearer <token>`, if the header is there and well-formed.
pub fn bearer_token(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then(|| token.to_string())
}

/// Verifies a Bearer token for one of `audiences`. Every failure is the same 401: the client
/// learns only that it must get a new token.
pub async fn authenticate(
    state: &AppState,
    token: Option<String>,
    audiences: &[String],
) -> AppResult<Caller> {
    let caller = verify_signed(state, token, audiences)?;
    let (caller, live) = db::run(&state.pool, move |conn| {
        let live = caller.is_live(conn)?;
        Ok((caller, live))
    })
    .await?;
    if !live {
        return Err(invalid_token(state));
    }
    Ok(caller)
}

/// The 401 for a token that is malformed, forged, expired, for another audience or revoked:
/// the client learns only that it needs a new one.
fn invalid_token(state: &AppState) -> AppError {
    AppError::Unauthenticated {
        challenge: challenge(state, Some("invalid_token"), None),
    }
}

/// What can be checked without the database: presence, signature, `exp`, `iss`, audience. The
/// caller must still check the token's row (`Caller::is_live`) before acting for it.
pub fn verify_signed(
    state: &AppState,
    token: Option<String>,
    audiences: &[String],
) -> AppResult<Caller> {
    let unauthenticated = || invalid_token(state);
    let Some(token) = token else {
        // RFC 6750 §3.1: no error code when the request carried no credentials.
        return Err(AppError::Unauthenticated {
            challenge: challenge(state, None, None),
        });
    };
    let audiences: Vec<&str> = audiences.iter().map(String::as_str).collect();
    let claims = state
        .jwt
        .verify(&token, &audiences)
        .ok_or_else(unauthenticated)?;
    let user_id = claims.user_id().ok_or_else(unauthenticated)?;
    Ok(Caller {
        user_id,
        scopes: ScopeSet::parse_lenient(&claims.scope),
        claims,
    })
}

/// A token row as the guard reads it: id, owner, scope, audience, the client's public id,
/// expiry, revocation and last use.
type TokenState = (
    i64,
    i64,
    String,
    Option<String>,
    Option<String>,
    // Parsed directly on SQLite (db::time), not by diesel's trial of strftime formats.
    StoredTime,
    Option<StoredTime>,
    Option<StoredTime>,
);

/// Whether the access token of `claims` has a row that is not revoked and not expired, for
/// `user_id`, and that says what the token says: scope, audience and client. The signature
/// alone does not decide them: whoever holds the signing key (a leaked or default secret) could
/// otherwise widen a `read` token to `all`. Records the use at most once a minute, so reads do
/// not turn into writes.
pub fn token_is_live(
    conn: &mut DbConn,
    claims: &Claims,
    user_id: i64,
    now: NaiveDateTime,
) -> AppResult<bool> {
    if let Some(row_id) = row_of_jti(&claims.jti) {
        return grant_token_is_live(conn, claims, row_id, user_id, now);
    }
    // A first-party token, or one issued before grant rows: found by the hash of the jti, the
    // unique key of every token row (migration 000800); the client's public id comes in the
    // same query.
    let hash = hash_token(&claims.jti);
    let row: Option<TokenState> = db::on_backend!(conn, c => oauth_tokens::table
        .left_join(oauth_clients::table)
        .filter(oauth_tokens::token_hash.eq(&hash))
        .filter(oauth_tokens::kind.eq(TokenKind::Access))
        .select((
            oauth_tokens::id,
            oauth_tokens::user_id,
            oauth_tokens::scope,
            oauth_tokens::audience,
            oauth_clients::client_id.nullable(),
            oauth_tokens::expires_at,
            oauth_tokens::revoked_at,
            oauth_tokens::last_used_at,
        ))
        .first(c)
        .optional())?;
    let Some((id, owner, scope, audience, client, expires_at, revoked_at, last_used_at)) = row
    else {
        return Ok(false);
    };
    if owner != user_id || revoked_at.is_some() || expires_at.0 <= now {
        return Ok(false);
    }
    if scope != claims.scope
        || audience.as_deref() != Some(claims.aud.as_str())
        || client != claims.client_id
    {
        return Ok(false);
    }
    touch(conn, id, last_used_at, now)?;
    Ok(true)
}

/// A grant row as the guard reads it for an access token issued for it: owner, scope,
/// audience, the client's public id, expiry, revocation and last use.
type GrantState = (
    i64,
    String,
    Option<String>,
    Option<String>,
    StoredTime,
    Option<StoredTime>,
    Option<StoredTime>,
);

/// The access token of a grant (`jti` = `<row id>.<generation>`) has no row of its own: it is
/// live while its grant's row is (not revoked, not expired) and covers it. Read by primary key
/// on every request, like a token's own row, so a revocation is seen on the very next one on
/// every instance. The token's own `exp` was checked with its signature.
fn grant_token_is_live(
    conn: &mut DbConn,
    claims: &Claims,
    row_id: i64,
    user_id: i64,
    now: NaiveDateTime,
) -> AppResult<bool> {
    let row: Option<GrantState> = db::on_backend!(conn, c => oauth_tokens::table
        .left_join(oauth_clients::table)
        .filter(oauth_tokens::id.eq(row_id))
        .filter(oauth_tokens::kind.eq(TokenKind::Refresh))
        .select((
            oauth_tokens::user_id,
            oauth_tokens::scope,
            oauth_tokens::audience,
            oauth_clients::client_id.nullable(),
            oauth_tokens::expires_at,
            oauth_tokens::revoked_at,
            oauth_tokens::last_used_at,
        ))
        .first(c)
        .optional())?;
    let Some((owner, scope, audience, client, expires_at, revoked_at, last_used_at)) = row else {
        return Ok(false);
    };
    let grant = Grant {
        owner,
        scope: &scope,
        audience: audience.as_deref(),
        client: client.as_deref(),
        expires_at: expires_at.0,
        revoked: revoked_at.is_some(),
    };
    if owner != user_id || !grant.admits(claims, now) {
        return Ok(false);
    }
    touch(conn, row_id, last_used_at, now)?;
    Ok(true)
}

/// A grant's row, as much of it as decides whether an access token issued for it is still
/// good: the guard (every request) and introspection read it each their own way.
pub struct Grant<'a> {
    pub owner: i64,
    pub scope: &'a str,
    pub audience: Option<&'a str>,
    /// The client's public id.
    pub client: Option<&'a str>,
    pub expires_at: NaiveDateTime,
    pub revoked: bool,
}

impl Grant<'_> {
    /// Whether the grant admits an access token issued for it: the grant live (not revoked,
    /// not expired), the same user and client, the audience the token names, and every scope
    /// it claims still granted. A refresh may narrow the grant's scope: an earlier access
    /// token claiming more is then refused. The token's own `exp` is its verifier's to check.
    pub fn admits(&self, claims: &Claims, now: NaiveDateTime) -> bool {
        !self.revoked
            && self.expires_at > now
            && claims.user_id() == Some(self.owner)
            && self.audience == Some(claims.aud.as_str())
            && self.client.is_some()
            && self.client == claims.client_id.as_deref()
            && ScopeSet::parse_lenient(&claims.scope)
                .is_subset_of(&ScopeSet::parse_lenient(self.scope))
    }
}

/// Records a use of a token's row at most once a minute, so reads do not turn into writes.
fn touch(
    conn: &mut DbConn,
    id: i64,
    last_used_at: Option<StoredTime>,
    now: NaiveDateTime,
) -> AppResult<()> {
    if last_used_at.is_none_or(|at| now - at.0 > chrono::Duration::seconds(60)) {
        // A write like any other: in turn on the file's writer, not waiting for SQLite's lock
        // on this reader's connection.
        db::write_transaction(conn, |c| {
            diesel::update(oauth_tokens::table.find(id))
                .set(oauth_tokens::last_used_at.eq(now))
                .execute(&mut **c)
        })?;
    }
    Ok(())
}

/// The `WWW-Authenticate` value: realm, the protected-resource metadata URL (so clients can
/// discover the authorization server), and the error and scope when there is one.
pub fn challenge(state: &AppState, error: Option<&str>, scope: Option<Scope>) -> String {
    let scopes = scope.as_slice();
    challenge_for(
        state,
        "/.well-known/oauth-protected-resource",
        error,
        scopes,
    )
}

/// The same, naming a specific resource's metadata (the MCP endpoint names its own) and the
/// scopes a client should ask for (space-separated, RFC 6750 §3).
pub fn challenge_for(
    state: &AppState,
    metadata_path: &str,
    error: Option<&str>,
    scopes: &[Scope],
) -> String {
    let mut value = format!(
        "Bearer realm=\"panicless\", resource_metadata=\"{}\"",
        state.config.url(metadata_path)
    );
    if let Some(error) = error {
        value.push_str(&format!(", error=\"{error}\""));
    }
    if !scopes.is_empty() {
        let names: Vec<&str> = scopes.iter().map(|s| s.as_str()).collect();
        value.push_str(&format!(", scope=\"{}\"", names.join(" ")));
    }
    value
}

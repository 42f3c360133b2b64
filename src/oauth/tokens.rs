//! `POST /oauth/token` (authorization code with PKCE, refresh with rotation), `POST
//! /oauth/revoke` (RFC 7009) and `POST /oauth/introspect` (RFC 7662).

use super::clients::{self, AuthenticatedClient, Credentials};
use super::grant_token;
use super::{resolve_resource, OAuthError, OAuthResult, REFRESH_GRACE_SECS};
use crate::auth::issue::{GrantAccess, Issuer, TokenResponse};
use crate::auth::jwt::{unix, Claims, JwtKeys};
use crate::auth::ScopeSet;
use crate::body::Body;
use crate::config::Config;
use crate::crypto::{self, constant_time_eq, hash_token, random_token, Bound, SealKey};
use crate::db::models::token::{self, TokenKind};
use crate::db::schema::{oauth_codes, oauth_tokens, users};
use crate::db::{self, write_transaction, DbConn, Writer};
use crate::rate_limit::{self, Bucket};
use crate::state::AppState;
use actix_web::{web, HttpRequest, HttpResponse};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{Duration, NaiveDateTime};
use diesel::backend::Backend;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::serialize::ToSql;
use diesel::sql_types::{BigInt, HasSqlType, Text, Timestamp};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/oauth/token", web::post().to(token_endpoint))
        .route("/oauth/revoke", web::post().to(revoke_endpoint))
        .route("/oauth/introspect", web::post().to(introspect_endpoint));
}

/// Every parameter any of the three endpoints takes.
#[derive(Default, Deserialize)]
pub struct TokenRequest {
    pub grant_type: Option<String>,
    pub code: Option<String>,
    pub redirect_uri: Option<String>,
    pub code_verifier: Option<String>,
    pub refresh_token: Option<String>,
    pub scope: Option<String>,
    pub resource: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub token: Option<String>,
    // `token_type_hint` (RFC 7009, RFC 7662) is not read: a token's form says where its row is
    // (a JWT by its `jti`, a new-form refresh token by its row id, an opaque one by its hash).
}

impl std::fmt::Debug for TokenRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenRequest")
            .field("grant_type", &self.grant_type)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// The standard body is form-urlencoded; the seeds' clients send JSON. Both are read.
fn parse_request(req: &HttpRequest, body: &[u8]) -> OAuthResult<TokenRequest> {
    let content_type = req
        .headers()
        .get("Content-Type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if content_type.starts_with("application/json") {
        serde_json::from_slice(body)
            .map_err(|e| OAuthError::InvalidRequest(format!("invalid JSON body: {e}")))
    } else {
        parse_form(body).map_err(|e| OAuthError::InvalidRequest(format!("invalid form body: {e}")))
    }
}

/// Reads an `application/x-www-form-urlencoded` body as serde_urlencoded did (unknown names
/// ignored, a name given twice refused, a name without `=` an empty value, invalid UTF-8
/// replaced), but a pair without `%` or `+` (every token this server issues: base64url, dots,
/// digits) is taken as it is. serde_urlencoded decoded every byte through an iterator: 10% of an
/// introspection's instructions, for one 400-byte token (bench/README.md, 2026-12-05, 00:30).
fn parse_form(body: &[u8]) -> Result<TokenRequest, String> {
    // Valid UTF-8 (every token) is checked by the standard library's ASCII-fast validation;
    // only invalid bytes take the slower lossy path.
    fn text(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
        std::str::from_utf8(bytes).map_or_else(
            |_| String::from_utf8_lossy(bytes),
            std::borrow::Cow::Borrowed,
        )
    }
    let mut request = TokenRequest::default();
    for pair in body.split(|&b| b == b'&').filter(|pair| !pair.is_empty()) {
        let (name, value) = if pair.contains(&b'%') || pair.contains(&b'+') {
            match url::form_urlencoded::parse(pair).next() {
                Some(decoded) => decoded,
                None => continue,
            }
        } else {
            let (name, value) = match pair.iter().position(|&b| b == b'=') {
                Some(at) => (&pair[..at], &pair[at + 1..]),
                None => (pair, &pair[pair.len()..]),
            };
            (text(name), text(value))
        };
        let slot = match name.as_ref() {
            "grant_type" => &mut request.grant_type,
            "code" => &mut request.code,
            "redirect_uri" => &mut request.redirect_uri,
            "code_verifier" => &mut request.code_verifier,
            "refresh_token" => &mut request.refresh_token,
            "scope" => &mut request.scope,
            "resource" => &mut request.resource,
            "client_id" => &mut request.client_id,
            "client_secret" => &mut request.client_secret,
            "token" => &mut request.token,
            _ => continue,
        };
        if slot.is_some() {
            return Err(format!("duplicate field `{name}`"));
        }
        *slot = Some(value.into_owned());
    }
    Ok(request)
}

async fn token_endpoint(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: Body,
) -> Result<HttpResponse, OAuthError> {
    rate_limit::check(&state, &req, Bucket::Token)?;
    let request = parse_request(&req, &body)?;
    let credentials = clients::credentials(
        &req,
        request.client_id.as_deref(),
        request.client_secret.as_deref(),
    )?;
    let state = state.into_inner();
    let response = db::run(&state.pool.clone(), move |conn| {
        let issuer = Issuer {
            jwt: &state.jwt,
            config: &state.config,
        };
        Ok(exchange(
            conn,
            &issuer,
            &credentials,
            &request,
            db::models::now(),
        ))
    })
    .await??;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("Pragma", "no-cache"))
        .json(response))
}

/// The token endpoint's logic: authenticate the client, then the grant.
pub fn exchange(
    conn: &mut DbConn,
    issuer: &Issuer<'_>,
    credentials: &Credentials,
    request: &TokenRequest,
    now: NaiveDateTime,
) -> OAuthResult<TokenResponse> {
    let grant_type = request
        .grant_type
        .as_deref()
        .ok_or_else(|| OAuthError::InvalidRequest("grant_type is required".into()))?;
    if !matches!(grant_type, "authorization_code" | "refresh_token") {
        return Err(OAuthError::UnsupportedGrantType);
    }
    let client = clients::authenticate(conn, credentials, now)?;
    match grant_type {
        "authorization_code" => authorization_code(conn, issuer, &client, request, now),
        _ => refresh(conn, issuer, &client, request, now),
    }
}

#[derive(Queryable)]
struct CodeRow {
    id: i64,
    client_id: i64,
    user_id: i64,
    redirect_uri: String,
    code_challenge: String,
    scope: String,
    resource: Option<String>,
    grant_id: String,
    expires_at: NaiveDateTime,
    used_at: Option<NaiveDateTime>,
    redirect_uri_sent: bool,
}

/// BASE64URL(SHA-256(verifier)), RFC 7636.
pub fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

fn authorization_code(
    conn: &mut DbConn,
    issuer: &Issuer<'_>,
    client: &AuthenticatedClient,
    request: &TokenRequest,
    now: NaiveDateTime,
) -> OAuthResult<TokenResponse> {
    let code = request
        .code
        .as_deref()
        .ok_or_else(|| OAuthError::InvalidRequest("code is required".into()))?;
    let verifier = request
        .code_verifier
        .as_deref()
        .ok_or_else(|| OAuthError::InvalidRequest("code_verifier is required (PKCE)".into()))?;
    if !(43..=128).contains(&verifier.len())
        || !verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
    {
        return Err(OAuthError::InvalidRequest(
            "code_verifier must be 43 to 128 unreserved characters".into(),
        ));
    }
    write_transaction(conn, |conn| {
        let row: CodeRow = oauth_codes::table
            .filter(oauth_codes::code_hash.eq(hash_token(code)))
            .select((
                oauth_codes::id,
                oauth_codes::client_id,
                oauth_codes::user_id,
                oauth_codes::redirect_uri,
                oauth_codes::code_challenge,
                oauth_codes::scope,
                oauth_codes::resource,
                oauth_codes::grant_id,
                oauth_codes::expires_at,
                oauth_codes::used_at,
                oauth_codes::redirect_uri_sent,
            ))
            .first(&mut **conn)
            .optional()?
            .ok_or_else(|| OAuthError::InvalidGrant("the code is invalid".into()))?;
        if row.used_at.is_some() {
            // A code presented twice: whoever has it is not to be trusted; end the grant.
            revoke_grant(conn, &row.grant_id, now)?;
            // Committed, then refused: the revocation must outlive this error.
            return Ok(Err(OAuthError::InvalidGrant(
                "the code was already used; its tokens are revoked".into(),
            )));
        }
        if row.client_id != client.id {
            return Err(OAuthError::InvalidGrant(
                "the code was issued to another client".into(),
            ));
        }
        if row.expires_at <= now {
            return Err(OAuthError::InvalidGrant("the code has expired".into()));
        }
        // RFC 6749 §4.1.3: required when the authorization request named it, and identical.
        match request.redirect_uri.as_deref() {
            Some(uri) if uri != row.redirect_uri => {
                return Err(OAuthError::InvalidGrant(
                    "redirect_uri does not match the authorization request".into(),
                ))
            }
            None if row.redirect_uri_sent => {
                return Err(OAuthError::InvalidGrant(
                    "redirect_uri is required: the authorization request named one".into(),
                ))
            }
            _ => {}
        }
        if !constant_time_eq(&pkce_challenge(verifier), &row.code_challenge) {
            return Err(OAuthError::InvalidGrant(
                "code_verifier does not match the code_challenge".into(),
            ));
        }
        let audience = granted_audience(
            issuer,
            row.resource.clone(),
            request.resource.as_deref(),
            "the authorization request",
        )?;
        // Single use, even under concurrent exchanges: only one UPDATE finds it unused.
        let claimed = diesel::update(
            oauth_codes::table
                .filter(oauth_codes::id.eq(row.id))
                .filter(oauth_codes::used_at.is_null()),
        )
        .set(oauth_codes::used_at.eq(now))
        .execute(&mut **conn)?;
        if claimed != 1 {
            // Another exchange of the same code won the race: that is a reuse too.
            revoke_grant(conn, &row.grant_id, now)?;
            return Ok(Err(OAuthError::InvalidGrant(
                "the code was already used; its tokens are revoked".into(),
            )));
        }
        let scope = ScopeSet::parse_lenient(&row.scope);
        let grant = Grant {
            user_id: row.user_id,
            scope: &scope,
            audience: &audience,
            grant_id: &row.grant_id,
        };
        Ok(Ok(open_grant(conn, issuer, client, &grant, now)?))
    })?
}

/// The audience a grant was given (the API when none was named). A `resource` sent again at the
/// token endpoint must name the same one (RFC 8707).
fn granted_audience(
    issuer: &Issuer<'_>,
    granted: Option<String>,
    requested: Option<&str>,
    what: &str,
) -> OAuthResult<String> {
    let audience = granted.unwrap_or_else(|| issuer.config.public_url.clone());
    if requested.is_some() && resolve_resource(&issuer.config.public_url, requested)? != audience {
        return Err(OAuthError::InvalidTarget(format!(
            "resource differs from {what}"
        )));
    }
    Ok(audience)
}

/// What a grant is opened for, at the code exchange.
struct Grant<'a> {
    user_id: i64,
    scope: &'a ScopeSet,
    audience: &'a str,
    grant_id: &'a str,
}

/// Opens a grant: its one row (kind `refresh`, generation 1, the hash of a random secret) and
/// its first pair. Refreshes rotate this row in place; the access tokens get no row of their own
/// (`Issuer::grant_access_token`).
fn open_grant(
    conn: &mut Writer<'_>,
    issuer: &Issuer<'_>,
    client: &AuthenticatedClient,
    grant: &Grant<'_>,
    now: NaiveDateTime,
) -> OAuthResult<TokenResponse> {
    let secret = random_token(32);
    let scope = grant.scope.to_string();
    let row_id = token::insert(
        conn,
        &token::NewToken {
            kind: TokenKind::Refresh,
            // Unique (the column is), never looked up: a token of the new form is found by its
            // row id. Not a SHA-256 in hex, so no presented token's hash can ever match it, and
            // not the secret's hash, so the secret alone never passes for a token of before.
            token_hash: &format!("grant:{}", random_token(24)),
            jti: None,
            user_id: grant.user_id,
            client_id: Some(client.id),
            scope: &scope,
            audience: Some(grant.audience),
            grant_id: grant.grant_id,
            parent_id: None,
            issued_at: now,
            expires_at: now + Duration::seconds(issuer.config.refresh_token_expiry),
            generation: 1,
            secret_hash: Some(&hash_token(&secret)),
        },
    )?;
    let state = GrantState {
        row_id,
        generation: 1,
        user_id: grant.user_id,
        scope: &scope,
        audience: grant.audience,
        issued_at: now,
    };
    grant_pair(conn, issuer, client, &state, &secret)
}

/// A grant row at one generation: everything its pair is built from.
struct GrantState<'a> {
    row_id: i64,
    generation: i64,
    user_id: i64,
    scope: &'a str,
    audience: &'a str,
    /// When the generation began.
    issued_at: NaiveDateTime,
}

/// The pair of a grant row at one generation. Deterministic (HS256 and the refresh token's MAC
/// are), so the grace window hands out the very pair a rotation did, rebuilt from the row.
fn grant_pair(
    conn: &mut DbConn,
    issuer: &Issuer<'_>,
    client: &AuthenticatedClient,
    state: &GrantState<'_>,
    secret: &str,
) -> OAuthResult<TokenResponse> {
    let access = issuer.grant_access_token(
        conn,
        &GrantAccess {
            row_id: state.row_id,
            generation: state.generation,
            user_id: state.user_id,
            scope: state.scope,
            audience: state.audience,
            client_id: &client.client_id,
            issued_at: state.issued_at,
        },
    )?;
    let refresh_token = grant_token::format(issuer.jwt, state.row_id, state.generation, secret);
    Ok(TokenResponse::pair(
        access.token,
        refresh_token,
        access.scope,
        access.expires_in,
    ))
}

/// A row of `oauth_tokens` as refresh, revocation and introspection read it.
#[derive(Queryable, Selectable)]
#[diesel(table_name = oauth_tokens)]
struct TokenRow {
    id: i64,
    kind: TokenKind,
    user_id: i64,
    client_id: Option<i64>,
    scope: String,
    audience: Option<String>,
    grant_id: String,
    jti: Option<String>,
    // Parsed directly on SQLite (db::time), not by diesel's trial of strftime formats.
    issued_at: db::time::StoredTime,
    expires_at: db::time::StoredTime,
    rotated_at: Option<db::time::StoredTime>,
    revoked_at: Option<db::time::StoredTime>,
    replacement_sealed: Option<String>,
    generation: i64,
    secret_hash: Option<String>,
    rotation_salt: Option<String>,
}

/// A grant's row by its primary key (the id a new-form token names).
fn grant_row(conn: &mut DbConn, id: i64) -> OAuthResult<Option<TokenRow>> {
    Ok(db::on_backend!(conn, c => oauth_tokens::table
        .find(id)
        .filter(oauth_tokens::kind.eq(TokenKind::Refresh))
        .select(TokenRow::as_select())
        .first(c)
        .optional())?)
}

/// A row by the hash of an opaque token (a refresh token of before) or of a `jti` of before.
fn row_by_hash(conn: &mut DbConn, hash: &str, kind: TokenKind) -> OAuthResult<Option<TokenRow>> {
    Ok(db::on_backend!(conn, c => oauth_tokens::table
        .filter(oauth_tokens::token_hash.eq(hash))
        .filter(oauth_tokens::kind.eq(kind))
        .select(TokenRow::as_select())
        .first(c)
        .optional())?)
}

fn invalid_refresh() -> OAuthError {
    OAuthError::InvalidGrant("the refresh token is invalid".into())
}

fn refresh(
    conn: &mut DbConn,
    issuer: &Issuer<'_>,
    client: &AuthenticatedClient,
    request: &TokenRequest,
    now: NaiveDateTime,
) -> OAuthResult<TokenResponse> {
    let presented = request
        .refresh_token
        .as_deref()
        .ok_or_else(|| OAuthError::InvalidRequest("refresh_token is required".into()))?;
    write_transaction(conn, |conn| {
        // A new-form token names its row and generation; an opaque one of before is found by
        // its hash, and is generation 0 of its row (its secret is the token itself).
        let (row, generation, secret) = if grant_token::is_grant_token(presented) {
            // A bad MAC is refused and ends nothing: row ids are guessable, and a client_id
            // public, so a forged token must not be able to end someone's grant.
            let token = grant_token::verify(issuer.jwt, presented).ok_or_else(invalid_refresh)?;
            let row = grant_row(conn, token.row_id)?
                // A row of before has no new-form token: none was issued for it.
                .filter(|row| row.secret_hash.is_some())
                .ok_or_else(invalid_refresh)?;
            (row, token.generation, token.secret)
        } else {
            let hash = hash_token(presented);
            let row = row_by_hash(conn, &hash, TokenKind::Refresh)?.ok_or_else(invalid_refresh)?;
            (row, 0, presented)
        };
        if row.client_id != Some(client.id) {
            return Err(OAuthError::InvalidGrant(
                "the refresh token was issued to another client".into(),
            ));
        }
        if row.revoked_at.is_some() {
            return Err(OAuthError::InvalidGrant(
                "the refresh token was revoked".into(),
            ));
        }
        if row.secret_hash.is_none() {
            if let Some(rotated_at) = row.rotated_at {
                // A row of before, rotated before: its successor has a row of its own, and
                // today's rule holds (the sealed pair while unused, within the window).
                if now - rotated_at.0 <= Duration::seconds(REFRESH_GRACE_SECS) {
                    if let Some(previous) = replacement_if_unused(conn, &row, presented)? {
                        return Ok(Ok(previous));
                    }
                }
                return Ok(Err(replayed(conn, &row.grant_id, now)?));
            }
        }
        if generation == row.generation {
            // The current generation. A row of before (no secret hash) was found by the
            // token's hash, which is the check; otherwise the secret must match the row's.
            if let Some(expected) = row.secret_hash.as_deref() {
                if !constant_time_eq(&hash_token(secret), expected) {
                    return Err(invalid_refresh());
                }
            }
            if row.expires_at.0 <= now {
                return Err(OAuthError::InvalidGrant(
                    "the refresh token has expired".into(),
                ));
            }
            let granted = ScopeSet::parse_lenient(&row.scope);
            let scope = match request.scope.as_deref().map(ScopeSet::parse_lenient) {
                Some(asked) if !asked.is_empty() => {
                    if !asked.is_subset_of(&granted) {
                        return Err(OAuthError::InvalidScope(format!(
                            "the grant covers only: {granted}"
                        )));
                    }
                    asked
                }
                _ => granted,
            };
            let audience = granted_audience(
                issuer,
                row.audience.clone(),
                request.resource.as_deref(),
                "the grant",
            )?;
            return rotate(conn, issuer, client, &row, secret, &scope, &audience, now);
        }
        if generation + 1 == row.generation
            && row
                .rotated_at
                .is_some_and(|at| now - at.0 <= Duration::seconds(REFRESH_GRACE_SECS))
        {
            // The generation just before, within the grace window (clients refresh
            // concurrently): the same pair, while it is unused (once it is used, the row moves
            // on and this token is two behind).
            if let Some(pair) = same_pair(conn, issuer, client, &row, secret)? {
                return Ok(Ok(pair));
            }
        }
        if generation < row.generation {
            // An older generation (its MAC, or its hash, shows the server issued it): a sign
            // of theft. The whole grant ends.
            return Ok(Err(replayed(conn, &row.grant_id, now)?));
        }
        // A generation not issued yet: only a forged MAC gets here.
        Err(invalid_refresh())
    })?
}

/// Ends the grant of a replayed refresh token, and says so. The caller commits, then answers
/// with the error: the revocation must outlive it.
fn replayed(conn: &mut Writer<'_>, grant_id: &str, now: NaiveDateTime) -> OAuthResult<OAuthError> {
    revoke_grant(conn, grant_id, now)?;
    Ok(OAuthError::InvalidGrant(
        "the refresh token was already used; the grant is revoked".into(),
    ))
}

/// Rotates a grant row in place: ONE UPDATE moves it to the next generation, whose secret is
/// derived from the presented one and a fresh salt. It touches no indexed column, so a refresh
/// writes one row and no index (it inserted two rows into a table of five indexes before).
#[allow(clippy::too_many_arguments)]
fn rotate(
    conn: &mut Writer<'_>,
    issuer: &Issuer<'_>,
    client: &AuthenticatedClient,
    row: &TokenRow,
    secret: &str,
    scope: &ScopeSet,
    audience: &str,
    now: NaiveDateTime,
) -> OAuthResult<OAuthResult<TokenResponse>> {
    let salt = random_token(16);
    let next = grant_token::next_secret(secret, &salt);
    let generation = row.generation + 1;
    let scope = scope.to_string();
    let rotation = Rotation {
        id: row.id,
        from: row.generation,
        to: generation,
        secret_hash: &hash_token(&next),
        salt: &salt,
        now,
        expires_at: now + Duration::seconds(issuer.config.refresh_token_expiry),
        scope: &scope,
    };
    let claimed = db::on_backend!(&mut **conn, c => rotation.execute(c))?;
    if claimed != 1 {
        // A concurrent refresh of the same token (another instance, on PostgreSQL) moved the
        // row on between our read and our update, and has committed by now: answer with the
        // pair it issued, as the grace window would a moment later.
        let moved = grant_row(conn, row.id)?;
        if let Some(moved) = moved.filter(|m| m.revoked_at.is_none() && m.generation == generation)
        {
            if let Some(pair) = same_pair(conn, issuer, client, &moved, secret)? {
                return Ok(Ok(pair));
            }
        }
        return Err(OAuthError::InvalidGrant(
            "the refresh token was just used; retry".into(),
        ));
    }
    let state = GrantState {
        row_id: row.id,
        generation,
        user_id: row.user_id,
        scope: &scope,
        audience,
        issued_at: now,
    };
    Ok(Ok(grant_pair(conn, issuer, client, &state, &next)?))
}

/// The rotating UPDATE, as a statement of fixed text with a static query id, so that each
/// connection prepares it once and keeps it: diesel compiles every `update()` afresh (it caches
/// no UPDATE), which cost a third of a rotation's instructions (`sqlite3_prepare_v3`, 33k a
/// grant). Moves the row from generation `from` to `to`, unless another refresh moved it first
/// or the grant was revoked.
struct Rotation<'a> {
    id: i64,
    from: i64,
    to: i64,
    secret_hash: &'a str,
    salt: &'a str,
    now: NaiveDateTime,
    expires_at: NaiveDateTime,
    scope: &'a str,
}

/// `Rotation`'s query id: one SQL text, whatever the values.
struct RotationQuery;

impl QueryId for Rotation<'_> {
    type QueryId = RotationQuery;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl<DB> QueryFragment<DB> for Rotation<'_>
where
    DB: Backend + HasSqlType<BigInt> + HasSqlType<Text> + HasSqlType<Timestamp>,
    i64: ToSql<BigInt, DB>,
    str: ToSql<Text, DB>,
    NaiveDateTime: ToSql<Timestamp, DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        out.push_sql("UPDATE oauth_tokens SET generation = ");
        out.push_bind_param::<BigInt, _>(&self.to)?;
        out.push_sql(", secret_hash = ");
        out.push_bind_param::<Text, _>(self.secret_hash)?;
        out.push_sql(", rotation_salt = ");
        out.push_bind_param::<Text, _>(self.salt)?;
        out.push_sql(", rotated_at = ");
        out.push_bind_param::<Timestamp, _>(&self.now)?;
        out.push_sql(", expires_at = ");
        out.push_bind_param::<Timestamp, _>(&self.expires_at)?;
        out.push_sql(", scope = ");
        out.push_bind_param::<Text, _>(self.scope)?;
        out.push_sql(" WHERE id = ");
        out.push_bind_param::<BigInt, _>(&self.id)?;
        out.push_sql(" AND generation = ");
        out.push_bind_param::<BigInt, _>(&self.from)?;
        out.push_sql(" AND revoked_at IS NULL");
        Ok(())
    }
}

impl<Conn> RunQueryDsl<Conn> for Rotation<'_> {}

/// The pair the row's current generation was issued with, if `previous` (the secret of the
/// generation before) is the one it was derived from: rebuilt from the row, the same tokens.
fn same_pair(
    conn: &mut DbConn,
    issuer: &Issuer<'_>,
    client: &AuthenticatedClient,
    row: &TokenRow,
    previous: &str,
) -> OAuthResult<Option<TokenResponse>> {
    let (Some(salt), Some(expected), Some(rotated_at)) = (
        row.rotation_salt.as_deref(),
        row.secret_hash.as_deref(),
        row.rotated_at,
    ) else {
        return Ok(None);
    };
    let secret = grant_token::next_secret(previous, salt);
    if !constant_time_eq(&hash_token(&secret), expected) {
        return Ok(None);
    }
    let audience = row
        .audience
        .clone()
        .unwrap_or_else(|| issuer.config.public_url.clone());
    let state = GrantState {
        row_id: row.id,
        generation: row.generation,
        user_id: row.user_id,
        scope: &row.scope,
        audience: &audience,
        issued_at: rotated_at.0,
    };
    Ok(Some(grant_pair(conn, issuer, client, &state, &secret)?))
}

/// The pair a rotated refresh token was replaced with, if its refresh token has not been used
/// (rotated) or revoked since. Once the successor is used, the client has moved on: the old
/// token again is a replay, and the pair must not be handed out again, nor down the chain.
fn replacement_if_unused(
    conn: &mut DbConn,
    row: &TokenRow,
    presented: &str,
) -> OAuthResult<Option<TokenResponse>> {
    let Some(previous) = row
        .replacement_sealed
        .as_deref()
        .and_then(|s| open_replacement(presented, row.id, s))
    else {
        return Ok(None);
    };
    // Only on a replay, never on a plain refresh: found by the parent_id index.
    let successor: Option<(Option<NaiveDateTime>, Option<NaiveDateTime>)> = db::on_backend!(conn, c => oauth_tokens::table
            .filter(oauth_tokens::parent_id.eq(row.id))
            .filter(oauth_tokens::kind.eq(TokenKind::Refresh))
            .select((oauth_tokens::rotated_at, oauth_tokens::revoked_at))
            .first(c)
            .optional())?;
    Ok(match successor {
        Some((None, None)) => Some(previous),
        _ => None,
    })
}

/// What a replacement pair is sealed with: a key derived from the old refresh token, which the
/// server does not keep, so only the token's holder can open it.
fn replacement_key(old_token: &str) -> SealKey {
    SealKey::derive("panicless refresh replacement", old_token)
}

/// A replacement is bound to the row of the token it replaces.
struct ReplacementOf(i64);

impl Bound for ReplacementOf {
    fn associated_data(&self) -> String {
        format!("panicless refresh replacement of token {}", self.0)
    }
}

/// What a seal holds: the pair and its answer's scope and lifetime. `token_type` and
/// `jwt_token` (the access token again) are rebuilt when it is opened, which keeps the seal
/// stored in every rotated token's row to half the whole answer's size. Seals written whole,
/// before this, open the same way: serde passes over the fields this does not name.
#[cfg(test)]
#[derive(Serialize)]
struct SealedPair<'a> {
    access_token: &'a str,
    refresh_token: &'a str,
    scope: &'a str,
    expires_in: i64,
}

#[derive(Deserialize)]
struct OpenedPair {
    access_token: String,
    refresh_token: String,
    scope: String,
    expires_in: i64,
}

/// Sealing is the tests' only: rows of before were sealed so, and still open (a rotation
/// seals nothing now: the grace window rebuilds the pair from the row).
#[cfg(test)]
fn seal_replacement(old_token: &str, row_id: i64, response: &TokenResponse) -> Option<String> {
    let pair = SealedPair {
        access_token: &response.access_token,
        refresh_token: response.refresh_token.as_deref()?,
        scope: &response.scope,
        expires_in: response.expires_in,
    };
    let plaintext = serde_json::to_vec(&pair).ok()?;
    replacement_key(old_token)
        .seal(&plaintext, &ReplacementOf(row_id))
        .ok()
}

/// Opens a replacement, in the versioned format or in the unversioned one seals had before.
fn open_replacement(old_token: &str, row_id: i64, sealed: &str) -> Option<TokenResponse> {
    let key = replacement_key(old_token);
    let plaintext = if crypto::is_versioned(sealed) {
        key.open(sealed, &ReplacementOf(row_id))
    } else {
        key.open_unversioned(sealed)
    }
    .ok()?;
    let pair: OpenedPair = serde_json::from_slice(&plaintext).ok()?;
    Some(TokenResponse::pair(
        pair.access_token,
        pair.refresh_token,
        pair.scope,
        pair.expires_in,
    ))
}

/// Revokes every token of a grant.
pub fn revoke_grant(
    conn: &mut Writer<'_>,
    grant_id: &str,
    now: NaiveDateTime,
) -> OAuthResult<usize> {
    Ok(diesel::update(
        oauth_tokens::table
            .filter(oauth_tokens::grant_id.eq(grant_id))
            .filter(oauth_tokens::revoked_at.is_null()),
    )
    .set(oauth_tokens::revoked_at.eq(now))
    .execute(&mut **conn)?)
}

/// What a presented token is, for revocation and introspection.
enum Presented {
    /// A token with a row of its own, found by a hash: a first-party access token or one issued
    /// before grant rows (by its `jti`), or an opaque refresh token of before.
    Row(TokenRow),
    /// An access token issued for a grant: its claims, and the id of its grant's row (its
    /// `jti` names it), which revocation and introspection each read as they need it.
    GrantAccess(Box<Claims>, i64),
    /// A new-form refresh token with a valid MAC: its grant's row, and whether it is the row's
    /// current generation (an older one is spent).
    GrantRefresh(TokenRow, bool),
}

/// What a presented token names. A JWT we signed is no refresh token (those have no JWT
/// shape), so the signature decides which lookup to make: one query whichever it is.
fn find_presented(
    conn: &mut DbConn,
    jwt: &JwtKeys,
    audiences: &[&str],
    token: &str,
) -> OAuthResult<Option<Presented>> {
    if let Some(claims) = jwt.verify_ignoring_expiry(token, audiences) {
        if let Some(row_id) = grant_token::row_of_jti(&claims.jti) {
            return Ok(Some(Presented::GrantAccess(Box::new(claims), row_id)));
        }
        let hash = hash_token(&claims.jti);
        return Ok(row_by_hash(conn, &hash, TokenKind::Access)?.map(Presented::Row));
    }
    if grant_token::is_grant_token(token) {
        // A bad MAC names nothing: the token is unknown.
        let Some(presented) = grant_token::verify(jwt, token) else {
            return Ok(None);
        };
        return Ok(grant_row(conn, presented.row_id)?.map(|row| {
            let current = presented.generation == row.generation
                && row
                    .secret_hash
                    .as_deref()
                    .is_some_and(|h| constant_time_eq(&hash_token(presented.secret), h));
            Presented::GrantRefresh(row, current)
        }));
    }
    let hash = hash_token(token);
    Ok(row_by_hash(conn, &hash, TokenKind::Refresh)?.map(Presented::Row))
}

fn audiences(config: &Config) -> [String; 2] {
    [config.public_url.clone(), config.url("/mcp")]
}

/// RFC 7009: revoking a refresh token ends its grant (and so its access tokens); revoking an
/// access token ends that token, first-party ones included. An access token issued for a grant
/// has no row of its own (its `jti` names the grant's row), so revoking it ends its whole grant,
/// refresh token included: RFC 7009 §2.1 allows a server to revoke the grant an access token
/// belongs to. Unknown tokens are answered 200, so the endpoint tells nothing; another client's
/// token is refused.
pub fn revoke(
    conn: &mut DbConn,
    jwt: &JwtKeys,
    config: &Config,
    client: &AuthenticatedClient,
    token: &str,
    now: NaiveDateTime,
) -> OAuthResult<()> {
    let auds = audiences(config);
    let auds: Vec<&str> = auds.iter().map(String::as_str).collect();
    let Some(presented) = find_presented(conn, jwt, &auds, token)? else {
        return Ok(());
    };
    let (row, whole_grant) = match presented {
        Presented::Row(row) => {
            let refresh = row.kind == TokenKind::Refresh;
            (row, refresh)
        }
        Presented::GrantAccess(_, row_id) => match grant_row(conn, row_id)? {
            Some(row) => (row, true),
            None => return Ok(()),
        },
        Presented::GrantRefresh(row, _) => (row, true),
    };
    match row.client_id {
        // A first-party token (POST /api/auth/login) belongs to no client: whoever holds it
        // may use it, so may end it.
        None => {}
        Some(id) if id == client.id => {}
        // RFC 7009 §2.1: a token issued to another client is refused, never reported revoked
        // while it keeps working.
        Some(_) => {
            return Err(OAuthError::UnauthorizedClient(
                "this token was issued to another client".into(),
            ))
        }
    }
    write_transaction(conn, |conn| {
        if whole_grant {
            revoke_grant(conn, &row.grant_id, now)?;
        } else {
            diesel::update(
                oauth_tokens::table
                    .find(row.id)
                    .filter(oauth_tokens::revoked_at.is_null()),
            )
            .set(oauth_tokens::revoked_at.eq(now))
            .execute(&mut **conn)?;
        }
        Ok(())
    })
}

/// What revocation and introspection share before their rule: the rate limit (they check
/// client secrets: one budget with the token endpoint, so guesses cannot move here), the form,
/// the client's credentials and the token. `rule` then runs for the authenticated client.
async fn for_client_token<T, F>(
    req: &HttpRequest,
    state: web::Data<AppState>,
    body: &[u8],
    rule: F,
) -> Result<T, OAuthError>
where
    F: FnOnce(&mut DbConn, &AppState, &AuthenticatedClient, &str, NaiveDateTime) -> OAuthResult<T>
        + Send
        + 'static,
    T: Send + 'static,
{
    rate_limit::check(&state, req, Bucket::Token)?;
    let request = parse_request(req, body)?;
    let credentials = clients::credentials(
        req,
        request.client_id.as_deref(),
        request.client_secret.as_deref(),
    )?;
    let token = request
        .token
        .ok_or_else(|| OAuthError::InvalidRequest("token is required".into()))?;
    let state = state.into_inner();
    let answer = db::run(&state.pool.clone(), move |conn| {
        let now = db::models::now();
        Ok(clients::authenticate(conn, &credentials, now)
            .and_then(|client| rule(conn, &state, &client, &token, now)))
    })
    .await??;
    Ok(answer)
}

async fn revoke_endpoint(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: Body,
) -> Result<HttpResponse, OAuthError> {
    for_client_token(&req, state, &body, |conn, state, client, token, now| {
        revoke(conn, &state.jwt, &state.config, client, token, now)
    })
    .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .finish())
}

#[derive(Debug, Serialize, Default, PartialEq)]
pub struct Introspection {
    pub active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
}

/// RFC 7662. A client may introspect the tokens issued to it; anything else is inactive.
pub fn introspect(
    conn: &mut DbConn,
    jwt: &JwtKeys,
    config: &Config,
    client: &AuthenticatedClient,
    token: &str,
    now: NaiveDateTime,
) -> OAuthResult<Introspection> {
    let auds = audiences(config);
    let auds: Vec<&str> = auds.iter().map(String::as_str).collect();
    let Some(presented) = find_presented(conn, jwt, &auds, token)? else {
        return Ok(Introspection::default());
    };
    // What the answer says, once the token is found live: from its row. A grant's access token
    // is answered from its claims, once its grant's row is checked to cover them.
    let (row, answer) = match presented {
        Presented::Row(row) => {
            let live =
                row.revoked_at.is_none() && row.expires_at.0 > now && row.rotated_at.is_none();
            if !live {
                return Ok(Introspection::default());
            }
            let answer = Introspection {
                scope: Some(row.scope.clone()),
                token_type: Some(
                    if row.kind == TokenKind::Refresh {
                        "refresh_token"
                    } else {
                        "access_token"
                    }
                    .into(),
                ),
                exp: Some(unix(row.expires_at.0)),
                iat: Some(unix(row.issued_at.0)),
                aud: row.audience.clone(),
                jti: row.jti.clone(),
                ..Introspection::default()
            };
            (row, answer)
        }
        Presented::GrantAccess(claims, row_id) => {
            return grant_access_introspection(conn, config, client, &claims, row_id, now)
        }
        Presented::GrantRefresh(row, current) => {
            if !current || row.revoked_at.is_some() || row.expires_at.0 <= now {
                return Ok(Introspection::default());
            }
            let answer = Introspection {
                scope: Some(row.scope.clone()),
                token_type: Some("refresh_token".into()),
                exp: Some(unix(row.expires_at.0)),
                // This generation's: when the row last rotated.
                iat: Some(unix(row.rotated_at.unwrap_or(row.issued_at).0)),
                aud: row.audience.clone(),
                ..Introspection::default()
            };
            (row, answer)
        }
    };
    if row.client_id != Some(client.id) {
        return Ok(Introspection::default());
    }
    let username = crate::db::models::user::email(conn, row.user_id)?;
    Ok(Introspection {
        active: true,
        client_id: Some(client.client_id.clone()),
        username,
        sub: Some(row.user_id.to_string()),
        iss: Some(config.issuer().to_string()),
        ..answer
    })
}

/// What introspection reads of the grant an access token belongs to, and its owner's address.
#[derive(Queryable)]
struct GrantAccessRow {
    user_id: i64,
    scope: String,
    audience: Option<String>,
    expires_at: db::time::StoredTime,
    revoked_at: Option<db::time::StoredTime>,
    email: String,
}

/// An access token issued for a grant is active while it has not expired and its grant is
/// live, covers it and belongs to the client asking; the answer is its claims. The grant's row
/// and the owner's address come in one statement, of the client's own grants only: the most
/// frequent introspection, and its columns alone (the whole row and a second statement for the
/// address were 5% of it, bench/README.md, 2026-12-05, 02:30).
fn grant_access_introspection(
    conn: &mut DbConn,
    config: &Config,
    client: &AuthenticatedClient,
    claims: &Claims,
    row_id: i64,
    now: NaiveDateTime,
) -> OAuthResult<Introspection> {
    if claims.exp <= unix(now) {
        return Ok(Introspection::default());
    }
    let row: Option<GrantAccessRow> = db::on_backend!(conn, c => oauth_tokens::table
        .inner_join(users::table)
        .filter(oauth_tokens::id.eq(row_id))
        .filter(oauth_tokens::kind.eq(TokenKind::Refresh))
        .filter(oauth_tokens::client_id.eq(client.id))
        .select((
            oauth_tokens::user_id,
            oauth_tokens::scope,
            oauth_tokens::audience,
            oauth_tokens::expires_at,
            oauth_tokens::revoked_at,
            users::email,
        ))
        .first(c)
        .optional())?;
    let Some(row) = row else {
        return Ok(Introspection::default());
    };
    let grant = crate::auth::guard::Grant {
        owner: row.user_id,
        scope: &row.scope,
        audience: row.audience.as_deref(),
        client: Some(client.client_id.as_str()),
        expires_at: row.expires_at.0,
        revoked: row.revoked_at.is_some(),
    };
    if !grant.admits(claims, now) {
        return Ok(Introspection::default());
    }
    Ok(Introspection {
        active: true,
        scope: Some(claims.scope.clone()),
        client_id: Some(client.client_id.clone()),
        username: Some(row.email),
        sub: Some(row.user_id.to_string()),
        token_type: Some("access_token".into()),
        exp: Some(claims.exp),
        iat: Some(claims.iat),
        iss: Some(config.issuer().to_string()),
        aud: Some(claims.aud.clone()),
        jti: Some(claims.jti.clone()),
    })
}

async fn introspect_endpoint(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: Body,
) -> Result<HttpResponse, OAuthError> {
    let answer = for_client_token(&req, state, &body, |conn, state, client, token, now| {
        introspect(conn, &state.jwt, &state.config, client, token, now)
    })
    .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(answer))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::authorize::{self, AuthorizeParams};
    use crate::oauth::testing::{now, register, register_for, world, World, CHALLENGE, VERIFIER};
    use crate::oauth::{CODE_LIFETIME_SECS, REFRESH_GRACE_SECS};

    /// The keys and configuration a token is issued with.
    struct Keys {
        jwt: JwtKeys,
        config: Config,
    }

    fn keys() -> Keys {
        let config = crate::oauth::testing::config();
        Keys {
            jwt: JwtKeys::new(b"unit-test-secret-unit-test-secret", &config.public_url),
            config,
        }
    }

    impl Keys {
        fn issuer(&self) -> Issuer<'_> {
            Issuer {
                jwt: &self.jwt,
                config: &self.config,
            }
        }
    }

    /// A code for the world's user, asked for by a public client with `scope`.
    fn code(w: &mut World, client_id: &str, scope: &str) -> String {
        let params = AuthorizeParams {
            response_type: Some("code".into()),
            client_id: Some(client_id.into()),
            redirect_uri: Some("https://claude.ai/api/mcp/auth_callback".into()),
            scope: Some(scope.into()),
            state: None,
            code_challenge: Some(CHALLENGE.into()),
            code_challenge_method: Some("S256".into()),
            resource: None,
        };
        authorize::authorize_directly(
            &mut w.conn,
            crate::oauth::testing::PUBLIC_URL,
            &params,
            w.user,
            now(),
        )
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|r| panic!("{r:?}"))
        .code
    }

    fn public(client_id: &str) -> Credentials {
        Credentials {
            client_id: Some(client_id.into()),
            secret: None,
            basic: false,
        }
    }

    fn exchange_code(
        w: &mut World,
        keys: &Keys,
        client_id: &str,
        code: &str,
        verifier: &str,
        at: NaiveDateTime,
    ) -> OAuthResult<TokenResponse> {
        let request = TokenRequest {
            grant_type: Some("authorization_code".into()),
            code: Some(code.into()),
            redirect_uri: Some("https://claude.ai/api/mcp/auth_callback".into()),
            code_verifier: Some(verifier.into()),
            ..TokenRequest::default()
        };
        exchange(
            &mut w.conn,
            &keys.issuer(),
            &public(client_id),
            &request,
            at,
        )
    }

    fn refresh_with(
        w: &mut World,
        keys: &Keys,
        client_id: &str,
        token: &str,
        scope: Option<&str>,
        at: NaiveDateTime,
    ) -> OAuthResult<TokenResponse> {
        let request = TokenRequest {
            grant_type: Some("refresh_token".into()),
            refresh_token: Some(token.into()),
            scope: scope.map(String::from),
            ..TokenRequest::default()
        };
        exchange(
            &mut w.conn,
            &keys.issuer(),
            &public(client_id),
            &request,
            at,
        )
    }

    /// The grant a refresh token belongs to: by the row its new form names, or by the hash of
    /// an opaque one of before.
    fn grant_of(w: &mut World, token: &str) -> String {
        let row = if grant_token::is_grant_token(token) {
            let id: i64 = token
                .split('.')
                .next()
                .and_then(|id| id.parse().ok())
                .unwrap_or_else(|| panic!("no row id in {token}"));
            oauth_tokens::table
                .find(id)
                .select(oauth_tokens::grant_id)
                .first(&mut w.conn)
        } else {
            oauth_tokens::table
                .filter(oauth_tokens::token_hash.eq(hash_token(token)))
                .select(oauth_tokens::grant_id)
                .first(&mut w.conn)
        };
        row.unwrap_or_else(|e| panic!("{e}"))
    }

    fn grant_revoked(w: &mut World, token: &str) -> bool {
        let grant = grant_of(w, token);
        let live: i64 = oauth_tokens::table
            .filter(oauth_tokens::grant_id.eq(grant))
            .filter(oauth_tokens::revoked_at.is_null())
            .count()
            .get_result(&mut w.conn)
            .unwrap_or(-1);
        live == 0
    }

    /// The refresh token of a token endpoint's answer.
    fn rt(tokens: &TokenResponse) -> &str {
        tokens
            .refresh_token
            .as_deref()
            .unwrap_or_else(|| panic!("no refresh token in {tokens:?}"))
    }

    /// A code and the tokens it gave, for the refresh tests.
    fn granted(w: &mut World, keys: &Keys, scope: &str) -> (String, TokenResponse) {
        let client = register(w, "none");
        let code = code(w, &client, scope);
        let tokens = exchange_code(w, keys, &client, &code, VERIFIER, now())
            .unwrap_or_else(|e| panic!("{e}"));
        (client, tokens)
    }

    #[test]
    fn a_code_opens_only_with_its_pkce_verifier() {
        let (mut w, keys) = (world(), keys());
        let client = register(&mut w, "none");
        let code = code(&mut w, &client, "read");
        let wrong = "x".repeat(43);
        let refused = exchange_code(&mut w, &keys, &client, &code, &wrong, now());
        assert!(
            matches!(refused, Err(OAuthError::InvalidGrant(_))),
            "{refused:?}"
        );
        let tokens = exchange_code(&mut w, &keys, &client, &code, VERIFIER, now());
        assert!(tokens.is_ok_and(|t| t.scope == "read"));
    }

    #[test]
    fn a_code_expires_after_its_lifetime() {
        let (mut w, keys) = (world(), keys());
        let client = register(&mut w, "none");
        let code = code(&mut w, &client, "read");
        let late = now() + Duration::seconds(CODE_LIFETIME_SECS);
        let refused = exchange_code(&mut w, &keys, &client, &code, VERIFIER, late);
        assert!(
            matches!(&refused, Err(OAuthError::InvalidGrant(m)) if m.contains("expired")),
            "{refused:?}"
        );
    }

    #[test]
    fn a_code_used_twice_ends_the_grant_it_gave() {
        let (mut w, keys) = (world(), keys());
        let client = register(&mut w, "none");
        let code = code(&mut w, &client, "read");
        let first = exchange_code(&mut w, &keys, &client, &code, VERIFIER, now())
            .unwrap_or_else(|e| panic!("{e}"));
        let again = exchange_code(&mut w, &keys, &client, &code, VERIFIER, now());
        assert!(
            matches!(again, Err(OAuthError::InvalidGrant(_))),
            "{again:?}"
        );
        assert!(grant_revoked(&mut w, rt(&first)));
    }

    #[test]
    fn another_clients_code_is_refused() {
        let (mut w, keys) = (world(), keys());
        let client = register(&mut w, "none");
        let other = register(&mut w, "none");
        let code = code(&mut w, &client, "read");
        let refused = exchange_code(&mut w, &keys, &other, &code, VERIFIER, now());
        assert!(
            matches!(refused, Err(OAuthError::InvalidGrant(_))),
            "{refused:?}"
        );
    }

    #[test]
    fn a_refresh_rotates_the_pair() {
        let (mut w, keys) = (world(), keys());
        let (client, first) = granted(&mut w, &keys, "read write");
        let later = now() + Duration::seconds(60);
        let second = refresh_with(&mut w, &keys, &client, rt(&first), None, later)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_ne!(second.refresh_token, first.refresh_token);
        assert_ne!(second.access_token, first.access_token);
        assert_eq!(second.scope, "read write");
    }

    #[test]
    fn within_the_grace_window_the_old_token_gives_the_same_pair_until_the_new_one_is_used() {
        let (mut w, keys) = (world(), keys());
        let (client, first) = granted(&mut w, &keys, "read");
        let t = now() + Duration::seconds(60);
        let second = refresh_with(&mut w, &keys, &client, rt(&first), None, t)
            .unwrap_or_else(|e| panic!("{e}"));
        // A concurrent refresh a moment later: the same pair, the grant intact.
        let soon = t + Duration::seconds(REFRESH_GRACE_SECS);
        let again = refresh_with(&mut w, &keys, &client, rt(&first), None, soon)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(again, second);
        // Once the new token is used, the old one is a replay even within the window.
        let third = refresh_with(&mut w, &keys, &client, rt(&second), None, soon)
            .unwrap_or_else(|e| panic!("{e}"));
        let replay = refresh_with(&mut w, &keys, &client, rt(&first), None, soon);
        assert!(
            matches!(replay, Err(OAuthError::InvalidGrant(_))),
            "{replay:?}"
        );
        assert!(grant_revoked(&mut w, rt(&third)));
    }

    #[test]
    fn after_the_grace_window_the_old_token_ends_the_grant() {
        let (mut w, keys) = (world(), keys());
        let (client, first) = granted(&mut w, &keys, "read");
        let t = now() + Duration::seconds(60);
        let second = refresh_with(&mut w, &keys, &client, rt(&first), None, t)
            .unwrap_or_else(|e| panic!("{e}"));
        let late = t + Duration::seconds(REFRESH_GRACE_SECS + 1);
        let replay = refresh_with(&mut w, &keys, &client, rt(&first), None, late);
        assert!(
            matches!(replay, Err(OAuthError::InvalidGrant(_))),
            "{replay:?}"
        );
        assert!(grant_revoked(&mut w, rt(&second)));
    }

    #[test]
    fn a_refresh_may_narrow_the_scope_but_never_widen_it() {
        let (mut w, keys) = (world(), keys());
        let (client, first) = granted(&mut w, &keys, "read write");
        let t = now() + Duration::seconds(60);
        let narrowed = refresh_with(&mut w, &keys, &client, rt(&first), Some("read"), t)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(narrowed.scope, "read");
        let client = register_for(&mut w, "none", "read");
        let code = code(&mut w, &client, "read");
        let only_read = exchange_code(&mut w, &keys, &client, &code, VERIFIER, now())
            .unwrap_or_else(|e| panic!("{e}"));
        let wider = refresh_with(
            &mut w,
            &keys,
            &client,
            rt(&only_read),
            Some("read write"),
            t,
        );
        assert!(
            matches!(wider, Err(OAuthError::InvalidScope(_))),
            "{wider:?}"
        );
    }

    /// The client row of a registered public client, as `clients::authenticate` gives it.
    fn client_row(w: &mut World, client_id: &str) -> AuthenticatedClient {
        clients::authenticate(&mut w.conn, &public(client_id), now())
            .unwrap_or_else(|e| panic!("{e}"))
    }

    fn claims_of(keys: &Keys, access_token: &str) -> Claims {
        keys.jwt
            .verify_ignoring_expiry(access_token, &[crate::oauth::testing::PUBLIC_URL])
            .unwrap_or_else(|| panic!("the access token does not verify"))
    }

    fn live(w: &mut World, keys: &Keys, access_token: &str, at: NaiveDateTime) -> bool {
        let claims = claims_of(keys, access_token);
        crate::auth::guard::token_is_live(&mut w.conn, &claims, w.user, at)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    fn token_rows(w: &mut World) -> i64 {
        oauth_tokens::table
            .count()
            .get_result(&mut w.conn)
            .unwrap_or(-1)
    }

    #[test]
    fn a_grant_is_one_row_rotated_in_place_and_its_access_tokens_have_none() {
        let (mut w, keys) = (world(), keys());
        let (client, first) = granted(&mut w, &keys, "read");
        assert_eq!(token_rows(&mut w), 1);
        let mut latest = first;
        for round in 1..=3 {
            let at = now() + Duration::seconds(60 * round);
            latest = refresh_with(&mut w, &keys, &client, rt(&latest), None, at)
                .unwrap_or_else(|e| panic!("{e}"));
            assert!(live(&mut w, &keys, &latest.access_token, at));
        }
        assert_eq!(token_rows(&mut w), 1, "a rotation adds no row");
        let claims = claims_of(&keys, &latest.access_token);
        assert!(claims.jti.ends_with(".4"), "{}", claims.jti);
    }

    #[test]
    fn a_forged_mac_is_refused_and_ends_nothing() {
        let (mut w, keys) = (world(), keys());
        let (client, first) = granted(&mut w, &keys, "read");
        let token = rt(&first);
        let (signed, mac) = token.rsplit_once('.').unwrap_or_default();
        let flipped = if mac.starts_with('A') { "B" } else { "A" };
        let forged = format!("{signed}.{flipped}{}", &mac[1..]);
        // An older generation of the real row under a made-up MAC: it would end the grant if
        // it were taken for a replay.
        let parts: Vec<&str> = signed.splitn(3, '.').collect();
        let older = format!("{}.0.{}.{mac}", parts[0], parts[2]);
        let t = now() + Duration::seconds(60);
        for bad in [forged, older] {
            let refused = refresh_with(&mut w, &keys, &client, &bad, None, t);
            assert!(
                matches!(&refused, Err(OAuthError::InvalidGrant(m)) if m.contains("invalid")),
                "{refused:?}"
            );
            assert!(!grant_revoked(&mut w, token), "{bad}");
        }
        // The real token still refreshes.
        let next = refresh_with(&mut w, &keys, &client, token, None, t);
        assert!(next.is_ok(), "{next:?}");
    }

    #[test]
    fn a_token_two_generations_behind_ends_the_grant_even_within_the_window() {
        let (mut w, keys) = (world(), keys());
        let (client, first) = granted(&mut w, &keys, "read");
        let t = now() + Duration::seconds(60);
        let second = refresh_with(&mut w, &keys, &client, rt(&first), None, t)
            .unwrap_or_else(|e| panic!("{e}"));
        let third = refresh_with(&mut w, &keys, &client, rt(&second), None, t)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(live(&mut w, &keys, &third.access_token, t));
        let replay = refresh_with(&mut w, &keys, &client, rt(&first), None, t);
        assert!(
            matches!(&replay, Err(OAuthError::InvalidGrant(m)) if m.contains("revoked")),
            "{replay:?}"
        );
        assert!(grant_revoked(&mut w, rt(&third)));
        // Every access token of the grant ends with it, and its latest refresh token too.
        assert!(!live(&mut w, &keys, &third.access_token, t));
        assert!(!live(&mut w, &keys, &first.access_token, t));
        let after = refresh_with(&mut w, &keys, &client, rt(&third), None, t);
        assert!(
            matches!(after, Err(OAuthError::InvalidGrant(_))),
            "{after:?}"
        );
    }

    #[test]
    fn another_clients_refresh_token_is_refused_and_ends_nothing() {
        let (mut w, keys) = (world(), keys());
        let (_, first) = granted(&mut w, &keys, "read");
        let other = register(&mut w, "none");
        let t = now() + Duration::seconds(60);
        let refused = refresh_with(&mut w, &keys, &other, rt(&first), None, t);
        assert!(
            matches!(&refused, Err(OAuthError::InvalidGrant(m)) if m.contains("another client")),
            "{refused:?}"
        );
        assert!(!grant_revoked(&mut w, rt(&first)));
    }

    #[test]
    fn a_narrowed_grant_refuses_earlier_access_tokens_claiming_more() {
        let (mut w, keys) = (world(), keys());
        let (client, first) = granted(&mut w, &keys, "read write");
        let t = now() + Duration::seconds(60);
        assert!(live(&mut w, &keys, &first.access_token, t));
        let narrowed = refresh_with(&mut w, &keys, &client, rt(&first), Some("read"), t)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(live(&mut w, &keys, &narrowed.access_token, t));
        assert!(!live(&mut w, &keys, &first.access_token, t));
        // And the narrowed grant cannot be widened back.
        let wider = refresh_with(&mut w, &keys, &client, rt(&narrowed), Some("read write"), t);
        assert!(
            matches!(wider, Err(OAuthError::InvalidScope(_))),
            "{wider:?}"
        );
    }

    /// A refresh token as issued before grant rows: opaque, its row found by its hash.
    fn refresh_token_of_before(w: &mut World, client_id: &str) -> String {
        let client = client_row(w, client_id);
        let token = random_token(32);
        let user_id = w.user;
        write_transaction(&mut w.conn, |conn| {
            token::insert(
                conn,
                &token::NewToken {
                    kind: TokenKind::Refresh,
                    token_hash: &hash_token(&token),
                    jti: None,
                    user_id,
                    client_id: Some(client.id),
                    scope: "read write",
                    audience: Some(crate::oauth::testing::PUBLIC_URL),
                    grant_id: "grant-of-before",
                    parent_id: None,
                    issued_at: now(),
                    expires_at: now() + Duration::days(30),
                    generation: 0,
                    secret_hash: None,
                },
            )
        })
        .unwrap_or_else(|e| panic!("{e}"));
        token
    }

    #[test]
    fn a_refresh_token_of_before_rotates_its_row_once_into_the_new_form() {
        let (mut w, keys) = (world(), keys());
        let client = register(&mut w, "none");
        let old = refresh_token_of_before(&mut w, &client);
        let t = now() + Duration::seconds(60);
        let first =
            refresh_with(&mut w, &keys, &client, &old, None, t).unwrap_or_else(|e| panic!("{e}"));
        assert!(grant_token::is_grant_token(rt(&first)), "{first:?}");
        assert_eq!(token_rows(&mut w), 1, "rotated in place");
        assert_eq!(grant_of(&mut w, rt(&first)), "grant-of-before");
        assert!(live(&mut w, &keys, &first.access_token, t));
        // Within the window the old token gives the same pair; the new form refreshes on.
        let again =
            refresh_with(&mut w, &keys, &client, &old, None, t).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(again, first);
        let second = refresh_with(&mut w, &keys, &client, rt(&first), None, t)
            .unwrap_or_else(|e| panic!("{e}"));
        // Then the old token is a replay: the grant ends.
        let replay = refresh_with(&mut w, &keys, &client, &old, None, t);
        assert!(
            matches!(replay, Err(OAuthError::InvalidGrant(_))),
            "{replay:?}"
        );
        assert!(grant_revoked(&mut w, rt(&second)));
    }

    #[test]
    fn a_grant_access_token_introspects_active_until_its_grant_is_revoked() {
        let (mut w, keys) = (world(), keys());
        let (client_id, first) = granted(&mut w, &keys, "read");
        let client = client_row(&mut w, &client_id);
        let (jwt, config) = (&keys.jwt, &keys.config);
        let t = now() + Duration::seconds(60);
        let answer = introspect(&mut w.conn, jwt, config, &client, &first.access_token, t)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(answer.active, "{answer:?}");
        assert_eq!(answer.token_type.as_deref(), Some("access_token"));
        assert_eq!(answer.scope.as_deref(), Some("read"));
        assert_eq!(answer.username.as_deref(), Some("reader@example.org"));
        let refresh = introspect(&mut w.conn, jwt, config, &client, rt(&first), t)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(refresh.token_type.as_deref(), Some("refresh_token"));
        assert!(refresh.active, "{refresh:?}");
        // Another client learns nothing.
        let other_id = register(&mut w, "none");
        let other = client_row(&mut w, &other_id);
        let hidden = introspect(&mut w.conn, jwt, config, &other, &first.access_token, t)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(!hidden.active);
        // Revoking the access token ends its grant (it has no row of its own; RFC 7009 allows
        // revoking the grant): both tokens are inactive after.
        revoke(&mut w.conn, jwt, config, &client, &first.access_token, t)
            .unwrap_or_else(|e| panic!("{e}"));
        for token in [first.access_token.as_str(), rt(&first)] {
            let answer = introspect(&mut w.conn, jwt, config, &client, token, t)
                .unwrap_or_else(|e| panic!("{e}"));
            assert!(!answer.active, "{answer:?}");
        }
        assert!(grant_revoked(&mut w, rt(&first)));
    }

    #[test]
    fn a_grant_access_token_past_its_exp_or_its_grant_past_its_expiry_is_refused() {
        let (mut w, keys) = (world(), keys());
        let (client_id, first) = granted(&mut w, &keys, "read");
        let client = client_row(&mut w, &client_id);
        let (jwt, config) = (&keys.jwt, &keys.config);
        let ask = |w: &mut World, at: NaiveDateTime| {
            introspect(&mut w.conn, jwt, config, &client, &first.access_token, at)
                .unwrap_or_else(|e| panic!("{e}"))
                .active
        };
        let t = now() + Duration::seconds(60);
        assert!(ask(&mut w, t));
        assert!(live(&mut w, &keys, &first.access_token, t));
        // Past the token's own exp, its grant still live for weeks: inactive.
        let later = now() + Duration::seconds(config.jwt_access_token_expiry + 60);
        assert!(!ask(&mut w, later));
        assert!(ask(&mut w, t), "and still active before it");
        // The grant's row past its expiry, the token's exp still ahead: inactive, and refused.
        let row = grant_token::verify(jwt, rt(&first))
            .unwrap_or_else(|| panic!("the refresh token does not verify"))
            .row_id;
        diesel::update(oauth_tokens::table.find(row))
            .set(oauth_tokens::expires_at.eq(now()))
            .execute(&mut w.conn)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(!ask(&mut w, t));
        assert!(!live(&mut w, &keys, &first.access_token, t));
    }

    #[test]
    fn a_spent_generation_introspects_inactive() {
        let (mut w, keys) = (world(), keys());
        let (client_id, first) = granted(&mut w, &keys, "read");
        let client = client_row(&mut w, &client_id);
        let t = now() + Duration::seconds(60);
        let second = refresh_with(&mut w, &keys, &client_id, rt(&first), None, t)
            .unwrap_or_else(|e| panic!("{e}"));
        let (jwt, config) = (&keys.jwt, &keys.config);
        let spent = introspect(&mut w.conn, jwt, config, &client, rt(&first), t)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(!spent.active, "{spent:?}");
        let current = introspect(&mut w.conn, jwt, config, &client, rt(&second), t)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(current.active, "{current:?}");
    }

    #[test]
    fn forms_read_as_serde_urlencoded_read_them() {
        let bodies: [&[u8]; 9] = [
            b"grant_type=refresh_token&client_id=abc&refresh_token=12.3.s3cret.mAc-_x",
            b"token=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig&token_type_hint=access_token",
            b"redirect_uri=https%3A%2F%2Fclaude.ai%2Fapi%2Fmcp%2Fauth_callback&scope=read+write",
            b"client_secret=a%2Bb%3Dc%26d&code=x+y%20z",
            b"scope&code=&&resource=https://books.example/mcp",
            b"%63ode=percent-encoded-name&unknown=1",
            b"client_id=caf\xc3\xa9&client_secret=\xff\xfe",
            b"client_secret=\xff%20",
            b"",
        ];
        let fields = |r: &TokenRequest| {
            [
                &r.grant_type,
                &r.code,
                &r.redirect_uri,
                &r.code_verifier,
                &r.refresh_token,
                &r.scope,
                &r.resource,
                &r.client_id,
                &r.client_secret,
                &r.token,
            ]
            .map(Clone::clone)
        };
        for body in bodies {
            let ours = parse_form(body).unwrap_or_else(|e| panic!("{e}"));
            let theirs: TokenRequest =
                serde_urlencoded::from_bytes(body).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(
                fields(&ours),
                fields(&theirs),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        for twice in [
            &b"token=a&token=b"[..],
            b"token=a&to%6Ben=b",
            b"code=1&scope=x&code=1",
        ] {
            assert!(
                parse_form(twice).is_err(),
                "{}",
                String::from_utf8_lossy(twice)
            );
            assert!(serde_urlencoded::from_bytes::<TokenRequest>(twice).is_err());
        }
    }

    #[test]
    fn pkce_challenge_is_base64url_sha256_without_padding() {
        // Expected value computed independently (Python hashlib + base64.urlsafe_b64encode).
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mJ92K6KjtyhPEgZJGJYQhH_KZuTVjo"),
            "rrZ22EiBeebXB8OwfbVyj9Akt1ldC6miM4Tzq9F2yAA"
        );
    }

    #[test]
    fn replacements_open_only_with_the_old_token_for_its_row() {
        let response = TokenResponse::pair("a".into(), "r".into(), "read".into(), 3600);
        let sealed = seal_replacement("old-token", 7, &response).unwrap();
        assert!(crypto::is_versioned(&sealed));
        assert_eq!(
            open_replacement("old-token", 7, &sealed),
            Some(response.clone())
        );
        assert_eq!(open_replacement("other-token", 7, &sealed), None);
        assert_eq!(open_replacement("old-token", 8, &sealed), None);
    }

    #[test]
    fn replacements_sealed_before_the_versioned_format_still_open() {
        // Unversioned seals (`nonce.body`, no associated data) under the key derived from
        // "old-token", computed independently with Python's `cryptography`: one of the pair
        // alone, and one of the whole answer, as written before seals held only the pair.
        let response = TokenResponse::pair("a".into(), "r".into(), "read".into(), 3600);
        let pair = "AAECAwQFBgcICQoL.3E-o0_K28qnxMMNvK70_uEPFLh1tFB2Kgg8zkyFjK1yfHpefdvi3vmqFH\
                    c35akhltHEgi2N9CCC53QrrBDzWfEbuqanXOsFNhzNiogSHwrRumxX810jbJa4";
        let whole = "DA0ODxAREhMUFRYX.Dpi33uhEiDok8uZon378ON2Fj9QrmSpfv_7ICpkJatNdOub3PJhlrtWsLN\
                     OGJ6u3m9Tj6JNeJ9I_-oqfJbmIgqrwDS99ScVN0D-gEvQIMeprXQP11ePWrNyGEoHYRkxxkpUUue8\
                     7GXzdmU7XSaeuCm4z-jeEw5TR4zGrnXUFog";
        for old in [pair, whole] {
            // Any row: these seals were bound to nothing.
            assert_eq!(
                open_replacement("old-token", 7, old),
                Some(response.clone())
            );
            assert_eq!(open_replacement("other-token", 7, old), None);
        }
    }
}

//! Issuing access tokens. Every token this server signs (the token endpoint's, first-party
//! sign-in's, the test harness's) gets its claims and its row here, so the guard's rule that
//! claims and row agree (`guard::token_is_live`) has one writer to agree with.

use crate::auth::jwt::{unix, Claims, JwtKeys};
use crate::config::Config;
use crate::crypto::{hash_token, random_token};
use crate::db::models::token::{self, TokenKind};
use crate::db::models::user;
use crate::db::DbConn;
use crate::error::AppResult;
use chrono::{Duration, NaiveDateTime};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The keys and configuration a token is issued with.
pub struct Issuer<'a> {
    pub jwt: &'a JwtKeys,
    pub config: &'a Config,
}

/// The OAuth client a token is issued to: its row and its public `client_id`.
#[derive(Debug, Clone, Copy)]
pub struct ClientRef<'a> {
    pub id: i64,
    pub client_id: &'a str,
}

/// What an access token is issued for.
pub struct Access<'a> {
    pub user_id: i64,
    /// Space-separated scope names, as claimed and stored: the server passes a `ScopeSet`'s
    /// text; older spellings (`read-only`) are for tests of tokens issued before.
    pub scope: &'a str,
    pub audience: &'a str,
    /// `None` for a first-party token: it belongs to no client.
    pub client: Option<ClientRef<'a>>,
    /// The grant it ends with; `None` starts a grant of its own.
    pub grant_id: Option<&'a str>,
    /// The refresh token it was issued for, on a refresh grant.
    pub parent_id: Option<i64>,
}

/// A signed access token whose row is written.
#[derive(Debug)]
pub struct Issued {
    pub token: String,
    pub scope: String,
    /// Seconds until it expires.
    pub expires_in: i64,
    pub row_id: i64,
}

impl Issuer<'_> {
    /// Signs an access token and records it (the hash of its `jti`, never the token), so it
    /// can be listed and revoked like any other.
    pub fn access_token(
        &self,
        conn: &mut DbConn,
        access: &Access<'_>,
        now: NaiveDateTime,
    ) -> AppResult<Issued> {
        let ttl = self.config.jwt_access_token_expiry;
        let email = user::find(conn, access.user_id)?.map(|u| u.email);
        let claims = Claims {
            iss: self.jwt.issuer().to_string(),
            sub: access.user_id.to_string(),
            aud: access.audience.to_string(),
            iat: unix(now),
            exp: unix(now) + ttl,
            jti: random_token(16),
            scope: access.scope.to_string(),
            email,
            client_id: access.client.map(|c| c.client_id.to_string()),
        };
        let token = self.jwt.sign(&claims)?;
        let own_grant;
        let grant_id = match access.grant_id {
            Some(grant_id) => grant_id,
            None => {
                own_grant = random_token(16);
                &own_grant
            }
        };
        let row_id = token::insert(
            conn,
            &token::NewToken {
                kind: TokenKind::Access,
                token_hash: &hash_token(&claims.jti),
                jti: Some(&claims.jti),
                user_id: access.user_id,
                client_id: access.client.map(|c| c.id),
                scope: &claims.scope,
                audience: Some(access.audience),
                grant_id,
                parent_id: access.parent_id,
                issued_at: now,
                expires_at: now + Duration::seconds(ttl),
            },
        )?;
        Ok(Issued {
            token,
            scope: claims.scope,
            expires_in: ttl,
            row_id,
        })
    }
}

/// The answer that hands out a token: the token endpoint's (a pair) and first-party sign-in's
/// (an access token alone), each the same on the wire as before they shared this type.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the token expires.
    pub expires_in: i64,
    /// The token endpoint's only: first-party tokens are not refreshed (so not in the API's
    /// schema either).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(ignore)]
    pub refresh_token: Option<String>,
    pub scope: String,
    /// The token endpoint's only: `access_token` again, for clients written against seed 000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(ignore)]
    pub jwt_token: Option<String>,
}

impl TokenResponse {
    /// First-party sign-in's answer.
    pub fn access(issued: Issued) -> Self {
        TokenResponse {
            access_token: issued.token,
            token_type: "Bearer".into(),
            expires_in: issued.expires_in,
            refresh_token: None,
            scope: issued.scope,
            jwt_token: None,
        }
    }

    /// The token endpoint's answer for a pair, whether just issued or opened from a seal.
    pub fn pair(
        access_token: String,
        refresh_token: String,
        scope: String,
        expires_in: i64,
    ) -> Self {
        TokenResponse {
            jwt_token: Some(access_token.clone()),
            access_token,
            token_type: "Bearer".into(),
            expires_in,
            refresh_token: Some(refresh_token),
            scope,
        }
    }
}

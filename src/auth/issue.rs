//! Issuing access tokens. Every token this server signs (the token endpoint's, first-party
//! sign-in's, the test harness's) gets its claims and its row here, so the guard's rule that
//! claims and row agree (`guard::token_is_live`) has one writer to agree with.

use crate::auth::jwt::{unix, Claims, JwtKeys};
use crate::config::Config;
use crate::crypto::{hash_token, random_token};
use crate::db::models::token::{self, TokenKind};
use crate::db::models::user;
use crate::db::{DbConn, Writer};
use crate::error::AppResult;
use crate::oauth::grant_token::access_jti;
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
        conn: &mut Writer<'_>,
        access: &Access<'_>,
        now: NaiveDateTime,
    ) -> AppResult<Issued> {
        let ttl = self.config.jwt_access_token_expiry;
        let (token, claims) = self.signed(
            conn,
            Subject {
                user_id: access.user_id,
                audience: access.audience,
                scope: access.scope,
                client_id: access.client.map(|c| c.client_id),
                iat: unix(now),
                jti: random_token(16),
            },
        )?;
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
                generation: 0,
                secret_hash: None,
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

/// What an access token issued for a grant row says: the row's state at one generation. The
/// token endpoint issues it at a rotation, and signs the same one again from the row for the
/// grace window (HS256 is deterministic: the same claims give the same token).
pub struct GrantAccess<'a> {
    pub row_id: i64,
    pub generation: i64,
    pub user_id: i64,
    pub scope: &'a str,
    pub audience: &'a str,
    pub client_id: &'a str,
    /// When the generation began: the token's `iat`.
    pub issued_at: NaiveDateTime,
}

impl Issuer<'_> {
    /// Signs an access token for a grant, without a row of its own: its `jti`
    /// (`<row id>.<generation>`) names the grant's row, which the guard and introspection read
    /// instead (`guard::token_is_live`), so revoking the grant ends it on the next request.
    /// One INSERT less a grant (bench/README.md, issue 22).
    pub fn grant_access_token(
        &self,
        conn: &mut DbConn,
        access: &GrantAccess<'_>,
    ) -> AppResult<Issued> {
        let (token, claims) = self.signed(
            conn,
            Subject {
                user_id: access.user_id,
                audience: access.audience,
                scope: access.scope,
                client_id: Some(access.client_id),
                iat: unix(access.issued_at),
                jti: access_jti(access.row_id, access.generation),
            },
        )?;
        Ok(Issued {
            token,
            scope: claims.scope,
            expires_in: self.config.jwt_access_token_expiry,
            row_id: access.row_id,
        })
    }

    /// The claims of an access token, signed: the one place they are written, for a token with
    /// a row of its own and for a grant's alike. The lifetime is the configured one from `iat`;
    /// the address is the user's as it is now.
    fn signed(&self, conn: &mut DbConn, subject: Subject<'_>) -> AppResult<(String, Claims)> {
        let claims = Claims {
            iss: self.jwt.issuer().to_string(),
            sub: subject.user_id.to_string(),
            aud: subject.audience.to_string(),
            iat: subject.iat,
            exp: subject.iat + self.config.jwt_access_token_expiry,
            jti: subject.jti,
            scope: subject.scope.to_string(),
            email: user::email(conn, subject.user_id)?,
            client_id: subject.client_id.map(str::to_string),
        };
        Ok((self.jwt.sign(&claims)?, claims))
    }
}

/// What an access token's claims say of whom it is for; `Issuer::signed` adds the rest.
struct Subject<'a> {
    user_id: i64,
    audience: &'a str,
    scope: &'a str,
    client_id: Option<&'a str>,
    /// Unix seconds.
    iat: i64,
    jti: String,
}

// The answer that hands out tokens: the token endpoint's (a pair) and first-party sign-in's (an
// access token alone). A plain comment: a doc comment would become the schema's description.
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::guard::token_is_live;
    use crate::oauth::testing::{config, now, world, PUBLIC_URL};
    use serde_json::json;

    #[test]
    fn an_issued_token_claims_what_its_row_says() {
        let mut w = world();
        let config = config();
        let jwt = JwtKeys::new(b"unit-test-secret-unit-test-secret", config.issuer());
        let issuer = Issuer {
            jwt: &jwt,
            config: &config,
        };
        let access = Access {
            user_id: w.user,
            scope: "read write",
            audience: PUBLIC_URL,
            client: None,
            grant_id: None,
            parent_id: None,
        };
        let issued = crate::db::write_transaction(&mut w.conn, |conn| {
            issuer.access_token(conn, &access, now())
        })
        .unwrap_or_else(|e| panic!("{e}"));
        let claims = jwt
            .verify_ignoring_expiry(&issued.token, &[PUBLIC_URL])
            .unwrap_or_else(|| panic!("the issued token does not verify"));
        assert_eq!(claims.user_id(), Some(w.user));
        assert_eq!(claims.scope, "read write");
        assert_eq!(claims.email.as_deref(), Some("reader@example.org"));
        assert_eq!(claims.client_id, None);
        assert_eq!(claims.exp - claims.iat, config.jwt_access_token_expiry);
        assert_eq!(issued.expires_in, config.jwt_access_token_expiry);
        let live = |conn: &mut crate::db::DbConn, claims: &Claims| {
            token_is_live(conn, claims, w.user, now()).unwrap_or_else(|e| panic!("{e}"))
        };
        assert!(live(&mut w.conn, &claims));
        // The guard holds claims to their row: a scope the row does not say is refused.
        let widened = Claims {
            scope: "all".into(),
            ..claims
        };
        assert!(!live(&mut w.conn, &widened));
    }

    #[test]
    fn each_answer_keeps_its_shape_on_the_wire() {
        let first_party = TokenResponse::access(Issued {
            token: "t".into(),
            scope: "all".into(),
            expires_in: 3600,
            row_id: 1,
        });
        assert_eq!(
            serde_json::to_value(first_party).unwrap_or_default(),
            json!({"access_token": "t", "token_type": "Bearer", "expires_in": 3600, "scope": "all"})
        );
        let pair = TokenResponse::pair("t".into(), "r".into(), "read".into(), 3600);
        assert_eq!(
            serde_json::to_value(pair).unwrap_or_default(),
            json!({"access_token": "t", "token_type": "Bearer", "expires_in": 3600,
                   "refresh_token": "r", "scope": "read", "jwt_token": "t"})
        );
    }
}

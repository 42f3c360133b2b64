//! Signed access tokens (HS256). First-party tokens from `/api/auth/login` and OAuth access
//! tokens share one shape (RFC 9068: `typ: at+jwt`), so one guard verifies both.

use crate::error::{AppError, AppResult};
use chrono::NaiveDateTime;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    pub iss: String,
    /// The user id, as a string (JWT `sub` is a string).
    pub sub: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    pub scope: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The OAuth client the token was issued to; absent on first-party tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
}

impl Claims {
    pub fn user_id(&self) -> Option<i64> {
        self.sub.parse().ok()
    }
}

#[derive(Clone)]
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    issuer: String,
}

impl JwtKeys {
    pub fn new(secret: &[u8], issuer: &str) -> Self {
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            issuer: issuer.to_string(),
        }
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    pub fn sign(&self, claims: &Claims) -> AppResult<String> {
        let mut header = Header::new(Algorithm::HS256);
        header.typ = Some("at+jwt".into());
        jsonwebtoken::encode(&header, claims, &self.encoding).map_err(AppError::internal)
    }

    /// Verifies signature, expiry, issuer and that the audience is one of `audiences`.
    /// Returns `None` for any invalid token: the caller answers 401 without saying why.
    pub fn verify(&self, token: &str, audiences: &[&str]) -> Option<Claims> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(audiences);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 5;
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation)
            .ok()
            .map(|data| data.claims)
    }
}

impl JwtKeys {
    /// Verifies signature, issuer and audience but not expiry: revocation and introspection must
    /// recognise a token of theirs even after it expired.
    pub fn verify_ignoring_expiry(&self, token: &str, audiences: &[&str]) -> Option<Claims> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(audiences);
        validation.validate_exp = false;
        validation.set_required_spec_claims(&["iss", "aud", "sub"]);
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation)
            .ok()
            .map(|data| data.claims)
    }
}

/// Seconds since the epoch of a UTC timestamp.
pub fn unix(at: NaiveDateTime) -> i64 {
    at.and_utc().timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: i64) -> Claims {
        Claims {
            iss: "https://books.example".into(),
            sub: "7".into(),
            aud: "https://books.example".into(),
            iat: 0,
            exp,
            jti: "j".into(),
            scope: "all".into(),
            email: None,
            client_id: None,
        }
    }

    #[test]
    fn verifies_signature_issuer_audience_and_expiry() {
        let keys = JwtKeys::new(b"0123456789abcdef0123456789abcdef", "https://books.example");
        let far = chrono::Utc::now().timestamp() + 3600;
        let token = keys.sign(&claims(far)).unwrap();
        assert_eq!(
            keys.verify(&token, &["https://books.example"])
                .unwrap()
                .user_id(),
            Some(7)
        );
        assert!(keys
            .verify(&token, &["https://books.example/mcp"])
            .is_none());
        let other = JwtKeys::new(b"another-secret-another-secret-xx", "https://books.example");
        assert!(other.verify(&token, &["https://books.example"]).is_none());
        let expired = keys.sign(&claims(1000)).unwrap();
        assert!(keys.verify(&expired, &["https://books.example"]).is_none());
        let mut foreign = claims(far);
        foreign.iss = "https://evil.example".into();
        let token = keys.sign(&foreign).unwrap();
        assert!(keys.verify(&token, &["https://books.example"]).is_none());
    }
}

//! Signed access tokens (HS256). First-party tokens from `/api/auth/login` and OAuth access
//! tokens share one shape (RFC 9068: `typ: at+jwt`), so one guard verifies both.

use crate::error::{AppError, AppResult};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};

/// Seconds a token is still accepted after its `exp`, for clocks a little apart.
const EXPIRY_LEEWAY_SECS: i64 = 5;

/// The header of every token this server signs, `{"typ":"at+jwt","alg":"HS256"}` (the order
/// jsonwebtoken's `Header` serialises in), base64url.
const ENCODED_HEADER: &str = "eyJ0eXAiOiJhdCtqd3QiLCJhbGciOiJIUzI1NiJ9";

/// The one header field verification reads.
#[derive(Deserialize)]
struct JwtHeader {
    alg: String,
}

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
    /// HMAC-SHA256 with the key's padded blocks computed once, not on every verification.
    verifying: ring::hmac::Key,
    /// Signs refresh tokens (`oauth::grant_token`): a key of its own, derived from the same
    /// secret, so a refresh token's MAC can never pass for a JWT signature or the reverse.
    refresh_mac: ring::hmac::Key,
    issuer: String,
}

impl JwtKeys {
    pub fn new(secret: &[u8], issuer: &str) -> Self {
        Self {
            verifying: ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret),
            refresh_mac: {
                let derived = ring::hmac::sign(
                    &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret),
                    b"panicless refresh token mac",
                );
                ring::hmac::Key::new(ring::hmac::HMAC_SHA256, derived.as_ref())
            },
            issuer: issuer.to_string(),
        }
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The MAC of a refresh token's `message`: HMAC-SHA256 under the refresh key, cut to 128
    /// bits (enough against forgery; the token stays short), base64url.
    pub fn refresh_mac(&self, message: &str) -> String {
        let tag = ring::hmac::sign(&self.refresh_mac, message.as_bytes());
        URL_SAFE_NO_PAD.encode(tag.as_ref().get(..16).unwrap_or_default())
    }

    /// Signs `claims` as an HS256 JWT of type `at+jwt`, byte for byte what
    /// `jsonwebtoken::encode` wrote (a test holds them equal), but under the HMAC key
    /// precomputed for verification: jsonwebtoken set up the key from the secret and serialised
    /// the constant header on every call, 31k instructions of a refresh grant's 243k.
    pub fn sign(&self, claims: &Claims) -> AppResult<String> {
        let payload = serde_json::to_vec(claims).map_err(AppError::internal)?;
        let mut token = String::with_capacity(ENCODED_HEADER.len() + payload.len() * 4 / 3 + 48);
        token.push_str(ENCODED_HEADER);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(&payload, &mut token);
        let tag = ring::hmac::sign(&self.verifying, token.as_bytes());
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(tag.as_ref(), &mut token);
        Ok(token)
    }

    /// Verifies signature, expiry, issuer and that the audience is one of `audiences`.
    /// Returns `None` for any invalid token: the caller answers 401 without saying why.
    pub fn verify(&self, token: &str, audiences: &[&str]) -> Option<Claims> {
        let claims = self.verified_claims(token, audiences)?;
        // As jsonwebtoken's validation did, with 5 s of leeway: `exp` is a non-negative
        // number of seconds, and a token is refused once it is 5 s past it.
        let now = chrono::Utc::now().timestamp();
        (claims.exp >= 0 && claims.exp >= now - EXPIRY_LEEWAY_SECS).then_some(claims)
    }

    /// Verifies signature, issuer and audience but not expiry: revocation and introspection must
    /// recognise a token of theirs even after it expired.
    pub fn verify_ignoring_expiry(&self, token: &str, audiences: &[&str]) -> Option<Claims> {
        self.verified_claims(token, audiences)
    }

    /// The signature first (HMAC-SHA256 under the precomputed key, compared in constant time),
    /// then the header's algorithm, then the claims parsed once: jsonwebtoken set up the key,
    /// parsed the header into its full struct and the claims twice on every request.
    fn verified_claims(&self, token: &str, audiences: &[&str]) -> Option<Claims> {
        let (message, signature) = token.rsplit_once('.')?;
        let (header, payload) = message.rsplit_once('.')?;
        // A canonical encoding (no padding, no stray bits), as jsonwebtoken's comparison of the
        // encoded strings required; room for a longer one, which then fails to verify.
        let mut tag = [0u8; 48];
        let length = URL_SAFE_NO_PAD.decode_slice(signature, &mut tag).ok()?;
        ring::hmac::verify(&self.verifying, message.as_bytes(), tag.get(..length)?).ok()?;
        // Every token this server signs has the one header it writes: then there is nothing
        // to decode. Another header must still name HS256 (the signature above is HS256's).
        if header != ENCODED_HEADER {
            let header: JwtHeader =
                serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).ok()?).ok()?;
            if header.alg != "HS256" {
                return None;
            }
        }
        let claims: Claims = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
        (claims.iss == self.issuer && audiences.contains(&claims.aud.as_str())).then_some(claims)
    }
}

/// Seconds since the epoch of a UTC timestamp.
pub fn unix(at: NaiveDateTime) -> i64 {
    at.and_utc().timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{Algorithm, EncodingKey, Header};

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

    /// The signer written for speed writes what jsonwebtoken wrote, byte for byte, so tokens
    /// signed before and after it are one format.
    #[test]
    fn signs_exactly_as_jsonwebtoken_did() {
        let secret = b"0123456789abcdef0123456789abcdef";
        let keys = JwtKeys::new(secret, "https://books.example");
        let mut header = Header::new(Algorithm::HS256);
        header.typ = Some("at+jwt".into());
        for claims in [
            claims(1_800_000_000),
            Claims {
                email: Some("reader@example.org".into()),
                client_id: Some("client".into()),
                jti: "42.7".into(),
                ..claims(1_800_003_600)
            },
        ] {
            let expected =
                jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(secret)).unwrap();
            assert_eq!(keys.sign(&claims).unwrap(), expected);
        }
    }

    /// The verifier written for speed refuses what jsonwebtoken's validation refused.
    #[test]
    fn refuses_tampered_tokens_other_algorithms_and_expiry_past_the_leeway() {
        let secret = b"0123456789abcdef0123456789abcdef";
        let keys = JwtKeys::new(secret, "https://books.example");
        let aud = ["https://books.example"];
        let now = chrono::Utc::now().timestamp();
        let token = keys.sign(&claims(now + 3600)).unwrap();
        assert!(keys.verify(&token, &aud).is_some());

        // Any changed character of the signature, the payload or the header.
        for at in [token.len() - 2, token.find('.').unwrap() + 3, 2] {
            let mut bytes = token.clone().into_bytes();
            bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
            let tampered = String::from_utf8(bytes).unwrap();
            assert!(keys.verify(&tampered, &aud).is_none(), "changed at {at}");
        }
        // A signature with padding, cut short, or with a byte more.
        assert!(keys.verify(&format!("{token}="), &aud).is_none());
        assert!(keys.verify(&token[..token.len() - 1], &aud).is_none());
        assert!(keys.verify(&format!("{token}AA"), &aud).is_none());
        assert!(keys.verify("no-dots", &aud).is_none());

        // Another algorithm under the same secret, and an unsigned token.
        let hs512 = jsonwebtoken::encode(
            &Header::new(Algorithm::HS512),
            &claims(now + 3600),
            &EncodingKey::from_secret(secret),
        )
        .unwrap();
        assert!(keys.verify(&hs512, &aud).is_none());
        let body = token.split('.').nth(1).unwrap();
        let none_header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#);
        assert!(keys
            .verify(&format!("{none_header}.{body}."), &aud)
            .is_none());
        // Signed with HS256 under the right key, but under a header that names another
        // algorithm: refused, as jsonwebtoken refused it.
        for header in [
            &br#"{"alg":"HS512","typ":"JWT"}"#[..],
            br#"{"alg":"none"}"#,
            br#"{"typ":"at+jwt"}"#,
        ] {
            let message = format!("{}.{body}", URL_SAFE_NO_PAD.encode(header));
            let tag = ring::hmac::sign(
                &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret),
                message.as_bytes(),
            );
            let lying = format!("{message}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()));
            assert!(
                keys.verify(&lying, &aud).is_none(),
                "{}",
                String::from_utf8_lossy(header)
            );
        }
        // The same, under a header that names HS256 but is not ours, passes.
        let message = format!("{}.{body}", URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256"}"#));
        let tag = ring::hmac::sign(
            &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret),
            message.as_bytes(),
        );
        let plain = format!("{message}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()));
        assert!(keys.verify(&plain, &aud).is_some());

        // Five seconds of leeway past `exp`, none beyond; revocation ignores expiry.
        let just = keys.sign(&claims(now - 2)).unwrap();
        assert!(keys.verify(&just, &aud).is_some());
        let past = keys.sign(&claims(now - 30)).unwrap();
        assert!(keys.verify(&past, &aud).is_none());
        assert!(keys.verify_ignoring_expiry(&past, &aud).is_some());
        assert!(keys
            .verify_ignoring_expiry(&past, &["https://books.example/mcp"])
            .is_none());
    }
}

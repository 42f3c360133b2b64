//! The refresh token of a grant row rotated in place: `<row id>.<generation>.<secret>.<mac>`.
//!
//! The row (`oauth_tokens`, kind `refresh`) keeps the current generation and the hash of its
//! secret; the MAC (under a key derived from JWT_SECRET) tells a token this server issued from a
//! forged one without a row a generation. That matters for reuse detection: only a token whose
//! MAC is valid may end a grant as a replay, or anyone could end grants by guessing row ids.
//! Tokens issued before (opaque, without dots) are told apart by having no dot.

use crate::auth::jwt::JwtKeys;
use crate::crypto::constant_time_eq;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

/// A refresh token of the new form whose MAC is valid: issued by this server for this row and
/// generation.
#[derive(Debug, PartialEq, Eq)]
pub struct GrantToken<'a> {
    pub row_id: i64,
    pub generation: i64,
    pub secret: &'a str,
}

/// Whether `token` is of the new form (it has dots; an opaque token of before has none). Such
/// a token is never looked up by its hash.
pub fn is_grant_token(token: &str) -> bool {
    token.contains('.')
}

fn signed_part(row_id: i64, generation: i64, secret: &str) -> String {
    format!("{row_id}.{generation}.{secret}")
}

/// The token for `row_id` at `generation` with `secret`.
pub fn format(keys: &JwtKeys, row_id: i64, generation: i64, secret: &str) -> String {
    let signed = signed_part(row_id, generation, secret);
    let mac = keys.refresh_mac(&signed);
    format!("{signed}.{mac}")
}

/// The token's parts, if it has the new form and its MAC is valid (compared in constant time).
pub fn verify<'a>(keys: &JwtKeys, token: &'a str) -> Option<GrantToken<'a>> {
    let (signed, mac) = token.rsplit_once('.')?;
    let mut parts = signed.splitn(3, '.');
    let row_id: i64 = parts.next()?.parse().ok()?;
    let generation: i64 = parts.next()?.parse().ok()?;
    let secret = parts.next()?;
    // The canonical spelling only: `+7` or `07` would sign as another text anyway, but a token
    // has one spelling.
    if signed != signed_part(row_id, generation, secret) {
        return None;
    }
    constant_time_eq(&keys.refresh_mac(signed), mac).then_some(GrantToken {
        row_id,
        generation,
        secret,
    })
}

/// The next generation's secret: HMAC-SHA256(secret, salt). The server keeps only its hash and
/// the salt, so only the holder of `secret` can derive it again (the grace window).
pub fn next_secret(secret: &str, salt: &str) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    URL_SAFE_NO_PAD.encode(ring::hmac::sign(&key, salt.as_bytes()).as_ref())
}

/// The JWT `jti` of an access token issued for a grant row at a generation: `<row id>.<generation>`.
/// A first-party token's (and an earlier grant's) `jti` is random base64url, without a dot.
pub fn access_jti(row_id: i64, generation: i64) -> String {
    format!("{row_id}.{generation}")
}

/// The grant row an access token's `jti` names, if it has the grant form.
pub fn row_of_jti(jti: &str) -> Option<i64> {
    let (row, generation) = jti.split_once('.')?;
    generation.parse::<i64>().ok()?;
    row.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(secret: &[u8]) -> JwtKeys {
        JwtKeys::new(secret, "https://books.example")
    }

    #[test]
    fn only_a_token_with_its_mac_verifies() {
        let k = keys(b"0123456789abcdef0123456789abcdef");
        let token = format(&k, 42, 3, "s3cret");
        assert!(is_grant_token(&token));
        assert_eq!(
            verify(&k, &token),
            Some(GrantToken {
                row_id: 42,
                generation: 3,
                secret: "s3cret"
            })
        );
        let mac = token.rsplit_once('.').map(|(_, m)| m).unwrap_or_default();
        // Another row, generation or secret under the same MAC; another server's key.
        for forged in [
            format!("43.3.s3cret.{mac}"),
            format!("42.4.s3cret.{mac}"),
            format!("42.3.s3cres.{mac}"),
            format!("042.3.s3cret.{mac}"),
        ] {
            assert_eq!(verify(&k, &forged), None, "{forged}");
        }
        let other = keys(b"another-secret-another-secret-xx");
        assert_eq!(verify(&other, &token), None);
        assert_eq!(verify(&k, "opaque-token-of-before"), None);
    }

    #[test]
    fn the_next_secret_is_derived_from_the_secret_and_the_salt() {
        assert_eq!(next_secret("a", "salt"), next_secret("a", "salt"));
        assert_ne!(next_secret("a", "salt"), next_secret("b", "salt"));
        assert_ne!(next_secret("a", "salt"), next_secret("a", "pepper"));
        // HMAC-SHA256(key "a", "salt"), computed independently (Python hmac + base64url).
        assert_eq!(
            next_secret("a", "salt"),
            "pKC8N5F8xscJ81TrfmO8kch91jq1zbcGvQn_PWTCYtQ"
        );
    }

    #[test]
    fn a_grant_jti_names_its_row() {
        assert_eq!(row_of_jti(&access_jti(42, 3)), Some(42));
        assert_eq!(row_of_jti("randomJtiWithoutDot"), None);
        assert_eq!(row_of_jti("x.3"), None);
    }
}

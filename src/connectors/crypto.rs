//! Sealing connector secrets with AES-256-GCM.
//!
//! A sealed value is `v1.<key id>.<nonce>.<ciphertext>` (base64url): a fresh random 96-bit
//! nonce per sealing, and associated data binding it to its row, its user and its field, so a
//! ciphertext copied into another row or field does not open. The key id (the first bytes of
//! SHA-256 of the key) says which key sealed it: `ENCRYPTION_KEYS` may hold older keys for
//! reading while `panicless keys rotate` re-seals everything under the current one.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// Which secret of a connector a value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    ApiKey,
    AccessToken,
    RefreshToken,
    /// The canary that proves a key at start.
    Canary,
    /// The PKCE verifier of an outbound OAuth attempt (bound to the attempt's id).
    PkceVerifier,
}

impl Field {
    fn as_str(self) -> &'static str {
        match self {
            Field::ApiKey => "api_key",
            Field::AccessToken => "access_token",
            Field::RefreshToken => "refresh_token",
            Field::Canary => "canary",
            Field::PkceVerifier => "pkce_verifier",
        }
    }
}

/// What a sealed value is bound to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Binding {
    pub connector_id: i64,
    pub user_id: i64,
    pub field: Field,
}

impl Binding {
    fn associated_data(&self) -> String {
        format!(
            "panicless connector {} user {} {}",
            self.connector_id,
            self.user_id,
            self.field.as_str()
        )
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CryptoError {
    #[error("the sealed value is malformed")]
    Malformed,
    #[error("the sealed value was sealed with key {0}, which is not configured (ENCRYPTION_KEY or ENCRYPTION_KEYS)")]
    UnknownKey(String),
    #[error(
        "the sealed value does not open: wrong key, tampered, or moved to another row or field"
    )]
    Rejected,
    #[error("the value could not be sealed")]
    Seal,
}

struct Key {
    id: String,
    cipher: Aes256Gcm,
}

/// The current key and any older ones. `Debug` shows key ids only.
pub struct Keyring {
    current: Key,
    older: Vec<Key>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field("current", &self.current.id)
            .field(
                "older",
                &self.older.iter().map(|k| k.id.as_str()).collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// A short, stable id for a key, so values say which key sealed them without naming it.
pub fn key_id(key: &[u8; 32]) -> String {
    let digest = Sha256::digest(key);
    digest.iter().take(4).map(|b| format!("{b:02x}")).collect()
}

fn make(key: &[u8; 32]) -> Key {
    Key {
        id: key_id(key),
        cipher: Aes256Gcm::new(key.into()),
    }
}

impl Keyring {
    pub fn new(current: &[u8; 32], older: &[[u8; 32]]) -> Self {
        Keyring {
            current: make(current),
            older: older.iter().map(make).collect(),
        }
    }

    pub fn current_id(&self) -> &str {
        &self.current.id
    }

    pub fn seal(&self, plaintext: &str, binding: Binding) -> Result<String, CryptoError> {
        let mut nonce = [0u8; 12];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let aad = binding.associated_data();
        let ciphertext = self
            .current
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| CryptoError::Seal)?;
        Ok(format!(
            "v1.{}.{}.{}",
            self.current.id,
            URL_SAFE_NO_PAD.encode(nonce),
            URL_SAFE_NO_PAD.encode(ciphertext)
        ))
    }

    pub fn open(&self, sealed: &str, binding: Binding) -> Result<String, CryptoError> {
        let mut parts = sealed.split('.');
        let (Some("v1"), Some(id), Some(nonce), Some(body), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(CryptoError::Malformed);
        };
        let key = std::iter::once(&self.current)
            .chain(self.older.iter())
            .find(|k| k.id == id)
            .ok_or_else(|| CryptoError::UnknownKey(id.to_string()))?;
        let nonce = URL_SAFE_NO_PAD
            .decode(nonce)
            .map_err(|_| CryptoError::Malformed)?;
        let body = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| CryptoError::Malformed)?;
        if nonce.len() != 12 {
            return Err(CryptoError::Malformed);
        }
        let aad = binding.associated_data();
        let plaintext = key
            .cipher
            .decrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: &body,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| CryptoError::Rejected)?;
        String::from_utf8(plaintext).map_err(|_| CryptoError::Malformed)
    }

    /// Whether `id` names the current key or one of the older ones.
    pub fn knows(&self, id: &str) -> bool {
        self.current.id == id || self.older.iter().any(|k| k.id == id)
    }

    /// Whether a sealed value was sealed under an older key.
    pub fn is_stale(&self, sealed: &str) -> bool {
        sealed.split('.').nth(1) != Some(self.current.id.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: [u8; 32] = [7; 32];
    const B: [u8; 32] = [9; 32];

    fn binding(field: Field) -> Binding {
        Binding {
            connector_id: 1,
            user_id: 2,
            field,
        }
    }

    #[test]
    fn round_trip_with_fresh_nonces() {
        let ring = Keyring::new(&A, &[]);
        let one = ring.seal("sk-ant-secret", binding(Field::ApiKey)).unwrap();
        let two = ring.seal("sk-ant-secret", binding(Field::ApiKey)).unwrap();
        assert_ne!(one, two, "a fresh nonce each time");
        assert!(!one.contains("secret"));
        assert_eq!(
            ring.open(&one, binding(Field::ApiKey)).unwrap(),
            "sk-ant-secret"
        );
    }

    #[test]
    fn tampering_or_moving_a_value_fails() {
        let ring = Keyring::new(&A, &[]);
        let sealed = ring.seal("token", binding(Field::AccessToken)).unwrap();
        let mut bytes = sealed.clone().into_bytes();
        let last = bytes.len() - 2;
        bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
        assert_eq!(
            ring.open(
                &String::from_utf8(bytes).unwrap(),
                binding(Field::AccessToken)
            ),
            Err(CryptoError::Rejected)
        );
        assert_eq!(
            ring.open(&sealed, binding(Field::RefreshToken)),
            Err(CryptoError::Rejected),
            "another field"
        );
        assert_eq!(
            ring.open(
                &sealed,
                Binding {
                    connector_id: 1,
                    user_id: 3,
                    field: Field::AccessToken
                }
            ),
            Err(CryptoError::Rejected),
            "another user"
        );
        assert_eq!(
            ring.open(
                &sealed,
                Binding {
                    connector_id: 5,
                    user_id: 2,
                    field: Field::AccessToken
                }
            ),
            Err(CryptoError::Rejected),
            "another row"
        );
        assert_eq!(
            ring.open("v1.x", binding(Field::AccessToken)),
            Err(CryptoError::Malformed)
        );
    }

    #[test]
    fn wrong_key_and_rotation() {
        let old = Keyring::new(&A, &[]);
        let sealed = old.seal("token", binding(Field::ApiKey)).unwrap();
        let wrong = Keyring::new(&B, &[]);
        assert!(matches!(
            wrong.open(&sealed, binding(Field::ApiKey)),
            Err(CryptoError::UnknownKey(_))
        ));
        let rotated = Keyring::new(&B, &[A]);
        assert!(rotated.is_stale(&sealed));
        assert_eq!(
            rotated.open(&sealed, binding(Field::ApiKey)).unwrap(),
            "token"
        );
        let resealed = rotated.seal("token", binding(Field::ApiKey)).unwrap();
        assert!(!rotated.is_stale(&resealed));
        assert_eq!(
            Keyring::new(&B, &[])
                .open(&resealed, binding(Field::ApiKey))
                .unwrap(),
            "token"
        );
    }
}

//! Secrets' primitives, in one place for every module: random opaque tokens, the hashes stored
//! for them, constant-time comparison, and the one AES-256-GCM sealer.
//!
//! A sealed value is `v1.<key id>.<nonce>.<ciphertext>` (base64url): a fresh random 96-bit
//! nonce per sealing, and associated data that binds it to where it is stored, so a ciphertext
//! copied elsewhere does not open. The key id (the first bytes of SHA-256 of the key) says which
//! key sealed it. The key is the server's ([`Keyring`]: `ENCRYPTION_KEYS` may hold older keys
//! for reading while `panicless keys rotate` re-seals everything under the current one), or one
//! derived from a secret the server does not keep ([`SealKey::derive`]), which only that
//! secret's holder can open.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// `bytes` random bytes from the OS generator, base64url without padding.
pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

/// What is stored for an opaque token or code: SHA-256, hex. The tokens carry at least 128
/// random bits, so a fast hash is enough; a leaked table gives nothing usable.
pub fn hash_token(token: &str) -> String {
    // The digest's own LowerHex: one pass into one buffer (a `format!` per byte cost 32
    // allocations a call, and a refresh grant hashes two or three tokens).
    format!("{:x}", Sha256::digest(token.as_bytes()))
}

/// Compares two secrets without leaking where they differ.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
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

/// What a sealed value is bound to: its associated data. A value opens only with the same.
pub trait Bound {
    fn associated_data(&self) -> String;
}

/// One AES-256-GCM key and its id.
pub struct SealKey {
    id: String,
    cipher: Aes256Gcm,
}

/// A short, stable id for a key, so values say which key sealed them without naming it.
fn key_id(key: &[u8; 32]) -> String {
    let digest = Sha256::digest(key);
    digest.iter().take(4).map(|b| format!("{b:02x}")).collect()
}

impl SealKey {
    pub fn new(key: &[u8; 32]) -> SealKey {
        SealKey {
            id: key_id(key),
            cipher: Aes256Gcm::new(key.into()),
        }
    }

    /// The key for `purpose` derived from `secret` (at least 128 random bits, such as a refresh
    /// token): the server keeps only the secret's hash, so only its holder can open the seal.
    pub fn derive(purpose: &str, secret: &str) -> SealKey {
        let key: [u8; 32] = Sha256::digest(format!("{purpose}\0{secret}").as_bytes()).into();
        SealKey::new(&key)
    }

    pub fn seal(&self, plaintext: &[u8], binding: &impl Bound) -> Result<String, CryptoError> {
        let mut nonce = [0u8; 12];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let aad = binding.associated_data();
        let ciphertext = self
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| CryptoError::Seal)?;
        Ok(format!(
            "v1.{}.{}.{}",
            self.id,
            URL_SAFE_NO_PAD.encode(nonce),
            URL_SAFE_NO_PAD.encode(ciphertext)
        ))
    }

    pub fn open(&self, sealed: &str, binding: &impl Bound) -> Result<Vec<u8>, CryptoError> {
        open_with(std::iter::once(self), sealed, binding)
    }

    /// Opens a value sealed before seals were versioned: `<nonce>.<ciphertext>`, no key id and
    /// no associated data (refresh-token replacements written before December 2026).
    pub fn open_unversioned(&self, sealed: &str) -> Result<Vec<u8>, CryptoError> {
        let (nonce, body) = sealed.split_once('.').ok_or(CryptoError::Malformed)?;
        let nonce = decode_nonce(nonce)?;
        let body = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| CryptoError::Malformed)?;
        self.cipher
            .decrypt(Nonce::from_slice(&nonce), body.as_slice())
            .map_err(|_| CryptoError::Rejected)
    }
}

fn decode_nonce(nonce: &str) -> Result<Vec<u8>, CryptoError> {
    let nonce = URL_SAFE_NO_PAD
        .decode(nonce)
        .map_err(|_| CryptoError::Malformed)?;
    if nonce.len() != 12 {
        return Err(CryptoError::Malformed);
    }
    Ok(nonce)
}

/// Whether `sealed` is in the versioned format (an unversioned seal has two parts).
pub fn is_versioned(sealed: &str) -> bool {
    sealed.starts_with("v1.")
}

/// Opens a versioned seal with whichever of `keys` its key id names.
fn open_with<'a>(
    keys: impl IntoIterator<Item = &'a SealKey>,
    sealed: &str,
    binding: &impl Bound,
) -> Result<Vec<u8>, CryptoError> {
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
    let key = keys
        .into_iter()
        .find(|k| k.id == id)
        .ok_or_else(|| CryptoError::UnknownKey(id.to_string()))?;
    let nonce = decode_nonce(nonce)?;
    let body = URL_SAFE_NO_PAD
        .decode(body)
        .map_err(|_| CryptoError::Malformed)?;
    let aad = binding.associated_data();
    key.cipher
        .decrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: &body,
                aad: aad.as_bytes(),
            },
        )
        .map_err(|_| CryptoError::Rejected)
}

/// The server's keys: the current one seals, it and the older ones open. `Debug` shows key ids
/// only.
pub struct Keyring {
    current: SealKey,
    older: Vec<SealKey>,
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

impl Keyring {
    pub fn new(current: &[u8; 32], older: &[[u8; 32]]) -> Self {
        Keyring {
            current: SealKey::new(current),
            older: older.iter().map(SealKey::new).collect(),
        }
    }

    pub fn current_id(&self) -> &str {
        &self.current.id
    }

    pub fn seal(&self, plaintext: &str, binding: impl Bound) -> Result<String, CryptoError> {
        self.current.seal(plaintext.as_bytes(), &binding)
    }

    pub fn open(&self, sealed: &str, binding: impl Bound) -> Result<String, CryptoError> {
        let keys = std::iter::once(&self.current).chain(self.older.iter());
        let plaintext = open_with(keys, sealed, &binding)?;
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

    struct Place(&'static str);

    impl Bound for Place {
        fn associated_data(&self) -> String {
            self.0.to_string()
        }
    }

    #[test]
    fn tokens_are_random_and_hashes_stable() {
        let a = random_token(32);
        assert_eq!(a.len(), 43);
        assert_ne!(a, random_token(32));
        assert_eq!(hash_token("abc"), hash_token("abc"));
        assert_eq!(
            hash_token("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(constant_time_eq("same", "same"));
        assert!(!constant_time_eq("same", "sane"));
        assert!(!constant_time_eq("short", "shorter"));
    }

    #[test]
    fn round_trip_with_fresh_nonces() {
        let ring = Keyring::new(&A, &[]);
        let one = ring.seal("sk-ant-secret", Place("row 1")).unwrap();
        let two = ring.seal("sk-ant-secret", Place("row 1")).unwrap();
        assert_ne!(one, two, "a fresh nonce each time");
        assert!(!one.contains("secret"));
        assert!(one.starts_with(&format!("v1.{}.", key_id(&A))));
        assert_eq!(ring.open(&one, Place("row 1")).unwrap(), "sk-ant-secret");
    }

    #[test]
    fn tampering_moving_or_truncating_a_value_fails() {
        let ring = Keyring::new(&A, &[]);
        let sealed = ring.seal("token", Place("row 1")).unwrap();
        let mut bytes = sealed.clone().into_bytes();
        let last = bytes.len() - 2;
        bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(bytes).unwrap();
        assert_eq!(
            ring.open(&tampered, Place("row 1")),
            Err(CryptoError::Rejected)
        );
        assert_eq!(
            ring.open(&sealed, Place("row 2")),
            Err(CryptoError::Rejected)
        );
        assert_eq!(
            ring.open("v1.x", Place("row 1")),
            Err(CryptoError::Malformed)
        );
        // An unversioned seal is not read as a versioned one, nor the reverse.
        let key = SealKey::new(&A);
        assert_eq!(
            key.open("AAECAwQFBgcICQoL.AAAA", &Place("row 1")),
            Err(CryptoError::Malformed)
        );
        assert_eq!(key.open_unversioned(&sealed), Err(CryptoError::Malformed));
    }

    #[test]
    fn wrong_key_and_rotation() {
        let old = Keyring::new(&A, &[]);
        let sealed = old.seal("token", Place("row 1")).unwrap();
        let wrong = Keyring::new(&B, &[]);
        assert!(matches!(
            wrong.open(&sealed, Place("row 1")),
            Err(CryptoError::UnknownKey(_))
        ));
        let rotated = Keyring::new(&B, &[A]);
        assert!(rotated.is_stale(&sealed));
        assert!(rotated.knows(&key_id(&A)) && rotated.knows(&key_id(&B)));
        assert_eq!(rotated.open(&sealed, Place("row 1")).unwrap(), "token");
        let resealed = rotated.seal("token", Place("row 1")).unwrap();
        assert!(!rotated.is_stale(&resealed));
        assert_eq!(
            Keyring::new(&B, &[])
                .open(&resealed, Place("row 1"))
                .unwrap(),
            "token"
        );
    }

    #[test]
    fn a_derived_key_opens_only_for_the_same_secret() {
        let key = SealKey::derive("purpose", "secret-one");
        let sealed = key.seal(b"pair", &Place("row 1")).unwrap();
        assert_eq!(key.open(&sealed, &Place("row 1")).unwrap(), b"pair");
        let other = SealKey::derive("purpose", "secret-two");
        assert!(matches!(
            other.open(&sealed, &Place("row 1")),
            Err(CryptoError::UnknownKey(_))
        ));
        let elsewhere = SealKey::derive("another purpose", "secret-one");
        assert!(elsewhere.open(&sealed, &Place("row 1")).is_err());
    }

    #[test]
    fn an_unversioned_seal_still_opens() {
        // Written by the sealer that came before the versioned format (nonce 0..12, no
        // associated data); computed independently with Python's `cryptography`.
        let sealed = "AAECAwQFBgcICQoL.3E-o0_K28qnxMMNvK70_uEPFLh1tFB2Kgg8zkyFjK1yfHpefdvi3vmqFH\
                      c35akhltHEgi2N9CCC53QrrBDzWfEbuqanXOsFNhzNiogSHwrRumxX810jbJa4";
        let key = SealKey::derive("panicless refresh replacement", "old-token");
        assert_eq!(
            key.open_unversioned(sealed).unwrap(),
            br#"{"access_token":"a","refresh_token":"r","scope":"read","expires_in":3600}"#
        );
        let wrong = SealKey::derive("panicless refresh replacement", "other-token");
        assert_eq!(wrong.open_unversioned(sealed), Err(CryptoError::Rejected));
        assert!(!is_versioned(sealed));
    }
}

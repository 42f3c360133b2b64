//! What a connector's sealed secret is bound to (its row, its user, its field), so a ciphertext
//! copied into another row or field does not open. `crate::crypto` seals it.

use crate::crypto::Bound;

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

impl Bound for Binding {
    fn associated_data(&self) -> String {
        format!(
            "panicless connector {} user {} {}",
            self.connector_id,
            self.user_id,
            self.field.as_str()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::{CryptoError, Keyring};

    const A: [u8; 32] = [7; 32];

    fn binding(field: Field) -> Binding {
        Binding {
            connector_id: 1,
            user_id: 2,
            field,
        }
    }

    #[test]
    fn a_secret_sealed_before_the_sealer_moved_still_opens() {
        // `v1` under key [7; 32] for connector 1, user 2, its API key: the format connectors
        // have always stored, computed independently with Python's `cryptography`.
        let stored = "v1.4bb06f8e.GBkaGxwdHh8gISIj.QiMQaxuduAahgoEOcAk_qp1D2WcKkSueoYT4a_A";
        let ring = Keyring::new(&A, &[]);
        assert_eq!(
            ring.open(stored, binding(Field::ApiKey)).unwrap(),
            "sk-ant-secret"
        );
        assert_eq!(
            ring.open(stored, binding(Field::AccessToken)),
            Err(CryptoError::Rejected)
        );
    }

    #[test]
    fn moving_a_value_to_another_field_user_or_row_fails() {
        let ring = Keyring::new(&A, &[]);
        let sealed = ring.seal("token", binding(Field::AccessToken)).unwrap();
        assert_eq!(
            ring.open(&sealed, binding(Field::AccessToken)).unwrap(),
            "token"
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
    }
}

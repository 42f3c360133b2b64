//! Password rules and bcrypt hashing. bcrypt is slow on purpose, so it runs on the blocking pool
//! behind a semaphore: a burst of logins queues there instead of occupying every thread.

use crate::error::{AppError, AppResult};
use std::sync::Arc;
use tokio::sync::Semaphore;

pub const MIN_CHARS: usize = 8;
/// bcrypt ignores everything after 72 bytes; refusing longer passwords avoids a false sense of
/// security.
pub const MAX_BYTES: usize = 72;

pub fn validate(password: &str) -> Result<(), String> {
    if password.chars().count() < MIN_CHARS {
        return Err(format!(
            "the password must have at least {MIN_CHARS} characters"
        ));
    }
    if password.len() > MAX_BYTES {
        return Err(format!(
            "the password must be at most {MAX_BYTES} bytes long"
        ));
    }
    Ok(())
}

#[derive(Clone)]
pub struct PasswordHasher {
    cost: u32,
    permits: Arc<Semaphore>,
    /// A hash of a random password, verified against when the email is unknown so that a failed
    /// login takes as long whether or not the account exists.
    decoy: Arc<tokio::sync::OnceCell<String>>,
}

impl PasswordHasher {
    pub fn new(cost: u32) -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self {
            cost,
            permits: Arc::new(Semaphore::new(cores)),
            decoy: Arc::new(tokio::sync::OnceCell::new()),
        }
    }

    pub async fn hash(&self, password: String) -> AppResult<String> {
        let cost = self.cost;
        self.blocking(move || bcrypt::hash(password, cost).map_err(AppError::internal))
            .await
    }

    /// Checks `password` against `hash`, or against the decoy when there is no account.
    pub async fn verify(&self, password: String, hash: Option<String>) -> AppResult<bool> {
        let (hash, real) = match hash {
            Some(hash) => (hash, true),
            None => (self.decoy().await?, false),
        };
        let matches = self
            .blocking(move || Ok(bcrypt::verify(password, &hash).unwrap_or(false)))
            .await?;
        Ok(real && matches)
    }

    async fn decoy(&self) -> AppResult<String> {
        self.decoy
            .get_or_try_init(|| self.hash(crate::auth::secret::random_token(24)))
            .await
            .cloned()
    }

    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> AppResult<T> + Send + 'static,
    ) -> AppResult<T> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| AppError::internal("password hasher closed"))?;
        actix_web::web::block(work).await?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_rules() {
        assert!(validate("short").is_err());
        assert!(validate("long enough").is_ok());
        assert!(validate("ééééééé").is_err(), "7 characters, 14 bytes");
        assert!(validate(&"x".repeat(72)).is_ok());
        assert!(validate(&"x".repeat(73)).is_err());
    }
}

//! CSRF protection for every form: a random token kept in the (encrypted) session cookie and
//! echoed in a hidden field; a POST whose field does not match is refused.

use crate::crypto::{constant_time_eq, random_token};
use crate::error::{AppError, AppResult};
use actix_session::Session;

const KEY: &str = "csrf";

/// The session's token, created on first use.
pub fn token(session: &Session) -> AppResult<String> {
    if let Ok(Some(existing)) = session.get::<String>(KEY) {
        return Ok(existing);
    }
    let fresh = random_token(32);
    session
        .insert(KEY, &fresh)
        .map_err(|e| AppError::internal(format!("session: {e}")))?;
    Ok(fresh)
}

/// A new token, after the session changes hands (login).
pub fn rotate(session: &Session) -> AppResult<String> {
    session.remove(KEY);
    token(session)
}

pub fn verify(session: &Session, submitted: &str) -> AppResult<()> {
    match session.get::<String>(KEY) {
        Ok(Some(expected)) if !submitted.is_empty() && constant_time_eq(&expected, submitted) => {
            Ok(())
        }
        _ => Err(AppError::CsrfRejected),
    }
}

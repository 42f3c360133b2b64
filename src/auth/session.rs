//! The signed-in browser user, kept in an encrypted, signed cookie (no server-side state, so any
//! instance can serve any request).

use crate::error::{AppError, AppResult};
use actix_session::Session;

const USER_ID: &str = "uid";

/// Signs `user_id` in: a fresh session (new cookie, no fixation) with a fresh CSRF token.
pub fn sign_in(session: &Session, user_id: i64) -> AppResult<()> {
    session.renew();
    session
        .insert(USER_ID, user_id)
        .map_err(|e| AppError::internal(format!("session: {e}")))?;
    crate::auth::csrf::rotate(session)?;
    Ok(())
}

pub fn sign_out(session: &Session) {
    session.purge();
}

pub fn user_id(session: &Session) -> Option<i64> {
    session.get::<i64>(USER_ID).ok().flatten()
}

/// Accepts only same-origin relative paths: `/x?y` yes; `//evil`, `/\evil`, `https://…` no.
pub fn safe_return_to(candidate: Option<&str>) -> Option<String> {
    let path = candidate?.trim();
    let ok = path.starts_with('/')
        && !path.starts_with("//")
        && !path.starts_with("/\\")
        && !path.chars().any(|c| c.is_control() || c == '\\');
    ok.then(|| path.to_string())
}

#[cfg(test)]
mod tests {
    use super::safe_return_to;

    #[test]
    fn only_relative_paths_are_safe() {
        assert_eq!(
            safe_return_to(Some("/oauth/authorize?a=b")).as_deref(),
            Some("/oauth/authorize?a=b")
        );
        for bad in [
            "//evil.com",
            "/\\evil.com",
            "https://evil.com",
            "evil.com",
            "/\tx",
            "/a\\b",
        ] {
            assert_eq!(safe_return_to(Some(bad)), None, "{bad}");
        }
        assert_eq!(safe_return_to(None), None);
    }
}

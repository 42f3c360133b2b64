//! The signed-in browser user, kept in an encrypted, signed cookie, so any instance can serve
//! any request. Two things the cookie cannot do alone are checked against the clock and the
//! database on every request (`web::current_user`):
//!
//! - it ends: a session unused for a day (30 days with "keep me signed in") is refused, however
//!   long the browser keeps the cookie, and each use moves that day on (sliding);
//! - signing out ends it everywhere: the session carries the user's session generation from when
//!   it began, signing out moves the generation on, and a cookie saved before then no longer
//!   signs in.

use crate::error::{AppError, AppResult};
use actix_session::Session;

const USER_ID: &str = "uid";
const GENERATION: &str = "gen";
/// When the session was last used, in Unix seconds.
const SEEN: &str = "seen";
const REMEMBER: &str = "remember";

/// A session unused this long is over.
pub const IDLE_SECS: i64 = 24 * 3600;
/// The same, for "keep me signed in"; also the cookie's own lifetime in the browser.
pub const REMEMBERED_IDLE_SECS: i64 = 30 * 24 * 3600;
/// The last-use time is written back at most this often, so that not every response sets the
/// cookie again.
const TOUCH_SECS: i64 = 300;

fn stored<T: serde::Serialize>(session: &Session, key: &str, value: T) -> AppResult<()> {
    session
        .insert(key, value)
        .map_err(|e| AppError::internal(format!("session: {e}")))
}

/// Signs `user_id` in: a fresh session (new cookie, no fixation) with a fresh CSRF token, under
/// the user's current session `generation`.
pub fn sign_in(session: &Session, user_id: i64, generation: i64, remember: bool) -> AppResult<()> {
    session.renew();
    stored(session, USER_ID, user_id)?;
    stored(session, GENERATION, generation)?;
    stored(session, SEEN, chrono::Utc::now().timestamp())?;
    stored(session, REMEMBER, remember)?;
    crate::auth::csrf::rotate(session)?;
    Ok(())
}

pub fn sign_out(session: &Session) {
    session.purge();
}

/// Whether the session was begun with "keep me signed in".
pub fn remembered(session: &Session) -> bool {
    session
        .get::<bool>(REMEMBER)
        .ok()
        .flatten()
        .unwrap_or(false)
}

/// The user id the session names, fresh or not (to know whose sessions to end).
pub fn user_id(session: &Session) -> Option<i64> {
    session.get::<i64>(USER_ID).ok().flatten()
}

/// Whether a session last used at `seen` is still open at `now`. A time in the future (beyond a
/// minute of clock skew between instances) is not trusted.
pub fn is_fresh(seen: i64, remember: bool, now: i64) -> bool {
    let limit = if remember {
        REMEMBERED_IDLE_SECS
    } else {
        IDLE_SECS
    };
    seen <= now + 60 && now - seen < limit
}

/// The user id and session generation of a session that has not expired, recording this use.
/// The caller must still compare the generation with the user's (`web::current_user`). A
/// session without a generation or a last use (a cookie from before they existed) is over.
pub fn signed_in(session: &Session) -> AppResult<Option<(i64, i64)>> {
    let get = |key: &str| session.get::<i64>(key).ok().flatten();
    let (Some(user_id), Some(generation), Some(seen)) = (get(USER_ID), get(GENERATION), get(SEEN))
    else {
        return Ok(None);
    };
    let remember = session
        .get::<bool>(REMEMBER)
        .ok()
        .flatten()
        .unwrap_or(false);
    let now = chrono::Utc::now().timestamp();
    if !is_fresh(seen, remember, now) {
        return Ok(None);
    }
    if now - seen >= TOUCH_SECS {
        stored(session, SEEN, now)?;
    }
    Ok(Some((user_id, generation)))
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
    use super::*;

    #[test]
    fn sessions_end_after_a_day_unused_or_thirty_with_remember() {
        let now = 1_000_000_000;
        assert!(is_fresh(now - IDLE_SECS + 1, false, now));
        assert!(!is_fresh(now - IDLE_SECS, false, now));
        assert!(is_fresh(now - IDLE_SECS, true, now));
        assert!(is_fresh(now - REMEMBERED_IDLE_SECS + 1, true, now));
        assert!(!is_fresh(now - REMEMBERED_IDLE_SECS, true, now));
        assert!(
            is_fresh(now + 30, false, now),
            "clock skew between instances"
        );
        assert!(!is_fresh(now + 3600, true, now), "a last use in the future");
    }

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

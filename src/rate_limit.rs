//! Per-IP rate limits on the endpoints that invite guessing or flooding: sign-in, account
//! creation, token (with revocation and introspection, which check client secrets too: one
//! budget) and client registration. Fixed one-minute windows, counted in this process: with
//! several instances each enforces its own limit, so the effective limit is the per-instance one
//! times the number of instances (said in the README). The client address is the TCP peer;
//! behind a reverse proxy set `TRUST_PROXY_HEADERS=true` to use the last `X-Forwarded-For`
//! address instead: the one that proxy appended. Earlier entries come from the client and can
//! be anything.

use crate::error::AppError;
use crate::oauth::OAuthError;
use crate::state::AppState;
use actix_web::HttpRequest;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Bucket {
    Login,
    /// Account creation, by the page and the JSON API alike.
    SignUp,
    /// `/oauth/token`, `/oauth/revoke` and `/oauth/introspect` together.
    Token,
    /// OAuth client registration.
    Register,
    /// Proxied provider calls, counted per user (the "address" is the user id).
    Proxy,
}

const WINDOW: Duration = Duration::from_secs(60);

#[derive(Default)]
pub struct RateLimiter {
    windows: Mutex<HashMap<(Bucket, IpAddr), (Instant, u32)>>,
}

impl RateLimiter {
    /// Counts one request; `Err(seconds)` when the window is full.
    pub fn hit(&self, bucket: Bucket, ip: IpAddr, limit: u32, now: Instant) -> Result<(), u64> {
        let Ok(mut windows) = self.windows.lock() else {
            return Ok(());
        };
        if windows.len() > 100_000 {
            windows.retain(|_, (start, _)| now.duration_since(*start) < WINDOW);
        }
        let entry = windows.entry((bucket, ip)).or_insert((now, 0));
        if now.duration_since(entry.0) >= WINDOW {
            *entry = (now, 0);
        }
        if entry.1 >= limit {
            let left = WINDOW.saturating_sub(now.duration_since(entry.0));
            return Err(left.as_secs().max(1));
        }
        entry.1 += 1;
        Ok(())
    }
}

pub fn client_ip(req: &HttpRequest, trust_proxy: bool) -> Option<IpAddr> {
    if trust_proxy {
        // The rightmost entry is written by our own proxy; a client can prepend whatever it
        // likes to dodge the limits, so the first entry is never trusted.
        if let Some(forwarded) = req
            .headers()
            .get_all("X-Forwarded-For")
            .last()
            .and_then(|v| v.to_str().ok())
        {
            if let Some(ip) = forwarded
                .rsplit(',')
                .next()
                .and_then(|s| s.trim().parse().ok())
            {
                return Some(ip);
            }
        }
    }
    req.peer_addr().map(|a| a.ip())
}

fn limit_for(state: &AppState, bucket: Bucket) -> u32 {
    let c = &state.config;
    match bucket {
        Bucket::Login => c.rate_limit_login,
        Bucket::SignUp => c.rate_limit_signup,
        Bucket::Token => c.rate_limit_token,
        Bucket::Register => c.rate_limit_register,
        Bucket::Proxy => c.rate_limit_proxy,
    }
}

/// Checks a request against its bucket.
pub fn check(state: &AppState, req: &HttpRequest, bucket: Bucket) -> Result<(), OAuthError> {
    check_app(state, req, bucket).map_err(OAuthError::from)
}

/// Per-user limit on proxied provider calls.
pub fn check_user(state: &AppState, user_id: i64) -> Result<(), AppError> {
    // The user id stands in for an address: one window per user.
    let key = IpAddr::V6(std::net::Ipv6Addr::from(u128::from(user_id as u64)));
    state
        .rate_limits
        .hit(
            Bucket::Proxy,
            key,
            limit_for(state, Bucket::Proxy),
            Instant::now(),
        )
        .map_err(|retry_after_secs| AppError::RateLimited { retry_after_secs })
}

/// The same, as an `AppError` for pages and the JSON API.
pub fn check_app(state: &AppState, req: &HttpRequest, bucket: Bucket) -> Result<(), AppError> {
    let Some(ip) = client_ip(req, state.config.trust_proxy_headers) else {
        return Ok(());
    };
    state
        .rate_limits
        .hit(bucket, ip, limit_for(state, bucket), Instant::now())
        .map_err(|retry_after_secs| AppError::RateLimited { retry_after_secs })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_fill_and_reset() {
        let limiter = RateLimiter::default();
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let start = Instant::now();
        for _ in 0..3 {
            assert!(limiter.hit(Bucket::Login, ip, 3, start).is_ok());
        }
        assert!(limiter.hit(Bucket::Login, ip, 3, start).is_err());
        assert!(
            limiter.hit(Bucket::Token, ip, 3, start).is_ok(),
            "buckets are separate"
        );
        assert!(
            limiter.hit(Bucket::Login, ip, 3, start + WINDOW).is_ok(),
            "a new window"
        );
    }

    #[test]
    fn the_proxy_appended_address_wins_over_what_the_client_sent() {
        use actix_web::test::TestRequest;
        let peer = "10.0.0.2:4000".parse().unwrap();
        let req = TestRequest::default()
            .peer_addr(peer)
            .insert_header(("X-Forwarded-For", "1.2.3.4, 203.0.113.7"))
            .to_http_request();
        assert_eq!(client_ip(&req, true), "203.0.113.7".parse().ok());
        assert_eq!(client_ip(&req, false), "10.0.0.2".parse().ok());
        let no_header = TestRequest::default().peer_addr(peer).to_http_request();
        assert_eq!(client_ip(&no_header, true), "10.0.0.2".parse().ok());
    }
}

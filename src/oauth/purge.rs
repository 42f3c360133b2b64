//! Removes what has expired: codes, tokens, idle MCP sessions, dynamically registered clients
//! never used within a day (Claude.ai registers again on every connect), and clients known by a
//! metadata document that nobody uses (anyone can make this server fetch and keep one).

use super::clients::ClientOrigin;
use crate::db::schema::{oauth_clients, oauth_codes, oauth_tokens};
use crate::db::{self, DbConn, Writer};
use crate::error::AppResult;
use crate::state::AppState;
use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Purged {
    pub codes: usize,
    pub tokens: usize,
    pub clients: usize,
    pub metadata_clients: usize,
    pub sessions: usize,
}

/// A metadata-document client with no token is kept this long after its last use.
pub const METADATA_CLIENT_IDLE_DAYS: i64 = 30;

/// Purges in one transaction under an advisory lock, so that of several instances sharing a
/// PostgreSQL database only one purges at a time; `None` when another one is at it.
pub fn purge(conn: &mut DbConn, now: NaiveDateTime) -> AppResult<Option<Purged>> {
    db::write_transaction(conn, |conn| {
        if !db::try_transaction_lock(conn, db::locks::PURGE)? {
            return Ok(None);
        }
        purge_unlocked(conn, now).map(Some)
    })
}

fn purge_unlocked(conn: &mut Writer<'_>, now: NaiveDateTime) -> AppResult<Purged> {
    // Used codes are kept until they expire: a second use must still be recognised as reuse.
    let codes = diesel::delete(
        oauth_codes::table.filter(oauth_codes::expires_at.lt(now - Duration::hours(1))),
    )
    .execute(&mut **conn)?;
    // Tokens are kept a day past expiry so that a late reuse of a refresh token is still caught.
    let tokens = diesel::delete(
        oauth_tokens::table.filter(oauth_tokens::expires_at.lt(now - Duration::days(1))),
    )
    .execute(&mut **conn)?;
    let clients = diesel::delete(
        oauth_clients::table
            .filter(oauth_clients::origin.eq(ClientOrigin::Dynamic))
            .filter(oauth_clients::last_used_at.is_null())
            .filter(oauth_clients::created_at.lt(now - Duration::days(1))),
    )
    .execute(&mut **conn)?;
    let metadata_clients = purge_metadata_clients(conn, now)?;
    let sessions = crate::mcp::session::purge(conn, now)?;
    Ok(Purged {
        codes,
        tokens,
        clients,
        metadata_clients,
        sessions,
    })
}

/// Metadata-document clients never used within a day of their fetch, or unused for
/// `METADATA_CLIENT_IDLE_DAYS`, unless a token of theirs is still kept (a live grant). Runs
/// after the token purge, so a grant that ended no longer holds its client.
fn purge_metadata_clients(conn: &mut Writer<'_>, now: NaiveDateTime) -> AppResult<usize> {
    let idle = oauth_clients::table
        .filter(oauth_clients::origin.eq(ClientOrigin::Metadata))
        .filter(
            oauth_clients::last_used_at
                .is_null()
                .and(oauth_clients::created_at.lt(now - Duration::days(1)))
                .or(oauth_clients::last_used_at
                    .lt(now - Duration::days(METADATA_CLIENT_IDLE_DAYS))
                    .assume_not_null()),
        )
        .select(oauth_clients::id)
        // A bounded batch (the ids become query parameters); the next run takes the rest.
        .limit(1000);
    let idle: Vec<i64> = idle.load(&mut **conn)?;
    if idle.is_empty() {
        return Ok(0);
    }
    let holding: Vec<Option<i64>> = oauth_tokens::table
        .filter(oauth_tokens::client_id.eq_any(&idle))
        .select(oauth_tokens::client_id)
        .distinct()
        .load(&mut **conn)?;
    let unused: Vec<i64> = idle
        .into_iter()
        .filter(|id| !holding.contains(&Some(*id)))
        .collect();
    Ok(
        diesel::delete(oauth_clients::table.filter(oauth_clients::id.eq_any(&unused)))
            .execute(&mut **conn)?,
    )
}

/// Runs the purge every ten minutes in the background.
pub fn spawn(state: AppState) {
    actix_web::rt::spawn(async move {
        let mut interval = actix_web::rt::time::interval(std::time::Duration::from_secs(600));
        loop {
            interval.tick().await;
            // The library grows between runs: keep the planner's statistics in step.
            if let Err(error) = db::run(&state.pool, db::optimize).await {
                log::warn!("refreshing the table statistics failed: {error}");
            }
            match db::run(&state.pool, |conn| purge(conn, db::models::now())).await {
                Ok(Some(purged)) if purged != Purged::default() => {
                    log::info!("purged {purged:?}")
                }
                Ok(Some(_)) => {}
                Ok(None) => log::debug!("purge skipped: another instance holds the lock"),
                Err(error) => log::warn!("purge failed: {error}"),
            }
        }
    });
}

//! MCP sessions: created at `initialize`, named by a random `Mcp-Session-Id`, stored hashed,
//! bound to the user who created them, ended by `DELETE /mcp` or after a day of silence.

use crate::crypto::{hash_token, random_token};
use crate::db::schema::mcp_sessions;
use crate::db::{DbConn, Writer};
use crate::error::AppResult;
use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

/// A session unused this long is gone; the client re-initializes (the spec's answer to a 404).
pub const IDLE_LIFETIME_HOURS: i64 = 24;

/// Creates a session and returns the id the client will send back.
pub fn create(
    conn: &mut DbConn,
    user_id: i64,
    protocol_version: &str,
    client_name: Option<&str>,
    now: NaiveDateTime,
) -> AppResult<String> {
    let session_id = random_token(32);
    let insert = diesel::insert_into(mcp_sessions::table).values((
        mcp_sessions::session_hash.eq(hash_token(&session_id)),
        mcp_sessions::user_id.eq(user_id),
        mcp_sessions::protocol_version.eq(protocol_version),
        mcp_sessions::client_name.eq(client_name.map(|n| n.chars().take(200).collect::<String>())),
        mcp_sessions::created_at.eq(now),
        mcp_sessions::last_seen_at.eq(now),
    ));
    crate::db::write_transaction(conn, |c| insert.execute(&mut **c))?;
    Ok(session_id)
}

/// The protocol version of the live session named `session_id` for `user_id` (all a request
/// needs of it). Another user's session is as unknown as one that never existed.
pub fn find(
    conn: &mut DbConn,
    session_id: &str,
    user_id: i64,
    now: NaiveDateTime,
) -> AppResult<Option<String>> {
    let row: Option<(i64, i64, String, NaiveDateTime)> = mcp_sessions::table
        .filter(mcp_sessions::session_hash.eq(hash_token(session_id)))
        .select((
            mcp_sessions::id,
            mcp_sessions::user_id,
            mcp_sessions::protocol_version,
            mcp_sessions::last_seen_at,
        ))
        .first(conn)
        .optional()?;
    let Some((id, owner, protocol_version, last_seen_at)) = row else {
        return Ok(None);
    };
    if owner != user_id || now - last_seen_at > Duration::hours(IDLE_LIFETIME_HOURS) {
        return Ok(None);
    }
    // Touch at most once a minute: reads should not all become writes.
    if now - last_seen_at > Duration::seconds(60) {
        crate::db::write_transaction(conn, |c| {
            diesel::update(mcp_sessions::table.find(id))
                .set(mcp_sessions::last_seen_at.eq(now))
                .execute(&mut **c)
        })?;
    }
    Ok(Some(protocol_version))
}

/// Ends a session. Returns whether there was one to end.
pub fn end(conn: &mut DbConn, session_id: &str, user_id: i64) -> AppResult<bool> {
    let deleted = crate::db::write_transaction(conn, |c| {
        diesel::delete(
            mcp_sessions::table
                .filter(mcp_sessions::session_hash.eq(hash_token(session_id)))
                .filter(mcp_sessions::user_id.eq(user_id)),
        )
        .execute(&mut **c)
    })?;
    Ok(deleted > 0)
}

/// Removes sessions idle past their lifetime (called by the periodic purge).
pub fn purge(conn: &mut Writer<'_>, now: NaiveDateTime) -> AppResult<usize> {
    Ok(diesel::delete(
        mcp_sessions::table
            .filter(mcp_sessions::last_seen_at.lt(now - Duration::hours(IDLE_LIFETIME_HOURS))),
    )
    .execute(&mut **conn)?)
}

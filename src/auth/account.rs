//! A person's control of their account: changing the password and deleting the account with
//! everything in it. The JSON API (`crate::api::account`), the pages (`crate::web::account`) and
//! the command line (`panicless user password`) all call these.
//!
//! - **Changing the password** checks the current one, applies the sign-up rules to the new one
//!   (`password::validate`), and in one transaction stores it, moves the account's session
//!   generation on (every browser session ends, on every instance) and revokes every first-party
//!   token (`POST /api/auth/login`) but the one the change was made with, if any: the caller
//!   proved the password a moment ago and keeps working; anything else holding the old password's
//!   access does not. Tokens of connected apps (OAuth) stay: they never held the password, and
//!   `/account/connections` disconnects them.
//! - **Deleting the account** checks the password, then in one transaction deletes the books,
//!   readings, tags, statistics, connectors, grants, codes, tokens and MCP sessions of the user,
//!   and the user. The server's last administrator cannot delete themselves.

use crate::auth::password;
use crate::db::schema::{
    books, connector_attempts, connectors, mcp_sessions, oauth_codes, oauth_consents, oauth_tokens,
    readings, users,
};
use crate::db::{models::user, write_transaction, DbConn};
use crate::error::{AppError, AppResult, FieldError};
use crate::state::AppState;
use chrono::NaiveDateTime;
use diesel::prelude::*;

/// Why the last administrator cannot leave, in words the API and the page both show.
pub const LAST_ADMIN: &str = "this account is the server's only administrator, so it cannot be \
    deleted: first make another account an administrator \
    (`panicless user create --admin --email OTHER`), then delete this one";

/// Stores a new password hash for `user_id`, ends every browser session of the account and
/// revokes every first-party token of it except the access token whose JWT id is `keep_jti`.
/// Returns the account as it is now (its new session generation).
pub fn set_password(
    conn: &mut DbConn,
    user_id: i64,
    password_hash: &str,
    keep_jti: Option<&str>,
    now: NaiveDateTime,
) -> AppResult<user::User> {
    let keep = keep_jti.map(crate::crypto::hash_token);
    write_transaction(conn, |conn| {
        let changed = diesel::update(users::table.find(user_id))
            .set((
                users::password_hash.eq(password_hash),
                users::updated_at.eq(now),
                users::session_generation.eq(users::session_generation + 1),
            ))
            .execute(&mut **conn)?;
        if changed == 0 {
            return Err(AppError::NotFound);
        }
        let first_party = oauth_tokens::table
            .filter(oauth_tokens::user_id.eq(user_id))
            .filter(oauth_tokens::client_id.is_null())
            .filter(oauth_tokens::revoked_at.is_null());
        match &keep {
            Some(hash) => diesel::update(first_party.filter(oauth_tokens::token_hash.ne(hash)))
                .set(oauth_tokens::revoked_at.eq(now))
                .execute(&mut **conn)?,
            None => diesel::update(first_party)
                .set(oauth_tokens::revoked_at.eq(now))
                .execute(&mut **conn)?,
        };
        user::find(conn, user_id)?.ok_or(AppError::NotFound)
    })
}

/// What a person sends to change their password.
pub struct PasswordChange {
    pub current_password: String,
    pub new_password: String,
}

/// Checks the current password and the new one, then [`set_password`]. A wrong current
/// password is `WrongPassword` (403) on `current_password`; a new one that breaks the sign-up rules
/// is one on `new_password`.
pub async fn change_password(
    state: &AppState,
    user_id: i64,
    change: PasswordChange,
    keep_jti: Option<String>,
) -> AppResult<user::User> {
    if let Err(message) = password::validate(&change.new_password) {
        return Err(AppError::Validation(vec![FieldError::new(
            "new_password",
            message,
        )]));
    }
    check_password(state, user_id, change.current_password, "current_password").await?;
    let hash = state.passwords.hash(change.new_password).await?;
    crate::db::run(&state.pool, move |conn| {
        set_password(
            conn,
            user_id,
            &hash,
            keep_jti.as_deref(),
            crate::db::models::now(),
        )
    })
    .await
}

/// Checks the password of `user_id`; a wrong one is `WrongPassword` naming `field`.
async fn check_password(
    state: &AppState,
    user_id: i64,
    password: String,
    field: &'static str,
) -> AppResult<()> {
    let found = crate::db::run(&state.pool, move |conn| user::find(conn, user_id))
        .await?
        .ok_or(AppError::NotFound)?;
    if state
        .passwords
        .verify(password, Some(found.password_hash))
        .await?
    {
        Ok(())
    } else {
        Err(AppError::WrongPassword { field })
    }
}

/// Checks the password, then deletes the account and everything in it ([`delete`]).
pub async fn delete_account(state: &AppState, user_id: i64, password: String) -> AppResult<()> {
    // Refused before the password is even checked: no bcrypt for an answer known already.
    crate::db::run(&state.pool, move |conn| may_delete(conn, user_id)).await?;
    check_password(state, user_id, password, "password").await?;
    crate::db::run(&state.pool, move |conn| delete(conn, user_id)).await
}

/// Whether `user_id` may delete their account: not when they are the last administrator.
pub fn may_delete(conn: &mut DbConn, user_id: i64) -> AppResult<()> {
    let found = user::find(conn, user_id)?.ok_or(AppError::NotFound)?;
    if !found.is_admin {
        return Ok(());
    }
    // On PostgreSQL the administrators' rows are locked until the transaction ends, so two
    // administrators deleting themselves at once cannot both pass; SQLite writes one at a time.
    let admins: Vec<i64> = match conn {
        DbConn::Pg(c) => users::table
            .filter(users::is_admin.eq(true))
            .select(users::id)
            .for_update()
            .load(c)?,
        DbConn::Sqlite(c) => users::table
            .filter(users::is_admin.eq(true))
            .select(users::id)
            .load(c)?,
    };
    if admins.iter().any(|id| *id != user_id) {
        Ok(())
    } else {
        Err(AppError::Conflict {
            message: LAST_ADMIN.into(),
            existing_id: None,
        })
    }
}

/// Deletes the account and everything in it, in one transaction: nothing is left half-deleted.
/// Readings and tags go with their books, statistics tallies with the user (foreign keys
/// cascade); the rest is deleted by name so that what goes is written here.
pub fn delete(conn: &mut DbConn, user_id: i64) -> AppResult<()> {
    write_transaction(conn, |conn| {
        may_delete(conn, user_id)?;
        diesel::delete(readings::table.filter(readings::user_id.eq(user_id)))
            .execute(&mut **conn)?;
        diesel::delete(books::table.filter(books::user_id.eq(user_id))).execute(&mut **conn)?;
        diesel::delete(connectors::table.filter(connectors::user_id.eq(user_id)))
            .execute(&mut **conn)?;
        diesel::delete(connector_attempts::table.filter(connector_attempts::user_id.eq(user_id)))
            .execute(&mut **conn)?;
        diesel::delete(oauth_consents::table.filter(oauth_consents::user_id.eq(user_id)))
            .execute(&mut **conn)?;
        diesel::delete(oauth_codes::table.filter(oauth_codes::user_id.eq(user_id)))
            .execute(&mut **conn)?;
        diesel::delete(oauth_tokens::table.filter(oauth_tokens::user_id.eq(user_id)))
            .execute(&mut **conn)?;
        diesel::delete(mcp_sessions::table.filter(mcp_sessions::user_id.eq(user_id)))
            .execute(&mut **conn)?;
        let deleted = diesel::delete(users::table.find(user_id)).execute(&mut **conn)?;
        if deleted == 0 {
            return Err(AppError::NotFound);
        }
        Ok(())
    })
}
